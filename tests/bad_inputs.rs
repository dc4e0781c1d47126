//! Bad state files: every class of bad input is refused at load time with a located,
//! compiler-style diagnostic (`file:line:col: path: message`, the source line and a caret),
//! never a panic, and within bounded time and memory. Inputs are sized so that a regression
//! (expanding an alias bomb, recursing per nesting level, quadratic indexing) would blow up
//! dramatically rather than be a few milliseconds slower; no timings are asserted.
//!
//! Every refused input is counted; `figure_of_bad_inputs_refused` runs them all and prints
//! the total.

mod common;

use std::cell::Cell;
use std::fs;
use std::path::Path;

use pgstate::state_file::{
    load_path, load_texts, LoadError, MAX_ALIAS_EXPANSION, MAX_DIAGNOSTICS, MAX_NESTING_DEPTH,
    MAX_STATE_FILE_BYTES, MAX_YAML_NODES,
};
use pgstate::Diagnostic;

thread_local! {
    /// Bad inputs refused by the tests run on this thread.
    static REFUSED: Cell<usize> = const { Cell::new(0) };
}

fn count_refused() {
    REFUSED.with(|c| c.set(c.get() + 1));
}

/// Loads `files` as texts; they must be refused. Returns the diagnostics.
fn refuse_texts(files: &[(&str, &str)]) -> Vec<Diagnostic> {
    let refs: Vec<(&Path, &str)> = files.iter().map(|(n, t)| (Path::new(*n), *t)).collect();
    match load_texts(&refs) {
        Ok(s) => panic!("accepted {files:?}: {:#?}", s.desired),
        Err(LoadError::Invalid(d)) => {
            assert!(!d.is_empty());
            count_refused();
            d
        }
        Err(e) => panic!("expected diagnostics, got {e}"),
    }
}

fn refuse(text: &str) -> Vec<Diagnostic> {
    refuse_texts(&[("s.yaml", text)])
}

/// Loads `path`; it must be refused with diagnostics.
fn refuse_path(path: &Path) -> Vec<Diagnostic> {
    match load_path(path) {
        Ok(s) => panic!("accepted {}: {:#?}", path.display(), s.desired),
        Err(LoadError::Invalid(d)) => {
            count_refused();
            d
        }
        Err(e) => panic!("expected diagnostics, got {e}"),
    }
}

fn accept(text: &str) -> pgstate::DesiredState {
    load_texts(&[(Path::new("s.yaml"), text)])
        .unwrap_or_else(|e| panic!("refused:\n{text}\n{e}"))
        .desired
}

/// Asserts one diagnostic: its location (`file:line:col`, or `file` alone for `None`), its
/// field path, and words of its message. Also checks the rendered form: the compiler-style
/// first line, and the source line with a caret under the column.
fn check(d: &Diagnostic, file: &str, at: Option<(usize, usize)>, path: &str, words: &[&str]) {
    let text = d.to_string();
    match at {
        Some((line, col)) => {
            let loc = d
                .location
                .as_ref()
                .unwrap_or_else(|| panic!("no location: {text}"));
            assert_eq!(
                (loc.file.to_str().unwrap(), loc.line, loc.column),
                (file, line, col),
                "{text}"
            );
            let mut prefix = format!("{file}:{line}:{col}: ");
            if !path.is_empty() {
                prefix.push_str(&format!("{path}: "));
            }
            assert!(
                text.starts_with(&prefix),
                "expected {prefix:?}…, got\n{text}"
            );
            if let Some(src) = &d.source_line {
                let caret = format!("| {}^", " ".repeat(col - 1));
                assert!(
                    text.contains(&format!("{line} | {src}")) && text.contains(&caret),
                    "no source line with caret in\n{text}"
                );
            }
        }
        None => {
            assert!(d.location.is_none(), "{text}");
            assert_eq!(d.file.to_str().unwrap(), file, "{text}");
            assert!(text.starts_with(&format!("{file}: ")), "{text}");
        }
    }
    assert_eq!(d.path, path, "{text}");
    let all = format!("{} {}", d.message, d.help.as_deref().unwrap_or_default());
    for w in words {
        assert!(all.contains(w), "{w:?} not in\n{text}");
    }
    // A diagnostic is one line plus its snippet: no value from the file may add lines or
    // terminal escapes to the output.
    for part in [&d.message, &d.path] {
        assert!(
            !part.chars().any(char::is_control),
            "control character in {part:?}"
        );
    }
}

fn only(diags: Vec<Diagnostic>) -> Diagnostic {
    assert_eq!(diags.len(), 1, "{diags:#?}");
    diags.into_iter().next().unwrap()
}

// ---------------------------------------------------------------------------------------------
// Size, nesting, aliases, encoding.

#[test]
fn a_file_over_the_size_limit_is_refused_without_being_parsed() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.yaml");
    // A valid beginning, then a comment that takes the file one byte over the limit.
    let head = "devices: {}\n# ";
    let mut text = String::from(head);
    text.push_str(&"x".repeat(MAX_STATE_FILE_BYTES as usize + 1 - head.len()));
    fs::write(&big, &text).unwrap();
    let d = only(refuse_path(&big));
    let name = big.to_str().unwrap();
    check(&d, name, None, "", &["8388609 bytes", "limited to 8388608"]);
    // Exactly at the limit is fine (the same file one byte shorter).
    fs::write(&big, &text[..text.len() - 1]).unwrap();
    assert!(load_path(&big).is_ok());

    // Given as text, the same limit applies.
    let d = only(refuse(&text));
    check(&d, "s.yaml", None, "", &["limited to 8388608"]);

    // In a directory, the other files' problems are reported along with it.
    fs::write(&big, &text).unwrap();
    fs::write(
        dir.path().join("other.yaml"),
        "devices:\n  eth0: {thread: 0, cont: 1}\n",
    )
    .unwrap();
    let d = refuse_path(dir.path());
    assert_eq!(d.len(), 2, "{d:#?}");
    check(&d[0], name, None, "", &["limited to"]);
    let other = dir.path().join("other.yaml");
    check(
        &d[1],
        other.to_str().unwrap(),
        Some((2, 21)),
        "devices.eth0.cont",
        &["unknown key `cont`", "did you mean `count`?"],
    );
}

#[test]
fn an_endless_special_file_is_read_only_up_to_the_limit() {
    // /dev/zero has size 0 in its metadata; reading it whole would never end.
    let zero = Path::new("/dev/zero");
    if !zero.exists() {
        return;
    }
    let d = only(refuse_path(zero));
    check(
        &d,
        "/dev/zero",
        None,
        "",
        &["more than 8388608", "limited to"],
    );
}

#[test]
fn too_many_yaml_nodes_are_refused_before_building_values() {
    // 300k one-character list items in 600 KB: far under the size limit, but each would be
    // a serde_yaml event and value (4 million of them took 30 s and 8 GB before the limit).
    let n = MAX_YAML_NODES as usize + 50_000;
    let text = format!(
        "devices:\n  eth0:\n    thread: 0\n    flags: [{}a]\n",
        "a,".repeat(n)
    );
    let d = only(refuse(&text));
    // Nodes so far: mapping, `devices`, its mapping, `eth0`, its mapping, `thread`, `0`,
    // `flags`, the sequence: 9, so the limit is crossed at item MAX_YAML_NODES - 9 + 1,
    // 2 characters each, after `    flags: [` (12 characters).
    let col = 12 + 2 * (MAX_YAML_NODES as usize - 9) + 1;
    check(
        &d,
        "s.yaml",
        Some((4, col)),
        "",
        &["more than 250000 YAML nodes"],
    );
    // A line that long is not printed under the diagnostic.
    assert!(d.source_line.is_none());
}

#[test]
fn deeply_nested_lists_and_maps_are_refused_without_recursing() {
    // 10 000 levels: a recursive parser overflows its stack well before that.
    let depth = 10_000;
    let lists = format!(
        "devices:\n  eth0:\n    thread: 0\n    flags: {}{}\n",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let d = only(refuse(&lists));
    // yaml-rust2's scanner looks ahead for a possible `[…]: value` key and gives up at the
    // 256th open bracket, before the events reach level 33; it is reported as the same
    // nesting problem, at that bracket (column 11 + 256).
    check(
        &d,
        "s.yaml",
        Some((4, 11 + 256)),
        "",
        &["nests deeper than 32 levels"],
    );

    let maps = format!("devices: {}{}\n", "{a: ".repeat(depth), "}".repeat(depth));
    let d = only(refuse(&maps));
    // Here each key ends the look-ahead, and the events reach the limit: the top mapping is
    // level 1, so the 32nd `{` (column 10 + 31 × 4) opens level 33.
    check(
        &d,
        "s.yaml",
        Some((1, 10 + 4 * (MAX_NESTING_DEPTH - 1))),
        "",
        &["nests deeper than 32 levels"],
    );

    // Block sequences nest on one line: `- - - - x`. yaml-rust2's recursive loader overflowed
    // the stack (an abort, not a panic) on 100 000 of them; 10 000 suffice for a regression.
    let block = format!("{}x\n", "- ".repeat(depth));
    let d = only(refuse(&block));
    // The top level is depth 1: the 33rd `- ` (column 65) opens level 33.
    check(
        &d,
        "s.yaml",
        Some((1, 2 * MAX_NESTING_DEPTH + 1)),
        "",
        &["nests deeper than 32 levels", "needs at most 5"],
    );

    // Indented block mappings, one level per line.
    let mut indented = String::from("devices:\n");
    for i in 0..1000 {
        indented.push_str(&format!("{}k{i}:\n", " ".repeat(i + 1)));
    }
    let d = only(refuse(&indented));
    // The top mapping is level 1 and the one holding k{i} (line i + 2) level i + 2: k31's
    // mapping on line 33 is level 33. yaml-rust2 marks a block mapping at its first key's
    // `:`, here after 32 spaces and `k31`: column 36.
    check(
        &d,
        "s.yaml",
        Some((MAX_NESTING_DEPTH + 1, MAX_NESTING_DEPTH + 4)),
        "",
        &["nests deeper"],
    );
}

/// The classic "billion laughs": nine levels of nine aliases, 9^9 strings once expanded.
fn billion_laughs() -> String {
    let mut s = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    for w in names.windows(2) {
        let refs = vec![format!("*{}", w[0]); 9].join(",");
        s.push_str(&format!("{}: &{} [{refs}]\n", w[1], w[1]));
    }
    s.push_str("devices: {}\n");
    s
}

#[test]
fn an_alias_bomb_is_refused_before_it_is_expanded() {
    let d = only(refuse(&billion_laughs()));
    // Expanded sizes count every node: a = 10 (the list and 9 strings), b = 91, c = 820,
    // d = 7381, e = 66 430. b to e add 9 × (10 + 91 + 820 + 7381) = 74 718, so the first `*e`
    // (line 6 `f: &f [*e,…`, column 8) takes the total past 100 000.
    check(
        &d,
        "s.yaml",
        Some((6, 8)),
        "",
        &["aliases expand to more than 100000 nodes", "alias bomb"],
    );

    // A wide anchor used many times: serde_yaml's own guard counts alias jumps (here 400,
    // well under its limit), not the 400 000 values they expand to.
    let wide = format!(
        "x: &x [{}]\ny: [{}]\ndevices: {{}}\n",
        vec!["1"; 1000].join(","),
        vec!["*x"; 400].join(",")
    );
    let d = only(refuse(&wide));
    let n = (MAX_ALIAS_EXPANSION / 1001) as usize; // aliases that fit
    check(
        &d,
        "s.yaml",
        Some((2, 5 + 3 * n)),
        "",
        &["aliases expand to more than"],
    );

    // Aliases that share settings between devices are fine.
    let ok =
        accept("devices:\n  eth0: &base {thread: 0, count: 5, flags: [UDPCSUM]}\n  eth1: *base\n");
    assert_eq!(ok.devices.len(), 2);
    assert_eq!(ok.devices[&"eth1".parse().unwrap()].config.count, 5);
}

#[test]
fn bytes_that_are_not_utf8_are_located() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("latin1.yaml");
    // A Latin-1 'é' (0xe9) in a comment on line 3, after 12 characters.
    fs::write(
        &f,
        b"devices:\n  eth0:\n    # caf\xc3\xa9 \xe9\n    thread: 0\n".as_slice(),
    )
    .unwrap();
    let d = only(refuse_path(&f));
    // Offset: "devices:\n" 9 + "  eth0:\n" 8 + "    # café " 12 bytes = 29.
    check(
        &d,
        f.to_str().unwrap(),
        Some((3, 12)),
        "",
        &["not UTF-8", "0xe9", "offset 29", "must be UTF-8"],
    );
    assert_eq!(d.source_line.as_deref(), Some("    # café \u{fffd}"));

    // UTF-16 with a byte-order mark: refused at the first byte.
    let f16 = dir.path().join("utf16.yaml");
    let mut bytes = vec![0xff, 0xfe];
    for u in "devices: {}\n".encode_utf16() {
        bytes.extend(u.to_le_bytes());
    }
    fs::write(&f16, bytes).unwrap();
    let d = only(refuse_path(&f16));
    check(
        &d,
        f16.to_str().unwrap(),
        Some((1, 1)),
        "",
        &["not UTF-8", "0xff", "offset 0"],
    );
}

// ---------------------------------------------------------------------------------------------
// Structure: duplicates, tabs, empty files, empty directories, unknown keys.

#[test]
fn a_device_defined_twice_in_one_file_names_both_places() {
    let d = only(refuse(
        "devices:\n  eth0: {thread: 0}\n  eth1: {thread: 0}\n  \"eth0\": {thread: 1}\n",
    ));
    check(
        &d,
        "s.yaml",
        Some((4, 3)),
        "devices.eth0",
        &[
            "device eth0 is defined twice",
            "first definition is at s.yaml:2:3",
        ],
    );

    // A key given twice inside a device, and the top-level `devices` given twice: all of them.
    let d = refuse("devices:\n  eth0:\n    thread: 0\n    count: 1\n    count: 2\ndevices: {}\n");
    assert_eq!(d.len(), 2, "{d:#?}");
    check(
        &d[0],
        "s.yaml",
        Some((5, 5)),
        "devices.eth0.count",
        &["`count` is given twice", "the first is at s.yaml:4:5"],
    );
    check(
        &d[1],
        "s.yaml",
        Some((6, 1)),
        "devices",
        &["`devices` is given twice", "s.yaml:1:1"],
    );
}

#[test]
fn a_device_defined_in_two_files_of_a_directory_names_both_files() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.yaml");
    let b = dir.path().join("b.yml");
    fs::write(&a, "devices:\n  eth0@0: {thread: 0}\n").unwrap();
    fs::write(
        &b,
        // Thread 0 is owned too: a.yaml's eth0@0 is on it (validate refuses a device on a
        // thread outside `threads:`).
        "threads: [0, 1]\ndevices:\n  eth1: {thread: 1}\n  eth0@0: {thread: 1}\n",
    )
    .unwrap();
    let d = only(refuse_path(dir.path()));
    check(
        &d,
        b.to_str().unwrap(),
        Some((4, 3)),
        "devices.eth0@0",
        &[
            "device eth0@0 is defined twice",
            &format!("first definition at {}:2:3", a.display()),
        ],
    );
}

#[test]
fn tabs_are_refused_with_a_hint() {
    let d = only(refuse("devices:\n\teth0: {thread: 0}\n"));
    check(&d, "s.yaml", Some((2, 2)), "", &["tabs", "use spaces"]);
    let d = only(refuse("devices:\n  eth0:\n    thread: 0\n\tcount: 1\n"));
    check(
        &d,
        "s.yaml",
        Some((3, 13)),
        "",
        &["found a tab", "use spaces"],
    );
}

#[test]
fn empty_and_comment_only_files_are_refused() {
    for text in [
        "",
        "\n\n",
        "   \n\t\n",
        "# only a comment\n\n  # and another\n",
    ] {
        let d = only(refuse(text));
        check(
            &d,
            "s.yaml",
            None,
            "",
            &["the file is empty", "devices: {}"],
        );
    }
    // `devices:` with every device commented out would remove every device.
    let d = only(refuse("devices:\n#  eth0: {thread: 0}\n"));
    check(
        &d,
        "s.yaml",
        Some((1, 1)),
        "devices",
        &["`devices` is empty", "devices: {}"],
    );
    // Nothing but a document marker: not a mapping.
    let d = only(refuse("---\n"));
    check(&d, "s.yaml", None, "", &["top level must be a mapping"]);
    // No `devices` key.
    let d = only(refuse("threads: [0]\n"));
    check(&d, "s.yaml", None, "", &["no `devices:` key"]);
    // The explicit form is accepted.
    assert!(accept("devices: {}\n").devices.is_empty());

    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("empty.yaml");
    fs::write(&f, "").unwrap();
    let d = only(refuse_path(&f));
    check(&d, f.to_str().unwrap(), None, "", &["the file is empty"]);
}

#[test]
fn a_directory_without_state_files_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let name = dir.path().to_str().unwrap().to_owned();
    let d = only(refuse_path(dir.path()));
    check(&d, &name, None, "", &["no *.yaml or *.yml state files"]);
    assert!(d.help.is_none());

    fs::write(dir.path().join("notes.txt"), "devices: {}\n").unwrap();
    fs::write(dir.path().join(".hidden.yaml"), "devices: {}\n").unwrap();
    fs::write(dir.path().join("state.yaml.bak"), "devices: {}\n").unwrap();
    let d = only(refuse_path(dir.path()));
    check(
        &d,
        &name,
        None,
        "",
        &[
            "no *.yaml or *.yml state files",
            "ignored: .hidden.yaml, notes.txt, state.yaml.bak",
        ],
    );
}

#[test]
fn unknown_keys_flags_and_modes_suggest_the_right_name() {
    let d = refuse(
        "devices:\n  eth0:\n    thread: 0\n    cont: 5\n  eth1:\n    thread: 0\n    pkt_sz: 60\n    flags: [UDPCSUMM, NO_TIMESTAMP]\ntreads: [0]\n",
    );
    assert_eq!(d.len(), 4, "{d:#?}");
    check(
        &d[0],
        "s.yaml",
        Some((4, 5)),
        "devices.eth0.cont",
        &["unknown key `cont`", "did you mean `count`?"],
    );
    check(
        &d[1],
        "s.yaml",
        Some((7, 5)),
        "devices.eth1.pkt_sz",
        &["unknown key `pkt_sz`", "did you mean `pkt_size`?"],
    );
    check(
        &d[2],
        "s.yaml",
        Some((8, 13)),
        "devices.eth1.flags[0]",
        &["unknown flag 'UDPCSUMM'", "did you mean `UDPCSUM`?"],
    );
    check(
        &d[3],
        "s.yaml",
        Some((9, 1)),
        "treads",
        &["unknown top-level key `treads`", "did you mean `threads`?"],
    );
    let d = only(refuse(
        "devices:\n  eth0: {thread: 0, xmit_mode: queue_xmt}\n",
    ));
    check(
        &d,
        "s.yaml",
        Some((2, 32)),
        "devices.eth0.xmit_mode",
        &["unknown variant `queue_xmt`", "queue_xmit"],
    );
}

#[test]
fn every_problem_of_every_file_is_reported_at_once() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("a.yaml"),
        "devices:\n  eth0@0:\n    thread: 0\n    pkt_size: 20\n    cont: 1\n  eth1@0:\n    thread: 0\n    flags: [BOGUS]\n    vlan_p: 3\n  bad/name: {thread: 0}\n",
    )
    .unwrap();
    fs::write(
        dir.path().join("b.yaml"),
        "devices:\n  eth2: {thread: 1, udp_dst_max: 70000}\n",
    )
    .unwrap();
    let d = refuse_path(dir.path());
    let a = dir.path().join("a.yaml");
    let a = a.to_str().unwrap();
    let b = dir.path().join("b.yaml");
    let b = b.to_str().unwrap();
    assert_eq!(d.len(), 6, "{d:#?}");
    // Sorted by file, then position; an unknown key does not hide a bad value next to it.
    check(
        &d[0],
        a,
        Some((4, 15)),
        "devices.eth0@0.pkt_size",
        &["20 is below the kernel minimum 42"],
    );
    check(
        &d[1],
        a,
        Some((5, 5)),
        "devices.eth0@0.cont",
        &["unknown key `cont`"],
    );
    check(
        &d[2],
        a,
        Some((8, 13)),
        "devices.eth1@0.flags[0]",
        &["unknown flag 'BOGUS'"],
    );
    check(
        &d[3],
        a,
        Some((9, 13)),
        "devices.eth1@0.vlan_p",
        &["vlan_p needs vlan_id"],
    );
    check(
        &d[4],
        a,
        Some((10, 3)),
        "devices.bad/name",
        &["not a valid pktgen device name", "'/'"],
    );
    check(
        &d[5],
        b,
        Some((2, 34)),
        "devices.eth2.udp_dst_max",
        &["70000 is above the kernel maximum 65535"],
    );
    let all = LoadError::Invalid(d).to_string();
    assert!(all.ends_with("\n6 problems found"), "{all}");
}

/// Within one entry: two unknown keys, two values of the wrong type and a missing `thread`,
/// all reported; rules about the bad keys are not (`rate needs pkt_size`).
#[test]
fn every_problem_of_one_entry_is_reported_at_once() {
    let d = refuse(
        "devices:\n  eth0:\n    cont: 1\n    pkt_size: big\n    rate: 100\n    dst: 1.2.3\n    vlan: 5\n",
    );
    assert_eq!(d.len(), 5, "{d:#?}");
    check(
        &d[0],
        "s.yaml",
        Some((2, 3)),
        "devices.eth0",
        &["missing required key `thread`"],
    );
    check(
        &d[1],
        "s.yaml",
        Some((3, 5)),
        "devices.eth0.cont",
        &["did you mean `count`?"],
    );
    check(
        &d[2],
        "s.yaml",
        Some((4, 15)),
        "devices.eth0.pkt_size",
        &["found the string"],
    );
    check(
        &d[3],
        "s.yaml",
        Some((6, 10)),
        "devices.eth0.dst",
        &["not an IPv4"],
    );
    check(
        &d[4],
        "s.yaml",
        Some((7, 5)),
        "devices.eth0.vlan",
        &["unknown key `vlan`", "did you mean `vlan_"],
    );
}

#[test]
fn thousands_of_problems_are_cut_to_a_readable_number() {
    let mut text = String::from("devices:\n");
    for i in 0..5000 {
        text.push_str(&format!("  eth0@{i}: {{thread: 0, x: 1}}\n"));
    }
    let d = refuse(&text);
    assert_eq!(d.len(), MAX_DIAGNOSTICS + 1);
    // Sorted by position: eth0@0 … eth0@199 in file order.
    check(
        &d[0],
        "s.yaml",
        Some((2, 23)),
        "devices.eth0@0.x",
        &["unknown key `x`"],
    );
    check(
        &d[MAX_DIAGNOSTICS - 1],
        "s.yaml",
        Some((201, 25)),
        "devices.eth0@199.x",
        &["unknown key `x`"],
    );
    check(
        &d[MAX_DIAGNOSTICS],
        "s.yaml",
        None,
        "",
        &[
            "4800 more problems are not shown",
            "5000 problems found",
            "first 200",
        ],
    );
    let all = LoadError::Invalid(d).to_string();
    assert!(
        !all.ends_with("201 problems found"),
        "{}",
        &all[all.len() - 200..]
    );
}

// ---------------------------------------------------------------------------------------------
// Injection: names and values that would add a command or reach another file.

#[test]
fn device_names_that_could_split_a_command_or_a_path_are_refused() {
    for (yaml_name, shown, words) in [
        (r#""eth0\ncount 5""#, r"eth0\ncount 5", &["newline"][..]),
        (r#""eth0\rcount 5""#, r"eth0\rcount 5", &["newline"]),
        (r#""eth0 count""#, "eth0 count", &["whitespace"]),
        (r#""eth0\t1""#, r"eth0\t1", &["whitespace"]),
        (r#""eth0\u00a0""#, "eth0\u{a0}", &["whitespace"]),
        ("eth0/../pgctrl", "eth0/../pgctrl", &["'/'"]),
        ("../pgctrl", "../pgctrl", &["'/'"]),
        ("eth0/x", "eth0/x", &["'/'"]),
        ("..", "..", &["reserved"]),
        ("'.'", ".", &["reserved"]),
        ("..@1", "..@1", &["reserved"]),
        ("pgctrl", "pgctrl", &["reserved", "pktgen control file"]),
        ("kpktgend_3", "kpktgend_3", &["reserved"]),
        ("kpktgend_0", "kpktgend_0", &["reserved"]),
        ("abcdefghijklmnop", "abcdefghijklmnop", &["longer than 15"]),
        (
            "abcdefghijklmno@1234567890123456",
            "abcdefghijklmno@1234567890123456",
            &["32 bytes", "at most 31"],
        ),
        ("eth0=1", "eth0=1", &["'='"]),
        (r#""eth0\"x""#, "eth0\"x", &["'\"'"]),
        (r#""eth0\u0000""#, r"eth0\u{0}", &["control character"]),
        (r#""eth0\e[2J""#, r"eth0\u{1b}[2J", &["control character"]),
        ("ethé", "ethé", &["non-ASCII"]),
        (r#""eth0\u200b""#, "eth0\u{200b}", &["non-ASCII"]),
        ("'@1'", "@1", &["interface part", "empty"]),
        ("''", "", &["empty"]),
    ] {
        let text = format!("devices:\n  {yaml_name}: {{thread: 0}}\n");
        let d = only(refuse(&text));
        let mut w = vec!["not a valid pktgen device name"];
        w.extend_from_slice(words);
        check(&d, "s.yaml", Some((2, 3)), &format!("devices.{shown}"), &w);
    }
    // The longest names the kernel accepts are fine.
    let ok = accept("devices:\n  abcdefghijklmno@123456789012345: {thread: 0}\n  abcdefghijklmno: {thread: 1}\n  kpktgend_x: {thread: 0}\n");
    assert_eq!(ok.devices.len(), 3);
}

/// Values with a second command hidden in them: (key, YAML value, field path suffix,
/// words of the error).
const SMUGGLED: &[(&str, &str, &str, &[&str])] = &[
    ("dst", r#""1.2.3.4\ncount 5""#, "dst", &["not an IPv4"]),
    ("dst", r#""1.2.3.4 count 5""#, "dst", &["not an IPv4"]),
    ("dst_min", r#""198.18.0.1\n""#, "dst_min", &["not an IPv4"]),
    ("src_max", "10.0.0.1;count 5", "src_max", &["not an IPv4"]),
    (
        "dst6",
        r#""2001:db8::1\nflag IPSEC""#,
        "dst6",
        &["not an IPv6"],
    ),
    ("src6", r#""fe80::1 count 1""#, "src6", &["not an IPv6"]),
    (
        "dst_mac",
        r#""02:00:00:00:00:01\ncount 5""#,
        "dst_mac",
        &["not a MAC address"],
    ),
    (
        "src_mac",
        r#""02:00:00:00:00:01 x""#,
        "src_mac",
        &["not a MAC address"],
    ),
    (
        "xmit_mode",
        r#""queue_xmit\nflag X""#,
        "xmit_mode",
        &["unknown variant"],
    ),
    (
        "xmit_mode",
        "queue_xmit count 5",
        "xmit_mode",
        &["unknown variant"],
    ),
    (
        "count",
        r#""5\ncount 6""#,
        "count",
        &["found the string", "silently read it as 0"],
    ),
    ("count", "5 count 6", "count", &["found the string"]),
    (
        "thread",
        r#""0\nrem_device_all""#,
        "thread",
        &["found the string"],
    ),
    ("node", r#""0\nflag NODE""#, "node", &["found the string"]),
    ("vlan_id", "5 svlan_id 6", "vlan_id", &["found the string"]),
    ("tos", r#""0x10\n""#, "tos", &["found the string"]),
    ("spi", r#""1\nflag IPSEC""#, "spi", &["found the string"]),
    (
        "pkt_size",
        "-60",
        "pkt_size",
        &["expected a whole number (0 or more), found -60"],
    ),
    (
        "count",
        "9999999999999999999",
        "count",
        &["above the kernel maximum 9999999999"],
    ),
    (
        "imix_weights",
        r#""64,7\ncount 5""#,
        "imix_weights",
        &["'count' is not size,weight"],
    ),
    (
        "imix_weights",
        r#""64,7 1500,1;flag X""#,
        "imix_weights",
        &["is not a number"],
    ),
    (
        "flags",
        r#"["UDPCSUM\ncount 9"]"#,
        "flags[0]",
        &["unknown flag 'UDPCSUM\\ncount 9'"],
    ),
    (
        "flags",
        r#"["UDPCSUM count 9"]"#,
        "flags[0]",
        &["unknown flag"],
    ),
    (
        "flags",
        r#"["UDPCSUM,NO_TIMESTAMP"]"#,
        "flags[0]",
        &["unknown flag"],
    ),
    ("flags", r#"["!UDPCSUM\n"]"#, "flags[0]", &["unknown flag"]),
    (
        "flags",
        r#"["IPSRC_RND\u0000"]"#,
        "flags[0]",
        &["unknown flag 'IPSRC_RND\\u{0}'"],
    ),
    (
        "flags",
        r#"["\e[2J"]"#,
        "flags[0]",
        &["unknown flag '\\u{1b}[2J'"],
    ),
    ("flags", "UDPCSUM", "flags", &["found the string"]),
    (
        "mpls",
        r#"["0001 000a"]"#,
        "mpls[0]",
        &["must be 1 to 8 hex digits"],
    ),
    (
        "mpls",
        r#"["0001000a\ncount 5"]"#,
        "mpls[0]",
        &["must be 1 to 8 hex digits"],
    ),
    (
        "mpls",
        r#"["0001000a,0002000a"]"#,
        "mpls[0]",
        &["must be 1 to 8 hex digits"],
    ),
    ("mpls", r#"["1 2"]"#, "mpls[0]", &["is not hex"]),
    ("mpls", r#"["-1"]"#, "mpls[0]", &["is not hex"]),
    ("mpls", "[-1]", "mpls[0]", &["is negative"]),
    (
        "mpls",
        "[4294967296]",
        "mpls[0]",
        &["does not fit in 32 bits"],
    ),
    ("mpls", r#""0001000a""#, "mpls", &["found the string"]),
];

#[test]
fn values_that_could_smuggle_a_second_command_are_refused() {
    for &(key, value, field, words) in SMUGGLED {
        let text = if key == "thread" {
            format!("devices:\n  eth0:\n    count: 1\n    {key}: {value}\n")
        } else {
            format!("devices:\n  eth0:\n    thread: 0\n    {key}: {value}\n")
        };
        let d = only(refuse(&text));
        // The value starts after `    key: `; list elements after `[`.
        let mut col = 4 + key.len() + 2 + 1;
        if field.ends_with("[0]") {
            col += 1;
        }
        let path = format!("devices.eth0.{}", field);
        check(&d, "s.yaml", Some((4, col)), &path, words);
    }
    // The same keys with ordinary values load.
    accept("devices:\n  eth0:\n    thread: 0\n    dst: 1.2.3.4\n    dst_mac: \"02:00:00:00:00:01\"\n    xmit_mode: queue_xmit\n    flags: [UDPCSUM]\n    mpls: [\"0001000a\", 10]\n    imix_weights: \"64,7 1500,1\"\n");
}

#[test]
fn top_level_values_of_the_wrong_shape_are_refused() {
    for (text, at, path, words) in [
        (
            "devices: [eth0]\n",
            Some((1, 10)),
            "devices",
            &["must be a mapping"][..],
        ),
        (
            "devices: eth0\n",
            Some((1, 10)),
            "devices",
            &["must be a mapping"],
        ),
        (
            "threads: \"0\\n1\"\ndevices: {}\n",
            Some((1, 10)),
            "threads",
            &["list of thread"],
        ),
        (
            "threads: [-1]\ndevices: {}\n",
            Some((1, 11)),
            "threads[0]",
            &["list of thread"],
        ),
        (
            "devices:\n  eth0: 5\n",
            Some((2, 9)),
            "devices.eth0",
            &["expected a mapping of settings, found 5"],
        ),
        (
            "devices:\n  eth0: {}\n",
            Some((2, 3)),
            "devices.eth0",
            &["missing required key `thread`"],
        ),
        // Too large for any integer type: refused while reading the document.
        (
            "devices:\n  eth0:\n    thread: 0\n    count: 99999999999999999999999\n",
            Some((4, 12)),
            "",
            &["the number 99999999999999999999999 is too large"],
        ),
        (
            "devices:\n  [a, b]: {thread: 0}\n",
            Some((1, 1)),
            "devices.- a\\n- b",
            &["device names must be strings"],
        ),
        (
            "devices:\n  true: {thread: 0}\n",
            Some((2, 3)),
            "devices.true",
            &["device names must be strings"],
        ),
        (
            "devices:\n  eth0: {thread: 0, 7: x}\n",
            Some((2, 21)),
            "devices.eth0[7]",
            &["setting names must be strings"],
        ),
        ("[1, 2]\n", None, "", &["top level must be a mapping"]),
        (
            "devices: {}\n---\ndevices: {}\n",
            None,
            "",
            &["more than one document"],
        ),
    ] {
        let d = only(refuse(text));
        let at = at.or(d.location.as_ref().map(|l| (l.line, l.column)));
        check(&d, "s.yaml", at, path, words);
    }
}

/// Runs every test above on this thread and prints how many bad inputs were refused.
#[test]
fn figure_of_bad_inputs_refused() {
    REFUSED.with(|c| c.set(0));
    a_file_over_the_size_limit_is_refused_without_being_parsed();
    an_endless_special_file_is_read_only_up_to_the_limit();
    too_many_yaml_nodes_are_refused_before_building_values();
    deeply_nested_lists_and_maps_are_refused_without_recursing();
    an_alias_bomb_is_refused_before_it_is_expanded();
    bytes_that_are_not_utf8_are_located();
    a_device_defined_twice_in_one_file_names_both_places();
    a_device_defined_in_two_files_of_a_directory_names_both_files();
    tabs_are_refused_with_a_hint();
    empty_and_comment_only_files_are_refused();
    a_directory_without_state_files_is_refused();
    unknown_keys_flags_and_modes_suggest_the_right_name();
    every_problem_of_every_file_is_reported_at_once();
    every_problem_of_one_entry_is_reported_at_once();
    thousands_of_problems_are_cut_to_a_readable_number();
    device_names_that_could_split_a_command_or_a_path_are_refused();
    values_that_could_smuggle_a_second_command_are_refused();
    top_level_values_of_the_wrong_shape_are_refused();
    let n = REFUSED.with(Cell::get);
    eprintln!("{n} bad inputs refused, each with a located diagnostic and no panic");
    common::assert_readme_figure(n, "bad inputs");
}

/// The limits the README quotes are the ones the loader enforces (and the tests above try).
#[test]
fn the_readme_quotes_the_limits_of_state_files() {
    // "250 000": the README groups thousands with a space.
    let grouped = |n: u64| {
        let digits = n.to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(' ');
            }
            out.push(c);
        }
        out
    };
    let readme = common::readme();
    for quoted in [
        format!("{} MiB", MAX_STATE_FILE_BYTES / (1024 * 1024)),
        format!("{MAX_NESTING_DEPTH} levels of nesting"),
        format!("{} YAML nodes", grouped(MAX_YAML_NODES)),
        format!("{} alias expansions", grouped(MAX_ALIAS_EXPANSION)),
        format!("{MAX_DIAGNOSTICS} diagnostics listed"),
    ] {
        assert!(
            readme.contains(&quoted),
            "the README does not say {quoted:?}"
        );
    }
}
