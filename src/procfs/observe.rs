//! Reads the whole pktgen directory into a [`LiveState`].

use std::collections::BTreeSet;

use super::parse::{self, ParseError};
use super::{Interfaces, PgFile, Procfs, ProcfsError};
use crate::model::{DeviceName, LiveDevice, LiveState, LiveThread, MacAddr, ThreadId};

/// Reading the live state failed.
#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    /// The procfs could not be read.
    #[error(transparent)]
    Procfs(#[from] ProcfsError),
    /// A file could not be parsed.
    #[error(transparent)]
    Parse(#[from] ParseError),
}

/// Reads pgctrl, every thread and every device the threads list, and the facts of the
/// interfaces those devices are on.
///
/// Devices are found through the thread lists rather than the directory listing: the lists
/// say which thread owns each device and are right even while a renamed interface leaves a
/// proc file under another name (REFERENCE §5.5, §7.1).
pub fn read_live_state(procfs: &dyn Procfs) -> Result<LiveState, ObserveError> {
    read_box(procfs, &BTreeSet::new()).map(|(live, _)| live)
}

/// Like [`read_live_state`], and also returns the facts of the interfaces the live devices
/// and `also` name: one interface query per reading of the box, however many devices share
/// an interface.
pub fn read_box(
    procfs: &dyn Procfs,
    also: &BTreeSet<String>,
) -> Result<(LiveState, Interfaces), ObserveError> {
    let names = procfs.list()?;
    let mut live = LiveState {
        version: parse::parse_pgctrl(&procfs.read(&PgFile::Ctrl)?),
        ..LiveState::default()
    };
    read_threads(procfs, &names, &mut live)?;
    for (thread, name, running) in listed(&live) {
        let device = read_device(procfs, thread, &name, running)?;
        live.devices.insert(name, device);
    }
    live.stray_files = stray_files(names, &live);
    let interfaces = interfaces_of(procfs, &live, also)?;
    normalize(&mut live, &interfaces);
    Ok((live, interfaces))
}

/// Reads the box again after writes that touched only `touched`: the thread files (which say
/// what exists where) and the files of `touched` and of devices `before` did not have. Every
/// other device is as `before` read it, since nothing wrote to it. `interfaces` are the facts
/// the plan was made with.
pub fn read_touched(
    procfs: &dyn Procfs,
    before: &LiveState,
    touched: &BTreeSet<DeviceName>,
    interfaces: &Interfaces,
) -> Result<LiveState, ObserveError> {
    refresh(procfs, before.clone(), touched, interfaces).map(|(live, _)| live)
}

/// [`read_touched`] of a reading that is not needed afterwards: its devices are moved into the
/// new reading rather than copied. Also returns the devices the thread files list that
/// `before` did not have and `touched` does not name: added by someone else since.
pub fn refresh(
    procfs: &dyn Procfs,
    mut before: LiveState,
    touched: &BTreeSet<DeviceName>,
    interfaces: &Interfaces,
) -> Result<(LiveState, Vec<DeviceName>), ObserveError> {
    let mut unknown = Vec::new();
    let names = procfs.list()?;
    let mut live = LiveState {
        version: std::mem::take(&mut before.version),
        ..LiveState::default()
    };
    read_threads(procfs, &names, &mut live)?;
    for (thread, name, running) in listed(&live) {
        let is_touched = touched.contains(&name);
        let kept = if is_touched {
            None
        } else {
            before.devices.remove(&name)
        };
        let device = match kept {
            Some(old) => LiveDevice {
                thread,
                running,
                ..old
            },
            None => {
                if !is_touched {
                    unknown.push(name.clone());
                }
                let mut device = read_device(procfs, thread, &name, running)?;
                normalize_device(&name, &mut device, interfaces);
                device
            }
        };
        live.devices.insert(name, device);
    }
    live.stray_files = stray_files(names, &live);
    Ok((live, unknown))
}

fn read_threads(
    procfs: &dyn Procfs,
    names: &[String],
    live: &mut LiveState,
) -> Result<(), ObserveError> {
    for name in names {
        if let Some(id) = ThreadId::from_file_name(name) {
            let text = match procfs.read(&PgFile::Thread(id)) {
                Ok(t) => t,
                // The netns or module went away between list and read.
                Err(ProcfsError::Missing { .. }) => continue,
                Err(e) => return Err(e.into()),
            };
            let t = parse::parse_thread(name, &text)?;
            live.threads.insert(
                id,
                LiveThread {
                    running: t.running,
                    stopped: t.stopped,
                    result: t.result,
                    unmanageable: t.unmanageable,
                },
            );
        }
    }
    Ok(())
}

/// Every device the threads list: (thread, name, running).
fn listed(live: &LiveState) -> Vec<(ThreadId, DeviceName, bool)> {
    live.threads
        .iter()
        .flat_map(|(id, t)| {
            t.running
                .iter()
                .map(move |d| (*id, d.clone(), true))
                .chain(t.stopped.iter().map(move |d| (*id, d.clone(), false)))
        })
        .collect()
}

fn stray_files(names: Vec<String>, live: &LiveState) -> Vec<String> {
    names
        .into_iter()
        .filter(|n| {
            n != "pgctrl"
                && ThreadId::from_file_name(n).is_none()
                && DeviceName::new(n).map_or(true, |d| !live.devices.contains_key(&d))
        })
        .collect()
}

fn interfaces_of(
    procfs: &dyn Procfs,
    live: &LiveState,
    also: &BTreeSet<String>,
) -> Result<Interfaces, ProcfsError> {
    let mut names = also.clone();
    names.extend(live.devices.keys().map(|d| d.interface().to_owned()));
    procfs.interfaces(&names)
}

fn normalize(live: &mut LiveState, interfaces: &Interfaces) {
    for (name, device) in &mut live.devices {
        normalize_device(name, device, interfaces);
    }
}

/// An unset src_mac shows the interface's MAC (REFERENCE §3.4); setting it to that MAC looks
/// the same, so both read back as "unset".
fn normalize_device(name: &DeviceName, device: &mut LiveDevice, interfaces: &Interfaces) {
    let iface_mac = interfaces.get(name.interface()).and_then(|i| i.mac);
    if let (Some(config), Some(mac)) = (&mut device.config, iface_mac) {
        if config.src_mac == mac {
            config.src_mac = MacAddr::ZERO;
        }
    }
}

/// Reads one device file. Its src_mac is as the kernel shows it: see [`read_box`].
fn read_device(
    procfs: &dyn Procfs,
    thread: ThreadId,
    name: &DeviceName,
    running: bool,
) -> Result<LiveDevice, ObserveError> {
    let text = match procfs.read(&PgFile::Device(name.clone())) {
        Ok(t) => t,
        Err(ProcfsError::Missing { .. }) => {
            return Ok(LiveDevice {
                thread,
                config: None,
                running,
                sofar: 0,
                errors: 0,
                started_us: 0,
                stopped_us: 0,
                result: String::new(),
                imix_size_counts: Vec::new(),
            })
        }
        Err(e) => return Err(e.into()),
    };
    let file = parse::parse_device(name.as_str(), &text)?;
    Ok(LiveDevice {
        thread,
        config: Some(file.config),
        running,
        sofar: file.sofar,
        errors: file.errors,
        started_us: file.started_us,
        stopped_us: file.stopped_us,
        result: file.result,
        imix_size_counts: file.imix_size_counts,
    })
}
