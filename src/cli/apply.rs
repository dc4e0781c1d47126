//! `pgstate apply STATE|PLAN`: plan, write, verify, roll back on failure; a saved plan is
//! performed exactly or refused.

use std::io::Write;

use anyhow::{Context, Result};

use pgstate::state_file;
use pgstate::targets::{self, Reach};

use super::args::{ApplyArgs, Cli};
use super::common::Outcome;
use super::common::{converge, interrupt_flag, load, open_targets, take_lock};
use super::pktgen::Access;
use super::render;
use pgstate::targets::saved_plan::SavedPlan;

pub(super) fn run(cli: &Cli, a: &ApplyArgs, stdout: &mut impl Write) -> Result<Outcome> {
    let saved = SavedPlan::read(&a.state)?;
    let loaded = match &saved {
        Some(sp) => state_file::load_texts(&sp.state_files())
            .map_err(anyhow::Error::new)
            .with_context(|| format!("the state files saved in {}", a.state.display()))?,
        None => load(&a.state)?,
    };
    let targets = open_targets(
        cli,
        targets::from_state(loaded),
        Access::Change,
        Reach::Once,
    )?;
    let _lock = take_lock(cli, &a.lock)?;
    let interrupt = interrupt_flag()?;
    let reports = converge(cli, &targets, saved.as_ref(), !a.json, &interrupt, stdout)?;
    let plans = render::target_plans(&targets, reports.iter().map(|r| &r.plan));
    if a.json {
        writeln!(stdout, "{}", render::applied_json(&plans))?;
    } else if !cli.quiet {
        write!(stdout, "{}", render::applied_text(&plans))?;
    }
    Ok(Outcome::Ok)
}
