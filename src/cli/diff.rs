//! `pgstate diff STATE`: a unified diff of the live state against STATE, both written as
//! normalised state files.

use std::io::Write;

use anyhow::{Context, Result};

use pgstate::model::DesiredState;
use pgstate::procfs::observe::read_live_state;
use pgstate::state_file::{self, spec_from_config, StateFile};
use pgstate::targets::{self, Reach};
use pgstate::KernelProfile;

use super::args::{Cli, DiffArgs};
use super::common::Outcome;
use super::common::{load, open_targets, profile_of};
use super::pktgen::Access;

pub(super) fn run(cli: &Cli, a: &DiffArgs, stdout: &mut impl Write) -> Result<Outcome> {
    let loaded = load(&a.state)?;
    let state = a.state.display().to_string();
    let targets = open_targets(cli, targets::from_state(loaded), Access::Read, Reach::Once)?;
    // A single box is diffed as `live` against STATE; several each under their namespace.
    let several = targets.len() > 1;
    let mut text = String::new();
    for t in &targets {
        let (live_name, want_name) = if several {
            let at = t.place();
            (format!("live ({at})"), format!("{state} ({at})"))
        } else {
            ("live".to_owned(), state.clone())
        };
        text.push_str(&unified(
            &*t.procfs,
            &t.target.desired,
            &live_name,
            &want_name,
        )?);
    }
    if text.is_empty() {
        writeln!(stdout, "No differences.")?;
        return Ok(Outcome::Ok);
    }
    write!(stdout, "{text}")?;
    Ok(if a.exit_code {
        Outcome::Differences
    } else {
        Outcome::Ok
    })
}

/// The unified diff of one namespace's live state against `desired`; empty when equal.
fn unified(
    procfs: &dyn pgstate::procfs::Procfs,
    desired: &DesiredState,
    live_name: &str,
    want_name: &str,
) -> Result<String> {
    let live = read_live_state(procfs).context("reading the live state")?;
    let profile = profile_of(procfs);
    let mut live_file = state_file::state_file_from_live(&live, &profile);
    if let Some(owned) = &desired.threads {
        live_file
            .devices
            .retain(|_, d| owned.contains(&pgstate::ThreadId(d.thread)));
    }
    let live_text = state_file::render_state_file(&live_file)?;
    let want_text = state_file::render_state_file(&canonical(desired, &profile))?;
    let diff = similar::TextDiff::from_lines(&live_text, &want_text);
    Ok(diff
        .unified_diff()
        .context_radius(3)
        .header(live_name, want_name)
        .to_string())
}

/// The desired state written the way `show` writes the live one, so that a diff shows only
/// real differences.
fn canonical(desired: &DesiredState, profile: &KernelProfile) -> StateFile {
    StateFile {
        threads: None,
        devices: desired
            .devices
            .iter()
            .map(|(n, d)| {
                (
                    n.as_str().to_owned(),
                    spec_from_config(d.thread, &d.config_for(profile), profile),
                )
            })
            .collect(),
        ..StateFile::default()
    }
}
