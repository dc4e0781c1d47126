//! Errors located in the state files: a plan error at the key that asks for what the box
//! cannot give, a refused write at the setting behind it. The location comes from typed data
//! (the error's [`PlanErrorSite`], the write's device and field), never from a message's
//! wording, so rewording a message cannot move a diagnostic.

use std::fmt;

use crate::apply::ApplyError;
use crate::error::{Diagnostic, Location};
use crate::plan::{PlanError, PlanErrorSite};
use crate::spec::SourceMap;

/// A plan error pointed at the key of the state file that asks for it, source line and
/// caret included, as `validate` reports its problems; `None` when the device is not from
/// these files. The location comes from the error's typed [`PlanErrorSite`], never from its
/// message.
pub fn locate_plan_error(e: &PlanError, sources: &SourceMap) -> Option<Diagnostic> {
    match e.site() {
        PlanErrorSite::Device { device, key } => {
            sources.device_diagnostic(device, key, e.reason(), None)
        }
        PlanErrorSite::OwnedThread(thread) => sources.thread_diagnostic(thread, e.reason(), None),
    }
}

/// The state-file setting behind a write the kernel refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedSetting {
    /// Where it is written.
    pub location: Location,
    /// Its path, e.g. `namespaces.h1.devices.eth0.count`.
    pub path: String,
}

/// `file:line:col: devices.eth0.count: the kernel refused this setting`.
impl fmt::Display for RefusedSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}: the kernel refused this setting",
            self.location, self.path
        )
    }
}

/// The setting behind a failed write of `e`, when it is a setting of the files of `sources`.
pub fn refused_setting(e: &ApplyError, sources: &SourceMap) -> Option<RefusedSetting> {
    let ApplyError::Write(failed) = e else {
        return None;
    };
    let device = failed.write.device.as_ref()?;
    let field = failed.write.field.as_deref();
    let location = sources.locate(device, field)?;
    let field = field.map(|f| format!(".{f}")).unwrap_or_default();
    Some(RefusedSetting {
        location,
        path: format!("{}devices.{device}{field}", sources.path_prefix()),
    })
}
