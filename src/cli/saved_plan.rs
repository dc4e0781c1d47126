//! Writing a saved plan (`plan --out FILE`) by the output rules of [`super::output`]: a new
//! file, or one that holds a saved plan already; any other file there is refused untouched.
//! Reading and rendering saved plans is the library's (`pgstate::targets::saved_plan`).

use std::path::Path;

use anyhow::Result;

use pgstate::targets::saved_plan::{is_saved_plan, SavedPlan};

/// Saves `plan` to `path`.
pub fn write(plan: &SavedPlan, path: &Path) -> Result<()> {
    let text = plan.to_json(path)?;
    super::output::write_output(path, text.as_bytes(), "a saved pgstate plan", is_saved_plan)
}
