//! Kernel differences (REFERENCE §6): offline validation accepts what some supported kernel
//! accepts and says which would refuse it; `plan` and `apply` judge the live kernel; and
//! `show` → `apply` round-trips on every supported kernel.

use std::path::Path;

mod common;

use pgstate::apply::{apply, plan_against};
use pgstate::procfs::observe::read_live_state;
use pgstate::state_file::{load_texts, render_state_file, state_file_from_live, LoadedState};
use pgstate::KernelProfile;

use common::lab::lab_on;

fn load(text: &str) -> Result<LoadedState, String> {
    load_texts(&[(Path::new("k.yaml"), text)]).map_err(|e| e.to_string())
}

fn sixteen_labels() -> String {
    let labels: Vec<String> = (1..=16).map(|n| format!("\"{:08x}\"", n << 12)).collect();
    format!(
        "devices:\n  eth0:\n    thread: 0\n    mpls: [{}]\n",
        labels.join(", ")
    )
}

/// Upstream raised the limit to 16 in 6.15, but the fix is in the stable releases Debian
/// ships: the lab's 5.10.262, 6.1.192, 6.12.117 and 7.2.13 all take 16 labels (and refuse a
/// 17th with E2BIG), so 16 validate with no note and a 17th is refused everywhere.
#[test]
fn sixteen_mpls_labels_validate_everywhere_and_seventeen_nowhere() {
    let loaded = load(&sixteen_labels()).unwrap();
    assert!(loaded.notes.is_empty(), "{:?}", loaded.notes);
    let seventeen = sixteen_labels().replace("]\n", ", 1]\n");
    let e = load(&seventeen).unwrap_err();
    assert!(
        e.contains("17 labels; the kernel accepts at most 16"),
        "{e}"
    );
}

#[test]
fn sixteen_mpls_labels_apply_and_round_trip_on_every_supported_kernel() {
    for profile in KernelProfile::SUPPORTED {
        let sim = lab_on(profile, &[0], &["eth0"], &[]);
        let desired = load(&sixteen_labels()).unwrap().desired;
        apply(&sim, &desired).unwrap();
        let live = read_live_state(&sim).unwrap();
        let shown = render_state_file(&state_file_from_live(&live, &profile)).unwrap();
        let again = load(&shown).unwrap().desired;
        let (_, _, plan) = plan_against(&sim, &again).unwrap();
        assert!(
            plan.is_empty(),
            "{profile}: show → apply is not a no-op: {:#?}",
            plan.writes
        );
    }
}

#[test]
fn the_live_kernel_refuses_what_it_lacks_naming_the_key() {
    let imix = "devices:\n  eth0:\n    thread: 0\n    imix_weights: \"64,7 1500,1\"\n";
    let loaded = load(imix).unwrap();
    assert!(loaded.notes[0]
        .to_string()
        .contains("Linux 5.10 would refuse it"));
    let e = plan_against(
        &lab_on(KernelProfile::LINUX_5_10, &[0], &["eth0"], &[]),
        &loaded.desired,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("imix_weights needs Linux 5.15 or later; this kernel is 5.10"),
        "{e}"
    );
}

#[test]
fn a_zero_mpls_label_is_refused_from_6_15_where_it_clears_the_stack() {
    let text = "devices:\n  eth0:\n    thread: 0\n    mpls: [\"0001000a\", 0]\n";
    let loaded = load(text).unwrap();
    assert!(loaded.notes[0]
        .to_string()
        .contains("Linux 7.2 would refuse it"));
    let sim = lab_on(KernelProfile::LINUX_6_1, &[0], &["eth0"], &[]);
    apply(&sim, &loaded.desired).unwrap();
    let e = plan_against(
        &lab_on(KernelProfile::LINUX_7_2, &[0], &["eth0"], &[]),
        &loaded.desired,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("an MPLS label of 0 needs Linux before 6.15"),
        "{e}"
    );
}

#[test]
fn every_supported_kernel_round_trips_show_and_apply() {
    let text = "devices:\n  eth0:\n    thread: 0\n    count: 5\n    pkt_size: 100\n    tos: 0x10\n    mpls: [\"0001000a\"]\n    flags: [UDPCSUM]\n";
    for profile in KernelProfile::SUPPORTED {
        let sim = lab_on(profile, &[0], &["eth0"], &[]);
        apply(&sim, &load(text).unwrap().desired).unwrap();
        let live = read_live_state(&sim).unwrap();
        let shown = render_state_file(&state_file_from_live(&live, &profile)).unwrap();
        let (_, _, plan) = plan_against(&sim, &load(&shown).unwrap().desired).unwrap();
        assert!(plan.is_empty(), "{profile}: {:#?}", plan.writes);
    }
}
