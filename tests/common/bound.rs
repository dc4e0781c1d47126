//! The fewest writes the kernel needs to take the box from one state to another, computed
//! from the two states alone and the kernel's command semantics (REFERENCE §2.2–§2.6),
//! without the planner. Tests and the lab benchmark hold pgstate's write count against it.
//!
//! The rules, each a fact about pktgen's commands:
//! - a device that leaves a thread, or must lose a setting that no command resets (imix
//!   weights, node, packet sizes back to unset), costs its thread one `rem_device_all`;
//!   every device on a flushed thread, and every new device, costs one `add_device` and is
//!   configured from the kernel's defaults;
//! - one command per scalar setting that differs;
//! - one packet size is one write (`pkt_size`, or `max_pkt_size` when min already matches);
//!   a range is one write per bound that differs;
//! - a label stack turns VLAN and SVLAN off and a VLAN id clears the label stack, so moving
//!   from one to the other costs only the new tag; clearing either alone is one write;
//!   dropping only the SVLAN turns both off, so the VLAN id is written again;
//! - settings the kernel hides (the other address family, VLAN priority/CFI while the tag is
//!   off, spi without IPSEC, FLOW_SEQ without flows) cannot be known on a live device and
//!   cost a write whenever they matter; on a fresh device they are the defaults;
//! - leaving IPv6 is one `flag !IPV6`; entering it is implied by the first IPv6 address;
//! - a bottom-of-stack MPLS label turns MPLS_RND on by itself.

#![allow(dead_code)]

use std::collections::BTreeSet;

use pgstate::model::{DeviceConfig, Flag, Vlan};
use pgstate::{DesiredState, KernelProfile};

/// The fewest writes from `from` (as applied) to `to` on a kernel with `profile`.
pub fn min_writes(from: &DesiredState, to: &DesiredState, profile: &KernelProfile) -> usize {
    let mut flushed = BTreeSet::new();
    for (name, a) in &from.devices {
        if !to.owns(a.thread) {
            continue;
        }
        let leaves = match to.devices.get(name) {
            None => true,
            Some(b) => {
                b.thread != a.thread || needs_readd(&a.config_for(profile), &b.config_for(profile))
            }
        };
        if leaves {
            flushed.insert(a.thread);
        }
    }
    let mut n = flushed.len();
    for (name, b) in &to.devices {
        let want = b.config_for(profile);
        match from.devices.get(name) {
            Some(a) if a.thread == b.thread && !flushed.contains(&a.thread) => {
                n += device_writes(Some(&a.config_for(profile)), &want, profile);
            }
            _ => n += 1 + device_writes(None, &want, profile),
        }
    }
    n
}

fn needs_readd(a: &DeviceConfig, b: &DeviceConfig) -> bool {
    (!a.imix_weights.is_empty() && b.imix_weights.is_empty())
        || (a.node.is_some() && b.node.is_none())
        || (a.min_pkt_size != 0 && b.min_pkt_size == 0)
}

/// Writes for one device from `from` (`None`: just added) to `to`.
pub fn device_writes(
    from: Option<&DeviceConfig>,
    to: &DeviceConfig,
    profile: &KernelProfile,
) -> usize {
    let fresh = from.is_none();
    let default = DeviceConfig::fresh(profile);
    let a = from.unwrap_or(&default);
    scalar_writes(a, to)
        + size_writes(a, to)
        + address_writes(a, to, fresh)
        + spi_writes(a, to, fresh)
        + tag_writes(a, to, fresh)
        + flag_writes(a, to, fresh)
}

/// One write for each plain parameter that differs.
fn scalar_writes(a: &DeviceConfig, b: &DeviceConfig) -> usize {
    let diff = |x: bool| usize::from(x);
    diff(a.count != b.count)
        + diff(a.frags != b.frags)
        + diff(a.delay != b.delay)
        + diff(a.clone_skb != b.clone_skb)
        + diff(a.burst != b.burst)
        + diff(a.xmit_mode != b.xmit_mode)
        + diff(a.dst_mac != b.dst_mac)
        + diff(a.src_mac != b.src_mac)
        + diff(a.src_mac_count != b.src_mac_count)
        + diff(a.dst_mac_count != b.dst_mac_count)
        + diff(a.udp_src_min != b.udp_src_min)
        + diff(a.udp_src_max != b.udp_src_max)
        + diff(a.udp_dst_min != b.udp_dst_min)
        + diff(a.udp_dst_max != b.udp_dst_max)
        + diff(a.queue_map_min != b.queue_map_min)
        + diff(a.queue_map_max != b.queue_map_max)
        + diff(a.flows != b.flows)
        + diff(a.flowlen != b.flowlen)
        + diff(a.tos != b.tos)
        + diff(a.traffic_class != b.traffic_class)
        + diff(a.skb_priority != b.skb_priority)
        + diff(b.node.is_some() && a.node != b.node)
        + diff(!b.imix_weights.is_empty() && a.imix_weights != b.imix_weights)
}

/// Packet sizes: one write for one size, one per bound that differs for a range.
fn size_writes(a: &DeviceConfig, b: &DeviceConfig) -> usize {
    let diff = |x: bool| usize::from(x);
    let (a_lo, a_hi, b_lo, b_hi) = (
        a.min_pkt_size,
        a.max_pkt_size,
        b.min_pkt_size,
        b.max_pkt_size,
    );
    if b_lo == 0 && b_hi == 0 {
        0
    } else if b_lo == b_hi {
        diff((a_lo, a_hi) != (b_lo, b_hi))
    } else {
        diff(a_lo != b_lo) + diff(a_hi != b_hi)
    }
}

/// Addresses: the family not in use is hidden on a live device.
fn address_writes(a: &DeviceConfig, b: &DeviceConfig, fresh: bool) -> usize {
    let (a6, b6) = (a.ipv6(), b.ipv6());
    if b6 {
        let known = fresh || a6;
        let fields = [
            (a.dst6, b.dst6),
            (a.dst6_min, b.dst6_min),
            (a.dst6_max, b.dst6_max),
            (a.src6, b.src6),
        ];
        let written = fields.iter().filter(|(x, y)| !known || x != y).count();
        // One IPv6 address is written anyway to enter IPv6 mode.
        if !a6 {
            written.max(1)
        } else {
            written
        }
    } else {
        let known = fresh || !a6;
        let fields = [
            (&a.dst_min, &b.dst_min),
            (&a.dst_max, &b.dst_max),
            (&a.src_min, &b.src_min),
            (&a.src_max, &b.src_max),
        ];
        fields.iter().filter(|(x, y)| !known || x != y).count() + usize::from(a6)
    }
}

/// spi is shown only with IPSEC.
fn spi_writes(a: &DeviceConfig, b: &DeviceConfig, fresh: bool) -> usize {
    if !b.flags.contains(Flag::IPSEC) {
        return 0;
    }
    let known = fresh || a.flags.contains(Flag::IPSEC);
    usize::from(!known || a.spi != b.spi)
}

/// Flags, after what the MPLS write turned on by itself.
fn flag_writes(a: &DeviceConfig, b: &DeviceConfig, fresh: bool) -> usize {
    let diff = |x: bool| usize::from(x);
    let mut have = a.flags;
    if a.mpls != b.mpls && b.mpls.iter().any(|l| l & 0x100 != 0) {
        have.set(Flag::MPLS_RND, true);
    }
    let mut n = 0;
    for flag in Flag::ALL.iter().copied() {
        match flag {
            Flag::IPV6 => {}
            Flag::FLOW_SEQ => {
                if b.flows > 0 {
                    let known = fresh || a.flows > 0;
                    n += diff(!known || have.contains(flag) != b.flags.contains(flag));
                }
            }
            _ => n += diff(have.contains(flag) != b.flags.contains(flag)),
        }
    }
    n
}

/// MPLS and VLAN tags (see the module documentation).
fn tag_writes(a: &DeviceConfig, b: &DeviceConfig, fresh: bool) -> usize {
    let diff = |x: bool| usize::from(x);
    let mut n = 0;
    if a.mpls != b.mpls && !(b.mpls.is_empty() && b.vlan.is_some()) {
        n += 1;
    }
    let Some(v) = b.vlan else {
        // Off: one write, unless the label stack write just turned it off.
        return n + diff(a.vlan.is_some() && b.mpls.is_empty());
    };
    // Priority and CFI survive their tag being turned off; hidden while it is off.
    let hidden = |t: Option<Vlan>| t.or(fresh.then(Vlan::default));
    let svlan_dropped = a.svlan.is_some() && b.svlan.is_none();
    n += diff(svlan_dropped);
    n += diff(a.vlan.map(|x| x.id) != Some(v.id) || !a.mpls.is_empty() || svlan_dropped);
    let before = hidden(a.vlan);
    n += diff(before.map(|x| x.p) != Some(v.p)) + diff(before.map(|x| x.cfi) != Some(v.cfi));
    if let Some(s) = b.svlan {
        let before = hidden(a.svlan);
        n += diff(a.svlan.map(|x| x.id) != Some(s.id));
        n += diff(before.map(|x| x.p) != Some(s.p)) + diff(before.map(|x| x.cfi) != Some(s.cfi));
    }
    n
}
