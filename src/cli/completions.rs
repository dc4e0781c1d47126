//! `pgstate completions SHELL`: the shell completion script, generated from the clap
//! definitions by `clap_complete`, so it cannot drift from the command line.

use std::io::Write;

use anyhow::Result;

use super::args::{Cli, CompletionsArgs};
use super::common::Outcome;

pub(super) fn run(a: &CompletionsArgs, stdout: &mut impl Write) -> Result<Outcome> {
    let mut script = Vec::new();
    clap_complete::generate(
        a.shell,
        &mut Cli::command_for_help(),
        "pgstate",
        &mut script,
    );
    stdout.write_all(&script)?;
    Ok(Outcome::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap_complete::Shell;

    fn script(shell: Shell) -> String {
        let mut out = Vec::new();
        run(&CompletionsArgs { shell }, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn subcommands() -> Vec<String> {
        Cli::command_for_help()
            .get_subcommands()
            .filter(|s| !s.is_hide_set())
            .map(|s| s.get_name().to_owned())
            .collect()
    }

    #[test]
    fn every_completion_script_names_every_subcommand() {
        let subs = subcommands();
        assert!(subs.len() >= 14, "{subs:?}");
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let text = script(shell);
            for sub in &subs {
                assert!(text.contains(sub.as_str()), "{shell}: no `{sub}`");
            }
        }
    }

    #[test]
    fn the_bash_script_registers_its_completion_function() {
        let text = script(Shell::Bash);
        assert!(text.contains("complete -F _pgstate"), "{text}");
        assert!(text.contains("--detailed-exitcode"));
    }
}
