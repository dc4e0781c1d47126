//! The real `pgstate watch` binary as a service manager and a monitoring system see it:
//! systemd's notification protocol (`NOTIFY_SOCKET`: readiness, status, reload, watchdog,
//! stop) and the Prometheus metrics (`--metrics-listen`, `status --format prometheus`),
//! against a static pktgen directory (`--proc-root`) in the 6.12 file formats. `--check-only`
//! keeps watch from writing to the static files. Every wait is bounded and waits for a
//! condition, never for a fixed delay; the metrics server listens on loopback only.

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::fake_box::FakeBox;
use common::watch_metrics::{sample, scrape, signal, wait_exit, MetricsWatch, WAIT};

/// The fake box with device eth0 (count 1000, 12 packets sent, 3 errors) on thread 0, and a
/// state file for eth0.
struct ServiceBox {
    fake: FakeBox,
}

impl ServiceBox {
    fn new() -> ServiceBox {
        let fake = FakeBox::new();
        fake.add_device_with_counters(0, "eth0", "02:00:00:00:00:10", 12, 3);
        fake.file(
            "state.yaml",
            "devices:\n  eth0:\n    thread: 0\n    count: 1000\n",
        );
        ServiceBox { fake }
    }

    fn state(&self) -> PathBuf {
        self.fake.path("state.yaml")
    }

    fn command(&self, args: &[&str]) -> Command {
        self.fake.command(args)
    }

    fn run(&self, args: &[&str]) -> Output {
        self.fake.run(args)
    }
}

/// A Unix datagram socket standing in for systemd's notification socket.
struct NotifySocket {
    path: PathBuf,
    socket: UnixDatagram,
}

impl NotifySocket {
    fn new(b: &ServiceBox) -> NotifySocket {
        let path = b.fake.dir().join("notify.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        NotifySocket { path, socket }
    }

    /// The messages received until one has a line `want`, each as its lines; panics after
    /// [`WAIT`] with what came.
    fn until(&self, want: &str, seen: &mut Vec<Vec<String>>) {
        let deadline = Instant::now() + WAIT;
        let mut buf = [0u8; 4096];
        while Instant::now() < deadline {
            let Ok(n) = self.socket.recv(&mut buf) else {
                continue;
            };
            let lines: Vec<String> = String::from_utf8_lossy(&buf[..n])
                .lines()
                .map(str::to_owned)
                .collect();
            let done = lines.iter().any(|l| l == want);
            seen.push(lines);
            if done {
                return;
            }
        }
        panic!("no {want} within {WAIT:?}; received: {seen:?}");
    }
}

#[test]
fn under_systemd_watch_notifies_ready_status_reloading_watchdog_and_stopping() {
    let b = ServiceBox::new();
    let sock = NotifySocket::new(&b);
    let state = b.state().display().to_string();
    let mut child = b
        .command(&["watch", "--check-only", "--poll-interval", "1h", &state])
        .env("NOTIFY_SOCKET", &sock.path)
        // 400 ms: WATCHDOG=1 every 200 ms. No WATCHDOG_PID: meant for whoever reads it.
        .env("WATCHDOG_USEC", "400000")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut seen = Vec::new();
    sock.until("READY=1", &mut seen);
    let ready = seen.last().unwrap().clone();
    assert!(
        ready.iter().any(|l| l.starts_with("STATUS=")),
        "READY=1 comes with a status line: {ready:?}"
    );
    sock.until("WATCHDOG=1", &mut seen);
    signal(&child, "HUP");
    sock.until("RELOADING=1", &mut seen);
    let reloading = seen.last().unwrap().clone();
    assert!(
        reloading.iter().any(|l| l.starts_with("MONOTONIC_USEC=")),
        "{reloading:?}"
    );
    sock.until("READY=1", &mut seen);
    signal(&child, "TERM");
    sock.until("STOPPING=1", &mut seen);
    assert!(wait_exit(&mut child).success());
}

#[test]
fn watch_once_under_systemd_is_ready_with_a_status_then_stopping() {
    let b = ServiceBox::new();
    let sock = NotifySocket::new(&b);
    let state = b.state().display().to_string();
    let out = b
        .command(&["watch", "--once", "--check-only", &state])
        .env("NOTIFY_SOCKET", &sock.path)
        .output()
        .unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 2)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut seen = Vec::new();
    sock.until("READY=1", &mut seen);
    let status = seen
        .last()
        .unwrap()
        .iter()
        .find_map(|l| l.strip_prefix("STATUS="))
        .unwrap()
        .to_owned();
    assert!(
        status.starts_with("converged: 1 device") || status.starts_with("drift (check-only)"),
        "{status}"
    );
    sock.until("STOPPING=1", &mut seen);
}

#[test]
fn outside_systemd_watch_sends_nothing_and_works_as_before() {
    let b = ServiceBox::new();
    let state = b.state().display().to_string();
    let out = b.run(&["watch", "--once", "--check-only", &state]);
    assert!(
        matches!(out.status.code(), Some(0 | 2)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every line is a `# HELP`/`# TYPE` comment or `name{labels} value`; every sample's family
/// has a TYPE line before it.
fn assert_exposition_format(text: &str) {
    let mut typed = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut w = rest.split(' ');
            typed.push(w.next().unwrap().to_owned());
            assert!(matches!(w.next(), Some("counter" | "gauge")), "{line}");
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        let (name, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
        value
            .parse::<f64>()
            .unwrap_or_else(|_| panic!("not a number: {line}"));
        let family = name.split('{').next().unwrap();
        assert!(
            family
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{line}"
        );
        assert!(typed.iter().any(|t| t == family), "no TYPE for {line}");
    }
}

#[test]
fn status_format_prometheus_prints_per_device_and_box_gauges() {
    let b = ServiceBox::new();
    let out = b.run(&["status", "--format", "prometheus"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert_exposition_format(&text);
    let labels = r#"{device="eth0",thread="0"}"#;
    for (name, value) in [
        ("pgstate_pktgen_up", "1"),
        ("pgstate_devices", "1"),
        ("pgstate_devices_running", "0"),
        (
            &format!("pgstate_device_packets_total{labels}") as &str,
            "12",
        ),
        (&format!("pgstate_device_errors_total{labels}"), "3"),
        (&format!("pgstate_device_running{labels}"), "0"),
    ] {
        assert_eq!(
            sample(&text, name).as_deref(),
            Some(value),
            "{name}:\n{text}"
        );
    }
    // The watch's own counters belong to /metrics only.
    assert!(!text.contains("pgstate_watch_"), "{text}");
    // --json and --format json agree.
    let a = b.run(&["status", "--json"]);
    let j = b.run(&["status", "--format", "json"]);
    assert_eq!(a.stdout, j.stdout);
}

#[test]
fn metrics_listen_serves_watch_counters_and_pktgen_counters_on_loopback() {
    let b = ServiceBox::new();
    let watch = MetricsWatch::start(&b.fake, &b.state(), "1h");
    let addr = watch.addr.clone();
    // Wait for the first reconcile to be counted.
    let deadline = Instant::now() + WAIT;
    let body = loop {
        let response = scrape(&addr, "/metrics");
        let (head, body) = response.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(head.contains("text/plain; version=0.0.4"), "{head}");
        if sample(body, "pgstate_watch_reconciles_total").as_deref() == Some("1") {
            break body.to_owned();
        }
        assert!(Instant::now() < deadline, "no reconcile counted:\n{body}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_exposition_format(&body);
    for name in [
        "pgstate_watch_applies_total",
        "pgstate_watch_repairs_total",
        "pgstate_watch_failures_total",
        "pgstate_converged",
        "pgstate_pktgen_up",
        "pgstate_devices",
    ] {
        assert!(sample(&body, name).is_some(), "{name}:\n{body}");
    }
    let labels = r#"{device="eth0",thread="0"}"#;
    assert_eq!(
        sample(&body, &format!("pgstate_device_packets_total{labels}")).as_deref(),
        Some("12")
    );
    assert_eq!(
        sample(&body, &format!("pgstate_device_errors_total{labels}")).as_deref(),
        Some("3")
    );
    if sample(&body, "pgstate_converged").as_deref() == Some("1") {
        assert!(
            sample(&body, "pgstate_last_converge_timestamp_seconds").is_some(),
            "{body}"
        );
    }
    assert!(watch.stop().success());
}
