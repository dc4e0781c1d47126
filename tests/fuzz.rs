//! The fuzz targets, run on stable for a bounded time in `cargo test`: every reader of
//! untrusted input, fed its corpus (`tests/fuzz/corpus/<target>/`: real inputs and the
//! regressions fuzzing found) as it is, then mutations of it, arbitrary bytes and soups of
//! its format's words, for `PGSTATE_FUZZ_SECS` seconds per target (2 by default; the
//! harness is `tests/common/fuzz/`, the targets shared with the `cargo fuzz` crate in
//! `fuzz/`):
//!
//! | target | reader | corpus |
//! |---|---|---|
//! | `state` | the state-file loader, on a file and on a directory (`load_path`) | `states/` |
//! | `device`, `thread`, `pgctrl` | the procfs parsers (all of them on every input) | both real-kernel transcripts' dumps, the REFERENCE fixtures |
//! | `saved_plan` | `apply FILE`'s reader (`SavedPlan::read`) and the loader of its state files | `plan --out` of the examples |
//! | `frame` | the receivers' frame decoder (`parse_frame`) | pktgen's frames over IPv4/IPv6, VLAN, QinQ, MPLS, and not pktgen's |
//!
//! The rules: no panic; an answer that is well formed, with every error of the loader and
//! the saved-plan reader naming the file; and bounded memory: the most the call allocates at
//! once (counted by a global allocator, `tests/common/fuzz/alloc.rs`) stays under a bound
//! linear in the input's size. Valid states obtained by mutating the examples are also
//! applied to the simulator, which must not panic either, and must converge when it succeeds.
//! A longer run: `PGSTATE_FUZZ_SECS=600 cargo test --release --test fuzz` (doc/testing.md).
//!
//! The fixtures of `tests/fixtures/legacy/` (REFERENCE §3.1, §6, §8.1–§8.8) must also parse with
//! no line left unrecognised and with the values they show.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use pgstate::apply::{apply, plan_against};
use pgstate::model::{Flag, ThreadId, Vlan, XmitMode, DELAY_NEVER_WRITTEN};
use pgstate::procfs::parse::{parse_device, parse_pgctrl, parse_thread, result_text};
use pgstate::state_file::{load_texts, MAX_ALIAS_EXPANSION};
use pgstate::KernelProfile;

use common::fuzz::alloc::Counting;
use common::fuzz::mutate::{FRAME_WORDS, JSON_WORDS, PROCFS_WORDS, YAML_WORDS};
use common::fuzz::run::{fuzz, MemoryBound, DEFAULT_SECS};
use common::fuzz::targets::{self, Scratch};
use common::lab::lab;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[test]
fn the_readme_quotes_the_default_fuzz_time() {
    common::assert_readme_figure(DEFAULT_SECS as usize, "seconds per fuzz target");
}

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

// ---------------------------------------------------------------------------------------------
// The targets.

/// The loader: the YAML parsers, the located scan and the merge keep a few copies and an
/// index of the text (measured: about 25 bytes per input byte for 500 devices). Aliases are
/// expanded up to `MAX_ALIAS_EXPANSION` nodes, whatever the file's size, at about 150 bytes
/// a node (measured: a 2 KiB file of 99 aliases of 1000 values, 14.5 MB); that cap, not the
/// input, bounds them.
const LOADER_MEMORY: MemoryBound = MemoryBound {
    per_byte: 64,
    base: (256 << 10) + 256 * MAX_ALIAS_EXPANSION as usize,
};

#[test]
fn fuzz_the_state_file_loader() {
    let scratch = Scratch::new();
    fuzz("state", YAML_WORDS, Some(LOADER_MEMORY), |b| {
        targets::state_file(&scratch, b)
    });
}

/// The procfs parsers: a few copies of the text and what it lists.
const PROCFS_MEMORY: MemoryBound = MemoryBound {
    per_byte: 16,
    base: 16 << 10,
};

#[test]
fn fuzz_the_device_file_parser() {
    fuzz(
        "device",
        PROCFS_WORDS,
        Some(PROCFS_MEMORY),
        targets::procfs_file,
    );
}

#[test]
fn fuzz_the_thread_file_parser() {
    fuzz(
        "thread",
        PROCFS_WORDS,
        Some(PROCFS_MEMORY),
        targets::procfs_file,
    );
}

#[test]
fn fuzz_the_pgctrl_parser() {
    fuzz(
        "pgctrl",
        PROCFS_WORDS,
        Some(PROCFS_MEMORY),
        targets::procfs_file,
    );
}

#[test]
fn fuzz_the_saved_plan_reader() {
    let scratch = Scratch::new();
    fuzz("saved_plan", JSON_WORDS, Some(LOADER_MEMORY), |b| {
        targets::saved_plan(&scratch, b)
    });
}

/// The frame decoder reads the bytes in place: it allocates nothing at all.
const FRAME_MEMORY: MemoryBound = MemoryBound {
    per_byte: 0,
    base: 0,
};

#[test]
fn fuzz_the_frame_decoder() {
    fuzz("frame", FRAME_WORDS, Some(FRAME_MEMORY), targets::frame);
}

#[test]
fn valid_mutated_states_apply_without_panic_and_converge() {
    let corpus = common::fuzz::run::corpus("state");
    let start = &corpus
        .iter()
        .find(|(n, _)| n == "simple.yaml")
        .expect("simple.yaml in the state corpus")
        .1;
    let start = load_texts(&[(Path::new("a.yaml"), std::str::from_utf8(start).unwrap())])
        .unwrap()
        .desired;
    fuzz("state", YAML_WORDS, None, |bytes| {
        let text = String::from_utf8_lossy(bytes);
        let Ok(loaded) = load_texts(&[(Path::new("b.yaml"), &text)]) else {
            return;
        };
        let sim = lab(KernelProfile::LINUX_6_12);
        apply(&sim, &start).unwrap();
        // Refusals (a thread or interface that does not exist, a kernel refusal) are fine;
        // a success must leave nothing to do.
        if apply(&sim, &loaded.desired).is_ok() {
            let (_, _, again) = plan_against(&sim, &loaded.desired).unwrap();
            assert!(
                again.is_empty(),
                "after applying\n{text}\nplan: {:#?}",
                again.writes
            );
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Fixed tricky inputs.

/// Inputs the fuzzers found or that are known to be tricky, kept as fixed cases.
#[test]
fn tricky_inputs_found_by_fuzzing_stay_handled() {
    let scratch = Scratch::new();
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
        targets::state_file(&scratch, text.as_bytes());
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
        targets::procfs_text(text);
    }
}

// ---------------------------------------------------------------------------------------------
// The legacy fixtures.

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
fn reference_fixtures_fresh_and_after_a_run() {
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
}

#[test]
fn reference_fixtures_ipv6_vlan_imix_and_conditional_lines() {
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
}

#[test]
fn reference_fixtures_multiline_results_and_old_kernels() {
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
}

#[test]
fn reference_fixtures_thread_files() {
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
