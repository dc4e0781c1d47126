//! How `watch` behaves: [`WatchConfig`] and its defaults.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::model::NamespaceName;

/// Which part of a state a watch session keeps: a state with `namespaces:` is watched by one
/// session per namespace, each through that namespace's own procfs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum WatchPart {
    /// The whole state, which must have no `namespaces:` (a single box).
    #[default]
    Whole,
    /// The top-level `devices:`: the namespace pgstate runs in.
    Current,
    /// One namespace of `namespaces:`.
    Named(NamespaceName),
}

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
    /// The part of the state this session keeps.
    pub part: WatchPart,
    /// Held around each reconcile, before the box lock: the sessions of one process (one per
    /// namespace) take turns instead of finding each other's flock busy.
    pub turn: Option<Arc<Mutex<()>>>,
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
            part: WatchPart::Whole,
            turn: None,
        }
    }
}
