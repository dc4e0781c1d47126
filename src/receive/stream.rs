//! Counting one stream's packets from their sequence numbers: received, bytes, lost,
//! duplicated, late (reordered), and sender restarts, in memory fixed when the stream is
//! set up.
//!
//! # What pktgen numbers
//!
//! pktgen numbers *packets sent*, not skbs. `pktgen_xmit` adds one to `pkt_dev->seq_num`
//! for every packet a send succeeds for, and `pktgen_finalize_skb` stamps the value at the
//! moment the skb is built. An skb sent several times — `clone_skb N` sends it N times,
//! `burst B` B times in a row per call, so up to `max(clone_skb, 1) × burst` copies
//! ([`copies_per_seq`]) — carries one number, and the next skb carries that number plus
//! the copies actually sent. With `clone_skb 3` the wire reads 1 1 1 4 4 4 7 7 7. A run
//! starts at 1 (`pktgen_clear_counters`, called by `pktgen_run` at every start), and the
//! number is a `__u32` that wraps.
//!
//! So every packet pktgen sends owns one *slot* of the sequence space: the copies of the
//! skb numbered S own S, S+1, …, S+copies−1. The tracker gives the k-th copy it sees of
//! number S the lowest free slot among S … S+C−1 (C the copies declared in
//! [`SequenceConfig`]); copies are indistinguishable, so which copy fills which slot does
//! not matter, and the slot count is pktgen's packet count. A copy beyond C is a
//! duplicate. Declaring too few copies shows every extra copy as a duplicate and as many
//! slots lost; declaring too many only lets that many network duplicates pass as copies.
//!
//! # Bounded memory
//!
//! Slots are remembered in a ring bitmap of `window_slots` bits (65,536 by default: 8 KiB)
//! covering the slots just below the highest one seen. Nothing grows with the traffic: a
//! packet more than the window behind cannot be told late from duplicate and is counted as
//! *unplaced* instead.
//!
//! # Restarts
//!
//! A sender restart (`pgctrl start` again: the numbers begin at 1) or another sender
//! taking the stream's place shows as packets that fit nowhere: all of their slots already
//! filled, or more than the window behind, or more than `max_gap` ahead (a restart from
//! beyond 2³¹ looks like a jump forward in serial-number arithmetic, RFC 1982).
//! [`RESTART_CONFIRMATIONS`] such packets in a row that ascend like a pktgen run (each a
//! little above the one before, or a repeat no more than C times) start a new *epoch*:
//! they are taken back from the duplicates or unplaced counts and counted again from an
//! empty window, and `restarts` goes up by one. A packet that advances the old sequence
//! before that cancels the candidates (a replayed burst or a stray old packet, counted as
//! what it looked like). Random numbers (another sender's nonsense) practically never
//! ascend eight times in a row, so they stay unplaced.
//!
//! # The totals, exactly
//!
//! Every packet given to [`SequenceTracker::record`] is counted in `received` and its
//! length in `bytes`, and in exactly one of `unique`, `duplicates`, `unplaced`. Over each
//! epoch:
//!
//! * `expected` = highest slot − lowest slot + 1, slots as above (for `clone_skb 1` without
//!   burst: highest seq seen − lowest seq seen + 1), summed over epochs.
//! * `unique` = slots filled, each once (in order, late, or as a declared copy).
//! * `lost` = `expected` − `unique`: the packets pktgen sent between the first and the
//!   last one seen that have not (yet) arrived. Late arrivals lower it. Packets lost before
//!   the first one seen or after the last one seen are not visible from the sequence; with
//!   the sender's count (`pkts-sofar`, one run) use [`SequenceCounts::lost_given_sent`].
//! * `late` ⊆ `unique`: filled a slot below the highest slot seen at that moment
//!   (reordered; includes a late copy).
//! * `copies` ⊆ `unique`: repeated a sequence number within the declared copies.
//! * `duplicates`: every slot of its number already filled (within the window).
//! * `unplaced`: too far from the stream's position to place (more than the window
//!   behind, or more than `max_gap` ahead) and not part of a restart.
//! * `restarts`: epochs started after the first.

use serde::{Deserialize, Serialize};

use crate::model::{DeviceConfig, Flag};

/// The default window: 65,536 slots (8 KiB of bitmap), about 6.5 ms of one 10 Mpps stream.
pub const DEFAULT_WINDOW_SLOTS: u32 = 1 << 16;

/// The smallest window accepted (one 64-bit word).
pub const MIN_WINDOW_SLOTS: u32 = 64;

/// The largest window accepted: 2²⁴ slots, 2 MiB of bitmap.
pub const MAX_WINDOW_SLOTS: u32 = 1 << 24;

/// The default largest forward jump counted as loss rather than as a possible restart:
/// 2²⁴ packets, 1.7 s of a 10 Mpps stream lost in one piece.
pub const DEFAULT_MAX_GAP: u32 = 1 << 24;

/// How many packets that fit nowhere, ascending like a new run, confirm a restart.
pub const RESTART_CONFIRMATIONS: usize = 8;

/// The copies pktgen sends of each skb, all with one sequence number: `clone_skb` sends
/// (0 and 1 both mean one: `pktgen_xmit` builds a new skb once `++clone_count >=
/// clone_skb`), each as a burst of `burst` (1 and 0 mean one). Saturates at `u32::MAX`.
pub fn copies_per_seq(clone_skb: u32, burst: u32) -> u32 {
    clone_skb.max(1).saturating_mul(burst.max(1))
}

/// [`copies_per_seq`] for a device as configured. Since 6.7 `pktgen_xmit` reads
/// `clone_skb` and `burst` only while the `SHARED` flag is set (without it every packet is
/// a new skb); before 6.7 there is no such flag and they always apply, so say whether the
/// kernel has it (`KernelProfile::has_shared_flag`).
pub fn device_copies_per_seq(device: &DeviceConfig, kernel_has_shared_flag: bool) -> u32 {
    if kernel_has_shared_flag && !device.flags.contains(Flag::SHARED) {
        return 1;
    }
    copies_per_seq(device.clone_skb, device.burst)
}

/// Why a [`SequenceConfig`] was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SequenceConfigError {
    /// Zero copies per sequence number: every number is sent at least once.
    ZeroCopies,
    /// More copies than a quarter of the largest window can hold.
    TooManyCopies(u32),
    /// A window that is not a power of two in [`MIN_WINDOW_SLOTS`]..=[`MAX_WINDOW_SLOTS`].
    WindowSize(u32),
    /// A window smaller than four times the copies (one skb's copies would fill it).
    WindowTooSmallForCopies {
        /// The window asked for.
        window_slots: u32,
        /// The copies per sequence number.
        copies: u32,
    },
    /// A `max_gap` of 0 or of 2³¹ and more (not a forward distance in serial arithmetic).
    MaxGap(u32),
}

impl std::fmt::Display for SequenceConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SequenceConfigError::ZeroCopies => write!(f, "copies per sequence number must be at least 1"),
            SequenceConfigError::TooManyCopies(c) => write!(
                f,
                "{c} copies per sequence number: at most {} fit the largest window",
                MAX_WINDOW_SLOTS / 4
            ),
            SequenceConfigError::WindowSize(w) => write!(
                f,
                "window of {w} slots: must be a power of two from {MIN_WINDOW_SLOTS} to {MAX_WINDOW_SLOTS}"
            ),
            SequenceConfigError::WindowTooSmallForCopies { window_slots, copies } => write!(
                f,
                "window of {window_slots} slots: at least 4 x {copies} copies needed"
            ),
            SequenceConfigError::MaxGap(g) => write!(f, "max gap {g}: must be from 1 to 2^31 - 1"),
        }
    }
}

impl std::error::Error for SequenceConfigError {}

/// How one stream's sequence is tracked; fixed when the stream is set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SequenceConfig {
    copies_per_seq: u32,
    window_slots: u32,
    max_gap: u32,
}

impl Default for SequenceConfig {
    /// One copy per number (`clone_skb` 0 or 1, no burst), the default window and gap.
    fn default() -> Self {
        SequenceConfig {
            copies_per_seq: 1,
            window_slots: DEFAULT_WINDOW_SLOTS,
            max_gap: DEFAULT_MAX_GAP,
        }
    }
}

impl SequenceConfig {
    /// `copies_per_seq` copies of each number ([`copies_per_seq`]), with a window of
    /// [`DEFAULT_WINDOW_SLOTS`] or four times the copies rounded up to a power of two,
    /// whichever is larger.
    pub fn new(copies_per_seq: u32) -> Result<Self, SequenceConfigError> {
        if copies_per_seq == 0 {
            return Err(SequenceConfigError::ZeroCopies);
        }
        if copies_per_seq > MAX_WINDOW_SLOTS / 4 {
            return Err(SequenceConfigError::TooManyCopies(copies_per_seq));
        }
        let window_slots = (copies_per_seq.next_power_of_two() * 4).max(DEFAULT_WINDOW_SLOTS);
        Ok(SequenceConfig {
            copies_per_seq,
            window_slots,
            ..SequenceConfig::default()
        })
    }

    /// The same with another window size: a power of two from [`MIN_WINDOW_SLOTS`] to
    /// [`MAX_WINDOW_SLOTS`], at least four times the copies.
    pub fn with_window_slots(self, window_slots: u32) -> Result<Self, SequenceConfigError> {
        if !window_slots.is_power_of_two()
            || !(MIN_WINDOW_SLOTS..=MAX_WINDOW_SLOTS).contains(&window_slots)
        {
            return Err(SequenceConfigError::WindowSize(window_slots));
        }
        if u64::from(window_slots) < 4 * u64::from(self.copies_per_seq) {
            return Err(SequenceConfigError::WindowTooSmallForCopies {
                window_slots,
                copies: self.copies_per_seq,
            });
        }
        Ok(SequenceConfig {
            window_slots,
            ..self
        })
    }

    /// The same with another largest forward jump counted as loss (1 to 2³¹ − 1); larger
    /// jumps are restart candidates.
    pub fn with_max_gap(self, max_gap: u32) -> Result<Self, SequenceConfigError> {
        if max_gap == 0 || max_gap > i32::MAX as u32 {
            return Err(SequenceConfigError::MaxGap(max_gap));
        }
        Ok(SequenceConfig { max_gap, ..self })
    }

    /// Copies expected of each sequence number.
    pub fn copies_per_seq(&self) -> u32 {
        self.copies_per_seq
    }

    /// Slots remembered below the highest one seen.
    pub fn window_slots(&self) -> u32 {
        self.window_slots
    }

    /// The largest forward jump counted as loss.
    pub fn max_gap(&self) -> u32 {
        self.max_gap
    }
}

/// Where one packet went in its stream's sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Placement {
    /// Filled the slot after the highest one seen, or further on: `gap` slots were skipped
    /// (now missing). `copy`: it repeated its number (a declared copy).
    InOrder {
        /// Slots skipped, newly counted as lost until they arrive late.
        gap: u64,
        /// A repeat of its sequence number within the declared copies.
        copy: bool,
    },
    /// Filled a hole below the highest slot seen: reordered.
    Late {
        /// A repeat of its sequence number within the declared copies.
        copy: bool,
    },
    /// Every slot of its number was already filled.
    Duplicate,
    /// Too far from the stream's position to place.
    Unplaced,
    /// It confirmed a sender restart: a new epoch starts with it and the packets that led
    /// up to it.
    Restart,
}

impl Placement {
    /// True for the first packet of its sequence number to fill a slot: the one whose
    /// pktgen timestamp says when it was sent (later copies carry the same build time).
    pub fn is_first_copy(&self) -> bool {
        matches!(
            self,
            Placement::InOrder { copy: false, .. } | Placement::Late { copy: false }
        )
    }
}

/// One stream's totals; see the [module documentation](self) for what each means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SequenceCounts {
    /// Packets given to the tracker.
    pub received: u64,
    /// Their lengths on the wire, summed.
    pub bytes: u64,
    /// Slots filled.
    pub unique: u64,
    /// Of `unique`: repeats of a number within the declared copies.
    pub copies: u64,
    /// Of `unique`: filled a slot below the highest seen (reordered).
    pub late: u64,
    /// All slots of their number already filled.
    pub duplicates: u64,
    /// Too far from the stream's position to place.
    pub unplaced: u64,
    /// Slots from the lowest to the highest seen, per epoch, summed.
    pub expected: u64,
    /// `expected − unique`.
    pub lost: u64,
    /// Epochs after the first (sender restarts).
    pub restarts: u64,
}

impl SequenceCounts {
    /// The loss against the sender's own count of packets sent (`pkts-sofar` after one
    /// run): everything sent that did not arrive, before the first packet seen and after
    /// the last one included. Meaningful for one epoch (no restart) whose sender count
    /// belongs to the same run.
    pub fn lost_given_sent(&self, sent: u64) -> u64 {
        sent.saturating_sub(self.unique)
    }
}

/// One stream's sequence accounting. Memory is fixed at [`SequenceTracker::new`]: the
/// window bitmap and a few counters, whatever numbers arrive.
#[derive(Debug, Clone)]
pub struct SequenceTracker {
    config: SequenceConfig,
    ring: SlotRing,
    epoch: Option<Epoch>,
    /// The epochs before the current one, summed (with their `expected`).
    closed: EpochCounts,
    received: u64,
    bytes: u64,
    restarts: u64,
    candidates: RestartCandidates,
    /// Slots `origin..=filled_to` are all filled: where the next copy of `origin` starts
    /// looking. Copies of one skb arrive together, so this keeps placing them O(1).
    hint: Option<CopyHint>,
}

/// Slot positions are sequence numbers unwrapped to 64 bits; the first of an epoch sits at
/// its number plus 2³², so that late slots below it never go below zero.
const EPOCH_ORIGIN: u64 = 1 << 32;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct EpochCounts {
    unique: u64,
    copies: u64,
    late: u64,
    duplicates: u64,
    unplaced: u64,
    expected: u64,
}

impl EpochCounts {
    fn add(&mut self, other: &EpochCounts) {
        self.unique += other.unique;
        self.copies += other.copies;
        self.late += other.late;
        self.duplicates += other.duplicates;
        self.unplaced += other.unplaced;
        self.expected += other.expected;
    }
}

#[derive(Debug, Clone, Copy)]
struct Epoch {
    lowest: u64,
    highest: u64,
    counts: EpochCounts,
}

impl Epoch {
    fn closed_counts(&self) -> EpochCounts {
        EpochCounts {
            expected: self.highest - self.lowest + 1,
            ..self.counts
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct CopyHint {
    origin: u64,
    filled_to: u64,
}

/// How a restart candidate was counted, to take it back when the restart is confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Misfit {
    Duplicate,
    Unplaced,
}

impl Misfit {
    fn placement(self) -> Placement {
        match self {
            Misfit::Duplicate => Placement::Duplicate,
            Misfit::Unplaced => Placement::Unplaced,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct RestartCandidates {
    seqs: [u32; RESTART_CONFIRMATIONS],
    misfits: [Misfit; RESTART_CONFIRMATIONS],
    len: usize,
    /// How many times in a row the last number repeated (a run repeats it ≤ copies times).
    repeats: u32,
}

impl RestartCandidates {
    const EMPTY: RestartCandidates = RestartCandidates {
        seqs: [0; RESTART_CONFIRMATIONS],
        misfits: [Misfit::Unplaced; RESTART_CONFIRMATIONS],
        len: 0,
        repeats: 0,
    };
}

impl SequenceTracker {
    /// A tracker with its window allocated; nothing is allocated after this.
    pub fn new(config: SequenceConfig) -> Self {
        SequenceTracker {
            config,
            ring: SlotRing::new(config.window_slots),
            epoch: None,
            closed: EpochCounts::default(),
            received: 0,
            bytes: 0,
            restarts: 0,
            candidates: RestartCandidates::EMPTY,
            hint: None,
        }
    }

    /// How it was set up.
    pub fn config(&self) -> &SequenceConfig {
        &self.config
    }

    /// Counts one packet with sequence number `seq` and `wire_len` bytes on the wire.
    pub fn record(&mut self, seq: u32, wire_len: u32) -> Placement {
        self.received += 1;
        self.bytes += u64::from(wire_len);
        self.place(seq)
    }

    /// The totals so far.
    pub fn counts(&self) -> SequenceCounts {
        let mut all = self.closed;
        if let Some(epoch) = &self.epoch {
            all.add(&epoch.closed_counts());
        }
        SequenceCounts {
            received: self.received,
            bytes: self.bytes,
            unique: all.unique,
            copies: all.copies,
            late: all.late,
            duplicates: all.duplicates,
            unplaced: all.unplaced,
            expected: all.expected,
            lost: all.expected - all.unique,
            restarts: self.restarts,
        }
    }

    /// The highest slot of the current epoch, as a sequence number (for a copy: its number
    /// plus the copies of it before; with every copy in, the number the next skb carries
    /// minus one), or `None` before the first packet.
    pub fn highest_seq(&self) -> Option<u32> {
        self.epoch.map(|e| e.highest as u32)
    }

    /// Bytes this tracker holds, window included: the same from creation on.
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.ring.words.len() * std::mem::size_of::<u64>()
    }

    fn place(&mut self, seq: u32) -> Placement {
        let Some(epoch) = self.epoch else {
            self.start_epoch(seq);
            return Placement::InOrder {
                gap: 0,
                copy: false,
            };
        };
        let window = u64::from(self.config.window_slots);
        let highest = epoch.highest;
        // Serial-number arithmetic (RFC 1982): the distance to the nearest unwrapping.
        let distance = i64::from(seq.wrapping_sub(highest as u32) as i32);
        if distance > i64::from(self.config.max_gap) || distance <= -(window as i64) {
            return self.misfit(seq, Misfit::Unplaced);
        }
        let origin = highest.wrapping_add_signed(distance);
        let bottom = highest + 1 - window;
        let last = origin + u64::from(self.config.copies_per_seq) - 1;

        let mut from = origin;
        if let Some(hint) = self.hint {
            if hint.origin == origin && hint.origin >= bottom {
                from = hint.filled_to + 1;
            }
        }
        if from <= highest {
            if let Some(slot) = self.ring.first_clear(from, last.min(highest)) {
                return self.fill_late(slot, origin);
            }
        }
        let slot = from.max(highest + 1);
        if slot > last {
            return self.misfit(seq, Misfit::Duplicate);
        }
        self.advance(slot, origin)
    }

    fn start_epoch(&mut self, seq: u32) {
        let slot = EPOCH_ORIGIN + u64::from(seq);
        self.ring.set(slot);
        self.epoch = Some(Epoch {
            lowest: slot,
            highest: slot,
            counts: EpochCounts {
                unique: 1,
                ..EpochCounts::default()
            },
        });
        self.hint = Some(CopyHint {
            origin: slot,
            filled_to: slot,
        });
    }

    fn fill_late(&mut self, slot: u64, origin: u64) -> Placement {
        self.ring.set(slot);
        let copy = slot != origin;
        if let Some(epoch) = &mut self.epoch {
            epoch.lowest = epoch.lowest.min(slot);
            epoch.counts.unique += 1;
            epoch.counts.late += 1;
            epoch.counts.copies += u64::from(copy);
        }
        self.hint = Some(CopyHint {
            origin,
            filled_to: slot,
        });
        Placement::Late { copy }
    }

    fn advance(&mut self, slot: u64, origin: u64) -> Placement {
        let Some(epoch) = &mut self.epoch else {
            return Placement::Unplaced;
        };
        let gap = slot - epoch.highest - 1;
        self.ring.clear_range(epoch.highest + 1, slot);
        self.ring.set(slot);
        epoch.highest = slot;
        let copy = slot != origin;
        epoch.counts.unique += 1;
        epoch.counts.copies += u64::from(copy);
        self.hint = Some(CopyHint {
            origin,
            filled_to: slot,
        });
        // The old sequence goes on: what looked like a restart was not one.
        self.candidates = RestartCandidates::EMPTY;
        Placement::InOrder { gap, copy }
    }

    fn misfit(&mut self, seq: u32, misfit: Misfit) -> Placement {
        if let Some(epoch) = &mut self.epoch {
            match misfit {
                Misfit::Duplicate => epoch.counts.duplicates += 1,
                Misfit::Unplaced => epoch.counts.unplaced += 1,
            }
        }
        let c = &mut self.candidates;
        let continues = match c.len.checked_sub(1).map(|i| seq.wrapping_sub(c.seqs[i])) {
            None => false,
            Some(0) => c.repeats < self.config.copies_per_seq,
            Some(step) => step < self.config.window_slots / 4,
        };
        if !continues {
            *c = RestartCandidates::EMPTY;
        }
        c.repeats = match c.len.checked_sub(1) {
            Some(i) if c.seqs[i] == seq => c.repeats + 1,
            _ => 1,
        };
        c.seqs[c.len] = seq;
        c.misfits[c.len] = misfit;
        c.len += 1;
        if c.len < RESTART_CONFIRMATIONS {
            return misfit.placement();
        }
        self.restart();
        Placement::Restart
    }

    /// Closes the current epoch without the candidates and replays them into a new one.
    fn restart(&mut self) {
        let candidates = std::mem::replace(&mut self.candidates, RestartCandidates::EMPTY);
        if let Some(mut epoch) = self.epoch.take() {
            for misfit in &candidates.misfits[..candidates.len] {
                match misfit {
                    Misfit::Duplicate => epoch.counts.duplicates -= 1,
                    Misfit::Unplaced => epoch.counts.unplaced -= 1,
                }
            }
            self.closed.add(&epoch.closed_counts());
        }
        self.restarts += 1;
        self.ring.clear_all();
        self.hint = None;
        // At most RESTART_CONFIRMATIONS − 1 misfits can follow the first, so the replay
        // cannot confirm another restart.
        for &seq in &candidates.seqs[..candidates.len] {
            self.place(seq);
        }
    }
}

/// A ring of `slots` bits (a power of two): bit `slot % slots` says whether that slot of
/// the window is filled.
#[derive(Debug, Clone)]
struct SlotRing {
    words: Box<[u64]>,
    mask: u64,
}

impl SlotRing {
    fn new(slots: u32) -> Self {
        SlotRing {
            words: vec![0u64; (slots / 64) as usize].into_boxed_slice(),
            mask: u64::from(slots) - 1,
        }
    }

    fn slots(&self) -> u64 {
        self.mask + 1
    }

    /// The word and the bit in it of `slot`; the word index is below `words.len()` by
    /// construction (`slot & mask < 64 × words.len()`).
    fn locate(&self, slot: u64) -> (usize, u32) {
        let at = slot & self.mask;
        ((at >> 6) as usize, (at & 63) as u32)
    }

    fn set(&mut self, slot: u64) {
        let (word, bit) = self.locate(slot);
        self.words[word] |= 1 << bit;
    }

    fn clear_all(&mut self) {
        self.words.fill(0);
    }

    /// Clears the slots `from..=to`, a word at a time.
    fn clear_range(&mut self, from: u64, to: u64) {
        if to < from {
            return;
        }
        if to - from + 1 >= self.slots() {
            self.clear_all();
            return;
        }
        let mut slot = from;
        while slot <= to {
            let (word, bit) = self.locate(slot);
            let n = (64 - u64::from(bit)).min(to - slot + 1);
            self.words[word] &= !(low_bits(n) << bit);
            slot += n;
        }
    }

    /// The first clear slot in `from..=to` (a range shorter than the ring).
    fn first_clear(&self, from: u64, to: u64) -> Option<u64> {
        let mut slot = from;
        while slot <= to {
            let (word, bit) = self.locate(slot);
            let n = (64 - u64::from(bit)).min(to - slot + 1);
            let clear = (!self.words[word] >> bit) & low_bits(n);
            if clear != 0 {
                return Some(slot + u64::from(clear.trailing_zeros()));
            }
            slot += n;
        }
        None
    }
}

/// The lowest `n` bits set, for `n` in 1..=64.
fn low_bits(n: u64) -> u64 {
    if n >= 64 {
        u64::MAX
    } else {
        (1 << n) - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tracker(copies: u32) -> SequenceTracker {
        SequenceTracker::new(SequenceConfig::new(copies).unwrap())
    }

    fn feed(t: &mut SequenceTracker, seqs: &[u32]) -> Vec<Placement> {
        seqs.iter().map(|&s| t.record(s, 60)).collect()
    }

    fn assert_invariants(c: &SequenceCounts) {
        assert_eq!(c.received, c.unique + c.duplicates + c.unplaced, "{c:?}");
        assert_eq!(c.lost, c.expected - c.unique, "{c:?}");
        assert!(c.unique <= c.expected, "{c:?}");
        assert!(c.late <= c.unique && c.copies <= c.unique, "{c:?}");
    }

    #[test]
    fn an_in_order_run_loses_nothing() {
        let mut t = tracker(1);
        let seqs: Vec<u32> = (1..=1000).collect();
        assert!(feed(&mut t, &seqs).iter().all(|p| *p
            == Placement::InOrder {
                gap: 0,
                copy: false
            }));
        let c = t.counts();
        assert_eq!(
            (c.received, c.unique, c.expected, c.lost),
            (1000, 1000, 1000, 0)
        );
        assert_eq!(c.bytes, 60_000);
        assert_eq!(t.highest_seq(), Some(1000));
    }

    #[test]
    fn gaps_are_lost_until_they_arrive_late() {
        let mut t = tracker(1);
        let p = feed(&mut t, &[1, 2, 5, 6]);
        assert_eq!(
            p[2],
            Placement::InOrder {
                gap: 2,
                copy: false
            }
        );
        assert_eq!(t.counts().lost, 2);
        assert_eq!(t.record(3, 60), Placement::Late { copy: false });
        let c = t.counts();
        assert_eq!((c.lost, c.late, c.unique, c.expected), (1, 1, 5, 6));
    }

    #[test]
    fn a_repeat_is_a_duplicate_without_declared_copies() {
        let mut t = tracker(1);
        let p = feed(&mut t, &[1, 2, 2, 3, 1]);
        assert_eq!(p[2], Placement::Duplicate);
        assert_eq!(p[4], Placement::Duplicate);
        let c = t.counts();
        assert_eq!((c.duplicates, c.unique, c.lost), (2, 3, 0));
        assert_invariants(&c);
    }

    #[test]
    fn clone_skb_copies_are_counted_as_copies() {
        // clone_skb 3: 1 1 1 4 4 4 7 7 7 on the wire.
        let mut t = tracker(copies_per_seq(3, 1));
        let seqs = [1, 1, 1, 4, 4, 4, 7, 7, 7];
        let p = feed(&mut t, &seqs);
        assert_eq!(
            p[0],
            Placement::InOrder {
                gap: 0,
                copy: false
            }
        );
        assert_eq!(p[1], Placement::InOrder { gap: 0, copy: true });
        assert_eq!(
            p[3],
            Placement::InOrder {
                gap: 0,
                copy: false
            }
        );
        let c = t.counts();
        assert_eq!((c.unique, c.copies, c.duplicates, c.lost), (9, 6, 0, 0));
        assert_eq!(c.expected, 9);
        // A fourth copy is one too many.
        assert_eq!(t.record(7, 60), Placement::Duplicate);
    }

    #[test]
    fn a_lost_copy_is_one_lost_packet() {
        let mut t = tracker(3);
        feed(&mut t, &[1, 1, 4, 4, 4, 7, 7, 7]);
        let c = t.counts();
        assert_eq!((c.lost, c.unique, c.expected), (1, 8, 9));
        // It may still come.
        assert_eq!(t.record(1, 60), Placement::Late { copy: true });
        assert_eq!(t.counts().lost, 0);
    }

    #[test]
    fn burst_and_clone_skb_multiply() {
        assert_eq!(copies_per_seq(0, 1), 1);
        assert_eq!(copies_per_seq(1, 0), 1);
        assert_eq!(copies_per_seq(64, 8), 512);
        assert_eq!(copies_per_seq(u32::MAX, 2), u32::MAX);
        let mut shared = DeviceConfig::defaults();
        shared.clone_skb = 4;
        shared.burst = 2;
        shared.flags = crate::model::FlagSet::of(Flag::SHARED);
        assert_eq!(device_copies_per_seq(&shared, true), 8);
        let unshared = DeviceConfig {
            flags: crate::model::FlagSet::EMPTY,
            ..shared.clone()
        };
        assert_eq!(device_copies_per_seq(&unshared, true), 1);
        assert_eq!(device_copies_per_seq(&unshared, false), 8);
    }

    #[test]
    fn a_short_burst_at_the_sender_shifts_nothing() {
        // burst 4, but the queue stopped after 2: the next skb is numbered 1 + 2.
        let mut t = tracker(4);
        feed(&mut t, &[1, 1, 3, 3, 3, 3, 7]);
        let c = t.counts();
        assert_eq!((c.unique, c.expected, c.lost, c.duplicates), (7, 7, 0, 0));
    }

    #[test]
    fn declaring_too_few_copies_shows_duplicates_and_loss() {
        let mut t = tracker(1);
        feed(&mut t, &[1, 1, 3, 3]);
        let c = t.counts();
        assert_eq!((c.duplicates, c.lost), (2, 1));
    }

    #[test]
    fn reordered_copies_fill_their_own_slots() {
        let mut t = tracker(2);
        // 1 1 3 3 5 5 with the second 1 after 3.
        let p = feed(&mut t, &[1, 3, 1, 3, 5, 5]);
        assert_eq!(
            p[1],
            Placement::InOrder {
                gap: 1,
                copy: false
            }
        );
        assert_eq!(p[2], Placement::Late { copy: true });
        let c = t.counts();
        assert_eq!((c.unique, c.lost, c.late, c.copies), (6, 0, 1, 3));
    }

    #[test]
    fn a_packet_before_the_first_one_seen_is_late() {
        let mut t = tracker(1);
        feed(&mut t, &[5, 6]);
        assert_eq!(t.record(3, 60), Placement::Late { copy: false });
        let c = t.counts();
        assert_eq!((c.expected, c.lost), (4, 1));
    }

    #[test]
    fn the_sequence_wraps_at_u32() {
        let mut t = tracker(1);
        let seqs = [u32::MAX - 2, u32::MAX - 1, u32::MAX, 0, 1, 2];
        assert!(feed(&mut t, &seqs).iter().all(|p| *p
            == Placement::InOrder {
                gap: 0,
                copy: false
            }));
        assert_eq!(t.record(u32::MAX - 3, 60), Placement::Late { copy: false });
        let c = t.counts();
        assert_eq!((c.unique, c.lost, c.expected), (7, 0, 7));
        assert_eq!(t.highest_seq(), Some(2));
    }

    #[test]
    fn far_behind_the_window_is_unplaced() {
        let mut t = SequenceTracker::new(SequenceConfig::default().with_window_slots(64).unwrap());
        feed(&mut t, &(1..=200).collect::<Vec<_>>());
        assert_eq!(t.record(100, 60), Placement::Unplaced);
        // Inside the window: a duplicate.
        assert_eq!(t.record(150, 60), Placement::Duplicate);
        let c = t.counts();
        assert_eq!((c.unplaced, c.duplicates, c.lost), (1, 1, 0));
        assert_invariants(&c);
    }

    #[test]
    fn a_long_gap_clears_the_window() {
        let mut t = SequenceTracker::new(SequenceConfig::default().with_window_slots(64).unwrap());
        feed(&mut t, &[1, 2, 3]);
        assert_eq!(
            t.record(1000, 60),
            Placement::InOrder {
                gap: 996,
                copy: false
            }
        );
        // Slot 963 shares slot 3's bit (963 = 15 × 64 + 3); it must read as empty.
        assert_eq!(t.record(963, 60), Placement::Late { copy: false });
        let c = t.counts();
        assert_eq!((c.unique, c.expected, c.lost), (5, 1000, 995));
    }

    #[test]
    fn a_restart_after_a_short_run_starts_a_new_epoch() {
        let mut t = tracker(1);
        feed(&mut t, &(1..=100).collect::<Vec<_>>());
        // The run again from 1: everything it sends has already been seen.
        let p = feed(&mut t, &(1..=8).collect::<Vec<_>>());
        assert_eq!(p[..7], [Placement::Duplicate; 7]);
        assert_eq!(p[7], Placement::Restart);
        feed(&mut t, &(9..=50).collect::<Vec<_>>());
        let c = t.counts();
        assert_eq!(c.restarts, 1);
        assert_eq!((c.duplicates, c.unplaced), (0, 0));
        assert_eq!((c.unique, c.expected, c.lost), (150, 150, 0));
        assert_eq!(c.received, 150);
        assert_eq!(t.highest_seq(), Some(50));
    }

    #[test]
    fn a_restart_after_a_long_run_is_far_behind() {
        let mut t = tracker(1);
        feed(&mut t, &(1..=200_000).collect::<Vec<_>>());
        let p = feed(&mut t, &(1..=10).collect::<Vec<_>>());
        assert_eq!(p[..7], [Placement::Unplaced; 7]);
        assert_eq!(p[7], Placement::Restart);
        assert_eq!(
            p[8],
            Placement::InOrder {
                gap: 0,
                copy: false
            }
        );
        let c = t.counts();
        assert_eq!(
            (c.restarts, c.unique, c.lost, c.unplaced),
            (1, 200_010, 0, 0)
        );
    }

    #[test]
    fn a_restart_from_beyond_two_to_the_31_jumps_forward() {
        let mut t = tracker(1);
        let start = 3_000_000_000u32;
        feed(&mut t, &(start..start + 100).collect::<Vec<_>>());
        let p = feed(&mut t, &(1..=8).collect::<Vec<_>>());
        assert_eq!(p[0], Placement::Unplaced);
        assert_eq!(p[7], Placement::Restart);
        let c = t.counts();
        assert_eq!((c.restarts, c.lost, c.unique), (1, 0, 108));
    }

    #[test]
    fn a_restart_with_copies() {
        let mut t = tracker(4);
        let run: Vec<u32> = (0..50).flat_map(|i| [1 + 4 * i; 4]).collect();
        feed(&mut t, &run);
        let p = feed(&mut t, &run);
        assert_eq!(p[7], Placement::Restart);
        let c = t.counts();
        assert_eq!((c.restarts, c.unique, c.lost, c.duplicates), (1, 400, 0, 0));
        assert_eq!(c.copies, 300);
    }

    #[test]
    fn a_stray_old_packet_or_a_short_replay_is_not_a_restart() {
        let mut t = tracker(1);
        feed(&mut t, &(1..=100).collect::<Vec<_>>());
        feed(&mut t, &[10, 11, 12, 13, 14, 15, 16]); // seven replayed
        feed(&mut t, &[101]); // and the run goes on
        feed(&mut t, &[17]); // one more replayed: a new candidate run of one
        let c = t.counts();
        assert_eq!((c.restarts, c.duplicates, c.unique), (0, 8, 101));
    }

    #[test]
    fn one_packet_duplicated_many_times_is_not_a_restart() {
        let mut t = tracker(2);
        feed(&mut t, &[1, 1, 3, 3]);
        let p = feed(&mut t, &[3; 20]);
        assert!(p.iter().all(|p| *p == Placement::Duplicate));
        assert_eq!(t.counts().restarts, 0);
    }

    #[test]
    fn random_numbers_stay_unplaced() {
        let mut t = tracker(1);
        feed(&mut t, &(1..=1000).collect::<Vec<_>>());
        // A sender with nonsense numbers in the same stream.
        let mut x = 0x1234_5678u32;
        for _ in 0..10_000 {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            if (x as i32).unsigned_abs() > 1 << 25 {
                t.record(x, 60);
            }
        }
        let c = t.counts();
        assert_eq!(c.restarts, 0);
        assert_eq!((c.unique, c.lost), (1000, 0));
        assert_invariants(&c);
    }

    #[test]
    fn many_copies_are_placed_quickly() {
        // clone_skb 100000: the hint keeps each copy O(1).
        let mut t = tracker(100_000);
        assert_eq!(t.config().window_slots(), 1 << 19);
        for skb in 0..5u32 {
            for _ in 0..100_000 {
                t.record(1 + skb * 100_000, 60);
            }
        }
        let c = t.counts();
        assert_eq!((c.unique, c.lost, c.duplicates), (500_000, 0, 0));
    }

    #[test]
    fn config_limits() {
        assert_eq!(SequenceConfig::new(0), Err(SequenceConfigError::ZeroCopies));
        assert_eq!(
            SequenceConfig::new(MAX_WINDOW_SLOTS / 4 + 1),
            Err(SequenceConfigError::TooManyCopies(MAX_WINDOW_SLOTS / 4 + 1))
        );
        assert!(SequenceConfig::new(MAX_WINDOW_SLOTS / 4).is_ok());
        let d = SequenceConfig::default();
        assert_eq!(d.window_slots(), DEFAULT_WINDOW_SLOTS);
        assert_eq!(
            d.with_window_slots(100),
            Err(SequenceConfigError::WindowSize(100))
        );
        assert_eq!(
            d.with_window_slots(32),
            Err(SequenceConfigError::WindowSize(32))
        );
        assert_eq!(
            SequenceConfig::new(32).unwrap().with_window_slots(64),
            Err(SequenceConfigError::WindowTooSmallForCopies {
                window_slots: 64,
                copies: 32
            })
        );
        assert_eq!(d.with_max_gap(0), Err(SequenceConfigError::MaxGap(0)));
        assert_eq!(
            d.with_max_gap(1 << 31),
            Err(SequenceConfigError::MaxGap(1 << 31))
        );
        assert_eq!(d.with_max_gap(10).unwrap().max_gap(), 10);
        for e in [
            SequenceConfigError::ZeroCopies,
            SequenceConfigError::TooManyCopies(1),
            SequenceConfigError::WindowSize(1),
            SequenceConfigError::WindowTooSmallForCopies {
                window_slots: 1,
                copies: 1,
            },
            SequenceConfigError::MaxGap(0),
        ] {
            assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn lost_given_sent_counts_the_ends_too() {
        let mut t = tracker(1);
        feed(&mut t, &[3, 4, 5]);
        assert_eq!(t.counts().lost, 0);
        assert_eq!(t.counts().lost_given_sent(7), 4);
        assert_eq!(t.counts().lost_given_sent(2), 0);
    }

    #[test]
    fn ring_ranges_across_word_and_ring_ends() {
        let mut r = SlotRing::new(128);
        for s in 0..128 {
            r.set(s);
        }
        r.clear_range(120, 130); // wraps
        assert_eq!(r.first_clear(0, 127), Some(0));
        assert_eq!(r.first_clear(3, 119), None);
        assert_eq!(r.first_clear(100, 125), Some(120));
        assert_eq!(r.first_clear(128 + 3, 128 + 119), None);
        r.clear_range(5, 5 + 500);
        assert_eq!(r.first_clear(64, 64), Some(64));
        assert_eq!(low_bits(64), u64::MAX);
        assert_eq!(low_bits(3), 7);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Whatever numbers arrive, memory stays what it was and the totals add up.
        #[test]
        fn memory_is_fixed_and_totals_add_up(
            seqs in proptest::collection::vec(any::<u32>(), 0..400),
            near in proptest::collection::vec(-70i32..70, 0..400),
            copies in 1u32..5,
            window_log in 6u32..10,
        ) {
            let config = SequenceConfig::new(copies).unwrap().with_window_slots(1 << window_log).unwrap();
            let mut t = SequenceTracker::new(config);
            let before = t.memory_bytes();
            let mut base = 1u32;
            for (i, s) in seqs.iter().enumerate() {
                // A mix of wild numbers and numbers near the stream's position.
                let seq = match near.get(i) {
                    Some(d) if i % 3 != 0 => base.wrapping_add_signed(*d),
                    _ => *s,
                };
                t.record(seq, 64);
                base = base.wrapping_add(1);
                prop_assert_eq!(t.memory_bytes(), before);
                let c = t.counts();
                prop_assert_eq!(c.received, c.unique + c.duplicates + c.unplaced);
                prop_assert!(c.unique <= c.expected);
                prop_assert_eq!(c.lost, c.expected - c.unique);
                prop_assert!(c.late <= c.unique && c.copies <= c.unique);
            }
        }

        /// A shuffled window of an exact run: nothing lost, nothing duplicated.
        #[test]
        fn reordering_within_the_window_loses_nothing(
            swaps in proptest::collection::vec((0usize..500, 0usize..500), 0..200),
            start in any::<u32>(),
        ) {
            let mut seqs: Vec<u32> = (0..500u32).map(|i| start.wrapping_add(i)).collect();
            for (a, b) in swaps {
                seqs.swap(a, b);
            }
            let mut t = tracker(1);
            for s in &seqs {
                t.record(*s, 60);
            }
            let c = t.counts();
            prop_assert_eq!((c.unique, c.lost, c.duplicates, c.unplaced, c.expected), (500, 0, 0, 0, 500));
        }

        /// Dropping packets from a run with copies: lost is exactly what was dropped
        /// between the first and the last packet kept.
        #[test]
        fn loss_is_exact_with_copies(
            copies in 1u32..6,
            drop in proptest::collection::vec(any::<bool>(), 300),
        ) {
            let wire: Vec<u32> = (0..60u32).flat_map(|i| std::iter::repeat_n(1 + i * copies, copies as usize)).collect();
            let kept: Vec<usize> = (0..wire.len()).filter(|&i| !drop[i % drop.len()]).collect();
            prop_assume!(!kept.is_empty());
            let mut t = tracker(copies);
            for &i in &kept {
                t.record(wire[i], 60);
            }
            // The tracker gives a number's copies its lowest slots, so the span runs from
            // the first kept packet's skb to the last kept packet's skb (and within that
            // one, only to the copies that arrived).
            let c_us = copies as usize;
            let first_skb = kept[0] / c_us * c_us;
            let last_skb = kept[kept.len() - 1] / c_us * c_us;
            let dropped_between = (first_skb..last_skb).filter(|i| drop[i % drop.len()]).count() as u64;
            let c = t.counts();
            prop_assert_eq!(c.lost, dropped_between);
            prop_assert_eq!(c.duplicates, 0);
        }
    }
}
