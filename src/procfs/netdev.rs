//! An interface's own counters, from the namespace's `/proc/net/dev` (read beside pktgen's
//! directory, so a thread inside a namespace reads that namespace's: `/proc/thread-self/net/dev`).
//! The receivers report them next to what they counted, so that loss in the network and loss
//! in the receiver are never confused.

/// What the kernel counted on one interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct InterfaceCounters {
    /// Packets received.
    pub rx_packets: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Packets dropped on receive (`rx_dropped`: no buffer, a full backlog, ...).
    pub rx_dropped: u64,
    /// Packets sent.
    pub tx_packets: u64,
}

/// The counters of `interface` in a `/proc/net/dev` text; `None` when it is not listed.
///
/// The format (`dev_seq_printf_stats` in net/core/net-procfs.c): two header lines, then per
/// interface `NAME: rx_bytes rx_packets rx_errs rx_drop rx_fifo rx_frame rx_compressed
/// rx_multicast tx_bytes tx_packets ...`, the name right-aligned to 6 columns.
pub fn parse_net_dev(text: &str, interface: &str) -> Option<InterfaceCounters> {
    text.lines().skip(2).find_map(|line| {
        let (name, rest) = line.split_once(':')?;
        if name.trim() != interface {
            return None;
        }
        let fields: Vec<u64> = rest
            .split_whitespace()
            .map(str::parse)
            .collect::<Result<_, _>>()
            .ok()?;
        Some(InterfaceCounters {
            rx_bytes: *fields.first()?,
            rx_packets: *fields.get(1)?,
            rx_dropped: *fields.get(3)?,
            tx_packets: *fields.get(9)?,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NET_DEV: &str = "Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:  266643    2489    0    0    0     0          0         0   266643    2489    0    0    0     0       0          0
h2-eth0: 6000000  100000    0   17    0     0          0         0     1234      12    0    0    0     0       0          0
";

    #[test]
    fn an_interfaces_counters_are_read_by_its_name() {
        assert_eq!(
            parse_net_dev(NET_DEV, "h2-eth0"),
            Some(InterfaceCounters {
                rx_packets: 100_000,
                rx_bytes: 6_000_000,
                rx_dropped: 17,
                tx_packets: 12,
            })
        );
        assert_eq!(
            parse_net_dev(NET_DEV, "lo").map(|c| c.rx_packets),
            Some(2489)
        );
        assert_eq!(parse_net_dev(NET_DEV, "h2-eth"), None);
        assert_eq!(parse_net_dev("garbage\n\nx: 1 2\n", "x"), None);
    }
}
