//! `pgstate status`: what is running now and the last results, per device.

use std::io::Write;

use anyhow::{Context, Result};

use pgstate::run;

use super::args::{Cli, StatusArgs, StatusFormat};
use super::common::open_procfs;
use super::common::Outcome;
use super::metrics;
use super::pktgen::Access;
use super::render;

pub(super) fn run(cli: &Cli, a: &StatusArgs, stdout: &mut impl Write) -> Result<Outcome> {
    if a.state.is_some() || a.all_namespaces {
        return super::netns::status(cli, a, stdout);
    }
    let opened = open_procfs(cli, Access::Read)?;
    let devices =
        run::reports(opened.procfs(), run::ReportMode::Status).context("reading results")?;
    let format = if a.json { StatusFormat::Json } else { a.format };
    match format {
        StatusFormat::Json => writeln!(stdout, "{}", render::status_json(&devices))?,
        StatusFormat::Text => write!(stdout, "{}", render::results_text(&devices, None))?,
        StatusFormat::Prometheus => write!(stdout, "{}", metrics::render_status(&devices))?,
    }
    Ok(Outcome::Ok)
}
