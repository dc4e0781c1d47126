//! A real `pgstate watch --check-only --metrics-listen 127.0.0.1:0` on a [`FakeBox`], and
//! scrapes of it: the one way the tests that look at the metrics endpoint start it. The
//! server listens on loopback only; every wait is bounded.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::fake_box::FakeBox;

/// The bound on every wait for the process: its address, its exit, a scrape's answer.
pub const WAIT: Duration = Duration::from_secs(20);

/// A running `pgstate watch` serving metrics; killed when dropped, if still running.
pub struct MetricsWatch {
    pub child: Child,
    /// `127.0.0.1:PORT`, as the process logged it (`local=`).
    pub addr: String,
}

impl MetricsWatch {
    /// `pgstate watch --check-only --poll-interval POLL --metrics-listen 127.0.0.1:0 STATE`
    /// on `fake`; returns once the process has logged the address it serves on.
    pub fn start(fake: &FakeBox, state: &Path, poll: &str) -> MetricsWatch {
        let state = state.display().to_string();
        let mut child = fake
            .command(&[
                "watch",
                "--check-only",
                "--poll-interval",
                poll,
                "--metrics-listen",
                "127.0.0.1:0",
                &state,
            ])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The port is the kernel's choice, logged as `local=ADDR` (the lab greps it too).
        let (tx, rx) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(at) = line.split("local=").nth(1) {
                    let _ = tx.send(at.split_whitespace().next().unwrap_or("").to_owned());
                }
            }
        });
        let addr = match rx.recv_timeout(WAIT) {
            Ok(addr) => addr,
            Err(e) => {
                let _ = child.kill();
                panic!("the metrics address is not logged within {WAIT:?}: {e}");
            }
        };
        assert!(addr.starts_with("127.0.0.1:"), "{addr}");
        MetricsWatch { child, addr }
    }

    /// Stops the process with SIGTERM and returns how it exited.
    pub fn stop(mut self) -> ExitStatus {
        signal(&self.child, "TERM");
        wait_exit(&mut self.child)
    }

    /// The process's resident memory now, in bytes (`VmRSS` in /proc/PID/status).
    pub fn rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().strip_suffix("kB"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no VmRSS in {status}"));
        kb * 1024
    }

    /// How many file descriptors the process has open.
    pub fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .unwrap()
            .count()
    }
}

impl Drop for MetricsWatch {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Sends `signal` (`HUP`, `TERM`) to `child` with kill(1).
pub fn signal(child: &Child, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

/// Waits for `child` to exit, bounded; kills it if it does not.
pub fn wait_exit(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("pgstate watch did not exit within {WAIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends `request` as it is and reads the whole answer (the server closes after one).
pub fn exchange(addr: &str, request: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// `GET path` over HTTP/1.1 as a scraper sends it: the whole answer, head and body.
pub fn scrape(addr: &str, path: &str) -> String {
    exchange(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n"),
    )
}

/// A `GET /metrics` that must succeed: its body and how long the answer took.
pub fn timed_scrape(addr: &str) -> (String, Duration) {
    let started = Instant::now();
    let response = scrape(addr, "/metrics");
    let took = started.elapsed();
    let (head, body) = response
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no head: {response:?}"));
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    (body.to_owned(), took)
}

/// The value of the sample line `name` (with its labels, as printed).
pub fn sample(text: &str, name: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ').map(str::to_owned))
}

/// `pgstate_watch_reconciles_total` in a `/metrics` body.
pub fn reconciles(body: &str) -> u64 {
    sample(body, "pgstate_watch_reconciles_total")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no pgstate_watch_reconciles_total:\n{body}"))
}
