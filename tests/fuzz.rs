//! Robustness of everything that reads untrusted text: the procfs parsers (`parse_device`,
//! `parse_thread`, `parse_pgctrl`, `result_text`) and the state loader (`load_texts`), fed
//! arbitrary text and mutations of real inputs (every dump of both real-kernel transcripts,
//! the REFERENCE fixtures in `tests/fixtures/legacy/`, the example states). None may panic;
//! each answer must be well formed. Valid states obtained by mutating the examples are also
//! applied to the simulator, which must not panic either, and must converge when it succeeds.
//!
//! The normal suite runs each property `PGSTATE_FUZZ_CASES` times (default 512). A longer run:
//!
//! ```sh
//! PGSTATE_FUZZ_CASES=100000 cargo test --release --test fuzz
//! ```
//!
//! The fixtures of `tests/fixtures/legacy/` (REFERENCE §3.1, §6, §8.1–§8.8) must also parse with
//! no line left unrecognised and with the values they show.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::sample::Index;

use pgstate::apply::{apply, plan_against};
use pgstate::model::{Flag, ThreadId, Vlan, XmitMode, DELAY_NEVER_WRITTEN};
use pgstate::procfs::parse::{parse_device, parse_pgctrl, parse_thread, result_text};
use pgstate::state_file::{load_texts, LoadError};
use pgstate::KernelProfile;

use common::lab::lab;

/// Cases per property without `PGSTATE_FUZZ_CASES`; the README quotes it.
const DEFAULT_CASES: u32 = 512;

fn cases() -> u32 {
    std::env::var("PGSTATE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CASES)
}

#[test]
fn the_readme_quotes_the_default_number_of_cases() {
    common::assert_readme_figure(DEFAULT_CASES as usize, "cases per property");
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        // Shrinking a mutated dump takes long and says little more than the first failure.
        max_shrink_iters: 2000,
        ..ProptestConfig::default()
    }
}

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

// ---------------------------------------------------------------------------------------------
// Corpora.

/// `(file name, content)` of every `@@ dump FILE` … `@@ end` block of both transcripts.
fn transcript_dumps() -> &'static [(String, String)] {
    static DUMPS: OnceLock<Vec<(String, String)>> = OnceLock::new();
    DUMPS.get_or_init(|| {
        let out: Vec<(String, String)> = common::transcripts()
            .iter()
            .flat_map(|(_, text)| common::dumps(text))
            .collect();
        assert!(out.len() > 100, "only {} dumps", out.len());
        out
    })
}

/// A fixture of `tests/fixtures/legacy/`: its header (`#! ` lines) and its content.
struct Fixture {
    name: String,
    header: Vec<String>,
    kind: String,
    arg: String,
    body: String,
}

fn fixtures() -> &'static [Fixture] {
    static FIX: OnceLock<Vec<Fixture>> = OnceLock::new();
    FIX.get_or_init(|| {
        let dir = manifest().join("tests/fixtures/legacy");
        let mut paths: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "txt"))
            .collect();
        paths.sort();
        paths
            .into_iter()
            .map(|p| {
                let text = std::fs::read_to_string(&p).unwrap();
                let mut header = Vec::new();
                let mut body = text.as_str();
                while let Some(rest) = body.strip_prefix("#! ") {
                    let (line, after) = rest.split_once('\n').unwrap();
                    header.push(line.to_owned());
                    body = after;
                }
                let kind_line = header
                    .iter()
                    .find_map(|h| h.strip_prefix("kind: "))
                    .unwrap_or_else(|| panic!("{}: no `kind:` header", p.display()));
                let (kind, arg) = kind_line.split_once(' ').unwrap();
                assert!(
                    header[0].contains("REFERENCE §"),
                    "{}: the header must name its REFERENCE section",
                    p.display()
                );
                Fixture {
                    name: p.file_name().unwrap().to_string_lossy().into_owned(),
                    kind: kind.to_owned(),
                    arg: arg.to_owned(),
                    header,
                    body: body.to_owned(),
                }
            })
            .collect()
    })
}

/// Every procfs text we have: transcript dumps and legacy fixtures.
fn procfs_corpus() -> &'static [String] {
    static C: OnceLock<Vec<String>> = OnceLock::new();
    C.get_or_init(|| {
        transcript_dumps()
            .iter()
            .map(|(_, b)| b.clone())
            .chain(fixtures().iter().map(|f| f.body.clone()))
            .collect()
    })
}

fn state_corpus() -> &'static [String] {
    static C: OnceLock<Vec<String>> = OnceLock::new();
    C.get_or_init(|| {
        let mut paths: Vec<_> = std::fs::read_dir(manifest().join("states"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
            .collect();
        paths.sort();
        assert!(paths.len() >= 10);
        paths
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect()
    })
}

// ---------------------------------------------------------------------------------------------
// Mutations.

/// Replacements for a run of digits: huge, negative, signed, empty, not numbers.
const NUMBERS: &[&str] = &[
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
const PROCFS_WORDS: &[&str] = &[
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
const YAML_WORDS: &[&str] = &[
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
enum Mutation {
    DeleteLine(Index),
    DuplicateLine(Index),
    SwapLines(Index, Index),
    FlipBit(Index, u8),
    Truncate(Index),
    ReplaceNumber(Index, Index),
    Insert(Index, Index),
    ReplaceWord(Index, Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<Index>().prop_map(Mutation::DeleteLine),
        any::<Index>().prop_map(Mutation::DuplicateLine),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        (any::<Index>(), 0u8..8).prop_map(|(a, b)| Mutation::FlipBit(a, b)),
        any::<Index>().prop_map(Mutation::Truncate),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::ReplaceNumber(a, b)),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::Insert(a, b)),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::ReplaceWord(a, b)),
    ]
}

/// Applies `muts` to `text`; `words` are what `Insert` and `ReplaceWord` splice in.
fn mutate(text: &str, muts: &[Mutation], words: &[&str]) -> String {
    let mut bytes = text.as_bytes().to_vec();
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
                let mut runs = Vec::new();
                let mut k = 0;
                while k < bytes.len() {
                    if bytes[k].is_ascii_digit() {
                        let start = k;
                        while k < bytes.len() && bytes[k].is_ascii_digit() {
                            k += 1;
                        }
                        runs.push((start, k));
                    } else {
                        k += 1;
                    }
                }
                if runs.is_empty() {
                    continue;
                }
                let (s, e) = runs[i.index(runs.len())];
                let with = NUMBERS[r.index(NUMBERS.len())].as_bytes();
                bytes.splice(s..e, with.iter().copied());
            }
            Mutation::Insert(i, w) => {
                let at = i.index(bytes.len() + 1);
                let word = words[w.index(words.len())].as_bytes();
                bytes.splice(at..at, word.iter().copied());
            }
            Mutation::ReplaceWord(i, w) => {
                // A whitespace-delimited token.
                let mut toks = Vec::new();
                let mut k = 0;
                while k < bytes.len() {
                    if bytes[k].is_ascii_whitespace() {
                        k += 1;
                    } else {
                        let start = k;
                        while k < bytes.len() && !bytes[k].is_ascii_whitespace() {
                            k += 1;
                        }
                        toks.push((start, k));
                    }
                }
                if toks.is_empty() {
                    continue;
                }
                let (s, e) = toks[i.index(toks.len())];
                let word = words[w.index(words.len())].as_bytes();
                bytes.splice(s..e, word.iter().copied());
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Text made of `words` and bits of arbitrary text.
fn soup(words: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::sample::select(words).prop_map(str::to_owned),
            2 => "[0-9]{1,25}",
            1 => "[ -~]{0,12}",
            1 => any::<String>().prop_map(|s| s.chars().take(8).collect()),
        ],
        0..120,
    )
    .prop_map(|v| v.concat())
}

// ---------------------------------------------------------------------------------------------
// Oracles: what every answer must satisfy.

/// The parsers on one text: no panic, errors on a line that exists, and the device parser's
/// `Result:` agrees with `result_text`.
fn check_procfs_text(text: &str) {
    let lines = text.lines().count().max(1);
    match parse_device("eth0@0", text) {
        Ok(d) => {
            // Both read everything from the first line starting `Result:` to the end.
            if !text.contains('\r') {
                assert_eq!(
                    d.result,
                    result_text(text).unwrap_or_default(),
                    "parse_device and result_text disagree on\n{text:?}"
                );
            }
        }
        Err(e) => {
            assert!(
                (1..=lines).contains(&e.line),
                "error on line {} of {lines}: {e}",
                e.line
            );
            assert!(!e.to_string().is_empty());
        }
    }
    match parse_thread("kpktgend_0", text) {
        Ok(t) => {
            for d in t.running.iter().chain(&t.stopped) {
                assert!(text.contains(d.as_str()));
            }
        }
        Err(e) => assert!((1..=lines).contains(&e.line), "{e}"),
    }
    let version = parse_pgctrl(text);
    assert!(text.lines().next().unwrap_or_default().contains(&version));
    if let Some(r) = result_text(text) {
        assert!(text.len() >= r.len());
    }
}

/// The loader on some files: never a panic or an I/O error; diagnostics well formed.
fn check_load(files: &[(&str, &str)]) -> Option<pgstate::DesiredState> {
    let refs: Vec<(&Path, &str)> = files.iter().map(|(n, t)| (Path::new(*n), *t)).collect();
    match load_texts(&refs) {
        Ok(s) => Some(s.desired),
        Err(LoadError::Invalid(diags)) => {
            assert!(!diags.is_empty());
            assert!(diags.len() <= 201, "{} diagnostics", diags.len());
            for d in &diags {
                let text = d.to_string();
                assert!(!d.message.is_empty(), "{text}");
                assert!(
                    files.iter().any(|(n, _)| Path::new(n) == d.file),
                    "unknown file in {text}"
                );
                for part in [&d.message, &d.path] {
                    assert!(!part.chars().any(char::is_control), "{part:?}");
                }
                if let Some(l) = &d.location {
                    assert_eq!(l.file, d.file);
                    let src = files
                        .iter()
                        .find(|(n, _)| Path::new(n) == l.file)
                        .unwrap()
                        .1;
                    assert!(l.line >= 1 && l.column >= 1, "{text}");
                    // libyaml (behind serde_yaml) also breaks lines at a lone CR, NEL, U+2028
                    // and U+2029, as YAML 1.1 says, and may point one line past the end.
                    let breaks = src.matches('\n').count()
                        + src
                            .matches(['\r', '\u{85}', '\u{2028}', '\u{2029}'])
                            .count();
                    assert!(l.line <= breaks + 2, "{text}");
                }
                if let Some(s) = &d.source_line {
                    assert!(!s.contains('\n'));
                }
            }
            None
        }
        Err(e) => panic!("not a diagnostic: {e}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Properties.

proptest! {
    #![proptest_config(config(cases()))]

    #[test]
    fn procfs_parsers_survive_arbitrary_text(
        text in prop_oneof![any::<String>(), soup(PROCFS_WORDS)],
    ) {
        check_procfs_text(&text);
    }

    #[test]
    fn procfs_parsers_survive_mutated_real_dumps(
        pick in any::<Index>(),
        muts in prop::collection::vec(mutation(), 1..8),
    ) {
        let corpus = procfs_corpus();
        let text = mutate(&corpus[pick.index(corpus.len())], &muts, PROCFS_WORDS);
        check_procfs_text(&text);
    }

    #[test]
    fn the_loader_survives_arbitrary_text(
        text in prop_oneof![any::<String>(), soup(YAML_WORDS)],
    ) {
        check_load(&[("s.yaml", &text)]);
    }

    #[test]
    fn the_loader_survives_mutated_examples(
        a in any::<Index>(),
        b in any::<Index>(),
        muts in prop::collection::vec(mutation(), 1..6),
        two_files in any::<bool>(),
    ) {
        let corpus = state_corpus();
        let first = mutate(&corpus[a.index(corpus.len())], &muts, YAML_WORDS);
        if two_files {
            check_load(&[("a.yaml", &first), ("b.yaml", &corpus[b.index(corpus.len())])]);
        } else {
            check_load(&[("a.yaml", &first)]);
        }
    }
}

proptest! {
    // Applying costs a simulator run per case.
    #![proptest_config(config(cases().div_ceil(4)))]

    #[test]
    fn valid_mutated_states_apply_without_panic_and_converge(
        before in any::<Index>(),
        after in any::<Index>(),
        muts in prop::collection::vec(mutation(), 1..4),
    ) {
        let corpus = state_corpus();
        let sim = lab(KernelProfile::LINUX_6_12);
        let start = check_load(&[("a.yaml", &corpus[before.index(corpus.len())])]).unwrap();
        apply(&sim, &start).unwrap();
        let text = mutate(&corpus[after.index(corpus.len())], &muts, YAML_WORDS);
        let Some(desired) = check_load(&[("b.yaml", &text)]) else {
            return Ok(());
        };
        // Refusals (a thread or interface that does not exist, a kernel refusal) are fine;
        // a success must leave nothing to do.
        if apply(&sim, &desired).is_ok() {
            let (_, _, again) = plan_against(&sim, &desired).unwrap();
            prop_assert!(again.is_empty(), "after applying\n{text}\nplan: {:#?}", again.writes);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Legacy and REFERENCE fixtures.

#[test]
fn every_reference_fixture_parses_with_no_unknown_line() {
    let mut kinds = std::collections::BTreeMap::new();
    for f in fixtures() {
        *kinds.entry(f.kind.as_str()).or_insert(0) += 1;
        match f.kind.as_str() {
            "device" => {
                let d = parse_device(&f.arg, &f.body)
                    .unwrap_or_else(|e| panic!("{}: {e}\n{:?}", f.name, f.header));
                assert!(
                    d.unknown_lines.is_empty(),
                    "{}: unknown lines {:?}",
                    f.name,
                    d.unknown_lines
                );
                assert_eq!(d.ifname, f.arg, "{}", f.name);
                assert_eq!(Some(d.result), result_text(&f.body), "{}", f.name);
            }
            "thread" => {
                parse_thread(&f.arg, &f.body).unwrap_or_else(|e| panic!("{}: {e}", f.name));
            }
            "pgctrl" => assert_eq!(parse_pgctrl(&f.body), f.arg, "{}", f.name),
            other => panic!("{}: unknown kind {other}", f.name),
        }
    }
    assert!(
        kinds["device"] >= 11 && kinds["thread"] >= 7 && kinds["pgctrl"] >= 3,
        "{kinds:?}"
    );
}

fn fixture(name: &str) -> &'static Fixture {
    fixtures()
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no fixture {name}"))
}

fn device(name: &str) -> pgstate::procfs::parse::DeviceFile {
    let f = fixture(name);
    parse_device(&f.arg, &f.body).unwrap()
}

#[test]
fn reference_fixtures_read_as_the_kernel_state_they_show() {
    // §8.3: SHARED on 6.7+, nothing on 4.16–6.6.
    let d = device("ref-8.3-device-fresh-6.7.txt");
    assert_eq!(d.config.count, 1000);
    assert_eq!(d.config.src_mac.to_string(), "52:54:00:12:34:56");
    assert_eq!(d.config.flags.iter().collect::<Vec<_>>(), [Flag::SHARED]);
    assert_eq!(d.result, "Idle");
    assert!(device("ref-8.3-device-fresh-4.16-6.6.txt")
        .config
        .flags
        .is_empty());

    // §8.4: a completed run.
    let d = device("ref-8.4-device-after-run-6.7.txt");
    let c = &d.config;
    assert_eq!((c.count, c.min_pkt_size, c.max_pkt_size), (100000, 60, 60));
    assert_eq!((c.clone_skb, c.burst), (64, 8));
    assert_eq!(c.dst_min, "192.168.81.2");
    assert_eq!((c.udp_src_min, c.udp_src_max), (9, 109));
    for f in [
        Flag::UDPSRC_RND,
        Flag::NO_TIMESTAMP,
        Flag::QUEUE_MAP_CPU,
        Flag::SHARED,
    ] {
        assert!(c.flags.contains(f), "{f:?}");
    }
    assert_eq!(d.sofar, 100000);
    assert_eq!(
        d.result,
        "OK: 15430(c15405+d25) usec, 100000 (60byte,0frags)\n  6480562pps 3110Mb/sec (3110669760bps) errors: 0"
    );

    // §8.5: IPv6, VLAN, imix, queue_xmit.
    let d = device("ref-8.5-device-ipv6-vlan-imix-6.7.txt");
    let c = &d.config;
    assert!(c.flags.contains(Flag::IPV6) && c.flags.contains(Flag::UDPCSUM));
    assert_eq!(c.dst6.to_string(), "2001:db8::2");
    assert_eq!(c.src6.to_string(), "2001:db8::1");
    assert_eq!(c.imix_weights.len(), 3);
    assert_eq!(
        c.vlan,
        Some(Vlan {
            id: 100,
            p: 3,
            cfi: 0
        })
    );
    assert_eq!((c.traffic_class, c.skb_priority), (0xb8, 7));
    assert_eq!(c.xmit_mode, XmitMode::QueueXmit);
    assert_eq!(d.imix_size_counts, [(64, 0), (576, 0), (1500, 0)]);

    // §8.6: conditional lines.
    let c = device("ref-8.6-device-mpls-tos-node-netif-ipsec.txt").config;
    assert_eq!(c.mpls, [0x0001_000a, 0x0002_000a]);
    assert_eq!(
        (c.tos, c.node, c.xmit_mode),
        (0x28, Some(0), XmitMode::NetifReceive)
    );
    assert_eq!((c.flows, c.flowlen, c.spi), (1024, 8, 256));
    assert!(c.flags.contains(Flag::IPSEC) && !c.flags.contains(Flag::FLOW_SEQ));
    assert_eq!(c.delay, DELAY_NEVER_WRITTEN);
    let c = device("ref-8.6-device-qinq.txt").config;
    assert_eq!(
        c.vlan,
        Some(Vlan {
            id: 10,
            p: 0,
            cfi: 0
        })
    );
    assert_eq!(
        c.svlan,
        Some(Vlan {
            id: 20,
            p: 5,
            cfi: 0
        })
    );

    // §8.7: Results over several lines, one ending in an empty line.
    let r = device("ref-8.7-device-result-unknown-flag.txt").result;
    assert!(
        r.starts_with("Flag -:BOGUS:- unknown\nAvailable flags"),
        "{r}"
    );
    assert!(r.ends_with("NODE, SHARED"), "{r}");
    assert_eq!(
        device("ref-8.7-device-result-unknown-mode.txt").result,
        "xmit_mode -:foo:- unknown\nAvailable modes: start_xmit, netif_receive"
    );

    // §8.8: 3.x: 60-byte default sizes, src_min indented by 8, cur_saddr in hex.
    let c = device("ref-8.8-device-3.x.txt").config;
    assert_eq!((c.min_pkt_size, c.max_pkt_size), (60, 60));
    assert_eq!((c.src_min.as_str(), c.dst_min.as_str()), ("", ""));
    assert!(c.flags.is_empty());
    let f = fixture("ref-8.8-thread-2.6.11.txt");
    let t = parse_thread(&f.arg, &f.body).unwrap();
    assert!(t.running.is_empty());
    assert_eq!(
        t.stopped.iter().map(|d| d.as_str()).collect::<Vec<_>>(),
        ["eth1"]
    );
    assert_eq!(t.result, "OK: max_before_softirq=10000");

    // §6: uppercase MACs with two spaces, NODE_ALLOC; unfixed 4.16–6.5 Flags lines.
    let c = device("ref-6-device-pre-4.16-uppercase-mac.txt").config;
    assert_eq!(c.src_mac.to_string(), "00:16:3e:11:22:33");
    assert_eq!(c.dst_mac.to_string(), "00:1b:21:3c:9d:f8");
    assert_eq!(c.flags.iter().collect::<Vec<_>>(), [Flag::NODE]);
    let c = device("ref-6-device-4.16-unfixed-flags.txt").config;
    assert!(c.flags.contains(Flag::FLOW_SEQ) && c.flags.contains(Flag::IPSEC));
    assert_eq!((c.flows, c.spi), (0, 0));

    // §8.2: thread files.
    for (name, running, stopped, result) in [
        ("ref-8.2-thread-fresh.txt", &[][..], &[][..], "NA"),
        (
            "ref-8.2-thread-two-devices.txt",
            &[],
            &["eth0@0", "eth1"],
            "OK: add_device=eth0@0",
        ),
        (
            "ref-8.2-thread-running.txt",
            &["eth0@0", "eth1"],
            &[],
            "OK: add_device=eth0@0",
        ),
        (
            "ref-8.2-thread-add-failed.txt",
            &[],
            &[],
            "ERROR: can not add device eth9",
        ),
        (
            "ref-8.2-thread-rem-device-all.txt",
            &[],
            &[],
            "OK: rem_device_all",
        ),
    ] {
        let f = fixture(name);
        let t = parse_thread(&f.arg, &f.body).unwrap();
        assert_eq!(
            t.running.iter().map(|d| d.as_str()).collect::<Vec<_>>(),
            running,
            "{name}"
        );
        assert_eq!(
            t.stopped.iter().map(|d| d.as_str()).collect::<Vec<_>>(),
            stopped,
            "{name}"
        );
        assert_eq!(t.result, result, "{name}");
    }
    assert_eq!(
        ThreadId::from_file_name(&fixture("ref-8.2-thread-fresh.txt").arg),
        Some(ThreadId(0))
    );
}

/// Inputs the fuzzers found or that are known to be tricky, kept as fixed cases.
#[test]
fn tricky_inputs_found_by_fuzzing_stay_handled() {
    for text in [
        // libyaml counts U+2028 as a line break, yaml-rust2 does not (found by the loader fuzz).
        "A:\u{2028}(",
        "devices:\u{85}  eth0: {thread: 0}\n",
        "devices:\r  eth0: {thread: 0}\r",
        "\u{feff}devices: {}\n",
        "devices: {}\n\u{feff}",
        "? [a, b]\n: c\ndevices: {}\n",
        "devices:\n  ? {a: 1}\n  : {thread: 0}\n",
        "a: &x [*x]\ndevices: {}\n",
        "devices: &d {eth0: *d}\n",
        "devices: !!binary aGVsbG8=\n",
        "%YAML 1.1\n%YAML 1.1\n---\ndevices: {}\n",
    ] {
        check_load(&[("s.yaml", text)]);
    }
    for text in [
        "Params: count 1\nResult:",
        "Result:",
        "Params:\n     Flags: spi:\n",
        "Params:\n     imix_weights: ,\n",
        "Params:\n     vlan_id:\n",
        "Params:\n     mpls: ,\n",
        "Running: eth0\u{2028}x\nStopped:\n",
    ] {
        check_procfs_text(text);
    }
}
