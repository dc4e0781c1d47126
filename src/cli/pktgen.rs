//! Opening the pktgen directory, and what a command sees when pktgen is not loaded.
//!
//! Only commands that change the box (`apply`, `run`, `watch` without `--check-only`) may
//! load the module, and they say so: a read (`plan`, `show`, `diff`, `status`, ...) must not
//! have side effects, so it sees the box as pktgen would be right after `modprobe pktgen`:
//! one idle thread per online CPU and no devices. `plan` then shows every device as to be
//! added.
//!
//! A missing directory named `pktgen` whose parent exists (`/proc/net/pktgen`,
//! `/proc/PID/net/pktgen`) means the module is not loaded; any other missing `--proc-root`
//! is a wrong path and reported as one.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::Path;

use anyhow::{bail, Result};

use pgstate::procfs::{Interfaces, PgFile, Procfs, ProcfsError, RealProcfs};

/// What a command may do to the box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Only look: never load the module.
    Read,
    /// Change it: load the module if it is not loaded.
    Change,
}

/// The pktgen directory as a command found it.
pub enum Opened {
    /// pktgen is there.
    Loaded(RealProcfs),
    /// pktgen is not loaded, and the command only reads: an empty box.
    NotLoaded(Unloaded),
}

impl Opened {
    /// Shared between threads (`run`, `watch`).
    pub fn into_shared(self) -> std::sync::Arc<dyn Procfs + Send + Sync> {
        match self {
            Opened::Loaded(p) => std::sync::Arc::new(p),
            Opened::NotLoaded(u) => std::sync::Arc::new(u),
        }
    }

    /// Whether pktgen is loaded.
    pub fn is_loaded(&self) -> bool {
        matches!(self, Opened::Loaded(_))
    }

    /// The procfs to read from.
    pub fn procfs(&self) -> &(dyn Procfs + Send + Sync) {
        match self {
            Opened::Loaded(p) => p,
            Opened::NotLoaded(u) => u,
        }
    }
}

/// Whether a missing `root` means "pktgen is not loaded" rather than a wrong path.
fn is_module_dir(root: &Path) -> bool {
    root.file_name().is_some_and(|n| n == "pktgen")
        && root
            .parent()
            .is_some_and(|p| !p.as_os_str().is_empty() && p.is_dir())
}

/// Opens `procfs`'s directory for `access`; `modprobe` is the program that loads modules.
/// `say` prints a note for the user (stderr).
pub fn open(
    procfs: RealProcfs,
    access: Access,
    modprobe: &OsString,
    say: impl Fn(&str),
) -> Result<Opened> {
    let root = procfs.root().to_owned();
    if !root.exists() {
        if !is_module_dir(&root) {
            bail!(
                "--proc-root {} does not exist (pktgen's directory is /proc/net/pktgen)",
                root.display()
            );
        }
        if access == Access::Read {
            say("pktgen is not loaded: nothing configured");
            return Ok(Opened::NotLoaded(Unloaded::new(procfs)));
        }
        say(&format!(
            "{} is missing: loading the pktgen module (modprobe pktgen)",
            root.display()
        ));
        if let Err(e) = pgstate::procfs::real::load_module(modprobe) {
            bail!(
                "{} does not exist and `modprobe pktgen` failed: {e}\n\
                 pktgen is not available on this kernel: install the kernel's modules package \
                 (CONFIG_NET_PKTGEN) or point --proc-root at a pktgen directory",
                root.display()
            );
        }
        if !root.exists() {
            bail!(
                "`modprobe pktgen` succeeded but {} still does not exist",
                root.display()
            );
        }
    }
    procfs.list()?;
    Ok(Opened::Loaded(procfs))
}

/// pktgen as `modprobe pktgen` would leave it: `pgctrl` and one idle `kpktgend_N` per online
/// CPU (`pktgen_init` starts a thread for each, REFERENCE §5.1), no devices. Interface facts
/// and the kernel release still come from the real system. It never writes.
pub struct Unloaded {
    real: RealProcfs,
    threads: Vec<u32>,
}

impl Unloaded {
    fn new(real: RealProcfs) -> Unloaded {
        Unloaded {
            real,
            threads: online_cpus(),
        }
    }
}

/// The online CPUs, from `/sys/devices/system/cpu/online` (`0-3,6`); the number of usable
/// CPUs if that cannot be read.
fn online_cpus() -> Vec<u32> {
    std::fs::read_to_string("/sys/devices/system/cpu/online")
        .ok()
        .and_then(|s| parse_cpu_list(s.trim()))
        .unwrap_or_else(|| {
            let n = std::thread::available_parallelism().map_or(1, |n| n.get());
            (0..u32::try_from(n).unwrap_or(1)).collect()
        })
}

/// Parses a kernel CPU list such as `0-3,6`.
fn parse_cpu_list(text: &str) -> Option<Vec<u32>> {
    let mut cpus = Vec::new();
    for part in text.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (a.parse::<u32>().ok()?, b.parse::<u32>().ok()?);
                // A bound keeps a corrupt list from allocating without end.
                if b < a || b - a > 65_536 {
                    return None;
                }
                cpus.extend(a..=b);
            }
            None => cpus.push(part.parse().ok()?),
        }
    }
    (!cpus.is_empty()).then_some(cpus)
}

impl Procfs for Unloaded {
    fn list(&self) -> Result<Vec<String>, ProcfsError> {
        let mut names: Vec<String> = self
            .threads
            .iter()
            .map(|t| format!("kpktgend_{t}"))
            .collect();
        names.push("pgctrl".into());
        names.sort();
        Ok(names)
    }

    fn read(&self, file: &PgFile) -> Result<String, ProcfsError> {
        match file {
            PgFile::Ctrl => {
                Ok("Packet Generator for packet performance testing. Version: 2.75\n".into())
            }
            PgFile::Thread(t) if self.threads.contains(&t.0) => {
                Ok("Running: \nStopped: \nResult: NA\n".into())
            }
            _ => Err(ProcfsError::Missing {
                path: self.real.root().join(file.file_name()),
            }),
        }
    }

    fn write(&self, _: &PgFile, _: &str) -> Result<(), ProcfsError> {
        Err(ProcfsError::NotLoaded {
            root: self.real.root().to_owned(),
        })
    }

    fn interfaces(&self, names: &BTreeSet<String>) -> Result<Interfaces, ProcfsError> {
        self.real.interfaces(names)
    }

    fn kernel_release(&self) -> Option<String> {
        self.real.kernel_release()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_parse_as_the_kernel_writes_them() {
        assert_eq!(parse_cpu_list("0"), Some(vec![0]));
        assert_eq!(parse_cpu_list("0-3,6"), Some(vec![0, 1, 2, 3, 6]));
        assert_eq!(parse_cpu_list("3-1"), None);
        assert_eq!(parse_cpu_list("0-4294967295"), None);
        assert_eq!(parse_cpu_list(""), None);
        assert_eq!(parse_cpu_list("x"), None);
    }

    #[test]
    fn only_a_missing_pktgen_directory_means_not_loaded() {
        let dir = tempfile::tempdir().unwrap();
        assert!(is_module_dir(&dir.path().join("pktgen")));
        assert!(!is_module_dir(&dir.path().join("pktgem")));
        assert!(!is_module_dir(&dir.path().join("net/pktgen")));
        assert!(is_module_dir(Path::new("/proc/net/pktgen")) == Path::new("/proc/net").is_dir());
    }
}
