//! Reading a state file again after an edit of one device's line, without parsing the rest.
//!
//! `watch` re-reads the state after every save. With hundreds of devices nearly all of that
//! is the YAML scan of lines that did not change (a 512-device file is 30 million
//! instructions, most of an edit's cost; BENCHMARKS.md). When the edit is confined to one
//! line (and comment lines) of the form `  NAME: {…}` in the top-level `devices:` of a
//! one-file state, and the file is of a shape where that line cannot mean anything but that
//! device's entry, only the line is parsed (as a document of its own, by the same loader)
//! and the device is replaced in the previous state. Everything else goes to the full load: this is an optimisation
//! that must never read a file otherwise than [`load_path`](super::load_path), and
//! `tests/reload.rs` holds the two to the same result on random edits.
//!
//! What makes a line stand alone (every check is on the new text, which the old one matched
//! apart from that line and comment lines):
//! - no character that can tie lines together or change a node elsewhere: anchors, aliases
//!   and tags (`&`, `*`, `!`), block scalars (`|`, `>`), single quotes, tabs, `?`, `%`
//!   directives, `---`/`...` document markers;
//! - on every line, flow brackets and braces balance and double quotes pair up, so no flow
//!   collection or quoted scalar continues onto another line;
//! - the line is `  NAME: {…}` (two spaces, a plain key, one flow mapping, no comment) and
//!   the nearest line above it that starts in column 0 is `devices:`;
//! - the state has one file, no `namespaces:` and no `receivers:` (which refer to devices
//!   across entries), and the device keeps its name.

use std::path::Path;
use std::sync::Arc;

use super::{load_texts, LoadedState, LocationIndex, SourceFile};
use crate::model::DeviceName;

/// The state `previous` would be if its one file had `text` instead, when the edit is one
/// this module can take (see the module's comment); `None` otherwise, for the full load.
pub(super) fn reload_edited(
    previous: &LoadedState,
    path: &Path,
    text: &str,
) -> Option<LoadedState> {
    let [file] = previous.sources.files.as_slice() else {
        return None;
    };
    if previous.files.len() != 1
        || previous.files[0] != path
        || !previous.namespaces.is_empty()
        || !previous.receivers.is_empty()
        || !previous.current
        || !previous.notes.is_empty()
        || !previous.sources.prefix.is_empty()
    {
        return None;
    }
    let old = &*file.text;
    let (old_line, new_line) = edited_line(old, text)?;
    if !stands_alone(text) {
        return None;
    }
    let name = entry_name(new_line)?;
    if entry_name(old_line)? != name || !under_devices(text, new_line) {
        return None;
    }
    let device = DeviceName::new(name).ok()?;
    previous.desired.devices.get(&device)?;
    // The line as a document of its own, read by the loader itself: its value, its schema
    // and its validation are the full load's. A problem is left to the full load, which
    // locates it in the real file.
    let alone = load_texts(&[(path, &format!("devices:\n{new_line}\n"))]).ok()?;
    if !alone.notes.is_empty() || alone.desired.devices.len() != 1 {
        return None;
    }
    let (_, desired_device) = alone.desired.devices.into_iter().next()?;
    // `threads:` is checked across entries (check_owned_threads): a device moved to a
    // thread the state does not own is the full load's to report.
    if !previous.desired.owns(desired_device.thread) {
        return None;
    }
    let mut loaded = previous.clone();
    loaded.desired.devices.insert(device, desired_device);
    let text: Arc<str> = Arc::from(text);
    loaded.sources.files = vec![SourceFile {
        path: file.path.clone(),
        index: Arc::new(LocationIndex::lazy(Arc::clone(&text))),
        text,
    }];
    Some(loaded)
}

/// The one line other than comments that differs between `old` and `new`, in each; `None`
/// when the two have different numbers of lines, or more than one such line differs, or
/// none does. Comment lines may differ too (a generated file's header often says what
/// changed): they hold no value, and with as many lines as before every other line keeps
/// its position.
fn edited_line<'o, 'n>(old: &'o str, new: &'n str) -> Option<(&'o str, &'n str)> {
    let comment = |line: &str| {
        let t = line.trim_start_matches(' ');
        t.is_empty() || t.starts_with('#')
    };
    let mut old_lines = old.split('\n');
    let mut new_lines = new.split('\n');
    let mut edited = None;
    loop {
        match (old_lines.next(), new_lines.next()) {
            (None, None) => return edited,
            (Some(o), Some(n)) if o == n || (comment(o) && comment(n)) => {}
            (Some(o), Some(n)) if edited.is_none() => edited = Some((o, n)),
            _ => return None,
        }
    }
}

/// Whether no line of `text` can continue onto another or change a node on another.
fn stands_alone(text: &str) -> bool {
    if text.bytes().any(|b| {
        matches!(
            b,
            b'&' | b'*' | b'!' | b'|' | b'>' | b'\'' | b'\t' | b'?' | b'%' | b'\r'
        )
    }) {
        return false;
    }
    text.lines().all(|line| {
        if line.starts_with("---") || line.starts_with("...") {
            return false;
        }
        // A comment can hold anything; what comes before it must balance.
        let code = line.split_once(" #").map_or(line, |(code, _)| code);
        if code.starts_with('#') {
            return true;
        }
        let count = |c: u8| code.bytes().filter(|b| *b == c).count();
        count(b'{') == count(b'}') && count(b'[') == count(b']') && count(b'"') % 2 == 0
    })
}

/// `NAME` of a line `  NAME: {…}`: two spaces, a plain key, one flow mapping that ends the
/// line, no comment.
fn entry_name(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("  ")?;
    let (name, value) = rest.split_once(": ")?;
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '@' | '.' | '_' | '-' | ':');
    let ok = !name.is_empty()
        && name.chars().all(plain)
        && !name.ends_with(':')
        && value.starts_with('{')
        && value.trim_end().ends_with('}')
        && value.bytes().filter(|b| *b == b'{').count() == 1
        && !value.contains('#');
    ok.then_some(name)
}

/// Whether the nearest line above `line` (a slice of `text`) that starts in column 0 with
/// content is `devices:`, and `line` is there.
fn under_devices(text: &str, line: &str) -> bool {
    let start = line.as_ptr() as usize - text.as_ptr() as usize;
    text[..start]
        .lines()
        .rev()
        .find(|l| !l.is_empty() && !l.starts_with(' ') && !l.starts_with('#'))
        .is_some_and(|l| l.trim_end() == "devices:")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_edited_line_is_found_and_more_than_one_line_is_refused() {
        let old = "devices:\n  a: {count: 1}\n  b: {count: 2}\n";
        let new = "devices:\n  a: {count: 1}\n  b: {count: 30}\n";
        assert_eq!(
            edited_line(old, new),
            Some(("  b: {count: 2}", "  b: {count: 30}"))
        );
        assert_eq!(edited_line(old, old), None);
        let two = "devices:\n  a: {count: 9}\n  b: {count: 9}\n";
        assert_eq!(edited_line(old, two), None);
        let joined = "devices:\n  a: {count: 1}  b: {count: 2}\n";
        assert_eq!(edited_line(old, joined), None);
        // A header comment that changed with the entry.
        let (o, n) = (
            "# count 2\n".to_owned() + old,
            "# count 30\n".to_owned() + new,
        );
        assert_eq!(
            edited_line(&o, &n),
            Some(("  b: {count: 2}", "  b: {count: 30}"))
        );
    }

    #[test]
    fn only_lines_that_cannot_reach_another_stand_alone() {
        assert!(stands_alone(
            "devices:\n  a: {count: 1, flags: [A, B]} # {\n"
        ));
        for tied in [
            "devices:\n  a: {count: 1,\n    pkt_size: 60}\n",
            "devices:\n  a: &x {count: 1}\n  b: *x\n",
            "x: |\n  a: {count: 1}\n",
            "devices:\n  a: {dst_mac: \"02:00\n  :00\"}\n",
            "---\ndevices:\n  a: {count: 1}\n",
        ] {
            assert!(!stands_alone(tied), "{tied:?}");
        }
    }

    #[test]
    fn an_entry_is_a_plain_key_and_one_flow_mapping() {
        assert_eq!(entry_name("  eth0@1: {count: 1}"), Some("eth0@1"));
        assert_eq!(entry_name("  eth0: {count: 1}  "), Some("eth0"));
        for not in [
            "    eth0: {count: 1}",
            "  eth0:",
            "  eth0: {count: 1} # c",
            "  \"eth0\": {count: 1}",
            "  eth0: {a: {b: 1}}",
        ] {
            assert_eq!(entry_name(not), None, "{not:?}");
        }
    }

    #[test]
    fn an_entry_is_under_devices() {
        let text = "threads: [0]\ndevices:\n  a: {count: 1}\n";
        let line = &text[text.find("  a").unwrap()..text.len() - 1];
        assert!(under_devices(text, line));
        let other = "devices:\n  b: {count: 1}\nother:\n  a: {count: 1}\n";
        let line = &other[other.find("  a").unwrap()..other.len() - 1];
        assert!(!under_devices(other, line));
    }
}
