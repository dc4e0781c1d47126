//! The planner: live state + desired state → the ordered, minimal list of writes.
//!
//! Pure: values in, values out, no I/O (STYLE §5.1). The same function drives `plan`,
//! `apply`, verification (a converged box plans nothing) and rollback (a plan back to the
//! snapshot taken before apply).

mod device;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

pub use device::{device_writes, ChangeValue, DeviceDiff, FieldChange, KeyChange};

use crate::kernel::KernelProfile;
use crate::model::{
    DesiredDevice, DesiredState, DeviceConfig, DeviceName, Flag, LiveDevice, LiveState, ThreadId,
};
use crate::procfs::{InterfaceInfo, PgFile};

/// How to check a write beyond its errno (REFERENCE §4: many refusals only show in `Result:`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "text")]
pub enum ResultCheck {
    /// The device's `Result:` must start with `OK:`.
    DeviceOk,
    /// The command does not update `Result:` (imix_weights, VLAN off); only errno counts.
    NotUpdated,
    /// The thread's `Result:` must equal this text.
    ThreadResult(String),
    /// `pgctrl` has no `Result:` line.
    None,
}

/// One command written to one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Write {
    /// The file (`pgctrl`, `kpktgend_N`, or a device).
    #[serde(serialize_with = "ser_file")]
    pub file: PgFile,
    /// The command, without its newline.
    pub command: String,
    /// The device this write is for.
    pub device: Option<DeviceName>,
    /// The state-file key that asked for it, if any.
    pub field: Option<String>,
    /// How to confirm that the kernel took it.
    pub check: ResultCheck,
    /// Device files that must be gone before the next write (after `rem_device_all`, which
    /// the kernel carries out asynchronously, REFERENCE §2.2).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub wait_gone: Vec<DeviceName>,
}

fn ser_file<S: serde::Serializer>(f: &PgFile, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(f)
}

impl Write {
    /// `file <- command`, as shown by `plan -v`.
    pub fn render(&self) -> String {
        format!("{} <- {}", self.file, self.command.replace('\0', "\\0"))
    }
}

/// What happens to a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// `+`: added.
    Add,
    /// `~`: parameters changed in place.
    Change,
    /// `-`: removed.
    Remove,
    /// `-/+`: removed and added again (its thread is flushed, or it moves thread).
    Recreate,
}

impl ActionKind {
    /// The Terraform-style symbol.
    pub fn symbol(self) -> &'static str {
        match self {
            ActionKind::Add => "+",
            ActionKind::Change => "~",
            ActionKind::Remove => "-",
            ActionKind::Recreate => "-/+",
        }
    }
}

/// One device's part of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceAction {
    /// The device.
    pub device: DeviceName,
    /// What happens.
    pub action: ActionKind,
    /// Its thread after the plan (before, for removals).
    pub thread: ThreadId,
    /// Its thread before, when it moves.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_thread: Option<ThreadId>,
    /// Why, for removals and re-creations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Parameter changes (old → new).
    #[serde(skip)]
    pub changes: Vec<FieldChange>,
    /// The device is sending right now; changes apply live, removal stops it.
    pub running: bool,
}

/// The planner's output.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Plan {
    /// Per-device actions, by device name.
    pub actions: Vec<DeviceAction>,
    /// The writes, in order.
    pub writes: Vec<Write>,
    /// Threads that get `rem_device_all`.
    pub flushed_threads: Vec<ThreadId>,
    /// Devices left out because their interface is missing or down (with
    /// [`Environment::skip_unavailable`]), and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<(DeviceName, String)>,
}

impl Plan {
    /// A converged box plans nothing.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }

    /// Number of devices with `kind`.
    pub fn count(&self, kind: ActionKind) -> usize {
        self.actions.iter().filter(|a| a.action == kind).count()
    }
}

/// Facts about the box that the planner needs besides pktgen's own files.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    /// The kernel's behaviour.
    pub profile: KernelProfile,
    /// Interfaces by name (`None`: does not exist). Only those the state names are needed.
    pub interfaces: BTreeMap<String, Option<InterfaceInfo>>,
    /// Leave out devices whose interface is missing or down instead of failing (`watch`:
    /// they are added when the interface comes back).
    pub skip_unavailable: bool,
}

/// The desired state cannot be planned on this box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanError {
    /// A device asks for a thread the kernel does not have.
    NoSuchThread {
        /// The device.
        device: DeviceName,
        /// The thread asked for.
        thread: ThreadId,
        /// The threads there are.
        available: String,
    },
    /// `threads:` lists a thread the kernel does not have.
    NoSuchOwnedThread {
        /// The thread.
        thread: ThreadId,
        /// The threads there are.
        available: String,
    },
    /// A device is put on a thread outside `threads:`.
    ThreadNotOwned {
        /// The device.
        device: DeviceName,
        /// Its thread.
        thread: ThreadId,
        /// The owned threads.
        owned: String,
    },
    /// The device name is taken on a thread this state does not own.
    NameTakenElsewhere {
        /// The device.
        device: DeviceName,
        /// The thread holding it.
        thread: ThreadId,
    },
    /// The interface does not exist.
    MissingInterface {
        /// The device.
        device: DeviceName,
        /// Its interface.
        interface: String,
    },
    /// The interface is down.
    InterfaceDown {
        /// The device.
        device: DeviceName,
        /// Its interface.
        interface: String,
    },
    /// A receiver's interface does not exist in its namespace.
    NoReceiverInterface {
        /// The interface.
        interface: String,
    },
    /// The state needs a feature this kernel lacks.
    Unsupported {
        /// The device.
        device: DeviceName,
        /// The state-file key that asks for it.
        key: &'static str,
        /// What it needs, as a sentence ("imix_weights needs Linux 5.15 or later").
        requirement: String,
        /// This kernel.
        have: crate::kernel::Version,
    },
}

/// What a [`PlanError`] is about, as typed data: a diagnostic is located from it, never from
/// the wording of the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanErrorSite<'a> {
    /// A device entry, or one of its keys (`key`, as the state file's schema names it).
    Device {
        /// The device.
        device: &'a DeviceName,
        /// The key the problem is with; `None` for the device entry itself.
        key: Option<&'static str>,
    },
    /// An element of `threads:`.
    OwnedThread(ThreadId),
    /// A receiver of `receivers:`, by its interface.
    Receiver(&'a str),
}

impl PlanError {
    /// What the error is about.
    pub fn site(&self) -> PlanErrorSite<'_> {
        use PlanError as P;
        let device = |device, key| PlanErrorSite::Device { device, key };
        match self {
            P::NoSuchThread { device: d, .. } | P::ThreadNotOwned { device: d, .. } => {
                device(d, Some("thread"))
            }
            P::NoSuchOwnedThread { thread, .. } => PlanErrorSite::OwnedThread(*thread),
            P::NoReceiverInterface { interface } => PlanErrorSite::Receiver(interface),
            P::Unsupported { device: d, key, .. } => device(d, Some(*key)),
            P::NameTakenElsewhere { device: d, .. }
            | P::MissingInterface { device: d, .. }
            | P::InterfaceDown { device: d, .. } => device(d, None),
        }
    }

    /// The message without its subject (`device NAME: `, `threads: `): what a diagnostic
    /// located at [`site`](Self::site) says.
    pub fn reason(&self) -> String {
        use PlanError as P;
        match self {
            P::NoSuchThread {
                thread, available, ..
            }
            | P::NoSuchOwnedThread { thread, available } => {
                format!("thread {thread} does not exist (this box has kpktgend_{{{available}}})")
            }
            P::ThreadNotOwned { thread, owned, .. } => {
                format!("thread {thread} is not one of the threads this state owns ({owned})")
            }
            P::NameTakenElsewhere { thread, .. } => format!(
                "already exists on thread {thread}, which this state does not own; remove it \
                 there or add that thread to `threads:`"
            ),
            P::MissingInterface { interface, .. } => {
                format!("interface {interface} does not exist (add_device would fail with ENODEV)")
            }
            P::InterfaceDown { interface, .. } => format!(
                "interface {interface} is down (add_device would fail with ENETDOWN); bring it \
                 up with `ip link set {interface} up`"
            ),
            P::Unsupported {
                requirement, have, ..
            } => format!("{requirement}; this kernel is {have}"),
            P::NoReceiverInterface { interface } => format!(
                "interface {interface} does not exist in this namespace, so nothing can be \
                 received on it"
            ),
        }
    }
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.site() {
            PlanErrorSite::Device { device, .. } => write!(f, "device {device}: ")?,
            PlanErrorSite::OwnedThread(_) => write!(f, "threads: ")?,
            PlanErrorSite::Receiver(interface) => write!(f, "receiver {interface}: ")?,
        }
        f.write_str(&self.reason())
    }
}

impl std::error::Error for PlanError {}

fn list_threads<'a>(it: impl Iterator<Item = &'a ThreadId>) -> String {
    it.map(ToString::to_string).collect::<Vec<_>>().join(",")
}

/// A desired device, checked against the box and resolved for its kernel.
struct Wanted<'a> {
    thread: ThreadId,
    /// The configuration on this kernel (`SHARED` resolved).
    config: DeviceConfig,
    desired: &'a DesiredDevice,
}

/// Why a thread gets `rem_device_all`: the first device (or the thread itself) that needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum FlushReason {
    /// A device on it is not in the desired state.
    NotDesired(DeviceName),
    /// A device moves to another thread (the kernel cannot move one).
    Moves {
        device: DeviceName,
        from: ThreadId,
        to: ThreadId,
    },
    /// A device is listed but has no proc file (REFERENCE §5.5).
    Unreadable(DeviceName),
    /// A device has a setting only re-adding can undo (REFERENCE §7.3).
    Irreversible { device: DeviceName, why: String },
    /// The thread lists devices pgstate cannot name.
    Unmanageable {
        thread: ThreadId,
        names: Vec<String>,
    },
}

impl FlushReason {
    /// The device the reason is about, if it is about one.
    fn device(&self) -> Option<&DeviceName> {
        match self {
            FlushReason::NotDesired(d)
            | FlushReason::Moves { device: d, .. }
            | FlushReason::Unreadable(d)
            | FlushReason::Irreversible { device: d, .. } => Some(d),
            FlushReason::Unmanageable { .. } => None,
        }
    }
}

impl std::fmt::Display for FlushReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FlushReason::NotDesired(d) => write!(f, "{d} is not in the desired state"),
            FlushReason::Moves { device, from, to } => {
                write!(f, "{device} moves from thread {from} to thread {to}")
            }
            FlushReason::Unreadable(d) => write!(
                f,
                "{d} has no readable proc file (its interface was renamed)"
            ),
            FlushReason::Irreversible { device, why } => write!(f, "{device}: {why}"),
            FlushReason::Unmanageable { thread, names } => write!(
                f,
                "thread {thread} holds {}, which pgstate cannot address",
                names.join(", ")
            ),
        }
    }
}

/// How a desired device gets its configuration: from what it is now, or from scratch.
struct Start<'a> {
    action: ActionKind,
    from_thread: Option<ThreadId>,
    reason: Option<String>,
    /// The configuration the writes start from.
    base: &'a DeviceConfig,
    /// `base` is a device just added, whose hidden fields are known defaults.
    fresh_known: bool,
}

/// `desired` and `live` cut down to `devices` and to every device whose presence or thread
/// differs between the two; threads, version and stray files whole. Planning the cut-down
/// states gives the full plan's actions for those devices as long as it flushes no thread
/// (a flush re-adds every device of its thread, which the cut-down states lack): what an
/// apply's readback and a watch's edit need to plan, when they know that every other device
/// is as the desired state wants it.
#[must_use]
pub fn scope(
    desired: &DesiredState,
    live: &LiveState,
    devices: &BTreeSet<DeviceName>,
) -> (DesiredState, LiveState) {
    let in_scope = |name: &DeviceName| {
        devices.contains(name)
            || match (desired.devices.get(name), live.devices.get(name)) {
                (Some(d), Some(l)) => d.thread != l.thread,
                _ => true,
            }
    };
    let scoped_desired = DesiredState {
        threads: desired.threads.clone(),
        devices: kept(&desired.devices, in_scope),
    };
    let scoped_live = LiveState {
        version: live.version.clone(),
        threads: live.threads.clone(),
        devices: kept(&live.devices, in_scope),
        stray_files: live.stray_files.clone(),
    };
    (scoped_desired, scoped_live)
}

/// The devices of `devices` that `keep` names.
fn kept<V: Clone>(
    devices: &BTreeMap<DeviceName, V>,
    keep: impl Fn(&DeviceName) -> bool,
) -> BTreeMap<DeviceName, V> {
    devices
        .iter()
        .filter(|(n, _)| keep(n))
        .map(|(n, d)| (n.clone(), d.clone()))
        .collect()
}

/// Plans the writes that take `live` to `desired`.
///
/// Three phases: [`resolve`] checks every desired device against the box and the kernel
/// (nothing is planned for a state that cannot be applied); [`flushes`] decides which
/// threads need `rem_device_all` and why; then the writes follow in kernel order: flushes
/// first, then each device is added if needed and configured ([`device_writes`]).
pub fn plan(
    desired: &DesiredState,
    live: &LiveState,
    env: &Environment,
) -> Result<Plan, PlanError> {
    let profile = &env.profile;
    let want = resolve(desired, live, profile)?;
    let flush = flushes(desired, live, env, &want);

    let mut out = Plan {
        flushed_threads: flush.keys().copied().collect(),
        ..Plan::default()
    };
    // 1. Flush threads. The kernel removes devices asynchronously; wait for their files.
    for thread in flush.keys() {
        let gone: Vec<DeviceName> = live
            .devices
            .iter()
            .filter(|(_, d)| d.thread == *thread)
            .map(|(n, _)| n.clone())
            .collect();
        out.writes.push(Write {
            file: PgFile::Thread(*thread),
            command: "rem_device_all".into(),
            device: None,
            field: None,
            check: ResultCheck::ThreadResult("OK: rem_device_all".into()),
            wait_gone: gone,
        });
    }
    for (name, l) in &live.devices {
        if desired.owns(l.thread) && !want.contains_key(name) {
            out.actions.push(DeviceAction {
                device: name.clone(),
                action: ActionKind::Remove,
                thread: l.thread,
                from_thread: None,
                reason: Some(FlushReason::NotDesired(name.clone()).to_string()),
                changes: Vec::new(),
                running: l.running,
            });
        }
    }

    // 2. Add and configure, device by device.
    let fresh = DeviceConfig::fresh(profile);
    for (name, w) in &want {
        let l = live.devices.get(*name);
        let iface = env.interfaces.get(name.interface()).cloned().flatten();
        let start = start_of(name, w, l, &flush, &fresh);
        if start.action != ActionKind::Change {
            if let Some(e) = unavailable(name, iface.as_ref()) {
                if env.skip_unavailable {
                    out.skipped.push(((*name).clone(), e.to_string()));
                    continue;
                }
                return Err(e);
            }
            out.writes.push(Write {
                file: PgFile::Thread(w.thread),
                command: format!("add_device {name}"),
                device: Some((*name).clone()),
                field: None,
                check: ResultCheck::ThreadResult(format!("OK: add_device={name}")),
                wait_gone: Vec::new(),
            });
        }
        let diff = device_writes(
            name,
            start.base,
            start.fresh_known,
            &w.config,
            w.desired.pacing,
            profile,
            iface.as_ref(),
        );
        if start.action == ActionKind::Change && diff.writes.is_empty() {
            continue;
        }
        out.writes.extend(diff.writes);
        out.actions.push(DeviceAction {
            device: (*name).clone(),
            action: start.action,
            thread: w.thread,
            from_thread: start.from_thread,
            reason: start.reason,
            changes: diff.changes,
            running: l.is_some_and(|d| d.running),
        });
    }
    out.actions.sort_by(|a, b| a.device.cmp(&b.device));
    Ok(out)
}

/// Phase 1: every desired device, checked against the box's threads, the owned threads and
/// the live kernel ([`DesiredDevice::kernel_needs`]).
fn resolve<'a>(
    desired: &'a DesiredState,
    live: &LiveState,
    profile: &KernelProfile,
) -> Result<BTreeMap<&'a DeviceName, Wanted<'a>>, PlanError> {
    let available = || list_threads(live.threads.keys());
    for t in desired.threads.iter().flatten() {
        if !live.threads.contains_key(t) {
            return Err(PlanError::NoSuchOwnedThread {
                thread: *t,
                available: available(),
            });
        }
    }
    let mut want = BTreeMap::new();
    for (name, dev) in &desired.devices {
        if !live.threads.contains_key(&dev.thread) {
            return Err(PlanError::NoSuchThread {
                device: name.clone(),
                thread: dev.thread,
                available: available(),
            });
        }
        if !desired.owns(dev.thread) {
            return Err(PlanError::ThreadNotOwned {
                device: name.clone(),
                thread: dev.thread,
                owned: list_threads(desired.threads.iter().flatten()),
            });
        }
        if let Some(need) = dev
            .kernel_needs()
            .into_iter()
            .find(|n| !profile.supports(n.feature))
        {
            return Err(PlanError::Unsupported {
                device: name.clone(),
                key: need.key,
                requirement: need.feature.requirement(),
                have: profile.release(),
            });
        }
        if let Some(l) = live.devices.get(name) {
            if l.thread != dev.thread && !desired.owns(l.thread) {
                return Err(PlanError::NameTakenElsewhere {
                    device: name.clone(),
                    thread: l.thread,
                });
            }
        }
        want.insert(
            name,
            Wanted {
                thread: dev.thread,
                config: dev.config_for(profile),
                desired: dev,
            },
        );
    }
    Ok(want)
}

/// Phase 2: the owned threads that need `rem_device_all`, each with the first reason found.
fn flushes(
    desired: &DesiredState,
    live: &LiveState,
    env: &Environment,
    want: &BTreeMap<&DeviceName, Wanted<'_>>,
) -> BTreeMap<ThreadId, FlushReason> {
    let mut flush = BTreeMap::new();
    for (name, l) in &live.devices {
        if !desired.owns(l.thread) {
            continue;
        }
        let reason = match want.get(name) {
            None => Some(FlushReason::NotDesired(name.clone())),
            Some(w) if w.thread != l.thread => Some(FlushReason::Moves {
                device: name.clone(),
                from: l.thread,
                to: w.thread,
            }),
            Some(w) => match &l.config {
                None => Some(FlushReason::Unreadable(name.clone())),
                Some(live_cfg) => {
                    let iface = env.interfaces.get(name.interface()).cloned().flatten();
                    device::recreate_reason(live_cfg, &w.config, iface.as_ref()).map(|why| {
                        FlushReason::Irreversible {
                            device: name.clone(),
                            why,
                        }
                    })
                }
            },
        };
        if let Some(r) = reason {
            flush.entry(l.thread).or_insert(r);
        }
    }
    // Devices with names pgstate cannot address are never desired; on an owned thread
    // the only way to remove them is to flush it.
    for (id, t) in &live.threads {
        if desired.owns(*id) && !t.unmanageable.is_empty() {
            flush.entry(*id).or_insert(FlushReason::Unmanageable {
                thread: *id,
                names: t.unmanageable.clone(),
            });
        }
    }
    flush
}

/// Where the writes of desired device `name` start: a new device, a re-created one (its
/// thread is flushed, or its proc file is gone), or the live one, changed in place.
fn start_of<'a>(
    name: &DeviceName,
    w: &Wanted<'_>,
    live: Option<&'a LiveDevice>,
    flush: &BTreeMap<ThreadId, FlushReason>,
    fresh: &'a DeviceConfig,
) -> Start<'a> {
    let recreate = |from_thread, reason| Start {
        action: ActionKind::Recreate,
        from_thread,
        reason: Some(reason),
        base: fresh,
        fresh_known: true,
    };
    match live {
        None => Start {
            action: ActionKind::Add,
            from_thread: None,
            reason: None,
            base: fresh,
            fresh_known: true,
        },
        Some(l) if l.thread != w.thread => recreate(
            Some(l.thread),
            format!("moves from thread {} to thread {}", l.thread, w.thread),
        ),
        Some(l) => match (flush.get(&l.thread), &l.config) {
            // The device's own reason reads as it is; another device's says whose.
            (Some(r), _) if r.device() == Some(name) => recreate(None, r.to_string()),
            (Some(r), _) => recreate(None, format!("thread {} is flushed: {r}", l.thread)),
            (None, Some(c)) => Start {
                action: ActionKind::Change,
                from_thread: None,
                reason: None,
                base: c,
                fresh_known: false,
            },
            (None, None) => recreate(None, "no readable proc file".into()),
        },
    }
}

/// Why device `name` cannot be added now, if it cannot.
fn unavailable(name: &DeviceName, iface: Option<&InterfaceInfo>) -> Option<PlanError> {
    match iface {
        None => Some(PlanError::MissingInterface {
            device: name.clone(),
            interface: name.interface().to_owned(),
        }),
        Some(i) if !i.up => Some(PlanError::InterfaceDown {
            device: name.clone(),
            interface: name.interface().to_owned(),
        }),
        _ => None,
    }
}

/// Whether `flag` is one the planner manages with `flag NAME` writes.
pub(crate) fn managed_flag(flag: Flag) -> bool {
    !matches!(flag, Flag::IPV6 | Flag::SHARED)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DesiredDevice, LiveDevice, LiveThread, MacAddr, Pacing, XmitMode};

    fn name(s: &str) -> DeviceName {
        DeviceName::new(s).unwrap()
    }

    fn env(profile: KernelProfile, ifaces: &[(&str, bool)]) -> Environment {
        Environment {
            skip_unavailable: false,
            profile,
            interfaces: ifaces
                .iter()
                .map(|(n, up)| {
                    (
                        (*n).to_owned(),
                        Some(InterfaceInfo {
                            mac: Some(MacAddr([2, 0, 0, 0, 0, 9])),
                            up: *up,
                            tx_queues: Some(1),
                        }),
                    )
                })
                .collect(),
        }
    }

    fn desired_dev(thread: u32, edit: impl FnOnce(&mut DeviceConfig)) -> DesiredDevice {
        let mut config = DeviceConfig::fresh(&KernelProfile::LINUX_6_1);
        edit(&mut config);
        DesiredDevice {
            thread: ThreadId(thread),
            config,
            pacing: Pacing::Delay,
            shared: None,
        }
    }

    /// A live box holding exactly `desired` (as a converged kernel would show it).
    fn live_of(desired: &DesiredState, profile: &KernelProfile, threads: &[u32]) -> LiveState {
        let mut live = LiveState {
            version: "2.75".into(),
            ..LiveState::default()
        };
        for t in threads {
            live.threads.insert(ThreadId(*t), LiveThread::default());
        }
        for (n, d) in &desired.devices {
            if let Some(t) = live.threads.get_mut(&d.thread) {
                t.stopped.insert(0, n.clone());
            }
            live.devices.insert(
                n.clone(),
                LiveDevice {
                    thread: d.thread,
                    config: Some(d.config_for(profile)),
                    running: false,
                    sofar: 0,
                    errors: 0,
                    started_us: 0,
                    stopped_us: 0,
                    result: "Idle".into(),
                    imix_size_counts: Vec::new(),
                },
            );
        }
        live
    }

    fn three_on_thread_0() -> DesiredState {
        let mut d = DesiredState::default();
        d.devices
            .insert(name("eth0@0"), desired_dev(0, |c| c.count = 5));
        d.devices.insert(
            name("eth0@a"),
            desired_dev(0, |c| {
                c.min_pkt_size = 100;
                c.max_pkt_size = 100;
            }),
        );
        d.devices.insert(
            name("eth1"),
            desired_dev(0, |c| c.dst_min = "198.18.0.1".into()),
        );
        d
    }

    #[test]
    fn converged_box_plans_zero_writes() {
        for profile in [KernelProfile::LINUX_6_1, KernelProfile::LINUX_6_12] {
            let d = three_on_thread_0();
            let live = live_of(&d, &profile, &[0, 1]);
            let p = plan(&d, &live, &env(profile, &[("eth0", true), ("eth1", true)])).unwrap();
            assert!(p.is_empty(), "{p:#?}");
        }
    }

    #[test]
    fn one_changed_parameter_plans_one_write() {
        let d = three_on_thread_0();
        let live = live_of(&d, &KernelProfile::LINUX_6_12, &[0, 1]);
        let mut d2 = d.clone();
        d2.devices.get_mut(&name("eth0@0")).unwrap().config.count = 6;
        let p = plan(
            &d2,
            &live,
            &env(KernelProfile::LINUX_6_12, &[("eth0", true), ("eth1", true)]),
        )
        .unwrap();
        let cmds: Vec<_> = p.writes.iter().map(Write::render).collect();
        assert_eq!(cmds, ["eth0@0 <- count 6"]);
        assert_eq!(p.actions.len(), 1);
        assert_eq!(p.actions[0].action, ActionKind::Change);
    }

    #[test]
    fn removing_one_of_three_flushes_the_thread_and_re_adds_the_others() {
        let d = three_on_thread_0();
        let live = live_of(&d, &KernelProfile::LINUX_6_12, &[0, 1]);
        let mut d2 = d.clone();
        d2.devices.remove(&name("eth1"));
        let p = plan(
            &d2,
            &live,
            &env(KernelProfile::LINUX_6_12, &[("eth0", true), ("eth1", true)]),
        )
        .unwrap();
        let cmds: Vec<_> = p.writes.iter().map(Write::render).collect();
        assert_eq!(
            cmds,
            [
                "kpktgend_0 <- rem_device_all",
                "kpktgend_0 <- add_device eth0@0",
                "eth0@0 <- count 5",
                "kpktgend_0 <- add_device eth0@a",
                "eth0@a <- pkt_size 100",
            ]
        );
        assert_eq!(p.writes[0].wait_gone.len(), 3);
        assert_eq!(p.count(ActionKind::Remove), 1);
        assert_eq!(p.count(ActionKind::Recreate), 2);
    }

    #[test]
    fn a_device_moving_thread_is_removed_from_the_old_one_first() {
        let d = three_on_thread_0();
        let live = live_of(&d, &KernelProfile::LINUX_6_12, &[0, 1]);
        let mut d2 = d.clone();
        d2.devices.get_mut(&name("eth1")).unwrap().thread = ThreadId(1);
        let p = plan(
            &d2,
            &live,
            &env(KernelProfile::LINUX_6_12, &[("eth0", true), ("eth1", true)]),
        )
        .unwrap();
        assert_eq!(p.writes[0].render(), "kpktgend_0 <- rem_device_all");
        assert!(p
            .writes
            .iter()
            .any(|w| w.render() == "kpktgend_1 <- add_device eth1"));
        let moved = p.actions.iter().find(|a| a.device == name("eth1")).unwrap();
        assert_eq!(moved.from_thread, Some(ThreadId(0)));
    }

    #[test]
    fn threads_outside_the_owned_set_are_never_touched() {
        let mut d = three_on_thread_0();
        let live = live_of(&d, &KernelProfile::LINUX_6_12, &[0, 1]);
        d.devices.clear();
        d.threads = Some([ThreadId(1)].into());
        let p = plan(&d, &live, &env(KernelProfile::LINUX_6_12, &[])).unwrap();
        assert!(p.is_empty());
    }

    #[test]
    fn clearing_imix_or_node_recreates_the_device() {
        let mut d = DesiredState::default();
        d.devices.insert(
            name("eth0"),
            desired_dev(0, |c| {
                c.imix_weights = vec![crate::model::ImixEntry {
                    size: 64,
                    weight: 1,
                }]
            }),
        );
        let live = live_of(&d, &KernelProfile::LINUX_6_12, &[0]);
        d.devices
            .get_mut(&name("eth0"))
            .unwrap()
            .config
            .imix_weights
            .clear();
        let p = plan(
            &d,
            &live,
            &env(KernelProfile::LINUX_6_12, &[("eth0", true)]),
        )
        .unwrap();
        assert_eq!(p.actions[0].action, ActionKind::Recreate);
        assert!(p.actions[0]
            .reason
            .as_deref()
            .unwrap()
            .contains("imix_weights"));
    }

    #[test]
    fn writes_follow_the_kernel_order_rules() {
        let mut d = DesiredState::default();
        d.devices.insert(
            name("eth0"),
            DesiredDevice {
                pacing: Pacing::Rate(100),
                ..desired_dev(0, |c| {
                    c.min_pkt_size = 1000;
                    c.max_pkt_size = 1000;
                    c.delay = 80000;
                    c.clone_skb = 10;
                    c.burst = 8;
                })
            },
        );
        let live = live_of(&DesiredState::default(), &KernelProfile::LINUX_6_12, &[0]);
        let p = plan(
            &d,
            &live,
            &env(KernelProfile::LINUX_6_12, &[("eth0", true)]),
        )
        .unwrap();
        let pos = |c: &str| {
            p.writes
                .iter()
                .position(|w| w.command == c)
                .unwrap_or_else(|| panic!("no {c}: {:#?}", p.writes))
        };
        assert!(pos("pkt_size 1000") < pos("rate 100"));
        assert!(pos("add_device eth0") < pos("clone_skb 10"));

        // Back to IPv4 from IPv6: `flag !IPV6` comes last, after the IPv4 addresses.
        let mut v6 = DesiredState::default();
        v6.devices.insert(
            name("eth0"),
            desired_dev(0, |c| {
                c.dst6 = "2001:db8::1".parse().unwrap();
                c.flags.set(crate::model::Flag::IPV6, true);
                c.xmit_mode = XmitMode::QueueXmit;
            }),
        );
        let live = live_of(&v6, &KernelProfile::LINUX_6_12, &[0]);
        let mut v4 = DesiredState::default();
        v4.devices.insert(
            name("eth0"),
            desired_dev(0, |c| c.dst_min = "198.18.0.1".into()),
        );
        let p = plan(
            &v4,
            &live,
            &env(KernelProfile::LINUX_6_12, &[("eth0", true)]),
        )
        .unwrap();
        let cmds: Vec<_> = p.writes.iter().map(|w| w.command.as_str()).collect();
        assert_eq!(cmds.last(), Some(&"flag !IPV6"));
        assert_eq!(cmds[0], "xmit_mode start_xmit");
        // The IPv4 fields were hidden in IPv6 mode, so all four are written.
        assert_eq!(
            cmds.iter()
                .filter(|c| c.starts_with("dst_m") || c.starts_with("src_m"))
                .count(),
            4
        );
    }

    #[test]
    fn missing_or_down_interfaces_are_refused_before_any_write() {
        let mut d = DesiredState::default();
        d.devices.insert(name("eth9"), desired_dev(0, |_| {}));
        let live = live_of(&DesiredState::default(), &KernelProfile::LINUX_6_12, &[0]);
        let e = plan(&d, &live, &env(KernelProfile::LINUX_6_12, &[])).unwrap_err();
        assert!(matches!(e, PlanError::MissingInterface { .. }));
        let e = plan(
            &d,
            &live,
            &env(KernelProfile::LINUX_6_12, &[("eth9", false)]),
        )
        .unwrap_err();
        assert!(matches!(e, PlanError::InterfaceDown { .. }));
        d.devices.get_mut(&name("eth9")).unwrap().thread = ThreadId(7);
        let e = plan(
            &d,
            &live,
            &env(KernelProfile::LINUX_6_12, &[("eth9", true)]),
        )
        .unwrap_err();
        assert!(e.to_string().contains("thread 7 does not exist"), "{e}");
    }

    #[test]
    fn unavailable_interfaces_can_be_skipped_for_watch() {
        let mut d = DesiredState::default();
        d.devices.insert(name("eth9"), desired_dev(0, |_| {}));
        d.devices
            .insert(name("eth0"), desired_dev(0, |c| c.count = 3));
        let live = live_of(&DesiredState::default(), &KernelProfile::LINUX_6_12, &[0]);
        let mut e = env(
            KernelProfile::LINUX_6_12,
            &[("eth0", true), ("eth9", false)],
        );
        e.skip_unavailable = true;
        let p = plan(&d, &live, &e).unwrap();
        assert_eq!(p.skipped.len(), 1);
        assert_eq!(p.skipped[0].0, name("eth9"));
        assert!(p
            .writes
            .iter()
            .all(|w| w.device.as_ref() != Some(&name("eth9"))));
        assert!(p.writes.iter().any(|w| w.command == "add_device eth0"));
    }

    #[test]
    fn devices_pgstate_cannot_address_are_flushed_from_owned_threads_only() {
        let d = DesiredState::default();
        let mut live = live_of(&d, &KernelProfile::LINUX_6_12, &[0, 1]);
        for t in [0, 1] {
            live.threads.get_mut(&ThreadId(t)).unwrap().unmanageable = vec!["\u{e9}th0".into()];
        }
        let owned = DesiredState {
            threads: Some([ThreadId(1)].into()),
            ..d
        };
        let p = plan(&owned, &live, &env(KernelProfile::LINUX_6_12, &[])).unwrap();
        let cmds: Vec<_> = p.writes.iter().map(Write::render).collect();
        assert_eq!(cmds, ["kpktgend_1 <- rem_device_all"]);
    }
}
