//! The configuration of one pktgen device, as the kernel holds it.
//!
//! [`DeviceConfig`] is the one canonical form that both sides of a plan use: a desired state is
//! validated into it, and a device file is parsed into it. Values are normalised the way the
//! kernel stores them (unset IPv4 addresses are empty, `src_mac` zero means "the interface's
//! MAC", and so on), so that equal configurations compare equal.

use std::fmt;
use std::net::Ipv6Addr;

use serde::{Deserialize, Serialize};

use super::{Flag, FlagSet, MacAddr};
use crate::kernel::KernelProfile;

/// How a device hands packets to the stack (`xmit_mode`, REFERENCE §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum XmitMode {
    /// `dev_hard_start_xmit`, the default.
    #[default]
    StartXmit,
    /// Inject into the receive path.
    NetifReceive,
    /// `dev_queue_xmit`; the kernel shows it as `xmit_queue` (4.8+).
    QueueXmit,
}

impl XmitMode {
    /// The word written with `xmit_mode`.
    pub fn command_word(self) -> &'static str {
        match self {
            XmitMode::StartXmit => "start_xmit",
            XmitMode::NetifReceive => "netif_receive",
            XmitMode::QueueXmit => "queue_xmit",
        }
    }
}

impl fmt::Display for XmitMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.command_word())
    }
}

/// An 802.1Q tag: id, priority and CFI/DEI bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Vlan {
    /// 0–4095.
    pub id: u16,
    /// Priority, 0–7.
    pub p: u8,
    /// CFI/DEI, 0–1.
    pub cfi: u8,
}

/// One `imix_weights` entry: packet size and relative weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImixEntry {
    /// Packet size in bytes (the kernel raises values below 42 to 42).
    pub size: u64,
    /// Relative weight, at least 1.
    pub weight: u64,
}

/// How the packet rate is configured. The kernel stores only `delay`; `rate` and `ratep`
/// are converted at write time (REFERENCE §2.3, §3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pacing {
    /// `delay N`: nanoseconds between packets.
    #[default]
    Delay,
    /// `rate M`: megabits per second, converted with the `min_pkt_size` of that moment.
    Rate(u64),
    /// `ratep P`: packets per second.
    RateP(u64),
}

/// The `delay` value pktgen shows for "never transmit": `delay 2147483647` is stored as
/// `ULLONG_MAX` (REFERENCE §2.3).
pub const DELAY_NEVER_WRITTEN: u64 = 0x7FFF_FFFF;

/// Declares [`DeviceConfig`]: the plain scalars' fields and defaults come from the rows of
/// [`super::params`], the others are listed here.
macro_rules! device_config {
    ({ $($field:tt)* } { $($default:tt)* }
     all: [$($all:tt)*]
     plain: [$($(#[$m:meta])* $key:ident : $cty:ty = $def:expr, { $($param:tt)* } { $($p:tt)* },)*]
     special: [$($special:tt)*]) => {
        /// Everything pgstate manages about one device, as the kernel stores it.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct DeviceConfig {
            $($(#[$m])* pub $key: $cty,)*
            $($field)*
        }

        impl DeviceConfig {
            /// The defaults every kernel shares: a fresh device without its flags (only
            /// `SHARED` depends on the kernel). A line the device file leaves out means this
            /// value (REFERENCE §2.5, §3.3).
            pub fn defaults() -> DeviceConfig {
                DeviceConfig {
                    $($key: $def,)*
                    $($default)*
                }
            }
        }
    };
}

super::params::device_params!(device_config {
    {
        /// `min_pkt_size` (0 = unset until the first start).
        pub min_pkt_size: u32,
        /// `max_pkt_size` (0 = unset until the first start).
        pub max_pkt_size: u32,
        /// `imix_weights` (5.15+); cannot be cleared without re-adding the device.
        pub imix_weights: Vec<ImixEntry>,
        /// `delay` in ns (what `rate`/`ratep` turn into).
        pub delay: u64,
        /// `dst_min` (alias `dst`), canonical dotted quad, empty when unset. IPv4 mode only.
        pub dst_min: String,
        /// `dst_max`.
        pub dst_max: String,
        /// `src_min`; empty means "the interface's first address".
        pub src_min: String,
        /// `src_max`.
        pub src_max: String,
        /// `dst6`. IPv6 mode only.
        pub dst6: Ipv6Addr,
        /// `dst6_min`.
        pub dst6_min: Ipv6Addr,
        /// `dst6_max`.
        pub dst6_max: Ipv6Addr,
        /// `src6`.
        pub src6: Ipv6Addr,
        /// `dst_mac`.
        pub dst_mac: MacAddr,
        /// `src_mac`; zero means the interface's own MAC.
        pub src_mac: MacAddr,
        /// `mpls` label stack.
        pub mpls: Vec<u32>,
        /// `vlan_id`/`vlan_p`/`vlan_cfi`; `None` = no VLAN tag.
        pub vlan: Option<Vlan>,
        /// `svlan_id`/`svlan_p`/`svlan_cfi`; only with `vlan`.
        pub svlan: Option<Vlan>,
        /// `node`; `None` = `NUMA_NO_NODE`, which cannot be written back.
        pub node: Option<u32>,
        /// `xmit_mode`.
        pub xmit_mode: XmitMode,
        /// `flag …`, including `IPV6`, which follows from the addresses.
        pub flags: FlagSet,
    }
    {
        min_pkt_size: 0,
        max_pkt_size: 0,
        imix_weights: Vec::new(),
        delay: 0,
        dst_min: String::new(),
        dst_max: String::new(),
        src_min: String::new(),
        src_max: String::new(),
        dst6: Ipv6Addr::UNSPECIFIED,
        dst6_min: Ipv6Addr::UNSPECIFIED,
        dst6_max: Ipv6Addr::UNSPECIFIED,
        src6: Ipv6Addr::UNSPECIFIED,
        dst_mac: MacAddr::ZERO,
        src_mac: MacAddr::ZERO,
        mpls: Vec::new(),
        vlan: None,
        svlan: None,
        node: None,
        xmit_mode: XmitMode::StartXmit,
        flags: FlagSet::EMPTY,
    }
});

impl DeviceConfig {
    /// A device as `add_device` creates it on this kernel with the module's default
    /// parameters (REFERENCE §2.5).
    pub fn fresh(profile: &KernelProfile) -> DeviceConfig {
        DeviceConfig {
            flags: FlagSet::EMPTY.with(Flag::SHARED, profile.has_shared_flag()),
            ..DeviceConfig::defaults()
        }
    }

    /// IPv6 mode: the kernel shows the IPv6 address lines instead of the IPv4 ones.
    pub fn ipv6(&self) -> bool {
        self.flags.contains(Flag::IPV6)
    }

    /// The packet size `pktgen_setup_inject` fills in at start when `min_pkt_size` is 0:
    /// Ethernet + IP + UDP + pktgen header, plus MPLS and VLAN overhead (REFERENCE §2.5).
    pub fn start_default_pkt_size(&self) -> u32 {
        let base = if self.ipv6() { 78 } else { 58 };
        let mpls = 4 * self.mpls.len() as u32;
        let vlan = if self.vlan.is_some() { 4 } else { 0 };
        let svlan = if self.svlan.is_some() { 4 } else { 0 };
        base + mpls + vlan + svlan
    }
}
