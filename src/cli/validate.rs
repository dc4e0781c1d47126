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
    let devices = loaded.desired.devices.len()
        + loaded
            .namespaces
            .values()
            .map(|n| n.desired.devices.len())
            .sum::<usize>();
    if a.json {
        let doc = render::ValidJson {
            format_version: render::JSON_FORMAT_VERSION,
            valid: true,
            devices,
            namespaces: loaded.namespaces.keys().map(ToString::to_string).collect(),
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
    let namespaces = if loaded.namespaces.is_empty() {
        String::new()
    } else {
        let n = loaded.namespaces.len() + usize::from(loaded.current);
        format!(" of {}", count(n, "namespace"))
    };
    writeln!(
        stdout,
        "{name}: valid ({}{namespaces} in {})",
        count(devices, "device"),
        count(loaded.files.len(), "file")
    )?;
    Ok(Outcome::Ok)
}
