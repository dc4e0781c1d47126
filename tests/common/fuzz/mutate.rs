//! Mutations of real inputs for the fuzz tests: line, bit and number edits, truncation,
//! insertion of the format's own tokens, and splices of other corpus inputs, driven by
//! proptest (so that a failure shrinks to a short list of edits). The word lists are what
//! each format is made of: pktgen's procfs text, YAML and state files, saved plans' JSON,
//! and the bytes of Ethernet, VLAN, MPLS, IP, UDP and pktgen headers.

use proptest::prelude::*;
use proptest::sample::Index;

/// Replacements for a run of digits: huge, negative, signed, empty, not numbers.
pub const NUMBERS: &[&str] = &[
    "99999999999999999999999",
    "18446744073709551615",
    "18446744073709551616",
    "9223372036854775808",
    "4294967295",
    "4294967296",
    "2147483648",
    "65536",
    "-1",
    "-9223372036854775809",
    "+5",
    "abc",
    "",
    "0x",
    "0xzz",
    "1e9",
    "1.5",
    "00000000000000000000001",
    "\u{663}",
];

/// Words of pktgen's files, to splice in anywhere.
pub const PROCFS_WORDS: &[&str] = &[
    "Params:",
    "Current:",
    "Result:",
    "Result: ",
    "Flags:",
    "imix_weights:",
    "imix_size_counts:",
    "mpls:",
    "vlan_id:",
    "svlan_id:",
    "vlan_p:",
    "vlan_cfi:",
    "count",
    "delay:",
    "flows:",
    "flowlen:",
    "spi:",
    "spi:x",
    "saddr:",
    "daddr:",
    "min_daddr:",
    "src_mac:",
    "dst_mac:",
    "dst_min:",
    "src_min:",
    "ifname:",
    "node:",
    "tos:",
    "traffic_class:",
    "burst:",
    "xmit_mode:",
    "xmit_queue",
    "IPV6",
    "FLOW_SEQ",
    "FLOW_RND",
    "SHARED",
    "NODE_ALLOC",
    "::",
    ":",
    ",",
    ", ",
    "0x",
    "Running:",
    "Stopped:",
    "Name:",
    "@",
    "eth0@0",
    "kpktgend_0",
    "pgctrl",
    "/",
    "..",
    "\t",
    "\r",
    "\n",
    " ",
    "Version:",
    "pkts-sofar:",
    "started:",
    "us",
    "64,",
    ",7",
];

/// YAML syntax and state-file words.
pub const YAML_WORDS: &[&str] = &[
    "&a ",
    "*a",
    "<<: ",
    "- ",
    "[",
    "]",
    "{",
    "}",
    ": ",
    ":",
    "\"",
    "'",
    "!!str ",
    "!!binary ",
    "!!map ",
    "---\n",
    "...\n",
    "? ",
    "|\n",
    ">\n",
    "#",
    "\t",
    "~",
    "null",
    "0x10",
    "0o7",
    "1e400",
    ".inf",
    "-.inf",
    ".nan",
    "eth0@0",
    "eth1",
    "thread",
    "threads",
    "devices",
    "flags",
    "pkt_size",
    "imix_weights",
    "mpls",
    "dst6",
    "rate",
    "ratep",
    "vlan_id",
    "svlan_id",
    "clone_skb",
    "burst",
    "xmit_mode",
    "queue_xmit",
    "!SHARED",
    "FLOW_SEQ",
    "\n",
    "\n  ",
    "\n    ",
    " ",
    ",",
    "\\",
    "\u{feff}",
    "\u{0}",
    "\u{1b}[2J",
    "é",
    "%YAML 1.2\n",
    "%TAG ! tag:x,2000:\n",
    "\r\n",
];

#[derive(Debug, Clone)]
pub enum Mutation {
    DeleteLine(Index),
    DuplicateLine(Index),
    SwapLines(Index, Index),
    FlipBit(Index, u8),
    Truncate(Index),
    ReplaceNumber(Index, Index),
    Insert(Index, Index),
    ReplaceWord(Index, Index),
    /// Inserts the piece `from..to` of another corpus input at `at`.
    Splice {
        other: Index,
        from: Index,
        to: Index,
        at: Index,
    },
}

pub fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<Index>().prop_map(Mutation::DeleteLine),
        any::<Index>().prop_map(Mutation::DuplicateLine),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        (any::<Index>(), 0u8..8).prop_map(|(a, b)| Mutation::FlipBit(a, b)),
        any::<Index>().prop_map(Mutation::Truncate),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::ReplaceNumber(a, b)),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::Insert(a, b)),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::ReplaceWord(a, b)),
        (any::<[Index; 4]>()).prop_map(|[other, from, to, at]| Mutation::Splice {
            other,
            from,
            to,
            at
        }),
    ]
}

/// The maximal runs of bytes that `keep` holds for, as `start..end` pairs.
fn spans(bytes: &[u8], keep: impl Fn(&u8) -> bool) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut start = None;
    for (k, c) in bytes.iter().enumerate() {
        match (keep(c), start) {
            (true, None) => start = Some(k),
            (false, Some(s)) => {
                runs.push((s, k));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        runs.push((s, bytes.len()));
    }
    runs
}

/// Applies `muts` to `input`; `words` are what `Insert` and `ReplaceWord` splice in, and
/// `others` (the rest of the corpus) what `Splice` takes a piece of.
pub fn mutate<W: AsRef<[u8]>>(
    input: &[u8],
    muts: &[Mutation],
    words: &[W],
    others: &[Vec<u8>],
) -> Vec<u8> {
    let mut bytes = input.to_vec();
    for m in muts {
        let split_lines = |b: &[u8]| -> Vec<Vec<u8>> {
            b.split_inclusive(|&c| c == b'\n')
                .map(<[u8]>::to_vec)
                .collect()
        };
        match m {
            Mutation::DeleteLine(i) | Mutation::DuplicateLine(i) => {
                let mut lines = split_lines(&bytes);
                if lines.is_empty() {
                    continue;
                }
                let at = i.index(lines.len());
                if matches!(m, Mutation::DeleteLine(_)) {
                    lines.remove(at);
                } else {
                    let l = lines[at].clone();
                    lines.insert(at, l);
                }
                bytes = lines.concat();
            }
            Mutation::SwapLines(a, b) => {
                let mut lines = split_lines(&bytes);
                if lines.is_empty() {
                    continue;
                }
                let (a, b) = (a.index(lines.len()), b.index(lines.len()));
                lines.swap(a, b);
                bytes = lines.concat();
            }
            Mutation::FlipBit(i, bit) => {
                if !bytes.is_empty() {
                    let at = i.index(bytes.len());
                    bytes[at] ^= 1 << bit;
                }
            }
            Mutation::Truncate(i) => {
                let at = i.index(bytes.len() + 1);
                bytes.truncate(at);
            }
            Mutation::ReplaceNumber(i, r) => {
                let runs = spans(&bytes, u8::is_ascii_digit);
                if runs.is_empty() {
                    continue;
                }
                let (s, e) = runs[i.index(runs.len())];
                let with = NUMBERS[r.index(NUMBERS.len())].as_bytes();
                bytes.splice(s..e, with.iter().copied());
            }
            Mutation::Insert(i, w) => {
                let at = i.index(bytes.len() + 1);
                let word = words[w.index(words.len())].as_ref();
                bytes.splice(at..at, word.iter().copied());
            }
            Mutation::ReplaceWord(i, w) => {
                let toks = spans(&bytes, |c| !c.is_ascii_whitespace());
                if toks.is_empty() {
                    continue;
                }
                let (s, e) = toks[i.index(toks.len())];
                let word = words[w.index(words.len())].as_ref();
                bytes.splice(s..e, word.iter().copied());
            }
            Mutation::Splice {
                other,
                from,
                to,
                at,
            } => {
                if others.is_empty() {
                    continue;
                }
                let o = &others[other.index(others.len())];
                let (a, b) = (from.index(o.len() + 1), to.index(o.len() + 1));
                let piece = &o[a.min(b)..a.max(b)];
                let at = at.index(bytes.len() + 1);
                bytes.splice(at..at, piece.iter().copied());
            }
        }
    }
    bytes
}

/// Saved plans' JSON syntax and field names, beside [`YAML_WORDS`] (the state files they hold).
pub const JSON_WORDS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "\\",
    "\\u0000",
    "\\ud800",
    "\\n",
    "null",
    "true",
    "false",
    "-0",
    "1e999",
    "\"kind\": \"pgstate-plan\"",
    "\"format_version\": 2",
    "\"format_version\": 1",
    "\"files\": []",
    "\"targets\": []",
    "\"namespace\": \"h1\"",
    "\"namespace\": \"../x\"",
    "\"live\": \"devices: {}\\n\"",
    "\"writes\": [\"pgctrl <- start\"]",
    "[\"s.yaml\", \"devices: {}\"]",
    "pgstate-plan",
    "\n",
    " ",
];

/// Bytes of the headers a pktgen frame is made of: EtherTypes (IPv4, IPv6, 802.1Q, 802.1ad,
/// QinQ, MPLS), IP version nibbles, protocol numbers, pktgen's magic, all-ones and zeros.
pub const FRAME_WORDS: &[&[u8]] = &[
    b"\x08\x00",
    b"\x86\xdd",
    b"\x81\x00",
    b"\x88\xa8",
    b"\x91\x00",
    b"\x88\x47",
    b"\x88\x48",
    b"\x45",
    b"\x4f",
    b"\x60",
    b"\x11",
    b"\x06",
    b"\x00\x00\x01\x40",
    b"\xbe\x9b\xe9\x55",
    b"\xff\xff\xff\xff",
    b"\x00\x00\x00\x00",
    b"\x20\x00",
    b"\x3f\xff",
];
