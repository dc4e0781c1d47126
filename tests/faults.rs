//! Faults during apply, on the simulator: writes the kernel acknowledges without doing them
//! (caught by verification), an interface that disappears or goes down half-way, a device
//! removed by someone else between plan and apply, and the pktgen module going away. Each
//! must end in a clear error (or, where the fault is harmless, a converged box), never a
//! panic, and the rollback report must say what it could not restore.
//!
//! Every fault position is counted; `figure_of_fault_positions_injected` runs them all and
//! prints the total. (Failures of single writes at every position are in `reconcile.rs`.)

mod common;

use std::cell::Cell;
use std::path::PathBuf;

use pgstate::apply::{apply, apply_plan, plan_against, ApplyError, MismatchKind, WriteFailure};
use pgstate::procfs::{PgFile, Procfs, ProcfsError, SimProcfs};
use pgstate::{KernelProfile, ThreadId};

use common::lab::{lab, live_configs, load, Configs, AFTER, BEFORE, PROFILES};

thread_local! {
    /// Fault positions injected by the tests run on this thread.
    static INJECTED: Cell<usize> = const { Cell::new(0) };
}

fn count_injected() {
    INJECTED.with(|c| c.set(c.get() + 1));
}

/// A box with BEFORE applied; returns it, its configuration, and its write count.
fn before(profile: KernelProfile) -> (SimProcfs, Configs, usize) {
    let sim = lab(profile);
    apply(&sim, &load(BEFORE)).unwrap();
    let snapshot = live_configs(&sim);
    let base = sim.write_count();
    (sim, snapshot, base)
}

/// The writes of the BEFORE → AFTER plan.
fn plan_writes(profile: KernelProfile) -> Vec<pgstate::Write> {
    let (sim, _, _) = before(profile);
    let (_, _, p) = plan_against(&sim, &load(AFTER)).unwrap();
    assert!(p.writes.len() > 8, "plan too small to be interesting");
    p.writes
}

fn rollback_of(e: &ApplyError) -> Option<&pgstate::apply::RollbackReport> {
    match e {
        ApplyError::Write(f) => Some(&f.rollback),
        ApplyError::Verify { rollback, .. } | ApplyError::Interrupted { rollback, .. } => {
            Some(rollback)
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// A procfs wrapper that injects a fault once a number of writes have been made.

#[derive(Clone, Copy, Debug)]
enum Fault {
    /// `ip link del`: the interface and every pktgen device on it disappear.
    RemoveInterface(&'static str),
    /// `ip link set down`.
    InterfaceDown(&'static str),
    /// `rmmod pktgen`: every file is gone.
    Unload,
}

struct Faulty<'a> {
    sim: &'a SimProcfs,
    /// The fault strikes once the simulator has seen this many writes.
    at: usize,
    fault: Fault,
    fired: Cell<bool>,
}

impl<'a> Faulty<'a> {
    fn new(sim: &'a SimProcfs, at: usize, fault: Fault) -> Faulty<'a> {
        let f = Faulty {
            sim,
            at,
            fault,
            fired: Cell::new(false),
        };
        f.strike();
        f
    }

    /// Fires the fault when its time has come; true once the module is unloaded.
    fn strike(&self) -> bool {
        if !self.fired.get() && self.sim.write_count() >= self.at {
            self.fired.set(true);
            match self.fault {
                Fault::RemoveInterface(n) => assert!(self.sim.remove_interface(n)),
                Fault::InterfaceDown(n) => assert!(self.sim.set_interface_up(n, false)),
                Fault::Unload => {}
            }
        }
        self.fired.get() && matches!(self.fault, Fault::Unload)
    }

    fn unloaded(&self) -> ProcfsError {
        ProcfsError::NotLoaded {
            root: PathBuf::from("/proc/net/pktgen"),
        }
    }
}

impl Procfs for Faulty<'_> {
    fn list(&self) -> Result<Vec<String>, ProcfsError> {
        if self.strike() {
            return Err(self.unloaded());
        }
        self.sim.list()
    }
    fn read(&self, file: &PgFile) -> Result<String, ProcfsError> {
        if self.strike() {
            return Err(self.unloaded());
        }
        self.sim.read(file)
    }
    fn write(&self, file: &PgFile, command: &str) -> Result<(), ProcfsError> {
        if self.strike() {
            return Err(self.unloaded());
        }
        let r = self.sim.write(file, command);
        self.strike();
        r
    }
    fn interfaces(
        &self,
        names: &std::collections::BTreeSet<String>,
    ) -> Result<pgstate::procfs::Interfaces, pgstate::ProcfsError> {
        self.sim.interfaces(names)
    }
    fn kernel_release(&self) -> Option<String> {
        self.sim.kernel_release()
    }
}

// ---------------------------------------------------------------------------------------------
// (a) Verification failures.

#[test]
fn a_write_acknowledged_but_not_done_is_caught_and_rolled_back_at_every_position() {
    for profile in PROFILES {
        let writes = plan_writes(profile);
        let mut verified = 0;
        for (pos, w) in writes.iter().enumerate() {
            let (sim, snapshot, base) = before(profile);
            // The kernel answers OK (errno 0 and `Result: OK: …`) but changes nothing.
            sim.fail_result_at(base + pos, "OK: fake");
            count_injected();
            let desired = load(AFTER);
            match apply(&sim, &desired) {
                Err(e @ ApplyError::Verify { .. }) => {
                    let ApplyError::Verify {
                        mismatches,
                        rollback,
                    } = &e
                    else {
                        unreachable!()
                    };
                    verified += 1;
                    // The field the lost write was for is named.
                    let dev = w.device.as_ref().expect("device write");
                    assert!(
                        mismatches.iter().any(|m| &m.device == dev
                            && w.field.as_deref().is_none_or(
                                |f| matches!(&m.what, MismatchKind::Field(c) if c.field == f)
                            )),
                        "position {pos} ({}): {e}",
                        w.render()
                    );
                    let text = e.to_string();
                    assert!(text.starts_with("verification failed: "), "{text}");
                    assert!(text.contains(dev.as_str()), "{text}");
                    assert!(rollback.restored, "position {pos}: {e}");
                    assert_eq!(live_configs(&sim), snapshot, "position {pos}");
                }
                // Thread commands check their exact Result, so a fake one fails at once.
                Err(ApplyError::Write(f)) => {
                    assert_eq!(f.index, pos + 1);
                    assert!(matches!(&f.cause, WriteFailure::Result(r) if r == "OK: fake"));
                    assert!(f.rollback.restored, "position {pos}: {f}");
                    assert_eq!(live_configs(&sim), snapshot, "position {pos}");
                }
                // Only a write whose effect is also made by a later write may be lost
                // without consequence; the box must then be exactly as desired.
                Ok(_) => {
                    let (_, _, again) = plan_against(&sim, &desired).unwrap();
                    assert!(
                        again.is_empty(),
                        "position {pos} ({}) lost without an error: {:#?}",
                        w.render(),
                        again.writes
                    );
                }
                Err(other) => panic!("position {pos} ({}): unexpected {other}", w.render()),
            }
        }
        assert!(
            verified >= writes.len() / 2,
            "{verified} of {}",
            writes.len()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// (b), (c) The interface changes half-way.

/// An error that names the device that cannot be put back, never a panic; the rollback
/// still restores the others.
#[test]
fn an_interface_that_disappears_mid_apply_still_rolls_back_the_other_devices() {
    for profile in PROFILES {
        let n = plan_writes(profile).len();
        for at in 0..=n {
            let (sim, snapshot, base) = before(profile);
            let desired = load(AFTER);
            let (live, env, p) = plan_against(&sim, &desired).unwrap();
            let procfs = Faulty::new(&sim, base + at, Fault::RemoveInterface("eth1"));
            count_injected();
            let e = apply_plan(&procfs, &desired, &live, &env, p)
                .expect_err("eth1@1 cannot exist without eth1");
            let text = e.to_string();
            if at == 0 {
                // Gone before the first write: the plan no longer fits the box, and nothing
                // is written.
                assert!(matches!(e, ApplyError::Stale(_)), "{text}");
                assert_eq!(sim.write_count(), base, "{text}");
                continue;
            }
            let rollback = rollback_of(&e).unwrap_or_else(|| panic!("after {at}: {text}"));
            // eth1@0 cannot be put back without eth1, and the report says so.
            assert!(!rollback.restored, "after {at}: {text}");
            assert!(
                rollback.problems.iter().any(|p| p.contains("eth1")),
                "after {at}: {text}"
            );
            assert!(text.contains("rollback incomplete"), "{text}");
            // Everything else is back as it was.
            let mut expected = snapshot.clone();
            expected.remove("eth1@0");
            assert_eq!(live_configs(&sim), expected, "after {at} writes: {text}");
        }
    }
}

/// An error in the kernel's words, never a panic; when one device cannot be re-added, the
/// rollback still restores the others.
#[test]
fn an_interface_that_goes_down_mid_apply_still_rolls_back_the_other_devices() {
    for profile in PROFILES {
        let n = plan_writes(profile).len();
        let (mut failed, mut converged) = (0, 0);
        for at in 0..=n {
            let (sim, snapshot, base) = before(profile);
            let desired = load(AFTER);
            let (live, env, p) = plan_against(&sim, &desired).unwrap();
            let procfs = Faulty::new(&sim, base + at, Fault::InterfaceDown("eth1"));
            count_injected();
            match apply_plan(&procfs, &desired, &live, &env, p) {
                // Down before the first write: nothing changed in pktgen's own files, so the
                // plan still fits, and add_device eth1@1 fails below. (A down interface does
                // not remove pktgen devices, REFERENCE §4.)
                // Once eth1@1 is added, a down interface does not stop its configuration.
                Ok(_) => {
                    converged += 1;
                    let (_, _, again) = plan_against(&sim, &desired).unwrap();
                    assert!(again.is_empty(), "after {at}: {:#?}", again.writes);
                }
                Err(e) => {
                    failed += 1;
                    let text = e.to_string();
                    let ApplyError::Write(f) = &e else {
                        panic!("after {at}: {text}")
                    };
                    // `add_device eth1@1` on a down interface: ENETDOWN, in the kernel's words.
                    assert_eq!(f.write.command, "add_device eth1@1", "{text}");
                    assert!(f.cause.to_string().contains("down"), "{text}");
                    // eth1@0 cannot be re-added while eth1 is down either.
                    if f.rollback.restored {
                        assert_eq!(live_configs(&sim), snapshot, "after {at}: {text}");
                    } else {
                        assert!(
                            f.rollback.problems.iter().any(|p| p.contains("eth1@0")),
                            "after {at}: {text}"
                        );
                        let mut expected = snapshot.clone();
                        expected.remove("eth1@0");
                        let mut now = live_configs(&sim);
                        now.remove("eth1@0");
                        assert_eq!(now, expected, "after {at}: {text}");
                    }
                }
            }
        }
        assert!(
            failed > 0 && converged > 0,
            "{failed} failed, {converged} converged"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// (d) Someone else changes the box between plan and apply.

#[test]
fn a_box_changed_between_plan_and_apply_is_refused_without_a_write() {
    for profile in PROFILES {
        let changes: Vec<(PgFile, &str)> = vec![
            // Another tool flushes a thread (and waits for it, as pktgen scripts do).
            (PgFile::Thread(ThreadId(0)), "rem_device_all"),
            (PgFile::Thread(ThreadId(1)), "rem_device_all"),
            // ... adds a device, or changes a value.
            (PgFile::Thread(ThreadId(1)), "add_device eth0@9"),
            (PgFile::Device("eth2".parse().unwrap()), "count 12345"),
            (PgFile::Device("eth0@0".parse().unwrap()), "flag UDPCSUM"),
        ];
        for (file, cmd) in changes {
            let (sim, _, _) = before(profile);
            let desired = load(AFTER);
            let (live, env, p) = plan_against(&sim, &desired).unwrap();
            sim.write(&file, cmd).unwrap();
            for _ in 0..10 {
                let _ = sim.list();
            }
            let changed = live_configs(&sim);
            let writes = sim.write_count();
            count_injected();
            // Writing the old plan, or rolling back to the old snapshot, would undo the other
            // tool's change: refused before the first write.
            let e = apply_plan(&sim, &desired, &live, &env, p).expect_err(cmd);
            assert!(matches!(e, ApplyError::Stale(_)), "{cmd}: {e}");
            assert!(e.to_string().contains("nothing was written"), "{e}");
            assert_eq!(sim.write_count(), writes, "{cmd}");
            assert_eq!(live_configs(&sim), changed, "{cmd}");
            // Planning again from what is there now converges.
            apply(&sim, &desired).unwrap();
            let (_, _, again) = plan_against(&sim, &desired).unwrap();
            assert!(again.is_empty(), "{cmd}: {:#?}", again.writes);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// (e) The module goes away.

#[test]
fn the_module_unloaded_mid_apply_is_a_clear_error() {
    for profile in PROFILES {
        let n = plan_writes(profile).len();
        for at in 0..=n {
            let (sim, _, base) = before(profile);
            let desired = load(AFTER);
            let (live, env, p) = plan_against(&sim, &desired).unwrap();
            let procfs = Faulty::new(&sim, base + at, Fault::Unload);
            count_injected();
            let e = apply_plan(&procfs, &desired, &live, &env, p)
                .expect_err("nothing can be done without the module");
            let text = e.to_string();
            assert!(
                text.contains("pktgen module is not loaded"),
                "after {at}: {text}"
            );
            match &e {
                // Unloaded before the first write: the check that the box is as planned
                // cannot read it, and nothing is written.
                ApplyError::Observe(_) => {
                    assert_eq!(at, 0, "{text}");
                    assert_eq!(sim.write_count(), base, "{text}");
                }
                // Unloaded after some writes (or after all, found by the readback): said so,
                // with what was done, and nothing left to roll back.
                ApplyError::Unloaded { done, total, .. } => {
                    assert_eq!(*total, n, "{text}");
                    assert!(
                        (at.saturating_sub(1)..=at).contains(done),
                        "after {at}: {text}"
                    );
                    assert!(
                        text.contains("pktgen was unloaded during apply")
                            && text.contains("nothing of this apply"),
                        "{text}"
                    );
                }
                other => panic!("after {at}: {other}"),
            }
        }
    }
}

/// Runs every test above on this thread and prints how many fault positions were injected.
#[test]
fn figure_of_fault_positions_injected() {
    INJECTED.with(|c| c.set(0));
    a_write_acknowledged_but_not_done_is_caught_and_rolled_back_at_every_position();
    an_interface_that_disappears_mid_apply_still_rolls_back_the_other_devices();
    an_interface_that_goes_down_mid_apply_still_rolls_back_the_other_devices();
    a_box_changed_between_plan_and_apply_is_refused_without_a_write();
    the_module_unloaded_mid_apply_is_a_clear_error();
    let n = INJECTED.with(Cell::get);
    eprintln!("{n} fault positions injected, each ending in a clear error or a converged box");
    common::assert_readme_figure(n, "fault positions");
}
