//! The only way pgstate reaches pktgen: the [`Procfs`] trait, its real implementation
//! ([`RealProcfs`]) and a faithful in-memory simulator (`SimProcfs`, behind the `simulator`
//! cargo feature), plus the parsers that turn file contents into the live model.

pub mod netdev;
pub mod netlink;
pub mod netns;
pub mod observe;
pub mod parse;
pub mod real;
#[cfg(feature = "simulator")]
pub mod sim;
pub mod unloaded;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io;
use std::path::PathBuf;

pub use real::RealProcfs;
#[cfg(feature = "simulator")]
pub use sim::SimProcfs;

use crate::model::{DeviceName, MacAddr, ThreadId};

/// One file under `/proc/net/pktgen`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PgFile {
    /// `pgctrl`: global start/stop/reset.
    Ctrl,
    /// `kpktgend_N`.
    Thread(ThreadId),
    /// A device file such as `eth0@3`.
    Device(DeviceName),
}

impl PgFile {
    /// The entry's name inside the pktgen directory.
    pub fn file_name(&self) -> String {
        match self {
            PgFile::Ctrl => "pgctrl".to_owned(),
            PgFile::Thread(t) => t.file_name(),
            PgFile::Device(d) => d.as_str().to_owned(),
        }
    }
}

impl fmt::Display for PgFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file_name())
    }
}

/// What pgstate knows about a network interface, from outside pktgen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceInfo {
    /// Its hardware address; pktgen shows it as `src_mac` while `src_mac` is unset.
    pub mac: Option<MacAddr>,
    /// Administratively up (`IFF_UP`): `add_device` fails with `ENETDOWN` otherwise.
    pub up: bool,
    /// Number of TX queues; pktgen clamps `queue_map_*` to this at start (REFERENCE §2.3).
    pub tx_queues: Option<u32>,
}

/// Facts of the interfaces that exist, by name.
pub type Interfaces = BTreeMap<String, InterfaceInfo>;

/// Errors from the procfs layer. The errno of a refused write is kept in `source`.
#[derive(Debug, thiserror::Error)]
pub enum ProcfsError {
    /// `/proc/net/pktgen` does not exist (module not loaded, or wrong `--proc-root`).
    #[error("{} does not exist: the pktgen module is not loaded (run `modprobe pktgen` as root)", .root.display())]
    NotLoaded {
        /// The directory that was expected.
        root: PathBuf,
    },
    /// Reading or writing needs root (every pktgen entry is mode 0600).
    #[error("permission denied on {}: pktgen's files are root-only (mode 0600); run pgstate as root", .path.display())]
    Permission {
        /// The file that could not be opened.
        path: PathBuf,
    },
    /// A write target that is not a pktgen file: outside procfs (a `--proc-root` that is an
    /// ordinary directory), so writing a command would overwrite somebody's data.
    #[error("{} is not a file of procfs: pgstate writes commands only to pktgen's proc files, never into ordinary files", .path.display())]
    NotProcfs {
        /// The file that was not written.
        path: PathBuf,
    },
    /// A file is missing, for example a device that was removed meanwhile.
    #[error("{} does not exist", .path.display())]
    Missing {
        /// The missing file.
        path: PathBuf,
    },
    /// The kernel refused a write with an errno.
    #[error(
        "writing '{command}' to {file} failed: {}{}",
        refusal_text(error),
        refusal_hint(command, error)
    )]
    Write {
        /// The file written to.
        file: String,
        /// The command, without its newline.
        command: String,
        /// The errno, as an `io::Error` (`raw_os_error()` gives the number).
        error: io::Error,
    },
    /// The kernel accepted fewer bytes than the command has (pre-6.15 `rate 0`, REFERENCE §4).
    #[error("writing '{command}' to {file}: the kernel took {written} of {len} bytes")]
    ShortWrite {
        /// The file written to.
        file: String,
        /// The command.
        command: String,
        /// Bytes taken.
        written: usize,
        /// Bytes offered.
        len: usize,
    },
    /// Any other I/O error.
    #[error("{}: {error}", .path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The error.
        error: io::Error,
    },
}

/// The kernel-internal `ENOTSUPP` (524), which pktgen returned before 6.15 where it now
/// returns `EOPNOTSUPP` (REFERENCE §6): libc has no text for it ("Unknown error 524").
const ENOTSUPP: i32 = 524;

/// What a refused write's errno says, with a name for the one libc does not know.
fn refusal_text(error: &io::Error) -> String {
    match error.raw_os_error() {
        Some(ENOTSUPP) => "Operation not supported (ENOTSUPP, 524)".to_owned(),
        _ => error.to_string(),
    }
}

/// Why pktgen refuses the commands whose "not supported" has one cause users meet: sending
/// one skb several times needs a driver that lets it share the skb (`IFF_TX_SKB_SHARING`,
/// checked in `pktgen_if_write` for `clone_skb` and `burst`), which veth and lo clear.
fn refusal_hint(command: &str, error: &io::Error) -> &'static str {
    let not_supported = matches!(error.raw_os_error(), Some(ENOTSUPP | libc::EOPNOTSUPP));
    let name = command.split_whitespace().next().unwrap_or_default();
    match name {
        "clone_skb" | "burst" | "xmit_mode" if not_supported => {
            " (pktgen sends a packet several times only through a driver that lets it share \
             the skb, IFF_TX_SKB_SHARING, which veth, lo and many virtual drivers lack; \
             clone_skb not with xmit_mode netif_receive, burst not with queue_xmit)"
        }
        _ => "",
    }
}

/// How long the files of pktgen's directory may stay as they are before a file found gone
/// is taken for that file alone going, not the module being unloaded.
pub const UNLOAD_QUIET_MS: u64 = 500;
/// The most an unload is waited for.
pub const UNLOAD_WAIT_MS: u64 = 10_000;
/// How often [`unloading`] looks.
const UNLOAD_POLL_MS: u64 = 10;

/// Whether pktgen is being unloaded (`rmmod pktgen`). Its exit (`pg_cleanup`, then
/// `pg_net_exit`) stops each thread, which removes its devices' files and its own
/// (`pktgen_thread_worker`), then removes `pgctrl` and last the directory; with hundreds of
/// devices that took seconds under emulation. So this waits for the directory to go for as
/// long as files keep going, and gives up once the listing stands still for
/// [`UNLOAD_QUIET_MS`]. For callers that found a file gone ([`ProcfsError::is_file_gone`]).
pub fn unloading(procfs: &dyn Procfs) -> bool {
    use std::time::{Duration, Instant};
    let start = Instant::now();
    let mut last = None;
    let mut changed = start;
    loop {
        let now = match procfs.list() {
            Err(ProcfsError::NotLoaded { .. }) => return true,
            Ok(files) => Some(files.len()),
            Err(_) => None,
        };
        if now != last {
            last = now;
            changed = Instant::now();
        }
        if changed.elapsed() >= Duration::from_millis(UNLOAD_QUIET_MS)
            || start.elapsed() >= Duration::from_millis(UNLOAD_WAIT_MS)
        {
            return false;
        }
        std::thread::sleep(Duration::from_millis(UNLOAD_POLL_MS));
    }
}

impl ProcfsError {
    /// Whether the file went away: removed, being removed (EIO, from
    /// `proc_reg_read`/`proc_reg_write` once `pde_is_gone`), or pktgen's directory itself
    /// gone. What a reader or writer sees of `rmmod pktgen` (see [`unloading`]).
    pub fn is_file_gone(&self) -> bool {
        match self {
            ProcfsError::NotLoaded { .. } | ProcfsError::Missing { .. } => true,
            // pktgen's own handlers never return EIO (REFERENCE §errors); a write that got it
            // raced the file's removal after its open succeeded (seen on 7.2 in the lab).
            ProcfsError::Io { error, .. } | ProcfsError::Write { error, .. } => {
                error.raw_os_error() == Some(libc::EIO)
            }
            _ => false,
        }
    }

    /// The errno of a refused write, if that is what this is.
    pub fn errno(&self) -> Option<i32> {
        match self {
            ProcfsError::Write { error, .. } => error.raw_os_error(),
            _ => None,
        }
    }
}

/// Everything pgstate may do to pktgen's procfs.
///
/// Implementations: [`RealProcfs`] (a directory, `/proc/net/pktgen` by default) and
/// `SimProcfs` (in memory, for tests; `simulator` feature). Methods take `&self`: a procfs is shared state that
/// the kernel mutates behind our back anyway.
pub trait Procfs {
    /// Names of the entries in the pktgen directory.
    fn list(&self) -> Result<Vec<String>, ProcfsError>;
    /// The whole content of one file.
    fn read(&self, file: &PgFile) -> Result<String, ProcfsError>;
    /// Exactly one `write(2)` of `command` followed by `\n` (REFERENCE §2.0: one write is one
    /// command; never retried, a short write is an error).
    fn write(&self, file: &PgFile, command: &str) -> Result<(), ProcfsError>;
    /// The interfaces among `names` that exist, as the kernel sees them, in one query: a
    /// reading of the box asks once for every interface it needs (REFERENCE §3.4, §7.1).
    fn interfaces(&self, names: &BTreeSet<String>) -> Result<Interfaces, ProcfsError>;
    /// The running kernel's release (`uname -r`), if known.
    fn kernel_release(&self) -> Option<String>;
    /// What the kernel counted on `interface` in this procfs's network namespace; `None`
    /// when it is not there, or this procfs cannot tell (the simulator).
    fn interface_counters(
        &self,
        interface: &str,
    ) -> Result<Option<netdev::InterfaceCounters>, ProcfsError> {
        let _ = interface;
        Ok(None)
    }
}

impl<P: Procfs + ?Sized> Procfs for std::sync::Arc<P> {
    fn list(&self) -> Result<Vec<String>, ProcfsError> {
        (**self).list()
    }
    fn read(&self, file: &PgFile) -> Result<String, ProcfsError> {
        (**self).read(file)
    }
    fn write(&self, file: &PgFile, command: &str) -> Result<(), ProcfsError> {
        (**self).write(file, command)
    }
    fn interfaces(&self, names: &BTreeSet<String>) -> Result<Interfaces, ProcfsError> {
        (**self).interfaces(names)
    }
    fn kernel_release(&self) -> Option<String> {
        (**self).kernel_release()
    }
    fn interface_counters(
        &self,
        interface: &str,
    ) -> Result<Option<netdev::InterfaceCounters>, ProcfsError> {
        (**self).interface_counters(interface)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(command: &str, errno: i32) -> String {
        ProcfsError::Write {
            file: "veth0".into(),
            command: command.into(),
            error: io::Error::from_raw_os_error(errno),
        }
        .to_string()
    }

    /// Before 6.15 pktgen refuses `clone_skb` on veth with the kernel-internal ENOTSUPP,
    /// which libc calls "Unknown error 524"; the message names it and says why.
    #[test]
    fn a_refused_clone_skb_says_what_the_kernel_meant() {
        for errno in [ENOTSUPP, libc::EOPNOTSUPP] {
            let text = refused("clone_skb 3", errno);
            assert!(text.contains("IFF_TX_SKB_SHARING"), "{text}");
            assert!(!text.contains("Unknown error"), "{text}");
        }
        assert!(refused("clone_skb 3", ENOTSUPP).contains("ENOTSUPP, 524"));
        assert!(refused("burst 4", libc::EOPNOTSUPP).contains("veth"));
        // Other refusals keep the kernel's word alone.
        let other = refused("count x", libc::EINVAL);
        assert!(other.ends_with("Invalid argument (os error 22)"), "{other}");
        assert!(!refused("count 1", ENOTSUPP).contains("IFF_TX_SKB_SHARING"));
    }

    /// A write refused with EIO raced `rmmod` (its open succeeded, the file then went):
    /// pktgen itself never answers EIO, so it is taken for the file going.
    #[test]
    fn a_write_refused_with_eio_is_the_file_going() {
        let write = |errno| ProcfsError::Write {
            file: "eth0@12".into(),
            command: "count 5".into(),
            error: io::Error::from_raw_os_error(errno),
        };
        assert!(write(libc::EIO).is_file_gone());
        assert!(!write(libc::EINVAL).is_file_gone());
        assert!(!write(libc::ENODEV).is_file_gone());
    }
}
