//! `pgctrl_write` (REFERENCE §2.1) and the runs it starts and stops: `pktgen_run` with
//! `pktgen_setup_inject`, `pktgen_xmit` on the deterministic fake clock, and
//! `pktgen_stop_device` with the `show_results` text (REFERENCE §3.3, §8.4).

use super::if_write::{clear_counters, pkt_overhead};
use super::parse::{cstr, in_aton};
use super::state::{
    Device, State, WriteRet, EINVAL, F_IPV6, F_SHARED, IMIX_PRECISION, MAX_SKB_FRAGS,
    PACKET_TIME_NS,
};
use crate::kernel::KernelProfile;

impl State {
    /// `pgctrl_write` (REFERENCE §2.1).
    pub(super) fn ctrl_write(&mut self, buf: &[u8]) -> WriteRet {
        let count = buf.len();
        if count == 0 {
            return Err(EINVAL);
        }
        let (taken, data) = if self.hardened() {
            // 6.15: copy at most 127 bytes, strip one trailing '\n'.
            let max = count.min(127);
            let data = &buf[..max];
            (count, data.strip_suffix(b"\n").unwrap_or(data))
        } else {
            // 4.2–6.14: at most 128 bytes, and the last one is always dropped.
            let max = count.min(128);
            (max, &buf[..max - 1])
        };
        match cstr(data) {
            b"start" => self.start_all(),
            b"stop" => self.stop_all(),
            b"reset" => {
                // T_REMDEVALL on every thread, then the writer waits: synchronous here.
                for thread in &mut self.threads {
                    for dev in thread.devices.iter_mut().filter(|d| d.running) {
                        stop_device(dev);
                    }
                    thread.devices.clear();
                }
            }
            _ => return Err(EINVAL),
        }
        Ok(taken)
    }

    /// `pktgen_run` on every thread: `pktgen_setup_inject`, counters cleared, `Starting`.
    fn start_all(&mut self) {
        let clock = self.clock_ns;
        for thread in &mut self.threads {
            for dev in &mut thread.devices {
                setup_inject(dev);
                clear_counters(dev);
                dev.has_skb = false;
                dev.started_at = clock;
                dev.now = clock;
                dev.imix_cursor = 0;
                dev.pkt_overhead = pkt_overhead(dev);
                "Starting".clone_into(&mut dev.result);
                dev.running = true;
            }
        }
    }

    /// `stop`: every running stream stops and writes its results.
    fn stop_all(&mut self) {
        for thread in &mut self.threads {
            for dev in thread.devices.iter_mut().filter(|d| d.running) {
                stop_device(dev);
            }
        }
    }
}

/// `pktgen_setup_inject`: the start-time defaults and clamps that stay visible (REFERENCE §2.5).
fn setup_inject(dev: &mut Device) {
    let ntxq = dev.tx_queues;
    let top = ntxq.max(1) - 1;
    if ntxq <= u32::from(dev.queue_map_min) {
        dev.queue_map_min = top as u16;
    }
    if u32::from(dev.queue_map_max) >= ntxq {
        dev.queue_map_max = top as u16;
    }
    if dev.flags & F_IPV6 != 0 {
        if dev.min_pkt_size == 0 {
            dev.min_pkt_size = 14 + 40 + 8 + 16 + dev.pkt_overhead;
        }
        // An unset source would be the interface's link-local address: not modelled.
    } else {
        if dev.min_pkt_size == 0 {
            dev.min_pkt_size = 14 + 20 + 8 + 16 + dev.pkt_overhead;
        }
        // An empty src_min means the interface's first IPv4 address: not modelled (none).
        if dev.src_min.is_empty() {
            dev.saddr_min = 0;
            dev.saddr_max = 0;
        } else {
            dev.saddr_min = in_aton(dev.src_min.as_bytes());
            dev.saddr_max = in_aton(dev.src_max.as_bytes());
        }
        dev.daddr_min = in_aton(dev.dst_min.as_bytes());
        dev.daddr_max = in_aton(dev.dst_max.as_bytes());
    }
    dev.cur_pkt_size = dev.min_pkt_size as u32;
    if dev.min_pkt_size > dev.max_pkt_size {
        dev.max_pkt_size = dev.min_pkt_size;
    }
    dev.cur_dst_mac_offset = 0;
    dev.cur_src_mac_offset = 0;
    dev.cur_saddr = dev.saddr_min;
    dev.cur_daddr = dev.daddr_min;
    dev.cur_udp_dst = dev.udp_dst_min;
    dev.cur_udp_src = dev.udp_src_min;
    dev.nflows = 0;
}

/// Sends up to `packets` packets of one running stream on the fake clock.
pub(super) fn send_packets(dev: &mut Device, packets: u64, profile: KernelProfile) {
    // delay 2147483647 is stored as ULLONG_MAX: "never transmit".
    let mut k = if dev.delay == u64::MAX { 0 } else { packets };
    if dev.count != 0 {
        k = k.min(dev.count.saturating_sub(dev.sofar));
    }
    if k > 0 {
        if dev.min_pkt_size < dev.max_pkt_size {
            // mod_cur_headers steps the size through [min, max] before each packet.
            let span = u64::from((dev.max_pkt_size - dev.min_pkt_size) as u32) + 1;
            let pos =
                (u64::from(dev.cur_pkt_size).saturating_sub(dev.min_pkt_size as u64) + k) % span;
            dev.cur_pkt_size = (dev.min_pkt_size as u64 + pos) as u32;
        } else if !dev.imix.is_empty() {
            pick_imix(dev, k);
        }
        dev.sofar += k;
        dev.seq_num = dev.seq_num.wrapping_add(k as u32);
        dev.tx_bytes = dev
            .tx_bytes
            .wrapping_add(k.wrapping_mul(u64::from(dev.cur_pkt_size)));
        let idle = k.saturating_mul(dev.delay);
        dev.idle_acc = dev.idle_acc.saturating_add(idle);
        dev.now = dev
            .now
            .saturating_add(k.saturating_mul(PACKET_TIME_NS))
            .saturating_add(idle);
        // With SHARED cleared pktgen lets go of the skb after each send (6.7+).
        dev.has_skb = !profile.has_shared_flag() || dev.flags & F_SHARED != 0;
    }
    if dev.count != 0 && dev.sofar >= dev.count {
        stop_device(dev);
    }
}

/// Chooses the sizes of `k` imix packets: bucket `n % 100` for the n-th packet, a
/// deterministic stand-in for the kernel's random bucket.
fn pick_imix(dev: &mut Device, k: u64) {
    let precision = IMIX_PRECISION as u64;
    let first = dev.imix_cursor;
    for bucket in 0..precision {
        let offset = (bucket + precision - first % precision) % precision;
        let hits = k / precision + u64::from(offset < k % precision);
        let index = usize::from(dev.imix_distribution[bucket as usize]);
        if let Some(entry) = dev.imix.get_mut(index) {
            entry.count_so_far += hits;
        }
    }
    let last = ((first + k - 1) % precision) as usize;
    if let Some(entry) = dev.imix.get(usize::from(dev.imix_distribution[last])) {
        dev.cur_pkt_size = entry.size as u32;
    }
    dev.imix_cursor = first + k;
}

/// `pktgen_stop_device` and `show_results` (REFERENCE §3.3, §8.4).
pub(super) fn stop_device(dev: &mut Device) {
    let nr_frags = if dev.has_skb {
        if dev.nfrags <= 0 {
            0
        } else {
            dev.nfrags.min(MAX_SKB_FRAGS)
        }
    } else {
        -1
    };
    dev.running = false;
    dev.has_skb = false;
    dev.stopped_at = dev.now;
    let elapsed = dev.stopped_at.saturating_sub(dev.started_at);
    let idle = dev.idle_acc;
    // ktime_to_us(elapsed - idle): a difference of nanoseconds, then truncated.
    let busy = elapsed.saturating_sub(idle);
    let per_second = |amount: u128| -> u64 {
        if elapsed == 0 {
            0
        } else {
            (amount * 1_000_000_000 / u128::from(elapsed)) as u64
        }
    };
    let pps = per_second(u128::from(dev.sofar));
    let bps = if dev.imix.is_empty() {
        pps.wrapping_mul(8)
            .wrapping_mul(u64::from(dev.cur_pkt_size))
    } else {
        let bytes: u128 = dev
            .imix
            .iter()
            .map(|e| u128::from(e.size) * u128::from(e.count_so_far))
            .sum();
        per_second(bytes * 8)
    };
    dev.result = format!(
        "OK: {}(c{}+d{}) usec, {} ({}byte,{}frags)\n  {}pps {}Mb/sec ({}bps) errors: {}",
        elapsed / 1000,
        busy / 1000,
        idle / 1000,
        dev.sofar,
        dev.cur_pkt_size as i32,
        nr_frags,
        pps,
        bps / 1_000_000,
        bps,
        dev.errors
    );
}
