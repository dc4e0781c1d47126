//! The receivers' pure core: finding pktgen's own packets in captured frames, telling their
//! streams apart, counting them (loss, duplicates, reordering) and timing them (latency,
//! jitter). No I/O here: a capture (AF_PACKET, `TPACKET_V3`, still to come) hands
//! [`Demux::receive`] each frame's bytes, wire length, offloaded VLAN tag and receive time.
//!
//! | module | what it holds |
//! |---|---|
//! | [`frame`] | one Ethernet frame → pktgen's header and the fields that identify its stream, or why it is not pktgen's |
//! | [`stream`] | one stream's sequence accounting in fixed memory: received, bytes, lost, duplicates, late, copies, restarts |
//! | [`latency`] | one stream's latency: min, max, quantiles from a fixed-size HDR histogram, RFC 3550 jitter, untimed packets by reason |
//! | [`demux`] | frames to streams by their identifying fields, a bounded table of them, everything else counted |
//!
//! ```no_run
//! use pgstate::receive::{CapturedFrame, Delivery, Demux, DemuxConfig, ReceiveTime, SequenceConfig};
//!
//! // The sender runs `clone_skb 4`: every sequence number comes four times.
//! let config = DemuxConfig { sequence: SequenceConfig::new(4)?, ..DemuxConfig::default() };
//! let mut demux = Demux::new(config)?;
//! let frame = [0u8; 60]; // what a capture read
//! let delivery = demux.receive(&CapturedFrame {
//!     data: &frame,
//!     wire_len: 60,
//!     offloaded_vlan_tci: None,
//!     received: ReceiveTime::from_unix_nanos(1_700_000_000_000_000_000),
//! });
//! assert!(matches!(delivery, Delivery::NotPktgen(_)));
//! println!("{}", serde_json::to_string(&demux.report())?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What pktgen puts in its packets (`net/core/pktgen.c`)
//!
//! * `struct pktgen_hdr` at the start of the UDP payload (`pktgen_finalize_skb`): the magic
//!   `0xbe9be955`, `seq_num`, `tv_sec`, `tv_usec`, all big-endian; always present, since
//!   `fill_packet_ipv4`/`fill_packet_ipv6` grow a short payload to its 16 bytes.
//! * The sequence number counts packets *sent*: `pktgen_xmit` adds one per successful send,
//!   and an skb repeated by `clone_skb` or `burst` carries the number it was built with, so
//!   the next skb's number is higher by the copies sent. A run starts at 1
//!   (`pktgen_clear_counters` in `pktgen_run`). See [`stream`].
//! * The time is `ktime_get_real_ts64` at build time in microseconds, shared by the copies;
//!   zero with `NO_TIMESTAMP`. See [`latency`].
//! * Headers: VLAN and SVLAN tags (both type 0x8100) or an MPLS stack of up to 16 labels,
//!   then IPv4 (IHL 5) or IPv6, then UDP. See [`frame`].
//!
//! # Not here yet
//!
//! The capture itself (AF_PACKET with a `TPACKET_V3` ring, timestamps, drops counted by the
//! kernel), a CLI command to run a receiver, and lab tests against a real pktgen.

pub mod demux;
pub mod frame;
pub mod latency;
pub mod stream;

#[cfg(test)]
pub(crate) mod test_frame;

pub use demux::{
    Admission, CapturedFrame, Delivery, Demux, DemuxConfig, DemuxConfigError, DemuxReport,
    KeyFields, StreamKey, StreamReport,
};
pub use frame::{
    parse_frame, parse_frame_with_offloaded_tag, NotPktgen, PktgenHeader, PktgenPacket,
};
pub use latency::{LatencyConfig, LatencyOutcome, LatencySummary, ReceiveTime};
pub use stream::{copies_per_seq, Placement, SequenceConfig, SequenceCounts};
