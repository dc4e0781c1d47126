//! Planning and applying a list of targets: all of them or none.
//!
//! **Policy.** Every target is read and planned before the first write, so a state one
//! namespace cannot take (a missing interface, a thread it lacks) changes nothing anywhere.
//! Then the targets are applied in order, each verified by reading back, as `apply` does
//! for one box. When one fails, it is rolled back by [`execute_plan`] itself, and the
//! targets applied before it are restored to what they were before this apply ([`restore`]:
//! planned from their snapshot, written, verified); the targets after it were not touched.
//! [`ApplyAllError`] says all of this per target.

use std::fmt;
use std::sync::atomic::AtomicBool;

use crate::apply::{execute_plan, plan_against, restore, ApplyError, ApplyReport, RollbackReport};
use crate::error::Diagnostic;
use crate::locate::{locate_plan_error, refused_setting, RefusedSetting};
use crate::model::LiveState;
use crate::plan::{Environment, Plan, PlanError};

use super::{OpenTarget, Place};

/// One target, read and planned.
#[derive(Debug, Clone)]
pub struct Planned {
    /// The reading the plan was made from (the snapshot a rollback returns to).
    pub live: LiveState,
    /// The facts it was planned with.
    pub env: Environment,
    /// The writes.
    pub plan: Plan,
}

/// A target that could not be read or planned; nothing was written anywhere.
#[derive(Debug, thiserror::Error)]
#[error("{place}: {error}")]
pub struct PlanAllError {
    /// Which one.
    pub place: Place,
    /// Why.
    pub error: ApplyError,
    /// A plan error located in the state file at the key that asks for what the box cannot
    /// give ([`locate_plan_error`]).
    pub diagnostic: Option<Diagnostic>,
}

/// Reads and plans every target, in order; the first that fails ends it.
pub fn plan(targets: &[OpenTarget]) -> Result<Vec<Planned>, Box<PlanAllError>> {
    targets
        .iter()
        .map(|t| {
            plan_against(&*t.procfs, &t.target.desired)
                .and_then(|planned| receivers_exist(t).map(|()| planned))
                .map(|(live, env, plan)| Planned { live, env, plan })
                .map_err(|error| {
                    Box::new(PlanAllError {
                        place: t.place().clone(),
                        diagnostic: match &error {
                            ApplyError::Plan(e) => locate_plan_error(e, &t.target.sources),
                            _ => None,
                        },
                        error,
                    })
                })
        })
        .collect()
}

/// Whether every receiver's interface exists in its target's namespace: one that does not
/// is a plan-time error (nothing could be received there).
fn receivers_exist(t: &OpenTarget) -> Result<(), ApplyError> {
    if t.target.receivers.is_empty() {
        return Ok(());
    }
    let names = t
        .target
        .receivers
        .iter()
        .map(|r| r.interface.clone())
        .collect();
    let present = t
        .procfs
        .interfaces(&names)
        .map_err(|e| ApplyError::Observe(crate::procfs::observe::ObserveError::Procfs(e)))?;
    match t
        .target
        .receivers
        .iter()
        .find(|r| !present.contains_key(&r.interface))
    {
        Some(r) => Err(ApplyError::Plan(PlanError::NoReceiverInterface {
            interface: r.interface.clone(),
        })),
        None => Ok(()),
    }
}

/// A target that failed to apply, and what became of the others.
#[derive(Debug)]
pub struct ApplyAllError {
    /// The target that failed.
    pub place: Place,
    /// Its error, with its own rollback report.
    pub error: ApplyError,
    /// The setting of the state file behind the refused write, when it is one.
    pub refused: Option<RefusedSetting>,
    /// The targets applied before it, in order, each with what restoring it did; `None` for
    /// one that needed no writes (nothing to restore).
    pub before: Vec<(Place, Option<RollbackReport>)>,
    /// The targets after it: not touched.
    pub untouched: Vec<Place>,
}

impl ApplyAllError {
    /// Whether every target is as it was before apply: the failed one rolled back and the
    /// ones before it restored.
    pub fn everything_restored(&self) -> bool {
        let own = match &self.error {
            ApplyError::Write(f) => f.rollback.restored,
            ApplyError::Interrupted { rollback, .. } | ApplyError::Verify { rollback, .. } => {
                rollback.restored
            }
            // Nothing was written: planning and the stale check come before the first write.
            ApplyError::Observe(_) | ApplyError::Plan(_) | ApplyError::Stale(_) => true,
            ApplyError::Unverified { .. } | ApplyError::Unloaded { .. } => false,
        };
        own && self
            .before
            .iter()
            .all(|(_, r)| r.as_ref().is_none_or(|r| r.restored))
    }

    /// Whether the apply was of one target: then the error is all there is to say.
    fn alone(&self) -> bool {
        self.before.is_empty() && self.untouched.is_empty()
    }
}

impl fmt::Display for ApplyAllError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.alone() && self.place == Place::Here {
            return write!(f, "{}", self.error);
        }
        write!(f, "{}: {}", self.place, self.error)?;
        for (place, report) in &self.before {
            match report {
                Some(r) => write!(f, "\n{place} (applied before it): {r}")?,
                None => write!(
                    f,
                    "\n{place} (applied before it): needed no writes, unchanged"
                )?,
            }
        }
        for place in &self.untouched {
            write!(f, "\n{place}: not touched")?;
        }
        if self.alone() {
            Ok(())
        } else if self.everything_restored() {
            write!(f, "\nEvery namespace is as it was before apply.")
        } else {
            write!(
                f,
                "\nNOT every namespace could be restored: see the rollback reports above."
            )
        }
    }
}

// No `source()`: the failed target's error is part of the message already, and a reader of
// the chain would print it twice.
impl std::error::Error for ApplyAllError {}

/// Applies each target's plan in order (see the module's policy); `planned` is [`plan`]'s
/// result for the same targets.
pub fn apply(
    targets: &[OpenTarget],
    planned: Vec<Planned>,
    interrupt: &AtomicBool,
) -> Result<Vec<ApplyReport>, Box<ApplyAllError>> {
    let mut reports: Vec<ApplyReport> = Vec::new();
    let mut snapshots = Vec::new();
    for (i, (t, p)) in targets.iter().zip(planned).enumerate() {
        let Planned { live, env, plan } = p;
        match execute_plan(&*t.procfs, &t.target.desired, &live, &env, plan, interrupt) {
            Ok(report) => {
                reports.push(report);
                snapshots.push((live, env));
            }
            Err(error) => {
                if i > 0 {
                    tracing::warn!(place = %t.place(), %error, "apply failed; restoring the namespaces applied before it");
                }
                let before = targets[..i]
                    .iter()
                    .zip(&reports)
                    .zip(&snapshots)
                    .map(|((before, report), (live, env))| {
                        let rollback = (report.writes > 0)
                            .then(|| restore(&*before.procfs, live, &before.target.desired, env));
                        (before.place().clone(), rollback)
                    })
                    .collect();
                return Err(Box::new(ApplyAllError {
                    place: t.place().clone(),
                    refused: refused_setting(&error, &t.target.sources),
                    error,
                    before,
                    untouched: targets[i + 1..].iter().map(|t| t.place().clone()).collect(),
                }));
            }
        }
    }
    Ok(reports)
}
