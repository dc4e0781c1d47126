//! `pgstate run --metrics-out FILE`: what a run sent and what its receivers received, in the
//! Prometheus text format, for node_exporter's textfile collector: counters per stream and
//! the latency as a Prometheus histogram. Encoded with `prometheus-client`, as the watch's
//! metrics are.

use std::sync::{Mutex, PoisonError};

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::Registry;

use pgstate::model::{NamespaceName, StreamRef};
use pgstate::targets::receivers::{ReceivedStream, ReceiverReport, LATENCY_BUCKETS_NS};
use pgstate::targets::RunReport;

use super::run_record::{Phase, RunRecord};

/// The first line of the file: what marks it as pgstate's own (a file without it is never
/// overwritten).
pub const HEADER: &str = "# pgstate run metrics";

type Labels = Vec<(String, String)>;

/// A histogram whose buckets are already counted (the receiver's HDR histogram read at fixed
/// bounds): prometheus-client's own `Histogram` would need every sample again.
#[derive(Debug, Default)]
struct CountedHistogram(Mutex<Counted>);

/// A histogram's sum, count and buckets (upper bound, count in it), as prometheus-client
/// encodes them.
#[derive(Debug, Default)]
struct Counted {
    sum: f64,
    count: u64,
    buckets: Vec<(f64, u64)>,
}

/// A counter of every stream: its name, help and value.
type StreamCounter = (&'static str, &'static str, fn(&ReceivedStream) -> u64);

impl CountedHistogram {
    /// `cumulative[i]` latencies at or below `LATENCY_BUCKETS_NS[i]`, `count` in all.
    fn set(&self, sum_seconds: f64, count: u64, cumulative: &[u64]) {
        let mut buckets = Vec::with_capacity(cumulative.len() + 1);
        let mut below = 0;
        for (bound, &n) in LATENCY_BUCKETS_NS.iter().zip(cumulative) {
            buckets.push((*bound as f64 / 1e9, n.saturating_sub(below)));
            below = n;
        }
        buckets.push((f64::INFINITY, count.saturating_sub(below)));
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Counted {
            sum: sum_seconds,
            count,
            buckets,
        };
    }
}

impl TypedMetric for CountedHistogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for CountedHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let c = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        encoder.encode_histogram::<NoLabelSet>(c.sum, c.count, &c.buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

/// A receiver's labels: its namespace (empty for the one pgstate runs in) and interface.
fn receiver_labels(namespace: Option<&NamespaceName>, interface: &str) -> Labels {
    vec![
        (
            "namespace".to_owned(),
            namespace.map(ToString::to_string).unwrap_or_default(),
        ),
        ("interface".to_owned(), interface.to_owned()),
    ]
}

/// A stream's labels: its receiver's, and the stream's names.
fn stream_labels(
    namespace: Option<&NamespaceName>,
    interface: &str,
    streams: &[StreamRef],
) -> Labels {
    let mut labels = receiver_labels(namespace, interface);
    labels.push(("stream".to_owned(), super::results::stream_names(streams)));
    labels
}

/// The metrics of a run's receivers, for `--metrics-out`.
pub fn render(report: &RunReport) -> String {
    let mut registry = Registry::with_prefix("pgstate_receiver");
    register(&mut registry, &report.receivers);
    let mut out = format!("{HEADER}\n");
    // Writing to a String cannot fail.
    let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &registry);
    out
}

/// The metrics of what the latest run of a state received (`status`, the watch's
/// `/metrics`), as `pgstate_receiver_*` in a registry of prefix `pgstate`: all of them once
/// it ended, the packets received so far while it runs.
pub fn register_latest_run(registry: &mut Registry, record: &RunRecord) {
    let registry = registry.sub_registry_with_prefix("receiver");
    match &record.phase {
        Phase::Ended { receivers } => register(registry, receivers),
        Phase::Receiving { received } => {
            let family = Family::<Labels, Counter>::default();
            for r in received {
                for s in &r.streams {
                    family
                        .get_or_create(&stream_labels(
                            r.namespace.as_ref(),
                            &r.interface,
                            &s.streams,
                        ))
                        .inc_by(s.received);
                }
            }
            registry.register("received_packets", RECEIVED_HELP, family);
        }
    }
}

/// The help of the received-packets counter, the same live and after the run.
const RECEIVED_HELP: &str = "Distinct packets of the stream received";

/// Registers the metrics of `receivers` in `registry`.
fn register(registry: &mut Registry, receivers: &[ReceiverReport]) {
    let labels = |r: &ReceiverReport, s: &ReceivedStream| {
        stream_labels(r.namespace.name(), &r.interface, &s.streams)
    };
    let counters: [StreamCounter; 5] = [
        (
            "sent_packets",
            "Packets the stream's sender sent (pkts-sofar)",
            |s| s.sent.unwrap_or(0),
        ),
        ("received_packets", RECEIVED_HELP, |s| s.received),
        ("lost_packets", "Packets sent and not received", |s| {
            s.lost.unwrap_or(0)
        }),
        (
            "duplicate_packets",
            "Packets received more often than pktgen sent them",
            |s| s.report.sequence.duplicates,
        ),
        (
            "late_packets",
            "Packets received after a later one (reordered)",
            |s| s.report.sequence.late,
        ),
    ];
    for (name, help, value) in counters {
        let family = Family::<Labels, Counter>::default();
        for r in receivers {
            for s in &r.streams {
                family.get_or_create(&labels(r, s)).inc_by(value(s));
            }
        }
        registry.register(name, help, family);
    }
    let drops = Family::<Labels, Counter>::default();
    for r in receivers {
        drops
            .get_or_create(&receiver_labels(r.namespace.name(), &r.interface))
            .inc_by(r.capture.drops);
    }
    registry.register(
        "capture_drops",
        "Packets the receiver's own capture dropped (its ring was full)",
        drops,
    );
    let latency = Family::<Labels, CountedHistogram>::default();
    for r in receivers {
        for s in &r.streams {
            latency.get_or_create(&labels(r, s)).set(
                s.latency_sum_seconds,
                s.report.latency.samples,
                &s.latency_buckets,
            );
        }
    }
    registry.register(
        "latency_seconds",
        "One-way latency from pktgen's send time to the kernel's receive time",
        latency,
    );
}

/// Whether `bytes` are a file `render` wrote.
pub fn is_run_metrics(bytes: &[u8]) -> bool {
    bytes.starts_with(HEADER.as_bytes())
}

#[cfg(test)]
pub(super) mod tests {
    use pgstate::model::{DeviceName, NamespaceName, StreamRef};
    use pgstate::receive::{LatencySummary, SequenceCounts, StreamKey, StreamReport};
    use pgstate::targets::receivers::{CaptureCounts, ReceivedStream, ReceiverReport};
    use pgstate::targets::{Place, RunReport};
    use prometheus_client::registry::Registry;

    use super::{Phase, RunRecord};

    fn latency(samples: u64) -> LatencySummary {
        LatencySummary {
            samples,
            min_ns: Some(20_100_000),
            max_ns: Some(24_000_000),
            mean_ns: Some(21_000_000.0),
            p50_ns: Some(20_500_000),
            p90_ns: Some(22_000_000),
            p99_ns: Some(23_500_000),
            p999_ns: Some(24_000_000),
            jitter_ns: Some(30_000),
            no_timestamp: 0,
            invalid_timestamp: 0,
            clock_behind: 0,
            over_range: 0,
            relative_error: 1.0 / 128.0,
        }
    }

    /// A receiver of one stream, `s/s-eth0` at `r/r-eth0`: 4000 sent, 10% lost, some
    /// duplicates, latency about 20 ms.
    pub(in crate::cli) fn receiver_report() -> ReceiverReport {
        let stream = StreamRef {
            namespace: Some(NamespaceName::new("s").unwrap()),
            device: DeviceName::new("s-eth0").unwrap(),
        };
        let sequence = SequenceCounts {
            received: 3700,
            unique: 3583,
            duplicates: 117,
            late: 2,
            ..SequenceCounts::default()
        };
        // 3583 timed: none up to 10 ms, 3000 up to 20 ms, all up to 50 ms.
        let mut buckets = vec![0; 8];
        buckets.extend([3000, 3583, 3583, 3583, 3583]);
        ReceiverReport {
            namespace: Place::named(NamespaceName::new("r").unwrap()),
            interface: "r-eth0".into(),
            streams: vec![ReceivedStream {
                streams: vec![stream],
                sent: Some(4000),
                received: 3583,
                lost: Some(417),
                loss_percent: Some(10.425),
                over_max_loss: false,
                copies_per_packet: 1,
                report: StreamReport {
                    key: StreamKey::ANY,
                    sequence,
                    latency: latency(3583),
                    first_received: None,
                    last_received: None,
                },
                latency_note: None,
                latency_buckets: buckets,
                latency_sum_seconds: 75.243,
            }],
            shared: None,
            unattributed: 0,
            not_pktgen: 0,
            capture: CaptureCounts {
                packets: 3700,
                drops: 0,
            },
            interface_counters: None,
            error: None,
        }
    }

    /// Counters per stream and a histogram whose buckets are the receiver's counts.
    #[test]
    fn a_receivers_figures_are_counters_and_a_latency_histogram() {
        let report = RunReport {
            targets: Vec::new(),
            overlap: None,
            receivers: vec![receiver_report()],
        };
        let text = super::render(&report);
        assert!(super::is_run_metrics(text.as_bytes()));
        insta::assert_snapshot!(text);
    }

    /// `status` and the watch's `/metrics` say what `--metrics-out` said of the run, under
    /// the same names, from the run's record; while it runs, what was received so far.
    #[test]
    fn the_latest_run_has_the_metrics_of_the_run() {
        let report = RunReport {
            targets: Vec::new(),
            overlap: None,
            receivers: vec![receiver_report()],
        };
        let state = std::path::Path::new("/nonexistent/s.yaml");
        let ended = RunRecord::new(
            state,
            Phase::Ended {
                receivers: report.receivers.clone(),
            },
        );
        let mut registry = Registry::with_prefix("pgstate");
        super::register_latest_run(&mut registry, &ended);
        let mut text = format!("{}\n", super::HEADER);
        prometheus_client::encoding::prometheus_text::encode(&mut text, &registry).unwrap();
        assert_eq!(text, super::render(&report));
        let receiving = RunRecord::new(
            state,
            Phase::Receiving {
                received: vec![crate::cli::run_record::ReceiverSoFar {
                    namespace: Some(NamespaceName::new("r").unwrap()),
                    interface: "r-eth0".into(),
                    streams: vec![crate::cli::run_record::StreamSoFar {
                        streams: report.receivers[0].streams[0].streams.clone(),
                        received: 1234,
                    }],
                }],
            },
        );
        let mut registry = Registry::with_prefix("pgstate");
        super::register_latest_run(&mut registry, &receiving);
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &registry).unwrap();
        assert!(
            text.contains(
                "pgstate_receiver_received_packets_total{namespace=\"r\",interface=\"r-eth0\",stream=\"s/s-eth0\"} 1234\n"
            ),
            "{text}"
        );
        assert!(!text.contains("lost"), "{text}");
    }
}
