//! Saved plans (`plan --out FILE`, `apply FILE`): the state files a plan was made from and
//! the live state it was made against, so that `apply` performs exactly that plan or refuses.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use pgstate::plan::Plan;

/// Marks a JSON document as a saved plan.
pub const KIND: &str = "pgstate-plan";

/// A saved plan.
#[derive(Debug, Serialize, Deserialize)]
pub struct SavedPlan {
    /// Always [`KIND`].
    pub kind: String,
    /// Format version.
    pub format_version: u32,
    /// The state files, as `(path, contents)`.
    pub files: Vec<(PathBuf, String)>,
    /// The live state the plan was made against, as `pgstate show` prints it.
    pub live: String,
    /// The writes, as `file <- command`.
    pub writes: Vec<String>,
}

impl SavedPlan {
    /// Records `plan`, made from `files` against `live`.
    pub fn new(files: &[PathBuf], live: String, plan: &Plan) -> Result<SavedPlan> {
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
            format_version: super::render::JSON_FORMAT_VERSION,
            files,
            live,
            writes: plan.writes.iter().map(pgstate::Write::render).collect(),
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
        let plan: SavedPlan = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a valid saved plan", path.display()))?;
        if plan.kind != KIND {
            bail!("{} is not a saved pgstate plan", path.display());
        }
        Ok(Some(plan))
    }

    /// Refuses the plan unless the box is exactly as it was and planning again gives the
    /// same writes.
    pub fn check(&self, live_now: &str, replanned: &Plan) -> Result<()> {
        if live_now != self.live {
            let diff = similar::TextDiff::from_lines(self.live.as_str(), live_now);
            bail!(
                "the live state has changed since this plan was made; run `pgstate plan` again\n{}",
                diff.unified_diff().header("live when planned", "live now")
            );
        }
        let now: Vec<String> = replanned
            .writes
            .iter()
            .map(pgstate::Write::render)
            .collect();
        if now != self.writes {
            bail!("this version of pgstate plans different writes for the saved state files; run `pgstate plan` again");
        }
        Ok(())
    }
}

/// Whether `bytes` are a document `plan --out` wrote: JSON whose `kind` is [`KIND`].
pub fn is_saved_plan(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(bytes)
        .is_ok_and(|doc| doc.get("kind").and_then(serde_json::Value::as_str) == Some(KIND))
}
