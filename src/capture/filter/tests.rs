//! The pktgen filter run by a classic BPF interpreter (the opcodes the builder emits, with the
//! kernel's semantics) against frames built by hand.

use super::*;

/// Runs `program` on `frame` as the kernel does: the return value is how many bytes to keep;
/// a load past the end of the frame ends the program with 0.
fn run(program: &[sock_filter], frame: &[u8]) -> u32 {
    let (mut a, mut x) = (0u32, 0u32);
    let mut pc = 0usize;
    let load = |at: u32, size: u32| -> Option<u32> {
        let at = at as usize;
        let len = match size {
            libc::BPF_W => 4,
            libc::BPF_H => 2,
            libc::BPF_B => 1,
            other => panic!("load size {other:#x}"),
        };
        let bytes = frame.get(at..at.checked_add(len)?)?;
        Some(bytes.iter().fold(0u32, |v, &b| (v << 8) | u32::from(b)))
    };
    loop {
        let insn = program[pc];
        pc += 1;
        let code = u32::from(insn.code);
        let class = code & 0x07;
        match class {
            libc::BPF_LD => {
                let at = match code & 0xe0 {
                    libc::BPF_ABS => insn.k,
                    libc::BPF_IND => x.wrapping_add(insn.k),
                    mode => panic!("ld mode {mode:#x}"),
                };
                match load(at, code & 0x18) {
                    Some(v) => a = v,
                    None => return 0,
                }
            }
            libc::BPF_LDX => match code & 0xe0 {
                libc::BPF_IMM => x = insn.k,
                libc::BPF_MSH => match load(insn.k, libc::BPF_B) {
                    Some(v) => x = 4 * (v & 0xf),
                    None => return 0,
                },
                mode => panic!("ldx mode {mode:#x}"),
            },
            libc::BPF_ALU => {
                let operand = if code & libc::BPF_X != 0 { x } else { insn.k };
                a = match code & 0xf0 {
                    libc::BPF_ADD => a.wrapping_add(operand),
                    libc::BPF_AND => a & operand,
                    libc::BPF_LSH => a << operand,
                    libc::BPF_RSH => a >> operand,
                    op => panic!("alu op {op:#x}"),
                };
            }
            libc::BPF_MISC => match code & 0xf8 {
                libc::BPF_TAX => x = a,
                libc::BPF_TXA => a = x,
                op => panic!("misc op {op:#x}"),
            },
            libc::BPF_JMP => {
                let taken = match code & 0xf0 {
                    libc::BPF_JA => {
                        pc += insn.k as usize;
                        continue;
                    }
                    libc::BPF_JEQ => a == insn.k,
                    libc::BPF_JSET => a & insn.k != 0,
                    op => panic!("jmp op {op:#x}"),
                };
                assert_eq!(code & libc::BPF_X, 0, "jumps compare with k only");
                pc += usize::from(if taken { insn.jt } else { insn.jf });
            }
            libc::BPF_RET => return insn.k,
            other => panic!("class {other:#x}"),
        }
    }
}

fn pktgen() -> Vec<sock_filter> {
    pktgen_program(DEFAULT_SNAP_LEN).expect("the pktgen program assembles")
}

/// pktgen's header: magic, sequence number, tv_sec, tv_usec (big-endian), then padding.
fn pktgen_payload(seq: u32) -> Vec<u8> {
    let mut payload = Vec::new();
    for word in [PKTGEN_MAGIC, seq, 1_700_000_000, 123_456] {
        payload.extend(word.to_be_bytes());
    }
    payload.resize(64, 0x5a);
    payload
}

fn udp(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend(9u16.to_be_bytes());
    out.extend(9u16.to_be_bytes());
    out.extend(((8 + payload.len()) as u16).to_be_bytes());
    out.extend([0, 0]);
    out.extend(payload);
    out
}

/// IPv4 with `options` 4-byte words of options (IHL = 5 + options).
fn ipv4_with(protocol: u8, options: u8, fragment: u16, body: &[u8]) -> Vec<u8> {
    let header_len = 20 + 4 * usize::from(options);
    let mut out = vec![0x40 | (5 + options), 0];
    out.extend(((header_len + body.len()) as u16).to_be_bytes());
    out.extend([0, 1]);
    out.extend(fragment.to_be_bytes());
    out.extend([64, protocol, 0, 0]);
    out.extend([10, 200, 0, 1, 10, 200, 0, 2]);
    if options > 0 {
        // Options: NOPs, then End of Option List.
        out.resize(header_len - 1, 1);
        out.push(0);
    }
    out.extend(body);
    out
}

fn ipv4(protocol: u8, body: &[u8]) -> Vec<u8> {
    ipv4_with(protocol, 0, 0, body)
}

fn ipv6(next_header: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![0x60, 0, 0, 0];
    out.extend((body.len() as u16).to_be_bytes());
    out.extend([next_header, 64]);
    out.extend([0xfd, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    out.extend([0xfd, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    out.extend(body);
    out
}

/// `count` MPLS labels (the last with the bottom-of-stack bit) before `body`.
fn mpls(count: usize, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..count {
        let label = 16 + i as u32;
        let bottom = u32::from(i + 1 == count);
        out.extend(((label << 12) | (bottom << 8) | 64).to_be_bytes());
    }
    out.extend(body);
    out
}

/// Ethernet with the tags (TPID, VLAN id) outermost first, then `ethertype` and `body`.
fn ethernet(tags: &[(u16, u16)], ethertype: u16, body: &[u8]) -> Vec<u8> {
    let mut out = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1];
    for &(tpid, vid) in tags {
        out.extend(tpid.to_be_bytes());
        out.extend(vid.to_be_bytes());
    }
    out.extend(ethertype.to_be_bytes());
    out.extend(body);
    out
}

const IPV4: u16 = 0x0800;
const IPV6: u16 = 0x86dd;
const MPLS: u16 = 0x8847;
const CTAG: u16 = 0x8100;
const STAG: u16 = 0x88a8;
const UDP: u8 = 17;

fn pktgen_v4() -> Vec<u8> {
    ipv4(UDP, &udp(&pktgen_payload(7)))
}

fn pktgen_v6() -> Vec<u8> {
    ipv6(UDP, &udp(&pktgen_payload(7)))
}

#[test]
fn pktgen_frames_are_kept_whatever_is_in_front_of_udp() {
    let program = pktgen();
    let with_options = ipv4_with(UDP, 3, 0, &udp(&pktgen_payload(7)));
    let max_options = ipv4_with(UDP, 10, 0, &udp(&pktgen_payload(7)));
    // Don't Fragment set, offset 0: a whole datagram.
    let dont_fragment = ipv4_with(UDP, 0, 0x4000, &udp(&pktgen_payload(7)));
    // More Fragments set, offset 0: the first fragment has the UDP header.
    let first_fragment = ipv4_with(UDP, 0, 0x2000, &udp(&pktgen_payload(7)));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("IPv4", ethernet(&[], IPV4, &pktgen_v4())),
        (
            "IPv4, 12 bytes of options",
            ethernet(&[], IPV4, &with_options),
        ),
        (
            "IPv4, 40 bytes of options",
            ethernet(&[], IPV4, &max_options),
        ),
        ("IPv4, DF", ethernet(&[], IPV4, &dont_fragment)),
        ("IPv4, first fragment", ethernet(&[], IPV4, &first_fragment)),
        ("IPv6", ethernet(&[], IPV6, &pktgen_v6())),
        ("VLAN, IPv4", ethernet(&[(CTAG, 100)], IPV4, &pktgen_v4())),
        (
            "VLAN, IPv4 with options",
            ethernet(&[(CTAG, 100)], IPV4, &with_options),
        ),
        (
            "802.1ad, IPv6",
            ethernet(&[(STAG, 100)], IPV6, &pktgen_v6()),
        ),
        (
            "QinQ, IPv4",
            ethernet(&[(STAG, 10), (CTAG, 20)], IPV4, &pktgen_v4()),
        ),
        (
            "QinQ, IPv4 with options",
            ethernet(&[(STAG, 10), (CTAG, 20)], IPV4, &with_options),
        ),
        (
            "QinQ, IPv6",
            ethernet(&[(STAG, 10), (CTAG, 20)], IPV6, &pktgen_v6()),
        ),
        (
            "QinQ of C-tags",
            ethernet(&[(CTAG, 10), (CTAG, 20)], IPV4, &pktgen_v4()),
        ),
        (
            "MPLS 1 label, IPv4",
            ethernet(&[], MPLS, &mpls(1, &pktgen_v4())),
        ),
        (
            "MPLS 3 labels, IPv4",
            ethernet(&[], MPLS, &mpls(3, &pktgen_v4())),
        ),
        (
            "MPLS 1 label, IPv6",
            ethernet(&[], MPLS, &mpls(1, &pktgen_v6())),
        ),
        (
            "MPLS 3 labels, IPv6",
            ethernet(&[], MPLS, &mpls(3, &pktgen_v6())),
        ),
        (
            "MPLS 3 labels, IPv4 with options",
            ethernet(&[], MPLS, &mpls(3, &with_options)),
        ),
        (
            "MPLS 16 labels, IPv4",
            ethernet(&[], MPLS, &mpls(16, &pktgen_v4())),
        ),
        (
            "VLAN, MPLS 2 labels, IPv4",
            ethernet(&[(CTAG, 5)], MPLS, &mpls(2, &pktgen_v4())),
        ),
        (
            "QinQ, MPLS 3 labels, IPv6",
            ethernet(&[(STAG, 5), (CTAG, 6)], MPLS, &mpls(3, &pktgen_v6())),
        ),
    ];
    for (what, frame) in cases {
        assert_eq!(run(&program, &frame), DEFAULT_SNAP_LEN, "{what} is kept");
    }
}

#[test]
fn everything_else_is_dropped() {
    let program = pktgen();
    let mut other_payload = pktgen_payload(7);
    other_payload[..4].copy_from_slice(&0xdead_beef_u32.to_be_bytes());
    let icmp_echo = [8, 0, 0, 0, 0, 1, 0, 1];
    // An ICMP error quotes the datagram it is about: the magic is in it, not after UDP.
    let icmp_unreachable = [&[3u8, 3, 0, 0, 0, 0, 0, 0][..], &pktgen_v4()].concat();
    // TCP whose bytes at the UDP payload's place are the magic: the protocol decides.
    let tcp = ipv4(6, &udp(&pktgen_payload(7)));
    // A later fragment: the bytes where the magic would be are some datagram's middle.
    let later_fragment = ipv4_with(UDP, 0, 0x2000 | 185, &udp(&pktgen_payload(7)));
    let ipv6_with_extension = ipv6(0, &udp(&pktgen_payload(7)));
    let magic_one_byte_late = ipv4(UDP, &udp(&[&[0u8][..], &pktgen_payload(7)].concat()));
    let v4 = ethernet(&[], IPV4, &pktgen_v4());
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("ICMP echo", ethernet(&[], IPV4, &ipv4(1, &icmp_echo))),
        (
            "ICMP quoting pktgen",
            ethernet(&[], IPV4, &ipv4(1, &icmp_unreachable)),
        ),
        (
            "UDP without magic",
            ethernet(&[], IPV4, &ipv4(UDP, &udp(&other_payload))),
        ),
        (
            "UDP, magic 1 byte late",
            ethernet(&[], IPV4, &magic_one_byte_late),
        ),
        (
            "IPv6 UDP without magic",
            ethernet(&[], IPV6, &ipv6(UDP, &udp(&other_payload))),
        ),
        ("TCP", ethernet(&[], IPV4, &tcp)),
        ("IPv4 later fragment", ethernet(&[], IPV4, &later_fragment)),
        (
            "IPv6 extension header",
            ethernet(&[], IPV6, &ipv6_with_extension),
        ),
        ("ARP", ethernet(&[], 0x0806, &[0; 28])),
        (
            "three VLAN tags",
            ethernet(&[(STAG, 1), (CTAG, 2), (CTAG, 3)], IPV4, &pktgen_v4()),
        ),
        (
            "MPLS 17 labels",
            ethernet(&[], MPLS, &mpls(17, &pktgen_v4())),
        ),
        (
            "MPLS, version 5",
            ethernet(
                &[],
                MPLS,
                &mpls(1, &[&[0x55u8][..], &pktgen_v4()[1..]].concat()),
            ),
        ),
        (
            "MPLS multicast ethertype",
            ethernet(&[], 0x8848, &mpls(1, &pktgen_v4())),
        ),
        ("empty", Vec::new()),
        ("10 bytes", v4[..10].to_vec()),
        ("Ethernet header only", v4[..14].to_vec()),
        ("cut in the IPv4 header", v4[..30].to_vec()),
        ("cut in the magic", v4[..14 + 20 + 8 + 3].to_vec()),
        (
            "MPLS cut in the stack",
            ethernet(&[], MPLS, &mpls(3, &pktgen_v4()))[..20].to_vec(),
        ),
    ];
    for (what, frame) in cases {
        assert_eq!(run(&program, &frame), 0, "{what} is dropped");
    }
    // The whole frame cut just after the magic is still kept.
    assert_eq!(run(&program, &v4[..14 + 20 + 8 + 4]), DEFAULT_SNAP_LEN);
}

#[test]
fn the_snap_length_is_what_the_program_returns() {
    let frame = ethernet(&[], IPV4, &pktgen_v4());
    assert_eq!(run(&pktgen_program(96).unwrap(), &frame), 96);
    assert_eq!(run(&drop_all_program(), &frame), 0);
}

#[test]
fn the_program_fits_the_kernel_and_its_short_jumps() {
    // build() refuses a conditional jump beyond 255; the program stays far from the limits.
    let program = pktgen();
    assert!(program.len() < 255, "{} instructions", program.len());
    assert_eq!(
        u32::from(program.last().unwrap().code),
        libc::BPF_RET | libc::BPF_K
    );
}

#[test]
fn the_builder_resolves_labels_to_relative_offsets() {
    let mut p = ProgramBuilder::new();
    p.load(Size::Half, 12);
    p.branch(Test::Equal, 0x0800, "yes", "no");
    p.goto("no");
    p.label("yes");
    p.ret(1);
    p.label("no");
    p.ret(0);
    let program = p.build().unwrap();
    assert_eq!((program[1].jt, program[1].jf), (1, 2));
    assert_eq!(program[2].k, 1);
    assert_eq!(run(&program, &ethernet(&[], IPV4, &[])), 1);
    assert_eq!(run(&program, &ethernet(&[], IPV6, &[])), 0);
}

#[test]
fn the_builder_refuses_what_classic_bpf_cannot_do() {
    let mut undefined = ProgramBuilder::new();
    undefined.jump_if(Test::Equal, 1, "nowhere");
    undefined.ret(0);
    assert_eq!(
        undefined.build().unwrap_err(),
        FilterError::UndefinedLabel("nowhere".into())
    );

    let mut backwards = ProgramBuilder::new();
    backwards.label("top");
    backwards.load(Size::Byte, 0);
    backwards.goto("top");
    assert_eq!(
        backwards.build().unwrap_err(),
        FilterError::BackwardJump("top".into())
    );

    let mut far = ProgramBuilder::new();
    far.jump_if(Test::Equal, 1, "far");
    for _ in 0..256 {
        far.load(Size::Byte, 0);
    }
    far.label("far");
    far.ret(0);
    assert_eq!(
        far.build().unwrap_err(),
        FilterError::JumpTooFar {
            label: "far".into(),
            distance: 256
        }
    );
    // 255 is the farthest a conditional jump reaches.
    let mut farthest = ProgramBuilder::new();
    farthest.jump_if(Test::Equal, 1, "far");
    for _ in 0..255 {
        farthest.load(Size::Byte, 0);
    }
    farthest.label("far");
    farthest.ret(0);
    assert_eq!(farthest.build().unwrap()[0].jt, 255);

    let mut twice = ProgramBuilder::new();
    twice.label("a");
    twice.label("a");
    twice.ret(0);
    assert_eq!(
        twice.build().unwrap_err(),
        FilterError::DuplicateLabel("a".into())
    );

    let mut at_end = ProgramBuilder::new();
    at_end.ret(0);
    at_end.label("end");
    assert_eq!(
        at_end.build().unwrap_err(),
        FilterError::LabelAtEnd("end".into())
    );

    let mut long = ProgramBuilder::new();
    for _ in 0..4097 {
        long.ret(0);
    }
    assert_eq!(long.build().unwrap_err(), FilterError::TooLong(4097));
}
