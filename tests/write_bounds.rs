//! pgstate writes exactly the fewest writes the kernel needs (tests/common/bound.rs) for
//! every transition of the benchmark corpus (tests/bench/corpus.txt and every states/
//! example from empty and to every other), on the simulator of each kernel generation.
//!
//! The lab benchmark (`tests/kernel/lab.sh bench`) counts the same transitions' writes with
//! strace on real kernels; for that it asks this test for the bounds of its kernel:
//! `PGSTATE_BOUNDS_RELEASE=<uname -r> PGSTATE_BOUNDS_OUT=<file>` writes `NAME BOUND` lines.

mod common;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use pgstate::apply::{apply, plan_against};
use pgstate::state_file::load_path;
use pgstate::{DesiredState, KernelProfile};

use common::bound::min_writes;
use common::lab::{lab_with, GUEST_INTERFACES};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `(name, from, to)`; `None` is the empty box.
type Transition = (String, Option<PathBuf>, PathBuf);

fn corpus() -> Vec<Transition> {
    let text = std::fs::read_to_string(repo().join("tests/bench/corpus.txt")).unwrap();
    let mut out: Vec<Transition> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(f.len(), 3, "corpus line: {l}");
            let from = (f[1] != "-").then(|| repo().join(f[1]));
            (f[0].to_owned(), from, repo().join(f[2]))
        })
        .collect();
    let mut examples: Vec<PathBuf> = std::fs::read_dir(repo().join("states"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        // netns-lab.yaml describes other network namespaces, not this box: the lab's
        // 96-netns-state applies it in its namespaces.
        .filter(|p| !common::namespaced_example(p))
        .collect();
    examples.sort();
    let stem = |p: &Path| p.file_stem().unwrap().to_string_lossy().into_owned();
    for to in &examples {
        out.push((format!("examples/-/{}", stem(to)), None, to.clone()));
        for from in examples.iter().filter(|f| *f != to) {
            out.push((
                format!("examples/{}/{}", stem(from), stem(to)),
                Some(from.clone()),
                to.clone(),
            ));
        }
    }
    out
}

fn load(path: &Path) -> DesiredState {
    load_path(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .desired
}

fn supports(profile: &KernelProfile, state: &DesiredState) -> bool {
    profile.has_imix()
        || state
            .devices
            .values()
            .all(|d| d.config.imix_weights.is_empty())
}

#[test]
fn every_transition_of_the_corpus_is_at_the_lower_bound() {
    let corpus = corpus();
    // The README quotes this figure: the 9 lines of corpus.txt, the 11 examples from empty
    // and the 110 transitions between them.
    assert_eq!(
        corpus.len(),
        130,
        "update the README's figure of transitions"
    );
    for profile in KernelProfile::SUPPORTED {
        let mut total = (0, 0);
        for (name, from, to) in &corpus {
            let empty = DesiredState::default();
            let a = from.as_deref().map_or(empty, load);
            let b = load(to);
            // imix_weights needs 5.15: refused on 5.10 before any write (tests/kernels.rs).
            if !supports(&profile, &a) || !supports(&profile, &b) {
                continue;
            }
            let sim = lab_with(profile, &GUEST_INTERFACES);
            apply(&sim, &a).unwrap_or_else(|e| panic!("{name}: applying the start: {e}"));
            let report = apply(&sim, &b).unwrap_or_else(|e| panic!("{name}: {e}"));
            let (_, _, again) = plan_against(&sim, &b).unwrap();
            assert!(
                again.is_empty(),
                "{name}: not converged: {:#?}",
                again.writes
            );
            let bound = min_writes(&a, &b, &profile);
            assert_eq!(
                report.writes,
                bound,
                "{name} on {profile:?}: {} writes, bound {bound}:\n{}",
                report.writes,
                report
                    .plan
                    .writes
                    .iter()
                    .map(|w| w.render())
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            total.0 += report.writes;
            total.1 += bound;
        }
        println!(
            "{profile:?}: {} transitions, {} writes, lower bound {}",
            corpus.len(),
            total.0,
            total.1
        );
    }
}

/// Writes the bounds for the kernel release the lab booted (see the module documentation).
#[test]
fn bounds_for_the_lab() {
    let (Ok(release), Ok(out)) = (
        std::env::var("PGSTATE_BOUNDS_RELEASE"),
        std::env::var("PGSTATE_BOUNDS_OUT"),
    ) else {
        return;
    };
    let profile = KernelProfile::from_release(&release).expect("a kernel release");
    let mut text = String::new();
    for (name, from, to) in corpus() {
        let a = from.as_deref().map_or_else(DesiredState::default, load);
        let b = load(&to);
        if supports(&profile, &a) && supports(&profile, &b) {
            writeln!(text, "{name} {}", min_writes(&a, &b, &profile)).unwrap();
        }
    }
    std::fs::write(&out, text).unwrap();
}
