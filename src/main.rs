//! The `pgstate` binary: parse the command line, set up logging, run, map the outcome to an
//! exit code. Exit codes: 0 success; 1 error, usage errors included; 2 changes pending
//! (`plan --detailed-exitcode`, `watch --once --check-only`); 3 traffic ran but a stream
//! reported an error or sent nothing, or a receiver saw more loss than allowed (`run`).
//! `diff --exit-code` answers like `git diff --exit-code`: 0 no differences, 1 differences,
//! 2 error.

mod cli;

use std::process::ExitCode;

use tracing_subscriber::EnvFilter;

use cli::args::{Cli, LogFormat};

fn init_tracing(cli: &Cli) {
    // A daemon's log is its output: watch reports what drifted and what it wrote at info.
    let quiet_level = if matches!(cli.command, cli::args::Command::Watch(_)) {
        "info"
    } else {
        "warn"
    };
    let default = match (cli.quiet, cli.verbose) {
        (true, _) => "error",
        (false, 0 | 1) => quiet_level,
        (false, 2) => "debug",
        (false, _) => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // Colour only where a person reads it: not in the journal, a pipe or a file (where
    // `^[[33m WARN^[[0m` is noise), and never with NO_COLOR set unless asked for.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(cli::stderr_color(cli.color));
    match cli.log_format {
        LogFormat::Text => builder.without_time().with_target(false).init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn main() -> ExitCode {
    // Terraform users type `plan -out FILE`; clap would read that as `-o ut`.
    let args = std::env::args_os().map(|a| match a.to_str() {
        Some("-out") => "--out".into(),
        Some(s) if s.starts_with("-out=") => format!("-{s}").into(),
        _ => a,
    });
    let args: Vec<std::ffi::OsString> = args.collect();
    let cli = match Cli::parse_args(args.iter().cloned()) {
        Ok(cli) => cli,
        Err(e) => {
            // `--help` and `--version` are not errors. Everything else is a usage error, and
            // exits like any other error: clap's default, 2, is what `plan
            // --detailed-exitcode` and `watch --once --check-only` use for "changes pending",
            // so a CI job would read a typo such as `--jsn` as drift (Terraform exits 1).
            let _ = e.print();
            return if !e.use_stderr() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(error_code(diff_exit_code_requested(&args)))
            };
        }
    };
    init_tracing(&cli);
    let diff_exit_code = matches!(&cli.command, cli::args::Command::Diff(d) if d.exit_code);
    match cli::run(&cli) {
        Ok(cli::Outcome::Ok) => ExitCode::SUCCESS,
        Ok(cli::Outcome::Changes) => ExitCode::from(2),
        Ok(cli::Outcome::Differences) => ExitCode::from(1),
        Ok(cli::Outcome::TrafficProblems) => ExitCode::from(3),
        Err(e) => {
            // A closed pipe (`pgstate show | head`) is not an error.
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            // With --json the error is a document on stdout as well (same exit code).
            if let Some(version) = cli::json_version(&cli) {
                println!("{}", cli::render::error_json(version, &e));
            }
            let color = cli::stderr_color(cli.color);
            let label = cli::error_label(color);
            // Each problem of an invalid state is an error of its own, and says so.
            match e.downcast_ref::<pgstate::LoadError>() {
                Some(pgstate::LoadError::Invalid(diags)) => {
                    for d in diags {
                        eprintln!("{}", cli::render::diagnostic_text(d, color));
                    }
                    // Past the cap, the last "problem" already says how many there are.
                    let capped = diags.len() > pgstate::state_file::MAX_DIAGNOSTICS;
                    if diags.len() > 1 && !capped {
                        eprintln!("{}", cli::count(diags.len(), "problem") + " found");
                    }
                }
                // A state this box cannot take: located like a problem of the file.
                _ => match e.downcast_ref::<pgstate::Diagnostic>() {
                    Some(d) => eprintln!("{}", cli::render::diagnostic_text(d, color)),
                    None => eprintln!("{label}: {e:#}"),
                },
            }
            ExitCode::from(error_code(diff_exit_code))
        }
    }
}

/// The exit code of an error: 1, except under `diff --exit-code`, where 1 already means
/// "differences" and errors are 2 (as `git diff --exit-code` and `kubectl diff` use >1).
fn error_code(diff_exit_code: bool) -> u8 {
    if diff_exit_code {
        2
    } else {
        1
    }
}

/// Whether a command line that clap refused asked for `diff --exit-code`: its caller reads
/// 1 as "differences", so even a usage error must exit 2 there.
fn diff_exit_code_requested(args: &[std::ffi::OsString]) -> bool {
    let has = |word: &str| args.iter().skip(1).any(|a| a == word);
    has("diff") && has("--exit-code")
}
