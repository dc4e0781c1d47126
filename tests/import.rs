//! `pgstate import` as a user runs it: the state on stdout (a comment naming the script and
//! its options, then YAML that `pgstate validate` accepts), notes on stderr, and exit code 1
//! with one clear line for every kind of mistake. The mapping itself is tested in
//! `src/import.rs`; the lab's scenario 55-import compares it with the real scripts.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn pgstate(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pgstate"))
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or_default()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn prints_a_valid_state_with_its_origin() {
    let out = pgstate(
        &[
            "import",
            "pktgen_sample04_many_flows.sh",
            "--",
            "-i",
            "eth0",
            "-t",
            "2",
            "-n",
            "5",
            "-6",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let state = text(&out.stdout);
    assert!(
        state.starts_with(
            "# pgstate import sample04: pktgen_sample04_many_flows.sh -i eth0 -t 2 -n 5 -6\ndevices:\n  eth0@0:\n"
        ),
        "{state}"
    );
    assert!(
        state.contains("  eth0@1:\n    thread: 1\n    count: 5\n"),
        "{state}"
    );
    assert!(
        text(&out.stderr).starts_with("note: "),
        "{}",
        text(&out.stderr)
    );
    let valid = pgstate(&["validate", "-"], Some(state.as_bytes()));
    assert_eq!(valid.status.code(), Some(0), "{}", text(&valid.stderr));
    assert_eq!(
        text(&valid.stdout),
        "<stdin>: valid (2 devices in 1 file)\n"
    );
    // -q keeps the notes back.
    let quiet = pgstate(
        &["-q", "import", "sample04", "--", "-i", "eth0", "-6"],
        None,
    );
    assert_eq!(text(&quiet.stderr), "");
}

#[test]
fn mistakes_exit_one_with_one_clear_line() {
    for (args, message) in [
        (
            &["import", "sample02", "--", "-i", "eth0", "-z"][..],
            "error: unknown option -z",
        ),
        (
            &["import", "sample02", "--", "-s", "60"],
            "error: missing -i",
        ),
        (
            &["import", "sample02", "--", "-i", "eth0", "-s", "20"],
            "error: -s '20': pgstate refuses the state it gives: devices.eth0@0.pkt_size",
        ),
        (
            &["import", "sample02", "--", "-i", "eth0", "-n", "ten"],
            "error: -n 'ten': expected a whole number",
        ),
        (
            &["import", "sample01", "--", "-i", "eth0"],
            "error: pktgen_sample01_simple.sh needs -m",
        ),
        (
            &["import", "queue-xmit", "--", "-i", "eth0", "-b", "4"],
            "error: pktgen_bench_xmit_mode_queue_xmit.sh refuses -b",
        ),
        (
            &["import", "sample06", "--", "-i", "eth0"],
            "error: unknown sample 'sample06'",
        ),
        // The script's options come after `--`, so that they are not read as pgstate's.
        (
            &["import", "sample02", "-i", "eth0"],
            "error: unexpected argument '-i'",
        ),
    ] {
        let out = pgstate(args, None);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            text(&out.stderr).starts_with(message),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert_eq!(text(&out.stdout), "", "{args:?}");
    }
}
