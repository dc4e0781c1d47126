//! How loading problems are reported: [`LoadError`], the rendering, sorting and capping of
//! diagnostics, and `FileCtx`, which turns a field path of one file into a located
//! diagnostic with its source line. Values from the file are escaped and cut here, so that
//! no input can flood or garble a terminal.

use std::cell::OnceCell;
use std::path::{Path, PathBuf};

use super::scan::LocationIndex;
use crate::error::{Diagnostic, Location};

/// Source lines longer than this (in characters) are shown cut, or not at all when the
/// caret would fall past the cut; a one-line 8 MiB file must not print 8 MiB per problem.
pub(super) const MAX_SNIPPET_CHARS: usize = 160;
/// Messages and help texts echo values from the file; they are cut at this many characters.
pub(super) const MAX_MESSAGE_CHARS: usize = 1000;
/// Field paths contain device names from the file; they are cut at this many characters.
pub(super) const MAX_PATH_CHARS: usize = 200;

/// Loading the desired state failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file or directory could not be read.
    #[error("cannot read {}: {error}", .path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        error: std::io::Error,
    },
    /// The files are readable but wrong.
    #[error("{}", render_diagnostics(.0))]
    Invalid(Vec<Diagnostic>),
}

/// At most this many problems are reported at once; a generated file with a problem on every
/// line would otherwise print gigabytes. The last diagnostic then says how many were left out.
pub const MAX_DIAGNOSTICS: usize = 200;

/// The end of the message of the note that replaces the problems past [`MAX_DIAGNOSTICS`].
pub(super) const TRUNCATION_NOTE: &str = "are not shown";

fn render_diagnostics(diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for (i, d) in diags.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&d.to_string());
    }
    let truncated = diags
        .last()
        .is_some_and(|d| d.location.is_none() && d.message.contains(TRUNCATION_NOTE));
    if diags.len() > 1 && !truncated {
        out.push_str(&format!("\n{} problems found", diags.len()));
    }
    out
}

/// Sorts the problems by file and position and keeps the first [`MAX_DIAGNOSTICS`].
pub(super) fn finish_diagnostics(mut diags: Vec<Diagnostic>) -> LoadError {
    sort_diagnostics(&mut diags);
    if diags.len() > MAX_DIAGNOSTICS {
        let total = diags.len();
        diags.truncate(MAX_DIAGNOSTICS);
        let file = diags.last().map(|d| d.file.clone()).unwrap_or_default();
        diags.push(file_diag(
            &file,
            format!(
                "{} more problems {TRUNCATION_NOTE}: {total} problems found, the first {MAX_DIAGNOSTICS} are listed",
                total - MAX_DIAGNOSTICS
            ),
        ));
    }
    LoadError::Invalid(diags)
}

pub(super) fn file_diag(file: &Path, message: String) -> Diagnostic {
    Diagnostic {
        location: None,
        file: file.to_owned(),
        path: String::new(),
        message: clip(&message, MAX_MESSAGE_CHARS),
        source_line: None,
        help: None,
    }
}

/// Escapes control characters (a value such as `"eth0\ncount 5"` must not start a new
/// line, or a terminal escape sequence, in the output) and cuts `s` to `max` characters.
pub(super) fn clip(s: &str, max: usize) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i == max {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// The source line to show under a diagnostic: control characters replaced one for one (so
/// the caret stays aligned), cut when long, and left out when the caret would be past the cut.
pub(super) fn snippet(line: &str, column: usize) -> Option<String> {
    let mut out = String::new();
    for (n, c) in line.chars().enumerate() {
        if n == MAX_SNIPPET_CHARS {
            if column + 10 > MAX_SNIPPET_CHARS {
                return None;
            }
            out.push_str(" …");
            return Some(out);
        }
        out.push(if c.is_control() && c != '\t' {
            '\u{fffd}'
        } else {
            c
        });
    }
    Some(out)
}

pub(super) fn sort_diagnostics(diags: &mut [Diagnostic]) {
    diags.sort_by(|a, b| {
        (&a.file, a.location.as_ref().map(|l| (l.line, l.column)))
            .cmp(&(&b.file, b.location.as_ref().map(|l| (l.line, l.column))))
    });
}

pub(super) struct FileCtx<'a> {
    pub(super) file: &'a Path,
    pub(super) text: &'a str,
    pub(super) index: &'a LocationIndex,
    /// Byte offset of each line, built at the first diagnostic: looking lines up with
    /// `lines().nth()` made a file with many problems quadratic.
    pub(super) line_starts: OnceCell<Vec<usize>>,
}

impl FileCtx<'_> {
    /// Line `n` (1-based) of the text, without its line break.
    pub(super) fn line(&self, n: usize) -> Option<&str> {
        let starts = self.line_starts.get_or_init(|| {
            std::iter::once(0)
                .chain(self.text.match_indices('\n').map(|(i, _)| i + 1))
                .filter(|&i| i < self.text.len())
                .collect()
        });
        let idx = n.checked_sub(1)?;
        let start = *starts.get(idx)?;
        let end = starts.get(idx + 1).map_or(self.text.len(), |&s| s - 1);
        let line = &self.text[start..end];
        let line = line.strip_suffix('\n').unwrap_or(line);
        Some(line.strip_suffix('\r').unwrap_or(line))
    }

    pub(super) fn at(&self, (line, column): (usize, usize)) -> Option<Location> {
        Some(Location {
            file: self.file.to_owned(),
            line,
            column,
        })
    }

    pub(super) fn locate(&self, path: &[String], key: bool) -> Option<Location> {
        let mark = if key {
            self.index
                .key_mark(path)
                .or_else(|| self.index.value_mark(path))
        } else {
            self.index
                .value_mark(path)
                .or_else(|| self.index.key_mark(path))
        };
        // Fall back to the closest ancestor that has a position.
        let mark = mark.or_else(|| {
            (1..path.len())
                .rev()
                .find_map(|n| self.index.key_mark(&path[..n]))
        });
        mark.map(|(line, column)| Location {
            file: self.file.to_owned(),
            line,
            column,
        })
    }

    pub(super) fn diag(
        &self,
        path: &[String],
        key: bool,
        message: String,
        help: Option<String>,
    ) -> Diagnostic {
        self.diag_at(self.locate(path, key), render_path(path), message, help)
    }

    pub(super) fn diag_at(
        &self,
        location: Option<Location>,
        path: String,
        message: String,
        help: Option<String>,
    ) -> Diagnostic {
        let source_line = location
            .as_ref()
            .and_then(|l| snippet(self.line(l.line)?, l.column));
        Diagnostic {
            location,
            file: self.file.to_owned(),
            path: clip(&path, MAX_PATH_CHARS),
            message: clip(&message, MAX_MESSAGE_CHARS),
            source_line,
            help: help.map(|h| clip(&h, MAX_MESSAGE_CHARS)),
        }
    }
}

pub(super) fn render_path(path: &[String]) -> String {
    let mut out = String::new();
    for (i, seg) in path.iter().enumerate() {
        // `devices.<name>` is always a name, even an empty or all-digit one.
        let device_name = i == 1 && path[0] == "devices";
        if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) && i > 0 && !device_name {
            out.push_str(&format!("[{seg}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(seg);
        }
    }
    out
}

/// serde's messages in the user's words: "invalid value: integer `-1`, expected u64" names a
/// Rust type; this says "expected a whole number (0 or more), found -1".
pub(super) fn plain_words(message: &str) -> String {
    let Some((what, expected)) = message.rsplit_once(", expected ") else {
        return message.to_owned();
    };
    // serde_yaml puts the field path first: "devices.eth0.count: invalid type: ...".
    let start = ["invalid type: ", "invalid value: "]
        .iter()
        .find_map(|p| what.find(p))
        .unwrap_or(0);
    let (prefix, what) = what.split_at(start);
    // serde_yaml reads integers past 64 bits as u128, which nothing in a state file takes.
    if expected == "any YAML value" {
        if let Some(n) = what
            .strip_prefix("invalid type: integer `")
            .and_then(|r| r.strip_suffix("` as u128"))
        {
            return format!("{prefix}the number {n} is too large for any setting");
        }
        return message.to_owned();
    }
    let expected = match expected {
        "u64" => "a whole number (0 or more)",
        "u32" => "a whole number from 0 to 4294967295",
        "u16" => "a whole number from 0 to 65535",
        "u8" => "a whole number from 0 to 255",
        "a sequence" => "a list",
        "a map" | "struct DeviceSpec" => "a mapping of settings",
        "a string" => "text",
        "a boolean" => "true or false",
        _ => return message.to_owned(),
    };
    let found = what
        .strip_prefix("invalid type: ")
        .or_else(|| what.strip_prefix("invalid value: "))
        .unwrap_or(what);
    let found = if let Some(s) = found.strip_prefix("string ") {
        format!("the string {s}")
    } else if let Some(n) = ["integer `", "floating point `", "boolean `"]
        .iter()
        .find_map(|p| found.strip_prefix(p))
    {
        n.trim_end_matches('`').to_owned()
    } else {
        match found {
            "sequence" => "a list".to_owned(),
            "map" => "a mapping".to_owned(),
            "unit value" => "nothing (null)".to_owned(),
            other => other.to_owned(),
        }
    };
    format!("{prefix}expected {expected}, found {found}")
}

#[cfg(test)]
mod plain_words_tests {
    use super::plain_words;

    #[test]
    fn serde_messages_name_no_rust_types() {
        assert_eq!(
            plain_words("invalid value: integer `-1`, expected u64"),
            "expected a whole number (0 or more), found -1"
        );
        assert_eq!(
            plain_words("invalid type: string \"abc\", expected u64"),
            "expected a whole number (0 or more), found the string \"abc\""
        );
        assert_eq!(
            plain_words("invalid type: floating point `1.5`, expected u32"),
            "expected a whole number from 0 to 4294967295, found 1.5"
        );
        assert_eq!(
            plain_words("invalid type: string \"UDPCSUM\", expected a sequence"),
            "expected a list, found the string \"UDPCSUM\""
        );
        assert_eq!(plain_words("unknown variant `x`"), "unknown variant `x`");
        assert_eq!(
            plain_words(
                "invalid type: integer `99999999999999999999999` as u128, expected any YAML value"
            ),
            "the number 99999999999999999999999 is too large for any setting"
        );
    }
}
