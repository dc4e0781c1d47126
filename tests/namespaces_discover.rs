//! Discovery on the real kernel (`--all-namespaces`): namespaces made for the test, one that
//! only a process holds (`unshare -n`, as a Mininet host or a container is) and one that
//! `ip netns add` named and a process inside it holds too. Needs root, as CI runs it.
//!
//! pktgen's devices in those namespaces are simulated (the module may not be there, and
//! the test must not change the box's pktgen); the namespaces, their files and entering
//! them are real.

mod common;

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{atomic::AtomicBool, Arc};
use std::time::{Duration, Instant};

use pgstate::model::NamespaceName;
use pgstate::procfs::netns::{NetnsPath, NetnsProcfs};
use pgstate::state_file::{load_texts, render_namespaces_state_file};
use pgstate::targets::{self, OpenTarget, Place, Target};
use pgstate::KernelProfile;

/// Skips the test, saying why, unless it runs as root.
macro_rules! require_root {
    () => {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: needs root (unshare -n, ip netns); CI runs the tests as root");
            return;
        }
    };
}

/// Which namespace `file` is: its nsfs inode.
fn namespace_id(file: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(file).ok().map(|m| (m.dev(), m.ino()))
}

/// A process in a namespace of its own or of an `ip netns` name, killed when dropped (and
/// the name deleted).
struct Holder {
    child: Child,
    name: Option<String>,
}

impl Holder {
    /// `sleep` in a new network namespace that nothing else holds.
    fn unshared() -> Holder {
        let child = Command::new("unshare")
            .args(["-n", "sleep", "60"])
            .stdin(Stdio::null())
            .spawn()
            .expect("unshare (util-linux)");
        let holder = Holder { child, name: None };
        let ours = namespace_id(Path::new("/proc/self/ns/net"));
        holder.wait_until(|id| id != ours);
        holder
    }

    /// `sleep` inside a namespace made with `ip netns add`.
    fn named() -> Holder {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "pgdisc-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let added = Command::new("ip").args(["netns", "add", &name]).status();
        assert!(added.is_ok_and(|s| s.success()), "ip netns add {name}");
        let child = Command::new("ip")
            .args(["netns", "exec", &name, "sleep", "60"])
            .stdin(Stdio::null())
            .spawn();
        let child = child.unwrap_or_else(|e| {
            let _ = Command::new("ip").args(["netns", "del", &name]).status();
            panic!("ip netns exec: {e}")
        });
        // Made before the wait, so that a failure below still deletes the name.
        let holder = Holder {
            child,
            name: Some(name),
        };
        let theirs = namespace_id(&holder.run_netns());
        assert!(theirs.is_some());
        holder.wait_until(|id| id == theirs);
        holder
    }

    /// Waits until the process's namespace is what `done` wants (it enters it after the
    /// spawn returns).
    fn wait_until(&self, done: impl Fn(Option<(u64, u64)>) -> bool) {
        let start = Instant::now();
        while !done(namespace_id(&self.netns())) {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "process {} never entered its namespace",
                self.pid()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn netns(&self) -> PathBuf {
        PathBuf::from(format!("/proc/{}/ns/net", self.pid()))
    }

    fn run_netns(&self) -> PathBuf {
        Path::new(targets::RUN_NETNS).join(self.name.as_deref().unwrap_or_default())
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(name) = &self.name {
            let _ = Command::new("ip").args(["netns", "del", name]).status();
        }
    }
}

/// The discovered places whose file is the namespace of `file`.
fn places_of(places: &[Place], file: &Path) -> Vec<Place> {
    let id = namespace_id(file);
    assert!(id.is_some(), "{}", file.display());
    places
        .iter()
        .filter(|p| p.netns().is_some_and(|n| namespace_id(n.path()) == id))
        .cloned()
        .collect()
}

#[test]
fn a_namespace_only_a_process_holds_is_found_once_as_pid_n() {
    require_root!();
    let held = Holder::unshared();
    let places = targets::discover().unwrap();
    let pid = held.pid();
    assert_eq!(
        places_of(&places, &held.netns()),
        [Place::Namespace {
            name: NamespaceName::new(&format!("pid-{pid}")).unwrap(),
            netns: NetnsPath::file(held.netns()),
        }],
        "{places:?}"
    );
    // The namespace pgstate runs in is Here, never one of them.
    assert!(places_of(&places, Path::new("/proc/self/ns/net")).is_empty());
    // What discovery gives can be entered.
    let found = NetnsProcfs::enter(&NetnsPath::file(held.netns())).unwrap();
    assert_eq!(found.netns().path(), held.netns());
}

#[test]
fn a_named_namespace_a_process_holds_too_is_found_once_under_its_name() {
    require_root!();
    let mut held = Holder::named();
    let places = targets::discover().unwrap();
    let name = held.name.clone().unwrap();
    assert_eq!(
        places_of(&places, &held.run_netns()),
        [Place::named(NamespaceName::new(&name).unwrap())],
        "{places:?}"
    );
    let by_pid = format!("pid-{}", held.pid());
    assert!(places
        .iter()
        .all(|p| p.name().map(NamespaceName::as_str) != Some(&by_pid)));
    // Its name deleted, the namespace lives on in its process, and is found through it.
    let deleted = Command::new("ip").args(["netns", "del", &name]).status();
    assert!(deleted.is_ok_and(|s| s.success()), "ip netns del {name}");
    held.name = None;
    let places = targets::discover().unwrap();
    assert_eq!(
        places_of(&places, &held.netns()),
        [Place::Namespace {
            name: NamespaceName::new(&by_pid).unwrap(),
            netns: NetnsPath::file(held.netns()),
        }],
        "{places:?}"
    );
}

#[test]
fn show_exports_a_pid_namespace_with_its_file_and_a_note_and_it_plans_as_a_no_op() {
    require_root!();
    let held = Holder::unshared();
    let place = targets::discover()
        .unwrap()
        .into_iter()
        .find(|p| p.netns().is_some_and(|n| n.path() == held.netns()))
        .expect("the namespace is found");
    // Its pktgen as a simulator with a device, applied as a state would.
    let sim = Arc::new(common::lab::lab(KernelProfile::LINUX_6_12));
    let state = format!(
        "namespaces:\n  {}:\n    netns: {}\n    devices:\n      eth0: {{thread: 0, count: 10, dst: 198.18.0.2}}\n",
        place.name().unwrap(),
        held.netns().display()
    );
    let open = |text: &str| -> Vec<OpenTarget> {
        let loaded = load_texts(&[(Path::new("lab.yaml"), text)]).unwrap();
        targets::from_state(loaded)
            .into_iter()
            .map(|t| OpenTarget::new(t, Arc::clone(&sim) as _))
            .collect()
    };
    let t = open(&state);
    assert_eq!(t[0].place(), &place);
    let planned = targets::plan(&t).unwrap();
    targets::apply(&t, planned, &AtomicBool::new(false)).unwrap();
    assert_eq!(common::lab::live_configs(&*sim).len(), 1);

    let shown = targets::show(&[OpenTarget::new(
        Target::bare(place.clone()),
        Arc::clone(&sim) as _,
    )])
    .unwrap();
    let text = render_namespaces_state_file(&shown.file, shown.here, &shown.notes).unwrap();
    let pid = held.pid();
    assert!(
        text.contains(&format!(
            "  # held only by process {pid} (no /run/netns name)"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "  pid-{pid}:\n    netns: \"/proc/{pid}/ns/net\"\n    devices:\n"
        )),
        "{text}"
    );
    assert!(!text.contains("\ndevices:"), "{text}");
    // Read back, it is the same place, and planned against the same pktgen it is nothing.
    let again = open(&text);
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].place(), &place);
    assert!(targets::plan(&again).unwrap()[0].plan.is_empty(), "{text}");
}

/// The binary, pktgen not loaded (`--proc-root` of a missing `pktgen` directory): every
/// namespace is read as `modprobe pktgen` would leave it, whether or not the box has the
/// module.
fn pgstate(args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_pgstate"))
        .args(args)
        .arg("--proc-root")
        .arg(dir.path().join("pktgen"))
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

#[test]
fn status_all_namespaces_lists_both_kinds_and_a_pid_state_plans_as_a_no_op() {
    require_root!();
    let unshared = Holder::unshared();
    let named = Holder::named();
    let out = pgstate(&["status", "--all-namespaces", "--json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let listed: Vec<(String, String)> = doc["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| {
            Some((
                n["namespace"].as_str()?.to_owned(),
                n["netns"].as_str()?.to_owned(),
            ))
        })
        .collect();
    let pid = unshared.pid();
    let name = named.name.clone().unwrap();
    let with_name = |wanted: &str| -> Vec<&(String, String)> {
        listed.iter().filter(|(n, _)| n == wanted).collect()
    };
    assert_eq!(
        with_name(&format!("pid-{pid}")),
        [&(format!("pid-{pid}"), format!("/proc/{pid}/ns/net"))],
        "{listed:?}"
    );
    assert_eq!(
        with_name(&name),
        [&(name.clone(), format!("/run/netns/{name}"))],
        "{listed:?}"
    );
    assert!(with_name(&format!("pid-{}", named.pid())).is_empty());
    // The first entry is this namespace.
    assert!(doc["namespaces"][0]["namespace"].is_null(), "{doc}");

    // Nothing anywhere: the export is an empty state, and a no-op.
    let out = pgstate(&["show", "--all-namespaces"]);
    assert_eq!(out.status.code(), Some(0));
    let dir = tempfile::tempdir().unwrap();
    let shown = dir.path().join("shown.yaml");
    std::fs::write(&shown, &out.stdout).unwrap();
    let out = pgstate(&["plan", "--detailed-exitcode", shown.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A state of the pid namespace, as show writes one, enters it and plans nothing.
    let state = dir.path().join("pid.yaml");
    std::fs::write(
        &state,
        format!(
            "namespaces:\n  pid-{pid}:\n    netns: \"/proc/{pid}/ns/net\"\n    devices: {{}}\n"
        ),
    )
    .unwrap();
    let out = pgstate(&["plan", "--detailed-exitcode", state.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
