//! Receiving pktgen's packets: an `AF_PACKET` socket on one interface, a classic BPF filter
//! that keeps only frames carrying pktgen's magic, and a TPACKET_V3 ring they are read from.
//!
//! This is the capture layer only: it hands each kept frame to a callback with the facts the
//! kernel gives about it (its receive time, its length on the wire, a VLAN tag the driver took
//! out of it) and counts what the kernel dropped. Reading pktgen's header out of the frame is
//! the decoder's business.
//!
//! ```no_run
//! use std::sync::atomic::AtomicBool;
//! use pgstate::capture::{Capture, CaptureOptions};
//!
//! let stop = AtomicBool::new(false);
//! let mut capture = Capture::open("eth1", &CaptureOptions::default())?;
//! capture.run(&stop, |packet| println!("{} bytes at {:?}", packet.wire_len, packet.timestamp))?;
//! let stats = capture.statistics()?;
//! println!("{} kept, {} dropped by the kernel", stats.packets, stats.drops);
//! # Ok::<(), pgstate::capture::CaptureError>(())
//! ```
//!
//! In another network namespace, [`CaptureThread::spawn`] runs the capture on a thread that
//! entered it (the process itself never changes namespace, as in [`crate::procfs::netns`]),
//! and [`Capture::open_in`] opens one there to be read from any thread.
//!
//! | module | what it holds |
//! |---|---|
//! | [`filter`] | the classic BPF program that keeps pktgen's frames, and its builder |
//! | `ring` | the TPACKET_V3 ring: blocks handed between kernel and user space, packets in a block |
//! | `socket` | [`Capture`]: the socket, its filter, its ring, polling, statistics |
//! | `namespace` | [`Capture::open_in`] and [`CaptureThread`]: a capture in another network namespace |
//!
//! The timestamps are the kernel's, `CLOCK_REALTIME` with nanoseconds: TPACKET_V3 always
//! gives `tp_sec`/`tp_nsec` (Documentation/networking/packet_mmap.rst). Which moment they
//! are is [`TimestampSource`]: the socket turns on `SO_TIMESTAMPNS`, which makes the network
//! core stamp every received skb when it takes it from the driver (`net_timestamp_check`,
//! net/core/dev.c), so the time is the skb's receive time, not when it was copied into the
//! ring. `PACKET_TIMESTAMP` is left at 0: software stamps, no hardware ones.

pub mod filter;

mod error;
mod namespace;
mod ring;
mod socket;

use std::time::Duration;

pub use error::CaptureError;
pub use namespace::CaptureThread;
pub use socket::Capture;

/// How a capture's socket and ring are set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureOptions {
    /// The size of one ring block, a multiple of the page size (`tp_block_size`).
    pub block_size: u32,
    /// How many blocks the ring has (`tp_block_nr`); the ring is `block_size * block_count`
    /// bytes of kernel memory, mapped into the process.
    pub block_count: u32,
    /// `tp_frame_size`: a multiple of 16, at least the ring's headers. TPACKET_V3 packs
    /// packets in a block by their size, so this only sets the kernel's `tp_frame_nr`
    /// bookkeeping (`block_size / frame_size * block_count`).
    pub frame_size: u32,
    /// How long the kernel keeps a block open before handing it to user space even if it is
    /// not full (`tp_retire_blk_tov`, in milliseconds): the most a packet waits in the ring
    /// when traffic is slow. Zero lets the kernel choose from the link speed.
    pub block_timeout: Duration,
    /// How many bytes of each kept frame are copied into the ring.
    pub snap_len: u32,
    /// How long [`Capture::run`] waits for a block before it looks at its stop flag again.
    pub poll_interval: Duration,
    /// Whether the kernel keeps the interface's own transmissions out of the ring
    /// (`PACKET_IGNORE_OUTGOING`, Linux 4.20). They are skipped when read in any case (their
    /// `sll_pkttype` is `PACKET_OUTGOING`); this keeps them from taking ring space, which
    /// matters for a receiver on the interface pktgen sends on.
    pub kernel_ignores_outgoing: bool,
}

impl Default for CaptureOptions {
    fn default() -> Self {
        CaptureOptions {
            block_size: 1 << 20,
            block_count: 64,
            frame_size: 2048,
            block_timeout: Duration::from_millis(10),
            snap_len: filter::DEFAULT_SNAP_LEN,
            poll_interval: Duration::from_millis(100),
            kernel_ignores_outgoing: true,
        }
    }
}

/// A frame the filter kept, as it is in the ring: valid during the callback only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    /// The frame from its Ethernet header (`tp_mac`), `tp_snaplen` bytes: at most the
    /// filter's snap length. Without a VLAN tag the kernel took out (see [`Self::vlan`]).
    pub frame: &'a [u8],
    /// How long the frame was on the wire (`tp_len`), without a tag the kernel took out.
    pub wire_len: u32,
    /// When the kernel received it: since the Unix epoch, `CLOCK_REALTIME`.
    pub timestamp: Duration,
    /// Which moment `timestamp` is.
    pub timestamp_source: TimestampSource,
    /// The outer VLAN tag, when the driver or the kernel moved it out of the frame into the
    /// packet's metadata (`TP_STATUS_VLAN_VALID`): on receive the kernel does so for any
    /// tagged frame (`skb_vlan_untag` in `__netif_receive_skb_core`), so a tagged frame
    /// arrives here untagged with the tag beside it. An inner tag stays in the frame.
    pub vlan: Option<StrippedVlan>,
}

/// A VLAN tag the kernel took out of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StrippedVlan {
    /// The tag control information: priority (3 bits), DEI (1), VLAN id (12).
    pub tci: u16,
    /// The tag's TPID (0x8100 or 0x88a8), when the kernel says (`TP_STATUS_VLAN_TPID_VALID`;
    /// without it, 0x8100 is the likely one).
    pub tpid: Option<u16>,
}

impl StrippedVlan {
    /// The VLAN id.
    pub fn vlan_id(&self) -> u16 {
        self.tci & 0x0fff
    }
}

/// Which moment a packet's timestamp is (the `TP_STATUS_TS_*` bits of `tp_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampSource {
    /// The kernel's software stamp of the skb when it was received (`TP_STATUS_TS_SOFTWARE`).
    Software,
    /// The network card's own clock (`TP_STATUS_TS_RAW_HARDWARE`; not asked for here).
    Hardware,
    /// The skb had no stamp, so the kernel took the time when it copied the packet into the
    /// ring (`tpacket_rcv` falls back to `ktime_get_real_ts64`). It happens for the first
    /// packets after a socket turned stamping on: the network core turns it on a moment later
    /// (`net_enable_timestamp` defers to a workqueue).
    RingCopy,
}

impl TimestampSource {
    fn from_status(status: u32) -> TimestampSource {
        if status & libc::TP_STATUS_TS_RAW_HARDWARE != 0 {
            TimestampSource::Hardware
        } else if status & libc::TP_STATUS_TS_SOFTWARE != 0 {
            TimestampSource::Software
        } else {
            TimestampSource::RingCopy
        }
    }
}

/// What a capture received and lost, since it was opened or its statistics were reset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaptureStats {
    /// Frames the filter kept, the dropped ones included (`tp_packets`; the kernel adds
    /// `tp_drops` to it when it reports, `packet_getsockopt` in net/packet/af_packet.c).
    /// Outgoing frames count when the kernel does not ignore them.
    pub packets: u64,
    /// Kept frames the kernel dropped because the ring was full (`tp_drops`): the
    /// receiver's own loss, to tell apart from the network's.
    pub drops: u64,
    /// How many times the ring froze because user space had not given the next block back
    /// (`tp_freeze_q_cnt`).
    pub ring_freezes: u64,
    /// Packets handed to the callback.
    pub delivered: u64,
    /// The interface's own transmissions, found in the ring and skipped.
    pub outgoing_skipped: u64,
}
