//! The `watch` state machine: no I/O, no clock. [`Watcher`] is fed [`Event`]s stamped with
//! the time they happened and answers with at most one [`Action`]; debounce, poll timing,
//! back-off after failures, `--once` and "never exit in the middle of an apply" all live
//! here. The session ([`super::WatchSession`]) carries the actions out.

use std::fmt;
use std::time::{Duration, Instant};

use serde::Serialize;

/// A burst of events that never goes quiet is applied anyway after this many debounce
/// windows: the debounce must delay updates, never hide them (a directory that also holds a
/// busy log file would otherwise never be re-read).
pub const DEBOUNCE_MAX_WINDOWS: u32 = 10;
/// How soon to try again when another pgstate holds the box lock (capped by the poll
/// interval): a manual `pgstate apply` takes about a second.
pub const LOCK_RETRY_MS: u64 = 1_000;
/// Longest wait between two attempts after failures in a row. Retrying a refused apply every
/// poll would churn the box (each failure rolls back) and flood the log.
pub const MAX_BACKOFF_MS: u64 = 300_000;

/// What made a reconcile happen; a field of its tracing span.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// The first convergence after start.
    Startup,
    /// The state files changed.
    FileChange,
    /// SIGHUP.
    Hangup,
    /// The poll interval passed (drift repair).
    Poll,
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Trigger::Startup => "startup",
            Trigger::FileChange => "file change",
            Trigger::Hangup => "SIGHUP",
            Trigger::Poll => "poll",
        })
    }
}

/// What re-reading the state files found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadOutcome {
    /// A valid desired state that differs from the last good one.
    Changed,
    /// Nothing that matters changed (same bytes, or an edit of comments or layout only).
    Unchanged,
    /// The files are invalid; the last good state stays in force.
    Invalid,
}

/// How a reconcile ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReconcileOutcome {
    /// The box matches the state (it did, or the apply made it so).
    Converged,
    /// Differences left on purpose: check-only, or refused because traffic runs.
    Held,
    /// Another pgstate holds the lock.
    LockBusy,
    /// Planning or applying failed.
    Failed,
    /// There is no valid state yet.
    NoState,
}

/// An input of the [`Watcher`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Something changed where the state files are (any notify event).
    FilesChanged,
    /// Time passed; deadlines may have expired.
    Tick,
    /// SIGHUP: re-read the files now.
    Hangup,
    /// SIGINT / SIGTERM: exit, but only between two reconciles.
    Terminate,
    /// Feedback: the outcome of [`Action::Reload`].
    Loaded(LoadOutcome),
    /// Feedback: the outcome of [`Action::Reconcile`].
    Reconciled(ReconcileOutcome),
}

/// What the [`Watcher`] asks its driver to do. The driver answers with the matching feedback
/// event before anything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Re-read the state files; `force` parses them even when their bytes did not change.
    Reload {
        /// Parse even when the fingerprint is the same (startup, SIGHUP).
        force: bool,
    },
    /// Plan against the live box and apply (or report).
    Reconcile(Trigger),
    /// Stop.
    Exit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Busy {
    Loading(Trigger),
    Reconciling,
}

#[derive(Debug, Clone, Copy)]
struct Burst {
    first: Instant,
    deadline: Instant,
}

/// The `watch` state machine: debounce, poll timing, back-off and exit, with time passed
/// in. See the module documentation.
#[derive(Debug, Clone)]
pub struct Watcher {
    debounce: Duration,
    poll_interval: Duration,
    once: bool,
    started: bool,
    /// An action is out and its feedback has not come back. Nothing else starts meanwhile,
    /// and in particular no exit: that is what keeps a signal from cutting an apply short.
    busy: Option<Busy>,
    burst: Option<Burst>,
    hangup: bool,
    terminate: bool,
    exited: bool,
    queued: Option<Trigger>,
    next_poll: Option<Instant>,
    failures: u32,
}

impl Watcher {
    /// A machine that has not started; its first step asks for the initial load.
    #[must_use]
    pub fn new(debounce: Duration, poll_interval: Duration, once: bool) -> Watcher {
        Watcher {
            debounce,
            poll_interval,
            once,
            started: false,
            busy: None,
            burst: None,
            hangup: false,
            terminate: false,
            exited: false,
            queued: None,
            next_poll: None,
            failures: 0,
        }
    }

    /// Feeds one event that happened at `now`; returns what to do next, if anything.
    pub fn step(&mut self, event: Event, now: Instant) -> Option<Action> {
        match event {
            Event::FilesChanged => self.files_changed(now),
            Event::Tick => {}
            Event::Hangup => self.hangup = true,
            Event::Terminate => self.terminate = true,
            Event::Loaded(outcome) => self.loaded(outcome),
            Event::Reconciled(outcome) => self.reconciled(outcome, now),
        }
        self.next_action(now)
    }

    /// When the machine next needs a [`Event::Tick`] (`None` once it has exited).
    #[must_use]
    pub fn deadline(&self) -> Option<Instant> {
        if self.exited {
            return None;
        }
        match (self.burst.map(|b| b.deadline), self.next_poll) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether [`Action::Exit`] was given.
    #[must_use]
    pub fn exited(&self) -> bool {
        self.exited
    }

    fn files_changed(&mut self, now: Instant) {
        let first = self.burst.map_or(now, |b| b.first);
        let cap = first + self.debounce.saturating_mul(DEBOUNCE_MAX_WINDOWS);
        self.burst = Some(Burst {
            first,
            deadline: (now + self.debounce).min(cap),
        });
    }

    fn loaded(&mut self, outcome: LoadOutcome) {
        let Some(Busy::Loading(cause)) = self.busy else {
            return;
        };
        self.busy = None;
        self.queued = match (outcome, cause) {
            // A change the notify events missed, caught by the poll's fingerprint check.
            (LoadOutcome::Changed, Trigger::Poll) => Some(Trigger::FileChange),
            // chmod, touch, a save of the same bytes, a comment-only edit: nothing to do.
            (LoadOutcome::Unchanged, Trigger::FileChange) => None,
            // Startup and SIGHUP reconcile whatever the files say; a poll repairs drift.
            (LoadOutcome::Changed | LoadOutcome::Unchanged, c) => Some(c),
            // Drift repair goes on against the last good state while the files are invalid.
            (LoadOutcome::Invalid, Trigger::Poll) => Some(Trigger::Poll),
            (LoadOutcome::Invalid, Trigger::Startup) if self.once => {
                self.terminate = true;
                None
            }
            (LoadOutcome::Invalid, _) => None,
        };
    }

    fn reconciled(&mut self, outcome: ReconcileOutcome, now: Instant) {
        if self.busy != Some(Busy::Reconciling) {
            return;
        }
        self.busy = None;
        let wait = match outcome {
            ReconcileOutcome::Failed => {
                self.failures = self.failures.saturating_add(1);
                let doubled = self
                    .poll_interval
                    .saturating_mul(1 << (self.failures - 1).min(16));
                doubled.min(Duration::from_millis(MAX_BACKOFF_MS).max(self.poll_interval))
            }
            ReconcileOutcome::LockBusy => {
                self.poll_interval.min(Duration::from_millis(LOCK_RETRY_MS))
            }
            _ => {
                self.failures = 0;
                self.poll_interval
            }
        };
        self.next_poll = Some(now + wait);
        if self.once {
            self.terminate = true;
        }
    }

    fn next_action(&mut self, now: Instant) -> Option<Action> {
        if self.exited || self.busy.is_some() {
            return None;
        }
        if self.terminate {
            self.exited = true;
            return Some(Action::Exit);
        }
        if let Some(trigger) = self.queued.take() {
            self.busy = Some(Busy::Reconciling);
            return Some(Action::Reconcile(trigger));
        }
        let (cause, force) = if !self.started {
            self.started = true;
            // Polls start now even if the first load fails: they re-check the files too.
            self.next_poll = Some(now + self.poll_interval);
            (Trigger::Startup, true)
        } else if self.hangup {
            self.hangup = false;
            // The forced reload reads whatever the pending burst was about.
            self.burst = None;
            (Trigger::Hangup, true)
        } else if self.burst.is_some_and(|b| b.deadline <= now) {
            self.burst = None;
            (Trigger::FileChange, false)
        } else if self.next_poll.is_some_and(|t| t <= now) {
            self.next_poll = Some(now + self.poll_interval);
            (Trigger::Poll, false)
        } else {
            return None;
        };
        self.busy = Some(Busy::Loading(cause));
        Some(Action::Reload { force })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn machine() -> (Watcher, Instant) {
        let mut w = Watcher::new(MS * 300, MS * 5000, false);
        let t0 = Instant::now();
        assert_eq!(
            w.step(Event::Tick, t0),
            Some(Action::Reload { force: true })
        );
        assert_eq!(
            w.step(Event::Loaded(LoadOutcome::Changed), t0),
            Some(Action::Reconcile(Trigger::Startup))
        );
        assert_eq!(
            w.step(Event::Reconciled(ReconcileOutcome::Converged), t0),
            None
        );
        (w, t0)
    }

    #[test]
    fn a_burst_that_never_goes_quiet_is_reloaded_after_ten_windows() {
        let (mut w, t0) = machine();
        let mut t = t0;
        let mut reloads = 0;
        // An event every 100 ms for 4 s: the 300 ms debounce never expires on its own.
        for _ in 0..40 {
            t += MS * 100;
            if w.step(Event::FilesChanged, t).is_some() {
                reloads += 1;
                w.step(Event::Loaded(LoadOutcome::Unchanged), t);
            }
            if let Some(a) = w.step(Event::Tick, t) {
                assert_eq!(a, Action::Reload { force: false });
                reloads += 1;
                w.step(Event::Loaded(LoadOutcome::Unchanged), t);
            }
        }
        assert_eq!(reloads, 1, "one forced reload at the 3 s cap");
    }

    #[test]
    fn terminate_while_reconciling_waits_for_the_outcome() {
        let (mut w, t0) = machine();
        assert_eq!(
            w.step(Event::Hangup, t0),
            Some(Action::Reload { force: true })
        );
        assert_eq!(
            w.step(Event::Loaded(LoadOutcome::Changed), t0),
            Some(Action::Reconcile(Trigger::Hangup))
        );
        assert_eq!(w.step(Event::Terminate, t0), None);
        assert!(!w.exited());
        assert_eq!(
            w.step(Event::Reconciled(ReconcileOutcome::Converged), t0),
            Some(Action::Exit)
        );
        assert_eq!(w.deadline(), None);
    }

    #[test]
    fn failures_in_a_row_double_the_wait_up_to_the_cap() {
        let (mut w, _) = machine();
        let mut waits = Vec::new();
        for _ in 0..10 {
            let t = w.deadline().unwrap();
            assert_eq!(
                w.step(Event::Tick, t),
                Some(Action::Reload { force: false })
            );
            assert_eq!(
                w.step(Event::Loaded(LoadOutcome::Unchanged), t),
                Some(Action::Reconcile(Trigger::Poll))
            );
            w.step(Event::Reconciled(ReconcileOutcome::Failed), t);
            waits.push((w.deadline().unwrap() - t).as_secs());
        }
        assert_eq!(waits, [5, 10, 20, 40, 80, 160, 300, 300, 300, 300]);
        // A success resets it.
        let t = w.deadline().unwrap();
        w.step(Event::Tick, t);
        w.step(Event::Loaded(LoadOutcome::Unchanged), t);
        w.step(Event::Reconciled(ReconcileOutcome::Converged), t);
        assert_eq!(w.deadline().unwrap() - t, MS * 5000);
    }

    #[test]
    fn an_unchanged_reload_after_file_events_does_not_reconcile() {
        let (mut w, t0) = machine();
        assert_eq!(w.step(Event::FilesChanged, t0), None);
        assert_eq!(w.step(Event::Tick, t0 + MS * 299), None);
        assert_eq!(
            w.step(Event::Tick, t0 + MS * 300),
            Some(Action::Reload { force: false })
        );
        assert_eq!(
            w.step(Event::Loaded(LoadOutcome::Unchanged), t0 + MS * 300),
            None
        );
    }

    #[test]
    fn once_exits_after_the_first_reconcile_or_an_invalid_start() {
        let mut w = Watcher::new(MS, MS, true);
        let t0 = Instant::now();
        w.step(Event::Tick, t0);
        assert_eq!(
            w.step(Event::Loaded(LoadOutcome::Invalid), t0),
            Some(Action::Exit)
        );
        let mut w = Watcher::new(MS, MS, true);
        w.step(Event::Tick, t0);
        w.step(Event::Loaded(LoadOutcome::Changed), t0);
        assert_eq!(
            w.step(Event::Reconciled(ReconcileOutcome::Failed), t0),
            Some(Action::Exit)
        );
    }
}
