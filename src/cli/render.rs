//! Text and JSON renderings of plans, reports and states. Only `cli/` prints.

use std::fmt::Write as _;

use serde::Serialize;

use pgstate::apply::ApplyReport;
use pgstate::plan::{ActionKind, KeyChange, Plan};
use pgstate::state_file::SourceMap;
use pgstate::targets::OpenTarget;

/// Version of the JSON documents pgstate prints (`show`, `run`, `status`, `validate`, saved
/// plans); see the README's rules for changing it.
pub const JSON_FORMAT_VERSION: u32 = 1;

/// Version of `plan --json` and `apply --json`: 2 since their changes are typed and named by
/// state-file keys (1 had strings such as `"(unset)"` and one change per flag).
pub const PLAN_FORMAT_VERSION: u32 = 2;

/// Summary counts of a plan.
#[derive(Debug, Serialize)]
pub struct Summary {
    /// Devices added.
    pub add: usize,
    /// Devices changed in place.
    pub change: usize,
    /// Devices removed.
    pub remove: usize,
    /// Devices removed and added again.
    pub recreate: usize,
    /// Writes.
    pub writes: usize,
}

impl Summary {
    pub fn of(plan: &Plan) -> Summary {
        Summary {
            add: plan.count(ActionKind::Add),
            change: plan.count(ActionKind::Change),
            remove: plan.count(ActionKind::Remove),
            recreate: plan.count(ActionKind::Recreate),
            writes: plan.writes.len(),
        }
    }
}

impl Summary {
    /// The sum over several namespaces' plans.
    pub fn total<'a>(plans: impl IntoIterator<Item = &'a Plan>) -> Summary {
        let mut t = Summary {
            add: 0,
            change: 0,
            remove: 0,
            recreate: 0,
            writes: 0,
        };
        for p in plans {
            let s = Summary::of(p);
            t.add += s.add;
            t.change += s.change;
            t.remove += s.remove;
            t.recreate += s.recreate;
            t.writes += s.writes;
        }
        t
    }
}

/// One network namespace's plan, for the renderings: `name` is `None` for the namespace
/// pgstate runs in.
pub struct TargetPlan<'a> {
    pub name: Option<&'a pgstate::model::NamespaceName>,
    pub netns: Option<&'a std::path::Path>,
    pub plan: &'a Plan,
    pub sources: &'a SourceMap,
}

/// `plan --json`.
#[derive(Serialize)]
pub struct PlanJson<'a> {
    pub format_version: u32,
    pub changes: bool,
    pub summary: Summary,
    pub actions: Vec<ActionJson<'a>>,
    pub writes: Vec<serde_json::Value>,
    /// Per namespace, when the state has `namespaces:`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<NamespaceJson<'a>>,
}

/// `apply --json`.
#[derive(Serialize)]
pub struct ApplyJson<'a> {
    pub format_version: u32,
    /// Whether the plan had anything to do, as in `plan --json`.
    pub changes: bool,
    pub applied: bool,
    pub verified: bool,
    pub summary: Summary,
    pub actions: Vec<ActionJson<'a>>,
    pub writes: Vec<serde_json::Value>,
    /// Per namespace, when the state has `namespaces:`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<NamespaceJson<'a>>,
}

/// One namespace of a plan with `namespaces:`.
#[derive(Serialize)]
pub struct NamespaceJson<'a> {
    /// Its name; `null` for the namespace pgstate runs in.
    pub namespace: Option<&'a pgstate::model::NamespaceName>,
    /// Its file; `null` for the namespace pgstate runs in.
    pub netns: Option<String>,
    pub changes: bool,
    pub summary: Summary,
}

/// One device of a plan in JSON: its changes typed, and named by the keys the state file
/// uses (`dst` where the file says `dst`, `vlan_id`, …); fields without a value are `null`.
#[derive(Serialize)]
pub struct ActionJson<'a> {
    /// The network namespace (`null`: the one pgstate runs in).
    pub namespace: Option<&'a pgstate::model::NamespaceName>,
    pub device: &'a pgstate::DeviceName,
    pub action: ActionKind,
    pub thread: pgstate::ThreadId,
    pub from_thread: Option<pgstate::ThreadId>,
    pub reason: Option<&'a str>,
    pub changes: Vec<KeyChange>,
    pub running: bool,
}

fn actions_json<'a>(part: &TargetPlan<'a>) -> Vec<ActionJson<'a>> {
    let (plan, sources) = (part.plan, part.sources);
    plan.actions
        .iter()
        .map(|a| {
            let mut changes: Vec<KeyChange> = Vec::new();
            for k in a.changes.iter().flat_map(|c| &c.typed) {
                // One flag a line in the plan, one list in JSON: the first list before, the
                // last after.
                if let Some(f) = changes
                    .iter_mut()
                    .find(|c| c.field == "flags" && k.field == "flags")
                {
                    f.new = k.new.clone();
                    continue;
                }
                let mut k = k.clone();
                k.field = sources.written_key(&a.device, &k.field).to_owned();
                changes.push(k);
            }
            ActionJson {
                namespace: part.name,
                device: &a.device,
                action: a.action,
                thread: a.thread,
                from_thread: a.from_thread,
                reason: a.reason.as_deref(),
                changes,
                running: a.running,
            }
        })
        .collect()
}

/// The writes, each `field` named as the state file names it (see [`actions_json`]).
fn writes_json(part: &TargetPlan<'_>) -> Vec<serde_json::Value> {
    part.plan
        .writes
        .iter()
        .map(|w| {
            let mut v = serde_json::to_value(w).unwrap_or_default();
            if let (Some(device), Some(field)) = (&w.device, &w.field) {
                v["field"] = part.sources.written_key(device, field).into();
            }
            v["namespace"] = serde_json::to_value(part.name).unwrap_or_default();
            v
        })
        .collect()
}

/// Actions, writes and (with `namespaces:`) the per-namespace summaries of `plans`.
#[allow(clippy::type_complexity)]
fn targets_json<'a>(
    plans: &[TargetPlan<'a>],
) -> (
    Vec<ActionJson<'a>>,
    Vec<serde_json::Value>,
    Vec<NamespaceJson<'a>>,
) {
    let actions = plans.iter().flat_map(actions_json).collect();
    let writes = plans.iter().flat_map(writes_json).collect();
    let namespaces = if plans.iter().any(|p| p.name.is_some()) {
        plans
            .iter()
            .map(|p| NamespaceJson {
                namespace: p.name,
                netns: p.netns.map(|n| n.display().to_string()),
                changes: !p.plan.is_empty(),
                summary: Summary::of(p.plan),
            })
            .collect()
    } else {
        Vec::new()
    };
    (actions, writes, namespaces)
}

/// The plan of each of `targets`, in order.
pub fn target_plans<'a>(
    targets: &'a [OpenTarget],
    plans: impl Iterator<Item = &'a Plan>,
) -> Vec<TargetPlan<'a>> {
    targets
        .iter()
        .zip(plans)
        .map(|(t, plan)| TargetPlan {
            name: t.place().name(),
            netns: t.place().netns().map(|n| n.path()),
            plan,
            sources: &t.target.sources,
        })
        .collect()
}

/// Whether `plans` are the namespace pgstate runs in alone: its text has no namespace
/// header, as a state without `namespaces:` is printed.
fn alone<'a>(plans: &[TargetPlan<'a>]) -> Option<&'a Plan> {
    match plans {
        [only] if only.name.is_none() => Some(only.plan),
        _ => None,
    }
}

/// `plan --json` of several namespaces: every action and write carries its `namespace`.
pub fn plans_json(plans: &[TargetPlan<'_>]) -> String {
    let (actions, writes, namespaces) = targets_json(plans);
    let doc = PlanJson {
        format_version: PLAN_FORMAT_VERSION,
        changes: plans.iter().any(|p| !p.plan.is_empty()),
        summary: Summary::total(plans.iter().map(|p| p.plan)),
        actions,
        writes,
        namespaces,
    };
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

/// `apply --json` of several namespaces, all applied and verified.
pub fn applied_json(plans: &[TargetPlan<'_>]) -> String {
    let (actions, writes, namespaces) = targets_json(plans);
    let doc = ApplyJson {
        format_version: PLAN_FORMAT_VERSION,
        changes: plans.iter().any(|p| !p.plan.is_empty()),
        applied: true,
        verified: true,
        summary: Summary::total(plans.iter().map(|p| p.plan)),
        actions,
        writes,
        namespaces,
    };
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

/// The header of a namespace's block in text output.
pub fn namespace_header(
    name: Option<&pgstate::model::NamespaceName>,
    netns: Option<&std::path::Path>,
) -> String {
    match (name, netns) {
        (Some(n), Some(f)) => format!("namespace {n} ({}):\n", f.display()),
        (Some(n), None) => format!("namespace {n}:\n"),
        (None, _) => "this namespace (the one pgstate runs in):\n".to_owned(),
    }
}

/// `text` indented by two spaces (blank lines stay blank).
pub fn indent(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.is_empty() {
                "\n".to_owned()
            } else {
                format!("  {l}\n")
            }
        })
        .collect()
}

/// `plan` of a list of targets: one block each, then the total; a state without
/// `namespaces:` as plain as a single box is.
pub fn plans_text(plans: &[TargetPlan<'_>], show_writes: bool) -> String {
    if let Some(plan) = alone(plans) {
        return plan_text(plan, show_writes);
    }
    let mut out = String::new();
    for p in plans {
        out.push_str(&namespace_header(p.name, p.netns));
        out.push_str(&indent(&plan_text(p.plan, show_writes)));
        out.push('\n');
    }
    let s = Summary::total(plans.iter().map(|p| p.plan));
    let changed = plans.iter().filter(|p| !p.plan.is_empty()).count();
    let _ = writeln!(
        out,
        "Plan for {}: {} to add, {} to change, {} to remove, {} to re-create; {} in {}.",
        count(plans.len(), "namespace"),
        s.add,
        s.change,
        s.remove,
        s.recreate,
        writes(s.writes),
        count(changed, "namespace")
    );
    out
}

/// `apply` of a list of targets: one line each, then the total (see [`plans_text`]).
pub fn applied_text(plans: &[TargetPlan<'_>]) -> String {
    if let Some(plan) = alone(plans) {
        return apply_text(&ApplyReport {
            plan: plan.clone(),
            writes: plan.writes.len(),
        });
    }
    let mut out = String::new();
    for p in plans {
        let name = p
            .name
            .map_or_else(|| "this namespace".to_owned(), |n| format!("namespace {n}"));
        let _ = write!(
            out,
            "{name}: {}",
            apply_text(&ApplyReport {
                plan: p.plan.clone(),
                writes: p.plan.writes.len()
            })
        );
    }
    let s = Summary::total(plans.iter().map(|p| p.plan));
    let _ = writeln!(
        out,
        "All {} applied and verified; {} in total.",
        count(plans.len(), "namespace"),
        writes(s.writes)
    );
    out
}

/// The document a `--json` command prints on stdout when it fails: `error` (one line) and
/// `errors`, each located when the problem is in a state file.
#[derive(Serialize)]
struct ErrorJson {
    format_version: u32,
    error: String,
    errors: Vec<ProblemJson>,
}

/// One problem: `file`, `line`, `column` and `path` are `null` when unknown.
#[derive(Serialize)]
pub struct ProblemJson {
    pub file: Option<String>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub path: Option<String>,
    pub message: String,
    pub help: Option<String>,
}

impl ProblemJson {
    pub fn of(d: &pgstate::Diagnostic) -> ProblemJson {
        ProblemJson {
            file: Some(d.file.display().to_string()),
            line: d.location.as_ref().map(|l| l.line),
            column: d.location.as_ref().map(|l| l.column),
            path: (!d.path.is_empty()).then(|| d.path.clone()),
            message: d.message.clone(),
            help: d.help.clone(),
        }
    }
}

/// A located problem as rustc shows one (annotate-snippets): the first line stays
/// `error: file:line:col: path: message`, then the source line with the whole value (or key)
/// underlined, then the help. Coloured with the crate's own styles when `color`.
pub fn diagnostic_text(d: &pgstate::Diagnostic, color: bool) -> String {
    use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
    let title = headline(d);
    let mut group = Group::with_title(Level::ERROR.primary_title(title.as_str()));
    if let (Some(loc), Some(src)) = (&d.location, &d.source_line) {
        let start = src
            .char_indices()
            .nth(loc.column.saturating_sub(1))
            .map_or(src.len(), |(i, _)| i);
        let span = start..value_end(src, start);
        group = group.element(
            Snippet::source(src.as_str())
                .line_start(loc.line)
                .annotation(AnnotationKind::Primary.span(span)),
        );
    }
    if let Some(help) = &d.help {
        group = group.element(Level::HELP.message(help.as_str()));
    }
    let renderer = if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    renderer.render(&[group])
}

/// Where the YAML scalar, key or flow collection starting at byte `start` of `line` ends: a
/// quoted string at its closing quote, `[...]`/`{...}` at the matching bracket, a key at its
/// colon, a plain value before a comment, a flow separator or the end of the line.
fn value_end(line: &str, start: usize) -> usize {
    let rest = &line[start..];
    let mut chars = rest.char_indices().peekable();
    let Some((_, first)) = chars.next() else {
        return start;
    };
    if first == '"' || first == '\'' {
        let mut escaped = false;
        for (i, c) in chars {
            match c {
                '\\' if first == '"' && !escaped => escaped = true,
                c if c == first && !escaped => return start + i + 1,
                _ => escaped = false,
            }
        }
        return line.len();
    }
    if first == '[' || first == '{' {
        let mut depth = 0usize;
        for (i, c) in rest.char_indices() {
            match c {
                '[' | '{' => depth += 1,
                ']' | '}' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return start + i + 1;
                    }
                }
                _ => {}
            }
        }
        return line.len();
    }
    let mut end = rest.len();
    for (i, c) in rest.char_indices() {
        let next = rest[i + c.len_utf8()..].chars().next();
        let stop = match c {
            ',' | ']' | '}' => true,
            ':' => next.is_none_or(char::is_whitespace),
            '#' => i > 0 && rest[..i].ends_with(char::is_whitespace),
            _ => false,
        };
        if stop {
            end = i;
            break;
        }
    }
    start + rest[..end].trim_end().len().max(1.min(rest.len()))
}

/// The first line of a diagnostic: `file:line:col: path: message`.
fn headline(d: &pgstate::Diagnostic) -> String {
    d.to_string().lines().next().unwrap_or_default().to_owned()
}

pub fn error_json(format_version: u32, e: &anyhow::Error) -> String {
    let (error, errors) = if let Some(pgstate::LoadError::Invalid(diags)) = e.downcast_ref() {
        let error = match diags.as_slice() {
            [one] => headline(one),
            _ => format!("{} found", count(diags.len(), "problem")),
        };
        (error, diags.iter().map(ProblemJson::of).collect())
    } else if let Some(d) = e.downcast_ref::<pgstate::Diagnostic>() {
        (headline(d), vec![ProblemJson::of(d)])
    } else {
        let message = format!("{e:#}");
        let problem = ProblemJson {
            file: None,
            line: None,
            column: None,
            path: None,
            message: message.clone(),
            help: None,
        };
        (message, vec![problem])
    };
    let doc = ErrorJson {
        format_version,
        error,
        errors,
    };
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

/// `validate --json` for a valid state.
#[derive(Serialize)]
pub struct ValidJson {
    pub format_version: u32,
    pub valid: bool,
    /// Devices of every namespace of the state.
    pub devices: usize,
    /// The names of `namespaces:` (added in format 1 without a version change: a new key).
    pub namespaces: Vec<String>,
    pub files: Vec<String>,
    /// Valid, but refused by some supported kernels.
    pub notes: Vec<ProblemJson>,
}

/// `show --json`: the state file with its `format_version` (which the loader accepts, so the
/// document still reads back as a state).
/// `show --json`: the state file as JSON; without the top-level `devices:` when the state
/// does not speak for the namespace pgstate runs in.
pub fn show_json(shown: &pgstate::targets::LiveStateFile) -> serde_json::Result<String> {
    let mut doc = serde_json::to_value(&shown.file)?;
    if let serde_json::Value::Object(map) = &mut doc {
        if !shown.here {
            map.remove("devices");
            map.remove("threads");
        }
        map.insert(
            "format_version".into(),
            serde_json::Value::from(JSON_FORMAT_VERSION),
        );
    }
    serde_json::to_string_pretty(&doc)
}

/// Terraform-style text: one block per device, then the summary line.
pub fn plan_text(plan: &Plan, show_writes: bool) -> String {
    let mut out = String::new();
    if plan.is_empty() {
        out.push_str("No changes. pktgen matches the desired state.\n");
        return out;
    }
    out.push_str("pgstate will perform the following actions:\n\n");
    for a in &plan.actions {
        let thread = match a.from_thread {
            Some(from) => format!("thread {from} -> {}", a.thread),
            None => format!("thread {}", a.thread),
        };
        let _ = write!(out, "  {:>3} {} ({thread})", a.action.symbol(), a.device);
        if a.running {
            out.push_str(" [running]");
        }
        if let Some(r) = &a.reason {
            let _ = write!(out, "\n        because {r}");
        }
        out.push('\n');
        let lines = if a.action == ActionKind::Change {
            a.changes.iter().map(pgstate::render::change).collect()
        } else {
            pgstate::render::settings(&a.changes)
        };
        for line in lines {
            let _ = writeln!(out, "        {line}");
        }
    }
    let running: Vec<_> = plan
        .actions
        .iter()
        .filter(|a| a.running && matches!(a.action, ActionKind::Remove | ActionKind::Recreate))
        .map(|a| a.device.to_string())
        .collect();
    if !running.is_empty() {
        let _ = writeln!(
            out,
            "\nWarning: this stops traffic that is running on {}.",
            running.join(", ")
        );
    }
    if show_writes {
        out.push_str("\nWrites:\n");
        for (i, w) in plan.writes.iter().enumerate() {
            let _ = writeln!(out, "  {:>4}  {}", i + 1, w.render());
        }
    }
    let s = Summary::of(plan);
    let _ = writeln!(
        out,
        "\nPlan: {} to add, {} to change, {} to remove, {} to re-create; {}.",
        s.add,
        s.change,
        s.remove,
        s.recreate,
        writes(s.writes)
    );
    out
}

pub fn apply_text(report: &ApplyReport) -> String {
    if report.plan.is_empty() {
        return "No changes. pktgen matches the desired state.\n".into();
    }
    let s = Summary::of(&report.plan);
    format!(
        "Applied: {} added, {} changed, {} removed, {} re-created; {}. Verified by readback.\n",
        s.add,
        s.change,
        s.remove,
        s.recreate,
        writes(s.writes)
    )
}

/// "1 device", "2 devices".
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// "1 write", "3 writes".
pub fn writes(n: usize) -> String {
    if n == 1 {
        "1 write".into()
    } else {
        format!("{n} writes")
    }
}

/// Sums over all devices.
#[derive(Serialize)]
pub struct Totals {
    pub packets: u64,
    pub errors: u64,
    pub pps: u64,
    pub mbps: u64,
}

pub fn totals(devices: &[pgstate::run::DeviceReport]) -> Totals {
    Totals {
        packets: devices.iter().map(|d| d.packets).sum(),
        errors: devices.iter().map(|d| d.errors).sum(),
        pps: devices.iter().filter_map(|d| d.stats.map(|s| s.pps)).sum(),
        mbps: devices.iter().filter_map(|d| d.stats.map(|s| s.mbps)).sum(),
    }
}

/// The results table; with an outcome, also how the run ended and the problems found.
/// Columns are sized to their content (comfy-table), so a long device name such as
/// `enp129s0f1np1@thread0-queue7` does not push its row out of line.
pub fn results_text(
    devices: &[pgstate::run::DeviceReport],
    outcome: Option<&pgstate::run::RunOutcome>,
) -> String {
    if devices.is_empty() {
        return "No pktgen devices.\n".into();
    }
    let mut out = results_table(devices, outcome);
    if let Some(o) = outcome {
        let _ = writeln!(out, "\nRun ended: {}.", ended_by(o.ended_by));
    }
    for d in devices {
        out.push_str(&device_notes(d));
    }
    out
}

/// One row per device, and the total of a run.
fn results_table(
    devices: &[pgstate::run::DeviceReport],
    outcome: Option<&pgstate::run::RunOutcome>,
) -> String {
    let mut table = comfy_table::Table::new();
    table
        .load_style(comfy_table::presets::NOTHING)
        .set_content_arrangement(comfy_table::ContentArrangement::Disabled)
        .set_header(vec![
            "DEVICE", "THREAD", "PACKETS", "COUNT", "TIME", "PPS", "Mb/s", "BYTES", "ERRORS",
            "STATE",
        ]);
    for d in devices {
        table.add_row(device_row(d));
    }
    if let Some(o) = outcome {
        let t = totals(devices);
        table.add_row(vec![
            "total".to_owned(),
            String::new(),
            t.packets.to_string(),
            String::new(),
            format!("{:.3}s", o.wall_ms as f64 / 1e3),
            t.pps.to_string(),
            t.mbps.to_string(),
            String::new(),
            t.errors.to_string(),
            String::new(),
        ]);
    }
    let last = table.column_count().saturating_sub(1);
    for (i, column) in table.column_iter_mut().enumerate() {
        // Two spaces between columns, none before the first or after the last.
        column.set_padding((0, if i == last { 0 } else { 2 }));
        if (1..last).contains(&i) {
            column.set_cell_alignment(comfy_table::CellAlignment::Right);
        }
    }
    let mut out = String::new();
    for line in table.lines() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A device's row of the results table.
fn device_row(d: &pgstate::run::DeviceReport) -> Vec<String> {
    let (time, pps, mbps, bytes) = match d.stats {
        Some(s) => (
            format!("{:.3}s", s.elapsed_us as f64 / 1e6),
            s.pps.to_string(),
            s.mbps.to_string(),
            s.bytes_per_packet.to_string(),
        ),
        None => ("-".into(), "-".into(), "-".into(), "-".into()),
    };
    let state = if d.running {
        "running".to_owned()
    } else if !d.problems.is_empty() {
        "PROBLEM".to_owned()
    } else if d.stats.is_some() {
        "ok".to_owned()
    } else {
        d.result.lines().next().unwrap_or("").to_owned()
    };
    let count = if d.count == 0 {
        "forever".to_owned()
    } else {
        d.count.to_string()
    };
    vec![
        d.device.to_string(),
        d.thread.0.to_string(),
        d.packets.to_string(),
        count,
        time,
        pps,
        mbps,
        bytes,
        d.errors.to_string(),
        state,
    ]
}

/// How a run ended, as the results say it.
fn ended_by(e: pgstate::run::EndedBy) -> &'static str {
    match e {
        pgstate::run::EndedBy::Completed => "every stream reached its count",
        pgstate::run::EndedBy::Duration => "stopped after --duration",
        pgstate::run::EndedBy::Interrupted => "stopped by Ctrl-C",
        pgstate::run::EndedBy::Stopped => "stopped from outside (pgstate stop or another writer)",
    }
}

/// A device's imix sizes, problems and notes, a line each.
fn device_notes(d: &pgstate::run::DeviceReport) -> String {
    let mut out = String::new();
    if !d.imix_size_counts.is_empty() {
        let sizes: Vec<String> = d
            .imix_size_counts
            .iter()
            .map(|(s, n)| format!("{s}B: {n}"))
            .collect();
        let _ = writeln!(out, "{}: imix {}", d.device, sizes.join(", "));
    }
    for p in &d.problems {
        let _ = writeln!(out, "{}: {p}", d.device);
    }
    for n in &d.notes {
        let _ = writeln!(out, "{}: note: {n}", d.device);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use pgstate::run::DeviceReport;

    #[test]
    fn issue_12_diagnostics_underline_the_whole_value() {
        // Issue 12.7: a single caret under the first character of `198.18.0.300`.
        let d = pgstate::Diagnostic {
            location: Some(pgstate::Location {
                file: "a.yaml".into(),
                line: 4,
                column: 10,
            }),
            file: "a.yaml".into(),
            path: "devices.eth0.dst".into(),
            message: "'198.18.0.300' is not an IPv4 address".into(),
            source_line: Some("    dst: 198.18.0.300  # lab".into()),
            help: Some("try 198.18.0.30".into()),
        };
        let text = diagnostic_text(&d, false);
        assert!(
            text.starts_with(
                "error: a.yaml:4:10: devices.eth0.dst: '198.18.0.300' is not an IPv4 address\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("4 |     dst: 198.18.0.300  # lab\n  |          ^^^^^^^^^^^^\n"),
            "{text}"
        );
        assert!(text.contains("= help: try 198.18.0.30"), "{text}");
        assert!(diagnostic_text(&d, true).contains("\x1b["), "no colour");
        for (line, col, want) in [
            ("  eth5:", 2, "eth5"),
            ("    mpls: [\"0001000a\", 0]", 10, "[\"0001000a\", 0]"),
            ("    dst6: \"fe80::zz\"", 10, "\"fe80::zz\""),
            ("threads: [0, 7]", 13, "7"),
        ] {
            let start = line.char_indices().nth(col).unwrap().0;
            assert_eq!(&line[start..value_end(line, start)], want, "{line}");
        }
    }

    fn report(name: &str, thread: u32, packets: u64) -> DeviceReport {
        DeviceReport {
            device: pgstate::DeviceName::new(name).unwrap(),
            thread: pgstate::ThreadId(thread),
            running: false,
            count: 1000,
            packets,
            errors: 0,
            stats: None,
            imix_size_counts: Vec::new(),
            target_pps: None,
            result: "Idle".into(),
            problems: Vec::new(),
            notes: Vec::new(),
        }
    }

    #[test]
    fn results_columns_fit_long_device_names() {
        // Issue 12.10: a fixed 16-character column put every later column of this row out
        // of line with the header.
        let text = results_text(
            &[
                report("enp129s0f1np1@thread0-queue7", 0, 5),
                report("eth0", 12, 123456789),
            ],
            None,
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        // Right-aligned numeric columns end where their header ends.
        for header in ["THREAD", "PACKETS", "ERRORS"] {
            let end = lines[0].find(header).unwrap() + header.len();
            for line in &lines[1..] {
                let cell_end = line[..end].trim_end().len();
                assert_eq!(cell_end, end, "{header} misaligned:\n{text}");
                assert_eq!(line.as_bytes().get(end), Some(&b' '), "{text}");
            }
        }
        let state_col = lines[0].find("STATE").unwrap();
        assert!(lines[1][state_col..].starts_with("Idle"), "{text}");
        assert!(lines[0].starts_with("DEVICE "), "{text}");
    }
}
