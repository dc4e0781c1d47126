//! Writes a [`StateFile`] as YAML that every common YAML parser reads back as the same data.
//!
//! serde_yaml quotes a string only when a YAML 1.2 parser would read it as something else. A
//! YAML 1.1 parser (PyYAML, and so Ansible) reads more plain scalars as non-strings: an
//! unquoted MAC such as `52:54:00:12:34:56` is the base-60 integer 41135085296 there, and
//! `on`/`off`/`y` are booleans. So this writer leaves a string plain only when it is
//! unambiguous in both versions (it starts with a letter or `_`, holds only letters, digits
//! and `_@.-`, and is not one of YAML 1.1's boolean or null words) and double-quotes every
//! other one, always: MACs, addresses, MPLS labels and imix weights come out quoted whatever
//! their digits, never sometimes quoted and sometimes not. Numbers stay numbers.
//!
//! No I/O here. The layout is serde_yaml's: block mappings indented by two, block sequences
//! at their key's indentation.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_yaml::Value;

use super::schema::StateFile;

/// The state file as YAML text.
pub fn render_state_file(file: &StateFile) -> Result<String, serde_yaml::Error> {
    render_namespaces_state_file(file, true, &BTreeMap::new())
}

/// A state of several namespaces as YAML text; without `current`, the top-level `devices:`
/// (and `threads:`) are left out, so the state does not claim the namespace pgstate runs in.
/// A namespace with a note has it as a comment above its name.
pub fn render_namespaces_state_file(
    file: &StateFile,
    current: bool,
    notes: &BTreeMap<String, String>,
) -> Result<String, serde_yaml::Error> {
    let mut value = serde_yaml::to_value(file)?;
    if let (false, Value::Mapping(map)) = (current, &mut value) {
        map.remove("devices");
        map.remove("threads");
    }
    let mut out = String::new();
    match &value {
        Value::Mapping(map) if !map.is_empty() => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    (Some("namespaces"), Value::Mapping(namespaces)) if !namespaces.is_empty() => {
                        out.push_str("namespaces:\n");
                        for (name, namespace) in namespaces {
                            if let Some(note) = name.as_str().and_then(|n| notes.get(n)) {
                                comment(&mut out, note, 2);
                            }
                            entry(&mut out, name, namespace, 2);
                        }
                    }
                    _ => entry(&mut out, key, value, 0),
                }
            }
        }
        other => {
            out.push_str(&inline(other));
            out.push('\n');
        }
    }
    Ok(out)
}

/// The width comments are wrapped to, indentation included.
const COMMENT_WIDTH: usize = 90;

/// `text` as `# ` lines at `indent`, wrapped at spaces.
fn comment(out: &mut String, text: &str, indent: usize) {
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && indent + 2 + line.len() + 1 + word.len() > COMMENT_WIDTH {
            let _ = writeln!(out, "{:indent$}# {line}", "");
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        let _ = writeln!(out, "{:indent$}# {line}", "");
    }
}

fn mapping(out: &mut String, map: &serde_yaml::Mapping, indent: usize) {
    for (key, value) in map {
        entry(out, key, value, indent);
    }
}

/// `key: value` at `indent`, a collection as a block below it.
fn entry(out: &mut String, key: &Value, value: &Value, indent: usize) {
    let _ = write!(out, "{:indent$}{}:", "", inline(key));
    match value {
        Value::Mapping(m) if !m.is_empty() => {
            out.push('\n');
            mapping(out, m, indent + 2);
        }
        Value::Sequence(items) if !items.is_empty() => {
            out.push('\n');
            for item in items {
                let _ = writeln!(out, "{:indent$}- {}", "", inline(item));
            }
        }
        other => {
            let _ = writeln!(out, " {}", inline(other));
        }
    }
}

/// A value on one line: a scalar, or a collection in flow style (JSON, which is also YAML,
/// with every string double-quoted).
fn inline(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => scalar(s),
        Value::Mapping(m) if m.is_empty() => "{}".into(),
        Value::Sequence(s) if s.is_empty() => "[]".into(),
        Value::Tagged(t) => inline(&t.value),
        other => serde_json::to_string(other).unwrap_or_else(|_| "null".into()),
    }
}

/// Words a YAML 1.1 parser reads as booleans or null (compared case-insensitively).
const YAML11_WORDS: &[&str] = &["y", "n", "yes", "no", "on", "off", "true", "false", "null"];

/// `s` plain if no YAML 1.1 or 1.2 parser can read it as anything but this string,
/// double-quoted otherwise.
fn scalar(s: &str) -> String {
    let plain = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '@' | '.' | '-'))
        && !YAML11_WORDS.iter().any(|w| w.eq_ignore_ascii_case(s));
    if plain {
        s.to_owned()
    } else {
        // A JSON string is a valid YAML double-quoted scalar: the same escapes.
        serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ambiguous_strings_are_quoted_and_plain_words_are_not() {
        assert_eq!(scalar("52:54:00:12:34:56"), "\"52:54:00:12:34:56\"");
        assert_eq!(scalar("0001000a"), "\"0001000a\"");
        assert_eq!(scalar("00010000"), "\"00010000\"");
        assert_eq!(scalar("198.18.0.1"), "\"198.18.0.1\"");
        assert_eq!(scalar("64,7 576,4"), "\"64,7 576,4\"");
        assert_eq!(scalar("on"), "\"on\"");
        assert_eq!(scalar("No"), "\"No\"");
        assert_eq!(scalar(""), "\"\"");
        assert_eq!(scalar("eth0@1"), "eth0@1");
        assert_eq!(scalar("UDPCSUM"), "UDPCSUM");
        assert_eq!(scalar("start_xmit"), "start_xmit");
        assert_eq!(scalar("fd00::1"), "\"fd00::1\"");
        assert_eq!(scalar("a\"b\n"), "\"a\\\"b\\n\"");
    }

    #[test]
    fn the_layout_is_serde_yamls() {
        let file: StateFile = serde_yaml::from_str(
            "threads: [0, 1]\ndevices:\n  eth0@1:\n    thread: 1\n    dst_mac: 52:54:00:12:34:56\n    flags: [UDPCSUM, NO_TIMESTAMP]\n",
        )
        .unwrap();
        let text = render_state_file(&file).unwrap();
        assert_eq!(
            text,
            "threads:\n- 0\n- 1\ndevices:\n  eth0@1:\n    thread: 1\n    dst_mac: \"52:54:00:12:34:56\"\n    flags:\n    - UDPCSUM\n    - NO_TIMESTAMP\n"
        );
        let back: StateFile = serde_yaml::from_str(&text).unwrap();
        assert_eq!(back, file);
        assert_eq!(
            render_state_file(&StateFile::default()).unwrap(),
            "devices: {}\n"
        );
    }

    #[test]
    fn a_namespace_note_is_a_comment_above_its_name_that_a_parser_ignores() {
        let file: StateFile = serde_yaml::from_str(
            "namespaces:\n  h1:\n    devices: {}\n  pid-42:\n    netns: /proc/42/ns/net\n    devices: {}\n",
        )
        .unwrap();
        let long = "held only by process 42: it lives as long as that process, and once the pid is reused it is not";
        let notes = BTreeMap::from([("pid-42".to_owned(), long.to_owned())]);
        let text = render_namespaces_state_file(&file, false, &notes).unwrap();
        assert_eq!(
            text,
            "namespaces:\n  h1:\n    devices: {}\n  # held only by process 42: it lives as long as that process, and once the pid is reused\n  # it is not\n  pid-42:\n    netns: \"/proc/42/ns/net\"\n    devices: {}\n"
        );
        assert!(text.lines().all(|l| l.len() <= COMMENT_WIDTH));
        let back: StateFile = serde_yaml::from_str(&text).unwrap();
        assert_eq!(back, file);
    }
}
