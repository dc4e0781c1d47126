//! `pgstate run STATE`: converge like `apply`, open the receivers, start every target's
//! traffic at once, show progress, stop it cleanly on SIGINT/SIGTERM and print what was sent
//! and what arrived.

use std::io::Write;

use anyhow::{bail, Context, Result};

use pgstate::run::RunOptions;
use pgstate::targets::{self, Progress, Reach, Receiving, Target};

use super::args::{Cli, RunArgs};
use super::common::Outcome;
use super::common::{
    converge, interrupt_flag, load, open_targets, same_namespace_for_pgctrl, take_lock,
};
use super::pktgen::Access;
use super::render::count;
use super::run_record::{self, Phase, RunRecord};
use super::{progress, results, run_metrics};

/// What `--metrics-out` may replace, for its refusals.
const METRICS_FILE: &str = "a file of pgstate run metrics";

pub(super) fn run(cli: &Cli, a: &RunArgs, stdout: &mut impl Write) -> Result<Outcome> {
    let loaded = load(&a.state)?;
    same_namespace_for_pgctrl(&cli.proc_root)?;
    // A file --metrics-out may not write is refused before any traffic.
    if let Some(path) = &a.metrics_out {
        super::output::check_output(path, METRICS_FILE, &run_metrics::is_run_metrics)?;
    }
    let mut wanted = targets::from_state(loaded);
    with_max_loss(&mut wanted, a.max_loss);
    let targets = open_targets(cli, wanted, Access::Change, Reach::Run)?;
    let _lock = take_lock(cli, &a.lock)?;
    let interrupt = interrupt_flag()?;
    let quiet_plan = a.json || a.json_stream;
    if quiet_plan {
        converge(cli, &targets, None, false, &interrupt, &mut std::io::sink())?;
    } else {
        converge(cli, &targets, None, true, &interrupt, stdout)?;
    }
    if interrupt.load(std::sync::atomic::Ordering::SeqCst) {
        bail!("interrupted before traffic started");
    }
    let senders = targets.iter().filter(|t| t.sends()).count();
    if senders > 1 && !quiet_plan && !cli.quiet {
        writeln!(stdout, "Starting {} at once.", count(senders, "namespace"))?;
    }
    let opts = RunOptions {
        duration: a.duration,
        interrupt,
        ..RunOptions::default()
    };
    let progress = progress::Progress::new(!a.no_progress && !quiet_plan && !cli.quiet);
    let names: Vec<_> = targets.iter().map(|t| t.place().name().cloned()).collect();
    let receiving = Receiving { drain: a.drain };
    let receives = targets.iter().any(|t| !t.target.receivers.is_empty());
    let mut report = targets::run(&targets, &opts, receiving, |p: &Progress<'_>| {
        progress.update(&names, p.samples, p.elapsed);
        let received = run_record::received_so_far(&targets, p);
        if a.json_stream {
            // A harness follows the run line by line: each is written out at once. A reader
            // that went away is not the run's problem (the last line says it again).
            let _ = writeln!(stdout, "{}", results::interval_json(&targets, p, &received));
            let _ = stdout.flush();
        }
        if receives {
            record(cli, &a.state, Phase::Receiving { received });
        }
    })
    .map_err(|e| anyhow::anyhow!(*e))
    .context("opening the receivers; nothing was started")?;
    progress.finish();
    if receives {
        let receivers = report.receivers.clone();
        record(cli, &a.state, Phase::Ended { receivers });
    }
    warn_foreign(&report);
    // A single box that could not run is an error, as it always was.
    if report.targets.len() == 1 && report.targets[0].result.is_err() {
        if let Some(Err(e)) = report.targets.pop().map(|t| t.result) {
            return Err(anyhow::Error::new(e)).context("running traffic");
        }
    }
    if let Some(path) = &a.metrics_out {
        super::output::write_output(
            path,
            run_metrics::render(&report).as_bytes(),
            METRICS_FILE,
            run_metrics::is_run_metrics,
        )?;
    }
    if a.json {
        writeln!(stdout, "{}", results::run_json(&report))?;
    } else if a.json_stream {
        writeln!(stdout, "{}", results::run_json_line(&report))?;
    } else {
        write!(stdout, "{}", results::run_text(&report))?;
        write!(stdout, "{}", results::receivers_text(&report.receivers))?;
    }
    let failed = report.targets.iter().filter(|t| t.result.is_err()).count();
    if failed > 0 {
        bail!("the run failed in {}", count(failed, "namespace"));
    }
    Ok(if report.has_problems() {
        Outcome::TrafficProblems
    } else {
        Outcome::Ok
    })
}

/// Records what the receivers received for `status` and `watch` to show. A record that
/// cannot be written costs them that, not the run its traffic: it is logged.
fn record(cli: &Cli, state: &std::path::Path, phase: Phase) {
    if let Err(e) = RunRecord::new(state, phase).write(&cli.run_dir) {
        tracing::warn!("{e:#}");
    }
}

/// `--max-loss` for every receiver whose state sets no `max_loss_percent`.
fn with_max_loss(targets: &mut [Target], max_loss: Option<f64>) {
    for r in targets.iter_mut().flat_map(|t| t.receivers.iter_mut()) {
        r.max_loss_percent = r.max_loss_percent.or(max_loss);
    }
}

/// `start` runs every device of a namespace, also those the state does not own: say so.
fn warn_foreign(report: &targets::RunReport) {
    for t in &report.targets {
        if !t.foreign.is_empty() {
            let foreign: Vec<String> = t.foreign.iter().map(ToString::to_string).collect();
            tracing::warn!(
                "start runs every device of {}, also {} which this state does not own",
                t.place,
                foreign.join(", ")
            );
        }
    }
}
