//! What tells a watch session to look at the state files again: the [`EventSource`] trait,
//! [`NotifySource`] (notify watches on the state's directory and its parent) and
//! [`NoEvents`]; and the fingerprint of the state files' bytes, which decides whether a
//! re-read needs a parse. No parsing and no pktgen here.

use std::collections::hash_map::DefaultHasher;
use std::fmt;
use std::fs;
use std::hash::{Hash, Hasher};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use crate::state_file::MAX_STATE_FILE_BYTES;

use super::error::WatchError;

/// Tells [`super::run`] that something happened to the state files.
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

/// A hash of the bytes that may make up the state at `path`, to tell a real edit from a
/// chmod, a touch or a save of the same bytes without parsing. For a directory it covers
/// every non-hidden file, a superset of what [`crate::state_file::load_path`] reads, so that it can only err
/// towards a needless re-parse. Symlinks are followed (`ConfigMap` mounts). Files too big to be
/// state files are hashed by size and mtime, so that a stray huge file is not read every
/// poll.
pub(super) fn fingerprint(path: &Path) -> u64 {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
