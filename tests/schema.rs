//! The JSON Schema of state files (issue 13.2): the committed copy, `contrib/pgstate.schema.json`,
//! accepts every example in `states/` and refuses what the loader refuses key by key; and the
//! generated documentation subcommands (`schema`, `completions`, `man`) work from the binary.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn schema() -> Value {
    let text = std::fs::read_to_string(root().join("contrib/pgstate.schema.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn validator() -> jsonschema::Validator {
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&schema())
        .expect("the schema is a valid draft 2020-12 schema")
}

fn examples() -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(root().join("states"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 10, "{paths:?}");
    paths
}

/// A state file as YAML text, as the JSON value an editor's language server would check.
fn yaml(text: &str) -> Value {
    serde_yaml::from_str(text).unwrap()
}

fn errors(v: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    v.iter_errors(instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

#[test]
fn every_example_declares_the_schema_and_is_valid_against_it() {
    let v = validator();
    for path in examples() {
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text.lines().next(),
            Some("# yaml-language-server: $schema=../contrib/pgstate.schema.json"),
            "{}: the first line should be the schema modeline",
            path.display()
        );
        let errs = errors(&v, &yaml(&text));
        assert!(errs.is_empty(), "{}: {errs:#?}", path.display());
        // The loader still reads it, modeline and all.
        pgstate::load_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

/// What pgstate writes (`show`, `show --json`) is a state file the schema accepts: each example
/// as `show` would print it on every supported kernel.
#[test]
fn the_state_files_pgstate_writes_are_valid_against_the_schema() {
    let v = validator();
    for path in examples() {
        let desired = pgstate::load_path(&path).unwrap().desired;
        for profile in pgstate::KernelProfile::SUPPORTED {
            let file = pgstate::state_file::StateFile {
                threads: desired
                    .threads
                    .as_ref()
                    .map(|t| t.iter().map(|t| t.0).collect()),
                devices: desired
                    .devices
                    .iter()
                    .map(|(name, d)| {
                        let spec =
                            pgstate::state_file::spec_from_config(d.thread, &d.config, &profile);
                        (name.as_str().to_owned(), spec)
                    })
                    .collect(),
                ..Default::default()
            };
            let errs = errors(&v, &serde_json::to_value(&file).unwrap());
            assert!(errs.is_empty(), "{}: {errs:#?}", path.display());
        }
    }
}

#[test]
fn the_schema_accepts_every_spelling_the_loader_accepts() {
    let v = validator();
    let state = yaml(
        r#"
format_version: 1
threads: [0, 1]
devices:
  eth0@0:
    thread: 0
    count: 0
    pkt_size: 60
    tos: 0x10
    dst_min: 10.0.0.1
    dst_mac: "52:54:00:12:34:56"
    src_mac: 02:00:00:00:00:01
    mpls: ["0001000a", 0x20, 300]
    flags: [UDPCSUM, FLOW_RND, "!SHARED"]
    xmit_mode: queue_xmit
  eth0@1:
    thread: 1
    imix_weights: "64,7 576,4 1500,1"
    dst6: fd00::1
  eth1:
    thread: 1
    imix_weights: [[64, 7], [1500, 1]]
"#,
    );
    let errs = errors(&v, &state);
    assert!(errs.is_empty(), "{errs:#?}");
    // `devices: {}` removes every device.
    assert!(v.is_valid(&json!({ "devices": {} })));
}

#[test]
fn the_schema_refuses_unknown_keys_and_out_of_range_values() {
    let v = validator();
    let device = |extra: Value| {
        let mut d = json!({ "thread": 0 });
        d.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        json!({ "devices": { "eth0": d } })
    };
    let refused = [
        ("unknown device key", device(json!({ "cont": 5 }))),
        ("pkt_size below 42", device(json!({ "pkt_size": 20 }))),
        ("vlan_id above 4095", device(json!({ "vlan_id": 4096 }))),
        ("negative count", device(json!({ "count": -1 }))),
        ("count as a string", device(json!({ "count": "abc" }))),
        ("unknown flag", device(json!({ "flags": ["IPSRC_RAND"] }))),
        ("IPV6 flag", device(json!({ "flags": ["IPV6"] }))),
        ("bad MAC", device(json!({ "dst_mac": "52:54:00:12:34" }))),
        ("bad IPv4", device(json!({ "dst_min": "10.0.0.256" }))),
        ("bad xmit_mode", device(json!({ "xmit_mode": "fast" }))),
        ("17 MPLS labels", device(json!({ "mpls": vec![1; 17] }))),
        (
            "missing thread",
            json!({ "devices": { "eth0": { "count": 1 } } }),
        ),
        ("no devices", json!({ "threads": [0] })),
        (
            "unknown top-level key",
            json!({ "devices": {}, "device": {} }),
        ),
        (
            "format_version 2",
            json!({ "devices": {}, "format_version": 2 }),
        ),
    ];
    for (what, state) in refused {
        assert!(!v.is_valid(&state), "{what}: accepted {state}");
    }
}

fn pgstate(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_pgstate"))
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn pgstate_schema_prints_the_committed_schema() {
    let printed: Value = serde_json::from_str(&pgstate(&["schema"])).unwrap();
    assert_eq!(
        printed,
        schema(),
        "stale contrib/pgstate.schema.json: `pgstate schema > contrib/pgstate.schema.json`"
    );
}

#[test]
fn pgstate_completions_and_man_print_to_stdout() {
    let subcommands = [
        "plan",
        "apply",
        "diff",
        "show",
        "validate",
        "run",
        "stop",
        "status",
        "destroy",
        "clear-counters",
        "watch",
        "completions",
        "man",
        "schema",
    ];
    let bash = pgstate(&["completions", "bash"]);
    for sub in subcommands {
        assert!(bash.contains(sub), "bash completion lacks {sub}");
    }
    assert!(pgstate(&["completions", "zsh"]).starts_with("#compdef pgstate"));
    assert!(pgstate(&["completions", "fish"]).contains("complete -c pgstate"));
    let man = pgstate(&["man"]);
    assert!(man.starts_with(".TH PGSTATE 1"), "{}", &man[..100]);
    for sub in subcommands {
        assert!(
            man.contains(&format!(".SS \"pgstate {sub}\"")),
            "man page lacks {sub}"
        );
    }
}
