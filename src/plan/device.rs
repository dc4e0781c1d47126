//! Per-device planning: which commands take one device from what it is to what it should
//! be, in the order the kernel needs (REFERENCE §2.6). Pure.

use std::net::Ipv6Addr;

use serde::Serialize;

use super::{managed_flag, ResultCheck, Write};
use crate::kernel::KernelProfile;
use crate::model::params::{self, Phase, Settle};
use crate::model::{DeviceConfig, DeviceName, Flag, Pacing, Vlan, DELAY_NEVER_WRITTEN};
use crate::procfs::{InterfaceInfo, PgFile};

/// One parameter that changes: one line of a plan. How it reads is the renderer's (the
/// crate's `render` module); the planner says only what changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldChange {
    /// The state-file key (`vlan` for the pair of tags, `ipv6` for the address family).
    pub field: String,
    /// The value before.
    pub old: ChangeValue,
    /// The value after.
    pub new: ChangeValue,
    /// The same change by state-file key, typed as JSON (`plan --json`): several keys for
    /// `vlan`, the rate and the delay it sets for `rate`/`ratep`, nothing for `ipv6`.
    pub typed: Vec<KeyChange>,
}

/// A value before or after a change, as the planner knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeValue {
    /// A value, in the form a state file writes it (a number, an address, a MAC, a mode).
    Set(String),
    /// An address or range that is not set.
    Unset,
    /// No entries: no MPLS labels, no imix weights, no NUMA node.
    Nothing,
    /// The kernel does not show the value (the other address family, `spi` without IPSEC).
    Hidden,
    /// A source MAC of zero: the interface's own (REFERENCE §2.3).
    InterfaceMac,
    /// A delay never written since the device was added.
    NeverWritten,
    /// A delay, in nanoseconds.
    Nanoseconds(u64),
    /// A range of packet sizes.
    Range {
        /// The smallest.
        min: u64,
        /// The largest.
        max: u64,
    },
    /// `rate`: megabits per second, and the delay it sets.
    Rate {
        /// Mb/s.
        mbps: u64,
        /// The delay the kernel computes from it, ns.
        delay_ns: u64,
    },
    /// `ratep`: packets per second, and the delay it sets.
    RateP {
        /// Packets per second.
        pps: u64,
        /// The delay the kernel computes from it, ns.
        delay_ns: u64,
    },
    /// The VLAN and SVLAN tags (`None`: off).
    Vlans {
        /// The inner tag.
        vlan: Option<Vlan>,
        /// The outer tag.
        svlan: Option<Vlan>,
    },
    /// One flag, on or off.
    Flag {
        /// The flag.
        flag: Flag,
        /// Whether it is on.
        on: bool,
    },
    /// Something on or off (IPv6, which the addresses decide).
    Switch(bool),
}

/// One state-file key that changes, with typed values: numbers as numbers, addresses and
/// MACs as strings, `flags` as the whole list of flags (IPV6 aside, which follows the
/// addresses), `mpls` as a list of labels, `imix_weights` as a list of `[size, weight]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyChange {
    /// The state-file key (`dst_min` also stands for its other name `dst`).
    pub field: String,
    /// Before: `null` when unset, or when the kernel does not show it (then `hidden`).
    pub old: serde_json::Value,
    /// After: `null` when unset.
    pub new: serde_json::Value,
    /// The kernel does not show the value before (the other address family, `spi` without
    /// IPSEC), so `old` is unknown.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub hidden: bool,
}

/// A value before or after a change: what the plan says, and the same typed as JSON.
struct Valued {
    value: ChangeValue,
    json: serde_json::Value,
    hidden: bool,
}

impl Valued {
    /// A known value, written with its `Display` and typed with its `Serialize`.
    fn of(v: impl std::fmt::Display + Serialize) -> Valued {
        Valued {
            value: ChangeValue::Set(v.to_string()),
            json: json(&v),
            hidden: false,
        }
    }

    /// A value that is not there (`null` in JSON).
    fn absent(value: ChangeValue) -> Valued {
        Valued {
            value,
            json: serde_json::Value::Null,
            hidden: false,
        }
    }

    /// A value the kernel does not show.
    fn hidden() -> Valued {
        Valued {
            hidden: true,
            ..Valued::absent(ChangeValue::Hidden)
        }
    }

    /// The same JSON, said as `value`.
    fn said_as(mut self, value: ChangeValue) -> Valued {
        self.value = value;
        self
    }
}

fn json(v: &impl Serialize) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

/// The flags as JSON: every flag that is on, IPV6 aside (the addresses decide it).
fn flag_list(flags: crate::model::FlagSet) -> serde_json::Value {
    flags
        .iter()
        .filter(|f| *f != Flag::IPV6)
        .map(|f| serde_json::Value::from(f.name()))
        .collect()
}

fn v4(s: &str) -> Valued {
    if s.is_empty() {
        Valued::absent(ChangeValue::Unset)
    } else {
        Valued::of(s)
    }
}

fn mpls(labels: &[u32]) -> Valued {
    if labels.is_empty() {
        return Valued::absent(ChangeValue::Nothing);
    }
    Valued {
        json: labels.iter().map(|l| format!("{l:08x}")).collect(),
        value: ChangeValue::Set(
            labels
                .iter()
                .map(|l| format!("{l:08x}"))
                .collect::<Vec<_>>()
                .join(","),
        ),
        hidden: false,
    }
}

fn imix(w: &[crate::model::ImixEntry]) -> Valued {
    if w.is_empty() {
        return Valued::absent(ChangeValue::Nothing);
    }
    Valued {
        value: ChangeValue::Set(
            w.iter()
                .map(|e| format!("{},{}", e.size, e.weight))
                .collect::<Vec<_>>()
                .join(" "),
        ),
        json: w
            .iter()
            .map(|e| serde_json::json!([e.size, e.weight]))
            .collect(),
        hidden: false,
    }
}

/// The `vlan_*` and `svlan_*` keys of two tags, for the keys that differ.
fn vlan_keys(
    from: (Option<Vlan>, Option<Vlan>),
    to: (Option<Vlan>, Option<Vlan>),
) -> Vec<KeyChange> {
    let parts = |prefix: &str, v: Option<Vlan>| {
        let get = |f: fn(Vlan) -> u64| v.map_or(serde_json::Value::Null, |v| f(v).into());
        [
            (format!("{prefix}_id"), get(|v| u64::from(v.id))),
            (format!("{prefix}_p"), get(|v| u64::from(v.p))),
            (format!("{prefix}_cfi"), get(|v| u64::from(v.cfi))),
        ]
    };
    let old = parts("vlan", from.0)
        .into_iter()
        .chain(parts("svlan", from.1));
    let new = parts("vlan", to.0).into_iter().chain(parts("svlan", to.1));
    old.zip(new)
        .filter(|(o, n)| o.1 != n.1)
        .map(|((field, old), (_, new))| KeyChange {
            field,
            old,
            new,
            hidden: false,
        })
        .collect()
}

/// The writes for one device and the changes they make.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceDiff {
    /// Changed parameters.
    pub changes: Vec<FieldChange>,
    /// The commands, in kernel order.
    pub writes: Vec<Write>,
}

/// Whether the packet sizes match. Sizes left at the default (0) read back as 0 until the
/// first start, and as the size `pktgen_setup_inject` picked afterwards (REFERENCE §2.5).
fn pkt_sizes_match(live: &DeviceConfig, want: &DeviceConfig) -> bool {
    if want.min_pkt_size == 0 && want.max_pkt_size == 0 {
        live.min_pkt_size == live.max_pkt_size
            && (live.min_pkt_size == 0
                || live.min_pkt_size == live.start_default_pkt_size()
                || live.min_pkt_size == want.start_default_pkt_size())
    } else {
        live.min_pkt_size == want.min_pkt_size && live.max_pkt_size == want.max_pkt_size
    }
}

/// Why `live` can only become `want` by removing and re-adding the device, if it must.
/// These settings have no command that returns them to the default (REFERENCE §7.3).
pub fn recreate_reason(
    live: &DeviceConfig,
    want: &DeviceConfig,
    _iface: Option<&InterfaceInfo>,
) -> Option<String> {
    if !live.imix_weights.is_empty() && want.imix_weights.is_empty() {
        return Some("imix_weights can only be cleared by re-adding the device".into());
    }
    if live.node.is_some() && want.node.is_none() {
        return Some("node can only be reset to 'no node' by re-adding the device".into());
    }
    if want.min_pkt_size == 0 && want.max_pkt_size == 0 && !pkt_sizes_match(live, want) {
        return Some(
            "packet sizes can only go back to the kernel default by re-adding the device".into(),
        );
    }
    None
}

fn flags_key(old: serde_json::Value, new: serde_json::Value) -> KeyChange {
    KeyChange {
        field: "flags".into(),
        old,
        new,
        hidden: false,
    }
}

struct DiffBuilder<'a> {
    name: &'a DeviceName,
    out: DeviceDiff,
}

impl DiffBuilder<'_> {
    fn write(&mut self, field: &str, command: String, check: ResultCheck) {
        self.out.writes.push(Write {
            file: PgFile::Device(self.name.clone()),
            command,
            device: Some(self.name.clone()),
            field: Some(field.to_owned()),
            check,
            wait_gone: Vec::new(),
        });
    }

    /// A change of `field`, typed under the same key.
    fn change(&mut self, field: &str, old: Valued, new: Valued) {
        let typed = vec![KeyChange {
            field: field.to_owned(),
            old: old.json,
            new: new.json,
            hidden: old.hidden,
        }];
        self.change_keys(field, old.value, new.value, typed);
    }

    /// A change said as `field`, typed as the state-file keys of `typed`.
    fn change_keys(
        &mut self,
        field: &str,
        old: ChangeValue,
        new: ChangeValue,
        typed: Vec<KeyChange>,
    ) {
        self.out.changes.push(FieldChange {
            field: field.to_owned(),
            old,
            new,
            typed,
        });
    }

    /// A plain `field value` command that the kernel confirms with `OK:`.
    fn set(&mut self, field: &str, old: Valued, new: impl std::fmt::Display + Serialize) {
        let command = format!("{field} {new}");
        self.change(field, old, Valued::of(new));
        self.write(field, command, ResultCheck::DeviceOk);
    }

    /// The plain scalars of `phase` ([`params`]) that differ: one `key value` write each.
    fn plain(
        &mut self,
        phase: Phase,
        cur: &DeviceConfig,
        to: &DeviceConfig,
        iface: Option<&InterfaceInfo>,
    ) {
        for (p, plain) in params::in_phase(phase) {
            let (old, new) = ((plain.get)(cur), (plain.get)(to));
            if old == new || old == settled(plain.settle, new, iface) {
                continue;
            }
            let f = plain.format;
            self.change(
                p.key,
                Valued::of(old).said_as(ChangeValue::Set(f.display(old))),
                Valued::of(new).said_as(ChangeValue::Set(f.display(new))),
            );
            let command = format!("{} {}", p.key, f.command_value(new));
            self.write(p.key, command, ResultCheck::DeviceOk);
        }
    }
}

/// The value the kernel turns `v` into by itself, which counts as converged.
fn settled(settle: Settle, v: u64, iface: Option<&InterfaceInfo>) -> u64 {
    match (settle, iface.and_then(|i| i.tx_queues)) {
        // pktgen clamps queue_map_* to the real queue count at every start (§2.3).
        (Settle::ClampToTxQueues, Some(n)) if n > 0 && v >= u64::from(n) => u64::from(n - 1),
        _ => v,
    }
}

/// The fewest writes that set the packet sizes of `cur` to those of `to` (REFERENCE §2.6
/// rule 9). One size X takes one write: `pkt_size X` sets min, max and cur at once, but only
/// when min differs from X; when min is already X it does nothing, and `max_pkt_size X` alone
/// finishes the job. A range needs one write per bound that differs.
fn pkt_size_writes(g: &mut DiffBuilder<'_>, cur: &DeviceConfig, to: &DeviceConfig) {
    let (lo, hi) = (to.min_pkt_size, to.max_pkt_size);
    if lo == hi {
        // A range before is `[min, max]` in JSON.
        let old = if cur.min_pkt_size == cur.max_pkt_size {
            Valued::of(cur.min_pkt_size)
        } else {
            Valued {
                value: ChangeValue::Range {
                    min: u64::from(cur.min_pkt_size),
                    max: u64::from(cur.max_pkt_size),
                },
                json: serde_json::json!([cur.min_pkt_size, cur.max_pkt_size]),
                hidden: false,
            }
        };
        if cur.min_pkt_size != lo {
            g.change("pkt_size", old, Valued::of(lo));
            g.write("pkt_size", format!("pkt_size {lo}"), ResultCheck::DeviceOk);
        } else if cur.max_pkt_size != hi {
            g.change("pkt_size", old, Valued::of(lo));
            g.write(
                "pkt_size",
                format!("max_pkt_size {hi}"),
                ResultCheck::DeviceOk,
            );
        }
        return;
    }
    if cur.min_pkt_size != lo {
        g.set("min_pkt_size", Valued::of(cur.min_pkt_size), lo);
    }
    if cur.max_pkt_size != hi {
        g.set("max_pkt_size", Valued::of(cur.max_pkt_size), hi);
    }
}

/// The writes that take device `name` from `from` to `to`, phase by phase in the order the
/// kernel needs (REFERENCE §2.6).
///
/// `fresh_known` says `from` is a device just added, whose hidden fields (the other address
/// family, spi, FLOW_SEQ with no flows, VLAN priority while VLAN is off) are known defaults;
/// for a live device they are unknown and written whenever they matter.
pub fn device_writes(
    name: &DeviceName,
    from: &DeviceConfig,
    fresh_known: bool,
    to: &DeviceConfig,
    pacing: Pacing,
    profile: &KernelProfile,
    iface: Option<&InterfaceInfo>,
) -> DeviceDiff {
    let mut d = DevicePlanner {
        g: DiffBuilder {
            name,
            out: DeviceDiff::default(),
        },
        cur: from.clone(),
        to,
        iface,
        fresh_known,
        v4_known: fresh_known || !from.ipv6(),
        v6_known: fresh_known || from.ipv6(),
        spi_known: fresh_known || from.flags.contains(Flag::IPSEC),
        flow_seq_known: fresh_known || from.flows > 0,
    };
    d.modes_before_sizes();
    d.sizes();
    d.clone_and_burst();
    d.plain(Phase::Counts);
    d.pacing(pacing);
    d.addresses();
    d.macs();
    d.plain(Phase::Traffic);
    d.tags(profile);
    d.plain(Phase::Qos);
    d.node_and_spi();
    d.flags();
    d.g.out
}

/// One device's plan in the making: the writes so far, and what the device is after them.
struct DevicePlanner<'a> {
    g: DiffBuilder<'a>,
    /// The device as the writes so far leave it.
    cur: DeviceConfig,
    to: &'a DeviceConfig,
    iface: Option<&'a InterfaceInfo>,
    fresh_known: bool,
    v4_known: bool,
    v6_known: bool,
    spi_known: bool,
    flow_seq_known: bool,
}

impl DevicePlanner<'_> {
    /// The plain scalars of `phase` that differ.
    fn plain(&mut self, phase: Phase) {
        self.g.plain(phase, &self.cur, self.to, self.iface);
    }

    /// Lower clone_skb and burst first: netif_receive, imix and !SHARED refuse them; the
    /// mode; SHARED before clone_skb > 0 or burst > 1 (§2.6 rules 1–3).
    fn modes_before_sizes(&mut self) {
        let (g, cur, to) = (&mut self.g, &mut self.cur, self.to);
        if to.clone_skb == 0 && cur.clone_skb != 0 {
            g.set("clone_skb", Valued::of(cur.clone_skb), 0u64);
            cur.clone_skb = 0;
        }
        if to.burst == 1 && cur.burst != 1 {
            g.set("burst", Valued::of(cur.burst), 1u64);
            cur.burst = 1;
        }
        if to.xmit_mode != cur.xmit_mode {
            g.set("xmit_mode", Valued::of(cur.xmit_mode), to.xmit_mode);
        }
        if to.flags.contains(Flag::SHARED) && !cur.flags.contains(Flag::SHARED) {
            let before = flag_list(cur.flags);
            cur.flags.set(Flag::SHARED, true);
            g.change_keys(
                "flags",
                ChangeValue::Flag {
                    flag: Flag::SHARED,
                    on: false,
                },
                ChangeValue::Flag {
                    flag: Flag::SHARED,
                    on: true,
                },
                vec![flags_key(before, flag_list(cur.flags))],
            );
            g.write("flags", "flag SHARED".into(), ResultCheck::DeviceOk);
        }
    }

    /// Packet sizes, before `rate` (§2.6 rule 5), and imix weights (after clone_skb 0).
    fn sizes(&mut self) {
        let (g, cur, to) = (&mut self.g, &mut self.cur, self.to);
        if !pkt_sizes_match(cur, to) {
            pkt_size_writes(g, cur, to);
            cur.min_pkt_size = to.min_pkt_size;
            cur.max_pkt_size = to.max_pkt_size;
        }
        if to.imix_weights != cur.imix_weights && !to.imix_weights.is_empty() {
            let text = to
                .imix_weights
                .iter()
                .map(|e| format!("{},{}", e.size, e.weight))
                .collect::<Vec<_>>()
                .join(" ");
            g.change(
                "imix_weights",
                imix(&cur.imix_weights),
                imix(&to.imix_weights),
            );
            // imix_weights leaves Result as it was (REFERENCE §4).
            g.write(
                "imix_weights",
                format!("imix_weights {text}"),
                ResultCheck::NotUpdated,
            );
        }
    }

    /// Raised clone_skb and burst, now that SHARED and the mode allow them.
    fn clone_and_burst(&mut self) {
        let (g, cur, to) = (&mut self.g, &self.cur, self.to);
        if to.clone_skb != cur.clone_skb {
            g.set("clone_skb", Valued::of(cur.clone_skb), to.clone_skb);
        }
        if to.burst != cur.burst {
            g.set("burst", Valued::of(cur.burst), to.burst);
        }
    }

    /// `delay`, `rate` or `ratep`: all set the delay; `rate` converts with the packet size
    /// written above.
    fn pacing(&mut self, pacing: Pacing) {
        let (g, cur, to) = (&mut self.g, &self.cur, self.to);
        if to.delay == cur.delay {
            return;
        }
        let old = if cur.delay == DELAY_NEVER_WRITTEN {
            Valued::absent(ChangeValue::NeverWritten)
        } else {
            Valued::of(cur.delay).said_as(ChangeValue::Nanoseconds(cur.delay))
        };
        // `rate` and `ratep` are typed as the rate (the kernel keeps none: null before) and
        // the delay it sets.
        let rate_keys = |key: &str, rate: u64, old: &Valued| {
            vec![
                KeyChange {
                    field: key.to_owned(),
                    old: serde_json::Value::Null,
                    new: rate.into(),
                    hidden: false,
                },
                KeyChange {
                    field: "delay".into(),
                    old: old.json.clone(),
                    new: to.delay.into(),
                    hidden: false,
                },
            ]
        };
        match pacing {
            Pacing::Delay => {
                g.change("delay", old, Valued::of(to.delay));
                g.write(
                    "delay",
                    format!("delay {}", to.delay),
                    ResultCheck::DeviceOk,
                );
            }
            Pacing::Rate(m) => {
                let typed = rate_keys("rate", m, &old);
                g.change_keys(
                    "rate",
                    old.value,
                    ChangeValue::Rate {
                        mbps: m,
                        delay_ns: to.delay,
                    },
                    typed,
                );
                g.write("rate", format!("rate {m}"), ResultCheck::DeviceOk);
            }
            Pacing::RateP(p) => {
                let typed = rate_keys("ratep", p, &old);
                g.change_keys(
                    "ratep",
                    old.value,
                    ChangeValue::RateP {
                        pps: p,
                        delay_ns: to.delay,
                    },
                    typed,
                );
                g.write("ratep", format!("ratep {p}"), ResultCheck::DeviceOk);
            }
        }
    }

    /// Addresses: each family is hidden while the other is active (§3.3 L7), so a switch
    /// writes every field of the new family.
    fn addresses(&mut self) {
        let (g, cur, to) = (&mut self.g, &self.cur, self.to);
        if to.ipv6() {
            let switching = !cur.ipv6();
            let fields = [
                ("dst6", cur.dst6, to.dst6),
                ("dst6_min", cur.dst6_min, to.dst6_min),
                ("dst6_max", cur.dst6_max, to.dst6_max),
                ("src6", cur.src6, to.src6),
            ];
            for (i, (field, old, new)) in fields.into_iter().enumerate() {
                let link_local_default =
                    field == "src6" && new.is_unspecified() && is_link_local(old) && !switching;
                let differs = if self.v6_known {
                    old != new && !link_local_default
                } else {
                    true
                };
                // One IPv6 write must happen for the kernel to switch mode.
                if differs || (switching && i == 0) {
                    let old = if self.v6_known {
                        Valued::of(old)
                    } else {
                        Valued::hidden()
                    };
                    g.set(field, old, new);
                }
            }
        } else {
            let fields = [
                ("dst_min", &cur.dst_min, &to.dst_min),
                ("dst_max", &cur.dst_max, &to.dst_max),
                ("src_min", &cur.src_min, &to.src_min),
                ("src_max", &cur.src_max, &to.src_max),
            ];
            for (field, old, new) in fields {
                if !self.v4_known || old != new {
                    let shown_old = if self.v4_known {
                        v4(old)
                    } else {
                        Valued::hidden()
                    };
                    g.change(field, shown_old, v4(new));
                    // Unset is written as a lone NUL: the kernel stores the empty string,
                    // which for src_min means "the interface's address" (REFERENCE §2.3). A
                    // missing value would make pre-6.15 kernels read past the write buffer
                    // (§2.0); the NUL is a value byte on every version and the newline after
                    // it ends it.
                    let value = if new.is_empty() { "\0" } else { new.as_str() };
                    g.write(field, format!("{field} {value}"), ResultCheck::DeviceOk);
                }
            }
        }
    }

    /// MAC addresses; a zero source MAC means "use the interface's" (REFERENCE §2.3).
    fn macs(&mut self) {
        let (g, cur, to) = (&mut self.g, &self.cur, self.to);
        if to.dst_mac != cur.dst_mac {
            g.set("dst_mac", Valued::of(cur.dst_mac), to.dst_mac);
        }
        if to.src_mac != cur.src_mac {
            let show = |m: crate::model::MacAddr| {
                if m.is_zero() {
                    Valued::absent(ChangeValue::InterfaceMac)
                } else {
                    Valued::of(m)
                }
            };
            g.change("src_mac", show(cur.src_mac), show(to.src_mac));
            g.write(
                "src_mac",
                format!("src_mac {}", to.src_mac),
                ResultCheck::DeviceOk,
            );
        }
    }

    /// MPLS and VLAN tags, which turn each other off (§2.3): MPLS goes first so that VLAN
    /// has the last word.
    fn tags(&mut self, profile: &KernelProfile) {
        // Priority and CFI survive their tag being turned off (only the id becomes 0xffff,
        // §2.3 vlan_id row), so what the device showed before this plan still holds after
        // the MPLS or SVLAN steps below turn the tags off. A tag that is off now hides them:
        // unknown, except on a fresh device.
        let fresh_known = self.fresh_known;
        let known = |t: Option<Vlan>| t.or(fresh_known.then(Vlan::default));
        let (vlan_bits, svlan_bits) = (known(self.cur.vlan), known(self.cur.svlan));
        let force_vlan = self.mpls(profile);
        self.vlans(vlan_bits, svlan_bits, force_vlan);
    }

    /// The label stack. Returns whether the VLAN id must be written to clear it.
    fn mpls(&mut self, profile: &KernelProfile) -> bool {
        let (g, cur, to) = (&mut self.g, &mut self.cur, self.to);
        if to.mpls == cur.mpls {
            return false;
        }
        let mut force_vlan = false;
        g.change("mpls", mpls(&cur.mpls), mpls(&to.mpls));
        if to.mpls.is_empty() {
            if to.vlan.is_some() {
                // Writing vlan_id clears the label stack.
                force_vlan = true;
            } else if profile.mpls_zero_clears() {
                g.write("mpls", "mpls 0".into(), ResultCheck::DeviceOk);
            } else {
                // Before 6.15 `mpls 0` stores one zero label, but a value that does not start
                // with a hex digit leaves the stack empty in one write (§2.3 mpls row:
                // `get_labels` clears `nr_labels` first and stops at the first non-hex byte).
                g.write("mpls", "mpls none".into(), ResultCheck::DeviceOk);
            }
        } else {
            let labels = to
                .mpls
                .iter()
                .map(|l| format!("{l:08x}"))
                .collect::<Vec<_>>()
                .join(",");
            g.write("mpls", format!("mpls {labels}"), ResultCheck::DeviceOk);
            cur.vlan = None;
            cur.svlan = None;
            if to.mpls.iter().any(|l| l & 0x100 != 0) {
                // A bottom-of-stack label turns MPLS_RND on; the flags step below fixes it.
                cur.flags.set(Flag::MPLS_RND, true);
            }
        }
        cur.mpls = to.mpls.clone();
        force_vlan
    }

    /// VLAN and SVLAN, given the priority and CFI the kernel keeps for each tag.
    fn vlans(&mut self, vlan_bits: Option<Vlan>, svlan_bits: Option<Vlan>, force_vlan: bool) {
        let (g, cur, to) = (&mut self.g, &mut self.cur, self.to);
        if to.vlan == cur.vlan && to.svlan == cur.svlan && !force_vlan {
            return;
        }
        g.change_keys(
            "vlan",
            ChangeValue::Vlans {
                vlan: cur.vlan,
                svlan: cur.svlan,
            },
            ChangeValue::Vlans {
                vlan: to.vlan,
                svlan: to.svlan,
            },
            vlan_keys((cur.vlan, cur.svlan), (to.vlan, to.svlan)),
        );
        let Some(v) = to.vlan else {
            // An id above 4095 turns VLAN and SVLAN off and leaves Result alone.
            g.write("vlan_id", "vlan_id 4096".into(), ResultCheck::NotUpdated);
            return;
        };
        if to.svlan.is_none() && cur.svlan.is_some() {
            // svlan_id > 4095 turns both tags off; the VLAN is set again below.
            g.write("svlan_id", "svlan_id 4096".into(), ResultCheck::NotUpdated);
            cur.vlan = None;
            cur.svlan = None;
        }
        if cur.vlan.map(|x| x.id) != Some(v.id) || force_vlan {
            g.write(
                "vlan_id",
                format!("vlan_id {}", v.id),
                ResultCheck::DeviceOk,
            );
        }
        tag_bits(g, "vlan", vlan_bits, v);
        if let Some(s) = to.svlan {
            if cur.svlan.map(|x| x.id) != Some(s.id) {
                g.write(
                    "svlan_id",
                    format!("svlan_id {}", s.id),
                    ResultCheck::DeviceOk,
                );
            }
            tag_bits(g, "svlan", svlan_bits, s);
        }
    }

    /// `node` (it cannot go back to "no node": a re-add, see [`recreate_reason`]) and the
    /// IPsec SPI, hidden without IPSEC.
    fn node_and_spi(&mut self) {
        let (g, cur, to) = (&mut self.g, &self.cur, self.to);
        if let Some(n) = to.node {
            if cur.node != Some(n) {
                g.set(
                    "node",
                    cur.node
                        .map_or_else(|| Valued::absent(ChangeValue::Nothing), Valued::of),
                    n,
                );
            }
        }
        if to.flags.contains(Flag::IPSEC) && (!self.spi_known || cur.spi != to.spi) {
            g.set(
                "spi",
                if self.spi_known {
                    Valued::of(cur.spi)
                } else {
                    Valued::hidden()
                },
                to.spi,
            );
        }
    }

    /// Flags, then `!SHARED` after clone_skb 0 and burst 1 (§2.6 rule 2) and `!IPV6` last
    /// (rule 8).
    fn flags(&mut self) {
        let (g, cur, to) = (&mut self.g, &self.cur, self.to);
        // Each flag is its own line in the plan; in JSON each carries the whole list before
        // and after, so that consecutive flag changes merge into one change of `flags`.
        let mut flags_now = cur.flags;
        for flag in Flag::ALL.iter().copied().filter(|f| managed_flag(*f)) {
            let want = to.flags.contains(flag);
            let have = cur.flags.contains(flag);
            let write = if flag == Flag::FLOW_SEQ {
                // FLOW_SEQ is shown only while flows > 0 (§3.3 Flags rules).
                to.flows > 0 && (!self.flow_seq_known || want != have)
            } else {
                want != have
            };
            if write {
                let cmd = if want {
                    format!("flag {flag}")
                } else {
                    format!("flag !{flag}")
                };
                let before = flag_list(flags_now);
                flags_now.set(flag, want);
                g.change_keys(
                    "flags",
                    ChangeValue::Flag { flag, on: have },
                    ChangeValue::Flag { flag, on: want },
                    vec![flags_key(before, flag_list(flags_now))],
                );
                g.write("flags", cmd, ResultCheck::DeviceOk);
            }
        }
        if !to.flags.contains(Flag::SHARED) && cur.flags.contains(Flag::SHARED) {
            let before = flag_list(flags_now);
            flags_now.set(Flag::SHARED, false);
            g.change_keys(
                "flags",
                ChangeValue::Flag {
                    flag: Flag::SHARED,
                    on: true,
                },
                ChangeValue::Flag {
                    flag: Flag::SHARED,
                    on: false,
                },
                vec![flags_key(before, flag_list(flags_now))],
            );
            g.write("flags", "flag !SHARED".into(), ResultCheck::DeviceOk);
        }
        if !to.ipv6() && cur.ipv6() {
            // Not a key: the IPv4 address changes say it in JSON.
            g.change_keys(
                "ipv6",
                ChangeValue::Switch(true),
                ChangeValue::Switch(false),
                Vec::new(),
            );
            g.write("flags", "flag !IPV6".into(), ResultCheck::DeviceOk);
        }
    }
}

/// Priority and CFI of one tag (`vlan` or `svlan`), written where `before` (what the kernel
/// keeps, if known) differs.
fn tag_bits(g: &mut DiffBuilder<'_>, tag: &str, before: Option<Vlan>, want: Vlan) {
    if before.map(|x| x.p) != Some(want.p) {
        g.write(
            &format!("{tag}_p"),
            format!("{tag}_p {}", want.p),
            ResultCheck::DeviceOk,
        );
    }
    if before.map(|x| x.cfi) != Some(want.cfi) {
        g.write(
            &format!("{tag}_cfi"),
            format!("{tag}_cfi {}", want.cfi),
            ResultCheck::DeviceOk,
        );
    }
}

fn is_link_local(a: Ipv6Addr) -> bool {
    a.segments()[0] & 0xffc0 == 0xfe80
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(min: u32, max: u32) -> DeviceConfig {
        DeviceConfig {
            min_pkt_size: min,
            max_pkt_size: max,
            ..DeviceConfig::fresh(&KernelProfile::LINUX_6_12)
        }
    }

    fn size_commands(from: (u32, u32), to: (u32, u32)) -> Vec<String> {
        let name = DeviceName::new("eth0").unwrap();
        let mut g = DiffBuilder {
            name: &name,
            out: DeviceDiff::default(),
        };
        pkt_size_writes(&mut g, &sizes(from.0, from.1), &sizes(to.0, to.1));
        g.out.writes.into_iter().map(|w| w.command).collect()
    }

    #[test]
    fn one_packet_size_is_always_one_write() {
        // A fresh device reads 0/0: pkt_size sets both.
        assert_eq!(size_commands((0, 0), (60, 60)), ["pkt_size 60"]);
        assert_eq!(size_commands((64, 64), (60, 60)), ["pkt_size 60"]);
        // min is already 60, so `pkt_size 60` would leave max at 1500 (§2.3 pitfall).
        assert_eq!(size_commands((60, 1500), (60, 60)), ["max_pkt_size 60"]);
        assert_eq!(size_commands((64, 1500), (60, 60)), ["pkt_size 60"]);
    }

    #[test]
    fn a_range_writes_only_the_bounds_that_differ() {
        assert_eq!(
            size_commands((0, 0), (60, 1500)),
            ["min_pkt_size 60", "max_pkt_size 1500"]
        );
        assert_eq!(size_commands((60, 60), (60, 1500)), ["max_pkt_size 1500"]);
        assert_eq!(size_commands((64, 1500), (60, 1500)), ["min_pkt_size 60"]);
    }
}
