//! Several network namespaces from one state, on simulators (one per namespace): planned
//! together, applied all or none, with what became of each namespace reported precisely.

mod common;

use std::path::Path;
use std::sync::atomic::AtomicBool;

use std::sync::Arc;

use pgstate::procfs::{Procfs, SimProcfs};
use pgstate::state_file::{load_texts, LoadedState};
use pgstate::targets::{self, ApplyAllError, OpenTarget};
use pgstate::KernelProfile;

use common::lab::{lab, live_configs, Configs, PROFILES};

const BEFORE: &str = "\
namespaces:
  h1:
    devices:
      eth0: {thread: 0, count: 10}
  h2:
    devices:
      eth0: {thread: 0, count: 20}
      eth1: {thread: 1, count: 21}
  h3:
    devices:
      eth0: {thread: 1, count: 30}
";

const AFTER: &str = "\
namespaces:
  h1:
    devices:
      eth0: {thread: 1, count: 11, pkt_size: 100}
      eth1: {thread: 0}
  h2:
    devices:
      eth0@0: {thread: 0, count: 22, dst: 198.18.0.2}
      eth1: {thread: 0, count: 23, flags: [UDPCSUM]}
  h3:
    devices:
      eth2: {thread: 0, count: 33}
";

fn loaded(text: &str) -> LoadedState {
    load_texts(&[(Path::new("lab.yaml"), text)]).unwrap_or_else(|e| panic!("{e}"))
}

/// The namespaces of `state`, in order, each with its simulator.
fn targets(state: &LoadedState, sims: &[Arc<SimProcfs>; 3]) -> Vec<OpenTarget> {
    targets::from_state(state.clone())
        .into_iter()
        .zip(sims)
        .map(|(t, sim)| OpenTarget::new(t, Arc::clone(sim) as _))
        .collect()
}

fn converge(state: &LoadedState, sims: &[Arc<SimProcfs>; 3]) -> usize {
    let t = targets(state, sims);
    let planned = targets::plan(&t).unwrap();
    let reports = targets::apply(&t, planned, &AtomicBool::new(false)).unwrap();
    reports.iter().map(|r| r.writes).sum()
}

fn snapshot(sims: &[Arc<SimProcfs>; 3]) -> [Configs; 3] {
    [0, 1, 2].map(|i| live_configs(&sims[i]))
}

fn boxes(profile: KernelProfile) -> [Arc<SimProcfs>; 3] {
    [lab(profile), lab(profile), lab(profile)].map(Arc::new)
}

#[test]
fn each_namespace_gets_its_own_devices_and_a_re_plan_writes_nothing() {
    for profile in PROFILES {
        let sims = boxes(profile);
        assert!(converge(&loaded(BEFORE), &sims) > 0);
        // The same name in two namespaces is two devices, each configured as its own says.
        let [h1, h2, h3] = snapshot(&sims);
        assert_eq!(h1["eth0"].1.as_ref().unwrap().count, 10);
        assert_eq!(h2["eth0"].1.as_ref().unwrap().count, 20);
        assert_eq!(h3["eth0"].1.as_ref().unwrap().count, 30);
        assert_eq!(h1.len() + h2.len() + h3.len(), 4);
        let state = loaded(BEFORE);
        let again = targets::plan(&targets(&state, &sims)).unwrap();
        assert!(again.iter().all(|p| p.plan.is_empty()));
        assert!(converge(&loaded(AFTER), &sims) > 0);
        let state = loaded(AFTER);
        let again = targets::plan(&targets(&state, &sims)).unwrap();
        assert!(again.iter().all(|p| p.plan.is_empty()));
    }
}

#[test]
fn drift_in_one_namespace_is_planned_there_only() {
    let sims = boxes(KernelProfile::LINUX_6_12);
    converge(&loaded(BEFORE), &sims);
    sims[1]
        .write(
            &pgstate::PgFile::Device("eth1".parse().unwrap()),
            "count 99",
        )
        .unwrap();
    let state = loaded(BEFORE);
    let planned = targets::plan(&targets(&state, &sims)).unwrap();
    let writes: Vec<usize> = planned.iter().map(|p| p.plan.writes.len()).collect();
    assert_eq!(writes, [0, 1, 0]);
}

#[test]
fn a_namespace_that_cannot_be_planned_stops_everything_before_any_write() {
    let sims = boxes(KernelProfile::LINUX_6_12);
    converge(&loaded(BEFORE), &sims);
    let before = snapshot(&sims);
    let counts: Vec<usize> = sims.iter().map(|s| s.write_count()).collect();
    // h3 has no interface eth9; h1 and h2 would have changes.
    let bad = AFTER.replace(
        "      eth2: {thread: 0, count: 33}",
        "      eth9: {thread: 0}",
    );
    let state = loaded(&bad);
    let err = targets::plan(&targets(&state, &sims)).unwrap_err();
    assert_eq!(err.place.name().map(|n| n.as_str()), Some("h3"));
    assert!(err.to_string().starts_with("namespace h3: "), "{err}");
    assert_eq!(snapshot(&sims), before);
    let after: Vec<usize> = sims.iter().map(|s| s.write_count()).collect();
    assert_eq!(after, counts, "nothing was written anywhere");
}

/// A write of h2's part of the plan fails at every position: h2 is rolled back, h1 (applied
/// before it) is restored, h3 is not touched, and the error says so per namespace.
#[test]
fn a_failure_in_one_namespace_restores_those_applied_before_it() {
    let profile = KernelProfile::LINUX_6_12;
    let total = {
        let sims = boxes(profile);
        converge(&loaded(BEFORE), &sims);
        let state = loaded(AFTER);
        targets::plan(&targets(&state, &sims)).unwrap()[1]
            .plan
            .writes
            .len()
    };
    assert!(total > 3);
    for position in 0..total {
        for errno in [Some(22), None] {
            let sims = boxes(profile);
            converge(&loaded(BEFORE), &sims);
            let before = snapshot(&sims);
            let h3_writes = sims[2].write_count();
            let nth = sims[1].write_count() + position;
            match errno {
                Some(e) => sims[1].fail_write(nth, e),
                None => sims[1].fail_result_at(nth, "ERROR: injected"),
            }
            let state = loaded(AFTER);
            let t = targets(&state, &sims);
            let planned = targets::plan(&t).unwrap();
            let h1_planned = planned[0].plan.writes.len();
            let err: Box<ApplyAllError> =
                targets::apply(&t, planned, &AtomicBool::new(false)).unwrap_err();
            let at = format!("position {position}, errno {errno:?}: {err}");
            assert_eq!(err.place.name().unwrap().as_str(), "h2", "{at}");
            assert!(err.everything_restored(), "{at}");
            assert_eq!(snapshot(&sims), before, "{at}");
            assert_eq!(sims[2].write_count(), h3_writes, "h3 untouched: {at}");
            assert_eq!(err.before.len(), 1, "{at}");
            assert_eq!(err.before[0].0.name().unwrap().as_str(), "h1");
            let h1 = err.before[0].1.as_ref().expect("h1 was written to");
            assert!(h1.writes > 0 && h1.restored && h1_planned > 0, "{at}");
            assert_eq!(err.untouched.len(), 1);
            let text = err.to_string();
            assert!(text.starts_with("namespace h2: write "), "{text}");
            assert!(
                text.contains("\nnamespace h1 (applied before it): rolled back with"),
                "{text}"
            );
            assert!(
                text.ends_with(
                    "\nnamespace h3: not touched\nEvery namespace is as it was before apply."
                ),
                "{text}"
            );
        }
    }
}

#[test]
fn a_namespace_that_needed_no_writes_is_reported_unchanged() {
    let sims = boxes(KernelProfile::LINUX_6_12);
    converge(&loaded(BEFORE), &sims);
    // h1 as before; h2 changes and its first write fails.
    let mixed = AFTER.replace(
        "      eth0: {thread: 1, count: 11, pkt_size: 100}\n      eth1: {thread: 0}\n",
        "      eth0: {thread: 0, count: 10}\n",
    );
    sims[1].fail_write(sims[1].write_count(), 22);
    let state = loaded(&mixed);
    let t = targets(&state, &sims);
    let planned = targets::plan(&t).unwrap();
    assert!(planned[0].plan.is_empty());
    let err = targets::apply(&t, planned, &AtomicBool::new(false)).unwrap_err();
    assert!(matches!(err.before.as_slice(), [(_, None)]), "{err}");
    assert!(err
        .to_string()
        .contains("namespace h1 (applied before it): needed no writes"));
}

#[test]
fn the_netns_lab_example_converges_in_each_of_its_namespaces() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("states/netns-lab.yaml");
    let state = pgstate::load_path(&path).unwrap();
    assert!(!state.current);
    let names: Vec<&str> = state.namespaces.keys().map(|n| n.as_str()).collect();
    assert_eq!(names, ["h1", "h2", "h3"]);
    for profile in PROFILES {
        let sims = [
            common::lab::lab_with(profile, &["h1-eth0"]),
            common::lab::lab_with(profile, &["h2-eth0", "h2-eth1"]),
            common::lab::lab_with(profile, &["h3-eth0"]),
        ]
        .map(Arc::new);
        assert!(converge(&state, &sims) > 0);
        let again = targets::plan(&targets(&state, &sims)).unwrap();
        assert!(again.iter().all(|p| p.plan.is_empty()));
        assert_eq!(sims[1].device_names(), ["h2-eth0", "h2-eth1"]);
    }
}
