//! The capture on the real kernel: two network namespaces made for the test and joined by a
//! veth pair (10.200.0.1/30 and fd00:200::1/64 on the sending side, .2 and ::2 on the
//! receiving side, static neighbours so that no ARP or neighbour discovery is in the way),
//! packets shaped like pktgen's (magic, sequence number, timestamp) and foreign traffic sent
//! from one namespace, captures opened inside the namespaces. Needs root, as CI runs it.

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::sched::{setns, CloneFlags};
use nix::sys::socket::{self, AddressFamily, MsgFlags, SockFlag, SockProtocol, SockType};
use pgstate::capture::{
    Capture, CaptureError, CaptureOptions, CaptureStats, CaptureThread, Packet, StrippedVlan,
    TimestampSource,
};
use pgstate::procfs::netns::{NetnsError, NetnsPath};

const MAGIC: u32 = 0xbe9b_e955;
const TX_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const RX_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
const TX_IFACE: &str = "veth-tx";
const RX_IFACE: &str = "veth-rx";
/// The discard port: nobody listens, the receiving side answers ICMP port unreachable (more
/// foreign traffic, quoting the magic).
const PORT: u16 = 9;

/// Skips the test, saying why, unless it runs as root.
macro_rules! require_root {
    () => {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: needs root (ip netns, veth, AF_PACKET); CI runs the tests as root");
            return;
        }
    };
}

fn ip(args: &[&str]) {
    let status = Command::new("ip").args(args).status();
    assert!(status.is_ok_and(|s| s.success()), "ip {}", args.join(" "));
}

/// Two namespaces and a veth pair between them, deleted when dropped.
struct VethLab {
    tx: String,
    rx: String,
}

impl VethLab {
    fn new() -> VethLab {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let id = format!(
            "{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        // Made before the namespaces, so that a failure below still deletes them.
        let lab = VethLab {
            tx: format!("pgcap-tx-{id}"),
            rx: format!("pgcap-rx-{id}"),
        };
        ip(&["netns", "add", &lab.tx]);
        ip(&["netns", "add", &lab.rx]);
        let (tx_mac, rx_mac) = (mac(TX_MAC), mac(RX_MAC));
        ip(&[
            "link", "add", TX_IFACE, "netns", &lab.tx, "address", &tx_mac, "type", "veth", "peer",
            "name", RX_IFACE, "netns", &lab.rx, "address", &rx_mac,
        ]);
        for (ns, dev, me, peer, peer_mac) in [
            (&lab.tx, TX_IFACE, 1, 2, &rx_mac),
            (&lab.rx, RX_IFACE, 2, 1, &tx_mac),
        ] {
            let v4 = format!("10.200.0.{me}/30");
            let v6 = format!("fd00:200::{me}/64");
            ip(&["-n", ns, "addr", "add", &v4, "dev", dev]);
            ip(&["-n", ns, "addr", "add", &v6, "dev", dev, "nodad"]);
            for peer_ip in [format!("10.200.0.{peer}"), format!("fd00:200::{peer}")] {
                ip(&[
                    "-n",
                    ns,
                    "neigh",
                    "add",
                    &peer_ip,
                    "lladdr",
                    peer_mac,
                    "dev",
                    dev,
                    "nud",
                    "permanent",
                ]);
            }
            ip(&["-n", ns, "link", "set", "lo", "up"]);
            ip(&["-n", ns, "link", "set", dev, "up"]);
        }
        lab
    }

    fn tx_netns(&self) -> NetnsPath {
        NetnsPath::named(&self.tx)
    }

    fn rx_netns(&self) -> NetnsPath {
        NetnsPath::named(&self.rx)
    }
}

impl Drop for VethLab {
    fn drop(&mut self) {
        // Deleting a namespace deletes the veth end in it, and so the pair.
        for ns in [&self.tx, &self.rx] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

fn mac(bytes: [u8; 6]) -> String {
    bytes.map(|b| format!("{b:02x}")).join(":")
}

/// Runs `f` on a thread inside the namespace, pinned to one CPU (so veth hands its packets
/// to one CPU's backlog, in order).
fn in_netns<R: Send>(netns: &NetnsPath, f: impl FnOnce() -> R + Send) -> R {
    std::thread::scope(|scope| {
        let thread = scope.spawn(|| {
            let file = File::open(netns.path()).expect("the namespace file");
            setns(&file, CloneFlags::CLONE_NEWNET).expect("setns");
            let mut cpus = nix::sched::CpuSet::new();
            cpus.set(0).expect("CPU 0");
            nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &cpus).expect("pin");
            f()
        });
        thread
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// pktgen's header (magic, sequence number, tv_sec, tv_usec, big-endian) and padding.
fn pktgen_payload(seq: u32) -> Vec<u8> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let mut payload = Vec::with_capacity(64);
    for word in [MAGIC, seq, now.as_secs() as u32, now.subsec_micros()] {
        payload.extend(word.to_be_bytes());
    }
    payload.resize(64, 0x5a);
    payload
}

/// The same size, without the magic.
fn foreign_payload(n: u32) -> Vec<u8> {
    let mut payload = pktgen_payload(n);
    payload[..4].copy_from_slice(&0x1234_5678_u32.to_be_bytes());
    payload
}

/// A packet as the capture handed it over, kept past the callback.
#[derive(Debug, Clone)]
struct Received {
    frame: Vec<u8>,
    wire_len: u32,
    timestamp: Duration,
    source: TimestampSource,
    vlan: Option<StrippedVlan>,
}

impl Received {
    fn seq(&self) -> u32 {
        seq_of(&self.frame)
    }
}

/// The sequence number after the magic, wherever the magic is in `frame`.
fn seq_of(frame: &[u8]) -> u32 {
    let at = frame
        .windows(4)
        .position(|w| w == MAGIC.to_be_bytes())
        .unwrap_or_else(|| panic!("no magic in {frame:02x?}"));
    u32::from_be_bytes(frame[at + 4..at + 8].try_into().unwrap())
}

fn recorder(to: mpsc::Sender<Received>) -> impl FnMut(Packet<'_>) + Send + 'static {
    move |packet| {
        let _ = to.send(Received {
            frame: packet.frame.to_vec(),
            wire_len: packet.wire_len,
            timestamp: packet.timestamp,
            source: packet.timestamp_source,
            vlan: packet.vlan,
        });
    }
}

/// Takes packets from `from` into `into` until it holds `count` (or 10 s have gone by).
fn wait_for(from: &mpsc::Receiver<Received>, into: &mut Vec<Received>, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while into.len() < count {
        let left = deadline.saturating_duration_since(Instant::now());
        match from.recv_timeout(left) {
            Ok(packet) => into.push(packet),
            Err(_) => break,
        }
    }
}

/// A ring small enough for several tests at once, large enough for the batches they send.
fn small_ring() -> CaptureOptions {
    CaptureOptions {
        block_size: 16 << 10,
        block_count: 16,
        ..CaptureOptions::default()
    }
}

fn since_epoch(t: SystemTime) -> Duration {
    t.duration_since(UNIX_EPOCH).unwrap()
}

/// An ICMP echo request to `to`, from a raw socket.
fn ping(to: Ipv4Addr, seq: u16) {
    let icmp = socket::socket(
        AddressFamily::Inet,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::Icmp,
    )
    .expect("raw ICMP socket");
    let mut message = vec![8, 0, 0, 0, 0x70, 0x67];
    message.extend(seq.to_be_bytes());
    message.extend(b"pgstate capture test");
    let checksum = internet_checksum(&message);
    message[2..4].copy_from_slice(&checksum.to_be_bytes());
    let address = socket::SockaddrIn::from(SocketAddrV4::new(to, 0));
    socket::sendto(icmp.as_raw_fd(), &message, &address, MsgFlags::empty()).expect("ping");
}

/// RFC 1071.
fn internet_checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[test]
fn only_the_magic_packets_arrive_in_order_with_kernel_timestamps() {
    require_root!();
    let lab = VethLab::new();
    let (to_test, packets) = mpsc::channel();
    let capture = CaptureThread::spawn(
        Some(&lab.rx_netns()),
        RX_IFACE,
        small_ring(),
        recorder(to_test),
    )
    .expect("capture on the receiving side");
    const BATCHES: u32 = 10;
    const BATCH: u32 = 200;
    let before = since_epoch(SystemTime::now());
    let (mut received, packets) = in_netns(&lab.tx_netns(), move || {
        let mut received = Vec::new();
        let v4 = UdpSocket::bind("10.200.0.1:0").unwrap();
        let v6 = UdpSocket::bind("[fd00:200::1]:0").unwrap();
        let to_v4: SocketAddr = (Ipv4Addr::new(10, 200, 0, 2), PORT).into();
        let to_v6: SocketAddr = format!("[fd00:200::2]:{PORT}").parse().unwrap();
        // A TCP connection attempt: a SYN, and the RST back.
        let refused = TcpStream::connect_timeout(
            &(Ipv4Addr::new(10, 200, 0, 2), PORT).into(),
            Duration::from_secs(2),
        );
        assert!(refused.is_err());
        // Batches smaller than the ring, each waited for: whatever the scheduler does with
        // the capture's thread, the ring never fills.
        for batch in 0..BATCHES {
            for i in 0..BATCH {
                let seq = batch * BATCH + i;
                let (socket, to) = if seq % 4 == 3 {
                    (&v6, to_v6)
                } else {
                    (&v4, to_v4)
                };
                socket.send_to(&pktgen_payload(seq), to).unwrap();
                if seq.is_multiple_of(10) {
                    socket.send_to(&foreign_payload(seq), to).unwrap();
                }
                if seq.is_multiple_of(50) {
                    ping(Ipv4Addr::new(10, 200, 0, 2), seq as u16);
                }
            }
            wait_for(&packets, &mut received, ((batch + 1) * BATCH) as usize);
        }
        (received, packets)
    });
    // Nothing more is on its way: anything else that arrives is a packet too many.
    std::thread::sleep(Duration::from_millis(50));
    let stats = capture.stop().expect("the capture ran to the end");
    let after = since_epoch(SystemTime::now());
    received.extend(packets.try_iter());

    let seqs: Vec<u32> = received.iter().map(Received::seq).collect();
    assert_eq!(seqs, (0..BATCHES * BATCH).collect::<Vec<_>>());
    for packet in &received {
        let ipv6 = packet.seq() % 4 == 3;
        let len = if ipv6 {
            14 + 40 + 8 + 64
        } else {
            14 + 20 + 8 + 64
        };
        assert_eq!((packet.frame.len(), packet.wire_len), (len, len as u32));
        assert_eq!(packet.frame[..6], RX_MAC);
        assert_eq!(
            packet.frame[12..14],
            if ipv6 { [0x86, 0xdd] } else { [0x08, 0x00] }
        );
        assert!(packet.vlan.is_none());
        assert!(
            before <= packet.timestamp && packet.timestamp <= after,
            "{:?} not within {before:?}..{after:?}",
            packet.timestamp
        );
    }
    assert!(received
        .windows(2)
        .all(|w| w[0].timestamp <= w[1].timestamp));
    // The network core stamps skbs once the socket asked (the first few may be stamped when
    // copied into the ring, see TimestampSource::RingCopy).
    assert_eq!(received.last().unwrap().source, TimestampSource::Software);
    assert_eq!(
        stats,
        CaptureStats {
            packets: u64::from(BATCHES * BATCH),
            drops: 0,
            ring_freezes: 0,
            delivered: u64::from(BATCHES * BATCH),
            outgoing_skipped: 0,
        }
    );
}

#[test]
fn a_capture_on_the_sending_side_sees_none_of_what_it_sends() {
    require_root!();
    let lab = VethLab::new();
    let spawn = |netns: NetnsPath, iface: &str, options: CaptureOptions| {
        let (to_test, packets) = mpsc::channel();
        let capture =
            CaptureThread::spawn(Some(&netns), iface, options, recorder(to_test)).expect("capture");
        (capture, packets)
    };
    let (receiver, at_receiver) = spawn(lab.rx_netns(), RX_IFACE, small_ring());
    // The kernel skips the interface's own transmissions, or leaves them to the ring check.
    let (kernel_skips, at_kernel_skips) = spawn(lab.tx_netns(), TX_IFACE, small_ring());
    let ring_skips_options = CaptureOptions {
        kernel_ignores_outgoing: false,
        ..small_ring()
    };
    let (ring_skips, at_ring_skips) = spawn(lab.tx_netns(), TX_IFACE, ring_skips_options);

    let received = in_netns(&lab.tx_netns(), move || {
        let socket = UdpSocket::bind("10.200.0.1:0").unwrap();
        for seq in 0..100 {
            socket
                .send_to(&pktgen_payload(seq), ("10.200.0.2", PORT))
                .unwrap();
        }
        let mut received = Vec::new();
        wait_for(&at_receiver, &mut received, 100);
        received
    });
    assert_eq!(received.len(), 100);
    // And the other way: what the sending side receives it does see.
    in_netns(&lab.rx_netns(), || {
        let socket = UdpSocket::bind("10.200.0.2:0").unwrap();
        for seq in 1000..1010 {
            socket
                .send_to(&pktgen_payload(seq), ("10.200.0.1", PORT))
                .unwrap();
        }
    });
    let mut seen_by_kernel_skips = Vec::new();
    let mut seen_by_ring_skips = Vec::new();
    wait_for(&at_kernel_skips, &mut seen_by_kernel_skips, 10);
    wait_for(&at_ring_skips, &mut seen_by_ring_skips, 10);
    std::thread::sleep(Duration::from_millis(50));

    let kernel_stats = kernel_skips.stop().unwrap();
    let ring_stats = ring_skips.stop().unwrap();
    receiver.stop().unwrap();
    seen_by_kernel_skips.extend(at_kernel_skips.try_iter());
    seen_by_ring_skips.extend(at_ring_skips.try_iter());
    let expected: Vec<u32> = (1000..1010).collect();
    for seen in [&seen_by_kernel_skips, &seen_by_ring_skips] {
        assert_eq!(seen.iter().map(Received::seq).collect::<Vec<_>>(), expected);
    }
    assert_eq!(
        (
            kernel_stats.packets,
            kernel_stats.outgoing_skipped,
            kernel_stats.delivered
        ),
        (10, 0, 10),
        "PACKET_IGNORE_OUTGOING keeps the 100 sent out of the ring"
    );
    assert_eq!(
        (
            ring_stats.packets,
            ring_stats.outgoing_skipped,
            ring_stats.delivered
        ),
        (110, 100, 10),
        "the 100 sent reach the ring as PACKET_OUTGOING and are skipped"
    );
}

fn udp(payload: &[u8]) -> Vec<u8> {
    let mut out = [PORT.to_be_bytes(), PORT.to_be_bytes()].concat();
    out.extend(((8 + payload.len()) as u16).to_be_bytes());
    out.extend([0, 0]);
    out.extend(payload);
    out
}

fn ipv4(protocol: u8, options: u8, body: &[u8]) -> Vec<u8> {
    let header = 20 + 4 * usize::from(options);
    let mut out = vec![0x40 | (5 + options), 0];
    out.extend(((header + body.len()) as u16).to_be_bytes());
    out.extend([0, 1, 0, 0, 64, protocol, 0, 0, 10, 200, 0, 1, 10, 200, 0, 2]);
    out.resize(header, 1);
    let checksum = internet_checksum(&out);
    out[10..12].copy_from_slice(&checksum.to_be_bytes());
    out.extend(body);
    out
}

fn ipv6(body: &[u8]) -> Vec<u8> {
    let mut out = vec![0x60, 0, 0, 0];
    out.extend((body.len() as u16).to_be_bytes());
    out.extend([17, 64]);
    out.extend([0xfd, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    out.extend([0xfd, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    out.extend(body);
    out
}

fn mpls(count: u32, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..count {
        out.extend((((100 + i) << 12) | (u32::from(i + 1 == count) << 8) | 64).to_be_bytes());
    }
    out.extend(body);
    out
}

fn ethernet(tags: &[(u16, u16)], ethertype: u16, body: &[u8]) -> Vec<u8> {
    let mut out = [RX_MAC, TX_MAC].concat();
    for &(tpid, tci) in tags {
        out.extend(tpid.to_be_bytes());
        out.extend(tci.to_be_bytes());
    }
    out.extend(ethertype.to_be_bytes());
    out.extend(body);
    out
}

/// The frames of `frames_through_the_kernel_filter`: (what, frame, kept).
fn hand_built_frames() -> Vec<(&'static str, Vec<u8>, bool)> {
    let v4 = |seq| ipv4(17, 0, &udp(&pktgen_payload(seq)));
    let v6 = |seq| ipv6(&udp(&pktgen_payload(seq)));
    let icmp_quoting = [&[3u8, 3, 0, 0, 0, 0, 0, 0][..], &v4(9)].concat();
    let cut = ethernet(&[], 0x0800, &v4(12));
    vec![
        ("IPv4", ethernet(&[], 0x0800, &v4(1)), true),
        (
            "IPv4 with options",
            ethernet(&[], 0x0800, &ipv4(17, 3, &udp(&pktgen_payload(2)))),
            true,
        ),
        ("IPv6", ethernet(&[], 0x86dd, &v6(3)), true),
        ("VLAN", ethernet(&[(0x8100, 100)], 0x0800, &v4(4)), true),
        (
            "QinQ",
            ethernet(&[(0x88a8, 10), (0x8100, 20)], 0x0800, &v4(5)),
            true,
        ),
        (
            "MPLS, 1 label, IPv4",
            ethernet(&[], 0x8847, &mpls(1, &v4(6))),
            true,
        ),
        (
            "MPLS, 3 labels, IPv6",
            ethernet(&[], 0x8847, &mpls(3, &v6(7))),
            true,
        ),
        (
            "VLAN, MPLS",
            ethernet(&[(0x8100, 30)], 0x8847, &mpls(2, &v4(8))),
            true,
        ),
        (
            "ICMP quoting pktgen",
            ethernet(&[], 0x0800, &ipv4(1, 0, &icmp_quoting)),
            false,
        ),
        (
            "UDP without magic",
            ethernet(&[], 0x0800, &ipv4(17, 0, &udp(&foreign_payload(10)))),
            false,
        ),
        (
            "TCP",
            ethernet(&[], 0x0800, &ipv4(6, 0, &udp(&pktgen_payload(11)))),
            false,
        ),
        ("cut in the magic", cut[..14 + 20 + 8 + 2].to_vec(), false),
        (
            "MPLS, 17 labels",
            ethernet(&[], 0x8847, &mpls(17, &v4(13))),
            false,
        ),
        // The kernel takes the outer tag out before the filter runs: two are left, kept.
        (
            "three VLAN tags",
            ethernet(&[(0x88a8, 1), (0x8100, 2), (0x8100, 3)], 0x0800, &v4(14)),
            true,
        ),
    ]
}

/// Sends `frames` as they are, from a packet socket on `interface`.
fn send_frames(interface: &str, frames: &[Vec<u8>]) {
    // Protocol 0: this socket sends only, it receives nothing.
    let sender: OwnedFd = socket::socket(
        AddressFamily::Packet,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .expect("packet socket");
    let ifindex = nix::net::if_::if_nametoindex(interface).expect("interface");
    let address = libc::sockaddr_ll {
        sll_family: libc::AF_PACKET as u16,
        sll_protocol: 0,
        sll_ifindex: ifindex as i32,
        sll_hatype: 0,
        sll_pkttype: 0,
        sll_halen: 0,
        sll_addr: [0; 8],
    };
    // SAFETY: a sockaddr_ll of the length given, valid for the call.
    let bound = unsafe {
        libc::bind(
            sender.as_raw_fd(),
            (&address as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    assert_eq!(bound, 0, "bind: {}", std::io::Error::last_os_error());
    for frame in frames {
        socket::send(sender.as_raw_fd(), frame, MsgFlags::empty()).expect("send a frame");
    }
}

#[test]
fn the_kernel_runs_the_filter_as_the_interpreter_does_and_tells_the_stripped_tag() {
    require_root!();
    let lab = VethLab::new();
    let (to_test, packets) = mpsc::channel();
    let capture = CaptureThread::spawn(
        Some(&lab.rx_netns()),
        RX_IFACE,
        small_ring(),
        recorder(to_test),
    )
    .expect("capture");
    let frames = hand_built_frames();
    let kept: Vec<&(&str, Vec<u8>, bool)> = frames.iter().filter(|f| f.2).collect();
    let all: Vec<Vec<u8>> = frames.iter().map(|f| f.1.clone()).collect();
    in_netns(&lab.tx_netns(), || send_frames(TX_IFACE, &all));
    let mut received = Vec::new();
    wait_for(&packets, &mut received, kept.len());
    std::thread::sleep(Duration::from_millis(50));
    let stats = capture.stop().unwrap();
    received.extend(packets.try_iter());

    let kept_seqs: Vec<u32> = kept.iter().map(|k| seq_of(&k.1)).collect();
    assert_eq!(
        received.iter().map(Received::seq).collect::<Vec<_>>(),
        kept_seqs
    );
    assert_eq!((stats.drops, stats.delivered), (0, kept.len() as u64));
    for (packet, (what, sent, _)) in received.iter().zip(&kept) {
        match u16::from_be_bytes([sent[12], sent[13]]) {
            // An outer tag arrives beside the frame, the frame without it.
            0x8100 | 0x88a8 => {
                let (tpid, tci) = (
                    u16::from_be_bytes([sent[12], sent[13]]),
                    u16::from_be_bytes([sent[14], sent[15]]),
                );
                assert_eq!(
                    packet.vlan,
                    Some(StrippedVlan {
                        tci,
                        tpid: Some(tpid)
                    }),
                    "{what}"
                );
                assert_eq!(packet.frame, [&sent[..12], &sent[16..]].concat(), "{what}");
                assert_eq!(packet.wire_len as usize, sent.len() - 4, "{what}");
            }
            _ => {
                assert_eq!(packet.vlan, None, "{what}");
                assert_eq!(packet.frame, &sent[..], "{what}");
                assert_eq!(packet.wire_len as usize, sent.len(), "{what}");
            }
        }
    }
}

#[test]
fn opening_what_is_not_there_says_so() {
    require_root!();
    let lab = VethLab::new();
    let options = small_ring();
    let missing = Capture::open_in(Some(&lab.rx_netns()), "pgcap-none0", &options).unwrap_err();
    assert!(
        matches!(missing, CaptureError::NoSuchInterface { .. }),
        "{missing}"
    );
    assert_eq!(
        missing.to_string(),
        "capture on pgcap-none0: no such interface"
    );
    // The interface is in its namespace, not in the test's.
    let here = Capture::open(RX_IFACE, &options).unwrap_err();
    assert!(
        matches!(here, CaptureError::NoSuchInterface { .. }),
        "{here}"
    );
    let there = Capture::open_in(Some(&lab.rx_netns()), RX_IFACE, &options).expect("open in rx");
    assert_eq!(there.interface(), RX_IFACE);
    assert!(there.ifindex() > 0);
    let no_netns = NetnsPath::named("pgcap-no-such-netns");
    let err = CaptureThread::spawn(Some(&no_netns), "lo", options.clone(), |_| {}).unwrap_err();
    assert!(
        matches!(
            err,
            CaptureError::Netns {
                source: NetnsError::Missing { .. },
                ..
            }
        ),
        "{err}"
    );
    let invalid = CaptureOptions {
        block_size: 1000,
        ..options
    };
    let err = CaptureThread::spawn(Some(&lab.rx_netns()), RX_IFACE, invalid, |_| {}).unwrap_err();
    assert!(matches!(err, CaptureError::InvalidOptions { .. }), "{err}");
}

#[test]
fn a_full_ring_drops_and_the_statistics_say_how_many() {
    require_root!();
    let lab = VethLab::new();
    // Two one-page blocks, and nobody reading while the packets arrive.
    let tiny = CaptureOptions {
        block_size: 4096,
        block_count: 2,
        ..CaptureOptions::default()
    };
    let mut capture = Capture::open_in(Some(&lab.rx_netns()), RX_IFACE, &tiny).unwrap();
    const SENT: u64 = 300;
    in_netns(&lab.tx_netns(), || {
        let socket = UdpSocket::bind("10.200.0.1:0").unwrap();
        for seq in 0..SENT as u32 {
            socket
                .send_to(&pktgen_payload(seq), ("10.200.0.2", PORT))
                .unwrap();
        }
    });
    std::thread::sleep(Duration::from_millis(30));
    let mut delivered = 0;
    for _ in 0..10 {
        delivered += capture.poll(Duration::from_millis(20), |_| {}).unwrap() as u64;
    }
    let stats = capture.statistics().unwrap();
    assert_eq!(stats.packets, SENT, "{stats:?}");
    assert!(stats.drops > 0 && stats.ring_freezes > 0, "{stats:?}");
    assert_eq!(stats.delivered, delivered);
    assert_eq!(delivered + stats.drops, SENT, "{stats:?}");
    // Reset: counting starts again.
    capture.reset_statistics().unwrap();
    assert_eq!(capture.statistics().unwrap(), CaptureStats::default());
}

#[test]
fn the_ring_is_read_fast() {
    require_root!();
    let lab = VethLab::new();
    // The default ring (64 MiB) holds the whole burst, so the send and the read are timed
    // apart; but only if its blocks fill by size. The kernel hands a block over when its
    // timeout passes even if it is not full, so on a loaded machine a slow send retired 64
    // blocks half-empty and the ring was full before the read began (4,313 drops seen).
    // 64 blocks of 100 ms outlast any send; the last block is handed over before the read.
    let options = CaptureOptions {
        block_timeout: Duration::from_millis(100),
        ..CaptureOptions::default()
    };
    let mut capture = Capture::open_in(Some(&lab.rx_netns()), RX_IFACE, &options).unwrap();
    const SENT: usize = 100_000;
    let sending = Instant::now();
    in_netns(&lab.tx_netns(), || {
        let socket = UdpSocket::bind("10.200.0.1:0").unwrap();
        // Not connected: the other side's ICMP port unreachable does not fail later sends.
        for seq in 0..SENT as u32 {
            socket
                .send_to(&pktgen_payload(seq), ("10.200.0.2", PORT))
                .unwrap();
        }
    });
    let sent_in = sending.elapsed();
    std::thread::sleep(Duration::from_millis(150));
    let reading = Instant::now();
    let mut delivered = 0;
    let mut last_seq = None;
    let mut in_order = true;
    while delivered < SENT && reading.elapsed() < Duration::from_secs(10) {
        delivered += capture
            .poll(Duration::from_millis(20), |packet| {
                let seq = u32::from_be_bytes(packet.frame[46..50].try_into().unwrap());
                in_order &= last_seq.is_none_or(|last| last + 1 == seq);
                last_seq = Some(seq);
            })
            .unwrap();
    }
    let read_in = reading.elapsed();
    let stats = capture.statistics().unwrap();
    let rate = |n: usize, d: Duration| n as f64 / d.as_secs_f64();
    eprintln!(
        "sent {SENT} packets in {sent_in:?} ({:.0}/s); read the ring in {read_in:?} ({:.0}/s); {stats:?}",
        rate(SENT, sent_in),
        rate(delivered, read_in),
    );
    assert_eq!((delivered, stats.drops), (SENT, 0));
    assert!(in_order);
}

#[test]
fn without_cap_net_raw_the_error_says_it_needs_root() {
    require_root!();
    // Credentials are the thread's in the kernel: the raw setresuid system call (not libc's
    // wrapper, which changes every thread of the process) drops the capabilities of this
    // thread only, which then ends.
    let err = std::thread::spawn(|| {
        // SAFETY: a system call with three integers; it changes the calling thread's
        // credentials and nothing in this process's memory.
        let rc = unsafe { libc::syscall(libc::SYS_setresuid, 65534, 65534, 65534) };
        assert_eq!(rc, 0, "setresuid: {}", std::io::Error::last_os_error());
        Capture::open("lo", &small_ring()).unwrap_err()
    })
    .join()
    .unwrap();
    assert!(matches!(err, CaptureError::NeedsRoot { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "capture on lo: socket(AF_PACKET, SOCK_RAW) needs root (CAP_NET_RAW)"
    );
    // The process is still root.
    assert!(nix::unistd::geteuid().is_root());
}
