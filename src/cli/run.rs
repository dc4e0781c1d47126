//! `pgstate run STATE`: converge like `apply`, start traffic, show progress, stop it cleanly
//! on SIGINT/SIGTERM and print the results.

use std::io::Write;

use anyhow::{Context, Result};

use pgstate::procfs::observe::read_live_state;
use pgstate::run::{self, RunOptions};

use super::args::{Cli, RunArgs};
use super::common::Outcome;
use super::common::{
    converge, interrupt_flag, load, open_procfs, same_namespace_for_pgctrl, take_lock,
};
use super::pktgen::Access;
use super::{progress, render};

pub(super) fn run(cli: &Cli, a: &RunArgs, stdout: &mut impl Write) -> Result<Outcome> {
    let loaded = load(&a.state)?;
    if !loaded.namespaces.is_empty() {
        return super::netns::run(cli, a, &loaded, stdout);
    }
    same_namespace_for_pgctrl(&cli.proc_root)?;
    let opened = open_procfs(cli, Access::Change)?;
    let _lock = take_lock(cli, &a.lock)?;
    let interrupt = interrupt_flag()?;
    let procfs = opened.procfs();
    converge(cli, procfs, &loaded, None, !a.json, &interrupt, stdout)?;
    if interrupt.load(std::sync::atomic::Ordering::SeqCst) {
        anyhow::bail!("interrupted before traffic started");
    }
    let live = read_live_state(procfs)?;
    let foreign: Vec<String> = live
        .devices
        .keys()
        .filter(|d| !loaded.desired.devices.contains_key(*d))
        .map(ToString::to_string)
        .collect();
    if !foreign.is_empty() {
        tracing::warn!(
            "start runs every device of this network namespace, also {} which this state does not own",
            foreign.join(", ")
        );
    }
    let opts = RunOptions {
        duration: a.duration,
        interrupt,
        ..RunOptions::default()
    };
    let progress = progress::Progress::new(!a.no_progress && !a.json && !cli.quiet);
    let shared = opened.into_shared();
    let outcome = run::run_traffic(shared, &opts, |samples, elapsed| {
        progress.update(samples, elapsed)
    })
    .context("running traffic")?;
    progress.finish();
    if a.json {
        writeln!(stdout, "{}", render::run_json(&outcome))?;
    } else {
        write!(
            stdout,
            "{}",
            render::results_text(&outcome.devices, Some(&outcome))
        )?;
    }
    Ok(if outcome.has_problems() {
        Outcome::TrafficProblems
    } else {
        Outcome::Ok
    })
}
