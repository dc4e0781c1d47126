//! One captured Ethernet frame (untrusted bytes) → pktgen's header and the fields that tell
//! its stream apart, or the reason it is not a pktgen packet.
//!
//! What pktgen puts on the wire (`fill_packet_ipv4`, `fill_packet_ipv6` in
//! `net/core/pktgen.c`):
//!
//! ```text
//! Ethernet (dst, src, type)
//!   [MPLS label stack: 1..=16 labels, bottom-of-stack bit on the last]  type 0x8847
//!   [802.1Q tags: SVLAN then VLAN]                  type 0x8100, the SVLAN's inner type 0x8100
//!   IPv4 (IHL 5, no options, not fragmented) or IPv6 (no extension headers)
//!   UDP (checksum 0 unless the UDPCSUM flag)
//!   struct pktgen_hdr: magic 0xbe9be955, seq_num, tv_sec, tv_usec  (all big-endian)
//!   zero padding up to the packet size
//! ```
//!
//! pktgen never sends MPLS and VLAN together (writing `mpls` turns the VLANs off and
//! `vlan_id` clears the labels), and when both are configured its code would put the
//! labels *before* the tags. A network that adds a tag to labelled traffic puts the tags
//! first, so this parser reads the order networks use: tags, then labels, then IP. The
//! header is always there: when `pkt_size` leaves less room, pktgen grows the payload to
//! `sizeof(struct pktgen_hdr)` (the `datalen` check in both fill functions).
//!
//! Parsed more widely than pktgen sends, because a network or a capture may change the
//! frame on the way: IPv4 options (IHL up to 15), the first fragment of a fragmented
//! datagram (it still starts with the UDP header and the pktgen header), 802.1ad S-tags
//! (0x88a8) and the pre-standard 0x9100 QinQ type, the MPLS multicast type (0x8848) beside
//! pktgen's unicast one (0x8847), and a tag the kernel took out of the frame (VLAN offload:
//! AF_PACKET reports it beside the frame, see [`parse_frame_with_offloaded_tag`]). Not
//! parsed: IPv6 extension headers (pktgen sends none; a packet with one is reported as
//! [`NotPktgen::Ipv6ExtensionHeader`]), later IPv4 fragments, more than two VLAN tags, more
//! than 16 MPLS labels (pktgen's `MAX_MPLS_LABELS`), and packets pktgen sent with the
//! `IPSEC` flag (ESP-encrypted by `process_ipsec`: [`NotPktgen::NotUdp`] with protocol 50).
//! Checksums are not verified: the header's fields are read as they are.
//!
//! Parsing reads the bytes in place and returns plain values: no allocation, no panic, for
//! any input (a property test feeds it arbitrary bytes).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use crate::model::MacAddr;

/// `PKTGEN_MAGIC` in `net/core/pktgen.c`: the first word of every pktgen payload.
pub const PKTGEN_MAGIC: u32 = 0xbe9b_e955;

/// `sizeof(struct pktgen_hdr)`: four big-endian 32-bit words.
pub const PKTGEN_HEADER_LEN: usize = 16;

/// The most VLAN tags read: pktgen's VLAN and SVLAN (802.1Q in 802.1Q, "QinQ").
pub const MAX_VLAN_TAGS: usize = 2;

/// The most MPLS labels read: `MAX_MPLS_LABELS` in `net/core/pktgen.c` (16 since 6.15; 15
/// usable before).
pub const MAX_MPLS_LABELS: usize = 16;

const ETHERNET_HEADER_LEN: usize = 14;
const UDP_HEADER_LEN: usize = 8;
const IPV6_HEADER_LEN: usize = 40;
const IPPROTO_UDP: u8 = 17;

const ETH_P_IP: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86dd;
const ETH_P_8021Q: u16 = 0x8100;
const ETH_P_8021AD: u16 = 0x88a8;
const ETH_P_QINQ_9100: u16 = 0x9100;
const ETH_P_MPLS_UC: u16 = 0x8847;
const ETH_P_MPLS_MC: u16 = 0x8848;

/// The IPv6 next-header values that are extension headers (RFC 8200 §4, and the IANA
/// registry's later ones), told apart from other protocols in the reason.
const IPV6_EXTENSION_HEADERS: [u8; 9] = [0, 43, 44, 50, 51, 60, 135, 139, 140];

/// `struct pktgen_hdr` as received, in host order.
///
/// `seq` is `pkt_dev->seq_num` when the skb was built (`pktgen_finalize_skb`); the kernel
/// counts it up once per packet sent, so the copies of one skb (`clone_skb`, `burst`) carry
/// the same number and the next skb carries the first number after them (see
/// [`stream`](super::stream)). `tv_sec`/`tv_usec` are `ktime_get_real_ts64` (wall clock,
/// microseconds, `tv_sec` cut to 32 bits) at the same moment, or both zero with the
/// `NO_TIMESTAMP` flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct PktgenHeader {
    /// The sequence number (`seq_num`).
    pub seq: u32,
    /// Seconds of the send time, the low 32 bits of the Unix time.
    pub tv_sec: u32,
    /// Microseconds of the send time; below 1,000,000 when the header is pktgen's.
    pub tv_usec: u32,
}

impl PktgenHeader {
    /// False when pktgen left the time out (`NO_TIMESTAMP` writes zero to both fields).
    pub fn has_timestamp(&self) -> bool {
        self.tv_sec != 0 || self.tv_usec != 0
    }
}

/// The VLAN ids of a frame (12 bits each; priority and DEI are left out, since they are
/// not what tells pktgen's streams apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct VlanIds {
    /// The outermost tag: pktgen's `svlan_id` in QinQ, else its `vlan_id`.
    pub outer: Option<u16>,
    /// The second tag: pktgen's `vlan_id` in QinQ.
    pub inner: Option<u16>,
}

impl VlanIds {
    /// How many tags the frame had.
    pub fn len(&self) -> usize {
        usize::from(self.outer.is_some()) + usize::from(self.inner.is_some())
    }

    /// True for an untagged frame.
    pub fn is_empty(&self) -> bool {
        self.outer.is_none()
    }

    fn push(&mut self, id: u16) -> Result<(), NotPktgen> {
        if self.outer.is_none() {
            self.outer = Some(id);
        } else if self.inner.is_none() {
            self.inner = Some(id);
        } else {
            return Err(NotPktgen::TooManyVlanTags);
        }
        Ok(())
    }
}

/// The header fields that can tell one pktgen stream from another: what a pktgen device
/// sets with `src_mac`, `vlan_id`/`svlan_id`, `src_min`/`src6`, `dst`/`dst6`,
/// `udp_src_min` and `udp_dst_min`. Which of them identify a stream is the demultiplexer's
/// choice ([`KeyFields`](super::demux::KeyFields)): the `*_RND` flags and ranges vary some
/// of them from packet to packet within one device's sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct StreamFields {
    /// The Ethernet source address.
    pub src_mac: MacAddr,
    /// The VLAN ids, outermost first.
    pub vlan: VlanIds,
    /// The IP source address (v4 or v6).
    pub src_ip: IpAddr,
    /// The IP destination address (same version as `src_ip`).
    pub dst_ip: IpAddr,
    /// The UDP source port.
    pub src_port: u16,
    /// The UDP destination port.
    pub dst_port: u16,
}

/// A frame that carries pktgen's header: where it came from and what it says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct PktgenPacket {
    /// The fields that identify its stream.
    pub fields: StreamFields,
    /// The pktgen header.
    pub header: PktgenHeader,
    /// How many MPLS labels preceded the IP header (0 without MPLS).
    pub mpls_labels: u8,
}

/// The header a [`NotPktgen::Truncated`] frame ended in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    /// The 14-byte Ethernet header.
    Ethernet,
    /// A 4-byte VLAN tag.
    VlanTag,
    /// A 4-byte MPLS label, or the IP version nibble after the stack.
    MplsLabel,
    /// The IPv4 header (20 bytes, or IHL × 4 with options).
    Ipv4,
    /// The 40-byte IPv6 header.
    Ipv6,
    /// The 8-byte UDP header.
    Udp,
    /// The 16-byte pktgen header.
    PktgenHeader,
}

impl Layer {
    /// The name used in messages and counters.
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Ethernet => "ethernet",
            Layer::VlanTag => "vlan tag",
            Layer::MplsLabel => "mpls label",
            Layer::Ipv4 => "ipv4",
            Layer::Ipv6 => "ipv6",
            Layer::Udp => "udp",
            Layer::PktgenHeader => "pktgen header",
        }
    }
}

/// Why a frame is not (or cannot be read as) a pktgen packet. Every frame that is not one
/// gets exactly one reason; parsing stops at the first problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotPktgen {
    /// The frame ended inside this header.
    Truncated(Layer),
    /// An Ethernet type (or 802.3 length) that is not IPv4, IPv6, VLAN or MPLS.
    EtherType(u16),
    /// A third VLAN tag (pktgen sends at most two).
    TooManyVlanTags,
    /// No bottom-of-stack bit within [`MAX_MPLS_LABELS`] labels.
    MplsStackTooDeep,
    /// The first nibble after the MPLS stack is neither 4 nor 6.
    MplsPayload(u8),
    /// The IP version nibble does not match the Ethernet type.
    IpVersion(u8),
    /// An IPv4 IHL below 5.
    Ipv4HeaderLength(u8),
    /// An IPv4 total length too small for its header, UDP and the pktgen header.
    Ipv4TotalLength(u16),
    /// A later fragment of an IPv4 datagram (fragment offset ≠ 0): no UDP header in it.
    Ipv4Fragment,
    /// An IPv6 payload length too small for UDP and the pktgen header.
    Ipv6PayloadLength(u16),
    /// An IPv6 extension header (not parsed: pktgen sends none).
    Ipv6ExtensionHeader(u8),
    /// An IP protocol (IPv6 next header) other than UDP.
    NotUdp(u8),
    /// A UDP length too small for the pktgen header, or larger than the IP payload.
    UdpLength(u16),
    /// The UDP payload does not start with [`PKTGEN_MAGIC`]; holds the word found.
    NoMagic(u32),
}

/// The kind of a [`NotPktgen`] reason, without its data: what the receivers count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NotPktgenKind {
    /// [`NotPktgen::Truncated`].
    Truncated,
    /// [`NotPktgen::EtherType`].
    EtherType,
    /// [`NotPktgen::TooManyVlanTags`].
    TooManyVlanTags,
    /// [`NotPktgen::MplsStackTooDeep`].
    MplsStackTooDeep,
    /// [`NotPktgen::MplsPayload`].
    MplsPayload,
    /// [`NotPktgen::IpVersion`].
    IpVersion,
    /// [`NotPktgen::Ipv4HeaderLength`].
    Ipv4HeaderLength,
    /// [`NotPktgen::Ipv4TotalLength`].
    Ipv4TotalLength,
    /// [`NotPktgen::Ipv4Fragment`].
    Ipv4Fragment,
    /// [`NotPktgen::Ipv6PayloadLength`].
    Ipv6PayloadLength,
    /// [`NotPktgen::Ipv6ExtensionHeader`].
    Ipv6ExtensionHeader,
    /// [`NotPktgen::NotUdp`].
    NotUdp,
    /// [`NotPktgen::UdpLength`].
    UdpLength,
    /// [`NotPktgen::NoMagic`].
    NoMagic,
}

impl NotPktgenKind {
    /// Every kind, in declaration order (the order of [`NotPktgenKind::index`]).
    pub const ALL: [NotPktgenKind; 14] = [
        NotPktgenKind::Truncated,
        NotPktgenKind::EtherType,
        NotPktgenKind::TooManyVlanTags,
        NotPktgenKind::MplsStackTooDeep,
        NotPktgenKind::MplsPayload,
        NotPktgenKind::IpVersion,
        NotPktgenKind::Ipv4HeaderLength,
        NotPktgenKind::Ipv4TotalLength,
        NotPktgenKind::Ipv4Fragment,
        NotPktgenKind::Ipv6PayloadLength,
        NotPktgenKind::Ipv6ExtensionHeader,
        NotPktgenKind::NotUdp,
        NotPktgenKind::UdpLength,
        NotPktgenKind::NoMagic,
    ];

    /// The position in [`NotPktgenKind::ALL`], for counter arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The snake_case name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            NotPktgenKind::Truncated => "truncated",
            NotPktgenKind::EtherType => "ether_type",
            NotPktgenKind::TooManyVlanTags => "too_many_vlan_tags",
            NotPktgenKind::MplsStackTooDeep => "mpls_stack_too_deep",
            NotPktgenKind::MplsPayload => "mpls_payload",
            NotPktgenKind::IpVersion => "ip_version",
            NotPktgenKind::Ipv4HeaderLength => "ipv4_header_length",
            NotPktgenKind::Ipv4TotalLength => "ipv4_total_length",
            NotPktgenKind::Ipv4Fragment => "ipv4_fragment",
            NotPktgenKind::Ipv6PayloadLength => "ipv6_payload_length",
            NotPktgenKind::Ipv6ExtensionHeader => "ipv6_extension_header",
            NotPktgenKind::NotUdp => "not_udp",
            NotPktgenKind::UdpLength => "udp_length",
            NotPktgenKind::NoMagic => "no_magic",
        }
    }
}

impl NotPktgen {
    /// The reason's kind, without its data.
    pub fn kind(&self) -> NotPktgenKind {
        match self {
            NotPktgen::Truncated(_) => NotPktgenKind::Truncated,
            NotPktgen::EtherType(_) => NotPktgenKind::EtherType,
            NotPktgen::TooManyVlanTags => NotPktgenKind::TooManyVlanTags,
            NotPktgen::MplsStackTooDeep => NotPktgenKind::MplsStackTooDeep,
            NotPktgen::MplsPayload(_) => NotPktgenKind::MplsPayload,
            NotPktgen::IpVersion(_) => NotPktgenKind::IpVersion,
            NotPktgen::Ipv4HeaderLength(_) => NotPktgenKind::Ipv4HeaderLength,
            NotPktgen::Ipv4TotalLength(_) => NotPktgenKind::Ipv4TotalLength,
            NotPktgen::Ipv4Fragment => NotPktgenKind::Ipv4Fragment,
            NotPktgen::Ipv6PayloadLength(_) => NotPktgenKind::Ipv6PayloadLength,
            NotPktgen::Ipv6ExtensionHeader(_) => NotPktgenKind::Ipv6ExtensionHeader,
            NotPktgen::NotUdp(_) => NotPktgenKind::NotUdp,
            NotPktgen::UdpLength(_) => NotPktgenKind::UdpLength,
            NotPktgen::NoMagic(_) => NotPktgenKind::NoMagic,
        }
    }
}

impl fmt::Display for NotPktgen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotPktgen::Truncated(layer) => write!(f, "frame ends inside the {}", layer.as_str()),
            NotPktgen::EtherType(t) => write!(f, "ethernet type {t:#06x} is not IP, VLAN or MPLS"),
            NotPktgen::TooManyVlanTags => {
                write!(f, "more than {MAX_VLAN_TAGS} VLAN tags")
            }
            NotPktgen::MplsStackTooDeep => {
                write!(f, "no bottom of stack within {MAX_MPLS_LABELS} MPLS labels")
            }
            NotPktgen::MplsPayload(v) => {
                write!(f, "MPLS payload has IP version {v}, not 4 or 6")
            }
            NotPktgen::IpVersion(v) => write!(f, "IP version {v} does not match the ethernet type"),
            NotPktgen::Ipv4HeaderLength(ihl) => write!(f, "IPv4 IHL {ihl} is below 5"),
            NotPktgen::Ipv4TotalLength(len) => {
                write!(
                    f,
                    "IPv4 total length {len} leaves no room for UDP and the pktgen header"
                )
            }
            NotPktgen::Ipv4Fragment => write!(f, "a later IPv4 fragment (no UDP header)"),
            NotPktgen::Ipv6PayloadLength(len) => {
                write!(
                    f,
                    "IPv6 payload length {len} leaves no room for UDP and the pktgen header"
                )
            }
            NotPktgen::Ipv6ExtensionHeader(nh) => {
                write!(f, "IPv6 extension header {nh} (not parsed)")
            }
            NotPktgen::NotUdp(p) => write!(f, "IP protocol {p} is not UDP"),
            NotPktgen::UdpLength(len) => {
                write!(
                    f,
                    "UDP length {len} does not fit the pktgen header in the IP payload"
                )
            }
            NotPktgen::NoMagic(word) => {
                write!(
                    f,
                    "UDP payload starts with {word:#010x}, not pktgen's magic"
                )
            }
        }
    }
}

impl std::error::Error for NotPktgen {}

/// Parses one Ethernet frame as it was on the wire (every VLAN tag still in it).
pub fn parse_frame(frame: &[u8]) -> Result<PktgenPacket, NotPktgen> {
    parse_frame_with_offloaded_tag(frame, None)
}

/// Parses one Ethernet frame whose outermost VLAN tag the kernel may have taken out.
///
/// With VLAN receive offload, a NIC (or the kernel's software equivalent) removes the
/// outer 802.1Q tag and AF_PACKET reports its TCI beside the frame (`tp_vlan_tci`, valid
/// when `TP_STATUS_VLAN_VALID` is set). Pass it here so that it still counts as the
/// frame's outer VLAN; any tags left in the frame come after it.
pub fn parse_frame_with_offloaded_tag(
    frame: &[u8],
    offloaded_vlan_tci: Option<u16>,
) -> Result<PktgenPacket, NotPktgen> {
    let mut r = Reader::new(frame);
    let eth = r.take::<ETHERNET_HEADER_LEN>(Layer::Ethernet)?;
    let src_mac = MacAddr([eth[6], eth[7], eth[8], eth[9], eth[10], eth[11]]);
    let mut ether_type = u16::from_be_bytes([eth[12], eth[13]]);

    let mut vlan = VlanIds::default();
    if let Some(tci) = offloaded_vlan_tci {
        vlan.push(tci & 0x0fff)?;
    }
    while matches!(ether_type, ETH_P_8021Q | ETH_P_8021AD | ETH_P_QINQ_9100) {
        let tag = r.take::<4>(Layer::VlanTag)?;
        vlan.push(u16::from_be_bytes([tag[0], tag[1]]) & 0x0fff)?;
        ether_type = u16::from_be_bytes([tag[2], tag[3]]);
    }

    let mut mpls_labels = 0u8;
    let ip_version = match ether_type {
        ETH_P_IP => 4,
        ETH_P_IPV6 => 6,
        ETH_P_MPLS_UC | ETH_P_MPLS_MC => {
            // `mpls_push`: the labels in order, the bottom-of-stack bit (0x100) on the last.
            loop {
                if usize::from(mpls_labels) == MAX_MPLS_LABELS {
                    return Err(NotPktgen::MplsStackTooDeep);
                }
                let label = r.take::<4>(Layer::MplsLabel)?;
                mpls_labels += 1;
                if label[2] & 0x01 != 0 {
                    break;
                }
            }
            // MPLS does not say what it carries; the IP header's version nibble does.
            match r.peek_first(Layer::MplsLabel)? >> 4 {
                4 => 4,
                6 => 6,
                other => return Err(NotPktgen::MplsPayload(other)),
            }
        }
        other => return Err(NotPktgen::EtherType(other)),
    };

    let (src_ip, dst_ip, udp_room) = if ip_version == 4 {
        parse_ipv4(&mut r)?
    } else {
        parse_ipv6(&mut r)?
    };

    let udp = r.take::<UDP_HEADER_LEN>(Layer::Udp)?;
    let udp_len = u16::from_be_bytes([udp[4], udp[5]]);
    let fits = usize::from(udp_len) >= UDP_HEADER_LEN + PKTGEN_HEADER_LEN
        && udp_room.is_none_or(|room| usize::from(udp_len) <= room);
    if !fits {
        return Err(NotPktgen::UdpLength(udp_len));
    }

    let pgh = r.take::<PKTGEN_HEADER_LEN>(Layer::PktgenHeader)?;
    let word = |i: usize| u32::from_be_bytes([pgh[i], pgh[i + 1], pgh[i + 2], pgh[i + 3]]);
    let magic = word(0);
    if magic != PKTGEN_MAGIC {
        return Err(NotPktgen::NoMagic(magic));
    }
    Ok(PktgenPacket {
        fields: StreamFields {
            src_mac,
            vlan,
            src_ip,
            dst_ip,
            src_port: u16::from_be_bytes([udp[0], udp[1]]),
            dst_port: u16::from_be_bytes([udp[2], udp[3]]),
        },
        header: PktgenHeader {
            seq: word(4),
            tv_sec: word(8),
            tv_usec: word(12),
        },
        mpls_labels,
    })
}

/// The addresses, and the room the IP header leaves for UDP (`None` for the first fragment
/// of a larger datagram, where the UDP length covers more than this frame).
fn parse_ipv4(r: &mut Reader<'_>) -> Result<(IpAddr, IpAddr, Option<usize>), NotPktgen> {
    let h = r.take::<20>(Layer::Ipv4)?;
    let version = h[0] >> 4;
    if version != 4 {
        return Err(NotPktgen::IpVersion(version));
    }
    let ihl = h[0] & 0x0f;
    if ihl < 5 {
        return Err(NotPktgen::Ipv4HeaderLength(ihl));
    }
    let header_len = usize::from(ihl) * 4;
    r.skip(header_len - 20, Layer::Ipv4)?;
    let total_len = u16::from_be_bytes([h[2], h[3]]);
    if usize::from(total_len) < header_len + UDP_HEADER_LEN + PKTGEN_HEADER_LEN {
        return Err(NotPktgen::Ipv4TotalLength(total_len));
    }
    let flags_fragment = u16::from_be_bytes([h[6], h[7]]);
    if flags_fragment & 0x1fff != 0 {
        return Err(NotPktgen::Ipv4Fragment);
    }
    let more_fragments = flags_fragment & 0x2000 != 0;
    if h[9] != IPPROTO_UDP {
        return Err(NotPktgen::NotUdp(h[9]));
    }
    let src = Ipv4Addr::new(h[12], h[13], h[14], h[15]);
    let dst = Ipv4Addr::new(h[16], h[17], h[18], h[19]);
    let room = (!more_fragments).then(|| usize::from(total_len) - header_len);
    Ok((IpAddr::V4(src), IpAddr::V4(dst), room))
}

fn parse_ipv6(r: &mut Reader<'_>) -> Result<(IpAddr, IpAddr, Option<usize>), NotPktgen> {
    let h = r.take::<IPV6_HEADER_LEN>(Layer::Ipv6)?;
    let version = h[0] >> 4;
    if version != 6 {
        return Err(NotPktgen::IpVersion(version));
    }
    let payload_len = u16::from_be_bytes([h[4], h[5]]);
    let next_header = h[6];
    if next_header != IPPROTO_UDP {
        if IPV6_EXTENSION_HEADERS.contains(&next_header) {
            return Err(NotPktgen::Ipv6ExtensionHeader(next_header));
        }
        return Err(NotPktgen::NotUdp(next_header));
    }
    if usize::from(payload_len) < UDP_HEADER_LEN + PKTGEN_HEADER_LEN {
        return Err(NotPktgen::Ipv6PayloadLength(payload_len));
    }
    let mut src = [0u8; 16];
    src.copy_from_slice(&h[8..24]);
    let mut dst = [0u8; 16];
    dst.copy_from_slice(&h[24..40]);
    Ok((
        IpAddr::V6(Ipv6Addr::from(src)),
        IpAddr::V6(Ipv6Addr::from(dst)),
        Some(usize::from(payload_len)),
    ))
}

/// Reads fixed-size pieces off the front of the frame; running out is
/// [`NotPktgen::Truncated`] in the layer being read.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader { rest: bytes }
    }

    fn take<const N: usize>(&mut self, layer: Layer) -> Result<[u8; N], NotPktgen> {
        let (head, tail) = self
            .rest
            .split_first_chunk::<N>()
            .ok_or(NotPktgen::Truncated(layer))?;
        self.rest = tail;
        Ok(*head)
    }

    fn skip(&mut self, n: usize, layer: Layer) -> Result<(), NotPktgen> {
        self.rest = self.rest.get(n..).ok_or(NotPktgen::Truncated(layer))?;
        Ok(())
    }

    fn peek_first(&self, layer: Layer) -> Result<u8, NotPktgen> {
        self.rest
            .first()
            .copied()
            .ok_or(NotPktgen::Truncated(layer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::receive::test_frame::{FrameSpec, Tag};
    use proptest::prelude::*;

    fn v4() -> FrameSpec {
        FrameSpec::ipv4([10, 0, 0, 1], [10, 0, 0, 2])
    }

    fn v6() -> FrameSpec {
        FrameSpec::ipv6("2001:db8::1", "2001:db8::2")
    }

    #[test]
    fn plain_ipv4_gives_the_header_and_the_stream_fields() {
        let spec = v4()
            .seq(42)
            .time(1_700_000_000, 123_456)
            .ports(9, 4000)
            .src_mac([0x52, 0x54, 0, 0x12, 0x34, 0x56]);
        let p = parse_frame(&spec.build()).unwrap();
        assert_eq!(
            p.header,
            PktgenHeader {
                seq: 42,
                tv_sec: 1_700_000_000,
                tv_usec: 123_456
            }
        );
        assert_eq!(p.fields.src_mac, MacAddr([0x52, 0x54, 0, 0x12, 0x34, 0x56]));
        assert_eq!(p.fields.src_ip, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(p.fields.dst_ip, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)));
        assert_eq!((p.fields.src_port, p.fields.dst_port), (9, 4000));
        assert!(p.fields.vlan.is_empty());
        assert_eq!(p.mpls_labels, 0);
        assert!(p.header.has_timestamp());
    }

    #[test]
    fn plain_ipv6() {
        let p = parse_frame(&v6().seq(7).build()).unwrap();
        assert_eq!(p.header.seq, 7);
        assert_eq!(p.fields.src_ip, "2001:db8::1".parse::<IpAddr>().unwrap());
        assert_eq!(p.fields.dst_ip, "2001:db8::2".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn no_timestamp_is_two_zero_words() {
        let p = parse_frame(&v4().time(0, 0).build()).unwrap();
        assert!(!p.header.has_timestamp());
    }

    #[test]
    fn a_single_vlan_tag() {
        for ip in [v4(), v6()] {
            let p = parse_frame(&ip.tag(Tag::dot1q(100)).build()).unwrap();
            assert_eq!(
                p.fields.vlan,
                VlanIds {
                    outer: Some(100),
                    inner: None
                }
            );
        }
    }

    #[test]
    fn qinq_as_pktgen_sends_it_and_as_802_1ad() {
        // pktgen: 0x8100 outside (svlan_id), 0x8100 inside (vlan_id).
        let pktgen = v4().tag(Tag::dot1q(20)).tag(Tag::dot1q(10));
        // A provider bridge: an S-tag (0x88a8) outside.
        let ad = v6().tag(Tag::dot1ad(20)).tag(Tag::dot1q(10));
        let old = v4().tag(Tag::with_tpid(0x9100, 20)).tag(Tag::dot1q(10));
        for spec in [pktgen, ad, old] {
            let p = parse_frame(&spec.build()).unwrap();
            assert_eq!(
                p.fields.vlan,
                VlanIds {
                    outer: Some(20),
                    inner: Some(10)
                }
            );
        }
    }

    #[test]
    fn priority_and_dei_are_not_part_of_the_id() {
        let tag = Tag {
            tpid: 0x8100,
            tci: (5 << 13) | (1 << 12) | 300,
        };
        let p = parse_frame(&v4().tag(tag).build()).unwrap();
        assert_eq!(p.fields.vlan.outer, Some(300));
    }

    #[test]
    fn three_tags_are_too_many() {
        let spec = v4()
            .tag(Tag::dot1q(1))
            .tag(Tag::dot1q(2))
            .tag(Tag::dot1q(3));
        assert_eq!(parse_frame(&spec.build()), Err(NotPktgen::TooManyVlanTags));
    }

    #[test]
    fn an_offloaded_tag_is_the_outer_one() {
        let frame = v4().tag(Tag::dot1q(10)).build();
        let p = parse_frame_with_offloaded_tag(&frame, Some((3 << 13) | 20)).unwrap();
        assert_eq!(
            p.fields.vlan,
            VlanIds {
                outer: Some(20),
                inner: Some(10)
            }
        );
        let frame = v4().tag(Tag::dot1q(2)).tag(Tag::dot1q(3)).build();
        assert_eq!(
            parse_frame_with_offloaded_tag(&frame, Some(1)),
            Err(NotPktgen::TooManyVlanTags)
        );
    }

    #[test]
    fn mpls_stacks_of_one_to_sixteen_labels_over_v4_and_v6() {
        for n in 1..=MAX_MPLS_LABELS {
            for ip in [v4(), v6()] {
                let labels: Vec<u32> = (0..n as u32).map(|i| 0x0001_0000 + (i << 12)).collect();
                let p = parse_frame(&ip.clone().mpls(&labels).seq(n as u32).build()).unwrap();
                assert_eq!(usize::from(p.mpls_labels), n);
                assert_eq!(p.header.seq, n as u32);
                assert_eq!(p.fields.src_ip, ip.src_ip());
            }
        }
    }

    #[test]
    fn a_seventeenth_label_is_too_deep() {
        let labels = [0x0001_0000u32; MAX_MPLS_LABELS + 1];
        assert_eq!(
            parse_frame(&v4().mpls(&labels).build()),
            Err(NotPktgen::MplsStackTooDeep)
        );
    }

    #[test]
    fn mpls_without_bottom_of_stack_runs_off_the_frame() {
        let mut frame = v4().mpls(&[0x0001_0000]).build();
        frame[14 + 2] &= !0x01; // clear S on the only label
        frame.truncate(14 + 4);
        assert_eq!(
            parse_frame(&frame),
            Err(NotPktgen::Truncated(Layer::MplsLabel))
        );
    }

    #[test]
    fn mpls_over_something_else_is_named() {
        let mut frame = v4().mpls(&[0x0001_0000]).build();
        frame[14 + 4] = 0x00; // an Ethernet pseudowire control word, say
        assert_eq!(parse_frame(&frame), Err(NotPktgen::MplsPayload(0)));
    }

    #[test]
    fn vlan_then_mpls_as_a_network_would_tag_it() {
        let spec = v6().tag(Tag::dot1q(7)).mpls(&[0x0002_0000, 0x0003_0000]);
        let p = parse_frame(&spec.build()).unwrap();
        assert_eq!(p.fields.vlan.outer, Some(7));
        assert_eq!(p.mpls_labels, 2);
    }

    #[test]
    fn ipv4_options_are_skipped() {
        for words in 1..=10u8 {
            let options = vec![1u8; usize::from(words) * 4]; // NOP options
            let p = parse_frame(&v4().ipv4_options(&options).seq(9).build()).unwrap();
            assert_eq!(p.header.seq, 9);
        }
    }

    #[test]
    fn ihl_below_five() {
        let mut frame = v4().build();
        frame[14] = 0x44;
        assert_eq!(parse_frame(&frame), Err(NotPktgen::Ipv4HeaderLength(4)));
    }

    #[test]
    fn a_first_fragment_is_read_and_a_later_one_is_named() {
        let mut frame = v4().build();
        frame[14 + 6] = 0x20; // MF, offset 0
                              // The UDP length covers the whole datagram, beyond this fragment.
        frame[14 + 20 + 4..14 + 20 + 6].copy_from_slice(&3000u16.to_be_bytes());
        assert!(parse_frame(&frame).is_ok());
        frame[14 + 7] = 0x10; // offset 16 × 8
        assert_eq!(parse_frame(&frame), Err(NotPktgen::Ipv4Fragment));
    }

    #[test]
    fn ethernet_padding_after_a_minimum_packet_is_fine() {
        // pkt_size 42: pktgen grows the payload to the 16-byte header (58 bytes); the NIC
        // pads the frame to 60.
        let mut frame = v4().build();
        assert_eq!(frame.len(), 14 + 20 + 8 + 16);
        frame.extend_from_slice(&[0, 0]);
        assert!(parse_frame(&frame).is_ok());
    }

    #[test]
    fn lengths_too_small_for_the_header() {
        let mut frame = v4().build();
        frame[14 + 2..14 + 4].copy_from_slice(&43u16.to_be_bytes());
        assert_eq!(parse_frame(&frame), Err(NotPktgen::Ipv4TotalLength(43)));

        let mut frame = v4().build();
        frame[14 + 20 + 4..14 + 20 + 6].copy_from_slice(&23u16.to_be_bytes());
        assert_eq!(parse_frame(&frame), Err(NotPktgen::UdpLength(23)));

        let mut frame = v4().build();
        frame[14 + 20 + 4..14 + 20 + 6].copy_from_slice(&100u16.to_be_bytes());
        assert_eq!(parse_frame(&frame), Err(NotPktgen::UdpLength(100)));

        let mut frame = v6().build();
        frame[14 + 4..14 + 6].copy_from_slice(&20u16.to_be_bytes());
        assert_eq!(parse_frame(&frame), Err(NotPktgen::Ipv6PayloadLength(20)));
    }

    #[test]
    fn ipv6_extension_headers_are_named_not_parsed() {
        let mut frame = v6().build();
        frame[14 + 6] = 44; // fragment header
        assert_eq!(parse_frame(&frame), Err(NotPktgen::Ipv6ExtensionHeader(44)));
        frame[14 + 6] = 6; // TCP
        assert_eq!(parse_frame(&frame), Err(NotPktgen::NotUdp(6)));
    }

    #[test]
    fn other_traffic_is_named() {
        let mut frame = v4().build();
        frame[12..14].copy_from_slice(&0x0806u16.to_be_bytes()); // ARP
        assert_eq!(parse_frame(&frame), Err(NotPktgen::EtherType(0x0806)));

        let mut frame = v4().build();
        frame[14 + 9] = 1; // ICMP
        assert_eq!(parse_frame(&frame), Err(NotPktgen::NotUdp(1)));

        let mut frame = v4().build();
        frame[14] = 0x65; // version 6 under an IPv4 type
        assert_eq!(parse_frame(&frame), Err(NotPktgen::IpVersion(6)));

        let mut frame = v4().build();
        frame[14 + 20 + 8] ^= 0xff;
        assert_eq!(parse_frame(&frame), Err(NotPktgen::NoMagic(0x419b_e955)));
    }

    #[test]
    fn every_cut_of_every_encapsulation_is_truncated_in_its_layer() {
        let specs = [
            v4(),
            v6(),
            v4().tag(Tag::dot1q(1)).tag(Tag::dot1q(2)),
            v6().mpls(&[0x0001_0000, 0x0002_0000]),
            v4().ipv4_options(&[1, 1, 1, 1]),
        ];
        for spec in specs {
            let frame = spec.build();
            for len in 0..frame.len() {
                match parse_frame(&frame[..len]) {
                    Err(NotPktgen::Truncated(_)) => {}
                    other => panic!("{len} of {} bytes: {other:?}", frame.len()),
                }
            }
            assert!(parse_frame(&frame).is_ok());
        }
    }

    #[test]
    fn the_layer_a_cut_ends_in() {
        let frame = v4().tag(Tag::dot1q(1)).build();
        let cases = [
            (10, Layer::Ethernet),
            (16, Layer::VlanTag),
            (30, Layer::Ipv4),
            (14 + 4 + 20 + 4, Layer::Udp),
            (14 + 4 + 20 + 8 + 15, Layer::PktgenHeader),
        ];
        for (len, layer) in cases {
            assert_eq!(parse_frame(&frame[..len]), Err(NotPktgen::Truncated(layer)));
        }
        let frame = v6().build();
        assert_eq!(
            parse_frame(&frame[..14 + 39]),
            Err(NotPktgen::Truncated(Layer::Ipv6))
        );
    }

    #[test]
    fn kinds_are_indexed_in_order_and_every_reason_reads() {
        for (i, kind) in NotPktgenKind::ALL.iter().enumerate() {
            assert_eq!(kind.index(), i);
        }
        let reasons = [
            NotPktgen::Truncated(Layer::Udp),
            NotPktgen::EtherType(0x0806),
            NotPktgen::TooManyVlanTags,
            NotPktgen::MplsStackTooDeep,
            NotPktgen::MplsPayload(0),
            NotPktgen::IpVersion(6),
            NotPktgen::Ipv4HeaderLength(3),
            NotPktgen::Ipv4TotalLength(40),
            NotPktgen::Ipv4Fragment,
            NotPktgen::Ipv6PayloadLength(8),
            NotPktgen::Ipv6ExtensionHeader(0),
            NotPktgen::NotUdp(6),
            NotPktgen::UdpLength(8),
            NotPktgen::NoMagic(0),
        ];
        let kinds: Vec<_> = reasons.iter().map(NotPktgen::kind).collect();
        assert_eq!(kinds, NotPktgenKind::ALL);
        for r in reasons {
            assert!(!r.to_string().is_empty());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200),
                                       tci in proptest::option::of(any::<u16>())) {
            let _ = parse_frame(&bytes);
            let _ = parse_frame_with_offloaded_tag(&bytes, tci);
        }

        /// A valid frame with its bytes changed at random: parses or gives a reason.
        #[test]
        fn mutated_frames_never_panic(flips in proptest::collection::vec((0usize..120, any::<u8>()), 1..8),
                                      cut in 0usize..130,
                                      mpls in 0usize..4,
                                      tags in 0usize..3,
                                      six in any::<bool>()) {
            let mut spec = if six { v6() } else { v4() };
            for i in 0..tags {
                spec = spec.tag(Tag::dot1q(i as u16 + 1));
            }
            if mpls > 0 {
                spec = spec.mpls(&vec![0x0001_0000; mpls]);
            }
            let mut frame = spec.build();
            for (at, value) in flips {
                if let Some(b) = frame.get_mut(at) {
                    *b = value;
                }
            }
            frame.truncate(cut);
            let _ = parse_frame(&frame);
        }

        #[test]
        fn built_frames_round_trip(seq in any::<u32>(), sec in any::<u32>(), usec in 0u32..1_000_000,
                                   sport in any::<u16>(), dport in any::<u16>(),
                                   outer in proptest::option::of(0u16..4096),
                                   six in any::<bool>(), pad in 0usize..64) {
            let mut spec = if six { v6() } else { v4() };
            spec = spec.seq(seq).time(sec, usec).ports(sport, dport).padding(pad);
            if let Some(id) = outer {
                spec = spec.tag(Tag::dot1q(id));
            }
            let p = parse_frame(&spec.build()).unwrap();
            prop_assert_eq!(p.header, PktgenHeader { seq, tv_sec: sec, tv_usec: usec });
            prop_assert_eq!((p.fields.src_port, p.fields.dst_port), (sport, dport));
            prop_assert_eq!(p.fields.vlan.outer, outer);
        }
    }
}
