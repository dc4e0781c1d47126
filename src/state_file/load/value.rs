//! Builds the [`serde_yaml::Value`] of a document from the event pass that indexes it, so a
//! state file is parsed once instead of twice (yaml-rust2 for positions, then libyaml behind
//! serde_yaml for the value). Parsing was two thirds of a 256-device `plan` (callgrind, 35M
//! of 54M instructions); under qemu's TCG, where the lab runs, that is most of its time.
//!
//! serde_yaml stays the authority on meaning: a plain scalar is resolved by serde_yaml's own
//! rules (YAML 1.2 core schema, as `serde_yaml::de::visit_untagged_scalar` does), and
//! anything this builder does not reproduce exactly gives up ([`ValueBuilder::give_up`]) so
//! that the caller asks serde_yaml itself: tags, integers beyond 64 bits, keys equal as
//! values but written differently (`1` and `0x1`), a second document, and the constructs
//! where yaml-rust2 and libyaml (behind serde_yaml) read the same text differently, found on
//! the YAML test suite: empty plain keys, flow collections over several lines, plain
//! scalars with `:` in flow collections, block scalars at the top level, and (with the text
//! checks of `fast_path`) directives, `?`, tabs, odd anchor names. The tests
//! `built_values_are_serde_yamls` and `tests/yaml_suite.rs` (the whole YAML test suite) hold
//! the two to the same result. No I/O.

use std::collections::HashMap;

use serde_yaml::{Mapping, Number, Value};
use yaml_rust2::scanner::TScalarStyle;

/// A collection being built.
enum Partial {
    Map {
        map: Mapping,
        /// The key whose value comes next.
        key: Option<Value>,
        anchor: usize,
        flow: Option<usize>,
    },
    Seq {
        seq: Vec<Value>,
        anchor: usize,
        flow: Option<usize>,
    },
}

impl Partial {
    /// The line a flow collection (`{…}`, `[…]`) starts on; `None` for a block one.
    fn flow(&self) -> Option<usize> {
        match self {
            Partial::Map { flow, .. } | Partial::Seq { flow, .. } => *flow,
        }
    }
}

/// Turns the events of one document into its value, or gives up.
#[derive(Default)]
pub(super) struct ValueBuilder {
    stack: Vec<Partial>,
    root: Option<Value>,
    anchors: HashMap<usize, Value>,
    gave_up: bool,
    /// The document has an anchor or an alias, whose names the text checks look at.
    pub(super) anchored: bool,
    /// The document has a literal or folded block scalar.
    pub(super) block_scalars: bool,
}

impl ValueBuilder {
    /// The document's value; `None` when the builder gave up or the document did not end.
    pub(super) fn finish(self) -> Option<Value> {
        if self.gave_up || !self.stack.is_empty() {
            return None;
        }
        // An empty document is null to serde_yaml too.
        Some(self.root.unwrap_or(Value::Null))
    }

    /// From here on the value is serde_yaml's to build.
    pub(super) fn give_up(&mut self) {
        self.gave_up = true;
        self.stack.clear();
        self.anchors.clear();
    }

    pub(super) fn scalar(
        &mut self,
        text: String,
        style: TScalarStyle,
        anchor: usize,
        tagged: bool,
    ) {
        if self.gave_up {
            return;
        }
        if tagged {
            return self.give_up();
        }
        self.anchored |= anchor != 0;
        if !self.scalar_reads_alike(&text, style) {
            return self.give_up();
        }
        self.block_scalars |= matches!(style, TScalarStyle::Literal | TScalarStyle::Folded);
        let value = if style == TScalarStyle::Plain {
            match resolve_plain(&text) {
                Some(v) => v,
                None => return self.give_up(),
            }
        } else {
            Value::String(text)
        };
        self.complete(value, anchor);
    }

    /// Whether libyaml reads this scalar, where it is, as yaml-rust2 does.
    fn scalar_reads_alike(&self, text: &str, style: TScalarStyle) -> bool {
        let top = self.stack.last();
        match style {
            TScalarStyle::Plain => {
                let is_key = matches!(top, Some(Partial::Map { key: None, .. }));
                // An empty key (`: x`, `[ : x ]`, `? :`): libyaml refuses most of the forms
                // yaml-rust2 reads (NHX8, S3PD, FRK4, 6M2F, CFD4, UKK6/00).
                if is_key && text.is_empty() {
                    return false;
                }
                // A `:` in a plain scalar of a flow collection (`{x: :x}`, `[::vector]`,
                // `{http://foo.com}`): libyaml refuses what YAML 1.2 allows (58MP, DBG4,
                // 4ABK, 5T43, HM87/00).
                !(text.contains(':') && top.is_some_and(|p| p.flow().is_some()))
            }
            // A block scalar at the top level: libyaml ends it at content that is not
            // indented and reads the rest as another document (DK3J, FP8R). One of empty
            // lines only (`- |` then a blank line): the spec's clip chomping keeps no line
            // break of empty content and libyaml reads "", yaml-rust2 reads "\n" (found by
            // tests/yaml_suite.rs's own documents); with `|+` they agree, but the event
            // does not say which indicator the text had.
            TScalarStyle::Literal | TScalarStyle::Folded => {
                let only_line_breaks = !text.is_empty() && text.bytes().all(|b| b == b'\n');
                top.is_some() && !only_line_breaks
            }
            _ => true,
        }
    }

    pub(super) fn alias(&mut self, anchor: usize) {
        if self.gave_up {
            return;
        }
        self.anchored = true;
        match self.anchors.get(&anchor) {
            Some(v) => {
                let v = v.clone();
                self.attach(v);
            }
            None => self.give_up(),
        }
    }

    /// A mapping (`mapping`) or sequence starts; `flow` is the line of its `{` or `[` when
    /// it is a flow collection.
    pub(super) fn start(
        &mut self,
        mapping: bool,
        anchor: usize,
        tagged: bool,
        flow: Option<usize>,
    ) {
        if self.gave_up {
            return;
        }
        if tagged {
            return self.give_up();
        }
        self.anchored |= anchor != 0;
        self.stack.push(if mapping {
            Partial::Map {
                map: Mapping::new(),
                key: None,
                anchor,
                flow,
            }
        } else {
            Partial::Seq {
                seq: Vec::new(),
                anchor,
                flow,
            }
        });
    }

    /// The innermost collection ends, on `line`.
    pub(super) fn end(&mut self, line: usize) {
        if self.gave_up {
            return;
        }
        let value = match self.stack.pop() {
            // A flow collection over several lines: libyaml refuses implicit keys and values
            // that yaml-rust2 reads across lines in them (4MUZ, 5MUD, K3WX, 9SA2, VJP3/01).
            Some(p) if p.flow().is_some_and(|start| start != line) => None,
            Some(Partial::Map {
                map,
                key: None,
                anchor,
                ..
            }) => Some((Value::Mapping(map), anchor)),
            Some(Partial::Seq { seq, anchor, .. }) => Some((Value::Sequence(seq), anchor)),
            _ => None,
        };
        match value {
            Some((value, anchor)) => self.complete(value, anchor),
            None => self.give_up(),
        }
    }

    fn complete(&mut self, value: Value, anchor: usize) {
        if anchor != 0 {
            self.anchors.insert(anchor, value.clone());
        }
        self.attach(value);
    }

    fn attach(&mut self, value: Value) {
        match self.stack.last_mut() {
            None if self.root.is_none() => self.root = Some(value),
            None => self.give_up(),
            Some(Partial::Seq { seq, .. }) => seq.push(value),
            Some(Partial::Map { map, key, .. }) => match key.take() {
                None => *key = Some(value),
                // serde_yaml refuses keys that are equal as values (`1:` and `0x1:`) with its
                // own message; the scan only sees keys written the same way.
                Some(k) if map.contains_key(&k) => self.give_up(),
                Some(k) => {
                    map.insert(k, value);
                }
            },
        }
    }
}

/// A plain scalar's value by serde_yaml's rules, or `None` where serde_yaml's `Value` would
/// not take it as it is (integers beyond 64 bits).
pub(super) fn resolve_plain(text: &str) -> Option<Value> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Some(Value::Null),
        "true" | "True" | "TRUE" => return Some(Value::Bool(true)),
        "false" | "False" | "FALSE" => return Some(Value::Bool(false)),
        _ => {}
    }
    // Most plain scalars are words: nothing numeric starts with anything else.
    let first = text.as_bytes()[0];
    if !(first.is_ascii_digit() || matches!(first, b'+' | b'-' | b'.')) {
        return Some(Value::String(text.to_owned()));
    }
    if let Some(n) = parse_unsigned(text) {
        return Some(Value::Number(Number::from(n)));
    }
    if let Some(n) = parse_negative(text) {
        return Some(Value::Number(Number::from(n)));
    }
    if looks_like_wide_integer(text) {
        return None;
    }
    if !digits_but_not_number(text) {
        if let Some(f) = parse_f64(text) {
            return Some(Value::Number(Number::from(f)));
        }
    }
    Some(Value::String(text.to_owned()))
}

fn radix_prefixed(text: &str) -> Option<(&str, u32)> {
    [("0x", 16), ("0o", 8), ("0b", 2)]
        .into_iter()
        .find_map(|(p, radix)| text.strip_prefix(p).map(|rest| (rest, radix)))
}

fn parse_unsigned(text: &str) -> Option<u64> {
    let unpositive = text.strip_prefix('+').unwrap_or(text);
    if let Some((rest, radix)) = radix_prefixed(unpositive) {
        if rest.starts_with(['+', '-']) {
            return None;
        }
        if let Ok(n) = u64::from_str_radix(rest, radix) {
            return Some(n);
        }
    }
    if unpositive.starts_with(['+', '-']) || digits_but_not_number(text) {
        return None;
    }
    unpositive.parse().ok()
}

fn parse_negative(text: &str) -> Option<i64> {
    if let Some((rest, radix)) = text.strip_prefix('-').and_then(radix_prefixed) {
        if let Ok(n) = i64::from_str_radix(&format!("-{rest}"), radix) {
            return Some(n);
        }
    }
    if digits_but_not_number(text) {
        return None;
    }
    text.parse().ok()
}

/// Whether serde_yaml would read `text` as a 128-bit integer (which its `Value` refuses).
fn looks_like_wide_integer(text: &str) -> bool {
    if digits_but_not_number(text) {
        return false;
    }
    let signless = text.strip_prefix(['+', '-']).unwrap_or(text);
    let (digits, radix) = radix_prefixed(signless).unwrap_or((signless, 10));
    !digits.is_empty() && digits.chars().all(|c| c.is_digit(radix))
}

fn parse_f64(text: &str) -> Option<f64> {
    let unpositive = match text.strip_prefix('+') {
        Some(rest) if rest.starts_with(['+', '-']) => return None,
        Some(rest) => rest,
        None => text,
    };
    match unpositive {
        ".inf" | ".Inf" | ".INF" => return Some(f64::INFINITY),
        _ => {}
    }
    match text {
        "-.inf" | "-.Inf" | "-.INF" => return Some(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Some(f64::NAN.copysign(1.0)),
        _ => {}
    }
    unpositive.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// Leading zeros followed by digits: a string in YAML 1.2 (`0123`), as serde_yaml reads it.
fn digits_but_not_number(text: &str) -> bool {
    let t = text.strip_prefix(['-', '+']).unwrap_or(text);
    t.len() > 1 && t.starts_with('0') && t[1..].bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each of `cases`, as a plain scalar, resolves as serde_yaml resolves it, or is left to
    /// serde_yaml (which then refuses it, or reads it as an integer wider than 64 bits).
    fn assert_resolve_as_serde_yaml(cases: &[&str]) {
        for &text in cases {
            let serde: Result<Value, _> = serde_yaml::from_str(&format!("k: {text}\n"));
            let Ok(Value::Mapping(m)) = serde else {
                continue;
            };
            let serde = m.get("k").cloned();
            let ours = resolve_plain(text.trim());
            match ours {
                Some(v) => assert_eq!(Some(v), serde, "{text:?}"),
                None => assert!(
                    serde_yaml::from_str::<Value>(&format!("k: {text}\n")).is_err()
                        || looks_like_wide_integer(text),
                    "{text:?} left to serde_yaml although it reads it"
                ),
            }
        }
    }

    /// Null and the booleans, in the spellings YAML 1.2 takes and the YAML 1.1 ones it does
    /// not (`yes`, `on`, `y`).
    #[test]
    fn nulls_and_booleans_resolve_as_serde_yaml_resolves_them() {
        assert_resolve_as_serde_yaml(&[
            "", "~", "null", "NULL", "Null", "nULL", "true", "True", "TRUE", "tRUE", "false",
            "yes", "no", "on", "off", "y", "n",
        ]);
    }

    /// Integers: signs, leading zeros (a string in YAML 1.2), hexadecimal, octal and binary,
    /// and the malformed ones around them.
    #[test]
    fn integers_resolve_as_serde_yaml_resolves_them() {
        assert_resolve_as_serde_yaml(&[
            "0", "1", "-1", "+1", "++1", "+-1", "-0", "007", "-007", "+007", "0x1F", "0X1F", "0x",
            "0x-1", "-0x1F", "+0x1F", "0o17", "-0o17", "0b101", "-0b101", "0b2", "1_000", "60",
            "0o", "0b", "1__0",
        ]);
    }

    /// The edges of 64 bits, past which serde_yaml reads integers as u128 (left to it).
    #[test]
    fn wide_integers_resolve_as_serde_yaml_resolves_them() {
        assert_resolve_as_serde_yaml(&[
            "18446744073709551615",
            "18446744073709551616",
            "-9223372036854775808",
            "-9223372036854775809",
            "340282366920938463463374607431768211456",
            "0xffffffffffffffffff",
        ]);
    }

    /// Floats: exponents, a leading or trailing point, infinities and NaN in YAML's
    /// spellings and in Rust's (which YAML reads as strings), and one too large for f64.
    #[test]
    fn floats_resolve_as_serde_yaml_resolves_them() {
        assert_resolve_as_serde_yaml(&[
            "1e3", "1E3", "-1.5", "+1.5", ".5", "5.", "1.5e-3", ".inf", "-.inf", "+.inf", ".Inf",
            ".NaN", ".nan", "nan", "inf", "-inf", "infinity", "1e400", "0.", "0.0", "-0.0",
            "0x1.8p3",
        ]);
    }

    /// Strings that a state file has (addresses, device names, flags) or that look like
    /// numbers without being ones.
    #[test]
    fn number_like_strings_resolve_as_serde_yaml_resolves_them() {
        assert_resolve_as_serde_yaml(&[
            "12:30",
            "02:00:00:00:00:01",
            "198.18.0.1",
            "fe80::1",
            "::1",
            "1.2.3",
            "-",
            "+",
            ".",
            "..",
            "1,5",
            "d0@1",
            "eth0",
            "UDPCSUM",
            " x",
            "1 ",
            "٣",
        ]);
    }

    fn built(text: &str) -> Option<Value> {
        super::super::scan::scan(text, super::super::scan::Indexing::Off).value
    }

    /// Whole documents: the value built in the scan is serde_yaml's, or is left to it.
    #[test]
    fn built_values_are_serde_yamls() {
        let mut docs: Vec<String> = [
            "devices: {}\n",
            "devices:\n  eth0: {thread: 0, count: 1000, pkt_size: 60, dst: 198.18.0.1}\n",
            "threads: [0, 1]\ndevices:\n  eth0@1:\n    thread: 1\n    flags: [UDPCSUM, IPV6]\n",
            "base: &b {thread: 0, count: 5}\ndevices:\n  a: *b\n  b: *b\n",
            "devices:\n  a: &x\n    thread: 0\n    imix_weights: [[60, 7], [576, 4]]\n  b: *x\n",
            "devices:\n  'quoted': {thread: \"0\", dst: '10.0.0.1'}\n  \"d\\x41\": {thread: 0}\n",
            "devices:\n  a:\n    thread: 0\n    note: |\n      two\n      lines\n    other: >\n      folded\n      text\n",
            "? [complex, key]\n: value\n? {a: 1}\n: 2\n",
            "devices: {a: {thread: 0, count: 0x10, delay: 1e3, rate: .inf, x: ~, y: null, z: }}\n",
            "- 1\n- -2\n- 3.5\n- 007\n- true\n- 'true'\n- 18446744073709551615\n",
            "",
            "# only a comment\n",
            "---\ndevices: {}\n...\n",
            "top: !!str 123\n",
            "top: !custom {a: 1}\n",
            "1: a\n0x1: b\n",
            "big: 18446744073709551616\n",
            "---\na: 1\n---\nb: 2\n",
            "a: [1, [2, [3, {b: c}]]]\n",
            "<<: {thread: 0}\ndevices: {}\n",
            "key with spaces: value with spaces\n\"\": empty key\n",
            "a: b: c\n",
            "devices:\n\teth0: {}\n",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        for dir in ["states", "tests/bench/states"] {
            for entry in std::fs::read_dir(root.join(dir)).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|e| e == "yaml") {
                    docs.push(std::fs::read_to_string(path).unwrap());
                }
            }
        }
        let mut built_count = 0;
        for doc in &docs {
            let serde = serde_yaml::from_str::<Value>(doc);
            if let Some(ours) = built(doc) {
                built_count += 1;
                assert_eq!(Some(ours), serde.ok(), "{doc:?}");
            }
        }
        // Everything but these takes the fast path (or it would save nothing): tags, keys
        // equal as values, wide integers, several documents, syntax errors, explicit `?`
        // keys and tabs (see `fast_path`), and empty documents (which the loader refuses
        // before looking at a value).
        let left = [
            "? [complex, key]\n: value\n? {a: 1}\n: 2\n",
            "top: !!str 123\n",
            "top: !custom {a: 1}\n",
            "1: a\n0x1: b\n",
            "big: 18446744073709551616\n",
            "---\na: 1\n---\nb: 2\n",
            "a: b: c\n",
            "devices:\n\teth0: {}\n",
            "",
            "# only a comment\n",
        ];
        for doc in left {
            assert_eq!(built(doc), None, "{doc:?}");
        }
        assert_eq!(built_count, docs.len() - left.len());
    }
}
