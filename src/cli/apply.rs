//! `pgstate apply STATE|PLAN`: plan, write, verify, roll back on failure; a saved plan is
//! performed exactly or refused.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

use pgstate::spec;

use super::args::{ApplyArgs, Cli};
use super::common::Outcome;
use super::common::{converge, interrupt_flag, load, open_procfs, take_lock};
use super::pktgen::Access;
use super::render;
use super::saved_plan::SavedPlan;

pub(super) fn run(cli: &Cli, a: &ApplyArgs, stdout: &mut impl Write) -> Result<Outcome> {
    let saved = SavedPlan::read(&a.state)?;
    let loaded = match &saved {
        Some(sp) => {
            let files: Vec<(&Path, &str)> = sp
                .files
                .iter()
                .map(|(p, t)| (p.as_path(), t.as_str()))
                .collect();
            spec::load_texts(&files)
                .map_err(anyhow::Error::new)
                .context("the saved plan's state files")?
        }
        None => load(&a.state)?,
    };
    if !loaded.namespaces.is_empty() {
        return super::netns::apply(cli, a.json, &a.lock, &loaded, stdout);
    }
    let opened = open_procfs(cli, Access::Change)?;
    let _lock = take_lock(cli, &a.lock)?;
    let interrupt = interrupt_flag()?;
    let report = converge(
        cli,
        opened.procfs(),
        &loaded,
        saved.as_ref(),
        !a.json,
        &interrupt,
        stdout,
    )?;
    if a.json {
        writeln!(stdout, "{}", render::apply_json(&report, &loaded.sources))?;
    } else if !cli.quiet {
        write!(stdout, "{}", render::apply_text(&report))?;
    }
    Ok(Outcome::Ok)
}
