//! Simulated boxes and the states the tests apply to them: one place for the set-up that
//! faults, reconcile, reads, run, watch, fuzz, properties and write_bounds share.

use std::collections::BTreeMap;
use std::path::Path;

use pgstate::model::{DeviceConfig, LiveState, MacAddr};
use pgstate::procfs::observe::read_live_state;
use pgstate::procfs::{Procfs, SimProcfs};
use pgstate::state_file::load_texts;
use pgstate::{DesiredState, KernelProfile};

/// The two kernels the transcripts were recorded on.
pub const PROFILES: [KernelProfile; 2] = [KernelProfile::LINUX_6_1, KernelProfile::LINUX_6_12];

/// The MAC address of the `n`-th interface of a test box: `02:00:00:00:00:1n`.
pub fn mac(n: usize) -> MacAddr {
    MacAddr([
        2,
        0,
        0,
        0,
        0,
        0x10 + u8::try_from(n).expect("a few interfaces"),
    ])
}

/// pktgen loaded on CPUs 0 and 1, and the interfaces `names`, up, with [`mac`] addresses.
pub fn lab_with(profile: KernelProfile, names: &[&str]) -> SimProcfs {
    lab_on(profile, &[0, 1], names, &[])
}

/// pktgen loaded on `cpus`, the interfaces `up` and then `down`, numbered in that order for
/// their [`mac`] addresses.
pub fn lab_on(profile: KernelProfile, cpus: &[u32], up: &[&str], down: &[&str]) -> SimProcfs {
    let sim = SimProcfs::new(profile, cpus);
    let interfaces = up
        .iter()
        .map(|n| (n, true))
        .chain(down.iter().map(|n| (n, false)));
    for (i, (name, is_up)) in interfaces.enumerate() {
        sim.add_interface(name, mac(i), is_up);
    }
    sim
}

/// The lab guest's interfaces (tests/kernel/guest-init.sh).
pub const GUEST_INTERFACES: [&str; 9] =
    ["eth0", "eth1", "eth2", "d0", "d1", "d2", "d3", "va", "vb"];

/// The usual box: CPUs 0 and 1, interfaces `eth0`, `eth1` and `eth2`.
pub fn lab(profile: KernelProfile) -> SimProcfs {
    lab_with(profile, &["eth0", "eth1", "eth2"])
}

/// A state given as text; it must load.
pub fn load(text: &str) -> DesiredState {
    load_texts(&[(Path::new("test.yaml"), text)])
        .unwrap_or_else(|e| panic!("{e}\n{text}"))
        .desired
}

/// With [`AFTER`], a plan with every kind of step: a thread flush with re-adds, a move of
/// eth1 to thread 1, an add, in-place changes, flags, an address, VLAN off, burst and
/// clone_skb.
pub const BEFORE: &str = "devices:\n  eth0@0: {thread: 0, count: 5, pkt_size: 100}\n  eth1@0: {thread: 0, count: 6, vlan_id: 3}\n  eth2: {thread: 1, count: 7}\n";
/// See [`BEFORE`].
pub const AFTER: &str = "devices:\n  eth0@0: {thread: 0, count: 50, pkt_size: 200, flags: [UDPCSUM]}\n  eth2: {thread: 1, count: 70, dst: 198.18.0.1}\n  eth1@1: {thread: 1, burst: 4, clone_skb: 3}\n";

/// The configuration of a box: thread and configuration, by device.
pub type Configs = BTreeMap<String, (u32, Option<DeviceConfig>)>;

/// The configuration part of `live`.
pub fn configs(live: &LiveState) -> Configs {
    live.devices
        .iter()
        .map(|(n, d)| (n.to_string(), (d.thread.0, d.config.clone())))
        .collect()
}

/// The configuration of the box as it is now.
pub fn live_configs(procfs: &dyn Procfs) -> Configs {
    configs(&read_live_state(procfs).unwrap())
}

/// The writes the simulator saw from the `n`-th on, as `file <- command`.
pub fn writes_from(sim: &SimProcfs, n: usize) -> Vec<String> {
    sim.write_log()[n..]
        .iter()
        .map(|(f, c)| format!("{f} <- {c}"))
        .collect()
}
