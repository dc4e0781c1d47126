//! Kernel differences (REFERENCE §6): offline validation accepts what some supported kernel
//! accepts and says which would refuse it; `plan` and `apply` judge the live kernel; and
//! `show` → `apply` round-trips on every supported kernel.

use std::path::Path;

use pgstate::apply::{apply, plan_against};
use pgstate::model::MacAddr;
use pgstate::procfs::observe::read_live_state;
use pgstate::procfs::SimProcfs;
use pgstate::spec::{load_texts, render_state_file, state_file_from_live, LoadedState};
use pgstate::KernelProfile;

fn lab(profile: KernelProfile) -> SimProcfs {
    let sim = SimProcfs::new(profile, &[0]);
    sim.add_interface("eth0", MacAddr([2, 0, 0, 0, 0, 0x10]), true);
    sim
}

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

#[test]
fn sixteen_mpls_labels_validate_offline_with_a_note_naming_the_older_kernels() {
    let loaded = load(&sixteen_labels()).unwrap();
    assert_eq!(loaded.notes.len(), 1, "{:?}", loaded.notes);
    let note = loaded.notes[0].to_string();
    assert!(
        note.contains("16 MPLS labels need Linux 6.15 or later")
            && note.contains("Linux 5.10 and Linux 6.1 and Linux 6.12 would refuse it"),
        "{note}"
    );
    let seventeen = sixteen_labels().replace("]\n", ", 1]\n");
    let e = load(&seventeen).unwrap_err();
    assert!(
        e.contains("17 labels; the kernel accepts at most 16"),
        "{e}"
    );
}

#[test]
fn sixteen_mpls_labels_apply_and_round_trip_on_7_2() {
    let sim = lab(KernelProfile::LINUX_7_2);
    let desired = load(&sixteen_labels()).unwrap().desired;
    apply(&sim, &desired).unwrap();
    let live = read_live_state(&sim).unwrap();
    let shown = render_state_file(&state_file_from_live(&live, &KernelProfile::LINUX_7_2)).unwrap();
    let again = load(&shown).unwrap().desired;
    let (_, _, plan) = plan_against(&sim, &again).unwrap();
    assert!(
        plan.is_empty(),
        "show → apply is not a no-op: {:#?}",
        plan.writes
    );
}

#[test]
fn the_live_kernel_refuses_what_it_lacks_naming_the_key() {
    let sim = lab(KernelProfile::LINUX_6_12);
    let desired = load(&sixteen_labels()).unwrap().desired;
    let e = plan_against(&sim, &desired).unwrap_err().to_string();
    assert!(
        e.contains("device eth0: 16 MPLS labels need Linux 6.15 or later; this kernel is 6.12"),
        "{e}"
    );

    let imix = "devices:\n  eth0:\n    thread: 0\n    imix_weights: \"64,7 1500,1\"\n";
    let loaded = load(imix).unwrap();
    assert!(loaded.notes[0]
        .to_string()
        .contains("Linux 5.10 would refuse it"));
    let e = plan_against(&lab(KernelProfile::LINUX_5_10), &loaded.desired)
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
    let sim = lab(KernelProfile::LINUX_6_1);
    apply(&sim, &loaded.desired).unwrap();
    let e = plan_against(&lab(KernelProfile::LINUX_7_2), &loaded.desired)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("an MPLS label of 0 needs Linux before 6.15"),
        "{e}"
    );
    // 16 labels (6.15+) with a zero label (before 6.15): no kernel takes both.
    let both = sixteen_labels()
        .replace("]\n", ", 0]\n")
        .replacen("\"00001000\", ", "", 1);
    let e = load(&both).unwrap_err();
    assert!(e.contains("no kernel accepts this device"), "{e}");
}

#[test]
fn every_supported_kernel_round_trips_show_and_apply() {
    let text = "devices:\n  eth0:\n    thread: 0\n    count: 5\n    pkt_size: 100\n    tos: 0x10\n    mpls: [\"0001000a\"]\n    flags: [UDPCSUM]\n";
    for profile in KernelProfile::SUPPORTED {
        let sim = lab(profile);
        apply(&sim, &load(text).unwrap().desired).unwrap();
        let live = read_live_state(&sim).unwrap();
        let shown = render_state_file(&state_file_from_live(&live, &profile)).unwrap();
        let (_, _, plan) = plan_against(&sim, &load(&shown).unwrap().desired).unwrap();
        assert!(plan.is_empty(), "{profile}: {:#?}", plan.writes);
    }
}
