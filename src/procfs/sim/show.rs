//! What reads of the simulated files show, byte for byte: `pktgen_if_show` (REFERENCE §3.3)
//! for device files, `pktgen_thread_show` for `kpktgend_N`, and the kernel's `%pI4`/`%pI6c`
//! address formats.

use std::fmt::Write as _;

use super::state::{Device, State, XmitMode, FLAG_NAMES, FLOW_SEQ_SHIFT, F_IPV6, IPSEC_SHIFT};
use crate::kernel::KernelProfile;
use crate::model::MacAddr;

impl State {
    pub(super) fn render_thread(&self, ti: usize) -> String {
        let thread = &self.threads[ti];
        let mut out = String::from("Running: ");
        for dev in thread.devices.iter().filter(|d| d.running) {
            out.push_str(&dev.odevname);
            out.push(' ');
        }
        out.push_str("\nStopped: ");
        for dev in thread.devices.iter().filter(|d| !d.running) {
            out.push_str(&dev.odevname);
            out.push(' ');
        }
        out.push_str("\nResult: ");
        out.push_str(if thread.result.is_empty() {
            "NA"
        } else {
            &thread.result
        });
        out.push('\n');
        out
    }
}

/// `pktgen_if_show` (REFERENCE §3.3): the device file, byte for byte.
pub(super) fn render_device(dev: &Device, profile: KernelProfile) -> String {
    let mut out = render_params(dev);
    out.push_str(&flags_line(dev, profile));
    out.push_str(&render_current(dev));
    out
}

/// `pktgen_if_show` up to the `Flags:` line: the configuration.
fn render_params(dev: &Device) -> String {
    let mut out = format!(
        "Params: count {}  min_pkt_size: {}  max_pkt_size: {}\n",
        dev.count, dev.min_pkt_size as u32, dev.max_pkt_size as u32
    );
    if !dev.imix.is_empty() {
        out.push_str("     imix_weights: ");
        for entry in &dev.imix {
            put!(out, "{},{} ", entry.size, entry.weight);
        }
        out.push('\n');
    }
    put!(
        out,
        "     frags: {}  delay: {}  clone_skb: {}  ifname: {}\n",
        dev.nfrags,
        dev.delay,
        dev.clone_skb,
        dev.odevname
    );
    put!(out, "     flows: {} flowlen: {}\n", dev.cflows, dev.lflow);
    put!(
        out,
        "     queue_map_min: {}  queue_map_max: {}\n",
        dev.queue_map_min,
        dev.queue_map_max
    );
    if dev.skb_priority != 0 {
        put!(out, "     skb_priority: {}\n", dev.skb_priority);
    }
    let ipv6 = dev.flags & F_IPV6 != 0;
    if ipv6 {
        // min_in6_saddr / max_in6_saddr cannot be written: always `::`.
        put!(
            out,
            "     saddr: {}  min_saddr: ::  max_saddr: ::\n",
            fmt_in6(&dev.in6_saddr)
        );
        put!(
            out,
            "     daddr: {}  min_daddr: {}  max_daddr: {}\n",
            fmt_in6(&dev.in6_daddr),
            fmt_in6(&dev.min_in6_daddr),
            fmt_in6(&dev.max_in6_daddr)
        );
    } else {
        put!(
            out,
            "     dst_min: {}  dst_max: {}\n",
            dev.dst_min,
            dev.dst_max
        );
        put!(
            out,
            "     src_min: {}  src_max: {}\n",
            dev.src_min,
            dev.src_max
        );
    }
    let src_mac = if dev.src_mac == [0; 6] {
        dev.iface_mac
    } else {
        MacAddr(dev.src_mac)
    };
    put!(
        out,
        "     src_mac: {src_mac} dst_mac: {}\n",
        MacAddr(dev.dst_mac)
    );
    put!(
        out,
        "     udp_src_min: {}  udp_src_max: {}  udp_dst_min: {}  udp_dst_max: {}\n",
        dev.udp_src_min,
        dev.udp_src_max,
        dev.udp_dst_min,
        dev.udp_dst_max
    );
    put!(
        out,
        "     src_mac_count: {}  dst_mac_count: {}\n",
        dev.src_mac_count as i32,
        dev.dst_mac_count as i32
    );
    render_encapsulation(dev, &mut out);
    out
}

/// The conditional lines L11–L18 of REFERENCE §3.3: each appears only off its default.
fn render_encapsulation(dev: &Device, out: &mut String) {
    if !dev.labels.is_empty() {
        let labels: Vec<String> = dev.labels.iter().map(|l| format!("{l:08x}")).collect();
        put!(out, "     mpls: {}\n", labels.join(", "));
    }
    if dev.vlan_id != 0xffff {
        put!(
            out,
            "     vlan_id: {}  vlan_p: {}  vlan_cfi: {}\n",
            dev.vlan_id,
            dev.vlan_p,
            dev.vlan_cfi
        );
    }
    if dev.svlan_id != 0xffff {
        // The svlan line reuses the vlan_p / vlan_cfi labels.
        put!(
            out,
            "     svlan_id: {}  vlan_p: {}  vlan_cfi: {}\n",
            dev.svlan_id,
            dev.svlan_p,
            dev.svlan_cfi
        );
    }
    if dev.tos != 0 {
        put!(out, "     tos: 0x{:02x}\n", dev.tos);
    }
    if dev.traffic_class != 0 {
        put!(out, "     traffic_class: 0x{:02x}\n", dev.traffic_class);
    }
    if dev.burst > 1 {
        put!(out, "     burst: {}\n", dev.burst as i32);
    }
    if dev.node >= 0 {
        put!(out, "     node: {}\n", dev.node);
    }
    match dev.xmit_mode {
        XmitMode::StartXmit => {}
        XmitMode::NetifReceive => out.push_str("     xmit_mode: netif_receive\n"),
        // The show word differs from the command word (REFERENCE §3.3).
        XmitMode::QueueXmit => out.push_str("     xmit_mode: xmit_queue\n"),
    }
}

/// `pktgen_if_show` from `Current:` to the end: counters, current values and the Result.
fn render_current(dev: &Device) -> String {
    let mut out = String::from("Current:\n");
    let ipv6 = dev.flags & F_IPV6 != 0;

    put!(
        out,
        "     pkts-sofar: {}  errors: {}\n",
        dev.sofar,
        dev.errors
    );
    if !dev.imix.is_empty() {
        out.push_str("     imix_size_counts: ");
        for entry in &dev.imix {
            put!(out, "{},{} ", entry.size, entry.count_so_far);
        }
        out.push('\n');
    }
    let stopped = if dev.running { dev.now } else { dev.stopped_at };
    put!(
        out,
        "     started: {}us  stopped: {}us idle: {}us\n",
        dev.started_at / 1000,
        stopped / 1000,
        dev.idle_acc / 1000
    );
    put!(
        out,
        "     seq_num: {}  cur_dst_mac_offset: {}  cur_src_mac_offset: {}\n",
        dev.seq_num as i32,
        dev.cur_dst_mac_offset as i32,
        dev.cur_src_mac_offset as i32
    );
    if ipv6 {
        put!(
            out,
            "     cur_saddr: {}  cur_daddr: {}\n",
            fmt_in6(&dev.cur_in6_saddr),
            fmt_in6(&dev.cur_in6_daddr)
        );
    } else {
        put!(
            out,
            "     cur_saddr: {}  cur_daddr: {}\n",
            fmt_in4(dev.cur_saddr),
            fmt_in4(dev.cur_daddr)
        );
    }
    put!(
        out,
        "     cur_udp_dst: {}  cur_udp_src: {}\n",
        dev.cur_udp_dst,
        dev.cur_udp_src
    );
    put!(out, "     cur_queue_map: {}\n", dev.cur_queue_map);
    put!(out, "     flows: {}\n", dev.nflows);
    out.push_str("Result: ");
    out.push_str(if dev.result.is_empty() {
        "Idle"
    } else {
        &dev.result
    });
    out.push('\n');
    out
}

/// The `Flags:` line (REFERENCE §3.3 L19, with the 6.6 fix and its 6.1 backport): each name
/// followed by two spaces, the `FLOW_SEQ` slot skipped without flows and shown as `FLOW_RND`
/// when clear, `spi:N` after `IPSEC`.
fn flags_line(dev: &Device, profile: KernelProfile) -> String {
    let flag_count = if profile.has_shared_flag() {
        FLAG_NAMES.len()
    } else {
        FLAG_NAMES.len() - 1
    };
    let mut out = String::from("     Flags: ");
    for (index, name) in FLAG_NAMES[..flag_count].iter().enumerate() {
        if index == FLOW_SEQ_SHIFT && dev.cflows == 0 {
            continue;
        }
        if dev.flags & (1 << index) != 0 {
            out.push_str(name);
            out.push_str("  ");
            if index == IPSEC_SHIFT && dev.spi != 0 {
                put!(out, "spi:{}  ", dev.spi);
            }
        } else if index == FLOW_SEQ_SHIFT {
            out.push_str("FLOW_RND  ");
        }
    }
    out.push('\n');
    out
}

/// `%pI4` of an address kept in host order.
pub(super) fn fmt_in4(addr: u32) -> String {
    let [a, b, c, d] = addr.to_be_bytes();
    format!("{a}.{b}.{c}.{d}")
}

/// `%pI6c` (`ip6_compressed_string`): the longest run of two or more zero words becomes
/// `::` (the first one on a tie), and v4-mapped and ISATAP addresses end in dotted quad.
pub(super) fn fmt_in6(addr: &[u8; 16]) -> String {
    let words: Vec<u16> = addr
        .chunks_exact(2)
        .map(|w| u16::from_be_bytes([w[0], w[1]]))
        .collect();
    let v4_mapped = words[..5].iter().all(|&w| w == 0) && words[5] == 0xffff;
    let isatap =
        (u32::from_be_bytes([addr[8], addr[9], addr[10], addr[11]]) | 0x0200_0000) == 0x0200_5efe;
    let use_ipv4 = v4_mapped || isatap;
    let range = if use_ipv4 { 6 } else { 8 };
    let mut longest = 1;
    let mut colonpos = None;
    for start in 0..range {
        let run = words[start..range].iter().take_while(|&&w| w == 0).count();
        if run > longest {
            longest = run;
            colonpos = Some(start);
        }
    }
    let mut out = String::new();
    let mut needcolon = false;
    let mut index = 0;
    while index < range {
        if Some(index) == colonpos {
            if needcolon || index == 0 {
                out.push(':');
            }
            out.push(':');
            needcolon = false;
            index += longest;
            continue;
        }
        if needcolon {
            out.push(':');
        }
        put!(out, "{:x}", words[index]);
        needcolon = true;
        index += 1;
    }
    if use_ipv4 {
        if needcolon {
            out.push(':');
        }
        put!(out, "{}.{}.{}.{}", addr[12], addr[13], addr[14], addr[15]);
    }
    out
}
