//! Turns a [`DeviceSpec`] into a [`DesiredDevice`], checking every kernel range and
//! cross-field rule first (REFERENCE §2.3–2.6). Values the kernel would silently change are
//! errors that say what the kernel would have done. No I/O here.

use std::net::Ipv6Addr;

use super::schema::{DeviceSpec, ImixWeights, MplsLabel};
use crate::error::did_you_mean;
use crate::kernel::KernelProfile;
use crate::model::{DesiredDevice, DeviceConfig, Flag, FlagSet, Pacing, ThreadId, Vlan, XmitMode};

/// One problem with one field of a device entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The key (or `key[index]`) inside the device entry.
    pub field: String,
    /// What is wrong.
    pub message: String,
    /// A suggestion.
    pub help: Option<String>,
}

/// Largest value of a 10-digit decimal field (`num_arg(…, 10, …)`).
const MAX_10_DIGITS: u64 = 9_999_999_999;
/// Smallest packet: Ethernet + IPv4 + UDP headers (14+20+8).
const MIN_PKT_SIZE: u64 = 42;
/// `MAX_SKB_FRAGS` on the kernels pgstate supports.
const MAX_FRAGS: u64 = 17;
/// `MAX_CFLOWS`.
const MAX_FLOWS: u64 = 65536;
/// `MAX_IMIX_ENTRIES`.
const MAX_IMIX_ENTRIES: usize = 20;

struct Checker {
    errors: Vec<FieldError>,
}

impl Checker {
    fn err(&mut self, field: &str, message: String) {
        self.errors.push(FieldError {
            field: field.to_owned(),
            message,
            help: None,
        });
    }

    /// `value` must be in `lo..=hi`; `why` says what the kernel would do otherwise.
    fn range(
        &mut self,
        field: &str,
        value: Option<u64>,
        lo: u64,
        hi: u64,
        why: &str,
    ) -> Option<u64> {
        let v = value?;
        if v < lo {
            self.err(field, format!("{v} is below the kernel minimum {lo}{why}"));
            None
        } else if v > hi {
            self.err(field, format!("{v} is above the kernel maximum {hi}{why}"));
            None
        } else {
            Some(v)
        }
    }
}

fn narrow<T: TryFrom<u64> + Default>(v: Option<u64>, default: T) -> T {
    v.and_then(|v| T::try_from(v).ok()).unwrap_or(default)
}

/// Validates one device entry without a kernel: it passes when some supported kernel
/// ([`KernelProfile::SUPPORTED`]) accepts it; [`kernel_notes`] names the ones that would not.
/// The live kernel is judged by the planner.
pub fn validate_device(spec: &DeviceSpec) -> Result<DesiredDevice, Vec<FieldError>> {
    let mut ck = Checker { errors: Vec::new() };
    let mut c = DeviceConfig::defaults();
    let defaults = DeviceConfig::defaults();

    if let Some(v) = ck.range(
        "count",
        spec.count,
        0,
        MAX_10_DIGITS,
        " (the kernel reads at most 10 digits)",
    ) {
        c.count = v;
    }

    // Packet sizes (REFERENCE §2.3 pkt_size pitfall, §2.6 rule 9).
    let size_why = " (the kernel would silently send 42-byte packets)";
    let size_max_why = " (pgstate refuses sizes an IP packet cannot carry)";
    let pkt = ck.range(
        "pkt_size",
        spec.pkt_size,
        MIN_PKT_SIZE,
        65535,
        if spec.pkt_size.is_some_and(|v| v < MIN_PKT_SIZE) {
            size_why
        } else {
            size_max_why
        },
    );
    let min = ck.range(
        "min_pkt_size",
        spec.min_pkt_size,
        MIN_PKT_SIZE,
        65535,
        if spec.min_pkt_size.is_some_and(|v| v < MIN_PKT_SIZE) {
            size_why
        } else {
            size_max_why
        },
    );
    let max = ck.range(
        "max_pkt_size",
        spec.max_pkt_size,
        MIN_PKT_SIZE,
        65535,
        if spec.max_pkt_size.is_some_and(|v| v < MIN_PKT_SIZE) {
            size_why
        } else {
            size_max_why
        },
    );
    match (spec.pkt_size, spec.min_pkt_size, spec.max_pkt_size) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => ck.err(
            "pkt_size",
            "pkt_size sets both min_pkt_size and max_pkt_size; give either pkt_size or min_pkt_size and max_pkt_size".into(),
        ),
        (None, Some(_), None) => ck.err("min_pkt_size", "min_pkt_size needs max_pkt_size too (at start the kernel would raise max_pkt_size to min_pkt_size)".into()),
        (None, None, Some(_)) => ck.err("max_pkt_size", "max_pkt_size needs min_pkt_size too (at start the kernel would fill in its own minimum)".into()),
        _ => {}
    }
    if let Some(p) = pkt {
        c.min_pkt_size = p as u32;
        c.max_pkt_size = p as u32;
    }
    if let (Some(lo), Some(hi)) = (min, max) {
        if lo > hi {
            ck.err(
                "min_pkt_size",
                format!("min_pkt_size {lo} is above max_pkt_size {hi}"),
            );
        }
        c.min_pkt_size = lo as u32;
        c.max_pkt_size = hi as u32;
    }

    if let Some(ImixWeights(entries)) = &spec.imix_weights {
        if entries.is_empty() {
            ck.err(
                "imix_weights",
                "an empty imix_weights list is the default; leave the key out".into(),
            );
        }
        if entries.len() > MAX_IMIX_ENTRIES {
            ck.err(
                "imix_weights",
                format!(
                    "{} entries; the kernel accepts at most {MAX_IMIX_ENTRIES} (E2BIG)",
                    entries.len()
                ),
            );
        }
        for (i, e) in entries.iter().enumerate() {
            if e.size < MIN_PKT_SIZE {
                ck.err(&format!("imix_weights[{i}]"), format!("size {} is below the kernel minimum {MIN_PKT_SIZE} (the kernel would silently use 42)", e.size));
            }
            if e.size > 65535 {
                ck.err(
                    &format!("imix_weights[{i}]"),
                    format!("size {} is above 65535", e.size),
                );
            }
            if e.weight == 0 || e.weight > MAX_10_DIGITS {
                ck.err(
                    &format!("imix_weights[{i}]"),
                    format!(
                        "weight {} must be 1 to {MAX_10_DIGITS} (the kernel refuses weight 0)",
                        e.weight
                    ),
                );
            }
        }
        c.imix_weights = entries.clone();
    }

    if let Some(v) = ck.range(
        "frags",
        spec.frags,
        0,
        MAX_FRAGS,
        " (MAX_SKB_FRAGS; the kernel would silently cap it)",
    ) {
        c.frags = v as u32;
    }

    // Pacing: delay, rate and ratep all end up in `delay` (REFERENCE §3.4).
    let mut pacing = Pacing::Delay;
    let given: Vec<&str> = [
        ("delay", spec.delay),
        ("rate", spec.rate),
        ("ratep", spec.ratep),
    ]
    .iter()
    .filter(|(_, v)| v.is_some())
    .map(|(k, _)| *k)
    .collect();
    if given.len() > 1 {
        ck.err(
            given[1],
            format!(
                "{} and {} both set the gap between packets; keep one",
                given[0], given[1]
            ),
        );
    } else if let Some(v) = ck.range(
        "delay",
        spec.delay,
        0,
        MAX_10_DIGITS,
        " (the kernel reads at most 10 digits)",
    ) {
        c.delay = v;
    } else if let Some(m) = ck.range(
        "rate",
        spec.rate,
        1,
        MAX_10_DIGITS,
        " (Mbit/s; rate 0 is refused)",
    ) {
        if c.min_pkt_size == 0 {
            ck.err("rate", "rate needs pkt_size (or min_pkt_size): the kernel converts it to a delay with the packet size at the time of the write, and 0 would give delay 0".into());
        }
        c.delay = u64::from(c.min_pkt_size) * 8 * 1000 / m;
        pacing = Pacing::Rate(m);
    } else if let Some(p) = ck.range(
        "ratep",
        spec.ratep,
        1,
        MAX_10_DIGITS,
        " (packets/s; ratep 0 is refused)",
    ) {
        c.delay = 1_000_000_000 / p;
        pacing = Pacing::RateP(p);
    }

    if let Some(v) = ck.range("clone_skb", spec.clone_skb, 0, i32::MAX as u64, "") {
        c.clone_skb = v as u32;
    }
    if let Some(v) = ck.range(
        "burst",
        spec.burst,
        1,
        i32::MAX as u64,
        if spec.burst == Some(0) {
            " (the kernel would silently use 1)"
        } else {
            ""
        },
    ) {
        c.burst = v as u32;
    }

    // Addresses. IPv4 strings are shown only in IPv4 mode and IPv6 ones only in IPv6 mode
    // (REFERENCE §3.3 L7), so a state mixing both could never be verified.
    if spec.dst.is_some() && spec.dst_min.is_some() {
        ck.err(
            "dst",
            "dst is another name for dst_min; give only one".into(),
        );
    }
    let v4 = |a: Option<std::net::Ipv4Addr>| a.map(|a| a.to_string()).unwrap_or_default();
    c.dst_min = v4(spec.dst.or(spec.dst_min));
    c.dst_max = v4(spec.dst_max);
    c.src_min = v4(spec.src_min);
    c.src_max = v4(spec.src_max);
    let v6_keys = [
        ("dst6", spec.dst6),
        ("dst6_min", spec.dst6_min),
        ("dst6_max", spec.dst6_max),
        ("src6", spec.src6),
    ];
    let ipv6 = v6_keys.iter().any(|(_, v)| v.is_some());
    if ipv6 {
        let v4_given = [
            ("dst", spec.dst),
            ("dst_min", spec.dst_min),
            ("dst_max", spec.dst_max),
            ("src_min", spec.src_min),
            ("src_max", spec.src_max),
        ];
        for (k, v) in v4_given {
            if v.is_some() {
                let v6k = v6_keys
                    .iter()
                    .find(|(_, v)| v.is_some())
                    .map_or("dst6", |(k, _)| *k);
                ck.err(k, format!("{k} is an IPv4 setting, but {v6k} puts the device in IPv6 mode, where the kernel ignores and hides IPv4 addresses"));
            }
        }
        if spec.tos.is_some() {
            ck.err(
                "tos",
                "tos is the IPv4 TOS byte; in IPv6 mode use traffic_class".into(),
            );
        }
    } else if spec.traffic_class.is_some() {
        ck.err(
            "traffic_class",
            "traffic_class is for IPv6; set dst6 (or use tos for IPv4)".into(),
        );
    }
    let un = |a: Option<Ipv6Addr>| a.unwrap_or(Ipv6Addr::UNSPECIFIED);
    c.dst6 = un(spec.dst6);
    c.dst6_min = un(spec.dst6_min);
    c.dst6_max = un(spec.dst6_max);
    c.src6 = un(spec.src6);
    c.flags.set(Flag::IPV6, ipv6);

    if let Some(m) = spec.dst_mac {
        c.dst_mac = m;
    }
    if let Some(m) = spec.src_mac {
        c.src_mac = m;
    }
    c.src_mac_count = narrow(
        ck.range("src_mac_count", spec.src_mac_count, 0, i32::MAX as u64, ""),
        defaults.src_mac_count,
    );
    c.dst_mac_count = narrow(
        ck.range("dst_mac_count", spec.dst_mac_count, 0, i32::MAX as u64, ""),
        defaults.dst_mac_count,
    );
    let port_why = " (the kernel keeps ports modulo 65536)";
    c.udp_src_min = narrow(
        ck.range("udp_src_min", spec.udp_src_min, 0, 65535, port_why),
        defaults.udp_src_min,
    );
    c.udp_src_max = narrow(
        ck.range("udp_src_max", spec.udp_src_max, 0, 65535, port_why),
        defaults.udp_src_max,
    );
    c.udp_dst_min = narrow(
        ck.range("udp_dst_min", spec.udp_dst_min, 0, 65535, port_why),
        defaults.udp_dst_min,
    );
    c.udp_dst_max = narrow(
        ck.range("udp_dst_max", spec.udp_dst_max, 0, 65535, port_why),
        defaults.udp_dst_max,
    );
    c.queue_map_min = narrow(
        ck.range("queue_map_min", spec.queue_map_min, 0, 65535, ""),
        0,
    );
    c.queue_map_max = narrow(
        ck.range("queue_map_max", spec.queue_map_max, 0, 65535, ""),
        0,
    );
    if c.queue_map_min > c.queue_map_max {
        ck.err(
            "queue_map_min",
            format!(
                "queue_map_min {} is above queue_map_max {}",
                c.queue_map_min, c.queue_map_max
            ),
        );
    }
    c.flows = narrow(
        ck.range(
            "flows",
            spec.flows,
            0,
            MAX_FLOWS,
            " (MAX_CFLOWS; the kernel would silently cap it)",
        ),
        0,
    );
    c.flowlen = narrow(
        ck.range("flowlen", spec.flowlen, 0, u64::from(u32::MAX), ""),
        0,
    );

    // Encapsulation: MPLS and VLAN exclude each other (REFERENCE §2.6 rule 7).
    if let Some(labels) = &spec.mpls {
        let most = most_mpls_labels();
        if labels.len() > most {
            ck.err(
                "mpls",
                format!(
                    "{} labels; the kernel accepts at most {most} (E2BIG)",
                    labels.len()
                ),
            );
        }
        c.mpls = labels.iter().map(|MplsLabel(l)| *l).collect();
        if !c.mpls.is_empty() && spec.vlan_id.is_some() {
            ck.err("mpls", "mpls and vlan_id exclude each other: whichever the kernel is given last turns the other off".into());
        }
    }
    let vlan_id = ck.range(
        "vlan_id",
        spec.vlan_id,
        0,
        4095,
        " (a larger id turns VLAN tagging off)",
    );
    let vlan_p = ck.range("vlan_p", spec.vlan_p, 0, 7, "");
    let vlan_cfi = ck.range("vlan_cfi", spec.vlan_cfi, 0, 1, "");
    let svlan_id = ck.range(
        "svlan_id",
        spec.svlan_id,
        0,
        4095,
        " (a larger id turns VLAN and SVLAN tagging off)",
    );
    let svlan_p = ck.range("svlan_p", spec.svlan_p, 0, 7, "");
    let svlan_cfi = ck.range("svlan_cfi", spec.svlan_cfi, 0, 1, "");
    for (k, v) in [("vlan_p", spec.vlan_p), ("vlan_cfi", spec.vlan_cfi)] {
        if v.is_some() && spec.vlan_id.is_none() {
            ck.err(k, format!("{k} needs vlan_id (the kernel answers 'ERROR: {k} must be …' while VLAN is off)"));
        }
    }
    for (k, v) in [("svlan_p", spec.svlan_p), ("svlan_cfi", spec.svlan_cfi)] {
        if v.is_some() && spec.svlan_id.is_none() {
            ck.err(k, format!("{k} needs svlan_id"));
        }
    }
    if spec.svlan_id.is_some() && spec.vlan_id.is_none() {
        ck.err(
            "svlan_id",
            "svlan_id needs vlan_id: without an inner VLAN the kernel turns both tags off".into(),
        );
    }
    if let Some(id) = vlan_id {
        c.vlan = Some(Vlan {
            id: id as u16,
            p: vlan_p.unwrap_or(0) as u8,
            cfi: vlan_cfi.unwrap_or(0) as u8,
        });
        if let Some(sid) = svlan_id {
            c.svlan = Some(Vlan {
                id: sid as u16,
                p: svlan_p.unwrap_or(0) as u8,
                cfi: svlan_cfi.unwrap_or(0) as u8,
            });
        }
    }

    c.tos = narrow(ck.range("tos", spec.tos, 0, 255, ""), 0);
    c.traffic_class = narrow(ck.range("traffic_class", spec.traffic_class, 0, 255, ""), 0);
    c.skb_priority = narrow(
        ck.range(
            "skb_priority",
            spec.skb_priority,
            0,
            999_999_999,
            " (the kernel reads at most 9 digits)",
        ),
        0,
    );
    if let Some(n) = ck.range("node", spec.node, 0, 1023, " (MAX_NUMNODES)") {
        c.node = Some(n as u32);
    }
    if let Some(m) = spec.xmit_mode {
        c.xmit_mode = m;
    }
    c.spi = narrow(ck.range("spi", spec.spi, 0, u64::from(u32::MAX), ""), 0);

    // Flags.
    let mut shared = None;
    let mut flow_rnd = false;
    let mut seen = FlagSet::EMPTY;
    for (i, name) in spec.flags.iter().flatten().enumerate() {
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
        let flag = match bare.parse::<Flag>() {
            Ok(f) => f,
            Err(_) => {
                let mut names: Vec<&str> = Flag::ALL.iter().map(|f| f.name()).collect();
                names.push("FLOW_RND");
                ck.errors.push(FieldError {
                    field,
                    message: format!("unknown flag '{name}' (the kernel would answer 'Flag -:{name}:- unknown' and change nothing)"),
                    help: did_you_mean(bare, names.iter().copied()).or_else(|| Some(format!("known flags: {}", names.join(", ")))),
                });
                continue;
            }
        };
        if seen.contains(flag) {
            ck.err(&field, format!("flag {bare} is listed twice"));
        }
        seen.set(flag, true);
        match (flag, negated) {
            (Flag::IPV6, _) => ck.err(&field, "IPV6 is not set with a flag: setting dst6, dst6_min, dst6_max or src6 switches the device to IPv6".into()),
            (Flag::SHARED, n) => shared = Some(!n),
            (_, true) => ck.err(&field, format!("'!{bare}': only SHARED, which is on by default, can be listed negated; leave {bare} out instead")),
            (f, false) => c.flags.set(f, true),
        }
    }
    if flow_rnd && c.flags.contains(Flag::FLOW_SEQ) {
        ck.err(
            "flags",
            "FLOW_RND and FLOW_SEQ contradict each other".into(),
        );
    }
    if c.flags.contains(Flag::FLOW_SEQ) && c.flows == 0 {
        ck.err(
            "flags",
            "FLOW_SEQ needs flows > 0: with no flows the kernel ignores it and does not show it"
                .into(),
        );
    }
    if c.spi != 0 && !c.flags.contains(Flag::IPSEC) {
        ck.err(
            "spi",
            "spi has no effect without flag IPSEC, and the kernel shows it only then".into(),
        );
    }

    // Cross-field rules (REFERENCE §2.6).
    if c.clone_skb > 0 {
        if c.xmit_mode == XmitMode::NetifReceive {
            ck.err("clone_skb", "clone_skb > 0 cannot be used with xmit_mode netif_receive (the kernel refuses it with EOPNOTSUPP)".into());
        }
        if !c.imix_weights.is_empty() {
            ck.err("clone_skb", "clone_skb > 0 cannot be combined with imix_weights (the kernel refuses it with EINVAL)".into());
        }
        if shared == Some(false) {
            ck.err(
                "clone_skb",
                "clone_skb > 0 needs the SHARED flag (the kernel refuses it with EINVAL)".into(),
            );
        }
    }
    if c.burst > 1 {
        if c.xmit_mode == XmitMode::QueueXmit {
            ck.err("burst", "burst > 1 cannot be used with xmit_mode queue_xmit (the kernel refuses it with EOPNOTSUPP)".into());
        }
        if shared == Some(false) {
            ck.err(
                "burst",
                "burst > 1 needs the SHARED flag (the kernel refuses it with EINVAL)".into(),
            );
        }
    }

    // SHARED's default depends on the kernel (6.7+); the planner resolves it from `shared`.
    c.flags.set(Flag::SHARED, false);
    if !ck.errors.is_empty() {
        return Err(ck.errors);
    }
    let dev = DesiredDevice {
        thread: ThreadId(spec.thread),
        config: c,
        pacing,
        shared,
    };
    some_kernel_accepts(&dev).map(|()| dev)
}

/// The most MPLS labels any supported kernel accepts.
fn most_mpls_labels() -> usize {
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
    let some = |changed: bool, v: u64| changed.then_some(v);
    let mut s = DeviceSpec {
        thread: thread.0,
        ..DeviceSpec::default()
    };
    s.count = some(config.count != d.count, config.count);
    if config.min_pkt_size == config.max_pkt_size {
        s.pkt_size = some(config.min_pkt_size != 0, u64::from(config.min_pkt_size));
    } else {
        s.min_pkt_size = Some(u64::from(config.min_pkt_size));
        s.max_pkt_size = Some(u64::from(config.max_pkt_size));
    }
    if !config.imix_weights.is_empty() {
        s.imix_weights = Some(ImixWeights(config.imix_weights.clone()));
    }
    s.frags = some(config.frags != d.frags, u64::from(config.frags));
    s.delay = some(config.delay != d.delay, config.delay);
    s.clone_skb = some(config.clone_skb != d.clone_skb, u64::from(config.clone_skb));
    s.burst = some(config.burst != d.burst, u64::from(config.burst));
    if config.ipv6() {
        s.dst6 = Some(config.dst6);
        let nz = |a: Ipv6Addr| (!a.is_unspecified()).then_some(a);
        s.dst6_min = nz(config.dst6_min);
        s.dst6_max = nz(config.dst6_max);
        s.src6 = nz(config.src6);
    } else {
        let v4 = |a: &str| a.parse().ok();
        s.dst = v4(&config.dst_min);
        s.dst_max = v4(&config.dst_max);
        s.src_min = v4(&config.src_min);
        s.src_max = v4(&config.src_max);
    }
    s.dst_mac = (!config.dst_mac.is_zero()).then_some(config.dst_mac);
    s.src_mac = (!config.src_mac.is_zero()).then_some(config.src_mac);
    s.src_mac_count = some(config.src_mac_count != 0, u64::from(config.src_mac_count));
    s.dst_mac_count = some(config.dst_mac_count != 0, u64::from(config.dst_mac_count));
    s.udp_src_min = some(
        config.udp_src_min != d.udp_src_min,
        u64::from(config.udp_src_min),
    );
    s.udp_src_max = some(
        config.udp_src_max != d.udp_src_max,
        u64::from(config.udp_src_max),
    );
    s.udp_dst_min = some(
        config.udp_dst_min != d.udp_dst_min,
        u64::from(config.udp_dst_min),
    );
    s.udp_dst_max = some(
        config.udp_dst_max != d.udp_dst_max,
        u64::from(config.udp_dst_max),
    );
    s.queue_map_min = some(config.queue_map_min != 0, u64::from(config.queue_map_min));
    s.queue_map_max = some(
        config.queue_map_max != 0 || config.queue_map_min != 0,
        u64::from(config.queue_map_max),
    );
    s.flows = some(config.flows != 0, u64::from(config.flows));
    s.flowlen = some(config.flowlen != 0, u64::from(config.flowlen));
    if !config.mpls.is_empty() {
        s.mpls = Some(config.mpls.iter().map(|l| MplsLabel(*l)).collect());
    }
    if let Some(v) = config.vlan {
        s.vlan_id = Some(u64::from(v.id));
        s.vlan_p = some(v.p != 0, u64::from(v.p));
        s.vlan_cfi = some(v.cfi != 0, u64::from(v.cfi));
    }
    if let Some(v) = config.svlan {
        s.svlan_id = Some(u64::from(v.id));
        s.svlan_p = some(v.p != 0, u64::from(v.p));
        s.svlan_cfi = some(v.cfi != 0, u64::from(v.cfi));
    }
    s.tos = some(config.tos != 0, u64::from(config.tos));
    s.traffic_class = some(config.traffic_class != 0, u64::from(config.traffic_class));
    s.skb_priority = some(config.skb_priority != 0, u64::from(config.skb_priority));
    s.node = config.node.map(u64::from);
    s.xmit_mode = (config.xmit_mode != XmitMode::StartXmit).then_some(config.xmit_mode);
    s.spi = some(config.spi != 0, u64::from(config.spi));
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
