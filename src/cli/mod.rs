//! The command-line interface: argument parsing, one function per subcommand, rendering.
//! Exit codes are decided in `main.rs`.

pub mod args;
pub mod duration;
pub mod output;
pub mod pktgen;
pub mod progress;
pub mod render;
pub mod saved_plan;

use std::io::{IsTerminal as _, Write as _};
use std::path::Path;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::{Context, Result};

use pgstate::lock::BoxLock;
use pgstate::model::LiveState;
use pgstate::run::{self, RunOptions};
use pgstate::watch::WatchConfig;
use saved_plan::SavedPlan;

use pgstate::apply::{self, plan_against};
use pgstate::model::DesiredState;
use pgstate::procfs::observe::read_live_state;
use pgstate::procfs::{Procfs, RealProcfs};
use pgstate::spec::{self, spec_from_config, StateFile};
use pgstate::{KernelProfile, LoadedState};

use args::{Cli, Command};
use pktgen::{Access, Opened};

/// What a command concluded, for the exit code.
pub enum Outcome {
    /// Done, nothing pending.
    Ok,
    /// `plan --detailed-exitcode` found changes.
    Changes,
    /// `diff --exit-code` found differences.
    Differences,
    /// `run` finished, but a stream reported an error or sent nothing.
    TrafficProblems,
}

/// Whether to colour what goes to stderr: `--color`, and for `auto` the terminal test and the
/// `NO_COLOR`/`CLICOLOR`/`CLICOLOR_FORCE`/`TERM` conventions (anstream).
pub fn stderr_color(choice: clap::ColorChoice) -> bool {
    let choice = match choice {
        clap::ColorChoice::Always => anstream::ColorChoice::Always,
        clap::ColorChoice::Never => anstream::ColorChoice::Never,
        clap::ColorChoice::Auto => anstream::ColorChoice::Auto,
    };
    choice.write_global();
    anstream::AutoStream::choice(&std::io::stderr()) != anstream::ColorChoice::Never
}

/// `error`, bold red when colour is on, as clap and rustc print it.
pub fn error_label(color: bool) -> String {
    if color {
        let style = anstyle::Style::new()
            .bold()
            .fg_color(Some(anstyle::AnsiColor::Red.into()));
        format!("{style}error{style:#}")
    } else {
        "error".to_owned()
    }
}

fn take_lock(cli: &Cli, args: &args::LockArgs) -> Result<BoxLock> {
    let what = std::env::args().collect::<Vec<_>>().join(" ");
    Ok(BoxLock::acquire(&cli.lock_file, args.lock_timeout, &what)?)
}

/// SIGINT/SIGTERM set this flag instead of killing the process: apply stops between two
/// writes and rolls back, run stops the traffic cleanly and still prints results.
fn interrupt_flag() -> Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&flag))
            .context("installing signal handlers")?;
    }
    Ok(flag)
}

/// Plans and applies `loaded` (or the saved plan it came from), printing the plan.
fn converge(
    cli: &Cli,
    procfs: &dyn Procfs,
    loaded: &LoadedState,
    saved: Option<&SavedPlan>,
    print_plan: bool,
    interrupt: &AtomicBool,
    stdout: &mut impl std::io::Write,
) -> Result<pgstate::ApplyReport> {
    let (live, env, plan) = plan_against(procfs, &loaded.desired).context("planning")?;
    if let Some(sp) = saved {
        sp.check(&live_text(&live, procfs)?, &plan)?;
    }
    if print_plan && !cli.quiet && !plan.is_empty() {
        write!(stdout, "{}", render::plan_text(&plan, cli.verbose > 0))?;
        writeln!(stdout)?;
    }
    apply::execute_plan(procfs, &loaded.desired, &live, &env, plan, interrupt)
        .map_err(|e| locate_apply_error(e, loaded))
}

fn load(path: &Path) -> Result<LoadedState> {
    spec::load_path(path).map_err(anyhow::Error::new)
}

/// Loads STATE, or the standard input when STATE is `-` (its diagnostics name `<stdin>`).
fn load_or_stdin(path: &Path) -> Result<LoadedState> {
    if path != Path::new("-") {
        return load(path);
    }
    // Bounded like a state file: a pipe of /dev/zero must not fill memory.
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(std::io::stdin().lock(), spec::MAX_STATE_FILE_BYTES + 1),
        &mut bytes,
    )
    .context("reading the state from standard input")?;
    if bytes.len() as u64 > spec::MAX_STATE_FILE_BYTES {
        anyhow::bail!(
            "<stdin>: the state is more than {} bytes; state files are limited to that (8 MiB)",
            spec::MAX_STATE_FILE_BYTES
        );
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "<stdin>: the state is not UTF-8: byte offset {} is not part of a UTF-8 character",
            e.utf8_error().valid_up_to()
        )
    })?;
    spec::load_texts(&[(Path::new("<stdin>"), text.as_str())]).map_err(anyhow::Error::new)
}

/// Opens the pktgen directory; see [`pktgen`] for when the module is loaded.
fn open_procfs(cli: &Cli, access: Access) -> Result<Opened> {
    let mut procfs =
        RealProcfs::new(&cli.proc_root).with_kernel_release(cli.kernel_release.clone());
    if let Some(dir) = &cli.sys_class_net {
        procfs = procfs.with_sys_class_net(dir);
    }
    pktgen::open(procfs, access, &cli.modprobe, |note| {
        if !cli.quiet {
            eprintln!("note: {note}");
        }
    })
}

fn profile_of(procfs: &dyn Procfs) -> KernelProfile {
    procfs
        .kernel_release()
        .and_then(|r| KernelProfile::from_release(&r))
        .unwrap_or_default()
}

/// The live state as `show` prints it: what a saved plan records and compares.
fn live_text(live: &LiveState, procfs: &dyn Procfs) -> Result<String> {
    Ok(serde_yaml::to_string(&spec::state_file_from_live(
        live,
        &profile_of(procfs),
    ))?)
}

/// `start` and `stop` act on the network namespace of the process that writes them, not on
/// the one whose `pgctrl` file is opened (REFERENCE §5.7). With `--proc-root
/// /proc/PID/net/pktgen` of another namespace they would start or stop the wrong box.
fn same_namespace_for_pgctrl(proc_root: &Path) -> Result<()> {
    let pid = proc_root
        .strip_prefix("/proc")
        .ok()
        .and_then(|rest| rest.components().next())
        .and_then(|c| c.as_os_str().to_str())
        .filter(|c| c.bytes().all(|b| b.is_ascii_digit()));
    let Some(pid) = pid else { return Ok(()) };
    let theirs = std::fs::read_link(format!("/proc/{pid}/ns/net"));
    let ours = std::fs::read_link("/proc/self/ns/net");
    if let (Ok(theirs), Ok(ours)) = (theirs, ours) {
        if theirs != ours {
            anyhow::bail!(
                "{} belongs to another network namespace, but pgctrl's start and stop act on the \
                 namespace of the process that writes them; run pgstate inside it instead: \
                 nsenter -t {pid} -n pgstate ...",
                proc_root.display()
            );
        }
    }
    Ok(())
}

/// Runs the parsed command line.
pub fn run(cli: &Cli) -> Result<Outcome> {
    let mut stdout = std::io::stdout().lock();
    match &cli.command {
        Command::Validate(a) => {
            let loaded = load_or_stdin(&a.state)?;
            let name = if a.state == Path::new("-") {
                "<stdin>".to_owned()
            } else {
                a.state.display().to_string()
            };
            if !cli.quiet {
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
        Command::Plan(a) => {
            let mut loaded = load(&a.state)?;
            if a.destroy {
                loaded.desired.devices.clear();
            }
            let opened = open_procfs(cli, Access::Read)?;
            let procfs = opened.procfs();
            let (live, _, plan) = plan_against(procfs, &loaded.desired).context("planning")?;
            if a.json {
                writeln!(stdout, "{}", render::plan_json(&plan))?;
            } else {
                write!(stdout, "{}", render::plan_text(&plan, cli.verbose > 0))?;
            }
            if let Some(out) = &a.out {
                let saved = SavedPlan::new(&loaded.files, live_text(&live, procfs)?, &plan)?;
                saved.write(out)?;
                if !a.json {
                    writeln!(
                        stdout,
                        "Saved the plan to {}; `pgstate apply {}` performs exactly it.",
                        out.display(),
                        out.display()
                    )?;
                }
            }
            Ok(if a.detailed_exitcode && !plan.is_empty() {
                Outcome::Changes
            } else {
                Outcome::Ok
            })
        }
        Command::Apply(a) => {
            let saved = SavedPlan::read(&a.state)?;
            let loaded = match &saved {
                Some(sp) => {
                    let files: Vec<(&Path, &str)> = sp
                        .files
                        .iter()
                        .map(|(p, t)| (p.as_path(), t.as_str()))
                        .collect();
                    spec::load_texts(&files)
                        .map_err(anyhow::Error::new)
                        .context("the saved plan's state files")?
                }
                None => load(&a.state)?,
            };
            let opened = open_procfs(cli, Access::Change)?;
            let _lock = take_lock(cli, &a.lock)?;
            let interrupt = interrupt_flag()?;
            let report = converge(
                cli,
                opened.procfs(),
                &loaded,
                saved.as_ref(),
                !a.json,
                &interrupt,
                &mut stdout,
            )?;
            if a.json {
                writeln!(stdout, "{}", render::apply_json(&report))?;
            } else if !cli.quiet {
                write!(stdout, "{}", render::apply_text(&report))?;
            }
            Ok(Outcome::Ok)
        }
        Command::Run(a) => {
            let loaded = load(&a.state)?;
            same_namespace_for_pgctrl(&cli.proc_root)?;
            let opened = open_procfs(cli, Access::Change)?;
            let _lock = take_lock(cli, &a.lock)?;
            let interrupt = interrupt_flag()?;
            let procfs = opened.procfs();
            converge(cli, procfs, &loaded, None, !a.json, &interrupt, &mut stdout)?;
            if interrupt.load(std::sync::atomic::Ordering::SeqCst) {
                anyhow::bail!("interrupted before traffic started");
            }
            let live = read_live_state(procfs)?;
            let foreign: Vec<String> = live
                .devices
                .keys()
                .filter(|d| !loaded.desired.devices.contains_key(*d))
                .map(ToString::to_string)
                .collect();
            if !foreign.is_empty() {
                tracing::warn!(
                    "start runs every device of this network namespace, also {} which this state does not own",
                    foreign.join(", ")
                );
            }
            let opts = RunOptions {
                duration: a.duration,
                interrupt,
                ..RunOptions::default()
            };
            let progress = progress::Progress::new(!a.no_progress && !a.json && !cli.quiet);
            let shared = opened.into_shared();
            let outcome = run::run_traffic(shared, &opts, |samples, elapsed| {
                progress.update(samples, elapsed)
            })
            .context("running traffic")?;
            progress.finish();
            if a.json {
                writeln!(stdout, "{}", render::run_json(&outcome))?;
            } else {
                write!(
                    stdout,
                    "{}",
                    render::results_text(&outcome.devices, Some(&outcome))
                )?;
            }
            Ok(if outcome.has_problems() {
                Outcome::TrafficProblems
            } else {
                Outcome::Ok
            })
        }
        Command::Stop => {
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
        Command::Status(a) => {
            let opened = open_procfs(cli, Access::Read)?;
            let devices = run::reports(opened.procfs(), run::ReportMode::Status)
                .context("reading results")?;
            if a.json {
                writeln!(stdout, "{}", render::status_json(&devices))?;
            } else {
                write!(stdout, "{}", render::results_text(&devices, None))?;
            }
            Ok(Outcome::Ok)
        }
        Command::Destroy(a) => {
            // Refuse before anything else: a script that forgot `--yes` must fail the same
            // way whatever the box holds.
            let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
            if !a.yes && !interactive {
                anyhow::bail!(
                    "destroy asks before removing devices, but there is no terminal to ask on; \
                     pass --yes to remove them without asking (`pgstate plan --destroy` shows \
                     what would go)"
                );
            }
            let mut loaded = load(&a.state)?;
            loaded.desired.devices.clear();
            // Without pktgen there is nothing to remove, and no reason to load it.
            let opened = open_procfs(cli, Access::Read)?;
            if !opened.is_loaded() {
                return Ok(Outcome::Ok);
            }
            let procfs = opened.procfs();
            let confirmed = if a.yes {
                None
            } else {
                let (live, _, plan) = plan_against(procfs, &loaded.desired).context("planning")?;
                write!(stdout, "{}", render::plan_text(&plan, cli.verbose > 0))?;
                stdout.flush()?;
                if plan.is_empty() {
                    return Ok(Outcome::Ok);
                }
                confirm(&format!(
                    "Remove these devices from pktgen? {} Only 'yes' removes them: ",
                    removal_summary(&plan)
                ))?;
                // What the user agreed to is what happens: a box changed meanwhile is
                // refused like a stale saved plan.
                Some(SavedPlan::new(
                    &loaded.files,
                    live_text(&live, procfs)?,
                    &plan,
                )?)
            };
            let _lock = take_lock(cli, &a.lock)?;
            let interrupt = interrupt_flag()?;
            let report = converge(
                cli,
                procfs,
                &loaded,
                confirmed.as_ref(),
                confirmed.is_none(),
                &interrupt,
                &mut stdout,
            )?;
            if !cli.quiet {
                write!(stdout, "{}", render::apply_text(&report))?;
            }
            Ok(Outcome::Ok)
        }
        Command::ClearCounters => {
            let opened = open_procfs(cli, Access::Read)?;
            let procfs = opened.procfs();
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
                apply::execute_write(procfs, &w)
                    .with_context(|| format!("{name}: clear_counters"))?;
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
        Command::Watch(a) => {
            // `--check-only` never writes, so it has no reason to load the module either.
            let access = if a.check_only {
                Access::Read
            } else {
                Access::Change
            };
            let opened = open_procfs(cli, access)?;
            let terminate = interrupt_flag()?;
            let hangup = Arc::new(AtomicBool::new(false));
            signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&hangup))
                .context("installing the SIGHUP handler")?;
            let config = WatchConfig {
                debounce: a.debounce,
                poll_interval: a.poll_interval,
                check_only: a.check_only,
                refuse_disruptive: a.refuse_disruptive,
                once: a.once,
                lock_file: Some(cli.lock_file.clone()),
                lock_timeout: a.lock_timeout,
            };
            let shared = opened.into_shared();
            let summary = pgstate::watch::watch(shared, &a.state, config, &terminate, &hangup)
                .with_context(|| format!("watching {}", a.state.display()))?;
            // `--once --check-only` answers like `plan --detailed-exitcode`.
            Ok(if a.once && a.check_only && !summary.in_sync {
                Outcome::Changes
            } else {
                Outcome::Ok
            })
        }
        Command::Show(a) => {
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
        Command::Diff(a) => {
            let loaded = load(&a.state)?;
            let opened = open_procfs(cli, Access::Read)?;
            let procfs = opened.procfs();
            let live = read_live_state(procfs).context("reading the live state")?;
            let profile = profile_of(procfs);
            let mut live_file = spec::state_file_from_live(&live, &profile);
            if let Some(owned) = &loaded.desired.threads {
                live_file
                    .devices
                    .retain(|_, d| owned.contains(&pgstate::ThreadId(d.thread)));
            }
            let live_text = spec::render_state_file(&live_file)?;
            let want_text = spec::render_state_file(&canonical(&loaded.desired, &profile))?;
            let diff = similar::TextDiff::from_lines(&live_text, &want_text);
            let text = diff
                .unified_diff()
                .context_radius(3)
                .header("live", &a.state.display().to_string())
                .to_string();
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
    }
}

/// "1 device", "2 devices".
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// "N devices on M threads", for the destroy question.
fn removal_summary(plan: &pgstate::Plan) -> String {
    format!(
        "{}, {}.",
        count(plan.count(pgstate::plan::ActionKind::Remove), "device"),
        render::writes(plan.writes.len())
    )
}

/// Asks `question` on stderr and reads the answer from stdin; anything but `yes` cancels.
fn confirm(question: &str) -> Result<()> {
    eprint!("{question}");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .context("reading the answer")?;
    if answer.trim() != "yes" {
        anyhow::bail!("destroy cancelled; nothing was removed");
    }
    Ok(())
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
