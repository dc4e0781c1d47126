//! How often pgstate reads the box: a plan reads each pktgen file once and asks for interface
//! facts once, whatever the number of devices; an apply that planned for itself does not read
//! the box again before writing, and verifies by reading back only what it wrote to.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use pgstate::apply::{apply, plan_against};
use pgstate::model::MacAddr;
use pgstate::procfs::{Interfaces, PgFile, Procfs, ProcfsError, SimProcfs};
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
