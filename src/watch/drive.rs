//! The loop that drives a [`WatchSession`]: file events, the SIGINT/SIGTERM and SIGHUP
//! flags, and what the [`Observer`] is told as it goes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::Serialize;

use crate::procfs::Procfs;

use super::clock::Clock;
use super::error::WatchError;
use super::machine::Event;
use super::observe::{NoObserver, Observer, Status};
use super::report::{Report, WatchStats};
use super::session::{render_list, WatchSession};
use super::source::EventSource;

/// How often [`run`] looks at the signal flags while it waits for events.
pub const SIGNAL_CHECK_MS: u64 = 100;

/// What a finished `watch` did.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct WatchSummary {
    /// The counters.
    pub stats: WatchStats,
    /// The last reconcile found or left the box matching the state (check-only: found no
    /// drift).
    pub in_sync: bool,
}

/// Runs `session` until it exits: after SIGINT/SIGTERM (`terminate` set) between two
/// reconciles, or after one convergence with `once`. `hangup` is cleared when acted on.
///
/// Errors: only with `once`, the reason the box could not be converged. Otherwise every
/// problem is logged, reported and retried, and stopping is a success.
///
/// # Errors
///
/// With `once` only: [`WatchError::Load`], [`WatchError::Apply`], [`WatchError::Lock`] or
/// [`WatchError::Refused`], whichever kept the single reconcile from converging.
pub fn run<P: Procfs, C: Clock>(
    session: &mut WatchSession<P, C>,
    source: &mut dyn EventSource,
    terminate: &AtomicBool,
    hangup: &AtomicBool,
) -> Result<WatchSummary, WatchError> {
    run_observed(session, source, terminate, hangup, &mut NoObserver)
}

/// [`run`], telling `observer` about readiness, reloads, each reconcile's [`Status`], the
/// stop, and that the loop is alive.
///
/// # Errors
///
/// As [`run`].
pub fn run_observed<P: Procfs, C: Clock>(
    session: &mut WatchSession<P, C>,
    source: &mut dyn EventSource,
    terminate: &AtomicBool,
    hangup: &AtomicBool,
    observer: &mut dyn Observer,
) -> Result<WatchSummary, WatchError> {
    let mut outcome = Outcome::default();
    observer.started(&session.stats());
    let mut reports = session.handle(Event::Tick);
    // The first batch holds the first reload and reconcile: once it is handled, the service
    // is ready, whatever it found.
    let mut told = Told::default();
    loop {
        let devices = session.desired().map_or(0, |d| d.desired.devices.len());
        told.tell(observer, Status::from_reports(&reports, devices));
        let exit = outcome.fold(reports);
        if exit || session.exited() {
            break;
        }
        observer.alive();
        reports = next_batch(session, source, terminate, hangup, observer, &mut told);
    }
    if !told.stopping {
        // `--once`: stopping all the same.
        observer.stopping();
    }
    let summary = WatchSummary {
        stats: session.stats().snapshot(),
        in_sync: outcome.in_sync,
    };
    match outcome.problem {
        Some(e) if session.config().once => Err(e),
        _ => Ok(summary),
    }
}

/// What the observer has been told so far.
#[derive(Default)]
struct Told {
    ready: bool,
    reloading: bool,
    stopping: bool,
}

impl Told {
    /// Readiness after the first batch, the result of a reload after SIGHUP, else the
    /// status of a reconcile.
    fn tell(&mut self, observer: &mut dyn Observer, status: Option<Status>) {
        if !self.ready {
            self.ready = true;
            let first = status.unwrap_or_else(|| Status {
                in_sync: false,
                converged: false,
                text: "started".to_owned(),
            });
            observer.ready(&first);
        } else if std::mem::take(&mut self.reloading) {
            observer.reloaded(status.as_ref());
        } else if let Some(s) = &status {
            observer.status(s);
        }
    }
}

/// How the reports so far leave the watch: the problem of the last reconcile, whether the
/// box matched.
#[derive(Default)]
struct Outcome {
    problem: Option<WatchError>,
    in_sync: bool,
}

impl Outcome {
    /// Takes in a batch of reports; whether one of them is the exit.
    fn fold(&mut self, reports: Vec<Report>) -> bool {
        let mut exit = false;
        for r in reports {
            match r {
                Report::Invalid(e) => self.problem = Some(WatchError::Load(e)),
                Report::Failed(e) => self.failed(e),
                Report::LockBusy(e) => self.failed(WatchError::Lock(e)),
                Report::Refused {
                    threads, running, ..
                } => self.failed(WatchError::Refused {
                    threads: render_list(&threads),
                    devices: render_list(&running),
                }),
                Report::InSync(_) | Report::Applied { .. } => {
                    self.problem = None;
                    self.in_sync = true;
                }
                Report::Drift { .. } => {
                    self.problem = None;
                    self.in_sync = false;
                }
                Report::Exit => exit = true,
                _ => {}
            }
        }
        exit
    }

    fn failed(&mut self, e: WatchError) {
        self.problem = Some(e);
        self.in_sync = false;
    }
}

/// Waits for the next thing to do and does it. Signals are acted on here, between two
/// `handle` calls: never during an apply.
fn next_batch<P: Procfs, C: Clock>(
    session: &mut WatchSession<P, C>,
    source: &mut dyn EventSource,
    terminate: &AtomicBool,
    hangup: &AtomicBool,
    observer: &mut dyn Observer,
    told: &mut Told,
) -> Vec<Report> {
    if terminate.load(Ordering::SeqCst) {
        if !std::mem::replace(&mut told.stopping, true) {
            observer.stopping();
        }
        return session.handle(Event::Terminate);
    }
    if hangup.swap(false, Ordering::SeqCst) {
        tracing::info!("SIGHUP: re-reading the state");
        observer.reloading();
        told.reloading = true;
        return session.handle(Event::Hangup);
    }
    let signal_check = Duration::from_millis(SIGNAL_CHECK_MS);
    let timeout = session
        .until_deadline()
        .map_or(signal_check, |d| d.min(signal_check));
    let mut reports = Vec::new();
    if source.wait(timeout) {
        reports = session.handle(Event::FilesChanged);
    }
    reports.extend(session.handle(Event::Tick));
    reports
}
