//! The TPACKET_V3 receive ring, as user space reads it.
//!
//! The kernel and this process share `block_count` blocks of `block_size` bytes, mapped from
//! the socket (Documentation/networking/packet_mmap.rst, "TPACKET_V3 block-based ring"). Each
//! block starts with a `struct tpacket_block_desc` (include/uapi/linux/if_packet.h) whose
//! `block_status` says who owns it: `TP_STATUS_KERNEL` while the kernel fills it,
//! `TP_STATUS_USER` once the kernel has closed it (full, or open longer than the retire
//! timeout: then `TP_STATUS_BLK_TMO` is set too). The kernel fills the blocks in order, so
//! user space reads them in order too, and hands each one back by writing `TP_STATUS_KERNEL`.
//!
//! Ordering: the kernel writes a block's packets and header, then `smp_wmb()`, then
//! `block_status` (`prb_close_block`, net/packet/af_packet.c); it reads `block_status` to know
//! whether it may reuse a block. So `block_status` is read here with an acquire load (nothing
//! of the block is read before the kernel's writes to it are visible) and written with a
//! release store (every read of the block is done before the kernel may refill it). Between
//! the two the kernel does not write the block, which is what makes the byte slice over it
//! sound; the slice never covers `block_status` itself, which is only touched atomically.
//!
//! In a block, `offset_to_first_pkt` leads to the first packet's `struct tpacket3_hdr`, and
//! each packet's `tp_next_offset` to the next (0 after the last). A `struct sockaddr_ll`
//! follows each header at `TPACKET_ALIGN(sizeof(struct tpacket3_hdr))` (`tpacket_rcv`,
//! af_packet.c: `sll = h.raw + TPACKET_ALIGN(hdrlen)`); its `sll_pkttype` tells the
//! interface's own transmissions (`PACKET_OUTGOING`) from what it received. The frame is at
//! `tp_mac` from the header, `tp_snaplen` bytes of the `tp_len` that were on the wire.

use std::io;
use std::mem::{offset_of, size_of};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use libc::{sockaddr_ll, tpacket3_hdr, tpacket_block_desc, tpacket_hdr_v1};

use super::{Packet, StrippedVlan, TimestampSource};

/// Where a block's `tpacket_hdr_v1` starts in the block.
const BLOCK_HEADER: usize = offset_of!(tpacket_block_desc, hdr);
/// `block_status`, the word the kernel and user space hand the block over with.
const BLOCK_STATUS: usize = BLOCK_HEADER + offset_of!(tpacket_hdr_v1, block_status);
/// The block's bytes that are read as a slice: everything after `block_status`.
const SLICE_START: usize = BLOCK_STATUS + size_of::<u32>();
const NUM_PKTS: usize = BLOCK_HEADER + offset_of!(tpacket_hdr_v1, num_pkts);
const OFFSET_TO_FIRST_PKT: usize = BLOCK_HEADER + offset_of!(tpacket_hdr_v1, offset_to_first_pkt);

/// `TPACKET_ALIGN(sizeof(struct tpacket3_hdr))`: where the `sockaddr_ll` follows the header.
const SOCKADDR_LL: usize = size_of::<tpacket3_hdr>().next_multiple_of(libc::TPACKET_ALIGNMENT);
/// The header and its `sockaddr_ll`: the least a packet slot holds before its frame.
const PACKET_HEADERS: usize = SOCKADDR_LL + size_of::<sockaddr_ll>();

/// The mapped ring of one packet socket.
pub(super) struct Ring {
    base: NonNull<u8>,
    block_size: usize,
    block_count: usize,
    /// The block the kernel fills next, and so the next one to read.
    next: usize,
}

// SAFETY: the ring is a mapping of this process's socket owned by this value alone
// (it is unmapped once, in Drop); nothing in it is tied to the thread that mapped it.
unsafe impl Send for Ring {}

impl Ring {
    /// Maps the ring the kernel made for `socket` with `PACKET_RX_RING`.
    pub(super) fn map(
        socket: BorrowedFd<'_>,
        block_size: usize,
        block_count: usize,
    ) -> io::Result<Ring> {
        let len = block_size
            .checked_mul(block_count)
            .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: a new shared mapping of the socket's ring (no address hint, so nothing of
        // ours is replaced); the result is checked before use.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                socket.as_raw_fd(),
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let base = NonNull::new(base.cast::<u8>()).ok_or_else(io::Error::last_os_error)?;
        Ok(Ring {
            base,
            block_size,
            block_count,
            next: 0,
        })
    }

    /// How many blocks the ring has.
    pub(super) fn block_count(&self) -> usize {
        self.block_count
    }

    /// When the kernel has handed the next block to user space: runs `walk` on it, gives it
    /// back to the kernel and moves on to the following one.
    pub(super) fn take_block<R>(&mut self, walk: impl FnOnce(Block<'_>) -> R) -> Option<R> {
        // SAFETY: block `next` lies inside the mapping (next < block_count, and the mapping
        // is block_size * block_count bytes).
        let block = unsafe { self.base.as_ptr().add(self.next * self.block_size) };
        // SAFETY: `block_status` is an aligned u32 inside the block (blocks are page-aligned,
        // the field at offset 8), valid as long as the mapping, which outlives this call; the
        // kernel accesses it concurrently, so it is only ever accessed atomically here.
        let status = unsafe { AtomicU32::from_ptr(block.add(BLOCK_STATUS).cast::<u32>()) };
        if status.load(Ordering::Acquire) & libc::TP_STATUS_USER == 0 {
            return None;
        }
        // SAFETY: the bytes after `block_status` to the block's end are inside the mapping,
        // and the kernel does not write them while the block is the user's (until the release
        // store below); the slice is not used after that store, since `walk` cannot keep it.
        let bytes = unsafe {
            std::slice::from_raw_parts(block.add(SLICE_START), self.block_size - SLICE_START)
        };
        let result = walk(Block { bytes });
        status.store(libc::TP_STATUS_KERNEL, Ordering::Release);
        self.next = (self.next + 1) % self.block_count;
        Some(result)
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `map`, with its length; no slice into it survives (they
        // do not outlive `take_block`).
        unsafe {
            libc::munmap(
                self.base.as_ptr().cast(),
                self.block_size * self.block_count,
            );
        }
    }
}

/// A block the kernel handed to user space: its bytes after `block_status`.
pub(super) struct Block<'a> {
    bytes: &'a [u8],
}

/// One packet of a block, as the ring describes it.
pub(super) struct RingPacket<'a> {
    /// The packet, for the caller.
    pub(super) packet: Packet<'a>,
    /// It is the interface's own transmission (`PACKET_OUTGOING`).
    pub(super) outgoing: bool,
}

impl<'a> Block<'a> {
    /// The bytes at `at` (an offset from the block's start).
    fn bytes_at(&self, at: usize, len: usize) -> Option<&'a [u8]> {
        let start = at.checked_sub(SLICE_START)?;
        self.bytes.get(start..start.checked_add(len)?)
    }

    fn u32_at(&self, at: usize) -> Option<u32> {
        let bytes = self.bytes_at(at, 4)?;
        Some(u32::from_ne_bytes(bytes.try_into().ok()?))
    }

    fn u16_at(&self, at: usize) -> Option<u16> {
        let bytes = self.bytes_at(at, 2)?;
        Some(u16::from_ne_bytes(bytes.try_into().ok()?))
    }

    /// Every packet of the block, in the order the kernel wrote them. A header that points
    /// outside the block ends the walk (the kernel never writes one; nothing outside the
    /// block is ever read).
    pub(super) fn packets(&self) -> impl Iterator<Item = RingPacket<'a>> + '_ {
        let count = self.u32_at(NUM_PKTS).unwrap_or(0);
        let mut at = self.u32_at(OFFSET_TO_FIRST_PKT).map(|o| o as usize);
        (0..count).map_while(move |_| {
            let here = at?;
            let (packet, next) = self.packet_at(here)?;
            at = (next != 0)
                .then(|| here.checked_add(next as usize))
                .flatten();
            Some(packet)
        })
    }

    /// The packet whose `tpacket3_hdr` is at `at`, and its `tp_next_offset`.
    fn packet_at(&self, at: usize) -> Option<(RingPacket<'a>, u32)> {
        let field = |offset: usize| self.u32_at(at.checked_add(offset)?);
        let next = field(offset_of!(tpacket3_hdr, tp_next_offset))?;
        let seconds = field(offset_of!(tpacket3_hdr, tp_sec))?;
        let nanoseconds = field(offset_of!(tpacket3_hdr, tp_nsec))?;
        let snap_len = field(offset_of!(tpacket3_hdr, tp_snaplen))?;
        let wire_len = field(offset_of!(tpacket3_hdr, tp_len))?;
        let status = field(offset_of!(tpacket3_hdr, tp_status))?;
        let mac = self.u16_at(at.checked_add(offset_of!(tpacket3_hdr, tp_mac))?)?;
        let vlan_tci = field(offset_of!(tpacket3_hdr, hv1.tp_vlan_tci))?;
        let vlan_tpid = self.u16_at(at.checked_add(offset_of!(tpacket3_hdr, hv1.tp_vlan_tpid))?)?;
        let pkttype = self.bytes_at(
            at.checked_add(SOCKADDR_LL + offset_of!(sockaddr_ll, sll_pkttype))?,
            1,
        )?[0];
        if usize::from(mac) < PACKET_HEADERS {
            return None;
        }
        let frame = self.bytes_at(at.checked_add(usize::from(mac))?, snap_len as usize)?;
        let vlan = (status & libc::TP_STATUS_VLAN_VALID != 0).then(|| StrippedVlan {
            // The TCI is 16 bits; the kernel stores it in a 32-bit field.
            tci: vlan_tci as u16,
            tpid: (status & libc::TP_STATUS_VLAN_TPID_VALID != 0).then_some(vlan_tpid),
        });
        let packet = Packet {
            frame,
            wire_len,
            timestamp: Duration::new(u64::from(seconds), nanoseconds),
            timestamp_source: TimestampSource::from_status(status),
            vlan,
        };
        let outgoing = pkttype == libc::PACKET_OUTGOING;
        Some((RingPacket { packet, outgoing }, next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A block laid out as the kernel does, in a plain buffer: the header, then packets with
    /// their `sockaddr_ll` and frames, each slot 16-byte aligned.
    struct FakeBlock {
        bytes: Vec<u8>,
        packets: Vec<usize>,
    }

    impl FakeBlock {
        fn new(size: usize) -> FakeBlock {
            FakeBlock {
                bytes: vec![0; size],
                packets: Vec::new(),
            }
        }

        fn put_u32(&mut self, at: usize, v: u32) {
            self.bytes[at..at + 4].copy_from_slice(&v.to_ne_bytes());
        }

        fn put_u16(&mut self, at: usize, v: u16) {
            self.bytes[at..at + 2].copy_from_slice(&v.to_ne_bytes());
        }

        fn push(&mut self, frame: &[u8], status: u32, tci: u32, tpid: u16, pkttype: u8) {
            let first = size_of::<tpacket_block_desc>().next_multiple_of(8);
            let at = match self.packets.last() {
                None => first,
                Some(&prev) => {
                    let next = self.next_slot(prev);
                    self.put_u32(
                        prev + offset_of!(tpacket3_hdr, tp_next_offset),
                        (next - prev) as u32,
                    );
                    next
                }
            };
            let mac = PACKET_HEADERS.next_multiple_of(16) + 2;
            self.put_u32(at + offset_of!(tpacket3_hdr, tp_sec), 1_700_000_000);
            self.put_u32(
                at + offset_of!(tpacket3_hdr, tp_nsec),
                5 + self.packets.len() as u32,
            );
            self.put_u32(
                at + offset_of!(tpacket3_hdr, tp_snaplen),
                frame.len() as u32,
            );
            self.put_u32(
                at + offset_of!(tpacket3_hdr, tp_len),
                frame.len() as u32 + 1000,
            );
            self.put_u32(at + offset_of!(tpacket3_hdr, tp_status), status);
            self.put_u16(at + offset_of!(tpacket3_hdr, tp_mac), mac as u16);
            self.put_u32(at + offset_of!(tpacket3_hdr, hv1.tp_vlan_tci), tci);
            self.put_u16(at + offset_of!(tpacket3_hdr, hv1.tp_vlan_tpid), tpid);
            self.bytes[at + SOCKADDR_LL + offset_of!(sockaddr_ll, sll_pkttype)] = pkttype;
            self.bytes[at + mac..at + mac + frame.len()].copy_from_slice(frame);
            self.packets.push(at);
            self.put_u32(NUM_PKTS, self.packets.len() as u32);
            self.put_u32(OFFSET_TO_FIRST_PKT, first as u32);
        }

        fn next_slot(&self, at: usize) -> usize {
            let mac = usize::from(u16::from_ne_bytes(
                self.bytes[at + offset_of!(tpacket3_hdr, tp_mac)..][..2]
                    .try_into()
                    .unwrap(),
            ));
            let snap = u32::from_ne_bytes(
                self.bytes[at + offset_of!(tpacket3_hdr, tp_snaplen)..][..4]
                    .try_into()
                    .unwrap(),
            ) as usize;
            (at + mac + snap).next_multiple_of(libc::TPACKET_ALIGNMENT)
        }

        fn block(&self) -> Block<'_> {
            Block {
                bytes: &self.bytes[SLICE_START..],
            }
        }
    }

    #[test]
    fn the_layout_is_the_kernels() {
        // include/uapi/linux/if_packet.h on every architecture Linux has.
        assert_eq!(size_of::<tpacket3_hdr>(), 48);
        assert_eq!(SOCKADDR_LL, 48);
        assert_eq!(BLOCK_STATUS, 8);
        assert_eq!((NUM_PKTS, OFFSET_TO_FIRST_PKT), (12, 16));
        assert_eq!(offset_of!(tpacket3_hdr, hv1.tp_vlan_tci), 32);
        assert_eq!(offset_of!(sockaddr_ll, sll_pkttype), 10);
    }

    #[test]
    fn a_block_gives_its_packets_in_order_with_their_ring_facts() {
        let mut fake = FakeBlock::new(4096);
        let vlan = libc::TP_STATUS_VLAN_VALID | libc::TP_STATUS_VLAN_TPID_VALID;
        fake.push(
            b"first frame",
            libc::TP_STATUS_TS_SOFTWARE,
            0,
            0,
            libc::PACKET_HOST,
        );
        fake.push(b"second", vlan, 0x2064, 0x88a8, libc::PACKET_OUTGOING);
        fake.push(
            b"third, no TPID",
            libc::TP_STATUS_VLAN_VALID,
            0x0005,
            0,
            libc::PACKET_HOST,
        );
        let block = fake.block();
        let got: Vec<RingPacket<'_>> = block.packets().collect();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].packet.frame, b"first frame");
        assert_eq!(got[0].packet.wire_len, 1011);
        assert_eq!(got[0].packet.timestamp, Duration::new(1_700_000_000, 5));
        assert_eq!(got[0].packet.timestamp_source, TimestampSource::Software);
        assert!(got[0].packet.vlan.is_none() && !got[0].outgoing);
        assert_eq!(got[1].packet.frame, b"second");
        assert_eq!(
            got[1].packet.vlan,
            Some(StrippedVlan {
                tci: 0x2064,
                tpid: Some(0x88a8)
            })
        );
        assert!(got[1].outgoing);
        assert_eq!(got[1].packet.timestamp_source, TimestampSource::RingCopy);
        assert_eq!(
            got[2].packet.vlan,
            Some(StrippedVlan { tci: 5, tpid: None })
        );
    }

    #[test]
    fn a_header_pointing_outside_the_block_ends_the_walk() {
        let mut fake = FakeBlock::new(1024);
        fake.push(b"kept", 0, 0, 0, libc::PACKET_HOST);
        fake.push(b"cut", 0, 0, 0, libc::PACKET_HOST);
        let second = fake.packets[1];
        fake.put_u32(second + offset_of!(tpacket3_hdr, tp_snaplen), 5000);
        assert_eq!(fake.block().packets().count(), 1);
        // More packets announced than there are: the walk stops after the last one.
        fake.put_u32(second + offset_of!(tpacket3_hdr, tp_snaplen), 3);
        fake.put_u32(NUM_PKTS, 9);
        assert_eq!(fake.block().packets().count(), 2);
        // A first packet beyond the block.
        fake.put_u32(OFFSET_TO_FIRST_PKT, 4000);
        assert_eq!(fake.block().packets().count(), 0);
    }
}
