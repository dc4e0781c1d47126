//! `pgstate schema`: the JSON Schema of state files ([`pgstate::state_file::state_file_schema`]),
//! for editors and other tools; `contrib/pgstate.schema.json` is a copy, checked by a test.

use std::io::Write;

use anyhow::Result;

use super::common::Outcome;

pub(super) fn run(stdout: &mut impl Write) -> Result<Outcome> {
    stdout.write_all(pgstate::state_file::render_state_file_schema().as_bytes())?;
    Ok(Outcome::Ok)
}
