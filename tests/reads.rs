//! How often pgstate reads the box: a plan reads each pktgen file once and asks for interface
//! facts once, whatever the number of devices; an apply that planned for itself does not read
//! the box again before writing, and verifies by reading back only what it wrote to; a run
//! reads device files only within whole readings of the box.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pgstate::apply::{apply, plan_against};
use pgstate::model::MacAddr;
use pgstate::procfs::{Interfaces, PgFile, Procfs, ProcfsError, SimProcfs};
use pgstate::run::RunOptions;
use pgstate::targets::{self, OpenTarget, Place, Target};
use pgstate::watch::{Event, ManualClock, Report, WatchConfig, WatchSession};
use pgstate::{DesiredState, KernelProfile, ThreadId};

use common::lab::{lab_with, load};

/// Counts what goes through it.
struct Counting<'a> {
    sim: &'a SimProcfs,
    reads: Mutex<BTreeMap<String, usize>>,
    lists: Mutex<usize>,
    interface_queries: Mutex<Vec<usize>>,
}

impl<'a> Counting<'a> {
    fn new(sim: &'a SimProcfs) -> Self {
        Counting {
            sim,
            reads: Mutex::default(),
            lists: Mutex::default(),
            interface_queries: Mutex::default(),
        }
    }
    fn reads(&self, file: &str) -> usize {
        self.reads.lock().unwrap().get(file).copied().unwrap_or(0)
    }
}

impl Procfs for Counting<'_> {
    fn list(&self) -> Result<Vec<String>, ProcfsError> {
        *self.lists.lock().unwrap() += 1;
        self.sim.list()
    }
    fn read(&self, file: &PgFile) -> Result<String, ProcfsError> {
        *self
            .reads
            .lock()
            .unwrap()
            .entry(file.file_name())
            .or_default() += 1;
        self.sim.read(file)
    }
    fn write(&self, file: &PgFile, command: &str) -> Result<(), ProcfsError> {
        self.sim.write(file, command)
    }
    fn interfaces(&self, names: &BTreeSet<String>) -> Result<Interfaces, ProcfsError> {
        self.interface_queries.lock().unwrap().push(names.len());
        self.sim.interfaces(names)
    }
    fn kernel_release(&self) -> Option<String> {
        self.sim.kernel_release()
    }
}

/// 32 devices on two threads and four interfaces; device 5 gets `count` from `count5`.
fn state_yaml(count5: u64) -> String {
    let mut yaml = String::from("devices:\n");
    for i in 0..32 {
        let count = if i == 5 { count5 } else { 1000 };
        yaml.push_str(&format!(
            "  eth{}@{i}: {{thread: {}, count: {count}, pkt_size: 60, dst: 198.18.0.1}}\n",
            i % 4,
            i % 2
        ));
    }
    yaml
}

fn state(count5: u64) -> DesiredState {
    load(&state_yaml(count5))
}

fn sim() -> SimProcfs {
    let sim = lab_with(KernelProfile::LINUX_6_12, &["eth0", "eth1", "eth2", "eth3"]);
    // Interfaces pgstate does not manage are never asked about.
    for i in 0..100u8 {
        sim.add_interface(&format!("veth{i}"), MacAddr([2, 0, 0, 0, 1, i]), true);
    }
    sim
}

#[test]
fn a_plan_reads_each_file_once_and_asks_for_interfaces_once() {
    let sim = sim();
    apply(&sim, &state(1000)).unwrap();
    let counting = Counting::new(&sim);
    let (_, _, plan) = plan_against(&counting, &state(1000)).unwrap();
    assert!(plan.is_empty());
    assert_eq!(*counting.interface_queries.lock().unwrap(), [4]);
    assert_eq!(*counting.lists.lock().unwrap(), 1);
    let reads = counting.reads.lock().unwrap();
    assert_eq!(reads.len(), 1 + 2 + 32, "{reads:?}");
    assert!(reads.values().all(|n| *n == 1), "{reads:?}");
}

#[test]
fn apply_reads_once_and_verifies_only_what_it_wrote_to() {
    let sim = sim();
    apply(&sim, &state(1000)).unwrap();
    let counting = Counting::new(&sim);
    let report = apply(&counting, &state(7)).unwrap();
    assert_eq!(report.writes, 1);
    // The planning reading doubles as the stale-plan check, and verification reuses its
    // interface facts.
    assert_eq!(*counting.interface_queries.lock().unwrap(), [4]);
    // eth1@5: planned, its Result checked after the write, verified.
    assert_eq!(counting.reads("eth1@5"), 3);
    for i in (0..32).filter(|i| *i != 5) {
        assert_eq!(
            counting.reads(&format!("eth{}@{i}", i % 4)),
            1,
            "eth{}@{i}",
            i % 4
        );
    }
    // The thread files say what exists where: read when planning and when verifying.
    assert_eq!(counting.reads("kpktgend_0"), 2);
    assert_eq!(counting.reads("kpktgend_1"), 2);
    assert_eq!(counting.reads("pgctrl"), 1);
}

#[test]
fn verification_still_catches_a_write_that_did_not_take() {
    let sim = sim();
    apply(&sim, &state(1000)).unwrap();
    // The write of `count 7` reports success on both channels but changes nothing; only
    // reading the file back shows it.
    let base = sim.write_count();
    sim.fail_result_at(base, "OK: count=7");
    let err = apply(&sim, &state(7)).unwrap_err();
    assert!(err.to_string().contains("verification failed"), "{err}");
}

/// [`Counting`] over a simulator it shares, for `targets::run`'s threads.
struct SharedCounting(Arc<SimProcfs>, Arc<Mutex<BTreeMap<String, usize>>>);

impl Procfs for SharedCounting {
    fn list(&self) -> Result<Vec<String>, ProcfsError> {
        self.0.list()
    }
    fn read(&self, file: &PgFile) -> Result<String, ProcfsError> {
        *self.1.lock().unwrap().entry(file.file_name()).or_default() += 1;
        self.0.read(file)
    }
    fn write(&self, file: &PgFile, command: &str) -> Result<(), ProcfsError> {
        self.0.write(file, command)
    }
    fn interfaces(&self, names: &BTreeSet<String>) -> Result<Interfaces, ProcfsError> {
        self.0.interfaces(names)
    }
    fn kernel_release(&self) -> Option<String> {
        self.0.kernel_release()
    }
}

#[test]
fn a_run_reads_device_files_only_with_their_threads() {
    let sim = Arc::new(sim());
    let desired = state(1000);
    apply(&*sim, &desired).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let (s, d) = (Arc::clone(&sim), Arc::clone(&done));
    let sender = std::thread::spawn(move || {
        while !d.load(Ordering::SeqCst) {
            s.advance(500);
            std::thread::sleep(Duration::from_millis(2));
        }
    });
    let reads = Arc::new(Mutex::default());
    let target = OpenTarget::new(
        Target {
            desired,
            ..Target::bare(Place::Here)
        },
        Arc::new(SharedCounting(Arc::clone(&sim), Arc::clone(&reads))),
    );
    let opts = RunOptions {
        sample_interval: Duration::from_millis(10),
        ..RunOptions::default()
    };
    let report = targets::run(&[target], &opts, targets::Receiving::default(), |_| {}).unwrap();
    done.store(true, Ordering::SeqCst);
    sender.join().unwrap();
    let (outcome, window) = report.targets[0].result.as_ref().unwrap();
    assert!(!outcome.has_problems(), "{:#?}", outcome.devices);
    let w = window.expect("the streams ran");
    assert!(0 < w.started_us && w.started_us < w.stopped_us, "{w:?}");
    // Each reading of the box reads both thread files and every device file once: the
    // window comes from the run's last reading, not from reading the device files again.
    let reads = reads.lock().unwrap();
    let readings = reads["kpktgend_0"];
    assert_eq!(reads["kpktgend_1"], readings, "{reads:?}");
    for i in 0..32 {
        assert_eq!(reads[&format!("eth{}@{i}", i % 4)], readings, "{reads:?}");
    }
}

/// A watch session on [`state_yaml`] in a temporary directory, over a counting simulator,
/// converged at startup; the counts start after that.
struct Watching {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    sim: Arc<SimProcfs>,
    reads: Arc<Mutex<BTreeMap<String, usize>>>,
    clock: ManualClock,
    session: WatchSession<SharedCounting, ManualClock>,
}

const DEBOUNCE: Duration = Duration::from_millis(300);
const POLL: Duration = Duration::from_secs(5);

fn watching() -> Watching {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.yaml");
    std::fs::write(&path, state_yaml(1000)).unwrap();
    let sim = Arc::new(sim());
    let reads = Arc::new(Mutex::default());
    let config = WatchConfig {
        debounce: DEBOUNCE,
        poll_interval: POLL,
        lock_file: Some(dir.path().join("lock")),
        ..WatchConfig::default()
    };
    let clock = ManualClock::new();
    let procfs = SharedCounting(Arc::clone(&sim), Arc::clone(&reads));
    let mut session = WatchSession::new(procfs, &path, config, clock.clone());
    let reports = session.handle(Event::Tick);
    assert!(
        reports.iter().any(|r| matches!(r, Report::Applied { .. })),
        "{reports:#?}"
    );
    reads.lock().unwrap().clear();
    Watching {
        _dir: dir,
        path,
        sim,
        reads,
        clock,
        session,
    }
}

impl Watching {
    /// Saves `yaml` and lets the debounce pass: the reports of the reconcile.
    fn edit(&mut self, yaml: &str) -> Vec<Report> {
        std::fs::write(&self.path, yaml).unwrap();
        let mut reports = self.session.handle(Event::FilesChanged);
        self.clock.advance(DEBOUNCE + Duration::from_millis(1));
        reports.extend(self.session.handle(Event::Tick));
        reports
    }

    fn poll(&mut self) -> Vec<Report> {
        self.clock.advance(POLL);
        self.session.handle(Event::Tick)
    }

    /// Reads per file since the last call.
    fn take_reads(&self) -> BTreeMap<String, usize> {
        std::mem::take(&mut *self.reads.lock().unwrap())
    }

    fn in_sync(&self, yaml: &str) -> bool {
        plan_against(&*self.sim, &load(yaml)).unwrap().2.is_empty()
    }
}

fn writes_of(reports: &[Report]) -> Vec<String> {
    reports
        .iter()
        .flat_map(|r| match r {
            Report::Applied { writes, .. } => writes.clone(),
            _ => Vec::new(),
        })
        .collect()
}

#[test]
fn a_watched_edit_reads_only_the_device_it_changed_and_a_poll_reads_them_all() {
    let mut w = watching();
    let reports = w.edit(&state_yaml(7));
    assert_eq!(writes_of(&reports), ["eth1@5 <- count 7"], "{reports:#?}");
    assert!(w.in_sync(&state_yaml(7)));
    // eth1@5: planned, its Result checked after the write, verified. The thread files:
    // planned and verified. Nothing else.
    let reads = w.take_reads();
    let expected: BTreeMap<String, usize> = [("eth1@5", 3), ("kpktgend_0", 2), ("kpktgend_1", 2)]
        .into_iter()
        .map(|(f, n)| (f.to_owned(), n))
        .collect();
    assert_eq!(reads, expected);
    assert_eq!(w.session.stats().snapshot().partial_reads, 1);
    // An edit that changes nothing in the box but the devices it names: none, no write.
    let reports = w.edit(&format!("# a comment\n{}", state_yaml(7)));
    assert!(writes_of(&reports).is_empty(), "{reports:#?}");
    // The poll reads everything, once.
    let reports = w.poll();
    assert!(
        reports.iter().any(|r| matches!(r, Report::InSync(_))),
        "{reports:#?}"
    );
    let reads = w.take_reads();
    assert_eq!(reads.len(), 1 + 2 + 32, "{reads:?}");
    assert!(reads.values().all(|n| *n == 1), "{reads:?}");
}

#[test]
fn after_an_edit_devices_removed_behind_the_watch_are_put_back() {
    let mut w = watching();
    // Someone flushes thread 1 by hand; the edit's partial read still sees it in the thread
    // files, and puts every device of the thread back.
    w.sim
        .write(&PgFile::Thread(ThreadId(1)), "rem_device_all")
        .unwrap();
    while plan_against(&*w.sim, &state(1000))
        .unwrap()
        .0
        .devices
        .values()
        .any(|d| d.thread == ThreadId(1))
    {
        std::thread::yield_now();
    }
    let reports = w.edit(&state_yaml(7));
    let adds = writes_of(&reports)
        .iter()
        .filter(|w| w.starts_with("kpktgend_1 <- add_device"))
        .count();
    assert_eq!(adds, 16, "{reports:#?}");
    assert!(w.in_sync(&state_yaml(7)));
    assert_eq!(w.session.stats().snapshot().partial_reads, 1);
}

#[test]
fn after_an_edit_a_device_added_behind_the_watch_sends_it_to_a_full_read() {
    let mut w = watching();
    w.sim
        .write(&PgFile::Thread(ThreadId(0)), "add_device eth0@99")
        .unwrap();
    let reports = w.edit(&state_yaml(7));
    assert!(w.in_sync(&state_yaml(7)), "{reports:#?}");
    assert_eq!(w.session.stats().snapshot().partial_reads, 0);
    let reads = w.take_reads();
    assert!(
        reads.contains_key("eth3@31"),
        "the whole box was read: {reads:?}"
    );
}

#[test]
fn a_value_changed_behind_the_watch_in_a_device_the_edit_left_alone_waits_for_the_poll() {
    let mut w = watching();
    let eth0 = PgFile::Device("eth0@0".parse().unwrap());
    w.sim.write(&eth0, "count 5").unwrap();
    let reports = w.edit(&state_yaml(7));
    assert_eq!(writes_of(&reports), ["eth1@5 <- count 7"], "{reports:#?}");
    assert!(!w.in_sync(&state_yaml(7)));
    let reports = w.poll();
    assert_eq!(
        writes_of(&reports),
        ["eth0@0 <- count 1000"],
        "{reports:#?}"
    );
    assert!(w.in_sync(&state_yaml(7)));
}
