//! `pgstate show [--all-namespaces]`: print the live state as a state file (YAML, or JSON
//! with `--json`); with `--all-namespaces` every other network namespace of the box too (those
//! of `/run/netns` by name, those only a process holds as `pid-PID`).

use std::io::Write;

use anyhow::Result;

use pgstate::{state_file, targets};

use super::args::{Cli, ShowArgs};
use super::common::selected_targets;
use super::common::Outcome;
use super::pktgen::Access;
use super::render;

pub(super) fn run(cli: &Cli, a: &ShowArgs, stdout: &mut impl Write) -> Result<Outcome> {
    let targets = selected_targets(cli, None, a.all_namespaces, Access::Read)?;
    let several = targets.len() > 1;
    let shown = targets::show(&targets)
        .map_err(|e| anyhow::anyhow!(e.into_labelled(several)).context("reading the live state"))?;
    if a.json {
        writeln!(stdout, "{}", render::show_json(&shown)?)?;
    } else {
        write!(
            stdout,
            "{}",
            state_file::render_namespaces_state_file(&shown.file, shown.here, &shown.notes)?
        )?;
    }
    Ok(Outcome::Ok)
}
