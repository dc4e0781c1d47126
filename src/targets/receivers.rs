//! The receivers of a run: what arrived of each stream. Each receiver's capture is opened in
//! its namespace before `start` and fed to a stream table of its own
//! ([`Demux`](crate::receive::Demux)); after the last stream ends and a drain time it is
//! stopped, and each expected stream is reported: received, lost (sent − received, from the
//! sender's own count), duplicates, late packets, latency, beside the interface's counters
//! and the capture's own drops.
//!
//! Streams that share a receiver are told apart by the fields of their packets that no
//! pktgen setting varies for any of them (source MAC, VLAN ids, source address, UDP source
//! port): when those fields do not tell them apart, the receiver reports all its packets as
//! one, and says why.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::capture::{CaptureError, CaptureOptions, CaptureStats, CaptureThread};
use crate::kernel::KernelProfile;
use crate::model::{DeviceConfig, Flag, MacAddr, StreamRef, Vlan};
use crate::procfs::netdev::InterfaceCounters;
use crate::receive::frame::VlanIds;
use crate::receive::stream::device_copies_per_seq;
use crate::receive::{
    Admission, CapturedFrame, Demux, DemuxConfig, KeyFields, ReceiveTime, SequenceConfig,
    StreamKey, StreamReport,
};
use crate::run::DeviceReport;

use super::{OpenTarget, Place};

/// How long a run waits after its last stream ended before it stops the captures, unless
/// told otherwise: packets still in flight (a queue, a `netem` delay) are counted.
pub const DEFAULT_DRAIN: Duration = Duration::from_millis(500);

/// A receiver that could not be opened; nothing was started.
#[derive(Debug, thiserror::Error)]
#[error("{place}: receiver {interface}: {error}")]
pub struct ReceiverError {
    /// Where.
    pub place: Place,
    /// Its interface.
    pub interface: String,
    /// Why.
    pub error: CaptureError,
}

/// What one stream of a receiver received.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ReceivedStream {
    /// The streams these packets are of: one, or every stream of the receiver when they
    /// cannot be told apart.
    pub streams: Vec<StreamRef>,
    /// Packets the senders sent (their `pkts-sofar`), when the run knows them.
    pub sent: Option<u64>,
    /// Distinct packets received: every copy pktgen sends counts once it arrives.
    pub received: u64,
    /// `sent − received`: lost in the network or the receiver (the capture's drops say
    /// which share is the receiver's).
    pub lost: Option<u64>,
    /// `lost / sent`, in percent.
    pub loss_percent: Option<f64>,
    /// Whether the loss is above the receiver's `max_loss_percent`.
    pub over_max_loss: bool,
    /// Copies pktgen sends of each packet (`clone_skb` × `burst`), expected, not duplicates.
    pub copies_per_packet: u32,
    /// Everything the stream table counted: bytes, duplicates, late packets, latency.
    pub report: StreamReport,
    /// Why latency is not reported, when it is not.
    pub latency_note: Option<String>,
    /// The latencies in [`LATENCY_BUCKETS_NS`]: how many at or below each bound, cumulative.
    pub latency_buckets: Vec<u64>,
    /// The sum of the latencies, seconds (with the count, a Prometheus histogram's `_sum`).
    pub latency_sum_seconds: f64,
}

/// The upper bounds of the latency histogram the metrics export, ns: 10 µs to 1 s.
pub const LATENCY_BUCKETS_NS: [u64; 13] = [
    10_000,
    50_000,
    100_000,
    500_000,
    1_000_000,
    2_000_000,
    5_000_000,
    10_000_000,
    20_000_000,
    50_000_000,
    100_000_000,
    500_000_000,
    1_000_000_000,
];

/// What one receiver found.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ReceiverReport {
    /// Where it is.
    #[serde(serialize_with = "place_name", deserialize_with = "place_of_name")]
    pub namespace: Place,
    /// Its interface.
    pub interface: String,
    /// Per stream (or one for all, see `shared`).
    pub streams: Vec<ReceivedStream>,
    /// Why the streams are reported as one, when they are.
    pub shared: Option<String>,
    /// pktgen packets of no expected stream (another sender, a nonsense key).
    pub unattributed: u64,
    /// Frames the filter kept that were not pktgen's after all.
    pub not_pktgen: u64,
    /// The capture's own counts: its drops are the receiver's loss, not the network's.
    pub capture: CaptureCounts,
    /// What the interface itself counted during the run (`/proc/net/dev`).
    pub interface_counters: Option<InterfaceCounters>,
    /// Why the capture ended early, if it did.
    pub error: Option<String>,
}

/// [`CaptureStats`], as reported.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
pub struct CaptureCounts {
    /// Frames the filter kept.
    pub packets: u64,
    /// Of those, the ones the kernel dropped because the ring was full.
    pub drops: u64,
}

fn place_name<S: serde::Serializer>(place: &Place, s: S) -> Result<S::Ok, S::Error> {
    serde::Serialize::serialize(&place.name(), s)
}

/// A report read back (`pgstate status` finds the latest run's) names its namespace only:
/// the namespace `ip netns add` would have made of that name.
fn place_of_name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Place, D::Error> {
    let name: Option<crate::model::NamespaceName> = serde::Deserialize::deserialize(d)?;
    Ok(name.map_or(Place::Here, Place::named))
}

/// A receiver capturing.
struct Running {
    place: Place,
    interface: String,
    streams: Vec<StreamRef>,
    shared: Option<String>,
    copies: u32,
    max_loss_percent: Option<f64>,
    untimed: Option<String>,
    demux: Arc<Mutex<Demux>>,
    capture: CaptureThread,
    procfs: super::SharedProcfs,
    counters_before: Option<InterfaceCounters>,
}

/// The receivers of a run, capturing.
pub struct Receivers {
    running: Vec<Running>,
}

impl Receivers {
    /// Whether the state has none.
    pub fn is_empty(&self) -> bool {
        self.running.is_empty()
    }

    /// Distinct packets received so far, per receiver and stream, in report order.
    pub fn received_so_far(&self) -> Vec<Vec<u64>> {
        self.running
            .iter()
            .map(|r| {
                let demux = r.demux.lock().unwrap_or_else(PoisonError::into_inner);
                demux
                    .streams()
                    .iter()
                    .map(|s| s.sequence().counts().unique)
                    .collect()
            })
            .collect()
    }
}

/// Opens every receiver of `targets`, each in its namespace; the first that cannot be opened
/// ends it (the ones opened are stopped).
pub fn open(targets: &[OpenTarget]) -> Result<Receivers, Box<ReceiverError>> {
    let mut running = Vec::new();
    for t in targets {
        for r in &t.target.receivers {
            let plan = plan_receiver(targets, &r.streams);
            let demux = Demux::new(plan.config).map_err(|e| {
                Box::new(ReceiverError {
                    place: t.place().clone(),
                    interface: r.interface.clone(),
                    error: CaptureError::Thread {
                        interface: r.interface.clone(),
                        what: format!("has no stream table: {e}"),
                    },
                })
            })?;
            let demux = Arc::new(Mutex::new(demux));
            {
                let mut d = demux.lock().unwrap_or_else(PoisonError::into_inner);
                for key in &plan.keys {
                    // The table holds far more than a receiver's streams.
                    let _ = d.declare(*key);
                }
            }
            let counters_before = t.procfs.interface_counters(&r.interface).ok().flatten();
            let feed = Arc::clone(&demux);
            let capture = CaptureThread::spawn(
                t.place().netns(),
                &r.interface,
                CaptureOptions::default(),
                move |packet| {
                    let received = ReceiveTime::from_unix_nanos(
                        u64::try_from(packet.timestamp.as_nanos()).unwrap_or(u64::MAX),
                    );
                    let frame = CapturedFrame {
                        data: packet.frame,
                        wire_len: packet.wire_len,
                        offloaded_vlan_tci: packet.vlan.map(|v| v.tci),
                        received,
                    };
                    feed.lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .receive(&frame);
                },
            )
            .map_err(|error| {
                Box::new(ReceiverError {
                    place: t.place().clone(),
                    interface: r.interface.clone(),
                    error,
                })
            })?;
            running.push(Running {
                place: t.place().clone(),
                interface: r.interface.clone(),
                streams: r.streams.clone(),
                shared: plan.shared,
                copies: plan.copies,
                max_loss_percent: r.max_loss_percent,
                untimed: plan.untimed,
                demux,
                capture,
                procfs: Arc::clone(&t.procfs),
                counters_before,
            });
        }
    }
    Ok(Receivers { running })
}

/// Stops every receiver after `drain` and reports what each received; `sent` gives each
/// stream's `pkts-sofar` from the run's results.
pub fn close(
    receivers: Receivers,
    drain: Duration,
    sent: impl Fn(&StreamRef) -> Option<u64>,
) -> Vec<ReceiverReport> {
    if !receivers.is_empty() {
        std::thread::sleep(drain);
    }
    receivers
        .running
        .into_iter()
        .map(|r| report(r, &sent))
        .collect()
}

fn report(r: Running, sent: &dyn Fn(&StreamRef) -> Option<u64>) -> ReceiverReport {
    let (stats, error) = match r.capture.stop() {
        Ok(s) => (s, None),
        Err(e) => (CaptureStats::default(), Some(e.to_string())),
    };
    let counters = r
        .procfs
        .interface_counters(&r.interface)
        .ok()
        .flatten()
        .map(|now| since(r.counters_before, now));
    let demux = r.demux.lock().unwrap_or_else(PoisonError::into_inner);
    let table = demux.report();
    let groups: Vec<Vec<StreamRef>> = match r.shared {
        Some(_) => vec![r.streams.clone()],
        None => r.streams.iter().map(|s| vec![s.clone()]).collect(),
    };
    let streams = groups
        .into_iter()
        .zip(table.streams.iter())
        .zip(demux.streams())
        .map(|((streams, report), stream)| {
            let sent_total: Option<u64> = streams.iter().map(sent).sum();
            let received = report.sequence.unique;
            let lost = sent_total.map(|s| report.sequence.lost_given_sent(s));
            let loss_percent = sent_total.zip(lost).map(|(s, l)| {
                if s == 0 {
                    0.0
                } else {
                    l as f64 * 100.0 / s as f64
                }
            });
            ReceivedStream {
                over_max_loss: loss_percent
                    .zip(r.max_loss_percent)
                    .is_some_and(|(l, max)| l > max),
                streams,
                sent: sent_total,
                received,
                lost,
                loss_percent,
                copies_per_packet: r.copies,
                report: *report,
                latency_note: r.untimed.clone(),
                latency_buckets: stream.latency().counts_at_or_below(&LATENCY_BUCKETS_NS),
                latency_sum_seconds: stream.latency().sum_ns() / 1e9,
            }
        })
        .collect();
    ReceiverReport {
        namespace: r.place,
        interface: r.interface,
        streams,
        shared: r.shared,
        unattributed: table.unattributed.packets,
        not_pktgen: table.not_pktgen.total(),
        capture: CaptureCounts {
            packets: stats.packets,
            drops: stats.drops,
        },
        interface_counters: counters,
        error,
    }
}

/// The counters of the run: `now` less what they were when the capture opened.
fn since(before: Option<InterfaceCounters>, now: InterfaceCounters) -> InterfaceCounters {
    let b = before.unwrap_or_default();
    InterfaceCounters {
        rx_packets: now.rx_packets.saturating_sub(b.rx_packets),
        rx_bytes: now.rx_bytes.saturating_sub(b.rx_bytes),
        rx_dropped: now.rx_dropped.saturating_sub(b.rx_dropped),
        tx_packets: now.tx_packets.saturating_sub(b.tx_packets),
    }
}

/// The `sent` of each stream from the results of a run: the device's packets in its place.
pub fn sent_by<'a>(
    results: impl IntoIterator<Item = (&'a Place, &'a [DeviceReport])> + Clone,
) -> impl Fn(&StreamRef) -> Option<u64> {
    move |s: &StreamRef| {
        results.clone().into_iter().find_map(|(place, devices)| {
            (place.name() == s.namespace.as_ref())
                .then(|| devices.iter().find(|d| d.device == s.device))
                .flatten()
                .map(|d| d.packets)
        })
    }
}

/// How one receiver counts: its table's set-up, the keys of its streams in order, and why
/// they are one when they are.
struct ReceiverPlan {
    config: DemuxConfig,
    keys: Vec<StreamKey>,
    shared: Option<String>,
    copies: u32,
    untimed: Option<String>,
}

/// What a stream's packets are known to carry: a field is `None` when pktgen varies it (a
/// `*_RND` flag, a range) or pgstate cannot know it (an address the kernel picks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct KnownFields {
    src_mac: Option<MacAddr>,
    vlan: Option<VlanIds>,
    src_ip: Option<IpAddr>,
    src_port: Option<u16>,
}

fn plan_receiver(targets: &[OpenTarget], streams: &[StreamRef]) -> ReceiverPlan {
    let senders: Vec<Option<Sender>> = streams.iter().map(|s| sender(targets, s)).collect();
    let copies: BTreeSet<u32> = senders.iter().flatten().map(|s| s.copies).collect();
    let copies_each = copies.iter().next().copied().unwrap_or(1);
    let untimed = senders
        .iter()
        .flatten()
        .any(|s| s.config.flags.contains(Flag::NO_TIMESTAMP))
        .then(|| "a sender has NO_TIMESTAMP: its packets carry no send time".to_owned());
    let known: Vec<KnownFields> = senders.iter().flatten().map(|s| s.known).collect();
    let key_fields = KeyFields {
        src_mac: !known.is_empty() && known.iter().all(|k| k.src_mac.is_some()),
        vlan: !known.is_empty() && known.iter().all(|k| k.vlan.is_some()),
        src_ip: !known.is_empty() && known.iter().all(|k| k.src_ip.is_some()),
        dst_ip: false,
        src_port: !known.is_empty() && known.iter().all(|k| k.src_port.is_some()),
        dst_port: false,
    };
    let keys: Vec<StreamKey> = known
        .iter()
        .map(|k| StreamKey {
            src_mac: k.src_mac.filter(|_| key_fields.src_mac),
            vlan: k.vlan.filter(|_| key_fields.vlan),
            src_ip: k.src_ip.filter(|_| key_fields.src_ip),
            dst_ip: None,
            src_port: k.src_port.filter(|_| key_fields.src_port),
            dst_port: None,
        })
        .collect();
    let distinct: BTreeSet<String> = keys.iter().map(|k| format!("{k:?}")).collect();
    let shared = if senders.iter().any(Option::is_none) {
        Some("a stream's sender is not among the state's targets".to_owned())
    } else if copies.len() > 1 {
        Some("its streams send different numbers of copies of each packet".to_owned())
    } else if distinct.len() < keys.len() {
        Some(
            "no field of their packets that pktgen keeps fixed (source MAC, VLAN, source \
             address, UDP source port) tells its streams apart"
                .to_owned(),
        )
    } else {
        None
    };
    let sequence = SequenceConfig::new(copies_each).unwrap_or_default();
    // Streams told apart: each its declared key. Not: one stream of every packet, its key
    // made of no field.
    let (key_fields, keys) = if shared.is_some() {
        (KeyFields::NONE, vec![StreamKey::ANY])
    } else {
        (key_fields, keys)
    };
    let config = DemuxConfig {
        key_fields,
        admission: Admission::DeclaredOnly,
        sequence,
        ..DemuxConfig::default()
    };
    ReceiverPlan {
        keys,
        config,
        shared,
        copies: copies_each,
        untimed,
    }
}

/// A stream's sender, as its receiver needs it.
struct Sender {
    /// Its configuration on its kernel.
    config: DeviceConfig,
    /// What its packets carry.
    known: KnownFields,
    /// How many times pktgen sends each of its packets: `clone_skb` and `burst` apply
    /// always before 6.7 and only with `SHARED` since (the sender's kernel decides).
    copies: u32,
}

/// The sender of `stream` among `targets`.
fn sender(targets: &[OpenTarget], stream: &StreamRef) -> Option<Sender> {
    let t = targets
        .iter()
        .find(|t| t.place().name() == stream.namespace.as_ref())?;
    let desired = t.target.desired.devices.get(&stream.device)?;
    let profile = t
        .procfs
        .kernel_release()
        .and_then(|r| KernelProfile::from_release(&r))
        .unwrap_or_default();
    let config = desired.config_for(&profile);
    let interface_mac = || {
        let names = BTreeSet::from([stream.device.interface().to_owned()]);
        t.procfs
            .interfaces(&names)
            .ok()?
            .remove(stream.device.interface())?
            .mac
    };
    let flags = config.flags;
    let src_mac = if flags.contains(Flag::MACSRC_RND) || config.src_mac_count > 1 {
        None
    } else if config.src_mac.is_zero() {
        interface_mac()
    } else {
        Some(config.src_mac)
    };
    let src_ip = if flags.contains(Flag::IPSRC_RND) {
        None
    } else if config.ipv6() {
        (!config.src6.is_unspecified()).then_some(IpAddr::V6(config.src6))
    } else {
        single_v4(&config.src_min, &config.src_max).map(IpAddr::V4)
    };
    let src_port = (!flags.contains(Flag::UDPSRC_RND) && config.udp_src_min == config.udp_src_max)
        .then_some(config.udp_src_min);
    let vlan = Some(vlan_ids(config.vlan, config.svlan));
    let known = KnownFields {
        src_mac,
        vlan,
        src_ip,
        src_port,
    };
    Some(Sender {
        copies: device_copies_per_seq(&config, profile.has_shared_flag()),
        config,
        known,
    })
}

/// The one IPv4 source of `src_min`..`src_max`, when there is one: unset, the kernel takes
/// the interface's own address, which pgstate does not know.
fn single_v4(min: &str, max: &str) -> Option<Ipv4Addr> {
    let lo: Ipv4Addr = min.parse().ok()?;
    match max.parse::<Ipv4Addr>() {
        Ok(hi) if hi != lo => None,
        _ => Some(lo),
    }
}

/// The tags as a frame carries them: SVLAN outermost (QinQ), else the VLAN.
fn vlan_ids(vlan: Option<Vlan>, svlan: Option<Vlan>) -> VlanIds {
    match (vlan, svlan) {
        (Some(v), Some(s)) => VlanIds {
            outer: Some(s.id),
            inner: Some(v.id),
        },
        (Some(v), None) => VlanIds {
            outer: Some(v.id),
            inner: None,
        },
        _ => VlanIds {
            outer: None,
            inner: None,
        },
    }
}

#[cfg(all(test, feature = "simulator"))]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use super::*;
    use crate::model::{DeviceName, NamespaceName};
    use crate::procfs::SimProcfs;

    /// A sender with `clone_skb 3` on `profile`, as the one target of a state.
    fn sender_on(profile: KernelProfile) -> Vec<OpenTarget> {
        let text = "namespaces:\n  s:\n    devices:\n      s-eth0: {thread: 0, clone_skb: 3}\n";
        let loaded = crate::state_file::load_texts(&[(Path::new("s.yaml"), text)]).unwrap();
        let sim = SimProcfs::new(profile, &[0]);
        sim.add_interface("s-eth0", MacAddr([2, 0, 0, 0, 0, 1]), true);
        let sim: super::super::SharedProcfs = Arc::new(sim);
        super::super::from_state(loaded)
            .into_iter()
            .map(|t| OpenTarget::new(t, Arc::clone(&sim)))
            .collect()
    }

    /// pktgen repeats a packet `clone_skb` times on every kernel before 6.7, which has no
    /// `SHARED` flag to ask first: the sender's kernel decides, not pgstate's default one.
    #[test]
    fn copies_per_packet_follow_the_senders_kernel() {
        let stream = StreamRef {
            namespace: Some(NamespaceName::new("s").unwrap()),
            device: DeviceName::new("s-eth0").unwrap(),
        };
        let copies =
            |profile| plan_receiver(&sender_on(profile), std::slice::from_ref(&stream)).copies;
        assert_eq!(copies(KernelProfile::LINUX_5_10), 3);
        assert_eq!(copies(KernelProfile::LINUX_6_1), 3);
    }
}
