//! What several subcommands share: loading STATE (from a path or stdin), opening pktgen's
//! directory, taking the box lock, the SIGINT/SIGTERM flag, planning and applying with the
//! plan printed, and pointing a refused write at its line in the state file.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::{Context, Result};

use pgstate::apply::{self, plan_against};
use pgstate::lock::BoxLock;
use pgstate::model::LiveState;
use pgstate::procfs::{Procfs, RealProcfs};
use pgstate::spec;
use pgstate::{KernelProfile, LoadedState};

use super::args::{self, Cli};
use super::pktgen::{self, Access, Opened};
use super::render;
use super::saved_plan::SavedPlan;

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

pub(super) fn take_lock(cli: &Cli, args: &args::LockArgs) -> Result<BoxLock> {
    let what = std::env::args().collect::<Vec<_>>().join(" ");
    Ok(BoxLock::acquire(&cli.lock_file, args.lock_timeout, &what)?)
}

/// SIGINT/SIGTERM set this flag instead of killing the process: apply stops between two
/// writes and rolls back, run stops the traffic cleanly and still prints results.
pub(super) fn interrupt_flag() -> Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&flag))
            .context("installing signal handlers")?;
    }
    Ok(flag)
}

/// Plans and applies `loaded` (or the saved plan it came from), printing the plan.
pub(super) fn converge(
    cli: &Cli,
    procfs: &dyn Procfs,
    loaded: &LoadedState,
    saved: Option<&SavedPlan>,
    print_plan: bool,
    interrupt: &AtomicBool,
    stdout: &mut impl std::io::Write,
) -> Result<pgstate::ApplyReport> {
    let (live, env, plan) =
        plan_against(procfs, &loaded.desired).map_err(|e| locate_plan_error(e, loaded))?;
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

pub(super) fn load(path: &Path) -> Result<LoadedState> {
    spec::load_path(path).map_err(anyhow::Error::new)
}

/// Loads STATE, or the standard input when STATE is `-` (its diagnostics name `<stdin>`).
pub(super) fn load_or_stdin(path: &Path) -> Result<LoadedState> {
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
pub(super) fn open_procfs(cli: &Cli, access: Access) -> Result<Opened> {
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

pub(super) fn profile_of(procfs: &dyn Procfs) -> KernelProfile {
    procfs
        .kernel_release()
        .and_then(|r| KernelProfile::from_release(&r))
        .unwrap_or_default()
}

/// The live state as `show` prints it: what a saved plan records and compares.
pub(super) fn live_text(live: &LiveState, procfs: &dyn Procfs) -> Result<String> {
    Ok(serde_yaml::to_string(&spec::state_file_from_live(
        live,
        &profile_of(procfs),
    ))?)
}

/// `start` and `stop` act on the network namespace of the process that writes them, not on
/// the one whose `pgctrl` file is opened (REFERENCE §5.7). With `--proc-root
/// /proc/PID/net/pktgen` of another namespace they would start or stop the wrong box.
pub(super) fn same_namespace_for_pgctrl(proc_root: &Path) -> Result<()> {
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

/// A state this box cannot take, pointed at the key in the state file that asks for it,
/// source line and caret included, as `validate` reports its problems. Other errors (and
/// plan errors about devices not from these files) are only given the "planning" context.
pub(super) fn locate_plan_error(e: pgstate::ApplyError, loaded: &LoadedState) -> anyhow::Error {
    locate_plan_error_in(e, &loaded.sources)
}

/// [`locate_plan_error`] with the source map of one namespace of the state.
pub(super) fn locate_plan_error_in(
    e: pgstate::ApplyError,
    s: &pgstate::spec::SourceMap,
) -> anyhow::Error {
    use pgstate::PlanError as P;
    let pgstate::ApplyError::Plan(pe) = &e else {
        return anyhow::Error::new(e).context("planning");
    };
    // The message without its "device NAME: " lead: the diagnostic's path names the device.
    let message = |device: &pgstate::DeviceName| {
        let full = pe.to_string();
        full.strip_prefix(&format!("device {device}: "))
            .map_or(full.clone(), str::to_owned)
    };
    let diag = match pe {
        P::NoSuchThread { device, .. } | P::ThreadNotOwned { device, .. } => {
            s.device_diagnostic(device, Some("thread"), message(device), None)
        }
        P::NoSuchOwnedThread { thread, .. } => s.thread_diagnostic(
            *thread,
            pe.to_string()
                .strip_prefix("threads: ")
                .unwrap_or_default()
                .to_owned(),
            None,
        ),
        P::Unsupported { device, key, .. } => {
            s.device_diagnostic(device, Some(key), message(device), None)
        }
        P::NameTakenElsewhere { device, .. }
        | P::MissingInterface { device, .. }
        | P::InterfaceDown { device, .. } => {
            s.device_diagnostic(device, None, message(device), None)
        }
    };
    match diag {
        Some(d) => anyhow::Error::new(d),
        None => anyhow::Error::new(e).context("planning"),
    }
}

/// Adds the state-file location of the field behind a failed write.
fn locate_apply_error(e: pgstate::ApplyError, loaded: &LoadedState) -> anyhow::Error {
    if matches!(e, pgstate::ApplyError::Plan(_)) {
        return locate_plan_error(e, loaded);
    }
    let location = refused_setting(&e, &loaded.sources);
    let err = anyhow::Error::new(e);
    match location {
        Some(context) => err.context(context),
        None => err,
    }
}

/// `file:line:col: devices.eth0.count: the kernel refused this setting` for a failed write
/// of a setting from the files of `sources`.
pub(super) fn refused_setting(
    e: &pgstate::ApplyError,
    sources: &pgstate::spec::SourceMap,
) -> Option<String> {
    let location = match e {
        pgstate::ApplyError::Write(failed) => failed.write.device.as_ref().and_then(|d| {
            let write = &failed.write;
            sources
                .locate(d, write.field.as_deref())
                .map(|l| (l, d.clone(), write.field.clone()))
        }),
        _ => None,
    };
    location.map(|(loc, dev, field)| {
        format!(
            "{loc}: {}devices.{dev}{}: the kernel refused this setting",
            sources.path_prefix(),
            field.map(|f| format!(".{f}")).unwrap_or_default()
        )
    })
}
