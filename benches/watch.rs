//! Figures for `pgstate watch`; not a test, it only prints numbers:
//!
//! ```sh
//! cargo bench --bench watch
//! ```
//!
//! 1. **Soak**: a session with 512 devices on the simulator, driven through one simulated
//!    hour on a manual clock: drift injected before every 5 s poll (720 repairs) and an
//!    edit of the state file every minute (60 applies). Prints the resident memory
//!    (`VmRSS`, and the peak `VmHWM`, from `/proc/self/status`) and the wall time per
//!    reconcile. The simulator lives in the same process, so its memory (it keeps a log of
//!    every write) is included.
//! 2. **Latency**: the time from a file save (write a temporary file, rename it over the
//!    state file, as editors do) to a converged box, with the real notify watcher and the
//!    real clock, over 50 saves; once with the default 300 ms debounce and once with none,
//!    which shows the cost of the pipeline itself.

use std::fs;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pgstate::model::MacAddr;
use pgstate::procfs::{PgFile, Procfs, SimProcfs};
use pgstate::watch::{
    run, Event, ManualClock, NotifySource, Report, SystemClock, WatchConfig, WatchSession,
};
use pgstate::KernelProfile;

const DEVICES: usize = 512;
const THREADS: u32 = 8;
const INTERFACES: usize = 16;

fn device(i: usize) -> String {
    format!("eth{}@{i}", i % INTERFACES)
}

fn big_state(edited: usize, count: u64) -> String {
    let mut s = String::from("devices:\n");
    for i in 0..DEVICES {
        let c = if i == edited { count } else { 100_000 };
        s.push_str(&format!(
            "  {}:\n    thread: {}\n    count: {c}\n    pkt_size: 60\n    dst: 198.18.0.{}\n    udp_src_min: 9\n    udp_src_max: 109\n    flags: [UDPSRC_RND, NO_TIMESTAMP]\n",
            device(i),
            i as u32 % THREADS,
            i % 250 + 1
        ));
    }
    s
}

fn big_lab() -> Arc<SimProcfs> {
    let cpus: Vec<u32> = (0..THREADS).collect();
    let sim = SimProcfs::new(KernelProfile::LINUX_6_12, &cpus);
    for i in 0..INTERFACES {
        sim.add_interface(&format!("eth{i}"), MacAddr([2, 0, 0, 0, 1, i as u8]), true);
    }
    Arc::new(sim)
}

/// `(VmRSS, VmHWM)` in KiB.
fn memory_kib() -> (u64, u64) {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn soak() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.yaml");
    fs::write(&path, big_state(0, 100_000)).unwrap();
    let sim = big_lab();
    let clock = ManualClock::new();
    let config = WatchConfig {
        lock_file: Some(dir.path().join("lock")),
        ..WatchConfig::default()
    };
    let (poll, debounce) = (config.poll_interval, config.debounce);
    let (rss0, _) = memory_kib();
    let mut session = WatchSession::new(Arc::clone(&sim), &path, config, clock.clone());
    let t = Instant::now();
    let reports = session.handle(Event::Tick);
    let initial = t.elapsed();
    assert!(
        reports.iter().any(|r| matches!(r, Report::Applied { .. })),
        "{reports:#?}"
    );
    let (rss_start, _) = memory_kib();
    let initial_writes = session.stats().snapshot().writes;

    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut rand = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut polls = Vec::new();
    let mut edits = Vec::new();
    let mut samples = Vec::new();
    let polls_per_minute = (60_000 / poll.as_millis()) as usize;
    for minute in 0..60 {
        for _ in 0..polls_per_minute {
            let i = rand() as usize % DEVICES;
            let dev = PgFile::Device(device(i).parse().unwrap());
            sim.write(&dev, &format!("udp_src_max {}", 200 + rand() % 1000))
                .unwrap();
            clock.advance(poll);
            let t = Instant::now();
            let reports = session.handle(Event::Tick);
            polls.push(t.elapsed());
            assert!(
                reports.iter().any(|r| matches!(r, Report::Applied { .. })),
                "{reports:#?}"
            );
        }
        fs::write(&path, big_state(minute % DEVICES, 1_000 + minute as u64)).unwrap();
        session.handle(Event::FilesChanged);
        clock.advance(debounce);
        let t = Instant::now();
        let reports = session.handle(Event::Tick);
        edits.push(t.elapsed());
        assert!(
            reports.iter().any(|r| matches!(r, Report::Applied { .. })),
            "{reports:#?}"
        );
        samples.push(memory_kib().0);
    }
    let stats = session.stats().snapshot();
    let (rss_end, hwm) = memory_kib();
    polls.sort();
    edits.sort();
    println!("soak: {DEVICES} devices on {THREADS} threads, one simulated hour (poll {poll:?}, debounce {debounce:?})");
    println!(
        "  initial apply: {} writes in {}",
        initial_writes,
        ms(initial)
    );
    println!(
        "  {} drift repairs: median {}, p95 {}, max {} per reconcile (read 512 devices, plan, write, verify)",
        stats.repairs,
        ms(percentile(&polls, 0.5)),
        ms(percentile(&polls, 0.95)),
        ms(*polls.last().unwrap())
    );
    println!(
        "  {} edits of the state file: median {}, p95 {} per reload + reconcile",
        edits.len(),
        ms(percentile(&edits, 0.5)),
        ms(percentile(&edits, 0.95))
    );
    println!(
        "  writes in total: {} (reconciles {}, applies {}, failures {})",
        stats.writes, stats.reconciles, stats.applies, stats.failures
    );
    println!(
        "  VmRSS: {rss0} KiB before, {rss_start} KiB after the initial apply, {} KiB after 30 min, {rss_end} KiB after 60 min; VmHWM (peak) {hwm} KiB",
        samples[29]
    );
}

fn latency(debounce: Duration, saves: usize) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.yaml");
    let one = |count: usize| format!("devices:\n  eth0@0:\n    thread: 0\n    count: {count}\n");
    fs::write(&path, one(1)).unwrap();
    let sim = big_lab();
    let config = WatchConfig {
        debounce,
        lock_file: Some(dir.path().join("lock")),
        ..WatchConfig::default()
    };
    let mut session = WatchSession::new(Arc::clone(&sim), &path, config, SystemClock);
    let stats = session.stats();
    let mut source = NotifySource::new(&path).unwrap();
    let terminate = Arc::new(AtomicBool::new(false));
    let t2 = Arc::clone(&terminate);
    let thread = std::thread::spawn(move || {
        let hangup = AtomicBool::new(false);
        run(&mut session, &mut source, &t2, &hangup)
    });
    let wait_applies = |n: u64| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while stats.snapshot().applies < n {
            assert!(Instant::now() < deadline, "no convergence");
            std::thread::sleep(Duration::from_micros(100));
        }
    };
    wait_applies(1);
    let mut times = Vec::new();
    for i in 0..saves {
        let tmp = dir.path().join(".state.yaml.tmp");
        fs::write(&tmp, one(i + 2)).unwrap();
        let t = Instant::now();
        fs::rename(&tmp, &path).unwrap();
        wait_applies(i as u64 + 2);
        times.push(t.elapsed());
    }
    terminate.store(true, Ordering::SeqCst);
    thread.join().unwrap().unwrap();
    times.sort();
    println!(
        "latency: save (rename) -> converged box, {} saves, debounce {:?}: median {}, p95 {}, max {}",
        saves,
        debounce,
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.95)),
        ms(*times.last().unwrap())
    );
}

fn main() {
    soak();
    latency(
        Duration::from_millis(pgstate::watch::DEFAULT_DEBOUNCE_MS),
        50,
    );
    latency(Duration::ZERO, 50);
}
