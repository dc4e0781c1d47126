//! pktgen of another network namespace, reached from inside it.
//!
//! Every network namespace has its own pktgen: its own threads, devices and `pgctrl`, and
//! `pgctrl` acts on the namespace of the process that writes it (REFERENCE §5.7). So every
//! read, write and interface query for a namespace is made by a thread that entered it with
//! `setns(CLONE_NEWNET)`; the pgstate process itself never changes namespace, and nothing
//! opened in one namespace is used in another.
//!
//! Inside such a thread `/proc/self/net` still shows the namespace of the thread-group
//! leader, so the thread reads `/proc/thread-self/net/pktgen` (LAB-NOTES, busybox guest
//! pitfalls). Its rtnetlink sockets are opened inside the namespace too, so interface facts
//! are the namespace's own.

use std::collections::BTreeSet;
use std::fmt;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;

use nix::sched::{setns, CloneFlags};

use super::{Interfaces, PgFile, Procfs, ProcfsError, RealProcfs};

/// pktgen's directory as a thread inside a namespace must name it.
pub const THREAD_SELF_ROOT: &str = "/proc/thread-self/net/pktgen";

/// Where a namespace is: an `ip netns` name or any netns file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NetnsPath(PathBuf);

impl NetnsPath {
    /// The namespace `ip netns add NAME` made: `/run/netns/NAME`.
    pub fn named(name: &str) -> NetnsPath {
        NetnsPath(Path::new("/run/netns").join(name))
    }

    /// Any file of a network namespace, e.g. `/proc/4242/ns/net` (a Mininet host's shell).
    pub fn file(path: impl Into<PathBuf>) -> NetnsPath {
        NetnsPath(path.into())
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// The process whose namespace this is, for a `PROC/PID/ns/net` file: the namespace is
    /// there only while that process lives.
    pub fn pid(&self) -> Option<u32> {
        if !self.0.ends_with("ns/net") {
            return None;
        }
        let pid = self.0.parent()?.parent()?.file_name()?.to_str()?;
        // `parse` alone would take `+12`, which procfs never names a process.
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        pid.parse().ok()
    }
}

impl fmt::Display for NetnsPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.display())
    }
}

/// Why a namespace could not be entered.
#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    /// The file does not exist (`ip netns add` not run, or the process is gone).
    #[error("network namespace {path} does not exist")]
    Missing {
        /// The file.
        path: NetnsPath,
    },
    /// The file exists but is not a network namespace.
    #[error("{path} is not a network namespace file ({error})")]
    NotNetns {
        /// The file.
        path: NetnsPath,
        /// What setns said.
        error: io::Error,
    },
    /// Any other failure (permissions, the worker thread).
    #[error("entering network namespace {path}: {error}")]
    Io {
        /// The file.
        path: NetnsPath,
        /// The error.
        error: io::Error,
    },
}

type Job = Box<dyn FnOnce(&RealProcfs) + Send>;

/// Moves the calling thread into the network namespace `netns` (`setns(CLONE_NEWNET)`); the
/// other threads of the process stay where they are. Every thread pgstate sends into a
/// namespace (its procfs, a capture) enters it here.
pub fn enter_this_thread(netns: &NetnsPath) -> Result<(), NetnsError> {
    let file = File::open(netns.path()).map_err(|error| match error.kind() {
        io::ErrorKind::NotFound => NetnsError::Missing {
            path: netns.clone(),
        },
        _ => NetnsError::Io {
            path: netns.clone(),
            error,
        },
    })?;
    setns(&file, CloneFlags::CLONE_NEWNET).map_err(|errno| {
        // EINVAL: the file is not a network namespace (setns(2)).
        if errno == nix::errno::Errno::EINVAL {
            NetnsError::NotNetns {
                path: netns.clone(),
                error: errno.into(),
            }
        } else {
            NetnsError::Io {
                path: netns.clone(),
                error: errno.into(),
            }
        }
    })
}

/// A thread inside one network namespace, and the pktgen it sees. Each call is run by that
/// thread; calls from several threads of pgstate queue up. The thread ends when the last
/// clone is dropped.
#[derive(Clone)]
pub struct NetnsProcfs {
    netns: NetnsPath,
    jobs: Arc<Mutex<mpsc::Sender<Job>>>,
}

impl fmt::Debug for NetnsProcfs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NetnsProcfs")
            .field("netns", &self.netns)
            .finish_non_exhaustive()
    }
}

impl NetnsProcfs {
    /// Starts a thread that enters `netns` and serves pktgen's files there.
    pub fn enter(netns: &NetnsPath) -> Result<NetnsProcfs, NetnsError> {
        let (jobs_tx, jobs_rx) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), NetnsError>>();
        let name = format!("netns {}", netns.path().display());
        let target = netns.clone();
        thread::Builder::new()
            .name(name)
            .spawn(move || {
                let entered = enter_this_thread(&target);
                let ok = entered.is_ok();
                let _ = ready_tx.send(entered);
                if !ok {
                    return;
                }
                let procfs = RealProcfs::new(THREAD_SELF_ROOT);
                for job in jobs_rx {
                    job(&procfs);
                }
            })
            .map_err(|error| NetnsError::Io {
                path: netns.clone(),
                error,
            })?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(NetnsProcfs {
                netns: netns.clone(),
                jobs: Arc::new(Mutex::new(jobs_tx)),
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(NetnsError::Io {
                path: netns.clone(),
                error: io::Error::other("the namespace thread ended before entering"),
            }),
        }
    }

    /// The namespace.
    pub fn netns(&self) -> &NetnsPath {
        &self.netns
    }

    /// Runs `f` on the namespace's thread and returns its result.
    fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&RealProcfs) -> R + Send + 'static,
    ) -> Result<R, ProcfsError> {
        let (tx, rx) = mpsc::channel();
        let job: Job = Box::new(move |procfs| {
            let _ = tx.send(f(procfs));
        });
        let gone = || ProcfsError::Io {
            path: self.netns.path().to_owned(),
            error: io::Error::other("the namespace's thread has ended"),
        };
        self.jobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .send(job)
            .map_err(|_| gone())?;
        rx.recv().map_err(|_| gone())
    }
}

impl Procfs for NetnsProcfs {
    fn list(&self) -> Result<Vec<String>, ProcfsError> {
        self.call(|p| p.list())?
    }
    fn read(&self, file: &PgFile) -> Result<String, ProcfsError> {
        let file = file.clone();
        self.call(move |p| p.read(&file))?
    }
    fn write(&self, file: &PgFile, command: &str) -> Result<(), ProcfsError> {
        let (file, command) = (file.clone(), command.to_owned());
        self.call(move |p| p.write(&file, &command))?
    }
    fn interfaces(&self, names: &BTreeSet<String>) -> Result<Interfaces, ProcfsError> {
        let names = names.clone();
        self.call(move |p| p.interfaces(&names))?
    }
    fn kernel_release(&self) -> Option<String> {
        self.call(|p| p.kernel_release()).ok().flatten()
    }
    fn interface_counters(
        &self,
        interface: &str,
    ) -> Result<Option<super::netdev::InterfaceCounters>, ProcfsError> {
        let interface = interface.to_owned();
        self.call(move |p| p.interface_counters(&interface))?
    }
}

/// The identity of a namespace file: the nsfs device and inode `stat(2)` gives. A namespace
/// that is deleted and created again under the same name is a new inode.
fn identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// A [`NetnsProcfs`] for a long-running `watch`: before each call it checks that the
/// namespace file still names the namespace it entered. When the namespace is gone
/// (`ip netns del`, a Mininet host that exited), calls fail with [`ProcfsError::Missing`]
/// and that is logged once; when a namespace appears under the file again, it is entered
/// anew and that is logged: nothing of the old namespace is used for the new one. (The
/// thread inside a deleted namespace would otherwise keep it alive and keep reconciling a
/// namespace nobody can reach.)
#[derive(Debug)]
pub struct ReattachingNetns {
    netns: NetnsPath,
    attached: Mutex<Option<((u64, u64), NetnsProcfs)>>,
    /// Whether the namespace was found gone (logged once per disappearance).
    gone: std::sync::atomic::AtomicBool,
}

impl ReattachingNetns {
    /// Enters `netns` now; an error when it cannot be entered at all.
    pub fn enter(netns: &NetnsPath) -> Result<ReattachingNetns, NetnsError> {
        let procfs = NetnsProcfs::enter(netns)?;
        let id = identity(netns.path()).ok_or_else(|| NetnsError::Missing {
            path: netns.clone(),
        })?;
        Ok(ReattachingNetns {
            netns: netns.clone(),
            attached: Mutex::new(Some((id, procfs))),
            gone: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// The namespace's procfs now: the attached one while the file still names it, a new one
    /// once the file names another namespace.
    fn current(&self) -> Result<NetnsProcfs, ProcfsError> {
        use std::sync::atomic::Ordering;
        let mut attached = self
            .attached
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = identity(self.netns.path());
        if let (Some(id), Some((was, procfs))) = (now, attached.as_ref()) {
            if id == *was {
                return Ok(procfs.clone());
            }
        }
        // Gone or replaced: the old thread (and the namespace it kept alive) is dropped.
        *attached = None;
        let missing = || ProcfsError::Missing {
            path: self.netns.path().to_owned(),
        };
        let Some(id) = now else {
            if !self.gone.swap(true, Ordering::SeqCst) {
                tracing::warn!(netns = %self.netns, "the network namespace is gone; it is re-attached when it comes back");
            }
            return Err(missing());
        };
        match NetnsProcfs::enter(&self.netns) {
            Ok(procfs) => {
                if self.gone.swap(false, Ordering::SeqCst) {
                    tracing::info!(netns = %self.netns, "the network namespace is back; re-attached");
                } else {
                    tracing::info!(netns = %self.netns, "the network namespace was replaced; re-attached to the new one");
                }
                *attached = Some((id, procfs.clone()));
                Ok(procfs)
            }
            Err(e) => {
                if !self.gone.swap(true, Ordering::SeqCst) {
                    tracing::warn!(netns = %self.netns, error = %e, "the network namespace cannot be entered; retrying");
                }
                Err(missing())
            }
        }
    }
}

impl Procfs for ReattachingNetns {
    fn list(&self) -> Result<Vec<String>, ProcfsError> {
        self.current()?.list()
    }
    fn read(&self, file: &PgFile) -> Result<String, ProcfsError> {
        self.current()?.read(file)
    }
    fn write(&self, file: &PgFile, command: &str) -> Result<(), ProcfsError> {
        self.current()?.write(file, command)
    }
    fn interfaces(&self, names: &BTreeSet<String>) -> Result<Interfaces, ProcfsError> {
        self.current()?.interfaces(names)
    }
    fn kernel_release(&self) -> Option<String> {
        self.current().ok()?.kernel_release()
    }
    fn interface_counters(
        &self,
        interface: &str,
    ) -> Result<Option<super::netdev::InterfaceCounters>, ProcfsError> {
        self.current()?.interface_counters(interface)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_process_ns_net_file_has_a_pid() {
        let pid = |p: &str| NetnsPath::file(p).pid();
        assert_eq!(pid("/proc/4242/ns/net"), Some(4242));
        assert_eq!(pid("/tmp/fake/proc/7/ns/net"), Some(7));
        assert_eq!(pid("/proc/self/ns/net"), None);
        assert_eq!(pid("/proc/+12/ns/net"), None);
        assert_eq!(pid("/proc/4242/ns/mnt"), None);
        assert_eq!(NetnsPath::named("4242").pid(), None);
    }

    #[test]
    fn a_missing_namespace_and_a_file_that_is_not_one_are_refused() {
        let missing = NetnsPath::named("pgstate-test-no-such-netns");
        assert!(matches!(
            NetnsProcfs::enter(&missing),
            Err(NetnsError::Missing { .. })
        ));
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain");
        std::fs::write(&plain, "not a namespace").unwrap();
        let err = NetnsProcfs::enter(&NetnsPath::file(&plain)).unwrap_err();
        assert!(matches!(err, NetnsError::NotNetns { .. }), "{err}");
    }

    #[test]
    fn the_own_namespace_can_be_entered_and_shows_its_interfaces() {
        // Entering the namespace we are in is allowed and changes nothing for the process.
        let own = NetnsPath::file("/proc/self/ns/net");
        let procfs = NetnsProcfs::enter(&own).unwrap();
        let found = procfs
            .interfaces(&BTreeSet::from(["lo".to_owned()]))
            .unwrap();
        assert!(found.contains_key("lo"));
    }

    fn ip(args: &[&str]) {
        let st = std::process::Command::new("ip").args(args).status();
        assert!(st.is_ok_and(|s| s.success()), "ip {args:?}");
    }

    /// Runs `test` with a new `ip netns` namespace named `name`, deleted afterwards (unless
    /// the test deleted it itself), and re-raises the test's panic.
    fn with_named_netns(name: &str, test: impl FnOnce() + std::panic::UnwindSafe) {
        ip(&["netns", "add", name]);
        let result = std::panic::catch_unwind(test);
        if std::path::Path::new("/run/netns").join(name).exists() {
            ip(&["netns", "del", name]);
        }
        if let Err(panic) = result {
            std::panic::resume_unwind(panic);
        }
    }

    #[test]
    fn a_named_namespace_shows_its_own_interfaces_not_ours() {
        let name = format!("pgstate-unit-{}", std::process::id());
        with_named_netns(&name, || {
            // veth rather than dummy: the dummy module may be missing where the tests run.
            ip(&[
                "-n", &name, "link", "add", "inside0", "type", "veth", "peer", "name", "inside1",
            ]);
            let procfs = NetnsProcfs::enter(&NetnsPath::named(&name)).unwrap();
            let names = BTreeSet::from(["inside0".to_owned(), "lo".to_owned()]);
            let inside = procfs.interfaces(&names).unwrap();
            assert!(inside.contains_key("inside0") && inside.contains_key("lo"));
            // The process itself stayed where it was.
            let here = super::super::netlink::query(&names).unwrap();
            assert!(!here.contains_key("inside0"), "{here:?}");
        });
    }

    #[test]
    fn a_namespace_that_goes_away_fails_and_is_re_attached_when_it_returns() {
        let name = format!("pgstate-reattach-{}", std::process::id());
        with_named_netns(&name, || {
            ip(&[
                "-n", &name, "link", "add", "first0", "type", "veth", "peer", "name", "first1",
            ]);
            let procfs = ReattachingNetns::enter(&NetnsPath::named(&name)).unwrap();
            let names = BTreeSet::from(["first0".to_owned(), "second0".to_owned()]);
            assert!(procfs.interfaces(&names).unwrap().contains_key("first0"));
            ip(&["netns", "del", &name]);
            assert!(matches!(
                procfs.interfaces(&names),
                Err(ProcfsError::Missing { .. })
            ));
            // A new namespace under the same name: entered anew, the old one's interfaces gone.
            ip(&["netns", "add", &name]);
            ip(&[
                "-n", &name, "link", "add", "second0", "type", "veth", "peer", "name", "second1",
            ]);
            let now = procfs.interfaces(&names).unwrap();
            assert!(
                now.contains_key("second0") && !now.contains_key("first0"),
                "{now:?}"
            );
        });
    }
}
