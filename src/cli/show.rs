//! `pgstate show`: print the live state as a state file (YAML, or JSON with `--json`).

use std::io::Write;

use anyhow::{Context, Result};

use pgstate::procfs::observe::read_live_state;
use pgstate::spec;

use super::args::{Cli, ShowArgs};
use super::common::Outcome;
use super::common::{open_procfs, profile_of};
use super::pktgen::Access;
use super::render;

pub(super) fn run(cli: &Cli, a: &ShowArgs, stdout: &mut impl Write) -> Result<Outcome> {
    if a.all_namespaces {
        return super::netns::show_all(cli, a.json, stdout);
    }
    let opened = open_procfs(cli, Access::Read)?;
    let procfs = opened.procfs();
    let live = read_live_state(procfs).context("reading the live state")?;
    let file = spec::state_file_from_live(&live, &profile_of(procfs));
    if a.json {
        writeln!(stdout, "{}", render::show_json(&file)?)?;
    } else {
        write!(stdout, "{}", spec::render_state_file(&file)?)?;
    }
    Ok(Outcome::Ok)
}
