//! Golden output: the text users read (plan, show, status, run, diff, errors) from the real
//! binary on the fake box, each compared with its reviewed snapshot in `tests/snapshots/`
//! (insta). An output change is one reviewed diff: `cargo insta review`, or
//! `INSTA_UPDATE=always cargo test --test golden` and `git diff`.

mod common;

use std::path::Path;
use std::process::Output;

use common::fake_box::FakeBox;

/// stdout, then stderr under a marker, then the exit code; the temporary directory and
/// wall-clock times are replaced by placeholders.
fn shown(b: &FakeBox, out: &Output) -> String {
    let text = format!(
        "{}--- stderr ---\n{}--- exit {} ---\n",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        out.status
            .code()
            .map_or_else(|| "signal".into(), |c| c.to_string())
    );
    text.replace(&b.dir().display().to_string(), "[BOX]")
}

fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("states")
        .join(name)
        .display()
        .to_string()
}

macro_rules! golden {
    ($name:expr, $text:expr) => {
        insta::with_settings!({
            filters => vec![
                (r"\b\d+\.\d{3}s\b", "[SECONDS]"),
                (r"wall_ms\W+\d+", "wall_ms: [MS]"),
                (r"/[^\s:]*/states/", "[STATES]/"),
            ],
        }, {
            insta::assert_snapshot!($name, $text);
        })
    };
}

#[test]
fn plan_of_an_example_on_an_empty_box() {
    let b = FakeBox::new();
    golden!(
        "plan_simple",
        shown(&b, &b.run(&["plan", &example("simple.yaml")]))
    );
    golden!(
        "plan_simple_verbose",
        shown(&b, &b.run(&["-v", "plan", &example("simple.yaml")]))
    );
}

#[test]
fn plan_of_a_change_and_a_removal() {
    let b = FakeBox::new();
    b.add_device(0, "eth0", "02:00:00:00:00:10");
    let state = b.file(
        "s.yaml",
        "devices:\n  eth1:\n    thread: 1\n    count: 5\n    dst: 198.18.0.1\n",
    );
    golden!(
        "plan_change",
        shown(&b, &b.run(&["plan", state.to_str().unwrap()]))
    );
}

#[test]
fn show_status_and_prometheus_of_a_device() {
    let b = FakeBox::new();
    b.add_device_with_counters(0, "eth0", "02:00:00:00:00:10", 12, 3);
    golden!("show", shown(&b, &b.run(&["show"])));
    golden!("status", shown(&b, &b.run(&["status"])));
    golden!(
        "status_prometheus",
        shown(&b, &b.run(&["status", "--format", "prometheus"]))
    );
}

#[test]
fn diff_against_a_state() {
    let b = FakeBox::new();
    b.add_device(0, "eth0", "02:00:00:00:00:10");
    let state = b.file("s.yaml", "devices:\n  eth0:\n    thread: 0\n    count: 7\n");
    golden!(
        "diff",
        shown(&b, &b.run(&["diff", state.to_str().unwrap()]))
    );
}

/// A converged box (its own `show`), run: `start` would go to an ordinary file, which pgstate
/// refuses (the run's tables are golden in `src/cli/results.rs`, from the library's data).
#[test]
fn run_refuses_to_write_an_ordinary_file() {
    let b = FakeBox::new();
    b.add_device(0, "eth0", "02:00:00:00:00:10");
    let shown_state = b.run(&["show"]);
    let state = b.file("s.yaml", &String::from_utf8_lossy(&shown_state.stdout));
    golden!(
        "run_ordinary_file",
        shown(
            &b,
            &b.run(&["run", "--no-progress", state.to_str().unwrap()])
        )
    );
}

#[test]
fn errors_name_file_line_and_field() {
    let b = FakeBox::new();
    let invalid = b.file(
        "bad.yaml",
        "devices:\n  eth0:\n    thread: 0\n    cont: 5\n    pkt_size: 20\n",
    );
    golden!(
        "error_invalid_state",
        shown(&b, &b.run(&["plan", invalid.to_str().unwrap()]))
    );
    let untakeable = b.file("thread.yaml", "devices:\n  eth0:\n    thread: 5\n");
    golden!(
        "error_no_such_thread",
        shown(&b, &b.run(&["plan", untakeable.to_str().unwrap()]))
    );
    let down = b.file("down.yaml", "devices:\n  eth9:\n    thread: 0\n");
    golden!(
        "error_interface_down",
        shown(&b, &b.run(&["plan", down.to_str().unwrap()]))
    );
}
