//! What a session has learned of the box, kept between two reconciles: a store in the sense
//! of kube-runtime's reflector. After a reconcile that converged, the session knows the
//! desired state it converged to and the box as it last read or verified it. An edit of the
//! state files then costs what it changed: only the devices whose desired configuration
//! differs (and the thread files, which say what exists where) are read again and planned
//! against, and the apply verifies only what it wrote.
//!
//! What is known goes stale when someone else writes to the box. The thread files are read
//! on every reconcile, so a device added or removed behind the session's back is noticed at
//! once (and sends the session to a full read); a value changed inside an unchanged device
//! is repaired at the next poll or SIGHUP, which always read everything, as before.

use std::collections::BTreeSet;

use crate::apply::{interfaces_of, ApplyError};
use crate::model::{DesiredState, DeviceName, LiveState};
use crate::plan::{plan, scope, Environment, Plan};
use crate::procfs::observe::refresh;
use crate::procfs::Procfs;

/// The box as the last converged reconcile left it, and the state it was converged to.
#[derive(Debug)]
pub(super) struct KnownBox {
    desired: DesiredState,
    live: LiveState,
    env: Environment,
}

/// A plan made from what is known, and the reading it was made from.
pub(super) struct Planned {
    pub live: LiveState,
    pub env: Environment,
    pub plan: Plan,
}

impl KnownBox {
    /// What a converged reconcile leaves: `live` matches `desired` on this box.
    pub(super) fn new(desired: &DesiredState, live: LiveState, env: Environment) -> KnownBox {
        KnownBox {
            desired: desired.clone(),
            live,
            env,
        }
    }

    /// The devices whose desired configuration (thread, parameters, pacing, sharing) differs
    /// between the known state and `desired`, added and removed ones included; `None` when
    /// the edit is one a partial read cannot plan: the threads pgstate owns changed, or a
    /// device is on an interface whose facts were not gathered or that was down.
    pub(super) fn changed(&self, desired: &DesiredState) -> Option<BTreeSet<DeviceName>> {
        if desired.threads != self.desired.threads {
            return None;
        }
        // Up, not only known: a device on a missing or down interface is left out of a plan
        // (`skip_unavailable`), and only a plan of every device says which are.
        let known_interface = |d: &DeviceName| {
            self.env
                .interfaces
                .get(d.interface())
                .is_some_and(|i| i.as_ref().is_some_and(|i| i.up))
        };
        if !desired.devices.keys().all(known_interface) {
            return None;
        }
        let old = &self.desired.devices;
        let new = &desired.devices;
        Some(
            old.keys()
                .chain(new.keys())
                .filter(|d| old.get(*d) != new.get(*d))
                .cloned()
                .collect(),
        )
    }

    /// Plans `desired` against the known box with the thread files and the devices in
    /// `changed` read again: only those devices, and any whose presence or thread the thread
    /// files show changed, unless that plan flushes a thread ([`scope`]). `None` when the
    /// thread files list a device the known box does not have: someone else added it, and
    /// its interface's facts are not known, so the caller reads the whole box instead.
    ///
    /// # Errors
    ///
    /// Reading the box, or planning, failed.
    pub(super) fn plan(
        self,
        procfs: &dyn Procfs,
        desired: &DesiredState,
        changed: &BTreeSet<DeviceName>,
    ) -> Result<Option<Planned>, ApplyError> {
        let KnownBox { live, env, .. } = self;
        let (live, unknown) = refresh(procfs, live, changed, &interfaces_of(&env))?;
        if !unknown.is_empty() {
            return Ok(None);
        }
        let (scoped_desired, scoped_live) = scope(desired, &live, changed);
        let scoped = plan(&scoped_desired, &scoped_live, &env)?;
        let plan = if scoped.flushed_threads.is_empty() {
            scoped
        } else {
            plan(desired, &live, &env)?
        };
        Ok(Some(Planned { live, env, plan }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::KernelProfile;
    use crate::model::{DesiredDevice, DeviceConfig, Pacing, ThreadId};
    use crate::procfs::InterfaceInfo;

    fn state(devices: &[(&str, u64)]) -> DesiredState {
        let mut s = DesiredState::default();
        for (name, count) in devices {
            let mut config = DeviceConfig::fresh(&KernelProfile::LINUX_6_1);
            config.count = *count;
            let d = DesiredDevice {
                thread: ThreadId(0),
                config,
                pacing: Pacing::Delay,
                shared: None,
            };
            s.devices.insert(DeviceName::new(name).unwrap(), d);
        }
        s
    }

    fn known(desired: &DesiredState, interfaces: &[&str]) -> KnownBox {
        let env = Environment {
            interfaces: interfaces
                .iter()
                .map(|i| {
                    let info = InterfaceInfo {
                        mac: None,
                        up: true,
                        tx_queues: None,
                    };
                    ((*i).to_owned(), Some(info))
                })
                .collect(),
            ..Environment::default()
        };
        KnownBox::new(desired, LiveState::default(), env)
    }

    fn names(list: &[&str]) -> BTreeSet<DeviceName> {
        list.iter().map(|n| DeviceName::new(n).unwrap()).collect()
    }

    #[test]
    fn an_edit_changes_the_devices_it_touches_and_no_other() {
        let before = state(&[("eth0", 1), ("eth0@1", 1), ("eth1", 1)]);
        let k = known(&before, &["eth0", "eth1"]);
        assert_eq!(k.changed(&before), Some(BTreeSet::new()));
        let edited = state(&[("eth0", 1), ("eth0@1", 2), ("eth0@2", 1)]);
        assert_eq!(
            k.changed(&edited),
            Some(names(&["eth0@1", "eth0@2", "eth1"]))
        );
    }

    #[test]
    fn what_a_partial_read_cannot_plan_is_left_to_a_full_one() {
        let before = state(&[("eth0", 1)]);
        let k = known(&before, &["eth0"]);
        assert_eq!(k.changed(&state(&[("eth0", 1), ("eth9", 1)])), None);
        let mut owned = before.clone();
        owned.threads = Some([ThreadId(0)].into());
        assert_eq!(k.changed(&owned), None);
    }
}
