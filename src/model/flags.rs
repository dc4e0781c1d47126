//! pktgen's per-device flags (REFERENCE §2.4), as a set.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

macro_rules! flags {
    ($($(#[$doc:meta])* $variant:ident = $bit:literal,)*) => {
        /// One pktgen flag. The discriminant is its bit index in the kernel's `flags` word,
        /// which is also the order in which the `Flags:` line prints them.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[allow(non_camel_case_types)]
        pub enum Flag {
            $($(#[$doc])* $variant = $bit,)*
        }

        impl Flag {
            /// Every flag, in bit order.
            pub const ALL: &'static [Flag] = &[$(Flag::$variant,)*];

            /// The kernel's name for the flag.
            pub fn name(self) -> &'static str {
                match self {
                    $(Flag::$variant => stringify!($variant),)*
                }
            }
        }
    };
}

flags! {
    /// IPv6 mode; set by writing an IPv6 address, cleared with `flag !IPV6`.
    IPV6 = 0,
    /// Random IPv4 source in `[src_min, src_max)`.
    IPSRC_RND = 1,
    /// Random IPv4 destination.
    IPDST_RND = 2,
    /// Random packet size in `[min_pkt_size, max_pkt_size)`.
    TXSIZE_RND = 3,
    /// Random UDP source port.
    UDPSRC_RND = 4,
    /// Random UDP destination port.
    UDPDST_RND = 5,
    /// Compute UDP checksums (3.12+).
    UDPCSUM = 6,
    /// No timestamp in the pktgen header (4.2+).
    NO_TIMESTAMP = 7,
    /// Randomise MPLS labels that carry the bottom-of-stack bit.
    MPLS_RND = 8,
    /// Random TX queue.
    QUEUE_MAP_RND = 9,
    /// TX queue = current CPU.
    QUEUE_MAP_CPU = 10,
    /// Step through flows in order instead of randomly.
    FLOW_SEQ = 11,
    /// IPsec (needs `CONFIG_XFRM`).
    IPSEC = 12,
    /// Random source MAC within `src_mac_count`.
    MACSRC_RND = 13,
    /// Random destination MAC within `dst_mac_count`.
    MACDST_RND = 14,
    /// Random VLAN id.
    VID_RND = 15,
    /// Random SVLAN id.
    SVID_RND = 16,
    /// Allocate on NUMA node `node` (`NODE_ALLOC` before 4.16).
    NODE = 17,
    /// Shared skb; on by default from 6.7.
    SHARED = 18,
}

impl fmt::Display for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown flag name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown flag '{0}'")]
pub struct UnknownFlag(pub String);

impl FromStr for Flag {
    type Err = UnknownFlag;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            // Kernels before 4.16 printed the NUMA flag as NODE_ALLOC (REFERENCE §6).
            "NODE_ALLOC" => Ok(Flag::NODE),
            _ => Flag::ALL
                .iter()
                .copied()
                .find(|f| f.name() == s)
                .ok_or_else(|| UnknownFlag(s.to_owned())),
        }
    }
}

/// A set of flags, stored like the kernel's bit mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct FlagSet(u32);

impl FlagSet {
    /// No flags.
    pub const EMPTY: FlagSet = FlagSet(0);

    /// The set holding only `flag`.
    pub fn of(flag: Flag) -> FlagSet {
        FlagSet(1 << flag as u32)
    }

    /// Whether `flag` is set.
    pub fn contains(self, flag: Flag) -> bool {
        self.0 & (1 << flag as u32) != 0
    }

    /// Sets or clears `flag`.
    pub fn set(&mut self, flag: Flag, on: bool) {
        if on {
            self.0 |= 1 << flag as u32;
        } else {
            self.0 &= !(1 << flag as u32);
        }
    }

    /// Returns a copy with `flag` set or cleared.
    pub fn with(mut self, flag: Flag, on: bool) -> FlagSet {
        self.set(flag, on);
        self
    }

    /// The flags in bit order.
    pub fn iter(self) -> impl Iterator<Item = Flag> {
        Flag::ALL.iter().copied().filter(move |f| self.contains(*f))
    }

    /// The kernel's bit mask.
    pub fn bits(self) -> u32 {
        self.0
    }

    /// True when no flag is set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl FromIterator<Flag> for FlagSet {
    fn from_iter<I: IntoIterator<Item = Flag>>(iter: I) -> Self {
        let mut set = FlagSet::EMPTY;
        for f in iter {
            set.set(f, true);
        }
        set
    }
}

impl fmt::Display for FlagSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<_> = self.iter().map(Flag::name).collect();
        write!(f, "[{}]", names.join(", "))
    }
}

impl Serialize for FlagSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter().map(Flag::name))
    }
}

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_match_the_kernel_result_masks() {
        // From the 6.1 transcript, case allflags: Result "OK: flags=0x1ebfe".
        let set: FlagSet = [
            "IPSRC_RND",
            "IPDST_RND",
            "UDPSRC_RND",
            "UDPDST_RND",
            "MACSRC_RND",
            "MACDST_RND",
            "TXSIZE_RND",
            "MPLS_RND",
            "VID_RND",
            "SVID_RND",
            "FLOW_SEQ",
            "QUEUE_MAP_RND",
            "UDPCSUM",
            "NO_TIMESTAMP",
        ]
        .iter()
        .map(|n| n.parse::<Flag>().unwrap())
        .collect();
        assert_eq!(set.bits(), 0x1ebfe);
        assert_eq!(FlagSet::of(Flag::SHARED).bits(), 0x40000);
    }

    #[test]
    fn node_alloc_is_the_old_name_of_node() {
        assert_eq!("NODE_ALLOC".parse::<Flag>().unwrap(), Flag::NODE);
        assert!("BOGUS".parse::<Flag>().is_err());
    }
}
