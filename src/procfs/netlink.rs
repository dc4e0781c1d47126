//! Interface facts from rtnetlink, in one exchange per reading of the box.
//!
//! One `RTM_GETLINK` request per interface name, all sent in a single `send(2)` on one socket
//! and answered one message each. The cost grows with the interfaces pgstate manages, not
//! with the interfaces the box has: a full link dump (what `getifaddrs` does, and what a
//! per-device `getifaddrs` did before) pays for every unrelated interface too, and on a lab
//! box with a thousand veths that dominates a plan.
//!
//! The socket is opened by the calling thread, so the facts are those of pgstate's own
//! network namespace even where sysfs still shows the host's (a plain `nsenter -n`).

use std::collections::{BTreeMap, BTreeSet};
use std::io;

use netlink_packet_core::{NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_REQUEST};
use netlink_packet_route::link::{LinkAttribute, LinkExtentMask, LinkFlags, LinkMessage};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use nix::errno::Errno;

use super::{InterfaceInfo, Interfaces};
use crate::model::MacAddr;

/// Requests per `send(2)`. The kernel answers a whole batch before `send` returns, so all of
/// its answers must fit in the receive buffer at once, or it drops them (ENOBUFS).
const BATCH: usize = 32;
/// The longest interface name (`IFNAMSIZ` less the NUL); the kernel refuses longer ones
/// with ERANGE rather than ENODEV.
const MAX_IFNAME: usize = 15;

/// The facts of each interface in `names` that exists; missing ones are simply absent.
pub fn query(names: &BTreeSet<String>) -> io::Result<Interfaces> {
    let mut out = BTreeMap::new();
    if names.is_empty() {
        return Ok(out);
    }
    let mut socket = Socket::new(NETLINK_ROUTE)?;
    socket.bind_auto()?;
    socket.connect(&SocketAddr::new(0, 0))?;
    // Answers to a missing name carry no copy of the request.
    socket.set_cap_ack(true)?;
    let names: Vec<&String> = names.iter().filter(|n| n.len() <= MAX_IFNAME).collect();
    let mut recv_buf = vec![0u8; 64 * 1024];
    for (batch_no, batch) in names.chunks(BATCH).enumerate() {
        let first_seq = (batch_no * BATCH + 1) as u32;
        let mut send_buf = Vec::new();
        for (i, name) in batch.iter().enumerate() {
            send_buf.extend(request(name, first_seq + i as u32));
        }
        socket.send(&send_buf, 0)?;
        let mut answered = 0;
        while answered < batch.len() {
            let size = socket.recv(&mut &mut recv_buf[..], 0)?;
            let mut offset = 0;
            while offset < size {
                let msg: NetlinkMessage<RouteNetlinkMessage> =
                    NetlinkMessage::deserialize(&recv_buf[offset..size])
                        .map_err(|e| io::Error::other(format!("rtnetlink answer: {e}")))?;
                let len = msg.header.length as usize;
                let seq = msg.header.sequence_number;
                let Some(name) = seq
                    .checked_sub(first_seq)
                    .and_then(|i| batch.get(i as usize))
                else {
                    return Err(io::Error::other(format!(
                        "rtnetlink answered an unknown request (sequence {seq})"
                    )));
                };
                match msg.payload {
                    NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(link)) => {
                        out.insert((*name).clone(), info(&link));
                        answered += 1;
                    }
                    NetlinkPayload::Error(e) => {
                        let code = e.code.map_or(0, |c| -c.get());
                        if code != Errno::ENODEV as i32 {
                            return Err(io::Error::from_raw_os_error(code));
                        }
                        answered += 1;
                    }
                    _ => {}
                }
                if len == 0 {
                    break;
                }
                offset += len;
            }
        }
    }
    Ok(out)
}

/// One `RTM_GETLINK` for `name`, without statistics (the kernel then skips filling them).
fn request(name: &str, seq: u32) -> Vec<u8> {
    let mut link = LinkMessage::default();
    link.attributes.push(LinkAttribute::IfName(name.to_owned()));
    link.attributes
        .push(LinkAttribute::ExtMask(vec![LinkExtentMask::SkipStats]));
    let mut msg = NetlinkMessage::new(
        NetlinkHeader::default(),
        NetlinkPayload::from(RouteNetlinkMessage::GetLink(link)),
    );
    msg.header.flags = NLM_F_REQUEST;
    msg.header.sequence_number = seq;
    msg.finalize();
    let mut buf = vec![0; msg.buffer_len()];
    msg.serialize(&mut buf);
    buf
}

fn info(link: &LinkMessage) -> InterfaceInfo {
    let mut mac = None;
    let mut tx_queues = None;
    for a in &link.attributes {
        match a {
            LinkAttribute::Address(bytes) => {
                mac = <[u8; 6]>::try_from(bytes.as_slice()).ok().map(MacAddr);
            }
            // The queues the device was created with. pktgen clamps to the queues in use
            // (`real_num_tx_queues`, REFERENCE §2.3), which rtnetlink does not report; the
            // two differ only on a NIC whose channels were reduced with ethtool.
            LinkAttribute::NumTxQueues(n) => tx_queues = Some(*n),
            _ => {}
        }
    }
    InterfaceInfo {
        mac,
        up: link.header.flags.contains(LinkFlags::Up),
        tx_queues,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_looked_up_in_this_network_namespace() {
        let names: BTreeSet<String> = ["lo", "no-such-if0", "a-name-far-too-long-for-linux"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let found = query(&names).unwrap();
        let lo = &found["lo"];
        assert_eq!(lo.mac, Some(MacAddr::ZERO));
        assert!(lo.up);
        assert!(lo.tx_queues.is_some_and(|n| n >= 1));
        assert_eq!(found.len(), 1, "{found:?}");
    }

    #[test]
    fn many_names_take_several_batches() {
        let names: BTreeSet<String> = (0..600)
            .map(|i| format!("nx{i}"))
            .chain(["lo".to_owned()])
            .collect();
        let found = query(&names).unwrap();
        assert_eq!(found.keys().collect::<Vec<_>>(), ["lo"]);
    }
}
