//! The results of `run` and `status` over a list of targets, as text and as JSON: one
//! typed document for one box or many.

use std::fmt::Write as _;

use serde::Serialize;

use pgstate::model::NamespaceName;
use pgstate::run::{DeviceReport, EndedBy, RunOutcome};
use pgstate::targets::receivers::ReceiverReport;
use pgstate::targets::{Overlap, Place, RunReport, Window};

use super::render::JSON_FORMAT_VERSION;
use super::render::{count, indent, namespace_header, results_text, totals, Totals};
use super::run_record::{Phase, ReceiverSoFar, RunRecord};

/// A device of the results, with its namespace (`null`: the one pgstate runs in).
#[derive(Serialize)]
struct DeviceJson<'a> {
    namespace: Option<&'a NamespaceName>,
    #[serde(flatten)]
    report: &'a DeviceReport,
}

fn devices_json<'a>(place: &'a Place, devices: &'a [DeviceReport]) -> Vec<DeviceJson<'a>> {
    devices
        .iter()
        .map(|report| DeviceJson {
            namespace: place.name(),
            report,
        })
        .collect()
}

/// `run --json`: the totals and every device at the top, and each target's own part.
#[derive(Serialize)]
struct RunJson<'a> {
    format_version: u32,
    /// How the run ended (the first target's; they share the signal and `--duration`).
    #[serde(skip_serializing_if = "Option::is_none")]
    ended_by: Option<EndedBy>,
    /// The longest target's wall-clock time, ms.
    wall_ms: u64,
    ok: bool,
    total: Totals,
    devices: Vec<DeviceJson<'a>>,
    /// How far the targets' runs overlapped; `null` when not every target ran.
    overlap: Option<Overlap>,
    /// The targets whose run failed, with why.
    failed: Vec<String>,
    namespaces: Vec<RunPartJson<'a>>,
    /// What each receiver received.
    receivers: &'a [ReceiverReport],
}

#[derive(Serialize)]
struct RunPartJson<'a> {
    namespace: Option<&'a NamespaceName>,
    netns: Option<String>,
    ended_by: EndedBy,
    wall_ms: u64,
    ok: bool,
    window: Option<Window>,
    total: Totals,
    devices: Vec<DeviceJson<'a>>,
}

/// The targets that ran, with their outcome and window.
fn ran(report: &RunReport) -> impl Iterator<Item = (&Place, &RunOutcome, Option<Window>)> {
    report
        .targets
        .iter()
        .filter_map(|t| t.result.as_ref().ok().map(|(o, w)| (&t.place, o, *w)))
}

/// What failed, one line a target.
fn failures(report: &RunReport) -> Vec<String> {
    report
        .targets
        .iter()
        .filter_map(|t| t.result.as_ref().err().map(|e| format!("{}: {e}", t.place)))
        .collect()
}

pub fn run_json(report: &RunReport) -> String {
    serde_json::to_string_pretty(&run_document(report)).unwrap_or_default()
}

/// `run --json-stream`'s last line: the results, on one line.
pub fn run_json_line(report: &RunReport) -> String {
    let mut doc = serde_json::to_value(run_document(report)).unwrap_or_default();
    doc["event"] = "end".into();
    doc.to_string()
}

fn run_document(report: &RunReport) -> RunJson<'_> {
    let all: Vec<DeviceReport> = ran(report)
        .flat_map(|(_, o, _)| o.devices.iter().cloned())
        .collect();
    let doc = RunJson {
        format_version: JSON_FORMAT_VERSION,
        ended_by: ran(report).map(|(_, o, _)| o.ended_by).next(),
        wall_ms: ran(report).map(|(_, o, _)| o.wall_ms).max().unwrap_or(0),
        ok: !report.has_problems(),
        total: totals(&all),
        devices: ran(report)
            .flat_map(|(p, o, _)| devices_json(p, &o.devices))
            .collect(),
        overlap: report.overlap,
        failed: failures(report),
        namespaces: ran(report)
            .map(|(p, o, w)| RunPartJson {
                namespace: p.name(),
                netns: p.netns().map(ToString::to_string),
                ended_by: o.ended_by,
                wall_ms: o.wall_ms,
                ok: !o.has_problems(),
                window: w,
                total: totals(&o.devices),
                devices: devices_json(p, &o.devices),
            })
            .collect(),
        receivers: &report.receivers,
    };
    doc
}

/// The run's results as text: the table of a single box, or one block a namespace, the
/// total and the overlap.
pub fn run_text(report: &RunReport) -> String {
    if let [only] = report.targets.as_slice() {
        if let (Place::Here, Ok((o, _))) = (&only.place, &only.result) {
            return results_text(&o.devices, Some(o));
        }
    }
    let mut out = String::new();
    for (place, o, window) in ran(report) {
        out.push_str(&namespace_header(
            place.name(),
            place.netns().map(|n| n.path()),
        ));
        out.push_str(&indent(&results_text(&o.devices, Some(o))));
        if let Some(w) = window {
            let _ = writeln!(
                out,
                "  ran {} ms by the kernel's clock (started {} us, stopped {} us)",
                (w.stopped_us - w.started_us) / 1000,
                w.started_us,
                w.stopped_us
            );
        }
        out.push('\n');
    }
    let all: Vec<DeviceReport> = ran(report)
        .flat_map(|(_, o, _)| o.devices.iter().cloned())
        .collect();
    let t = totals(&all);
    let namespaces = count(ran(report).count(), "namespace");
    let _ = writeln!(
        out,
        "Total: {} packets, {} errors in {namespaces}.",
        t.packets, t.errors
    );
    let _ = match report.overlap {
        // One namespace sent: there is nothing to overlap with.
        _ if report.targets.len() < 2 => Ok(()),
        Some(o) if o.concurrent => writeln!(
            out,
            "Overlap: all {} ran at the same time for {} ms (first start to last stop: {} ms).",
            count(report.targets.len(), "namespace"),
            o.all_ms,
            o.span_ms
        ),
        Some(o) => writeln!(
            out,
            "Overlap: none; the namespaces ran one after another ({} ms between one's end and another's start; first start to last stop: {} ms).",
            o.gap_ms, o.span_ms
        ),
        None => writeln!(out, "Overlap: unknown (not every namespace ran)."),
    };
    for f in failures(report) {
        let _ = writeln!(out, "error: {f}");
    }
    out
}

/// What the receivers received: a row per stream, then what each receiver says beside it.
pub fn receivers_text(receivers: &[ReceiverReport]) -> String {
    if receivers.is_empty() {
        return String::new();
    }
    let mut table = comfy_table::Table::new();
    table
        .load_style(comfy_table::presets::NOTHING)
        .set_content_arrangement(comfy_table::ContentArrangement::Disabled)
        .set_header(vec![
            "RECEIVER", "STREAM", "SENT", "RECEIVED", "LOST", "LOSS", "DUP", "LATE", "P50", "P99",
            "MAX", "JITTER",
        ]);
    for r in receivers {
        let at = receiver_name(r);
        for s in &r.streams {
            let l = &s.report.latency;
            let opt = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), |n| n.to_string());
            let ms = |v: Option<u64>| {
                v.map_or_else(|| "-".to_owned(), |ns| format!("{:.3}ms", ns as f64 / 1e6))
            };
            table.add_row(vec![
                at.clone(),
                stream_names(&s.streams),
                opt(s.sent),
                s.received.to_string(),
                opt(s.lost),
                s.loss_percent
                    .map_or_else(|| "-".to_owned(), |p| format!("{p:.2}%")),
                s.report.sequence.duplicates.to_string(),
                s.report.sequence.late.to_string(),
                ms(l.p50_ns),
                ms(l.p99_ns),
                ms(l.max_ns),
                ms(l.jitter_ns),
            ]);
        }
    }
    let last = table.column_count().saturating_sub(1);
    for (i, column) in table.column_iter_mut().enumerate() {
        column.set_padding((0, if i == last { 0 } else { 2 }));
        if i >= 2 {
            column.set_cell_alignment(comfy_table::CellAlignment::Right);
        }
    }
    let mut out = String::from("\nReceived:\n");
    for line in table.lines() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    for r in receivers {
        out.push_str(&receiver_notes(r));
    }
    out
}

/// `r/r-eth0`: the receiver's namespace and interface, or the interface alone in the
/// namespace pgstate runs in.
fn receiver_name(r: &ReceiverReport) -> String {
    receiver_at(r.namespace.name(), &r.interface)
}

/// `r/r-eth0`: a receiver by its namespace and interface.
fn receiver_at(namespace: Option<&NamespaceName>, interface: &str) -> String {
    match namespace {
        Some(n) => format!("{n}/{interface}"),
        None => interface.to_owned(),
    }
}

/// `s/s-eth0`, or `s/a+s/b` for the streams a receiver counts together.
pub fn stream_names(streams: &[pgstate::model::StreamRef]) -> String {
    let names: Vec<String> = streams.iter().map(ToString::to_string).collect();
    names.join("+")
}

/// A receiver's own counts and what it says about its streams, a line each.
fn receiver_notes(r: &ReceiverReport) -> String {
    let mut out = String::new();
    let at = receiver_name(r);
    let _ = write!(
        out,
        "{at}: capture kept {} packets, dropped {}",
        r.capture.packets, r.capture.drops
    );
    if let Some(c) = r.interface_counters {
        let _ = write!(
            out,
            "; the interface received {} packets, dropped {}",
            c.rx_packets, c.rx_dropped
        );
    }
    out.push('\n');
    if let Some(why) = &r.shared {
        let _ = writeln!(out, "{at}: its streams are counted together: {why}");
    }
    if r.unattributed > 0 {
        let _ = writeln!(
            out,
            "{at}: {} pktgen packets of no expected stream",
            r.unattributed
        );
    }
    for s in &r.streams {
        // A receiver's streams each say their own: `r/n1 s/n0@0: …`.
        let at = format!("{at} {}", stream_names(&s.streams));
        if s.copies_per_packet > 1 {
            let _ = writeln!(
                out,
                "{at}: each packet is sent {} times (clone_skb, burst); copies are expected, not duplicates",
                s.copies_per_packet
            );
        }
        if s.over_max_loss {
            let _ = writeln!(
                out,
                "{at}: PROBLEM: loss above the receiver's max_loss_percent"
            );
        }
        if let Some(n) = &s.latency_note {
            let _ = writeln!(out, "{at}: no latency: {n}");
        }
    }
    if let Some(e) = &r.error {
        let _ = writeln!(out, "{at}: error: {e}");
    }
    out
}

/// One line of `run --json-stream`.
#[derive(Serialize)]
struct IntervalJson<'a> {
    event: &'static str,
    format_version: u32,
    elapsed_ms: u64,
    sent: Vec<SentJson<'a>>,
    received: &'a [ReceiverSoFar],
}

/// What one device has sent so far.
#[derive(Serialize)]
struct SentJson<'a> {
    namespace: Option<&'a NamespaceName>,
    device: &'a pgstate::DeviceName,
    packets: u64,
    errors: u64,
    running: bool,
}

/// One line of `run --json-stream`: what each sender sent and each receiver received so far
/// (`received`, [`super::run_record::received_so_far`] of the same progress).
pub fn interval_json(
    targets: &[pgstate::targets::OpenTarget],
    p: &pgstate::targets::Progress<'_>,
    received: &[ReceiverSoFar],
) -> String {
    let sent = targets
        .iter()
        .filter(|t| t.sends())
        .zip(p.samples)
        .flat_map(|(t, samples)| {
            samples.iter().map(move |s| SentJson {
                namespace: t.place().name(),
                device: &s.device,
                packets: s.packets,
                errors: s.errors,
                running: s.running,
            })
        })
        .collect();
    let doc = IntervalJson {
        event: "interval",
        format_version: JSON_FORMAT_VERSION,
        elapsed_ms: u64::try_from(p.elapsed.as_millis()).unwrap_or(u64::MAX),
        sent,
        received,
    };
    serde_json::to_string(&doc).unwrap_or_default()
}

/// `status --json`: as `run --json`, without what only a run knows.
#[derive(Serialize)]
struct StatusJson<'a> {
    format_version: u32,
    running: bool,
    total: Totals,
    devices: Vec<DeviceJson<'a>>,
    namespaces: Vec<StatusPartJson<'a>>,
    /// What the latest `run` of the state received (`status STATE`), so far or in the end.
    latest_run: Option<&'a RunRecord>,
}

#[derive(Serialize)]
struct StatusPartJson<'a> {
    namespace: Option<&'a NamespaceName>,
    netns: Option<String>,
    running: bool,
    total: Totals,
    devices: Vec<DeviceJson<'a>>,
}

pub fn status_json(
    readings: &[(&Place, &[DeviceReport])],
    latest_run: Option<&RunRecord>,
) -> String {
    let all: Vec<DeviceReport> = readings
        .iter()
        .flat_map(|(_, d)| d.iter().cloned())
        .collect();
    let doc = StatusJson {
        format_version: JSON_FORMAT_VERSION,
        running: all.iter().any(|d| d.running),
        total: totals(&all),
        devices: readings
            .iter()
            .flat_map(|(p, d)| devices_json(p, d))
            .collect(),
        namespaces: readings
            .iter()
            .map(|(p, d)| StatusPartJson {
                namespace: p.name(),
                netns: p.netns().map(ToString::to_string),
                running: d.iter().any(|d| d.running),
                total: totals(d),
                devices: devices_json(p, d),
            })
            .collect(),
        latest_run,
    };
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

/// What the latest run of the state received, after `status`'s table: the run's own table
/// when it ended, what each stream received so far while it runs.
pub fn latest_run_text(record: &RunRecord) -> String {
    let when = humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH + std::time::Duration::from_millis(record.updated_unix_ms),
    );
    match &record.phase {
        Phase::Ended { receivers } => format!(
            "\nThe latest run of this state (pgstate run, pid {}) ended at {when}.\n{}",
            record.pid,
            receivers_text(receivers)
        ),
        Phase::Receiving { received } => {
            let mut out = if record.live() {
                format!(
                    "\nA run of this state is receiving (pgstate run, pid {}); at {when}:\n",
                    record.pid
                )
            } else {
                format!(
                    "\nThe latest run (pid {}) ended without its report; received until {when}:\n",
                    record.pid
                )
            };
            for r in received {
                let at = receiver_at(r.namespace.as_ref(), &r.interface);
                for s in &r.streams {
                    let names = stream_names(&s.streams);
                    let _ = writeln!(out, "  {at}  {names}  received {}", s.received);
                }
            }
            out
        }
    }
}

/// `status` as text: the table of a single box, or one block a namespace.
pub fn status_text(readings: &[(&Place, &[DeviceReport])]) -> String {
    if let [(Place::Here, devices)] = readings {
        return results_text(devices, None);
    }
    let mut out = String::new();
    for (place, devices) in readings {
        out.push_str(&namespace_header(
            place.name(),
            place.netns().map(|n| n.path()),
        ));
        out.push_str(&indent(&results_text(devices, None)));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use pgstate::model::{DeviceName, NamespaceName, ThreadId};
    use pgstate::procfs::netns::NetnsPath;
    use pgstate::run::{parse_run_result, DeviceReport, EndedBy, RunOutcome};
    use pgstate::targets::{Overlap, Place, RunReport, TargetRun, Window};

    use super::{run_json, run_text};

    fn device(name: &str, thread: u32, result: &str) -> DeviceReport {
        let stats = parse_run_result(result);
        DeviceReport {
            device: DeviceName::new(name).unwrap(),
            thread: ThreadId(thread),
            running: false,
            count: 20000,
            packets: stats.map_or(0, |s| s.packets),
            errors: stats.map_or(0, |s| s.errors),
            stats,
            imix_size_counts: Vec::new(),
            target_pps: None,
            result: result.to_owned(),
            problems: Vec::new(),
            notes: Vec::new(),
        }
    }

    fn ran(place: Place, devices: Vec<DeviceReport>, window: Window) -> TargetRun {
        TargetRun {
            place,
            foreign: Vec::new(),
            result: Ok((
                RunOutcome {
                    ended_by: EndedBy::Completed,
                    wall_ms: 1250,
                    devices,
                },
                Some(window),
            )),
        }
    }

    const OK: &str = "OK: 15430(c15405+d25) usec, 20000 (60byte,0frags)\n  1296176pps 622Mb/sec (622164480bps) errors: 0";

    fn window(a: u64, b: u64) -> Window {
        Window {
            started_us: a,
            stopped_us: b,
        }
    }

    #[test]
    fn a_single_box_run_is_its_table() {
        let report = RunReport {
            targets: vec![ran(
                Place::Here,
                vec![device("eth0", 0, OK), device("eth1@1", 1, OK)],
                window(1_000, 16_430),
            )],
            overlap: None,
            receivers: Vec::new(),
        };
        insta::assert_snapshot!("run_text_single_box", run_text(&report));
    }

    #[test]
    fn a_run_of_namespaces_has_a_block_each_the_total_and_the_overlap() {
        let ns = |n: &str| Place::named(NamespaceName::new(n).unwrap());
        let report = RunReport {
            targets: vec![
                ran(
                    ns("h1"),
                    vec![device("h1-eth0", 0, OK)],
                    window(1_000, 16_430),
                ),
                ran(
                    ns("h2"),
                    vec![device("h2-eth0", 0, OK)],
                    window(2_000, 17_500),
                ),
                TargetRun {
                    place: Place::Namespace {
                        name: NamespaceName::new("h3").unwrap(),
                        netns: NetnsPath::file("/proc/4242/ns/net"),
                    },
                    foreign: Vec::new(),
                    result: Err(pgstate::run::RunError::NothingToRun),
                },
            ],
            // Not every namespace ran, so the overlap is unknown.
            overlap: None,
            receivers: Vec::new(),
        };
        insta::assert_snapshot!("run_text_namespaces_one_failed", run_text(&report));
        insta::assert_snapshot!("run_json_namespaces_one_failed", run_json(&report));
        let mut both = report;
        both.targets.pop();
        both.overlap = Some(Overlap {
            all_ms: 14,
            gap_ms: 0,
            span_ms: 16,
            concurrent: true,
        });
        insta::assert_snapshot!("run_text_namespaces", run_text(&both));
        insta::assert_snapshot!("run_json_namespaces", run_json(&both));
    }

    /// A `--json-stream` line: each sender's device and each receiver's streams so far.
    #[test]
    fn an_interval_line_has_what_was_sent_and_received_so_far() {
        use pgstate::model::{DesiredReceiver, StreamRef};
        use pgstate::run::Sample;
        use pgstate::targets::{OpenTarget, Progress, Target};
        use std::sync::Arc;
        use std::time::Duration;

        let ns = |n: &str| Place::named(NamespaceName::new(n).unwrap());
        let nowhere = || Arc::new(pgstate::procfs::RealProcfs::new("/nonexistent/pktgen")) as _;
        let mut sender = Target::bare(ns("s"));
        sender.desired.devices.insert(
            DeviceName::new("s-eth0").unwrap(),
            pgstate::state_file::load_texts(&[(
                std::path::Path::new("x.yaml"),
                "devices:\n  s-eth0: {thread: 0}\n",
            )])
            .unwrap()
            .desired
            .devices
            .into_values()
            .next()
            .unwrap(),
        );
        let mut receiver = Target::bare(ns("r"));
        let stream = StreamRef {
            namespace: Some(NamespaceName::new("s").unwrap()),
            device: DeviceName::new("s-eth0").unwrap(),
        };
        receiver.receivers.push(DesiredReceiver {
            interface: "r-eth0".into(),
            streams: vec![stream],
            max_loss_percent: None,
        });
        let targets = [
            OpenTarget::new(sender, nowhere()),
            OpenTarget::new(receiver, nowhere()),
        ];
        let samples = [vec![Sample {
            device: DeviceName::new("s-eth0").unwrap(),
            count: 100,
            packets: 40,
            errors: 0,
            bytes_per_packet: 60,
            running: true,
        }]];
        let progress = Progress {
            samples: &samples,
            received: &[vec![38]],
            elapsed: Duration::from_millis(250),
        };
        let received = crate::cli::run_record::received_so_far(&targets, &progress);
        insta::assert_snapshot!(super::interval_json(&targets, &progress, &received));
    }
}
