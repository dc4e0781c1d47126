//! `watch` over a list of targets: one watch session per target, each in a thread of its
//! own with its target's procfs, taking turns for the box lock; SIGHUP fanned out to all.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::watch::{Observer, WatchConfig, WatchError, WatchPart, WatchSummary, SIGNAL_CHECK_MS};

use super::{OpenTarget, Place, PlaceError};

/// Keeps every target converged to its part of the state at `state_path` until `terminate`
/// is set (or, with `config.once`, converges once). Each session re-reads the state files and
/// keeps its own part of them: the whole state when `whole` (a state without `namespaces:`,
/// or one that does not load yet: it is watched as one box until it is fixed), else its
/// namespace's. Setting `hangup` re-reads the files in every session. `observers` go with the
/// targets in order (systemd is told by the first).
///
/// # Errors
///
/// The first session that failed, with its place.
pub fn watch(
    targets: Vec<OpenTarget>,
    whole: bool,
    state_path: &Path,
    config: WatchConfig,
    terminate: &AtomicBool,
    hangup: &AtomicBool,
    observers: Vec<Box<dyn Observer + Send>>,
) -> Result<Vec<WatchSummary>, Box<PlaceError<WatchError>>> {
    let several = targets.len() > 1;
    let turn = several.then(|| Arc::new(Mutex::new(())));
    if several {
        tracing::info!(
            namespaces = targets.len(),
            "watching every namespace of the state, one session each"
        );
    }
    let flags: Vec<AtomicBool> = targets.iter().map(|_| AtomicBool::new(false)).collect();
    let done = AtomicBool::new(false);
    let results = std::thread::scope(|scope| {
        // SIGHUP sets one flag; every session needs to see it.
        scope.spawn(|| {
            while !done.load(Ordering::SeqCst) {
                if hangup.swap(false, Ordering::SeqCst) {
                    for f in &flags {
                        f.store(true, Ordering::SeqCst);
                    }
                }
                std::thread::sleep(Duration::from_millis(SIGNAL_CHECK_MS));
            }
        });
        let handles: Vec<_> = targets
            .into_iter()
            .zip(observers)
            .zip(&flags)
            .map(|((t, mut observer), flag)| {
                let place = t.place().clone();
                let config = WatchConfig {
                    part: part_of(&place, whole),
                    turn: turn.clone(),
                    ..config.clone()
                };
                scope.spawn(move || {
                    let span = several.then(|| tracing::info_span!("ns", namespace = %place));
                    let _entered = span.as_ref().map(tracing::Span::enter);
                    crate::watch::watch(
                        t.procfs,
                        state_path,
                        config,
                        terminate,
                        flag,
                        &mut *observer,
                    )
                    .map_err(|error| Box::new(PlaceError { place, error }))
                })
            })
            .collect();
        let results: Vec<_> = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect();
        done.store(true, Ordering::SeqCst);
        results
    });
    results.into_iter().collect()
}

/// The part of the state the session of `place` keeps.
fn part_of(place: &Place, whole: bool) -> WatchPart {
    match place {
        _ if whole => WatchPart::Whole,
        Place::Here => WatchPart::Current,
        Place::Namespace { name, .. } => WatchPart::Named(name.clone()),
    }
}
