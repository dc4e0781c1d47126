//! `pgstate stop`: stop running traffic, from any shell, and wait until every thread is idle.

use std::io::Write;

use anyhow::{Context, Result};

use pgstate::run;

use super::args::{Cli, StopArgs};
use super::common::Outcome;
use super::common::{open_procfs, same_namespace_for_pgctrl};
use super::pktgen::Access;

pub(super) fn run(cli: &Cli, a: &StopArgs, stdout: &mut impl Write) -> Result<Outcome> {
    if a.state.is_some() || a.all_namespaces {
        return super::netns::stop(cli, a.state.as_deref(), a.all_namespaces, stdout);
    }
    same_namespace_for_pgctrl(&cli.proc_root)?;
    let opened = open_procfs(cli, Access::Read)?;
    // Without pktgen nothing runs, and writing `stop` would need the module.
    if opened.is_loaded() {
        run::stop(opened.procfs()).context("stopping traffic")?;
    }
    if !cli.quiet {
        writeln!(stdout, "Stopped: no pktgen device is running.")?;
    }
    Ok(Outcome::Ok)
}
