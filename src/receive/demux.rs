//! Telling pktgen's streams apart: each captured frame goes to the stream its identifying
//! fields name, at most `max_streams` of them, each with its own sequence accounting and
//! latency recorder. Everything else is counted: frames that are not pktgen's by reason,
//! pktgen packets beyond the stream bound (or not declared) as unattributed.
//!
//! # What identifies a stream
//!
//! pktgen numbers packets per *device* (`/proc/net/pktgen/eth0@1`): one sequence per
//! device, whatever its headers say. The receiver only sees headers, so a stream is the set
//! of packets whose chosen fields ([`KeyFields`]) are equal, and two facts follow:
//!
//! * Fields a device varies from packet to packet must be left out of the key, or its one
//!   sequence splits into many streams that each look lossy: `UDPSRC_RND` or a
//!   `udp_src_min`..`udp_src_max` range varies the source port, `UDPDST_RND`/`udp_dst_*`
//!   the destination port, `IPSRC_RND`/`src_min`..`src_max` the source address,
//!   `IPDST_RND`/`dst_min`..`dst_max` and `flows` the destination address,
//!   `MACSRC_RND`/`src_mac_count` the source MAC, `VID_RND`/`SVID_RND` the VLAN ids
//!   (`mod_cur_headers` in `net/core/pktgen.c`).
//! * Devices that differ in no key field share a stream and mix their sequences: several
//!   devices on one interface (`eth0@0`, `eth0@1`, the multiqueue samples) have the same
//!   MAC and addresses by default. Give each a field of its own (a `udp_src_min`, a
//!   `src_min`) and keep that field in the key.
//!
//! # Isolation and bounds
//!
//! A stream's counters only ever see packets with its key: a sender with the magic but
//! nonsense numbers or times under another source address cannot change them. (Under the
//! *same* key nothing can tell the two apart; the stream's own accounting then bounds the
//! damage: nonsense numbers stay unplaced, nonsense times are counted apart.) The table
//! holds at most `max_streams` streams, allocated when first seen (about 40 KiB each with
//! the default window and histogram); with [`Admission::DeclaredOnly`] only the streams
//! declared beforehand are counted, so a flood of foreign keys cannot take their places.
//! Lookups allocate nothing.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};

use crate::model::MacAddr;

use super::frame::{
    parse_frame_with_offloaded_tag, NotPktgen, NotPktgenKind, PktgenPacket, StreamFields, VlanIds,
};
use super::latency::{
    LatencyConfig, LatencyConfigError, LatencyOutcome, LatencyRecorder, LatencySummary, ReceiveTime,
};
use super::stream::{Placement, SequenceConfig, SequenceCounts, SequenceTracker};

/// The default bound on streams.
pub const DEFAULT_MAX_STREAMS: usize = 256;

/// The largest bound accepted.
pub const MAX_STREAMS_LIMIT: usize = 65_536;

/// Which fields of a packet make up its stream's key; see the
/// [module documentation](self) for which pktgen settings vary which.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct KeyFields {
    /// The Ethernet source address.
    pub src_mac: bool,
    /// The VLAN ids.
    pub vlan: bool,
    /// The IP source address.
    pub src_ip: bool,
    /// The IP destination address.
    pub dst_ip: bool,
    /// The UDP source port.
    pub src_port: bool,
    /// The UDP destination port.
    pub dst_port: bool,
}

impl KeyFields {
    /// No field: every packet has the same key, [`StreamKey::ANY`].
    pub const NONE: KeyFields = KeyFields {
        src_mac: false,
        vlan: false,
        src_ip: false,
        dst_ip: false,
        src_port: false,
        dst_port: false,
    };

    /// Every field.
    pub const ALL: KeyFields = KeyFields {
        src_mac: true,
        vlan: true,
        src_ip: true,
        dst_ip: true,
        src_port: true,
        dst_port: true,
    };

    /// The key of a packet with these fields: the chosen ones, the others `None`.
    pub fn key_of(&self, fields: &StreamFields) -> StreamKey {
        StreamKey {
            src_mac: self.src_mac.then_some(fields.src_mac),
            vlan: self.vlan.then_some(fields.vlan),
            src_ip: self.src_ip.then_some(fields.src_ip),
            dst_ip: self.dst_ip.then_some(fields.dst_ip),
            src_port: self.src_port.then_some(fields.src_port),
            dst_port: self.dst_port.then_some(fields.dst_port),
        }
    }
}

impl Default for KeyFields {
    /// [`KeyFields::ALL`].
    fn default() -> Self {
        KeyFields::ALL
    }
}

/// What identifies one stream: the values of the key fields (`None` for a field left out).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StreamKey {
    /// The Ethernet source address.
    pub src_mac: Option<MacAddr>,
    /// The VLAN ids.
    pub vlan: Option<VlanIds>,
    /// The IP source address.
    pub src_ip: Option<IpAddr>,
    /// The IP destination address.
    pub dst_ip: Option<IpAddr>,
    /// The UDP source port.
    pub src_port: Option<u16>,
    /// The UDP destination port.
    pub dst_port: Option<u16>,
}

impl StreamKey {
    /// The key of no field: every packet's under [`KeyFields::NONE`].
    pub const ANY: StreamKey = StreamKey {
        src_mac: None,
        vlan: None,
        src_ip: None,
        dst_ip: None,
        src_port: None,
        dst_port: None,
    };
}

/// Which keys get a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Admission {
    /// Every new key, until the table is full.
    Learn,
    /// Only keys given to [`Demux::declare`].
    DeclaredOnly,
}

/// How a [`Demux`] is set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DemuxConfig {
    /// The most streams counted (1 to [`MAX_STREAMS_LIMIT`]).
    pub max_streams: usize,
    /// The fields that make up a key.
    pub key_fields: KeyFields,
    /// Which keys get a stream.
    pub admission: Admission,
    /// Every stream's sequence accounting (copies per number, window).
    pub sequence: SequenceConfig,
    /// Every stream's latency histogram.
    pub latency: LatencyConfig,
}

impl Default for DemuxConfig {
    /// [`DEFAULT_MAX_STREAMS`] learned streams keyed by every field, one copy per number.
    fn default() -> Self {
        DemuxConfig {
            max_streams: DEFAULT_MAX_STREAMS,
            key_fields: KeyFields::ALL,
            admission: Admission::Learn,
            sequence: SequenceConfig::default(),
            latency: LatencyConfig::default(),
        }
    }
}

/// Why a [`DemuxConfig`] was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemuxConfigError {
    /// `max_streams` outside 1..=[`MAX_STREAMS_LIMIT`].
    MaxStreams(usize),
    /// The latency histogram cannot be made.
    Latency(LatencyConfigError),
}

impl fmt::Display for DemuxConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DemuxConfigError::MaxStreams(n) => {
                write!(f, "{n} streams: must be from 1 to {MAX_STREAMS_LIMIT}")
            }
            DemuxConfigError::Latency(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for DemuxConfigError {}

/// [`Demux::declare`] found the table full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamTableFull {
    /// The bound that was reached.
    pub max_streams: usize,
}

impl fmt::Display for StreamTableFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the stream table is full ({} streams)", self.max_streams)
    }
}

impl std::error::Error for StreamTableFull {}

/// One frame as a capture hands it over.
#[derive(Debug, Clone, Copy)]
pub struct CapturedFrame<'a> {
    /// The bytes captured (possibly cut at the snap length).
    pub data: &'a [u8],
    /// The frame's length on the wire (`tp_len`), counted as the stream's bytes.
    pub wire_len: u32,
    /// The VLAN TCI the kernel took out of the frame, if any (`tp_vlan_tci` with
    /// `TP_STATUS_VLAN_VALID`).
    pub offloaded_vlan_tci: Option<u16>,
    /// When it was received, on the wall clock.
    pub received: ReceiveTime,
}

/// What became of one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Counted in stream `stream` (its index in [`Demux::streams`]).
    Counted {
        /// The stream's index.
        stream: usize,
        /// Where it went in the stream's sequence.
        placement: Placement,
        /// Its timing, for the first copy of its number to fill a slot; `None` for later
        /// copies (they carry the first one's build time), duplicates, unplaced packets
        /// and the packet that confirms a restart.
        latency: Option<LatencyOutcome>,
    },
    /// A pktgen packet with no stream: the table was full, or its key was not declared.
    Unattributed,
    /// Not a pktgen packet.
    NotPktgen(NotPktgen),
}

/// Pktgen packets that got no stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Unattributed {
    /// How many.
    pub packets: u64,
    /// Their lengths on the wire, summed.
    pub bytes: u64,
}

/// Frames that were not pktgen's, by [`NotPktgenKind`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NotPktgenCounts([u64; NotPktgenKind::ALL.len()]);

impl NotPktgenCounts {
    /// Frames of this kind.
    pub fn get(&self, kind: NotPktgenKind) -> u64 {
        self.0[kind.index()]
    }

    /// Frames of every kind.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// Every kind with its count, in [`NotPktgenKind::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (NotPktgenKind, u64)> + '_ {
        NotPktgenKind::ALL.iter().map(|&k| (k, self.get(k)))
    }

    fn count(&mut self, kind: NotPktgenKind) {
        self.0[kind.index()] += 1;
    }
}

impl Serialize for NotPktgenCounts {
    /// A map from each kind's name to its count, every kind present.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(NotPktgenKind::ALL.len()))?;
        for (kind, n) in self.iter() {
            map.serialize_entry(kind.as_str(), &n)?;
        }
        map.end()
    }
}

/// One stream: its key, sequence accounting and latency.
#[derive(Debug, Clone)]
pub struct Stream {
    key: StreamKey,
    sequence: SequenceTracker,
    latency: LatencyRecorder,
    first_received: Option<ReceiveTime>,
    last_received: Option<ReceiveTime>,
}

impl Stream {
    /// What identifies it.
    pub fn key(&self) -> &StreamKey {
        &self.key
    }

    /// Its sequence accounting.
    pub fn sequence(&self) -> &SequenceTracker {
        &self.sequence
    }

    /// Its latency recorder.
    pub fn latency(&self) -> &LatencyRecorder {
        &self.latency
    }

    /// When its first packet arrived (`None` for a declared stream still silent).
    pub fn first_received(&self) -> Option<ReceiveTime> {
        self.first_received
    }

    /// When its latest packet arrived.
    pub fn last_received(&self) -> Option<ReceiveTime> {
        self.last_received
    }

    /// Its totals.
    pub fn report(&self) -> StreamReport {
        StreamReport {
            key: self.key,
            sequence: self.sequence.counts(),
            latency: self.latency.summary(),
            first_received: self.first_received,
            last_received: self.last_received,
        }
    }
}

/// One stream's totals.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StreamReport {
    /// What identifies it.
    pub key: StreamKey,
    /// Its sequence counts.
    pub sequence: SequenceCounts,
    /// Its latency.
    pub latency: LatencySummary,
    /// When its first packet arrived.
    pub first_received: Option<ReceiveTime>,
    /// When its latest packet arrived.
    pub last_received: Option<ReceiveTime>,
}

/// Everything a [`Demux`] counted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DemuxReport {
    /// Every stream, in the order first seen (or declared).
    pub streams: Vec<StreamReport>,
    /// Pktgen packets with no stream.
    pub unattributed: Unattributed,
    /// Frames that were not pktgen's, by reason.
    pub not_pktgen: NotPktgenCounts,
}

/// The stream table.
#[derive(Debug, Clone)]
pub struct Demux {
    config: DemuxConfig,
    streams: Vec<Stream>,
    index: HashMap<StreamKey, usize>,
    unattributed: Unattributed,
    not_pktgen: NotPktgenCounts,
}

impl Demux {
    /// An empty table, with room for `max_streams` keys reserved.
    pub fn new(config: DemuxConfig) -> Result<Self, DemuxConfigError> {
        if !(1..=MAX_STREAMS_LIMIT).contains(&config.max_streams) {
            return Err(DemuxConfigError::MaxStreams(config.max_streams));
        }
        LatencyRecorder::new(config.latency).map_err(DemuxConfigError::Latency)?;
        Ok(Demux {
            config,
            streams: Vec::with_capacity(config.max_streams),
            index: HashMap::with_capacity(config.max_streams),
            unattributed: Unattributed::default(),
            not_pktgen: NotPktgenCounts::default(),
        })
    }

    /// How it was set up.
    pub fn config(&self) -> &DemuxConfig {
        &self.config
    }

    /// Makes room for a stream before its first packet (the only way in with
    /// [`Admission::DeclaredOnly`]); returns its index. Declaring a key twice is one stream.
    pub fn declare(&mut self, key: StreamKey) -> Result<usize, StreamTableFull> {
        if let Some(&i) = self.index.get(&key) {
            return Ok(i);
        }
        self.add_stream(key).ok_or(StreamTableFull {
            max_streams: self.config.max_streams,
        })
    }

    /// Parses one captured frame and counts it.
    pub fn receive(&mut self, frame: &CapturedFrame<'_>) -> Delivery {
        match parse_frame_with_offloaded_tag(frame.data, frame.offloaded_vlan_tci) {
            Ok(packet) => self.receive_packet(&packet, frame.wire_len, frame.received),
            Err(reason) => {
                self.not_pktgen.count(reason.kind());
                Delivery::NotPktgen(reason)
            }
        }
    }

    /// Counts one parsed pktgen packet of `wire_len` bytes received at `received`.
    pub fn receive_packet(
        &mut self,
        packet: &PktgenPacket,
        wire_len: u32,
        received: ReceiveTime,
    ) -> Delivery {
        let key = self.config.key_fields.key_of(&packet.fields);
        let found = match self.index.get(&key) {
            Some(&i) => Some(i),
            None if self.config.admission == Admission::Learn => self.add_stream(key),
            None => None,
        };
        let found = found.and_then(|i| Some(i).zip(self.streams.get_mut(i)));
        let Some((stream_index, stream)) = found else {
            self.unattributed.packets += 1;
            self.unattributed.bytes += u64::from(wire_len);
            return Delivery::Unattributed;
        };
        stream.first_received.get_or_insert(received);
        stream.last_received = Some(received);
        let placement = stream.sequence.record(packet.header.seq, wire_len);
        let latency = placement
            .is_first_copy()
            .then(|| stream.latency.record(&packet.header, received));
        Delivery::Counted {
            stream: stream_index,
            placement,
            latency,
        }
    }

    fn add_stream(&mut self, key: StreamKey) -> Option<usize> {
        if self.streams.len() >= self.config.max_streams {
            return None;
        }
        // Checked in `new`: the same configuration cannot fail here.
        let latency = LatencyRecorder::new(self.config.latency).ok()?;
        let i = self.streams.len();
        self.streams.push(Stream {
            key,
            sequence: SequenceTracker::new(self.config.sequence),
            latency,
            first_received: None,
            last_received: None,
        });
        self.index.insert(key, i);
        Some(i)
    }

    /// Every stream, in the order first seen (or declared).
    pub fn streams(&self) -> &[Stream] {
        &self.streams
    }

    /// The stream with this key.
    pub fn stream(&self, key: &StreamKey) -> Option<&Stream> {
        self.index.get(key).and_then(|&i| self.streams.get(i))
    }

    /// Pktgen packets that got no stream.
    pub fn unattributed(&self) -> Unattributed {
        self.unattributed
    }

    /// Frames that were not pktgen's, by reason.
    pub fn not_pktgen(&self) -> &NotPktgenCounts {
        &self.not_pktgen
    }

    /// Everything counted so far.
    pub fn report(&self) -> DemuxReport {
        DemuxReport {
            streams: self.streams.iter().map(Stream::report).collect(),
            unattributed: self.unattributed,
            not_pktgen: self.not_pktgen.clone(),
        }
    }

    /// The memory one stream takes (its window and histogram included): with
    /// `max_streams`, the bound on the table.
    pub fn memory_per_stream(&self) -> usize {
        self.streams.first().map_or_else(
            || {
                let sequence = SequenceTracker::new(self.config.sequence).memory_bytes();
                let latency =
                    LatencyRecorder::new(self.config.latency).map_or(0, |l| l.memory_bytes());
                sequence + latency + std::mem::size_of::<Stream>()
            },
            |s| {
                s.sequence.memory_bytes() + s.latency.memory_bytes() + std::mem::size_of::<Stream>()
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::receive::latency::NANOS_PER_SEC;
    use crate::receive::test_frame::{FrameSpec, Tag};
    use proptest::prelude::*;

    const T0: u32 = 1_700_000_000;

    fn at(us: u64) -> ReceiveTime {
        ReceiveTime::from_unix_nanos(u64::from(T0) * NANOS_PER_SEC + us * 1_000)
    }

    fn sender_a() -> FrameSpec {
        FrameSpec::ipv4([10, 0, 0, 1], [10, 0, 0, 9]).src_mac([2, 0, 0, 0, 0, 0xa])
    }

    fn sender_b() -> FrameSpec {
        FrameSpec::ipv4([10, 0, 0, 2], [10, 0, 0, 9]).src_mac([2, 0, 0, 0, 0, 0xb])
    }

    fn deliver(d: &mut Demux, spec: &FrameSpec, received: ReceiveTime) -> Delivery {
        let data = spec.build();
        d.receive(&CapturedFrame {
            data: &data,
            wire_len: data.len() as u32,
            offloaded_vlan_tci: None,
            received,
        })
    }

    fn demux(config: DemuxConfig) -> Demux {
        Demux::new(config).unwrap()
    }

    #[test]
    fn two_senders_are_two_streams() {
        let mut d = demux(DemuxConfig::default());
        for seq in 1..=100u32 {
            deliver(
                &mut d,
                &sender_a().seq(seq).time(T0, seq),
                at(u64::from(seq) + 50),
            );
            if seq % 2 == 0 {
                deliver(
                    &mut d,
                    &sender_b().seq(seq / 2).time(T0, seq),
                    at(u64::from(seq) + 80),
                );
            }
        }
        assert_eq!(d.streams().len(), 2);
        let a = d.streams()[0].report();
        let b = d.streams()[1].report();
        assert_eq!((a.sequence.unique, a.sequence.lost), (100, 0));
        assert_eq!((b.sequence.unique, b.sequence.lost), (50, 0));
        assert_eq!(a.latency.p50_ns, Some(50_000));
        assert_eq!(b.latency.max_ns, Some(80_000));
        assert_eq!(a.first_received, Some(at(51)));
        assert_eq!(a.last_received, Some(at(150)));
        let key = KeyFields::ALL.key_of(
            &crate::receive::frame::parse_frame(&sender_b().build())
                .unwrap()
                .fields,
        );
        assert_eq!(
            d.stream(&key).map(|s| s.sequence().counts().unique),
            Some(50)
        );
    }

    #[test]
    fn a_nonsense_sender_cannot_touch_another_stream() {
        let mut d = demux(DemuxConfig::default());
        let mut x = 7u32;
        for seq in 1..=2_000u32 {
            deliver(
                &mut d,
                &sender_a().seq(seq).time(T0, seq),
                at(u64::from(seq) + 10),
            );
            for _ in 0..3 {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                let nonsense = sender_b().seq(x).time(x.rotate_left(7), x % 2_000_000);
                deliver(&mut d, &nonsense, at(u64::from(seq)));
            }
        }
        let a = d.streams()[0].report();
        assert_eq!(
            (
                a.sequence.received,
                a.sequence.unique,
                a.sequence.lost,
                a.sequence.duplicates
            ),
            (2_000, 2_000, 0, 0)
        );
        assert_eq!(a.sequence.restarts, 0);
        assert_eq!(
            (a.latency.samples, a.latency.min_ns, a.latency.max_ns),
            (2_000, Some(10_000), Some(10_000))
        );
        assert_eq!(a.latency.jitter_ns, Some(0));
        let b = d.streams()[1].report();
        assert_eq!(b.sequence.received, 6_000);
        assert_eq!(
            b.sequence.received,
            b.sequence.unique + b.sequence.duplicates + b.sequence.unplaced
        );
    }

    #[test]
    fn beyond_the_bound_packets_are_unattributed() {
        let mut d = demux(DemuxConfig {
            max_streams: 2,
            ..DemuxConfig::default()
        });
        for port in 0..5u16 {
            deliver(&mut d, &sender_a().ports(1000 + port, 9), at(1));
        }
        assert_eq!(d.streams().len(), 2);
        let frame_len = sender_a().build().len() as u64;
        assert_eq!(
            d.unattributed(),
            Unattributed {
                packets: 3,
                bytes: 3 * frame_len
            }
        );
        // The first two keep counting.
        assert!(matches!(
            deliver(&mut d, &sender_a().ports(1000, 9).seq(2), at(2)),
            Delivery::Counted { stream: 0, .. }
        ));
    }

    #[test]
    fn declared_only_admits_what_was_declared() {
        let mut d = demux(DemuxConfig {
            admission: Admission::DeclaredOnly,
            max_streams: 1,
            ..DemuxConfig::default()
        });
        let a = KeyFields::ALL.key_of(
            &crate::receive::frame::parse_frame(&sender_a().build())
                .unwrap()
                .fields,
        );
        assert_eq!(d.declare(a), Ok(0));
        assert_eq!(d.declare(a), Ok(0));
        let other = StreamKey {
            src_port: Some(1),
            ..a
        };
        assert_eq!(d.declare(other), Err(StreamTableFull { max_streams: 1 }));
        assert!(d.streams()[0].first_received().is_none());
        assert_eq!(deliver(&mut d, &sender_b(), at(1)), Delivery::Unattributed);
        assert!(matches!(
            deliver(&mut d, &sender_a(), at(1)),
            Delivery::Counted { stream: 0, .. }
        ));
        assert_eq!(d.unattributed().packets, 1);
    }

    #[test]
    fn a_randomised_source_port_stays_one_stream_when_left_out_of_the_key() {
        // UDPSRC_RND: one pktgen device, one sequence, a new source port per skb.
        let key_fields = KeyFields {
            src_port: false,
            ..KeyFields::ALL
        };
        let mut d = demux(DemuxConfig {
            key_fields,
            ..DemuxConfig::default()
        });
        for seq in 1..=300u32 {
            let port = 9 + (seq.wrapping_mul(2_654_435_761) % 100) as u16;
            deliver(
                &mut d,
                &sender_a().seq(seq).ports(port, 9),
                at(u64::from(seq)),
            );
        }
        assert_eq!(d.streams().len(), 1);
        assert_eq!(d.streams()[0].key().src_port, None);
        assert_eq!(d.streams()[0].sequence().counts().lost, 0);
    }

    #[test]
    fn vlan_ids_tell_streams_apart() {
        let mut d = demux(DemuxConfig::default());
        deliver(&mut d, &sender_a().tag(Tag::dot1q(10)), at(1));
        deliver(&mut d, &sender_a().tag(Tag::dot1q(20)), at(1));
        deliver(
            &mut d,
            &sender_a().tag(Tag::dot1q(20)).tag(Tag::dot1q(10)),
            at(1),
        );
        // The same tag offloaded by the NIC is the same stream.
        let data = sender_a().seq(2).build();
        let offloaded = d.receive(&CapturedFrame {
            data: &data,
            wire_len: data.len() as u32 + 4,
            offloaded_vlan_tci: Some(10),
            received: at(2),
        });
        assert!(matches!(offloaded, Delivery::Counted { stream: 0, .. }));
        assert_eq!(d.streams().len(), 3);
    }

    #[test]
    fn copies_are_timed_once() {
        let mut d = demux(DemuxConfig {
            sequence: SequenceConfig::new(3).unwrap(),
            ..DemuxConfig::default()
        });
        let mut timed = 0;
        for skb in 0..10u32 {
            for copy in 0..3u64 {
                let spec = sender_a().seq(1 + 3 * skb).time(T0, skb * 100);
                let got = deliver(&mut d, &spec, at(u64::from(skb) * 100 + 20 + copy * 5));
                if let Delivery::Counted {
                    latency: Some(_), ..
                } = got
                {
                    timed += 1;
                }
            }
        }
        assert_eq!(timed, 10);
        let r = d.streams()[0].report();
        assert_eq!(
            (r.sequence.unique, r.sequence.copies, r.sequence.duplicates),
            (30, 20, 0)
        );
        assert_eq!((r.latency.samples, r.latency.max_ns), (10, Some(20_000)));
    }

    #[test]
    fn other_frames_are_counted_by_reason() {
        let mut d = demux(DemuxConfig::default());
        let mut arp = sender_a().build();
        arp[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
        for data in [&arp[..], &arp[..5]] {
            let got = d.receive(&CapturedFrame {
                data,
                wire_len: 60,
                offloaded_vlan_tci: None,
                received: at(1),
            });
            assert!(matches!(got, Delivery::NotPktgen(_)));
        }
        assert_eq!(d.not_pktgen().get(NotPktgenKind::EtherType), 1);
        assert_eq!(d.not_pktgen().get(NotPktgenKind::Truncated), 1);
        assert_eq!(d.not_pktgen().total(), 2);
        assert!(d.streams().is_empty());
        let json = serde_json::to_value(d.report()).unwrap();
        assert_eq!(json["not_pktgen"]["ether_type"], 1);
        assert_eq!(json["not_pktgen"]["no_magic"], 0);
    }

    #[test]
    fn the_report_serializes() {
        let mut d = demux(DemuxConfig::default());
        deliver(&mut d, &sender_a().seq(1), at(3));
        deliver(&mut d, &sender_a().seq(3).time(0, 0), at(4));
        let json = serde_json::to_value(d.report()).unwrap();
        let s = &json["streams"][0];
        assert_eq!(s["key"]["src_mac"], "02:00:00:00:00:0a");
        assert_eq!(s["key"]["src_ip"], "10.0.0.1");
        assert_eq!(s["sequence"]["lost"], 1);
        assert_eq!(s["latency"]["no_timestamp"], 1);
        assert_eq!(s["latency"]["samples"], 1);
    }

    #[test]
    fn config_limits() {
        for n in [0, MAX_STREAMS_LIMIT + 1] {
            let e = Demux::new(DemuxConfig {
                max_streams: n,
                ..DemuxConfig::default()
            })
            .unwrap_err();
            assert_eq!(e, DemuxConfigError::MaxStreams(n));
            assert!(!e.to_string().is_empty());
        }
        assert!(!StreamTableFull { max_streams: 1 }.to_string().is_empty());
        let d = demux(DemuxConfig::default());
        assert_eq!(d.config().max_streams, DEFAULT_MAX_STREAMS);
        assert!(
            d.memory_per_stream() < 48 * 1024,
            "{}",
            d.memory_per_stream()
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(100))]

        /// Arbitrary frames from arbitrary senders: no panic, the table never passes its
        /// bound, every frame is counted exactly once, and memory per stream is fixed.
        #[test]
        fn the_table_stays_bounded(
            packets in proptest::collection::vec(
                (0u8..6, any::<u16>(), any::<u32>(), any::<u32>(), any::<u32>(), any::<bool>()),
                0..300),
            junk in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..80), 0..20),
        ) {
            let mut d = demux(DemuxConfig { max_streams: 4, ..DemuxConfig::default() });
            let per_stream = d.memory_per_stream();
            let mut frames = 0u64;
            for (mac, port, seq, sec, usec, six) in &packets {
                let base = if *six {
                    FrameSpec::ipv6("2001:db8::1", "2001:db8::2")
                } else {
                    sender_a()
                };
                let spec = base.src_mac([2, 0, 0, 0, 0, *mac]).ports(*port % 3, 9).seq(*seq).time(*sec, *usec);
                deliver(&mut d, &spec, at(u64::from(*seq % 1000)));
                frames += 1;
            }
            for data in &junk {
                d.receive(&CapturedFrame { data, wire_len: 64, offloaded_vlan_tci: None, received: at(0) });
                frames += 1;
            }
            prop_assert!(d.streams().len() <= 4);
            prop_assert_eq!(d.memory_per_stream(), per_stream);
            let in_streams: u64 = d.streams().iter().map(|s| s.sequence().counts().received).sum();
            prop_assert_eq!(in_streams + d.unattributed().packets + d.not_pktgen().total(), frames);
        }
    }
}
