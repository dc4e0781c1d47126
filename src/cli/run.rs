//! `pgstate run STATE`: converge like `apply`, start every target's traffic at once, show
//! progress, stop it cleanly on SIGINT/SIGTERM and print the results.

use std::io::Write;

use anyhow::{bail, Context, Result};

use pgstate::run::RunOptions;
use pgstate::targets::{self, Reach};

use super::args::{Cli, RunArgs};
use super::common::Outcome;
use super::common::{
    converge, interrupt_flag, load, open_targets, same_namespace_for_pgctrl, take_lock,
};
use super::pktgen::Access;
use super::render::count;
use super::{progress, results};

pub(super) fn run(cli: &Cli, a: &RunArgs, stdout: &mut impl Write) -> Result<Outcome> {
    let loaded = load(&a.state)?;
    same_namespace_for_pgctrl(&cli.proc_root)?;
    let targets = open_targets(cli, targets::from_state(loaded), Access::Change, Reach::Run)?;
    let _lock = take_lock(cli, &a.lock)?;
    let interrupt = interrupt_flag()?;
    converge(cli, &targets, None, !a.json, &interrupt, stdout)?;
    if interrupt.load(std::sync::atomic::Ordering::SeqCst) {
        bail!("interrupted before traffic started");
    }
    if targets.len() > 1 && !a.json && !cli.quiet {
        writeln!(
            stdout,
            "Starting {} at once.",
            count(targets.len(), "namespace")
        )?;
    }
    let opts = RunOptions {
        duration: a.duration,
        interrupt,
        ..RunOptions::default()
    };
    let progress = progress::Progress::new(!a.no_progress && !a.json && !cli.quiet);
    let names: Vec<_> = targets.iter().map(|t| t.place().name().cloned()).collect();
    let mut report = targets::run(&targets, &opts, |samples, elapsed| {
        progress.update(&names, samples, elapsed);
    });
    progress.finish();
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
    // A single box that could not run is an error, as it always was.
    if report.targets.len() == 1 && report.targets[0].result.is_err() {
        if let Some(Err(e)) = report.targets.pop().map(|t| t.result) {
            return Err(anyhow::Error::new(e)).context("running traffic");
        }
    }
    if a.json {
        writeln!(stdout, "{}", results::run_json(&report))?;
    } else {
        write!(stdout, "{}", results::run_text(&report))?;
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
