//! `namespaces:` in state files: several network namespaces from one state, checked offline
//! with every problem located (`file:line:col: path: message`).

use std::path::Path;

use pgstate::state_file::{load_texts, LoadError, LoadedState};
use pgstate::Diagnostic;

fn load(files: &[(&str, &str)]) -> Result<LoadedState, Vec<Diagnostic>> {
    let refs: Vec<(&Path, &str)> = files.iter().map(|(n, t)| (Path::new(*n), *t)).collect();
    match load_texts(&refs) {
        Ok(s) => Ok(s),
        Err(LoadError::Invalid(d)) => Err(d),
        Err(e) => panic!("expected diagnostics, got {e}"),
    }
}

fn refuse(text: &str) -> Vec<Diagnostic> {
    match load(&[("s.yaml", text)]) {
        Ok(s) => panic!("accepted:\n{text}\n{:#?}", s.namespaces),
        Err(d) => d,
    }
}

/// The one diagnostic, at `line:col` with `path`, whose message has `words`.
fn check_only(diags: &[Diagnostic], at: (usize, usize), path: &str, words: &[&str]) {
    assert_eq!(diags.len(), 1, "{diags:#?}");
    let d = &diags[0];
    let text = d.to_string();
    let loc = d.location.as_ref().unwrap_or_else(|| panic!("{text}"));
    assert_eq!((loc.line, loc.column), at, "{text}");
    assert!(
        text.starts_with(&format!("s.yaml:{}:{}: {path}: ", at.0, at.1)),
        "{text}"
    );
    let all = format!("{} {}", d.message, d.help.as_deref().unwrap_or_default());
    for w in words {
        assert!(all.contains(w), "{w:?} not in {text}");
    }
}

const LAB: &str = "\
namespaces:
  h1:
    threads: [0, 1]
    devices:
      eth0: {thread: 0, count: 1000, dst: 10.0.0.2}
  h2:
    netns: /proc/4242/ns/net
    devices:
      eth0: {thread: 1, count: 5}
      eth0@1: {thread: 0}
";

#[test]
fn a_state_of_several_namespaces_loads_each_with_its_own_devices() {
    let s = load(&[("s.yaml", LAB)]).unwrap();
    assert!(
        !s.current,
        "no top-level devices: the own namespace is not managed"
    );
    assert!(s.desired.devices.is_empty());
    let names: Vec<&str> = s.namespaces.keys().map(|n| n.as_str()).collect();
    assert_eq!(names, ["h1", "h2"]);
    let h1 = &s.namespaces.values().next().unwrap();
    assert_eq!(h1.netns, Path::new("/run/netns/h1"));
    assert_eq!(h1.desired.devices.len(), 1);
    assert_eq!(
        h1.desired.threads.as_ref().map(|t| t.len()),
        Some(2),
        "threads: is per namespace"
    );
    let h2 = s.namespaces.values().nth(1).unwrap();
    assert_eq!(h2.netns, Path::new("/proc/4242/ns/net"));
    assert_eq!(h2.desired.devices.len(), 2);
    assert!(h2.desired.threads.is_none());
    // A refused value later is located under the namespace.
    let eth0 = pgstate::DeviceName::new("eth0").unwrap();
    let loc = h2.sources.locate(&eth0, Some("count")).unwrap();
    assert_eq!((loc.line, loc.column), (9, 32));
    assert_eq!(h2.sources.path_prefix(), "namespaces.h2.");

    let with_top = format!("devices:\n  lo: {{thread: 0}}\n{LAB}");
    let s = load(&[("s.yaml", &with_top)]).unwrap();
    assert!(s.current);
    assert_eq!(s.desired.devices.len(), 1);
}

#[test]
fn a_name_ip_netns_refuses_is_refused_where_it_is() {
    let d = refuse("namespaces:\n  a/b:\n    devices: {}\n");
    check_only(
        &d,
        (2, 3),
        "namespaces.a/b",
        &["not a valid `ip netns` name", "'/'"],
    );
    let d = refuse("namespaces:\n  ..:\n    devices: {}\n");
    check_only(
        &d,
        (2, 3),
        "namespaces...",
        &["not a valid `ip netns` name"],
    );
}

#[test]
fn problems_inside_a_namespace_are_located_with_its_path() {
    let d = refuse("namespaces:\n  h1:\n    devices:\n      eth0: {thread: 0, count: -1}\n");
    check_only(
        &d,
        (4, 32),
        "namespaces.h1.devices.eth0.count",
        &["expected a whole number"],
    );
    let d = refuse("namespaces:\n  h1:\n    devics: {}\n");
    assert_eq!(d.len(), 2, "{d:#?}");
    let unknown = d.iter().find(|d| d.path == "namespaces.h1.devics").unwrap();
    assert!(unknown.help.as_deref().unwrap().contains("devices"));
    assert!(d.iter().any(|d| d.message.contains("has no `devices:`")));
    let d = refuse("namespaces:\n  h1:\n    netns: run/netns/h1\n    devices: {}\n");
    check_only(&d, (3, 12), "namespaces.h1.netns", &["absolute path"]);
    let d = refuse("namespaces:\n  h1:\n    threads: [0]\n    devices:\n      eth0: {thread: 1}\n");
    check_only(
        &d,
        (5, 22),
        "namespaces.h1.devices.eth0.thread",
        &["not one of the threads"],
    );
    let d = refuse(
        "namespaces:\n  h1:\n    devices:\n      eth0: {thread: 0, dst: 1.2.3.4, dst6: '::1'}\n",
    );
    assert!(
        d[0].path.starts_with("namespaces.h1.devices.eth0"),
        "{d:#?}"
    );
    let d = refuse("namespaces: [h1]\n");
    check_only(&d, (1, 13), "namespaces", &["must be a mapping"]);
    let d = refuse("namespaces:\n  h1:\n");
    check_only(&d, (2, 3), "namespaces.h1", &["`devices: {}`"]);
}

#[test]
fn a_device_name_may_repeat_across_namespaces_but_not_inside_one() {
    // eth0 in h1 and h2 (and at the top) are three different devices.
    let text = "devices:\n  eth0: {thread: 0}\nnamespaces:\n  h1:\n    devices:\n      eth0: {thread: 0}\n  h2:\n    devices:\n      eth0: {thread: 0}\n";
    assert!(load(&[("s.yaml", text)]).is_ok());
    let d = refuse(
        "namespaces:\n  h1:\n    devices:\n      eth0: {thread: 0}\n      eth0: {thread: 1}\n",
    );
    check_only(
        &d,
        (5, 7),
        "namespaces.h1.devices.eth0",
        &["defined twice", "s.yaml:4:7"],
    );
    let d = refuse("namespaces:\n  h1:\n    devices: {}\n  h1:\n    devices: {}\n");
    check_only(
        &d,
        (4, 3),
        "namespaces.h1",
        &["namespace h1 is defined twice"],
    );
}

#[test]
fn files_of_a_directory_merge_per_namespace() {
    let a = "namespaces:\n  h1:\n    devices:\n      eth0: {thread: 0}\n";
    let b = "namespaces:\n  h1:\n    devices:\n      eth1: {thread: 0}\n  h2:\n    devices: {}\n";
    let s = load(&[("a.yaml", a), ("b.yaml", b)]).unwrap();
    assert_eq!(s.namespaces.len(), 2);
    assert_eq!(
        s.namespaces.values().next().unwrap().desired.devices.len(),
        2
    );
    assert!(!s.current);
    let dup = "namespaces:\n  h1:\n    devices:\n      eth0: {thread: 1}\n";
    let d = load(&[("a.yaml", a), ("b.yaml", dup)]).unwrap_err();
    assert_eq!(d.len(), 1, "{d:#?}");
    assert!(d[0].message.contains("a.yaml:4:7"), "{d:#?}");
    let n1 = "namespaces:\n  h1:\n    netns: /proc/1/ns/net\n    devices: {}\n";
    let n2 = "namespaces:\n  h1:\n    netns: /proc/2/ns/net\n    devices: {}\n";
    let d = load(&[("a.yaml", n1), ("b.yaml", n2)]).unwrap_err();
    assert!(d[0].message.contains("/proc/1/ns/net"), "{d:#?}");
    // A top-level `threads:` without any top-level `devices:` is a mistake.
    let d = refuse("threads: [0]\nnamespaces:\n  h1:\n    devices: {}\n");
    check_only(&d, (1, 11), "threads[0]", &["no file has"]);
}
