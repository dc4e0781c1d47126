//! Saved plans (`plan --out FILE`, `apply FILE`): the state files a plan was made from and
//! what it was agreed against ([`agreed`](super::agreed)), so that `apply` performs exactly
//! that plan or refuses. This module reads and renders the file; where it is written (never
//! over another file) is the CLI's.
//!
//! A saved plan is untrusted input like a state file: it is read with a size limit, and
//! every error names the file.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::agreed::AgreedTarget;

/// Marks a JSON document as a saved plan.
pub const KIND: &str = "pgstate-plan";

/// The format of saved plans: 2 since they record every target of the state (1 had one
/// `live` and one list of `writes`, for the namespace pgstate runs in).
pub const FORMAT_VERSION: u32 = 2;

/// Saved plans larger than this are refused, when written as when read: reading a file
/// (or `/dev/zero` renamed `plan.json`) must not fill memory. A plan holds its state files
/// (at most [`MAX_STATE_FILE_BYTES`](crate::state_file::MAX_STATE_FILE_BYTES) each, and
/// JSON may escape a character in 6 bytes) and each box's live state, so the bound is well
/// above what a real state makes.
pub const MAX_SAVED_PLAN_BYTES: u64 = 128 * 1024 * 1024;

/// A saved plan.
#[derive(Debug, Serialize, Deserialize)]
pub struct SavedPlan {
    /// Always [`KIND`].
    pub kind: String,
    /// Format version ([`FORMAT_VERSION`]).
    pub format_version: u32,
    /// The state files, as `(path, contents)`.
    pub files: Vec<(PathBuf, String)>,
    /// What each target's plan was made against, in the state's order.
    pub targets: Vec<AgreedTarget>,
}

/// A saved plan that cannot be read or written. Every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum SavedPlanError {
    /// A file could not be read.
    #[error("cannot read {}: {error}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        error: std::io::Error,
    },
    /// The plan is larger than [`MAX_SAVED_PLAN_BYTES`].
    #[error("{}: the saved plan is more than {MAX_SAVED_PLAN_BYTES} bytes (128 MiB), the most pgstate reads or writes", .path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// JSON that is not a saved plan of this format.
    #[error("{} is not a valid saved plan: {error}", .path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        error: serde_json::Error,
    },
    /// A JSON document whose `kind` is not [`KIND`].
    #[error("{} is not a saved pgstate plan", .path.display())]
    NotAPlan {
        /// The file.
        path: PathBuf,
    },
    /// A saved plan of another format.
    #[error(
        "{} is a saved plan of format version {}, and this pgstate reads version \
         {FORMAT_VERSION}; run `pgstate plan --out` again",
        .path.display(),
        .version.map_or_else(|| "(none)".to_owned(), |v| v.to_string())
    )]
    Version {
        /// The file.
        path: PathBuf,
        /// Its `format_version`, if it has a number there.
        version: Option<u64>,
    },
}

impl SavedPlan {
    /// Records the plans of `targets`, made from the state files `files` (read again here:
    /// the plan holds their text).
    ///
    /// # Errors
    ///
    /// When a file cannot be read.
    pub fn new(files: &[PathBuf], targets: Vec<AgreedTarget>) -> Result<SavedPlan, SavedPlanError> {
        let files = files
            .iter()
            .map(|f| {
                std::fs::read_to_string(f)
                    .map(|text| (f.clone(), text))
                    .map_err(|error| SavedPlanError::Io {
                        path: f.clone(),
                        error,
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(SavedPlan {
            kind: KIND.into(),
            format_version: FORMAT_VERSION,
            files,
            targets,
        })
    }

    /// The plan as the JSON document saved to `path`.
    ///
    /// # Errors
    ///
    /// When it is larger than [`MAX_SAVED_PLAN_BYTES`]: [`read`](Self::read) would refuse it.
    pub fn to_json(&self, path: &Path) -> Result<String, SavedPlanError> {
        let text = serde_json::to_string_pretty(self).map_err(|error| SavedPlanError::Invalid {
            path: path.to_owned(),
            error,
        })?;
        if text.len() as u64 > MAX_SAVED_PLAN_BYTES {
            return Err(SavedPlanError::TooLarge {
                path: path.to_owned(),
            });
        }
        Ok(text)
    }

    /// Reads `path` if it is a saved plan; `None` for anything else (a state file, a
    /// directory of them), which the state loader then reads and reports on.
    ///
    /// # Errors
    ///
    /// When `path` cannot be read, or is a JSON document marked as a saved plan that is too
    /// large, invalid or of another format.
    pub fn read(path: &Path) -> Result<Option<SavedPlan>, SavedPlanError> {
        if path.is_dir() {
            return Ok(None);
        }
        let io = |error| SavedPlanError::Io {
            path: path.to_owned(),
            error,
        };
        let mut file = std::fs::File::open(path).map_err(io)?;
        // A saved plan starts with `{` (after white space); a state file hardly ever does,
        // and is not read to the end here, where it would be read without the loader's
        // limit. At most the first 4 KiB are read to tell.
        let mut head = Vec::new();
        (&mut file).take(4096).read_to_end(&mut head).map_err(io)?;
        if head.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Ok(None);
        }
        // The size of a pipe or character device reads as 0: bound the read itself.
        let mut bytes = head;
        file.take(MAX_SAVED_PLAN_BYTES + 1 - bytes.len() as u64)
            .read_to_end(&mut bytes)
            .map_err(io)?;
        if bytes.len() as u64 > MAX_SAVED_PLAN_BYTES {
            return Err(SavedPlanError::TooLarge {
                path: path.to_owned(),
            });
        }
        // Not UTF-8: not a plan pgstate wrote; the loader locates the bad byte.
        match String::from_utf8(bytes) {
            Ok(text) => SavedPlan::parse(path, &text),
            Err(_) => Ok(None),
        }
    }

    /// Reads `text`, the contents of `path`, if it is a saved plan (as [`read`](Self::read)).
    ///
    /// # Errors
    ///
    /// As [`read`](Self::read), but for reading the file.
    pub fn parse(path: &Path, text: &str) -> Result<Option<SavedPlan>, SavedPlanError> {
        if !text.trim_start().starts_with('{') || !text.contains(KIND) {
            return Ok(None);
        }
        let invalid = |error| SavedPlanError::Invalid {
            path: path.to_owned(),
            error,
        };
        let doc: serde_json::Value = serde_json::from_str(text).map_err(invalid)?;
        if doc.get("kind").and_then(serde_json::Value::as_str) != Some(KIND) {
            return Err(SavedPlanError::NotAPlan {
                path: path.to_owned(),
            });
        }
        let version = doc
            .get("format_version")
            .and_then(serde_json::Value::as_u64);
        if version != Some(u64::from(FORMAT_VERSION)) {
            return Err(SavedPlanError::Version {
                path: path.to_owned(),
                version,
            });
        }
        serde_json::from_value(doc).map(Some).map_err(invalid)
    }

    /// The state files, as the loader takes them
    /// ([`load_texts`](crate::state_file::load_texts)).
    pub fn state_files(&self) -> Vec<(&Path, &str)> {
        self.files
            .iter()
            .map(|(p, t)| (p.as_path(), t.as_str()))
            .collect()
    }
}

/// Whether `bytes` are a document `plan --out` wrote: JSON whose `kind` is [`KIND`].
pub fn is_saved_plan(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(bytes)
        .is_ok_and(|doc| doc.get("kind").and_then(serde_json::Value::as_str) == Some(KIND))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_file_is_not_a_plan_and_a_marked_document_must_be_one() {
        let p = Path::new("x.json");
        assert!(SavedPlan::parse(p, "devices: {}\n").unwrap().is_none());
        assert!(SavedPlan::parse(p, "{devices: {}}\n").unwrap().is_none());
        for (text, says) in [
            ("{\"kind\": \"pgstate-plan\"", "is not a valid saved plan"),
            (
                "{\"kind\": \"other\", \"x\": \"pgstate-plan\"}",
                "is not a saved",
            ),
            ("{\"kind\": \"pgstate-plan\"}", "format version (none)"),
            (
                "{\"kind\": \"pgstate-plan\", \"format_version\": 1}",
                "format version 1",
            ),
            (
                "{\"kind\": \"pgstate-plan\", \"format_version\": 2}",
                "missing field",
            ),
        ] {
            let e = SavedPlan::parse(p, text).unwrap_err().to_string();
            assert!(e.starts_with("x.json"), "{e}");
            assert!(e.contains(says), "{e}");
        }
    }

    #[test]
    fn a_plan_reads_back_as_written() {
        let plan = SavedPlan {
            kind: KIND.into(),
            format_version: FORMAT_VERSION,
            files: vec![("s.yaml".into(), "devices: {}\n".into())],
            targets: vec![AgreedTarget {
                namespace: None,
                live: "devices: {}\n".into(),
                writes: vec![],
            }],
        };
        let p = Path::new("p.json");
        let text = plan.to_json(p).unwrap();
        assert!(is_saved_plan(text.as_bytes()));
        let back = SavedPlan::parse(p, &text).unwrap().unwrap();
        assert_eq!(back.files, plan.files);
        assert_eq!(back.targets, plan.targets);
    }
}
