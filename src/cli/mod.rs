//! The command-line interface: argument parsing, one function per subcommand, rendering.
//! Exit codes are decided in `main.rs`.

pub mod args;
pub mod render;

use std::io::Write as _;
use std::path::Path;

use anyhow::{Context, Result};

use pgstate::apply::{self, plan_against};
use pgstate::model::DesiredState;
use pgstate::procfs::observe::read_live_state;
use pgstate::procfs::real::{load_module, DEFAULT_ROOT};
use pgstate::procfs::{Procfs, ProcfsError, RealProcfs};
use pgstate::spec::{self, spec_from_config, StateFile};
use pgstate::{KernelProfile, LoadedState};

use args::{Cli, Command};

/// What a command concluded, for the exit code.
pub enum Outcome {
    /// Done, nothing pending.
    Ok,
    /// `plan --detailed-exitcode` found changes.
    Changes,
}

fn load(path: &Path) -> Result<LoadedState> {
    spec::load_path(path).map_err(anyhow::Error::new)
}

/// Opens the pktgen directory, loading the module once if the default one is missing.
fn open_procfs(cli: &Cli) -> Result<RealProcfs> {
    let procfs = RealProcfs::new(&cli.proc_root).with_sys_class_net(&cli.sys_class_net);
    if !cli.proc_root.exists() && cli.proc_root == Path::new(DEFAULT_ROOT) {
        tracing::info!("{DEFAULT_ROOT} is missing; running modprobe pktgen");
        if let Err(e) = load_module() {
            anyhow::bail!(
                "{DEFAULT_ROOT} does not exist and `modprobe pktgen` failed ({e}).\n\
                 pktgen is not available on this kernel: install the kernel's modules package \
                 (CONFIG_NET_PKTGEN) or point --proc-root at a pktgen directory"
            );
        }
    }
    procfs.list().map_err(explain)?;
    Ok(procfs)
}

fn explain(e: ProcfsError) -> anyhow::Error {
    anyhow::Error::new(e)
}

fn profile_of(procfs: &dyn Procfs) -> KernelProfile {
    procfs
        .kernel_release()
        .and_then(|r| KernelProfile::from_release(&r))
        .unwrap_or_default()
}

/// Runs the parsed command line.
pub fn run(cli: &Cli) -> Result<Outcome> {
    let mut stdout = std::io::stdout().lock();
    match &cli.command {
        Command::Validate(a) => {
            let loaded = load(&a.state)?;
            writeln!(
                stdout,
                "{}: valid ({} devices in {} files)",
                a.state.display(),
                loaded.desired.devices.len(),
                loaded.files.len()
            )?;
            Ok(Outcome::Ok)
        }
        Command::Plan(a) => {
            let loaded = load(&a.state)?;
            let procfs = open_procfs(cli)?;
            let (_, _, plan) = plan_against(&procfs, &loaded.desired).context("planning")?;
            if a.json {
                writeln!(stdout, "{}", render::plan_json(&plan))?;
            } else {
                write!(stdout, "{}", render::plan_text(&plan, cli.verbose > 0))?;
            }
            Ok(if a.detailed_exitcode && !plan.is_empty() {
                Outcome::Changes
            } else {
                Outcome::Ok
            })
        }
        Command::Apply(a) => {
            let loaded = load(&a.state)?;
            let procfs = open_procfs(cli)?;
            let (live, env, plan) = plan_against(&procfs, &loaded.desired).context("planning")?;
            if !a.json && !cli.quiet && !plan.is_empty() {
                write!(stdout, "{}", render::plan_text(&plan, cli.verbose > 0))?;
                writeln!(stdout)?;
            }
            let report = apply::apply_plan(&procfs, &loaded.desired, &live, &env, plan)
                .map_err(|e| locate_apply_error(e, &loaded))?;
            if a.json {
                writeln!(stdout, "{}", render::apply_json(&report))?;
            } else if !cli.quiet {
                write!(stdout, "{}", render::apply_text(&report))?;
            }
            Ok(Outcome::Ok)
        }
        Command::Show(a) => {
            let procfs = open_procfs(cli)?;
            let live = read_live_state(&procfs).context("reading the live state")?;
            let file = spec::state_file_from_live(&live, &profile_of(&procfs));
            if a.json {
                writeln!(stdout, "{}", serde_json::to_string_pretty(&file)?)?;
            } else {
                write!(stdout, "{}", serde_yaml::to_string(&file)?)?;
            }
            Ok(Outcome::Ok)
        }
        Command::Diff(a) => {
            let loaded = load(&a.state)?;
            let procfs = open_procfs(cli)?;
            let live = read_live_state(&procfs).context("reading the live state")?;
            let profile = profile_of(&procfs);
            let mut live_file = spec::state_file_from_live(&live, &profile);
            if let Some(owned) = &loaded.desired.threads {
                live_file
                    .devices
                    .retain(|_, d| owned.contains(&pgstate::ThreadId(d.thread)));
            }
            let live_text = serde_yaml::to_string(&live_file)?;
            let want_text = serde_yaml::to_string(&canonical(&loaded.desired, &profile))?;
            let diff = similar::TextDiff::from_lines(&live_text, &want_text);
            let text = diff
                .unified_diff()
                .context_radius(3)
                .header("live", &a.state.display().to_string())
                .to_string();
            if text.is_empty() {
                writeln!(stdout, "No differences.")?;
            } else {
                write!(stdout, "{text}")?;
            }
            Ok(Outcome::Ok)
        }
    }
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
    }
}

/// Adds the state-file location of the field behind a failed write.
fn locate_apply_error(e: pgstate::ApplyError, loaded: &LoadedState) -> anyhow::Error {
    let location = match &e {
        pgstate::ApplyError::Write(failed) => failed.write.device.as_ref().and_then(|d| {
            let write = &failed.write;
            loaded
                .sources
                .locate(d, write.field.as_deref())
                .map(|l| (l, d.clone(), write.field.clone()))
        }),
        _ => None,
    };
    let err = anyhow::Error::new(e);
    match location {
        Some((loc, dev, field)) => err.context(format!(
            "{loc}: devices.{dev}{}: the kernel refused this setting",
            field.map(|f| format!(".{f}")).unwrap_or_default()
        )),
        None => err,
    }
}
