//! `pgstate man [--out-dir DIR]`: the man page, generated from the clap definitions by
//! `clap_mangen`, so it cannot drift from the command line.
//!
//! Without `--out-dir`, pgstate(1) goes to stdout: one page with the global options and, under
//! COMMANDS, each subcommand's description, synopsis and options (`tests/package/build-deb.sh` installs it).
//! With `--out-dir`, that page is written as `DIR/pgstate.1`, next to one page per subcommand
//! (`pgstate-plan.1`, …) as `clap_mangen` lays them out.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use clap_mangen::Man;

use super::args::{Cli, ManArgs};
use super::common::Outcome;

/// The EXIT STATUS section; the codes themselves are decided in `main.rs`.
const EXIT_STATUS: &[(&str, &str)] = &[
    ("0", "Success."),
    (
        "1",
        "An error, usage errors included; under diff --exit-code: differences.",
    ),
    (
        "2",
        "plan --detailed-exitcode and watch --once --check-only: changes pending; \
         diff --exit-code: an error.",
    ),
    (
        "3",
        "run: traffic ran, but a stream reported an error, sent nothing or fell short of its \
         rate.",
    ),
];

/// What `roff` puts before every piece it renders: the `\*(Aq` string (an upright quote).
const AQ_DEFINITION: [&str; 2] = [r".ie \n(.g .ds Aq \(aq", ".el .ds Aq '"];

pub(super) fn run(a: &ManArgs, stdout: &mut impl Write) -> Result<Outcome> {
    match &a.out_dir {
        None => stdout.write_all(page()?.as_bytes())?,
        Some(dir) => write_pages(dir)?,
    }
    Ok(Outcome::Ok)
}

/// pgstate(1), starting with its `.TH` line (the pieces are rendered one by one, and each
/// comes with the `Aq` definition: it is kept once, after the title).
fn page() -> std::io::Result<String> {
    let mut raw = Vec::new();
    render_pieces(&mut raw)?;
    let raw = String::from_utf8_lossy(&raw);
    let mut lines = raw.lines().filter(|l| !AQ_DEFINITION.contains(l));
    let mut out = String::new();
    for line in lines.next().into_iter().chain(AQ_DEFINITION).chain(lines) {
        // groff reads ASCII unless preconv runs first: name every other character.
        for c in line.chars() {
            if c.is_ascii() {
                out.push(c);
            } else {
                out.push_str(&format!("\\[u{:04X}]", u32::from(c)));
            }
        }
        out.push('\n');
    }
    Ok(out)
}

/// The pieces of pgstate(1): the top-level page, with every subcommand's synopsis and
/// options.
fn render_pieces(w: &mut dyn Write) -> std::io::Result<()> {
    let cmd = Cli::command_for_help();
    let man = Man::new(cmd.clone()).title("PGSTATE");
    man.render_title(w)?;
    man.render_name_section(w)?;
    man.render_synopsis_section(w)?;
    man.render_description_section(w)?;
    man.render_options_section(w)?;
    writeln!(w, ".SH COMMANDS")?;
    // In the order they are declared (hiding ignored globals re-ordered some).
    let declared = <Cli as clap::CommandFactory>::command();
    let subs = declared
        .get_subcommands()
        .filter_map(|d| cmd.find_subcommand(d.get_name()))
        .filter(|s| !s.is_hide_set());
    for sub in subs {
        let name = format!("pgstate {}", sub.get_name());
        let man = Man::new(sub.clone().bin_name(&name));
        writeln!(w, ".SS \"{name}\"")?;
        let mut body = Vec::new();
        man.render_description_section(&mut body)?;
        man.render_synopsis_section(&mut body)?;
        man.render_options_section(&mut body)?;
        // The sections of a subcommand become paragraphs of its subsection.
        for line in String::from_utf8_lossy(&body).lines() {
            if line.starts_with(".SH ") {
                writeln!(w, ".PP")?;
            } else {
                writeln!(w, "{line}")?;
            }
        }
    }
    writeln!(w, ".SH \"EXIT STATUS\"")?;
    for (code, meaning) in EXIT_STATUS {
        writeln!(w, ".TP\n\\fB{code}\\fR\n{meaning}")?;
    }
    writeln!(w, ".SH FILES")?;
    writeln!(
        w,
        ".TP\n\\fI/proc/net/pktgen\\fR\nThe kernel packet generator's files (--proc-root)."
    )?;
    writeln!(
        w,
        ".TP\n\\fI{}\\fR\nThe lock shared by every pgstate process (--lock-file).",
        pgstate::lock::DEFAULT_LOCK_FILE
    )?;
    man.render_version_section(w)
}

/// pgstate.1 and one page per subcommand, into `dir`.
fn write_pages(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("{}", dir.display()))?;
    let path = dir.join("pgstate.1");
    std::fs::write(&path, page()?).with_context(|| format!("{}", path.display()))?;
    let mut cmd = Cli::command_for_help();
    cmd.build();
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let page = Man::new(sub.clone());
        page.generate_to(dir)
            .with_context(|| format!("{}", dir.join(page.get_filename()).display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn printed() -> String {
        let mut out = Vec::new();
        run(&ManArgs { out_dir: None }, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_man_page_is_roff_naming_every_subcommand_with_its_options() {
        let text = printed();
        assert!(text.starts_with(".TH PGSTATE 1"), "{}", &text[..80]);
        let aq = text.lines().filter(|l| AQ_DEFINITION.contains(l)).count();
        assert_eq!(aq, 2, "the Aq string is defined once");
        assert!(text.contains("\n.SH NAME\n"));
        assert!(text.contains("\n.SH SYNOPSIS\n"));
        assert!(text.contains("\n.SH \"EXIT STATUS\"\n"));
        assert!(text.is_ascii());
        for sub in Cli::command_for_help().get_subcommands() {
            let header = format!("\n.SS \"pgstate {}\"\n", sub.get_name());
            assert!(text.contains(&header), "no {header:?}");
        }
        // A subcommand's own options, in roff's escaped dashes.
        assert!(text.contains(r"\-\-detailed\-exitcode"));
        assert!(text.contains(r"\-\-poll\-interval"));
        // Every line is a request, a comment or text that does not start like one by mistake.
        for line in text.lines() {
            assert!(!line.starts_with('\''), "{line}");
        }
        assert!(!text.contains("--sys-class-net") && !text.contains(r"sys\-class\-net"));
    }

    #[test]
    fn out_dir_writes_the_same_page_and_one_per_subcommand() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("man");
        let mut stdout = Vec::new();
        run(
            &ManArgs {
                out_dir: Some(out.clone()),
            },
            &mut stdout,
        )
        .unwrap();
        assert!(stdout.is_empty());
        assert_eq!(
            std::fs::read_to_string(out.join("pgstate.1")).unwrap(),
            printed()
        );
        let plan = std::fs::read_to_string(out.join("pgstate-plan.1")).unwrap();
        assert!(plan.contains("\n.TH pgstate-plan 1 "), "{plan}");
        assert!(plan.contains(r"\-\-detailed\-exitcode"));
    }
}
