//! `watch` of a state with `namespaces:`: each session keeps its own part of the state (one
//! namespace, or the top level), and refuses a state that no longer has its part rather than
//! emptying its namespace.

mod common;

use std::fs;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use pgstate::model::NamespaceName;
use pgstate::watch::{
    run, ManualClock, NoEvents, WatchConfig, WatchError, WatchPart, WatchSession,
};
use pgstate::KernelProfile;

use common::lab::lab_with;

const LAB: &str = "\
devices:
  eth0: {thread: 0, count: 1}
namespaces:
  h1:
    devices:
      h1-eth0: {thread: 0, count: 11}
  h2:
    devices:
      h2-eth0: {thread: 0, count: 21}
      h2-eth1: {thread: 1, count: 22}
";

fn once(
    sim: &Arc<pgstate::procfs::SimProcfs>,
    path: &std::path::Path,
    part: WatchPart,
) -> Result<pgstate::watch::WatchSummary, WatchError> {
    let config = WatchConfig {
        once: true,
        lock_file: None,
        part,
        ..WatchConfig::default()
    };
    let mut session = WatchSession::new(Arc::clone(sim), path, config, ManualClock::new());
    let never = AtomicBool::new(false);
    run(&mut session, &mut NoEvents, &never, &never)
}

#[test]
fn each_session_keeps_its_own_part_of_the_state() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lab.yaml");
    fs::write(&path, LAB).unwrap();
    let profile = KernelProfile::LINUX_6_12;
    // h2's session, on h2's box (which also has an interface named like h1's).
    let h2 = Arc::new(lab_with(
        profile,
        &["h2-eth0", "h2-eth1", "h1-eth0", "eth0"],
    ));
    let part = WatchPart::Named(NamespaceName::new("h2").unwrap());
    assert!(once(&h2, &path, part.clone()).unwrap().in_sync);
    assert_eq!(h2.device_names(), ["h2-eth0", "h2-eth1"]);
    // The top level's session, on the box pgstate runs in.
    let here = Arc::new(lab_with(profile, &["eth0", "h1-eth0"]));
    assert!(once(&here, &path, WatchPart::Current).unwrap().in_sync);
    assert_eq!(here.device_names(), ["eth0"]);
    // One session for the whole state would apply only its top level: refused.
    let whole = Arc::new(lab_with(profile, &["eth0"]));
    assert!(matches!(
        once(&whole, &path, WatchPart::Whole),
        Err(WatchError::Load(_))
    ));
    assert_eq!(whole.write_count(), 0);

    // The file drops h2: its session refuses the state and leaves h2's devices alone.
    fs::write(&path, LAB.split("  h2:").next().unwrap()).unwrap();
    let writes = h2.write_count();
    let err = once(&h2, &path, part).unwrap_err();
    assert!(
        err.to_string()
            .contains("namespace h2 is no longer in the state"),
        "{err}"
    );
    assert_eq!(h2.write_count(), writes);
    assert_eq!(h2.device_names(), ["h2-eth0", "h2-eth1"]);
}
