//! `pgstate import SAMPLE -- ARGS`: print the state file that one of the kernel's
//! `samples/pktgen` scripts would configure with ARGS ([`pgstate::import`]). Reads no kernel.

use std::io::Write;

use anyhow::Result;

use pgstate::import::{import, Sample};
use pgstate::state_file;

use super::args::ImportArgs;
use super::common::Outcome;

pub(super) fn run(a: &ImportArgs, quiet: bool, stdout: &mut impl Write) -> Result<Outcome> {
    let sample = Sample::from_name(&a.sample)?;
    let imported = import(sample, &a.args)?;
    if !quiet {
        for note in &imported.notes {
            eprintln!("note: {note}");
        }
    }
    // Where the state came from, as a comment the loader skips. The arguments are the
    // user's: control characters would end the comment line, so they are escaped.
    let command: String = std::iter::once(sample.script())
        .chain(a.args.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ")
        .escape_default()
        .collect();
    writeln!(stdout, "# pgstate import {}: {command}", sample.name())?;
    write!(stdout, "{}", state_file::render_state_file(&imported.file)?)?;
    Ok(Outcome::Ok)
}
