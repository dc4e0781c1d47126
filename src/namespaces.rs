//! Several network namespaces from one state: planned together, applied one after the other,
//! each through its own [`Procfs`].
//!
//! Every network namespace has its own pktgen (REFERENCE §5.7), so a state with
//! `namespaces:` is several boxes. The caller gives one [`Target`] per namespace with the
//! procfs that reaches it from inside (a `procfs::netns::NetnsProcfs`, or the process's own
//! for the namespace pgstate runs in); nothing here changes namespace or opens anything.
//!
//! **Policy: all namespaces or none.** Every namespace is read and planned before the first
//! write, so a state one namespace cannot take (a missing interface, a thread it lacks)
//! changes nothing anywhere. Then the namespaces are applied in order, each verified by
//! reading back, as `apply` does for one box. When a namespace fails, it is rolled back by
//! [`execute_plan`] itself, and the namespaces applied before it are restored to what they
//! were before this apply ([`restore`]: planned from their snapshot, written, verified); the
//! namespaces after it were not touched. [`ApplyAllError`] says all of this per namespace.

use std::fmt;
use std::sync::atomic::AtomicBool;

use crate::apply::{execute_plan, plan_against, restore, ApplyError, ApplyReport, RollbackReport};
use crate::model::{DesiredState, LiveState, NamespaceName};
use crate::plan::{Environment, Plan};
use crate::procfs::Procfs;

/// One namespace of a state, and the procfs that reaches its pktgen from inside it.
#[derive(Clone, Copy)]
pub struct Target<'a> {
    /// `None` for the namespace pgstate runs in (the top-level `devices:`).
    pub name: Option<&'a NamespaceName>,
    /// Its pktgen.
    pub procfs: &'a dyn Procfs,
    /// What it must hold.
    pub desired: &'a DesiredState,
}

/// How output names a namespace: `namespace h1`, or `this namespace` for pgstate's own.
pub fn label(name: Option<&NamespaceName>) -> String {
    match name {
        Some(n) => format!("namespace {n}"),
        None => "this namespace".to_owned(),
    }
}

/// One namespace, read and planned.
#[derive(Debug, Clone)]
pub struct Planned {
    /// The reading the plan was made from (the snapshot a rollback returns to).
    pub live: LiveState,
    /// The facts it was planned with.
    pub env: Environment,
    /// The writes.
    pub plan: Plan,
}

/// A namespace that could not be read or planned; nothing was written anywhere.
#[derive(Debug, thiserror::Error)]
#[error("{}: {error}", label(.namespace.as_ref()))]
pub struct PlanAllError {
    /// Which one (`None`: pgstate's own).
    pub namespace: Option<NamespaceName>,
    /// Why.
    pub error: ApplyError,
}

/// Reads and plans every target, in order; the first that fails ends it.
pub fn plan_all(targets: &[Target<'_>]) -> Result<Vec<Planned>, PlanAllError> {
    targets
        .iter()
        .map(|t| {
            plan_against(t.procfs, t.desired)
                .map(|(live, env, plan)| Planned { live, env, plan })
                .map_err(|error| PlanAllError {
                    namespace: t.name.cloned(),
                    error,
                })
        })
        .collect()
}

/// A namespace that failed to apply, and what became of the others.
#[derive(Debug)]
pub struct ApplyAllError {
    /// The namespace that failed (`None`: pgstate's own).
    pub namespace: Option<NamespaceName>,
    /// Its error, with its own rollback report.
    pub error: ApplyError,
    /// The namespaces applied before it, in order, each with what restoring it did; `None`
    /// for one that needed no writes (nothing to restore).
    pub before: Vec<(Option<NamespaceName>, Option<RollbackReport>)>,
    /// The namespaces after it: not touched.
    pub untouched: Vec<Option<NamespaceName>>,
}

impl ApplyAllError {
    /// Whether every namespace is as it was before apply: the failed one rolled back and the
    /// ones before it restored.
    pub fn everything_restored(&self) -> bool {
        let own = match &self.error {
            ApplyError::Write(f) => f.rollback.restored,
            ApplyError::Interrupted { rollback, .. } | ApplyError::Verify { rollback, .. } => {
                rollback.restored
            }
            // Nothing was written: planning and the stale check come before the first write.
            ApplyError::Observe(_) | ApplyError::Plan(_) | ApplyError::Stale(_) => true,
            ApplyError::Unverified { .. } => false,
        };
        own && self
            .before
            .iter()
            .all(|(_, r)| r.as_ref().is_none_or(|r| r.restored))
    }
}

impl fmt::Display for ApplyAllError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", label(self.namespace.as_ref()), self.error)?;
        for (name, report) in &self.before {
            match report {
                Some(r) => write!(f, "\n{} (applied before it): {r}", label(name.as_ref()))?,
                None => write!(
                    f,
                    "\n{} (applied before it): needed no writes, unchanged",
                    label(name.as_ref())
                )?,
            }
        }
        for name in &self.untouched {
            write!(f, "\n{}: not touched", label(name.as_ref()))?;
        }
        if self.everything_restored() {
            write!(f, "\nEvery namespace is as it was before apply.")
        } else {
            write!(
                f,
                "\nNOT every namespace could be restored: see the rollback reports above."
            )
        }
    }
}

// No `source()`: the failed namespace's error is part of the message already, and a reader
// of the chain would print it twice.
impl std::error::Error for ApplyAllError {}

/// Applies each target's plan in order (see the module's policy); `planned` is
/// [`plan_all`]'s result for the same targets.
pub fn apply_all(
    targets: &[Target<'_>],
    planned: Vec<Planned>,
    interrupt: &AtomicBool,
) -> Result<Vec<ApplyReport>, Box<ApplyAllError>> {
    let mut reports: Vec<ApplyReport> = Vec::new();
    let mut snapshots = Vec::new();
    for (i, (t, p)) in targets.iter().zip(planned).enumerate() {
        let Planned { live, env, plan } = p;
        match execute_plan(t.procfs, t.desired, &live, &env, plan, interrupt) {
            Ok(report) => {
                reports.push(report);
                snapshots.push((live, env));
            }
            Err(error) => {
                tracing::warn!(namespace = %label(t.name), %error, "apply failed; restoring the namespaces applied before it");
                let mut before_it = Vec::new();
                for ((before, report), (live, env)) in
                    targets[..i].iter().zip(&reports).zip(&snapshots)
                {
                    let rollback = (report.writes > 0)
                        .then(|| restore(before.procfs, live, before.desired, env));
                    before_it.push((before.name.cloned(), rollback));
                }
                return Err(Box::new(ApplyAllError {
                    namespace: t.name.cloned(),
                    error,
                    before: before_it,
                    untouched: targets[i + 1..].iter().map(|t| t.name.cloned()).collect(),
                }));
            }
        }
    }
    Ok(reports)
}

/// When one namespace's streams ran, from the kernel's own timestamps: the earliest
/// `started:` and the latest `stopped:` of its device files (`ktime_get()` in µs, the
/// monotonic clock, which all namespaces share; REFERENCE §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Window {
    /// Earliest `started:`, µs.
    pub started_us: u64,
    /// Latest `stopped:`, µs.
    pub stopped_us: u64,
}

/// The window of the devices of `procfs` that have run (`started:` not 0); `None` when none
/// has.
pub fn run_window(procfs: &dyn Procfs) -> Result<Option<Window>, crate::procfs::ProcfsError> {
    use crate::procfs::PgFile;
    let mut window: Option<Window> = None;
    for name in procfs.list()? {
        let Ok(device) = crate::model::DeviceName::new(&name) else {
            continue;
        };
        if name == "pgctrl" || crate::model::ThreadId::from_file_name(&name).is_some() {
            continue;
        }
        let text = match procfs.read(&PgFile::Device(device)) {
            Ok(t) => t,
            // Removed meanwhile: it has no window any more.
            Err(crate::procfs::ProcfsError::Missing { .. }) => continue,
            Err(e) => return Err(e),
        };
        let Ok(d) = crate::procfs::parse::parse_device(&name, &text) else {
            continue;
        };
        if d.started_us == 0 {
            continue;
        }
        let w = window.get_or_insert(Window {
            started_us: d.started_us,
            stopped_us: d.stopped_us,
        });
        w.started_us = w.started_us.min(d.started_us);
        w.stopped_us = w.stopped_us.max(d.stopped_us);
    }
    Ok(window)
}

/// Whether the namespaces' streams ran at the same time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Overlap {
    /// Time all of them were running at once, ms (0 when some never overlapped).
    pub all_ms: u64,
    /// When they did not all overlap: the longest time between the end of one and the start
    /// of a later one, ms.
    pub gap_ms: u64,
    /// From the first start to the last stop, ms.
    pub span_ms: u64,
    /// Every namespace ran at the same time as every other (`all_ms > 0`).
    pub concurrent: bool,
}

/// The overlap of `windows` (at least one).
pub fn overlap(windows: &[Window]) -> Option<Overlap> {
    let latest_start = windows.iter().map(|w| w.started_us).max()?;
    let earliest_stop = windows.iter().map(|w| w.stopped_us).min()?;
    let first = windows.iter().map(|w| w.started_us).min()?;
    let last = windows.iter().map(|w| w.stopped_us).max()?;
    let all_us = earliest_stop.saturating_sub(latest_start);
    Some(Overlap {
        all_ms: all_us / 1000,
        gap_ms: latest_start.saturating_sub(earliest_stop) / 1000,
        span_ms: last.saturating_sub(first) / 1000,
        concurrent: all_us > 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(a: u64, b: u64) -> Window {
        Window {
            started_us: a,
            stopped_us: b,
        }
    }

    #[test]
    fn overlap_is_the_time_all_windows_share() {
        let o = overlap(&[
            w(1_000_000, 3_000_000),
            w(1_500_000, 4_000_000),
            w(2_000_000, 2_600_000),
        ])
        .unwrap();
        assert_eq!(
            (o.all_ms, o.gap_ms, o.span_ms, o.concurrent),
            (600, 0, 3000, true)
        );
        // One after the other: no overlap, a gap of 250 ms.
        let o = overlap(&[w(0, 1_000_000), w(1_250_000, 2_000_000)]).unwrap();
        assert_eq!((o.all_ms, o.gap_ms, o.concurrent), (0, 250, false));
        assert_eq!(overlap(&[]), None);
    }
}
