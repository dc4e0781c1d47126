//! A watch session carries the machine's actions out: it loads the state files (keeping the
//! last good state while they are invalid), plans against the live box with unavailable
//! interfaces skipped, applies under the box lock, and feeds the outcome back to its
//! [`Watcher`]. Everything it does is logged and returned as [`Report`]s, counted in
//! [`WatchStats`]. [`run`] is the loop: it waits on an [`EventSource`] and acts on the
//! SIGHUP / SIGINT-SIGTERM flags, only ever between two reconciles.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;

use crate::apply::{execute_plan, plan_against_with, ApplyError};
use crate::locate::{locate_plan_error, refused_setting};
use crate::lock::{BoxLock, LockError};
use crate::model::{DeviceName, LiveState, ThreadId};
use crate::plan::Plan;
use crate::procfs::Procfs;
use crate::spec::{load_path, LoadError, LoadedState};

use super::clock::{lock_ignoring_poison, Clock};
use super::config::{WatchConfig, WatchPart};
use super::error::WatchError;
use super::machine::{Action, Event, LoadOutcome, ReconcileOutcome, Trigger, Watcher};
use super::observe::{NoObserver, Observer, Status};
use super::source::{fingerprint, EventSource};

/// How often [`run`] looks at the signal flags while it waits for events.
pub const SIGNAL_CHECK_MS: u64 = 100;

/// Counters of what a session did, for tests, benchmarks and the exit summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct WatchStats {
    /// File events received (before debounce).
    pub file_events: u64,
    /// Times the state files were looked at.
    pub reloads: u64,
    /// Times a new valid desired state was loaded.
    pub loads: u64,
    /// Reloads that found nothing that matters changed.
    pub unchanged: u64,
    /// Reloads that found the files invalid (the last good state stayed in force).
    pub invalid: u64,
    /// Reconciles with a state to reconcile to.
    pub reconciles: u64,
    /// Reconciles that found the box converged.
    pub in_sync: u64,
    /// Successful applies with at least one write.
    pub applies: u64,
    /// Of those, the ones a poll triggered: drift repairs.
    pub repairs: u64,
    /// Writes performed by successful applies.
    pub writes: u64,
    /// Check-only reconciles that found differences.
    pub drift_reports: u64,
    /// Plans refused because they would stop running traffic.
    pub refused: u64,
    /// Reconciles skipped because another pgstate held the lock.
    pub lock_busy: u64,
    /// Plans or applies that failed.
    pub failures: u64,
    /// Times the set of devices left out for a missing or down interface changed.
    pub skipped_changes: u64,
}

/// A shared view of a session's [`WatchStats`], readable from another thread.
#[derive(Debug, Clone, Default)]
pub struct StatsHandle(Arc<Mutex<WatchStats>>);

impl StatsHandle {
    /// The counters now.
    #[must_use]
    pub fn snapshot(&self) -> WatchStats {
        *lock_ignoring_poison(&self.0)
    }

    fn bump(&self, f: impl FnOnce(&mut WatchStats)) {
        f(&mut lock_ignoring_poison(&self.0));
    }
}

/// Something a session did or found, in order.
#[derive(Debug)]
pub enum Report {
    /// A new valid desired state was loaded.
    Loaded {
        /// The files read.
        files: Vec<PathBuf>,
        /// Devices in the state.
        devices: usize,
    },
    /// The files were re-read and nothing that matters changed.
    Unchanged,
    /// The files are invalid; the last good state stays in force. The error carries
    /// `file:line:col` for each problem.
    Invalid(LoadError),
    /// A reconcile was due but no valid state was ever loaded.
    NoState,
    /// The box already matches the state.
    InSync(Trigger),
    /// The plan was applied and verified.
    Applied {
        /// Why.
        trigger: Trigger,
        /// What differed, one line per field or device.
        changes: Vec<String>,
        /// The writes performed, `file <- command`.
        writes: Vec<String>,
        /// Running devices that the plan's `rem_device_all` stopped.
        stopped_traffic: Vec<DeviceName>,
    },
    /// Check-only: the box differs; nothing was written.
    Drift {
        /// Why the box was looked at.
        trigger: Trigger,
        /// What differs.
        changes: Vec<String>,
        /// The writes that would repair it.
        writes: Vec<String>,
    },
    /// `refuse_disruptive`: the plan would `rem_device_all` threads where traffic runs.
    Refused {
        /// Why the plan was made.
        trigger: Trigger,
        /// The threads.
        threads: Vec<ThreadId>,
        /// The running devices on them.
        running: Vec<DeviceName>,
    },
    /// The set of devices left out because their interface is missing or down changed.
    Skipped {
        /// Devices now left out, and why.
        skipped: Vec<(DeviceName, String)>,
        /// Devices no longer left out.
        back: Vec<DeviceName>,
    },
    /// Another pgstate holds the lock; retried at the next tick.
    LockBusy(LockError),
    /// Planning or applying failed (an apply rolls back), or the lock file is unusable.
    Failed(WatchError),
    /// The session stopped.
    Exit,
}

/// Loads, reconciles and reports, as its [`Watcher`] decides. Drive it with
/// [`handle`](Self::handle), or with [`run`].
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
        match load_path(&self.path).and_then(|l| select_part(l, &self.config.part)) {
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
        let Some(good) = &self.good else {
            tracing::debug!(%trigger, "no valid state yet; nothing to reconcile");
            reports.push(Report::NoState);
            return ReconcileOutcome::NoState;
        };
        let span = tracing::info_span!("reconcile", %trigger, files = %render_paths(&good.files));
        let _enter = span.enter();
        self.stats.bump(|s| s.reconciles += 1);

        let turn = self.config.turn.clone();
        let _turn = turn.as_ref().map(|t| lock_ignoring_poison(t));
        // The lock is held around one reconcile only, so that a manual `pgstate apply` can
        // run between two of them and never interleaves its writes with ours. Check-only
        // takes it too: reading a box halfway through someone's apply would report drift
        // that is not there.
        let _lock = match &self.config.lock_file {
            None => None,
            Some(path) => {
                let what = format!("pgstate watch {}", self.path.display());
                match BoxLock::acquire(path, self.config.lock_timeout, &what) {
                    Ok(l) => Some(l),
                    Err(e @ LockError::Busy { .. }) => {
                        tracing::warn!("{e}; retrying at the next tick");
                        self.stats.bump(|s| s.lock_busy += 1);
                        reports.push(Report::LockBusy(e));
                        return ReconcileOutcome::LockBusy;
                    }
                    Err(e) => {
                        self.fail(WatchError::Lock(e), reports);
                        return ReconcileOutcome::Failed;
                    }
                }
            }
        };

        // Unavailable interfaces are skipped, not fatal: one unplugged NIC must not freeze
        // every other device, and its devices come back at the first poll after it does.
        let (live, env, plan) = match plan_against_with(&self.procfs, &good.desired, true) {
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
            reports.push(Report::InSync(trigger));
            return ReconcileOutcome::Converged;
        }
        let changes = describe(&plan);
        let writes: Vec<String> = plan.writes.iter().map(crate::plan::Write::render).collect();
        let what = if trigger == Trigger::Poll {
            "drift"
        } else {
            "changes"
        };

        if self.config.check_only {
            self.stats.bump(|s| s.drift_reports += 1);
            let text = format!(
                "{what} (check-only, nothing written): {}; repair would write: {}",
                changes.join("; "),
                writes.join("; ")
            );
            if notice(&mut self.last_notice, &text) {
                tracing::warn!("{text}");
            } else {
                tracing::debug!("{text}");
            }
            reports.push(Report::Drift {
                trigger,
                changes,
                writes,
            });
            return ReconcileOutcome::Held;
        }

        let (threads, running) = disrupted(&live, &plan);
        if !threads.is_empty() {
            let t = render_list(&threads);
            let d = render_list(&running);
            if self.config.refuse_disruptive {
                self.stats.bump(|s| s.refused += 1);
                let text = format!("refusing to apply: the {what} need rem_device_all on thread(s) {t}, where {d} are sending; nothing written (stop the traffic, or run without --refuse-disruptive): {}", changes.join("; "));
                if notice(&mut self.last_notice, &text) {
                    tracing::error!("{text}");
                } else {
                    tracing::debug!("{text}");
                }
                reports.push(Report::Refused {
                    trigger,
                    threads,
                    running,
                });
                return ReconcileOutcome::Held;
            }
            tracing::warn!("TRAFFIC WILL STOP: the {what} need rem_device_all on thread(s) {t}, which stops {d} (use --refuse-disruptive to refuse such changes)");
        }

        // Never interrupted: SIGINT/SIGTERM are looked at between two reconciles only, so the
        // flag given to the apply is one that nobody sets.
        let never = AtomicBool::new(false);
        match execute_plan(&self.procfs, &good.desired, &live, &env, plan, &never) {
            Ok(report) => {
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

fn render_list<T: fmt::Display>(items: &[T]) -> String {
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

// ---------------------------------------------------------------------------------------
// The loop.
// ---------------------------------------------------------------------------------------

/// What a finished `watch` did.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct WatchSummary {
    /// The counters.
    pub stats: WatchStats,
    /// The last reconcile found or left the box matching the state (check-only: found no
    /// drift).
    pub in_sync: bool,
}

/// Runs `session` until it exits: after SIGINT/SIGTERM (`terminate` set) between two
/// reconciles, or after one convergence with `once`. `hangup` is cleared when acted on.
///
/// Errors: only with `once`, the reason the box could not be converged. Otherwise every
/// problem is logged, reported and retried, and stopping is a success.
///
/// # Errors
///
/// With `once` only: [`WatchError::Load`], [`WatchError::Apply`], [`WatchError::Lock`] or
/// [`WatchError::Refused`], whichever kept the single reconcile from converging.
pub fn run<P: Procfs, C: Clock>(
    session: &mut WatchSession<P, C>,
    source: &mut dyn EventSource,
    terminate: &AtomicBool,
    hangup: &AtomicBool,
) -> Result<WatchSummary, WatchError> {
    run_observed(session, source, terminate, hangup, &mut NoObserver)
}

/// [`run`], telling `observer` about readiness, reloads, each reconcile's [`Status`], the
/// stop, and that the loop is alive.
///
/// # Errors
///
/// As [`run`].
pub fn run_observed<P: Procfs, C: Clock>(
    session: &mut WatchSession<P, C>,
    source: &mut dyn EventSource,
    terminate: &AtomicBool,
    hangup: &AtomicBool,
    observer: &mut dyn Observer,
) -> Result<WatchSummary, WatchError> {
    let mut problem: Option<WatchError> = None;
    let mut in_sync = false;
    observer.started(&session.stats());
    let mut reports = session.handle(Event::Tick);
    // The first batch holds the first reload and reconcile: once it is handled, the service
    // is ready, whatever it found.
    let mut ready = false;
    let mut reloading = false;
    let mut stopping = false;
    loop {
        let devices = session.desired().map_or(0, |d| d.desired.devices.len());
        let status = Status::from_reports(&reports, devices);
        if !ready {
            ready = true;
            let first = status.clone().unwrap_or_else(|| Status {
                in_sync: false,
                converged: false,
                text: "started".to_owned(),
            });
            observer.ready(&first);
        } else if std::mem::take(&mut reloading) {
            observer.reloaded(status.as_ref());
        } else if let Some(s) = &status {
            observer.status(s);
        }
        let mut exit = false;
        for r in reports {
            match r {
                Report::Invalid(e) => problem = Some(WatchError::Load(e)),
                Report::Failed(e) => {
                    problem = Some(e);
                    in_sync = false;
                }
                Report::LockBusy(e) => {
                    problem = Some(WatchError::Lock(e));
                    in_sync = false;
                }
                Report::Refused {
                    threads, running, ..
                } => {
                    problem = Some(WatchError::Refused {
                        threads: render_list(&threads),
                        devices: render_list(&running),
                    });
                    in_sync = false;
                }
                Report::InSync(_) | Report::Applied { .. } => {
                    problem = None;
                    in_sync = true;
                }
                Report::Drift { .. } => {
                    problem = None;
                    in_sync = false;
                }
                Report::Exit => exit = true,
                _ => {}
            }
        }
        if exit || session.exited() {
            break;
        }
        observer.alive();
        // Signals are acted on here, between two handle() calls: never during an apply.
        reports = if terminate.load(Ordering::SeqCst) {
            if !std::mem::replace(&mut stopping, true) {
                observer.stopping();
            }
            session.handle(Event::Terminate)
        } else if hangup.swap(false, Ordering::SeqCst) {
            tracing::info!("SIGHUP: re-reading the state");
            observer.reloading();
            reloading = true;
            session.handle(Event::Hangup)
        } else {
            let signal_check = Duration::from_millis(SIGNAL_CHECK_MS);
            let timeout = session
                .until_deadline()
                .map_or(signal_check, |d| d.min(signal_check));
            let mut r = Vec::new();
            if source.wait(timeout) {
                r = session.handle(Event::FilesChanged);
            }
            r.extend(session.handle(Event::Tick));
            r
        };
    }
    if !stopping {
        // `--once`: stopping all the same.
        observer.stopping();
    }
    let summary = WatchSummary {
        stats: session.stats().snapshot(),
        in_sync,
    };
    match problem {
        Some(e) if session.config().once => Err(e),
        _ => Ok(summary),
    }
}

/// The part of `loaded` a session keeps ([`WatchPart`]), as a state of one box. A whole
/// state with `namespaces:` is refused (one session per namespace keeps such a state), and so
/// is a state that no longer has the namespace a session keeps: applying nothing there would
/// remove its devices, and namespaces that are not listed are never touched.
fn select_part(
    mut loaded: crate::spec::LoadedState,
    part: &WatchPart,
) -> Result<crate::spec::LoadedState, crate::spec::LoadError> {
    let refuse = |loaded: &crate::spec::LoadedState, message: String| {
        Err(crate::spec::LoadError::Invalid(vec![crate::Diagnostic {
            location: None,
            file: loaded.files.first().cloned().unwrap_or_default(),
            path: "namespaces".into(),
            message,
            source_line: None,
            help: None,
        }]))
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
            Some(ns) => Ok(crate::spec::LoadedState {
                desired: ns.desired,
                current: true,
                namespaces: BTreeMap::new(),
                sources: ns.sources,
                files: loaded.files,
                notes: loaded.notes,
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
