//! `pgstate status [STATE | --all-namespaces]`: what is running now and the last results,
//! per device, in every target.

use std::io::Write;

use anyhow::Result;

use pgstate::run::DeviceReport;
use pgstate::targets::{self, Place};

use super::args::{Cli, StatusArgs, StatusFormat};
use super::common::selected_targets;
use super::common::Outcome;
use super::metrics;
use super::pktgen::Access;
use super::results;
use super::run_record;

pub(super) fn run(cli: &Cli, a: &StatusArgs, stdout: &mut impl Write) -> Result<Outcome> {
    let targets = selected_targets(cli, a.state.as_deref(), a.all_namespaces, Access::Read)?;
    let several = targets.len() > 1;
    let reports = targets::status(&targets)
        .map_err(|e| anyhow::anyhow!(e.into_labelled(several)).context("reading results"))?;
    let readings: Vec<(&Place, &[DeviceReport])> = targets
        .iter()
        .map(|t| t.place())
        .zip(reports.iter().map(Vec::as_slice))
        .collect();
    // What arrived is known only to the run that received it: its record (see run_record).
    let latest = a
        .state
        .as_deref()
        .and_then(|s| run_record::read(&cli.run_dir, s));
    let format = if a.json { StatusFormat::Json } else { a.format };
    match format {
        StatusFormat::Json => writeln!(
            stdout,
            "{}",
            results::status_json(&readings, latest.as_ref())
        )?,
        StatusFormat::Text => {
            let text = results::status_text(&readings);
            match &latest {
                Some(r) => {
                    writeln!(stdout, "{}", text.trim_end())?;
                    write!(stdout, "{}", results::latest_run_text(r))?;
                }
                None => write!(stdout, "{text}")?,
            }
        }
        StatusFormat::Prometheus => write!(
            stdout,
            "{}",
            metrics::render_status(&readings, latest.as_ref())
        )?,
    }
    Ok(Outcome::Ok)
}
