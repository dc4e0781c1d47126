//! Errors shared across the library, and located diagnostics for state files.

use std::fmt;
use std::path::PathBuf;

/// A position in a state file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// One problem in a state file, located like a compiler error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Where, when known.
    pub location: Option<Location>,
    /// The file, when there is no finer location.
    pub file: PathBuf,
    /// The field path, e.g. `devices.eth0@1.pkt_size`.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// The source line the location points into.
    pub source_line: Option<String>,
    /// A suggestion, e.g. "did you mean `count`?".
    pub help: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Some(loc) => write!(f, "{loc}: ")?,
            None => write!(f, "{}: ", self.file.display())?,
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        write!(f, "{}", self.message)?;
        if let (Some(loc), Some(src)) = (&self.location, &self.source_line) {
            let num = loc.line.to_string();
            let pad = " ".repeat(num.len());
            write!(
                f,
                "\n{pad} |\n{num} | {src}\n{pad} | {}^",
                " ".repeat(loc.column.saturating_sub(1))
            )?;
        }
        if let Some(help) = &self.help {
            write!(f, "\n  = help: {help}")?;
        }
        Ok(())
    }
}

/// A located problem found after loading (the box cannot take the state) is returned as an
/// error of its own, rendered as the loader's are.
impl std::error::Error for Diagnostic {}

/// Suggests the closest of `candidates` to `word`, if one is close enough to be a typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    candidates
        .into_iter()
        .map(|c| {
            (
                strsim::jaro_winkler(&word.to_ascii_lowercase(), &c.to_ascii_lowercase()),
                c,
            )
        })
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| format!("did you mean `{c}`?"))
}

/// The broad class of an error, for callers that sort errors. Every error exits 1 (the exit
/// codes are `main.rs`'s), and `watch` retries every failed reconcile with back-off: a
/// refusal that only an edit can fix is retried at once when the files change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The state files are wrong.
    InvalidState,
    /// The kernel refused something or is not there.
    Kernel,
    /// The box did not converge.
    Verification,
    /// The live state changed under us, or another pgstate holds the box.
    Conflict,
    /// Not allowed (not root).
    Permission,
    /// A broken invariant in pgstate itself.
    Bug,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostics_render_with_a_caret() {
        let d = Diagnostic {
            location: Some(Location {
                file: "states/lab.yaml".into(),
                line: 12,
                column: 15,
            }),
            file: "states/lab.yaml".into(),
            path: "devices.eth0@1.pkt_size".into(),
            message: "20 is below the kernel minimum 42".into(),
            source_line: Some("    pkt_size: 20".into()),
            help: None,
        };
        let text = d.to_string();
        assert!(text.starts_with("states/lab.yaml:12:15: devices.eth0@1.pkt_size: 20 is below"));
        assert!(
            text.contains("\n12 |     pkt_size: 20\n   |               ^"),
            "{text}"
        );
    }

    #[test]
    fn typos_get_a_suggestion() {
        assert_eq!(
            did_you_mean("cont", ["count", "delay"]).as_deref(),
            Some("did you mean `count`?")
        );
        assert_eq!(did_you_mean("zzzz", ["count", "delay"]), None);
    }
}
