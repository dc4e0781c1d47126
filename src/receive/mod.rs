//! The receivers' pure core: finding pktgen's own packets in captured frames, telling their
//! streams apart, counting them (loss, duplicates, reordering) and timing them (latency,
//! jitter). No I/O: the capture (AF_PACKET, `TPACKET_V3`) comes on top of this and hands it
//! bytes, lengths and receive times.
//!
//! | module | what it holds |
//! |---|---|
//! | [`frame`] | one Ethernet frame → pktgen's header and the fields that identify its stream, or why it is not pktgen's |
//! | [`stream`] | one stream's sequence accounting in fixed memory: received, bytes, lost, duplicates, late, copies, restarts |
//! | [`latency`] | one stream's latency: min, max, quantiles from a fixed-size HDR histogram, RFC 3550 jitter, untimed packets by reason |
//! | [`demux`] | frames to streams by their identifying fields, a bounded table of them, everything else counted |
//!
//! Every pktgen packet carries `struct pktgen_hdr` (`net/core/pktgen.c`) at the start of
//! its UDP payload: the magic `0xbe9be955`, the sequence number, and the send time in
//! seconds and microseconds (zero with the `NO_TIMESTAMP` flag), all big-endian.

pub mod demux;
pub mod frame;
pub mod latency;
pub mod stream;

#[cfg(test)]
pub(crate) mod test_frame;
