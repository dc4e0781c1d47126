//! One stream's one-way latency from pktgen's send time and the receive time: min, max,
//! quantiles from a fixed-size histogram, RFC 3550 interarrival jitter, and the packets
//! that could not be timed, counted by reason.
//!
//! # The two clocks
//!
//! pktgen stamps `ktime_get_real_ts64` (the wall clock, `CLOCK_REALTIME`) when it builds
//! the skb (`pktgen_finalize_skb`), as seconds cut to 32 bits and **microseconds**
//! (`tv_nsec / NSEC_PER_USEC`): every latency here reads 0–999 ns longer than it was. The
//! receive time must be on the same clock (AF_PACKET's `tp_sec`/`tp_nsec` are, by
//! default); across two hosts the latencies are only as good as their clock sync, and a
//! receive time before the send time is counted as [`LatencyOutcome::ClockBehind`], not
//! recorded. Jitter only compares differences, so a constant offset between the clocks
//! does not change it: it is computed for those packets too.
//!
//! The 32-bit seconds (wrapping in 2106, or 2038 read as signed) are widened to the
//! 64-bit value nearest the receive time, so neither wrap matters.
//!
//! With the `NO_TIMESTAMP` flag both words are zero: [`LatencyOutcome::NoTimestamp`],
//! counted, nothing recorded.
//!
//! # The histogram and its error
//!
//! Latencies are recorded in nanoseconds in an HDR histogram (`hdrhistogram`) sized once
//! for values up to `highest_ns`: log-linear buckets, one per nanosecond below
//! 2^⌈log2(2·10^digits)⌉ ns (256 ns with 2 digits), and above that no wider than
//! 1/2^(⌈log2(2·10^digits)⌉ − 1) of the values in them. A quantile is reported as the
//! highest value of the bucket holding the sample at that rank (the rank ⌈q·n⌉), so it is
//! never below the exact sample and above it by at most [`LatencyConfig::relative_error`]
//! of it (1/128 = 0.78 % with the default 2 digits, 1/1024 = 0.098 % with 3), and never
//! above the exact maximum. Memory per stream with `highest_ns` 100 s: 31 KiB with 2
//! digits, 224 KiB with 3, 4.5 KiB with 1.
//!
//! # Jitter
//!
//! RFC 3550 §6.4.1: for consecutive timed packets in arrival order, D = (R_j − R_i) −
//! (S_j − S_i) and J += (|D| − J)/16, kept scaled by 16 in integers as in its appendix A.8.
//! A |D| beyond `highest_ns` (a clock step, or a stray timestamp) is not jitter and
//! leaves J as it was.

use std::fmt;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::frame::PktgenHeader;

/// Nanoseconds in a second.
pub const NANOS_PER_SEC: u64 = 1_000_000_000;

/// The default highest latency recorded: 100 s.
pub const DEFAULT_HIGHEST_NS: u64 = 100 * NANOS_PER_SEC;

/// The most a histogram may track: one hour.
pub const MAX_HIGHEST_NS: u64 = 3_600 * NANOS_PER_SEC;

/// The default significant decimal digits of the histogram.
pub const DEFAULT_SIGNIFICANT_DIGITS: u8 = 2;

/// A receive time on the wall clock (`CLOCK_REALTIME`), in nanoseconds since the Unix
/// epoch (a `u64` lasts until 2554).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ReceiveTime(u64);

impl ReceiveTime {
    /// From nanoseconds since the Unix epoch.
    pub fn from_unix_nanos(nanos: u64) -> Self {
        ReceiveTime(nanos)
    }

    /// From seconds and nanoseconds (a `timespec`, or `tp_sec`/`tp_nsec`); `None` for
    /// nanoseconds of a second or more, or a time past 2554.
    pub fn from_sec_nsec(sec: u64, nsec: u32) -> Option<Self> {
        if u64::from(nsec) >= NANOS_PER_SEC {
            return None;
        }
        sec.checked_mul(NANOS_PER_SEC)
            .and_then(|ns| ns.checked_add(u64::from(nsec)))
            .map(ReceiveTime)
    }

    /// Nanoseconds since the Unix epoch.
    pub fn unix_nanos(self) -> u64 {
        self.0
    }
}

/// Why a [`LatencyConfig`] was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LatencyConfigError {
    /// Significant digits outside 1..=3 (more would take megabytes per stream).
    SignificantDigits(u8),
    /// A highest latency below 2 ns or above [`MAX_HIGHEST_NS`].
    HighestNs(u64),
}

impl fmt::Display for LatencyConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LatencyConfigError::SignificantDigits(d) => {
                write!(f, "{d} significant digits: must be 1, 2 or 3")
            }
            LatencyConfigError::HighestNs(ns) => {
                write!(
                    f,
                    "highest latency {ns} ns: must be from 2 ns to {MAX_HIGHEST_NS} ns"
                )
            }
        }
    }
}

impl std::error::Error for LatencyConfigError {}

/// The range and precision of the latency histogram; fixed when a stream is set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LatencyConfig {
    highest_ns: u64,
    significant_digits: u8,
}

impl Default for LatencyConfig {
    /// Up to [`DEFAULT_HIGHEST_NS`] with [`DEFAULT_SIGNIFICANT_DIGITS`].
    fn default() -> Self {
        LatencyConfig {
            highest_ns: DEFAULT_HIGHEST_NS,
            significant_digits: DEFAULT_SIGNIFICANT_DIGITS,
        }
    }
}

impl LatencyConfig {
    /// Latencies up to `highest_ns` (2 ns to one hour) kept to `significant_digits` (1 to
    /// 3); longer ones are counted as [`LatencyOutcome::OverRange`].
    pub fn new(highest_ns: u64, significant_digits: u8) -> Result<Self, LatencyConfigError> {
        if !(1..=3).contains(&significant_digits) {
            return Err(LatencyConfigError::SignificantDigits(significant_digits));
        }
        if !(2..=MAX_HIGHEST_NS).contains(&highest_ns) {
            return Err(LatencyConfigError::HighestNs(highest_ns));
        }
        Ok(LatencyConfig {
            highest_ns,
            significant_digits,
        })
    }

    /// The highest latency recorded, in ns.
    pub fn highest_ns(&self) -> u64 {
        self.highest_ns
    }

    /// The histogram's significant decimal digits.
    pub fn significant_digits(&self) -> u8 {
        self.significant_digits
    }

    /// The most a reported quantile exceeds the exact sample, as a fraction of it: one
    /// sub-bucket of HdrHistogram's half range, `1 / 2^(⌈log2(2·10^digits)⌉ − 1)`.
    pub fn relative_error(&self) -> f64 {
        let largest_exact = 2.0 * 10f64.powi(i32::from(self.significant_digits));
        let half_count_magnitude = largest_exact.log2().ceil() - 1.0;
        1.0 / half_count_magnitude.exp2()
    }
}

/// What became of one packet's timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LatencyOutcome {
    /// Recorded: the packet took this long.
    Recorded {
        /// Receive time − send time.
        nanos: u64,
    },
    /// Sent without a timestamp (`NO_TIMESTAMP`: both words zero).
    NoTimestamp,
    /// Microseconds of a second or more: not a time pktgen wrote.
    InvalidTimestamp,
    /// Received this long *before* it was sent: the two clocks are not in step.
    ClockBehind {
        /// Send time − receive time.
        nanos: u64,
    },
    /// Longer than the histogram's highest value.
    OverRange {
        /// Receive time − send time.
        nanos: u64,
    },
}

/// One stream's latency totals; see the [module documentation](self).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Latencies recorded.
    pub samples: u64,
    /// The smallest recorded, exact.
    pub min_ns: Option<u64>,
    /// The largest recorded, exact.
    pub max_ns: Option<u64>,
    /// The mean of the recorded values, from the histogram.
    pub mean_ns: Option<f64>,
    /// The median.
    pub p50_ns: Option<u64>,
    /// The 90th percentile.
    pub p90_ns: Option<u64>,
    /// The 99th percentile.
    pub p99_ns: Option<u64>,
    /// The 99.9th percentile.
    pub p999_ns: Option<u64>,
    /// RFC 3550 interarrival jitter, once two timed packets arrived.
    pub jitter_ns: Option<u64>,
    /// Packets sent without a timestamp.
    pub no_timestamp: u64,
    /// Packets whose microseconds were a second or more.
    pub invalid_timestamp: u64,
    /// Packets received before they were sent (clocks not in step).
    pub clock_behind: u64,
    /// Packets that took longer than the histogram's highest value.
    pub over_range: u64,
    /// The most a quantile exceeds the exact sample, as a fraction of it.
    pub relative_error: f64,
}

/// One stream's latency recorder. Memory is fixed at [`LatencyRecorder::new`].
#[derive(Debug, Clone)]
pub struct LatencyRecorder {
    config: LatencyConfig,
    histogram: Histogram<u64>,
    min_ns: Option<u64>,
    max_ns: Option<u64>,
    no_timestamp: u64,
    invalid_timestamp: u64,
    clock_behind: u64,
    over_range: u64,
    /// The previous timed packet's receive − send time (any sign).
    previous_transit: Option<i128>,
    /// J × 16, as RFC 3550 A.8 keeps it.
    jitter_x16: u64,
}

impl LatencyRecorder {
    /// A recorder with its histogram allocated; nothing is allocated after this.
    pub fn new(config: LatencyConfig) -> Result<Self, LatencyConfigError> {
        let histogram = Histogram::new_with_bounds(1, config.highest_ns, config.significant_digits)
            .map_err(|_| LatencyConfigError::HighestNs(config.highest_ns))?;
        Ok(LatencyRecorder {
            config,
            histogram,
            min_ns: None,
            max_ns: None,
            no_timestamp: 0,
            invalid_timestamp: 0,
            clock_behind: 0,
            over_range: 0,
            previous_transit: None,
            jitter_x16: 0,
        })
    }

    /// How it was set up.
    pub fn config(&self) -> &LatencyConfig {
        &self.config
    }

    /// Times one packet from its pktgen header and when it was received.
    pub fn record(&mut self, header: &PktgenHeader, received: ReceiveTime) -> LatencyOutcome {
        if !header.has_timestamp() {
            self.no_timestamp += 1;
            return LatencyOutcome::NoTimestamp;
        }
        let Some(transit) = transit_nanos(header, received) else {
            self.invalid_timestamp += 1;
            return LatencyOutcome::InvalidTimestamp;
        };
        self.update_jitter(transit);
        if transit < 0 {
            self.clock_behind += 1;
            return LatencyOutcome::ClockBehind {
                nanos: saturate(-transit),
            };
        }
        let nanos = saturate(transit);
        if nanos > self.config.highest_ns || self.histogram.record(nanos).is_err() {
            self.over_range += 1;
            return LatencyOutcome::OverRange { nanos };
        }
        self.min_ns = Some(self.min_ns.map_or(nanos, |m| m.min(nanos)));
        self.max_ns = Some(self.max_ns.map_or(nanos, |m| m.max(nanos)));
        LatencyOutcome::Recorded { nanos }
    }

    fn update_jitter(&mut self, transit: i128) {
        if let Some(previous) = self.previous_transit {
            let d = (transit - previous).unsigned_abs();
            if d <= u128::from(self.config.highest_ns) {
                // J += (|D| − J)/16, as J×16 += |D| − round(J×16 / 16).
                let d = d as u64;
                self.jitter_x16 = self.jitter_x16 + d - (self.jitter_x16 + 8) / 16;
            }
        }
        self.previous_transit = Some(transit);
    }

    /// The totals so far.
    pub fn summary(&self) -> LatencySummary {
        let samples = self.histogram.len();
        let quantile = |q: f64| {
            (samples > 0).then(|| {
                let v = self.histogram.value_at_quantile(q);
                // The bucket's highest value, but never beyond the exact extremes.
                v.clamp(self.min_ns.unwrap_or(v), self.max_ns.unwrap_or(v))
            })
        };
        LatencySummary {
            samples,
            min_ns: self.min_ns,
            max_ns: self.max_ns,
            mean_ns: (samples > 0).then(|| self.histogram.mean()),
            p50_ns: quantile(0.5),
            p90_ns: quantile(0.9),
            p99_ns: quantile(0.99),
            p999_ns: quantile(0.999),
            jitter_ns: (self.timed() >= 2).then_some((self.jitter_x16 + 8) / 16),
            no_timestamp: self.no_timestamp,
            invalid_timestamp: self.invalid_timestamp,
            clock_behind: self.clock_behind,
            over_range: self.over_range,
            relative_error: self.config.relative_error(),
        }
    }

    /// How many recorded latencies are at or below each of `bounds_ns` (ascending), for a
    /// histogram of fixed buckets (Prometheus'): a value counts under a bound when the
    /// histogram's bucket holding it does, so a count may take in values up to the relative
    /// error above its bound.
    pub fn counts_at_or_below(&self, bounds_ns: &[u64]) -> Vec<u64> {
        bounds_ns
            .iter()
            .map(|&b| {
                self.histogram
                    .count_between(0, b.min(self.config.highest_ns))
            })
            .collect()
    }

    /// The sum of the recorded latencies, ns (from the histogram's mean).
    pub fn sum_ns(&self) -> f64 {
        self.histogram.mean() * self.histogram.len() as f64
    }

    /// Packets with a valid timestamp, recorded or not (jitter compares pairs of them).
    fn timed(&self) -> u64 {
        self.histogram.len() + self.clock_behind + self.over_range
    }

    /// Bytes this recorder holds, histogram included: the same from creation on.
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.histogram.distinct_values() * std::mem::size_of::<u64>()
    }
}

/// Receive time − send time in ns (any sign), or `None` when the microseconds are not
/// below a million. The 32-bit seconds are widened to the value nearest the receive time.
fn transit_nanos(header: &PktgenHeader, received: ReceiveTime) -> Option<i128> {
    if u64::from(header.tv_usec) >= 1_000_000 {
        return None;
    }
    let rx_ns = i128::from(received.unix_nanos());
    let rx_sec = received.unix_nanos() / NANOS_PER_SEC;
    let back = i128::from((rx_sec as u32).wrapping_sub(header.tv_sec) as i32);
    let tx_sec = i128::from(rx_sec) - back;
    let tx_ns = tx_sec * i128::from(NANOS_PER_SEC) + i128::from(header.tv_usec) * 1_000;
    Some(rx_ns - tx_ns)
}

fn saturate(ns: i128) -> u64 {
    u64::try_from(ns).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const T0: u64 = 1_700_000_000;

    fn header(tv_sec: u32, tv_usec: u32) -> PktgenHeader {
        PktgenHeader {
            seq: 1,
            tv_sec,
            tv_usec,
        }
    }

    fn rx(sec: u64, nsec: u32) -> ReceiveTime {
        ReceiveTime::from_sec_nsec(sec, nsec).unwrap()
    }

    fn recorder() -> LatencyRecorder {
        LatencyRecorder::new(LatencyConfig::default()).unwrap()
    }

    #[test]
    fn latency_is_receive_minus_send() {
        let mut r = recorder();
        let out = r.record(&header(T0 as u32, 250_000), rx(T0, 250_012_345));
        assert_eq!(out, LatencyOutcome::Recorded { nanos: 12_345 });
        let s = r.summary();
        assert_eq!(
            (s.samples, s.min_ns, s.max_ns),
            (1, Some(12_345), Some(12_345))
        );
        assert_eq!(s.p50_ns, Some(12_345));
        assert_eq!(s.jitter_ns, None);
    }

    #[test]
    fn no_timestamp_is_counted_not_recorded() {
        let mut r = recorder();
        assert_eq!(
            r.record(&header(0, 0), rx(T0, 0)),
            LatencyOutcome::NoTimestamp
        );
        let s = r.summary();
        assert_eq!((s.samples, s.no_timestamp), (0, 1));
        assert_eq!((s.min_ns, s.p99_ns, s.mean_ns), (None, None, None));
    }

    #[test]
    fn nonsense_timestamps_are_counted_apart() {
        let mut r = recorder();
        assert_eq!(
            r.record(&header(T0 as u32, 1_000_000), rx(T0, 0)),
            LatencyOutcome::InvalidTimestamp
        );
        assert_eq!(
            r.record(&header(T0 as u32 + 2, 0), rx(T0, 0)),
            LatencyOutcome::ClockBehind {
                nanos: 2 * NANOS_PER_SEC
            }
        );
        assert_eq!(
            r.record(&header(T0 as u32 - 1000, 0), rx(T0, 0)),
            LatencyOutcome::OverRange {
                nanos: 1000 * NANOS_PER_SEC
            }
        );
        let s = r.summary();
        assert_eq!(
            (s.samples, s.invalid_timestamp, s.clock_behind, s.over_range),
            (0, 1, 1, 1)
        );
    }

    #[test]
    fn seconds_wrap_at_32_bits() {
        // 2106-02-07: the receive clock has passed 2^32 s, pktgen's tv_sec has wrapped.
        let mut r = recorder();
        let rx_sec = (1u64 << 32) + 5;
        assert_eq!(
            r.record(&header(4, 999_000), rx(rx_sec, 0)),
            LatencyOutcome::Recorded { nanos: 1_000_000 }
        );
        // And the send a little before the wrap.
        assert_eq!(
            r.record(&header(u32::MAX, 0), rx(1 << 32, 0)),
            LatencyOutcome::Recorded {
                nanos: NANOS_PER_SEC
            }
        );
    }

    #[test]
    fn quantiles_are_within_the_stated_error() {
        let mut r = recorder();
        for us in 1..=10_000u64 {
            let sent = header(T0 as u32, 0);
            r.record(
                &sent,
                ReceiveTime::from_unix_nanos(T0 * NANOS_PER_SEC + us * 1_000),
            );
        }
        let s = r.summary();
        let err = s.relative_error;
        assert!((err - 1.0 / 128.0).abs() < 1e-12);
        for (q, exact) in [
            (s.p50_ns, 5_000_000u64),
            (s.p90_ns, 9_000_000),
            (s.p99_ns, 9_900_000),
            (s.p999_ns, 9_990_000),
        ] {
            let q = q.unwrap();
            assert!(
                q >= exact && (q - exact) as f64 <= exact as f64 * err,
                "{q} vs {exact}"
            );
        }
        assert_eq!((s.min_ns, s.max_ns), (Some(1_000), Some(10_000_000)));
        let mean = s.mean_ns.unwrap();
        assert!((mean - 5_000_500.0).abs() <= 5_000_500.0 * err);
    }

    #[test]
    fn quantiles_never_pass_the_maximum() {
        let mut r = recorder();
        r.record(&header(T0 as u32, 0), rx(T0, 1_000_001));
        let s = r.summary();
        assert_eq!(s.p999_ns, Some(1_000_001));
    }

    #[test]
    fn relative_error_matches_the_histogram() {
        for digits in 1..=3u8 {
            let config = LatencyConfig::new(DEFAULT_HIGHEST_NS, digits).unwrap();
            let h: Histogram<u64> =
                Histogram::new_with_bounds(1, DEFAULT_HIGHEST_NS, digits).unwrap();
            let mut worst = 0f64;
            for v in [1_000u64, 12_345, 999_999, 1 << 30, 77_777_777_777] {
                worst = worst.max((h.highest_equivalent(v) - v) as f64 / v as f64);
            }
            assert!(worst <= config.relative_error(), "{digits}: {worst}");
        }
        assert!((LatencyConfig::new(10, 3).unwrap().relative_error() - 1.0 / 1024.0).abs() < 1e-12);
    }

    #[test]
    fn jitter_follows_rfc_3550() {
        let mut r = recorder();
        // Transit times 100, 300, 100, 300 µs: |D| = 200 µs each time after the first.
        let transits = [100_000u64, 300_000, 100_000, 300_000];
        let mut j = 0f64;
        for (i, t) in transits.iter().enumerate() {
            let sent_us = i as u32 * 1_000;
            r.record(
                &header(T0 as u32, sent_us),
                ReceiveTime::from_unix_nanos(T0 * NANOS_PER_SEC + u64::from(sent_us) * 1_000 + t),
            );
            if i > 0 {
                j += (200_000.0 - j) / 16.0;
            }
        }
        let got = r.summary().jitter_ns.unwrap() as f64;
        assert!((got - j).abs() <= 1.0, "{got} vs {j}");
    }

    #[test]
    fn a_constant_clock_offset_does_not_change_jitter() {
        let run = |offset_ns: i64| {
            let mut r = recorder();
            for i in 0..100u64 {
                let sent_us = (i * 10) as u32;
                let transit = 50_000 + (i % 7) * 3_000;
                let at =
                    (T0 * NANOS_PER_SEC + u64::from(sent_us) * 1_000 + transit) as i64 + offset_ns;
                r.record(
                    &header(T0 as u32, sent_us),
                    ReceiveTime::from_unix_nanos(at as u64),
                );
            }
            r.summary()
        };
        let same_clock = run(0);
        let behind = run(-5 * NANOS_PER_SEC as i64);
        assert_eq!(behind.clock_behind, 100);
        assert_eq!(behind.samples, 0);
        assert_eq!(same_clock.jitter_ns, behind.jitter_ns);
        assert!(same_clock.jitter_ns.unwrap() > 0);
    }

    #[test]
    fn a_clock_step_is_not_jitter() {
        let mut r = recorder();
        r.record(&header(T0 as u32, 0), rx(T0, 10_000));
        r.record(&header(T0 as u32, 10), rx(T0, 30_000));
        let before = r.summary().jitter_ns;
        // A stray timestamp from 1000 s ago.
        r.record(&header(T0 as u32 - 1000, 0), rx(T0, 40_000));
        assert_eq!(r.summary().jitter_ns, before);
    }

    #[test]
    fn config_limits_and_receive_times() {
        assert_eq!(
            LatencyConfig::new(DEFAULT_HIGHEST_NS, 0),
            Err(LatencyConfigError::SignificantDigits(0))
        );
        assert_eq!(
            LatencyConfig::new(DEFAULT_HIGHEST_NS, 4),
            Err(LatencyConfigError::SignificantDigits(4))
        );
        assert_eq!(
            LatencyConfig::new(1, 2),
            Err(LatencyConfigError::HighestNs(1))
        );
        assert_eq!(
            LatencyConfig::new(MAX_HIGHEST_NS + 1, 2),
            Err(LatencyConfigError::HighestNs(MAX_HIGHEST_NS + 1))
        );
        for e in [
            LatencyConfigError::SignificantDigits(9),
            LatencyConfigError::HighestNs(0),
        ] {
            assert!(!e.to_string().is_empty());
        }
        assert_eq!(ReceiveTime::from_sec_nsec(1, 1_000_000_000), None);
        assert_eq!(ReceiveTime::from_sec_nsec(u64::MAX, 0), None);
        assert_eq!(
            ReceiveTime::from_sec_nsec(2, 5).unwrap().unix_nanos(),
            2_000_000_005
        );
        let r = recorder();
        assert!(r.memory_bytes() < 40 * 1024, "{}", r.memory_bytes());
        assert_eq!(r.config().significant_digits(), DEFAULT_SIGNIFICANT_DIGITS);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        /// Any header and receive time: no panic, memory unchanged, every packet counted once.
        #[test]
        fn any_timestamps_are_counted_once_in_fixed_memory(
            packets in proptest::collection::vec((any::<u32>(), any::<u32>(), any::<u64>()), 0..200),
        ) {
            let mut r = recorder();
            let before = r.memory_bytes();
            for (sec, usec, rx_ns) in &packets {
                r.record(&header(*sec, *usec), ReceiveTime::from_unix_nanos(*rx_ns));
            }
            prop_assert_eq!(r.memory_bytes(), before);
            let s = r.summary();
            prop_assert_eq!(
                s.samples + s.no_timestamp + s.invalid_timestamp + s.clock_behind + s.over_range,
                packets.len() as u64
            );
            if let (Some(min), Some(max), Some(p50)) = (s.min_ns, s.max_ns, s.p50_ns) {
                prop_assert!(min <= p50 && p50 <= max);
            }
        }
    }
}
