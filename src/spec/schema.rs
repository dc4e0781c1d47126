//! The state-file schema: what a YAML device entry may say. Keys are the kernel's command
//! names, so one grep finds the reference, the code and the kernel source.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use crate::model::{ImixEntry, MacAddr, XmitMode};

/// A state file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateFile {
    /// Threads this state owns; others are never touched. All threads when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<Vec<u32>>,
    /// Devices by pktgen name.
    #[serde(default)]
    pub devices: std::collections::BTreeMap<String, DeviceSpec>,
}

/// One device entry. Every key but `thread` is optional and defaults to the kernel's value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)] // Each field is the kernel command of the same name; see the README.
pub struct DeviceSpec {
    pub thread: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pkt_size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_pkt_size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_pkt_size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imix_weights: Option<ImixWeights>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frags: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratep: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clone_skb: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dst: Option<Ipv4Addr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dst_min: Option<Ipv4Addr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dst_max: Option<Ipv4Addr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src_min: Option<Ipv4Addr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src_max: Option<Ipv4Addr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dst6: Option<Ipv6Addr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dst6_min: Option<Ipv6Addr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dst6_max: Option<Ipv6Addr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src6: Option<Ipv6Addr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dst_mac: Option<MacAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src_mac: Option<MacAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src_mac_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dst_mac_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub udp_src_min: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub udp_src_max: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub udp_dst_min: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub udp_dst_max: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_map_min: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_map_max: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flows: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flowlen: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mpls: Option<Vec<MplsLabel>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan_id: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan_p: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan_cfi: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub svlan_id: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub svlan_p: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub svlan_cfi: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tos: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic_class: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skb_priority: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xmit_mode: Option<XmitMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spi: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flags: Option<Vec<String>>,
}

/// Every key a device entry accepts, for "did you mean" hints.
pub const DEVICE_KEYS: &[&str] = &[
    "thread",
    "count",
    "pkt_size",
    "min_pkt_size",
    "max_pkt_size",
    "imix_weights",
    "frags",
    "delay",
    "rate",
    "ratep",
    "clone_skb",
    "burst",
    "dst",
    "dst_min",
    "dst_max",
    "src_min",
    "src_max",
    "dst6",
    "dst6_min",
    "dst6_max",
    "src6",
    "dst_mac",
    "src_mac",
    "src_mac_count",
    "dst_mac_count",
    "udp_src_min",
    "udp_src_max",
    "udp_dst_min",
    "udp_dst_max",
    "queue_map_min",
    "queue_map_max",
    "flows",
    "flowlen",
    "mpls",
    "vlan_id",
    "vlan_p",
    "vlan_cfi",
    "svlan_id",
    "svlan_p",
    "svlan_cfi",
    "tos",
    "traffic_class",
    "skb_priority",
    "node",
    "xmit_mode",
    "spi",
    "flags",
];

/// An MPLS label: a YAML integer, or a hex string as the kernel prints it (`0001000a`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MplsLabel(pub u32);

impl Serialize for MplsLabel {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{:08x}", self.0))
    }
}

impl<'de> Deserialize<'de> for MplsLabel {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = MplsLabel;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an MPLS label: an integer or up to 8 hex digits such as \"0001000a\"")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<MplsLabel, E> {
                u32::try_from(v)
                    .map(MplsLabel)
                    .map_err(|_| E::custom(format!("MPLS label {v} does not fit in 32 bits")))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<MplsLabel, E> {
                u64::try_from(v)
                    .map_err(|_| E::custom(format!("MPLS label {v} is negative")))
                    .and_then(|v| self.visit_u64(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<MplsLabel, E> {
                let digits = v.strip_prefix("0x").unwrap_or(v);
                if digits.is_empty() || digits.len() > 8 {
                    return Err(E::custom(format!(
                        "MPLS label '{v}' must be 1 to 8 hex digits"
                    )));
                }
                u32::from_str_radix(digits, 16)
                    .map(MplsLabel)
                    .map_err(|_| E::custom(format!("MPLS label '{v}' is not hex")))
            }
        }
        d.deserialize_any(V)
    }
}

/// `imix_weights`: the kernel's syntax `"64,7 576,4 1500,1"`, or a list of `[size, weight]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImixWeights(pub Vec<ImixEntry>);

impl Serialize for ImixWeights {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let text: Vec<String> = self
            .0
            .iter()
            .map(|e| format!("{},{}", e.size, e.weight))
            .collect();
        s.serialize_str(&text.join(" "))
    }
}

impl<'de> Deserialize<'de> for ImixWeights {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = ImixWeights;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "imix weights as \"size,weight size,weight ...\" or a list of [size, weight]",
                )
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ImixWeights, E> {
                v.split_whitespace()
                    .map(|pair| {
                        let (s, w) = pair.split_once(',').ok_or_else(|| {
                            E::custom(format!("imix entry '{pair}' is not size,weight"))
                        })?;
                        let num = |x: &str| {
                            x.parse::<u64>().map_err(|_| {
                                E::custom(format!("imix entry '{pair}': '{x}' is not a number"))
                            })
                        };
                        Ok(ImixEntry {
                            size: num(s)?,
                            weight: num(w)?,
                        })
                    })
                    .collect::<Result<_, _>>()
                    .map(ImixWeights)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<ImixWeights, A::Error> {
                let mut out = Vec::new();
                while let Some((size, weight)) = seq.next_element::<(u64, u64)>()? {
                    out.push(ImixEntry { size, weight });
                }
                Ok(ImixWeights(out))
            }
        }
        d.deserialize_any(V)
    }
}
