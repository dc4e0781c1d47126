//! A watch session carries the machine's actions out: it loads the state files (keeping the
//! last good state while they are invalid), plans against the live box with unavailable
//! interfaces skipped, applies under the box lock, and feeds the outcome back to its
//! [`Watcher`]. Everything it does is logged and returned as [`Report`]s, counted in
//! [`WatchStats`](super::WatchStats). The loop that drives it is `drive`'s
//! [`run`](super::run).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use crate::apply::{execute_plan_read_back, plan_against_with, ApplyError};
use crate::locate::{locate_plan_error, refused_setting};
use crate::lock::{BoxLock, LockError};
use crate::model::{DesiredState, DeviceName, LiveState, ThreadId};
use crate::plan::Plan;
use crate::procfs::Procfs;
use crate::state_file::{load_path, reload_path, LoadedState};

use super::clock::{lock_ignoring_poison, Clock};
use super::config::{WatchConfig, WatchPart};
use super::error::WatchError;
use super::known::{KnownBox, Planned};
use super::machine::{Action, Event, LoadOutcome, ReconcileOutcome, Trigger, Watcher};
use super::report::{Report, StatsHandle};
use super::source::fingerprint;

/// Loads, reconciles and reports, as its [`Watcher`] decides. Drive it with
/// [`handle`](Self::handle), or with [`run`](super::run).
pub struct WatchSession<P: Procfs, C: Clock> {
    procfs: P,
    path: PathBuf,
    config: WatchConfig,
    clock: C,
    machine: Watcher,
    /// The last valid state: what is applied while the files are invalid.
    good: Option<LoadedState>,
    /// Fingerprint of the bytes last parsed, valid or not.
    seen: Option<u64>,
    /// The last load failed.
    invalid: bool,
    /// Devices left out at the last plan, to log each change once.
    skipped: BTreeMap<DeviceName, String>,
    /// The last warning that repeats while nothing changes (drift in check-only, a refused
    /// plan, a failure): logged once, then at debug level.
    last_notice: Option<String>,
    /// The box as the last converged reconcile left it; forgotten by anything else.
    known: Option<KnownBox>,
    stats: StatsHandle,
}

impl<P: Procfs, C: Clock> fmt::Debug for WatchSession<P, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WatchSession")
            .field("path", &self.path)
            .field("config", &self.config)
            .field("machine", &self.machine)
            .field("stats", &self.stats.snapshot())
            .finish_non_exhaustive()
    }
}

impl<P: Procfs, C: Clock> WatchSession<P, C> {
    /// A session for the state at `state_path`; nothing happens until the first
    /// [`handle`](Self::handle).
    pub fn new(procfs: P, state_path: &Path, config: WatchConfig, clock: C) -> Self {
        let machine = Watcher::new(config.debounce, config.poll_interval, config.once);
        WatchSession {
            procfs,
            path: state_path.to_owned(),
            config,
            clock,
            machine,
            good: None,
            seen: None,
            invalid: false,
            skipped: BTreeMap::new(),
            last_notice: None,
            known: None,
            stats: StatsHandle::default(),
        }
    }

    /// Feeds `event` to the machine and carries out what it asks, until it is idle again.
    pub fn handle(&mut self, event: Event) -> Vec<Report> {
        if event == Event::FilesChanged {
            self.stats.bump(|s| s.file_events += 1);
        }
        let mut reports = Vec::new();
        let mut next = self.machine.step(event, self.clock.now());
        while let Some(action) = next {
            let feedback = match action {
                Action::Reload { force } => Event::Loaded(self.reload(force, &mut reports)),
                Action::Reconcile(trigger) => {
                    Event::Reconciled(self.reconcile(trigger, &mut reports))
                }
                Action::Exit => {
                    tracing::info!("watch stops");
                    reports.push(Report::Exit);
                    break;
                }
            };
            next = self.machine.step(feedback, self.clock.now());
        }
        reports
    }

    /// How long until the machine needs a [`Event::Tick`].
    pub fn until_deadline(&self) -> Option<Duration> {
        self.machine
            .deadline()
            .map(|d| d.saturating_duration_since(self.clock.now()))
    }

    /// Whether the session has stopped.
    pub fn exited(&self) -> bool {
        self.machine.exited()
    }

    /// The desired state in force (the last valid one).
    pub fn desired(&self) -> Option<&LoadedState> {
        self.good.as_ref()
    }

    /// The counters, shared (they keep counting).
    pub fn stats(&self) -> StatsHandle {
        self.stats.clone()
    }

    /// The configuration.
    pub fn config(&self) -> &WatchConfig {
        &self.config
    }

    fn reload(&mut self, force: bool, reports: &mut Vec<Report>) -> LoadOutcome {
        self.stats.bump(|s| s.reloads += 1);
        let fp = fingerprint(&self.path);
        if !force && self.seen == Some(fp) {
            tracing::trace!("state files unchanged");
            self.stats.bump(|s| s.unchanged += 1);
            reports.push(Report::Unchanged);
            return LoadOutcome::Unchanged;
        }
        self.seen = Some(fp);
        // After an edit of one device's line, only that line is parsed (`reload_path`).
        // The state in force is the part kept (`select_part`): only a whole one is the file's.
        let loaded = match &self.good {
            Some(good) if matches!(self.config.part, WatchPart::Whole) => {
                reload_path(&self.path, good)
            }
            _ => load_path(&self.path),
        };
        match loaded.and_then(|l| select_part(l, &self.config.part)) {
            Err(error) => {
                self.invalid = true;
                self.stats.bump(|s| s.invalid += 1);
                if self.good.is_some() {
                    tracing::error!("the state files are invalid; keeping the last good state in force until they are fixed:\n{error}");
                } else {
                    tracing::error!("the state files are invalid; nothing is applied until they are fixed:\n{error}");
                }
                reports.push(Report::Invalid(error));
                LoadOutcome::Invalid
            }
            Ok(loaded) => {
                if std::mem::take(&mut self.invalid) {
                    tracing::info!("the state files are valid again");
                }
                let same = self
                    .good
                    .as_ref()
                    .is_some_and(|g| g.desired == loaded.desired);
                let files = loaded.files.clone();
                let devices = loaded.desired.devices.len();
                // Kept even when equal: an edit of comments moves the source locations.
                self.good = Some(loaded);
                if same {
                    tracing::debug!("state files re-read; the desired state is the same");
                    self.stats.bump(|s| s.unchanged += 1);
                    reports.push(Report::Unchanged);
                    LoadOutcome::Unchanged
                } else {
                    tracing::info!(files = %render_paths(&files), devices, "loaded the state");
                    self.stats.bump(|s| s.loads += 1);
                    reports.push(Report::Loaded { files, devices });
                    LoadOutcome::Changed
                }
            }
        }
    }

    fn reconcile(&mut self, trigger: Trigger, reports: &mut Vec<Report>) -> ReconcileOutcome {
        // Taken for the reconcile and put back: the phases below borrow the session mutably.
        let Some(good) = self.good.take() else {
            tracing::debug!(%trigger, "no valid state yet; nothing to reconcile");
            reports.push(Report::NoState);
            return ReconcileOutcome::NoState;
        };
        let span = tracing::info_span!("reconcile", %trigger, files = %render_paths(&good.files));
        let _enter = span.enter();
        self.stats.bump(|s| s.reconciles += 1);
        let turn = self.config.turn.clone();
        let _turn = turn.as_ref().map(|t| lock_ignoring_poison(t));
        let outcome = match self.lock(reports) {
            Ok(_lock) => self.reconcile_locked(&good, trigger, reports),
            Err(outcome) => outcome,
        };
        self.good = Some(good);
        outcome
    }

    /// The box lock, held around one reconcile only, so that a manual `pgstate apply` can
    /// run between two of them and never interleaves its writes with ours. Check-only takes
    /// it too: reading a box halfway through someone's apply would report drift that is not
    /// there.
    fn lock(&mut self, reports: &mut Vec<Report>) -> Result<Option<BoxLock>, ReconcileOutcome> {
        let Some(path) = &self.config.lock_file else {
            return Ok(None);
        };
        let what = format!("pgstate watch {}", self.path.display());
        match BoxLock::acquire(path, self.config.lock_timeout, &what) {
            Ok(l) => Ok(Some(l)),
            Err(e @ LockError::Busy { .. }) => {
                tracing::warn!("{e}; retrying at the next tick");
                self.stats.bump(|s| s.lock_busy += 1);
                reports.push(Report::LockBusy(e));
                Err(ReconcileOutcome::LockBusy)
            }
            Err(e) => {
                self.fail(WatchError::Lock(e), reports);
                Err(ReconcileOutcome::Failed)
            }
        }
    }

    /// Plans against a fresh read of the box and carries the plan out (or only reports it,
    /// check-only), the lock held.
    fn reconcile_locked(
        &mut self,
        good: &LoadedState,
        trigger: Trigger,
        reports: &mut Vec<Report>,
    ) -> ReconcileOutcome {
        // Unavailable interfaces are skipped, not fatal: one unplugged NIC must not freeze
        // every other device, and its devices come back at the first poll after it does.
        let Planned { live, env, plan } = match self.plan(&good.desired, trigger) {
            Ok(x) => x,
            Err(e) => {
                if let ApplyError::Plan(pe) = &e {
                    if let Some(at) = locate_plan_error(pe, &good.sources).and_then(|d| d.location)
                    {
                        tracing::error!(%at, "the state asks here for what this box cannot give");
                    }
                }
                self.fail(WatchError::Apply(e), reports);
                return ReconcileOutcome::Failed;
            }
        };
        note_skipped(&mut self.skipped, &plan, &self.stats, reports);
        if plan.is_empty() {
            tracing::debug!("in sync");
            self.last_notice = None;
            self.stats.bump(|s| s.in_sync += 1);
            self.known = Some(KnownBox::new(&good.desired, live, env));
            reports.push(Report::InSync(trigger));
            return ReconcileOutcome::Converged;
        }
        let pending = Pending::new(trigger, live, env, plan);
        if self.config.check_only {
            return self.report_drift(pending, reports);
        }
        let (threads, running) = disrupted(&pending.live, &pending.plan);
        if !threads.is_empty() {
            let (t, d) = (render_list(&threads), render_list(&running));
            let what = pending.what;
            if self.config.refuse_disruptive {
                self.stats.bump(|s| s.refused += 1);
                let text = format!("refusing to apply: the {what} need rem_device_all on thread(s) {t}, where {d} are sending; nothing written (stop the traffic, or run without --refuse-disruptive): {}", pending.changes.join("; "));
                self.notice_at(tracing::Level::ERROR, &text);
                reports.push(Report::Refused {
                    trigger,
                    threads,
                    running,
                });
                return ReconcileOutcome::Held;
            }
            tracing::warn!("TRAFFIC WILL STOP: the {what} need rem_device_all on thread(s) {t}, which stops {d} (use --refuse-disruptive to refuse such changes)");
        }
        self.carry_out(good, pending, running, reports)
    }

    /// Plans `desired` against the box. After an edit of the files, from what the last
    /// converged reconcile left known, reading only the devices the edit changed and the
    /// thread files; otherwise, or when that cannot be done, from a read of the whole box.
    fn plan(&mut self, desired: &DesiredState, trigger: Trigger) -> Result<Planned, ApplyError> {
        let known = self.known.take().filter(|_| trigger == Trigger::FileChange);
        if let Some((known, changed)) = known.and_then(|k| k.changed(desired).map(|c| (k, c))) {
            if let Some(planned) = known.plan(&self.procfs, desired, &changed)? {
                tracing::debug!(
                    devices = changed.len(),
                    "planned from the known box, reading only the changed devices"
                );
                self.stats.bump(|s| s.partial_reads += 1);
                return Ok(planned);
            }
            tracing::debug!("the thread files list a device not known; reading the whole box");
        }
        let (live, env, plan) = plan_against_with(&self.procfs, desired, true)?;
        Ok(Planned { live, env, plan })
    }

    /// Check-only: says what differs and what would repair it; writes nothing.
    fn report_drift(&mut self, pending: Pending, reports: &mut Vec<Report>) -> ReconcileOutcome {
        self.stats.bump(|s| s.drift_reports += 1);
        let text = format!(
            "{} (check-only, nothing written): {}; repair would write: {}",
            pending.what,
            pending.changes.join("; "),
            pending.writes.join("; ")
        );
        self.notice_at(tracing::Level::WARN, &text);
        reports.push(Report::Drift {
            trigger: pending.trigger,
            changes: pending.changes,
            writes: pending.writes,
        });
        ReconcileOutcome::Held
    }

    /// Applies the plan and verifies it; `running` is the traffic it stops.
    fn carry_out(
        &mut self,
        good: &LoadedState,
        pending: Pending,
        running: Vec<DeviceName>,
        reports: &mut Vec<Report>,
    ) -> ReconcileOutcome {
        let Pending {
            trigger,
            live,
            env,
            plan,
            changes,
            writes,
            what,
        } = pending;
        // Never interrupted: SIGINT/SIGTERM are looked at between two reconciles only, so the
        // flag given to the apply is one that nobody sets.
        let never = AtomicBool::new(false);
        match execute_plan_read_back(&self.procfs, &good.desired, &live, &env, plan, &never) {
            Ok((report, now)) => {
                self.known = Some(KnownBox::new(&good.desired, now.into_owned(), env));
                let n = report.writes as u64;
                self.last_notice = None;
                self.stats.bump(|s| {
                    s.applies += 1;
                    s.writes += n;
                    if trigger == Trigger::Poll {
                        s.repairs += 1;
                    }
                });
                tracing::info!(
                    writes = n,
                    "applied {what}: {}; wrote: {}",
                    changes.join("; "),
                    writes.join("; ")
                );
                reports.push(Report::Applied {
                    trigger,
                    changes,
                    writes,
                    stopped_traffic: running,
                });
                ReconcileOutcome::Converged
            }
            Err(e) => {
                if let Some(refused) = refused_setting(&e, &good.sources) {
                    tracing::error!(at = %refused.location, "the kernel refused a value set here");
                }
                self.fail(WatchError::Apply(e), reports);
                ReconcileOutcome::Failed
            }
        }
    }

    /// Logs `text` at `level` the first time in a row it is said, at debug after that.
    fn notice_at(&mut self, level: tracing::Level, text: &str) {
        if !notice(&mut self.last_notice, text) {
            tracing::debug!("{text}");
        } else if level == tracing::Level::ERROR {
            tracing::error!("{text}");
        } else {
            tracing::warn!("{text}");
        }
    }

    fn fail(&mut self, error: WatchError, reports: &mut Vec<Report>) {
        self.stats.bump(|s| s.failures += 1);
        let text = error.to_string();
        if notice(&mut self.last_notice, &text) {
            tracing::error!("{text}; retrying later");
        } else {
            tracing::debug!("{text}; retrying later");
        }
        reports.push(Report::Failed(error));
    }
}

/// A plan about to be carried out (or reported), with what the logs and reports say of it.
struct Pending {
    trigger: Trigger,
    live: LiveState,
    env: crate::plan::Environment,
    plan: Plan,
    /// What differs, one line each.
    changes: Vec<String>,
    /// The writes, `file <- command`.
    writes: Vec<String>,
    /// `drift` (a poll found it) or `changes` (the files did).
    what: &'static str,
}

impl Pending {
    fn new(
        trigger: Trigger,
        live: LiveState,
        env: crate::plan::Environment,
        plan: Plan,
    ) -> Pending {
        Pending {
            changes: describe(&plan),
            writes: plan.writes.iter().map(crate::plan::Write::render).collect(),
            what: if trigger == Trigger::Poll {
                "drift"
            } else {
                "changes"
            },
            trigger,
            live,
            env,
            plan,
        }
    }
}

/// Whether `text` differs from the last notice (and remembers it).
fn notice(last: &mut Option<String>, text: &str) -> bool {
    if last.as_deref() == Some(text) {
        return false;
    }
    *last = Some(text.to_owned());
    true
}

/// Logs changes in the set of skipped devices, once per change rather than every poll.
fn note_skipped(
    known: &mut BTreeMap<DeviceName, String>,
    plan: &Plan,
    stats: &StatsHandle,
    reports: &mut Vec<Report>,
) {
    let now: BTreeMap<DeviceName, String> = plan.skipped.iter().cloned().collect();
    if &now == known {
        return;
    }
    let mut skipped = Vec::new();
    for (device, why) in &now {
        if known.get(device) != Some(why) {
            tracing::warn!(%device, "left out: {why}; it is added again when its interface is back and up");
            skipped.push((device.clone(), why.clone()));
        }
    }
    let back: Vec<DeviceName> = known
        .keys()
        .filter(|d| !now.contains_key(*d))
        .cloned()
        .collect();
    for device in &back {
        tracing::info!(%device, "no longer left out; its interface is available");
    }
    *known = now;
    stats.bump(|s| s.skipped_changes += 1);
    reports.push(Report::Skipped { skipped, back });
}

/// One line per difference: `device.field: old -> new`, or what happens to a device
/// ([`crate::render::action_lines`]).
#[must_use]
pub fn describe(plan: &Plan) -> Vec<String> {
    plan.actions
        .iter()
        .flat_map(crate::render::action_lines)
        .collect()
}

/// Threads the plan flushes while traffic runs on them, and the running devices there.
fn disrupted(live: &LiveState, plan: &Plan) -> (Vec<ThreadId>, Vec<DeviceName>) {
    let running_on = |t: ThreadId| {
        live.devices
            .iter()
            .filter(move |(_, d)| d.running && d.thread == t)
            .map(|(n, _)| n.clone())
    };
    let threads: Vec<ThreadId> = plan
        .flushed_threads
        .iter()
        .copied()
        .filter(|t| running_on(*t).next().is_some())
        .collect();
    let running = threads.iter().flat_map(|t| running_on(*t)).collect();
    (threads, running)
}

pub(super) fn render_list<T: fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn render_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The part of `loaded` a session keeps ([`WatchPart`]), as a state of one box. A whole
/// state with `namespaces:` is refused (one session per namespace keeps such a state), and so
/// is a state that no longer has the namespace a session keeps: applying nothing there would
/// remove its devices, and namespaces that are not listed are never touched.
fn select_part(
    mut loaded: crate::state_file::LoadedState,
    part: &WatchPart,
) -> Result<crate::state_file::LoadedState, crate::state_file::LoadError> {
    let refuse = |loaded: &crate::state_file::LoadedState, message: String| {
        Err(crate::state_file::LoadError::Invalid(vec![
            crate::Diagnostic {
                location: None,
                file: loaded.files.first().cloned().unwrap_or_default(),
                path: "namespaces".into(),
                message,
                source_line: None,
                help: None,
            },
        ]))
    };
    match part {
        WatchPart::Whole if loaded.namespaces.is_empty() => Ok(loaded),
        WatchPart::Whole => refuse(
            &loaded,
            "this watch keeps one namespace, and the state now has `namespaces:`; restart \
             `pgstate watch` to keep every namespace"
                .into(),
        ),
        WatchPart::Current if loaded.current => {
            loaded.namespaces.clear();
            Ok(loaded)
        }
        WatchPart::Current => refuse(
            &loaded,
            "the state no longer has a top-level `devices:`; restart `pgstate watch` to change \
             the namespaces it keeps"
                .into(),
        ),
        WatchPart::Named(name) => match loaded.namespaces.remove(name) {
            Some(ns) => Ok(crate::state_file::LoadedState {
                desired: ns.desired,
                current: true,
                namespaces: BTreeMap::new(),
                sources: ns.sources,
                files: loaded.files,
                notes: loaded.notes,
                receivers: ns.receivers,
            }),
            None => refuse(
                &loaded,
                format!(
                    "namespace {name} is no longer in the state; restart `pgstate watch` to \
                     change the namespaces it keeps"
                ),
            ),
        },
    }
}
