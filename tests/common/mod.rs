//! Shared by the integration tests: the real-kernel transcripts (REFERENCE fixtures recorded
//! on Linux 6.1 and 6.12) and the file dumps they contain.

// Each test crate uses a different part of this module.
#![allow(dead_code)]

use std::path::PathBuf;

pub mod bound;

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
