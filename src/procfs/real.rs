//! [`RealProcfs`]: the kernel's `/proc/net/pktgen` (or any directory laid out like it).

use std::fs::{self, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{InterfaceInfo, PgFile, Procfs, ProcfsError};
use crate::model::MacAddr;

/// The default pktgen directory.
pub const DEFAULT_ROOT: &str = "/proc/net/pktgen";
/// Where interface facts (MAC, up/down, queues) are read from.
pub const DEFAULT_SYS_CLASS_NET: &str = "/sys/class/net";

/// pktgen's procfs at `root`, with interface facts from `sys_class_net`.
#[derive(Debug, Clone)]
pub struct RealProcfs {
    root: PathBuf,
    sys_class_net: PathBuf,
    /// Interface facts come from `sys_class_net` alone (a test tree), not from netlink.
    sysfs_only: bool,
    kernel_release: Option<String>,
}

impl RealProcfs {
    /// pktgen at `root`; interfaces from `/sys/class/net`.
    pub fn new(root: impl Into<PathBuf>) -> RealProcfs {
        RealProcfs {
            root: root.into(),
            sys_class_net: PathBuf::from(DEFAULT_SYS_CLASS_NET),
            sysfs_only: false,
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
        self.sys_class_net = dir.into();
        self.sysfs_only = true;
        self
    }

    fn sysfs_interface(&self, name: &str) -> Option<InterfaceInfo> {
        let dir = self.sys_class_net.join(name);
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
            tx_queues: self.sysfs_tx_queues(name),
        })
    }

    fn sysfs_tx_queues(&self, name: &str) -> Option<u32> {
        fs::read_dir(self.sys_class_net.join(name).join("queues"))
            .ok()
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter(|e| e.file_name().to_string_lossy().starts_with("tx-"))
                    .count() as u32
            })
    }

    /// Interface facts of this process's network namespace, from netlink (`getifaddrs`).
    ///
    /// `/sys/class/net` shows the namespace sysfs was mounted in, which is not ours after a
    /// plain `nsenter -n`/`unshare -n` (Mininet hosts do this): there it would list the host's
    /// interfaces. sysfs is used only for the TX queue count, and only when it lists exactly
    /// the interfaces netlink does.
    fn netlink_interface(&self, name: &str) -> Result<Option<InterfaceInfo>, ProcfsError> {
        let addrs: Vec<_> = nix::ifaddrs::getifaddrs()
            .map_err(|e| ProcfsError::Io {
                path: PathBuf::from("getifaddrs"),
                error: e.into(),
            })?
            .collect();
        let mine: Vec<_> = addrs.iter().filter(|a| a.interface_name == name).collect();
        if mine.is_empty() {
            return Ok(None);
        }
        let up = mine
            .iter()
            .any(|a| a.flags.contains(nix::net::if_::InterfaceFlags::IFF_UP));
        let mac = mine
            .iter()
            .find_map(|a| a.address.as_ref()?.as_link_addr()?.addr())
            .map(MacAddr);
        let netlink_names: std::collections::BTreeSet<&str> =
            addrs.iter().map(|a| a.interface_name.as_str()).collect();
        let sysfs_names: std::collections::BTreeSet<String> = fs::read_dir(&self.sys_class_net)
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        let same_namespace = sysfs_names.len() == netlink_names.len()
            && sysfs_names
                .iter()
                .all(|n| netlink_names.contains(n.as_str()));
        let tx_queues = if same_namespace {
            self.sysfs_tx_queues(name)
        } else {
            None
        };
        Ok(Some(InterfaceInfo { mac, up, tx_queues }))
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

/// Runs `modprobe pktgen`, for when `/proc/net/pktgen` is missing (REFERENCE §5.1: opening
/// the directory does not load the module).
pub fn load_module() -> io::Result<()> {
    let status = Command::new("modprobe").arg("pktgen").status()?;
    if status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "modprobe pktgen exited with {status}"
        )))
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
        fs::read_to_string(&path).map_err(|e| self.map_err(path, e))
    }

    fn write(&self, file: &PgFile, command: &str) -> Result<(), ProcfsError> {
        let path = self.path(file);
        let mut f = OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(|e| self.map_err(path.clone(), e))?;
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

    fn interface(&self, name: &str) -> Result<Option<InterfaceInfo>, ProcfsError> {
        if self.sysfs_only {
            Ok(self.sysfs_interface(name))
        } else {
            self.netlink_interface(name)
        }
    }

    fn kernel_release(&self) -> Option<String> {
        if let Some(r) = &self.kernel_release {
            return Some(r.clone());
        }
        fs::read_to_string("/proc/sys/kernel/osrelease")
            .ok()
            .map(|s| s.trim().to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interfaces_come_from_this_network_namespace() {
        let procfs = RealProcfs::new("/nonexistent");
        let lo = procfs
            .interface("lo")
            .unwrap()
            .expect("every namespace has lo");
        assert_eq!(lo.mac, Some(MacAddr::ZERO));
        assert!(procfs.interface("no-such-if0").unwrap().is_none());
    }
}
