//! Whole-box states: what the state files ask for ([`DesiredState`]) and what the kernel
//! shows ([`LiveState`]).

use std::collections::{BTreeMap, BTreeSet};

use super::{DeviceConfig, DeviceName, Flag, Pacing, ThreadId};
use crate::kernel::{Feature, KernelProfile};

/// One device of the desired state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredDevice {
    /// The thread (CPU) that must own it.
    pub thread: ThreadId,
    /// Its configuration, with every field the state left out at the kernel default.
    pub config: DeviceConfig,
    /// Whether `delay` came from `rate`, `ratep` or `delay` (only changes the command).
    pub pacing: Pacing,
    /// `SHARED` listed (`Some(true)`), listed as `!SHARED` (`Some(false)`), or left to the
    /// kernel's default (`None`: on from 6.7). `config.flags` never holds SHARED itself.
    pub shared: Option<bool>,
}

impl DesiredDevice {
    /// The configuration this device must have on a kernel with `profile`.
    pub fn config_for(&self, profile: &KernelProfile) -> DeviceConfig {
        let mut c = self.config.clone();
        let shared = self.shared.unwrap_or(profile.has_shared_flag());
        c.flags.set(Flag::SHARED, shared);
        c
    }

    /// What this device asks of the kernel beyond what every supported kernel has, each
    /// with the state-file key that asks for it. `plan` refuses the device on a kernel that
    /// lacks one; offline validation names the supported kernels that lack one.
    pub fn kernel_needs(&self) -> Vec<KernelNeed> {
        let mut needs = Vec::new();
        let mut need = |key, feature| needs.push(KernelNeed { key, feature });
        if !self.config.imix_weights.is_empty() {
            need("imix_weights", Feature::Imix);
        }
        if self.shared == Some(true) {
            need("flags", Feature::SharedFlag);
        }
        if self.config.mpls.len() > KernelProfile::MPLS_LABELS_BEFORE_6_15 {
            need("mpls", Feature::SixteenMplsLabels);
        }
        if self.config.mpls.contains(&0) {
            need("mpls", Feature::ZeroMplsLabel);
        }
        needs
    }
}

/// A [`Feature`] a desired device needs, and the key that asks for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelNeed {
    /// The state-file key.
    pub key: &'static str,
    /// What it needs.
    pub feature: Feature,
}

/// What the state files ask for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DesiredState {
    /// `threads:`: the threads pgstate owns. `None` = all of them.
    pub threads: Option<BTreeSet<ThreadId>>,
    /// Devices by name.
    pub devices: BTreeMap<DeviceName, DesiredDevice>,
}

impl DesiredState {
    /// Whether pgstate manages `thread` under this state.
    pub fn owns(&self, thread: ThreadId) -> bool {
        self.threads.as_ref().is_none_or(|t| t.contains(&thread))
    }
}

/// One `kpktgend_N` file, parsed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LiveThread {
    /// `Running:` list, newest first.
    pub running: Vec<DeviceName>,
    /// `Stopped:` list, newest first.
    pub stopped: Vec<DeviceName>,
    /// The thread's `Result:` text.
    pub result: String,
    /// Listed devices whose names pgstate cannot address (see
    /// `procfs::parse::ThreadFile::unmanageable`).
    pub unmanageable: Vec<String>,
}

impl LiveThread {
    /// All devices of the thread, running first.
    pub fn devices(&self) -> impl Iterator<Item = &DeviceName> {
        self.running.iter().chain(&self.stopped)
    }
}

/// One device as the kernel shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveDevice {
    /// The thread whose list names it.
    pub thread: ThreadId,
    /// The configuration read back, normalised. `None` when the device is listed by its
    /// thread but has no readable proc file (renamed interface, REFERENCE §5.5).
    pub config: Option<DeviceConfig>,
    /// In the thread's `Running:` list.
    pub running: bool,
    /// `pkts-sofar`.
    pub sofar: u64,
    /// `errors`.
    pub errors: u64,
    /// `started:`, µs of the monotonic clock (`ktime_get()`, which every namespace shares);
    /// 0 before the first run (REFERENCE §3.3 L23).
    pub started_us: u64,
    /// `stopped:`, µs; "now" while the stream runs.
    pub stopped_us: u64,
    /// The device's `Result:` text (may span lines).
    pub result: String,
    /// `imix_size_counts` as (size, packets so far); empty without imix.
    pub imix_size_counts: Vec<(u64, u64)>,
}

/// The whole pktgen state of one network namespace.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LiveState {
    /// The `pgctrl` version line.
    pub version: String,
    /// Threads by id.
    pub threads: BTreeMap<ThreadId, LiveThread>,
    /// Devices by name.
    pub devices: BTreeMap<DeviceName, LiveDevice>,
    /// Entries of the directory that are neither pgctrl, a thread nor a listed device
    /// (for example the file of a renamed interface).
    pub stray_files: Vec<String>,
}

impl LiveState {
    /// Whether any device is currently sending.
    pub fn any_running(&self) -> bool {
        self.devices.values().any(|d| d.running)
    }
}
