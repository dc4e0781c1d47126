//! The device parameters, one declarative row each: the single place that says what a
//! state-file key is (STYLE §5.1a).
//!
//! A row gives the key and the kernel command, the value's range and default, how the device
//! file shows it, the kernels that have it, and, for a *plain* scalar, its planner phase.
//! From the rows come:
//!
//! * the state-file schema (`state_file::DeviceSpec`'s fields and `DEVICE_KEYS`),
//! * the plain fields of [`DeviceConfig`] and their defaults,
//! * range checks (`state_file::validate`), readback parsing (`procfs::parse`), the planner's plain
//!   writes (`plan::device`) and `show` (`state_file::spec_from_config`),
//! * the README's key table ([`readme_table`], checked by a test).
//!
//! Adding a plain scalar parameter is one row in [`device_params!`] (and the simulator, which
//! stays independent on purpose: it is the check on these rows). Parameters with special
//! semantics (packet sizes, pacing, addresses, VLAN/MPLS, imix, node, xmit_mode, flags) keep
//! dedicated code, but their key, range, documentation and kernels are still rows here.
//! Version differences are not: a row names a [`Feature`], and only `kernel.rs` knows the
//! versions. No I/O here.

use std::fmt::Write as _;

use super::DeviceConfig;
use crate::kernel::Feature;

/// Largest value of a 10-digit decimal field (`num_arg(…, 10, …)`).
pub const MAX_10_DIGITS: u64 = 9_999_999_999;
/// Smallest packet: Ethernet + IPv4 + UDP headers (14+20+8); the kernel raises smaller sizes.
pub const MIN_PKT_SIZE: u64 = 42;
/// Largest packet pgstate accepts: what an IP packet can carry.
pub const MAX_PKT_SIZE: u64 = 65535;
/// `MAX_IMIX_ENTRIES`.
pub const MAX_IMIX_ENTRIES: usize = 20;
const I32_MAX: u64 = i32::MAX as u64;
const U32_MAX: u64 = u32::MAX as u64;

/// The values a key accepts, inclusive, and what the kernel would do with others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// Smallest value.
    pub lo: u64,
    /// Largest value.
    pub hi: u64,
    /// Appended to "below the kernel minimum": what the kernel would do instead.
    pub why_low: &'static str,
    /// Appended to "above the kernel maximum".
    pub why_high: &'static str,
}

const fn range(lo: u64, hi: u64) -> Range {
    Range {
        lo,
        hi,
        why_low: "",
        why_high: "",
    }
}

impl Range {
    const fn why(self, why: &'static str) -> Range {
        Range {
            why_low: why,
            why_high: why,
            ..self
        }
    }
    const fn why_low(self, why: &'static str) -> Range {
        Range {
            why_low: why,
            ..self
        }
    }
    const fn why_high(self, why: &'static str) -> Range {
        Range {
            why_high: why,
            ..self
        }
    }
}

/// How a plain scalar is written and shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Decimal.
    Decimal,
    /// Exactly two hex digits on write (`tos 0f`; one digit is an error the kernel reports
    /// only in `Result:`), `0x%02x` in the device file (REFERENCE §2.3 tos row).
    Hex2,
}

impl Format {
    /// The value as the kernel command takes it.
    pub fn command_value(self, v: u64) -> String {
        match self {
            Format::Decimal => v.to_string(),
            Format::Hex2 => format!("{v:02x}"),
        }
    }

    /// The value as plans and the README show it.
    pub fn display(self, v: u64) -> String {
        match self {
            Format::Decimal => v.to_string(),
            Format::Hex2 => format!("0x{v:02x}"),
        }
    }
}

/// Where the device file shows a plain scalar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readback {
    /// A `key: value` pair under its own name; a missing line means the default (REFERENCE
    /// §3.3: conditional lines are printed only when the value is not the default).
    Pair,
    /// Parsed by dedicated code: `count` is in the `Params:` line without a colon, `spi` is
    /// appended to the `Flags:` line.
    Dedicated,
}

/// When the planner writes a plain scalar, among the dedicated steps (REFERENCE §2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Written by dedicated code: order constraints (`clone_skb`, `burst`) or visibility
    /// (`spi` is hidden without IPSEC).
    Dedicated,
    /// After the packet sizes, imix, `clone_skb` and `burst`; before pacing.
    Counts,
    /// After the MAC addresses, before MPLS and VLAN.
    Traffic,
    /// After MPLS and VLAN, before `node`, `spi` and the flags.
    Qos,
}

/// A kernel habit that makes a different read-back value count as converged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settle {
    /// Shown as written.
    Exact,
    /// `pktgen_setup_inject` clamps values ≥ the TX queue count to count − 1 at every start
    /// (REFERENCE §2.3 queue_map rows).
    ClampToTxQueues,
}

/// The part of a row only plain scalars have: one `key value` command, one field of
/// [`DeviceConfig`], one readback pair.
#[derive(Debug, Clone, Copy)]
pub struct Plain {
    /// Write and display format.
    pub format: Format,
    /// Where it is read back.
    pub readback: Readback,
    /// When the planner writes it.
    pub phase: Phase,
    /// Readback values that also count as converged.
    pub settle: Settle,
    /// The field's value.
    pub get: fn(&DeviceConfig) -> u64,
    /// Sets the field; the value has passed the range check (or [`Plain::fits`]).
    pub set: fn(&mut DeviceConfig, u64),
    /// Whether the field's type holds `v` (for values read back from the kernel).
    pub fits: fn(u64) -> bool,
}

/// One device parameter.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    /// The state-file key, which is also the kernel's command name where one exists.
    pub key: &'static str,
    /// The kernel command(s) the key becomes (README).
    pub command: &'static str,
    /// What the value looks like, after the range if there is one (README).
    pub value: &'static str,
    /// The default, for parameters that are not plain scalars (README); a plain scalar's
    /// default is its field in [`DeviceConfig::defaults`].
    pub default: &'static str,
    /// Rules worth knowing (README).
    pub notes: &'static str,
    /// The accepted values, when the value is a number.
    pub range: Option<Range>,
    /// `None` when every supported kernel has it.
    pub kernels: Option<Feature>,
    /// `Some` for a plain scalar.
    pub plain: Option<Plain>,
}

impl Param {
    const BLANK: Param = Param {
        key: "",
        command: "",
        value: "",
        default: "",
        notes: "",
        range: None,
        kernels: None,
        plain: None,
    };
}

/// `thread`: not a pktgen parameter but the `kpktgend_N` file `add_device` is written to.
pub const THREAD: Param = Param {
    key: "thread",
    command: "`add_device` on `kpktgend_N`",
    value: "thread number",
    default: "—",
    notes: "required; must exist",
    ..Param::BLANK
};

/// The rows. Each is
///
/// ```text
/// /// doc (becomes the doc of the DeviceConfig field, for plain rows)
/// key: <state-file type> => plain <DeviceConfig type> = <default> { <Param fields> } { <Plain fields> },
/// key: <state-file type> => special { <Param fields> },
/// ```
///
/// and the order is the state file's (`show` prints keys in this order) and the README's.
/// `$callback!` receives `all: [rows] plain: [plain rows]` after `$extra` tokens.
macro_rules! device_params {
    ($callback:ident { $($extra:tt)* }) => {
        $crate::model::params::split_rows! { $callback { $($extra)* } [] [] []
            /// `count`: packets to send, 0 = forever.
            count: u64 => plain u64 = 1000, {
                command: "`count`", notes: "0 = forever",
                range: Some(range(0, MAX_10_DIGITS).why(" (the kernel reads at most 10 digits)")),
            } { format: Format::Decimal, readback: Readback::Dedicated, phase: Phase::Counts, settle: Settle::Exact },
            pkt_size: u64 => special {
                command: "`pkt_size` (or `max_pkt_size`)", default: "kernel picks 58/78 at start",
                notes: "below 42 is refused (the kernel would silently send 42)",
                range: Some(range(MIN_PKT_SIZE, MAX_PKT_SIZE)
                    .why_low(" (the kernel would silently send 42-byte packets)")
                    .why_high(" (pgstate refuses sizes an IP packet cannot carry)")),
            },
            min_pkt_size: u64 => special {
                command: "`min_pkt_size`", value: ", with `max_pkt_size`",
                notes: "with `TXSIZE_RND`, random in [min, max); not with `pkt_size`",
                range: Some(range(MIN_PKT_SIZE, MAX_PKT_SIZE)
                    .why_low(" (the kernel would silently send 42-byte packets)")
                    .why_high(" (pgstate refuses sizes an IP packet cannot carry)")),
            },
            max_pkt_size: u64 => special {
                command: "`max_pkt_size`", value: ", with `min_pkt_size`",
                range: Some(range(MIN_PKT_SIZE, MAX_PKT_SIZE)
                    .why_low(" (the kernel would silently send 42-byte packets)")
                    .why_high(" (pgstate refuses sizes an IP packet cannot carry)")),
            },
            imix_weights: ImixWeights => special {
                command: "`imix_weights`",
                value: "`\"64,7 576,4 1500,1\"` or `[[64,7], …]`, ≤20 pairs, size 42–65535, weight ≥1",
                default: "none", notes: "not with `clone_skb`; cleared only by re-adding the device",
                kernels: Some(Feature::Imix),
            },
            /// `frags`: page fragments per packet.
            frags: u64 => plain u32 = 0, {
                command: "`frags`",
                range: Some(range(0, 17).why_high(" (MAX_SKB_FRAGS; the kernel would silently cap it)")),
            } { format: Format::Decimal, readback: Readback::Pair, phase: Phase::Counts, settle: Settle::Exact },
            delay: u64 => special {
                command: "`delay`", value: " ns", default: "0", notes: "one of `delay`/`rate`/`ratep`",
                range: Some(range(0, MAX_10_DIGITS).why(" (the kernel reads at most 10 digits)")),
            },
            rate: u64 => special {
                command: "`rate`", value: " Mbit/s",
                notes: "needs `pkt_size`; stored by the kernel as `delay`",
                range: Some(range(1, MAX_10_DIGITS).why(" (Mbit/s; rate 0 is refused)")),
            },
            ratep: u64 => special {
                command: "`ratep`", value: " packets/s", notes: "stored as `delay`",
                range: Some(range(1, MAX_10_DIGITS).why(" (packets/s; ratep 0 is refused)")),
            },
            /// `clone_skb`: extra sends of each skb.
            clone_skb: u64 => plain u32 = 0, {
                command: "`clone_skb`", notes: "not with `netif_receive`, `imix_weights` or `!SHARED`",
                range: Some(range(0, I32_MAX)),
            } { format: Format::Decimal, readback: Readback::Pair, phase: Phase::Dedicated, settle: Settle::Exact },
            /// `burst` (1 = off).
            burst: u64 => plain u32 = 1, {
                command: "`burst`", notes: "not with `queue_xmit` or `!SHARED`",
                range: Some(range(1, I32_MAX).why_low(" (the kernel would silently use 1)")),
            } { format: Format::Decimal, readback: Readback::Pair, phase: Phase::Dedicated, settle: Settle::Exact },
            dst: V4Addr => special {
                command: "`dst_min`", value: "IPv4", default: "none",
                notes: "another name for `dst_min`; IPv4 mode only",
            },
            dst_min: V4Addr => special {
                command: "`dst_min`", value: "IPv4", default: "none", notes: "IPv4 mode only",
            },
            dst_max: V4Addr => special {
                command: "`dst_max`", value: "IPv4", default: "none", notes: "IPv4 mode only",
            },
            src_min: V4Addr => special {
                command: "`src_min`", value: "IPv4", default: "interface address",
            },
            src_max: V4Addr => special {
                command: "`src_max`", value: "IPv4", default: "interface address",
            },
            dst6: V6Addr => special {
                command: "`dst6`", value: "IPv6", default: "none",
                notes: "any IPv6 key switches the device to IPv6; not with IPv4 keys",
            },
            dst6_min: V6Addr => special {
                command: "`dst6_min`", value: "IPv6", default: "none",
            },
            dst6_max: V6Addr => special {
                command: "`dst6_max`", value: "IPv6", default: "none",
            },
            src6: V6Addr => special {
                command: "`src6`", value: "IPv6", default: "a link-local address",
            },
            dst_mac: MacAddr => special {
                command: "`dst_mac`", value: "`xx:xx:xx:xx:xx:xx`", default: "zero",
            },
            src_mac: MacAddr => special {
                command: "`src_mac`", value: "`xx:xx:xx:xx:xx:xx`", default: "interface MAC",
            },
            /// `src_mac_count`: source MACs to step through.
            src_mac_count: u64 => plain u32 = 0, {
                command: "`src_mac_count`", range: Some(range(0, I32_MAX)),
            } { format: Format::Decimal, readback: Readback::Pair, phase: Phase::Traffic, settle: Settle::Exact },
            /// `dst_mac_count`: destination MACs to step through.
            dst_mac_count: u64 => plain u32 = 0, {
                command: "`dst_mac_count`", range: Some(range(0, I32_MAX)),
            } { format: Format::Decimal, readback: Readback::Pair, phase: Phase::Traffic, settle: Settle::Exact },
            /// `udp_src_min`.
            udp_src_min: u64 => plain u16 = 9, {
                command: "`udp_src_min`",
                range: Some(range(0, 65535).why(" (the kernel keeps ports modulo 65536)")),
            } { format: Format::Decimal, readback: Readback::Pair, phase: Phase::Traffic, settle: Settle::Exact },
            /// `udp_src_max` (exclusive).
            udp_src_max: u64 => plain u16 = 9, {
                command: "`udp_src_max`", notes: "exclusive",
                range: Some(range(0, 65535).why(" (the kernel keeps ports modulo 65536)")),
            } { format: Format::Decimal, readback: Readback::Pair, phase: Phase::Traffic, settle: Settle::Exact },
            /// `udp_dst_min`.
            udp_dst_min: u64 => plain u16 = 9, {
                command: "`udp_dst_min`",
                range: Some(range(0, 65535).why(" (the kernel keeps ports modulo 65536)")),
            } { format: Format::Decimal, readback: Readback::Pair, phase: Phase::Traffic, settle: Settle::Exact },
            /// `udp_dst_max` (exclusive).
            udp_dst_max: u64 => plain u16 = 9, {
                command: "`udp_dst_max`", notes: "exclusive",
                range: Some(range(0, 65535).why(" (the kernel keeps ports modulo 65536)")),
            } { format: Format::Decimal, readback: Readback::Pair, phase: Phase::Traffic, settle: Settle::Exact },
            /// `queue_map_min`.
            queue_map_min: u64 => plain u16 = 0, {
                command: "`queue_map_min`", notes: "at most `queue_map_max`; the kernel clamps to the queue count at start, and pgstate accepts that",
                range: Some(range(0, 65535)),
            } { format: Format::Decimal, readback: Readback::Pair, phase: Phase::Traffic, settle: Settle::ClampToTxQueues },
            /// `queue_map_max`.
            queue_map_max: u64 => plain u16 = 0, {
                command: "`queue_map_max`", notes: "the kernel clamps to the queue count at start",
                range: Some(range(0, 65535)),
            } { format: Format::Decimal, readback: Readback::Pair, phase: Phase::Traffic, settle: Settle::ClampToTxQueues },
            /// `flows`: concurrent flows.
            flows: u64 => plain u32 = 0, {
                command: "`flows`",
                range: Some(range(0, 65536).why_high(" (MAX_CFLOWS; the kernel would silently cap it)")),
            } { format: Format::Decimal, readback: Readback::Pair, phase: Phase::Traffic, settle: Settle::Exact },
            /// `flowlen`: packets per flow.
            flowlen: u64 => plain u32 = 0, {
                command: "`flowlen`", range: Some(range(0, U32_MAX)),
            } { format: Format::Decimal, readback: Readback::Pair, phase: Phase::Traffic, settle: Settle::Exact },
            mpls: Vec<MplsLabel> => special {
                command: "`mpls`",
                value: "list of labels (`\"0001000a\"` or integers), ≤16 (15 on point releases older than the stable fix)",
                default: "none",
                notes: "a label with 0x100 sets `MPLS_RND` unless the state lists it; not with `vlan_id`; a zero label only before Linux 6.15",
            },
            vlan_id: u64 => special {
                command: "`vlan_id`", default: "off",
                range: Some(range(0, 4095).why(" (a larger id turns VLAN tagging off)")),
            },
            vlan_p: u64 => special {
                command: "`vlan_p`", notes: "needs `vlan_id`", range: Some(range(0, 7)),
            },
            vlan_cfi: u64 => special {
                command: "`vlan_cfi`", notes: "needs `vlan_id`", range: Some(range(0, 1)),
            },
            svlan_id: u64 => special {
                command: "`svlan_id`", default: "off", notes: "needs `vlan_id`",
                range: Some(range(0, 4095).why(" (a larger id turns VLAN and SVLAN tagging off)")),
            },
            svlan_p: u64 => special {
                command: "`svlan_p`", notes: "needs `svlan_id`", range: Some(range(0, 7)),
            },
            svlan_cfi: u64 => special {
                command: "`svlan_cfi`", notes: "needs `svlan_id`", range: Some(range(0, 1)),
            },
            /// `tos`: the IPv4 TOS byte.
            tos: u64 => plain u8 = 0, {
                command: "`tos`", value: " (e.g. `0x10`)", notes: "IPv4", range: Some(range(0, 255)),
            } { format: Format::Hex2, readback: Readback::Pair, phase: Phase::Qos, settle: Settle::Exact },
            /// `traffic_class`: the IPv6 traffic class.
            traffic_class: u64 => plain u8 = 0, {
                command: "`traffic_class`", notes: "IPv6", range: Some(range(0, 255)),
            } { format: Format::Hex2, readback: Readback::Pair, phase: Phase::Qos, settle: Settle::Exact },
            /// `skb_priority`.
            skb_priority: u64 => plain u32 = 0, {
                command: "`skb_priority`",
                range: Some(range(0, 999_999_999).why(" (the kernel reads at most 9 digits)")),
            } { format: Format::Decimal, readback: Readback::Pair, phase: Phase::Qos, settle: Settle::Exact },
            node: u64 => special {
                command: "`node`", default: "none",
                notes: "the kernel refuses impossible nodes (Result-only error); cleared only by re-adding the device",
                range: Some(range(0, 1023).why(" (MAX_NUMNODES)")),
            },
            xmit_mode: XmitMode => special {
                command: "`xmit_mode`", value: "`start_xmit`, `netif_receive`, `queue_xmit`",
                default: "`start_xmit`",
            },
            /// `spi` (read back only with IPSEC).
            spi: u64 => plain u32 = 0, {
                command: "`spi`", notes: "needs flag `IPSEC` (only then can it be read back)",
                range: Some(range(0, U32_MAX)),
            } { format: Format::Decimal, readback: Readback::Dedicated, phase: Phase::Dedicated, settle: Settle::Exact },
            flags: Vec<String> => special {
                command: "`flag NAME`",
                value: "list of `IPSRC_RND IPDST_RND TXSIZE_RND UDPSRC_RND UDPDST_RND UDPCSUM NO_TIMESTAMP MPLS_RND QUEUE_MAP_RND QUEUE_MAP_CPU FLOW_SEQ FLOW_RND IPSEC MACSRC_RND MACDST_RND VID_RND SVID_RND NODE SHARED`",
                default: "none (`SHARED` on 6.7+)",
                notes: "`!SHARED` clears the 6.7+ default; `IPV6` is implied by the IPv6 keys; `FLOW_SEQ` needs `flows`",
            },
        }
    };
}
pub(crate) use device_params;

/// Sorts the rows of [`device_params!`] for a callback: `all` (key and state-file type, in
/// order), `plain` (rows with a [`DeviceConfig`] field) and `special` (the others).
macro_rules! split_rows {
    ($callback:ident { $($extra:tt)* } [$($all:tt)*] [$($plain:tt)*] [$($special:tt)*]) => {
        $callback! { $($extra)* all: [$($all)*] plain: [$($plain)*] special: [$($special)*] }
    };
    ($callback:ident { $($extra:tt)* } [$($all:tt)*] [$($plain:tt)*] [$($special:tt)*]
        $(#[$m:meta])* $key:ident : $sty:ty => plain $cty:ty = $def:expr,
        { $($param:tt)* } { $($p:tt)* }, $($rest:tt)*) => {
        $crate::model::params::split_rows! { $callback { $($extra)* }
            [$($all)* $key : $sty,]
            [$($plain)* $(#[$m])* $key : $cty = $def, { $($param)* } { $($p)* },]
            [$($special)*]
            $($rest)* }
    };
    ($callback:ident { $($extra:tt)* } [$($all:tt)*] [$($plain:tt)*] [$($special:tt)*]
        $key:ident : $sty:ty => special { $($param:tt)* }, $($rest:tt)*) => {
        $crate::model::params::split_rows! { $callback { $($extra)* }
            [$($all)* $key : $sty,]
            [$($plain)*]
            [$($special)* $key { $($param)* },]
            $($rest)* }
    };
}
pub(crate) use split_rows;

/// Builds the `row` module and [`PARAMS`] from the rows.
macro_rules! build_table {
    (all: [$($key:ident : $sty:ty,)*]
     plain: [$($(#[$m:meta])* $pkey:ident : $cty:ty = $def:expr, { $($param:tt)* } { $($p:tt)* },)*]
     special: [$($skey:ident { $($sparam:tt)* },)*]) => {
        /// One constant per row, named by its key, for the dedicated code that needs a row's
        /// facts (`row::pkt_size.range`).
        #[allow(non_upper_case_globals)]
        pub mod row {
            use super::*;
            $(
                #[doc = concat!("`", stringify!($pkey), "`.")]
                #[allow(clippy::useless_conversion, clippy::unnecessary_fallible_conversions)]
                pub const $pkey: Param = Param {
                    key: stringify!($pkey),
                    plain: Some(Plain {
                        get: |c| u64::from(c.$pkey),
                        set: |c, v| c.$pkey = <$cty>::try_from(v).unwrap_or(<$cty>::MAX),
                        fits: |v| <$cty>::try_from(v).is_ok(),
                        $($p)*
                    }),
                    $($param)*
                    ..Param::BLANK
                };
            )*
            $(
                #[doc = concat!("`", stringify!($skey), "`.")]
                pub const $skey: Param = Param {
                    key: stringify!($skey),
                    $($sparam)*
                    ..Param::BLANK
                };
            )*
        }
        /// Every device key, `thread` first, in state-file order.
        pub const PARAMS: &[Param] = &[THREAD, $(row::$key,)*];

        /// The index in [`PARAMS`] of the plain scalar `key`. A `match`, which compiles to
        /// length checks and inline compares: the device-file parser looks up every pair of
        /// every device file, and a search comparing strings cost more than the rest of the
        /// parse.
        fn plain_index(key: &str) -> Option<usize> {
            match key {
                $(stringify!($pkey) => Some(const { index_of(stringify!($pkey)) }),)*
                _ => None,
            }
        }
    };
}

device_params!(build_table {});

/// The plain scalars, in state-file order.
pub fn plain() -> impl Iterator<Item = (&'static Param, &'static Plain)> {
    PARAMS
        .iter()
        .filter_map(|p| p.plain.as_ref().map(|pl| (p, pl)))
}

/// The plain scalars the planner writes in `phase`, in state-file order.
pub fn in_phase(phase: Phase) -> impl Iterator<Item = (&'static Param, &'static Plain)> {
    plain().filter(move |(_, pl)| pl.phase == phase)
}

// A readback notes the pairs it has seen as bits of a `u64` indexed like `PARAMS`.
const _: () = assert!(PARAMS.len() <= 64);

/// The plain scalar shown in the device file as `key: value`, if `key` is one, with its
/// index in [`PARAMS`] (below 64).
pub fn by_readback(key: &str) -> Option<(usize, &'static Param, &'static Plain)> {
    let index = plain_index(key)?;
    let param = &PARAMS[index];
    let plain = param.plain.as_ref()?;
    (plain.readback == Readback::Pair).then_some((index, param, plain))
}

/// The index in [`PARAMS`] of `key`, computed at compile time for `plain_index`.
const fn index_of(key: &str) -> usize {
    let mut i = 0;
    while i < PARAMS.len() {
        if same_bytes(PARAMS[i].key.as_bytes(), key.as_bytes()) {
            return i;
        }
        i += 1;
    }
    panic!("not a row of PARAMS")
}

const fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The row of `key`.
pub fn find(key: &str) -> Option<&'static Param> {
    PARAMS.iter().find(|p| p.key == key)
}

/// Every key a device entry accepts, in state-file order.
pub fn keys() -> impl Iterator<Item = &'static str> {
    PARAMS.iter().map(|p| p.key)
}

/// One README table cell per column, for `p`.
pub fn readme_cells(p: &Param) -> [String; 6] {
    let defaults = DeviceConfig::defaults();
    let (value, default) = match (&p.plain, &p.range) {
        (Some(pl), Some(r)) => (
            format!(
                "{}–{}{}",
                pl.format.display(r.lo),
                pl.format.display(r.hi),
                p.value
            ),
            pl.format.display((pl.get)(&defaults)),
        ),
        (None, Some(r)) => (
            format!("{}–{}{}", r.lo, r.hi, p.value),
            p.default.to_owned(),
        ),
        (_, None) => (p.value.to_owned(), p.default.to_owned()),
    };
    let kernels = p
        .kernels
        .map_or_else(|| "all".to_owned(), |f| f.kernels().to_string());
    [
        format!("`{}`", p.key),
        p.command.to_owned(),
        value,
        default,
        kernels,
        p.notes.to_owned(),
    ]
}

/// The README's key table, as markdown.
pub fn readme_table() -> String {
    let mut out = String::from(
        "| key | kernel command | value | default | Linux | notes |\n|---|---|---|---|---|---|\n",
    );
    for p in PARAMS {
        let cells = readme_cells(p);
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README's key table: the rows between its header and the first non-table line.
    fn readme_table_of(readme: &str) -> Option<(usize, usize)> {
        let start = readme.find("| key | kernel command |")?;
        let len: usize = readme[start..]
            .split_inclusive('\n')
            .take_while(|l| l.starts_with('|'))
            .map(str::len)
            .sum();
        Some((start, start + len))
    }

    /// The cells of a markdown table row. Cells hold no `|` of their own.
    fn cells(line: &str) -> Vec<String> {
        line.trim()
            .trim_matches('|')
            .split(" | ")
            .map(|c| c.trim().to_owned())
            .collect()
    }

    #[test]
    fn the_readme_key_table_is_the_parameter_table() {
        // The state-file reference, which the README links.
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("doc/state-file.md");
        let readme = std::fs::read_to_string(&path).unwrap();
        let (start, end) = readme_table_of(&readme).expect("the README has a key table");
        let expected = readme_table();
        if std::env::var_os("PGSTATE_BLESS").is_some() {
            let blessed = format!("{}{expected}{}", &readme[..start], &readme[end..]);
            std::fs::write(&path, blessed).unwrap();
            return;
        }
        let table = &readme[start..end];
        let rows: Vec<Vec<String>> = table.lines().skip(2).map(cells).collect();
        let readme_keys: Vec<&str> = rows.iter().map(|r| r[0].trim_matches('`')).collect();
        let code_keys: Vec<&str> = keys().collect();
        let missing: Vec<_> = code_keys
            .iter()
            .filter(|k| !readme_keys.contains(k))
            .collect();
        let extra: Vec<_> = readme_keys
            .iter()
            .filter(|k| !code_keys.contains(k))
            .collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "README key table: missing {missing:?}, not in model/params.rs {extra:?}"
        );
        for (row, p) in rows.iter().zip(PARAMS) {
            assert_eq!(
                row,
                &readme_cells(p).to_vec(),
                "README row of `{}` differs from model/params.rs (PGSTATE_BLESS=1 rewrites it)",
                p.key
            );
        }
        assert_eq!(table, expected, "PGSTATE_BLESS=1 rewrites the README table");
    }

    #[test]
    fn plain_rows_have_a_range_and_a_readback_key_of_their_own() {
        for (p, plain) in plain() {
            assert!(p.range.is_some(), "{}", p.key);
            if plain.readback == Readback::Pair {
                assert_eq!(by_readback(p.key).map(|(_, q, _)| q.key), Some(p.key));
            }
            let r = p.range.unwrap();
            assert!(
                (plain.fits)(r.hi),
                "{}: {} does not fit its field",
                p.key,
                r.hi
            );
        }
        assert_eq!(find("thread").map(|p| p.key), Some("thread"));
    }

    #[test]
    fn plain_defaults_are_in_range() {
        let d = DeviceConfig::defaults();
        for (p, plain) in plain() {
            let r = p.range.unwrap();
            let v = (plain.get)(&d);
            assert!(r.lo <= v && v <= r.hi, "{}: default {v}", p.key);
        }
    }
}
