//! [`SimProcfs`]: an in-memory model of `/proc/net/pktgen` for tests.
//!
//! It behaves like `net/core/pktgen.c` of the configured [`KernelProfile`] at the text level:
//! a write is tokenised exactly as `pktgen_if_write` / `pktgen_thread_write` / `pgctrl_write`
//! do (REFERENCE §2.0–§2.3), both error channels are kept (the errno of the write and the
//! `Result:` text, REFERENCE §4), and reads render byte-exactly what `pktgen_if_show`,
//! `pktgen_thread_show` and `pgctrl_show` print (REFERENCE §3, §8). The replay test
//! `tests/sim_transcripts.rs` checks all of this against the real 6.1 and 6.12 transcripts.
//!
//! What is modelled beyond plain configuration:
//! * interfaces (type, up/down, `IFF_TX_SKB_SHARING`, TX queues), their removal and renaming
//!   (`NETDEV_UNREGISTER` / `NETDEV_CHANGENAME`, REFERENCE §5.5);
//! * the asynchronous `rem_device_all` (REFERENCE §2.2) as a configurable lag counted in calls
//!   of [`Procfs::list`];
//! * fault injection by write index ([`SimProcfs::fail_write`], [`SimProcfs::fail_result_at`]);
//! * traffic: `start` does not block; [`SimProcfs::advance`] sends packets on a deterministic
//!   fake clock (1 µs per packet plus the configured `delay`, which counts as idle time) and
//!   finishes streams with a `show_results` text in the exact kernel format (REFERENCE §3.3).
//!
//! Not modelled: interface addresses (so `cur_saddr` stays `0.0.0.0` / `::` at start, as on the
//! transcripts' dummy interfaces), the per-packet stepping of addresses, ports and MACs, random
//! choices (flows, `*_RND` flags), `EPERM`/`EFAULT`/`ENOMEM`, and network namespaces (use one
//! `SimProcfs` per namespace).
//!
//! The parts, each named after the kernel functions it mirrors:
//! * this file: [`SimProcfs`], its set-up API and the [`Procfs`] implementation;
//! * `state`: the namespace's state (`struct pktgen_dev`, threads, interfaces) and the
//!   kernel's constants;
//! * `parse`: the kernel's little parsers (`num_arg`, `hex32_arg`, `strn_len`, `get_labels`,
//!   `get_imix_entries`, `in_aton`, `mac_pton`);
//! * `if_write`: `pktgen_if_write`;
//! * `thread_write`: `pktgen_thread_write` and `pktgen_add_device`;
//! * `run`: `pgctrl_write` and the runs it starts and stops (`pktgen_run`, `pktgen_xmit` on
//!   the fake clock, `pktgen_stop_device`);
//! * `show`: `pktgen_if_show` and `pktgen_thread_show`.
//!
//! Compiled only with the `simulator` cargo feature, which the tests and benches enable: the
//! installed binary does not carry it. None of it does any real I/O.

// The simulator mirrors C integer conversions on purpose: the kernel parses into an
// `unsigned long` and stores into `int`, `__u16`, `__u32`... fields, truncating silently
// (REFERENCE §2.3: "udp ports kept mod 65536", `%u` of an `int`, ...).
#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use super::{InterfaceInfo, Interfaces, PgFile, Procfs, ProcfsError};
use crate::kernel::KernelProfile;
use crate::model::MacAddr;

/// Appends formatted text to a `String` (writing to a `String` cannot fail).
macro_rules! put {
    ($out:expr, $($arg:tt)*) => {{
        let _ = write!($out, $($arg)*);
    }};
}

mod if_write;
mod parse;
mod run;
mod show;
mod state;
mod thread_write;

#[cfg(test)]
mod tests;

use if_write::device_write;
use run::{send_packets, stop_device};
use show::render_device;
use state::{thread_file_name, Fault, State, Thread, CLOCK_START_NS};

pub use state::{SimIfaceKind, SimInterface};

const PROC_ROOT: &str = "/proc/net/pktgen";
/// `pgctrl_show` (REFERENCE §3.1, §8.1).
const VERSION_TEXT: &str = "Packet Generator for packet performance testing. Version: 2.75\n";

/// An in-memory `/proc/net/pktgen` of one network namespace. See the module documentation.
#[derive(Debug)]
pub struct SimProcfs {
    state: Mutex<State>,
}

impl SimProcfs {
    /// A fresh namespace with the pktgen module loaded: `pgctrl` and one `kpktgend_N` per
    /// entry of `cpus` (the CPUs online when the namespace was set up, REFERENCE §1), and no
    /// interfaces.
    #[must_use]
    pub fn new(profile: KernelProfile, cpus: &[u32]) -> SimProcfs {
        let threads = cpus
            .iter()
            .map(|&cpu| Thread {
                cpu,
                result: String::new(),
                devices: Vec::new(),
            })
            .collect();
        SimProcfs {
            state: Mutex::new(State {
                profile,
                threads,
                interfaces: BTreeMap::new(),
                removal_lag: 1,
                faults: BTreeMap::new(),
                writes: 0,
                log: Vec::new(),
                clock_ns: CLOCK_START_NS,
                debug: 0,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic in another test thread must not hide this simulator's state.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds (or replaces) an Ethernet interface with `IFF_TX_SKB_SHARING` and one TX queue.
    pub fn add_interface(&self, name: &str, mac: MacAddr, up: bool) {
        self.add_interface_with(name, SimInterface::ether(mac, up));
    }

    /// Adds (or replaces) an interface described in full.
    pub fn add_interface_with(&self, name: &str, iface: SimInterface) {
        self.lock().interfaces.insert(name.to_owned(), iface);
    }

    /// Sets an interface up or down. Running streams on a down interface stop at the next
    /// [`advance`](Self::advance), as `pktgen_xmit` stops them. Returns false if it does not
    /// exist.
    pub fn set_interface_up(&self, name: &str, up: bool) -> bool {
        match self.lock().interfaces.get_mut(name) {
            Some(iface) => {
                iface.up = up;
                true
            }
            None => false,
        }
    }

    /// Deletes an interface (`NETDEV_UNREGISTER`, REFERENCE §5.5): every stream named `name`
    /// or `name@…` is stopped and removed at once, on every thread. Like
    /// `pktgen_mark_device`, this matches names, so streams of a renamed interface stay.
    /// Returns false if the interface did not exist.
    pub fn remove_interface(&self, name: &str) -> bool {
        let mut st = self.lock();
        let existed = st.interfaces.remove(name).is_some();
        for thread in &mut st.threads {
            thread.devices.retain_mut(|dev| {
                let matches = dev.odevname == name
                    || dev
                        .odevname
                        .strip_prefix(name)
                        .is_some_and(|rest| rest.starts_with('@'));
                if matches && dev.running {
                    stop_device(dev);
                }
                !matches
            });
        }
        existed
    }

    /// Renames an interface (`NETDEV_CHANGENAME`, REFERENCE §5.5): on each thread, the proc
    /// file of the **first** stream using it is re-created under the new bare name (or lost if
    /// that name is taken), while `ifname:` and the thread lists keep the old name. Returns
    /// false if `old` does not exist or `new` is taken.
    pub fn rename_interface(&self, old: &str, new: &str) -> bool {
        let mut st = self.lock();
        if st.interfaces.contains_key(new) {
            return false;
        }
        let Some(iface) = st.interfaces.remove(old) else {
            return false;
        };
        st.interfaces.insert(new.to_owned(), iface);
        for ti in 0..st.threads.len() {
            let Some(di) = st.threads[ti].devices.iter().position(|d| d.iface == old) else {
                continue;
            };
            // proc_remove, then proc_create_data(dev->name), which fails on a name clash.
            st.threads[ti].devices[di].proc_name = None;
            let taken = st.proc_name_taken(new);
            st.threads[ti].devices[di].proc_name = (!taken).then(|| new.to_owned());
        }
        for thread in &mut st.threads {
            for dev in &mut thread.devices {
                if dev.iface == old {
                    new.clone_into(&mut dev.iface);
                }
            }
        }
        true
    }

    /// After `rem_device_all`, the thread's device files stay (listed, readable, writable,
    /// and blocking `add_device` of the same name with `EBUSY`) for the next `lag` calls of
    /// [`Procfs::list`]; 0 removes them at once. The default is 1, so callers must poll as
    /// REFERENCE §2.2 and §7 advise.
    pub fn set_removal_lag(&self, lag: usize) {
        self.lock().removal_lag = lag;
    }

    /// Makes the write with 0-based index `nth` (counted from the creation of the simulator,
    /// see [`write_count`](Self::write_count)) fail with `errno`, without any effect.
    pub fn fail_write(&self, nth: usize, errno: i32) {
        self.lock().faults.insert(nth, Fault::Errno(errno));
    }

    /// Makes the write with index `nth` succeed at the syscall level without any effect, and
    /// set the file's `Result:` to `text` (a refusal visible only in the Result, REFERENCE §4).
    /// On `pgctrl`, which has no Result, the write just has no effect.
    pub fn fail_result_at(&self, nth: usize, text: &str) {
        self.lock()
            .faults
            .insert(nth, Fault::Result(text.to_owned()));
    }

    /// The interface `name` as [`Procfs::interfaces`] reports it, if it exists.
    pub fn interface(&self, name: &str) -> Option<InterfaceInfo> {
        self.interfaces(&BTreeSet::from([name.to_owned()]))
            .ok()?
            .remove(name)
    }

    /// How many writes were attempted so far (failed ones included).
    pub fn write_count(&self) -> usize {
        self.lock().writes
    }

    /// Every write attempted so far, as `(file name, command without newline)`.
    pub fn write_log(&self) -> Vec<(String, String)> {
        self.lock().log.clone()
    }

    /// Names (`odevname`) of all streams, thread by thread, newest first.
    pub fn device_names(&self) -> Vec<String> {
        let st = self.lock();
        st.threads
            .iter()
            .flat_map(|t| t.devices.iter().map(|d| d.odevname.clone()))
            .collect()
    }

    /// Names of the streams that are running.
    pub fn running_devices(&self) -> Vec<String> {
        let st = self.lock();
        st.threads
            .iter()
            .flat_map(|t| {
                t.devices
                    .iter()
                    .filter(|d| d.running)
                    .map(|d| d.odevname.clone())
            })
            .collect()
    }

    /// Sends up to `packets` packets on every running stream, on the fake clock, and finishes
    /// the streams whose `count` is reached (their Result becomes the `show_results` text).
    /// Streams on an interface that is down or gone stop at once, as in `pktgen_xmit`.
    pub fn advance(&self, packets: u64) {
        let mut st = self.lock();
        let profile = st.profile;
        let up: BTreeMap<String, bool> = st
            .interfaces
            .iter()
            .map(|(name, iface)| (name.clone(), iface.up))
            .collect();
        let mut clock = st.clock_ns;
        for thread in &mut st.threads {
            for dev in thread.devices.iter_mut().filter(|d| d.running) {
                if !up.get(&dev.iface).copied().unwrap_or(false) {
                    stop_device(dev);
                    continue;
                }
                send_packets(dev, packets, profile);
                clock = clock.max(dev.now);
            }
        }
        st.clock_ns = clock;
    }
}

impl Procfs for SimProcfs {
    fn list(&self) -> Result<Vec<String>, ProcfsError> {
        let mut st = self.lock();
        st.progress_removals();
        let mut names = vec!["pgctrl".to_owned()];
        for thread in &st.threads {
            names.push(thread_file_name(thread.cpu));
            names.extend(thread.devices.iter().filter_map(|d| d.proc_name.clone()));
        }
        // procfs keeps a directory in an rbtree ordered by name length, then bytes
        // (`proc_match`), and readdir walks it in that order.
        names.sort_by(|a, b| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
        Ok(names)
    }

    fn read(&self, file: &PgFile) -> Result<String, ProcfsError> {
        let st = self.lock();
        match file {
            PgFile::Ctrl => Ok(VERSION_TEXT.to_owned()),
            PgFile::Thread(t) => st
                .find_thread(t.0)
                .map(|ti| st.render_thread(ti))
                .ok_or_else(|| missing(file)),
            PgFile::Device(d) => st
                .find_device(d.as_str())
                .map(|(ti, di)| render_device(&st.threads[ti].devices[di], st.profile))
                .ok_or_else(|| missing(file)),
        }
    }

    fn write(&self, file: &PgFile, command: &str) -> Result<(), ProcfsError> {
        let mut st = self.lock();
        let index = st.writes;
        st.writes += 1;
        let file_name = file.file_name();
        st.log.push((file_name.clone(), command.to_owned()));
        let fault = st.faults.remove(&index);
        let target = match file {
            PgFile::Ctrl => Some(Target::Ctrl),
            PgFile::Thread(t) => st.find_thread(t.0).map(Target::Thread),
            PgFile::Device(d) => st
                .find_device(d.as_str())
                .map(|(ti, di)| Target::Device(ti, di)),
        };
        match fault {
            Some(Fault::Errno(errno)) => return Err(write_error(&file_name, command, errno)),
            Some(Fault::Result(text)) => {
                match target {
                    None => return Err(missing(file)),
                    Some(Target::Ctrl) => {}
                    Some(Target::Thread(ti)) => st.threads[ti].result = text,
                    Some(Target::Device(ti, di)) => st.threads[ti].devices[di].result = text,
                }
                return Ok(());
            }
            None => {}
        }
        let Some(target) = target else {
            return Err(missing(file));
        };
        // The trait's contract: one write(2) of the command and a newline (REFERENCE §2.0).
        let mut buf = command.as_bytes().to_vec();
        buf.push(b'\n');
        let ret = match target {
            Target::Ctrl => st.ctrl_write(&buf),
            Target::Thread(ti) => st.thread_write(ti, &buf),
            Target::Device(ti, di) => {
                let profile = st.profile;
                let State { threads, debug, .. } = &mut *st;
                device_write(&mut threads[ti].devices[di], profile, debug, &buf)
            }
        };
        match ret {
            Ok(n) if n >= buf.len() => Ok(()),
            Ok(n) => Err(ProcfsError::ShortWrite {
                file: file_name,
                command: command.to_owned(),
                written: n,
                len: buf.len(),
            }),
            Err(errno) => Err(write_error(&file_name, command, errno)),
        }
    }

    fn interfaces(&self, names: &BTreeSet<String>) -> Result<Interfaces, ProcfsError> {
        let sim = self.lock();
        Ok(names
            .iter()
            .filter_map(|name| {
                let iface = sim.interfaces.get(name)?;
                let info = InterfaceInfo {
                    mac: Some(iface.mac),
                    up: iface.up,
                    tx_queues: Some(iface.tx_queues),
                };
                Some((name.clone(), info))
            })
            .collect())
    }

    fn kernel_release(&self) -> Option<String> {
        let (major, minor) = self.lock().profile.version;
        Some(format!("{major}.{minor}.0-sim"))
    }
}

#[derive(Debug, Clone, Copy)]
enum Target {
    Ctrl,
    Thread(usize),
    Device(usize, usize),
}

fn missing(file: &PgFile) -> ProcfsError {
    ProcfsError::Missing {
        path: PathBuf::from(PROC_ROOT).join(file.file_name()),
    }
}

fn write_error(file: &str, command: &str, errno: i32) -> ProcfsError {
    ProcfsError::Write {
        file: file.to_owned(),
        command: command.to_owned(),
        error: std::io::Error::from_raw_os_error(errno),
    }
}
