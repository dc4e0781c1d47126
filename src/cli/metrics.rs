//! Prometheus metrics: `pgstate watch --metrics-listen ADDR` serves them on `/metrics` (the
//! HTTP server is [`super::metrics_server`]'s), and
//! `pgstate status --format prometheus` prints the per-device and box part once (for
//! node_exporter's textfile collector). Both use the Prometheus text format 0.0.4, encoded by
//! `prometheus-client`; a registry is built afresh for each scrape from a fresh read of
//! pktgen, so the values are pktgen's own at that moment. With several namespaces every
//! metric has a `namespace` label (empty for the one pgstate runs in).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use pgstate::run::{self, DeviceReport};
use pgstate::targets::{Place, SharedProcfs};
use pgstate::watch::{Observer, StatsHandle, Status, WatchStats};

use super::run_metrics::register_latest_run;
use super::run_record::{self, RunRecord};

type Labels = Vec<(String, String)>;

/// What the watch loop knows that pktgen's files do not: its counters and whether the box is
/// converged. Filled in as an [`Observer`]; read by the metrics thread.
#[derive(Debug, Clone, Default)]
pub(super) struct WatchGauges(Arc<Mutex<WatchState>>);

#[derive(Debug, Default)]
struct WatchState {
    stats: Option<StatsHandle>,
    converged: bool,
    last_converge_unix: Option<u64>,
}

impl WatchGauges {
    fn with<T>(&self, f: impl FnOnce(&mut WatchState) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn record(&self, status: &Status) {
        self.with(|w| {
            w.converged = status.in_sync;
            if status.converged {
                w.last_converge_unix = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .ok()
                    .map(|d| d.as_secs());
            }
        });
    }
}

impl Observer for WatchGauges {
    fn started(&mut self, stats: &StatsHandle) {
        let stats = stats.clone();
        self.with(|w| w.stats = Some(stats));
    }
    fn ready(&mut self, status: &Status) {
        self.record(status);
    }
    fn reloaded(&mut self, status: Option<&Status>) {
        if let Some(s) = status {
            self.record(s);
        }
    }
    fn status(&mut self, status: &Status) {
        self.record(status);
    }
}

/// The labels of a target's metrics: `namespace` when the state has several (empty for the
/// one pgstate runs in), none for a single box.
fn place_labels(place: &Place, several: bool) -> Labels {
    if several {
        vec![(
            "namespace".to_owned(),
            place.name().map(ToString::to_string).unwrap_or_default(),
        )]
    } else {
        Vec::new()
    }
}

/// Registers the per-device and box metrics of a fresh read of each target's pktgen; `None`
/// for a target whose pktgen could not be read (`pgstate_pktgen_up 0`).
fn register_box(registry: &mut Registry, readings: &[(&Place, Option<&[DeviceReport]>)]) {
    let several = readings.len() > 1;
    let up = Family::<Labels, Gauge>::default();
    let devices_total = Family::<Labels, Gauge>::default();
    let devices_running = Family::<Labels, Gauge>::default();
    let packets = Family::<Labels, Counter>::default();
    let errors = Family::<Labels, Counter>::default();
    let running = Family::<Labels, Gauge>::default();
    let mut any_read = false;
    for (place, devices) in readings {
        let labels = place_labels(place, several);
        up.get_or_create(&labels).set(i64::from(devices.is_some()));
        let Some(devices) = devices else { continue };
        any_read = true;
        let count = |f: fn(&&DeviceReport) -> bool| {
            i64::try_from(devices.iter().filter(f).count()).unwrap_or(i64::MAX)
        };
        devices_total.get_or_create(&labels).set(count(|_| true));
        devices_running
            .get_or_create(&labels)
            .set(count(|d| d.running));
        for d in *devices {
            let mut labels = labels.clone();
            labels.extend([
                ("device".to_owned(), d.device.to_string()),
                ("thread".to_owned(), d.thread.to_string()),
            ]);
            packets.get_or_create(&labels).inc_by(d.packets);
            errors.get_or_create(&labels).inc_by(d.errors);
            running.get_or_create(&labels).set(i64::from(d.running));
        }
    }
    registry.register(
        "pktgen_up",
        "Whether pktgen's files could be read (1) or not (0)",
        up,
    );
    if !any_read {
        return;
    }
    registry.register("devices", "Devices on pktgen's threads", devices_total);
    registry.register("devices_running", "Devices sending now", devices_running);
    registry.register(
        "device_packets",
        "Packets sent by the device in its current or last run (pktgen's pkts-sofar)",
        packets,
    );
    registry.register(
        "device_errors",
        "Transmit errors of the device in its current or last run (pktgen's errors)",
        errors,
    );
    registry.register(
        "device_running",
        "Whether the device is sending (1) or not (0)",
        running,
    );
}

/// One watch session's counters and gauges.
struct SessionMetrics<'a> {
    labels: Labels,
    stats: &'a WatchStats,
    converged: bool,
    last: Option<u64>,
}

/// Registers the watch sessions' counters, each labelled with its place.
fn register_watch(registry: &mut Registry, sessions: &[SessionMetrics<'_>]) {
    let c = |r: &mut Registry, n: &str, h: &str, v: fn(&WatchStats) -> u64| {
        let family = Family::<Labels, Counter>::default();
        for s in sessions {
            family.get_or_create(&s.labels).inc_by(v(s.stats));
        }
        r.register(n, h, family);
    };
    c(
        registry,
        "watch_reconciles",
        "Reconciles with a state to reconcile to",
        |s| s.reconciles,
    );
    c(
        registry,
        "watch_applies",
        "Successful applies with at least one write",
        |s| s.applies,
    );
    c(
        registry,
        "watch_repairs",
        "Applies a poll triggered: drift repairs",
        |s| s.repairs,
    );
    c(
        registry,
        "watch_writes",
        "Writes performed by successful applies",
        |s| s.writes,
    );
    c(
        registry,
        "watch_failures",
        "Plans or applies that failed",
        |s| s.failures,
    );
    c(
        registry,
        "watch_drift_reports",
        "Check-only reconciles that found differences",
        |s| s.drift_reports,
    );
    c(
        registry,
        "watch_refused",
        "Plans refused because they would stop running traffic",
        |s| s.refused,
    );
    c(
        registry,
        "watch_invalid_loads",
        "Re-reads that found the state files invalid",
        |s| s.invalid,
    );
    let converged = Family::<Labels, Gauge>::default();
    let last = Family::<Labels, Gauge>::default();
    for s in sessions {
        converged
            .get_or_create(&s.labels)
            .set(i64::from(s.converged));
        if let Some(t) = s.last {
            last.get_or_create(&s.labels)
                .set(i64::try_from(t).unwrap_or(i64::MAX));
        }
    }
    registry.register(
        "converged",
        "Whether the box matches the state now (1) or not (0)",
        converged,
    );
    if sessions.iter().any(|s| s.last.is_some()) {
        registry.register(
            "last_converge_timestamp_seconds",
            "Unix time of the last reconcile that found or left the box converged",
            last,
        );
    }
}

fn encode(registry: &Registry) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = prometheus_text::encode(&mut out, registry);
    out
}

/// `pgstate status --format prometheus`: the per-device and box gauges of every target, once.
pub(super) fn render_status(
    readings: &[(&Place, &[DeviceReport])],
    latest_run: Option<&RunRecord>,
) -> String {
    let mut registry = Registry::with_prefix("pgstate");
    let readings: Vec<_> = readings.iter().map(|(p, d)| (*p, Some(*d))).collect();
    register_box(&mut registry, &readings);
    if let Some(record) = latest_run {
        register_latest_run(&mut registry, record);
    }
    encode(&registry)
}

/// What `/metrics` serves of one watched target: its pktgen and its session's gauges.
pub(super) struct Watched {
    pub place: Place,
    pub procfs: SharedProcfs,
    pub gauges: WatchGauges,
}

/// What `/metrics` serves: every watched target, and what the latest run of the watched
/// state received.
pub(super) struct Scraped {
    pub watched: Vec<Watched>,
    pub latest_run: LatestRun,
}

/// Where the latest run of the watched state is recorded ([`run_record`]).
pub(super) struct LatestRun {
    pub run_dir: std::path::PathBuf,
    pub state: std::path::PathBuf,
}

/// The `/metrics` body: the watch sessions' counters, a fresh read of every pktgen and what
/// the latest run received.
pub(super) fn render_watch(scraped: &Scraped) -> String {
    let watched = &scraped.watched;
    let mut registry = Registry::with_prefix("pgstate");
    let several = watched.len() > 1;
    let snapshots: Vec<_> = watched
        .iter()
        .map(|w| {
            w.gauges.with(|g| {
                (
                    g.stats
                        .as_ref()
                        .map(StatsHandle::snapshot)
                        .unwrap_or_default(),
                    g.converged,
                    g.last_converge_unix,
                )
            })
        })
        .collect();
    let sessions: Vec<SessionMetrics<'_>> = watched
        .iter()
        .zip(&snapshots)
        .map(|(w, (stats, converged, last))| SessionMetrics {
            labels: place_labels(&w.place, several),
            stats,
            converged: *converged,
            last: *last,
        })
        .collect();
    register_watch(&mut registry, &sessions);
    let devices: Vec<Option<Vec<DeviceReport>>> = watched
        .iter()
        .map(
            |w| match run::reports(&*w.procfs, run::ReportMode::Status) {
                Ok(d) => Some(d),
                Err(e) => {
                    tracing::warn!("metrics: reading pktgen of {}: {e}", w.place);
                    None
                }
            },
        )
        .collect();
    let readings: Vec<_> = watched
        .iter()
        .zip(&devices)
        .map(|(w, d)| (&w.place, d.as_deref()))
        .collect();
    register_box(&mut registry, &readings);
    let latest = &scraped.latest_run;
    if let Some(record) = run_record::read(&latest.run_dir, &latest.state) {
        register_latest_run(&mut registry, &record);
    }
    encode(&registry)
}
