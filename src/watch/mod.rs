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
//! whole state. After an edit it is planned against what the last converged reconcile left
//! known of the box, with the thread files and the devices the edit changed read again
//! (`known`), so an edit costs what it changed, not what the box holds; startup, SIGHUP and
//! every poll read the whole box, so drift anywhere is still repaired. That is why editors'
//! save dances, symlink swaps and re-created directories need no special cases beyond keeping the notify
//! watches alive: any burst of events becomes one reload after the debounce, and every poll
//! re-checks the files' fingerprint too, so a missed event costs at most one poll interval.
//!
//! This module never prints and never installs signal handlers: the CLI owns both.
//!
//! The parts, one file each: `machine` (the state machine: debounce, poll timing,
//! back-off, exit), `clock` (where the time comes from), `source` (file events from
//! notify, and the fingerprint of the state files' bytes), `observe` (what a running watch tells the outside: [`Observer`], [`Status`]), `report`
//! (what a session reports: [`Report`] and its counters), `known` (what a session keeps of the
//! box between reconciles), `session` (loading, reconciling
//! under the box lock), `drive` (the loop that feeds a session events and reads the signal
//! flags), `config` ([`WatchConfig`]) and `error` ([`WatchError`]). This file holds
//! [`watch`], which puts the parts together for the CLI.

mod clock;
mod config;
mod drive;
mod error;
mod known;
mod machine;
mod observe;
mod report;
mod session;
mod source;

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::procfs::Procfs;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{WatchConfig, WatchPart, DEFAULT_DEBOUNCE_MS, DEFAULT_POLL_INTERVAL_MS};
pub use drive::{run, run_observed, WatchSummary, SIGNAL_CHECK_MS};
pub use error::WatchError;
pub use machine::{
    Action, Event, LoadOutcome, ReconcileOutcome, Trigger, Watcher, DEBOUNCE_MAX_WINDOWS,
    LOCK_RETRY_MS, MAX_BACKOFF_MS,
};
pub use observe::{NoObserver, Observer, Status, STATUS_MAX_CHARS};
pub use report::{Report, StatsHandle, WatchStats};
pub use session::{describe, WatchSession};
pub use source::{EventSource, NoEvents, NotifySource};

/// `pgstate watch`: keeps `procfs` converged to the state at `state_path` until `terminate`
/// is set (or, with `once`, converges once), with notify and the real clock. Setting
/// `hangup` re-reads the state at once. The caller installs the signal handlers that set
/// the flags (for example `signal_hook::flag::register`). `observer` is told readiness,
/// reloads, status and the stop (the CLI forwards them to systemd and the metrics).
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
    observer: &mut dyn Observer,
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
        return run_observed(&mut session, &mut NoEvents, terminate, hangup, observer);
    }
    let mut source = NotifySource::new(state_path)?;
    run_observed(&mut session, &mut source, terminate, hangup, observer)
}
