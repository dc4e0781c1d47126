//! `pgstate stop [STATE | --all-namespaces]`: stop running traffic, from any shell, and wait
//! until every thread of every target is idle.

use std::io::Write;

use anyhow::{bail, Result};

use pgstate::targets;

use super::args::{Cli, StopArgs};
use super::common::Outcome;
use super::common::{same_namespace_for_pgctrl, selected_targets};
use super::pktgen::Access;
use super::render::count;

pub(super) fn run(cli: &Cli, a: &StopArgs, stdout: &mut impl Write) -> Result<Outcome> {
    same_namespace_for_pgctrl(&cli.proc_root)?;
    let targets = selected_targets(cli, a.state.as_deref(), a.all_namespaces, Access::Read)?;
    if let Err(failed) = targets::stop(&targets) {
        let failed: Vec<String> = failed.iter().map(ToString::to_string).collect();
        bail!("stopping traffic failed in {}", failed.join("; "));
    }
    if !cli.quiet {
        match targets.as_slice() {
            [only] if only.place().name().is_none() => {
                writeln!(stdout, "Stopped: no pktgen device is running.")?;
            }
            _ => writeln!(
                stdout,
                "Stopped: no pktgen device is running in {}.",
                count(targets.len(), "namespace")
            )?,
        }
    }
    Ok(Outcome::Ok)
}
