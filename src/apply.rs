//! Runs a [`Plan`]: one `write(2)` per command, each checked on both error channels (the
//! errno and the `Result:` line, REFERENCE §4), then verifies by reading back. On any failure
//! it restores the state captured before the first write and says what it could not restore.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::kernel::KernelProfile;
use crate::model::ThreadId;
use crate::model::{DesiredDevice, DesiredState, DeviceName, Flag, LiveState, Pacing};
use crate::plan::{
    plan, ActionKind, Environment, FieldChange, Plan, PlanError, ResultCheck, Write,
};
use crate::procfs::observe::{read_box, read_live_state, read_touched, ObserveError};
use crate::procfs::parse::{result_text, ResultLine};
use crate::procfs::{unloading, Interfaces, Procfs, ProcfsError};

/// Whether a readback failed on a file gone, or found a device it wrote to absent: what the
/// module going away looks like after the writes.
fn readback_found_files_gone(read_back: &Result<(Vec<Mismatch>, LiveState), ApplyError>) -> bool {
    match read_back {
        Err(ApplyError::Observe(ObserveError::Procfs(e))) => e.is_file_gone(),
        Err(_) => false,
        Ok((mismatches, _)) => mismatches
            .iter()
            .any(|m| matches!(m.what, MismatchKind::Device { thread: None, .. })),
    }
}

/// How long to wait for `rem_device_all` to take effect before giving up.
pub const REMOVAL_TIMEOUT_MS: u64 = 5000;
/// How often to look while waiting.
pub const REMOVAL_POLL_MS: u64 = 10;

/// Why one write did not take.
#[derive(Debug, thiserror::Error)]
pub enum WriteFailure {
    /// The kernel refused it with an errno (or the file is gone).
    #[error(transparent)]
    Procfs(#[from] ProcfsError),
    /// The write returned success, but `Result:` says it failed.
    #[error("the kernel accepted the write but its Result says: {0}")]
    Result(String),
    /// `rem_device_all` did not remove the devices in time.
    #[error("after rem_device_all, {} still exist after {} ms", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "), REMOVAL_TIMEOUT_MS)]
    RemovalTimeout(Vec<DeviceName>),
}

/// What a rollback did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RollbackReport {
    /// Writes performed to restore.
    pub writes: usize,
    /// The box is back to the snapshot (verified by reading back).
    pub restored: bool,
    /// What could not be restored, in words.
    pub problems: Vec<String>,
}

impl fmt::Display for RollbackReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.restored {
            write!(
                f,
                "rolled back with {} writes; the box is as it was before apply",
                self.writes
            )
        } else {
            write!(
                f,
                "rollback incomplete after {} writes: {}",
                self.writes,
                self.problems.join("; ")
            )
        }
    }
}

/// Something that did not take.
#[derive(Debug, Clone)]
pub struct Mismatch {
    /// The device.
    pub device: DeviceName,
    /// What differs.
    pub what: MismatchKind,
}

/// What did not take on a device.
#[derive(Debug, Clone)]
pub enum MismatchKind {
    /// The device is not where it should be: planning again would still add, remove or
    /// re-create it.
    Device {
        /// What planning again would do.
        action: ActionKind,
        /// Its thread now (for an add: none).
        thread: Option<ThreadId>,
        /// Why, as planning again says.
        reason: Option<String>,
    },
    /// A field differs: `new` is wanted, `old` is what the kernel shows.
    Field(FieldChange),
}

/// Apply failed.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The live state could not be read.
    #[error(transparent)]
    Observe(#[from] ObserveError),
    /// The state cannot be planned here; nothing was written.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// A write failed; its `rollback` says what was restored.
    #[error(transparent)]
    Write(Box<FailedWrite>),
    /// A signal asked pgstate to stop; the box was rolled back.
    #[error("interrupted after {done} of {total} writes\n{rollback}")]
    Interrupted {
        /// Writes performed before the interruption.
        done: usize,
        /// Writes in the plan.
        total: usize,
        /// What the rollback did.
        rollback: RollbackReport,
    },
    /// pktgen was unloaded (`rmmod pktgen`) while the writes were made: the module removed
    /// every thread's devices and its directory, so nothing is left to roll back.
    #[error(
        "pktgen was unloaded during apply, after {done} of {total} writes ({seen}): the module \
         took every device with it, so nothing of this apply or of the configuration before it \
         is left; load it again (modprobe pktgen) and apply"
    )]
    Unloaded {
        /// Writes performed before the module went.
        done: usize,
        /// Writes in the plan.
        total: usize,
        /// What showed it: a write's failure, or the readback.
        seen: String,
    },
    /// The box changed between planning and the first write; nothing was written.
    #[error("the live state changed after it was planned ({0}); nothing was written, plan again")]
    Stale(String),
    /// Every write was made, but the box could not be read back to verify them.
    #[error(
        "all {writes} writes were made, but the box could not be read back to verify them: {error}"
    )]
    Unverified {
        /// Writes made.
        writes: usize,
        /// Why reading back failed.
        error: String,
    },
    /// Every write succeeded but the box does not show the desired state.
    #[error("verification failed: {}\n{rollback}", render_mismatches(.mismatches))]
    Verify {
        /// What differs.
        mismatches: Vec<Mismatch>,
        /// What the rollback did.
        rollback: RollbackReport,
    },
}

fn render_mismatches(m: &[Mismatch]) -> String {
    m.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// `eth0.count: wanted 5, kernel shows 7`.
impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::render::change_value;
        match &self.what {
            MismatchKind::Field(c) => write!(
                f,
                "{}.{}: wanted {}, kernel shows {}",
                self.device,
                c.field,
                change_value(&c.new),
                change_value(&c.old)
            ),
            MismatchKind::Device {
                action,
                thread,
                reason,
            } => write!(
                f,
                "{}.device: wanted {} ({}), kernel shows {}",
                self.device,
                action.symbol(),
                reason.as_deref().unwrap_or_default(),
                thread.map_or_else(|| "absent".to_owned(), |t| format!("on thread {t}"))
            ),
        }
    }
}

/// A write the kernel did not take, and what the rollback did about it.
#[derive(Debug, thiserror::Error)]
#[error("write {index} of {total} failed: {} <- {}: {cause}\n{rollback}", .write.file, .write.command)]
pub struct FailedWrite {
    /// 1-based position in the plan.
    pub index: usize,
    /// Writes in the plan.
    pub total: usize,
    /// The write that failed.
    pub write: Write,
    /// Why.
    pub cause: WriteFailure,
    /// What the rollback did.
    pub rollback: RollbackReport,
}

/// What apply did.
#[derive(Debug, Clone, Serialize)]
pub struct ApplyReport {
    /// The plan that was carried out.
    pub plan: Plan,
    /// Writes performed.
    pub writes: usize,
}

/// The interfaces `desired` names.
fn interface_names(desired: &DesiredState) -> BTreeSet<String> {
    desired
        .devices
        .keys()
        .map(|d| d.interface().to_owned())
        .collect()
}

/// Gathers the facts the planner needs besides pktgen's files: the kernel profile and the
/// interfaces that the desired and live states name, from `interfaces` (one query made while
/// reading the box, see [`read_box`]).
pub fn environment(
    procfs: &dyn Procfs,
    desired: &DesiredState,
    live: &LiveState,
    interfaces: &Interfaces,
) -> Environment {
    let profile = procfs
        .kernel_release()
        .and_then(|r| KernelProfile::from_release(&r))
        .unwrap_or_default();
    let interfaces = desired
        .devices
        .keys()
        .chain(live.devices.keys())
        .map(|d| {
            let name = d.interface();
            (name.to_owned(), interfaces.get(name).cloned())
        })
        .collect();
    Environment {
        skip_unavailable: false,
        profile,
        interfaces,
    }
}

/// Reads the box and plans `desired` against it.
pub fn plan_against(
    procfs: &dyn Procfs,
    desired: &DesiredState,
) -> Result<(LiveState, Environment, Plan), ApplyError> {
    plan_against_with(procfs, desired, false)
}

/// Like [`plan_against`]; with `skip_unavailable`, devices whose interface is missing or
/// down are left out (and listed in [`Plan::skipped`]) instead of failing the plan.
pub fn plan_against_with(
    procfs: &dyn Procfs,
    desired: &DesiredState,
    skip_unavailable: bool,
) -> Result<(LiveState, Environment, Plan), ApplyError> {
    let (live, interfaces) = read_box(procfs, &interface_names(desired))?;
    let mut env = environment(procfs, desired, &live, &interfaces);
    env.skip_unavailable = skip_unavailable;
    let p = plan(desired, &live, &env)?;
    Ok((live, env, p))
}

/// The desired state that recreates `live` exactly on the threads `desired` owns.
pub fn desired_from_live(
    live: &LiveState,
    owned: Option<&std::collections::BTreeSet<crate::model::ThreadId>>,
    profile: &KernelProfile,
) -> DesiredState {
    let mut out = DesiredState {
        threads: owned.cloned(),
        ..DesiredState::default()
    };
    for (name, d) in &live.devices {
        let Some(config) = &d.config else { continue };
        let mut config = config.clone();
        let shared = config.flags.contains(Flag::SHARED);
        config.flags.set(Flag::SHARED, false);
        out.devices.insert(
            name.clone(),
            DesiredDevice {
                thread: d.thread,
                config,
                pacing: Pacing::Delay,
                shared: profile.has_shared_flag().then_some(shared),
            },
        );
    }
    out
}

/// Plans and applies `desired`, verifies, and rolls back on failure.
pub fn apply(procfs: &dyn Procfs, desired: &DesiredState) -> Result<ApplyReport, ApplyError> {
    let (live, env, p) = plan_against(procfs, desired)?;
    execute_plan(procfs, desired, &live, &env, p, &AtomicBool::new(false))
}

/// Carries out `p`, made from `live`, then verifies against `desired`.
pub fn apply_plan(
    procfs: &dyn Procfs,
    desired: &DesiredState,
    live: &LiveState,
    env: &Environment,
    p: Plan,
) -> Result<ApplyReport, ApplyError> {
    apply_plan_interruptible(procfs, desired, live, env, p, &AtomicBool::new(false))
}

/// Like [`apply_plan`], but checks `interrupt` before every write. When it is set (by a
/// SIGINT/SIGTERM handler), the writes stop between two commands and the box is rolled
/// back, so a thread is never left flushed with its other devices missing.
pub fn apply_plan_interruptible(
    procfs: &dyn Procfs,
    desired: &DesiredState,
    live: &LiveState,
    env: &Environment,
    p: Plan,
    interrupt: &AtomicBool,
) -> Result<ApplyReport, ApplyError> {
    if !p.writes.is_empty() {
        // The plan is only right for the box it was made from: if someone changed it since,
        // writing it (and rolling back to the old snapshot) would undo their change.
        let now = read_live_state(procfs)?;
        if let Some(what) = first_difference(live, &now) {
            return Err(ApplyError::Stale(what));
        }
    }
    execute_plan(procfs, desired, live, env, p, interrupt)
}

/// Carries out `p` without first checking that the box is still as `live`: for a plan made
/// from a reading taken just before (by [`plan_against`], or checked against one, as saved
/// plans are), where that reading is the stale-plan check. Verifies by reading back only
/// what the plan wrote to, and rolls back on failure; `interrupt` as in
/// [`apply_plan_interruptible`].
pub fn execute_plan(
    procfs: &dyn Procfs,
    desired: &DesiredState,
    live: &LiveState,
    env: &Environment,
    p: Plan,
    interrupt: &AtomicBool,
) -> Result<ApplyReport, ApplyError> {
    execute_plan_read_back(procfs, desired, live, env, p, interrupt).map(|(report, _)| report)
}

/// Like [`execute_plan`], and also returns the box as the verification read it: `live` with
/// the thread files and the devices written to read again (`live` itself, borrowed, when the
/// plan has no writes). What `watch` keeps of the box between two reconciles.
pub fn execute_plan_read_back<'l>(
    procfs: &dyn Procfs,
    desired: &DesiredState,
    live: &'l LiveState,
    env: &Environment,
    p: Plan,
    interrupt: &AtomicBool,
) -> Result<(ApplyReport, Cow<'l, LiveState>), ApplyError> {
    let span = tracing::info_span!("apply", writes = p.writes.len());
    let _enter = span.enter();
    let total = p.writes.len();
    for (i, w) in p.writes.iter().enumerate() {
        if interrupt.load(Ordering::SeqCst) {
            tracing::warn!(done = i, total, "interrupted; rolling back");
            let rollback = restore(procfs, live, desired, env);
            return Err(ApplyError::Interrupted {
                done: i,
                total,
                rollback,
            });
        }
        tracing::debug!(file = %w.file, command = %w.command, "write");
        if let Err(cause) = execute_write(procfs, w) {
            let gone = matches!(&cause, WriteFailure::Procfs(e) if e.is_file_gone());
            if gone && unloading(procfs) {
                tracing::warn!(file = %w.file, command = %w.command, error = %cause, "pktgen was unloaded");
                return Err(ApplyError::Unloaded {
                    done: i,
                    total,
                    seen: cause.to_string(),
                });
            }
            tracing::warn!(file = %w.file, command = %w.command, error = %cause, "write failed; rolling back");
            let rollback = restore(procfs, live, desired, env);
            return Err(ApplyError::Write(Box::new(FailedWrite {
                index: i + 1,
                total,
                write: w.clone(),
                cause,
                rollback,
            })));
        }
    }
    if total == 0 {
        return Ok((ApplyReport { writes: 0, plan: p }, Cow::Borrowed(live)));
    }
    let touched: BTreeSet<DeviceName> = p.writes.iter().filter_map(|w| w.device.clone()).collect();
    let read_back = read_touched(procfs, live, &touched, &interfaces_of(env))
        .map_err(ApplyError::from)
        .and_then(|now| {
            // Every device outside the scope is the reading the plan was made from: planning
            // it again could only repeat the plan, and with hundreds of devices that was most
            // of an edit's cost in `watch`.
            let (desired, read) = crate::plan::scope(desired, &now, &touched);
            Ok((mismatches(&desired, &read, env)?, now))
        });
    // A readback that found files or devices gone may be the module going: then there is
    // nothing to verify or roll back.
    if readback_found_files_gone(&read_back) && unloading(procfs) {
        return Err(ApplyError::Unloaded {
            done: total,
            total,
            seen: "the readback found pktgen's files gone".to_owned(),
        });
    }
    let (mismatches, now) = read_back.map_err(|e| ApplyError::Unverified {
        writes: total,
        error: e.to_string(),
    })?;
    if !mismatches.is_empty() {
        let rollback = restore(procfs, live, desired, env);
        return Err(ApplyError::Verify {
            mismatches,
            rollback,
        });
    }
    Ok((
        ApplyReport {
            writes: total,
            plan: p,
        },
        Cow::Owned(now),
    ))
}

/// The first device whose thread or configuration differs between two readings.
fn first_difference(before: &LiveState, now: &LiveState) -> Option<String> {
    for (name, d) in &before.devices {
        match now.devices.get(name) {
            None => return Some(format!("{name} was removed")),
            Some(n) if n.thread != d.thread => {
                return Some(format!("{name} moved to thread {}", n.thread))
            }
            Some(n) if n.config != d.config => return Some(format!("{name} was reconfigured")),
            Some(_) => {}
        }
    }
    now.devices
        .keys()
        .find(|n| !before.devices.contains_key(*n))
        .map(|n| format!("{n} was added"))
}

/// The interface facts `env` was made with.
pub(crate) fn interfaces_of(env: &Environment) -> Interfaces {
    env.interfaces
        .iter()
        .filter_map(|(name, info)| Some((name.clone(), info.clone()?)))
        .collect()
}

/// Reads the whole box back and lists every field that differs from `desired`.
pub fn verify(
    procfs: &dyn Procfs,
    desired: &DesiredState,
    env: &Environment,
) -> Result<Vec<Mismatch>, ApplyError> {
    let (now, _) = read_box(procfs, &BTreeSet::new())?;
    mismatches(desired, &now, env)
}

/// Every field of `now` that differs from `desired`.
fn mismatches(
    desired: &DesiredState,
    now: &LiveState,
    env: &Environment,
) -> Result<Vec<Mismatch>, ApplyError> {
    let again = plan(desired, now, env)?;
    let mut out = Vec::new();
    for a in &again.actions {
        if a.changes.is_empty() || a.action != crate::plan::ActionKind::Change {
            out.push(Mismatch {
                device: a.device.clone(),
                what: MismatchKind::Device {
                    action: a.action,
                    thread: match a.action {
                        ActionKind::Add => None,
                        _ => Some(a.from_thread.unwrap_or(a.thread)),
                    },
                    reason: a.reason.clone(),
                },
            });
        }
        for c in &a.changes {
            out.push(Mismatch {
                device: a.device.clone(),
                what: MismatchKind::Field(c.clone()),
            });
        }
    }
    Ok(out)
}

/// Performs one write and checks both channels.
pub fn execute_write(procfs: &dyn Procfs, w: &Write) -> Result<(), WriteFailure> {
    procfs.write(&w.file, &w.command)?;
    match &w.check {
        ResultCheck::DeviceOk | ResultCheck::ThreadResult(_) => {
            let result = result_text(&procfs.read(&w.file)?).unwrap_or_default();
            let accepted = match &w.check {
                ResultCheck::ThreadResult(expected) => &result == expected,
                _ => ResultLine::parse(&result).is_ok(),
            };
            if !accepted {
                return Err(WriteFailure::Result(result));
            }
        }
        ResultCheck::NotUpdated | ResultCheck::None => {}
    }
    if !w.wait_gone.is_empty() {
        wait_gone(procfs, &w.wait_gone)?;
    }
    Ok(())
}

/// Polls until none of `devices` has a proc file (REFERENCE §2.2: removal is asynchronous,
/// and adding the same name before it finishes fails with EBUSY).
fn wait_gone(procfs: &dyn Procfs, devices: &[DeviceName]) -> Result<(), WriteFailure> {
    let deadline = Instant::now() + Duration::from_millis(REMOVAL_TIMEOUT_MS);
    loop {
        let names = procfs.list()?;
        let left: Vec<DeviceName> = devices
            .iter()
            .filter(|d| names.iter().any(|n| n == d.as_str()))
            .cloned()
            .collect();
        if left.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(WriteFailure::RemovalTimeout(left));
        }
        std::thread::sleep(Duration::from_millis(REMOVAL_POLL_MS));
    }
}

/// Best-effort return to `snapshot` after a failure. Never fails: what it cannot do is
/// reported in the result, attached to the original error.
pub fn restore(
    procfs: &dyn Procfs,
    snapshot: &LiveState,
    desired: &DesiredState,
    env: &Environment,
) -> RollbackReport {
    let mut report = RollbackReport::default();
    let target = desired_from_live(snapshot, desired.threads.as_ref(), &env.profile);
    for (name, d) in &snapshot.devices {
        if d.config.is_none() && desired.owns(d.thread) {
            report.problems.push(format!(
                "{name} had no readable proc file before apply and cannot be recreated as it was"
            ));
        }
    }
    let (now, env_now) = match read_box(procfs, &interface_names(&target))
        .map_err(|e| e.to_string())
        .map(|(now, interfaces)| {
            let mut env_now = environment(procfs, &target, &now, &interfaces);
            // A device whose interface vanished or went down cannot be re-added; the others
            // are still put back, and the report names what is missing.
            env_now.skip_unavailable = true;
            (now, env_now)
        }) {
        Ok(x) => x,
        Err(e) => {
            report
                .problems
                .push(format!("cannot read the box to roll back: {e}"));
            return report;
        }
    };
    let back = match plan(&target, &now, &env_now) {
        Ok(p) => p,
        Err(e) => {
            report
                .problems
                .push(format!("cannot plan the rollback: {e}"));
            return report;
        }
    };
    for (device, why) in &back.skipped {
        report
            .problems
            .push(format!("{device} cannot be re-created as it was: {why}"));
    }
    for w in &back.writes {
        report.writes += 1;
        if let Err(e) = execute_write(procfs, w) {
            report.problems.push(format!("{}: {e}", w.render()));
        }
    }
    match verify(procfs, &target, &env_now) {
        Ok(m) if m.is_empty() && report.problems.is_empty() => report.restored = true,
        Ok(m) => report.problems.extend(m.iter().map(ToString::to_string)),
        Err(e) => report
            .problems
            .push(format!("cannot verify the rollback: {e}")),
    }
    report
}
