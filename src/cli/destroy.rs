//! `pgstate destroy STATE`: remove every device on the threads STATE owns, after asking on a
//! terminal (or with `--yes`); what was agreed to is exactly what happens.

use std::io::{IsTerminal as _, Write};

use anyhow::{Context, Result};

use pgstate::apply::plan_against;

use super::args::{Cli, DestroyArgs};
use super::common::Outcome;
use super::common::{converge, interrupt_flag, live_text, load, open_procfs, take_lock};
use super::pktgen::Access;
use super::render;
use super::render::count;
use super::saved_plan::SavedPlan;

pub(super) fn run(cli: &Cli, a: &DestroyArgs, stdout: &mut impl Write) -> Result<Outcome> {
    // Refuse before anything else: a script that forgot `--yes` must fail the same
    // way whatever the box holds.
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    if !a.yes && !interactive {
        anyhow::bail!(
            "destroy asks before removing devices, but there is no terminal to ask on; \
             pass --yes to remove them without asking (`pgstate plan --destroy` shows \
             what would go)"
        );
    }
    let mut loaded = load(&a.state)?;
    if !loaded.namespaces.is_empty() {
        return super::netns::destroy(cli, a, loaded, stdout, confirm);
    }
    loaded.desired.devices.clear();
    // Without pktgen there is nothing to remove, and no reason to load it.
    let opened = open_procfs(cli, Access::Read)?;
    if !opened.is_loaded() {
        return Ok(Outcome::Ok);
    }
    let procfs = opened.procfs();
    let confirmed = if a.yes {
        None
    } else {
        let (live, _, plan) = plan_against(procfs, &loaded.desired).context("planning")?;
        write!(stdout, "{}", render::plan_text(&plan, cli.verbose > 0))?;
        stdout.flush()?;
        if plan.is_empty() {
            return Ok(Outcome::Ok);
        }
        confirm(&format!(
            "Remove these devices from pktgen? {} Only 'yes' removes them: ",
            removal_summary(&plan)
        ))?;
        // What the user agreed to is what happens: a box changed meanwhile is
        // refused like a stale saved plan.
        Some(SavedPlan::new(
            &loaded.files,
            live_text(&live, procfs)?,
            &plan,
        )?)
    };
    let _lock = take_lock(cli, &a.lock)?;
    let interrupt = interrupt_flag()?;
    let report = converge(
        cli,
        procfs,
        &loaded,
        confirmed.as_ref(),
        confirmed.is_none(),
        &interrupt,
        stdout,
    )?;
    if !cli.quiet {
        write!(stdout, "{}", render::apply_text(&report))?;
    }
    Ok(Outcome::Ok)
}

/// "N devices on M threads", for the destroy question.
fn removal_summary(plan: &pgstate::Plan) -> String {
    format!(
        "{}, {}.",
        count(plan.count(pgstate::plan::ActionKind::Remove), "device"),
        render::writes(plan.writes.len())
    )
}

/// Asks `question` on stderr and reads the answer from stdin; anything but `yes` cancels.
fn confirm(question: &str) -> Result<()> {
    eprint!("{question}");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .context("reading the answer")?;
    if answer.trim() != "yes" {
        anyhow::bail!("destroy cancelled; nothing was removed");
    }
    Ok(())
}
