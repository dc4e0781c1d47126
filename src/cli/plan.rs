//! `pgstate plan STATE`: print the writes that would take the live state to STATE, and with
//! `--out` save them for `apply`.

use std::io::Write;

use anyhow::Result;

use pgstate::apply::plan_against;

use super::args::{Cli, PlanArgs};
use super::common::Outcome;
use super::common::{live_text, load, locate_plan_error, open_procfs};
use super::pktgen::Access;
use super::render;
use super::saved_plan::SavedPlan;

pub(super) fn run(cli: &Cli, a: &PlanArgs, stdout: &mut impl Write) -> Result<Outcome> {
    let mut loaded = load(&a.state)?;
    if a.destroy {
        loaded.desired.devices.clear();
        for ns in loaded.namespaces.values_mut() {
            ns.desired.devices.clear();
        }
    }
    if !loaded.namespaces.is_empty() {
        return super::netns::plan(cli, a, &loaded, stdout);
    }
    let opened = open_procfs(cli, Access::Read)?;
    let procfs = opened.procfs();
    let (live, _, plan) =
        plan_against(procfs, &loaded.desired).map_err(|e| locate_plan_error(e, &loaded))?;
    if a.json {
        writeln!(stdout, "{}", render::plan_json(&plan, &loaded.sources))?;
    } else {
        write!(stdout, "{}", render::plan_text(&plan, cli.verbose > 0))?;
    }
    if let Some(out) = &a.out {
        let saved = SavedPlan::new(&loaded.files, live_text(&live, procfs)?, &plan)?;
        saved.write(out)?;
        if !a.json {
            writeln!(
                stdout,
                "Saved the plan to {}; `pgstate apply {}` performs exactly it.",
                out.display(),
                out.display()
            )?;
        }
    }
    Ok(if a.detailed_exitcode && !plan.is_empty() {
        Outcome::Changes
    } else {
        Outcome::Ok
    })
}
