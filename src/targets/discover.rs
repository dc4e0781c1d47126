//! The targets a box has, found rather than read from a state, and the live state of a list
//! of targets as one state file (`pgstate show`).
//!
//! A network namespace lives as long as something holds it: a process inside it, a bind
//! mount of its file (what `ip netns add NAME` makes at `/run/netns/NAME`), or an open file
//! descriptor. Mininet hosts and most containers are held only by their processes, with no
//! `/run/netns` entry, so discovery walks `/proc/PID/ns/net` too. Two files are the same
//! namespace when they are the same nsfs inode (`st_dev` and `st_ino` of `stat(2)`, which
//! follows the `ns/net` magic link to it): that is what `ip netns identify` compares, and it
//! needs no parsing of `readlink` text (`net:[4026532174]`), which names only the inode. A
//! process can exit between listing `/proc` and the `stat`, and another user's process may
//! not be readable (ptrace access mode, `proc(5)`): both are skipped, since neither is a
//! namespace pgstate could enter. Held open by a descriptor only, a namespace is not found.

use std::collections::{BTreeMap, HashSet};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use crate::kernel::KernelProfile;
use crate::model::NamespaceName;
use crate::procfs::netns::NetnsPath;
use crate::procfs::observe::{read_live_state, ObserveError};
use crate::state_file::{state_file_from_live, NamespaceSpec, StateFile};

use super::{OpenTarget, Place, PlaceError};

/// Where `ip netns add` puts the namespaces it names.
pub const RUN_NETNS: &str = "/run/netns";

/// Where discovery looks: `/run/netns` and `/proc` on a box, other trees in tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoverRoots {
    /// The `ip netns` directory ([`RUN_NETNS`]).
    pub run_netns: PathBuf,
    /// procfs: its `PID/ns/net` files and `self/ns/net`, the namespace pgstate runs in.
    pub proc: PathBuf,
}

impl Default for DiscoverRoots {
    fn default() -> DiscoverRoots {
        DiscoverRoots {
            run_netns: PathBuf::from(RUN_NETNS),
            proc: PathBuf::from("/proc"),
        }
    }
}

/// A directory discovery could not list.
#[derive(Debug, thiserror::Error)]
#[error("listing {}: {source}", .path.display())]
pub struct DiscoverError {
    /// Which.
    pub path: PathBuf,
    /// Why.
    #[source]
    pub source: std::io::Error,
}

/// Every network namespace of the box but the one pgstate runs in (it is [`Place::Here`]
/// already), each once, as [`discover_in`] finds them under `/run/netns` and `/proc`.
pub fn discover() -> Result<Vec<Place>, DiscoverError> {
    discover_in(&DiscoverRoots::default())
}

/// Every network namespace reachable under `roots` but the one of `PROC/self/ns/net`, each
/// once (the same nsfs inode is the same namespace): first those `ip netns` names, by name,
/// each under its name (of two names for one namespace, the first); then those only a
/// process holds, by pid, each named `pid-PID` after the lowest pid inside it and entered
/// through `PROC/PID/ns/net` (it lives as long as that process).
pub fn discover_in(roots: &DiscoverRoots) -> Result<Vec<Place>, DiscoverError> {
    let mut seen = HashSet::new();
    // Unreadable only without procfs: then no namespace is known to be this one.
    if let Some(here) = namespace_id(&roots.proc.join("self/ns/net")) {
        seen.insert(here);
    }
    let mut names: Vec<NamespaceName> = list(&roots.run_netns)?
        .into_iter()
        .filter_map(|name| NamespaceName::new(name.to_str()?).ok())
        .collect();
    names.sort();
    let mut places = Vec::new();
    for name in names {
        let netns = roots.run_netns.join(name.as_str());
        // An entry that cannot be stat'ed is kept: entering it says what is wrong with it.
        if namespace_id(&netns).is_some_and(|id| !seen.insert(id)) {
            continue;
        }
        places.push(Place::Namespace {
            netns: NetnsPath::file(netns),
            name,
        });
    }
    let taken: HashSet<String> = places
        .iter()
        .filter_map(|p| p.name().map(|n| n.as_str().to_owned()))
        .collect();
    let mut pids: Vec<u32> = list(&roots.proc)?
        .into_iter()
        .filter_map(|name| name.to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    for pid in pids {
        let netns = roots.proc.join(pid.to_string()).join("ns/net");
        match namespace_id(&netns) {
            Some(id) if seen.insert(id) => {}
            _ => continue,
        }
        let Ok(name) = NamespaceName::new(&pid_name(pid, &taken)) else {
            continue;
        };
        places.push(Place::Namespace {
            name,
            netns: NetnsPath::file(netns),
        });
    }
    Ok(places)
}

/// `pid-PID`, or with a suffix when `/run/netns` has that name for another namespace.
fn pid_name(pid: u32, taken: &HashSet<String>) -> String {
    let base = format!("pid-{pid}");
    (1..)
        .map(|n| match n {
            1 => base.clone(),
            n => format!("{base}-{n}"),
        })
        .find(|name| !taken.contains(name))
        .unwrap_or(base)
}

/// The names in `dir`; none when it does not exist (`/run/netns` before the first `ip netns
/// add`, `/proc` where procfs is not mounted).
fn list(dir: &Path) -> Result<Vec<std::ffi::OsString>, DiscoverError> {
    let error = |source| DiscoverError {
        path: dir.to_owned(),
        source,
    };
    match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.map(|e| e.file_name()).map_err(error))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(error(e)),
    }
}

/// Which namespace `file` is (its nsfs inode); `None` when it cannot be stat'ed: gone
/// (ENOENT, ESRCH), not readable (EACCES, EPERM), or anything else a process being torn
/// down gives.
fn namespace_id(file: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(file).ok().map(|m| (m.dev(), m.ino()))
}

/// The live state of a list of targets as one state file.
#[derive(Debug, Clone)]
pub struct LiveStateFile {
    /// The state: [`Place::Here`]'s devices at the top level, every namespace with devices
    /// under `namespaces:`.
    pub file: StateFile,
    /// Whether the file speaks for the namespace pgstate runs in (its top-level `devices:`
    /// is part of it): it has devices there, or nothing anywhere has any.
    pub here: bool,
    /// What a reader of the file should know about a namespace of it, by name: that one
    /// found through a process lives only as long as that process.
    pub notes: BTreeMap<String, String>,
}

/// Reads every target's pktgen from inside it. A namespace without devices is left out: a
/// state that claimed it would remove what appears there later.
pub fn show(targets: &[OpenTarget]) -> Result<LiveStateFile, PlaceError<ObserveError>> {
    let mut file = StateFile::default();
    let mut here = false;
    let mut notes = BTreeMap::new();
    for t in targets {
        let place = t.place();
        let live = read_live_state(&*t.procfs).map_err(|error| PlaceError {
            place: place.clone(),
            error,
        })?;
        let profile = t
            .procfs
            .kernel_release()
            .and_then(|r| KernelProfile::from_release(&r))
            .unwrap_or_default();
        let shown = state_file_from_live(&live, &profile);
        match place.name() {
            None => {
                here = !live.devices.is_empty();
                file.devices = shown.devices;
            }
            Some(_) if live.devices.is_empty() => {}
            Some(name) => {
                let netns = place
                    .netns()
                    .filter(|n| **n != NetnsPath::named(name.as_str()));
                if let Some(pid) = netns.and_then(NetnsPath::pid) {
                    notes.insert(name.as_str().to_owned(), pid_note(pid));
                }
                file.namespaces.insert(
                    name.as_str().to_owned(),
                    NamespaceSpec {
                        netns: netns.map(ToString::to_string),
                        threads: None,
                        devices: shown.devices,
                        receivers: Default::default(),
                    },
                );
            }
        }
    }
    // With nothing anywhere, the state of an empty namespace: `devices: {}`.
    let here = here || file.namespaces.is_empty();
    Ok(LiveStateFile { file, here, notes })
}

/// What a namespace entered through `/proc/PID/ns/net` is worth in a saved state.
fn pid_note(pid: u32) -> String {
    format!(
        "held only by process {pid} (no /run/netns name): it lives as long as that process, \
         and once the pid is reused this netns: is another process's namespace"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    /// A fake `/run/netns` and `/proc`: hard links of one file stand for files of one
    /// namespace (the same inode).
    struct Tree {
        dir: tempfile::TempDir,
    }

    impl Tree {
        fn new() -> Tree {
            let tree = Tree {
                dir: tempfile::tempdir().unwrap(),
            };
            fs::create_dir_all(tree.roots().run_netns).unwrap();
            fs::create_dir_all(tree.dir.path().join("inodes")).unwrap();
            fs::create_dir_all(tree.roots().proc).unwrap();
            tree
        }

        fn roots(&self) -> DiscoverRoots {
            DiscoverRoots {
                run_netns: self.dir.path().join("run/netns"),
                proc: self.dir.path().join("proc"),
            }
        }

        /// Namespace `ns` (made on first use) at `path` under the tree.
        fn link(&self, ns: &str, path: &str) {
            let inode = self.dir.path().join("inodes").join(ns);
            if !inode.exists() {
                fs::write(&inode, "").unwrap();
            }
            let path = self.dir.path().join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::hard_link(&inode, path).unwrap();
        }

        fn process(&self, pid: &str, ns: &str) {
            self.link(ns, &format!("proc/{pid}/ns/net"));
        }

        fn found(&self) -> Vec<(String, PathBuf)> {
            discover_in(&self.roots())
                .unwrap()
                .into_iter()
                .map(|p| {
                    let Place::Namespace { name, netns } = p else {
                        panic!("{p:?}")
                    };
                    let netns = netns.path().strip_prefix(self.dir.path()).unwrap();
                    (name.as_str().to_owned(), netns.to_owned())
                })
                .collect()
        }
    }

    fn found(list: &[(&str, &str)]) -> Vec<(String, PathBuf)> {
        list.iter()
            .map(|(n, p)| (n.to_string(), PathBuf::from(p)))
            .collect()
    }

    #[test]
    fn every_namespace_once_named_by_run_netns_else_by_its_lowest_pid() {
        let t = Tree::new();
        t.process("self", "init");
        t.process("1", "init");
        t.link("lab", "run/netns/lab");
        t.link("h2", "run/netns/h2");
        t.process("30", "lab");
        t.process("900", "mininet-h1");
        t.process("100", "mininet-h1");
        t.process("1000", "container");
        // A process gone between the listing and the stat, a thread group leader's task
        // directory is not looked at, and names that are not pids.
        fs::create_dir_all(t.dir.path().join("proc/77")).unwrap();
        fs::create_dir_all(t.dir.path().join("proc/sys/net")).unwrap();
        t.process("1000/task/1001", "task-only");
        assert_eq!(
            t.found(),
            found(&[
                ("h2", "run/netns/h2"),
                ("lab", "run/netns/lab"),
                ("pid-100", "proc/100/ns/net"),
                ("pid-1000", "proc/1000/ns/net"),
            ])
        );
    }

    #[test]
    fn this_namespace_is_not_listed_even_with_a_run_netns_name() {
        let t = Tree::new();
        t.process("self", "init");
        t.process("1", "init");
        t.link("init", "run/netns/default");
        t.process("5", "other");
        assert_eq!(t.found(), found(&[("pid-5", "proc/5/ns/net")]));
    }

    #[test]
    fn two_run_netns_names_of_one_namespace_give_it_once_under_the_first() {
        let t = Tree::new();
        t.process("self", "init");
        t.link("lab", "run/netns/b");
        t.link("lab", "run/netns/a");
        assert_eq!(t.found(), found(&[("a", "run/netns/a")]));
    }

    #[test]
    fn a_pid_name_that_run_netns_has_for_another_namespace_gets_a_suffix() {
        let t = Tree::new();
        t.process("self", "init");
        t.link("named", "run/netns/pid-5");
        t.link("named-2", "run/netns/pid-5-2");
        t.process("5", "held");
        assert_eq!(
            t.found(),
            found(&[
                ("pid-5", "run/netns/pid-5"),
                ("pid-5-2", "run/netns/pid-5-2"),
                ("pid-5-3", "proc/5/ns/net"),
            ])
        );
    }

    #[test]
    fn a_run_netns_entry_that_cannot_be_stated_is_kept_and_missing_roots_are_empty() {
        let t = Tree::new();
        t.process("self", "init");
        std::os::unix::fs::symlink("nowhere", t.dir.path().join("run/netns/stale")).unwrap();
        assert_eq!(t.found(), found(&[("stale", "run/netns/stale")]));
        let none = DiscoverRoots {
            run_netns: t.dir.path().join("no/run/netns"),
            proc: t.dir.path().join("no/proc"),
        };
        assert!(discover_in(&none).unwrap().is_empty());
        let not_a_dir = DiscoverRoots {
            run_netns: t.dir.path().join("inodes/init"),
            ..t.roots()
        };
        let err = discover_in(&not_a_dir).unwrap_err();
        assert!(err.to_string().starts_with("listing "), "{err}");
    }
}
