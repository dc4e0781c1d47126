//! `pgstate validate STATE`: check a state offline (syntax, types, kernel ranges,
//! cross-field rules); STATE may be `-` for the standard input.

use std::io::Write;
use std::path::Path;

use anyhow::Result;

use super::args::ValidateArgs;
use super::common::load_or_stdin;
use super::common::Outcome;
use super::render::{self, count};

pub(super) fn run(a: &ValidateArgs, quiet: bool, stdout: &mut impl Write) -> Result<Outcome> {
    let loaded = load_or_stdin(&a.state)?;
    let name = if a.state == Path::new("-") {
        "<stdin>".to_owned()
    } else {
        a.state.display().to_string()
    };
    if a.json {
        let doc = render::ValidJson {
            format_version: render::JSON_FORMAT_VERSION,
            valid: true,
            devices: loaded.desired.devices.len(),
            files: loaded
                .files
                .iter()
                .map(|f| f.display().to_string())
                .collect(),
            notes: loaded.notes.iter().map(render::ProblemJson::of).collect(),
        };
        writeln!(stdout, "{}", serde_json::to_string_pretty(&doc)?)?;
        return Ok(Outcome::Ok);
    }
    // Valid, but refused by some supported kernels: said on stderr, the verdict stays "valid".
    if !quiet {
        for note in &loaded.notes {
            eprintln!("note: {note}");
        }
    }
    writeln!(
        stdout,
        "{name}: valid ({} in {})",
        count(loaded.desired.devices.len(), "device"),
        count(loaded.files.len(), "file")
    )?;
    Ok(Outcome::Ok)
}
