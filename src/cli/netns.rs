//! Commands over the network namespaces of a state (`namespaces:`): each namespace's pktgen
//! is reached through a `NetnsProcfs`, a thread inside it (REFERENCE §5.7); pgstate itself
//! never changes namespace, and nothing opened in one namespace is used in another.

use std::path::Path;

use anyhow::{bail, Result};

use pgstate::model::NamespaceName;
use pgstate::namespaces::Target;
use pgstate::procfs::netns::{NetnsError, NetnsPath, NetnsProcfs};
use pgstate::procfs::Procfs;
use pgstate::spec::{LoadedState, SourceMap};

use super::args::Cli;
use super::common::open_procfs;
use super::pktgen::{Access, Opened};

/// The pktgen of every namespace of a state, entered.
pub(super) struct Boxes {
    /// The namespace pgstate runs in, when the state has a top-level `devices:`.
    pub current: Option<Opened>,
    /// The others, in the state's order.
    pub others: Vec<(NamespaceName, NetnsPath, NetnsProcfs)>,
}

/// Enters every namespace of `loaded`. A namespace that cannot be entered is an error
/// located at its `netns:` (or its name) in the state file; nothing has been read or written
/// anywhere then.
pub(super) fn open_all(cli: &Cli, loaded: &LoadedState, access: Access) -> Result<Boxes> {
    // The module is global: loading it (for a change) or finding it missing is the same for
    // every namespace.
    let opened = open_procfs(cli, access)?;
    if !opened.is_loaded() {
        bail!(
            "pktgen is not loaded, so the namespaces of this state have no pktgen to read; \
             `pgstate apply` loads it"
        );
    }
    let mut others = Vec::new();
    for (name, ns) in &loaded.namespaces {
        let path = NetnsPath::file(&ns.netns);
        others.push((name.clone(), path.clone(), enter(&path, &ns.sources)?));
    }
    Ok(Boxes {
        current: loaded.current.then_some(opened),
        others,
    })
}

/// Enters `path`; an error is located with `sources`.
pub(super) fn enter(path: &NetnsPath, sources: &SourceMap) -> Result<NetnsProcfs> {
    NetnsProcfs::enter(path).map_err(|e| {
        let help = match &e {
            NetnsError::Missing { .. } => {
                Some("create it with `ip netns add NAME`, or give its file as `netns:`".into())
            }
            NetnsError::NotNetns { .. } => {
                Some("`netns:` must name a network namespace file, such as /proc/PID/ns/net".into())
            }
            NetnsError::Io { .. } => None,
        };
        match sources.namespace_diagnostic(e.to_string(), help) {
            Some(d) => anyhow::Error::new(d),
            None => anyhow::Error::new(e),
        }
    })
}

impl Boxes {
    /// The targets of `loaded` in order: the current namespace first, then the others.
    pub fn targets<'a>(&'a self, loaded: &'a LoadedState) -> Vec<Target<'a>> {
        let mut out = Vec::new();
        if let Some(current) = &self.current {
            out.push(Target {
                name: None,
                procfs: current.procfs() as &dyn Procfs,
                desired: &loaded.desired,
            });
        }
        for ((name, _, procfs), ns) in self.others.iter().zip(loaded.namespaces.values()) {
            out.push(Target {
                name: Some(name),
                procfs,
                desired: &ns.desired,
            });
        }
        out
    }

    /// The netns file and the source map of each target, in [`targets`](Self::targets)'s
    /// order.
    pub fn places<'a>(&'a self, loaded: &'a LoadedState) -> Vec<(Option<&'a Path>, &'a SourceMap)> {
        let mut out = Vec::new();
        if self.current.is_some() {
            out.push((None, &loaded.sources));
        }
        for ((_, path, _), ns) in self.others.iter().zip(loaded.namespaces.values()) {
            out.push((Some(path.path()), &ns.sources));
        }
        out
    }
}

/// A namespace that could not be read or planned, located in the state file when it can be.
fn plan_error(
    e: pgstate::namespaces::PlanAllError,
    boxes_sources: &[&SourceMap],
    targets: &[Target<'_>],
) -> anyhow::Error {
    let i = targets
        .iter()
        .position(|t| t.name == e.namespace.as_ref())
        .unwrap_or(0);
    let what = pgstate::namespaces::label(e.namespace.as_ref());
    super::common::locate_plan_error_in(e.error, boxes_sources[i]).context(what)
}

/// `plan` of a state with `namespaces:`: every namespace read and planned, output grouped by
/// namespace, `--json` with the `namespace` of every action and write.
pub(super) fn plan(
    cli: &Cli,
    a: &super::args::PlanArgs,
    loaded: &LoadedState,
    stdout: &mut impl std::io::Write,
) -> Result<super::common::Outcome> {
    if a.out.is_some() {
        bail!(
            "a saved plan (--out) covers one network namespace, and this state has \
             `namespaces:`; plan and apply the state itself"
        );
    }
    let boxes = open_all(cli, loaded, Access::Read)?;
    let targets = boxes.targets(loaded);
    let places = boxes.places(loaded);
    let sources: Vec<&SourceMap> = places.iter().map(|(_, s)| *s).collect();
    let planned =
        pgstate::namespaces::plan_all(&targets).map_err(|e| plan_error(e, &sources, &targets))?;
    let parts = parts(&targets, &places, planned.iter().map(|p| &p.plan));
    if a.json {
        writeln!(stdout, "{}", super::render::plan_json_parts(&parts))?;
    } else {
        write!(
            stdout,
            "{}",
            super::render::plan_text_parts(&parts, cli.verbose > 0)
        )?;
    }
    Ok(
        if a.detailed_exitcode && planned.iter().any(|p| !p.plan.is_empty()) {
            super::common::Outcome::Changes
        } else {
            super::common::Outcome::Ok
        },
    )
}

fn parts<'a>(
    targets: &[Target<'a>],
    places: &[(Option<&'a Path>, &'a SourceMap)],
    plans: impl Iterator<Item = &'a pgstate::Plan>,
) -> Vec<super::render::Part<'a>> {
    targets
        .iter()
        .zip(places)
        .zip(plans)
        .map(|((t, (netns, sources)), plan)| super::render::Part {
            name: t.name,
            netns: *netns,
            plan,
            sources,
        })
        .collect()
}

/// `apply` of a state with `namespaces:`: all namespaces or none (see
/// `pgstate::namespaces`); the error says what became of each namespace.
pub(super) fn apply(
    cli: &Cli,
    json: bool,
    lock: &super::args::LockArgs,
    loaded: &LoadedState,
    stdout: &mut impl std::io::Write,
) -> Result<super::common::Outcome> {
    let boxes = open_all(cli, loaded, Access::Change)?;
    let _lock = super::common::take_lock(cli, lock)?;
    let interrupt = super::common::interrupt_flag()?;
    converge_all(cli, &boxes, loaded, json, &interrupt, stdout)?;
    Ok(super::common::Outcome::Ok)
}

/// Plans and applies every namespace (the lock held by the caller), printing the plan and
/// the result as `apply` does.
fn converge_all(
    cli: &Cli,
    boxes: &Boxes,
    loaded: &LoadedState,
    json: bool,
    interrupt: &std::sync::atomic::AtomicBool,
    stdout: &mut impl std::io::Write,
) -> Result<()> {
    let targets = boxes.targets(loaded);
    let places = boxes.places(loaded);
    let sources: Vec<&SourceMap> = places.iter().map(|(_, s)| *s).collect();
    let planned =
        pgstate::namespaces::plan_all(&targets).map_err(|e| plan_error(e, &sources, &targets))?;
    if !json && !cli.quiet && planned.iter().any(|p| !p.plan.is_empty()) {
        let parts = parts(&targets, &places, planned.iter().map(|p| &p.plan));
        write!(
            stdout,
            "{}",
            super::render::plan_text_parts(&parts, cli.verbose > 0)
        )?;
        writeln!(stdout)?;
    }
    let reports = pgstate::namespaces::apply_all(&targets, planned, interrupt).map_err(|e| {
        let i = targets
            .iter()
            .position(|t| t.name == e.namespace.as_ref())
            .unwrap_or(0);
        let located = super::common::refused_setting(&e.error, sources[i]);
        let err = anyhow::Error::new(*e);
        match located {
            Some(l) => err.context(l),
            None => err,
        }
    })?;
    let parts = parts(&targets, &places, reports.iter().map(|r| &r.plan));
    if json {
        writeln!(stdout, "{}", super::render::apply_json_parts(&parts))?;
    } else if !cli.quiet {
        write!(stdout, "{}", super::render::apply_text_parts(&parts))?;
    }
    Ok(())
}

/// Where `ip netns add` puts the namespaces it names.
const RUN_NETNS: &str = "/run/netns";

/// Whether two files are the same namespace (the same nsfs inode).
fn same_namespace(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// `show --all-namespaces`: every namespace under /run/netns with pktgen devices, and the
/// current one if it has any, as one state. Each is read from inside it; a name that is
/// the namespace pgstate runs in is shown once, at the top level.
pub(super) fn show_all(
    cli: &Cli,
    json: bool,
    stdout: &mut impl std::io::Write,
) -> Result<super::common::Outcome> {
    use anyhow::Context;
    use pgstate::procfs::observe::read_live_state;
    use pgstate::spec::{self, NamespaceSpec, StateFile};

    let opened = open_procfs(cli, Access::Read)?;
    let here = opened.procfs();
    let live = read_live_state(here).context("reading the live state")?;
    let current = !live.devices.is_empty();
    let mut file = if current {
        spec::state_file_from_live(&live, &super::common::profile_of(here))
    } else {
        StateFile::default()
    };
    for ns_name in run_netns_names()? {
        let name = ns_name.as_str().to_owned();
        let path = NetnsPath::named(&name);
        if same_namespace(path.path(), Path::new("/proc/self/ns/net")) {
            continue;
        }
        if !opened.is_loaded() {
            continue;
        }
        // A name left behind by a namespace that is gone (not a mount any more) is skipped
        // with a note, not an error: the others are still shown.
        let procfs = match NetnsProcfs::enter(&path) {
            Ok(p) => p,
            Err(e) => {
                if !cli.quiet {
                    eprintln!("note: skipping {}: {e}", ns_name);
                }
                continue;
            }
        };
        let live = read_live_state(&procfs)
            .with_context(|| format!("reading pktgen of namespace {ns_name}"))?;
        if live.devices.is_empty() {
            continue;
        }
        let devices =
            spec::state_file_from_live(&live, &super::common::profile_of(&procfs)).devices;
        file.namespaces.insert(
            name,
            NamespaceSpec {
                netns: None,
                threads: None,
                devices,
            },
        );
    }
    // With nothing anywhere, the state of an empty namespace: `devices: {}`.
    let current = current || file.namespaces.is_empty();
    if json {
        let mut doc = serde_json::to_value(&file)?;
        if let serde_json::Value::Object(map) = &mut doc {
            if !current {
                map.remove("devices");
                map.remove("threads");
            }
            map.insert(
                "format_version".into(),
                serde_json::Value::from(super::render::JSON_FORMAT_VERSION),
            );
        }
        writeln!(stdout, "{}", serde_json::to_string_pretty(&doc)?)?;
    } else {
        write!(
            stdout,
            "{}",
            spec::render_namespaces_state_file(&file, current)?
        )?;
    }
    Ok(super::common::Outcome::Ok)
}

/// One namespace's pktgen for `run`, `stop` and `status`: shared between threads, with its
/// name (`None`: the namespace pgstate runs in) and file.
pub(super) struct Shared {
    pub name: Option<NamespaceName>,
    pub netns: Option<NetnsPath>,
    pub procfs: std::sync::Arc<dyn Procfs + Send + Sync>,
}

/// `run` of a state with `namespaces:`: converge every namespace (all or none), then start
/// them all at once, each `start` written from inside its namespace by a thread of its own,
/// and report per namespace, in total, and how far the runs overlapped by the kernel's
/// timestamps.
pub(super) fn run(
    cli: &Cli,
    a: &super::args::RunArgs,
    loaded: &LoadedState,
    stdout: &mut impl std::io::Write,
) -> Result<super::common::Outcome> {
    use anyhow::Context;
    use std::sync::Arc;

    super::common::same_namespace_for_pgctrl(&cli.proc_root)?;
    let boxes = open_all(cli, loaded, Access::Change)?;
    let _lock = super::common::take_lock(cli, &a.lock)?;
    let interrupt = super::common::interrupt_flag()?;
    // Converge first, exactly as `apply` does (all namespaces or none).
    converge_all(
        cli,
        &boxes,
        loaded,
        a.json,
        &interrupt,
        &mut std::io::sink(),
    )?;
    if interrupt.load(std::sync::atomic::Ordering::SeqCst) {
        bail!("interrupted before traffic started");
    }
    // Each namespace gets two threads inside it: the one that read and converged it, for
    // readings and `stop`, and one more for the `start` that blocks until its streams are
    // done.
    let mut runs: Vec<(Shared, Arc<dyn Procfs + Send + Sync>)> = Vec::new();
    let Boxes { current, others } = boxes;
    if let Some(opened) = current {
        let opened = opened.into_shared();
        runs.push((
            Shared {
                name: None,
                netns: None,
                procfs: Arc::clone(&opened),
            },
            opened,
        ));
    }
    for ((name, path, reader), ns) in others.into_iter().zip(loaded.namespaces.values()) {
        let starter = enter(&path, &ns.sources)?;
        runs.push((
            Shared {
                name: Some(name),
                netns: Some(path),
                procfs: Arc::new(reader),
            },
            Arc::new(starter),
        ));
    }
    let opts = pgstate::run::RunOptions {
        duration: a.duration,
        interrupt,
        ..pgstate::run::RunOptions::default()
    };
    if !a.json && !cli.quiet {
        writeln!(
            stdout,
            "Starting {} at once.",
            super::render::count(runs.len(), "namespace")
        )?;
    }
    // Live progress on a terminal: one line, per namespace and in total, rewritten in place.
    let show_progress = !a.no_progress
        && !a.json
        && !cli.quiet
        && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let latest: Vec<std::sync::Mutex<(u64, u64)>> =
        runs.iter().map(|_| std::sync::Mutex::new((0, 0))).collect();
    let outcomes: Vec<Result<pgstate::run::RunOutcome, pgstate::run::RunError>> =
        std::thread::scope(|scope| {
            let handles: Vec<_> = runs
                .iter()
                .zip(&latest)
                .map(|((shared, starter), latest)| {
                    let (procfs, starter, opts) =
                        (Arc::clone(&shared.procfs), Arc::clone(starter), &opts);
                    scope.spawn(move || {
                        pgstate::run::run_traffic_with(procfs, starter, opts, |samples, _| {
                            let sent = samples.iter().map(|s| s.packets).sum();
                            let count = samples.iter().map(|s| s.count).sum();
                            *latest
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner) = (sent, count);
                        })
                    })
                })
                .collect();
            while show_progress && handles.iter().any(|h| !h.is_finished()) {
                std::thread::sleep(std::time::Duration::from_millis(500));
                let mut line = String::new();
                let (mut sent_all, mut count_all) = (0, 0);
                for ((shared, _), latest) in runs.iter().zip(&latest) {
                    let (sent, count) = *latest
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    sent_all += sent;
                    count_all += count;
                    let name = shared
                        .name
                        .as_ref()
                        .map_or_else(|| "here".to_owned(), ToString::to_string);
                    line.push_str(&format!("{name}: {sent}/{count}  "));
                }
                eprint!("\r{line}total: {sent_all}/{count_all} packets\x1b[K");
            }
            if show_progress {
                eprintln!();
            }
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(pgstate::run::RunError::Procfs(
                            pgstate::procfs::ProcfsError::Io {
                                path: "pgctrl".into(),
                                error: std::io::Error::other("the run thread panicked"),
                            },
                        ))
                    })
                })
                .collect()
        });
    let mut windows = Vec::new();
    let mut per_ns = Vec::new();
    let mut failed = Vec::new();
    for ((shared, _), outcome) in runs.iter().zip(outcomes) {
        let what = pgstate::namespaces::label(shared.name.as_ref());
        match outcome {
            Ok(o) => {
                let window = pgstate::namespaces::run_window(&*shared.procfs)
                    .with_context(|| format!("{what}: reading the run's timestamps"))?;
                windows.extend(window);
                per_ns.push((shared, o, window));
            }
            Err(e) => failed.push(format!("{what}: {e}")),
        }
    }
    let overlap = if windows.len() == runs.len() {
        pgstate::namespaces::overlap(&windows)
    } else {
        None
    };
    let problems = per_ns.iter().any(|(_, o, _)| o.has_problems()) || !failed.is_empty();
    if a.json {
        let doc = serde_json::json!({
            "format_version": super::render::JSON_FORMAT_VERSION,
            "ok": !problems,
            "total": super::render::totals(
                &per_ns.iter().flat_map(|(_, o, _)| o.devices.clone()).collect::<Vec<_>>()
            ),
            "overlap": overlap,
            "failed": failed,
            "namespaces": per_ns.iter().map(|(s, o, w)| serde_json::json!({
                "namespace": s.name,
                "netns": s.netns.as_ref().map(|n| n.to_string()),
                "ended_by": o.ended_by,
                "wall_ms": o.wall_ms,
                "ok": !o.has_problems(),
                "window": w,
                "total": super::render::totals(&o.devices),
                "devices": o.devices,
            })).collect::<Vec<_>>(),
        });
        writeln!(stdout, "{}", serde_json::to_string_pretty(&doc)?)?;
    } else {
        for (s, o, w) in &per_ns {
            write!(
                stdout,
                "{}",
                super::render::namespace_header(
                    s.name.as_ref(),
                    s.netns.as_ref().map(|n| n.path())
                )
            )?;
            write!(
                stdout,
                "{}",
                super::render::indent(&super::render::results_text(&o.devices, Some(o)))
            )?;
            if let Some(w) = w {
                writeln!(
                    stdout,
                    "  ran {} ms by the kernel's clock (started {} us, stopped {} us)",
                    (w.stopped_us - w.started_us) / 1000,
                    w.started_us,
                    w.stopped_us
                )?;
            }
            writeln!(stdout)?;
        }
        let all: Vec<_> = per_ns
            .iter()
            .flat_map(|(_, o, _)| o.devices.clone())
            .collect();
        let t = super::render::totals(&all);
        writeln!(
            stdout,
            "Total: {} packets, {} errors in {}.",
            t.packets,
            t.errors,
            super::render::count(per_ns.len(), "namespace")
        )?;
        match overlap {
            Some(o) if o.concurrent => writeln!(
                stdout,
                "Overlap: all {} ran at the same time for {} ms (first start to last stop: {} ms).",
                super::render::count(windows.len(), "namespace"),
                o.all_ms,
                o.span_ms
            )?,
            Some(o) => writeln!(
                stdout,
                "Overlap: none; the namespaces ran one after another ({} ms between one's end and another's start; first start to last stop: {} ms).",
                o.gap_ms, o.span_ms
            )?,
            None => writeln!(stdout, "Overlap: unknown (not every namespace ran).")?,
        }
        for f in &failed {
            writeln!(stdout, "error: {f}")?;
        }
    }
    if !failed.is_empty() {
        bail!(
            "the run failed in {}",
            super::render::count(failed.len(), "namespace")
        );
    }
    Ok(if problems {
        super::common::Outcome::TrafficProblems
    } else {
        super::common::Outcome::Ok
    })
}

/// The namespaces `stop` and `status` act on: those of STATE, or with `all` this one and
/// every one of /run/netns (each once: a name that is this namespace is left out).
fn selected(cli: &Cli, state: Option<&Path>, all: bool) -> Result<Vec<Shared>> {
    use std::sync::Arc;
    let mut out = Vec::new();
    let opened = open_procfs(cli, Access::Read)?;
    if !opened.is_loaded() {
        return Ok(out);
    }
    let mut current = true;
    let mut named: Vec<(NamespaceName, NetnsPath, Option<SourceMap>)> = Vec::new();
    if let Some(state) = state {
        let loaded = super::common::load(state)?;
        current = loaded.current;
        for (name, ns) in loaded.namespaces {
            named.push((name, NetnsPath::file(&ns.netns), Some(ns.sources)));
        }
    } else if all {
        for name in run_netns_names()? {
            let path = NetnsPath::named(name.as_str());
            if !same_namespace(path.path(), Path::new("/proc/self/ns/net")) {
                named.push((name, path, None));
            }
        }
    }
    if current {
        out.push(Shared {
            name: None,
            netns: None,
            procfs: opened.into_shared(),
        });
    }
    for (name, path, sources) in named {
        let procfs = match &sources {
            Some(s) => enter(&path, s)?,
            None => NetnsProcfs::enter(&path)?,
        };
        out.push(Shared {
            name: Some(name),
            netns: Some(path),
            procfs: Arc::new(procfs),
        });
    }
    Ok(out)
}

/// The `ip netns` names under /run/netns, sorted.
fn run_netns_names() -> Result<Vec<NamespaceName>> {
    use anyhow::Context;
    let mut names: Vec<NamespaceName> = match std::fs::read_dir(RUN_NETNS) {
        Ok(dir) => dir
            .filter_map(|e| NamespaceName::new(e.ok()?.file_name().to_str()?).ok())
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e).with_context(|| format!("listing {RUN_NETNS}")),
    };
    names.sort();
    Ok(names)
}

/// `stop STATE` / `stop --all-namespaces`: `stop` written in each namespace from inside it,
/// then each waited for until idle.
pub(super) fn stop(
    cli: &Cli,
    state: Option<&Path>,
    all: bool,
    stdout: &mut impl std::io::Write,
) -> Result<super::common::Outcome> {
    super::common::same_namespace_for_pgctrl(&cli.proc_root)?;
    let boxes = selected(cli, state, all)?;
    let mut failed = Vec::new();
    for b in &boxes {
        if let Err(e) = pgstate::run::stop(&*b.procfs) {
            failed.push(format!(
                "{}: {e}",
                pgstate::namespaces::label(b.name.as_ref())
            ));
        }
    }
    if !failed.is_empty() {
        bail!("stopping traffic failed in {}", failed.join("; "));
    }
    if !cli.quiet {
        writeln!(
            stdout,
            "Stopped: no pktgen device is running in {}.",
            super::render::count(boxes.len(), "namespace")
        )?;
    }
    Ok(super::common::Outcome::Ok)
}

/// `status STATE` / `status --all-namespaces`: the results per namespace.
pub(super) fn status(
    cli: &Cli,
    a: &super::args::StatusArgs,
    stdout: &mut impl std::io::Write,
) -> Result<super::common::Outcome> {
    use super::args::StatusFormat;
    use anyhow::Context;
    let format = if a.json { StatusFormat::Json } else { a.format };
    if format == StatusFormat::Prometheus {
        bail!("--format prometheus covers one namespace; run it inside each (ip netns exec NS pgstate status --format prometheus)");
    }
    let boxes = selected(cli, a.state.as_deref(), a.all_namespaces)?;
    let mut reports = Vec::new();
    for b in &boxes {
        let what = pgstate::namespaces::label(b.name.as_ref());
        let devices = pgstate::run::reports(&*b.procfs, pgstate::run::ReportMode::Status)
            .with_context(|| format!("{what}: reading results"))?;
        reports.push((b, devices));
    }
    if format == StatusFormat::Json {
        let all: Vec<_> = reports.iter().flat_map(|(_, d)| d.clone()).collect();
        let doc = serde_json::json!({
            "format_version": super::render::JSON_FORMAT_VERSION,
            "running": all.iter().any(|d| d.running),
            "total": super::render::totals(&all),
            "namespaces": reports.iter().map(|(b, d)| serde_json::json!({
                "namespace": b.name,
                "netns": b.netns.as_ref().map(|n| n.to_string()),
                "running": d.iter().any(|d| d.running),
                "total": super::render::totals(d),
                "devices": d,
            })).collect::<Vec<_>>(),
        });
        writeln!(stdout, "{}", serde_json::to_string_pretty(&doc)?)?;
    } else {
        for (b, devices) in &reports {
            write!(
                stdout,
                "{}",
                super::render::namespace_header(
                    b.name.as_ref(),
                    b.netns.as_ref().map(|n| n.path())
                )
            )?;
            write!(
                stdout,
                "{}",
                super::render::indent(&super::render::results_text(devices, None))
            )?;
            writeln!(stdout)?;
        }
    }
    Ok(super::common::Outcome::Ok)
}

/// `watch` of a state with `namespaces:`: one watch session per namespace, each in a thread
/// of its own with its namespace's procfs (a `ReattachingNetns`: a namespace that goes away
/// is logged and re-attached when it comes back), taking turns for the box lock. Each
/// session re-reads the state files and keeps its own part of them. systemd hears from the
/// first session (this namespace's, or the first of `namespaces:`).
pub(super) fn watch(
    a: &super::args::WatchArgs,
    loaded: &LoadedState,
    opened: Opened,
    config: pgstate::watch::WatchConfig,
    terminate: &std::sync::atomic::AtomicBool,
    hangup: &std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Result<super::common::Outcome> {
    use anyhow::Context;
    use pgstate::procfs::netns::ReattachingNetns;
    use pgstate::watch::WatchPart;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    if a.metrics_listen.is_some() {
        bail!("--metrics-listen covers one namespace, and this state has `namespaces:`");
    }
    if !opened.is_loaded() {
        bail!("pktgen is not loaded, so the namespaces of this state have no pktgen to read");
    }
    let turn = Arc::new(Mutex::new(()));
    let mut sessions: Vec<(String, Arc<dyn Procfs + Send + Sync>, WatchPart)> = Vec::new();
    if loaded.current {
        sessions.push((
            "this namespace".into(),
            opened.into_shared(),
            WatchPart::Current,
        ));
    }
    for (name, ns) in &loaded.namespaces {
        let path = NetnsPath::file(&ns.netns);
        let procfs = ReattachingNetns::enter(&path).map_err(|e| {
            match ns.sources.namespace_diagnostic(e.to_string(), None) {
                Some(d) => anyhow::Error::new(d),
                None => anyhow::Error::new(e),
            }
        })?;
        sessions.push((
            format!("namespace {name}"),
            Arc::new(procfs),
            WatchPart::Named(name.clone()),
        ));
    }
    tracing::info!(
        namespaces = sessions.len(),
        "watching every namespace of the state, one session each"
    );
    let flags: Vec<Arc<AtomicBool>> = sessions.iter().map(|_| Arc::default()).collect();
    let done = AtomicBool::new(false);
    let results = std::thread::scope(|scope| {
        // SIGHUP sets one flag; every session needs to see it.
        scope.spawn(|| {
            while !done.load(Ordering::SeqCst) {
                if hangup.swap(false, Ordering::SeqCst) {
                    for f in &flags {
                        f.store(true, Ordering::SeqCst);
                    }
                }
                std::thread::sleep(std::time::Duration::from_millis(
                    pgstate::watch::SIGNAL_CHECK_MS,
                ));
            }
        });
        let handles: Vec<_> = sessions
            .into_iter()
            .zip(&flags)
            .enumerate()
            .map(|(i, ((what, procfs, part), flag))| {
                let config = pgstate::watch::WatchConfig {
                    part,
                    turn: Some(Arc::clone(&turn)),
                    ..config.clone()
                };
                let state = &a.state;
                scope.spawn(move || {
                    let span = tracing::info_span!("ns", namespace = %what);
                    let _enter = span.enter();
                    let mut systemd;
                    let mut quiet = pgstate::watch::NoObserver;
                    let observer: &mut dyn pgstate::watch::Observer = if i == 0 {
                        systemd = super::systemd::Systemd::from_env(None);
                        &mut systemd
                    } else {
                        &mut quiet
                    };
                    pgstate::watch::watch(procfs, state, config, terminate, flag, observer)
                        .with_context(|| format!("{what}: watching {}", state.display()))
                })
            })
            .collect();
        let results: Vec<_> = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a watch session panicked")))
            })
            .collect();
        done.store(true, Ordering::SeqCst);
        results
    });
    let mut in_sync = true;
    for r in results {
        in_sync &= r?.in_sync;
    }
    Ok(if a.once && a.check_only && !in_sync {
        super::common::Outcome::Changes
    } else {
        super::common::Outcome::Ok
    })
}

/// `destroy` of a state with `namespaces:`: every device on the owned threads of every
/// namespace of the state, all namespaces or none. On a terminal it shows the plan and asks;
/// what was agreed to is what happens: a namespace that changed meanwhile refuses it.
pub(super) fn destroy(
    cli: &Cli,
    a: &super::args::DestroyArgs,
    mut loaded: LoadedState,
    stdout: &mut impl std::io::Write,
    confirm: impl FnOnce(&str) -> Result<()>,
) -> Result<super::common::Outcome> {
    loaded.desired.devices.clear();
    for ns in loaded.namespaces.values_mut() {
        ns.desired.devices.clear();
    }
    let boxes = open_all(cli, &loaded, Access::Read)?;
    let targets = boxes.targets(&loaded);
    let places = boxes.places(&loaded);
    let sources: Vec<&SourceMap> = places.iter().map(|(_, s)| *s).collect();
    let agreed = if a.yes {
        None
    } else {
        let planned = pgstate::namespaces::plan_all(&targets)
            .map_err(|e| plan_error(e, &sources, &targets))?;
        let shown = parts(&targets, &places, planned.iter().map(|p| &p.plan));
        write!(
            stdout,
            "{}",
            super::render::plan_text_parts(&shown, cli.verbose > 0)
        )?;
        stdout.flush()?;
        if planned.iter().all(|p| p.plan.is_empty()) {
            return Ok(super::common::Outcome::Ok);
        }
        let removed: usize = planned
            .iter()
            .map(|p| p.plan.count(pgstate::plan::ActionKind::Remove))
            .sum();
        confirm(&format!(
            "Remove these devices from pktgen in {}? {}. Only 'yes' removes them: ",
            super::render::count(planned.len(), "namespace"),
            super::render::count(removed, "device")
        ))?;
        Some(planned.into_iter().map(|p| p.plan).collect::<Vec<_>>())
    };
    let _lock = super::common::take_lock(cli, &a.lock)?;
    let interrupt = super::common::interrupt_flag()?;
    let planned =
        pgstate::namespaces::plan_all(&targets).map_err(|e| plan_error(e, &sources, &targets))?;
    if let Some(agreed) = agreed {
        for ((t, p), before) in targets.iter().zip(&planned).zip(&agreed) {
            if p.plan != *before {
                bail!(
                    "{} changed while destroy asked; nothing was removed, run it again",
                    pgstate::namespaces::label(t.name)
                );
            }
        }
    }
    let reports = pgstate::namespaces::apply_all(&targets, planned, &interrupt)
        .map_err(|e| anyhow::Error::new(*e))?;
    if !cli.quiet {
        let done = parts(&targets, &places, reports.iter().map(|r| &r.plan));
        write!(stdout, "{}", super::render::apply_text_parts(&done))?;
    }
    Ok(super::common::Outcome::Ok)
}
