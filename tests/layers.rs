//! The library's modules depend on each other in one direction only (issue 11.5): the kernel
//! profile at the bottom, then the model (and the receivers' pure core, on the model alone),
//! then readback (`procfs`) and the state files (`state_file`), then the pure planner and how its
//! changes read (`render`), then where errors are in the state files (`locate`). A module
//! that names one above it (or beside it) fails.

use std::path::Path;

/// Each layered module and the modules it may name with `crate::`.
const ALLOWED: &[(&str, &[&str])] = &[
    ("kernel", &[]),
    ("error", &[]),
    ("model", &["kernel"]),
    ("receive", &["model"]),
    ("procfs", &["kernel", "model", "error"]),
    ("state_file", &["kernel", "model", "error"]),
    ("plan", &["kernel", "model", "procfs"]),
    ("render", &["model", "plan"]),
    ("locate", &["apply", "error", "model", "plan", "state_file"]),
];

fn sources(path: &Path, out: &mut Vec<std::path::PathBuf>) {
    if path.is_dir() {
        for e in std::fs::read_dir(path).unwrap() {
            sources(&e.unwrap().path(), out);
        }
    } else if path.is_file() && path.extension().is_some_and(|e| e == "rs") {
        out.push(path.to_owned());
    }
}

#[test]
fn modules_import_only_downward() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut problems = Vec::new();
    for (module, allowed) in ALLOWED {
        let mut files = Vec::new();
        sources(&src.join(module), &mut files);
        sources(&src.join(format!("{module}.rs")), &mut files);
        assert!(!files.is_empty(), "no sources for {module}");
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            for (n, line) in text.lines().enumerate() {
                let mut rest = line;
                while let Some(i) = rest.find("crate::") {
                    rest = &rest[i + "crate::".len()..];
                    let used: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if used != *module && !allowed.contains(&used.as_str()) {
                        problems.push(format!("{}:{}: {module} names {used}", f.display(), n + 1));
                    }
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "upward imports:\n{}",
        problems.join("\n")
    );
}

/// The module path of a source file under `src/` (`watch/session.rs` → `watch::session`).
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts
}

/// The module paths that `text` names through `crate::` and `super::`, outside comments and
/// its `#[cfg(test)]` part (a test module may use what uses it).
fn named_paths(module: &[String], text: &str) -> Vec<Vec<String>> {
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
        for (i, _) in line
            .match_indices("crate::")
            .chain(line.match_indices("super::"))
        {
            if line[..i].ends_with("::") {
                continue; // the second `super` of `super::super::`
            }
            let path: String = line[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let mut resolved = Vec::new();
            for (k, part) in path.split("::").filter(|p| !p.is_empty()).enumerate() {
                match part {
                    "crate" => resolved.clear(),
                    "super" if k == 0 => resolved = module[..module.len() - 1].to_vec(),
                    "super" => {
                        resolved.pop();
                    }
                    name => resolved.push(name.to_owned()),
                }
            }
            // `use super::{a, b}`: each name in the braces.
            if let Some(group) = line[i + path.len()..].strip_prefix('{') {
                let names = group.split('}').next().unwrap_or_default();
                for name in names
                    .split(',')
                    .map(|n| n.trim().split("::").next().unwrap())
                {
                    out.push([resolved.clone(), vec![name.to_owned()]].concat());
                }
            }
            out.push(resolved);
        }
    }
    out
}

#[test]
fn no_import_circle_between_files() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let modules: Vec<Vec<String>> = files.iter().map(|f| module_of(&src, f)).collect();
    // Each file's edges to the other files it names; a parent naming its child (or the
    // child its parent) is how Rust modules are built, not a circle.
    let edges: Vec<Vec<usize>> = files
        .iter()
        .zip(&modules)
        .map(|(f, m)| {
            let text = std::fs::read_to_string(f).unwrap();
            let mut to: Vec<usize> = named_paths(m, &text)
                .iter()
                .filter_map(|path| {
                    (1..=path.len())
                        .rev()
                        .find_map(|k| modules.iter().position(|o| o[..] == path[..k]))
                })
                .filter(|&o| !modules[o].starts_with(m) && !m.starts_with(&modules[o]))
                .collect();
            to.sort_unstable();
            to.dedup();
            to
        })
        .collect();
    // Depth-first search; a grey node met again closes a circle.
    fn visit(v: usize, edges: &[Vec<usize>], state: &mut [u8], stack: &mut Vec<usize>) -> bool {
        state[v] = 1;
        stack.push(v);
        for &w in &edges[v] {
            if state[w] == 1 {
                stack.push(w);
                return true;
            }
            if state[w] == 0 && visit(w, edges, state, stack) {
                return true;
            }
        }
        state[v] = 2;
        stack.pop();
        false
    }
    let mut state = vec![0u8; files.len()];
    for v in 0..files.len() {
        let mut stack = Vec::new();
        if state[v] == 0 && visit(v, &edges, &mut state, &mut stack) {
            let names: Vec<String> = stack.iter().map(|&i| modules[i].join("::")).collect();
            panic!("import circle: {}", names.join(" -> "));
        }
    }
}
