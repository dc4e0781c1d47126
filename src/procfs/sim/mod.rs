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
//! The parts, each named after the kernel functions it mirrors: this file holds the state
//! (`struct pktgen_dev`, threads, interfaces), the public set-up API and the [`Procfs`]
//! implementation; `parse` the kernel's little parsers (`num_arg`, `hex32_arg`, `strn_len`,
//! `get_labels`, `get_imix_entries`, `in_aton`, `mac_pton`); `if_write` `pktgen_if_write`;
//! `thread_write` `pktgen_thread_write` and `pktgen_add_device`; `run` `pgctrl_write` and the
//! runs it starts and stops (`pktgen_run`, `pktgen_xmit` on the fake clock,
//! `pktgen_stop_device`); `show` `pktgen_if_show` and `pktgen_thread_show`.
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
mod thread_write;

#[cfg(test)]
mod tests;

use if_write::device_write;
use run::{send_packets, stop_device};
use show::render_device;

const PROC_ROOT: &str = "/proc/net/pktgen";
/// `pgctrl_show` (REFERENCE §3.1, §8.1).
const VERSION_TEXT: &str = "Packet Generator for packet performance testing. Version: 2.75\n";

const E2BIG: i32 = 7;
const EBUSY: i32 = 16;
const ENODEV: i32 = 19;
const EINVAL: i32 = 22;
const ENETDOWN: i32 = 100;

/// 14 + 20 + 8: the smallest packet size pktgen accepts (REFERENCE §2.3).
const MIN_PKT_SIZE: u64 = 42;
/// `MAX_CFLOWS`.
const MAX_CFLOWS: u64 = 65_536;
/// `MAX_IMIX_ENTRIES`.
const MAX_IMIX_ENTRIES: usize = 20;
/// `IMIX_PRECISION`: buckets of the imix distribution.
const IMIX_PRECISION: usize = 100;
/// `MAX_SKB_FRAGS` on x86-64 (the frags count reported by `show_results`).
const MAX_SKB_FRAGS: i32 = 17;
/// The fake clock: cost of sending one packet.
const PACKET_TIME_NS: u64 = 1_000;
/// Where the fake `ktime_get()` starts (a few seconds after boot, like the transcripts).
const CLOCK_START_NS: u64 = 5_000_000_000;
/// `IFNAMSIZ`: `pktgen_dev_get_by_name` copies at most this many characters before `@`.
const IFNAMSIZ: usize = 16;
/// `pg_count_d`, the module default for `count`.
const DEFAULT_COUNT: u64 = 1000;

/// Flag names in bit order (REFERENCE §2.4); `SHARED` exists on 6.7+ only.
const FLAG_NAMES: [&str; 19] = [
    "IPV6",
    "IPSRC_RND",
    "IPDST_RND",
    "TXSIZE_RND",
    "UDPSRC_RND",
    "UDPDST_RND",
    "UDPCSUM",
    "NO_TIMESTAMP",
    "MPLS_RND",
    "QUEUE_MAP_RND",
    "QUEUE_MAP_CPU",
    "FLOW_SEQ",
    "IPSEC",
    "MACSRC_RND",
    "MACDST_RND",
    "VID_RND",
    "SVID_RND",
    "NODE",
    "SHARED",
];
const F_IPV6: u32 = 1 << 0;
const F_MPLS_RND: u32 = 1 << 8;
const FLOW_SEQ_SHIFT: usize = 11;
const F_FLOW_SEQ: u32 = 1 << FLOW_SEQ_SHIFT;
const IPSEC_SHIFT: usize = 12;
const F_SHARED: u32 = 1 << 18;

/// The fixed unknown-flag list of 4.16–6.6 (REFERENCE §2.4), `CONFIG_XFRM` assumed (Debian).
const OLD_FLAG_LIST: &str = "IPSRC_RND, IPDST_RND, UDPSRC_RND, UDPDST_RND, MACSRC_RND, \
MACDST_RND, TXSIZE_RND, IPV6, MPLS_RND, VID_RND, SVID_RND, FLOW_SEQ, QUEUE_MAP_RND, \
QUEUE_MAP_CPU, UDPCSUM, NO_TIMESTAMP, IPSEC, NODE_ALLOC\n";

/// What kind of netdev an interface is (`dev->type` as `pktgen_setup_dev` checks it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimIfaceKind {
    /// `ARPHRD_ETHER`: always accepted.
    Ether,
    /// `ARPHRD_LOOPBACK`: accepted since 5.7 (REFERENCE §1.2).
    Loopback,
    /// Anything else (`ipip`, `wireguard`...): `add_device` fails with `EINVAL`.
    Other,
}

/// A network interface of the simulated namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimInterface {
    /// Hardware address, shown as `src_mac` while the stream's `src_mac` is unset.
    pub mac: MacAddr,
    /// Administratively up (`netif_running`); `add_device` needs it.
    pub up: bool,
    /// The netdev type.
    pub kind: SimIfaceKind,
    /// `IFF_TX_SKB_SHARING`: without it `clone_skb > 0` and `burst > 1` are refused.
    pub tx_skb_sharing: bool,
    /// `real_num_tx_queues`: `queue_map_*` are clamped to it at start (REFERENCE §2.3).
    pub tx_queues: u32,
}

impl SimInterface {
    /// An Ethernet interface with `IFF_TX_SKB_SHARING` and one TX queue (a `dummy` device).
    #[must_use]
    pub fn ether(mac: MacAddr, up: bool) -> SimInterface {
        SimInterface {
            mac,
            up,
            kind: SimIfaceKind::Ether,
            tx_skb_sharing: true,
            tx_queues: 1,
        }
    }
}

/// An in-memory `/proc/net/pktgen` of one network namespace. See the module documentation.
#[derive(Debug)]
pub struct SimProcfs {
    state: Mutex<State>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum XmitMode {
    StartXmit,
    NetifReceive,
    QueueXmit,
}

#[derive(Debug, Clone)]
enum Fault {
    Errno(i32),
    Result(String),
}

#[derive(Debug, Clone, Copy, Default)]
struct ImixEntry {
    size: u64,
    weight: u64,
    count_so_far: u64,
}

/// One `struct pktgen_dev`, with the fields `pktgen_if_show` prints.
#[derive(Debug, Clone)]
struct Device {
    /// `odevname`: the name written to `add_device` (thread lists, `ifname:`).
    odevname: String,
    /// The proc entry; differs from `odevname` after a rename, `None` if it could not be
    /// re-created (REFERENCE §5.5).
    proc_name: Option<String>,
    /// The netdev (`odev`), by its current name; `odev` follows renames.
    iface: String,
    iface_mac: MacAddr,
    tx_skb_sharing: bool,
    tx_queues: u32,
    /// `Some(n)`: removed by an asynchronous `rem_device_all` after `n` more `list()` calls.
    removal: Option<usize>,
    running: bool,
    result: String,

    count: u64,
    min_pkt_size: i32,
    max_pkt_size: i32,
    cur_pkt_size: u32,
    pkt_overhead: i32,
    nfrags: i32,
    delay: u64,
    clone_skb: i32,
    cflows: u32,
    lflow: u32,
    queue_map_min: u16,
    queue_map_max: u16,
    skb_priority: u32,
    flags: u32,
    xmit_mode: XmitMode,
    dst_min: String,
    dst_max: String,
    src_min: String,
    src_max: String,
    saddr_min: u32,
    saddr_max: u32,
    daddr_min: u32,
    daddr_max: u32,
    cur_saddr: u32,
    cur_daddr: u32,
    in6_saddr: [u8; 16],
    in6_daddr: [u8; 16],
    min_in6_daddr: [u8; 16],
    max_in6_daddr: [u8; 16],
    cur_in6_saddr: [u8; 16],
    cur_in6_daddr: [u8; 16],
    src_mac: [u8; 6],
    dst_mac: [u8; 6],
    udp_src_min: u16,
    udp_src_max: u16,
    udp_dst_min: u16,
    udp_dst_max: u16,
    cur_udp_src: u16,
    cur_udp_dst: u16,
    src_mac_count: u32,
    dst_mac_count: u32,
    cur_src_mac_offset: u32,
    cur_dst_mac_offset: u32,
    /// The MPLS label stack (host order); its length is `nr_labels`.
    labels: Vec<u32>,
    vlan_id: u16,
    vlan_p: u8,
    vlan_cfi: u8,
    svlan_id: u16,
    svlan_p: u8,
    svlan_cfi: u8,
    tos: u8,
    traffic_class: u8,
    burst: u32,
    node: i32,
    spi: u32,
    imix: Vec<ImixEntry>,
    imix_distribution: [u8; IMIX_PRECISION],
    imix_cursor: u64,

    sofar: u64,
    errors: u64,
    tx_bytes: u64,
    seq_num: u32,
    idle_acc: u64,
    started_at: u64,
    stopped_at: u64,
    /// This stream's position on the fake clock while it runs.
    now: u64,
    nflows: u32,
    cur_queue_map: u16,
    /// Whether pktgen still holds an skb (`show_results` prints `-1` frags otherwise).
    has_skb: bool,
}

#[derive(Debug)]
struct Thread {
    cpu: u32,
    /// `t->result`; empty shows as `NA`.
    result: String,
    /// The `if_list`, head first: the newest device comes first (REFERENCE §3.2).
    devices: Vec<Device>,
}

#[derive(Debug)]
struct State {
    profile: KernelProfile,
    threads: Vec<Thread>,
    interfaces: BTreeMap<String, SimInterface>,
    removal_lag: usize,
    faults: BTreeMap<usize, Fault>,
    writes: usize,
    log: Vec<(String, String)>,
    clock_ns: u64,
    /// The module-wide `debug` variable (`debug N` on any device).
    debug: i32,
}

/// What one `write(2)` returns: the bytes taken, or an errno.
type WriteRet = Result<usize, i32>;

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

impl State {
    fn hardened(&self) -> bool {
        hardened_parser(self.profile)
    }

    /// Whether a proc entry called `name` exists in the pktgen directory.
    fn proc_name_taken(&self, name: &str) -> bool {
        name == "pgctrl"
            || self.threads.iter().any(|t| {
                thread_file_name(t.cpu) == name
                    || t.devices
                        .iter()
                        .any(|d| d.proc_name.as_deref() == Some(name))
            })
    }

    fn find_device(&self, proc_name: &str) -> Option<(usize, usize)> {
        self.threads.iter().enumerate().find_map(|(ti, t)| {
            t.devices
                .iter()
                .position(|d| d.proc_name.as_deref() == Some(proc_name))
                .map(|di| (ti, di))
        })
    }

    fn find_thread(&self, cpu: u32) -> Option<usize> {
        self.threads.iter().position(|t| t.cpu == cpu)
    }

    /// Lets the asynchronous removals of `rem_device_all` progress by one `list()` call.
    fn progress_removals(&mut self) {
        for thread in &mut self.threads {
            thread.devices.retain_mut(|dev| match dev.removal {
                Some(0) => {
                    // pktgen_remove_device stops a running stream first.
                    if dev.running {
                        stop_device(dev);
                    }
                    false
                }
                Some(n) => {
                    dev.removal = Some(n - 1);
                    true
                }
                None => true,
            });
        }
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

fn thread_file_name(cpu: u32) -> String {
    format!("kpktgend_{cpu}")
}

/// The Feb–Mar 2025 parser hardening (6.15, REFERENCE §6): `=` ends a name, `rate 0` is
/// `EINVAL`, hex values are no longer shifted one nibble too far, pgctrl keeps its last byte.
fn hardened_parser(profile: KernelProfile) -> bool {
    profile.version >= (6, 15)
}

impl Device {
    /// `pktgen_add_device` defaults (REFERENCE §2.5).
    fn new(name: &str, iface_name: &str, iface: &SimInterface, profile: KernelProfile) -> Device {
        Device {
            odevname: name.to_owned(),
            proc_name: Some(name.to_owned()),
            iface: iface_name.to_owned(),
            iface_mac: iface.mac,
            tx_skb_sharing: iface.tx_skb_sharing,
            tx_queues: iface.tx_queues,
            removal: None,
            running: false,
            result: String::new(),
            count: DEFAULT_COUNT,
            min_pkt_size: 0,
            max_pkt_size: 0,
            cur_pkt_size: 0,
            pkt_overhead: 0,
            nfrags: 0,
            delay: 0,
            clone_skb: 0,
            cflows: 0,
            lflow: 0,
            queue_map_min: 0,
            queue_map_max: 0,
            skb_priority: 0,
            flags: if profile.has_shared_flag() {
                F_SHARED
            } else {
                0
            },
            xmit_mode: XmitMode::StartXmit,
            dst_min: String::new(),
            dst_max: String::new(),
            src_min: String::new(),
            src_max: String::new(),
            saddr_min: 0,
            saddr_max: 0,
            daddr_min: 0,
            daddr_max: 0,
            cur_saddr: 0,
            cur_daddr: 0,
            in6_saddr: [0; 16],
            in6_daddr: [0; 16],
            min_in6_daddr: [0; 16],
            max_in6_daddr: [0; 16],
            cur_in6_saddr: [0; 16],
            cur_in6_daddr: [0; 16],
            src_mac: [0; 6],
            dst_mac: [0; 6],
            udp_src_min: 9,
            udp_src_max: 9,
            udp_dst_min: 9,
            udp_dst_max: 9,
            cur_udp_src: 0,
            cur_udp_dst: 0,
            src_mac_count: 0,
            dst_mac_count: 0,
            cur_src_mac_offset: 0,
            cur_dst_mac_offset: 0,
            labels: Vec::new(),
            vlan_id: 0xffff,
            vlan_p: 0,
            vlan_cfi: 0,
            svlan_id: 0xffff,
            svlan_p: 0,
            svlan_cfi: 0,
            tos: 0,
            traffic_class: 0,
            burst: 1,
            node: -1,
            spi: 0,
            imix: Vec::new(),
            imix_distribution: [0; IMIX_PRECISION],
            imix_cursor: 0,
            sofar: 0,
            errors: 0,
            tx_bytes: 0,
            seq_num: 0,
            idle_acc: 0,
            started_at: 0,
            stopped_at: 0,
            now: 0,
            nflows: 0,
            cur_queue_map: 0,
            has_skb: false,
        }
    }
}
