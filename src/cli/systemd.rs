//! Telling systemd how `pgstate watch` is doing (`sd_notify(3)`, with the `sd-notify` crate):
//! `READY=1` once the first reconcile has finished, `RELOADING=1`/`READY=1` around a SIGHUP
//! re-read, `STOPPING=1`, a `STATUS=` line after each reconcile that changes it, and
//! `WATCHDOG=1` at half of `WATCHDOG_USEC` from the watch loop (so a loop stuck in a
//! reconcile stops the heartbeat and systemd restarts the service). Outside systemd (no
//! `NOTIFY_SOCKET`) it does nothing.

use std::time::{Duration, Instant};

use sd_notify::NotifyState;

use pgstate::watch::{Observer, StatsHandle, Status};

use super::metrics::WatchGauges;

/// The watch's [`Observer`]: systemd, and the metrics when they are served.
#[derive(Debug)]
pub(super) struct Systemd {
    enabled: bool,
    watchdog: Option<Duration>,
    last_ping: Option<Instant>,
    last_status: Option<String>,
    warned: bool,
    metrics: Option<WatchGauges>,
}

impl Systemd {
    /// Reads `NOTIFY_SOCKET` and `WATCHDOG_USEC` (and `WATCHDOG_PID`).
    pub(super) fn from_env(metrics: Option<WatchGauges>) -> Systemd {
        let enabled = std::env::var_os("NOTIFY_SOCKET").is_some();
        let watchdog = if enabled {
            sd_notify::watchdog_enabled()
        } else {
            None
        };
        if let Some(w) = watchdog {
            tracing::debug!(watchdog_ms = w.as_millis(), "systemd watchdog enabled");
        }
        Systemd {
            enabled,
            watchdog,
            last_ping: None,
            last_status: None,
            warned: false,
            metrics,
        }
    }

    fn send(&mut self, states: &[NotifyState]) {
        if !self.enabled {
            return;
        }
        if let Err(e) = sd_notify::notify(states) {
            if !std::mem::replace(&mut self.warned, true) {
                tracing::warn!("telling systemd (NOTIFY_SOCKET): {e}");
            }
        }
    }

    /// The status line, if it changed since the last one sent.
    fn fresh<'s>(&mut self, status: &'s Status) -> Option<&'s str> {
        if self.last_status.as_deref() == Some(status.text.as_str()) {
            return None;
        }
        self.last_status = Some(status.text.clone());
        Some(&status.text)
    }
}

impl Observer for Systemd {
    fn started(&mut self, stats: &StatsHandle) {
        if let Some(m) = &mut self.metrics {
            m.started(stats);
        }
    }

    fn ready(&mut self, status: &Status) {
        if let Some(m) = &mut self.metrics {
            m.ready(status);
        }
        self.last_status = Some(status.text.clone());
        self.send(&[NotifyState::Ready, NotifyState::Status(&status.text)]);
        self.last_ping = Some(Instant::now());
    }

    fn reloading(&mut self) {
        if let Some(m) = &mut self.metrics {
            m.reloading();
        }
        // MONOTONIC_USEC lets Type=notify-reload match this message to its reload (systemd
        // 253); plain Type=notify ignores it.
        match NotifyState::monotonic_usec_now() {
            Ok(now) => self.send(&[
                NotifyState::Reloading,
                now,
                NotifyState::Status("reloading the state"),
            ]),
            Err(_) => self.send(&[
                NotifyState::Reloading,
                NotifyState::Status("reloading the state"),
            ]),
        }
        self.last_status = None;
    }

    fn reloaded(&mut self, status: Option<&Status>) {
        if let Some(m) = &mut self.metrics {
            m.reloaded(status);
        }
        let text = status.map_or("reloaded", |s| s.text.as_str()).to_owned();
        self.last_status = Some(text.clone());
        self.send(&[NotifyState::Ready, NotifyState::Status(&text)]);
    }

    fn status(&mut self, status: &Status) {
        if let Some(m) = &mut self.metrics {
            m.status(status);
        }
        if let Some(text) = self.fresh(status) {
            let text = text.to_owned();
            self.send(&[NotifyState::Status(&text)]);
        }
    }

    fn stopping(&mut self) {
        if let Some(m) = &mut self.metrics {
            m.stopping();
        }
        self.send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
    }

    fn alive(&mut self) {
        let Some(period) = self.watchdog else { return };
        let due = self.last_ping.is_none_or(|t| t.elapsed() >= period / 2);
        if due {
            self.send(&[NotifyState::Watchdog]);
            self.last_ping = Some(Instant::now());
        }
    }
}
