//! Running traffic against the simulator: finite runs complete with counts equal to `count`,
//! `--duration` and interrupts stop `count: 0` streams cleanly, and failed streams are
//! flagged. A background thread plays the kernel's sending threads (`SimProcfs::advance`).

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use pgstate::apply::apply;
use pgstate::procfs::{Procfs, SimProcfs};
use pgstate::run::{run_traffic, EndedBy, RunError, RunOptions};
use pgstate::KernelProfile;

use common::lab::{lab_with, load};

struct Lab {
    sim: Arc<SimProcfs>,
    done: Arc<AtomicBool>,
}

impl Lab {
    fn new(state: &str) -> Lab {
        let sim = Arc::new(lab_with(KernelProfile::LINUX_6_12, &["eth0", "eth1"]));
        apply(&*sim, &load(state)).unwrap();
        let done = Arc::new(AtomicBool::new(false));
        let (s, d) = (Arc::clone(&sim), Arc::clone(&done));
        std::thread::spawn(move || {
            while !d.load(Ordering::SeqCst) {
                s.advance(20_000);
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        Lab { sim, done }
    }

    fn opts(&self) -> RunOptions {
        RunOptions {
            sample_interval: Duration::from_millis(10),
            ..RunOptions::default()
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.done.store(true, Ordering::SeqCst);
    }
}

#[test]
fn a_finite_run_completes_with_every_count_reached() {
    let lab = Lab::new("devices:\n  eth0@0: {thread: 0, count: 20000, pkt_size: 60}\n  eth1@1: {thread: 1, count: 30000, pkt_size: 1000}\n");
    let mut samples = 0;
    let out = run_traffic(lab.sim.clone(), &lab.opts(), |s, _| {
        samples += 1;
        assert_eq!(s.len(), 2);
    })
    .unwrap();
    assert_eq!(out.ended_by, EndedBy::Completed);
    assert!(samples >= 1);
    assert!(!out.has_problems(), "{:#?}", out.devices);
    for (d, want, bytes) in [(&out.devices[0], 20000, 60), (&out.devices[1], 30000, 1000)] {
        let stats = d.stats.unwrap();
        assert_eq!(
            (d.packets, stats.packets, stats.bytes_per_packet),
            (want, want, bytes)
        );
        assert!(stats.pps > 0 && stats.elapsed_us > 0);
    }
}

#[test]
fn a_count_zero_run_stops_after_its_duration_and_reports_results() {
    let lab = Lab::new("devices:\n  eth0@0: {thread: 0, count: 0, pkt_size: 60}\n");
    let opts = RunOptions {
        duration: Some(Duration::from_millis(150)),
        ..lab.opts()
    };
    let out = run_traffic(lab.sim.clone(), &opts, |_, _| {}).unwrap();
    assert_eq!(out.ended_by, EndedBy::Duration);
    assert!(out.wall_ms >= 150);
    assert!(lab.sim.running_devices().is_empty());
    let d = &out.devices[0];
    assert!(d.packets > 0 && d.stats.is_some(), "{d:#?}");
    assert!(d.problems.is_empty(), "{:?}", d.problems);
}

#[test]
fn an_interrupt_stops_the_traffic_cleanly() {
    let lab = Lab::new(
        "devices:\n  eth0@0: {thread: 0, count: 0}\n  eth1@1: {thread: 1, count: 100000000}\n",
    );
    let opts = lab.opts();
    let flag = Arc::clone(&opts.interrupt);
    let out = run_traffic(lab.sim.clone(), &opts, move |_, elapsed| {
        if elapsed > Duration::from_millis(50) {
            flag.store(true, Ordering::SeqCst);
        }
    })
    .unwrap();
    assert_eq!(out.ended_by, EndedBy::Interrupted);
    assert!(lab.sim.running_devices().is_empty());
    // Falling short of the count after a stop is a note, not a problem.
    let big = out
        .devices
        .iter()
        .find(|d| d.device.as_str() == "eth1@1")
        .unwrap();
    assert!(big.problems.is_empty() && !big.notes.is_empty(), "{big:#?}");
}

#[test]
fn streams_that_send_nothing_or_fall_short_of_their_rate_are_flagged() {
    // delay 2147483647 means "never transmit" (REFERENCE §2.3).
    let lab = Lab::new("devices:\n  eth0@0: {thread: 0, count: 10, delay: 2147483647}\n  eth1@1: {thread: 1, count: 1100000, ratep: 1000000000}\n");
    // Rates are judged over runs of at least a second (SHORTFALL_MIN_RUN_US); the
    // simulator's clock advances 1 µs per packet.
    let opts = RunOptions {
        duration: Some(Duration::from_millis(1100)),
        ..lab.opts()
    };
    let out = run_traffic(lab.sim.clone(), &opts, |_, _| {}).unwrap();
    assert!(out.has_problems());
    let never = out
        .devices
        .iter()
        .find(|d| d.device.as_str() == "eth0@0")
        .unwrap();
    assert!(
        never.problems.iter().any(|p| p == "sent nothing"),
        "{never:#?}"
    );
    let fast = out
        .devices
        .iter()
        .find(|d| d.device.as_str() == "eth1@1")
        .unwrap();
    assert_eq!(fast.target_pps, Some(1_000_000_000));
    assert!(
        fast.problems
            .iter()
            .any(|p| p.contains("pps its delay of 1 ns asks for")),
        "{fast:#?}"
    );
}

#[test]
fn running_an_empty_box_is_an_error() {
    let sim = Arc::new(SimProcfs::new(KernelProfile::LINUX_6_1, &[0]));
    let e = run_traffic(sim.clone(), &RunOptions::default(), |_, _| {}).unwrap_err();
    assert!(matches!(e, RunError::NothingToRun));
    assert_eq!(sim.write_count(), 0);
    let _ = sim.list();
}
