//! Property tests on the simulator: for random pairs of states A (live) and B (desired),
//! applying B converges, the next plan is empty, and the number of writes equals the minimum
//! computed independently from the two state files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use proptest::prelude::*;

use pgstate::apply::{apply, plan_against};
use pgstate::model::MacAddr;
use pgstate::procfs::SimProcfs;
use pgstate::spec::load_texts;
use pgstate::KernelProfile;

/// One device in the restricted language of these tests: every field maps to exactly one
/// kernel command, so the minimum is easy to compute without the planner.
#[derive(Debug, Clone, PartialEq)]
struct Dev {
    thread: u32,
    count: Option<u64>,
    pkt_size: Option<u64>,
    dst: Option<u8>,
    udp_dst_max: Option<u16>,
    tos: Option<u8>,
    skb_priority: Option<u32>,
    flags: BTreeSet<&'static str>,
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
        proptest::option::of(prop_oneof![Just(60u64), 42u64..1500]),
        proptest::option::of(1u8..4),
        proptest::option::of(prop_oneof![Just(9u16), 10u16..2000]),
        proptest::option::of(1u8..=255),
        proptest::option::of(1u32..10),
        proptest::sample::subsequence(FLAGS, 0..=3),
    )
        .prop_map(
            |(thread, count, pkt_size, dst, udp_dst_max, tos, skb_priority, flags)| Dev {
                thread,
                count,
                pkt_size,
                dst,
                udp_dst_max,
                tos,
                skb_priority,
                flags: flags.into_iter().collect(),
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
        if let Some(v) = d.pkt_size {
            out.push_str(&format!("    pkt_size: {v}\n"));
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

/// Writes needed to take a device configured as `from` (or a fresh one) to `to`.
fn field_writes(from: Option<&Dev>, to: &Dev) -> usize {
    let fresh = Dev {
        thread: to.thread,
        count: None,
        pkt_size: None,
        dst: None,
        udp_dst_max: None,
        tos: None,
        skb_priority: None,
        flags: BTreeSet::new(),
    };
    let from = from.unwrap_or(&fresh);
    let norm_count = |c: Option<u64>| c.unwrap_or(1000);
    let norm = |v: Option<u64>, d: u64| v.unwrap_or(d);
    let mut n = 0;
    n += usize::from(norm_count(from.count) != norm_count(to.count));
    // pkt_size is written as min_pkt_size and max_pkt_size (REFERENCE §2.6 rule 9). A size
    // cannot go back to unset; such pairs are excluded by `comparable`.
    n += 2 * usize::from(from.pkt_size != to.pkt_size);
    n += usize::from(from.dst != to.dst);
    n += usize::from(
        norm(from.udp_dst_max.map(u64::from), 9) != norm(to.udp_dst_max.map(u64::from), 9),
    );
    n += usize::from(from.tos.unwrap_or(0) != to.tos.unwrap_or(0));
    n += usize::from(from.skb_priority.unwrap_or(0) != to.skb_priority.unwrap_or(0));
    n += from.flags.symmetric_difference(&to.flags).count();
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
            Some(db)
                if db.thread != da.thread || (da.pkt_size.is_some() && db.pkt_size.is_none()) =>
            {
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

fn sim(profile: KernelProfile) -> SimProcfs {
    let sim = SimProcfs::new(profile, &[0, 1]);
    for (i, n) in ["eth0", "eth1", "eth2"].iter().enumerate() {
        sim.add_interface(n, MacAddr([2, 0, 0, 0, 1, i as u8]), true);
    }
    sim
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn apply_converges_with_the_minimal_number_of_writes(a in state(), b in state(), new_kernel in any::<bool>()) {
        let profile = if new_kernel { KernelProfile::LINUX_6_12 } else { KernelProfile::LINUX_6_1 };
        let sim = sim(profile);
        let desired_a = load_texts(&[(Path::new("a.yaml"), &yaml(&a))]).unwrap().desired;
        let desired_b = load_texts(&[(Path::new("b.yaml"), &yaml(&b))]).unwrap().desired;
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
