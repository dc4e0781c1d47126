//! What a watch session reports: its counters ([`WatchStats`], shared through a
//! [`StatsHandle`]) and each thing it did or found ([`Report`]). The session produces them;
//! the observers (`observe`) and the callers read them, so they live apart from both.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::lock::LockError;
use crate::model::{DeviceName, ThreadId};
use crate::state_file::LoadError;

use super::clock::lock_ignoring_poison;
use super::error::WatchError;
use super::machine::Trigger;

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
    /// Reconciles after an edit that read only the devices it changed (and the thread
    /// files), planning against what the last converged reconcile left known.
    pub partial_reads: u64,
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

    pub(super) fn bump(&self, f: impl FnOnce(&mut WatchStats)) {
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
