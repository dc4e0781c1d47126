//! [`RealProcfs`]: the kernel's `/proc/net/pktgen` (or any directory laid out like it).

use std::collections::BTreeSet;
use std::fs::{self, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{netlink, InterfaceInfo, Interfaces, PgFile, Procfs, ProcfsError};

/// The default pktgen directory.
pub const DEFAULT_ROOT: &str = "/proc/net/pktgen";

/// pktgen's procfs at `root`, with interface facts from rtnetlink (or a test tree).
#[derive(Debug, Clone)]
pub struct RealProcfs {
    root: PathBuf,
    /// Interface facts come from this tree, laid out like `/sys/class/net`, instead of
    /// rtnetlink (tests).
    sys_class_net: Option<PathBuf>,
    kernel_release: Option<String>,
}

impl RealProcfs {
    /// pktgen at `root`; interfaces from rtnetlink in this network namespace.
    pub fn new(root: impl Into<PathBuf>) -> RealProcfs {
        RealProcfs {
            root: root.into(),
            sys_class_net: None,
            kernel_release: None,
        }
    }

    /// Uses `release` instead of the running kernel's (for a `--proc-root` that belongs to
    /// another kernel, such as a saved copy).
    pub fn with_kernel_release(mut self, release: Option<String>) -> RealProcfs {
        self.kernel_release = release;
        self
    }

    /// Reads interface facts only from `dir`, laid out like `/sys/class/net` (tests).
    pub fn with_sys_class_net(mut self, dir: impl Into<PathBuf>) -> RealProcfs {
        self.sys_class_net = Some(dir.into());
        self
    }

    fn sysfs_interface(tree: &Path, name: &str) -> Option<InterfaceInfo> {
        let dir = tree.join(name);
        if !dir.exists() {
            return None;
        }
        let read = |leaf: &str| fs::read_to_string(dir.join(leaf)).ok();
        let mac = read("address").and_then(|s| s.trim().parse().ok());
        // `flags` is hex, e.g. 0x1003; IFF_UP is bit 0.
        let up = read("flags")
            .and_then(|s| u32::from_str_radix(s.trim().trim_start_matches("0x"), 16).ok())
            .is_some_and(|f| f & 1 == 1);
        Some(InterfaceInfo {
            mac,
            up,
            tx_queues: Self::sysfs_tx_queues(&dir),
        })
    }

    fn sysfs_tx_queues(dir: &Path) -> Option<u32> {
        fs::read_dir(dir.join("queues")).ok().map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with("tx-"))
                .count() as u32
        })
    }

    /// The pktgen directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, file: &PgFile) -> PathBuf {
        self.root.join(file.file_name())
    }

    fn map_err(&self, path: PathBuf, e: io::Error) -> ProcfsError {
        match e.kind() {
            io::ErrorKind::NotFound if !self.root.exists() => ProcfsError::NotLoaded {
                root: self.root.clone(),
            },
            io::ErrorKind::NotFound => ProcfsError::Missing { path },
            io::ErrorKind::PermissionDenied => ProcfsError::Permission { path },
            _ => ProcfsError::Io { path, error: e },
        }
    }
}

/// Reads a pktgen file. procfs reports a size of 0, so `fs::read_to_string` asks with a
/// `statx` and then probes and grows its buffer through about six reads of a device file;
/// one 4 KiB buffer takes a device file (under 2 KiB) in one read, and a second read sees its
/// end. Every readback reads every device file, and a syscall is dear under emulation.
fn read_small(path: &Path) -> io::Result<String> {
    let mut buf = Vec::with_capacity(4096);
    fs::File::open(path)?.read_to_end(&mut buf)?;
    String::from_utf8(buf).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Open flags, from nix's re-export of the C library.
mod libc_flags {
    pub const O_NOFOLLOW: i32 = nix::fcntl::OFlag::O_NOFOLLOW.bits();
    pub const O_CLOEXEC: i32 = nix::fcntl::OFlag::O_CLOEXEC.bits();
}

/// Whether pgstate may write a command into `f`: a file of procfs (pktgen's own), or a pipe
/// (which stores nothing; tests stand one in for a file that blocks).
fn writable_target(f: &std::fs::File) -> bool {
    let on_procfs = nix::sys::statfs::fstatfs(f)
        .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::PROC_SUPER_MAGIC);
    on_procfs || f.metadata().is_ok_and(|m| m.file_type().is_fifo())
}

/// Runs `modprobe pktgen` (`program` is normally `modprobe`), for when `/proc/net/pktgen` is
/// missing (REFERENCE §5.1: opening the directory does not load the module). modprobe's own
/// output is captured, not passed through: on failure its stderr is the error's text.
pub fn load_module(program: &std::ffi::OsStr) -> io::Result<()> {
    let out = Command::new(program).arg("pktgen").output()?;
    if out.status.success() {
        Ok(())
    } else {
        let said = String::from_utf8_lossy(&out.stderr);
        let said = said.trim();
        Err(io::Error::other(if said.is_empty() {
            format!("modprobe pktgen exited with {}", out.status)
        } else {
            format!("{said} ({})", out.status)
        }))
    }
}

impl Procfs for RealProcfs {
    fn list(&self) -> Result<Vec<String>, ProcfsError> {
        let entries = fs::read_dir(&self.root).map_err(|e| self.map_err(self.root.clone(), e))?;
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| self.map_err(self.root.clone(), e))?;
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    }

    fn read(&self, file: &PgFile) -> Result<String, ProcfsError> {
        let path = self.path(file);
        read_small(&path).map_err(|e| self.map_err(path, e))
    }

    fn write(&self, file: &PgFile, command: &str) -> Result<(), ProcfsError> {
        let path = self.path(file);
        // Never through a symlink, and never into a file of another file system: pgstate runs
        // as root, and a `--proc-root` pointing at the wrong directory must not overwrite the
        // first bytes of somebody's file with a pktgen command. Without O_TRUNC or O_CREAT,
        // nothing else can be lost.
        let mut f = OpenOptions::new()
            .write(true)
            .custom_flags(libc_flags::O_NOFOLLOW | libc_flags::O_CLOEXEC)
            .open(&path)
            .map_err(|e| self.map_err(path.clone(), e))?;
        if !writable_target(&f) {
            return Err(ProcfsError::NotProcfs { path });
        }
        let line = format!("{command}\n");
        // One write(2), never `write_all`: a short write must not be followed by the rest of
        // the command, which the kernel would read as a second command (REFERENCE §4).
        match f.write(line.as_bytes()) {
            Ok(n) if n == line.len() => Ok(()),
            Ok(n) => Err(ProcfsError::ShortWrite {
                file: file.file_name(),
                command: command.to_owned(),
                written: n,
                len: line.len(),
            }),
            Err(e) if e.raw_os_error().is_some() && e.kind() != io::ErrorKind::PermissionDenied => {
                Err(ProcfsError::Write {
                    file: file.file_name(),
                    command: command.to_owned(),
                    error: e,
                })
            }
            Err(e) => Err(self.map_err(path, e)),
        }
    }

    fn interfaces(&self, names: &BTreeSet<String>) -> Result<Interfaces, ProcfsError> {
        if let Some(tree) = &self.sys_class_net {
            return Ok(names
                .iter()
                .filter_map(|n| Some((n.clone(), Self::sysfs_interface(tree, n)?)))
                .collect());
        }
        netlink::query(names).map_err(|error| ProcfsError::Io {
            path: PathBuf::from("rtnetlink"),
            error,
        })
    }

    fn kernel_release(&self) -> Option<String> {
        if let Some(r) = &self.kernel_release {
            return Some(r.clone());
        }
        fs::read_to_string("/proc/sys/kernel/osrelease")
            .ok()
            .map(|s| s.trim().to_owned())
    }

    /// From `dev` beside the pktgen directory: `/proc/net/dev`, or inside a namespace's
    /// thread `/proc/thread-self/net/dev`, the namespace's own.
    fn interface_counters(
        &self,
        interface: &str,
    ) -> Result<Option<super::netdev::InterfaceCounters>, ProcfsError> {
        let path = self
            .root
            .parent()
            .map_or_else(|| PathBuf::from("/proc/net/dev"), |net| net.join("dev"));
        match fs::read_to_string(&path) {
            Ok(text) => Ok(super::netdev::parse_net_dev(&text, interface)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(ProcfsError::Io { path, error }),
        }
    }
}
