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
//! This file must not do any real I/O.

// The simulator mirrors C integer conversions on purpose: the kernel parses into an
// `unsigned long` and stores into `int`, `__u16`, `__u32`... fields, truncating silently
// (REFERENCE §2.3: "udp ports kept mod 65536", `%u` of an `int`, ...).
#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::Ipv6Addr;
use std::path::PathBuf;
use std::str::FromStr;
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

    /// `pgctrl_write` (REFERENCE §2.1).
    fn ctrl_write(&mut self, buf: &[u8]) -> WriteRet {
        let count = buf.len();
        if count == 0 {
            return Err(EINVAL);
        }
        let (taken, data) = if self.hardened() {
            // 6.15: copy at most 127 bytes, strip one trailing '\n'.
            let max = count.min(127);
            let data = &buf[..max];
            (count, data.strip_suffix(b"\n").unwrap_or(data))
        } else {
            // 4.2–6.14: at most 128 bytes, and the last one is always dropped.
            let max = count.min(128);
            (max, &buf[..max - 1])
        };
        match cstr(data) {
            b"start" => self.start_all(),
            b"stop" => self.stop_all(),
            b"reset" => {
                // T_REMDEVALL on every thread, then the writer waits: synchronous here.
                for thread in &mut self.threads {
                    for dev in thread.devices.iter_mut().filter(|d| d.running) {
                        stop_device(dev);
                    }
                    thread.devices.clear();
                }
            }
            _ => return Err(EINVAL),
        }
        Ok(taken)
    }

    /// `pktgen_run` on every thread: `pktgen_setup_inject`, counters cleared, `Starting`.
    fn start_all(&mut self) {
        let clock = self.clock_ns;
        for thread in &mut self.threads {
            for dev in &mut thread.devices {
                setup_inject(dev);
                clear_counters(dev);
                dev.has_skb = false;
                dev.started_at = clock;
                dev.now = clock;
                dev.imix_cursor = 0;
                dev.pkt_overhead = pkt_overhead(dev);
                "Starting".clone_into(&mut dev.result);
                dev.running = true;
            }
        }
    }

    /// `stop`: every running stream stops and writes its results.
    fn stop_all(&mut self) {
        for thread in &mut self.threads {
            for dev in thread.devices.iter_mut().filter(|d| d.running) {
                stop_device(dev);
            }
        }
    }

    /// `pktgen_thread_write` (REFERENCE §2.2).
    fn thread_write(&mut self, ti: usize, buf: &[u8]) -> WriteRet {
        let count = buf.len();
        if count == 0 {
            return Err(EINVAL);
        }
        let input = Input {
            buf,
            hardened: self.hardened(),
        };
        let mut i = input.count_trail_chars(0);
        let len = input.strn_len(i, 39);
        let name = input.cstr(i, len);
        i += len;
        i += input.count_trail_chars(i);
        match name.as_slice() {
            b"add_device" => {
                let len = input.strn_len(i, 31);
                let f = lossy(&input.cstr(i, len));
                let ret = self.add_device(ti, &f);
                let thread = &mut self.threads[ti];
                match ret {
                    Ok(()) => {
                        thread.result = format!("OK: add_device={f}");
                        Ok(count)
                    }
                    Err(errno) => {
                        thread.result = format!("ERROR: can not add device {f}");
                        Err(errno)
                    }
                }
            }
            b"rem_device_all" => {
                let lag = self.removal_lag;
                let thread = &mut self.threads[ti];
                if lag == 0 {
                    for dev in thread.devices.iter_mut().filter(|d| d.running) {
                        stop_device(dev);
                    }
                    thread.devices.clear();
                } else {
                    for dev in &mut thread.devices {
                        dev.removal = Some(dev.removal.map_or(lag, |n| n.min(lag)));
                    }
                }
                "OK: rem_device_all".clone_into(&mut thread.result);
                Ok(count)
            }
            b"max_before_softirq" => {
                "OK: Note! max_before_softirq is obsoleted -- Do not use"
                    .clone_into(&mut self.threads[ti].result);
                Ok(count)
            }
            _ => Err(EINVAL),
        }
    }

    /// `pktgen_add_device`, with the checks in kernel order (REFERENCE §1.2, §2.2).
    fn add_device(&mut self, ti: usize, name: &str) -> Result<(), i32> {
        // __pktgen_NN_threads(FIND): exact name, any thread of this namespace.
        if self
            .threads
            .iter()
            .any(|t| t.devices.iter().any(|d| d.odevname == name))
        {
            return Err(EBUSY);
        }
        // pktgen_dev_get_by_name: the part before '@', at most IFNAMSIZ characters.
        let iface_name: String = name
            .chars()
            .take_while(|&c| c != '@')
            .take(IFNAMSIZ)
            .collect();
        let Some(iface) = self.interfaces.get(&iface_name) else {
            return Err(ENODEV);
        };
        let type_ok = match iface.kind {
            SimIfaceKind::Ether => true,
            SimIfaceKind::Loopback => self.profile.version >= (5, 7),
            SimIfaceKind::Other => false,
        };
        if !type_ok {
            return Err(EINVAL);
        }
        if !iface.up {
            return Err(ENETDOWN);
        }
        let iface = iface.clone();
        // proc_create_data fails on a clash with any entry of the directory, and on a '/'.
        if self.proc_name_taken(name) || name.contains('/') {
            return Err(EINVAL);
        }
        let dev = Device::new(name, &iface_name, &iface, self.profile);
        self.threads[ti].devices.insert(0, dev);
        Ok(())
    }

    fn render_thread(&self, ti: usize) -> String {
        let thread = &self.threads[ti];
        let mut out = String::from("Running: ");
        for dev in thread.devices.iter().filter(|d| d.running) {
            out.push_str(&dev.odevname);
            out.push(' ');
        }
        out.push_str("\nStopped: ");
        for dev in thread.devices.iter().filter(|d| !d.running) {
            out.push_str(&dev.odevname);
            out.push(' ');
        }
        out.push_str("\nResult: ");
        out.push_str(if thread.result.is_empty() {
            "NA"
        } else {
            &thread.result
        });
        out.push('\n');
        out
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

/// The bytes of a C string: everything before the first NUL.
fn cstr(bytes: &[u8]) -> &[u8] {
    bytes
        .iter()
        .position(|&b| b == 0)
        .map_or(bytes, |end| &bytes[..end])
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The user buffer of one write, read with the kernel's little parsers (REFERENCE §2.0).
///
/// Before 6.15 those parsers could read past the end of the buffer when a value was missing;
/// what lies there is unknowable, so the simulator treats the end of the buffer as a
/// terminator on every version.
struct Input<'a> {
    buf: &'a [u8],
    hardened: bool,
}

impl Input<'_> {
    fn at(&self, i: usize) -> Option<u8> {
        self.buf.get(i).copied()
    }

    /// `count_trail_chars`: skips `"` `\n` `\r` `\t` space and `=`.
    fn count_trail_chars(&self, start: usize) -> usize {
        let mut i = start;
        while matches!(self.at(i), Some(b'"' | b'\n' | b'\r' | b'\t' | b' ' | b'=')) {
            i += 1;
        }
        i - start
    }

    /// `strn_len`: up to `maxlen` bytes before `"` `\n` `\r` `\t` space (and `=` on 6.15+).
    fn strn_len(&self, start: usize, maxlen: usize) -> usize {
        let mut n = 0;
        while n < maxlen {
            match self.at(start + n) {
                None | Some(b'"' | b'\n' | b'\r' | b'\t' | b' ') => break,
                Some(b'=') if self.hardened => break,
                Some(_) => n += 1,
            }
        }
        n
    }

    /// `copy_from_user` of `len` bytes into a zeroed buffer, read back as a C string.
    fn cstr(&self, start: usize, len: usize) -> Vec<u8> {
        let end = (start + len).min(self.buf.len());
        cstr(self.buf.get(start..end).unwrap_or_default()).to_vec()
    }

    /// `num_arg`: up to `maxlen` decimal digits; no digit at all means 0.
    fn num_arg(&self, start: usize, maxlen: usize) -> (usize, u64) {
        let mut value: u64 = 0;
        let mut n = 0;
        while n < maxlen {
            match self.at(start + n) {
                Some(c @ b'0'..=b'9') => {
                    value = value.wrapping_mul(10).wrapping_add(u64::from(c - b'0'));
                    n += 1;
                }
                _ => break,
            }
        }
        (n, value)
    }

    /// `hex32_arg`: up to `maxlen` hex digits. Before 6.15 the value was shifted before the
    /// digit was checked, so a short label ends up one nibble too far (REFERENCE §2.0).
    fn hex32_arg(&self, start: usize, maxlen: usize) -> (usize, u32) {
        let mut value: u32 = 0;
        let mut n = 0;
        while n < maxlen {
            if !self.hardened {
                value <<= 4;
            }
            let Some(digit) = self.at(start + n).and_then(hex_value) else {
                break;
            };
            if self.hardened {
                value <<= 4;
            }
            value |= digit;
            n += 1;
        }
        (n, value)
    }

    /// A string value as the string commands read it: `strn_len(max)` then a C string.
    fn string(&self, start: usize, max: usize) -> Vec<u8> {
        let len = self.strn_len(start, max);
        self.cstr(start, len)
    }
}

fn hex_value(c: u8) -> Option<u32> {
    char::from(c).to_digit(16)
}

/// Formats an `int` field the way a Result text does: `%u` before 6.15, `%d` since.
fn int_text(value: i32, hardened: bool) -> String {
    if hardened {
        value.to_string()
    } else {
        (value as u32).to_string()
    }
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

/// `pktgen_if_write` (REFERENCE §2.3): one command, both error channels.
#[allow(clippy::too_many_lines)] // one arm per command, in the kernel's order
fn device_write(dev: &mut Device, profile: KernelProfile, debug: &mut i32, buf: &[u8]) -> WriteRet {
    let count = buf.len();
    if count == 0 {
        return Err(EINVAL);
    }
    let hardened = hardened_parser(profile);
    let input = Input { buf, hardened };
    let mut i = input.count_trail_chars(0);
    let len = input.strn_len(i, 15);
    let name = lossy(&input.cstr(i, len));
    i += len;
    i += input.count_trail_chars(i);
    let num = |digits: usize| input.num_arg(i, digits);
    let enotsupp = profile.enotsupp_errno();

    match name.as_str() {
        "min_pkt_size" | "max_pkt_size" | "pkt_size" => {
            let value = num(10).1.max(MIN_PKT_SIZE);
            let text = match name.as_str() {
                "min_pkt_size" => {
                    if value != i64::from(dev.min_pkt_size) as u64 {
                        dev.min_pkt_size = value as i32;
                        dev.cur_pkt_size = value as u32;
                    }
                    dev.min_pkt_size
                }
                "max_pkt_size" => {
                    if value != i64::from(dev.max_pkt_size) as u64 {
                        dev.max_pkt_size = value as i32;
                        dev.cur_pkt_size = value as u32;
                    }
                    dev.max_pkt_size
                }
                _ => {
                    // Only when N differs from min: min=60, max=1500, `pkt_size 60` keeps max.
                    if value != i64::from(dev.min_pkt_size) as u64 {
                        dev.min_pkt_size = value as i32;
                        dev.max_pkt_size = value as i32;
                        dev.cur_pkt_size = value as u32;
                    }
                    dev.min_pkt_size
                }
            };
            dev.result = format!("OK: {name}={}", int_text(text, hardened));
            Ok(count)
        }
        "imix_weights" if profile.has_imix() => {
            if dev.clone_skb > 0 {
                return Err(EINVAL);
            }
            // No Result on success (REFERENCE §2.3).
            parse_imix(dev, &input, i, hardened)?;
            fill_imix_distribution(dev);
            Ok(count)
        }
        "debug" => {
            *debug = num(10).1 as i32;
            dev.result = format!("OK: debug={}", *debug as u32);
            Ok(count)
        }
        "frags" => {
            dev.nfrags = num(10).1 as i32;
            dev.result = format!("OK: frags={}", int_text(dev.nfrags, hardened));
            Ok(count)
        }
        "delay" => {
            let value = num(10).1;
            // 0x7FFFFFFF means "never transmit" and is stored as ULLONG_MAX.
            dev.delay = if value == 0x7FFF_FFFF {
                u64::MAX
            } else {
                value
            };
            dev.result = format!("OK: delay={}", dev.delay);
            Ok(count)
        }
        "rate" | "ratep" => {
            let (len, value) = num(10);
            if value == 0 {
                // Before 6.15 this returned the digits read: a short write (REFERENCE §4).
                return if hardened { Err(EINVAL) } else { Ok(len) };
            }
            dev.delay = if name == "rate" {
                // min_pkt_size*8*NSEC_PER_USEC/value, with the min at the time of the write.
                (i64::from(dev.min_pkt_size.wrapping_mul(8)) * 1000) as u64 / value
            } else {
                1_000_000_000 / value
            };
            dev.result = format!("OK: rate={value}");
            Ok(count)
        }
        "udp_src_min" | "udp_dst_min" | "udp_src_max" | "udp_dst_max" => {
            let value = num(10).1;
            let (field, cur) = match name.as_str() {
                "udp_src_min" => (&mut dev.udp_src_min, &mut dev.cur_udp_src),
                "udp_dst_min" => (&mut dev.udp_dst_min, &mut dev.cur_udp_dst),
                "udp_src_max" => (&mut dev.udp_src_max, &mut dev.cur_udp_src),
                _ => (&mut dev.udp_dst_max, &mut dev.cur_udp_dst),
            };
            if value != u64::from(*field) {
                *field = value as u16;
                *cur = value as u16;
            }
            dev.result = format!("OK: {name}={}", *field);
            Ok(count)
        }
        "clone_skb" => {
            let value = num(10).1;
            if value > 0 && (dev.xmit_mode == XmitMode::NetifReceive || !dev.tx_skb_sharing) {
                return Err(enotsupp);
            }
            // imix (5.15+) and, on 6.7+, a cleared SHARED flag forbid clones.
            let unshared = profile.has_shared_flag() && dev.flags & F_SHARED == 0;
            if value > 0 && (!dev.imix.is_empty() || unshared) {
                return Err(EINVAL);
            }
            dev.clone_skb = value as i32;
            dev.result = format!("OK: clone_skb={}", dev.clone_skb);
            Ok(count)
        }
        "count" => {
            dev.count = num(10).1;
            dev.result = format!("OK: count={}", dev.count);
            Ok(count)
        }
        "src_mac_count" | "dst_mac_count" => {
            let value = num(10).1;
            let (field, offset) = if name == "src_mac_count" {
                (&mut dev.src_mac_count, &mut dev.cur_src_mac_offset)
            } else {
                (&mut dev.dst_mac_count, &mut dev.cur_dst_mac_offset)
            };
            if u64::from(*field) != value {
                *field = value as u32;
                *offset = 0;
            }
            dev.result = format!("OK: {name}={}", *field as i32);
            Ok(count)
        }
        "burst" => {
            let value = num(10).1;
            if value > 1
                && (dev.xmit_mode == XmitMode::QueueXmit
                    || (dev.xmit_mode == XmitMode::StartXmit && !dev.tx_skb_sharing))
            {
                return Err(enotsupp);
            }
            if value > 1 && profile.has_shared_flag() && dev.flags & F_SHARED == 0 {
                return Err(EINVAL);
            }
            dev.burst = value.max(1) as u32;
            dev.result = if hardened {
                format!("OK: burst={}", dev.burst)
            } else {
                format!("OK: burst={}", dev.burst as i32)
            };
            Ok(count)
        }
        "node" => {
            let value = num(10).1;
            // node_possible(): the simulated machine has one NUMA node, node 0.
            if value as i32 == 0 {
                dev.node = value as i32;
                dev.result = format!("OK: node={}", dev.node);
            } else {
                "ERROR: node not possible".clone_into(&mut dev.result);
            }
            Ok(count)
        }
        "xmit_mode" => {
            let mode = lossy(&input.string(i, 31));
            match mode.as_str() {
                "start_xmit" => dev.xmit_mode = XmitMode::StartXmit,
                "netif_receive" => {
                    if dev.clone_skb > 0 {
                        return Err(enotsupp);
                    }
                    dev.xmit_mode = XmitMode::NetifReceive;
                    if !hardened {
                        dev.clone_skb = 0;
                    }
                }
                "queue_xmit" => dev.xmit_mode = XmitMode::QueueXmit,
                _ => {
                    dev.result = format!(
                        "xmit_mode -:{mode}:- unknown\nAvailable modes: start_xmit, netif_receive\n"
                    );
                    return Ok(count);
                }
            }
            dev.result = format!("OK: xmit_mode={mode}");
            Ok(count)
        }
        "flag" => {
            let f = lossy(&input.string(i, 31));
            flag_write(dev, profile, &f)?;
            Ok(count)
        }
        "dst_min" | "dst" | "dst_max" | "src_min" | "src_max" => {
            let value = lossy(&input.string(i, 31));
            let (text, addr, cur, label) = match name.as_str() {
                "dst_min" | "dst" => (
                    &mut dev.dst_min,
                    &mut dev.daddr_min,
                    &mut dev.cur_daddr,
                    "dst_min",
                ),
                "dst_max" => (
                    &mut dev.dst_max,
                    &mut dev.daddr_max,
                    &mut dev.cur_daddr,
                    "dst_max",
                ),
                "src_min" => (
                    &mut dev.src_min,
                    &mut dev.saddr_min,
                    &mut dev.cur_saddr,
                    "src_min",
                ),
                _ => (
                    &mut dev.src_max,
                    &mut dev.saddr_max,
                    &mut dev.cur_saddr,
                    "src_max",
                ),
            };
            // Kept exactly as written; in_aton() is lenient (REFERENCE §2.3).
            if *text != value {
                *addr = in_aton(value.as_bytes());
                *cur = *addr;
                *text = value;
            }
            dev.result = format!("OK: {label}={text}");
            Ok(count)
        }
        "dst6" | "dst6_min" | "dst6_max" | "src6" => {
            let value = lossy(&input.string(i, 127));
            // Writing any IPv6 address switches the stream to IPv6 mode.
            dev.flags |= F_IPV6;
            let (stored, cur) = match name.as_str() {
                "dst6" => (&mut dev.in6_daddr, Some(&mut dev.cur_in6_daddr)),
                "dst6_min" => (&mut dev.min_in6_daddr, Some(&mut dev.cur_in6_daddr)),
                "dst6_max" => (&mut dev.max_in6_daddr, None),
                _ => (&mut dev.in6_saddr, Some(&mut dev.cur_in6_saddr)),
            };
            // in6_pton leaves the address untouched when it fails; the write still succeeds.
            if let Ok(addr) = Ipv6Addr::from_str(&value) {
                *stored = addr.octets();
            }
            if let Some(cur) = cur {
                *cur = *stored;
            }
            dev.result = format!("OK: {name}={}", fmt_in6(stored));
            Ok(count)
        }
        "dst_mac" | "src_mac" => {
            let value = input.string(i, 31);
            let Some(mac) = mac_pton(&value) else {
                return Err(EINVAL);
            };
            let (field, label) = if name == "dst_mac" {
                (&mut dev.dst_mac, "dstmac")
            } else {
                (&mut dev.src_mac, "srcmac")
            };
            *field = mac;
            dev.result = format!("OK: {label} {}", MacAddr(mac));
            Ok(count)
        }
        "clear_counters" => {
            clear_counters(dev);
            "OK: Clearing counters.\n".clone_into(&mut dev.result);
            Ok(count)
        }
        "flows" => {
            dev.cflows = num(10).1.min(MAX_CFLOWS) as u32;
            dev.result = format!("OK: flows={}", dev.cflows);
            Ok(count)
        }
        // CONFIG_XFRM is assumed (Debian kernels have it).
        "spi" => {
            dev.spi = num(10).1 as u32;
            dev.result = format!("OK: spi={}", dev.spi);
            Ok(count)
        }
        "flowlen" => {
            dev.lflow = num(10).1 as u32;
            dev.result = format!("OK: flowlen={}", dev.lflow);
            Ok(count)
        }
        "queue_map_min" | "queue_map_max" => {
            let value = num(5).1 as u16;
            if name == "queue_map_min" {
                dev.queue_map_min = value;
            } else {
                dev.queue_map_max = value;
            }
            dev.result = format!("OK: {name}={value}");
            Ok(count)
        }
        "mpls" => {
            get_labels(dev, &input, i, profile)?;
            let labels: Vec<String> = dev.labels.iter().map(|l| format!("{l:08x}")).collect();
            dev.result = format!("OK: mpls={}", labels.join(","));
            // A label stack turns VLAN and SVLAN off.
            if !dev.labels.is_empty() && dev.vlan_id != 0xffff {
                dev.vlan_id = 0xffff;
                dev.svlan_id = 0xffff;
            }
            Ok(count)
        }
        "vlan_id" => {
            let value = num(4).1;
            if value <= 4095 {
                dev.vlan_id = value as u16;
                dev.labels.clear();
                dev.result = format!("OK: vlan_id={}", dev.vlan_id);
            } else {
                // Both tags off, and the Result is left as it was (REFERENCE §4).
                dev.vlan_id = 0xffff;
                dev.svlan_id = 0xffff;
            }
            Ok(count)
        }
        "svlan_id" => {
            let value = num(4).1;
            if value <= 4095 && dev.vlan_id != 0xffff {
                dev.svlan_id = value as u16;
                dev.labels.clear();
                dev.result = format!("OK: svlan_id={}", dev.svlan_id);
            } else {
                dev.vlan_id = 0xffff;
                dev.svlan_id = 0xffff;
            }
            Ok(count)
        }
        "vlan_p" | "vlan_cfi" | "svlan_p" | "svlan_cfi" => {
            let value = num(1).1;
            let (limit, on, field) = match name.as_str() {
                "vlan_p" => (7, dev.vlan_id != 0xffff, &mut dev.vlan_p),
                "vlan_cfi" => (1, dev.vlan_id != 0xffff, &mut dev.vlan_cfi),
                "svlan_p" => (7, dev.svlan_id != 0xffff, &mut dev.svlan_p),
                _ => (1, dev.svlan_id != 0xffff, &mut dev.svlan_cfi),
            };
            // A refusal shows only in the Result; the write succeeds (REFERENCE §4).
            if value <= limit && on {
                *field = value as u8;
                dev.result = format!("OK: {name}={value}");
            } else {
                dev.result = format!("ERROR: {name} must be 0-{limit}");
            }
            Ok(count)
        }
        "tos" | "traffic_class" => {
            let (len, value) = input.hex32_arg(i, 2);
            if len == 2 {
                let field = if name == "tos" {
                    &mut dev.tos
                } else {
                    &mut dev.traffic_class
                };
                *field = value as u8;
                dev.result = format!("OK: {name}=0x{:02x}", *field);
            } else {
                dev.result = format!("ERROR: {name} must be 00-ff");
            }
            Ok(count)
        }
        "skb_priority" => {
            dev.skb_priority = num(9).1 as u32;
            dev.result = format!("OK: skb_priority={}", dev.skb_priority as i32);
            Ok(count)
        }
        _ => {
            dev.result = format!("No such parameter \"{name}\"");
            Err(EINVAL)
        }
    }
}

/// `flag NAME` / `flag !NAME` (`pktgen_read_flag`, REFERENCE §2.4).
fn flag_write(dev: &mut Device, profile: KernelProfile, f: &str) -> Result<(), i32> {
    let with_shared = profile.has_shared_flag();
    let flag_count = if with_shared {
        FLAG_NAMES.len()
    } else {
        FLAG_NAMES.len() - 1
    };
    let (mut disable, bare) = match f.strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, f),
    };
    let mut flag = FLAG_NAMES[..flag_count]
        .iter()
        .enumerate()
        // IPV6 can only be cleared: `flag IPV6` is an unknown flag.
        .find(|&(index, &n)| n == bare && (disable || index != 0))
        .map(|(index, _)| 1u32 << index);
    if flag.is_none() && bare == "FLOW_RND" {
        disable = !disable;
        flag = Some(F_FLOW_SEQ);
    }
    let Some(flag) = flag else {
        // Unknown: the write succeeds, the Result lists the flags (6.7+ generated list).
        let list = if with_shared {
            FLAG_NAMES[..flag_count].join(", ")
        } else {
            OLD_FLAG_LIST.to_owned()
        };
        dev.result =
            format!("Flag -:{f}:- unknown\nAvailable flags, (prepend ! to un-set flag):\n{list}");
        return Ok(());
    };
    if disable {
        // The skb must stay shared while it is cloned or bursted (6.7+).
        if with_shared && flag == F_SHARED && (dev.clone_skb != 0 || dev.burst > 1) {
            return Err(EINVAL);
        }
        dev.flags &= !flag;
    } else {
        dev.flags |= flag;
    }
    dev.result = format!("OK: flags=0x{:x}", dev.flags);
    Ok(())
}

/// `get_imix_entries`: `size,weight` pairs separated by single spaces.
fn parse_imix(
    dev: &mut Device,
    input: &Input<'_>,
    start: usize,
    hardened: bool,
) -> Result<(), i32> {
    dev.imix.clear();
    let mut i = start;
    loop {
        if hardened && dev.imix.len() >= MAX_IMIX_ENTRIES {
            return Err(E2BIG);
        }
        let (len, size) = input.num_arg(i, 10);
        i += len;
        if input.at(i) != Some(b',') {
            return Err(EINVAL);
        }
        i += 1;
        let (len, weight) = input.num_arg(i, 10);
        if weight == 0 {
            return Err(EINVAL);
        }
        i += len;
        // Before 6.15 a 21st pair overflowed the table before E2BIG; keep the first 20
        // (REFERENCE §2.3).
        if dev.imix.len() >= MAX_IMIX_ENTRIES {
            return Err(E2BIG);
        }
        dev.imix.push(ImixEntry {
            size: size.max(MIN_PKT_SIZE),
            weight,
            count_so_far: 0,
        });
        let separator = input.at(i);
        i += 1;
        if separator != Some(b' ') {
            return Ok(());
        }
    }
}

/// `fill_imix_distribution`: 100 buckets, each naming an entry, by cumulative weight.
fn fill_imix_distribution(dev: &mut Device) {
    let n = dev.imix.len();
    if n == 0 {
        return;
    }
    let total: u64 = dev.imix.iter().map(|e| e.weight).sum();
    let mut cumulative = vec![0u64; n];
    let mut sum = 0u64;
    for (slot, entry) in cumulative.iter_mut().zip(&dev.imix).take(n - 1) {
        sum += entry.weight * IMIX_PRECISION as u64 / total.max(1);
        *slot = sum;
    }
    cumulative[n - 1] = IMIX_PRECISION as u64;
    let mut j = 0usize;
    for (bucket, value) in dev.imix_distribution.iter_mut().enumerate() {
        if bucket as u64 == cumulative[j] {
            j += 1;
        }
        *value = j as u8;
    }
}

/// `get_labels` (REFERENCE §2.3, mpls row).
fn get_labels(
    dev: &mut Device,
    input: &Input<'_>,
    start: usize,
    profile: KernelProfile,
) -> Result<(), i32> {
    let hardened = hardened_parser(profile);
    dev.labels.clear();
    let mut labels = Vec::new();
    let mut i = start;
    loop {
        if hardened && labels.len() >= profile.max_mpls_labels() {
            return Err(E2BIG);
        }
        if hardened && i >= input.buf.len() {
            return Err(EINVAL);
        }
        let (len, label) = input.hex32_arg(i, 8);
        if len == 0 || (label == 0 && profile.mpls_zero_clears()) {
            // An invalid (or, on 6.15+, zero) value leaves the stack empty.
            return Ok(());
        }
        // The bottom-of-stack bit turns MPLS_RND on; nothing turns it off.
        if label & 0x100 != 0 {
            dev.flags |= F_MPLS_RND;
        }
        labels.push(label);
        i += len;
        let separator = input.at(i);
        i += 1;
        if !hardened && labels.len() > profile.max_mpls_labels() {
            return Err(E2BIG);
        }
        if separator != Some(b',') {
            break;
        }
    }
    dev.labels = labels;
    Ok(())
}

/// `pktgen_clear_counters`.
fn clear_counters(dev: &mut Device) {
    dev.seq_num = 1;
    dev.idle_acc = 0;
    dev.sofar = 0;
    dev.tx_bytes = 0;
    dev.errors = 0;
}

/// `set_pkt_overhead`: MPLS labels and VLAN tags.
fn pkt_overhead(dev: &Device) -> i32 {
    let tags = i32::from(dev.vlan_id != 0xffff) + i32::from(dev.svlan_id != 0xffff);
    (dev.labels.len() as i32 + tags) * 4
}

/// `pktgen_setup_inject`: the start-time defaults and clamps that stay visible (REFERENCE §2.5).
fn setup_inject(dev: &mut Device) {
    let ntxq = dev.tx_queues;
    let top = ntxq.max(1) - 1;
    if ntxq <= u32::from(dev.queue_map_min) {
        dev.queue_map_min = top as u16;
    }
    if u32::from(dev.queue_map_max) >= ntxq {
        dev.queue_map_max = top as u16;
    }
    if dev.flags & F_IPV6 != 0 {
        if dev.min_pkt_size == 0 {
            dev.min_pkt_size = 14 + 40 + 8 + 16 + dev.pkt_overhead;
        }
        // An unset source would be the interface's link-local address: not modelled.
    } else {
        if dev.min_pkt_size == 0 {
            dev.min_pkt_size = 14 + 20 + 8 + 16 + dev.pkt_overhead;
        }
        // An empty src_min means the interface's first IPv4 address: not modelled (none).
        if dev.src_min.is_empty() {
            dev.saddr_min = 0;
            dev.saddr_max = 0;
        } else {
            dev.saddr_min = in_aton(dev.src_min.as_bytes());
            dev.saddr_max = in_aton(dev.src_max.as_bytes());
        }
        dev.daddr_min = in_aton(dev.dst_min.as_bytes());
        dev.daddr_max = in_aton(dev.dst_max.as_bytes());
    }
    dev.cur_pkt_size = dev.min_pkt_size as u32;
    if dev.min_pkt_size > dev.max_pkt_size {
        dev.max_pkt_size = dev.min_pkt_size;
    }
    dev.cur_dst_mac_offset = 0;
    dev.cur_src_mac_offset = 0;
    dev.cur_saddr = dev.saddr_min;
    dev.cur_daddr = dev.daddr_min;
    dev.cur_udp_dst = dev.udp_dst_min;
    dev.cur_udp_src = dev.udp_src_min;
    dev.nflows = 0;
}

/// Sends up to `packets` packets of one running stream on the fake clock.
fn send_packets(dev: &mut Device, packets: u64, profile: KernelProfile) {
    // delay 2147483647 is stored as ULLONG_MAX: "never transmit".
    let mut k = if dev.delay == u64::MAX { 0 } else { packets };
    if dev.count != 0 {
        k = k.min(dev.count.saturating_sub(dev.sofar));
    }
    if k > 0 {
        if dev.min_pkt_size < dev.max_pkt_size {
            // mod_cur_headers steps the size through [min, max] before each packet.
            let span = u64::from((dev.max_pkt_size - dev.min_pkt_size) as u32) + 1;
            let pos =
                (u64::from(dev.cur_pkt_size).saturating_sub(dev.min_pkt_size as u64) + k) % span;
            dev.cur_pkt_size = (dev.min_pkt_size as u64 + pos) as u32;
        } else if !dev.imix.is_empty() {
            pick_imix(dev, k);
        }
        dev.sofar += k;
        dev.seq_num = dev.seq_num.wrapping_add(k as u32);
        dev.tx_bytes = dev
            .tx_bytes
            .wrapping_add(k.wrapping_mul(u64::from(dev.cur_pkt_size)));
        let idle = k.saturating_mul(dev.delay);
        dev.idle_acc = dev.idle_acc.saturating_add(idle);
        dev.now = dev
            .now
            .saturating_add(k.saturating_mul(PACKET_TIME_NS))
            .saturating_add(idle);
        // With SHARED cleared pktgen lets go of the skb after each send (6.7+).
        dev.has_skb = !profile.has_shared_flag() || dev.flags & F_SHARED != 0;
    }
    if dev.count != 0 && dev.sofar >= dev.count {
        stop_device(dev);
    }
}

/// Chooses the sizes of `k` imix packets: bucket `n % 100` for the n-th packet, a
/// deterministic stand-in for the kernel's random bucket.
fn pick_imix(dev: &mut Device, k: u64) {
    let precision = IMIX_PRECISION as u64;
    let first = dev.imix_cursor;
    for bucket in 0..precision {
        let offset = (bucket + precision - first % precision) % precision;
        let hits = k / precision + u64::from(offset < k % precision);
        let index = usize::from(dev.imix_distribution[bucket as usize]);
        if let Some(entry) = dev.imix.get_mut(index) {
            entry.count_so_far += hits;
        }
    }
    let last = ((first + k - 1) % precision) as usize;
    if let Some(entry) = dev.imix.get(usize::from(dev.imix_distribution[last])) {
        dev.cur_pkt_size = entry.size as u32;
    }
    dev.imix_cursor = first + k;
}

/// `pktgen_stop_device` and `show_results` (REFERENCE §3.3, §8.4).
fn stop_device(dev: &mut Device) {
    let nr_frags = if dev.has_skb {
        if dev.nfrags <= 0 {
            0
        } else {
            dev.nfrags.min(MAX_SKB_FRAGS)
        }
    } else {
        -1
    };
    dev.running = false;
    dev.has_skb = false;
    dev.stopped_at = dev.now;
    let elapsed = dev.stopped_at.saturating_sub(dev.started_at);
    let idle = dev.idle_acc;
    // ktime_to_us(elapsed - idle): a difference of nanoseconds, then truncated.
    let busy = elapsed.saturating_sub(idle);
    let per_second = |amount: u128| -> u64 {
        if elapsed == 0 {
            0
        } else {
            (amount * 1_000_000_000 / u128::from(elapsed)) as u64
        }
    };
    let pps = per_second(u128::from(dev.sofar));
    let bps = if dev.imix.is_empty() {
        pps.wrapping_mul(8)
            .wrapping_mul(u64::from(dev.cur_pkt_size))
    } else {
        let bytes: u128 = dev
            .imix
            .iter()
            .map(|e| u128::from(e.size) * u128::from(e.count_so_far))
            .sum();
        per_second(bytes * 8)
    };
    dev.result = format!(
        "OK: {}(c{}+d{}) usec, {} ({}byte,{}frags)\n  {}pps {}Mb/sec ({}bps) errors: {}",
        elapsed / 1000,
        busy / 1000,
        idle / 1000,
        dev.sofar,
        dev.cur_pkt_size as i32,
        nr_frags,
        pps,
        bps / 1_000_000,
        bps,
        dev.errors
    );
}

/// `pktgen_if_show` (REFERENCE §3.3): the device file, byte for byte.
fn render_device(dev: &Device, profile: KernelProfile) -> String {
    let mut out = render_params(dev);
    out.push_str(&flags_line(dev, profile));
    out.push_str(&render_current(dev));
    out
}

/// `pktgen_if_show` up to the `Flags:` line: the configuration.
fn render_params(dev: &Device) -> String {
    let mut out = format!(
        "Params: count {}  min_pkt_size: {}  max_pkt_size: {}\n",
        dev.count, dev.min_pkt_size as u32, dev.max_pkt_size as u32
    );
    if !dev.imix.is_empty() {
        out.push_str("     imix_weights: ");
        for entry in &dev.imix {
            put!(out, "{},{} ", entry.size, entry.weight);
        }
        out.push('\n');
    }
    put!(
        out,
        "     frags: {}  delay: {}  clone_skb: {}  ifname: {}\n",
        dev.nfrags,
        dev.delay,
        dev.clone_skb,
        dev.odevname
    );
    put!(out, "     flows: {} flowlen: {}\n", dev.cflows, dev.lflow);
    put!(
        out,
        "     queue_map_min: {}  queue_map_max: {}\n",
        dev.queue_map_min,
        dev.queue_map_max
    );
    if dev.skb_priority != 0 {
        put!(out, "     skb_priority: {}\n", dev.skb_priority);
    }
    let ipv6 = dev.flags & F_IPV6 != 0;
    if ipv6 {
        // min_in6_saddr / max_in6_saddr cannot be written: always `::`.
        put!(
            out,
            "     saddr: {}  min_saddr: ::  max_saddr: ::\n",
            fmt_in6(&dev.in6_saddr)
        );
        put!(
            out,
            "     daddr: {}  min_daddr: {}  max_daddr: {}\n",
            fmt_in6(&dev.in6_daddr),
            fmt_in6(&dev.min_in6_daddr),
            fmt_in6(&dev.max_in6_daddr)
        );
    } else {
        put!(
            out,
            "     dst_min: {}  dst_max: {}\n",
            dev.dst_min,
            dev.dst_max
        );
        put!(
            out,
            "     src_min: {}  src_max: {}\n",
            dev.src_min,
            dev.src_max
        );
    }
    let src_mac = if dev.src_mac == [0; 6] {
        dev.iface_mac
    } else {
        MacAddr(dev.src_mac)
    };
    put!(
        out,
        "     src_mac: {src_mac} dst_mac: {}\n",
        MacAddr(dev.dst_mac)
    );
    put!(
        out,
        "     udp_src_min: {}  udp_src_max: {}  udp_dst_min: {}  udp_dst_max: {}\n",
        dev.udp_src_min,
        dev.udp_src_max,
        dev.udp_dst_min,
        dev.udp_dst_max
    );
    put!(
        out,
        "     src_mac_count: {}  dst_mac_count: {}\n",
        dev.src_mac_count as i32,
        dev.dst_mac_count as i32
    );
    render_encapsulation(dev, &mut out);
    out
}

/// The conditional lines L11–L18 of REFERENCE §3.3: each appears only off its default.
fn render_encapsulation(dev: &Device, out: &mut String) {
    if !dev.labels.is_empty() {
        let labels: Vec<String> = dev.labels.iter().map(|l| format!("{l:08x}")).collect();
        put!(out, "     mpls: {}\n", labels.join(", "));
    }
    if dev.vlan_id != 0xffff {
        put!(
            out,
            "     vlan_id: {}  vlan_p: {}  vlan_cfi: {}\n",
            dev.vlan_id,
            dev.vlan_p,
            dev.vlan_cfi
        );
    }
    if dev.svlan_id != 0xffff {
        // The svlan line reuses the vlan_p / vlan_cfi labels.
        put!(
            out,
            "     svlan_id: {}  vlan_p: {}  vlan_cfi: {}\n",
            dev.svlan_id,
            dev.svlan_p,
            dev.svlan_cfi
        );
    }
    if dev.tos != 0 {
        put!(out, "     tos: 0x{:02x}\n", dev.tos);
    }
    if dev.traffic_class != 0 {
        put!(out, "     traffic_class: 0x{:02x}\n", dev.traffic_class);
    }
    if dev.burst > 1 {
        put!(out, "     burst: {}\n", dev.burst as i32);
    }
    if dev.node >= 0 {
        put!(out, "     node: {}\n", dev.node);
    }
    match dev.xmit_mode {
        XmitMode::StartXmit => {}
        XmitMode::NetifReceive => out.push_str("     xmit_mode: netif_receive\n"),
        // The show word differs from the command word (REFERENCE §3.3).
        XmitMode::QueueXmit => out.push_str("     xmit_mode: xmit_queue\n"),
    }
}

/// `pktgen_if_show` from `Current:` to the end: counters, current values and the Result.
fn render_current(dev: &Device) -> String {
    let mut out = String::from("Current:\n");
    let ipv6 = dev.flags & F_IPV6 != 0;

    put!(
        out,
        "     pkts-sofar: {}  errors: {}\n",
        dev.sofar,
        dev.errors
    );
    if !dev.imix.is_empty() {
        out.push_str("     imix_size_counts: ");
        for entry in &dev.imix {
            put!(out, "{},{} ", entry.size, entry.count_so_far);
        }
        out.push('\n');
    }
    let stopped = if dev.running { dev.now } else { dev.stopped_at };
    put!(
        out,
        "     started: {}us  stopped: {}us idle: {}us\n",
        dev.started_at / 1000,
        stopped / 1000,
        dev.idle_acc / 1000
    );
    put!(
        out,
        "     seq_num: {}  cur_dst_mac_offset: {}  cur_src_mac_offset: {}\n",
        dev.seq_num as i32,
        dev.cur_dst_mac_offset as i32,
        dev.cur_src_mac_offset as i32
    );
    if ipv6 {
        put!(
            out,
            "     cur_saddr: {}  cur_daddr: {}\n",
            fmt_in6(&dev.cur_in6_saddr),
            fmt_in6(&dev.cur_in6_daddr)
        );
    } else {
        put!(
            out,
            "     cur_saddr: {}  cur_daddr: {}\n",
            fmt_in4(dev.cur_saddr),
            fmt_in4(dev.cur_daddr)
        );
    }
    put!(
        out,
        "     cur_udp_dst: {}  cur_udp_src: {}\n",
        dev.cur_udp_dst,
        dev.cur_udp_src
    );
    put!(out, "     cur_queue_map: {}\n", dev.cur_queue_map);
    put!(out, "     flows: {}\n", dev.nflows);
    out.push_str("Result: ");
    out.push_str(if dev.result.is_empty() {
        "Idle"
    } else {
        &dev.result
    });
    out.push('\n');
    out
}

/// The `Flags:` line (REFERENCE §3.3 L19, with the 6.6 fix and its 6.1 backport): each name
/// followed by two spaces, the `FLOW_SEQ` slot skipped without flows and shown as `FLOW_RND`
/// when clear, `spi:N` after `IPSEC`.
fn flags_line(dev: &Device, profile: KernelProfile) -> String {
    let flag_count = if profile.has_shared_flag() {
        FLAG_NAMES.len()
    } else {
        FLAG_NAMES.len() - 1
    };
    let mut out = String::from("     Flags: ");
    for (index, name) in FLAG_NAMES[..flag_count].iter().enumerate() {
        if index == FLOW_SEQ_SHIFT && dev.cflows == 0 {
            continue;
        }
        if dev.flags & (1 << index) != 0 {
            out.push_str(name);
            out.push_str("  ");
            if index == IPSEC_SHIFT && dev.spi != 0 {
                put!(out, "spi:{}  ", dev.spi);
            }
        } else if index == FLOW_SEQ_SHIFT {
            out.push_str("FLOW_RND  ");
        }
    }
    out.push('\n');
    out
}

/// `in_aton`: the kernel's lenient dotted-quad parser; garbage gives a partial address.
fn in_aton(s: &[u8]) -> u32 {
    let s = cstr(s);
    let mut l: u32 = 0;
    let mut p = 0;
    for _ in 0..4 {
        l <<= 8;
        if p < s.len() {
            let mut val: u32 = 0;
            while p < s.len() && s[p] != b'.' && s[p] != b'\n' {
                // `*str - '0'` on a signed char, added to an unsigned int.
                let digit = i32::from(s[p] as i8) - i32::from(b'0');
                val = val.wrapping_mul(10).wrapping_add(digit as u32);
                p += 1;
            }
            l |= val;
            if p < s.len() {
                p += 1;
            }
        }
    }
    l
}

/// `%pI4` of an address kept in host order.
fn fmt_in4(addr: u32) -> String {
    let [a, b, c, d] = addr.to_be_bytes();
    format!("{a}.{b}.{c}.{d}")
}

/// `%pI6c` (`ip6_compressed_string`): the longest run of two or more zero words becomes
/// `::` (the first one on a tie), and v4-mapped and ISATAP addresses end in dotted quad.
fn fmt_in6(addr: &[u8; 16]) -> String {
    let words: Vec<u16> = addr
        .chunks_exact(2)
        .map(|w| u16::from_be_bytes([w[0], w[1]]))
        .collect();
    let v4_mapped = words[..5].iter().all(|&w| w == 0) && words[5] == 0xffff;
    let isatap =
        (u32::from_be_bytes([addr[8], addr[9], addr[10], addr[11]]) | 0x0200_0000) == 0x0200_5efe;
    let use_ipv4 = v4_mapped || isatap;
    let range = if use_ipv4 { 6 } else { 8 };
    let mut longest = 1;
    let mut colonpos = None;
    for start in 0..range {
        let run = words[start..range].iter().take_while(|&&w| w == 0).count();
        if run > longest {
            longest = run;
            colonpos = Some(start);
        }
    }
    let mut out = String::new();
    let mut needcolon = false;
    let mut index = 0;
    while index < range {
        if Some(index) == colonpos {
            if needcolon || index == 0 {
                out.push(':');
            }
            out.push(':');
            needcolon = false;
            index += longest;
            continue;
        }
        if needcolon {
            out.push(':');
        }
        put!(out, "{:x}", words[index]);
        needcolon = true;
        index += 1;
    }
    if use_ipv4 {
        if needcolon {
            out.push(':');
        }
        put!(out, "{}.{}.{}.{}", addr[12], addr[13], addr[14], addr[15]);
    }
    out
}

/// `mac_pton`: `xx:xx:xx:xx:xx:xx` in either case; anything after the 17th character is
/// ignored.
fn mac_pton(s: &[u8]) -> Option<[u8; 6]> {
    let s = cstr(s);
    if s.len() < 17 {
        return None;
    }
    let mut mac = [0u8; 6];
    for (index, byte) in mac.iter_mut().enumerate() {
        let hi = hex_value(s[index * 3])?;
        let lo = hex_value(s[index * 3 + 1])?;
        if index != 5 && s[index * 3 + 2] != b':' {
            return None;
        }
        *byte = ((hi << 4) | lo) as u8;
    }
    Some(mac)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DeviceName, ThreadId};

    const MAC: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x10]);

    fn new_sim(profile: KernelProfile) -> SimProcfs {
        let sim = SimProcfs::new(profile, &[0, 1]);
        sim.add_interface("eth0", MAC, true);
        sim.add_interface("eth1", MAC, true);
        sim.add_interface("eth10", MAC, true);
        sim
    }

    fn dev(name: &str) -> PgFile {
        PgFile::Device(DeviceName::new(name).unwrap())
    }

    fn t(n: u32) -> PgFile {
        PgFile::Thread(ThreadId(n))
    }

    fn result(sim: &SimProcfs, file: &PgFile) -> String {
        let text = sim.read(file).unwrap();
        let at = text.find("Result: ").unwrap();
        text[at + 8..].trim_end_matches('\n').to_owned()
    }

    fn errno(res: Result<(), ProcfsError>) -> Option<i32> {
        res.err().and_then(|e| e.errno())
    }

    #[test]
    fn rem_device_all_removes_devices_only_after_the_lag() {
        let sim = new_sim(KernelProfile::LINUX_6_12);
        sim.write(&t(0), "add_device eth0").unwrap();
        sim.write(&t(0), "rem_device_all").unwrap();
        assert_eq!(result(&sim, &t(0)), "OK: rem_device_all");
        // Still there: readable, and blocking a re-add on any thread.
        assert!(sim.read(&dev("eth0")).is_ok());
        assert_eq!(errno(sim.write(&t(1), "add_device eth0")), Some(EBUSY));
        assert!(sim.list().unwrap().contains(&"eth0".to_owned()));
        assert!(!sim.list().unwrap().contains(&"eth0".to_owned()));
        assert!(matches!(
            sim.read(&dev("eth0")),
            Err(ProcfsError::Missing { .. })
        ));
        sim.write(&t(1), "add_device eth0").unwrap();

        sim.set_removal_lag(0);
        sim.write(&t(1), "rem_device_all").unwrap();
        assert!(sim.device_names().is_empty());
    }

    #[test]
    fn injected_faults_hit_the_nth_write_only() {
        let sim = new_sim(KernelProfile::LINUX_6_12);
        sim.write(&t(0), "add_device eth0").unwrap();
        sim.fail_write(1, 5);
        sim.fail_result_at(2, "ERROR: injected");
        assert_eq!(errno(sim.write(&dev("eth0"), "count 7")), Some(5));
        assert!(sim
            .read(&dev("eth0"))
            .unwrap()
            .starts_with("Params: count 1000 "));
        sim.write(&dev("eth0"), "count 8").unwrap();
        assert_eq!(result(&sim, &dev("eth0")), "ERROR: injected");
        assert!(sim
            .read(&dev("eth0"))
            .unwrap()
            .starts_with("Params: count 1000 "));
        sim.write(&dev("eth0"), "count 9").unwrap();
        assert!(sim
            .read(&dev("eth0"))
            .unwrap()
            .starts_with("Params: count 9 "));
        assert_eq!(sim.write_count(), 4);
        let log = sim.write_log();
        assert_eq!(log[1], ("eth0".to_owned(), "count 7".to_owned()));
        assert_eq!(log.len(), 4);
    }

    #[test]
    fn renaming_moves_the_first_proc_file_and_keeps_the_thread_list() {
        let sim = new_sim(KernelProfile::LINUX_6_12);
        sim.set_removal_lag(0);
        sim.write(&t(0), "add_device eth0@1").unwrap();
        sim.write(&t(0), "add_device eth0@2").unwrap();
        assert!(sim.rename_interface("eth0", "wan0"));
        let list = sim.list().unwrap();
        // eth0@2 is the head of the list, so its file moves; eth0@1 keeps its own.
        assert!(list.contains(&"wan0".to_owned()) && list.contains(&"eth0@1".to_owned()));
        assert!(!list.contains(&"eth0@2".to_owned()));
        assert!(sim.read(&dev("wan0")).unwrap().contains("ifname: eth0@2\n"));
        assert_eq!(
            sim.read(&t(0)).unwrap(),
            "Running: \nStopped: eth0@2 eth0@1 \nResult: OK: add_device=eth0@2\n"
        );
        assert!(sim.interface("wan0").is_some());
        assert!(sim.interface("eth0").is_none());
        // A new proc file cannot take the moved name.
        sim.add_interface("wan0x", MAC, true);
        assert!(!sim.rename_interface("wan0x", "wan0"));
    }

    #[test]
    fn removing_an_interface_removes_all_its_streams_only() {
        let sim = new_sim(KernelProfile::LINUX_6_1);
        sim.write(&t(0), "add_device eth1").unwrap();
        sim.write(&t(0), "add_device eth1@3").unwrap();
        sim.write(&t(1), "add_device eth10").unwrap();
        assert!(sim.remove_interface("eth1"));
        assert_eq!(sim.device_names(), vec!["eth10".to_owned()]);
        assert_eq!(errno(sim.write(&t(0), "add_device eth1")), Some(ENODEV));
        assert!(!sim.remove_interface("eth1"));
    }

    #[test]
    fn add_device_errors_follow_the_kernel_checks() {
        let sim = new_sim(KernelProfile::LINUX_6_12);
        sim.add_interface("down0", MAC, false);
        sim.add_interface_with(
            "lo",
            SimInterface {
                mac: MacAddr::ZERO,
                up: true,
                kind: SimIfaceKind::Loopback,
                tx_skb_sharing: false,
                tx_queues: 1,
            },
        );
        sim.add_interface_with(
            "tun0",
            SimInterface {
                mac: MacAddr::ZERO,
                up: true,
                kind: SimIfaceKind::Other,
                tx_skb_sharing: false,
                tx_queues: 1,
            },
        );
        sim.add_interface("pgctrl", MAC, true);
        assert_eq!(errno(sim.write(&t(0), "add_device nosuch")), Some(ENODEV));
        assert_eq!(errno(sim.write(&t(0), "add_device down0")), Some(ENETDOWN));
        assert_eq!(errno(sim.write(&t(0), "add_device tun0")), Some(EINVAL));
        assert_eq!(errno(sim.write(&t(0), "add_device pgctrl")), Some(EINVAL));
        assert_eq!(result(&sim, &t(0)), "ERROR: can not add device pgctrl");
        assert_eq!(errno(sim.write(&t(0), "frobnicate")), Some(EINVAL));
        assert_eq!(result(&sim, &t(0)), "ERROR: can not add device pgctrl");
        sim.write(&t(0), "add_device lo@0").unwrap();
        // No IFF_TX_SKB_SHARING on lo: ENOTSUPP (524) before 6.15.
        assert_eq!(errno(sim.write(&dev("lo@0"), "clone_skb 1")), Some(524));
        assert_eq!(errno(sim.write(&dev("lo@0"), "burst 2")), Some(524));
    }

    #[test]
    fn shared_flag_rules_on_6_7_and_later() {
        let sim = new_sim(KernelProfile::LINUX_6_12);
        sim.write(&t(0), "add_device eth0").unwrap();
        let d = dev("eth0");
        sim.write(&d, "clone_skb 5").unwrap();
        assert_eq!(errno(sim.write(&d, "flag !SHARED")), Some(EINVAL));
        sim.write(&d, "clone_skb 0").unwrap();
        sim.write(&d, "flag !SHARED").unwrap();
        assert_eq!(result(&sim, &d), "OK: flags=0x0");
        assert_eq!(errno(sim.write(&d, "clone_skb 1")), Some(EINVAL));
        assert_eq!(errno(sim.write(&d, "burst 2")), Some(EINVAL));
        sim.write(&d, "flag SHARED").unwrap();
        sim.write(&d, "burst 4").unwrap();
        assert_eq!(result(&sim, &d), "OK: burst=4");
        sim.write(&d, "xmit_mode queue_xmit").unwrap();
        assert_eq!(errno(sim.write(&d, "burst 8")), Some(524));
    }

    #[test]
    fn rate_zero_is_a_short_write_before_6_15() {
        let sim = new_sim(KernelProfile::LINUX_6_1);
        sim.write(&t(0), "add_device eth0").unwrap();
        match sim.write(&dev("eth0"), "rate 0") {
            Err(ProcfsError::ShortWrite { written, len, .. }) => assert_eq!((written, len), (1, 7)),
            other => panic!("{other:?}"),
        }
        sim.write(&dev("eth0"), "min_pkt_size 60").unwrap();
        sim.write(&dev("eth0"), "rate 100").unwrap();
        assert!(sim.read(&dev("eth0")).unwrap().contains("  delay: 4800  "));
        let sim = sim_615();
        sim.write(&t(0), "add_device eth0").unwrap();
        assert_eq!(errno(sim.write(&dev("eth0"), "rate 0")), Some(EINVAL));
    }

    fn sim_615() -> SimProcfs {
        new_sim(KernelProfile { version: (6, 15) })
    }

    #[test]
    fn pgctrl_accepts_three_commands() {
        let sim = new_sim(KernelProfile::LINUX_6_12);
        for cmd in ["start", "stop", "reset"] {
            sim.write(&PgFile::Ctrl, cmd).unwrap();
        }
        assert_eq!(errno(sim.write(&PgFile::Ctrl, "restart")), Some(EINVAL));
        assert_eq!(errno(sim.write(&PgFile::Ctrl, "start ")), Some(EINVAL));
        assert_eq!(sim.read(&PgFile::Ctrl).unwrap(), VERSION_TEXT);
    }

    #[test]
    fn a_run_ends_with_results_in_kernel_format() {
        let sim = new_sim(KernelProfile::LINUX_6_12);
        sim.write(&t(0), "add_device eth0").unwrap();
        sim.write(&t(1), "add_device eth1").unwrap();
        let d = dev("eth0");
        sim.write(&d, "count 10").unwrap();
        sim.write(&dev("eth1"), "count 0").unwrap();
        sim.write(&PgFile::Ctrl, "start").unwrap();
        assert_eq!(result(&sim, &d), "Starting");
        assert_eq!(
            sim.read(&t(0)).unwrap(),
            "Running: eth0 \nStopped: \nResult: OK: add_device=eth0\n"
        );
        sim.advance(4);
        assert!(sim.read(&d).unwrap().contains("pkts-sofar: 4  errors: 0\n"));
        sim.advance(100);
        assert_eq!(
            result(&sim, &d),
            "OK: 10(c10+d0) usec, 10 (58byte,0frags)\n  1000000pps 464Mb/sec (464000000bps) errors: 0"
        );
        let text = sim.read(&d).unwrap();
        assert!(text.starts_with("Params: count 10  min_pkt_size: 58  max_pkt_size: 58\n"));
        assert!(text.contains("     seq_num: 11  "));
        assert_eq!(sim.running_devices(), vec!["eth1".to_owned()]);
        sim.write(&PgFile::Ctrl, "stop").unwrap();
        assert!(
            result(&sim, &dev("eth1")).starts_with("OK: 104(c104+d0) usec, 104 (58byte,0frags)")
        );
        assert!(sim.running_devices().is_empty());
    }

    #[test]
    fn mpls_limits_and_quirks() {
        let sim = new_sim(KernelProfile::LINUX_6_12);
        sim.write(&t(0), "add_device eth0").unwrap();
        let d = dev("eth0");
        let labels = vec!["1"; 16].join(",");
        assert_eq!(errno(sim.write(&d, &format!("mpls {labels}"))), Some(E2BIG));
        let labels = vec!["00000001"; 15].join(",");
        sim.write(&d, &format!("mpls {labels}")).unwrap();
        // A short label is shifted one nibble too far before 6.15.
        sim.write(&d, "mpls a").unwrap();
        assert_eq!(result(&sim, &d), "OK: mpls=000000a0");
        sim.write(&d, "mpls xyz").unwrap();
        assert_eq!(result(&sim, &d), "OK: mpls=");
    }

    #[test]
    fn imix_parsing_limits() {
        let sim = new_sim(KernelProfile::LINUX_6_12);
        sim.write(&t(0), "add_device eth0").unwrap();
        let d = dev("eth0");
        assert_eq!(errno(sim.write(&d, "imix_weights 64,0")), Some(EINVAL));
        let pairs = vec!["100,1"; 21].join(" ");
        assert_eq!(
            errno(sim.write(&d, &format!("imix_weights {pairs}"))),
            Some(E2BIG)
        );
        sim.write(&d, "imix_weights 20,1 1500,3").unwrap();
        assert!(sim
            .read(&d)
            .unwrap()
            .contains("     imix_weights: 42,1 1500,3 \n"));
        assert_eq!(result(&sim, &d), "Idle");
        assert_eq!(errno(sim.write(&d, "clone_skb 1")), Some(EINVAL));
    }

    #[test]
    fn result_only_refusals() {
        let sim = new_sim(KernelProfile::LINUX_6_12);
        sim.write(&t(0), "add_device eth0").unwrap();
        let d = dev("eth0");
        sim.write(&d, "node 1").unwrap();
        assert_eq!(result(&sim, &d), "ERROR: node not possible");
        sim.write(&d, "traffic_class 5").unwrap();
        assert_eq!(result(&sim, &d), "ERROR: traffic_class must be 00-ff");
        sim.write(&d, "svlan_cfi 1").unwrap();
        assert_eq!(result(&sim, &d), "ERROR: svlan_cfi must be 0-1");
        sim.write(&d, "svlan_id 5").unwrap();
        assert_eq!(result(&sim, &d), "ERROR: svlan_cfi must be 0-1");
        sim.write(&d, "xmit_mode foo").unwrap();
        // The text ends in a newline, which leaves an empty line after the Result.
        assert!(sim.read(&d).unwrap().ends_with(
            "\nResult: xmit_mode -:foo:- unknown\nAvailable modes: start_xmit, netif_receive\n\n"
        ));
    }

    #[test]
    fn addresses_render_like_the_kernel() {
        assert_eq!(fmt_in4(in_aton(b"10.1.2.3")), "10.1.2.3");
        assert_eq!(fmt_in4(in_aton(b"10.1")), "10.1.0.0");
        assert_eq!(fmt_in4(in_aton(b"")), "0.0.0.0");
        let v6 = |s: &str| fmt_in6(&Ipv6Addr::from_str(s).unwrap().octets());
        assert_eq!(v6("fd00:0:0:0:0:0:0:1"), "fd00::1");
        assert_eq!(v6("::"), "::");
        assert_eq!(v6("2001:db8:0:1:0:0:0:1"), "2001:db8:0:1::1");
        assert_eq!(v6("2001:db8:0:1:1:1:1:1"), "2001:db8:0:1:1:1:1:1");
        assert_eq!(v6("::ffff:1.2.3.4"), "::ffff:1.2.3.4");
        assert_eq!(v6("1:0:0:2:0:0:0:3"), "1:0:0:2::3");
        assert_eq!(
            mac_pton(b"00:1B:21:3c:9d:F8"),
            Some([0, 0x1b, 0x21, 0x3c, 0x9d, 0xf8])
        );
        assert_eq!(mac_pton(b"00:1b:21:3c:9d"), None);
        assert_eq!(mac_pton(b"00-1b-21-3c-9d-f8"), None);
    }

    #[test]
    fn hardened_parser_accepts_name_equals_value() {
        let sim = sim_615();
        sim.write(&t(0), "add_device eth0").unwrap();
        sim.write(&dev("eth0"), "count=20").unwrap();
        assert_eq!(result(&sim, &dev("eth0")), "OK: count=20");
        let sim = new_sim(KernelProfile::LINUX_6_12);
        sim.write(&t(0), "add_device eth0").unwrap();
        assert_eq!(errno(sim.write(&dev("eth0"), "count=20")), Some(EINVAL));
        assert_eq!(result(&sim, &dev("eth0")), "No such parameter \"count=20\"");
    }

    #[test]
    fn a_stream_stops_when_its_interface_goes_down() {
        let sim = new_sim(KernelProfile::LINUX_6_12);
        sim.write(&t(0), "add_device eth0").unwrap();
        sim.write(&dev("eth0"), "count 0").unwrap();
        sim.write(&PgFile::Ctrl, "start").unwrap();
        sim.advance(5);
        assert!(sim.set_interface_up("eth0", false));
        sim.advance(5);
        assert!(sim.running_devices().is_empty());
        assert!(result(&sim, &dev("eth0")).starts_with("OK: 5(c5+d0) usec, 5 (58byte,0frags)\n"));
        let info = sim.interface("eth0").unwrap();
        assert_eq!(
            (info.mac, info.up, info.tx_queues),
            (Some(MAC), false, Some(1))
        );
    }

    #[test]
    fn never_transmit_delay_and_ipv6_start_defaults() {
        let sim = new_sim(KernelProfile::LINUX_6_12);
        sim.write(&t(0), "add_device eth0").unwrap();
        let d = dev("eth0");
        sim.write(&d, "delay 2147483647").unwrap();
        sim.write(&d, "dst6 fd00:0:0:0:0:0:0:1").unwrap();
        assert_eq!(result(&sim, &d), "OK: dst6=fd00::1");
        sim.write(&d, "queue_map_max 7").unwrap();
        sim.write(&PgFile::Ctrl, "start").unwrap();
        sim.advance(1000);
        let text = sim.read(&d).unwrap();
        assert!(text.starts_with("Params: count 1000  min_pkt_size: 78  max_pkt_size: 78\n"));
        assert!(text.contains("  delay: 18446744073709551615  "));
        // Clamped to the interface's single TX queue at start.
        assert!(text.contains("     queue_map_min: 0  queue_map_max: 0\n"));
        assert!(text.contains("     pkts-sofar: 0  errors: 0\n"));
        assert_eq!(sim.running_devices(), vec!["eth0".to_owned()]);
    }

    #[test]
    fn kernel_release_names_the_profile() {
        assert_eq!(
            new_sim(KernelProfile::LINUX_6_1)
                .kernel_release()
                .as_deref(),
            Some("6.1.0-sim")
        );
    }
}
