//! Errors located in the state files: a plan error at the key that asks for what the box
//! cannot give, a refused write at the setting behind it. The location comes from typed data
//! (the error's [`PlanErrorSite`], the write's device and field), never from a message's
//! wording, so rewording a message cannot move a diagnostic.

use std::fmt;

use crate::apply::ApplyError;
use crate::error::{Diagnostic, Location};
use crate::plan::{PlanError, PlanErrorSite};
use crate::state_file::SourceMap;

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
        PlanErrorSite::Receiver(interface) => {
            sources.receiver_diagnostic(interface, e.reason(), None)
        }
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::model::{DeviceName, ThreadId};

    const STATE: &str = "threads: [0, 7, 9]\ndevices:\n  eth0:\n    thread: 7\n    count: 5\n  eth1:\n    thread: 0\n";

    fn sources() -> SourceMap {
        crate::state_file::load_texts(&[(Path::new("s.yaml"), STATE)])
            .unwrap()
            .sources
    }

    fn at(d: Option<Diagnostic>) -> (usize, usize, String) {
        let d = d.expect("located");
        let l = d.location.expect("a position");
        (l.line, l.column, d.path)
    }

    /// The location comes from the error's site: whatever its message says (here every
    /// message is the same word), a thread error points at `thread:`, an interface error at
    /// the device entry and an owned thread at its element of `threads:`.
    #[test]
    fn a_plan_error_is_located_by_its_site_not_its_wording() {
        let s = sources();
        let eth0 = DeviceName::new("eth0").unwrap();
        let thread = PlanError::NoSuchThread {
            device: eth0.clone(),
            thread: ThreadId(7),
            available: "reworded".into(),
        };
        assert_eq!(
            at(locate_plan_error(&thread, &s)),
            (4, 13, "devices.eth0.thread".into())
        );
        let missing = PlanError::MissingInterface {
            device: DeviceName::new("eth1").unwrap(),
            interface: "reworded".into(),
        };
        assert_eq!(at(locate_plan_error(&missing, &s)).0, 6);
        let owned = PlanError::NoSuchOwnedThread {
            thread: ThreadId(9),
            available: "reworded".into(),
        };
        assert_eq!(
            at(locate_plan_error(&owned, &s)),
            (1, 17, "threads[2]".into())
        );
        // The diagnostic says the reason, without the subject the location already names.
        let d = locate_plan_error(&thread, &s).unwrap();
        assert_eq!(d.message, thread.reason());
        assert!(thread.to_string().starts_with("device eth0: "));
    }
}
