//! Saved plans (`plan --out FILE`, `apply FILE`): the state files a plan was made from and
//! what it was agreed against (`pgstate::targets::agreed`), so that `apply` performs
//! exactly that plan or refuses. This module reads and writes the file.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use pgstate::targets::agreed::AgreedTarget;

/// Marks a JSON document as a saved plan.
pub const KIND: &str = "pgstate-plan";

/// The format of saved plans: 2 since they record every target of the state (1 had one
/// `live` and one list of `writes`, for the namespace pgstate runs in).
pub const FORMAT_VERSION: u32 = 2;

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

impl SavedPlan {
    /// Records the plans of `targets`, made from `files`.
    pub fn new(files: &[PathBuf], targets: Vec<AgreedTarget>) -> Result<SavedPlan> {
        let files = files
            .iter()
            .map(|f| {
                Ok((
                    f.clone(),
                    std::fs::read_to_string(f)
                        .with_context(|| format!("reading {}", f.display()))?,
                ))
            })
            .collect::<Result<_>>()?;
        Ok(SavedPlan {
            kind: KIND.into(),
            format_version: FORMAT_VERSION,
            files,
            targets,
        })
    }

    /// Saves the plan to `path`: a new file, or one that holds a saved plan already. Any
    /// other file there is refused untouched (see [`super::output`]).
    pub fn write(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        super::output::write_output(path, text.as_bytes(), "a saved pgstate plan", is_saved_plan)
    }

    /// Reads `path` if it is a saved plan; `None` for anything else (a state file).
    pub fn read(path: &Path) -> Result<Option<SavedPlan>> {
        if path.is_dir() {
            return Ok(None);
        }
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        if !text.trim_start().starts_with('{') || !text.contains(KIND) {
            return Ok(None);
        }
        let doc: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a valid saved plan", path.display()))?;
        if doc.get("kind").and_then(serde_json::Value::as_str) != Some(KIND) {
            bail!("{} is not a saved pgstate plan", path.display());
        }
        let version = doc
            .get("format_version")
            .and_then(serde_json::Value::as_u64);
        if version != Some(u64::from(FORMAT_VERSION)) {
            bail!(
                "{} is a saved plan of format version {}, and this pgstate reads version \
                 {FORMAT_VERSION}; run `pgstate plan --out` again",
                path.display(),
                version.map_or_else(|| "(none)".to_owned(), |v| v.to_string())
            );
        }
        let plan: SavedPlan = serde_json::from_value(doc)
            .with_context(|| format!("{} is not a valid saved plan", path.display()))?;
        Ok(Some(plan))
    }
}

/// Whether `bytes` are a document `plan --out` wrote: JSON whose `kind` is [`KIND`].
pub fn is_saved_plan(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(bytes)
        .is_ok_and(|doc| doc.get("kind").and_then(serde_json::Value::as_str) == Some(KIND))
}
