//! pktgen as a read-only command sees it when the module is not loaded.
//!
//! Only commands that change the box may load the module; a read (`plan`, `show`, `status`,
//! ...) must have no side effects, so it sees the box as pktgen would be right after
//! `modprobe pktgen`. The module is global, so this holds for every network namespace alike:
//! [`Unloaded`] wraps the procfs of any namespace for its interface facts.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use super::{Interfaces, PgFile, Procfs, ProcfsError};

/// pktgen as `modprobe pktgen` would leave it: `pgctrl` and one idle `kpktgend_N` per online
/// CPU (`pktgen_init` starts a thread for each, REFERENCE §5.1), no devices. Interface facts
/// and the kernel release still come from the real system. It never writes.
pub struct Unloaded {
    /// The namespace's own procfs, for its interfaces and the kernel release.
    inner: Arc<dyn Procfs + Send + Sync>,
    /// The pktgen directory that is missing, for the errors.
    root: PathBuf,
    threads: Vec<u32>,
}

impl Unloaded {
    /// The unloaded pktgen of the namespace `inner` reaches; `root` is the missing directory.
    pub fn new(inner: Arc<dyn Procfs + Send + Sync>, root: impl Into<PathBuf>) -> Unloaded {
        Unloaded {
            inner,
            root: root.into(),
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
                path: self.root.join(file.file_name()),
            }),
        }
    }

    fn write(&self, _: &PgFile, _: &str) -> Result<(), ProcfsError> {
        Err(ProcfsError::NotLoaded {
            root: self.root.clone(),
        })
    }

    fn interfaces(&self, names: &BTreeSet<String>) -> Result<Interfaces, ProcfsError> {
        self.inner.interfaces(names)
    }

    fn kernel_release(&self) -> Option<String> {
        self.inner.kernel_release()
    }

    fn interface_counters(
        &self,
        interface: &str,
    ) -> Result<Option<super::netdev::InterfaceCounters>, ProcfsError> {
        self.inner.interface_counters(interface)
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
}
