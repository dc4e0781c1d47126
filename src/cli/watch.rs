//! `pgstate watch STATE`: keep every target of STATE converged until stopped; SIGINT/SIGTERM
//! end it, SIGHUP re-reads the files. The loop itself is the library's
//! [`pgstate::targets::watch`]; systemd is told how it goes ([`super::systemd`]) and
//! `--metrics-listen` serves Prometheus metrics ([`super::metrics`], over
//! [`super::metrics_server`]).

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::{Context, Result};

use pgstate::targets::{self, Place, Reach, Target};
use pgstate::watch::{NoObserver, Observer, WatchConfig};

use super::args::{Cli, WatchArgs};
use super::common::Outcome;
use super::common::{interrupt_flag, load, open_targets};
use super::metrics::{self, WatchGauges, Watched};
use super::metrics_server;
use super::pktgen::Access;
use super::systemd::Systemd;

pub(super) fn run(cli: &Cli, a: &WatchArgs) -> Result<Outcome> {
    // `--check-only` never writes, so it has no reason to load the module either.
    let access = if a.check_only {
        Access::Read
    } else {
        Access::Change
    };
    // A file that does not load now is watched as one box until it is fixed.
    let (wanted, whole) = match load(&a.state) {
        Ok(loaded) => {
            let whole = loaded.namespaces.is_empty();
            (targets::from_state(loaded), whole)
        }
        Err(_) => (vec![Target::bare(Place::Here)], true),
    };
    let targets = open_targets(cli, wanted, access, Reach::Watch)?;
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
    let gauges: Option<Vec<WatchGauges>> = a
        .metrics_listen
        .map(|_| targets.iter().map(|_| WatchGauges::default()).collect());
    if let (Some(addr), Some(gauges)) = (a.metrics_listen, &gauges) {
        let watched = targets
            .iter()
            .zip(gauges)
            .map(|(t, g)| Watched {
                place: t.place().clone(),
                procfs: Arc::clone(&t.procfs),
                gauges: g.clone(),
            })
            .collect();
        let latest_run = metrics::LatestRun {
            run_dir: cli.run_dir.clone(),
            state: a.state.clone(),
        };
        metrics_server::serve(
            addr,
            metrics::Scraped {
                watched,
                latest_run,
            },
        )?;
    }
    // systemd hears from the first session; every session feeds its own gauges.
    let observers: Vec<Box<dyn Observer + Send>> = (0..targets.len())
        .map(|i| {
            let g = gauges.as_ref().map(|g| g[i].clone());
            if i == 0 {
                Box::new(Systemd::from_env(g)) as Box<dyn Observer + Send>
            } else {
                match g {
                    Some(g) => Box::new(g) as Box<dyn Observer + Send>,
                    None => Box::new(NoObserver),
                }
            }
        })
        .collect();
    let several = targets.len() > 1;
    let summaries = targets::watch(
        targets, whole, &a.state, config, &terminate, &hangup, observers,
    )
    .map_err(|e| anyhow::anyhow!(e.into_labelled(several)))
    .with_context(|| format!("watching {}", a.state.display()))?;
    // `--once --check-only` answers like `plan --detailed-exitcode`.
    Ok(
        if a.once && a.check_only && summaries.iter().any(|s| !s.in_sync) {
            Outcome::Changes
        } else {
            Outcome::Ok
        },
    )
}
