//! Command-line arguments (clap derive).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use super::duration;

/// The help heading of the options every subcommand takes; each subcommand's own options
/// come first, under "Options".
const GLOBAL: &str = "Global options";

/// Global options that a subcommand ignores, hidden from its help (still accepted, so that a
/// script can pass the same options to every pgstate command).
const IGNORED_GLOBALS: &[(&str, &[&str])] = &[
    ("validate", &["proc_root", "lock_file", "run_dir"]),
    ("plan", &["lock_file", "run_dir"]),
    ("diff", &["lock_file", "run_dir"]),
    ("show", &["lock_file", "run_dir"]),
    ("apply", &["run_dir"]),
    ("destroy", &["run_dir"]),
    ("stop", &["lock_file", "run_dir"]),
    ("status", &["lock_file"]),
    ("clear-counters", &["lock_file", "run_dir"]),
    ("completions", &["proc_root", "lock_file", "run_dir"]),
    ("man", &["proc_root", "lock_file", "run_dir"]),
    ("schema", &["proc_root", "lock_file", "run_dir"]),
    ("import", &["proc_root", "lock_file", "run_dir"]),
];

impl Cli {
    /// The command line as clap sees it, with each subcommand's ignored globals hidden.
    pub fn command_for_help() -> clap::Command {
        use clap::CommandFactory as _;
        let mut cmd = Cli::command();
        for (sub, ignored) in IGNORED_GLOBALS {
            // A subcommand's own copy of a global takes the global's place there (clap does
            // not propagate a global into a subcommand that has an argument of that id).
            let hidden: Vec<clap::Arg> = cmd
                .get_arguments()
                .filter(|a| ignored.contains(&a.get_id().as_str()))
                .map(|a| a.clone().hide(true))
                .collect();
            cmd = cmd.mut_subcommand(*sub, |s| s.args(hidden));
        }
        cmd
    }

    /// Parses `args` like [`Parser::try_parse_from`], with [`Cli::command_for_help`]'s help.
    pub fn parse_args(
        args: impl IntoIterator<Item = std::ffi::OsString>,
    ) -> Result<Cli, clap::Error> {
        use clap::FromArgMatches as _;
        let args: Vec<std::ffi::OsString> = args.into_iter().collect();
        // clap prints its own errors and help before `--color` is parsed: look for it first.
        let mut cmd = Cli::command_for_help().color(color_in(&args));
        let matches = cmd.try_get_matches_from_mut(args)?;
        Cli::from_arg_matches(&matches).map_err(|e| e.format(&mut cmd))
    }
}

/// Declarative configuration for the Linux kernel packet generator (pktgen).
#[derive(Debug, Parser)]
#[command(name = "pgstate", version, about, propagate_version = true)]
pub struct Cli {
    /// The pktgen directory.
    #[arg(long, global = true, default_value = pgstate::procfs::real::DEFAULT_ROOT, value_name = "DIR", help_heading = GLOBAL)]
    pub proc_root: PathBuf,

    /// Where interface facts (MAC, up/down, queues) are read from.
    #[arg(long, global = true, value_name = "DIR", hide = true)]
    pub sys_class_net: Option<PathBuf>,

    /// The program that loads kernel modules (tests stand in their own for `modprobe`).
    #[arg(
        long,
        global = true,
        value_name = "PROGRAM",
        default_value = "modprobe",
        hide = true
    )]
    pub modprobe: std::ffi::OsString,

    /// Kernel release whose pktgen behaviour to assume (default: the running kernel's).
    #[arg(long, global = true, value_name = "RELEASE", hide = true)]
    pub kernel_release: Option<String>,

    /// More output: -v shows the exact writes, -vv debug logs.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, help_heading = GLOBAL)]
    pub verbose: u8,

    /// Only errors.
    #[arg(short, long, global = true, conflicts_with = "verbose", help_heading = GLOBAL)]
    pub quiet: bool,

    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, help_heading = GLOBAL)]
    pub log_format: LogFormat,

    /// Colour on stderr: auto (only on a terminal, and not with NO_COLOR set), always,
    /// never.
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = clap::ColorChoice::Auto, help_heading = GLOBAL)]
    pub color: clap::ColorChoice,

    /// Lock file shared by every pgstate process on this box (taken by apply, run, destroy
    /// and watch). Must be pgstate's own lock, an empty file or a new path.
    #[arg(long, global = true, value_name = "FILE", default_value = pgstate::lock::DEFAULT_LOCK_FILE, help_heading = GLOBAL)]
    pub lock_file: PathBuf,

    /// Where `run` records what its receivers received (DIR/runs/), for `status` and
    /// `watch --metrics-listen` to show.
    #[arg(long, global = true, value_name = "DIR", default_value = super::run_record::DEFAULT_RUN_DIR, help_heading = GLOBAL)]
    pub run_dir: PathBuf,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The `--color` given in `args` (the last one wins, as clap would have it), or auto.
fn color_in(args: &[std::ffi::OsString]) -> clap::ColorChoice {
    let mut choice = clap::ColorChoice::Auto;
    let mut next_is_value = false;
    for arg in args.iter().filter_map(|a| a.to_str()) {
        let value = if next_is_value {
            Some(arg)
        } else {
            arg.strip_prefix("--color=")
        };
        next_is_value = arg == "--color";
        if let Some(v) =
            value.and_then(|v| <clap::ColorChoice as ValueEnum>::from_str(v, false).ok())
        {
            choice = v;
        }
    }
    choice
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
    Validate(ValidateArgs),
    /// Converge to STATE like apply, then start traffic, show progress and print results.
    Run(RunArgs),
    /// Stop running traffic (from any shell) and wait until every thread is idle.
    Stop(StopArgs),
    /// What is running now and the last results, per device.
    Status(StatusArgs),
    /// Remove every device on the threads STATE owns: the last step of the lifecycle.
    Destroy(DestroyArgs),
    /// Reset the counters of every device (`clear_counters`).
    ClearCounters,
    /// Keep the box in STATE: re-apply when the files change, repair drift, until stopped.
    Watch(WatchArgs),
    /// Print the shell completion script for SHELL (bash, zsh, fish, …).
    Completions(CompletionsArgs),
    /// Print the man page pgstate(1), or write one page per subcommand into a directory.
    Man(ManArgs),
    /// Print the JSON Schema of state files (for editors and other tools).
    Schema,
    /// Print the state a kernel samples/pktgen script configures, given its options after
    /// `--` (e.g. `import sample01 -- -i eth0 -m 02:00:00:00:00:01`).
    Import(ImportArgs),
}

/// `import` arguments.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The script: sample01 … sample05, netif-receive, queue-xmit, or its file name
    /// (pktgen_sample01_simple.sh, …).
    pub sample: String,
    /// The script's own options (parameters.sh: -i -s -d -m -p -k -t -f -c -n -b -w -6 -a
    /// -v -x), after `--`.
    #[arg(last = true, value_name = "SCRIPT_ARGS")]
    pub args: Vec<String>,
}

/// `completions` arguments.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `man` arguments.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write pgstate.1 and one pgstate-COMMAND.1 per subcommand into DIR instead of printing
    /// pgstate.1.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

/// `watch` arguments.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// A YAML state file, or a directory of them.
    pub state: PathBuf,
    /// Quiet time after the last file event before re-reading (0 to 1h).
    #[arg(long, value_name = "DURATION", default_value = "300ms",
          value_parser = duration::DEBOUNCE.parser())]
    pub debounce: Duration,
    /// Time between two looks at the live state, for drift repair (10ms to 1day).
    #[arg(long, value_name = "DURATION", default_value = "5s",
          value_parser = duration::POLL_INTERVAL.parser())]
    pub poll_interval: Duration,
    /// Only report drift and pending changes; never write.
    #[arg(long, visible_alias = "no-repair")]
    pub check_only: bool,
    /// Refuse changes that would rem_device_all a thread while traffic runs on it.
    #[arg(long)]
    pub refuse_disruptive: bool,
    /// Converge once and exit (for cron and CI).
    #[arg(long)]
    pub once: bool,
    /// How long one reconcile waits for the lock (a busy lock is retried at the next tick).
    #[arg(long, value_name = "DURATION", default_value = "0s",
          value_parser = duration::LOCK_TIMEOUT.parser())]
    pub lock_timeout: Duration,
    /// Serve Prometheus metrics on http://ADDR/metrics (e.g. 127.0.0.1:9470).
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<std::net::SocketAddr>,
}

/// `status` arguments.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The namespaces of this state (its `namespaces:`, and this one with top-level
    /// `devices:`) instead of only this one.
    #[arg(conflicts_with = "all_namespaces")]
    pub state: Option<PathBuf>,
    /// This namespace and every other one: those of /run/netns (`ip netns`) by name, those
    /// only a process holds (Mininet hosts, containers) as pid-PID.
    #[arg(long)]
    pub all_namespaces: bool,
    /// Machine-readable output (the same as `--format json`).
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// Output format: text, json, or prometheus (for node_exporter's textfile collector).
    #[arg(long, value_enum, default_value_t = StatusFormat::Text)]
    pub format: StatusFormat,
}

/// `stop` arguments.
#[derive(Debug, Args)]
pub struct StopArgs {
    /// The namespaces of this state (its `namespaces:`, and this one with top-level
    /// `devices:`) instead of only this one.
    #[arg(conflicts_with = "all_namespaces")]
    pub state: Option<PathBuf>,
    /// This namespace and every other one: those of /run/netns (`ip netns`) by name, those
    /// only a process holds (Mininet hosts, containers) as pid-PID.
    #[arg(long)]
    pub all_namespaces: bool,
}

/// `status --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusFormat {
    /// A table.
    Text,
    /// Versioned JSON.
    Json,
    /// Prometheus text exposition format 0.0.4.
    Prometheus,
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
    /// Stop after this long (needed for `count: 0` streams; up to 365days).
    #[arg(long, value_name = "DURATION", value_parser = duration::RUN_DURATION.parser())]
    pub duration: Option<Duration>,
    /// Machine-readable results on stdout.
    #[arg(long)]
    pub json: bool,
    /// No progress display, even on a terminal.
    #[arg(long)]
    pub no_progress: bool,
    /// While it runs, one JSON object per line on stdout each sampling interval: sent and
    /// received per stream (as iperf3's --json-stream); the results follow as the last line.
    #[arg(long, conflicts_with = "json")]
    pub json_stream: bool,
    /// How long the receivers wait for packets still in flight after the last stream ended.
    #[arg(long, value_name = "DURATION", default_value = "500ms", value_parser = duration::DRAIN.parser())]
    pub drain: Duration,
    /// After the run, write the receivers' figures to FILE in the Prometheus text format (for
    /// node_exporter's textfile collector): a new file, or one this option wrote before.
    #[arg(long, value_name = "FILE")]
    pub metrics_out: Option<PathBuf>,
    /// A stream that loses more than this percentage of its packets is a traffic problem
    /// (exit code 3), for receivers whose state sets no `max_loss_percent`.
    #[arg(long, value_name = "PERCENT", value_parser = parse_percent)]
    pub max_loss: Option<f64>,
    /// Locking against other pgstate processes.
    #[command(flatten)]
    pub lock: LockArgs,
}

/// A percentage from 0 to 100.
fn parse_percent(text: &str) -> Result<f64, String> {
    let p: f64 = text
        .trim_end_matches('%')
        .parse()
        .map_err(|_| format!("'{text}' is not a number"))?;
    if (0.0..=100.0).contains(&p) {
        Ok(p)
    } else {
        Err(format!("{p} is not a percentage from 0 to 100"))
    }
}

/// `destroy` arguments.
#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// The state whose threads are cleared (its `threads:`, or all threads).
    pub state: PathBuf,
    /// Do not ask for confirmation (needed when stdin or stderr is not a terminal).
    #[arg(short = 'y', long)]
    pub yes: bool,
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

/// `validate` arguments.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// A YAML state file, a directory of them, or `-` for the standard input.
    pub state: PathBuf,
    /// Machine-readable verdict on stdout (problems too).
    #[arg(long)]
    pub json: bool,
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
    /// Preview `pgstate destroy STATE`: every device on the threads STATE owns removed.
    #[arg(long, conflicts_with = "out")]
    pub destroy: bool,
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
    /// How long to wait for another pgstate to release the lock (up to 1day).
    #[arg(long, value_name = "DURATION", default_value = "10s",
          value_parser = duration::LOCK_TIMEOUT.parser())]
    pub lock_timeout: Duration,
}

/// `show` arguments.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// JSON instead of YAML.
    #[arg(long)]
    pub json: bool,
    /// Every network namespace that has pktgen devices, and this one if it has any, as one
    /// state with `namespaces:`: those of /run/netns (`ip netns`) by name, those only a
    /// process holds (Mininet hosts, containers) as pid-PID with `netns: /proc/PID/ns/net`.
    #[arg(long)]
    pub all_namespaces: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use proptest::prelude::*;

    /// Every flag of every subcommand that takes a number (all of them are durations now),
    /// found by walking clap's command tree, so that a new numeric flag is fuzzed too.
    fn numeric_flags() -> Vec<(String, String)> {
        let mut cli = Cli::command();
        // Number of values and propagated global flags are only known once built.
        cli.build();
        let mut out = Vec::new();
        for sub in cli.get_subcommands() {
            for arg in sub.get_arguments() {
                let Some(long) = arg.get_long() else { continue };
                let takes_value = arg.get_num_args().is_some_and(|n| n.takes_values());
                let textual = arg.get_value_names().is_some_and(|names| {
                    names.iter().any(|n| {
                        // PERCENT is a number but not a duration: `parse_percent` has its test.
                        ["DIR", "FILE", "RELEASE", "PROGRAM", "ADDR", "PERCENT"]
                            .contains(&n.as_str())
                    })
                });
                if takes_value && !textual && arg.get_possible_values().is_empty() {
                    out.push((sub.get_name().to_owned(), format!("--{long}")));
                }
            }
        }
        out
    }

    #[test]
    fn max_loss_is_a_percentage() {
        assert_eq!(parse_percent("0.5"), Ok(0.5));
        assert_eq!(parse_percent("10%"), Ok(10.0));
        for bad in ["-1", "101", "nan", "inf", "", "x%"] {
            assert!(parse_percent(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_numeric_flags_are_the_durations() {
        let mut flags = numeric_flags();
        flags.sort();
        let expected = [
            ("apply", "--lock-timeout"),
            ("destroy", "--lock-timeout"),
            ("run", "--drain"),
            ("run", "--duration"),
            ("run", "--lock-timeout"),
            ("watch", "--debounce"),
            ("watch", "--lock-timeout"),
            ("watch", "--poll-interval"),
        ];
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect();
        assert_eq!(flags, expected);
    }

    fn durations(cli: &Cli) -> Vec<Duration> {
        match &cli.command {
            Command::Apply(a) => vec![a.lock.lock_timeout],
            Command::Destroy(a) => vec![a.lock.lock_timeout],
            Command::Run(a) => vec![a.lock.lock_timeout, a.drain]
                .into_iter()
                .chain(a.duration)
                .collect(),
            Command::Watch(a) => vec![a.debounce, a.poll_interval, a.lock_timeout],
            _ => Vec::new(),
        }
    }

    /// Numbers in every spelling a user or a script might produce, plus any text.
    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<f64>().prop_map(|f| f.to_string()),
            any::<f64>().prop_map(|f| format!("{f:e}")),
            any::<i64>().prop_map(|i| i.to_string()),
            any::<u64>().prop_map(|i| i.to_string()),
            (
                any::<u64>(),
                prop::sample::select(vec!["ns", "us", "ms", "s", "m", "h", "d", "w", "y"])
            )
                .prop_map(|(n, u)| format!("{n}{u}")),
            prop::sample::select(vec![
                "inf",
                "-inf",
                "infinity",
                "nan",
                "NaN",
                "-0",
                "1e300",
                "1e20",
                "-1",
                "",
                " ",
                "1.5.5",
                "0x10",
                "5 s",
                "1h 30m",
                "18446744073709551616s",
            ])
            .prop_map(str::to_owned),
            ".*",
        ]
    }

    proptest! {
        /// Issue 12.1: no value of any numeric flag panics; a value is either refused with a
        /// message or gives a duration within the flag's range, which `Instant` arithmetic in
        /// the lock, run and watch loops can add without overflow.
        #[test]
        fn no_numeric_flag_value_panics(index in 0usize..7, value in value()) {
            let flags = numeric_flags();
            let (sub, flag) = &flags[index % flags.len()];
            let arg = format!("{flag}={value}");
            let argv = ["pgstate", sub.as_str(), arg.as_str(), "s.yaml"];
            let parsed = Cli::parse_args(argv.map(Into::into));
            match parsed {
                Ok(cli) => {
                    for d in durations(&cli) {
                        prop_assert!(d <= Duration::from_secs(366 * 24 * 3600), "{arg}: {d:?}");
                        prop_assert!(std::time::Instant::now().checked_add(d).is_some());
                    }
                }
                Err(e) => {
                    let message = e.to_string();
                    prop_assert!(message.contains("error:"), "{message}");
                }
            }
        }
    }
}
