//! `watch` against the simulator.
//!
//! Most tests drive a [`WatchSession`] by hand: file events are injected and a
//! [`ManualClock`] is advanced, so debounce and poll timing are exact and nothing sleeps.
//! The tests at the end use real files in a temporary directory and the real notify watcher,
//! one per way a file really changes; they wait for real events, but only for a bounded time
//! and for a condition, never for a fixed delay.

mod common;

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use pgstate::lock::BoxLock;
use pgstate::procfs::observe::read_live_state;
use pgstate::procfs::{PgFile, Procfs, ProcfsError, SimProcfs};
use pgstate::watch::{
    run, run_observed, Event, ManualClock, NoEvents, NotifySource, Observer, Report, StatsHandle,
    Status, SystemClock, Trigger, WatchConfig, WatchError, WatchSession, WatchSummary,
    LOCK_RETRY_MS,
};
use pgstate::{KernelProfile, ThreadId};

use common::lab::{lab_with, load, mac, writes_from};

const MS: Duration = Duration::from_millis(1);
const DEBOUNCE: Duration = Duration::from_millis(300);
const POLL: Duration = Duration::from_millis(5000);

/// eth0 on thread 0 with `count`, eth1@1 on thread 1 with a UDP source range.
fn state(count: u64) -> String {
    format!(
        "devices:\n  eth0:\n    thread: 0\n    count: {count}\n  eth1@1:\n    thread: 1\n    udp_src_max: 109\n"
    )
}

/// A session on a state file in its own directory, with a manual clock.
struct Rig {
    _dir: tempfile::TempDir,
    path: PathBuf,
    lock: PathBuf,
    sim: Arc<SimProcfs>,
    clock: ManualClock,
    session: WatchSession<Arc<SimProcfs>, ManualClock>,
}

fn rig(yaml: &str, edit: impl FnOnce(&mut WatchConfig)) -> Rig {
    rig_on(
        Arc::new(lab_with(KernelProfile::LINUX_6_12, &["eth0", "eth1"])),
        yaml,
        edit,
    )
}

fn rig_on(sim: Arc<SimProcfs>, yaml: &str, edit: impl FnOnce(&mut WatchConfig)) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.yaml");
    fs::write(&path, yaml).unwrap();
    let lock = dir.path().join("lock");
    let mut config = WatchConfig {
        debounce: DEBOUNCE,
        poll_interval: POLL,
        lock_file: Some(lock.clone()),
        ..WatchConfig::default()
    };
    edit(&mut config);
    let clock = ManualClock::new();
    let session = WatchSession::new(Arc::clone(&sim), &path, config, clock.clone());
    Rig {
        _dir: dir,
        path,
        lock,
        sim,
        clock,
        session,
    }
}

impl Rig {
    fn start(&mut self) -> Vec<Report> {
        self.session.handle(Event::Tick)
    }

    /// Moves the clock by `by`, then feeds `event`.
    fn after(&mut self, by: Duration, event: Event) -> Vec<Report> {
        self.clock.advance(by);
        self.session.handle(event)
    }

    fn save(&self, yaml: &str) {
        fs::write(&self.path, yaml).unwrap();
    }

    fn writes_from(&self, n: usize) -> Vec<String> {
        writes_from(&self.sim, n)
    }
}

fn count_of(sim: &SimProcfs, device: &str) -> Option<u64> {
    let live = read_live_state(sim).ok()?;
    let d = live.devices.get(&device.parse().unwrap())?;
    d.config.as_ref().map(|c| c.count)
}

fn udp_src_max_of(sim: &SimProcfs, device: &str) -> Option<u16> {
    let live = read_live_state(sim).ok()?;
    let d = live.devices.get(&device.parse().unwrap())?;
    d.config.as_ref().map(|c| c.udp_src_max)
}

fn applied(reports: &[Report]) -> Vec<(Trigger, Vec<String>)> {
    reports
        .iter()
        .filter_map(|r| match r {
            Report::Applied {
                trigger, writes, ..
            } => Some((*trigger, writes.clone())),
            _ => None,
        })
        .collect()
}

/// `rem_device_all` by hand; the kernel removes the devices asynchronously, so wait for
/// them to be gone (REFERENCE §2.2) before the test goes on.
fn flush_by_hand(sim: &SimProcfs, thread: u32) {
    sim.write(&PgFile::Thread(ThreadId(thread)), "rem_device_all")
        .unwrap();
    for _ in 0..100 {
        if sim.list().unwrap().iter().all(|n| {
            !n.starts_with("eth")
                || read_live_state(sim)
                    .unwrap()
                    .devices
                    .values()
                    .all(|d| d.thread.0 != thread)
        }) {
            return;
        }
    }
    panic!("rem_device_all on thread {thread} did not finish");
}

fn assert_in_sync(sim: &SimProcfs, yaml: &str) {
    let desired = load(yaml);
    let (_, _, p) = pgstate::apply::plan_against(sim, &desired).unwrap();
    assert!(p.is_empty(), "box not converged: {:#?}", p.writes);
}

#[test]
fn startup_applies_the_state_and_a_converged_box_gets_no_writes_at_polls() {
    let mut r = rig(&state(1), |_| {});
    let reports = r.start();
    let a = applied(&reports);
    assert_eq!(a.len(), 1, "{reports:#?}");
    assert_eq!(a[0].0, Trigger::Startup);
    assert_in_sync(&r.sim, &state(1));
    let n = r.sim.write_count();
    for _ in 0..3 {
        let reports = r.after(POLL, Event::Tick);
        assert!(
            matches!(
                reports[..],
                [Report::Unchanged, Report::InSync(Trigger::Poll)]
            ),
            "{reports:#?}"
        );
    }
    assert_eq!(r.sim.write_count(), n);
}

#[test]
fn a_burst_of_fifty_saves_within_the_debounce_window_applies_once() {
    let mut r = rig(&state(1), |_| {});
    r.start();
    let before = r.session.stats().snapshot();
    let n = r.sim.write_count();
    for i in 1..=50 {
        r.save(&state(100 + i));
        let reports = r.after(5 * MS, Event::FilesChanged);
        assert!(reports.is_empty(), "save {i}: {reports:#?}");
    }
    // Quiet for one millisecond less than the debounce: still nothing.
    assert!(r.after(DEBOUNCE - MS, Event::Tick).is_empty());
    assert_eq!(r.session.stats().snapshot().reloads, before.reloads);
    let reports = r.after(MS, Event::Tick);
    assert_eq!(
        applied(&reports),
        [(Trigger::FileChange, vec!["eth0 <- count 150".to_owned()])]
    );
    let after = r.session.stats().snapshot();
    assert_eq!(after.file_events - before.file_events, 50);
    assert_eq!(after.reloads - before.reloads, 1);
    assert_eq!(after.reconciles - before.reconciles, 1);
    assert_eq!(after.applies - before.applies, 1);
    assert_eq!(r.writes_from(n), ["eth0 <- count 150"]);
    assert_eq!(count_of(&r.sim, "eth0"), Some(150));
}

#[test]
fn an_invalid_edit_keeps_the_last_good_state_until_the_file_is_fixed() {
    let mut r = rig(&state(1), |_| {});
    r.start();
    let n = r.sim.write_count();

    r.save("devices:\n  eth0:\n    thread: 0\n    count: 7\n    pkt_size: 20\n");
    r.after(MS, Event::FilesChanged);
    let reports = r.after(DEBOUNCE, Event::Tick);
    let [Report::Invalid(e)] = &reports[..] else {
        panic!("{reports:#?}");
    };
    let text = e.to_string();
    let at = format!(
        "{}:5:15: devices.eth0.pkt_size: 20 is below",
        r.path.display()
    );
    assert!(text.starts_with(&at), "{text}");
    assert_eq!(
        r.sim.write_count(),
        n,
        "an invalid edit must not touch the box"
    );
    assert_eq!(r.session.stats().snapshot().invalid, 1);

    // While the file stays invalid, drift is still repaired to the last good state, and
    // the same invalid bytes are not parsed (nor reported) again.
    r.sim
        .write(&PgFile::Device("eth0".parse().unwrap()), "count 55")
        .unwrap();
    let reports = r.after(POLL, Event::Tick);
    assert_eq!(
        applied(&reports),
        [(Trigger::Poll, vec!["eth0 <- count 1".to_owned()])],
        "{reports:#?}"
    );
    assert_eq!(r.session.stats().snapshot().invalid, 1);

    // A syntax error is located too.
    r.save("devices:\n  eth0:\n    thread: 0\n    count: [7\n");
    r.after(MS, Event::FilesChanged);
    let reports = r.after(DEBOUNCE, Event::Tick);
    let [Report::Invalid(e)] = &reports[..] else {
        panic!("{reports:#?}");
    };
    assert!(
        e.to_string()
            .starts_with(&format!("{}:5:1: ", r.path.display())),
        "{e}"
    );

    // Fixed: applied at once.
    r.save(&state(7));
    r.after(MS, Event::FilesChanged);
    let reports = r.after(DEBOUNCE, Event::Tick);
    assert_eq!(
        applied(&reports),
        [(Trigger::FileChange, vec!["eth0 <- count 7".to_owned()])],
        "{reports:#?}"
    );
    assert_eq!(count_of(&r.sim, "eth0"), Some(7));
}

#[test]
fn an_invalid_state_at_startup_applies_nothing_until_it_is_fixed() {
    let mut r = rig("devices:\n  eth0:\n    thread: 0\n    cuont: 7\n", |_| {});
    let reports = r.start();
    assert!(matches!(reports[..], [Report::Invalid(_)]), "{reports:#?}");
    let reports = r.after(POLL, Event::Tick);
    assert!(
        matches!(reports[..], [Report::Unchanged, Report::NoState]),
        "{reports:#?}"
    );
    assert_eq!(r.sim.write_count(), 0);
    r.save(&state(3));
    r.after(MS, Event::FilesChanged);
    let reports = r.after(DEBOUNCE, Event::Tick);
    assert_eq!(applied(&reports).len(), 1, "{reports:#?}");
    assert_in_sync(&r.sim, &state(3));
}

#[test]
fn drift_is_repaired_at_the_next_poll_with_the_minimal_writes() {
    let mut r = rig(&state(1), |_| {});
    r.start();
    let n = r.sim.write_count();
    r.sim
        .write(
            &PgFile::Device("eth1@1".parse().unwrap()),
            "udp_src_max 200",
        )
        .unwrap();
    let n_drift = r.sim.write_count();
    assert_eq!(n_drift, n + 1);
    assert!(r.after(POLL - MS, Event::Tick).is_empty());
    let reports = r.after(MS, Event::Tick);
    let Some(Report::Applied {
        trigger, changes, ..
    }) = reports.iter().find(|r| matches!(r, Report::Applied { .. }))
    else {
        panic!("{reports:#?}");
    };
    assert_eq!(*trigger, Trigger::Poll);
    assert_eq!(changes, &["eth1@1.udp_src_max: 200 -> 109"]);
    assert_eq!(r.writes_from(n_drift), ["eth1@1 <- udp_src_max 109"]);
    assert_eq!(r.session.stats().snapshot().repairs, 1);
    assert_eq!(udp_src_max_of(&r.sim, "eth1@1"), Some(109));

    // A device removed behind watch's back is added again.
    flush_by_hand(&r.sim, 1);
    let reports = r.after(POLL, Event::Tick);
    assert_eq!(applied(&reports).len(), 1, "{reports:#?}");
    assert_in_sync(&r.sim, &state(1));
}

#[test]
fn check_only_reports_drift_and_writes_nothing() {
    let sim = Arc::new(lab_with(KernelProfile::LINUX_6_12, &["eth0", "eth1"]));
    let desired = load(&state(1));
    pgstate::apply::apply(&*sim, &desired).unwrap();
    let mut r = rig_on(sim, &state(1), |c| c.check_only = true);
    let reports = r.start();
    assert!(
        matches!(reports[..], [Report::Loaded { .. }, Report::InSync(_)]),
        "{reports:#?}"
    );
    r.sim
        .write(
            &PgFile::Device("eth1@1".parse().unwrap()),
            "udp_src_max 200",
        )
        .unwrap();
    let n = r.sim.write_count();
    for _ in 0..2 {
        let reports = r.after(POLL, Event::Tick);
        let Some(Report::Drift {
            trigger,
            changes,
            writes,
        }) = reports.iter().find(|r| matches!(r, Report::Drift { .. }))
        else {
            panic!("{reports:#?}");
        };
        assert_eq!(*trigger, Trigger::Poll);
        assert_eq!(changes, &["eth1@1.udp_src_max: 200 -> 109"]);
        assert_eq!(writes, &["eth1@1 <- udp_src_max 109"]);
    }
    // A change of the state file is reported, not applied, either.
    r.save(&state(9));
    r.after(MS, Event::FilesChanged);
    let reports = r.after(DEBOUNCE, Event::Tick);
    assert!(
        reports.iter().any(|r| matches!(r, Report::Drift { .. })),
        "{reports:#?}"
    );
    assert_eq!(r.sim.write_count(), n, "check-only must not write");
    let stats = r.session.stats().snapshot();
    assert_eq!((stats.drift_reports, stats.applies), (3, 0));
}

#[test]
fn a_vanished_interface_is_left_out_once_and_its_device_re_added_when_it_returns() {
    let mut r = rig(&state(1), |_| {});
    r.start();
    // ip link del eth1: the kernel drops eth1@1 at once.
    assert!(r.sim.remove_interface("eth1"));
    let n = r.sim.write_count();
    let reports = r.after(POLL, Event::Tick);
    let [Report::Unchanged, Report::Skipped { skipped, back }, Report::InSync(Trigger::Poll)] =
        &reports[..]
    else {
        panic!("{reports:#?}");
    };
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0].0.as_str(), "eth1@1");
    assert!(skipped[0].1.contains("does not exist"), "{}", skipped[0].1);
    assert!(back.is_empty());
    // Reported once per change, not at every poll; eth0 is still managed meanwhile.
    r.sim
        .write(&PgFile::Device("eth0".parse().unwrap()), "count 55")
        .unwrap();
    let reports = r.after(POLL, Event::Tick);
    assert!(
        !reports.iter().any(|r| matches!(r, Report::Skipped { .. })),
        "{reports:#?}"
    );
    assert_eq!(
        applied(&reports),
        [(Trigger::Poll, vec!["eth0 <- count 1".to_owned()])]
    );
    assert_eq!(r.sim.write_count(), n + 2);

    // ip link add eth1: re-attached at the next poll.
    r.sim.add_interface("eth1", mac(1), true);
    let reports = r.after(POLL, Event::Tick);
    assert!(
        reports.iter().any(|r| matches!(r,
            Report::Skipped { skipped, back } if skipped.is_empty() && back.len() == 1)),
        "{reports:#?}"
    );
    let a = applied(&reports);
    assert_eq!(a.len(), 1, "{reports:#?}");
    assert_eq!(a[0].1[0], "kpktgend_1 <- add_device eth1@1");
    assert!(a[0].1.contains(&"eth1@1 <- udp_src_max 109".to_owned()));
    assert_in_sync(&r.sim, &state(1));
    assert_eq!(r.session.stats().snapshot().skipped_changes, 2);
}

#[test]
fn a_device_lost_while_its_interface_is_down_is_re_added_when_it_is_up() {
    let mut r = rig(&state(1), |_| {});
    r.start();
    assert!(r.sim.set_interface_up("eth1", false));
    flush_by_hand(&r.sim, 1);
    let reports = r.after(POLL, Event::Tick);
    assert!(
        reports.iter().any(|r| matches!(r,
            Report::Skipped { skipped, .. } if skipped[0].1.contains("is down"))),
        "{reports:#?}"
    );
    assert!(applied(&reports).is_empty());
    assert!(r.sim.set_interface_up("eth1", true));
    let reports = r.after(POLL, Event::Tick);
    assert_eq!(applied(&reports).len(), 1, "{reports:#?}");
    assert_in_sync(&r.sim, &state(1));
}

/// eth0 sends forever on thread 0; eth1@1 on thread 1.
fn running_rig(refuse: bool) -> Rig {
    let mut r = rig(&state(0), |c| c.refuse_disruptive = refuse);
    r.start();
    r.sim.write(&PgFile::Ctrl, "start").unwrap();
    assert!(r.sim.running_devices().contains(&"eth0".to_owned()));
    r
}

const WITHOUT_ETH0: &str = "devices:\n  eth1@1:\n    thread: 1\n    udp_src_max: 109\n";

#[test]
fn refuse_disruptive_leaves_a_thread_with_running_traffic_alone() {
    let mut r = running_rig(true);
    let n = r.sim.write_count();
    // Removing eth0 needs rem_device_all on thread 0, where it is sending.
    r.save(WITHOUT_ETH0);
    r.after(MS, Event::FilesChanged);
    let reports = r.after(DEBOUNCE, Event::Tick);
    let Some(Report::Refused {
        threads, running, ..
    }) = reports.iter().find(|r| matches!(r, Report::Refused { .. }))
    else {
        panic!("{reports:#?}");
    };
    assert_eq!(threads, &[ThreadId(0)]);
    assert_eq!(running.len(), 1);
    assert_eq!(running[0].as_str(), "eth0");
    assert_eq!(r.sim.write_count(), n, "nothing may be written");
    assert!(r.sim.running_devices().contains(&"eth0".to_owned()));
    // Refused again at the next poll, still without a write.
    let reports = r.after(POLL, Event::Tick);
    assert!(
        reports.iter().any(|r| matches!(r, Report::Refused { .. })),
        "{reports:#?}"
    );
    assert!(!writes_from(&r.sim, 0)
        .iter()
        .any(|w| w.contains("rem_device_all")));
    assert_eq!(r.session.stats().snapshot().refused, 2);
}

#[test]
fn without_refuse_disruptive_the_change_is_applied_and_names_the_stopped_traffic() {
    let mut r = running_rig(false);
    let n = r.sim.write_count();
    r.save(WITHOUT_ETH0);
    r.after(MS, Event::FilesChanged);
    let reports = r.after(DEBOUNCE, Event::Tick);
    let Some(Report::Applied {
        writes,
        stopped_traffic,
        ..
    }) = reports.iter().find(|r| matches!(r, Report::Applied { .. }))
    else {
        panic!("{reports:#?}");
    };
    assert_eq!(writes, &["kpktgend_0 <- rem_device_all"]);
    assert_eq!(stopped_traffic.len(), 1);
    assert_eq!(stopped_traffic[0].as_str(), "eth0");
    assert_eq!(r.writes_from(n), ["kpktgend_0 <- rem_device_all"]);
    assert!(!r.sim.device_names().contains(&"eth0".to_owned()));
}

#[test]
fn sighup_rereads_the_state_at_once() {
    let mut r = rig(&state(1), |_| {});
    r.start();
    // No file event (say it was missed) and no time passes: SIGHUP alone applies the edit.
    r.save(&state(2));
    let reports = r.session.handle(Event::Hangup);
    assert_eq!(
        applied(&reports),
        [(Trigger::Hangup, vec!["eth0 <- count 2".to_owned()])]
    );
    // With the same files, SIGHUP still reconciles now: drift is repaired without waiting
    // for the poll.
    r.sim
        .write(&PgFile::Device("eth0".parse().unwrap()), "count 55")
        .unwrap();
    let reports = r.session.handle(Event::Hangup);
    assert_eq!(
        applied(&reports),
        [(Trigger::Hangup, vec!["eth0 <- count 2".to_owned()])],
        "{reports:#?}"
    );
}

#[test]
fn a_busy_lock_skips_the_reconcile_and_it_is_retried_at_the_next_tick() {
    let mut r = rig(&state(1), |_| {});
    let held = BoxLock::acquire(&r.lock, Duration::ZERO, "pgstate apply by hand").unwrap();
    let reports = r.start();
    let Some(Report::LockBusy(e)) = reports.iter().find(|r| matches!(r, Report::LockBusy(_)))
    else {
        panic!("{reports:#?}");
    };
    assert!(e.to_string().contains("pgstate apply by hand"), "{e}");
    assert_eq!(r.sim.write_count(), 0);
    drop(held);
    let retry = Duration::from_millis(LOCK_RETRY_MS);
    assert!(r.after(retry - MS, Event::Tick).is_empty());
    let reports = r.after(MS, Event::Tick);
    assert_eq!(applied(&reports).len(), 1, "{reports:#?}");
    assert_in_sync(&r.sim, &state(1));
    assert_eq!(r.session.stats().snapshot().lock_busy, 1);
}

#[test]
fn failed_applies_roll_back_and_are_retried_with_back_off() {
    let mut r = rig(&state(1), |_| {});
    r.start();
    r.sim
        .write(&PgFile::Device("eth0".parse().unwrap()), "count 55")
        .unwrap();
    // The repair's write fails with EINVAL, twice in a row.
    for _ in 0..2 {
        r.sim.fail_write(r.sim.write_count(), 22);
        let reports = r.after(POLL, Event::Tick);
        assert!(
            reports.iter().any(|r| matches!(r, Report::Failed(_))),
            "{reports:#?}"
        );
        assert_eq!(count_of(&r.sim, "eth0"), Some(55));
    }
    // After two failures the wait has doubled: nothing one interval later...
    assert!(r.after(POLL, Event::Tick).is_empty());
    // ...the retry comes two intervals after the last failure, and succeeds.
    let reports = r.after(POLL, Event::Tick);
    assert_eq!(applied(&reports).len(), 1, "{reports:#?}");
    assert_eq!(count_of(&r.sim, "eth0"), Some(1));
    assert_eq!(r.session.stats().snapshot().failures, 2);
}

/// Delegates to a simulator and sets a flag at its first write, like a SIGTERM arriving
/// while an apply runs.
struct Tripwire {
    sim: Arc<SimProcfs>,
    flag: Arc<AtomicBool>,
}

impl Procfs for Tripwire {
    fn list(&self) -> Result<Vec<String>, ProcfsError> {
        self.sim.list()
    }
    fn read(&self, file: &PgFile) -> Result<String, ProcfsError> {
        self.sim.read(file)
    }
    fn write(&self, file: &PgFile, command: &str) -> Result<(), ProcfsError> {
        self.flag.store(true, Ordering::SeqCst);
        self.sim.write(file, command)
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

/// No file events; waiting moves the manual clock instead of sleeping.
struct Quiet(ManualClock);

impl pgstate::watch::EventSource for Quiet {
    fn wait(&mut self, timeout: Duration) -> bool {
        self.0.advance(timeout);
        false
    }
}

#[test]
fn terminate_during_an_apply_lets_it_finish_then_exits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.yaml");
    fs::write(&path, state(1)).unwrap();
    let sim = Arc::new(lab_with(KernelProfile::LINUX_6_12, &["eth0", "eth1"]));
    let terminate = Arc::new(AtomicBool::new(false));
    let procfs = Tripwire {
        sim: Arc::clone(&sim),
        flag: Arc::clone(&terminate),
    };
    let clock = ManualClock::new();
    let config = WatchConfig {
        lock_file: None,
        ..WatchConfig::default()
    };
    let mut session = WatchSession::new(procfs, &path, config, clock.clone());
    let hangup = AtomicBool::new(false);
    let summary = run(&mut session, &mut Quiet(clock), &terminate, &hangup).unwrap();
    assert!(terminate.load(Ordering::SeqCst), "the apply wrote nothing");
    // Every write of the plan went through and nothing was rolled back.
    assert!(summary.in_sync);
    assert_eq!(summary.stats.applies, 1);
    assert_eq!(summary.stats.writes as usize, sim.write_count());
    assert_in_sync(&sim, &state(1));
}

#[test]
fn terminate_while_an_edit_is_being_debounced_exits_without_applying_it() {
    let mut r = rig(&state(1), |_| {});
    r.start();
    r.save(&state(2));
    r.after(MS, Event::FilesChanged);
    let reports = r.after(MS, Event::Terminate);
    assert!(matches!(reports[..], [Report::Exit]), "{reports:#?}");
    assert!(r.session.exited());
    assert!(r.after(DEBOUNCE, Event::Tick).is_empty());
    assert_eq!(count_of(&r.sim, "eth0"), Some(1));
}

#[test]
fn once_converges_and_exits() {
    let r = rig(&state(4), |_| {});
    let mut session = WatchSession::new(
        Arc::clone(&r.sim),
        &r.path,
        WatchConfig {
            once: true,
            lock_file: Some(r.lock.clone()),
            ..WatchConfig::default()
        },
        r.clock.clone(),
    );
    let never = AtomicBool::new(false);
    let summary = run(&mut session, &mut NoEvents, &never, &never).unwrap();
    assert!(summary.in_sync);
    assert_eq!(summary.stats.applies, 1);
    assert_in_sync(&r.sim, &state(4));
}

#[test]
fn once_with_an_invalid_state_fails_with_its_location_and_writes_nothing() {
    let r = rig("devices:\n  eth0:\n    thread: 0\n    cuont: 7\n", |_| {});
    let mut session = WatchSession::new(
        Arc::clone(&r.sim),
        &r.path,
        WatchConfig {
            once: true,
            lock_file: None,
            ..WatchConfig::default()
        },
        r.clock.clone(),
    );
    let never = AtomicBool::new(false);
    let err = run(&mut session, &mut NoEvents, &never, &never).unwrap_err();
    assert!(matches!(err, WatchError::Load(_)));
    assert!(
        err.to_string().starts_with(&format!(
            "{}:4:5: devices.eth0.cuont: unknown key",
            r.path.display()
        )),
        "{err}"
    );
    assert_eq!(r.sim.write_count(), 0);
}

// ---------------------------------------------------------------------------------------
// Real files, real notify.
// ---------------------------------------------------------------------------------------

/// How long a real file event may take to be acted on before a test fails. Generous: the
/// debounce is 20 ms and the loop normally reacts within a few milliseconds.
const REAL_EVENT_TIMEOUT: Duration = Duration::from_secs(5);

/// A watch running on its own thread with the real notify watcher and clock. The poll is
/// an hour away, so every change a test sees was caught by notify, not by the fallback.
struct LiveWatch {
    sim: Arc<SimProcfs>,
    stats: StatsHandle,
    terminate: Arc<AtomicBool>,
    hangup: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<WatchSummary, WatchError>>>,
}

fn live_watch(state_path: &Path, lock: &Path) -> LiveWatch {
    live_watch_with(state_path, lock, Arc::new(AtomicBool::new(false)), None)
}

fn live_watch_with(
    state_path: &Path,
    lock: &Path,
    hangup: Arc<AtomicBool>,
    terminate: Option<Arc<AtomicBool>>,
) -> LiveWatch {
    let sim = Arc::new(lab_with(KernelProfile::LINUX_6_12, &["eth0", "eth1"]));
    let config = WatchConfig {
        debounce: 20 * MS,
        poll_interval: Duration::from_secs(3600),
        lock_file: Some(lock.to_owned()),
        ..WatchConfig::default()
    };
    let mut session = WatchSession::new(Arc::clone(&sim), state_path, config, SystemClock);
    let stats = session.stats();
    // Armed before the test touches the files.
    let mut source = NotifySource::new(state_path).unwrap();
    let terminate = terminate.unwrap_or_default();
    let (t, h) = (Arc::clone(&terminate), Arc::clone(&hangup));
    let thread = std::thread::spawn(move || run(&mut session, &mut source, &t, &h));
    let w = LiveWatch {
        sim,
        stats,
        terminate,
        hangup,
        thread: Some(thread),
    };
    w.wait_for("the initial apply", |w| w.stats.snapshot().applies >= 1);
    w
}

impl LiveWatch {
    fn wait_for(&self, what: &str, cond: impl Fn(&LiveWatch) -> bool) {
        let deadline = Instant::now() + REAL_EVENT_TIMEOUT;
        while !cond(self) {
            assert!(
                Instant::now() < deadline,
                "no {what} within {REAL_EVENT_TIMEOUT:?}; stats {:#?}",
                self.stats.snapshot()
            );
            std::thread::sleep(2 * MS);
        }
    }

    fn wait_count(&self, device: &str, count: u64) {
        self.wait_for(&format!("{device} count {count}"), |w| {
            count_of(&w.sim, device) == Some(count)
        });
    }

    fn stop(mut self) -> WatchSummary {
        self.terminate.store(true, Ordering::SeqCst);
        let thread = self.thread.take().unwrap();
        thread.join().unwrap().unwrap()
    }
}

impl Drop for LiveWatch {
    fn drop(&mut self) {
        // A failed test must not leave the thread running.
        self.terminate.store(true, Ordering::SeqCst);
    }
}

fn one_device(count: u64) -> String {
    format!("devices:\n  eth0:\n    thread: 0\n    count: {count}\n")
}

/// A state file in its own directory.
fn state_file(count: u64) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.yaml");
    fs::write(&path, one_device(count)).unwrap();
    let lock = dir.path().join("pgstate.lock");
    (dir, path, lock)
}

#[test]
fn real_editor_save_by_rename_is_applied() {
    let (dir, path, lock) = state_file(1);
    let w = live_watch(&path, &lock);
    let tmp = dir.path().join(".state.yaml.swp");
    fs::write(&tmp, one_device(2)).unwrap();
    fs::rename(&tmp, &path).unwrap();
    w.wait_count("eth0", 2);
    assert_eq!(w.stop().stats.applies, 2);
}

#[test]
fn real_truncate_and_rewrite_is_applied() {
    let (_dir, path, lock) = state_file(1);
    let w = live_watch(&path, &lock);
    let mut f = fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    f.write_all(one_device(3).as_bytes()).unwrap();
    drop(f);
    w.wait_count("eth0", 3);
    w.stop();
}

#[test]
fn real_delete_and_recreate_is_applied() {
    let (_dir, path, lock) = state_file(1);
    let w = live_watch(&path, &lock);
    fs::remove_file(&path).unwrap();
    fs::write(&path, one_device(4)).unwrap();
    w.wait_count("eth0", 4);
    w.stop();
}

#[test]
fn real_chmod_only_is_seen_but_does_not_reconcile() {
    let (_dir, path, lock) = state_file(1);
    let w = live_watch(&path, &lock);
    let before = w.stats.snapshot();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    w.wait_for("a reload after chmod", |w| {
        w.stats.snapshot().unchanged > before.unchanged
    });
    let after = w.stop().stats;
    assert!(after.file_events > before.file_events);
    assert_eq!(after.reconciles, before.reconciles);
    assert_eq!(after.loads, before.loads);
}

/// A Kubernetes ConfigMap mount: `state.yaml -> ..data/state.yaml`, `..data -> ..<stamp>`,
/// and an update swaps `..data` atomically by renaming a new symlink over it.
fn configmap(count: u64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mount = dir.path().join("config");
    fs::create_dir(&mount).unwrap();
    fs::create_dir(mount.join("..2024_01_01_00_00_00.000000001")).unwrap();
    fs::write(
        mount.join("..2024_01_01_00_00_00.000000001/state.yaml"),
        one_device(count),
    )
    .unwrap();
    std::os::unix::fs::symlink("..2024_01_01_00_00_00.000000001", mount.join("..data")).unwrap();
    std::os::unix::fs::symlink("..data/state.yaml", mount.join("state.yaml")).unwrap();
    dir
}

fn configmap_update(mount: &Path, count: u64) {
    let stamp = "..2024_01_01_00_00_01.000000002";
    fs::create_dir(mount.join(stamp)).unwrap();
    fs::write(mount.join(stamp).join("state.yaml"), one_device(count)).unwrap();
    std::os::unix::fs::symlink(stamp, mount.join("..data_tmp")).unwrap();
    fs::rename(mount.join("..data_tmp"), mount.join("..data")).unwrap();
    fs::remove_dir_all(mount.join("..2024_01_01_00_00_00.000000001")).unwrap();
}

#[test]
fn real_configmap_symlink_swap_is_applied_when_watching_the_mount() {
    let dir = configmap(1);
    let mount = dir.path().join("config");
    let w = live_watch(&mount, &dir.path().join("lock"));
    configmap_update(&mount, 5);
    w.wait_count("eth0", 5);
    w.stop();
}

#[test]
fn real_configmap_symlink_swap_is_applied_when_watching_the_file() {
    let dir = configmap(1);
    let mount = dir.path().join("config");
    let w = live_watch(&mount.join("state.yaml"), &dir.path().join("lock"));
    configmap_update(&mount, 6);
    w.wait_count("eth0", 6);
    w.stop();
}

#[test]
fn real_files_added_to_and_removed_from_the_directory_are_applied() {
    let dir = tempfile::tempdir().unwrap();
    let states = dir.path().join("states");
    fs::create_dir(&states).unwrap();
    fs::write(states.join("a.yaml"), one_device(1)).unwrap();
    let w = live_watch(&states, &dir.path().join("lock"));
    fs::write(
        states.join("b.yaml"),
        "devices:\n  eth1@1:\n    thread: 1\n    count: 8\n",
    )
    .unwrap();
    w.wait_count("eth1@1", 8);
    fs::remove_file(states.join("b.yaml")).unwrap();
    w.wait_for("eth1@1 removed", |w| {
        !w.sim.device_names().contains(&"eth1@1".to_owned())
    });
    assert_eq!(count_of(&w.sim, "eth0"), Some(1));
    w.stop();
}

#[test]
fn real_directory_re_created_is_watched_again() {
    let dir = tempfile::tempdir().unwrap();
    let states = dir.path().join("states");
    fs::create_dir(&states).unwrap();
    fs::write(states.join("a.yaml"), one_device(1)).unwrap();
    let w = live_watch(&states, &dir.path().join("lock"));
    fs::remove_dir_all(&states).unwrap();
    fs::create_dir(&states).unwrap();
    fs::write(states.join("a.yaml"), one_device(9)).unwrap();
    w.wait_count("eth0", 9);
    // The new directory is watched: a further edit inside it is seen too.
    fs::write(states.join("a.yaml"), one_device(10)).unwrap();
    w.wait_count("eth0", 10);
    w.stop();
}

#[test]
fn real_sighup_and_sigterm_drive_the_loop() {
    use signal_hook::consts::{SIGHUP, SIGTERM};
    let (_dir, path, lock) = state_file(1);
    let hangup = Arc::new(AtomicBool::new(false));
    let terminate = Arc::new(AtomicBool::new(false));
    // What the CLI does: the handlers only set the flags.
    signal_hook::flag::register(SIGHUP, Arc::clone(&hangup)).unwrap();
    signal_hook::flag::register(SIGTERM, Arc::clone(&terminate)).unwrap();
    let w = live_watch_with(&path, &lock, Arc::clone(&hangup), Some(terminate));
    // Drift on the box, files untouched: with the poll an hour away, only SIGHUP can make
    // watch look now.
    w.sim
        .write(&PgFile::Device("eth0".parse().unwrap()), "count 77")
        .unwrap();
    signal_hook::low_level::raise(SIGHUP).unwrap();
    w.wait_count("eth0", 1);
    assert!(!w.hangup.load(Ordering::SeqCst), "the flag is cleared");
    signal_hook::low_level::raise(SIGTERM).unwrap();
    let thread = {
        let mut w = w;
        w.thread.take().unwrap()
    };
    let summary = thread.join().unwrap().unwrap();
    assert_eq!(summary.stats.applies, 2);
    assert!(summary.in_sync);
}

#[test]
fn the_cli_entry_point_converges_then_stops_when_asked() {
    let (_dir, path, lock) = state_file(1);
    let sim = Arc::new(lab_with(KernelProfile::LINUX_6_12, &["eth0", "eth1"]));
    let procfs: Arc<dyn Procfs + Send + Sync> = Arc::clone(&sim) as _;
    // Set before start: watch still converges once, then stops at the first chance.
    let terminate = AtomicBool::new(true);
    let hangup = AtomicBool::new(false);
    let config = WatchConfig {
        lock_file: Some(lock),
        ..WatchConfig::default()
    };
    let summary = pgstate::watch::watch(
        procfs,
        &path,
        config,
        &terminate,
        &hangup,
        &mut pgstate::watch::NoObserver,
    )
    .unwrap();
    assert!(summary.in_sync);
    assert_eq!(summary.stats.applies, 1);
    assert_eq!(count_of(&sim, "eth0"), Some(1));
}

#[test]
fn real_state_directory_created_after_start_is_watched() {
    let dir = tempfile::tempdir().unwrap();
    let states = dir.path().join("states");
    let sim = Arc::new(lab_with(KernelProfile::LINUX_6_12, &["eth0", "eth1"]));
    let config = WatchConfig {
        debounce: 20 * MS,
        poll_interval: Duration::from_secs(3600),
        lock_file: Some(dir.path().join("lock")),
        ..WatchConfig::default()
    };
    let mut session = WatchSession::new(Arc::clone(&sim), &states, config, SystemClock);
    let stats = session.stats();
    let mut source = NotifySource::new(&states).unwrap();
    let terminate = Arc::new(AtomicBool::new(false));
    let t = Arc::clone(&terminate);
    let thread = std::thread::spawn(move || {
        let hangup = AtomicBool::new(false);
        run(&mut session, &mut source, &t, &hangup)
    });
    let w = LiveWatch {
        sim,
        stats,
        terminate,
        hangup: Arc::new(AtomicBool::new(false)),
        thread: Some(thread),
    };
    w.wait_for("the missing state reported", |w| {
        w.stats.snapshot().invalid >= 1
    });
    fs::create_dir(&states).unwrap();
    fs::write(states.join("a.yaml"), one_device(11)).unwrap();
    w.wait_count("eth0", 11);
    // Files inside the new directory are watched, not just the directory's name.
    fs::write(states.join("a.yaml"), one_device(12)).unwrap();
    w.wait_count("eth0", 12);
    w.stop();
}

/// What [`run_observed`] told its observer, in order.
#[derive(Default)]
struct Told(Vec<String>);

impl Observer for Told {
    fn ready(&mut self, status: &Status) {
        self.0.push(format!("ready: {status}"));
    }
    fn reloading(&mut self) {
        self.0.push("reloading".to_owned());
    }
    fn reloaded(&mut self, status: Option<&Status>) {
        self.0.push(format!("reloaded: {}", status.unwrap()));
    }
    fn status(&mut self, status: &Status) {
        self.0.push(format!("status: {status}"));
    }
    fn stopping(&mut self) {
        self.0.push("stopping".to_owned());
    }
    fn alive(&mut self) {
        if self.0.last().map(String::as_str) != Some("alive") {
            self.0.push("alive".to_owned());
        }
    }
}

/// Raises SIGHUP's flag at its first wait and SIGTERM's at its third: no sleeping, no
/// file events.
struct Script {
    waits: usize,
    hangup: Arc<AtomicBool>,
    terminate: Arc<AtomicBool>,
    clock: ManualClock,
}

impl pgstate::watch::EventSource for Script {
    fn wait(&mut self, timeout: Duration) -> bool {
        self.clock.advance(timeout);
        self.waits += 1;
        match self.waits {
            1 => self.hangup.store(true, Ordering::SeqCst),
            3 => self.terminate.store(true, Ordering::SeqCst),
            _ => {}
        }
        false
    }
}

#[test]
fn the_observer_is_told_ready_after_the_first_reconcile_then_reloads_and_the_stop() {
    let mut r = rig(&state(1000), |_| {});
    let hangup = Arc::new(AtomicBool::new(false));
    let terminate = Arc::new(AtomicBool::new(false));
    let mut source = Script {
        waits: 0,
        hangup: Arc::clone(&hangup),
        terminate: Arc::clone(&terminate),
        clock: r.clock.clone(),
    };
    let mut told = Told::default();
    let summary =
        run_observed(&mut r.session, &mut source, &terminate, &hangup, &mut told).unwrap();
    assert!(summary.in_sync);
    assert_eq!(
        told.0,
        [
            "ready: applied (3 writes), converged: 2 devices",
            "alive",
            "reloading",
            "reloaded: converged: 2 devices",
            "alive",
            "stopping",
        ]
    );
}

#[test]
fn the_observer_of_once_is_told_ready_then_stopping() {
    let mut r = rig(&state(1000), |c| c.once = true);
    let never = AtomicBool::new(false);
    let mut told = Told::default();
    run_observed(&mut r.session, &mut NoEvents, &never, &never, &mut told).unwrap();
    assert_eq!(told.0.len(), 2, "{:?}", told.0);
    assert!(told.0[0].starts_with("ready: applied ("), "{:?}", told.0);
    assert_eq!(told.0[1], "stopping");
}
