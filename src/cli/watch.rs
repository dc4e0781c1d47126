//! `pgstate watch STATE`: keep the box in STATE until stopped; SIGINT/SIGTERM end it, SIGHUP
//! re-reads the files. The loop itself is the library's [`pgstate::watch`]; systemd is told
//! how it goes ([`super::systemd`]) and `--metrics-listen` serves Prometheus metrics
//! ([`super::metrics`]).

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::{Context, Result};

use pgstate::watch::WatchConfig;

use super::args::{Cli, WatchArgs};
use super::common::Outcome;
use super::common::{interrupt_flag, open_procfs};
use super::metrics::{self, WatchGauges};
use super::pktgen::Access;
use super::systemd::Systemd;

pub(super) fn run(cli: &Cli, a: &WatchArgs) -> Result<Outcome> {
    // `--check-only` never writes, so it has no reason to load the module either.
    let access = if a.check_only {
        Access::Read
    } else {
        Access::Change
    };
    let opened = open_procfs(cli, access)?;
    let terminate = interrupt_flag()?;
    let hangup = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&hangup))
        .context("installing the SIGHUP handler")?;
    let config = WatchConfig {
        debounce: a.debounce,
        poll_interval: a.poll_interval,
        check_only: a.check_only,
        refuse_disruptive: a.refuse_disruptive,
        once: a.once,
        lock_file: Some(cli.lock_file.clone()),
        lock_timeout: a.lock_timeout,
        ..WatchConfig::default()
    };
    // A state with `namespaces:` is kept by one session per namespace (a file that does not
    // load now is watched as one box until it is fixed, as before).
    if let Ok(loaded) = super::common::load(&a.state) {
        if !loaded.namespaces.is_empty() {
            return super::netns::watch(a, &loaded, opened, config, &terminate, &hangup);
        }
    }
    let shared = opened.into_shared();
    let gauges = match a.metrics_listen {
        None => None,
        Some(addr) => {
            let gauges = WatchGauges::default();
            metrics::serve(addr, Arc::clone(&shared), gauges.clone())?;
            Some(gauges)
        }
    };
    let mut observer = Systemd::from_env(gauges);
    let summary =
        pgstate::watch::watch(shared, &a.state, config, &terminate, &hangup, &mut observer)
            .with_context(|| format!("watching {}", a.state.display()))?;
    // `--once --check-only` answers like `plan --detailed-exitcode`.
    Ok(if a.once && a.check_only && !summary.in_sync {
        Outcome::Changes
    } else {
        Outcome::Ok
    })
}
