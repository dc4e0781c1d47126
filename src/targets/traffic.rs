//! Traffic over a list of targets: every target started at once, each `start` written from
//! inside its namespace; results per target; how far the runs overlapped by the kernel's
//! own timestamps.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::model::{DeviceName, LiveState};
use crate::procfs::observe::read_live_state;
use crate::procfs::ProcfsError;
use crate::run::{self, DeviceReport, ReportMode, RunError, RunOptions, RunOutcome, Sample};

use super::receivers::{self, ReceiverError, ReceiverReport};
use super::{OpenTarget, Place};

/// An error of one target. No `source()`: the error is part of the message already, and a
/// reader of the chain would print it twice.
#[derive(Debug, thiserror::Error)]
#[error("{place}: {error}")]
pub struct PlaceError<E: std::error::Error + 'static> {
    /// Which one.
    pub place: Place,
    /// Why.
    pub error: E,
}

impl<E: std::error::Error + Send + Sync + 'static> PlaceError<E> {
    /// The error alone when `labelled` is false (a single box says no place), else the
    /// error with its place.
    pub fn into_labelled(self, labelled: bool) -> Box<dyn std::error::Error + Send + Sync> {
        if labelled {
            Box::new(self)
        } else {
            Box::new(self.error)
        }
    }
}

/// One target's run.
#[derive(Debug)]
pub struct TargetRun {
    /// Where.
    pub place: Place,
    /// Devices of the namespace that the state does not own: `start` runs them too.
    pub foreign: Vec<DeviceName>,
    /// How it went, and when its streams ran by the kernel's clock (`None`: none ran).
    pub result: Result<(RunOutcome, Option<Window>), RunError>,
}

/// A run of every target.
#[derive(Debug)]
pub struct RunReport {
    /// Per target that sent, in order.
    pub targets: Vec<TargetRun>,
    /// How far the targets' runs overlapped; `None` when not every target ran.
    pub overlap: Option<Overlap>,
    /// What each receiver of the state received.
    pub receivers: Vec<ReceiverReport>,
}

impl RunReport {
    /// Whether any stream has a problem, any target failed, or a stream lost more than its
    /// receiver allows.
    pub fn has_problems(&self) -> bool {
        self.targets.iter().any(|t| match &t.result {
            Ok((o, _)) => o.has_problems(),
            Err(_) => true,
        }) || self
            .receivers
            .iter()
            .any(|r| r.error.is_some() || r.streams.iter().any(|s| s.over_max_loss))
    }
}

/// What a run has done so far, for a progress display or a live stream of figures.
#[derive(Debug, Clone, Copy)]
pub struct Progress<'a> {
    /// The latest samples of each sending target, in order.
    pub samples: &'a [Vec<Sample>],
    /// Distinct packets received so far, per receiver and stream, in the report's order.
    pub received: &'a [Vec<u64>],
    /// Since `start`.
    pub elapsed: Duration,
}

/// How a run goes beyond [`RunOptions`]: how long the receivers wait for packets still in
/// flight after the last stream ended.
#[derive(Debug, Clone, Copy)]
pub struct Receiving {
    /// The drain time ([`receivers::DEFAULT_DRAIN`]).
    pub drain: Duration,
}

impl Default for Receiving {
    fn default() -> Self {
        Receiving {
            drain: receivers::DEFAULT_DRAIN,
        }
    }
}

/// Opens every receiver, starts every target that sends at once, each from a thread of its
/// own, and tells `on_progress` how it goes every `opts.sample_interval` until all are done;
/// then reads each one's results and window, and after the drain time what the receivers
/// received. A target with receivers and no devices of the state only receives. The targets
/// must be converged already.
///
/// # Errors
///
/// A receiver that could not be opened: nothing was started.
pub fn run(
    targets: &[OpenTarget],
    opts: &RunOptions,
    receiving: Receiving,
    mut on_progress: impl FnMut(&Progress<'_>),
) -> Result<RunReport, Box<ReceiverError>> {
    let listening = receivers::open(targets)?;
    let senders: Vec<&OpenTarget> = targets.iter().filter(|t| t.sends()).collect();
    let mut report = send(&senders, opts, |samples, elapsed| {
        on_progress(&Progress {
            samples,
            received: &listening.received_so_far(),
            elapsed,
        });
    });
    let results: Vec<(&Place, &[crate::run::DeviceReport])> = report
        .targets
        .iter()
        .filter_map(|t| Some((&t.place, t.result.as_ref().ok()?.0.devices.as_slice())))
        .collect();
    let received = receivers::close(listening, receiving.drain, receivers::sent_by(results));
    report.receivers = received;
    Ok(report)
}

/// Starts every target of `targets` at once and samples their progress into `on_progress`
/// (the latest samples of each, in order) until all are done; then reads each one's results
/// and window.
fn send(
    targets: &[&OpenTarget],
    opts: &RunOptions,
    mut on_progress: impl FnMut(&[Vec<Sample>], Duration),
) -> RunReport {
    let foreign: Vec<Vec<DeviceName>> = targets.iter().map(|t| foreign_devices(t)).collect();
    let latest: Vec<Mutex<Vec<Sample>>> = targets.iter().map(|_| Mutex::default()).collect();
    let started = Instant::now();
    let outcomes: Vec<Result<(RunOutcome, LiveState), RunError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = targets
            .iter()
            .zip(&latest)
            .map(|(t, latest)| {
                let (procfs, starter) = (std::sync::Arc::clone(&t.procfs), t.starter());
                scope.spawn(move || {
                    run::run_traffic_with(procfs, starter, opts, |samples, _| {
                        *latest.lock().unwrap_or_else(PoisonError::into_inner) = samples.to_vec();
                    })
                })
            })
            .collect();
        let snapshot = || -> Vec<Vec<Sample>> {
            latest
                .iter()
                .map(|l| l.lock().unwrap_or_else(PoisonError::into_inner).clone())
                .collect()
        };
        while handles.iter().any(|h| !h.is_finished()) {
            std::thread::sleep(opts.sample_interval);
            on_progress(&snapshot(), started.elapsed());
        }
        on_progress(&snapshot(), started.elapsed());
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(RunError::Procfs(ProcfsError::Io {
                        path: "pgctrl".into(),
                        error: std::io::Error::other("the run thread panicked"),
                    }))
                })
            })
            .collect()
    });
    let mut windows = Vec::new();
    let runs: Vec<TargetRun> = targets
        .iter()
        .zip(outcomes)
        .zip(foreign)
        .map(|((t, outcome), foreign)| {
            let result = outcome.map(|(o, after)| {
                let window = run_window(&after);
                windows.extend(window);
                (o, window)
            });
            TargetRun {
                place: t.place().clone(),
                foreign,
                result,
            }
        })
        .collect();
    let overlap = (windows.len() == runs.len())
        .then(|| overlap(&windows))
        .flatten();
    RunReport {
        targets: runs,
        overlap,
        receivers: Vec::new(),
    }
}

/// The devices of `t`'s namespace that its state does not own (empty when it cannot be
/// read: the run itself reports that).
fn foreign_devices(t: &OpenTarget) -> Vec<DeviceName> {
    read_live_state(&*t.procfs)
        .map(|live| {
            live.devices
                .into_keys()
                .filter(|d| !t.target.desired.devices.contains_key(d))
                .collect()
        })
        .unwrap_or_default()
}

/// The per-device results of every target (`pgstate status`).
pub fn status(targets: &[OpenTarget]) -> Result<Vec<Vec<DeviceReport>>, PlaceError<RunError>> {
    targets
        .iter()
        .map(|t| {
            run::reports(&*t.procfs, ReportMode::Status).map_err(|error| PlaceError {
                place: t.place().clone(),
                error,
            })
        })
        .collect()
}

/// Writes `stop` in every target from inside it and waits until each is idle. A target
/// without pktgen has nothing running. Every target is stopped even when one fails.
pub fn stop(targets: &[OpenTarget]) -> Result<(), Vec<PlaceError<RunError>>> {
    let failed: Vec<_> = targets
        .iter()
        .filter_map(|t| match run::stop(&*t.procfs) {
            Ok(()) | Err(RunError::Procfs(ProcfsError::NotLoaded { .. })) => None,
            Err(error) => Some(PlaceError {
                place: t.place().clone(),
                error,
            }),
        })
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(failed)
    }
}

/// When one namespace's streams ran, from the kernel's own timestamps: the earliest
/// `started:` and the latest `stopped:` of its device files (`ktime_get()` in µs, the
/// monotonic clock, which all namespaces share; REFERENCE §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Window {
    /// Earliest `started:`, µs.
    pub started_us: u64,
    /// Latest `stopped:`, µs.
    pub stopped_us: u64,
}

/// The window of the devices of `live` that have run (`started:` not 0, REFERENCE §3.3
/// L23); `None` when none has. Every device the threads list counts, the state's own and
/// the namespace's others alike, since `start` runs them all.
pub fn run_window(live: &LiveState) -> Option<Window> {
    let mut window: Option<Window> = None;
    for d in live.devices.values().filter(|d| d.started_us != 0) {
        let w = window.get_or_insert(Window {
            started_us: d.started_us,
            stopped_us: d.stopped_us,
        });
        w.started_us = w.started_us.min(d.started_us);
        w.stopped_us = w.stopped_us.max(d.stopped_us);
    }
    window
}

/// Whether the targets' streams ran at the same time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Overlap {
    /// Time all of them were running at once, ms (0 when some never overlapped).
    pub all_ms: u64,
    /// When they did not all overlap: the longest time between the end of one and the start
    /// of a later one, ms.
    pub gap_ms: u64,
    /// From the first start to the last stop, ms.
    pub span_ms: u64,
    /// Every target ran at the same time as every other (`all_ms > 0`).
    pub concurrent: bool,
}

/// The overlap of `windows` (at least one).
pub fn overlap(windows: &[Window]) -> Option<Overlap> {
    let latest_start = windows.iter().map(|w| w.started_us).max()?;
    let earliest_stop = windows.iter().map(|w| w.stopped_us).min()?;
    let first = windows.iter().map(|w| w.started_us).min()?;
    let last = windows.iter().map(|w| w.stopped_us).max()?;
    let all_us = earliest_stop.saturating_sub(latest_start);
    Some(Overlap {
        all_ms: all_us / 1000,
        gap_ms: latest_start.saturating_sub(earliest_stop) / 1000,
        span_ms: last.saturating_sub(first) / 1000,
        concurrent: all_us > 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(a: u64, b: u64) -> Window {
        Window {
            started_us: a,
            stopped_us: b,
        }
    }

    #[test]
    fn overlap_is_the_time_all_windows_share() {
        let o = overlap(&[
            w(1_000_000, 3_000_000),
            w(1_500_000, 4_000_000),
            w(2_000_000, 2_600_000),
        ])
        .unwrap();
        assert_eq!(
            (o.all_ms, o.gap_ms, o.span_ms, o.concurrent),
            (600, 0, 3000, true)
        );
        // One after the other: no overlap, a gap of 250 ms.
        let o = overlap(&[w(0, 1_000_000), w(1_250_000, 2_000_000)]).unwrap();
        assert_eq!((o.all_ms, o.gap_ms, o.concurrent), (0, 250, false));
        assert_eq!(overlap(&[]), None);
    }

    #[test]
    fn a_window_spans_the_devices_that_ran() {
        let device = |started_us, stopped_us| crate::model::LiveDevice {
            thread: crate::model::ThreadId(0),
            config: None,
            running: false,
            sofar: 0,
            errors: 0,
            started_us,
            stopped_us,
            result: String::new(),
            imix_size_counts: Vec::new(),
        };
        let mut live = LiveState::default();
        assert_eq!(run_window(&live), None);
        for (name, started, stopped) in [
            ("eth0", 0, 0),
            ("eth1", 2_000, 9_000),
            ("eth2", 1_000, 5_000),
        ] {
            live.devices
                .insert(DeviceName::new(name).unwrap(), device(started, stopped));
        }
        // eth0 never ran: its zeros are no start.
        assert_eq!(run_window(&live), Some(w(1_000, 9_000)));
    }
}
