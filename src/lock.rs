//! The box lock: one exclusive `flock` on a lock file, so that two pgstate processes (or
//! pgstate and a script that honours the same lock) never interleave writes to pktgen.
//!
//! The holder writes its pid and command line into the file, so that a waiting process can
//! say who holds the box.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Default lock file.
pub const DEFAULT_LOCK_FILE: &str = "/run/pgstate.lock";
/// How often a waiting process retries.
const LOCK_POLL_MS: u64 = 50;

/// The lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds it.
    #[error("another pgstate holds the lock {} ({holder}); waited {waited_ms} ms (see --lock-timeout)", .path.display())]
    Busy {
        /// The lock file.
        path: PathBuf,
        /// "pid N: command", as the holder wrote it.
        holder: String,
        /// How long this process waited.
        waited_ms: u128,
    },
    /// The lock file could not be opened or locked.
    #[error("cannot use the lock file {}: {error}", .path.display())]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The error.
        error: std::io::Error,
    },
}

/// A held lock; released when dropped (the kernel releases it if the process dies).
#[derive(Debug)]
pub struct BoxLock {
    file: File,
}

impl BoxLock {
    /// Takes the lock at `path`, waiting up to `timeout`. `what` (for example the command
    /// line) is recorded for other processes to see.
    pub fn acquire(path: &Path, timeout: Duration, what: &str) -> Result<BoxLock, LockError> {
        let io = |error| LockError::Io {
            path: path.to_owned(),
            error,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io)?;
        let start = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) => {
                    if start.elapsed() >= timeout {
                        let mut holder = String::new();
                        let _ = file.seek(SeekFrom::Start(0));
                        let _ = (&file).read_to_string(&mut holder);
                        let holder = holder.trim();
                        return Err(LockError::Busy {
                            path: path.to_owned(),
                            holder: if holder.is_empty() {
                                "holder unknown".into()
                            } else {
                                holder.to_owned()
                            },
                            waited_ms: start.elapsed().as_millis(),
                        });
                    }
                    std::thread::sleep(Duration::from_millis(LOCK_POLL_MS));
                }
                Err(TryLockError::Error(e)) => return Err(io(e)),
            }
        }
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        writeln!(file, "pid {}: {what}", std::process::id()).map_err(io)?;
        file.flush().map_err(io)?;
        Ok(BoxLock { file })
    }
}

impl Drop for BoxLock {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_pid_and_command() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let first = BoxLock::acquire(&path, Duration::ZERO, "pgstate apply a.yaml").unwrap();
        let err = BoxLock::acquire(&path, Duration::from_millis(120), "pgstate apply b.yaml")
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(&format!("pid {}: pgstate apply a.yaml", std::process::id())),
            "{text}"
        );
        assert!(matches!(err, LockError::Busy { waited_ms, .. } if waited_ms >= 100));
        drop(first);
        BoxLock::acquire(&path, Duration::ZERO, "pgstate apply b.yaml").unwrap();
    }
}
