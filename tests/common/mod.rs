//! Shared by the integration tests: the real-kernel transcripts (REFERENCE fixtures recorded
//! on Linux 6.1 and 6.12) and the file dumps they contain, the figures the README quotes,
//! simulated boxes and states ([`lab`]), the independent write bound ([`bound`]) and a
//! running `watch` serving metrics ([`watch_metrics`]).

// Each test crate uses a different part of this module.
#![allow(dead_code)]

use std::path::PathBuf;

pub mod bound;
pub mod fake_box;
pub mod fuzz;
pub mod lab;
pub mod watch_metrics;

/// `(name, text)` of both transcripts in `../shared/pktgen/transcripts`.
pub fn transcripts() -> Vec<(String, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/pktgen/transcripts");
    ["linux-6.1.txt", "linux-6.12.txt"]
        .iter()
        .map(|f| {
            let path = dir.join(f);
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            ((*f).to_owned(), text)
        })
        .collect()
}

/// `(file name, content)` of every `@@ dump FILE` … `@@ end` block of a transcript.
pub fn dumps(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some(file) = line.strip_prefix("@@ dump ") {
            let mut body = String::new();
            for l in lines.by_ref() {
                if l == "@@ end" {
                    break;
                }
                body.push_str(l);
                body.push('\n');
            }
            out.push((file.to_owned(), body));
        }
    }
    out
}

/// The README, with every run of whitespace made one space (its lines are wrapped).
pub fn readme() -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut pages = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("doc"))
        .expect("doc/")
        .map(|e| e.expect("doc/ entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    pages.extend(docs);
    let mut text = String::new();
    for path in pages {
        let page =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        text.push_str(&page);
        text.push('\n');
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Asserts that every "N `what`" in the README says `n`, and that there is at least one: a
/// figure the README quotes is the one the test suite produces.
pub fn assert_readme_figure(n: usize, what: &str) {
    let readme = readme();
    let quoted: Vec<usize> = readme
        .match_indices(&format!(" {what}"))
        .filter_map(|(at, _)| {
            let word = readme[..at].rsplit(' ').next()?;
            word.trim_start_matches('(').parse().ok()
        })
        .collect();
    assert!(
        !quoted.is_empty(),
        "the README quotes no figure \"N {what}\""
    );
    assert!(
        quoted.iter().all(|&q| q == n),
        "the README says {quoted:?} {what}; the tests count {n}: update the README"
    );
}

/// Whether the example at `path` has a top-level `namespaces:` (it configures other network
/// namespaces, so the single-box tests leave it out).
pub fn namespaced_example(path: &std::path::Path) -> bool {
    std::fs::read_to_string(path).is_ok_and(|t| t.lines().any(|l| l.starts_with("namespaces:")))
}
