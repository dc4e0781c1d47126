//! Reads the whole pktgen directory into a [`LiveState`].

use super::parse::{self, ParseError};
use super::{PgFile, Procfs, ProcfsError};
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

/// Reads pgctrl, every thread and every device the threads list.
///
/// Devices are found through the thread lists rather than the directory listing: the lists
/// say which thread owns each device and are right even while a renamed interface leaves a
/// proc file under another name (REFERENCE §5.5, §7.1).
pub fn read_live_state(procfs: &dyn Procfs) -> Result<LiveState, ObserveError> {
    let names = procfs.list()?;
    let mut live = LiveState {
        version: parse::parse_pgctrl(&procfs.read(&PgFile::Ctrl)?),
        ..LiveState::default()
    };
    for name in &names {
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
    let listed: Vec<(ThreadId, DeviceName, bool)> = live
        .threads
        .iter()
        .flat_map(|(id, t)| {
            t.running
                .iter()
                .map(move |d| (*id, d.clone(), true))
                .chain(t.stopped.iter().map(move |d| (*id, d.clone(), false)))
        })
        .collect();
    for (thread, name, running) in listed {
        let device = read_device(procfs, thread, &name, running)?;
        live.devices.insert(name, device);
    }
    live.stray_files = names
        .into_iter()
        .filter(|n| {
            n != "pgctrl"
                && ThreadId::from_file_name(n).is_none()
                && !live.devices.keys().any(|d| d.as_str() == n)
        })
        .collect();
    Ok(live)
}

/// Reads one device file and normalises what the kernel shows in place of unset values.
pub fn read_device(
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
                result: String::new(),
                imix_size_counts: Vec::new(),
            })
        }
        Err(e) => return Err(e.into()),
    };
    let file = parse::parse_device(name.as_str(), &text)?;
    let mut config = file.config;
    // An unset src_mac shows the interface's MAC (REFERENCE §3.4); setting it to that MAC
    // looks the same, so both read back as "unset".
    if let Some(mac) = procfs.interface(name.interface())?.and_then(|i| i.mac) {
        if config.src_mac == mac {
            config.src_mac = MacAddr::ZERO;
        }
    }
    Ok(LiveDevice {
        thread,
        config: Some(config),
        running,
        sofar: file.sofar,
        errors: file.errors,
        result: file.result,
        imix_size_counts: file.imix_size_counts,
    })
}
