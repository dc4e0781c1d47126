//! Opening the pktgen directory of the namespace pgstate runs in (`--proc-root`).
//!
//! Only commands that change the box (`apply`, `run`, `watch` without `--check-only`) may
//! load the module, and they say so: a read (`plan`, `show`, `diff`, `status`, ...) must not
//! have side effects, so it sees the box as pktgen would be right after `modprobe pktgen`
//! (`pgstate::procfs::unloaded`). `plan` then shows every device as to be added.
//!
//! A missing directory named `pktgen` whose parent exists (`/proc/net/pktgen`,
//! `/proc/PID/net/pktgen`) means the module is not loaded; any other missing `--proc-root`
//! is a wrong path and reported as one.

use std::ffi::OsString;
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Result};

use pgstate::procfs::unloaded::Unloaded;
use pgstate::procfs::{Procfs, RealProcfs};
use pgstate::targets::Here;

/// What a command may do to the box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Only look: never load the module.
    Read,
    /// Change it: load the module if it is not loaded.
    Change,
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
) -> Result<Here> {
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
            return Ok(Here {
                procfs: Arc::new(Unloaded::new(Arc::new(procfs), root)),
                loaded: false,
            });
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
    Ok(Here {
        procfs: Arc::new(procfs),
        loaded: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_missing_pktgen_directory_means_not_loaded() {
        let dir = tempfile::tempdir().unwrap();
        assert!(is_module_dir(&dir.path().join("pktgen")));
        assert!(!is_module_dir(&dir.path().join("pktgem")));
        assert!(!is_module_dir(&dir.path().join("net/pktgen")));
        assert!(is_module_dir(Path::new("/proc/net/pktgen")) == Path::new("/proc/net").is_dir());
    }
}
