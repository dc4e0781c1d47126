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
