//! `pktgen_if_write` (REFERENCE §2.3): one command to a device file, with both error
//! channels (the errno of the write and the `Result:` text), `pktgen_read_flag`, and the
//! helpers the commands share (`fill_imix_distribution`, `pktgen_clear_counters`,
//! `set_pkt_overhead`).

use std::net::Ipv6Addr;
use std::str::FromStr;

use super::parse::{get_labels, in_aton, lossy, mac_pton, parse_imix, Input};
use super::show::fmt_in6;
use super::state::{
    hardened_parser, Device, WriteRet, XmitMode, EINVAL, FLAG_NAMES, F_FLOW_SEQ, F_IPV6, F_SHARED,
    IMIX_PRECISION, MAX_CFLOWS, MIN_PKT_SIZE, OLD_FLAG_LIST,
};
use crate::kernel::KernelProfile;
use crate::model::MacAddr;

/// Formats an `int` field the way a Result text does: `%u` before 6.15, `%d` since.
fn int_text(value: i32, hardened: bool) -> String {
    if hardened {
        value.to_string()
    } else {
        (value as u32).to_string()
    }
}

/// `pktgen_if_write` (REFERENCE §2.3): one command, both error channels.
#[allow(clippy::too_many_lines)] // one arm per command, in the kernel's order
pub(super) fn device_write(
    dev: &mut Device,
    profile: KernelProfile,
    debug: &mut i32,
    buf: &[u8],
) -> WriteRet {
    let count = buf.len();
    if count == 0 {
        return Err(EINVAL);
    }
    let hardened = hardened_parser(profile);
    let input = Input { buf, hardened };
    let mut i = input.count_trail_chars(0);
    let len = input.strn_len(i, 15);
    let name = lossy(&input.cstr(i, len));
    i += len;
    i += input.count_trail_chars(i);
    let num = |digits: usize| input.num_arg(i, digits);
    let enotsupp = profile.enotsupp_errno();

    match name.as_str() {
        "min_pkt_size" | "max_pkt_size" | "pkt_size" => {
            let value = num(10).1.max(MIN_PKT_SIZE);
            let text = match name.as_str() {
                "min_pkt_size" => {
                    if value != i64::from(dev.min_pkt_size) as u64 {
                        dev.min_pkt_size = value as i32;
                        dev.cur_pkt_size = value as u32;
                    }
                    dev.min_pkt_size
                }
                "max_pkt_size" => {
                    if value != i64::from(dev.max_pkt_size) as u64 {
                        dev.max_pkt_size = value as i32;
                        dev.cur_pkt_size = value as u32;
                    }
                    dev.max_pkt_size
                }
                _ => {
                    // Only when N differs from min: min=60, max=1500, `pkt_size 60` keeps max.
                    if value != i64::from(dev.min_pkt_size) as u64 {
                        dev.min_pkt_size = value as i32;
                        dev.max_pkt_size = value as i32;
                        dev.cur_pkt_size = value as u32;
                    }
                    dev.min_pkt_size
                }
            };
            dev.result = format!("OK: {name}={}", int_text(text, hardened));
            Ok(count)
        }
        "imix_weights" if profile.has_imix() => {
            if dev.clone_skb > 0 {
                return Err(EINVAL);
            }
            // No Result on success (REFERENCE §2.3).
            parse_imix(dev, &input, i, hardened)?;
            fill_imix_distribution(dev);
            Ok(count)
        }
        "debug" => {
            *debug = num(10).1 as i32;
            dev.result = format!("OK: debug={}", *debug as u32);
            Ok(count)
        }
        "frags" => {
            dev.nfrags = num(10).1 as i32;
            dev.result = format!("OK: frags={}", int_text(dev.nfrags, hardened));
            Ok(count)
        }
        "delay" => {
            let value = num(10).1;
            // 0x7FFFFFFF means "never transmit" and is stored as ULLONG_MAX.
            dev.delay = if value == 0x7FFF_FFFF {
                u64::MAX
            } else {
                value
            };
            dev.result = format!("OK: delay={}", dev.delay);
            Ok(count)
        }
        "rate" | "ratep" => {
            let (len, value) = num(10);
            if value == 0 {
                // Before 6.15 this returned the digits read: a short write (REFERENCE §4).
                return if hardened { Err(EINVAL) } else { Ok(len) };
            }
            dev.delay = if name == "rate" {
                // min_pkt_size*8*NSEC_PER_USEC/value, with the min at the time of the write.
                (i64::from(dev.min_pkt_size.wrapping_mul(8)) * 1000) as u64 / value
            } else {
                1_000_000_000 / value
            };
            dev.result = format!("OK: rate={value}");
            Ok(count)
        }
        "udp_src_min" | "udp_dst_min" | "udp_src_max" | "udp_dst_max" => {
            let value = num(10).1;
            let (field, cur) = match name.as_str() {
                "udp_src_min" => (&mut dev.udp_src_min, &mut dev.cur_udp_src),
                "udp_dst_min" => (&mut dev.udp_dst_min, &mut dev.cur_udp_dst),
                "udp_src_max" => (&mut dev.udp_src_max, &mut dev.cur_udp_src),
                _ => (&mut dev.udp_dst_max, &mut dev.cur_udp_dst),
            };
            if value != u64::from(*field) {
                *field = value as u16;
                *cur = value as u16;
            }
            dev.result = format!("OK: {name}={}", *field);
            Ok(count)
        }
        "clone_skb" => {
            let value = num(10).1;
            if value > 0 && (dev.xmit_mode == XmitMode::NetifReceive || !dev.tx_skb_sharing) {
                return Err(enotsupp);
            }
            // imix (5.15+) and, on 6.7+, a cleared SHARED flag forbid clones.
            let unshared = profile.has_shared_flag() && dev.flags & F_SHARED == 0;
            if value > 0 && (!dev.imix.is_empty() || unshared) {
                return Err(EINVAL);
            }
            dev.clone_skb = value as i32;
            dev.result = format!("OK: clone_skb={}", dev.clone_skb);
            Ok(count)
        }
        "count" => {
            dev.count = num(10).1;
            dev.result = format!("OK: count={}", dev.count);
            Ok(count)
        }
        "src_mac_count" | "dst_mac_count" => {
            let value = num(10).1;
            let (field, offset) = if name == "src_mac_count" {
                (&mut dev.src_mac_count, &mut dev.cur_src_mac_offset)
            } else {
                (&mut dev.dst_mac_count, &mut dev.cur_dst_mac_offset)
            };
            if u64::from(*field) != value {
                *field = value as u32;
                *offset = 0;
            }
            dev.result = format!("OK: {name}={}", *field as i32);
            Ok(count)
        }
        "burst" => {
            let value = num(10).1;
            if value > 1
                && (dev.xmit_mode == XmitMode::QueueXmit
                    || (dev.xmit_mode == XmitMode::StartXmit && !dev.tx_skb_sharing))
            {
                return Err(enotsupp);
            }
            if value > 1 && profile.has_shared_flag() && dev.flags & F_SHARED == 0 {
                return Err(EINVAL);
            }
            dev.burst = value.max(1) as u32;
            dev.result = if hardened {
                format!("OK: burst={}", dev.burst)
            } else {
                format!("OK: burst={}", dev.burst as i32)
            };
            Ok(count)
        }
        "node" => {
            let value = num(10).1;
            // node_possible(): the simulated machine has one NUMA node, node 0.
            if value as i32 == 0 {
                dev.node = value as i32;
                dev.result = format!("OK: node={}", dev.node);
            } else {
                "ERROR: node not possible".clone_into(&mut dev.result);
            }
            Ok(count)
        }
        "xmit_mode" => {
            let mode = lossy(&input.string(i, 31));
            match mode.as_str() {
                "start_xmit" => dev.xmit_mode = XmitMode::StartXmit,
                "netif_receive" => {
                    if dev.clone_skb > 0 {
                        return Err(enotsupp);
                    }
                    dev.xmit_mode = XmitMode::NetifReceive;
                    if !hardened {
                        dev.clone_skb = 0;
                    }
                }
                "queue_xmit" => dev.xmit_mode = XmitMode::QueueXmit,
                _ => {
                    dev.result = format!(
                        "xmit_mode -:{mode}:- unknown\nAvailable modes: start_xmit, netif_receive\n"
                    );
                    return Ok(count);
                }
            }
            dev.result = format!("OK: xmit_mode={mode}");
            Ok(count)
        }
        "flag" => {
            let f = lossy(&input.string(i, 31));
            flag_write(dev, profile, &f)?;
            Ok(count)
        }
        "dst_min" | "dst" | "dst_max" | "src_min" | "src_max" => {
            let value = lossy(&input.string(i, 31));
            let (text, addr, cur, label) = match name.as_str() {
                "dst_min" | "dst" => (
                    &mut dev.dst_min,
                    &mut dev.daddr_min,
                    &mut dev.cur_daddr,
                    "dst_min",
                ),
                "dst_max" => (
                    &mut dev.dst_max,
                    &mut dev.daddr_max,
                    &mut dev.cur_daddr,
                    "dst_max",
                ),
                "src_min" => (
                    &mut dev.src_min,
                    &mut dev.saddr_min,
                    &mut dev.cur_saddr,
                    "src_min",
                ),
                _ => (
                    &mut dev.src_max,
                    &mut dev.saddr_max,
                    &mut dev.cur_saddr,
                    "src_max",
                ),
            };
            // Kept exactly as written; in_aton() is lenient (REFERENCE §2.3).
            if *text != value {
                *addr = in_aton(value.as_bytes());
                *cur = *addr;
                *text = value;
            }
            dev.result = format!("OK: {label}={text}");
            Ok(count)
        }
        "dst6" | "dst6_min" | "dst6_max" | "src6" => {
            let value = lossy(&input.string(i, 127));
            // Writing any IPv6 address switches the stream to IPv6 mode.
            dev.flags |= F_IPV6;
            let (stored, cur) = match name.as_str() {
                "dst6" => (&mut dev.in6_daddr, Some(&mut dev.cur_in6_daddr)),
                "dst6_min" => (&mut dev.min_in6_daddr, Some(&mut dev.cur_in6_daddr)),
                "dst6_max" => (&mut dev.max_in6_daddr, None),
                _ => (&mut dev.in6_saddr, Some(&mut dev.cur_in6_saddr)),
            };
            // in6_pton leaves the address untouched when it fails; the write still succeeds.
            if let Ok(addr) = Ipv6Addr::from_str(&value) {
                *stored = addr.octets();
            }
            if let Some(cur) = cur {
                *cur = *stored;
            }
            dev.result = format!("OK: {name}={}", fmt_in6(stored));
            Ok(count)
        }
        "dst_mac" | "src_mac" => {
            let value = input.string(i, 31);
            let Some(mac) = mac_pton(&value) else {
                return Err(EINVAL);
            };
            let (field, label) = if name == "dst_mac" {
                (&mut dev.dst_mac, "dstmac")
            } else {
                (&mut dev.src_mac, "srcmac")
            };
            *field = mac;
            dev.result = format!("OK: {label} {}", MacAddr(mac));
            Ok(count)
        }
        "clear_counters" => {
            clear_counters(dev);
            "OK: Clearing counters.\n".clone_into(&mut dev.result);
            Ok(count)
        }
        "flows" => {
            dev.cflows = num(10).1.min(MAX_CFLOWS) as u32;
            dev.result = format!("OK: flows={}", dev.cflows);
            Ok(count)
        }
        // CONFIG_XFRM is assumed (Debian kernels have it).
        "spi" => {
            dev.spi = num(10).1 as u32;
            dev.result = format!("OK: spi={}", dev.spi);
            Ok(count)
        }
        "flowlen" => {
            dev.lflow = num(10).1 as u32;
            dev.result = format!("OK: flowlen={}", dev.lflow);
            Ok(count)
        }
        "queue_map_min" | "queue_map_max" => {
            let value = num(5).1 as u16;
            if name == "queue_map_min" {
                dev.queue_map_min = value;
            } else {
                dev.queue_map_max = value;
            }
            dev.result = format!("OK: {name}={value}");
            Ok(count)
        }
        "mpls" => {
            get_labels(dev, &input, i, profile)?;
            let labels: Vec<String> = dev.labels.iter().map(|l| format!("{l:08x}")).collect();
            dev.result = format!("OK: mpls={}", labels.join(","));
            // A label stack turns VLAN and SVLAN off.
            if !dev.labels.is_empty() && dev.vlan_id != 0xffff {
                dev.vlan_id = 0xffff;
                dev.svlan_id = 0xffff;
            }
            Ok(count)
        }
        "vlan_id" => {
            let value = num(4).1;
            if value <= 4095 {
                dev.vlan_id = value as u16;
                dev.labels.clear();
                dev.result = format!("OK: vlan_id={}", dev.vlan_id);
            } else {
                // Both tags off, and the Result is left as it was (REFERENCE §4).
                dev.vlan_id = 0xffff;
                dev.svlan_id = 0xffff;
            }
            Ok(count)
        }
        "svlan_id" => {
            let value = num(4).1;
            if value <= 4095 && dev.vlan_id != 0xffff {
                dev.svlan_id = value as u16;
                dev.labels.clear();
                dev.result = format!("OK: svlan_id={}", dev.svlan_id);
            } else {
                dev.vlan_id = 0xffff;
                dev.svlan_id = 0xffff;
            }
            Ok(count)
        }
        "vlan_p" | "vlan_cfi" | "svlan_p" | "svlan_cfi" => {
            let value = num(1).1;
            let (limit, on, field) = match name.as_str() {
                "vlan_p" => (7, dev.vlan_id != 0xffff, &mut dev.vlan_p),
                "vlan_cfi" => (1, dev.vlan_id != 0xffff, &mut dev.vlan_cfi),
                "svlan_p" => (7, dev.svlan_id != 0xffff, &mut dev.svlan_p),
                _ => (1, dev.svlan_id != 0xffff, &mut dev.svlan_cfi),
            };
            // A refusal shows only in the Result; the write succeeds (REFERENCE §4).
            if value <= limit && on {
                *field = value as u8;
                dev.result = format!("OK: {name}={value}");
            } else {
                dev.result = format!("ERROR: {name} must be 0-{limit}");
            }
            Ok(count)
        }
        "tos" | "traffic_class" => {
            let (len, value) = input.hex32_arg(i, 2);
            if len == 2 {
                let field = if name == "tos" {
                    &mut dev.tos
                } else {
                    &mut dev.traffic_class
                };
                *field = value as u8;
                dev.result = format!("OK: {name}=0x{:02x}", *field);
            } else {
                dev.result = format!("ERROR: {name} must be 00-ff");
            }
            Ok(count)
        }
        "skb_priority" => {
            dev.skb_priority = num(9).1 as u32;
            dev.result = format!("OK: skb_priority={}", dev.skb_priority as i32);
            Ok(count)
        }
        _ => {
            dev.result = format!("No such parameter \"{name}\"");
            Err(EINVAL)
        }
    }
}

/// `flag NAME` / `flag !NAME` (`pktgen_read_flag`, REFERENCE §2.4).
fn flag_write(dev: &mut Device, profile: KernelProfile, f: &str) -> Result<(), i32> {
    let with_shared = profile.has_shared_flag();
    let flag_count = if with_shared {
        FLAG_NAMES.len()
    } else {
        FLAG_NAMES.len() - 1
    };
    let (mut disable, bare) = match f.strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, f),
    };
    let mut flag = FLAG_NAMES[..flag_count]
        .iter()
        .enumerate()
        // IPV6 can only be cleared: `flag IPV6` is an unknown flag.
        .find(|&(index, &n)| n == bare && (disable || index != 0))
        .map(|(index, _)| 1u32 << index);
    if flag.is_none() && bare == "FLOW_RND" {
        disable = !disable;
        flag = Some(F_FLOW_SEQ);
    }
    let Some(flag) = flag else {
        // Unknown: the write succeeds, the Result lists the flags (6.7+ generated list).
        let list = if with_shared {
            FLAG_NAMES[..flag_count].join(", ")
        } else {
            OLD_FLAG_LIST.to_owned()
        };
        dev.result =
            format!("Flag -:{f}:- unknown\nAvailable flags, (prepend ! to un-set flag):\n{list}");
        return Ok(());
    };
    if disable {
        // The skb must stay shared while it is cloned or bursted (6.7+).
        if with_shared && flag == F_SHARED && (dev.clone_skb != 0 || dev.burst > 1) {
            return Err(EINVAL);
        }
        dev.flags &= !flag;
    } else {
        dev.flags |= flag;
    }
    dev.result = format!("OK: flags=0x{:x}", dev.flags);
    Ok(())
}

/// `fill_imix_distribution`: 100 buckets, each naming an entry, by cumulative weight.
fn fill_imix_distribution(dev: &mut Device) {
    let n = dev.imix.len();
    if n == 0 {
        return;
    }
    let total: u64 = dev.imix.iter().map(|e| e.weight).sum();
    let mut cumulative = vec![0u64; n];
    let mut sum = 0u64;
    for (slot, entry) in cumulative.iter_mut().zip(&dev.imix).take(n - 1) {
        sum += entry.weight * IMIX_PRECISION as u64 / total.max(1);
        *slot = sum;
    }
    cumulative[n - 1] = IMIX_PRECISION as u64;
    let mut j = 0usize;
    for (bucket, value) in dev.imix_distribution.iter_mut().enumerate() {
        if bucket as u64 == cumulative[j] {
            j += 1;
        }
        *value = j as u8;
    }
}

/// `pktgen_clear_counters`.
pub(super) fn clear_counters(dev: &mut Device) {
    dev.seq_num = 1;
    dev.idle_acc = 0;
    dev.sofar = 0;
    dev.tx_bytes = 0;
    dev.errors = 0;
}

/// `set_pkt_overhead`: MPLS labels and VLAN tags.
pub(super) fn pkt_overhead(dev: &Device) -> i32 {
    let tags = i32::from(dev.vlan_id != 0xffff) + i32::from(dev.svlan_id != 0xffff);
    (dev.labels.len() as i32 + tags) * 4
}
