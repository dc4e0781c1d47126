//! Builds frames as pktgen (or a network that tags or labels them) would put them on the
//! wire, for the receivers' tests. Written from the packet layouts (RFC 791, RFC 8200,
//! RFC 768, IEEE 802.1Q, RFC 3032), not from the kernel's code.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::model::MacAddr;
use crate::receive::frame::PKTGEN_MAGIC;

/// One VLAN tag: its type (TPID) and its TCI (priority, DEI, id).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tag {
    pub tpid: u16,
    pub tci: u16,
}

impl Tag {
    pub fn dot1q(id: u16) -> Tag {
        Tag::with_tpid(0x8100, id)
    }

    pub fn dot1ad(id: u16) -> Tag {
        Tag::with_tpid(0x88a8, id)
    }

    pub fn with_tpid(tpid: u16, id: u16) -> Tag {
        Tag { tpid, tci: id }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum IpSpec {
    V4 {
        src: Ipv4Addr,
        dst: Ipv4Addr,
        options: Vec<u8>,
    },
    V6 {
        src: Ipv6Addr,
        dst: Ipv6Addr,
    },
}

/// What to put in the frame; [`FrameSpec::build`] lays it out.
#[derive(Debug, Clone)]
pub(crate) struct FrameSpec {
    pub dst_mac: MacAddr,
    pub src_mac: MacAddr,
    pub tags: Vec<Tag>,
    /// Label stack entries as pktgen's `mpls` command takes them (label, TC, S, TTL in one
    /// word); the bottom-of-stack bit is set on the last one and cleared on the others.
    pub mpls: Vec<u32>,
    pub ip: IpSpec,
    pub src_port: u16,
    pub dst_port: u16,
    pub magic: u32,
    pub seq: u32,
    pub tv_sec: u32,
    pub tv_usec: u32,
    /// Zero bytes after the pktgen header (pktgen pads the payload to `pkt_size`).
    pub padding: usize,
}

impl FrameSpec {
    fn new(ip: IpSpec) -> FrameSpec {
        FrameSpec {
            dst_mac: MacAddr([0x02, 0, 0, 0, 0, 0x02]),
            src_mac: MacAddr([0x02, 0, 0, 0, 0, 0x01]),
            tags: Vec::new(),
            mpls: Vec::new(),
            ip,
            src_port: 9,
            dst_port: 9,
            magic: PKTGEN_MAGIC,
            seq: 1,
            tv_sec: 1_700_000_000,
            tv_usec: 0,
            padding: 0,
        }
    }

    pub fn ipv4(src: [u8; 4], dst: [u8; 4]) -> FrameSpec {
        FrameSpec::new(IpSpec::V4 {
            src: Ipv4Addr::from(src),
            dst: Ipv4Addr::from(dst),
            options: Vec::new(),
        })
    }

    pub fn ipv6(src: &str, dst: &str) -> FrameSpec {
        FrameSpec::new(IpSpec::V6 {
            src: src.parse().expect("test address"),
            dst: dst.parse().expect("test address"),
        })
    }

    pub fn src_ip(&self) -> IpAddr {
        match &self.ip {
            IpSpec::V4 { src, .. } => IpAddr::V4(*src),
            IpSpec::V6 { src, .. } => IpAddr::V6(*src),
        }
    }

    pub fn seq(mut self, seq: u32) -> FrameSpec {
        self.seq = seq;
        self
    }

    pub fn time(mut self, tv_sec: u32, tv_usec: u32) -> FrameSpec {
        self.tv_sec = tv_sec;
        self.tv_usec = tv_usec;
        self
    }

    pub fn ports(mut self, src: u16, dst: u16) -> FrameSpec {
        self.src_port = src;
        self.dst_port = dst;
        self
    }

    pub fn src_mac(mut self, mac: [u8; 6]) -> FrameSpec {
        self.src_mac = MacAddr(mac);
        self
    }

    pub fn tag(mut self, tag: Tag) -> FrameSpec {
        self.tags.push(tag);
        self
    }

    pub fn mpls(mut self, labels: &[u32]) -> FrameSpec {
        self.mpls = labels.to_vec();
        self
    }

    pub fn ipv4_options(mut self, bytes: &[u8]) -> FrameSpec {
        assert_eq!(bytes.len() % 4, 0, "IPv4 options come in 32-bit words");
        if let IpSpec::V4 { options, .. } = &mut self.ip {
            *options = bytes.to_vec();
        }
        self
    }

    pub fn padding(mut self, bytes: usize) -> FrameSpec {
        self.padding = bytes;
        self
    }

    pub fn build(&self) -> Vec<u8> {
        let mut payload = Vec::new();
        payload.extend_from_slice(&self.magic.to_be_bytes());
        payload.extend_from_slice(&self.seq.to_be_bytes());
        payload.extend_from_slice(&self.tv_sec.to_be_bytes());
        payload.extend_from_slice(&self.tv_usec.to_be_bytes());
        payload.resize(payload.len() + self.padding, 0);

        let udp_len = (8 + payload.len()) as u16;
        let mut udp = Vec::new();
        udp.extend_from_slice(&self.src_port.to_be_bytes());
        udp.extend_from_slice(&self.dst_port.to_be_bytes());
        udp.extend_from_slice(&udp_len.to_be_bytes());
        udp.extend_from_slice(&[0, 0]); // no checksum, as pktgen without UDPCSUM
        udp.extend_from_slice(&payload);

        let (ip_type, ip) = match &self.ip {
            IpSpec::V4 { src, dst, options } => {
                let header_len = 20 + options.len();
                let mut h = Vec::new();
                h.push(0x40 | (header_len / 4) as u8);
                h.push(0); // TOS
                h.extend_from_slice(&((header_len + udp.len()) as u16).to_be_bytes());
                h.extend_from_slice(&[0, 0, 0, 0]); // id, flags, fragment offset
                h.push(32); // TTL, as pktgen
                h.push(17);
                h.extend_from_slice(&[0, 0]); // checksum: not checked by the parser
                h.extend_from_slice(&src.octets());
                h.extend_from_slice(&dst.octets());
                h.extend_from_slice(options);
                (0x0800u16, h)
            }
            IpSpec::V6 { src, dst } => {
                let mut h = vec![0x60, 0, 0, 0];
                h.extend_from_slice(&(udp.len() as u16).to_be_bytes());
                h.push(17);
                h.push(32); // hop limit, as pktgen
                h.extend_from_slice(&src.octets());
                h.extend_from_slice(&dst.octets());
                (0x86ddu16, h)
            }
        };

        let mut frame = Vec::new();
        frame.extend_from_slice(&self.dst_mac.0);
        frame.extend_from_slice(&self.src_mac.0);
        let inner_type = if self.mpls.is_empty() {
            ip_type
        } else {
            0x8847
        };
        let mut types: Vec<u16> = self.tags.iter().map(|t| t.tpid).collect();
        types.push(inner_type);
        frame.extend_from_slice(&types[0].to_be_bytes());
        for (tag, next) in self.tags.iter().zip(&types[1..]) {
            frame.extend_from_slice(&tag.tci.to_be_bytes());
            frame.extend_from_slice(&next.to_be_bytes());
        }
        for (i, label) in self.mpls.iter().enumerate() {
            let bottom = i + 1 == self.mpls.len();
            let entry = if bottom {
                label | 0x100
            } else {
                label & !0x100
            };
            frame.extend_from_slice(&entry.to_be_bytes());
        }
        frame.extend_from_slice(&ip);
        frame.extend_from_slice(&udp);
        frame
    }
}
