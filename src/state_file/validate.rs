//! Turns a [`DeviceSpec`] into a [`DesiredDevice`], checking every kernel range and
//! cross-field rule first (REFERENCE §2.3–2.6). Values the kernel would silently change are
//! errors that say what the kernel would have done. No I/O here.
//!
//! The ranges are the rows of [`params`]; each cross-field rule is a function of its own,
//! named in [`Rule`], which also says what keys the rule reads, so that a rule about a key
//! that was already reported (unknown, or of the wrong type) can be left out.
//! Validation needs no kernel: a device passes when some supported kernel accepts it, and
//! [`kernel_notes`] names the kernels that would not. `plan` judges the live kernel.

use std::net::Ipv6Addr;

use super::schema::DeviceSpec;
use crate::error::did_you_mean;
use crate::kernel::KernelProfile;
use crate::model::params::{self, row, Param, MAX_10_DIGITS, MAX_IMIX_ENTRIES, MIN_PKT_SIZE};
use crate::model::{
    DesiredDevice, DeviceConfig, Flag, FlagSet, ImixWeights, MplsLabel, Pacing, ThreadId, V4Addr,
    V6Addr, Vlan, XmitMode,
};

/// Which check found a problem. Each rule knows the keys it reads besides the one it
/// reports, so that follow-on errors of a key already reported can be left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rule {
    /// A value outside its row's range.
    Range,
    /// `pkt_size` or both `min_pkt_size` and `max_pkt_size` (REFERENCE §2.3 pkt_size row).
    PktSizeForm,
    /// The `imix_weights` entries: count, sizes, weights.
    ImixEntries,
    /// One of `delay`, `rate`, `ratep`.
    OnePacing,
    /// `rate` converts with the packet size of the moment (REFERENCE §2.6 rule 5).
    RateNeedsPktSize,
    /// `dst` is `dst_min`.
    DstAlias,
    /// IPv4 and IPv6 keys exclude each other (REFERENCE §3.3: each family is hidden in the
    /// other's mode).
    AddressFamily,
    /// `tos` is IPv4, `traffic_class` IPv6.
    QosFamily,
    /// `queue_map_min` ≤ `queue_map_max`.
    QueueMapOrder,
    /// At most as many MPLS labels as the newest kernel takes.
    MplsLabels,
    /// MPLS and VLAN turn each other off (REFERENCE §2.6 rule 7).
    MplsWithVlan,
    /// `vlan_p`/`vlan_cfi` need `vlan_id`, `svlan_*` need `svlan_id` and `vlan_id`.
    VlanParts,
    /// Flag names: unknown, twice, or not settable.
    FlagName,
    /// `FLOW_RND` with `FLOW_SEQ`.
    FlowRndWithFlowSeq,
    /// `FLOW_SEQ` needs `flows`.
    FlowSeqNeedsFlows,
    /// `spi` needs flag `IPSEC`.
    SpiNeedsIpsec,
    /// `clone_skb > 0` against `xmit_mode`, imix and `!SHARED` (REFERENCE §2.6 rules 1–4).
    CloneSkbConflicts,
    /// `burst > 1` against `xmit_mode` and `!SHARED`.
    BurstConflicts,
    /// No supported kernel has everything the device needs.
    NoKernel,
}

impl Rule {
    /// The keys the rule reads besides the one it reports.
    pub fn reads(self) -> &'static [&'static str] {
        match self {
            Rule::Range | Rule::ImixEntries | Rule::MplsLabels | Rule::FlagName => &[],
            Rule::PktSizeForm => &["pkt_size", "min_pkt_size", "max_pkt_size"],
            Rule::OnePacing => &["delay", "rate", "ratep"],
            Rule::RateNeedsPktSize => &["pkt_size", "min_pkt_size"],
            Rule::DstAlias => &["dst", "dst_min"],
            Rule::AddressFamily => &[
                "dst", "dst_min", "dst_max", "src_min", "src_max", "dst6", "dst6_min", "dst6_max",
                "src6",
            ],
            Rule::QosFamily => &[
                "tos",
                "traffic_class",
                "dst6",
                "dst6_min",
                "dst6_max",
                "src6",
            ],
            Rule::QueueMapOrder => &["queue_map_min", "queue_map_max"],
            Rule::MplsWithVlan => &["mpls", "vlan_id"],
            Rule::VlanParts => &["vlan_id", "svlan_id"],
            Rule::FlowRndWithFlowSeq => &["flags"],
            Rule::FlowSeqNeedsFlows => &["flags", "flows"],
            Rule::SpiNeedsIpsec => &["spi", "flags"],
            Rule::CloneSkbConflicts => &["clone_skb", "xmit_mode", "imix_weights", "flags"],
            Rule::BurstConflicts => &["burst", "xmit_mode", "flags"],
            Rule::NoKernel => &["imix_weights", "mpls", "flags"],
        }
    }
}

/// One problem with one field of a device entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The key (or `key[index]`) inside the device entry.
    pub field: String,
    /// What is wrong.
    pub message: String,
    /// A suggestion.
    pub help: Option<String>,
    /// The check that found it.
    pub rule: Rule,
}

impl FieldError {
    /// Every key the problem depends on: its own and those its rule reads.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        let own = self.field.split('[').next().unwrap_or_default();
        std::iter::once(own).chain(self.rule.reads().iter().copied())
    }
}

/// A device entry on its way to a [`DeviceConfig`]: the entry, the configuration built so
/// far, and the problems found.
struct Validator<'a> {
    spec: &'a DeviceSpec,
    c: DeviceConfig,
    pacing: Pacing,
    shared: Option<bool>,
    errors: Vec<FieldError>,
}

impl Validator<'_> {
    fn err(&mut self, rule: Rule, field: &str, message: String) {
        self.errors.push(FieldError {
            field: field.to_owned(),
            message,
            help: None,
            rule,
        });
    }

    /// `value` if it is in the range of `param`'s row; otherwise an error saying what the
    /// kernel would do with it.
    fn in_range(&mut self, param: &Param, value: Option<u64>) -> Option<u64> {
        let v = value?;
        let Some(r) = param.range else {
            return Some(v);
        };
        let message = if v < r.lo {
            format!("{v} is below the kernel minimum {}{}", r.lo, r.why_low)
        } else if v > r.hi {
            format!("{v} is above the kernel maximum {}{}", r.hi, r.why_high)
        } else {
            return Some(v);
        };
        self.err(Rule::Range, param.key, message);
        None
    }

    /// Every plain scalar: range-checked, then stored.
    fn plain_scalars(&mut self) {
        for (p, plain) in params::plain() {
            if let Some(v) = self.in_range(p, self.spec.plain(p.key)) {
                (plain.set)(&mut self.c, v);
            }
        }
    }

    /// Packet sizes (REFERENCE §2.3 pkt_size pitfall, §2.6 rule 9): one size, or a range.
    fn pkt_sizes(&mut self) {
        let s = self.spec;
        let pkt = self.in_range(&row::pkt_size, s.pkt_size);
        let min = self.in_range(&row::min_pkt_size, s.min_pkt_size);
        let max = self.in_range(&row::max_pkt_size, s.max_pkt_size);
        match (s.pkt_size, s.min_pkt_size, s.max_pkt_size) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => self.err(Rule::PktSizeForm,
                "pkt_size",
                "pkt_size sets both min_pkt_size and max_pkt_size; give either pkt_size or min_pkt_size and max_pkt_size".into(),
            ),
            (None, Some(_), None) => self.err(Rule::PktSizeForm, "min_pkt_size", "min_pkt_size needs max_pkt_size too (at start the kernel would raise max_pkt_size to min_pkt_size)".into()),
            (None, None, Some(_)) => self.err(Rule::PktSizeForm, "max_pkt_size", "max_pkt_size needs min_pkt_size too (at start the kernel would fill in its own minimum)".into()),
            _ => {}
        }
        let (lo, hi) = match (pkt, min, max) {
            (Some(p), _, _) => (p, p),
            (None, Some(lo), Some(hi)) => {
                if lo > hi {
                    self.err(
                        Rule::PktSizeForm,
                        "min_pkt_size",
                        format!("min_pkt_size {lo} is above max_pkt_size {hi}"),
                    );
                }
                (lo, hi)
            }
            _ => return,
        };
        // Both are at most MAX_PKT_SIZE, so they fit.
        self.c.min_pkt_size = u32::try_from(lo).unwrap_or(u32::MAX);
        self.c.max_pkt_size = u32::try_from(hi).unwrap_or(u32::MAX);
    }

    /// `imix_weights`: at most [`MAX_IMIX_ENTRIES`] pairs, sizes in the packet-size range,
    /// weights at least 1 (REFERENCE §2.3 imix_weights row).
    fn imix(&mut self) {
        let Some(ImixWeights(entries)) = &self.spec.imix_weights else {
            return;
        };
        if entries.is_empty() {
            self.err(
                Rule::ImixEntries,
                "imix_weights",
                "an empty imix_weights list is the default; leave the key out".into(),
            );
        }
        if entries.len() > MAX_IMIX_ENTRIES {
            self.err(
                Rule::ImixEntries,
                "imix_weights",
                format!(
                    "{} entries; the kernel accepts at most {MAX_IMIX_ENTRIES} (E2BIG)",
                    entries.len()
                ),
            );
        }
        let size = row::pkt_size
            .range
            .map_or((MIN_PKT_SIZE, u64::MAX), |r| (r.lo, r.hi));
        for (i, e) in entries.iter().enumerate() {
            let field = format!("imix_weights[{i}]");
            if e.size < size.0 {
                self.err(
                    Rule::ImixEntries,
                    &field,
                    format!(
                        "size {} is below the kernel minimum {} (the kernel would silently use 42)",
                        e.size, size.0
                    ),
                );
            }
            if e.size > size.1 {
                self.err(
                    Rule::ImixEntries,
                    &field,
                    format!("size {} is above {}", e.size, size.1),
                );
            }
            if e.weight == 0 || e.weight > MAX_10_DIGITS {
                self.err(
                    Rule::ImixEntries,
                    &field,
                    format!(
                        "weight {} must be 1 to {MAX_10_DIGITS} (the kernel refuses weight 0)",
                        e.weight
                    ),
                );
            }
        }
        self.c.imix_weights.clone_from(entries);
    }

    /// Pacing: `delay`, `rate` and `ratep` all end up in `delay` (REFERENCE §3.4).
    fn pacing(&mut self) {
        let s = self.spec;
        let given: Vec<&str> = [("delay", s.delay), ("rate", s.rate), ("ratep", s.ratep)]
            .iter()
            .filter(|(_, v)| v.is_some())
            .map(|(k, _)| *k)
            .collect();
        if given.len() > 1 {
            self.err(
                Rule::OnePacing,
                given[1],
                format!(
                    "{} and {} both set the gap between packets; keep one",
                    given[0], given[1]
                ),
            );
        } else if let Some(v) = self.in_range(&row::delay, s.delay) {
            self.c.delay = v;
        } else if let Some(m) = self.in_range(&row::rate, s.rate) {
            self.rate_needs_pkt_size();
            self.c.delay = u64::from(self.c.min_pkt_size) * 8 * 1000 / m;
            self.pacing = Pacing::Rate(m);
        } else if let Some(p) = self.in_range(&row::ratep, s.ratep) {
            self.c.delay = 1_000_000_000 / p;
            self.pacing = Pacing::RateP(p);
        }
    }

    /// Rule: `rate` is converted with the packet size at the time of the write; without
    /// one the kernel computes delay 0 (REFERENCE §2.6 rule 5).
    fn rate_needs_pkt_size(&mut self) {
        if self.c.min_pkt_size == 0 {
            self.err(Rule::RateNeedsPktSize, "rate", "rate needs pkt_size (or min_pkt_size): the kernel converts it to a delay with the packet size at the time of the write, and 0 would give delay 0".into());
        }
    }

    /// Addresses. IPv4 strings are shown only in IPv4 mode and IPv6 ones only in IPv6 mode
    /// (REFERENCE §3.3 L7), so a state mixing both could never be verified.
    fn addresses(&mut self) {
        let s = self.spec;
        if s.dst.is_some() && s.dst_min.is_some() {
            self.err(
                Rule::DstAlias,
                "dst",
                "dst is another name for dst_min; give only one".into(),
            );
        }
        let v4 = |a: Option<V4Addr>| a.map(|a| a.0.to_string()).unwrap_or_default();
        self.c.dst_min = v4(s.dst.or(s.dst_min));
        self.c.dst_max = v4(s.dst_max);
        self.c.src_min = v4(s.src_min);
        self.c.src_max = v4(s.src_max);
        let un = |a: Option<V6Addr>| a.map_or(Ipv6Addr::UNSPECIFIED, |a| a.0);
        self.c.dst6 = un(s.dst6);
        self.c.dst6_min = un(s.dst6_min);
        self.c.dst6_max = un(s.dst6_max);
        self.c.src6 = un(s.src6);
        let ipv6 = self.ipv6_key().is_some();
        self.c.flags.set(Flag::IPV6, ipv6);
        self.address_family();
        self.qos_family();
        if let Some(m) = s.dst_mac {
            self.c.dst_mac = m;
        }
        if let Some(m) = s.src_mac {
            self.c.src_mac = m;
        }
    }

    /// The first IPv6 key given: it switches the device to IPv6.
    fn ipv6_key(&self) -> Option<&'static str> {
        let s = self.spec;
        [
            ("dst6", s.dst6),
            ("dst6_min", s.dst6_min),
            ("dst6_max", s.dst6_max),
            ("src6", s.src6),
        ]
        .into_iter()
        .find(|(_, v)| v.is_some())
        .map(|(k, _)| k)
    }

    /// Rule: no IPv4 key on a device an IPv6 key switches to IPv6.
    fn address_family(&mut self) {
        let s = self.spec;
        let Some(v6k) = self.ipv6_key() else {
            return;
        };
        for (k, v) in [
            ("dst", s.dst),
            ("dst_min", s.dst_min),
            ("dst_max", s.dst_max),
            ("src_min", s.src_min),
            ("src_max", s.src_max),
        ] {
            if v.is_some() {
                self.err(Rule::AddressFamily, k, format!("{k} is an IPv4 setting, but {v6k} puts the device in IPv6 mode, where the kernel ignores and hides IPv4 addresses"));
            }
        }
    }

    /// Rule: `tos` is the IPv4 byte, `traffic_class` the IPv6 one.
    fn qos_family(&mut self) {
        if self.c.ipv6() {
            if self.spec.tos.is_some() {
                self.err(
                    Rule::QosFamily,
                    "tos",
                    "tos is the IPv4 TOS byte; in IPv6 mode use traffic_class".into(),
                );
            }
        } else if self.spec.traffic_class.is_some() {
            self.err(
                Rule::QosFamily,
                "traffic_class",
                "traffic_class is for IPv6; set dst6 (or use tos for IPv4)".into(),
            );
        }
    }

    /// Rule: `queue_map_min` ≤ `queue_map_max`.
    fn queue_map_order(&mut self) {
        if self.c.queue_map_min > self.c.queue_map_max {
            self.err(
                Rule::QueueMapOrder,
                "queue_map_min",
                format!(
                    "queue_map_min {} is above queue_map_max {}",
                    self.c.queue_map_min, self.c.queue_map_max
                ),
            );
        }
    }

    /// Encapsulation: the MPLS stack and the VLAN tags (REFERENCE §2.3).
    fn encapsulation(&mut self) {
        let s = self.spec;
        if let Some(labels) = &s.mpls {
            let most = most_mpls_labels();
            if labels.len() > most {
                self.err(
                    Rule::MplsLabels,
                    "mpls",
                    format!(
                        "{} labels; the kernel accepts at most {most} (E2BIG)",
                        labels.len()
                    ),
                );
            }
            self.c.mpls = labels.iter().map(|MplsLabel(l)| *l).collect();
            if !self.c.mpls.is_empty() && s.vlan_id.is_some() {
                self.err(Rule::MplsWithVlan, "mpls", "mpls and vlan_id exclude each other: whichever the kernel is given last turns the other off".into());
            }
        }
        let vlan_id = self.in_range(&row::vlan_id, s.vlan_id);
        let vlan_p = self.in_range(&row::vlan_p, s.vlan_p);
        let vlan_cfi = self.in_range(&row::vlan_cfi, s.vlan_cfi);
        let svlan_id = self.in_range(&row::svlan_id, s.svlan_id);
        let svlan_p = self.in_range(&row::svlan_p, s.svlan_p);
        let svlan_cfi = self.in_range(&row::svlan_cfi, s.svlan_cfi);
        self.vlan_parts();
        // In range, so the narrowing cannot fail.
        let tag = |id: u64, p: Option<u64>, cfi: Option<u64>| Vlan {
            id: u16::try_from(id).unwrap_or(u16::MAX),
            p: u8::try_from(p.unwrap_or(0)).unwrap_or(0),
            cfi: u8::try_from(cfi.unwrap_or(0)).unwrap_or(0),
        };
        if let Some(id) = vlan_id {
            self.c.vlan = Some(tag(id, vlan_p, vlan_cfi));
            self.c.svlan = svlan_id.map(|sid| tag(sid, svlan_p, svlan_cfi));
        }
    }

    /// Rule: a tag's priority and CFI need its id, and an SVLAN needs a VLAN (REFERENCE
    /// §2.3 vlan_p and svlan_id rows).
    fn vlan_parts(&mut self) {
        let s = self.spec;
        for (k, v) in [("vlan_p", s.vlan_p), ("vlan_cfi", s.vlan_cfi)] {
            if v.is_some() && s.vlan_id.is_none() {
                self.err(Rule::VlanParts, k, format!("{k} needs vlan_id (the kernel answers 'ERROR: {k} must be …' while VLAN is off)"));
            }
        }
        for (k, v) in [("svlan_p", s.svlan_p), ("svlan_cfi", s.svlan_cfi)] {
            if v.is_some() && s.svlan_id.is_none() {
                self.err(Rule::VlanParts, k, format!("{k} needs svlan_id"));
            }
        }
        if s.svlan_id.is_some() && s.vlan_id.is_none() {
            self.err(
                Rule::VlanParts,
                "svlan_id",
                "svlan_id needs vlan_id: without an inner VLAN the kernel turns both tags off"
                    .into(),
            );
        }
    }

    /// `node` and `xmit_mode`.
    fn modes(&mut self) {
        if let Some(n) = self.in_range(&row::node, self.spec.node) {
            self.c.node = u32::try_from(n).ok();
        }
        if let Some(m) = self.spec.xmit_mode {
            self.c.xmit_mode = m;
        }
    }

    /// The `flags` list (REFERENCE §2.4).
    fn flags(&mut self) {
        let mut flow_rnd = false;
        let mut seen = FlagSet::EMPTY;
        for (i, name) in self.spec.flags.iter().flatten().enumerate() {
            let field = format!("flags[{i}]");
            let (negated, bare) = match name.strip_prefix('!') {
                Some(b) => (true, b),
                None => (false, name.as_str()),
            };
            if bare == "FLOW_RND" && !negated {
                // FLOW_RND is how the kernel names "FLOW_SEQ clear" (REFERENCE §2.4).
                flow_rnd = true;
                continue;
            }
            let Ok(flag) = bare.parse::<Flag>() else {
                let mut names: Vec<&str> = Flag::ALL.iter().map(|f| f.name()).collect();
                names.push("FLOW_RND");
                self.errors.push(FieldError {
                    field,
                    message: format!("unknown flag '{name}' (the kernel would answer 'Flag -:{name}:- unknown' and change nothing)"),
                    help: did_you_mean(bare, names.iter().copied()).or_else(|| Some(format!("known flags: {}", names.join(", ")))),
                    rule: Rule::FlagName,
                });
                continue;
            };
            if seen.contains(flag) {
                self.err(
                    Rule::FlagName,
                    &field,
                    format!("flag {bare} is listed twice"),
                );
            }
            seen.set(flag, true);
            match (flag, negated) {
                (Flag::IPV6, _) => self.err(Rule::FlagName, &field, "IPV6 is not set with a flag: setting dst6, dst6_min, dst6_max or src6 switches the device to IPv6".into()),
                (Flag::SHARED, n) => self.shared = Some(!n),
                (_, true) => self.err(Rule::FlagName, &field, format!("'!{bare}': only SHARED, which is on by default, can be listed negated; leave {bare} out instead")),
                (f, false) => self.c.flags.set(f, true),
            }
        }
        if flow_rnd && self.c.flags.contains(Flag::FLOW_SEQ) {
            self.err(
                Rule::FlowRndWithFlowSeq,
                "flags",
                "FLOW_RND and FLOW_SEQ contradict each other".into(),
            );
        }
    }

    /// Rule: FLOW_SEQ only means something with flows (REFERENCE §3.3 Flags rules).
    fn flow_seq_needs_flows(&mut self) {
        if self.c.flags.contains(Flag::FLOW_SEQ) && self.c.flows == 0 {
            self.err(
                Rule::FlowSeqNeedsFlows,
                "flags",
                "FLOW_SEQ needs flows > 0: with no flows the kernel ignores it and does not show it"
                    .into(),
            );
        }
    }

    /// Rule: `spi` is used, and shown, only with IPSEC.
    fn spi_needs_ipsec(&mut self) {
        if self.c.spi != 0 && !self.c.flags.contains(Flag::IPSEC) {
            self.err(
                Rule::SpiNeedsIpsec,
                "spi",
                "spi has no effect without flag IPSEC, and the kernel shows it only then".into(),
            );
        }
    }

    /// Rule: what the kernel refuses `clone_skb > 0` with (REFERENCE §2.3 clone_skb row).
    fn clone_skb_conflicts(&mut self) {
        if self.c.clone_skb == 0 {
            return;
        }
        if self.c.xmit_mode == XmitMode::NetifReceive {
            self.err(Rule::CloneSkbConflicts, "clone_skb", "clone_skb > 0 cannot be used with xmit_mode netif_receive (the kernel refuses it with EOPNOTSUPP)".into());
        }
        if !self.c.imix_weights.is_empty() {
            self.err(Rule::CloneSkbConflicts, "clone_skb", "clone_skb > 0 cannot be combined with imix_weights (the kernel refuses it with EINVAL)".into());
        }
        if self.shared == Some(false) {
            self.err(
                Rule::CloneSkbConflicts,
                "clone_skb",
                "clone_skb > 0 needs the SHARED flag (the kernel refuses it with EINVAL)".into(),
            );
        }
    }

    /// Rule: what the kernel refuses `burst > 1` with (REFERENCE §2.3 burst row).
    fn burst_conflicts(&mut self) {
        if self.c.burst <= 1 {
            return;
        }
        if self.c.xmit_mode == XmitMode::QueueXmit {
            self.err(Rule::BurstConflicts, "burst", "burst > 1 cannot be used with xmit_mode queue_xmit (the kernel refuses it with EOPNOTSUPP)".into());
        }
        if self.shared == Some(false) {
            self.err(
                Rule::BurstConflicts,
                "burst",
                "burst > 1 needs the SHARED flag (the kernel refuses it with EINVAL)".into(),
            );
        }
    }
}

/// Validates one device entry without a kernel: it passes when some supported kernel
/// ([`KernelProfile::SUPPORTED`]) accepts it; [`kernel_notes`] names the ones that would not.
/// The live kernel is judged by the planner.
pub fn validate_device(spec: &DeviceSpec) -> Result<DesiredDevice, Vec<FieldError>> {
    let mut v = Validator {
        spec,
        c: DeviceConfig::defaults(),
        pacing: Pacing::Delay,
        shared: None,
        errors: Vec::new(),
    };
    // Values first, each from its row or its dedicated step; then the rules between them.
    v.plain_scalars();
    v.pkt_sizes();
    v.imix();
    v.pacing();
    v.addresses();
    v.encapsulation();
    v.modes();
    v.flags();
    v.queue_map_order();
    v.flow_seq_needs_flows();
    v.spi_needs_ipsec();
    v.clone_skb_conflicts();
    v.burst_conflicts();
    if !v.errors.is_empty() {
        return Err(v.errors);
    }
    // SHARED's default depends on the kernel (6.7+); the planner resolves it from `shared`.
    v.c.flags.set(Flag::SHARED, false);
    let dev = DesiredDevice {
        thread: ThreadId(spec.thread),
        config: v.c,
        pacing: v.pacing,
        shared: v.shared,
    };
    some_kernel_accepts(&dev).map(|()| dev)
}

/// The most MPLS labels any supported kernel accepts.
pub(super) fn most_mpls_labels() -> usize {
    KernelProfile::SUPPORTED
        .iter()
        .map(KernelProfile::max_mpls_labels)
        .max()
        .unwrap_or(KernelProfile::MPLS_LABELS_BEFORE_6_15)
}

/// Rule: at least one supported kernel has everything the device needs (for example 16 MPLS
/// labels, 6.15+, and a zero label, before 6.15, exclude each other).
fn some_kernel_accepts(dev: &DesiredDevice) -> Result<(), Vec<FieldError>> {
    let needs = dev.kernel_needs();
    let accepts = |p: &KernelProfile| needs.iter().all(|n| p.supports(n.feature));
    if needs.is_empty() || KernelProfile::SUPPORTED.iter().any(accepts) {
        return Ok(());
    }
    let Some(last) = needs.last() else {
        return Ok(());
    };
    let all: Vec<String> = needs.iter().map(|n| n.feature.requirement()).collect();
    Err(vec![FieldError {
        field: last.key.to_owned(),
        message: format!("no kernel accepts this device: {}", all.join(", and ")),
        help: None,
        rule: Rule::NoKernel,
    }])
}

/// Notes for a valid device that some supported kernels would refuse: which kernels, and
/// why. `plan` and `apply` refuse it there (REFERENCE §6).
pub fn kernel_notes(dev: &DesiredDevice) -> Vec<FieldError> {
    dev.kernel_needs()
        .into_iter()
        .filter_map(|need| {
            let refusing: Vec<String> = KernelProfile::SUPPORTED
                .iter()
                .filter(|p| !p.supports(need.feature))
                .map(|p| format!("Linux {p}"))
                .collect();
            (!refusing.is_empty()).then(|| FieldError {
                field: need.key.to_owned(),
                message: format!(
                    "{}; {} would refuse it",
                    need.feature.requirement(),
                    refusing.join(" and ")
                ),
                help: None,
                rule: Rule::NoKernel,
            })
        })
        .collect()
}

/// The state-file entry that describes `config` on `thread`: only what differs from a fresh
/// device on this kernel. `show` prints these; applying them back is a no-op.
pub fn spec_from_config(
    thread: ThreadId,
    config: &DeviceConfig,
    profile: &KernelProfile,
) -> DeviceSpec {
    let d = DeviceConfig::fresh(profile);
    let mut s = DeviceSpec {
        thread: thread.0,
        ..DeviceSpec::default()
    };
    for (p, plain) in params::plain() {
        let v = (plain.get)(config);
        s.set_plain(p.key, (v != (plain.get)(&d)).then_some(v));
    }
    // The planner's checks reject min > max, and a missing max reads as the default 0.
    if s.queue_map_min.is_some() {
        s.queue_map_max = Some(u64::from(config.queue_map_max));
    }
    if config.min_pkt_size == config.max_pkt_size {
        s.pkt_size = (config.min_pkt_size != 0).then_some(u64::from(config.min_pkt_size));
    } else {
        s.min_pkt_size = Some(u64::from(config.min_pkt_size));
        s.max_pkt_size = Some(u64::from(config.max_pkt_size));
    }
    if !config.imix_weights.is_empty() {
        s.imix_weights = Some(ImixWeights(config.imix_weights.clone()));
    }
    s.delay = (config.delay != d.delay).then_some(config.delay);
    if config.ipv6() {
        s.dst6 = Some(V6Addr(config.dst6));
        let nz = |a: Ipv6Addr| (!a.is_unspecified()).then_some(V6Addr(a));
        s.dst6_min = nz(config.dst6_min);
        s.dst6_max = nz(config.dst6_max);
        s.src6 = nz(config.src6);
    } else {
        let v4 = |a: &str| a.parse().ok().map(V4Addr);
        s.dst = v4(&config.dst_min);
        s.dst_max = v4(&config.dst_max);
        s.src_min = v4(&config.src_min);
        s.src_max = v4(&config.src_max);
    }
    s.dst_mac = (!config.dst_mac.is_zero()).then_some(config.dst_mac);
    s.src_mac = (!config.src_mac.is_zero()).then_some(config.src_mac);
    if !config.mpls.is_empty() {
        s.mpls = Some(config.mpls.iter().map(|l| MplsLabel(*l)).collect());
    }
    let some = |changed: bool, v: u8| changed.then_some(u64::from(v));
    if let Some(v) = config.vlan {
        s.vlan_id = Some(u64::from(v.id));
        s.vlan_p = some(v.p != 0, v.p);
        s.vlan_cfi = some(v.cfi != 0, v.cfi);
    }
    if let Some(v) = config.svlan {
        s.svlan_id = Some(u64::from(v.id));
        s.svlan_p = some(v.p != 0, v.p);
        s.svlan_cfi = some(v.cfi != 0, v.cfi);
    }
    s.node = config.node.map(u64::from);
    s.xmit_mode = (config.xmit_mode != XmitMode::StartXmit).then_some(config.xmit_mode);
    let mut flags: Vec<String> = config
        .flags
        .iter()
        .filter(|f| !matches!(f, Flag::IPV6 | Flag::SHARED))
        .map(|f| f.name().to_owned())
        .collect();
    let shared_default = d.flags.contains(Flag::SHARED);
    match (config.flags.contains(Flag::SHARED), shared_default) {
        (false, true) => flags.push("!SHARED".into()),
        (true, false) => flags.push("SHARED".into()),
        _ => {}
    }
    s.flags = (!flags.is_empty()).then_some(flags);
    s
}
