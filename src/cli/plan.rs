//! `pgstate plan STATE`: print the writes that would take the live state to STATE, and with
//! `--out` save them for `apply`.

use std::io::Write;

use anyhow::Result;

use pgstate::targets::{self, agreed, Reach};

use super::args::{Cli, PlanArgs};
use super::common::Outcome;
use super::common::{load, open_targets, plan_targets};
use super::pktgen::Access;
use super::render;
use pgstate::targets::saved_plan::SavedPlan;

pub(super) fn run(cli: &Cli, a: &PlanArgs, stdout: &mut impl Write) -> Result<Outcome> {
    let loaded = load(&a.state)?;
    let files = loaded.files.clone();
    let mut wanted = targets::from_state(loaded);
    if a.destroy {
        for t in &mut wanted {
            t.desired.devices.clear();
        }
    }
    let targets = open_targets(cli, wanted, Access::Read, Reach::Once)?;
    let planned = plan_targets(&targets)?;
    let plans = render::target_plans(&targets, planned.iter().map(|p| &p.plan));
    if a.json {
        writeln!(stdout, "{}", render::plans_json(&plans))?;
    } else {
        write!(stdout, "{}", render::plans_text(&plans, cli.verbose > 0))?;
    }
    if let Some(out) = &a.out {
        let saved = SavedPlan::new(&files, agreed::record(&targets, &planned)?)?;
        super::saved_plan::write(&saved, out)?;
        if !a.json {
            writeln!(
                stdout,
                "Saved the plan to {}; `pgstate apply {}` performs exactly it.",
                out.display(),
                out.display()
            )?;
        }
    }
    Ok(
        if a.detailed_exitcode && planned.iter().any(|p| !p.plan.is_empty()) {
            Outcome::Changes
        } else {
            Outcome::Ok
        },
    )
}
