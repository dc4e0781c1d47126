//! What a running watch tells the outside world as it goes: readiness, reloads, a short
//! status line after every reconcile, the stop, and a heartbeat from the loop. [`run`]
//! calls an [`Observer`]; the CLI's observer forwards to systemd (`sd_notify`) and to the
//! metrics endpoint. The library itself never talks to a service manager: this module only
//! defines what is told, and when.
//!
//! [`run`]: super::run

use std::fmt;

use super::report::{Report, StatsHandle};

/// What the last reconcile found or did, as one short line (systemd's `STATUS=`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The box matches the state now (check-only: no drift found).
    pub in_sync: bool,
    /// This reconcile found the box converged or converged it (for "time of the last
    /// successful converge").
    pub converged: bool,
    /// The line: `converged: 12 devices`, `drift repaired: 12 devices`, `error: …`.
    pub text: String,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The longest status line, in characters: systemd shows it in `systemctl status`, where a
/// whole error chain would not fit.
pub const STATUS_MAX_CHARS: usize = 200;

impl Status {
    /// The status after a batch of reports, or `None` when the batch holds no reconcile or
    /// load result (an unchanged re-read, a file event being debounced). `devices` is the
    /// number of devices in the state in force.
    #[must_use]
    pub fn from_reports(reports: &[Report], devices: usize) -> Option<Status> {
        let mut status = None;
        let mut invalid = false;
        for r in reports {
            let (in_sync, converged, text) = match r {
                Report::Invalid(_) => {
                    invalid = true;
                    continue;
                }
                Report::NoState => (false, false, "error: no valid state loaded".to_owned()),
                Report::InSync(_) => (
                    true,
                    true,
                    format!("converged: {}", plural(devices, "device")),
                ),
                Report::Applied {
                    trigger, writes, ..
                } => {
                    let what = if *trigger == super::Trigger::Poll {
                        "drift repaired"
                    } else {
                        "applied"
                    };
                    (
                        true,
                        true,
                        format!(
                            "{what} ({}), converged: {}",
                            plural(writes.len(), "write"),
                            plural(devices, "device")
                        ),
                    )
                }
                Report::Drift { changes, .. } => (
                    false,
                    false,
                    format!("drift (check-only): {} differences", changes.len()),
                ),
                Report::Refused { threads, .. } => (
                    false,
                    false,
                    format!(
                        "refused: would stop traffic on thread(s) {}",
                        threads
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ),
                Report::LockBusy(_) => (false, false, "waiting for the box lock".to_owned()),
                Report::Failed(e) => (false, false, format!("error: {e}")),
                _ => continue,
            };
            status = Some(Status {
                in_sync,
                converged,
                text: shorten(&text),
            });
        }
        if invalid {
            let note = "state files invalid, last good state kept";
            return Some(match status {
                Some(mut s) => {
                    s.text = shorten(&format!("{}; {note}", s.text));
                    s
                }
                None => Status {
                    in_sync: false,
                    converged: false,
                    text: format!("error: {note}"),
                },
            });
        }
        status
    }
}

/// `1 device`, `12 devices`.
fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// The first line of `text`, at most [`STATUS_MAX_CHARS`] characters.
fn shorten(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    if line.chars().count() <= STATUS_MAX_CHARS {
        return line.to_owned();
    }
    let mut s: String = line.chars().take(STATUS_MAX_CHARS - 1).collect();
    s.push('…');
    s
}

/// Told by [`run`](super::run) what the watch is doing. Every method has a default that
/// does nothing.
pub trait Observer {
    /// The session starts; `stats` keeps counting while it runs.
    fn started(&mut self, _stats: &StatsHandle) {}
    /// The first reconcile has finished (converged, or its problem reported): the service
    /// is up. Called once.
    fn ready(&mut self, _status: &Status) {}
    /// SIGHUP: the state is about to be re-read.
    fn reloading(&mut self) {}
    /// The re-read after SIGHUP has finished.
    fn reloaded(&mut self, _status: Option<&Status>) {}
    /// A reconcile finished (after the first one).
    fn status(&mut self, _status: &Status) {}
    /// The watch is stopping.
    fn stopping(&mut self) {}
    /// The loop is alive; called at least every [`SIGNAL_CHECK_MS`](super::SIGNAL_CHECK_MS)
    /// while it waits, never during a reconcile.
    fn alive(&mut self) {}
}

/// An [`Observer`] that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoObserver;

impl Observer for NoObserver {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ThreadId;
    use crate::watch::{Trigger, WatchError};

    fn text(reports: &[Report], devices: usize) -> Option<String> {
        Status::from_reports(reports, devices).map(|s| s.text)
    }

    #[test]
    fn a_converged_box_says_how_many_devices() {
        let s =
            Status::from_reports(&[Report::Unchanged, Report::InSync(Trigger::Poll)], 12).unwrap();
        assert_eq!(s.text, "converged: 12 devices");
        assert!(s.in_sync && s.converged);
        assert_eq!(
            text(&[Report::InSync(Trigger::Startup)], 1).as_deref(),
            Some("converged: 1 device")
        );
    }

    #[test]
    fn a_repair_and_an_edit_are_told_apart() {
        let applied = |trigger| Report::Applied {
            trigger,
            changes: vec!["eth0.count: 7 -> 1000".to_owned()],
            writes: vec!["eth0 <- count 1000".to_owned()],
            stopped_traffic: Vec::new(),
        };
        assert_eq!(
            text(&[applied(Trigger::Poll)], 2).as_deref(),
            Some("drift repaired (1 write), converged: 2 devices")
        );
        assert_eq!(
            text(&[applied(Trigger::FileChange)], 2).as_deref(),
            Some("applied (1 write), converged: 2 devices")
        );
    }

    #[test]
    fn problems_are_not_in_sync_and_errors_are_one_short_line() {
        let refused = Status::from_reports(
            &[Report::Refused {
                trigger: Trigger::Poll,
                threads: vec![ThreadId(0), ThreadId(2)],
                running: Vec::new(),
            }],
            2,
        )
        .unwrap();
        assert_eq!(
            refused.text,
            "refused: would stop traffic on thread(s) 0, 2"
        );
        assert!(!refused.in_sync && !refused.converged);
        let long = "x".repeat(500);
        let failed = text(
            &[Report::Failed(WatchError::Refused {
                threads: format!("0\nsecond line {long}"),
                devices: long.clone(),
            })],
            2,
        )
        .unwrap();
        assert!(failed.starts_with("error: "), "{failed}");
        assert!(!failed.contains('\n'));
        assert!(failed.chars().count() <= STATUS_MAX_CHARS);
    }

    #[test]
    fn a_batch_without_a_reconcile_has_no_status() {
        assert_eq!(text(&[Report::Unchanged], 3), None);
        assert_eq!(text(&[], 3), None);
    }
}
