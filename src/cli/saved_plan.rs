//! Saved plans (`plan --out FILE`, `apply FILE`): the state files a plan was made from and
//! the live state it was made against, so that `apply` performs exactly that plan or refuses.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use pgstate::model::NamespaceName;
use pgstate::targets::{OpenTarget, Planned};

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
    /// Each target's part, in the state's order.
    pub targets: Vec<SavedTarget>,
}

/// One target of a saved plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedTarget {
    /// Its namespace; `null` for the one pgstate runs in.
    pub namespace: Option<NamespaceName>,
    /// The live state the plan was made against, as `pgstate show` prints it.
    pub live: String,
    /// The writes, as `file <- command`.
    pub writes: Vec<String>,
}

/// What a saved plan records of `planned`, the plans of `targets`.
pub fn recorded(targets: &[OpenTarget], planned: &[Planned]) -> Result<Vec<SavedTarget>> {
    targets
        .iter()
        .zip(planned)
        .map(|(t, p)| {
            Ok(SavedTarget {
                namespace: t.place().name().cloned(),
                live: super::common::live_text(&p.live, &*t.procfs)?,
                writes: p.plan.writes.iter().map(pgstate::Write::render).collect(),
            })
        })
        .collect()
}

impl SavedPlan {
    /// Records the plans of `targets`, made from `files`.
    pub fn new(files: &[PathBuf], targets: Vec<SavedTarget>) -> Result<SavedPlan> {
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

    /// Refuses the plan unless every target is exactly as it was and planning again gives
    /// the same writes.
    pub fn check(&self, now: &[SavedTarget]) -> Result<()> {
        let names = |t: &[SavedTarget]| t.iter().map(|t| t.namespace.clone()).collect::<Vec<_>>();
        if names(&self.targets) != names(now) {
            bail!("the saved plan's namespaces are not the state's; run `pgstate plan` again");
        }
        let several = now.len() > 1;
        for (then, now) in self.targets.iter().zip(now) {
            let at = match (&now.namespace, several) {
                (Some(n), _) => format!(" (namespace {n})"),
                (None, true) => " (this namespace)".to_owned(),
                (None, false) => String::new(),
            };
            if now.live != then.live {
                let diff = similar::TextDiff::from_lines(then.live.as_str(), now.live.as_str());
                bail!(
                    "the live state{at} has changed since this plan was made; run `pgstate plan` again\n{}",
                    diff.unified_diff().header("live when planned", "live now")
                );
            }
            if now.writes != then.writes {
                bail!("this version of pgstate plans different writes{at} for the saved state files; run `pgstate plan` again");
            }
        }
        Ok(())
    }
}

/// Whether `bytes` are a document `plan --out` wrote: JSON whose `kind` is [`KIND`].
pub fn is_saved_plan(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(bytes)
        .is_ok_and(|doc| doc.get("kind").and_then(serde_json::Value::as_str) == Some(KIND))
}
