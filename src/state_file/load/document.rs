//! One file's text to its schema ([`StateFile`]), with every problem a located diagnostic:
//! the structure the scan found (limits, duplicate keys, syntax), then serde_yaml, then each
//! device entry key by key so that every bad key is reported, and serde's messages put in
//! plain words. No I/O, and no range checks (those are `validate`'s).

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use super::diagnostics::{file_diag, plain_words, render_path, FileCtx};
use super::receivers::parse_receivers;
use super::scan::Duplicate;
use crate::error::{did_you_mean, Diagnostic};
use crate::model::NamespaceName;
use crate::state_file::schema::{DeviceSpec, NamespaceSpec, StateFile, DEVICE_KEYS};

/// What the event pass found about a file's structure (see `scan::Scan`).
pub(super) struct Structure {
    pub(super) limit: Option<((usize, usize), String)>,
    pub(super) duplicates: Vec<Duplicate>,
    pub(super) syntax_error: Option<((usize, usize), String)>,
    /// Where a second document starts.
    pub(super) second_document: Option<(usize, usize)>,
    /// The value the pass built, when it could.
    pub(super) value: Option<serde_yaml::Value>,
}

/// Parses one file into its schema. Structural problems become diagnostics; device entries
/// are deserialised one by one so that every bad entry is reported, not just the first.
pub(super) fn parse_file(
    ctx: &FileCtx<'_>,
    mut structure: Structure,
    bad_fields: &mut HashMap<Vec<String>, Vec<String>>,
    diags: &mut Vec<Diagnostic>,
) -> Option<(StateFile, bool)> {
    if ctx.text.trim().is_empty()
        || ctx
            .text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        diags.push(file_diag(
            ctx.file,
            "the file is empty; a state that removes every device is written `devices: {}`".into(),
        ));
        return None;
    }
    if structure_refused(ctx, &structure, diags) {
        return None;
    }
    let top = top_mapping(ctx, &mut structure, diags)?;
    Some(parse_top_level(ctx, top, bad_fields, diags))
}

/// Reports what the scan refused the document for (a limit, duplicate keys, a syntax
/// error), in that order of precedence; true when it refused it, and then nothing else of
/// the file is looked at.
pub(super) fn structure_refused(
    ctx: &FileCtx<'_>,
    structure: &Structure,
    diags: &mut Vec<Diagnostic>,
) -> bool {
    // Nesting and alias limits: serde_yaml must not see such a document at all.
    if let Some((pos, message)) = &structure.limit {
        diags.push(ctx.diag_at(ctx.at(*pos), String::new(), message.clone(), None));
        return true;
    }
    // serde_yaml stops at the first duplicate and points at the enclosing mapping; the event
    // pass knows every duplicate and both of its positions.
    if !structure.duplicates.is_empty() {
        report_duplicates(ctx, &structure.duplicates, diags);
        return true;
    }
    // serde_yaml only ever sees a document that the bounded event pass read to the end: past
    // a point yaml-rust2 cannot read, nothing was checked, and libyaml (behind serde_yaml)
    // buffers every event first (8 MiB of `[` took 20 s and 1.3 GB there).
    if let Some((pos, message)) = &structure.syntax_error {
        if lax_libyaml(ctx.text) {
            return false;
        }
        diags.push(ctx.diag_at(
            ctx.at(*pos),
            String::new(),
            message.clone(),
            tab_help(ctx.text),
        ));
        return true;
    }
    false
}

/// Largest document that serde_yaml is asked about when yaml-rust2 cannot read it.
const MAX_LAX_BYTES: usize = 64 * 1024;

/// Whether a document that yaml-rust2 refuses goes to serde_yaml all the same: libyaml
/// reads some text that YAML 1.2 does not allow (a comment right after a quote or a flow
/// indicator, 9JBA, SU5Z, X4QW; `[-]`, YJV2, G5U8; under-indented flow and quoted lines,
/// 9C9N, QB6E), and a state file means what serde_yaml reads. The bounded pass stopped at
/// the problem, so only a small document without aliases goes: it cannot hold the node
/// counts or alias expansions the pass guards against (a `*` anywhere, even quoted, keeps
/// yaml-rust2's refusal).
fn lax_libyaml(text: &str) -> bool {
    text.len() <= MAX_LAX_BYTES && !text.contains('*')
}

/// Each key given twice, at its second position and with its first, in the words of what
/// it is: a device, a namespace, or a setting.
fn report_duplicates(ctx: &FileCtx<'_>, duplicates: &[Duplicate], diags: &mut Vec<Diagnostic>) {
    for (path, first, second) in duplicates {
        let first = format!("{}:{}:{}", ctx.file.display(), first.0, first.1);
        let message = match path.as_slice() {
            [.., parent, name] if parent == "devices" => format!(
                "device {name} is defined twice in this file; the first definition is at {first}"
            ),
            [top, name] if top == "namespaces" => format!(
                "namespace {name} is defined twice in this file; the first definition is at {first}"
            ),
            [.., key] => format!("`{key}` is given twice; the first is at {first}"),
            [] => continue,
        };
        diags.push(ctx.diag_at(ctx.at(*second), render_path(path), message, None));
    }
}

/// The document's top-level mapping: the value the scan built, or serde_yaml's where the
/// scan left it to serde_yaml. A document serde_yaml refuses, or that is not a mapping, is
/// reported.
fn top_mapping(
    ctx: &FileCtx<'_>,
    structure: &mut Structure,
    diags: &mut Vec<Diagnostic>,
) -> Option<serde_yaml::Mapping> {
    let value = document_value(ctx, structure)
        .map_err(|d| diags.push(*d))
        .ok()?;
    let serde_yaml::Value::Mapping(top) = value else {
        diags.push(ctx.diag_at(
            None,
            String::new(),
            "the top level must be a mapping with a `devices:` key".into(),
            None,
        ));
        return None;
    };
    Some(top)
}

/// The document's value: the one the scan built, or serde_yaml's where the scan left it to
/// serde_yaml; a document serde_yaml refuses is a located diagnostic (boxed: it is large,
/// and rare).
pub(super) fn document_value(
    ctx: &FileCtx<'_>,
    structure: &mut Structure,
) -> Result<serde_yaml::Value, Box<Diagnostic>> {
    if let Some(v) = structure.value.take() {
        return Ok(v);
    }
    if let Some((pos, message)) = &structure.syntax_error {
        // Only a document structure_refused let through (see lax_libyaml): serde_yaml's
        // value if it reads it, else yaml-rust2's words for the problem.
        return serde_yaml::from_str(ctx.text).map_err(|_| {
            Box::new(ctx.diag_at(
                ctx.at(*pos),
                String::new(),
                message.clone(),
                tab_help(ctx.text),
            ))
        });
    }
    serde_yaml::from_str(ctx.text).map_err(|e| {
        // serde_yaml says where, except for a second document ("more than one document"),
        // which the scan found; a document that only libyaml reads as two is at its start.
        let location = e
            .location()
            .map(|l| (l.line(), l.column()))
            .or(structure.second_document)
            .unwrap_or((1, 1));
        let message = plain_words(&strip_location(&e.to_string()));
        Box::new(ctx.diag_at(ctx.at(location), String::new(), message, tab_help(ctx.text)))
    })
}

/// The top-level keys into the schema, each checked on its own; with whether the file has a
/// top-level `devices:`, and so describes the namespace pgstate runs in.
fn parse_top_level(
    ctx: &FileCtx<'_>,
    top: serde_yaml::Mapping,
    bad_fields: &mut HashMap<Vec<String>, Vec<String>>,
    diags: &mut Vec<Diagnostic>,
) -> (StateFile, bool) {
    let mut out = StateFile::default();
    let mut saw_devices = false;
    // A top-level `devices:`: the file describes the namespace pgstate runs in.
    let mut top_devices = false;
    for (k, v) in top {
        let key = k.as_str().unwrap_or_default().to_owned();
        let path = vec![key.clone()];
        match key.as_str() {
            "threads" => out.threads = parse_threads(ctx, &path, v, diags),
            "devices" => {
                saw_devices = true;
                top_devices = true;
                parse_devices(ctx, &path, v, &mut out.devices, bad_fields, diags);
            }
            "namespaces" => {
                saw_devices = true;
                parse_namespaces(ctx, &path, v, &mut out.namespaces, bad_fields, diags);
            }
            "receivers" => parse_receivers(ctx, &path, v, &mut out.receivers, diags),
            // `show --json` marks its document with its format version; reading that output
            // back as a state must work, and must not accept a format it does not know.
            "format_version" if v.as_u64() == Some(1) => {}
            "format_version" => diags.push(ctx.diag(
                &path,
                false,
                "unknown format_version; this pgstate reads format_version 1".into(),
                None,
            )),
            other => diags.push(ctx.diag(
                &path,
                true,
                format!(
                    "unknown top-level key `{other}` (expected `devices`, `threads`, \
                     `namespaces` or `receivers`)"
                ),
                did_you_mean(other, ["devices", "threads", "namespaces", "receivers"]),
            )),
        }
    }
    if !saw_devices {
        diags.push(file_diag(
            ctx.file,
            "no `devices:` key; a state that removes every device is written `devices: {}`".into(),
        ));
    }
    (out, top_devices)
}

/// `threads:` (top level or of a namespace at `path`): a list of thread numbers.
fn parse_threads(
    ctx: &FileCtx<'_>,
    path: &[String],
    v: serde_yaml::Value,
    diags: &mut Vec<Diagnostic>,
) -> Option<Vec<u32>> {
    match serde_path_to_error::deserialize::<_, Vec<u32>>(v) {
        Ok(t) => Some(t),
        Err(e) => {
            // Point at the offending element when there is one.
            let mut p = path.to_vec();
            p.extend(e.path().iter().filter_map(|seg| match seg {
                serde_path_to_error::Segment::Seq { index } => Some(index.to_string()),
                _ => None,
            }));
            diags.push(ctx.diag(
                &p,
                false,
                format!(
                    "expected a list of thread (CPU) numbers: {}",
                    plain_words(&strip_location(&e.inner().to_string()))
                ),
                None,
            ));
            None
        }
    }
}

/// `devices:` (top level or of a namespace at `path`), each entry checked on its own.
/// `bad_fields` gets, by the entry's path, the keys that were reported.
fn parse_devices(
    ctx: &FileCtx<'_>,
    path: &[String],
    v: serde_yaml::Value,
    devices: &mut BTreeMap<String, DeviceSpec>,
    bad_fields: &mut HashMap<Vec<String>, Vec<String>>,
    diags: &mut Vec<Diagnostic>,
) {
    match v {
        serde_yaml::Value::Mapping(devs) => {
            for (name, body) in devs {
                let Some(name) = name
                    .as_str()
                    .map(str::to_owned)
                    .or_else(|| name.as_u64().map(|n| n.to_string()))
                else {
                    // `true:` or `1.5:` are indexed under their text.
                    let mut p = path.to_vec();
                    if let Ok(text) = serde_yaml::to_string(&name) {
                        p.push(text.trim_end().to_owned());
                    }
                    diags.push(ctx.diag(&p, true, "device names must be strings".into(), None));
                    continue;
                };
                // Most entries are valid, and deserialising one whole costs a
                // fraction of the key-by-key check. Its fields are independent,
                // so when the whole entry has only known keys and deserialises,
                // every key alone would too: the check would report nothing.
                if only_known_keys(&body) {
                    if let Ok(spec) = DeviceSpec::deserialize(&body) {
                        devices.insert(name, spec);
                        continue;
                    }
                }
                let mut dpath = path.to_vec();
                dpath.push(name.clone());
                let (body, bad) = check_device_fields(ctx, &dpath, body, diags);
                match serde_path_to_error::deserialize::<_, DeviceSpec>(body) {
                    Ok(spec) => {
                        devices.insert(name.clone(), spec);
                    }
                    Err(e) => diags.push(device_serde_error(ctx, &dpath, &e)),
                }
                if !bad.is_empty() {
                    bad_fields.insert(dpath, bad);
                }
            }
        }
        // `devices:` with nothing under it (say, every device commented out) would
        // remove every device; that must be written explicitly, as for empty files.
        serde_yaml::Value::Null => diags.push(ctx.diag(
            path,
            true,
            "`devices` is empty; a state that removes every device is written `devices: {}`".into(),
            None,
        )),
        _ => diags.push(ctx.diag(
            path,
            false,
            "`devices` must be a mapping of device name to settings".into(),
            None,
        )),
    }
}

/// `namespaces:`: each entry an `ip netns` name with an optional `netns:` file and the
/// top level's `threads:` and `devices:` (REFERENCE §5.7: every namespace has its own pktgen).
fn parse_namespaces(
    ctx: &FileCtx<'_>,
    path: &[String],
    v: serde_yaml::Value,
    namespaces: &mut BTreeMap<String, NamespaceSpec>,
    bad_fields: &mut HashMap<Vec<String>, Vec<String>>,
    diags: &mut Vec<Diagnostic>,
) {
    let serde_yaml::Value::Mapping(entries) = v else {
        diags.push(ctx.diag(
            path,
            false,
            "`namespaces` must be a mapping of namespace name to `threads`/`devices`".into(),
            None,
        ));
        return;
    };
    for (name, body) in entries {
        let Some(name) = name
            .as_str()
            .map(str::to_owned)
            .or_else(|| name.as_u64().map(|n| n.to_string()))
        else {
            diags.push(ctx.diag(path, false, "namespace names must be strings".into(), None));
            continue;
        };
        let mut npath = path.to_vec();
        npath.push(name.clone());
        if let Err(e) = NamespaceName::new(&name) {
            diags.push(ctx.diag(
                &npath,
                true,
                format!("'{name}' is not a valid `ip netns` name: {e}"),
                None,
            ));
            continue;
        }
        let serde_yaml::Value::Mapping(keys) = body else {
            diags.push(ctx.diag(
                &npath,
                true,
                format!(
                    "namespace {name} must be a mapping with `devices:`; one that removes every \
                     device is written `devices: {{}}`"
                ),
                None,
            ));
            continue;
        };
        let ns = parse_namespace(ctx, &npath, &name, keys, bad_fields, diags);
        namespaces.insert(name, ns);
    }
}

/// The keys of namespace `name` (at `npath`), each checked on its own: `threads:` and
/// `devices:` as at the top level, and its `netns:` file.
fn parse_namespace(
    ctx: &FileCtx<'_>,
    npath: &[String],
    name: &str,
    keys: serde_yaml::Mapping,
    bad_fields: &mut HashMap<Vec<String>, Vec<String>>,
    diags: &mut Vec<Diagnostic>,
) -> NamespaceSpec {
    let mut ns = NamespaceSpec::default();
    let mut saw_devices = false;
    for (k, v) in keys {
        let key = k.as_str().unwrap_or_default().to_owned();
        let mut kpath = npath.to_vec();
        kpath.push(key.clone());
        match key.as_str() {
            "threads" => ns.threads = parse_threads(ctx, &kpath, v, diags),
            "devices" => {
                saw_devices = true;
                parse_devices(ctx, &kpath, v, &mut ns.devices, bad_fields, diags);
            }
            "netns" => {
                if let Some(file) = parse_netns(ctx, &kpath, v, diags) {
                    ns.netns = Some(file);
                }
            }
            "receivers" => parse_receivers(ctx, &kpath, v, &mut ns.receivers, diags),
            other => diags.push(ctx.diag(
                &kpath,
                true,
                format!(
                    "unknown key `{other}` in namespace {name} (expected `devices`, \
                     `threads`, `netns` or `receivers`)"
                ),
                did_you_mean(other, ["devices", "threads", "netns", "receivers"]),
            )),
        }
    }
    if !saw_devices {
        diags.push(ctx.diag(
            npath,
            true,
            format!(
                "namespace {name} has no `devices:` key; one that removes every device is \
                 written `devices: {{}}`"
            ),
            None,
        ));
    }
    ns
}

/// `netns:` of a namespace (at `path`): the absolute path of its namespace file. Anything
/// else is reported, and gives `None`.
fn parse_netns(
    ctx: &FileCtx<'_>,
    path: &[String],
    v: serde_yaml::Value,
    diags: &mut Vec<Diagnostic>,
) -> Option<String> {
    match v {
        serde_yaml::Value::String(file) if file.starts_with('/') && !file.contains('\0') => {
            Some(file)
        }
        _ => {
            diags.push(
                ctx.diag(
                    path,
                    false,
                    "expected the absolute path of a network namespace file, such as \
                     /proc/4242/ns/net or /run/netns/NAME"
                        .into(),
                    None,
                ),
            );
            None
        }
    }
}

/// Whether `body` is a mapping whose keys are all device keys.
fn only_known_keys(body: &serde_yaml::Value) -> bool {
    let serde_yaml::Value::Mapping(map) = body else {
        return false;
    };
    map.keys()
        .all(|k| k.as_str().is_some_and(|k| DEVICE_KEYS.contains(&k)))
}

/// Checks each key of a device entry on its own, so that every unknown key and every value
/// of the wrong type is reported, not only the first one serde meets. Returns the entry
/// without its bad keys (with a stand-in `thread` if it had none, so that the remaining
/// values are still range-checked) and the names of the bad keys.
fn check_device_fields(
    ctx: &FileCtx<'_>,
    dpath: &[String],
    body: serde_yaml::Value,
    diags: &mut Vec<Diagnostic>,
) -> (serde_yaml::Value, Vec<String>) {
    let serde_yaml::Value::Mapping(map) = body else {
        return (body, Vec::new());
    };
    let thread_key = serde_yaml::Value::String("thread".into());
    let mut clean = serde_yaml::Mapping::new();
    let mut bad = Vec::new();
    for (k, v) in map {
        let Some(key) = k.as_str().map(str::to_owned) else {
            let text = serde_yaml::to_string(&k).unwrap_or_default();
            let mut p = dpath.to_vec();
            p.push(text.trim_end().to_owned());
            diags.push(ctx.diag(&p, true, "setting names must be strings".into(), None));
            bad.push(text.trim_end().to_owned());
            continue;
        };
        let mut p = dpath.to_vec();
        p.push(key.clone());
        if !DEVICE_KEYS.contains(&key.as_str()) {
            let help = did_you_mean(&key, DEVICE_KEYS.iter().copied());
            diags.push(ctx.diag(&p, true, format!("unknown key `{key}`"), help));
            bad.push(key);
            continue;
        }
        let mut one = serde_yaml::Mapping::new();
        if key != "thread" {
            one.insert(thread_key.clone(), serde_yaml::Value::Number(0.into()));
        }
        one.insert(k.clone(), v.clone());
        if let Err(e) =
            serde_path_to_error::deserialize::<_, DeviceSpec>(serde_yaml::Value::Mapping(one))
        {
            diags.push(device_serde_error(ctx, dpath, &e));
            bad.push(key);
            continue;
        }
        clean.insert(k, v);
    }
    if !clean.contains_key(&thread_key) && !bad.iter().any(|b| b == "thread") {
        diags.push(ctx.diag(dpath, true, "missing required key `thread`".into(), None));
        bad.push("thread".into());
    }
    if !bad.is_empty() && !clean.contains_key(&thread_key) {
        clean.insert(thread_key, serde_yaml::Value::Number(0.into()));
    }
    (serde_yaml::Value::Mapping(clean), bad)
}

fn device_serde_error(
    ctx: &FileCtx<'_>,
    dpath: &[String],
    e: &serde_path_to_error::Error<serde_yaml::Error>,
) -> Diagnostic {
    let message = strip_location(&e.inner().to_string());
    let mut path = dpath.to_vec();
    for seg in e.path().iter() {
        match seg {
            serde_path_to_error::Segment::Seq { index } => path.push(index.to_string()),
            serde_path_to_error::Segment::Map { key } => path.push(key.clone()),
            serde_path_to_error::Segment::Enum { variant } => path.push(variant.clone()),
            serde_path_to_error::Segment::Unknown => {}
        }
    }
    // serde names an unknown key only in its message: "unknown field `cont`, expected …".
    if let Some(rest) = message.strip_prefix("unknown field `") {
        if let Some((field, _)) = rest.split_once('`') {
            if path.last().map(String::as_str) != Some(field) {
                path.push(field.to_owned());
            }
            let help = did_you_mean(field, DEVICE_KEYS.iter().copied());
            return ctx.diag(&path, true, format!("unknown key `{field}`"), help);
        }
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or_default();
        return ctx.diag(&path, true, format!("missing required key `{field}`"), None);
    }
    // pktgen's num_arg reads digits only: `count abc` would silently become `count 0`.
    let silently_zero =
        message.starts_with("invalid type: string") && message.ends_with("expected u64");
    let message = plain_words(&message);
    let message = if silently_zero {
        format!("{message} (the kernel would silently read it as 0)")
    } else {
        message
    };
    ctx.diag(&path, false, message, None)
}

/// serde_yaml appends " at line L column C" to messages; the diagnostic prints it already.
fn strip_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

fn tab_help(text: &str) -> Option<String> {
    text.lines()
        .any(|l| l.starts_with('\t') || l.trim_start_matches(' ').starts_with('\t'))
        .then(|| "YAML does not allow tabs for indentation; use spaces".to_owned())
}
