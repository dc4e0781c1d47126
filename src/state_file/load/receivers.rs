//! `receivers:` (top level or of a namespace): where the state's streams are received. Each
//! entry is an interface name with the devices whose streams arrive there. A stream is named
//! relative to the receiver's namespace (`DEVICE`), by another namespace (`NS/DEVICE`), or
//! as a device of the top-level `devices:` (`/DEVICE`); every name must be a device of the
//! state, which only all the files together can tell.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::diagnostics::FileCtx;
use crate::error::Diagnostic;
use crate::model::{DesiredReceiver, DeviceName, NamespaceName, StreamRef};
use crate::state_file::schema::ReceiverSpec;

/// The `receivers:` mapping at `path` into `out`, each entry checked on its own.
pub(super) fn parse_receivers(
    ctx: &FileCtx<'_>,
    path: &[String],
    v: serde_yaml::Value,
    out: &mut BTreeMap<String, ReceiverSpec>,
    diags: &mut Vec<Diagnostic>,
) {
    let serde_yaml::Value::Mapping(entries) = v else {
        diags.push(
            ctx.diag(
                path,
                false,
                "expected a mapping of interface names to receivers, such as \
             `h2-eth0: {streams: [h1/h1-eth0]}`"
                    .into(),
                None,
            ),
        );
        return;
    };
    for (name, body) in entries {
        let name = name.as_str().unwrap_or_default().to_owned();
        let mut epath = path.to_vec();
        epath.push(name.clone());
        if let Some(why) = bad_interface_name(&name) {
            diags.push(ctx.diag(&epath, true, why, None));
            continue;
        }
        match ReceiverSpec::deserialize(body) {
            Ok(spec) => match check_spec(&spec) {
                Some((key, why)) => {
                    epath.push(key.to_owned());
                    diags.push(ctx.diag(&epath, false, why, None));
                }
                None => {
                    out.insert(name, spec);
                }
            },
            Err(e) => diags.push(ctx.diag(
                &epath,
                false,
                format!(
                    "not a receiver (`streams: [DEVICE, ...]`, `max_loss_percent: N`): {}",
                    super::diagnostics::plain_words(&e.to_string())
                ),
                None,
            )),
        }
    }
}

/// Why `name` cannot be an interface a receiver captures on.
fn bad_interface_name(name: &str) -> Option<String> {
    if name.contains('@') {
        return Some(format!(
            "'{name}' is not an interface name: receivers capture on an interface, not on a \
             pktgen device (`@`)"
        ));
    }
    DeviceName::new(name)
        .err()
        .map(|e| format!("'{name}' is not an interface name: {e}"))
}

/// A value of the entry that no kernel or statistic can mean, with its key.
fn check_spec(spec: &ReceiverSpec) -> Option<(&'static str, String)> {
    if spec.streams.is_empty() {
        return Some((
            "streams",
            "a receiver expects at least one stream: the devices whose packets arrive here".into(),
        ));
    }
    match spec.max_loss_percent {
        Some(p) if !(0.0..=100.0).contains(&p) => Some((
            "max_loss_percent",
            format!("{p} is not a percentage from 0 to 100"),
        )),
        _ => None,
    }
}

/// The devices of every part of the state: the top level's (`None`) and each namespace's.
pub(super) type StateDevices<'a> = BTreeMap<Option<&'a NamespaceName>, BTreeSet<&'a DeviceName>>;

/// Resolves one receiver of the part `here` (its namespace; `None`: the top level) against
/// the devices of the whole state. A stream that names nothing is reported at its element of
/// `streams` (`locate` gives the diagnostic of element `i` with a message).
pub(super) fn resolve(
    interface: &str,
    spec: &ReceiverSpec,
    here: Option<&NamespaceName>,
    devices: &StateDevices<'_>,
    locate: &mut dyn FnMut(usize, String) -> Diagnostic,
    diags: &mut Vec<Diagnostic>,
) -> Option<DesiredReceiver> {
    let mut streams = Vec::new();
    let mut ok = true;
    for (i, written) in spec.streams.iter().enumerate() {
        match stream_ref(written, here, devices) {
            Ok(s) if streams.contains(&s) => {
                diags.push(locate(i, format!("stream {s} is listed twice")));
                ok = false;
            }
            Ok(s) => streams.push(s),
            Err(why) => {
                diags.push(locate(i, why));
                ok = false;
            }
        }
    }
    ok.then(|| DesiredReceiver {
        interface: interface.to_owned(),
        streams,
        max_loss_percent: spec.max_loss_percent,
    })
}

/// `DEVICE`, `NS/DEVICE` or `/DEVICE`, as a device of the state.
fn stream_ref(
    written: &str,
    here: Option<&NamespaceName>,
    devices: &StateDevices<'_>,
) -> Result<StreamRef, String> {
    let (namespace, device) = match written.split_once('/') {
        None => (here.cloned(), written),
        Some(("", device)) => (None, device),
        Some((ns, device)) => (
            Some(
                NamespaceName::new(ns)
                    .map_err(|e| format!("'{ns}' is not a namespace name: {e}"))?,
            ),
            device,
        ),
    };
    let device =
        DeviceName::new(device).map_err(|e| format!("'{device}' is not a device name: {e}"))?;
    let Some(part) = devices.get(&namespace.as_ref()) else {
        return Err(format!(
            "the state has no {} (streams are named DEVICE, NAMESPACE/DEVICE or /DEVICE for \
             the top-level devices)",
            namespace.as_ref().map_or_else(
                || "top-level devices".to_owned(),
                |n| format!("namespace {n}")
            )
        ));
    };
    let known = part.contains(&device);
    let stream = StreamRef { namespace, device };
    if known {
        Ok(stream)
    } else {
        Err(format!(
            "the state has no device {stream} (streams are named DEVICE, NAMESPACE/DEVICE or \
             /DEVICE for the top-level devices)"
        ))
    }
}
