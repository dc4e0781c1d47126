//! The simulated namespace's state, as `net/core/pktgen.c` keeps it: one `struct pktgen_dev`
//! per device ([`Device`], with the fields `pktgen_if_show` prints and the defaults of
//! `pktgen_add_device`), the threads and their `if_list`, the interfaces, injected faults and
//! the fake clock; and the kernel's constants. The files that mirror the kernel's functions
//! work on these; nothing here reads or writes a file.

use std::collections::BTreeMap;

use crate::kernel::KernelProfile;
use crate::model::MacAddr;

pub(super) const E2BIG: i32 = 7;
pub(super) const EBUSY: i32 = 16;
pub(super) const ENODEV: i32 = 19;
pub(super) const EINVAL: i32 = 22;
pub(super) const ENETDOWN: i32 = 100;

/// 14 + 20 + 8: the smallest packet size pktgen accepts (REFERENCE §2.3).
pub(super) const MIN_PKT_SIZE: u64 = 42;
/// `MAX_CFLOWS`.
pub(super) const MAX_CFLOWS: u64 = 65_536;
/// `MAX_IMIX_ENTRIES`.
pub(super) const MAX_IMIX_ENTRIES: usize = 20;
/// `IMIX_PRECISION`: buckets of the imix distribution.
pub(super) const IMIX_PRECISION: usize = 100;
/// `MAX_SKB_FRAGS` on x86-64 (the frags count reported by `show_results`).
pub(super) const MAX_SKB_FRAGS: i32 = 17;
/// The fake clock: cost of sending one packet.
pub(super) const PACKET_TIME_NS: u64 = 1_000;
/// Where the fake `ktime_get()` starts (a few seconds after boot, like the transcripts).
pub(super) const CLOCK_START_NS: u64 = 5_000_000_000;
/// `IFNAMSIZ`: `pktgen_dev_get_by_name` copies at most this many characters before `@`.
pub(super) const IFNAMSIZ: usize = 16;
/// `pg_count_d`, the module default for `count`.
pub(super) const DEFAULT_COUNT: u64 = 1000;

/// Flag names in bit order (REFERENCE §2.4); `SHARED` exists on 6.7+ only.
pub(super) const FLAG_NAMES: [&str; 19] = [
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
pub(super) const F_IPV6: u32 = 1 << 0;
pub(super) const F_MPLS_RND: u32 = 1 << 8;
pub(super) const FLOW_SEQ_SHIFT: usize = 11;
pub(super) const F_FLOW_SEQ: u32 = 1 << FLOW_SEQ_SHIFT;
pub(super) const IPSEC_SHIFT: usize = 12;
pub(super) const F_SHARED: u32 = 1 << 18;

/// The fixed unknown-flag list of 4.16–6.6 (REFERENCE §2.4), `CONFIG_XFRM` assumed (Debian).
pub(super) const OLD_FLAG_LIST: &str = "IPSRC_RND, IPDST_RND, UDPSRC_RND, UDPDST_RND, MACSRC_RND, \
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum XmitMode {
    StartXmit,
    NetifReceive,
    QueueXmit,
}

#[derive(Debug, Clone)]
pub(super) enum Fault {
    Errno(i32),
    Result(String),
}

#[derive(Debug, Clone, Copy, Default)]
pub(super) struct ImixEntry {
    pub(super) size: u64,
    pub(super) weight: u64,
    pub(super) count_so_far: u64,
}

/// One `struct pktgen_dev`, with the fields `pktgen_if_show` prints.
#[derive(Debug, Clone)]
pub(super) struct Device {
    /// `odevname`: the name written to `add_device` (thread lists, `ifname:`).
    pub(super) odevname: String,
    /// The proc entry; differs from `odevname` after a rename, `None` if it could not be
    /// re-created (REFERENCE §5.5).
    pub(super) proc_name: Option<String>,
    /// The netdev (`odev`), by its current name; `odev` follows renames.
    pub(super) iface: String,
    pub(super) iface_mac: MacAddr,
    pub(super) tx_skb_sharing: bool,
    pub(super) tx_queues: u32,
    /// `Some(n)`: removed by an asynchronous `rem_device_all` after `n` more `list()` calls.
    pub(super) removal: Option<usize>,
    pub(super) running: bool,
    pub(super) result: String,

    pub(super) count: u64,
    pub(super) min_pkt_size: i32,
    pub(super) max_pkt_size: i32,
    pub(super) cur_pkt_size: u32,
    pub(super) pkt_overhead: i32,
    pub(super) nfrags: i32,
    pub(super) delay: u64,
    pub(super) clone_skb: i32,
    pub(super) cflows: u32,
    pub(super) lflow: u32,
    pub(super) queue_map_min: u16,
    pub(super) queue_map_max: u16,
    pub(super) skb_priority: u32,
    pub(super) flags: u32,
    pub(super) xmit_mode: XmitMode,
    pub(super) dst_min: String,
    pub(super) dst_max: String,
    pub(super) src_min: String,
    pub(super) src_max: String,
    pub(super) saddr_min: u32,
    pub(super) saddr_max: u32,
    pub(super) daddr_min: u32,
    pub(super) daddr_max: u32,
    pub(super) cur_saddr: u32,
    pub(super) cur_daddr: u32,
    pub(super) in6_saddr: [u8; 16],
    pub(super) in6_daddr: [u8; 16],
    pub(super) min_in6_daddr: [u8; 16],
    pub(super) max_in6_daddr: [u8; 16],
    pub(super) cur_in6_saddr: [u8; 16],
    pub(super) cur_in6_daddr: [u8; 16],
    pub(super) src_mac: [u8; 6],
    pub(super) dst_mac: [u8; 6],
    pub(super) udp_src_min: u16,
    pub(super) udp_src_max: u16,
    pub(super) udp_dst_min: u16,
    pub(super) udp_dst_max: u16,
    pub(super) cur_udp_src: u16,
    pub(super) cur_udp_dst: u16,
    pub(super) src_mac_count: u32,
    pub(super) dst_mac_count: u32,
    pub(super) cur_src_mac_offset: u32,
    pub(super) cur_dst_mac_offset: u32,
    /// The MPLS label stack (host order); its length is `nr_labels`.
    pub(super) labels: Vec<u32>,
    pub(super) vlan_id: u16,
    pub(super) vlan_p: u8,
    pub(super) vlan_cfi: u8,
    pub(super) svlan_id: u16,
    pub(super) svlan_p: u8,
    pub(super) svlan_cfi: u8,
    pub(super) tos: u8,
    pub(super) traffic_class: u8,
    pub(super) burst: u32,
    pub(super) node: i32,
    pub(super) spi: u32,
    pub(super) imix: Vec<ImixEntry>,
    pub(super) imix_distribution: [u8; IMIX_PRECISION],
    pub(super) imix_cursor: u64,

    pub(super) sofar: u64,
    pub(super) errors: u64,
    pub(super) tx_bytes: u64,
    pub(super) seq_num: u32,
    pub(super) idle_acc: u64,
    pub(super) started_at: u64,
    pub(super) stopped_at: u64,
    /// This stream's position on the fake clock while it runs.
    pub(super) now: u64,
    pub(super) nflows: u32,
    pub(super) cur_queue_map: u16,
    /// Whether pktgen still holds an skb (`show_results` prints `-1` frags otherwise).
    pub(super) has_skb: bool,
}

#[derive(Debug)]
pub(super) struct Thread {
    pub(super) cpu: u32,
    /// `t->result`; empty shows as `NA`.
    pub(super) result: String,
    /// The `if_list`, head first: the newest device comes first (REFERENCE §3.2).
    pub(super) devices: Vec<Device>,
}

#[derive(Debug)]
pub(super) struct State {
    pub(super) profile: KernelProfile,
    pub(super) threads: Vec<Thread>,
    pub(super) interfaces: BTreeMap<String, SimInterface>,
    pub(super) removal_lag: usize,
    pub(super) faults: BTreeMap<usize, Fault>,
    pub(super) writes: usize,
    pub(super) log: Vec<(String, String)>,
    pub(super) clock_ns: u64,
    /// The module-wide `debug` variable (`debug N` on any device).
    pub(super) debug: i32,
}

/// What one `write(2)` returns: the bytes taken, or an errno.
pub(super) type WriteRet = Result<usize, i32>;

impl State {
    pub(super) fn hardened(&self) -> bool {
        hardened_parser(self.profile)
    }

    /// Whether a proc entry called `name` exists in the pktgen directory.
    pub(super) fn proc_name_taken(&self, name: &str) -> bool {
        name == "pgctrl"
            || self.threads.iter().any(|t| {
                thread_file_name(t.cpu) == name
                    || t.devices
                        .iter()
                        .any(|d| d.proc_name.as_deref() == Some(name))
            })
    }

    pub(super) fn find_device(&self, proc_name: &str) -> Option<(usize, usize)> {
        self.threads.iter().enumerate().find_map(|(ti, t)| {
            t.devices
                .iter()
                .position(|d| d.proc_name.as_deref() == Some(proc_name))
                .map(|di| (ti, di))
        })
    }

    pub(super) fn find_thread(&self, cpu: u32) -> Option<usize> {
        self.threads.iter().position(|t| t.cpu == cpu)
    }
}

pub(super) fn thread_file_name(cpu: u32) -> String {
    format!("kpktgend_{cpu}")
}

/// The Feb–Mar 2025 parser hardening (6.15, REFERENCE §6): `=` ends a name, `rate 0` is
/// `EINVAL`, hex values are no longer shifted one nibble too far, pgctrl keeps its last byte.
pub(super) fn hardened_parser(profile: KernelProfile) -> bool {
    profile.version >= (6, 15)
}

impl Device {
    /// `pktgen_add_device` defaults (REFERENCE §2.5).
    pub(super) fn new(
        name: &str,
        iface_name: &str,
        iface: &SimInterface,
        profile: KernelProfile,
    ) -> Device {
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
