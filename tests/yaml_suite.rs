//! The state-file loader means what serde_yaml means (issue 21): on every case of the YAML
//! test suite, the value the loader reads is serde_yaml's own
//! (`serde_yaml::from_str::<Value>`) where serde_yaml reads the document, and the loader
//! refuses, with a located diagnostic, every document serde_yaml refuses. The loader builds
//! most values from yaml-rust2's events instead of asking serde_yaml (one parse instead of
//! two), so this is what keeps that fast path honest.
//!
//! The suite's data is not in this repository (the project's rules keep fetched material out
//! of its commits): the test reads it from `PGSTATE_YAML_TEST_SUITE`, by default
//! `../shared/yaml-test-suite` beside the checkout, and is ignored until it is there
//! (`cargo test --test yaml_suite -- --ignored`; doc/testing.md says how the copy is made).

use std::path::{Path, PathBuf};

use pgstate::state_file::read_yaml_value;
use serde_yaml::Value;

fn suite_dir() -> PathBuf {
    std::env::var_os("PGSTATE_YAML_TEST_SUITE").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/yaml-test-suite"),
        PathBuf::from,
    )
}

/// Every case directory (one with an `in.yaml`): `229Q`, and `2G84/00` for a case with
/// several, sorted.
fn cases(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.join("in.yaml").is_file() {
                out.push(path.clone());
            }
            cases(&path, out);
        }
    }
}

/// NaN is not equal to itself, so `.nan` would disagree with itself; serde_yaml's `Value`
/// compares floats by value.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) if x.is_nan() && y.is_nan() => true,
            _ => x == y,
        },
        (Value::Sequence(x), Value::Sequence(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Mapping(x), Value::Mapping(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((ka, va), (kb, vb))| same(ka, kb) && same(va, vb))
        }
        (Value::Tagged(x), Value::Tagged(y)) => x.tag == y.tag && same(&x.value, &y.value),
        _ => a == b,
    }
}

#[test]
#[ignore = "needs the YAML test suite's data: PGSTATE_YAML_TEST_SUITE=DIR (doc/testing.md)"]
fn the_loader_reads_every_case_of_the_yaml_test_suite_as_serde_yaml_does() {
    let root = suite_dir();
    let mut dirs = Vec::new();
    cases(&root, &mut dirs);
    dirs.sort();
    // The pinned copy has 402 cases; fewer means the data went missing, not that it passed.
    assert!(
        dirs.len() >= 400,
        "{} cases under {} (doc/testing.md says how the copy is made)",
        dirs.len(),
        root.display()
    );
    let (mut fast, mut accepted, mut refused) = (0, 0, 0);
    let mut disagreements = Vec::new();
    for dir in &dirs {
        let id = dir.strip_prefix(&root).unwrap_or(dir).display().to_string();
        // Every case is UTF-8 (the loader refuses other text before parsing any YAML).
        let text = std::fs::read_to_string(dir.join("in.yaml"))
            .unwrap_or_else(|e| panic!("{id}/in.yaml: {e}"));
        let file = Path::new("in.yaml");
        let ours = read_yaml_value(file, &text);
        fast += usize::from(ours.fast);
        match (serde_yaml::from_str::<Value>(&text), ours.value) {
            (Ok(theirs), Ok(v)) => {
                accepted += 1;
                if !same(&theirs, &v) {
                    disagreements.push(format!(
                        "{id}: serde_yaml reads {theirs:?}, the loader {v:?} (fast path: {})",
                        ours.fast
                    ));
                }
            }
            (Ok(theirs), Err(d)) => disagreements.push(format!(
                "{id}: serde_yaml reads {theirs:?}, the loader refuses it: {}",
                d[0]
            )),
            (Err(e), Ok(v)) => disagreements.push(format!(
                "{id}: serde_yaml refuses it ({e}), the loader reads {v:?} (fast path: {})",
                ours.fast
            )),
            (Err(_), Err(d)) => {
                refused += 1;
                if let Some(unlocated) = d.iter().find(|d| d.location.is_none()) {
                    disagreements.push(format!(
                        "{id}: the loader refuses it without a line and column: {unlocated}"
                    ));
                }
            }
        }
    }
    eprintln!(
        "YAML test suite: {} cases, {fast} on the fast path, {} left to serde_yaml; \
         {accepted} read alike, {refused} refused by both, {} disagreements",
        dirs.len(),
        dirs.len() - fast,
        disagreements.len()
    );
    assert!(
        disagreements.is_empty(),
        "{} of {} cases disagree:\n{}",
        disagreements.len(),
        dirs.len(),
        disagreements.join("\n")
    );
}

/// The kinds of document the suite found the loader and serde_yaml parting on, each in a
/// small document of this project's own, so that CI holds them without the suite's data:
/// values both read must be equal, and what serde_yaml refuses the loader refuses, located.
#[test]
fn the_kinds_of_document_where_the_loader_once_parted_from_serde_yaml() {
    let documents = [
        // An explicit key (`? key`), at the top and in a sequence (cases 652Z, HM87).
        "?foo: bar\n",
        "? foo\n: bar\n",
        "- ? x\n",
        "[?x]\n",
        // Block scalars: chomping, trailing spaces, the end of the text (L24T, JEF9).
        "a: |\n  x\n \n",
        "a: |-\n  x\n\n",
        "a: |+\n\n",
        "- |\n\n",
        "a: >\n  folded\n  text\n",
        "|\n  top\n",
        "a: |\n  no newline at the end",
        // Directives, known and not.
        "%YAML 1.2\n---\na: 1\n",
        "%FOO bar\n---\na: 1\n",
        // Tabs as indentation, and in values.
        "a:\n\tb: 1\n",
        "a: \tb\n",
        // Flow mappings: a missing comma, several lines, `:` in plain scalars.
        "{a: 1 b: 2}\n",
        "{a: 1,\n b: 2}\n",
        "[a:b, c]\n",
        "{a: [1,\n 2]}\n",
        // Several documents.
        "a: 1\n---\nb: 2\n",
        "---\n...\n---\na: 1\n",
        // Empty keys and odd anchors.
        ": v\n",
        "&a: x\n",
        "a: &x 1\nb: *x\n",
    ];
    let mut disagreements = Vec::new();
    for text in documents {
        let ours = read_yaml_value(Path::new("in.yaml"), text);
        match (serde_yaml::from_str::<Value>(text), ours.value) {
            (Ok(theirs), Ok(v)) if !same(&theirs, &v) => {
                disagreements.push(format!("{text:?}: serde_yaml {theirs:?}, the loader {v:?}"))
            }
            (Ok(_), Ok(_)) => {}
            (Ok(theirs), Err(d)) => disagreements.push(format!(
                "{text:?}: serde_yaml {theirs:?}, refused: {}",
                d[0]
            )),
            (Err(e), Ok(v)) => {
                disagreements.push(format!("{text:?}: serde_yaml refuses ({e}), read {v:?}"))
            }
            (Err(_), Err(d)) => {
                if let Some(unlocated) = d.iter().find(|d| d.location.is_none()) {
                    disagreements.push(format!("{text:?}: refused, unlocated: {unlocated}"));
                }
            }
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}
