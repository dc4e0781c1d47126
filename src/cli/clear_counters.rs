//! `pgstate clear-counters`: reset the counters of every device (`clear_counters`).

use std::io::Write;

use anyhow::{Context, Result};

use pgstate::apply;
use pgstate::procfs::observe::read_live_state;

use super::args::Cli;
use super::common::open_procfs;
use super::common::Outcome;
use super::pktgen::Access;
use super::render::count;

pub(super) fn run(cli: &Cli, stdout: &mut impl Write) -> Result<Outcome> {
    let opened = open_procfs(cli, Access::Read)?;
    let procfs = &*opened.procfs;
    let live = read_live_state(procfs)?;
    for name in live.devices.keys() {
        let w = pgstate::Write {
            file: pgstate::PgFile::Device(name.clone()),
            command: "clear_counters".into(),
            device: Some(name.clone()),
            field: None,
            check: pgstate::plan::ResultCheck::DeviceOk,
            wait_gone: Vec::new(),
        };
        apply::execute_write(procfs, &w).with_context(|| format!("{name}: clear_counters"))?;
    }
    if !cli.quiet {
        writeln!(
            stdout,
            "Cleared the counters of {}.",
            count(live.devices.len(), "device")
        )?;
    }
    Ok(Outcome::Ok)
}
