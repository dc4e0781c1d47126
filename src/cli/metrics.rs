//! Prometheus metrics: `pgstate watch --metrics-listen ADDR` serves them on `/metrics`, and
//! `pgstate status --format prometheus` prints the per-device and box part once (for
//! node_exporter's textfile collector). Both use the Prometheus text format 0.0.4, encoded by
//! `prometheus-client`; a registry is built afresh for each scrape from a fresh read of
//! pktgen, so the values are pktgen's own at that moment.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use pgstate::procfs::Procfs;
use pgstate::run::{self, DeviceReport};
use pgstate::watch::{Observer, StatsHandle, Status, WatchStats};

/// How long one scrape may take to send its request and read the answer.
const SCRAPE_IO_TIMEOUT_MS: u64 = 5000;

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

fn counter(registry: &mut Registry, name: &str, help: &str, value: u64) {
    let c: Counter = Counter::default();
    c.inc_by(value);
    registry.register(name, help, c);
}

fn gauge(registry: &mut Registry, name: &str, help: &str, value: i64) {
    let g: Gauge = Gauge::default();
    g.set(value);
    registry.register(name, help, g);
}

/// Registers the per-device and box metrics of a fresh read of pktgen; `None` when pktgen
/// could not be read (`pgstate_pktgen_up 0`).
fn register_box(registry: &mut Registry, devices: Option<&[DeviceReport]>) {
    gauge(
        registry,
        "pktgen_up",
        "Whether pktgen's files could be read (1) or not (0)",
        i64::from(devices.is_some()),
    );
    let Some(devices) = devices else { return };
    let count = |f: fn(&&DeviceReport) -> bool| {
        i64::try_from(devices.iter().filter(f).count()).unwrap_or(i64::MAX)
    };
    gauge(
        registry,
        "devices",
        "Devices on pktgen's threads",
        count(|_| true),
    );
    gauge(
        registry,
        "devices_running",
        "Devices sending now",
        count(|d| d.running),
    );
    let packets = Family::<Labels, Counter>::default();
    let errors = Family::<Labels, Counter>::default();
    let running = Family::<Labels, Gauge>::default();
    for d in devices {
        let labels = vec![
            ("device".to_owned(), d.device.to_string()),
            ("thread".to_owned(), d.thread.to_string()),
        ];
        packets.get_or_create(&labels).inc_by(d.packets);
        errors.get_or_create(&labels).inc_by(d.errors);
        running.get_or_create(&labels).set(i64::from(d.running));
    }
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

fn register_watch(registry: &mut Registry, stats: &WatchStats, converged: bool, last: Option<u64>) {
    let c = |r: &mut Registry, n, h, v| counter(r, n, h, v);
    c(
        registry,
        "watch_reconciles",
        "Reconciles with a state to reconcile to",
        stats.reconciles,
    );
    c(
        registry,
        "watch_applies",
        "Successful applies with at least one write",
        stats.applies,
    );
    c(
        registry,
        "watch_repairs",
        "Applies a poll triggered: drift repairs",
        stats.repairs,
    );
    c(
        registry,
        "watch_writes",
        "Writes performed by successful applies",
        stats.writes,
    );
    c(
        registry,
        "watch_failures",
        "Plans or applies that failed",
        stats.failures,
    );
    c(
        registry,
        "watch_drift_reports",
        "Check-only reconciles that found differences",
        stats.drift_reports,
    );
    c(
        registry,
        "watch_refused",
        "Plans refused because they would stop running traffic",
        stats.refused,
    );
    c(
        registry,
        "watch_invalid_loads",
        "Re-reads that found the state files invalid",
        stats.invalid,
    );
    gauge(
        registry,
        "converged",
        "Whether the box matches the state now (1) or not (0)",
        i64::from(converged),
    );
    if let Some(t) = last {
        gauge(
            registry,
            "last_converge_timestamp_seconds",
            "Unix time of the last reconcile that found or left the box converged",
            i64::try_from(t).unwrap_or(i64::MAX),
        );
    }
}

fn encode(registry: &Registry) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = prometheus_text::encode(&mut out, registry);
    out
}

/// `pgstate status --format prometheus`: the per-device and box gauges, once.
pub(super) fn render_status(devices: &[DeviceReport]) -> String {
    let mut registry = Registry::with_prefix("pgstate");
    register_box(&mut registry, Some(devices));
    encode(&registry)
}

/// The `/metrics` body: the watch's counters and a fresh read of pktgen.
fn render_watch(procfs: &dyn Procfs, watch: &WatchGauges) -> String {
    let mut registry = Registry::with_prefix("pgstate");
    let (stats, converged, last) = watch.with(|w| {
        (
            w.stats
                .as_ref()
                .map(StatsHandle::snapshot)
                .unwrap_or_default(),
            w.converged,
            w.last_converge_unix,
        )
    });
    register_watch(&mut registry, &stats, converged, last);
    let devices = match run::reports(procfs, run::ReportMode::Status) {
        Ok(d) => Some(d),
        Err(e) => {
            tracing::warn!("metrics: reading pktgen: {e}");
            None
        }
    };
    register_box(&mut registry, devices.as_deref());
    encode(&registry)
}

/// Binds `addr` and serves `/metrics` from a thread, for as long as the process runs.
pub(super) fn serve(
    addr: SocketAddr,
    procfs: Arc<dyn Procfs + Send + Sync>,
    watch: WatchGauges,
) -> Result<SocketAddr> {
    let listener =
        TcpListener::bind(addr).with_context(|| format!("--metrics-listen {addr}: binding"))?;
    let local = listener
        .local_addr()
        .context("--metrics-listen: the bound address")?;
    tracing::info!(%local, "serving metrics on /metrics");
    std::thread::Builder::new()
        .name("metrics".to_owned())
        .spawn(move || {
            for stream in listener.incoming() {
                match stream {
                    Ok(s) => {
                        if let Err(e) = answer(s, &*procfs, &watch) {
                            tracing::debug!("metrics: {e}");
                        }
                    }
                    Err(e) => tracing::debug!("metrics: accept: {e}"),
                }
            }
        })
        .context("starting the metrics thread")?;
    Ok(local)
}

/// Answers one HTTP/1.x request: `GET /metrics` (or `HEAD`), 404 for other paths, 405 for
/// other methods. One request per connection.
fn answer(stream: TcpStream, procfs: &dyn Procfs, watch: &WatchGauges) -> std::io::Result<()> {
    let timeout = Some(Duration::from_millis(SCRAPE_IO_TIMEOUT_MS));
    stream.set_read_timeout(timeout)?;
    stream.set_write_timeout(timeout)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    // The headers are read and ignored, so the client sees a clean close.
    let mut line = String::new();
    while reader.read_line(&mut line)? > 2 {
        line.clear();
    }
    let mut words = request.split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    let (code, kind, body) = match (method, path) {
        ("GET" | "HEAD", "/metrics") => (
            "200 OK",
            prometheus_text::CONTENT_TYPE,
            render_watch(procfs, watch),
        ),
        ("GET" | "HEAD", _) => (
            "404 Not Found",
            "text/plain; charset=utf-8",
            "pgstate serves /metrics only\n".to_owned(),
        ),
        _ => (
            "405 Method Not Allowed",
            "text/plain; charset=utf-8",
            "GET /metrics\n".to_owned(),
        ),
    };
    let mut out = &stream;
    write!(
        out,
        "HTTP/1.1 {code}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    if method != "HEAD" {
        out.write_all(body.as_bytes())?;
    }
    out.flush()
}
