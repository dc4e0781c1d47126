//! `watch`: keeps the box converged to the state files for as long as it runs.
//!
//! notify → debounce → reconcile, as an explicit state machine. The pieces, from the inside
//! out:
//!
//! * [`Watcher`] decides *when* to do things. It does no I/O and reads no clock: it is fed
//!   [`Event`]s stamped with the time they happened and answers with at most one [`Action`]
//!   (reload the files, reconcile, exit). Debounce, poll timing, back-off after failures,
//!   `--once` and "never exit in the middle of an apply" all live there.
//! * [`WatchSession`] carries the actions out: it loads the state files (keeping the last good
//!   state while they are invalid), plans against the live box with unavailable interfaces
//!   skipped, and applies under the box lock, then feeds the outcome back to the machine.
//!   Everything it does is logged with `tracing` and returned as [`Report`]s, which tests read.
//! * [`run`] connects a session to an [`EventSource`] (the real one is [`NotifySource`]) and to
//!   the SIGHUP / SIGINT-SIGTERM flags; [`watch`] is all of it with the real clock and notify,
//!   for the CLI.
//!
//! Reconciliation is level-triggered (as kube-runtime's `watcher.rs` insists: events can be
//! missed or coalesced). A file event only means "look again"; what is applied is always the
//! whole state, planned against a fresh read of the box. That is why editors' save dances,
//! symlink swaps and re-created directories need no special cases beyond keeping the notify
//! watches alive: any burst of events becomes one reload after the debounce, and every poll
//! re-checks the files' fingerprint too, so a missed event costs at most one poll interval.
//!
//! This module never prints and never installs signal handlers: the CLI owns both.

use std::collections::hash_map::DefaultHasher;
use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::hash::{Hash, Hasher};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::apply::{execute_plan, plan_against_with, ApplyError};
use crate::lock::{BoxLock, LockError};
use crate::model::{DeviceName, LiveState, ThreadId};
use crate::plan::{ActionKind, Plan};
use crate::procfs::Procfs;
use crate::spec::{load_path, LoadError, LoadedState, MAX_STATE_FILE_BYTES};

/// Default quiet time after the last file event before the files are re-read.
pub const DEFAULT_DEBOUNCE_MS: u64 = 300;
/// Default interval between two looks at the live state (drift repair).
pub const DEFAULT_POLL_INTERVAL_MS: u64 = 5_000;
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
/// How often [`run`] looks at the signal flags while it waits for events.
pub const SIGNAL_CHECK_MS: u64 = 100;

/// How `watch` behaves.
#[derive(Debug, Clone)]
pub struct WatchConfig {
    /// Quiet time after the last file event before the files are re-read
    /// ([`DEFAULT_DEBOUNCE_MS`]). Longer hides more intermediate saves, and delays every
    /// change by as much.
    pub debounce: Duration,
    /// Interval between two looks at the live state ([`DEFAULT_POLL_INTERVAL_MS`]). Each
    /// look reads every pktgen file, and re-checks the state files' fingerprint.
    pub poll_interval: Duration,
    /// Report differences, never write (`--check-only` / `--no-repair`).
    pub check_only: bool,
    /// Refuse a plan that would `rem_device_all` a thread on which traffic is running.
    pub refuse_disruptive: bool,
    /// Converge once and exit (`--once`).
    pub once: bool,
    /// The box lock taken around each reconcile; `None` takes no lock.
    pub lock_file: Option<PathBuf>,
    /// How long one reconcile waits for the lock before it gives up until the next tick.
    pub lock_timeout: Duration,
}

impl Default for WatchConfig {
    fn default() -> Self {
        WatchConfig {
            debounce: Duration::from_millis(DEFAULT_DEBOUNCE_MS),
            poll_interval: Duration::from_millis(DEFAULT_POLL_INTERVAL_MS),
            check_only: false,
            refuse_disruptive: false,
            once: false,
            lock_file: Some(PathBuf::from(crate::lock::DEFAULT_LOCK_FILE)),
            // Waiting would also delay SIGTERM; a busy lock is retried after LOCK_RETRY_MS.
            lock_timeout: Duration::ZERO,
        }
    }
}

/// `watch` could not run, or (`--once`) could not converge.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// The file watcher could not be set up.
    #[error("cannot watch {}: {source}", .path.display())]
    Notify {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: notify::Error,
    },
    /// The state files are invalid (only fatal with `--once`).
    #[error(transparent)]
    Load(#[from] LoadError),
    /// Planning or applying failed; the apply rolled back.
    #[error(transparent)]
    Apply(#[from] ApplyError),
    /// The box lock is held by another pgstate, or cannot be used.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// `refuse_disruptive`: the plan would stop running traffic.
    #[error("refused: the change needs rem_device_all on thread(s) {threads}, where {devices} are sending; stop the traffic or run without --refuse-disruptive")]
    Refused {
        /// The threads, comma-separated.
        threads: String,
        /// The running devices, comma-separated.
        devices: String,
    },
}

// ---------------------------------------------------------------------------------------
// The state machine: no I/O, no clock.
// ---------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------
// Clocks and event sources.
// ---------------------------------------------------------------------------------------

/// Where the session reads the time.
pub trait Clock {
    /// The current time.
    fn now(&self) -> Instant;
}

/// The real monotonic clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that moves only when told to (tests, simulated soaks). Clones share the time.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<Instant>>);

impl ManualClock {
    /// A clock standing at the real time of its creation.
    #[must_use]
    pub fn new() -> ManualClock {
        ManualClock(Arc::new(Mutex::new(Instant::now())))
    }

    /// Moves the time forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut t = lock_ignoring_poison(&self.0);
        *t += by;
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        *lock_ignoring_poison(&self.0)
    }
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> Instant {
        (**self).now()
    }
}

/// A panic elsewhere must not take the counters or the clock down with it.
fn lock_ignoring_poison<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Tells [`run`] that something happened to the state files.
pub trait EventSource {
    /// Waits at most `timeout` for file events; returns whether any arrived that may concern
    /// the state files. Spurious `true` is harmless (the files' fingerprint decides).
    fn wait(&mut self, timeout: Duration) -> bool;
}

/// No file events at all; waiting just sleeps. For `--once`, which never waits.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoEvents;

impl EventSource for NoEvents {
    fn wait(&mut self, timeout: Duration) -> bool {
        std::thread::sleep(timeout);
        false
    }
}

/// One directory watched with notify, and the identity of what is watched, to notice when
/// the directory was replaced (the watch on the old one is dead then).
#[derive(Debug)]
struct Target {
    path: PathBuf,
    identity: Option<(u64, u64)>,
}

/// File events from notify (inotify on Linux).
///
/// It watches, without recursion, the directory that holds the state (the state directory
/// itself, or the parent of a state file) and that directory's parent. Watching directories
/// rather than files is what makes it robust to how files really change: an editor's
/// rename-over-the-original, a truncate and rewrite, a delete and re-create, and a
/// Kubernetes `ConfigMap`'s atomic `..data` symlink swap all show up as events in the
/// directory, whereas a watch on the file itself dies with the first rename. The parent's
/// watch sees the directory itself deleted or re-created; the directory's watch is then
/// re-added (checked before every wait, by device and inode).
pub struct NotifySource {
    watcher: notify::RecommendedWatcher,
    events: mpsc::Receiver<notify::Result<notify::Event>>,
    state: PathBuf,
    state_is_dir: bool,
    /// `targets[0]` is the directory of the state, `targets[1]` its parent (if any).
    targets: Vec<Target>,
    disconnected: bool,
}

impl fmt::Debug for NotifySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NotifySource")
            .field("state", &self.state)
            .field("targets", &self.targets)
            .finish_non_exhaustive()
    }
}

impl NotifySource {
    /// Starts watching around `state_path` (a state file or directory).
    ///
    /// # Errors
    ///
    /// [`WatchError::Notify`] when the watcher cannot be created (inotify instance limit).
    /// A directory that cannot be watched yet is not an error: it is retried before every
    /// wait, and polling covers the meantime.
    pub fn new(state_path: &Path) -> Result<NotifySource, WatchError> {
        let notify_err = |source| WatchError::Notify {
            path: state_path.to_owned(),
            source,
        };
        // notify reports paths as joined to what it was given; absolute paths make them
        // comparable with ours whatever the working directory.
        let state =
            std::path::absolute(state_path).map_err(|e| notify_err(notify::Error::io(e)))?;
        let state_is_dir = state.is_dir();
        let targets = targets_for(&state, state_is_dir);
        let (tx, events) = mpsc::channel();
        let watcher = notify::recommended_watcher(move |ev| {
            // The receiver is gone only while the source is being dropped.
            let _ = tx.send(ev);
        })
        .map_err(notify_err)?;
        let mut source = NotifySource {
            watcher,
            events,
            state,
            state_is_dir,
            targets,
            disconnected: false,
        };
        source.rearm();
        if source.targets.iter().all(|t| t.identity.is_none()) {
            tracing::warn!(path = %source.targets[0].path.display(), "neither the state's directory nor its parent can be watched; relying on polling");
        }
        Ok(source)
    }

    /// Re-adds the watch of any target that was replaced or has appeared; returns whether
    /// one did (its new contents were not watched until now, so they count as changed).
    fn rearm(&mut self) -> bool {
        use notify::Watcher as _;
        let mut changed = false;
        // The state path may become a directory (created after start) or stop being one
        // (deleted, about to be re-created): watch what it is now.
        let is_dir = self.state.is_dir();
        if is_dir != self.state_is_dir {
            for t in &self.targets {
                let _ = self.watcher.unwatch(&t.path);
            }
            self.state_is_dir = is_dir;
            self.targets = targets_for(&self.state, is_dir);
            changed = true;
        }
        for t in &mut self.targets {
            let identity = fs::metadata(&t.path)
                .ok()
                .filter(fs::Metadata::is_dir)
                .map(|m| (m.dev(), m.ino()));
            if identity == t.identity {
                continue;
            }
            changed = true;
            // The old watch, if notify still knows it, points at a directory that is gone.
            let _ = self.watcher.unwatch(&t.path);
            t.identity = None;
            if identity.is_some() {
                match self
                    .watcher
                    .watch(&t.path, notify::RecursiveMode::NonRecursive)
                {
                    Ok(()) => {
                        tracing::debug!(path = %t.path.display(), "watching");
                        t.identity = identity;
                    }
                    Err(e) => {
                        tracing::warn!(path = %t.path.display(), error = %e, "cannot watch; relying on polling");
                    }
                }
            }
        }
        changed
    }

    /// Whether `ev` may concern the state files; also notes targets that were removed or
    /// renamed away, so that [`rearm`](Self::rearm) re-adds them even if the inode number is
    /// reused by the new directory.
    fn consider(&mut self, ev: &notify::Event) -> bool {
        use notify::event::{AccessKind, AccessMode};
        use notify::EventKind;
        if matches!(ev.kind, EventKind::Remove(_) | EventKind::Modify(_)) {
            for t in &mut self.targets {
                if ev.paths.iter().any(|p| p == &t.path) {
                    t.identity = None;
                }
            }
        }
        match ev.kind {
            // Opening and reading are not changes, and pgstate's own reads of the state
            // files cause them: counting them would reload forever.
            EventKind::Access(AccessKind::Close(AccessMode::Write)) => {}
            EventKind::Access(_) => return false,
            _ => {}
        }
        if ev.paths.is_empty() {
            // A rescan request (inotify queue overflow): something was lost.
            return true;
        }
        let dir = &self.targets[0].path;
        ev.paths.iter().any(|p| {
            p == dir
                || p.parent() == Some(dir.as_path())
                    && (self.state_is_dir
                        || p == &self.state
                        // ConfigMap mounts swap `..data`; the state file is a symlink into it.
                        || p.file_name()
                            .is_some_and(|n| n.to_string_lossy().starts_with("..")))
        })
    }
}

/// The directory whose entries make up the state, then its parent.
fn targets_for(state: &Path, state_is_dir: bool) -> Vec<Target> {
    let dir = if state_is_dir {
        state.to_owned()
    } else {
        state
            .parent()
            .map_or_else(|| PathBuf::from("/"), Path::to_path_buf)
    };
    let parent = dir.parent().map(Path::to_path_buf);
    std::iter::once(dir)
        .chain(parent)
        .map(|path| Target {
            path,
            identity: None,
        })
        .collect()
}

impl EventSource for NotifySource {
    fn wait(&mut self, timeout: Duration) -> bool {
        let mut relevant = false;
        if self.disconnected {
            std::thread::sleep(timeout);
        } else {
            let mut next = match self.events.recv_timeout(timeout) {
                Ok(ev) => Some(ev),
                Err(mpsc::RecvTimeoutError::Timeout) => None,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    tracing::error!("the file watcher stopped; relying on polling");
                    self.disconnected = true;
                    None
                }
            };
            while let Some(ev) = next {
                relevant |= match ev {
                    Ok(ev) => self.consider(&ev),
                    Err(e) => {
                        tracing::warn!(error = %e, "file watcher error; re-reading the state");
                        true
                    }
                };
                next = self.events.try_recv().ok();
            }
        }
        relevant | self.rearm()
    }
}

// ---------------------------------------------------------------------------------------
// The session: carries the machine's actions out.
// ---------------------------------------------------------------------------------------

/// Counters of what a session did, for tests, benchmarks and the exit summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct WatchStats {
    /// File events received (before debounce).
    pub file_events: u64,
    /// Times the state files were looked at.
    pub reloads: u64,
    /// Times a new valid desired state was loaded.
    pub loads: u64,
    /// Reloads that found nothing that matters changed.
    pub unchanged: u64,
    /// Reloads that found the files invalid (the last good state stayed in force).
    pub invalid: u64,
    /// Reconciles with a state to reconcile to.
    pub reconciles: u64,
    /// Reconciles that found the box converged.
    pub in_sync: u64,
    /// Successful applies with at least one write.
    pub applies: u64,
    /// Of those, the ones a poll triggered: drift repairs.
    pub repairs: u64,
    /// Writes performed by successful applies.
    pub writes: u64,
    /// Check-only reconciles that found differences.
    pub drift_reports: u64,
    /// Plans refused because they would stop running traffic.
    pub refused: u64,
    /// Reconciles skipped because another pgstate held the lock.
    pub lock_busy: u64,
    /// Plans or applies that failed.
    pub failures: u64,
    /// Times the set of devices left out for a missing or down interface changed.
    pub skipped_changes: u64,
}

/// A shared view of a session's [`WatchStats`], readable from another thread.
#[derive(Debug, Clone, Default)]
pub struct StatsHandle(Arc<Mutex<WatchStats>>);

impl StatsHandle {
    /// The counters now.
    #[must_use]
    pub fn snapshot(&self) -> WatchStats {
        *lock_ignoring_poison(&self.0)
    }

    fn bump(&self, f: impl FnOnce(&mut WatchStats)) {
        f(&mut lock_ignoring_poison(&self.0));
    }
}

/// Something a session did or found, in order.
#[derive(Debug)]
pub enum Report {
    /// A new valid desired state was loaded.
    Loaded {
        /// The files read.
        files: Vec<PathBuf>,
        /// Devices in the state.
        devices: usize,
    },
    /// The files were re-read and nothing that matters changed.
    Unchanged,
    /// The files are invalid; the last good state stays in force. The error carries
    /// `file:line:col` for each problem.
    Invalid(LoadError),
    /// A reconcile was due but no valid state was ever loaded.
    NoState,
    /// The box already matches the state.
    InSync(Trigger),
    /// The plan was applied and verified.
    Applied {
        /// Why.
        trigger: Trigger,
        /// What differed, one line per field or device.
        changes: Vec<String>,
        /// The writes performed, `file <- command`.
        writes: Vec<String>,
        /// Running devices that the plan's `rem_device_all` stopped.
        stopped_traffic: Vec<DeviceName>,
    },
    /// Check-only: the box differs; nothing was written.
    Drift {
        /// Why the box was looked at.
        trigger: Trigger,
        /// What differs.
        changes: Vec<String>,
        /// The writes that would repair it.
        writes: Vec<String>,
    },
    /// `refuse_disruptive`: the plan would `rem_device_all` threads where traffic runs.
    Refused {
        /// Why the plan was made.
        trigger: Trigger,
        /// The threads.
        threads: Vec<ThreadId>,
        /// The running devices on them.
        running: Vec<DeviceName>,
    },
    /// The set of devices left out because their interface is missing or down changed.
    Skipped {
        /// Devices now left out, and why.
        skipped: Vec<(DeviceName, String)>,
        /// Devices no longer left out.
        back: Vec<DeviceName>,
    },
    /// Another pgstate holds the lock; retried at the next tick.
    LockBusy(LockError),
    /// Planning or applying failed (an apply rolls back), or the lock file is unusable.
    Failed(WatchError),
    /// The session stopped.
    Exit,
}

/// Loads, reconciles and reports, as its [`Watcher`] decides. Drive it with
/// [`handle`](Self::handle), or with [`run`].
pub struct WatchSession<P: Procfs, C: Clock> {
    procfs: P,
    path: PathBuf,
    config: WatchConfig,
    clock: C,
    machine: Watcher,
    /// The last valid state: what is applied while the files are invalid.
    good: Option<LoadedState>,
    /// Fingerprint of the bytes last parsed, valid or not.
    seen: Option<u64>,
    /// The last load failed.
    invalid: bool,
    /// Devices left out at the last plan, to log each change once.
    skipped: BTreeMap<DeviceName, String>,
    /// The last warning that repeats while nothing changes (drift in check-only, a refused
    /// plan, a failure): logged once, then at debug level.
    last_notice: Option<String>,
    stats: StatsHandle,
}

impl<P: Procfs, C: Clock> fmt::Debug for WatchSession<P, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WatchSession")
            .field("path", &self.path)
            .field("config", &self.config)
            .field("machine", &self.machine)
            .field("stats", &self.stats.snapshot())
            .finish_non_exhaustive()
    }
}

impl<P: Procfs, C: Clock> WatchSession<P, C> {
    /// A session for the state at `state_path`; nothing happens until the first
    /// [`handle`](Self::handle).
    pub fn new(procfs: P, state_path: &Path, config: WatchConfig, clock: C) -> Self {
        let machine = Watcher::new(config.debounce, config.poll_interval, config.once);
        WatchSession {
            procfs,
            path: state_path.to_owned(),
            config,
            clock,
            machine,
            good: None,
            seen: None,
            invalid: false,
            skipped: BTreeMap::new(),
            last_notice: None,
            stats: StatsHandle::default(),
        }
    }

    /// Feeds `event` to the machine and carries out what it asks, until it is idle again.
    pub fn handle(&mut self, event: Event) -> Vec<Report> {
        if event == Event::FilesChanged {
            self.stats.bump(|s| s.file_events += 1);
        }
        let mut reports = Vec::new();
        let mut next = self.machine.step(event, self.clock.now());
        while let Some(action) = next {
            let feedback = match action {
                Action::Reload { force } => Event::Loaded(self.reload(force, &mut reports)),
                Action::Reconcile(trigger) => {
                    Event::Reconciled(self.reconcile(trigger, &mut reports))
                }
                Action::Exit => {
                    tracing::info!("watch stops");
                    reports.push(Report::Exit);
                    break;
                }
            };
            next = self.machine.step(feedback, self.clock.now());
        }
        reports
    }

    /// How long until the machine needs a [`Event::Tick`].
    pub fn until_deadline(&self) -> Option<Duration> {
        self.machine
            .deadline()
            .map(|d| d.saturating_duration_since(self.clock.now()))
    }

    /// Whether the session has stopped.
    pub fn exited(&self) -> bool {
        self.machine.exited()
    }

    /// The desired state in force (the last valid one).
    pub fn desired(&self) -> Option<&LoadedState> {
        self.good.as_ref()
    }

    /// The counters, shared (they keep counting).
    pub fn stats(&self) -> StatsHandle {
        self.stats.clone()
    }

    /// The configuration.
    pub fn config(&self) -> &WatchConfig {
        &self.config
    }

    fn reload(&mut self, force: bool, reports: &mut Vec<Report>) -> LoadOutcome {
        self.stats.bump(|s| s.reloads += 1);
        let fp = fingerprint(&self.path);
        if !force && self.seen == Some(fp) {
            tracing::trace!("state files unchanged");
            self.stats.bump(|s| s.unchanged += 1);
            reports.push(Report::Unchanged);
            return LoadOutcome::Unchanged;
        }
        self.seen = Some(fp);
        match load_path(&self.path) {
            Err(error) => {
                self.invalid = true;
                self.stats.bump(|s| s.invalid += 1);
                if self.good.is_some() {
                    tracing::error!("the state files are invalid; keeping the last good state in force until they are fixed:\n{error}");
                } else {
                    tracing::error!("the state files are invalid; nothing is applied until they are fixed:\n{error}");
                }
                reports.push(Report::Invalid(error));
                LoadOutcome::Invalid
            }
            Ok(loaded) => {
                if std::mem::take(&mut self.invalid) {
                    tracing::info!("the state files are valid again");
                }
                let same = self
                    .good
                    .as_ref()
                    .is_some_and(|g| g.desired == loaded.desired);
                let files = loaded.files.clone();
                let devices = loaded.desired.devices.len();
                // Kept even when equal: an edit of comments moves the source locations.
                self.good = Some(loaded);
                if same {
                    tracing::debug!("state files re-read; the desired state is the same");
                    self.stats.bump(|s| s.unchanged += 1);
                    reports.push(Report::Unchanged);
                    LoadOutcome::Unchanged
                } else {
                    tracing::info!(files = %render_paths(&files), devices, "loaded the state");
                    self.stats.bump(|s| s.loads += 1);
                    reports.push(Report::Loaded { files, devices });
                    LoadOutcome::Changed
                }
            }
        }
    }

    fn reconcile(&mut self, trigger: Trigger, reports: &mut Vec<Report>) -> ReconcileOutcome {
        let Some(good) = &self.good else {
            tracing::debug!(%trigger, "no valid state yet; nothing to reconcile");
            reports.push(Report::NoState);
            return ReconcileOutcome::NoState;
        };
        let span = tracing::info_span!("reconcile", %trigger, files = %render_paths(&good.files));
        let _enter = span.enter();
        self.stats.bump(|s| s.reconciles += 1);

        // The lock is held around one reconcile only, so that a manual `pgstate apply` can
        // run between two of them and never interleaves its writes with ours. Check-only
        // takes it too: reading a box halfway through someone's apply would report drift
        // that is not there.
        let _lock = match &self.config.lock_file {
            None => None,
            Some(path) => {
                let what = format!("pgstate watch {}", self.path.display());
                match BoxLock::acquire(path, self.config.lock_timeout, &what) {
                    Ok(l) => Some(l),
                    Err(e @ LockError::Busy { .. }) => {
                        tracing::warn!("{e}; retrying at the next tick");
                        self.stats.bump(|s| s.lock_busy += 1);
                        reports.push(Report::LockBusy(e));
                        return ReconcileOutcome::LockBusy;
                    }
                    Err(e) => {
                        self.fail(WatchError::Lock(e), reports);
                        return ReconcileOutcome::Failed;
                    }
                }
            }
        };

        // Unavailable interfaces are skipped, not fatal: one unplugged NIC must not freeze
        // every other device, and its devices come back at the first poll after it does.
        let (live, env, plan) = match plan_against_with(&self.procfs, &good.desired, true) {
            Ok(x) => x,
            Err(e) => {
                self.fail(WatchError::Apply(e), reports);
                return ReconcileOutcome::Failed;
            }
        };
        note_skipped(&mut self.skipped, &plan, &self.stats, reports);

        if plan.is_empty() {
            tracing::debug!("in sync");
            self.last_notice = None;
            self.stats.bump(|s| s.in_sync += 1);
            reports.push(Report::InSync(trigger));
            return ReconcileOutcome::Converged;
        }
        let changes = describe(&plan);
        let writes: Vec<String> = plan.writes.iter().map(crate::plan::Write::render).collect();
        let what = if trigger == Trigger::Poll {
            "drift"
        } else {
            "changes"
        };

        if self.config.check_only {
            self.stats.bump(|s| s.drift_reports += 1);
            let text = format!(
                "{what} (check-only, nothing written): {}; repair would write: {}",
                changes.join("; "),
                writes.join("; ")
            );
            if notice(&mut self.last_notice, &text) {
                tracing::warn!("{text}");
            } else {
                tracing::debug!("{text}");
            }
            reports.push(Report::Drift {
                trigger,
                changes,
                writes,
            });
            return ReconcileOutcome::Held;
        }

        let (threads, running) = disrupted(&live, &plan);
        if !threads.is_empty() {
            let t = render_list(&threads);
            let d = render_list(&running);
            if self.config.refuse_disruptive {
                self.stats.bump(|s| s.refused += 1);
                let text = format!("refusing to apply: the {what} need rem_device_all on thread(s) {t}, where {d} are sending; nothing written (stop the traffic, or run without --refuse-disruptive): {}", changes.join("; "));
                if notice(&mut self.last_notice, &text) {
                    tracing::error!("{text}");
                } else {
                    tracing::debug!("{text}");
                }
                reports.push(Report::Refused {
                    trigger,
                    threads,
                    running,
                });
                return ReconcileOutcome::Held;
            }
            tracing::warn!("TRAFFIC WILL STOP: the {what} need rem_device_all on thread(s) {t}, which stops {d} (use --refuse-disruptive to refuse such changes)");
        }

        // Never interrupted: SIGINT/SIGTERM are looked at between two reconciles only, so the
        // flag given to the apply is one that nobody sets.
        let never = AtomicBool::new(false);
        match execute_plan(&self.procfs, &good.desired, &live, &env, plan, &never) {
            Ok(report) => {
                let n = report.writes as u64;
                self.last_notice = None;
                self.stats.bump(|s| {
                    s.applies += 1;
                    s.writes += n;
                    if trigger == Trigger::Poll {
                        s.repairs += 1;
                    }
                });
                tracing::info!(
                    writes = n,
                    "applied {what}: {}; wrote: {}",
                    changes.join("; "),
                    writes.join("; ")
                );
                reports.push(Report::Applied {
                    trigger,
                    changes,
                    writes,
                    stopped_traffic: running,
                });
                ReconcileOutcome::Converged
            }
            Err(e) => {
                if let ApplyError::Write(w) = &e {
                    if let (Some(device), field) = (&w.write.device, w.write.field.as_deref()) {
                        if let Some(at) = good.sources.locate(device, field) {
                            tracing::error!(%at, "the kernel refused a value set here");
                        }
                    }
                }
                self.fail(WatchError::Apply(e), reports);
                ReconcileOutcome::Failed
            }
        }
    }

    fn fail(&mut self, error: WatchError, reports: &mut Vec<Report>) {
        self.stats.bump(|s| s.failures += 1);
        let text = error.to_string();
        if notice(&mut self.last_notice, &text) {
            tracing::error!("{text}; retrying later");
        } else {
            tracing::debug!("{text}; retrying later");
        }
        reports.push(Report::Failed(error));
    }
}

/// Whether `text` differs from the last notice (and remembers it).
fn notice(last: &mut Option<String>, text: &str) -> bool {
    if last.as_deref() == Some(text) {
        return false;
    }
    *last = Some(text.to_owned());
    true
}

/// Logs changes in the set of skipped devices, once per change rather than every poll.
fn note_skipped(
    known: &mut BTreeMap<DeviceName, String>,
    plan: &Plan,
    stats: &StatsHandle,
    reports: &mut Vec<Report>,
) {
    let now: BTreeMap<DeviceName, String> = plan.skipped.iter().cloned().collect();
    if &now == known {
        return;
    }
    let mut skipped = Vec::new();
    for (device, why) in &now {
        if known.get(device) != Some(why) {
            tracing::warn!(%device, "left out: {why}; it is added again when its interface is back and up");
            skipped.push((device.clone(), why.clone()));
        }
    }
    let back: Vec<DeviceName> = known
        .keys()
        .filter(|d| !now.contains_key(*d))
        .cloned()
        .collect();
    for device in &back {
        tracing::info!(%device, "no longer left out; its interface is available");
    }
    *known = now;
    stats.bump(|s| s.skipped_changes += 1);
    reports.push(Report::Skipped { skipped, back });
}

/// One line per difference: `device.field: old -> new`, or what happens to a device.
#[must_use]
pub fn describe(plan: &Plan) -> Vec<String> {
    let mut out = Vec::new();
    for a in &plan.actions {
        match a.action {
            ActionKind::Change => {
                for c in &a.changes {
                    out.push(format!("{}.{}: {} -> {}", a.device, c.field, c.old, c.new));
                }
            }
            ActionKind::Add => out.push(format!(
                "{}: missing from thread {}; adding it",
                a.device, a.thread
            )),
            ActionKind::Remove => out.push(format!(
                "{}: on thread {} but not in the state; removing it",
                a.device, a.thread
            )),
            ActionKind::Recreate => out.push(format!(
                "{}: re-creating on thread {} ({})",
                a.device,
                a.thread,
                a.reason.as_deref().unwrap_or("flushed")
            )),
        }
    }
    out
}

/// Threads the plan flushes while traffic runs on them, and the running devices there.
fn disrupted(live: &LiveState, plan: &Plan) -> (Vec<ThreadId>, Vec<DeviceName>) {
    let running_on = |t: ThreadId| {
        live.devices
            .iter()
            .filter(move |(_, d)| d.running && d.thread == t)
            .map(|(n, _)| n.clone())
    };
    let threads: Vec<ThreadId> = plan
        .flushed_threads
        .iter()
        .copied()
        .filter(|t| running_on(*t).next().is_some())
        .collect();
    let running = threads.iter().flat_map(|t| running_on(*t)).collect();
    (threads, running)
}

fn render_list<T: fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn render_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A hash of the bytes that may make up the state at `path`, to tell a real edit from a
/// chmod, a touch or a save of the same bytes without parsing. For a directory it covers
/// every non-hidden file, a superset of what [`load_path`] reads, so that it can only err
/// towards a needless re-parse. Symlinks are followed (`ConfigMap` mounts). Files too big to be
/// state files are hashed by size and mtime, so that a stray huge file is not read every
/// poll.
fn fingerprint(path: &Path) -> u64 {
    let mut h = DefaultHasher::new();
    match fs::metadata(path) {
        Err(e) => {
            "unreadable".hash(&mut h);
            e.kind().hash(&mut h);
        }
        Ok(m) if m.is_dir() => match fs::read_dir(path) {
            Err(e) => {
                "unlistable".hash(&mut h);
                e.kind().hash(&mut h);
            }
            Ok(entries) => {
                let mut files: Vec<PathBuf> = entries
                    .filter_map(Result::ok)
                    .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                    .map(|e| e.path())
                    .filter(|p| p.is_file())
                    .collect();
                files.sort();
                for f in &files {
                    f.hash(&mut h);
                    hash_file(f, &mut h);
                }
            }
        },
        Ok(_) => hash_file(path, &mut h),
    }
    h.finish()
}

fn hash_file(f: &Path, h: &mut DefaultHasher) {
    match fs::metadata(f) {
        Ok(m) if m.len() > MAX_STATE_FILE_BYTES => {
            (m.len(), m.mtime(), m.mtime_nsec()).hash(h);
            return;
        }
        _ => {}
    }
    match fs::read(f) {
        Ok(bytes) => {
            0u8.hash(h);
            bytes.hash(h);
        }
        Err(e) => {
            1u8.hash(h);
            e.kind().hash(h);
        }
    }
}

// ---------------------------------------------------------------------------------------
// The loop.
// ---------------------------------------------------------------------------------------

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
    let mut problem: Option<WatchError> = None;
    let mut in_sync = false;
    let mut reports = session.handle(Event::Tick);
    loop {
        let mut exit = false;
        for r in reports {
            match r {
                Report::Invalid(e) => problem = Some(WatchError::Load(e)),
                Report::Failed(e) => {
                    problem = Some(e);
                    in_sync = false;
                }
                Report::LockBusy(e) => {
                    problem = Some(WatchError::Lock(e));
                    in_sync = false;
                }
                Report::Refused {
                    threads, running, ..
                } => {
                    problem = Some(WatchError::Refused {
                        threads: render_list(&threads),
                        devices: render_list(&running),
                    });
                    in_sync = false;
                }
                Report::InSync(_) | Report::Applied { .. } => {
                    problem = None;
                    in_sync = true;
                }
                Report::Drift { .. } => {
                    problem = None;
                    in_sync = false;
                }
                Report::Exit => exit = true,
                _ => {}
            }
        }
        if exit || session.exited() {
            break;
        }
        // Signals are acted on here, between two handle() calls: never during an apply.
        reports = if terminate.load(Ordering::SeqCst) {
            session.handle(Event::Terminate)
        } else if hangup.swap(false, Ordering::SeqCst) {
            tracing::info!("SIGHUP: re-reading the state");
            session.handle(Event::Hangup)
        } else {
            let signal_check = Duration::from_millis(SIGNAL_CHECK_MS);
            let timeout = session
                .until_deadline()
                .map_or(signal_check, |d| d.min(signal_check));
            let mut r = Vec::new();
            if source.wait(timeout) {
                r = session.handle(Event::FilesChanged);
            }
            r.extend(session.handle(Event::Tick));
            r
        };
    }
    let summary = WatchSummary {
        stats: session.stats().snapshot(),
        in_sync,
    };
    match problem {
        Some(e) if session.config().once => Err(e),
        _ => Ok(summary),
    }
}

/// `pgstate watch`: keeps `procfs` converged to the state at `state_path` until `terminate`
/// is set (or, with `once`, converges once), with notify and the real clock. Setting
/// `hangup` re-reads the state at once. The caller installs the signal handlers that set
/// the flags (for example `signal_hook::flag::register`).
///
/// # Errors
///
/// [`WatchError::Notify`] if the file watcher cannot be set up; with `once`, as [`run`].
pub fn watch(
    procfs: Arc<dyn Procfs + Send + Sync>,
    state_path: &Path,
    config: WatchConfig,
    terminate: &AtomicBool,
    hangup: &AtomicBool,
) -> Result<WatchSummary, WatchError> {
    tracing::info!(
        state = %state_path.display(),
        debounce_ms = config.debounce.as_millis(),
        poll_ms = config.poll_interval.as_millis(),
        check_only = config.check_only,
        refuse_disruptive = config.refuse_disruptive,
        once = config.once,
        "watch starts"
    );
    let once = config.once;
    let mut session = WatchSession::new(procfs, state_path, config, SystemClock);
    if once {
        return run(&mut session, &mut NoEvents, terminate, hangup);
    }
    let mut source = NotifySource::new(state_path)?;
    run(&mut session, &mut source, terminate, hangup)
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
    fn reads_and_unrelated_files_are_not_changes_of_a_state_file() {
        use notify::event::{AccessKind, AccessMode, CreateKind, MetadataKind, ModifyKind};
        use notify::EventKind;
        let dir = tempfile::tempdir().unwrap();
        let dir = fs::canonicalize(dir.path()).unwrap();
        let state = dir.join("state.yaml");
        fs::write(&state, "devices: {}\n").unwrap();
        let mut source = NotifySource::new(&state).unwrap();
        let ev = |kind, path: &Path| notify::Event::new(kind).add_path(path.to_owned());
        // pgstate's own reads of the file must not count, or every reload would cause one.
        for access in [
            AccessKind::Open(AccessMode::Any),
            AccessKind::Read,
            AccessKind::Close(AccessMode::Read),
        ] {
            assert!(!source.consider(&ev(EventKind::Access(access), &state)));
        }
        let write_close = EventKind::Access(AccessKind::Close(AccessMode::Write));
        assert!(source.consider(&ev(write_close, &state)));
        let chmod = EventKind::Modify(ModifyKind::Metadata(MetadataKind::Any));
        assert!(source.consider(&ev(chmod, &state)));
        let create = EventKind::Create(CreateKind::File);
        assert!(!source.consider(&ev(create, &dir.join("other.txt"))));
        assert!(source.consider(&ev(create, &dir.join("..data"))));
        assert!(source.consider(&ev(create, &dir)));
        // A rescan (queue overflow) names no path.
        assert!(source.consider(&notify::Event::new(EventKind::Other)));
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
