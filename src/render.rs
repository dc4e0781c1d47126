//! How plans read as text: the one renderer of a plan's changes, for `plan`'s output and
//! for `watch`'s logs and reports (JSON is typed data: [`KeyChange`](crate::plan::KeyChange)).
//! The planner returns data only; every placeholder a person reads (`(unset)`,
//! `(interface MAC)`, `+UDPCSUM`) is written here.

use std::fmt::Write as _;

use crate::model::Vlan;
use crate::plan::{ActionKind, ChangeValue, DeviceAction, FieldChange};

/// A value of a change as a person reads it.
pub fn change_value(v: &ChangeValue) -> String {
    match v {
        ChangeValue::Set(text) => text.clone(),
        ChangeValue::Unset => "(unset)".into(),
        ChangeValue::Nothing => "(none)".into(),
        ChangeValue::Hidden => "(hidden)".into(),
        ChangeValue::InterfaceMac => "(interface MAC)".into(),
        ChangeValue::NeverWritten => "never".into(),
        ChangeValue::Nanoseconds(ns) => format!("{ns} ns"),
        ChangeValue::Range { min, max } => format!("{min}..{max}"),
        ChangeValue::Rate { mbps, delay_ns } => format!("{mbps} Mb/s (delay {delay_ns} ns)"),
        ChangeValue::RateP { pps, delay_ns } => format!("{pps} pps (delay {delay_ns} ns)"),
        ChangeValue::Vlans { vlan, svlan } => {
            format!("{} / svlan {}", vlan_tag(*vlan), vlan_tag(*svlan))
        }
        ChangeValue::Flag { flag, on: true } => format!("+{flag}"),
        ChangeValue::Flag { flag, on: false } => format!("-{flag}"),
        ChangeValue::Switch(true) => "on".into(),
        ChangeValue::Switch(false) => "off".into(),
    }
}

fn vlan_tag(v: Option<Vlan>) -> String {
    v.map_or_else(
        || "(off)".into(),
        |v| format!("{} p {} cfi {}", v.id, v.p, v.cfi),
    )
}

/// `field: old -> new`.
pub fn change(c: &FieldChange) -> String {
    format!(
        "{}: {} -> {}",
        c.field,
        change_value(&c.old),
        change_value(&c.new)
    )
}

/// The settings of a device that is added: one line each, the flags it turns on in one.
pub fn settings(changes: &[FieldChange]) -> Vec<String> {
    let mut lines = Vec::new();
    let mut flags = Vec::new();
    for c in changes {
        match &c.new {
            ChangeValue::Flag { flag, on: true } => flags.push(flag.to_string()),
            off @ ChangeValue::Flag { on: false, .. } => flags.push(change_value(off)),
            new => lines.push(format!("{}: {}", c.field, change_value(new))),
        }
    }
    if !flags.is_empty() {
        lines.push(format!("flags: {}", flags.join(", ")));
    }
    lines
}

/// One line per difference of `a`, for logs: `device.field: old -> new`, or what happens to
/// the device.
pub fn action_lines(a: &DeviceAction) -> Vec<String> {
    match a.action {
        ActionKind::Change => a
            .changes
            .iter()
            .map(|c| format!("{}.{}", a.device, change(c)))
            .collect(),
        ActionKind::Add => vec![format!(
            "{}: missing from thread {}; adding it",
            a.device, a.thread
        )],
        ActionKind::Remove => vec![format!(
            "{}: on thread {} but not in the state; removing it",
            a.device, a.thread
        )],
        ActionKind::Recreate => {
            let mut line = String::new();
            let _ = write!(line, "{}: re-creating on thread {}", a.device, a.thread);
            let _ = write!(line, " ({})", a.reason.as_deref().unwrap_or("flushed"));
            vec![line]
        }
    }
}
