//! The command-line interface, binary only: argument parsing ([`args`]), one file per
//! subcommand, the helpers they share ([`common`]) and rendering ([`render`]). [`run`]
//! dispatches; exit codes are decided in `main.rs`.

pub mod args;
pub mod duration;
pub mod output;
pub mod pktgen;
pub mod progress;
pub mod render;
pub mod saved_plan;

mod common;

mod apply;
mod clear_counters;
mod completions;
mod destroy;
mod diff;
mod import;
mod man;
mod metrics;
mod metrics_server;
mod plan;
mod results;
mod run;
mod run_metrics;
mod run_record;
mod schema;
mod show;
mod status;
mod stop;
mod systemd;
mod validate;
mod watch;

use args::{Cli, Command};

pub use common::Outcome;
pub use render::count;

/// Whether to colour what goes to stderr: `--color`, and for `auto` the terminal test and the
/// `NO_COLOR`/`CLICOLOR`/`CLICOLOR_FORCE`/`TERM` conventions (anstream).
pub fn stderr_color(choice: clap::ColorChoice) -> bool {
    let choice = match choice {
        clap::ColorChoice::Always => anstream::ColorChoice::Always,
        clap::ColorChoice::Never => anstream::ColorChoice::Never,
        clap::ColorChoice::Auto => anstream::ColorChoice::Auto,
    };
    choice.write_global();
    anstream::AutoStream::choice(&std::io::stderr()) != anstream::ColorChoice::Never
}

/// `error`, bold red when colour is on, as clap and rustc print it.
pub fn error_label(color: bool) -> String {
    if color {
        let style = anstyle::Style::new()
            .bold()
            .fg_color(Some(anstyle::AnsiColor::Red.into()));
        format!("{style}error{style:#}")
    } else {
        "error".to_owned()
    }
}

/// The `format_version` of the command's JSON documents when it was asked for `--json`: its
/// errors are then printed as a JSON document on stdout too ([`render::error_json`]).
pub fn json_version(cli: &Cli) -> Option<u32> {
    let (json, version) = match &cli.command {
        Command::Validate(a) => (a.json, render::JSON_FORMAT_VERSION),
        Command::Plan(a) => (a.json, render::PLAN_FORMAT_VERSION),
        Command::Apply(a) => (a.json, render::PLAN_FORMAT_VERSION),
        Command::Run(a) => (a.json, render::JSON_FORMAT_VERSION),
        Command::Status(a) => (a.json, render::JSON_FORMAT_VERSION),
        Command::Show(a) => (a.json, render::JSON_FORMAT_VERSION),
        _ => (false, 0),
    };
    json.then_some(version)
}

/// Runs the parsed command line.
pub fn run(cli: &Cli) -> anyhow::Result<Outcome> {
    let mut stdout = std::io::stdout().lock();
    let out = &mut stdout;
    match &cli.command {
        Command::Validate(a) => validate::run(a, cli.quiet, out),
        Command::Plan(a) => plan::run(cli, a, out),
        Command::Apply(a) => apply::run(cli, a, out),
        Command::Run(a) => run::run(cli, a, out),
        Command::Stop(a) => stop::run(cli, a, out),
        Command::Status(a) => status::run(cli, a, out),
        Command::Destroy(a) => destroy::run(cli, a, out),
        Command::ClearCounters => clear_counters::run(cli, out),
        Command::Watch(a) => watch::run(cli, a),
        Command::Show(a) => show::run(cli, a, out),
        Command::Diff(a) => diff::run(cli, a, out),
        Command::Completions(a) => completions::run(a, out),
        Command::Man(a) => man::run(a, out),
        Command::Schema => schema::run(out),
        Command::Import(a) => import::run(a, cli.quiet, out),
    }
}
