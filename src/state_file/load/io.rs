//! Reading state files from disk with limits: which files of a directory make up the state,
//! and each file's text, refused (as a located diagnostic, not an I/O error) when it is too
//! large or not UTF-8. No parsing here. Reading the standard input is the CLI's.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::diagnostics::{clip, file_diag, snippet, LoadError, MAX_MESSAGE_CHARS};
use crate::error::{Diagnostic, Location};

/// State files larger than this are refused before parsing.
pub const MAX_STATE_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// The files that make up the state at `path`: the file itself, or every `*.yaml`/`*.yml`
/// file of a directory (not recursive, not hidden), sorted. A directory without any is a
/// diagnostic that names what was ignored.
pub(super) fn state_files(path: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let io = |error| LoadError::Io {
        path: path.to_owned(),
        error,
    };
    let meta = fs::metadata(path).map_err(io)?;
    Ok(if meta.is_dir() {
        let mut files = Vec::new();
        let mut ignored = Vec::new();
        for entry in fs::read_dir(path).map_err(io)?.filter_map(Result::ok) {
            let p = entry.path();
            let hidden = p
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'));
            if p.extension().is_some_and(|e| e == "yaml" || e == "yml") && !hidden {
                files.push(p);
            } else {
                ignored.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        files.sort();
        if files.is_empty() {
            ignored.sort();
            let help = (!ignored.is_empty()).then(|| {
                let shown: Vec<&str> = ignored.iter().take(5).map(String::as_str).collect();
                let more = ignored.len().saturating_sub(shown.len());
                format!(
                    "only files named *.yaml or *.yml (not starting with '.') are read; ignored: {}{}",
                    shown.join(", "),
                    if more > 0 { format!(" and {more} more") } else { String::new() }
                )
            });
            let mut d = file_diag(
                path,
                "the directory has no *.yaml or *.yml state files".into(),
            );
            d.help = help.map(|h| clip(&h, MAX_MESSAGE_CHARS));
            return Err(LoadError::Invalid(vec![d]));
        }
        files
    } else {
        vec![path.to_owned()]
    })
}

/// Reads one state file: its text, or a diagnostic if it is too large or not UTF-8.
pub(super) fn read_state_file(f: &Path) -> Result<Result<String, Diagnostic>, LoadError> {
    let io = |error| LoadError::Io {
        path: f.to_owned(),
        error,
    };
    let too_large = |size: String| {
        file_diag(
            f,
            format!(
                "the file is {size} bytes; state files are limited to {MAX_STATE_FILE_BYTES} (8 MiB)"
            ),
        )
    };
    let size = fs::metadata(f).map_err(io)?.len();
    if size > MAX_STATE_FILE_BYTES {
        return Ok(Err(too_large(size.to_string())));
    }
    // The size of a pipe or character device (`/dev/stdin`, `/dev/zero`) reads as 0: bound
    // the read itself too.
    let mut bytes = Vec::new();
    fs::File::open(f)
        .map_err(io)?
        .take(MAX_STATE_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_STATE_FILE_BYTES {
        return Ok(Err(too_large(format!("more than {MAX_STATE_FILE_BYTES}"))));
    }
    match String::from_utf8(bytes) {
        Ok(t) => Ok(Ok(t)),
        Err(e) => Ok(Err(not_utf8_diag(
            f,
            e.as_bytes(),
            e.utf8_error().valid_up_to(),
        ))),
    }
}

/// Locates the first invalid byte of a file that is not UTF-8 like any other problem.
fn not_utf8_diag(file: &Path, bytes: &[u8], valid: usize) -> Diagnostic {
    let prefix = &bytes[..valid];
    let line = prefix.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = prefix
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    // `prefix` is valid UTF-8, so the column counts characters as everywhere else.
    let column = std::str::from_utf8(&prefix[line_start..]).map_or(1, |s| s.chars().count() + 1);
    let line_end = bytes[valid..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |i| valid + i);
    // Each invalid sequence becomes one U+FFFD, so the caret still lands on it.
    let text = String::from_utf8_lossy(&bytes[line_start..line_end]);
    Diagnostic {
        location: Some(Location {
            file: file.to_owned(),
            line,
            column,
        }),
        file: file.to_owned(),
        path: String::new(),
        message: format!(
            "the file is not UTF-8: byte 0x{:02x} at offset {valid} is not part of a UTF-8 character",
            bytes.get(valid).copied().unwrap_or_default()
        ),
        source_line: snippet(text.trim_end_matches('\r'), column),
        help: Some("state files must be UTF-8 text".into()),
    }
}
