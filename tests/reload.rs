//! `reload_path` (what `watch` uses after an edit) reads a state file exactly as `load_path`
//! does: the same state, the same notes, the same located errors, whether it parsed only the
//! edited line or the whole file. Random states of one device per line, random edits of
//! one line (values, keys, names, brackets, anchors, comments, threads not owned), and edits
//! that touch several lines.

use std::path::Path;

use pgstate::state_file::{load_path, reload_edited_line, reload_path, LoadedState};
use pgstate::DeviceName;
use proptest::prelude::*;

/// A state of `n` devices, one flow mapping per line, some with `threads:` and a comment.
fn state(n: usize, owned: bool, counts: &[u64]) -> String {
    let mut s = String::from("# a state (tests/reload.rs)\n");
    if owned {
        s.push_str("threads: [0, 1]\n");
    }
    s.push_str("devices:\n");
    for i in 0..n {
        s.push_str(&format!(
            "  eth{}@{i}: {{thread: {}, count: {}, pkt_size: 60, dst: 198.18.0.{i}, dst_mac: \"02:00:00:00:00:02\", flags: [UDPCSUM]}}\n",
            i % 3,
            i % 2,
            counts[i % counts.len()]
        ));
    }
    s
}

/// What one line becomes.
fn edits() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u64..100_000).prop_map(|c| format!("count: {c}")),
        Just("count: -1".to_owned()),
        Just("count: x".to_owned()),
        Just("pkt_size: 10".to_owned()),
        Just("thread: 7".to_owned()),
        Just("thread: 1".to_owned()),
        Just("cuont: 5".to_owned()),
        Just("count: 5} # }".to_owned()),
        Just("count: {5".to_owned()),
        Just("count: &a 5".to_owned()),
        Just("count: 5, flags: [UDPCSUM, NO_TIMESTAMP]".to_owned()),
        Just("count: 5, imix_weights: {60: 1}".to_owned()),
        Just("count: \"5".to_owned()),
        Just("count: 0x10".to_owned()),
        Just("count: 1e3".to_owned()),
        Just("clone_skb: 3".to_owned()),
    ]
}

/// `text` with `count: N` of device `i`'s line replaced by `edit` (and, with `rename`, the
/// device renamed).
fn edited(text: &str, i: usize, edit: &str, rename: bool) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let key = format!("@{i}: {{");
        if line.contains(&key) {
            let mut l = line.to_owned();
            // A line an earlier edit left without `count: N,` is edited at its start.
            let start = l
                .find("count: ")
                .unwrap_or(l.find('{').map_or(0, |b| b + 1));
            let end = l[start..].find(',').map_or(start, |e| start + e);
            l.replace_range(start..end, edit);
            if rename {
                l = l.replacen(&format!("@{i}:"), &format!("@{}:", i + 1000), 1);
            }
            out.push_str(&l);
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// Both results, as comparable text: the state's parts, every device's located `count`, or
/// the error as rendered.
fn outcome(r: &Result<LoadedState, pgstate::state_file::LoadError>) -> String {
    match r {
        Ok(l) => {
            let located: Vec<String> = l
                .desired
                .devices
                .keys()
                .map(|d: &DeviceName| format!("{d}: {:?}", l.sources.locate(d, Some("count"))))
                .collect();
            format!(
                "{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{located:?}",
                l.desired, l.current, l.notes, l.receivers, l.files
            )
        }
        Err(e) => format!("error: {e}"),
    }
}

fn same_either_way(dir: &Path, before: &str, after: &str) -> bool {
    let path = dir.join("state.yaml");
    std::fs::write(&path, before).unwrap();
    let previous = load_path(&path).expect("the state before the edit loads");
    std::fs::write(&path, after).unwrap();
    let full = load_path(&path);
    let reloaded = reload_path(&path, &previous);
    assert_eq!(outcome(&reloaded), outcome(&full), "edit:\n{after}");
    // Watching the directory is the same.
    assert_eq!(outcome(&reload_path(dir, &previous)), outcome(&full));
    // Whether the one-line path took it.
    let line = reload_edited_line(&previous, &path, after).map(Ok);
    if let Some(r) = &line {
        assert_eq!(outcome(r), outcome(&full), "one-line path, edit:\n{after}");
    }
    line.is_some()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_reload_reads_an_edit_as_a_full_load_does(
        n in 1usize..12,
        owned in any::<bool>(),
        counts in proptest::collection::vec(1u64..10_000, 1..4),
        pick in 0usize..12,
        edit in edits(),
        rename in proptest::bool::weighted(0.1),
        second in proptest::option::weighted(0.1, (0usize..12, edits())),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let before = state(n, owned, &counts);
        let mut after = edited(&before, pick % n, &edit, rename);
        // The header comment changes with the edit, as a generator's would.
        after = after.replacen("# a state", &format!("# a state edited at {pick}"), 1);
        if let Some((j, e)) = &second {
            after = edited(&after, j % n, e, false);
        }
        let took_line = same_either_way(dir.path(), &before, &after);
        // A plain new count of one device is what the one-line path is for.
        if !rename && second.is_none() && edit.starts_with("count: ") && edit[7..].parse::<u64>().is_ok() {
            prop_assert!(took_line, "the one-line path refused a plain count edit:\n{after}");
        }
    }
}

#[test]
fn edits_that_reach_beyond_one_line_are_read_in_full() {
    let dir = tempfile::tempdir().unwrap();
    let before = state(4, false, &[1000]);
    for after in [
        // A flow mapping continued onto the next line.
        before.replace("flags: [UDPCSUM]}\n  eth1@1", "flags: [UDPCSUM],\n  eth1@1"),
        // The edited line now under another top-level key.
        before.replace("  eth3@3", "receivers:\n  eth3@3"),
        // An anchor, then an alias.
        before.replace(
            "count: 1000, pkt_size: 60, dst: 198.18.0.2",
            "count: &c 7, pkt_size: 60, dst: 198.18.0.2",
        ),
        // A block scalar swallowing the lines after it.
        before.replace("devices:\n", "note: |\ndevices:\n"),
        // A device added, one removed.
        format!("{before}  eth9@9: {{thread: 1}}\n"),
        before.replace("  eth3@3", "# eth3@3"),
        // A comment line made into a value.
        before.replace("# a state (tests/reload.rs)", "other: 1"),
    ] {
        assert!(!same_either_way(dir.path(), &before, &after), "{after}");
    }
}
