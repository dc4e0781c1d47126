//! The targets a box has, found rather than read from a state, and the live state of a list
//! of targets as one state file (`pgstate show`).

use std::os::unix::fs::MetadataExt as _;
use std::path::Path;

use crate::kernel::KernelProfile;
use crate::model::NamespaceName;
use crate::procfs::observe::{read_live_state, ObserveError};
use crate::state_file::{state_file_from_live, NamespaceSpec, StateFile};

use super::{OpenTarget, Place, PlaceError};

/// Where `ip netns add` puts the namespaces it names.
pub const RUN_NETNS: &str = "/run/netns";

/// The namespaces `ip netns` names under [`RUN_NETNS`], sorted, without one that is the
/// namespace pgstate runs in (it is [`Place::Here`] already).
pub fn discover() -> std::io::Result<Vec<Place>> {
    let mut names: Vec<NamespaceName> = match std::fs::read_dir(RUN_NETNS) {
        Ok(dir) => dir
            .filter_map(|e| NamespaceName::new(e.ok()?.file_name().to_str()?).ok())
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    names.sort();
    Ok(names
        .into_iter()
        .map(Place::named)
        .filter(|p| {
            p.netns()
                .is_none_or(|n| !same_namespace(n.path(), Path::new("/proc/self/ns/net")))
        })
        .collect())
}

/// Whether two files are the same namespace (the same nsfs inode).
fn same_namespace(a: &Path, b: &Path) -> bool {
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
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
}

/// Reads every target's pktgen from inside it. A namespace without devices is left out: a
/// state that claimed it would remove what appears there later.
pub fn show(targets: &[OpenTarget]) -> Result<LiveStateFile, PlaceError<ObserveError>> {
    let mut file = StateFile::default();
    let mut here = false;
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
                file.namespaces.insert(
                    name.as_str().to_owned(),
                    NamespaceSpec {
                        netns: None,
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
    Ok(LiveStateFile { file, here })
}
