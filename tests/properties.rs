//! Property tests on the simulator: for random pairs of states A (live) and B (desired),
//! applying B converges, the next plan is empty, and the number of writes equals the minimum
//! computed independently from the two state files.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use pgstate::apply::{apply, plan_against};
use pgstate::KernelProfile;

use common::lab::{lab, load};

/// Packet sizes: one size (`pkt_size`) or a range (`min_pkt_size`/`max_pkt_size`).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Pkt {
    Size(u64),
    Range(u64, u64),
}

impl Pkt {
    fn bounds(self) -> (u64, u64) {
        match self {
            Pkt::Size(x) => (x, x),
            Pkt::Range(lo, hi) => (lo, hi),
        }
    }
}

/// One device in the restricted language of these tests, small enough that the minimum
/// number of writes can be computed from the two state files without the planner.
#[derive(Debug, Clone, PartialEq)]
struct Dev {
    thread: u32,
    count: Option<u64>,
    pkt: Option<Pkt>,
    dst: Option<u8>,
    udp_dst_max: Option<u16>,
    tos: Option<u8>,
    skb_priority: Option<u32>,
    flags: BTreeSet<&'static str>,
    /// MPLS (one label) and VLAN exclude each other (REFERENCE §2.6 rule 7).
    tags: Tags,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Tags {
    None,
    /// One label without the bottom-of-stack bit (which would turn MPLS_RND on).
    Mpls(u32),
    /// VLAN id and priority, and optionally an SVLAN id.
    Vlan(u16, u8, Option<u16>),
}

const FLAGS: &[&str] = &[
    "UDPCSUM",
    "NO_TIMESTAMP",
    "UDPSRC_RND",
    "IPDST_RND",
    "QUEUE_MAP_CPU",
];
const NAMES: &[&str] = &["eth0@0", "eth0@1", "eth1", "eth1@x", "eth2"];

fn dev() -> impl Strategy<Value = Dev> {
    (
        0u32..2,
        proptest::option::of(prop_oneof![Just(0u64), Just(1000), 1u64..100_000]),
        proptest::option::of(prop_oneof![
            Just(60u64).prop_map(Pkt::Size),
            (42u64..1500).prop_map(Pkt::Size),
            Just(Pkt::Range(60, 1500)),
            (42u64..200, 200u64..1500).prop_map(|(lo, hi)| Pkt::Range(lo, hi)),
            Just(Pkt::Range(60, 60)),
        ]),
        proptest::option::of(1u8..4),
        proptest::option::of(prop_oneof![Just(9u16), 10u16..2000]),
        proptest::option::of(1u8..=255),
        proptest::option::of(1u32..10),
        proptest::sample::subsequence(FLAGS, 0..=3),
        prop_oneof![
            Just(Tags::None),
            prop_oneof![Just(0x1000u32), Just(0x2000), 0u32..0x100].prop_map(Tags::Mpls),
            (
                prop_oneof![Just(5u16), 1u16..4095],
                prop_oneof![Just(0u8), 0u8..8],
                proptest::option::of(prop_oneof![Just(7u16), 1u16..4095]),
            )
                .prop_map(|(id, p, s)| Tags::Vlan(id, p, s)),
        ],
    )
        .prop_map(
            |(thread, count, pkt, dst, udp_dst_max, tos, skb_priority, flags, tags)| Dev {
                thread,
                count,
                pkt,
                dst,
                udp_dst_max,
                tos,
                skb_priority,
                flags: flags.into_iter().collect(),
                tags,
            },
        )
}

fn state() -> impl Strategy<Value = BTreeMap<&'static str, Dev>> {
    proptest::collection::btree_map(proptest::sample::select(NAMES), dev(), 0..=4)
}

fn yaml(devs: &BTreeMap<&'static str, Dev>) -> String {
    let mut out = String::from("devices:\n");
    if devs.is_empty() {
        return "devices: {}\n".into();
    }
    for (name, d) in devs {
        out.push_str(&format!("  {name}:\n    thread: {}\n", d.thread));
        if let Some(v) = d.count {
            out.push_str(&format!("    count: {v}\n"));
        }
        match d.pkt {
            Some(Pkt::Size(v)) => out.push_str(&format!("    pkt_size: {v}\n")),
            Some(Pkt::Range(lo, hi)) => {
                out.push_str(&format!("    min_pkt_size: {lo}\n    max_pkt_size: {hi}\n"))
            }
            None => {}
        }
        match d.tags {
            Tags::None => {}
            Tags::Mpls(l) => out.push_str(&format!("    mpls: [\"{l:08x}\"]\n")),
            Tags::Vlan(id, p, s) => {
                out.push_str(&format!("    vlan_id: {id}\n    vlan_p: {p}\n"));
                if let Some(s) = s {
                    out.push_str(&format!("    svlan_id: {s}\n"));
                }
            }
        }
        if let Some(v) = d.dst {
            out.push_str(&format!("    dst: 198.18.0.{v}\n"));
        }
        if let Some(v) = d.udp_dst_max {
            out.push_str(&format!("    udp_dst_max: {v}\n"));
        }
        if let Some(v) = d.tos {
            out.push_str(&format!("    tos: {v}\n"));
        }
        if let Some(v) = d.skb_priority {
            out.push_str(&format!("    skb_priority: {v}\n"));
        }
        if !d.flags.is_empty() {
            let f: Vec<_> = d.flags.iter().copied().collect();
            out.push_str(&format!("    flags: [{}]\n", f.join(", ")));
        }
    }
    out
}

/// Writes for the packet sizes. `pkt_size X` sets min and max at once unless min is already
/// X, and then `max_pkt_size X` alone is enough (REFERENCE §2.6 rule 9): one size always
/// costs at most one write; a range costs one write per bound that differs. A fresh device
/// reads 0/0.
fn pkt_writes(from: Option<Pkt>, to: Option<Pkt>) -> usize {
    let (a_lo, a_hi) = from.map_or((0, 0), Pkt::bounds);
    let Some(to) = to else { return 0 };
    let (b_lo, b_hi) = to.bounds();
    if b_lo == b_hi {
        usize::from((a_lo, a_hi) != (b_lo, b_hi))
    } else {
        usize::from(a_lo != b_lo) + usize::from(a_hi != b_hi)
    }
}

/// Writes for MPLS and VLAN tags (REFERENCE §2.3 mpls, vlan_id and svlan_id rows):
/// - a label stack turns both VLAN tags off, and a VLAN id clears the label stack, so moving
///   from one to the other costs only the new tag's writes;
/// - clearing MPLS alone is one write on every kernel, and so is turning the VLAN off
///   (`vlan_id` above 4095 also turns the SVLAN off);
/// - dropping only the SVLAN turns both off, so the VLAN id is written again;
/// - priority and CFI survive their tag being turned off and are hidden while it is off:
///   known (0) on a fresh device, unknown on a live device whose tag is off, so then written.
fn tag_writes(from: Option<Tags>, to: Tags) -> usize {
    let fresh = from.is_none();
    let from = from.unwrap_or(Tags::None);
    match (from, to) {
        (a, b) if a == b => 0,
        (_, Tags::None) => 1,
        (_, Tags::Mpls(_)) => 1,
        (a, Tags::Vlan(id, p, s)) => {
            let (a_vlan, a_svlan) = match a {
                Tags::Vlan(ai, ap, asv) => (Some((ai, ap)), asv),
                _ => (None, None),
            };
            let svlan_dropped = a_svlan.is_some() && s.is_none();
            let mut n = usize::from(svlan_dropped);
            let vlan_id_needed =
                a_vlan.map(|v| v.0) != Some(id) || matches!(a, Tags::Mpls(_)) || svlan_dropped;
            n += usize::from(vlan_id_needed);
            n += match a_vlan {
                Some((_, ap)) => usize::from(ap != p),
                None if fresh => usize::from(p != 0),
                None => 2, // vlan_p and vlan_cfi, hidden
            };
            if let Some(s) = s {
                n += usize::from(a_svlan != Some(s));
                if a_svlan.is_none() && !fresh {
                    n += 2; // svlan_p and svlan_cfi, hidden
                }
            }
            n
        }
    }
}

/// Writes needed to take a device configured as `from` (or a fresh one) to `to`.
fn field_writes(from: Option<&Dev>, to: &Dev) -> usize {
    let norm_count = |c: Option<u64>| c.unwrap_or(1000);
    let norm = |v: Option<u64>, d: u64| v.unwrap_or(d);
    let mut n = 0;
    n += usize::from(norm_count(from.and_then(|f| f.count)) != norm_count(to.count));
    // A size cannot go back to unset; such pairs re-add the device (see `minimal_writes`).
    n += pkt_writes(from.and_then(|f| f.pkt), to.pkt);
    n += usize::from(from.and_then(|f| f.dst) != to.dst);
    n += usize::from(
        norm(from.and_then(|f| f.udp_dst_max).map(u64::from), 9)
            != norm(to.udp_dst_max.map(u64::from), 9),
    );
    n += usize::from(from.and_then(|f| f.tos).unwrap_or(0) != to.tos.unwrap_or(0));
    n +=
        usize::from(from.and_then(|f| f.skb_priority).unwrap_or(0) != to.skb_priority.unwrap_or(0));
    let no_flags = BTreeSet::new();
    n += from
        .map_or(&no_flags, |f| &f.flags)
        .symmetric_difference(&to.flags)
        .count();
    n += tag_writes(from.map(|f| f.tags), to.tags);
    n
}

/// The minimum number of writes from A to B, from the state files alone: a thread is flushed
/// (one `rem_device_all`) when it loses a device or needs a re-add; every device on a flushed
/// thread, and every new device, costs an `add_device` plus its fields from defaults.
fn minimal_writes(a: &BTreeMap<&str, Dev>, b: &BTreeMap<&str, Dev>) -> usize {
    let mut flushed = BTreeSet::new();
    for (name, da) in a {
        match b.get(name) {
            None => {
                flushed.insert(da.thread);
            }
            Some(db) if db.thread != da.thread || (da.pkt.is_some() && db.pkt.is_none()) => {
                flushed.insert(da.thread);
            }
            _ => {}
        }
    }
    let mut n = flushed.len();
    for (name, db) in b {
        match a.get(name) {
            Some(da) if !flushed.contains(&da.thread) => n += field_writes(Some(da), db),
            _ => n += 1 + field_writes(None, db),
        }
    }
    n
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn apply_converges_with_the_minimal_number_of_writes(a in state(), b in state(), new_kernel in any::<bool>()) {
        let profile = if new_kernel { KernelProfile::LINUX_6_12 } else { KernelProfile::LINUX_6_1 };
        let sim = lab(profile);
        let desired_a = load(&yaml(&a));
        let desired_b = load(&yaml(&b));
        apply(&sim, &desired_a).unwrap();
        let report = apply(&sim, &desired_b).unwrap();
        let (_, _, again) = plan_against(&sim, &desired_b).unwrap();
        prop_assert!(again.is_empty(), "not converged: {:#?}", again.writes);
        prop_assert_eq!(report.writes, minimal_writes(&a, &b), "A:\n{}B:\n{}writes: {:#?}", yaml(&a), yaml(&b), report.plan.writes.iter().map(|w| w.render()).collect::<Vec<_>>());
        // Planning an unchanged state needs no write at all.
        let (_, _, same) = plan_against(&sim, &desired_b).unwrap();
        prop_assert_eq!(same.writes.len(), 0);
    }
}
