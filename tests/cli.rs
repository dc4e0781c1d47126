//! The real binary against a static pktgen directory (`--proc-root`) built from the 6.12
//! transcript's file formats: output blocks, exit codes, saved plans and the lock.

use std::fs;

mod common;

use common::fake_box::FakeBox;
use std::path::{Path, PathBuf};
use std::process::Command;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn states(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("states")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn plan_prints_terraform_style_actions_and_exit_codes() {
    let b = FakeBox::new();
    let out = b.run(&["plan", &states("simple.yaml")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("    + eth0 (thread 0)\n"), "{stdout}");
    assert!(stdout.contains("        count: 100000\n"), "{stdout}");
    assert!(
        stdout.contains("        flags: UDPSRC_RND, NO_TIMESTAMP\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Plan: 1 to add, 0 to change, 0 to remove, 0 to re-create; 8 writes."),
        "{stdout}"
    );

    let out = b.run(&["plan", "--detailed-exitcode", &states("simple.yaml")]);
    assert_eq!(out.status.code(), Some(2));
    let out = b.run(&["plan", "-v", &states("simple.yaml")]);
    assert!(
        text(&out.stdout).contains("     1  kpktgend_0 <- add_device eth0\n"),
        "{}",
        text(&out.stdout)
    );

    let out = b.run(&["plan", "--json", &states("simple.yaml")]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["format_version"], 2);
    assert_eq!(doc["changes"], true);
    assert_eq!(doc["summary"]["add"], 1);
    assert_eq!(doc["writes"][0]["command"], "add_device eth0");
    assert_eq!(doc["actions"][0]["action"], "add");
}

#[test]
fn a_converged_box_says_no_changes_and_exits_zero() {
    let b = FakeBox::new();
    b.add_device(1, "eth1@3", "02:00:00:00:00:11");
    let state = b.file("s.yaml", "devices:\n  eth1@3: {thread: 1}\n");
    let out = b.run(&["plan", "--detailed-exitcode", state.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(
        text(&out.stdout),
        "No changes. pktgen matches the desired state.\n"
    );
    let out = b.run(&["show"]);
    assert_eq!(text(&out.stdout), "devices:\n  eth1@3:\n    thread: 1\n");
    let out = b.run(&["diff", state.to_str().unwrap()]);
    assert_eq!(text(&out.stdout), "No differences.\n");
}

#[test]
fn removals_are_always_shown() {
    let b = FakeBox::new();
    b.add_device(0, "eth0", "02:00:00:00:00:10");
    let state = b.file("s.yaml", "devices: {}\n");
    let out = b.run(&["plan", state.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("    - eth0 (thread 0)\n        because eth0 is not in the desired state"),
        "{stdout}"
    );
    let out = b.run(&["diff", state.to_str().unwrap()]);
    assert!(
        text(&out.stdout).contains("-  eth0:\n-    thread: 0\n"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn invalid_states_fail_with_located_errors_and_exit_one() {
    let b = FakeBox::new();
    let state = b.file(
        "bad.yaml",
        "devices:\n  eth0:\n    thread: 0\n    pkt_sise: 64\n    count: -1\n",
    );
    let out = b.run(&["validate", state.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("bad.yaml:4:5: devices.eth0.pkt_sise: unknown key `pkt_sise`"),
        "{err}"
    );
    assert!(err.contains("did you mean `pkt_size`?"), "{err}");
    let out = b.run(&["plan", state.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let state = b.file("down.yaml", "devices:\n  eth9: {thread: 0}\n");
    let out = b.run(&["plan", state.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("interface eth9 is down"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_proc_root_that_does_not_exist_is_a_missing_path_not_an_unloaded_module() {
    // Issue 12.3: only a missing directory named `pktgen` means the module is not loaded.
    let b = FakeBox::new();
    let typo = b.dir().join("pktgne");
    let out = Command::new(env!("CARGO_BIN_EXE_pgstate"))
        .args(["show", "--proc-root", typo.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("--proc-root {} does not exist", typo.display())),
        "{err}"
    );
    assert!(!err.contains("not loaded"), "{err}");
}

/// A stand-in for modprobe that logs its call, says something on stderr and, with `load`,
/// creates the pktgen directory as the module would.
fn fake_modprobe(b: &FakeBox, load: bool) -> (PathBuf, PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let log = b.dir().join("modprobe.log");
    let script = b.dir().join("modprobe");
    let pg = b.pg().display().to_string();
    let body = if load {
        format!(
            "mkdir -p {pg} && printf 'Packet Generator\\n' > {pg}/pgctrl && printf 'Running: \\nStopped: \\nResult: NA\\n' > {pg}/kpktgend_0\necho 'modprobe: noise on stderr' >&2\n"
        )
    } else {
        "echo 'modprobe: FATAL: Module pktgen not found in directory /lib/modules/x' >&2\nexit 1\n"
            .to_owned()
    };
    fs::write(
        &script,
        format!("#!/bin/sh\necho \"$@\" >> {}\n{body}", log.display()),
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    (script, log)
}

#[test]
fn reads_never_load_the_module_and_see_an_empty_box() {
    // Issue 12.3: plan, show, diff, status, validate (and destroy, stop, clear-counters,
    // watch --check-only, which have nothing to change) never run modprobe.
    let b = FakeBox::new();
    fs::remove_dir_all(b.pg()).unwrap();
    let (modprobe, log) = fake_modprobe(&b, true);
    let modprobe = modprobe.to_str().unwrap();
    let lock = b.dir().join("lock").display().to_string();
    let state = b.file("s.yaml", "devices:\n  eth0: {thread: 0, count: 5}\n");
    let state = state.to_str().unwrap();
    let with = |args: &[&str]| {
        let mut all = vec!["--modprobe", modprobe, "--lock-file", &lock];
        all.extend_from_slice(args);
        b.run(&all)
    };

    let out = with(&["show"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "devices: {}\n");
    assert!(
        text(&out.stderr).contains("pktgen is not loaded: nothing configured"),
        "{}",
        text(&out.stderr)
    );
    // plan shows everything as to be added.
    let out = with(&["plan", "--detailed-exitcode", state]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("    + eth0 (thread 0)\n"), "{stdout}");
    assert!(stdout.contains("Plan: 1 to add"), "{stdout}");
    let out = with(&["diff", state]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("+  eth0:"),
        "{}",
        text(&out.stdout)
    );
    let out = with(&["status"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "No pktgen devices.\n");
    for args in [
        &["validate", state][..],
        &["destroy", "--yes", state][..],
        &["stop"][..],
        &["clear-counters"][..],
        &["watch", "--once", "--check-only", state][..],
    ] {
        let out = with(args);
        assert!(
            matches!(out.status.code(), Some(0 | 2)),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    assert!(!log.exists(), "a read ran modprobe");
    assert!(!b.pg().exists());
}

#[test]
fn changes_load_the_module_say_so_and_keep_modprobe_quiet() {
    // Issue 12.3.
    let b = FakeBox::new();
    fs::remove_dir_all(b.pg()).unwrap();
    let lock = b.dir().join("lock").display().to_string();
    let state = b.file("s.yaml", "devices: {}\n");
    let (modprobe, log) = fake_modprobe(&b, false);
    let out = b.run(&[
        "apply",
        "--modprobe",
        modprobe.to_str().unwrap(),
        "--lock-file",
        &lock,
        state.to_str().unwrap(),
    ]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("loading the pktgen module (modprobe pktgen)"),
        "{err}"
    );
    // modprobe's own words are part of the error, not loose lines of their own.
    assert!(
        err.contains("`modprobe pktgen` failed: modprobe: FATAL: Module pktgen not found"),
        "{err}"
    );
    assert!(!err.lines().any(|l| l.starts_with("modprobe:")), "{err}");
    assert_eq!(fs::read_to_string(&log).unwrap(), "pktgen\n");

    fs::remove_file(&log).unwrap();
    let (modprobe, log) = fake_modprobe(&b, true);
    let out = b.run(&[
        "apply",
        "--modprobe",
        modprobe.to_str().unwrap(),
        "--lock-file",
        &lock,
        state.to_str().unwrap(),
    ]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("loading the pktgen module"), "{err}");
    assert!(!err.contains("noise"), "{err}");
    assert_eq!(fs::read_to_string(&log).unwrap(), "pktgen\n");
    assert!(b.pg().join("pgctrl").exists());
}

#[test]
fn a_saved_plan_is_refused_once_the_box_has_changed() {
    let b = FakeBox::new();
    let lock = b.dir().join("lock").display().to_string();
    let state = b.file("s.yaml", "devices: {}\n");
    let saved = b.dir().join("p.json").display().to_string();
    // Made against an empty box.
    // Terraform's spelling, `-out FILE`, works too.
    let out = b.run(&["plan", "-out", &saved, state.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = b.run(&["apply", "--lock-file", &lock, &saved]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // Someone adds a device: the plan no longer describes what would happen.
    b.add_device(0, "eth0", "02:00:00:00:00:10");
    let out = b.run(&["apply", "--lock-file", &lock, &saved]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("the live state has changed since this plan was made"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn apply_waits_for_the_lock_and_names_its_holder() {
    let b = FakeBox::new();
    let lock = b.dir().join("lock");
    let _held =
        pgstate::lock::BoxLock::acquire(&lock, std::time::Duration::ZERO, "pgstate watch lab/")
            .unwrap();
    let state = b.file("s.yaml", "devices: {}\n");
    let out = b.run(&[
        "apply",
        "--lock-file",
        lock.to_str().unwrap(),
        "--lock-timeout",
        "0.3",
        state.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!(
            "another pgstate holds the lock {} (pid {}: pgstate watch lab/)",
            lock.display(),
            std::process::id()
        )),
        "{err}"
    );
}

#[test]
fn a_non_root_user_gets_a_permission_error_naming_the_fix() {
    // pktgen's files are root-only (mode 0600, REFERENCE §5.6): model that with a directory
    // only root may enter, and run the binary as nobody.
    use std::os::unix::fs::PermissionsExt;
    let b = FakeBox::new();
    fs::set_permissions(b.dir(), fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(b.pg(), fs::Permissions::from_mode(0o700)).unwrap();
    // A copy nobody can execute wherever the checkout lives.
    let bin = b.dir().join("pgstate");
    fs::copy(env!("CARGO_BIN_EXE_pgstate"), &bin).unwrap();
    fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).unwrap();
    let run = || {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(&bin)
            .arg("show")
            .arg("--proc-root")
            .arg(b.pg())
            .output()
            .expect("setpriv (util-linux) runs the binary as nobody")
    };
    // A child forked by another test thread while the copy was open for writing holds that
    // descriptor until it execs, and exec of the copy then fails with ETXTBSY: try again.
    let mut out = run();
    for _ in 0..20 {
        if !text(&out.stderr).contains("Text file busy") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        out = run();
    }
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("permission denied"), "{err}");
    assert!(err.contains("run pgstate as root"), "{err}");
}

#[test]
fn start_and_stop_refuse_a_proc_root_of_another_network_namespace() {
    // pgctrl acts on the writer's namespace (REFERENCE §5.7). Use a process in a fresh
    // namespace; its /proc/PID/net/pktgen does not exist here, so the check must come first.
    let mut holder = Command::new("unshare")
        .args(["-n", "sleep", "30"])
        .spawn()
        .expect("unshare (util-linux)");
    let pid = holder.id();
    let own = fs::read_link("/proc/self/ns/net").unwrap();
    for _ in 0..100 {
        if fs::read_link(format!("/proc/{pid}/ns/net")).is_ok_and(|ns| ns != own) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let root = format!("/proc/{pid}/net/pktgen");
    let out = Command::new(env!("CARGO_BIN_EXE_pgstate"))
        .args(["stop", "--proc-root", &root])
        .output()
        .unwrap();
    let _ = holder.kill();
    let _ = holder.wait();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("belongs to another network namespace"),
        "{err}"
    );
    assert!(err.contains(&format!("nsenter -t {pid} -n")), "{err}");
}

#[test]
fn usage_errors_exit_one_never_the_changes_pending_code() {
    // Issue 12.2: exit 2 means "changes pending" for `plan --detailed-exitcode` and
    // `watch --once --check-only`; a typo must not read as drift.
    let b = FakeBox::new();
    for args in [
        &["plan", "--detailed-exitcode", "--jsn", "s.yaml"][..],
        &["watch", "--once", "--check-only", "--bogus", "s.yaml"][..],
        &["plan"][..],
        &["no-such-command"][..],
    ] {
        let out = b.run(args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains("error:"),
            "{}",
            text(&out.stderr)
        );
    }
    // Help and version are not errors.
    let out = b.run(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stdout).contains("Usage:"),
        "{}",
        text(&out.stdout)
    );
    let out = b.run(&["--version"]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn diff_exit_code_is_one_for_differences_and_two_for_errors() {
    // Issue 12.2: like `git diff --exit-code` and `kubectl diff`.
    let b = FakeBox::new();
    b.add_device(0, "eth0", "02:00:00:00:00:10");
    let same = b.file("same.yaml", "devices:\n  eth0: {thread: 0}\n");
    let other = b.file("other.yaml", "devices:\n  eth1: {thread: 1}\n");
    let out = b.run(&["diff", "--exit-code", same.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = b.run(&["diff", "--exit-code", other.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("+  eth1:"),
        "{}",
        text(&out.stdout)
    );
    // Without the flag a difference is not a failure (as with plain `git diff`).
    let out = b.run(&["diff", other.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    // Errors, usage errors included, are above 1.
    let missing = b.dir().join("missing.yaml");
    let out = b.run(&["diff", "--exit-code", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let out = b.run(&["diff", "--exit-code", "--jsn", same.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

#[test]
fn numeric_flags_refuse_values_that_used_to_panic_or_silently_become_zero() {
    // Issue 12.1: `--lock-timeout inf` panicked with exit 101; `nan` and negative values
    // became 0. Each is now a usage error naming the flag, and nothing is written.
    let b = FakeBox::new();
    let lock = b.dir().join("lock").display().to_string();
    let state = b.file("s.yaml", "devices:\n  eth0: {thread: 0}\n");
    let state = state.to_str().unwrap();
    for (cmd, flag) in [
        ("apply", "--lock-timeout"),
        ("destroy", "--lock-timeout"),
        ("run", "--lock-timeout"),
        ("run", "--duration"),
        ("watch", "--poll-interval"),
        ("watch", "--lock-timeout"),
        ("watch", "--debounce"),
    ] {
        for value in ["inf", "1e300", "1e20", "nan", "-1", "-0.5", "soon"] {
            let arg = format!("{flag}={value}");
            let out = b.run(
                &[cmd, "--lock-file", &lock, "--once", &arg, state][..]
                    .iter()
                    .copied()
                    .filter(|a| *a != "--once" || cmd == "watch")
                    .collect::<Vec<_>>(),
            );
            let err = text(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{cmd} {arg}: {err}");
            assert!(
                err.contains(&format!("invalid value '{value}' for '{flag}")),
                "{cmd} {arg}: {err}"
            );
            assert!(!err.contains("panicked"), "{err}");
        }
    }
    assert!(!b.pg().join("eth0").exists(), "nothing may be written");
    // Durations are humantime-style everywhere; a bare number is still seconds where it was.
    let empty = b.file("empty.yaml", "devices: {}\n");
    let empty = empty.to_str().unwrap();
    let out = b.run(&["apply", "--lock-file", &lock, "--lock-timeout", "2s", empty]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = b.run(&[
        "apply",
        "--lock-file",
        &lock,
        "--lock-timeout",
        "0.5",
        empty,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // --debounce used to be milliseconds: a bare number is refused, not read 1000x longer.
    let out = b.run(&["watch", "--once", "--debounce", "300", state]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("write 300ms"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn validate_dash_reads_the_standard_input() {
    // Issue 12.10: `validate -` reads the state from stdin, with located errors.
    use std::io::Write as _;
    let validate = |input: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_pgstate"))
            .args(["validate", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let out = validate("devices:\n  eth0: {thread: 0}\n");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("<stdin>: valid"),
        "{}",
        text(&out.stdout)
    );
    let out = validate("devices:\n  eth0: {thread: 0, cont: 5}\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("<stdin>:2:21: devices.eth0.cont: unknown key `cont`"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn each_help_lists_its_own_options_first_and_omits_the_ones_it_ignores() {
    // Issue 12.10.
    let help = |cmd: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_pgstate"))
            .args([cmd, "--help"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        text(&out.stdout)
    };
    let apply = help("apply");
    let own = apply.find("--lock-timeout").unwrap();
    let global = apply.find("Global options:").unwrap();
    assert!(own < global, "{apply}");
    assert!(apply[global..].contains("--proc-root"), "{apply}");
    assert!(apply[global..].contains("--lock-file"), "{apply}");
    let validate = help("validate");
    assert!(!validate.contains("--proc-root"), "{validate}");
    assert!(!validate.contains("--lock-file"), "{validate}");
    for cmd in ["plan", "show", "diff", "status", "stop", "clear-counters"] {
        let h = help(cmd);
        assert!(h.contains("--proc-root"), "{cmd}: {h}");
        assert!(!h.contains("--lock-file"), "{cmd}: {h}");
    }
    for cmd in ["run", "destroy", "watch"] {
        assert!(help(cmd).contains("--lock-file"), "{cmd}");
    }
    // Hidden is not refused: one set of options still works for every command.
    let b = FakeBox::new();
    let state = b.file("s.yaml", "devices: {}\n");
    let out = b.run(&[
        "validate",
        "--lock-file",
        "/nonexistent/lock",
        state.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = b.run(&["show", "--lock-file", "/nonexistent/lock"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

/// Runs the binary with `args` (plus the box's options), stderr to a pipe or, with
/// `terminal`, everything on a pseudo-terminal (util-linux `script`); returns what it printed.
fn logs(b: &FakeBox, args: &[&str], env: &[(&str, &str)], terminal: bool) -> String {
    let mut argv: Vec<String> = vec![env!("CARGO_BIN_EXE_pgstate").into()];
    argv.extend(args.iter().map(|a| (*a).to_owned()));
    argv.extend([
        "--proc-root".into(),
        b.pg().display().to_string(),
        "--lock-file".into(),
        b.dir().join("lock").display().to_string(),
    ]);
    let mut cmd = if terminal {
        let mut c = Command::new("script");
        c.args(["-qec", &argv.join(" "), "/dev/null"]);
        c
    } else {
        let mut c = Command::new(&argv[0]);
        c.args(&argv[1..]);
        c
    };
    cmd.env_remove("NO_COLOR")
        .env_remove("CLICOLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("RUST_LOG")
        .env("TERM", "xterm");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd
        .output()
        .expect("script (util-linux) runs the binary on a terminal");
    format!("{}{}", text(&out.stdout), text(&out.stderr))
}

#[test]
fn colour_only_on_a_terminal_and_never_with_no_color() {
    // Issue 12.4: the journal got `^[[32m INFO^[[0m`.
    let b = FakeBox::new();
    let state = b.file("s.yaml", "devices: {}\n");
    let watch = ["watch", "--once", "--check-only", state.to_str().unwrap()];
    let esc = |s: &str| s.contains('\x1b');
    let piped = logs(&b, &watch, &[], false);
    assert!(piped.contains("INFO"), "{piped}");
    assert!(!esc(&piped), "{piped:?}");
    let tty = logs(&b, &watch, &[], true);
    assert!(tty.contains("INFO") && esc(&tty), "{tty:?}");
    let no_color = logs(&b, &watch, &[("NO_COLOR", "1")], true);
    assert!(no_color.contains("INFO") && !esc(&no_color), "{no_color:?}");
    let never = logs(
        &b,
        &[&["--color", "never"][..], &watch[..]].concat(),
        &[],
        true,
    );
    assert!(never.contains("INFO") && !esc(&never), "{never:?}");
    let always = logs(
        &b,
        &[&["--color=always"][..], &watch[..]].concat(),
        &[],
        false,
    );
    assert!(always.contains("INFO") && esc(&always), "{always:?}");
    // The error label is coloured on a terminal only, pgstate's and clap's alike.
    for args in [
        &["validate", "/nonexistent.yaml"][..],
        &["plan", "--jsn"][..],
    ] {
        let err = logs(&b, args, &[], false);
        assert!(err.contains("error:") && !esc(&err), "{err:?}");
        let err = logs(&b, args, &[], true);
        assert!(err.contains("error") && esc(&err), "{err:?}");
        let err = logs(&b, &[&["--color", "never"][..], args].concat(), &[], true);
        assert!(err.contains("error:") && !esc(&err), "{err:?}");
    }
}

#[test]
fn destroy_without_a_terminal_needs_yes_and_plan_destroy_previews_it() {
    // Issue 12.8.
    let b = FakeBox::new();
    b.add_device(0, "eth0", "02:00:00:00:00:10");
    let lock = b.dir().join("lock").display().to_string();
    let state = b.file("s.yaml", "devices:\n  eth0: {thread: 0}\n");
    let state = state.to_str().unwrap();
    let before = fs::read_to_string(b.pg().join("kpktgend_0")).unwrap();
    let out = b.run(&["destroy", "--lock-file", &lock, state]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("pass --yes"), "{err}");
    assert_eq!(
        fs::read_to_string(b.pg().join("kpktgend_0")).unwrap(),
        before
    );
    assert!(
        !b.dir().join("lock").exists(),
        "refused before taking the lock"
    );

    let out = b.run(&["plan", "--destroy", "--detailed-exitcode", state]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("    - eth0 (thread 0)\n"), "{stdout}");
    assert!(
        stdout.contains("0 to add, 0 to change, 1 to remove"),
        "{stdout}"
    );
    // A destroy plan cannot be saved: `apply FILE` would re-read the state and add back.
    let saved = b.dir().join("p.json").display().to_string();
    let out = b.run(&["plan", "--destroy", "--out", &saved, state]);
    assert_eq!(out.status.code(), Some(1));

    // --yes on a box with nothing to remove.
    let other = b.file("other.yaml", "threads: [1]\ndevices: {}\n");
    let out = b.run(&[
        "destroy",
        "--yes",
        "--lock-file",
        &lock,
        other.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("No changes."),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn destroy_on_a_terminal_shows_what_goes_and_asks() {
    // Issue 12.8: anything but `yes` cancels, and nothing is written.
    let b = FakeBox::new();
    b.add_device(0, "eth0", "02:00:00:00:00:10");
    let state = b.file("s.yaml", "devices:\n  eth0: {thread: 0}\n");
    let before = fs::read_to_string(b.pg().join("kpktgend_0")).unwrap();
    let mut child = Command::new("script")
        .args([
            "-qec",
            &format!(
                "{} destroy --proc-root {} --sys-class-net {} --kernel-release 6.12.0 --lock-file {} {}",
                env!("CARGO_BIN_EXE_pgstate"),
                b.pg().display(),
                b.dir().join("net").display(),
                b.dir().join("lock").display(),
                state.display()
            ),
            "/dev/null",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"no\n").unwrap();
        // `script` ends the session at end of input; give the question time to be asked.
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let out = child.wait_with_output().unwrap();
    let screen = text(&out.stdout);
    assert!(screen.contains("- eth0 (thread 0)"), "{screen}");
    assert!(
        screen.contains("Remove these devices from pktgen? 1 device"),
        "{screen}"
    );
    assert!(
        screen.contains("destroy cancelled; nothing was removed"),
        "{screen}"
    );
    assert_eq!(
        fs::read_to_string(b.pg().join("kpktgend_0")).unwrap(),
        before
    );
}

#[test]
fn issue_12_validate_refuses_a_device_on_a_thread_the_state_does_not_own() {
    // Issue 12.6: `threads: [0]` with a device on thread 1 was "valid"; only plan refused it,
    // without a location.
    let b = FakeBox::new();
    let state = b.file(
        "owned.yaml",
        "threads: [0]\ndevices:\n  eth0:\n    thread: 1\n",
    );
    for cmd in ["validate", "plan"] {
        let out = b.run(&[cmd, state.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{cmd}");
        let err = text(&out.stderr);
        assert!(
            err.starts_with(&format!(
                "error: {}:4:13: devices.eth0.thread: thread 1 is not one of the threads this \
                 state owns (`threads: [0]`)\n",
                state.display()
            )),
            "{cmd}: {err}"
        );
        assert!(
            err.contains("4 |     thread: 1\n  |             ^"),
            "{err}"
        );
    }
}

#[test]
fn issue_12_plan_and_apply_point_box_refusals_at_the_key_that_asks() {
    // Issue 12.6: a missing interface, a missing thread and a kernel too old for a key were
    // reported by plan and apply without a place in the file.
    let b = FakeBox::new();
    let lock = b.dir().join("lock").display().to_string();
    let missing = b.file("missing.yaml", "devices:\n  eth5:\n    thread: 0\n");
    for args in [vec!["plan"], vec!["apply", "--lock-file", &lock]] {
        let out = b.run(&[&args[..], &[missing.to_str().unwrap()]].concat());
        assert_eq!(out.status.code(), Some(1));
        let err = text(&out.stderr);
        assert!(
            err.starts_with(&format!(
                "error: {}:2:3: devices.eth5: interface eth5 does not exist (add_device would \
                 fail with ENODEV)\n",
                missing.display()
            )),
            "{args:?}: {err}"
        );
        assert!(err.contains("2 |   eth5:\n  |   ^"), "{err}");
    }
    let thread = b.file("thread.yaml", "devices:\n  eth0:\n    thread: 7\n");
    let err = text(&b.run(&["plan", thread.to_str().unwrap()]).stderr);
    assert!(
        err.contains(":3:13: devices.eth0.thread: thread 7 does not exist"),
        "{err}"
    );
    let owned = b.file("owned.yaml", "threads: [0, 7]\ndevices: {}\n");
    let err = text(&b.run(&["plan", owned.to_str().unwrap()]).stderr);
    assert!(
        err.contains(":1:14: threads[1]: thread 7 does not exist"),
        "{err}"
    );
    let imix = b.file(
        "imix.yaml",
        "devices:\n  eth0:\n    thread: 0\n    imix_weights: \"64,7 1500,1\"\n",
    );
    let err = text(&b.run_on("5.10.0", &["plan", imix.to_str().unwrap()]).stderr);
    assert!(
        err.contains(
            ":4:19: devices.eth0.imix_weights: imix_weights needs Linux 5.15 or later; this \
             kernel is 5.10"
        ),
        "{err}"
    );
}

#[test]
fn every_problem_is_an_error_in_plain_words_with_right_plurals() {
    // Issue 12.7: "1 devices in 1 files"; "invalid value: integer `-1`, expected u64"; only
    // the first of several problems started with `error:`.
    let b = FakeBox::new();
    let bad = b.file(
        "bad.yaml",
        "threads: [0, 1.5]\ndevices:\n  eth0:\n    thread: 0\n    pkt_sise: 64\n    count: -1\n    delay: abc\n",
    );
    let out = b.run(&["validate", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    let starts: Vec<&str> = err.lines().filter(|l| l.contains("bad.yaml:")).collect();
    assert_eq!(starts.len(), 4, "{err}");
    for line in &starts {
        assert!(line.starts_with("error: "), "{err}");
    }
    for rust in ["u64", "u32", "integer `", "invalid type", "invalid value"] {
        assert!(!err.contains(rust), "{rust}: {err}");
    }
    assert!(
        err.contains("devices.eth0.count: expected a whole number (0 or more), found -1"),
        "{err}"
    );
    assert!(err.contains("found the string \"abc\""), "{err}");
    assert!(err.trim_end().ends_with("4 problems found"), "{err}");

    let one = b.file("one.yaml", "devices:\n  eth0: {thread: 0}\n");
    let out = b.run(&["validate", one.to_str().unwrap()]);
    assert!(
        text(&out.stdout).ends_with(": valid (1 device in 1 file)\n"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn issue_12_address_errors_show_the_value_and_the_expected_form() {
    // Issue 12.7: "invalid IPv4 address syntax" said neither the value nor the form.
    let b = FakeBox::new();
    let bad = b.file(
        "addr.yaml",
        "devices:\n  eth0:\n    thread: 0\n    dst: 198.18.0.300\n  eth1:\n    thread: 0\n    dst6: \"fe80::zz\"\n",
    );
    let out = b.run(&["validate", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains(
            ":4:10: devices.eth0.dst: '198.18.0.300' is not an IPv4 address (expected a.b.c.d, \
             each 0–255)\n"
        ),
        "{err}"
    );
    assert!(
        err.contains("devices.eth1.dst6: 'fe80::zz' is not an IPv6 address (expected "),
        "{err}"
    );
}

#[test]
fn issue_12_plan_json_changes_are_typed_and_named_by_the_state_file_keys() {
    // Issue 12.9: changes were strings such as "(unset)" and "+UDPSRC_RND", one per flag,
    // and named `dst_min` where the file said `dst`.
    let b = FakeBox::new();
    b.add_device(1, "eth1@3", "02:00:00:00:00:11");
    let state = b.file(
        "typed.yaml",
        "devices:\n  eth1@3:\n    thread: 1\n    pkt_size: 64\n    dst: 198.18.0.1\n    \
         vlan_id: 5\n    flags: [UDPSRC_RND, UDPDST_RND]\n",
    );
    let out = b.run(&["plan", "--json", state.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["format_version"], 2, "{doc}");
    let action = &doc["actions"][0];
    assert_eq!(action["action"], "change", "{doc}");
    assert_eq!(action["reason"], serde_json::Value::Null, "{doc}");
    let changes = action["changes"].as_array().unwrap();
    let find = |key: &str| {
        let found: Vec<_> = changes.iter().filter(|c| c["field"] == key).collect();
        assert_eq!(found.len(), 1, "{key}: {doc}");
        found[0].clone()
    };
    assert_eq!(find("pkt_size")["old"], 0, "{doc}");
    assert_eq!(find("pkt_size")["new"], 64, "{doc}");
    assert_eq!(find("dst")["old"], serde_json::Value::Null, "{doc}");
    assert_eq!(find("dst")["new"], "198.18.0.1", "{doc}");
    assert_eq!(find("vlan_id")["new"], 5, "{doc}");
    assert_eq!(find("flags")["old"], serde_json::json!(["SHARED"]), "{doc}");
    let new_flags = find("flags")["new"].as_array().unwrap().clone();
    for f in ["UDPSRC_RND", "UDPDST_RND", "SHARED"] {
        assert!(new_flags.contains(&f.into()), "{doc}");
    }
    let raw = text(&out.stdout);
    for word in ["(unset)", "\"+", "dst_min\"", "(off)"] {
        assert!(!raw.contains(word), "{word}: {raw}");
    }
}

#[test]
fn issue_12_with_json_errors_are_json_documents_too() {
    // Issue 12.9: `validate` had no --json, and `plan --json` on a bad file printed only text.
    let b = FakeBox::new();
    let bad = b.file(
        "bad.yaml",
        "devices:\n  eth0:\n    thread: 0\n    pkt_sise: 64\n    count: -1\n",
    );
    for (cmd, version) in [("validate", 1), ("plan", 2)] {
        let out = b.run(&[cmd, "--json", bad.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{cmd}");
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{cmd}: {e}: {}", text(&out.stdout)));
        assert_eq!(doc["format_version"], version, "{doc}");
        assert_eq!(doc["error"], "2 problems found", "{doc}");
        let first = &doc["errors"][0];
        assert_eq!(first["file"], bad.display().to_string(), "{doc}");
        assert_eq!(first["line"], 4, "{doc}");
        assert_eq!(first["column"], 5, "{doc}");
        assert_eq!(first["path"], "devices.eth0.pkt_sise", "{doc}");
        assert_eq!(first["message"], "unknown key `pkt_sise`", "{doc}");
        assert_eq!(doc["errors"][1]["line"], 5, "{doc}");
    }
    let missing = b.file("missing.yaml", "devices:\n  eth5: {thread: 0}\n");
    let out = b.run(&["plan", "--json", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["errors"][0]["line"], 2, "{doc}");
    assert_eq!(doc["errors"][0]["path"], "devices.eth5", "{doc}");

    let good = b.file("good.yaml", "devices:\n  eth0: {thread: 0}\n");
    let out = b.run(&["validate", "--json", good.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["format_version"], 1, "{doc}");
    assert_eq!(doc["valid"], true, "{doc}");
    assert_eq!(doc["devices"], 1, "{doc}");
}

#[test]
fn every_json_document_has_a_format_version_and_show_json_reads_back() {
    // Issue 12.9: `show --json` lacked format_version; `apply --json` lacked `changes`.
    let b = FakeBox::new();
    b.add_device(1, "eth1@3", "02:00:00:00:00:11");
    let out = b.run(&["show", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["format_version"], 1, "{doc}");
    assert_eq!(doc["devices"]["eth1@3"]["thread"], 1, "{doc}");
    // JSON is YAML: the document is a state file that changes nothing.
    let shown = b.file("shown.json", &text(&out.stdout));
    let out = b.run(&["plan", "--detailed-exitcode", shown.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let future = b.file("future.yaml", "format_version: 2\ndevices: {}\n");
    let out = b.run(&["validate", future.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("format_version 1"),
        "{}",
        text(&out.stderr)
    );

    let lock = b.dir().join("lock").display().to_string();
    let out = b.run(&[
        "apply",
        "--json",
        "--lock-file",
        &lock,
        shown.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["format_version"], 2, "{doc}");
    assert_eq!(doc["changes"], false, "{doc}");
    assert_eq!(doc["applied"], true, "{doc}");
    let out = b.run(&["status", "--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["format_version"], 1, "{doc}");
}

/// A state this box cannot take, kept by `watch`: its log points at the key in the state
/// file (file:line:col), and the error says it once, without a namespace for a single box.
#[test]
fn watch_logs_where_a_plan_time_error_is_in_the_state_file() {
    let b = FakeBox::new();
    let state = b.file("s.yaml", "devices:\n  eth0:\n    thread: 5\n");
    let state = state.to_str().unwrap();
    let out = b.run(&["watch", "--once", "--check-only", state]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("at={state}:3:13")),
        "the log locates the error: {stderr}"
    );
    let last = stderr.lines().last().unwrap_or_default();
    assert_eq!(
        last.matches("thread 5 does not exist").count(),
        1,
        "said once: {last}"
    );
    assert!(!last.contains("this namespace"), "{last}");
}
