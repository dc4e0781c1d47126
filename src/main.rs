//! The `pgstate` binary: parse the command line, set up logging, run, map the outcome to an
//! exit code. Exit codes: 0 success; 1 error; 2 changes pending (`plan --detailed-exitcode`);
//! 3 traffic ran but a stream reported an error or sent nothing (`run`).

mod cli;

use std::process::ExitCode;

use clap::Parser;
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
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
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
    let cli = Cli::parse_from(args);
    init_tracing(&cli);
    match cli::run(&cli) {
        Ok(cli::Outcome::Ok) => ExitCode::SUCCESS,
        Ok(cli::Outcome::Changes) => ExitCode::from(2),
        Ok(cli::Outcome::TrafficProblems) => ExitCode::from(3),
        Err(e) => {
            // A closed pipe (`pgstate show | head`) is not an error.
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
