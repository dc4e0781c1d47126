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
//!
//! The parts, one file each: `machine` (the state machine: debounce, poll timing,
//! back-off, exit), `clock` (where the time comes from), `source` (file events from
//! notify, and the fingerprint of the state files' bytes), `session` (loading,
//! reconciling under the box lock, reports and counters, and the loop that reads the signal
//! flags). This file holds the configuration, the error and [`watch`], which puts the parts
//! together for the CLI.

mod clock;
mod machine;
mod session;
mod source;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use crate::apply::ApplyError;
use crate::lock::LockError;
use crate::procfs::Procfs;
use crate::spec::LoadError;

pub use clock::{Clock, ManualClock, SystemClock};
pub use machine::{
    Action, Event, LoadOutcome, ReconcileOutcome, Trigger, Watcher, DEBOUNCE_MAX_WINDOWS,
    LOCK_RETRY_MS, MAX_BACKOFF_MS,
};
pub use session::{
    describe, run, Report, StatsHandle, WatchSession, WatchStats, WatchSummary, SIGNAL_CHECK_MS,
};
pub use source::{EventSource, NoEvents, NotifySource};

/// Default quiet time after the last file event before the files are re-read.
pub const DEFAULT_DEBOUNCE_MS: u64 = 300;
/// Default interval between two looks at the live state (drift repair).
pub const DEFAULT_POLL_INTERVAL_MS: u64 = 5_000;

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
