//! `receivers:` in state files: where streams are received, checked offline with every
//! problem located. Receivers are not pktgen state: a plan never writes for them.

use std::path::Path;

use pgstate::model::{DeviceName, NamespaceName, StreamRef};
use pgstate::state_file::{load_texts, LoadError, LoadedState};
use pgstate::Diagnostic;

fn load(text: &str) -> Result<LoadedState, Vec<Diagnostic>> {
    match load_texts(&[(Path::new("s.yaml"), text)]) {
        Ok(s) => Ok(s),
        Err(LoadError::Invalid(d)) => Err(d),
        Err(e) => panic!("expected diagnostics, got {e}"),
    }
}

/// The one problem of `text`, as `s.yaml:LINE:COL: PATH: ...` with `words`.
fn refused(text: &str, at: (usize, usize), path: &str, words: &[&str]) {
    let d = load(text).expect_err(text);
    assert_eq!(d.len(), 1, "{d:#?}");
    let shown = d[0].to_string();
    assert!(
        shown.starts_with(&format!("s.yaml:{}:{}: {path}: ", at.0, at.1)),
        "{shown}"
    );
    for w in words {
        assert!(shown.contains(w), "{w:?} not in {shown}");
    }
}

fn stream(ns: Option<&str>, device: &str) -> StreamRef {
    StreamRef {
        namespace: ns.map(|n| NamespaceName::new(n).unwrap()),
        device: DeviceName::new(device).unwrap(),
    }
}

const LAB: &str = "\
namespaces:
  h1:
    devices:
      h1-eth0: {thread: 0}
    receivers:
      h1-eth0: {streams: [h2/h2-eth0]}
  h2:
    devices:
      h2-eth0: {thread: 0}
      h2-eth1: {thread: 1}
    receivers:
      h2-eth0:
        streams: [h1/h1-eth0, h2-eth1]
        max_loss_percent: 0.5
";

#[test]
fn receivers_name_streams_in_their_namespace_in_another_and_at_the_top() {
    let s = load(LAB).unwrap();
    let h1 = &s.namespaces[&NamespaceName::new("h1").unwrap()];
    assert_eq!(h1.receivers.len(), 1);
    assert_eq!(h1.receivers[0].interface, "h1-eth0");
    assert_eq!(h1.receivers[0].streams, [stream(Some("h2"), "h2-eth0")]);
    let h2 = &s.namespaces[&NamespaceName::new("h2").unwrap()];
    assert_eq!(
        h2.receivers[0].streams,
        [stream(Some("h1"), "h1-eth0"), stream(Some("h2"), "h2-eth1")]
    );
    assert_eq!(h2.receivers[0].max_loss_percent, Some(0.5));
    // The top level's devices as /DEVICE from a namespace, and plainly at the top.
    let s = load(
        "devices:\n  eth0: {thread: 0}\nreceivers:\n  veth1: {streams: [eth0]}\nnamespaces:\n  h1:\n    devices: {}\n    receivers:\n      h1-eth0: {streams: [/eth0]}\n",
    )
    .unwrap();
    assert_eq!(s.receivers[0].streams, [stream(None, "eth0")]);
    let h1 = &s.namespaces[&NamespaceName::new("h1").unwrap()];
    assert_eq!(h1.receivers[0].streams, [stream(None, "eth0")]);
}

#[test]
fn a_stream_that_names_nothing_is_located_at_its_element() {
    refused(
        &LAB.replace("[h2/h2-eth0]", "[h2/h2-eth9]"),
        (6, 27),
        "namespaces.h1.receivers.h1-eth0.streams[0]",
        &["no device h2/h2-eth9"],
    );
    refused(
        &LAB.replace("[h2/h2-eth0]", "[h7/h2-eth0]"),
        (6, 27),
        "namespaces.h1.receivers.h1-eth0.streams[0]",
        &["no namespace h7"],
    );
    refused(
        &LAB.replace("[h1/h1-eth0, h2-eth1]", "[h1/h1-eth0, h1/h1-eth0]"),
        (13, 31),
        "namespaces.h2.receivers.h2-eth0.streams[1]",
        &["listed twice"],
    );
}

#[test]
fn bad_receiver_entries_are_refused_with_their_key() {
    refused(
        &LAB.replace("max_loss_percent: 0.5", "max_loss_percent: 150"),
        (14, 27),
        "namespaces.h2.receivers.h2-eth0.max_loss_percent",
        &["150 is not a percentage"],
    );
    refused(
        &LAB.replace("{streams: [h2/h2-eth0]}", "{streams: []}"),
        (6, 26),
        "namespaces.h1.receivers.h1-eth0.streams",
        &["at least one stream"],
    );
    refused(
        &LAB.replace("{streams: [h2/h2-eth0]}", "{stream: [h2/h2-eth0]}"),
        (6, 16),
        "namespaces.h1.receivers.h1-eth0",
        &["unknown field `stream`"],
    );
    refused(
        &LAB.replace("      h1-eth0: {streams", "      h1-eth0@1: {streams"),
        (6, 7),
        "namespaces.h1.receivers.h1-eth0@1",
        &["not an interface name"],
    );
}
