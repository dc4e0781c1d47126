//! The JSON Schema of state files (draft 2020-12), for editors (`yaml-language-server`) and
//! other tools: `pgstate schema` prints it and `contrib/pgstate.schema.json` is a copy.
//!
//! It is generated from the same rows as [`DeviceSpec`](super::DeviceSpec): each key's type
//! comes from the state-file type of its row in [`params`], its range, documentation and
//! default from the row, so the schema cannot drift from the loader. The schema checks what a
//! single key can be (type, range, flag names); cross-field rules (`rate` needs `pkt_size`,
//! IPv4 and IPv6 keys exclude each other, …) stay with `pgstate validate`. No I/O here.

use serde_json::{json, Map, Value};

use super::validate::most_mpls_labels;
use crate::model::{
    params, DeviceConfig, Flag, XmitMode, MAX_DEVICE_NAME_LEN, MAX_INTERFACE_NAME_LEN,
    MAX_NAMESPACE_NAME_LEN,
};

/// Declares `state_file_types`: each device key with its state-file type, as Rust spells it.
macro_rules! key_types {
    (all: [$($key:ident : $sty:ty,)*] plain: [$($plain:tt)*] special: [$($special:tt)*]) => {
        /// Every device key but `thread`, with the Rust type of its [`DeviceSpec`] field.
        fn state_file_types() -> &'static [(&'static str, &'static str)] {
            &[$((stringify!($key), stringify!($sty)),)*]
        }
    };
}
params::device_params!(key_types {});

/// The JSON Schema of a state file.
pub fn state_file_schema() -> Value {
    let u32_max = u64::from(u32::MAX);
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "pgstate state file",
        "description": "The desired configuration of the Linux kernel packet generator \
            (pktgen), as `pgstate plan`, `apply`, `run` and `watch` read it. Cross-field \
            rules are checked by `pgstate validate`.",
        "type": "object",
        "additionalProperties": false,
        "anyOf": [{ "required": ["devices"] }, { "required": ["namespaces"] }],
        "properties": {
            "format_version": {
                "description": "The file format version `pgstate show --json` writes; only 1.",
                "const": 1
            },
            "threads": {
                "description": "Threads (kpktgend_N) this state owns; others are never \
                    touched. All threads when absent.",
                "type": "array",
                "items": { "type": "integer", "minimum": 0, "maximum": u32_max }
            },
            "devices": {
                "description": "Devices by pktgen name: an interface, or `interface@N` for \
                    one of several devices on the same interface.",
                "type": "object",
                "propertyNames": { "minLength": 1, "maxLength": MAX_DEVICE_NAME_LEN },
                "additionalProperties": { "$ref": "#/$defs/device" }
            },
            "namespaces": {
                "description": "Other network namespaces, each with its own pktgen: by \
                    `ip netns` name (/run/netns/NAME unless `netns:` names the file). \
                    Namespaces not listed are never touched.",
                "type": "object",
                "propertyNames": {
                    "minLength": 1,
                    "maxLength": MAX_NAMESPACE_NAME_LEN,
                    "not": { "enum": [".", ".."] },
                    "pattern": "^[^/\\u0000-\\u001f\\u007f]+$"
                },
                "additionalProperties": { "$ref": "#/$defs/namespace" }
            },
            "receivers": {
                "description": "Where streams are received, by interface: `run` captures \
                    there and reports what arrived (loss, duplicates, reordering, latency). \
                    Not pktgen state: nothing is written for receivers.",
                "type": "object",
                "propertyNames": {
                    "minLength": 1,
                    "maxLength": MAX_INTERFACE_NAME_LEN,
                    "pattern": "^[^@/\\s]+$"
                },
                "additionalProperties": { "$ref": "#/$defs/receiver" }
            }
        },
        "$defs": {
            "device": device_schema(),
            "namespace": namespace_schema(),
            "receiver": receiver_schema()
        }
    })
}

/// One entry of `namespaces:`: the top level's `threads`/`devices`, and `netns`.
fn namespace_schema() -> Value {
    json!({
        "description": "One network namespace: its threads and devices, with the rules of \
            the top level.",
        "type": "object",
        "additionalProperties": false,
        "required": ["devices"],
        "properties": {
            "netns": {
                "description": "The namespace's file when it is not /run/netns/NAME: any \
                    network namespace file, e.g. /proc/PID/ns/net of a Mininet host's shell.",
                "type": "string",
                "pattern": "^/"
            },
            "threads": { "$ref": "#/properties/threads" },
            "devices": { "$ref": "#/properties/devices" },
            "receivers": { "$ref": "#/properties/receivers" }
        }
    })
}

/// One entry of `receivers:`.
fn receiver_schema() -> Value {
    json!({
        "description": "A receiver: the devices whose streams arrive on the interface.",
        "type": "object",
        "additionalProperties": false,
        "required": ["streams"],
        "properties": {
            "streams": {
                "description": "The devices whose streams arrive here: DEVICE of the same \
                    namespace, NAMESPACE/DEVICE of another of the state's namespaces, \
                    /DEVICE of the top-level devices.",
                "type": "array",
                "minItems": 1,
                "items": { "type": "string", "minLength": 1 }
            },
            "max_loss_percent": {
                "description": "A stream that loses more than this percentage of its \
                    packets is a traffic problem: `run` exits 3. Absent: loss is reported, \
                    never a problem.",
                "type": "number",
                "minimum": 0,
                "maximum": 100
            }
        }
    })
}

/// `state_file_schema` as `pgstate schema` prints it: pretty, with a final newline.
pub fn render_state_file_schema() -> String {
    let mut text =
        serde_json::to_string_pretty(&state_file_schema()).expect("a JSON value serialises");
    text.push('\n');
    text
}

fn device_schema() -> Value {
    let mut properties = Map::new();
    properties.insert(
        "thread".into(),
        json!({
            "description": describe(&params::THREAD),
            "type": "integer", "minimum": 0, "maximum": u64::from(u32::MAX)
        }),
    );
    for (key, rust_type) in state_file_types() {
        let param = params::find(key).expect("every DeviceSpec key has a row");
        let mut schema = value_schema(param, rust_type);
        let obj = schema.as_object_mut().expect("value schemas are objects");
        obj.insert("description".into(), describe(param).into());
        if let Some(plain) = &param.plain {
            obj.insert(
                "default".into(),
                (plain.get)(&DeviceConfig::defaults()).into(),
            );
        }
        properties.insert((*key).to_owned(), schema);
    }
    json!({
        "description": "One device entry. Every key but `thread` is optional and defaults \
            to the kernel's value.",
        "type": "object",
        "additionalProperties": false,
        "required": ["thread"],
        "properties": properties
    })
}

/// A key's description: its kernel command, value, default, kernels and notes, as in the
/// README's key table.
fn describe(p: &params::Param) -> String {
    let [_, command, value, default, kernels, notes] = params::readme_cells(p);
    let mut parts = vec![format!("pktgen: {command}")];
    for (label, cell) in [("value", value), ("default", default), ("notes", notes)] {
        if !cell.is_empty() {
            parts.push(format!("{label}: {cell}"));
        }
    }
    if kernels != "all" {
        parts.push(format!("Linux {kernels}"));
    }
    parts.join("; ")
}

/// What one key's value may be, from the Rust type of its field.
fn value_schema(p: &params::Param, rust_type: &str) -> Value {
    let compact: String = rust_type.chars().filter(|c| !c.is_whitespace()).collect();
    match compact.as_str() {
        "u64" => {
            let r = p
                .range
                .unwrap_or_else(|| panic!("`{}` has no range", p.key));
            json!({ "type": "integer", "minimum": r.lo, "maximum": r.hi })
        }
        "Ipv4Addr" | "V4Addr" => json!({ "type": "string", "format": "ipv4" }),
        "Ipv6Addr" | "V6Addr" => json!({ "type": "string", "format": "ipv6" }),
        "MacAddr" => json!({
            "type": "string",
            "pattern": "^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$"
        }),
        "XmitMode" => json!({ "enum": xmit_modes() }),
        "ImixWeights" => {
            let size = params::row::pkt_size.range.expect("pkt_size has a range");
            json!({
                "oneOf": [
                    {
                        "description": "the kernel's syntax: \"size,weight size,weight …\"",
                        "type": "string",
                        "pattern": "^\\s*[0-9]+,[0-9]+(\\s+[0-9]+,[0-9]+)*\\s*$"
                    },
                    {
                        "description": "a list of [size, weight]",
                        "type": "array",
                        "minItems": 1,
                        "maxItems": params::MAX_IMIX_ENTRIES,
                        "items": {
                            "type": "array",
                            "prefixItems": [
                                { "type": "integer", "minimum": size.lo, "maximum": size.hi },
                                { "type": "integer", "minimum": 1 }
                            ],
                            "minItems": 2,
                            "maxItems": 2
                        }
                    }
                ]
            })
        }
        "Vec<MplsLabel>" => json!({
            "type": "array",
            "maxItems": most_mpls_labels(),
            "items": {
                "oneOf": [
                    { "type": "integer", "minimum": 0, "maximum": u64::from(u32::MAX) },
                    { "type": "string", "pattern": "^(0x)?[0-9A-Fa-f]{1,8}$" }
                ]
            }
        }),
        "Vec<String>" if p.key == "flags" => json!({
            "type": "array",
            "uniqueItems": true,
            "items": { "enum": flag_names() }
        }),
        other => panic!("no JSON Schema for `{}` of type {other}", p.key),
    }
}

/// Every `xmit_mode` word.
fn xmit_modes() -> Vec<&'static str> {
    // A new mode fails to compile here until it is listed.
    let all = |m: XmitMode| match m {
        XmitMode::StartXmit | XmitMode::NetifReceive | XmitMode::QueueXmit => m,
    };
    [
        XmitMode::StartXmit,
        XmitMode::NetifReceive,
        XmitMode::QueueXmit,
    ]
    .map(|m| all(m).command_word())
    .to_vec()
}

/// What `flags` may list: every flag but `IPV6` (implied by the IPv6 keys), `FLOW_RND`,
/// `NODE_ALLOC` (the name before 4.16) and `!SHARED` (SHARED is on by default from 6.7).
fn flag_names() -> Vec<&'static str> {
    let mut names: Vec<&str> = Flag::ALL
        .iter()
        .filter(|f| **f != Flag::IPV6)
        .map(|f| f.name())
        .collect();
    names.extend(["FLOW_RND", "NODE_ALLOC", "!SHARED"]);
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_schema_is_the_generated_one() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("contrib")
            .join("pgstate.schema.json");
        let expected = render_state_file_schema();
        if std::env::var_os("PGSTATE_BLESS").is_some() {
            std::fs::write(&path, &expected).unwrap();
            return;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == expected,
            "contrib/pgstate.schema.json is stale: regenerate it with \
             `PGSTATE_BLESS=1 cargo test --lib json_schema` (or `pgstate schema > {}`)",
            path.display()
        );
    }

    #[test]
    fn every_device_key_has_a_schema() {
        let schema = state_file_schema();
        let props = schema["$defs"]["device"]["properties"].as_object().unwrap();
        let keys: Vec<&str> = props.keys().map(String::as_str).collect();
        let mut expected: Vec<&str> = params::keys().collect();
        expected.sort_unstable();
        let mut keys = keys;
        keys.sort_unstable();
        assert_eq!(keys, expected);
        assert_eq!(props["count"]["default"], 1000);
        assert_eq!(props["vlan_id"]["maximum"], 4095);
    }
}
