//! Value types of the state file that the model keeps as they are: MPLS labels, imix
//! weights and addresses, with the spellings the state file accepts. No I/O here.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use super::ImixEntry;

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

/// An IPv4 address of a state file: refused with the value and the form it should have
/// (std's own message, "invalid IPv4 address syntax", says neither).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct V4Addr(pub Ipv4Addr);

/// An IPv6 address of a state file; see [`V4Addr`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct V6Addr(pub Ipv6Addr);

impl Serialize for V4Addr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl Serialize for V6Addr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for V4Addr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map(V4Addr).map_err(|_| {
            serde::de::Error::custom(format!(
                "'{s}' is not an IPv4 address (expected a.b.c.d, each 0–255)"
            ))
        })
    }
}

impl<'de> Deserialize<'de> for V6Addr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map(V6Addr).map_err(|_| {
            serde::de::Error::custom(format!(
                "'{s}' is not an IPv6 address (expected eight groups of hex digits separated by \
                 ':', `::` standing for a run of zero groups, like 2001:db8::1)"
            ))
        })
    }
}
