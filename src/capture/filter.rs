//! The classic BPF filter that keeps only pktgen's packets, and the small builder it is
//! written with.
//!
//! pktgen puts its header first in the UDP payload, starting with the magic `0xbe9be955`
//! (`PKTGEN_MAGIC`, net/core/pktgen.c; the header is `struct pktgen_hdr`: magic, sequence
//! number, tv_sec, tv_usec, all big-endian). The filter runs in the kernel on every frame of
//! the interface and keeps a frame only when those 4 bytes are where the UDP payload starts,
//! so nothing else is copied into the ring. It understands what pktgen can put in front of
//! UDP (net/core/pktgen.c, `fill_packet_ipv4`/`fill_packet_ipv6`: Ethernet, an optional
//! 802.1ad S-tag and 802.1Q tag, an optional MPLS label stack, then IPv4 or IPv6):
//!
//! * Ethernet, then 0, 1 or 2 VLAN tags (TPID 0x8100 or 0x88a8, in any order: QinQ);
//! * IPv4 with or without options (the header length is read from the IHL nibble), not a
//!   non-first fragment (which has no UDP header);
//! * IPv6 with next header UDP (pktgen writes the fixed 40-byte header, no extension headers);
//! * an MPLS label stack (ethertype 0x8847), walked label by label until the one with the
//!   bottom-of-stack bit, at most 16 labels, followed by IPv4 or IPv6 as the version nibble
//!   says (MPLS carries no next-protocol field; RFC 3032 §2.3 and the common practice of
//!   looking at the first nibble).
//!
//! A kept frame is cut to the snap length the program returns (`DEFAULT_SNAP_LEN`, 256
//! bytes: the longest headers this filter accepts are 14 + 2×4 + 16×4 + 60 + 8 = 154 bytes,
//! plus pktgen's 16-byte header), so the payload pktgen pads a packet with is never copied.
//!
//! A VLAN tag the driver (or the kernel's software untagging in `__netif_receive_skb_core`,
//! net/core/dev.c) moved out of the frame into the skb is not in the bytes the filter sees:
//! such a frame reaches the filter as untagged, and the tag comes with the packet's ring
//! header instead (`Packet::vlan`).
//!
//! Classic BPF semantics used here (Documentation/networking/filter.rst, "BPF engine and
//! instruction set"): jumps go forward only, a conditional jump's two offsets are 8 bits (at
//! most 255 instructions ahead), an unconditional `ja` has 32 bits; a load past the end of the
//! frame ends the program with 0 (drop), which is what rejects truncated frames; the program's
//! return value is how many bytes of the frame to keep, 0 being drop. The only instruction
//! that reads a header length from the frame is `ldx 4*([k]&0xf)` (`BPF_LDX|BPF_B|BPF_MSH`),
//! and its offset `k` is a constant: it serves IPv4 at the offsets known when the program is
//! written (after 0, 1 or 2 VLAN tags). After an MPLS stack the IPv4 header's offset is in X,
//! and the same length is computed with the ALU (`ldb [x+0]; and #0xf; lsh #2; add x`).

use std::collections::HashMap;

use libc::sock_filter;

/// The first 4 bytes of pktgen's header, as they are on the wire (big-endian): the
/// decoder's own constant.
pub use crate::receive::frame::PKTGEN_MAGIC;

/// How many bytes of a kept frame the filter keeps by default: every header it accepts and
/// pktgen's header, not the payload.
pub const DEFAULT_SNAP_LEN: u32 = 256;

/// The kernel's limit on a classic BPF program (`BPF_MAXINSNS`, include/uapi/linux/bpf_common.h).
const MAX_INSTRUCTIONS: usize = 4096;

// Ethertypes, include/uapi/linux/if_ether.h.
const ETH_P_IP: u32 = 0x0800;
const ETH_P_IPV6: u32 = 0x86dd;
const ETH_P_8021Q: u32 = 0x8100;
const ETH_P_8021AD: u32 = 0x88a8;
const ETH_P_MPLS_UC: u32 = 0x8847;
const IPPROTO_UDP: u32 = 17;

/// Where the ethertype is: after the two MAC addresses, and 4 bytes later for each VLAN tag.
const ETHERTYPE_OFFSETS: [u32; 3] = [12, 16, 20];
/// How many MPLS labels the filter walks before giving up on a frame.
const MAX_MPLS_LABELS: usize = 16;
/// IPv4's fragment offset field (the low 13 bits of the 16 at byte 6; RFC 791).
const IPV4_FRAGMENT_OFFSET: u32 = 0x1fff;
/// The fixed IPv6 header (RFC 8200 §3).
const IPV6_HEADER_LEN: u32 = 40;
/// The UDP header (RFC 768).
const UDP_HEADER_LEN: u32 = 8;

/// Why a program could not be assembled. The pktgen program is fixed, so any of these is a
/// bug in it; they are errors rather than panics so that opening a capture reports it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// A jump names a label that was never placed.
    #[error("BPF program: jump to undefined label {0:?}")]
    UndefinedLabel(String),
    /// A label was placed twice.
    #[error("BPF program: label {0:?} placed twice")]
    DuplicateLabel(String),
    /// A jump goes to a label placed before it (classic BPF jumps forward only).
    #[error("BPF program: jump to {0:?} goes backwards")]
    BackwardJump(String),
    /// A conditional jump is more than 255 instructions away from its label.
    #[error("BPF program: conditional jump to {label:?} is {distance} instructions ahead, more than 255")]
    JumpTooFar {
        /// The label.
        label: String,
        /// How many instructions it skips.
        distance: usize,
    },
    /// A label is placed after the last instruction (there is nothing to jump to).
    #[error("BPF program: label {0:?} is after the last instruction")]
    LabelAtEnd(String),
    /// More instructions than the kernel accepts.
    #[error("BPF program: {0} instructions, more than the kernel's 4096")]
    TooLong(usize),
}

/// How many bytes a load reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    /// 4 bytes, big-endian (`ld`).
    Word,
    /// 2 bytes, big-endian (`ldh`).
    Half,
    /// 1 byte (`ldb`).
    Byte,
}

impl Size {
    fn code(self) -> u32 {
        match self {
            Size::Word => libc::BPF_W,
            Size::Half => libc::BPF_H,
            Size::Byte => libc::BPF_B,
        }
    }
}

/// An ALU operation on the accumulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AluOp {
    /// `A += operand`.
    Add,
    /// `A &= operand`.
    And,
    /// `A <<= operand`.
    Lsh,
    /// `A >>= operand`.
    Rsh,
}

impl AluOp {
    fn code(self) -> u32 {
        match self {
            AluOp::Add => libc::BPF_ADD,
            AluOp::And => libc::BPF_AND,
            AluOp::Lsh => libc::BPF_LSH,
            AluOp::Rsh => libc::BPF_RSH,
        }
    }
}

/// The test of a conditional jump, against a constant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Test {
    /// `A == k`.
    Equal,
    /// `A & k != 0`.
    AnyBitSet,
}

impl Test {
    fn code(self) -> u32 {
        match self {
            Test::Equal => libc::BPF_JEQ,
            Test::AnyBitSet => libc::BPF_JSET,
        }
    }
}

/// Where a conditional jump goes on one outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    /// The next instruction.
    Next,
    /// A label.
    Label(String),
}

#[derive(Debug, Clone)]
enum Step {
    Plain(sock_filter),
    Conditional {
        code: u16,
        k: u32,
        then: Target,
        otherwise: Target,
    },
    Goto(String),
}

fn insn(code: u32, k: u32) -> sock_filter {
    sock_filter {
        // Every classic BPF opcode fits in 16 bits (include/uapi/linux/filter.h).
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    }
}

/// A classic BPF program written with named labels; [`build`](Self::build) resolves them to
/// the relative offsets the kernel wants.
#[derive(Debug, Default)]
pub struct ProgramBuilder {
    steps: Vec<Step>,
    /// Each label and the index of the step it is placed before.
    labels: HashMap<String, usize>,
    duplicate: Option<String>,
}

impl ProgramBuilder {
    /// An empty program.
    pub fn new() -> ProgramBuilder {
        ProgramBuilder::default()
    }

    /// Places `name` before the next instruction.
    pub fn label(&mut self, name: impl Into<String>) {
        let name = name.into();
        if self.labels.insert(name.clone(), self.steps.len()).is_some() {
            self.duplicate.get_or_insert(name);
        }
    }

    /// `A = frame[k..]` (`ld`/`ldh`/`ldb [k]`).
    pub fn load(&mut self, size: Size, k: u32) {
        self.plain(libc::BPF_LD | size.code() | libc::BPF_ABS, k);
    }

    /// `A = frame[X + k..]` (`ld`/`ldh`/`ldb [x + k]`).
    pub fn load_indexed(&mut self, size: Size, k: u32) {
        self.plain(libc::BPF_LD | size.code() | libc::BPF_IND, k);
    }

    /// `X = k` (`ldx #k`).
    pub fn load_x(&mut self, k: u32) {
        self.plain(libc::BPF_LDX | libc::BPF_W | libc::BPF_IMM, k);
    }

    /// `X = 4 * (frame[k] & 0xf)` (`ldx 4*([k]&0xf)`): the length of the IPv4 header at `k`.
    pub fn load_x_ipv4_header_len(&mut self, k: u32) {
        self.plain(libc::BPF_LDX | libc::BPF_B | libc::BPF_MSH, k);
    }

    /// `A = A op k`.
    pub fn alu(&mut self, op: AluOp, k: u32) {
        self.plain(libc::BPF_ALU | op.code() | libc::BPF_K, k);
    }

    /// `A = A op X`.
    pub fn alu_x(&mut self, op: AluOp) {
        self.plain(libc::BPF_ALU | op.code() | libc::BPF_X, 0);
    }

    /// `X = A` (`tax`).
    pub fn a_to_x(&mut self) {
        self.plain(libc::BPF_MISC | libc::BPF_TAX, 0);
    }

    /// `A = X` (`txa`).
    pub fn x_to_a(&mut self) {
        self.plain(libc::BPF_MISC | libc::BPF_TXA, 0);
    }

    /// Ends the program keeping `k` bytes of the frame (0: drop it).
    pub fn ret(&mut self, k: u32) {
        self.plain(libc::BPF_RET | libc::BPF_K, k);
    }

    /// Goes to `label` when `test` holds against `k`, else on to the next instruction.
    pub fn jump_if(&mut self, test: Test, k: u32, label: impl Into<String>) {
        self.conditional(test, k, Target::Label(label.into()), Target::Next);
    }

    /// Goes on to the next instruction when `test` holds against `k`, else to `label`.
    pub fn jump_unless(&mut self, test: Test, k: u32, label: impl Into<String>) {
        self.conditional(test, k, Target::Next, Target::Label(label.into()));
    }

    /// Goes to `then` when `test` holds against `k`, else to `otherwise`.
    pub fn branch(
        &mut self,
        test: Test,
        k: u32,
        then: impl Into<String>,
        otherwise: impl Into<String>,
    ) {
        self.conditional(
            test,
            k,
            Target::Label(then.into()),
            Target::Label(otherwise.into()),
        );
    }

    /// Goes to `label` (`ja`).
    pub fn goto(&mut self, label: impl Into<String>) {
        self.steps.push(Step::Goto(label.into()));
    }

    fn plain(&mut self, code: u32, k: u32) {
        self.steps.push(Step::Plain(insn(code, k)));
    }

    fn conditional(&mut self, test: Test, k: u32, then: Target, otherwise: Target) {
        self.steps.push(Step::Conditional {
            code: (libc::BPF_JMP | test.code() | libc::BPF_K) as u16,
            k,
            then,
            otherwise,
        });
    }

    /// The instructions, every label resolved to the offset from the instruction after the
    /// jump (classic BPF's `pc += 1 + offset`).
    pub fn build(&self) -> Result<Vec<sock_filter>, FilterError> {
        if let Some(name) = &self.duplicate {
            return Err(FilterError::DuplicateLabel(name.clone()));
        }
        if self.steps.len() > MAX_INSTRUCTIONS {
            return Err(FilterError::TooLong(self.steps.len()));
        }
        if let Some((name, _)) = self.labels.iter().find(|(_, &at)| at >= self.steps.len()) {
            return Err(FilterError::LabelAtEnd(name.clone()));
        }
        let distance = |from: usize, label: &str| -> Result<usize, FilterError> {
            let &at = self
                .labels
                .get(label)
                .ok_or_else(|| FilterError::UndefinedLabel(label.to_owned()))?;
            if at <= from {
                return Err(FilterError::BackwardJump(label.to_owned()));
            }
            Ok(at - from - 1)
        };
        let short = |from: usize, target: &Target| -> Result<u8, FilterError> {
            let Target::Label(label) = target else {
                return Ok(0);
            };
            let skip = distance(from, label)?;
            u8::try_from(skip).map_err(|_| FilterError::JumpTooFar {
                label: label.clone(),
                distance: skip,
            })
        };
        let mut program = Vec::with_capacity(self.steps.len());
        for (at, step) in self.steps.iter().enumerate() {
            program.push(match step {
                Step::Plain(insn) => *insn,
                Step::Conditional {
                    code,
                    k,
                    then,
                    otherwise,
                } => sock_filter {
                    code: *code,
                    jt: short(at, then)?,
                    jf: short(at, otherwise)?,
                    k: *k,
                },
                Step::Goto(label) => {
                    // The program is at most 4096 instructions, so the distance fits.
                    let skip = distance(at, label)? as u32;
                    insn(libc::BPF_JMP | libc::BPF_JA, skip)
                }
            });
        }
        Ok(program)
    }
}

const ACCEPT: &str = "accept";
const DROP: &str = "drop";
const MPLS_WALK: &str = "mpls walk";
const MPLS_BOTTOM: &str = "mpls bottom";
const IPV4_AT_X: &str = "ipv4 at x";
const IPV6_AT_X: &str = "ipv6 at x";

fn ethertype_at(offset: u32) -> String {
    format!("ethertype at {offset}")
}
fn ipv4_at(offset: u32) -> String {
    format!("ipv4 at {offset}")
}
fn ipv6_at(offset: u32) -> String {
    format!("ipv6 at {offset}")
}
fn mpls_at(offset: u32) -> String {
    format!("mpls at {offset}")
}

/// The filter that keeps pktgen's frames, `snap_len` bytes of each (see the module
/// documentation for what it accepts).
pub fn pktgen_program(snap_len: u32) -> Result<Vec<sock_filter>, FilterError> {
    let mut p = ProgramBuilder::new();
    link_layer(&mut p);
    for ethertype in ETHERTYPE_OFFSETS {
        ipv4_at_constant(&mut p, ethertype + 2);
        ipv6_at_constant(&mut p, ethertype + 2);
    }
    mpls_stack(&mut p);
    ipv4_at_x(&mut p);
    ipv6_at_x(&mut p);
    p.label(ACCEPT);
    p.ret(snap_len);
    p.label(DROP);
    p.ret(0);
    p.build()
}

/// The program that drops every frame: attached while the socket is made ready, so that no
/// frame reaches it before the real filter does.
pub fn drop_all_program() -> Vec<sock_filter> {
    vec![insn(libc::BPF_RET | libc::BPF_K, 0)]
}

/// The ethertype after 0, 1 or 2 VLAN tags, and on to the network layer at the offset it has.
fn link_layer(p: &mut ProgramBuilder) {
    for (tags, offset) in ETHERTYPE_OFFSETS.into_iter().enumerate() {
        p.label(ethertype_at(offset));
        p.load(Size::Half, offset);
        let network = offset + 2;
        p.jump_if(Test::Equal, ETH_P_IP, ipv4_at(network));
        p.jump_if(Test::Equal, ETH_P_IPV6, ipv6_at(network));
        p.jump_if(Test::Equal, ETH_P_MPLS_UC, mpls_at(network));
        if tags + 1 < ETHERTYPE_OFFSETS.len() {
            // A tag: its TPID is where the ethertype would be, the next ethertype 4 later.
            let next = ethertype_at(offset + 4);
            p.jump_if(Test::Equal, ETH_P_8021Q, next.clone());
            p.jump_if(Test::Equal, ETH_P_8021AD, next);
        }
        p.goto(DROP);
    }
}

/// IPv4 at a known offset: UDP, not a non-first fragment, the magic after the UDP header.
fn ipv4_at_constant(p: &mut ProgramBuilder, ip: u32) {
    p.label(ipv4_at(ip));
    p.load(Size::Byte, ip + 9);
    p.jump_unless(Test::Equal, IPPROTO_UDP, DROP);
    p.load(Size::Half, ip + 6);
    p.jump_if(Test::AnyBitSet, IPV4_FRAGMENT_OFFSET, DROP);
    p.load_x_ipv4_header_len(ip);
    p.load_indexed(Size::Word, ip + UDP_HEADER_LEN);
    p.branch(Test::Equal, PKTGEN_MAGIC, ACCEPT, DROP);
}

/// IPv6 at a known offset: next header UDP, the magic after the fixed header and UDP's.
fn ipv6_at_constant(p: &mut ProgramBuilder, ip: u32) {
    p.label(ipv6_at(ip));
    p.load(Size::Byte, ip + 6);
    p.jump_unless(Test::Equal, IPPROTO_UDP, DROP);
    p.load(Size::Word, ip + IPV6_HEADER_LEN + UDP_HEADER_LEN);
    p.branch(Test::Equal, PKTGEN_MAGIC, ACCEPT, DROP);
}

/// An MPLS label stack: X walks the 4-byte labels until the bottom-of-stack bit (the low bit
/// of a label's third byte: label 20 bits, traffic class 3, S 1, TTL 8; RFC 3032 §2.1),
/// unrolled, since classic BPF has no backward jumps. Then IPv4 or IPv6 by the version
/// nibble, with X at the network header.
fn mpls_stack(p: &mut ProgramBuilder) {
    for offset in ETHERTYPE_OFFSETS {
        p.label(mpls_at(offset + 2));
        p.load_x(offset + 2);
        p.goto(MPLS_WALK);
    }
    p.label(MPLS_WALK);
    for _ in 0..MAX_MPLS_LABELS {
        p.load_indexed(Size::Byte, 2);
        p.jump_if(Test::AnyBitSet, 1, MPLS_BOTTOM);
        p.x_to_a();
        p.alu(AluOp::Add, 4);
        p.a_to_x();
    }
    p.goto(DROP);
    p.label(MPLS_BOTTOM);
    p.x_to_a();
    p.alu(AluOp::Add, 4);
    p.a_to_x();
    p.load_indexed(Size::Byte, 0);
    p.alu(AluOp::Rsh, 4);
    p.jump_if(Test::Equal, 4, IPV4_AT_X);
    p.jump_if(Test::Equal, 6, IPV6_AT_X);
    p.goto(DROP);
}

/// IPv4 at X: as [`ipv4_at_constant`], the header length computed with the ALU.
fn ipv4_at_x(p: &mut ProgramBuilder) {
    p.label(IPV4_AT_X);
    p.load_indexed(Size::Byte, 9);
    p.jump_unless(Test::Equal, IPPROTO_UDP, DROP);
    p.load_indexed(Size::Half, 6);
    p.jump_if(Test::AnyBitSet, IPV4_FRAGMENT_OFFSET, DROP);
    p.load_indexed(Size::Byte, 0);
    p.alu(AluOp::And, 0xf);
    p.alu(AluOp::Lsh, 2);
    p.alu_x(AluOp::Add);
    p.a_to_x();
    p.load_indexed(Size::Word, UDP_HEADER_LEN);
    p.branch(Test::Equal, PKTGEN_MAGIC, ACCEPT, DROP);
}

/// IPv6 at X: as [`ipv6_at_constant`].
fn ipv6_at_x(p: &mut ProgramBuilder) {
    p.label(IPV6_AT_X);
    p.load_indexed(Size::Byte, 6);
    p.jump_unless(Test::Equal, IPPROTO_UDP, DROP);
    p.load_indexed(Size::Word, IPV6_HEADER_LEN + UDP_HEADER_LEN);
    p.branch(Test::Equal, PKTGEN_MAGIC, ACCEPT, DROP);
}

#[cfg(test)]
mod tests;
