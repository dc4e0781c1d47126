//! `pgstate status`: what is running now and the last results, per device.

use std::io::Write;

use anyhow::{Context, Result};

use pgstate::run;

use super::args::{Cli, JsonArg};
use super::common::open_procfs;
use super::common::Outcome;
use super::pktgen::Access;
use super::render;

pub(super) fn run(cli: &Cli, a: &JsonArg, stdout: &mut impl Write) -> Result<Outcome> {
    let opened = open_procfs(cli, Access::Read)?;
    let devices =
        run::reports(opened.procfs(), run::ReportMode::Status).context("reading results")?;
    if a.json {
        writeln!(stdout, "{}", render::status_json(&devices))?;
    } else {
        write!(stdout, "{}", render::results_text(&devices, None))?;
    }
    Ok(Outcome::Ok)
}
