//! What several subcommands share: loading STATE (from a path or stdin), opening its
//! targets, taking the box lock, the SIGINT/SIGTERM flag, and planning and applying with the
//! plan printed.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::{Context, Result};

use pgstate::apply::ApplyReport;
use pgstate::lock::BoxLock;
use pgstate::procfs::{Procfs, RealProcfs};
use pgstate::state_file;
use pgstate::targets::{agreed, Here, OpenTarget, PlanAllError, Planned, Reach, Target};
use pgstate::{KernelProfile, LoadedState};

use super::args::{self, Cli};
use super::pktgen::{self, Access};
use super::render;
use pgstate::targets::saved_plan::SavedPlan;

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

/// The targets of `targets`, entered (`reach`), in the namespace `--proc-root` names and the
/// state's `namespaces:`.
pub(super) fn open_targets(
    cli: &Cli,
    targets: Vec<Target>,
    access: Access,
    reach: Reach,
) -> Result<Vec<OpenTarget>> {
    let here = open_procfs(cli, access)?;
    pgstate::targets::open(targets, &here, reach).map_err(|e| match e.diagnostic {
        Some(d) => anyhow::Error::new(d),
        None => anyhow::Error::new(e.error),
    })
}

/// Plans every target, the error located in the state file when it can be.
pub(super) fn plan_targets(targets: &[OpenTarget]) -> Result<Vec<Planned>> {
    pgstate::targets::plan(targets).map_err(|e| plan_error(e, targets.len() > 1))
}

/// A target that could not be planned: the located diagnostic (labelled with its namespace
/// when there are several), or the error with its context.
fn plan_error(e: Box<PlanAllError>, labelled: bool) -> anyhow::Error {
    let e = *e;
    let place = e.place.to_string();
    let err = match e.diagnostic {
        Some(d) => anyhow::Error::new(d),
        None => anyhow::Error::new(e.error).context("planning"),
    };
    if labelled {
        err.context(place)
    } else {
        err
    }
}

/// Plans and applies every target (the lock held by the caller), all or none; with `saved`,
/// exactly the saved plan or nothing. With `print_plan` the plan is printed before it is
/// carried out.
pub(super) fn converge(
    cli: &Cli,
    targets: &[OpenTarget],
    saved: Option<&SavedPlan>,
    print_plan: bool,
    interrupt: &AtomicBool,
    stdout: &mut impl std::io::Write,
) -> Result<Vec<ApplyReport>> {
    let planned = plan_targets(targets)?;
    if let Some(sp) = saved {
        agreed::check(&sp.targets, &agreed::record(targets, &planned)?)?;
    }
    if print_plan && !cli.quiet && planned.iter().any(|p| !p.plan.is_empty()) {
        let plans = render::target_plans(targets, planned.iter().map(|p| &p.plan));
        write!(stdout, "{}", render::plans_text(&plans, cli.verbose > 0))?;
        writeln!(stdout)?;
    }
    pgstate::targets::apply(targets, planned, interrupt).map_err(|e| {
        let refused = e.refused.as_ref().map(ToString::to_string);
        let err = anyhow::Error::new(*e);
        match refused {
            Some(r) => err.context(r),
            None => err,
        }
    })
}

pub(super) fn load(path: &Path) -> Result<LoadedState> {
    state_file::load_path(path).map_err(anyhow::Error::new)
}

/// Loads STATE, or the standard input when STATE is `-` (its diagnostics name `<stdin>`).
pub(super) fn load_or_stdin(path: &Path) -> Result<LoadedState> {
    if path != Path::new("-") {
        return load(path);
    }
    // Bounded like a state file: a pipe of /dev/zero must not fill memory.
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(
            std::io::stdin().lock(),
            state_file::MAX_STATE_FILE_BYTES + 1,
        ),
        &mut bytes,
    )
    .context("reading the state from standard input")?;
    if bytes.len() as u64 > state_file::MAX_STATE_FILE_BYTES {
        anyhow::bail!(
            "<stdin>: the state is more than {} bytes; state files are limited to that (8 MiB)",
            state_file::MAX_STATE_FILE_BYTES
        );
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "<stdin>: the state is not UTF-8: byte offset {} is not part of a UTF-8 character",
            e.utf8_error().valid_up_to()
        )
    })?;
    state_file::load_texts(&[(Path::new("<stdin>"), text.as_str())]).map_err(anyhow::Error::new)
}

/// Opens the pktgen directory of the namespace pgstate runs in; see [`pktgen`] for when the
/// module is loaded.
pub(super) fn open_procfs(cli: &Cli, access: Access) -> Result<Here> {
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

/// The targets `stop`, `status` and `show` act on: those of STATE; with `all`, this
/// namespace and every other one of the box, of `/run/netns` or held by a process
/// ([`pgstate::targets::discover`]; one that cannot be entered is skipped with a note: it may
/// be going away); else this namespace alone.
pub(super) fn selected_targets(
    cli: &Cli,
    state: Option<&Path>,
    all: bool,
    access: Access,
) -> Result<Vec<OpenTarget>> {
    if let Some(state) = state {
        let wanted = pgstate::targets::from_state(load(state)?);
        return open_targets(cli, wanted, access, Reach::Once);
    }
    let here = open_procfs(cli, access)?;
    let mut places = vec![pgstate::targets::Place::Here];
    if all {
        places.extend(pgstate::targets::discover().context("finding the network namespaces")?);
    }
    let mut out = Vec::new();
    for place in places {
        match pgstate::targets::open_one(Target::bare(place), &here, Reach::Once) {
            Ok(t) => out.push(t),
            Err(e) => {
                if !cli.quiet {
                    eprintln!("note: skipping {}: {}", e.place, e.error);
                }
            }
        }
    }
    Ok(out)
}
