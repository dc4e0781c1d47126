//! The box lock: one exclusive `flock` on a lock file, so that two pgstate processes (or
//! pgstate and a script that honours the same lock) never interleave writes to pktgen.
//!
//! The holder writes its pid and command line into the file, so that a waiting process can
//! say who holds the box.
//!
//! pgstate runs as root and `--lock-file` may name any path, also one in a directory other
//! users can write. So the file is handled with care, and nothing but pgstate's own lock
//! content is ever changed:
//!
//! * it is opened with `O_NOFOLLOW` (a symlink is refused, whatever `fs.protected_symlinks`
//!   says), `O_CLOEXEC`, and `O_CREAT|O_EXCL` when it is created (mode 0644), so that a file
//!   planted between a check and the open is never taken for a new one;
//! * the opened descriptor, not the path, must be a regular file with one link, owned by this
//!   user or root, and not writable by group or others;
//! * its content must be empty (a new file, or one made by `flock FILE ...`) or begin with
//!   [`LOCK_HEADER`]; anything else is someone's data and is refused;
//! * it is rewritten only while the `flock` is held, after checking the content again.

use std::fs::{File, OpenOptions, Permissions, TryLockError};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::fcntl::OFlag;

/// Default lock file.
pub const DEFAULT_LOCK_FILE: &str = "/run/pgstate.lock";
/// The first line of every lock file pgstate writes: how it recognises its own files.
pub const LOCK_HEADER: &str = "pgstate lock v1\n";
/// How often a waiting process retries.
const LOCK_POLL_MS: u64 = 50;
/// Mode of a lock file pgstate creates: anyone may read who holds the box.
const CREATE_MODE: u32 = 0o644;
/// A holder's command line is shortened to this many bytes, so that pgstate's own lock
/// content always stays under [`MAX_LOCK_LEN`].
const MAX_WHAT_LEN: usize = 1024;
/// A file larger than this is not a pgstate lock, whatever its first line says.
const MAX_LOCK_LEN: u64 = 4096;
/// How often the open is retried when the file vanishes between "it exists" and opening it.
const OPEN_ATTEMPTS: u32 = 5;

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
    /// The path is a symbolic link.
    #[error("refusing the lock file {}: it is a symbolic link, and pgstate never follows one there (it could point at any file); give the lock file's own path", .path.display())]
    Symlink {
        /// The lock file.
        path: PathBuf,
    },
    /// The path is a directory, a device, a FIFO or a socket.
    #[error("refusing the lock file {}: it is a {kind}, not a regular file", .path.display())]
    NotRegular {
        /// The lock file.
        path: PathBuf,
        /// What it is.
        kind: &'static str,
    },
    /// Group or others may write the file, so its content cannot be trusted.
    #[error("refusing the lock file {}: it is writable by group or others (mode {mode:04o}); run `chmod go-w` on it or pick another --lock-file", .path.display())]
    Writable {
        /// The lock file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Another user owns the file.
    #[error("refusing the lock file {}: it belongs to uid {uid}, neither this user nor root", .path.display())]
    ForeignOwner {
        /// The lock file.
        path: PathBuf,
        /// Its owner.
        uid: u32,
    },
    /// The file has other names, so it may be someone else's file.
    #[error("refusing the lock file {}: it has {links} hard links, so it may be another file's content", .path.display())]
    HardLinks {
        /// The lock file.
        path: PathBuf,
        /// Its link count.
        links: u64,
    },
    /// The file has content that pgstate did not write.
    #[error("refusing the lock file {}: it is not empty and is not a pgstate lock (its first line is not `{}`); pgstate never overwrites other files, so pick another --lock-file", .path.display(), LOCK_HEADER.trim_end())]
    NotALock {
        /// The lock file.
        path: PathBuf,
    },
    /// The lock file could not be opened, read, written or locked.
    #[error("cannot use the lock file {}: {error}", .path.display())]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The error.
        error: io::Error,
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
        let file = open_lock_file(path)?;
        let start = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) => {
                    if start.elapsed() >= timeout {
                        return Err(LockError::Busy {
                            path: path.to_owned(),
                            holder: read_holder(&file).unwrap_or_else(|| "holder unknown".into()),
                            waited_ms: start.elapsed().as_millis(),
                        });
                    }
                    std::thread::sleep(Duration::from_millis(LOCK_POLL_MS));
                }
                Err(TryLockError::Error(e)) => return Err(io(e)),
            }
        }
        // Checked again under the flock: whoever does not honour the lock may have written
        // the file since it was opened, and then it is no longer ours to rewrite.
        check_content(path, &file)?;
        let content = format!(
            "{LOCK_HEADER}pid {}: {}\n",
            std::process::id(),
            shorten(what)
        );
        file.write_all_at(content.as_bytes(), 0).map_err(io)?;
        // Only the rest of an earlier holder line goes: the content was verified as ours.
        file.set_len(content.len() as u64).map_err(io)?;
        Ok(BoxLock { file })
    }
}

impl Drop for BoxLock {
    fn drop(&mut self) {
        // Back to the bare header: the file stays recognisably pgstate's, and a waiting
        // process never names a holder that is gone. Still under the flock, so no one else
        // is rewriting it.
        let _ = self.file.set_len(LOCK_HEADER.len() as u64);
        let _ = self.file.unlock();
    }
}

/// Opens (or creates) the lock file and checks that it is a pgstate lock or empty.
fn open_lock_file(path: &Path) -> Result<File, LockError> {
    let io = |error| LockError::Io {
        path: path.to_owned(),
        error,
    };
    // O_NONBLOCK: opening a FIFO someone put there must not hang. O_NOCTTY: a terminal
    // device must not become the controlling terminal. Both are no-ops for regular files.
    let flags = (OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK | OFlag::O_NOCTTY).bits();
    for _ in 0..OPEN_ATTEMPTS {
        let created = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(CREATE_MODE)
            .custom_flags(flags)
            .open(path);
        match created {
            Ok(file) => {
                // The umask may have narrowed the mode; 0644 lets anyone read the holder.
                file.set_permissions(Permissions::from_mode(CREATE_MODE))
                    .map_err(io)?;
                check_metadata(path, &file)?;
                return Ok(file);
            }
            // Also the answer for a symlink, dangling or not: O_EXCL never follows one.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io(e)),
        }
        // A cheap look before opening, so that a device given by mistake (`--lock-file
        // /dev/sda`) is never opened at all. The checks on the opened descriptor below are
        // the ones that count against a file swapped in meanwhile.
        match std::fs::symlink_metadata(path) {
            Ok(meta) => refuse_type(path, &meta)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io(e)),
        }
        let opened = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(flags)
            .open(path);
        match opened {
            Ok(file) => {
                check_metadata(path, &file)?;
                check_content(path, &file)?;
                return Ok(file);
            }
            Err(e) if e.raw_os_error() == Some(nix::libc::ELOOP) => {
                return Err(LockError::Symlink {
                    path: path.to_owned(),
                })
            }
            Err(e) if e.raw_os_error() == Some(nix::libc::EISDIR) => {
                return Err(LockError::NotRegular {
                    path: path.to_owned(),
                    kind: "directory",
                })
            }
            // Removed between the two opens (by an operator cleaning up): create it again.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io(e)),
        }
    }
    Err(io(io::Error::other(
        "it keeps appearing and disappearing; is something else managing this path?",
    )))
}

/// Refuses anything but a regular file, from a `stat` of the path or of the descriptor.
fn refuse_type(path: &Path, meta: &std::fs::Metadata) -> Result<(), LockError> {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    let kind = if t.is_file() {
        return Ok(());
    } else if t.is_symlink() {
        return Err(LockError::Symlink {
            path: path.to_owned(),
        });
    } else if t.is_dir() {
        "directory"
    } else if t.is_fifo() {
        "FIFO"
    } else if t.is_socket() {
        "socket"
    } else if t.is_block_device() {
        "block device"
    } else if t.is_char_device() {
        "character device"
    } else {
        "special file"
    };
    Err(LockError::NotRegular {
        path: path.to_owned(),
        kind,
    })
}

/// The checks on the opened file (fstat, never the path, which may be a different file by
/// now): a regular file with one name that only this user or root can write.
fn check_metadata(path: &Path, file: &File) -> Result<(), LockError> {
    let meta = file.metadata().map_err(|error| LockError::Io {
        path: path.to_owned(),
        error,
    })?;
    refuse_type(path, &meta)?;
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(LockError::Writable {
            path: path.to_owned(),
            mode,
        });
    }
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me && meta.uid() != 0 {
        return Err(LockError::ForeignOwner {
            path: path.to_owned(),
            uid: meta.uid(),
        });
    }
    // A second name means the same content lives elsewhere too, perhaps as someone's file
    // hard-linked into a shared directory.
    if meta.nlink() != 1 {
        return Err(LockError::HardLinks {
            path: path.to_owned(),
            links: meta.nlink(),
        });
    }
    Ok(())
}

/// Accepts an empty file (adopted: there is nothing in it to lose) or pgstate's own lock.
fn check_content(path: &Path, file: &File) -> Result<(), LockError> {
    let io = |error| LockError::Io {
        path: path.to_owned(),
        error,
    };
    let len = file.metadata().map_err(io)?.len();
    if len == 0 {
        return Ok(());
    }
    if len > MAX_LOCK_LEN || len < LOCK_HEADER.len() as u64 {
        return Err(LockError::NotALock {
            path: path.to_owned(),
        });
    }
    let mut first = vec![0; LOCK_HEADER.len()];
    file.read_exact_at(&mut first, 0).map_err(io)?;
    if first != LOCK_HEADER.as_bytes() {
        return Err(LockError::NotALock {
            path: path.to_owned(),
        });
    }
    Ok(())
}

/// What the holder wrote after the header, if anything.
fn read_holder(file: &File) -> Option<String> {
    let mut buf = vec![0; MAX_LOCK_LEN as usize];
    let n = file.read_at(&mut buf, 0).ok()?;
    let text = String::from_utf8_lossy(&buf[..n]);
    let holder = text.strip_prefix(LOCK_HEADER)?.trim();
    (!holder.is_empty()).then(|| holder.to_owned())
}

/// `what` on one line and at most [`MAX_WHAT_LEN`] bytes.
fn shorten(what: &str) -> String {
    let one_line = what.replace(['\n', '\r'], " ");
    if one_line.len() <= MAX_WHAT_LEN {
        return one_line;
    }
    let mut end = MAX_WHAT_LEN;
    while !one_line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &one_line[..end])
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

    #[test]
    fn a_new_lock_is_0644_holds_the_header_and_keeps_only_it_when_released() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let held = BoxLock::acquire(&path, Duration::ZERO, "pgstate apply a.yaml").unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.mode() & 0o7777, 0o644);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!(
                "{LOCK_HEADER}pid {}: pgstate apply a.yaml\n",
                std::process::id()
            )
        );
        drop(held);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), LOCK_HEADER);
    }

    #[test]
    fn an_empty_file_is_adopted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        std::fs::write(&path, "").unwrap();
        std::fs::set_permissions(&path, Permissions::from_mode(0o600)).unwrap();
        drop(BoxLock::acquire(&path, Duration::ZERO, "x").unwrap());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), LOCK_HEADER);
        // An operator's mode is kept: only a new file gets 0644.
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.mode() & 0o7777, 0o600);
    }

    #[test]
    fn a_long_command_line_is_shortened_so_the_lock_stays_recognisable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let what = "x".repeat(10_000);
        drop(BoxLock::acquire(&path, Duration::ZERO, &what).unwrap());
        // Were the holder line written whole, the file would exceed MAX_LOCK_LEN and the
        // next acquire would refuse it as not a lock.
        let held = BoxLock::acquire(&path, Duration::ZERO, &what).unwrap();
        let len = std::fs::metadata(&path).unwrap().len();
        assert!(len <= MAX_LOCK_LEN, "{len}");
        drop(held);
    }

    #[test]
    fn a_hard_linked_file_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::write(&data, "").unwrap();
        let path = dir.path().join("lock");
        std::fs::hard_link(&data, &path).unwrap();
        let err = BoxLock::acquire(&path, Duration::ZERO, "x").unwrap_err();
        assert!(
            matches!(err, LockError::HardLinks { links: 2, .. }),
            "{err}"
        );
        assert_eq!(std::fs::read(&data).unwrap(), b"");
    }
}
