//! Command-line arguments (clap derive).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Declarative configuration for the Linux kernel packet generator (pktgen).
#[derive(Debug, Parser)]
#[command(name = "pgstate", version, about, propagate_version = true)]
pub struct Cli {
    /// The pktgen directory.
    #[arg(long, global = true, default_value = pgstate::procfs::real::DEFAULT_ROOT, value_name = "DIR")]
    pub proc_root: PathBuf,

    /// Where interface facts (MAC, up/down, queues) are read from.
    #[arg(long, global = true, value_name = "DIR", hide = true)]
    pub sys_class_net: Option<PathBuf>,

    /// Kernel release whose pktgen behaviour to assume (default: the running kernel's).
    #[arg(long, global = true, value_name = "RELEASE", hide = true)]
    pub kernel_release: Option<String>,

    /// More output: -v shows the exact writes, -vv debug logs.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Only errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Lock file shared by every pgstate process on this box (taken by apply, run, destroy
    /// and watch). Must be pgstate's own lock, an empty file or a new path.
    #[arg(long, global = true, value_name = "FILE", default_value = pgstate::lock::DEFAULT_LOCK_FILE)]
    pub lock_file: PathBuf,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Log formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable.
    Text,
    /// One JSON object per line.
    Json,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the writes that would take the live state to STATE.
    Plan(PlanArgs),
    /// Perform those writes, verify by reading back, roll back on failure.
    Apply(ApplyArgs),
    /// Unified diff of the live state against STATE, both as normalised state files.
    Diff(DiffArgs),
    /// Print the live state as a state file.
    Show(ShowArgs),
    /// Check STATE offline: syntax, types, kernel ranges, cross-field rules.
    Validate(StateArg),
    /// Converge to STATE like apply, then start traffic, show progress and print results.
    Run(RunArgs),
    /// Stop running traffic (from any shell) and wait until every thread is idle.
    Stop,
    /// What is running now and the last results, per device.
    Status(JsonArg),
    /// Remove every device on the threads STATE owns: the last step of the lifecycle.
    Destroy(DestroyArgs),
    /// Reset the counters of every device (`clear_counters`).
    ClearCounters,
    /// Keep the box in STATE: re-apply when the files change, repair drift, until stopped.
    Watch(WatchArgs),
}

/// `watch` arguments.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// A YAML state file, or a directory of them.
    pub state: PathBuf,
    /// Quiet time after the last file event before re-reading, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = pgstate::watch::DEFAULT_DEBOUNCE_MS)]
    pub debounce: u64,
    /// Seconds between two looks at the live state (drift repair).
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0)]
    pub poll_interval: f64,
    /// Only report drift and pending changes; never write.
    #[arg(long, visible_alias = "no-repair")]
    pub check_only: bool,
    /// Refuse changes that would rem_device_all a thread while traffic runs on it.
    #[arg(long)]
    pub refuse_disruptive: bool,
    /// Converge once and exit (for cron and CI).
    #[arg(long)]
    pub once: bool,
    /// Seconds one reconcile waits for the lock (a busy lock is retried at the next tick).
    #[arg(long, value_name = "SECONDS", default_value_t = 0.0)]
    pub lock_timeout: f64,
}

/// Only `--json`.
#[derive(Debug, Args)]
pub struct JsonArg {
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

/// `run` arguments.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// A YAML state file, or a directory of them.
    pub state: PathBuf,
    /// Stop after this many seconds (needed for `count: 0` streams).
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<f64>,
    /// Machine-readable results on stdout.
    #[arg(long)]
    pub json: bool,
    /// No progress display, even on a terminal.
    #[arg(long)]
    pub no_progress: bool,
    /// Locking against other pgstate processes.
    #[command(flatten)]
    pub lock: LockArgs,
}

/// `destroy` arguments.
#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// The state whose threads are cleared (its `threads:`, or all threads).
    pub state: PathBuf,
    /// Locking against other pgstate processes.
    #[command(flatten)]
    pub lock: LockArgs,
}

/// `diff` arguments.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// A YAML state file, or a directory of them.
    pub state: PathBuf,
    /// Exit 1 when there are differences, 0 when there are none and 2 on error (like
    /// `git diff --exit-code` and `kubectl diff`).
    #[arg(long)]
    pub exit_code: bool,
}

/// A state file or directory.
#[derive(Debug, Args)]
pub struct StateArg {
    /// A YAML state file, or a directory of them.
    pub state: PathBuf,
}

/// `plan` arguments.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// A YAML state file, or a directory of them.
    pub state: PathBuf,
    /// Exit 0 when converged, 2 when there are changes, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
    /// Save the plan to FILE; `pgstate apply FILE` then performs exactly it, and refuses if
    /// the live state has changed meanwhile.
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// `apply` arguments.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A YAML state file, a directory of them, or a plan saved with `plan --out`.
    pub state: PathBuf,
    /// Machine-readable report.
    #[arg(long)]
    pub json: bool,
    /// Locking against other pgstate processes.
    #[command(flatten)]
    pub lock: LockArgs,
}

/// Waiting for the box lock (the lock file itself is the global `--lock-file`).
#[derive(Debug, Args)]
pub struct LockArgs {
    /// Seconds to wait for another pgstate to release the lock.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    pub lock_timeout: f64,
}

/// `show` arguments.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// JSON instead of YAML.
    #[arg(long)]
    pub json: bool,
}
