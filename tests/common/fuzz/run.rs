//! The stable, time-bounded fuzz run of one target: every input of its corpus
//! (`tests/fuzz/corpus/<target>/`) as it is, then mutations of them, arbitrary bytes and
//! soups of the format's words for `PGSTATE_FUZZ_SECS` seconds ([`DEFAULT_SECS`] unless
//! set), each under a memory bound. A failure is shrunk by proptest, written under the
//! cargo target directory to be copied into the corpus, and fails the test.

use std::fmt::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{TestError, TestRunner};

use super::alloc::peak_during;
use super::mutate::{mutate, mutation};

/// Seconds each target runs without `PGSTATE_FUZZ_SECS`; the README quotes it.
pub const DEFAULT_SECS: u64 = 2;

/// Mutated cases run at least, however slow the build: a debug build on a loaded machine
/// still tries this many.
pub const MIN_CASES: u32 = 64;

/// Cases per proptest run; the runs repeat until the time is up.
const BATCH: u32 = 32;

/// How long each target runs.
pub fn budget() -> Duration {
    std::env::var("PGSTATE_FUZZ_SECS")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map_or(Duration::from_secs(DEFAULT_SECS), Duration::from_secs_f64)
}

/// The most a call may allocate at once: `per_byte` × the input's length + `base`.
#[derive(Debug, Clone, Copy)]
pub struct MemoryBound {
    pub per_byte: usize,
    pub base: usize,
}

impl MemoryBound {
    fn of(self, input: &[u8]) -> usize {
        self.per_byte
            .saturating_mul(input.len())
            .saturating_add(self.base)
    }
}

/// One target's corpus, `(file name, bytes)`, sorted.
pub fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz/corpus")
        .join(target);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a corpus entry").path())
        .filter(|p| p.is_file())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p.file_name().unwrap().to_string_lossy().into_owned(), bytes)
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "{}: an empty corpus", dir.display());
    out
}

/// Runs `check` on `target`'s corpus and its mutations (with `words` spliced in) for the
/// time [`budget`] gives, each call held to `memory` when given.
pub fn fuzz<W>(
    target: &str,
    words: &'static [W],
    memory: Option<MemoryBound>,
    check: impl Fn(&[u8]),
) where
    W: AsRef<[u8]> + Clone + Sync + std::fmt::Debug + 'static,
{
    let corpus = corpus(target);
    // The largest peak seen and the largest share of its bound, for the summary line.
    let most = std::cell::Cell::new((0usize, 0f64));
    let measured = |input: &[u8]| -> Result<(), String> {
        let ((), peak) = peak_during(|| check(input));
        let (p, share) = most.get();
        let of_bound = memory.map_or(0.0, |m| peak as f64 / m.of(input).max(1) as f64);
        most.set((p.max(peak), share.max(of_bound)));
        match memory {
            Some(m) if peak > m.of(input) => Err(format!(
                "{peak} bytes allocated at once for an input of {} bytes; the bound is {}",
                input.len(),
                m.of(input)
            )),
            _ => Ok(()),
        }
    };

    // The corpus as it is: the seeds, and the regressions a fuzz run found.
    for (name, bytes) in &corpus {
        match catch_unwind(AssertUnwindSafe(|| measured(bytes))) {
            Ok(Ok(())) => {}
            Ok(Err(why)) => panic!("tests/fuzz/corpus/{target}/{name}: {why}"),
            Err(panic) => panic!(
                "tests/fuzz/corpus/{target}/{name}: panicked: {}",
                panic_message(&*panic)
            ),
        }
    }

    let seeds: Arc<Vec<Vec<u8>>> = Arc::new(corpus.into_iter().map(|(_, b)| b).collect());
    let from_corpus = {
        let seeds = Arc::clone(&seeds);
        (any::<Index>(), prop::collection::vec(mutation(), 1..8)).prop_map(move |(pick, muts)| {
            mutate(&seeds[pick.index(seeds.len())], &muts, words, &seeds)
        })
    };
    let soup = prop::collection::vec(prop::sample::select(words), 0..64).prop_map(|ws| {
        ws.iter()
            .flat_map(|w| w.as_ref().iter().copied())
            .collect::<Vec<u8>>()
    });
    let strategy = prop_oneof![
        6 => from_corpus,
        1 => prop::collection::vec(any::<u8>(), 0..512),
        1 => soup,
    ];

    let config = ProptestConfig {
        cases: BATCH,
        // Failures are kept in the corpus, not in proptest's regression files.
        failure_persistence: None,
        // Shrinking a mutated input takes long and says little more than the first failure.
        max_shrink_iters: 2000,
        ..ProptestConfig::default()
    };
    // A runner counts its successes for good: each batch gets a new one, its RNG drawn from
    // the first's (so `PROPTEST_RNG_SEED` still makes a run repeatable).
    let mut seeds_of_batches = TestRunner::new(config.clone());
    let deadline = Instant::now() + budget();
    let mut cases = 0u32;
    while cases < MIN_CASES || Instant::now() < deadline {
        let mut runner = TestRunner::new_with_rng(config.clone(), seeds_of_batches.new_rng());
        let result = runner.run(&strategy, |input: Vec<u8>| {
            measured(&input).map_err(TestCaseError::fail)
        });
        match result {
            Ok(()) => cases += BATCH,
            Err(TestError::Fail(why, input)) => {
                let saved = save_failure(target, &input);
                panic!(
                    "fuzz target {target}: {why}\ninput ({} bytes), saved as {}: copy it into \
                     tests/fuzz/corpus/{target}/ once fixed:\n{}",
                    input.len(),
                    saved.display(),
                    escaped(&input)
                );
            }
            Err(e) => panic!("fuzz target {target}: {e}"),
        }
    }
    let (peak, share) = most.get();
    eprintln!(
        "fuzz target {target}: {} corpus inputs, {cases} mutated cases; at most {peak} bytes \
         allocated at once, {:.0}% of the bound at most",
        seeds.len(),
        share * 100.0
    );
}

/// Writes a failing input under the cargo target directory, named by its hash.
fn save_failure(target: &str, input: &[u8]) -> PathBuf {
    // FNV-1a: a stable name for the same input, no dependency.
    let hash = input.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("fuzz-failures")
        .join(target);
    let path = dir.join(format!("crash-{hash:016x}"));
    if let Err(e) = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, input)) {
        eprintln!("could not save the input to {}: {e}", path.display());
    }
    path
}

/// The input as a Rust byte string, cut at 4000 characters.
fn escaped(input: &[u8]) -> String {
    let mut out = String::from("b\"");
    for &b in input {
        if out.len() > 4000 {
            out.push_str("...");
            break;
        }
        let _ = write!(out, "{}", std::ascii::escape_default(b));
    }
    out.push('"');
    out
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "(no message)".to_owned())
}
