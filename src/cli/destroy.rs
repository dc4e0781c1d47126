//! `pgstate destroy STATE`: remove every device on the threads STATE owns, in every target,
//! all or none, after asking on a terminal (or with `--yes`); what was agreed to is exactly
//! what happens.

use std::io::{IsTerminal as _, Write};

use anyhow::{Context, Result};

use pgstate::plan::{ActionKind, Plan};
use pgstate::targets::{self, agreed, Reach};

use super::args::{Cli, DestroyArgs};
use super::common::Outcome;
use super::common::{converge, interrupt_flag, load, open_targets, plan_targets, take_lock};
use super::pktgen::Access;
use super::render;
use super::render::count;
use pgstate::targets::saved_plan::SavedPlan;

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
    let loaded = load(&a.state)?;
    let files = loaded.files.clone();
    let mut wanted = targets::from_state(loaded);
    for t in &mut wanted {
        t.desired.devices.clear();
    }
    let targets = open_targets(cli, wanted, Access::Read, Reach::Once)?;
    let agreed = if a.yes {
        None
    } else {
        let planned = plan_targets(&targets)?;
        let plans: Vec<&Plan> = planned.iter().map(|p| &p.plan).collect();
        let shown = render::target_plans(&targets, plans.iter().copied());
        write!(stdout, "{}", render::plans_text(&shown, cli.verbose > 0))?;
        stdout.flush()?;
        if plans.iter().all(|p| p.is_empty()) {
            return Ok(Outcome::Ok);
        }
        confirm(&format!(
            "Remove these devices from pktgen{}? {} Only 'yes' removes them: ",
            match targets.len() {
                1 => String::new(),
                n => format!(" in {}", count(n, "namespace")),
            },
            removal_summary(&plans)
        ))?;
        // What the user agreed to is what happens: a box changed meanwhile is refused like
        // a stale saved plan.
        Some(SavedPlan::new(&files, agreed::record(&targets, &planned)?)?)
    };
    let _lock = take_lock(cli, &a.lock)?;
    let interrupt = interrupt_flag()?;
    let reports = converge(
        cli,
        &targets,
        agreed.as_ref(),
        agreed.is_none(),
        &interrupt,
        stdout,
    )?;
    if !cli.quiet {
        let done = render::target_plans(&targets, reports.iter().map(|r| &r.plan));
        write!(stdout, "{}", render::applied_text(&done))?;
    }
    Ok(Outcome::Ok)
}

/// "N devices on M threads", for the destroy question.
fn removal_summary(plans: &[&Plan]) -> String {
    let removed = plans.iter().map(|p| p.count(ActionKind::Remove)).sum();
    let writes = plans.iter().map(|p| p.writes.len()).sum();
    format!("{}, {}.", count(removed, "device"), render::writes(writes))
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
