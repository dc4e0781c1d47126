//! The fuzz targets: what each reader of untrusted input must do with any bytes. Shared by
//! the stable, time-bounded run in `tests/fuzz.rs` and the `cargo fuzz` targets in `fuzz/`
//! (nightly and libFuzzer), so it uses only the library, `tempfile` and std, and reports a
//! broken rule by panicking (libFuzzer's and the test's way to fail alike).
//!
//! Every target: no panic, an answer that is well formed. The loader and the saved-plan
//! reader read real files, so that every error they give is checked to name the file.
//! Memory is the caller's to bound (the test's counting allocator, libFuzzer's
//! `-malloc_limit_mb`/`-rss_limit_mb`).

use std::path::{Path, PathBuf};

use pgstate::procfs::parse::{parse_device, parse_pgctrl, parse_thread, result_text};
use pgstate::receive::frame::{parse_frame, parse_frame_with_offloaded_tag, PKTGEN_MAGIC};
use pgstate::state_file::{load_path, LoadError};
use pgstate::targets::saved_plan::{SavedPlan, SavedPlanError};

/// A second, valid state file loaded beside the input as a directory: errors must still
/// name the file they are in.
const OTHER_STATE: &str = include_str!("../../../states/simple.yaml");

/// A directory for the files the targets write, one per test thread or fuzzer.
pub struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Scratch {
        Scratch {
            dir: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    /// Writes `bytes` to `name` in the scratch directory.
    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.dir.path().join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("a scratch directory");
        }
        std::fs::write(&p, bytes).expect("a scratch file");
        p
    }
}

impl Default for Scratch {
    fn default() -> Self {
        Scratch::new()
    }
}

// ---------------------------------------------------------------------------------------------
// The state-file loader.

/// `bytes` as a state file, alone and in a directory beside a valid one.
pub fn state_file(scratch: &Scratch, bytes: &[u8]) {
    let alone = scratch.file("state.yaml", bytes);
    let texts = [(alone.clone(), bytes)];
    check_loaded(&alone, load_path(&alone), &texts);

    let a = scratch.file("dir/a.yaml", bytes);
    let b = scratch.file("dir/b.yaml", OTHER_STATE.as_bytes());
    let dir = a.parent().expect("a parent").to_owned();
    let texts = [(a, bytes), (b, OTHER_STATE.as_bytes())];
    check_loaded(&dir, load_path(&dir), &texts);
}

/// The loader's answer on `files` (read from `path`): a state, or diagnostics that each
/// name one of the files, are located inside it and print no control character.
fn check_loaded(
    path: &Path,
    result: Result<pgstate::LoadedState, LoadError>,
    files: &[(PathBuf, &[u8])],
) {
    let diags = match result {
        Ok(_) => return,
        Err(LoadError::Invalid(diags)) => diags,
        Err(e @ LoadError::Io { .. }) => panic!("{}: not a diagnostic: {e}", path.display()),
    };
    assert!(!diags.is_empty());
    assert!(
        diags.len() <= pgstate::state_file::MAX_DIAGNOSTICS + 1,
        "{} diagnostics",
        diags.len()
    );
    for d in &diags {
        let text = d.to_string();
        assert!(!d.message.is_empty(), "{text}");
        let Some((file, src)) = files.iter().find(|(f, _)| *f == d.file) else {
            panic!("a diagnostic names no file read: {text}");
        };
        assert!(
            text.contains(&file.display().to_string()),
            "the message does not name {}: {text}",
            file.display()
        );
        for part in [&d.message, &d.path] {
            assert!(!part.chars().any(char::is_control), "{part:?}");
        }
        if let Some(l) = &d.location {
            assert_eq!(&l.file, file);
            assert!(l.line >= 1 && l.column >= 1, "{text}");
            // libyaml (behind serde_yaml) also breaks lines at a lone CR, NEL, U+2028 and
            // U+2029, as YAML 1.1 says, and may point one line past the end.
            let src = String::from_utf8_lossy(src);
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
}

// ---------------------------------------------------------------------------------------------
// The procfs parsers.

/// `bytes` as a pktgen file (read as the real procfs reads it: UTF-8, lossily here), through
/// every parser: the device, thread and `pgctrl` parsers and `result_text`. Errors name the
/// file and a line that exists; the device parser's `Result:` agrees with `result_text`.
pub fn procfs_file(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    procfs_text(&text);
}

/// [`procfs_file`] on text.
pub fn procfs_text(text: &str) {
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
            assert!(e.to_string().starts_with("eth0@0: "), "{e}");
            assert!(!e.message.is_empty(), "{e}");
        }
    }
    match parse_thread("kpktgend_0", text) {
        Ok(t) => {
            for d in t.running.iter().chain(&t.stopped) {
                assert!(text.contains(d.as_str()));
            }
        }
        Err(e) => {
            assert!((1..=lines).contains(&e.line), "{e}");
            assert!(e.to_string().starts_with("kpktgend_0: "), "{e}");
        }
    }
    let version = parse_pgctrl(text);
    assert!(text.lines().next().unwrap_or_default().contains(&version));
    if let Some(r) = result_text(text) {
        assert!(text.len() >= r.len());
    }
}

// ---------------------------------------------------------------------------------------------
// The saved-plan reader.

/// `bytes` as the file given to `apply`: a saved plan whose errors name the file and which
/// reads back as it is rendered, its state files loaded as `apply` loads them; or not a
/// plan, and then a state file for the loader.
pub fn saved_plan(scratch: &Scratch, bytes: &[u8]) {
    let path = scratch.file("plan.json", bytes);
    match SavedPlan::read(&path) {
        Ok(Some(plan)) => {
            let files: Vec<(PathBuf, &[u8])> = plan
                .files
                .iter()
                .map(|(p, t)| (p.clone(), t.as_bytes()))
                .collect();
            check_loaded(
                &path,
                pgstate::state_file::load_texts(&plan.state_files()),
                &files,
            );
            let again = plan.to_json(&path).expect("a plan read renders");
            let back = SavedPlan::parse(&path, &again)
                .expect("a rendered plan reads")
                .expect("a rendered plan is a plan");
            assert_eq!(back.files, plan.files);
            assert_eq!(back.targets, plan.targets);
        }
        Ok(None) => check_loaded(&path, load_path(&path), &[(path.clone(), bytes)]),
        Err(e @ SavedPlanError::Io { .. }) => panic!("reading a file just written: {e}"),
        Err(e) => {
            let text = e.to_string();
            assert!(
                text.starts_with(&path.display().to_string()),
                "the message does not name {}: {text}",
                path.display()
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The receivers' frame decoder.

/// `bytes` as a captured Ethernet frame, as on the wire and with a tag the NIC took out: a
/// packet found is one whose pktgen header is in the frame.
pub fn frame(bytes: &[u8]) {
    for tag in [None, Some(0x0064)] {
        let Ok(p) = parse_frame_with_offloaded_tag(bytes, tag) else {
            continue;
        };
        // On the stack: the decoder allocates nothing, and the test holds it to that.
        let mut header = [0u8; 16];
        for (i, word) in [
            PKTGEN_MAGIC,
            p.header.seq,
            p.header.tv_sec,
            p.header.tv_usec,
        ]
        .into_iter()
        .enumerate()
        {
            header[i * 4..i * 4 + 4].copy_from_slice(&word.to_be_bytes());
        }
        assert!(
            bytes.windows(16).any(|w| w == header),
            "a packet whose header {:?} is not in the frame",
            p.header
        );
    }
    let _ = parse_frame(bytes);
}
