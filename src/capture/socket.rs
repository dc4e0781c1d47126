//! [`Capture`]: an `AF_PACKET` socket bound to one interface, its filter, its ring.
//!
//! Opening follows the order that keeps every frame the program did not ask for out of the
//! ring (the drop-everything-then-drain pattern, as libpcap's `set_kernel_filter` in
//! `pcap-linux.c` does it):
//!
//! 1. `socket(AF_PACKET, SOCK_RAW, ETH_P_ALL)`: from this moment the socket receives every
//!    frame of every interface (the protocol hook is registered at creation,
//!    `packet_create` in net/packet/af_packet.c), unfiltered, into its receive queue;
//! 2. attach a filter that drops everything, so nothing more comes in;
//! 3. bind it to the interface;
//! 4. drain the receive queue: what arrived between 1 and 2, from any interface. Left there,
//!    it would also keep `poll` readable forever (`datagram_poll` looks at the queue);
//! 5. set TPACKET_V3 and nanosecond stamping, and make and map the ring: empty, since
//!    nothing passes the filter;
//! 6. attach the real filter, which replaces the first at once (`SO_ATTACH_FILTER` swaps
//!    the socket's filter under RCU, net/core/filter.c `__sk_attach_prog`);
//! 7. read `PACKET_STATISTICS` once, which resets the kernel's counters (the frames of step
//!    4 counted there).

use std::io;
use std::mem::size_of;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use libc::{c_int, socklen_t, tpacket_req3, tpacket_stats_v3};
use nix::sys::socket::{self as nix_socket, sockopt, AddressFamily, MsgFlags, SockFlag};

use super::filter::{self, DEFAULT_SNAP_LEN};
use super::ring::Ring;
use super::{CaptureError, CaptureOptions, CaptureStats, Packet};

/// At most this many queued frames are drained at open (the receive queue holds far fewer:
/// it is bounded by `SO_RCVBUF`); a bound so that opening always ends.
const MAX_DRAINED: usize = 1 << 20;

/// A packet capture on one interface. Frames that carry pktgen's magic arrive in the ring
/// from the moment it is opened; [`poll`](Self::poll) and [`run`](Self::run) hand them to a
/// callback. Open it in the network namespace of the interface ([`Capture::open_in`] for
/// another one); once open it can be read from any thread.
pub struct Capture {
    interface: String,
    ifindex: u32,
    options: CaptureOptions,
    ring: Ring,
    socket: OwnedFd,
    /// The kernel's counters as read so far (reading resets them), and ours.
    totals: CaptureStats,
}

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capture")
            .field("interface", &self.interface)
            .field("ifindex", &self.ifindex)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Capture {
    /// Opens a capture on `interface` of the calling thread's network namespace.
    pub fn open(interface: &str, options: &CaptureOptions) -> Result<Capture, CaptureError> {
        let fail = |syscall: &'static str| {
            move |error: io::Error| CaptureError::from_syscall(interface, syscall, error)
        };
        let request = ring_request(interface, options)?;
        let program =
            filter::pktgen_program(options.snap_len).map_err(|source| CaptureError::Filter {
                interface: interface.to_owned(),
                source,
            })?;
        let ifindex = nix::net::if_::if_nametoindex(interface)
            .map_err(|errno| fail("if_nametoindex")(errno.into()))?;

        let socket = nix_socket::socket(
            AddressFamily::Packet,
            nix_socket::SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            nix_socket::SockProtocol::EthAll,
        )
        .map_err(|errno| fail("socket(AF_PACKET, SOCK_RAW)")(errno.into()))?;
        let fd = socket.as_fd();
        attach_filter(fd, &filter::drop_all_program())
            .map_err(fail("setsockopt(SO_ATTACH_FILTER, drop everything)"))?;
        bind(fd, ifindex).map_err(fail("bind(AF_PACKET)"))?;
        drain(fd).map_err(fail("recv (draining the queue)"))?;

        set_option(
            fd,
            libc::SOL_PACKET,
            libc::PACKET_VERSION,
            &(libc::tpacket_versions::TPACKET_V3 as c_int),
        )
        .map_err(fail("setsockopt(PACKET_VERSION, TPACKET_V3)"))?;
        nix_socket::setsockopt(&socket, sockopt::ReceiveTimestampns, &true)
            .map_err(|errno| fail("setsockopt(SO_TIMESTAMPNS)")(errno.into()))?;
        if options.kernel_ignores_outgoing {
            match set_option(
                fd,
                libc::SOL_PACKET,
                libc::PACKET_IGNORE_OUTGOING,
                &1 as &c_int,
            ) {
                // Before Linux 4.20: the ring check alone keeps them out of the callback.
                Err(e) if e.raw_os_error() == Some(libc::ENOPROTOOPT) => {}
                other => other.map_err(fail("setsockopt(PACKET_IGNORE_OUTGOING)"))?,
            }
        }
        set_option(fd, libc::SOL_PACKET, libc::PACKET_RX_RING, &request)
            .map_err(fail("setsockopt(PACKET_RX_RING)"))?;
        let ring = Ring::map(
            fd,
            request.tp_block_size as usize,
            request.tp_block_nr as usize,
        )
        .map_err(fail("mmap (the ring)"))?;
        attach_filter(fd, &program).map_err(fail("setsockopt(SO_ATTACH_FILTER, pktgen)"))?;

        let mut capture = Capture {
            interface: interface.to_owned(),
            ifindex,
            options: options.clone(),
            ring,
            socket,
            totals: CaptureStats::default(),
        };
        capture.reset_statistics()?;
        Ok(capture)
    }

    /// The interface's name.
    pub fn interface(&self) -> &str {
        &self.interface
    }

    /// The interface's index in its namespace.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// The options it was opened with.
    pub fn options(&self) -> &CaptureOptions {
        &self.options
    }

    /// Hands every packet of the blocks the kernel has closed to `on_packet`, in the order
    /// they arrived; when there are none, first waits up to `timeout` for one. Returns how
    /// many packets were handed over (0 when the wait timed out). Reads at most the whole
    /// ring once, so a steady stream does not keep it from returning.
    pub fn poll(
        &mut self,
        timeout: Duration,
        mut on_packet: impl FnMut(Packet<'_>),
    ) -> Result<usize, CaptureError> {
        let (blocks, delivered) = self.read_blocks(&mut on_packet);
        if blocks > 0 {
            return Ok(delivered);
        }
        self.wait(timeout)?;
        Ok(self.read_blocks(&mut on_packet).1)
    }

    /// Hands packets to `on_packet` until `stop` is set (looked at every
    /// [`poll_interval`](CaptureOptions::poll_interval)), then waits for the block being
    /// filled to be closed (at most twice the retire timeout) and hands its packets over too:
    /// a packet that arrived before `stop` was set is not left behind in a block that was
    /// still open.
    pub fn run(
        &mut self,
        stop: &AtomicBool,
        mut on_packet: impl FnMut(Packet<'_>),
    ) -> Result<(), CaptureError> {
        while !stop.load(Ordering::Acquire) {
            self.poll(self.options.poll_interval, &mut on_packet)?;
        }
        let last_block = self
            .options
            .block_timeout
            .max(Duration::from_millis(10))
            .saturating_mul(2);
        self.poll(last_block, &mut on_packet)?;
        Ok(())
    }

    /// What was received and lost since the capture was opened or its statistics were last
    /// reset. The kernel's counters are read (and so reset in the kernel) and added up here.
    pub fn statistics(&mut self) -> Result<CaptureStats, CaptureError> {
        let kernel = self.kernel_statistics()?;
        self.totals.packets += u64::from(kernel.tp_packets);
        self.totals.drops += u64::from(kernel.tp_drops);
        self.totals.ring_freezes += u64::from(kernel.tp_freeze_q_cnt);
        Ok(self.totals)
    }

    /// Starts the statistics again from zero.
    pub fn reset_statistics(&mut self) -> Result<(), CaptureError> {
        self.kernel_statistics()?;
        self.totals = CaptureStats::default();
        Ok(())
    }

    /// Reads the blocks the kernel has closed, at most the whole ring: how many blocks, and
    /// how many packets were handed to `on_packet`.
    fn read_blocks(&mut self, on_packet: &mut impl FnMut(Packet<'_>)) -> (usize, usize) {
        let (mut blocks, mut delivered) = (0, 0);
        let totals = &mut self.totals;
        while blocks < self.ring.block_count() {
            let read = self.ring.take_block(|block| {
                let mut handed = 0;
                for packet in block.packets() {
                    if packet.outgoing {
                        totals.outgoing_skipped += 1;
                    } else {
                        on_packet(packet.packet);
                        handed += 1;
                    }
                }
                handed
            });
            let Some(handed) = read else { break };
            blocks += 1;
            delivered += handed;
        }
        totals.delivered += delivered as u64;
        (blocks, delivered)
    }

    /// Waits up to `timeout` for the kernel to close a block (`poll(2)`; a signal ends the
    /// wait early). An error on the socket ends the capture: `ENETDOWN` when the interface
    /// went down or away.
    fn wait(&self, timeout: Duration) -> Result<(), CaptureError> {
        let mut pollfd = libc::pollfd {
            fd: self.socket.as_raw_fd(),
            events: libc::POLLIN | libc::POLLRDNORM | libc::POLLERR,
            revents: 0,
        };
        // Rounded up, so that a short timeout still waits.
        let millis = timeout
            .as_nanos()
            .div_ceil(1_000_000)
            .min(c_int::MAX as u128) as c_int;
        // SAFETY: one pollfd, valid for the call; the descriptor is open (owned by self).
        let ready = unsafe { libc::poll(&mut pollfd, 1, millis) };
        if ready < 0 {
            let error = io::Error::last_os_error();
            if error.kind() == io::ErrorKind::Interrupted {
                return Ok(());
            }
            return Err(CaptureError::from_syscall(&self.interface, "poll", error));
        }
        if pollfd.revents & libc::POLLERR != 0 {
            let pending = nix_socket::getsockopt(&self.socket, sockopt::SocketError)
                .map_err(|errno| self.error("getsockopt(SO_ERROR)", errno.into()))?;
            if pending != 0 {
                return Err(self.error("poll", io::Error::from_raw_os_error(pending)));
            }
        }
        Ok(())
    }

    fn kernel_statistics(&self) -> Result<tpacket_stats_v3, CaptureError> {
        let mut stats = tpacket_stats_v3 {
            tp_packets: 0,
            tp_drops: 0,
            tp_freeze_q_cnt: 0,
        };
        let mut len = size_of::<tpacket_stats_v3>() as socklen_t;
        // SAFETY: the kernel writes at most `len` bytes into `stats`, which has that size, and
        // updates `len`; both live across the call.
        let rc = unsafe {
            libc::getsockopt(
                self.socket.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                (&mut stats as *mut tpacket_stats_v3).cast(),
                &mut len,
            )
        };
        if rc != 0 {
            return Err(self.error("getsockopt(PACKET_STATISTICS)", io::Error::last_os_error()));
        }
        Ok(stats)
    }

    fn error(&self, syscall: &'static str, error: io::Error) -> CaptureError {
        CaptureError::from_syscall(&self.interface, syscall, error)
    }
}

/// The ring `options` ask for, checked before the kernel sees it so that a mistake is told in
/// words rather than as `EINVAL` (the kernel's rules: `packet_set_ring`, af_packet.c).
fn ring_request(interface: &str, options: &CaptureOptions) -> Result<tpacket_req3, CaptureError> {
    let invalid = |reason: String| CaptureError::InvalidOptions {
        interface: interface.to_owned(),
        reason,
    };
    let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .map_or(4096, |p| p as u32);
    let CaptureOptions {
        block_size,
        block_count,
        frame_size,
        snap_len,
        ..
    } = *options;
    if block_count == 0 {
        return Err(invalid("the ring needs at least one block".into()));
    }
    if block_size == 0 || block_size % page != 0 {
        return Err(invalid(format!(
            "block size {block_size} is not a multiple of the page size ({page})"
        )));
    }
    let min_frame = libc::TPACKET3_HDRLEN as u32;
    if frame_size < min_frame || frame_size % libc::TPACKET_ALIGNMENT as u32 != 0 {
        return Err(invalid(format!(
            "frame size {frame_size} is not a multiple of 16 of at least {min_frame}"
        )));
    }
    if frame_size > block_size {
        return Err(invalid(format!(
            "frame size {frame_size} is larger than the block size {block_size}"
        )));
    }
    if block_size.checked_mul(block_count).is_none() {
        return Err(invalid(format!(
            "{block_count} blocks of {block_size} bytes is more than 4 GiB"
        )));
    }
    if snap_len == 0 {
        return Err(invalid(format!(
            "a snap length of 0 keeps nothing (the default is {DEFAULT_SNAP_LEN})"
        )));
    }
    let timeout = options.block_timeout.as_nanos().div_ceil(1_000_000);
    let Ok(timeout) = u32::try_from(timeout) else {
        return Err(invalid("the block timeout is too long".into()));
    };
    Ok(tpacket_req3 {
        tp_block_size: block_size,
        tp_block_nr: block_count,
        tp_frame_size: frame_size,
        tp_frame_nr: block_size / frame_size * block_count,
        tp_retire_blk_tov: timeout,
        tp_sizeof_priv: 0,
        tp_feature_req_word: 0,
    })
}

/// `setsockopt(2)` with a value of type `T`.
fn set_option<T>(socket: BorrowedFd<'_>, level: c_int, name: c_int, value: &T) -> io::Result<()> {
    // SAFETY: `value` points to a T of `size_of::<T>()` bytes, valid for the call; the kernel
    // only reads it.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            (value as *const T).cast(),
            size_of::<T>() as socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Replaces the socket's filter with `program`.
fn attach_filter(socket: BorrowedFd<'_>, program: &[libc::sock_filter]) -> io::Result<()> {
    let len = u16::try_from(program.len()).map_err(|_| io::ErrorKind::InvalidInput)?;
    let fprog = libc::sock_fprog {
        len,
        // The kernel copies the program in and never writes through the pointer.
        filter: program.as_ptr().cast_mut(),
    };
    set_option(socket, libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, &fprog)
}

/// Binds the socket to the interface `ifindex`, for every protocol.
fn bind(socket: BorrowedFd<'_>, ifindex: u32) -> io::Result<()> {
    let address = libc::sockaddr_ll {
        sll_family: libc::AF_PACKET as u16,
        sll_protocol: (libc::ETH_P_ALL as u16).to_be(),
        sll_ifindex: c_int::try_from(ifindex).map_err(|_| io::ErrorKind::InvalidInput)?,
        sll_hatype: 0,
        sll_pkttype: 0,
        sll_halen: 0,
        sll_addr: [0; 8],
    };
    // SAFETY: `address` is a sockaddr_ll of the length given, valid for the call.
    let rc = unsafe {
        libc::bind(
            socket.as_raw_fd(),
            (&address as *const libc::sockaddr_ll).cast(),
            size_of::<libc::sockaddr_ll>() as socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Empties the socket's receive queue; returns how many frames were in it.
fn drain(socket: BorrowedFd<'_>) -> io::Result<usize> {
    // MSG_TRUNC: a frame longer than the buffer is taken whole all the same.
    let flags = MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_TRUNC;
    let mut buffer = [0u8; 64];
    for drained in 0..MAX_DRAINED {
        match nix_socket::recv(socket.as_raw_fd(), &mut buffer, flags) {
            Ok(_) => {}
            Err(nix::errno::Errno::EAGAIN) => return Ok(drained),
            Err(nix::errno::Errno::EINTR) => {}
            Err(errno) => return Err(errno.into()),
        }
    }
    Ok(MAX_DRAINED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_options_are_checked_in_words() {
        let check =
            |options: CaptureOptions| ring_request("eth0", &options).map_err(|e| e.to_string());
        let request = check(CaptureOptions::default()).unwrap();
        assert_eq!(
            (
                request.tp_block_size,
                request.tp_block_nr,
                request.tp_frame_nr
            ),
            (1 << 20, 64, 512 * 64)
        );
        assert_eq!(request.tp_retire_blk_tov, 10);
        let sub_milli = CaptureOptions {
            block_timeout: Duration::from_micros(1500),
            ..CaptureOptions::default()
        };
        assert_eq!(check(sub_milli).unwrap().tp_retire_blk_tov, 2);
        for (options, says) in [
            (
                CaptureOptions {
                    block_count: 0,
                    ..Default::default()
                },
                "at least one block",
            ),
            (
                CaptureOptions {
                    block_size: 1000,
                    ..Default::default()
                },
                "multiple of the page size",
            ),
            (
                CaptureOptions {
                    frame_size: 100,
                    ..Default::default()
                },
                "frame size 100",
            ),
            (
                CaptureOptions {
                    frame_size: 32,
                    ..Default::default()
                },
                "frame size 32",
            ),
            (
                CaptureOptions {
                    block_size: 1 << 30,
                    block_count: 8,
                    ..Default::default()
                },
                "more than 4 GiB",
            ),
            (
                CaptureOptions {
                    snap_len: 0,
                    ..Default::default()
                },
                "keeps nothing",
            ),
        ] {
            let err = check(options).unwrap_err();
            assert!(
                err.starts_with("capture on eth0: ") && err.contains(says),
                "{err}"
            );
        }
    }
}
