//! [`WatchError`]: why `watch` could not run, or (`--once`) could not converge.

use std::path::PathBuf;

use crate::apply::ApplyError;
use crate::lock::LockError;
use crate::state_file::LoadError;

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
