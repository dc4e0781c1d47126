//! Receiving pktgen's packets: an `AF_PACKET` socket on one interface, a classic BPF filter
//! that keeps only frames carrying pktgen's magic, and a TPACKET_V3 ring they are read from.
//!
//! | module | what it holds |
//! |---|---|
//! | [`filter`] | the classic BPF program that keeps pktgen's frames, and its builder |

pub mod filter;
