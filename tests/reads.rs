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
use pgstate::{DesiredState, KernelProfile};

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
fn state(count5: u64) -> DesiredState {
    let mut yaml = String::from("devices:\n");
    for i in 0..32 {
        let count = if i == 5 { count5 } else { 1000 };
        yaml.push_str(&format!(
            "  eth{}@{i}: {{thread: {}, count: {count}, pkt_size: 60, dst: 198.18.0.1}}\n",
            i % 4,
            i % 2
        ));
    }
    load(&yaml)
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
