//! End-to-end reconciliation against the in-memory simulator: `show` output applies as a
//! no-op, every transition between examples ends where a fresh apply does, drift is repaired
//! minimally, and failures roll back. (That every example converges and re-plans to nothing,
//! in the fewest writes, is `write_bounds.rs`.)

mod common;

use std::path::Path;

use pgstate::apply::{apply, plan_against};
use pgstate::procfs::observe::read_live_state;
use pgstate::procfs::{PgFile, Procfs, SimProcfs};
use pgstate::state_file::{load_path, render_state_file, state_file_from_live};
use pgstate::{ApplyError, KernelProfile};

use common::lab::{lab_on, live_configs, load, AFTER, BEFORE, PROFILES};

/// The usual interfaces; `ethdown` is down.
const UP: [&str; 3] = ["eth0", "eth1", "eth2"];

fn examples() -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("states"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        // netns-lab.yaml describes other network namespaces, not this box: the lab's
        // 96-netns-state applies it in its namespaces.
        .filter(|p| !common::namespaced_example(p))
        .collect();
    v.sort();
    assert!(v.len() >= 10, "states/ should hold the examples");
    v
}

#[test]
fn show_then_apply_is_a_no_op() {
    for profile in PROFILES {
        for path in examples() {
            let sim = lab_on(profile, &[0, 1], &UP, &["ethdown"]);
            apply(&sim, &load_path(&path).unwrap().desired).unwrap();
            let live = read_live_state(&sim).unwrap();
            let yaml = render_state_file(&state_file_from_live(&live, &profile)).unwrap();
            let shown = load(&yaml);
            let (_, _, p) = plan_against(&sim, &shown).unwrap();
            assert!(
                p.is_empty(),
                "{}: show output\n{yaml}\nplans {:#?}",
                path.display(),
                p.writes
            );
        }
    }
}

/// Parses each YAML text with PyYAML (a YAML 1.1 parser, as Ansible uses) and returns what
/// it read, as JSON. python3-yaml is a test dependency: tests/run.sh installs it.
fn pyyaml(texts: &[String]) -> Vec<serde_json::Value> {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let script = "import json, sys, yaml\n\
                  json.dump([yaml.safe_load(t) for t in json.load(sys.stdin)], sys.stdout)";
    // Debian's python3-yaml belongs to the system python, whatever else is first on PATH.
    let python = if Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    };
    let mut child = Command::new(python)
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 is needed for this test (tests/run.sh installs python3-yaml)");
    let input = serde_json::to_vec(texts).unwrap();
    child.stdin.take().unwrap().write_all(&input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "PyYAML failed; is python3-yaml installed? (tests/run.sh installs it: apt-get install \
         python3-yaml)\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn issue_12_show_output_reads_the_same_in_pyyaml_and_in_pgstate() {
    // Every example, plus values a YAML 1.1 parser misreads when they are not quoted: a MAC
    // whose groups are base-60 digits (41135085296 in PyYAML) and MPLS labels that are all
    // digits or not.
    let tricky = "devices:\n  eth0@1:\n    thread: 0\n    dst_mac: \"52:54:00:12:34:56\"\n    src_mac: \"12:34:56:00:00:01\"\n    mpls: [\"00010000\", \"0001000a\", 16]\n";
    let mut texts = Vec::new();
    for profile in PROFILES {
        let mut states: Vec<pgstate::DesiredState> = examples()
            .iter()
            .map(|p| load_path(p).unwrap().desired)
            .collect();
        states.push(load(tricky));
        for desired in states {
            let sim = lab_on(profile, &[0, 1], &UP, &["ethdown"]);
            apply(&sim, &desired).unwrap();
            let live = read_live_state(&sim).unwrap();
            texts.push(render_state_file(&state_file_from_live(&live, &profile)).unwrap());
        }
    }
    assert!(texts.last().unwrap().contains("52:54:00:12:34:56"));
    let python = pyyaml(&texts);
    for (text, py) in texts.iter().zip(python) {
        // serde_yaml is the parser pgstate loads state files with.
        let ours: serde_json::Value = serde_yaml::from_str(text).unwrap();
        assert_eq!(
            py, ours,
            "PyYAML reads this show output differently:\n{text}"
        );
        load(text);
    }
}

#[test]
fn one_parameter_changed_by_hand_is_repaired_with_one_write() {
    let sim = lab_on(KernelProfile::LINUX_6_12, &[0, 1], &UP, &["ethdown"]);
    let desired = load_path(&Path::new(env!("CARGO_MANIFEST_DIR")).join("states/multiqueue.yaml"))
        .unwrap()
        .desired;
    apply(&sim, &desired).unwrap();
    let dev = PgFile::Device("eth0@1".parse().unwrap());
    sim.write(&dev, "udp_src_max 200").unwrap();
    let (_, _, p) = plan_against(&sim, &desired).unwrap();
    let cmds: Vec<_> = p.writes.iter().map(|w| w.render()).collect();
    assert_eq!(cmds, ["eth0@1 <- udp_src_max 109"]);
    assert_eq!(apply(&sim, &desired).unwrap().writes, 1);
}

#[test]
fn devices_added_or_moved_by_hand_are_put_back() {
    let sim = lab_on(KernelProfile::LINUX_6_1, &[0, 1], &UP, &["ethdown"]);
    let desired =
        load("devices:\n  eth0@0: {thread: 0, count: 7}\n  eth1: {thread: 1, count: 9}\n");
    apply(&sim, &desired).unwrap();
    // Someone adds a device on thread 1.
    sim.write(&PgFile::Thread(pgstate::ThreadId(1)), "add_device eth2")
        .unwrap();
    let report = apply(&sim, &desired).unwrap();
    assert_eq!(report.plan.count(pgstate::plan::ActionKind::Remove), 1);
    assert!(!sim.device_names().contains(&"eth2".to_owned()));
    // Someone moves eth0@0 to thread 1.
    sim.write(&PgFile::Thread(pgstate::ThreadId(0)), "rem_device_all")
        .unwrap();
    while sim.device_names().contains(&"eth0@0".to_owned()) {
        let _ = sim.list();
    }
    sim.write(&PgFile::Thread(pgstate::ThreadId(1)), "add_device eth0@0")
        .unwrap();
    apply(&sim, &desired).unwrap();
    let live = read_live_state(&sim).unwrap();
    assert_eq!(live.devices[&"eth0@0".parse().unwrap()].thread.0, 0);
    assert_eq!(
        live.devices[&"eth0@0".parse().unwrap()]
            .config
            .as_ref()
            .unwrap()
            .count,
        7
    );
    assert_eq!(
        live.devices[&"eth1".parse().unwrap()]
            .config
            .as_ref()
            .unwrap()
            .count,
        9
    );
}

#[test]
fn removing_one_of_three_devices_keeps_the_others_exactly() {
    let sim = lab_on(KernelProfile::LINUX_6_12, &[0, 1], &UP, &["ethdown"]);
    let three = load("devices:\n  eth0@0: {thread: 0, count: 5, pkt_size: 100, flags: [UDPCSUM]}\n  eth1@0: {thread: 0, dst: 198.18.0.9, vlan_id: 7, vlan_p: 2}\n  eth2@0: {thread: 0, count: 1}\n");
    apply(&sim, &three).unwrap();
    let before = read_live_state(&sim).unwrap();
    let mut two = three.clone();
    two.devices.remove(&"eth2@0".parse().unwrap());
    apply(&sim, &two).unwrap();
    let after = read_live_state(&sim).unwrap();
    for n in ["eth0@0", "eth1@0"] {
        let n: pgstate::DeviceName = n.parse().unwrap();
        assert_eq!(before.devices[&n].config, after.devices[&n].config, "{n}");
    }
    assert!(!after.devices.contains_key(&"eth2@0".parse().unwrap()));
}

#[test]
fn missing_or_down_interfaces_fail_before_any_write() {
    let sim = lab_on(KernelProfile::LINUX_6_12, &[0, 1], &UP, &["ethdown"]);
    for text in [
        "devices:\n  nosuch0: {thread: 0}\n",
        "devices:\n  ethdown: {thread: 0}\n",
    ] {
        let e = apply(&sim, &load(text)).unwrap_err();
        assert!(matches!(e, ApplyError::Plan(_)), "{e}");
        assert_eq!(sim.write_count(), 0);
    }
}

#[test]
fn a_failure_at_every_write_position_rolls_back_to_the_snapshot() {
    for profile in PROFILES {
        let probe = lab_on(profile, &[0, 1], &UP, &["ethdown"]);
        apply(&probe, &load(BEFORE)).unwrap();
        let (_, _, p) = plan_against(&probe, &load(AFTER)).unwrap();
        assert!(p.writes.len() > 8, "plan too small to be interesting");
        for pos in 0..p.writes.len() {
            for errno in [None, Some(22)] {
                let sim = lab_on(profile, &[0, 1], &UP, &["ethdown"]);
                apply(&sim, &load(BEFORE)).unwrap();
                let snapshot = live_configs(&sim);
                let base = sim.write_count();
                match errno {
                    Some(e) => sim.fail_write(base + pos, e),
                    None => sim.fail_result_at(base + pos, "ERROR: injected"),
                }
                let err = apply(&sim, &load(AFTER)).unwrap_err();
                match &err {
                    ApplyError::Write(failed) => {
                        assert_eq!(failed.index, pos + 1);
                        assert!(failed.rollback.restored, "position {pos}: {err}");
                    }
                    // A Result-only fault on a write whose Result is not checked shows up
                    // at verification instead.
                    ApplyError::Verify { rollback, .. } => assert!(rollback.restored, "{err}"),
                    other => panic!("position {pos}: unexpected {other}"),
                }
                assert_eq!(
                    live_configs(&sim),
                    snapshot,
                    "position {pos} errno {errno:?}"
                );
            }
        }
    }
}

/// A procfs that raises an "interrupt" flag once `after` writes have been made, as a
/// SIGINT arriving in the middle of an apply would.
struct InterruptAfter<'a> {
    sim: &'a SimProcfs,
    after: usize,
    flag: &'a std::sync::atomic::AtomicBool,
}

impl Procfs for InterruptAfter<'_> {
    fn list(&self) -> Result<Vec<String>, pgstate::ProcfsError> {
        self.sim.list()
    }
    fn read(&self, file: &PgFile) -> Result<String, pgstate::ProcfsError> {
        self.sim.read(file)
    }
    fn write(&self, file: &PgFile, command: &str) -> Result<(), pgstate::ProcfsError> {
        let r = self.sim.write(file, command);
        if self.sim.write_count() >= self.after {
            self.flag.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        r
    }
    fn interfaces(
        &self,
        names: &std::collections::BTreeSet<String>,
    ) -> Result<pgstate::procfs::Interfaces, pgstate::ProcfsError> {
        self.sim.interfaces(names)
    }
    fn kernel_release(&self) -> Option<String> {
        self.sim.kernel_release()
    }
}

#[test]
fn an_interrupt_mid_apply_rolls_back_and_never_leaves_a_thread_flushed() {
    let probe = lab_on(KernelProfile::LINUX_6_12, &[0, 1], &UP, &["ethdown"]);
    apply(&probe, &load(BEFORE)).unwrap();
    let (_, _, p) = plan_against(&probe, &load(AFTER)).unwrap();
    for pos in 1..p.writes.len() {
        let sim = lab_on(KernelProfile::LINUX_6_12, &[0, 1], &UP, &["ethdown"]);
        apply(&sim, &load(BEFORE)).unwrap();
        let snapshot = live_configs(&sim);
        let flag = std::sync::atomic::AtomicBool::new(false);
        let procfs = InterruptAfter {
            sim: &sim,
            after: sim.write_count() + pos,
            flag: &flag,
        };
        let desired = load(AFTER);
        let (live, env, plan) = plan_against(&procfs, &desired).unwrap();
        let err =
            pgstate::apply::apply_plan_interruptible(&procfs, &desired, &live, &env, plan, &flag)
                .unwrap_err();
        match err {
            ApplyError::Interrupted { done, rollback, .. } => {
                assert_eq!(done, pos);
                assert!(rollback.restored, "{rollback}");
            }
            other => panic!("{other}"),
        }
        assert_eq!(
            live_configs(&sim),
            snapshot,
            "interrupted after {pos} writes"
        );
    }
}

/// The configuration part (before `Current:`) of every device file, by name.
fn device_configs(sim: &SimProcfs) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = sim
        .device_names()
        .into_iter()
        .map(|n| {
            let text = sim.read(&PgFile::Device(n.parse().unwrap())).unwrap();
            let config = text.split("Current:").next().unwrap_or_default().to_owned();
            (n, config)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn every_transition_between_examples_ends_exactly_where_a_fresh_apply_does() {
    let examples = examples();
    for profile in PROFILES {
        let mut transitions = 0;
        for b in &examples {
            let fresh = lab_on(profile, &[0, 1], &UP, &["ethdown"]);
            let desired_b = load_path(b).unwrap().desired;
            apply(&fresh, &desired_b).unwrap();
            let want = device_configs(&fresh);
            for a in &examples {
                let sim = lab_on(profile, &[0, 1], &UP, &["ethdown"]);
                apply(&sim, &load_path(a).unwrap().desired).unwrap();
                apply(&sim, &desired_b)
                    .unwrap_or_else(|e| panic!("{} -> {}: {e}", a.display(), b.display()));
                assert_eq!(
                    device_configs(&sim),
                    want,
                    "{} -> {} on {profile:?}",
                    a.display(),
                    b.display()
                );
                transitions += usize::from(a != b);
            }
        }
        println!("{profile:?}: {transitions} transitions between examples");
        common::assert_readme_figure(transitions, "per kernel");
    }
}
