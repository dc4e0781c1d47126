//! Running traffic: `start` from a dedicated thread (the write blocks until every stream is
//! done, REFERENCE §2.1), progress sampling, a clean `stop`, and the parsed results.
//!
//! The library never prints: progress goes to a callback and results are returned as data.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::model::{DeviceName, LiveState, ThreadId, DELAY_NEVER_WRITTEN};
use crate::procfs::observe::{read_live_state, ObserveError};
use crate::procfs::parse::ResultLine;
use crate::procfs::{unloading, PgFile, Procfs, ProcfsError};

pub use crate::procfs::parse::RunStats;

/// How long `stop` waits for the threads to show no running device.
pub const STOP_TIMEOUT_MS: u64 = 10_000;
/// Progress sampling interval.
pub const SAMPLE_INTERVAL_MS: u64 = 250;
/// A stream is flagged when it reaches less than this share of the rate it was asked for.
pub const SHORTFALL_RATIO: f64 = 0.9;
/// ... over a run of at least this long (µs).
pub const SHORTFALL_MIN_RUN_US: u64 = 1_000_000;

/// Parses a run result; `None` for any other `Result:` text (`Idle`, `Starting`, `OK: count=…`,
/// errors). The same reading as [`ResultLine::parse`].
pub fn parse_run_result(result: &str) -> Option<RunStats> {
    ResultLine::parse(result).run_stats()
}

/// One device after (or during) a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceReport {
    /// The device.
    pub device: DeviceName,
    /// Its thread.
    pub thread: ThreadId,
    /// Still sending.
    pub running: bool,
    /// `count` (0 = forever).
    pub count: u64,
    /// `pkts-sofar`.
    pub packets: u64,
    /// `errors` so far.
    pub errors: u64,
    /// The parsed run result, once the stream has stopped.
    pub stats: Option<RunStats>,
    /// `imix_size_counts` as (size, packets).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub imix_size_counts: Vec<(u64, u64)>,
    /// The packet rate the configuration asks for (`1e9 / delay`), if it asks for one.
    pub target_pps: Option<u64>,
    /// The kernel's own `Result:` text.
    pub result: String,
    /// What went wrong (empty when the stream is fine).
    pub problems: Vec<String>,
    /// Facts worth knowing that are not failures (stopped early on request).
    pub notes: Vec<String>,
}

/// Progress of one device at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// The device.
    pub device: DeviceName,
    /// Its `count`.
    pub count: u64,
    /// Packets sent so far.
    pub packets: u64,
    /// Errors so far.
    pub errors: u64,
    /// Bytes per packet configured (0 when the kernel picks it at start).
    pub bytes_per_packet: u64,
    /// Still in the thread's `Running:` list.
    pub running: bool,
}

/// Running traffic failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Reading the box failed.
    #[error(transparent)]
    Observe(#[from] ObserveError),
    /// A control write failed (for example `start` without CAP_NET_ADMIN: EPERM).
    #[error(transparent)]
    Procfs(#[from] ProcfsError),
    /// `stop` did not take effect in time.
    #[error("after stop, {0} still show as running after {STOP_TIMEOUT_MS} ms")]
    StopTimeout(String),
    /// Nothing to run.
    #[error("no pktgen device is configured; apply a state first")]
    NothingToRun,
    /// pktgen was unloaded (`rmmod pktgen`) while it sent: the kernel lets that happen
    /// during `start`, and the devices and their counters go with the module.
    #[error(
        "pktgen was unloaded during the run: its devices and their counters went with it, so \
         what was sent is not known"
    )]
    Unloaded,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndedBy {
    /// Every stream reached its count.
    Completed,
    /// `--duration` elapsed.
    Duration,
    /// Ctrl-C / SIGTERM.
    Interrupted,
    /// Someone else wrote `stop` (for example `pgstate stop`).
    Stopped,
}

/// The outcome of [`run_traffic`].
#[derive(Debug, Clone, Serialize)]
pub struct RunOutcome {
    /// How it ended.
    pub ended_by: EndedBy,
    /// Wall-clock time from `start` to the end, ms.
    pub wall_ms: u64,
    /// Per-device results.
    pub devices: Vec<DeviceReport>,
}

impl RunOutcome {
    /// True when any stream has a problem.
    pub fn has_problems(&self) -> bool {
        self.devices.iter().any(|d| !d.problems.is_empty())
    }
}

/// Options of [`run_traffic`].
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Stop after this long (needed for `count: 0` streams).
    pub duration: Option<Duration>,
    /// Set by a signal handler to stop cleanly.
    pub interrupt: Arc<AtomicBool>,
    /// Sampling interval.
    pub sample_interval: Duration,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            duration: None,
            interrupt: Arc::new(AtomicBool::new(false)),
            sample_interval: Duration::from_millis(SAMPLE_INTERVAL_MS),
        }
    }
}

/// Samples every device of the box.
pub fn sample(live: &LiveState) -> Vec<Sample> {
    live.devices
        .iter()
        .map(|(name, d)| Sample {
            device: name.clone(),
            count: d.config.as_ref().map_or(0, |c| c.count),
            packets: d.sofar,
            errors: d.errors,
            bytes_per_packet: d.config.as_ref().map_or(0, |c| u64::from(c.min_pkt_size)),
            running: d.running,
        })
        .collect()
}

/// Why results are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportMode {
    /// Right after a run: a stream that never started is a problem.
    AfterRun,
    /// `pgstate status`: devices that never ran are not a problem.
    Status,
}

/// Reads the per-device results of the box.
pub fn reports(procfs: &dyn Procfs, mode: ReportMode) -> Result<Vec<DeviceReport>, RunError> {
    Ok(reports_of(&read_live_state(procfs)?, mode))
}

/// The per-device results of a reading of the box.
pub fn reports_of(live: &LiveState, mode: ReportMode) -> Vec<DeviceReport> {
    let mut out = Vec::new();
    for (name, d) in &live.devices {
        let count = d.config.as_ref().map_or(0, |c| c.count);
        let delay = d.config.as_ref().map_or(0, |c| c.delay);
        let target_pps = (delay > 0 && delay != DELAY_NEVER_WRITTEN).then(|| 1_000_000_000 / delay);
        let said = ResultLine::parse(&d.result);
        let stats = said.run_stats();
        let mut problems = Vec::new();
        let mut notes = Vec::new();
        if !d.running {
            match said {
                ResultLine::Run(s) => {
                    if s.packets == 0 {
                        problems.push("sent nothing".into());
                    }
                    if s.errors > 0 {
                        problems.push(format!("{} transmit errors", s.errors));
                    }
                    // Stopping early is what --duration, Ctrl-C and `pgstate stop` are for;
                    // it is reported, but it is not a failure of the stream.
                    if count > 0 && s.packets < count {
                        notes.push(format!("stopped after {} of {count} packets", s.packets));
                    }
                    if let Some(t) = target_pps {
                        // A rate measured over less than a second says more about start-up
                        // than about the stream.
                        let measurable = s.elapsed_us >= SHORTFALL_MIN_RUN_US;
                        if measurable && (s.pps as f64) < t as f64 * SHORTFALL_RATIO {
                            problems.push(format!(
                                "reached {} pps, {:.0}% of the {t} pps its delay of {delay} ns asks for",
                                s.pps,
                                100.0 * s.pps as f64 / t as f64
                            ));
                        }
                    }
                }
                _ if mode == ReportMode::Status => {}
                ResultLine::Idle => problems.push("never started (Result: Idle)".to_owned()),
                _ => problems.push(format!(
                    "the kernel reports: {}",
                    d.result.replace('\n', " ")
                )),
            }
        }
        out.push(DeviceReport {
            device: name.clone(),
            thread: d.thread,
            running: d.running,
            count,
            packets: d.sofar,
            errors: d.errors,
            stats,
            imix_size_counts: d.imix_size_counts.clone(),
            target_pps,
            result: d.result.clone(),
            problems,
            notes,
        });
    }
    out
}

/// Writes `stop` and waits until no thread lists a running device (REFERENCE §2.1: `stop`
/// returns at once and the threads stop on their next pass).
pub fn stop(procfs: &dyn Procfs) -> Result<(), RunError> {
    procfs.write(&PgFile::Ctrl, "stop")?;
    wait_idle(procfs, Duration::from_millis(STOP_TIMEOUT_MS))
}

/// The devices that still run, for messages.
fn running_names(live: &LiveState) -> String {
    live.devices
        .iter()
        .filter(|(_, d)| d.running)
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn wait_idle(procfs: &dyn Procfs, timeout: Duration) -> Result<(), RunError> {
    let deadline = Instant::now() + timeout;
    loop {
        let live = read_live_state(procfs)?;
        if !live.any_running() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(RunError::StopTimeout(running_names(&live)));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts every stream of the network namespace, samples progress into `on_sample` until
/// they are done, the duration elapses or `interrupt` is set, stops cleanly, and returns
/// the results.
pub fn run_traffic(
    procfs: Arc<dyn Procfs + Send + Sync>,
    opts: &RunOptions,
    on_sample: impl FnMut(&[Sample], Duration),
) -> Result<RunOutcome, RunError> {
    let starter = Arc::clone(&procfs);
    run_traffic_with(procfs, starter, opts, on_sample).map(|(outcome, _)| outcome)
}

/// [`run_traffic`] with `start` written through `starter`, a procfs of the same network
/// namespace as `procfs`: a namespace's procfs that serves one call at a time
/// (`procfs::netns::NetnsProcfs`) would otherwise queue every reading and the `stop` behind
/// the blocking `start`.
///
/// Also returns the reading of the box, once every stream had stopped, that the outcome's
/// reports and the last sample come from: its `started:`/`stopped:` timestamps say when
/// the streams ran (`targets::run_window`) without reading the device files again.
pub fn run_traffic_with(
    procfs: Arc<dyn Procfs + Send + Sync>,
    starter: Arc<dyn Procfs + Send + Sync>,
    opts: &RunOptions,
    mut on_sample: impl FnMut(&[Sample], Duration),
) -> Result<(RunOutcome, LiveState), RunError> {
    let before = read_live_state(&*procfs)?;
    if before.devices.is_empty() {
        return Err(RunError::NothingToRun);
    }
    let started = Instant::now();
    let (tx, rx) = mpsc::channel();
    // `start` blocks in the kernel until every stream has finished (forever with count 0),
    // so it gets a thread of its own; `stop` from this thread ends it (REFERENCE §7.6).
    let handle = std::thread::Builder::new()
        .name("pktgen-start".into())
        .spawn(move || {
            let r = starter.write(&PgFile::Ctrl, "start");
            let _ = tx.send(r);
        })
        .map_err(|e| ProcfsError::Io {
            path: "pgctrl".into(),
            error: e,
        })?;
    let mut ended_by = EndedBy::Completed;
    let mut stop_sent = false;
    // The kernel's `start` returns once every stream is done, but the loop does not rely on
    // that alone: it ends when `start` has returned and no thread lists a running device
    // (after a signal, `start` returns while the threads are still stopping).
    let mut start_result = None;
    let mut stop_deadline = None;
    loop {
        if start_result.is_none() {
            match rx.recv_timeout(opts.sample_interval) {
                Ok(r) => start_result = Some(r),
                Err(mpsc::RecvTimeoutError::Disconnected) => start_result = Some(Ok(())),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
        } else {
            std::thread::sleep(opts.sample_interval);
        }
        if let Some(Err(e)) = start_result {
            let _ = handle.join();
            return Err(e.into());
        }
        let live = read_live_state(&*procfs).map_err(|e| unloaded_or(&*procfs, e.into()))?;
        on_sample(&sample(&live), started.elapsed());
        if start_result.is_some() && !live.any_running() {
            break;
        }
        if stop_sent {
            if stop_deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(RunError::StopTimeout(running_names(&live)));
            }
            continue;
        }
        let reason = if opts.interrupt.load(Ordering::SeqCst) {
            Some(EndedBy::Interrupted)
        } else if opts.duration.is_some_and(|d| started.elapsed() >= d) {
            Some(EndedBy::Duration)
        } else {
            None
        };
        if let Some(r) = reason {
            ended_by = r;
            procfs.write(&PgFile::Ctrl, "stop")?;
            stop_sent = true;
            stop_deadline = Some(Instant::now() + Duration::from_millis(STOP_TIMEOUT_MS));
        }
    }
    let _ = handle.join();
    wait_idle(&*procfs, Duration::from_millis(STOP_TIMEOUT_MS))
        .map_err(|e| unloaded_or(&*procfs, e))?;
    let wall_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let after = read_live_state(&*procfs);
    // Devices gone at the end: the module may have gone with them (REFERENCE §5: rmmod is
    // not refused while `start` runs).
    let lost_devices = after.as_ref().map_or(true, |a| {
        before.devices.keys().any(|d| !a.devices.contains_key(d))
    });
    if lost_devices && unloading(&*procfs) {
        return Err(RunError::Unloaded);
    }
    let after = after?;
    let devices = reports_of(&after, ReportMode::AfterRun);
    // Nobody here stopped it, yet a stream ended before its count (or had none): someone
    // else wrote `stop` (`pgstate stop`, another script) or the interface went away.
    if !stop_sent
        && devices
            .iter()
            .any(|d| d.count == 0 || d.stats.is_some_and(|s| s.packets < d.count))
    {
        ended_by = EndedBy::Stopped;
    }
    on_sample(&sample(&after), started.elapsed());
    let outcome = RunOutcome {
        ended_by,
        wall_ms,
        devices,
    };
    Ok((outcome, after))
}

/// [`RunError::Unloaded`] when `error` is a file gone and pktgen is being unloaded, else
/// `error`: a read during a run fails when `rmmod` removes the files under it.
fn unloaded_or(procfs: &dyn Procfs, error: RunError) -> RunError {
    let gone = match &error {
        RunError::Procfs(e) | RunError::Observe(ObserveError::Procfs(e)) => e.is_file_gone(),
        _ => false,
    };
    if gone && unloading(procfs) {
        RunError::Unloaded
    } else {
        error
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_results_parse_with_their_numbers() {
        // REFERENCE §8.4.
        let s = parse_run_result("OK: 15430(c15405+d25) usec, 100000 (60byte,0frags)\n  6480562pps 3110Mb/sec (3110669760bps) errors: 0").unwrap();
        assert_eq!(
            s,
            RunStats {
                elapsed_us: 15430,
                busy_us: 15405,
                idle_us: 25,
                packets: 100000,
                bytes_per_packet: 60,
                frags: 0,
                pps: 6480562,
                mbps: 3110,
                bps: 3110669760,
                errors: 0
            }
        );
        // frags is -1 when no skb is held at the end (REFERENCE §3.3).
        let s = parse_run_result("OK: 956356(c5104+d951252) usec, 956 (100byte,-1frags)\n  999pps 0Mb/sec (799200bps) errors: 3").unwrap();
        assert_eq!((s.frags, s.errors, s.mbps), (-1, 3, 0));
    }

    #[test]
    fn other_result_texts_are_not_run_results() {
        for r in [
            "Idle",
            "Starting",
            "OK: count=5",
            "Error starting",
            "No memory",
            "OK: Clearing counters.",
            "ERROR: node not possible",
        ] {
            assert_eq!(parse_run_result(r), None, "{r}");
        }
    }
}
