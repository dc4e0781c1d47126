//! The real binary and the files it is told to write: `--lock-file` and `plan --out` never
//! cost a byte of a file that is not pgstate's own, whatever path they are given (a typo, a
//! symlink planted in a shared directory), and the lock still serialises and names its
//! holder.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use pgstate::lock::LOCK_HEADER;

mod common;

use common::fake_box::{FakeBox, PGCTRL};

/// The fake box with a state that owns nothing: `apply` takes the lock, reads the box and
/// writes nothing to it.
struct EmptyStateBox {
    fake: FakeBox,
}

impl EmptyStateBox {
    fn new() -> EmptyStateBox {
        let fake = FakeBox::new();
        fake.file("s.yaml", "devices: {}\n");
        EmptyStateBox { fake }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.fake.path(name)
    }

    fn state(&self) -> String {
        self.path("s.yaml").display().to_string()
    }

    fn command(&self, args: &[&str]) -> Command {
        self.fake.command(args)
    }

    fn run(&self, args: &[&str]) -> Output {
        self.fake.run(args)
    }

    /// `apply` of the empty state with `lock` as the lock file.
    fn apply(&self, lock: &Path) -> Output {
        self.run(&[
            "apply",
            "--lock-file",
            lock.to_str().unwrap(),
            &self.state(),
        ])
    }

    /// Makes `pgctrl` a FIFO: an apply that takes the lock then blocks reading it, holding
    /// the lock until [`EmptyStateBox::unblock`].
    fn block_on_pgctrl(&self) {
        let pgctrl = self.path("pktgen/pgctrl");
        fs::remove_file(&pgctrl).unwrap();
        nix::unistd::mkfifo(&pgctrl, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    }

    /// Lets a process blocked on the FIFO go on, and puts the regular `pgctrl` back for
    /// every later reader.
    fn unblock(&self) {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let pgctrl = self.path("pktgen/pgctrl");
        // Opening the FIFO for writing completes the reader's open; O_NONBLOCK fails (ENXIO)
        // instead of hanging while no reader is there yet.
        let deadline = Instant::now() + Duration::from_secs(20);
        let writer = loop {
            match fs::OpenOptions::new()
                .write(true)
                .custom_flags(nix::libc::O_NONBLOCK)
                .open(&pgctrl)
            {
                Ok(w) => break w,
                Err(e) => assert!(Instant::now() < deadline, "no reader on pgctrl: {e}"),
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let regular = self.path("pktgen/pgctrl.new");
        fs::write(&regular, PGCTRL).unwrap();
        fs::rename(&regular, &pgctrl).unwrap();
        (&writer).write_all(PGCTRL.as_bytes()).unwrap();
    }
}

/// A child process that is killed if the test fails before it ends.
struct Guard(Option<Child>);

impl Guard {
    fn spawn(command: &mut Command) -> Guard {
        Guard(Some(command.spawn().unwrap()))
    }

    fn child(&mut self) -> &mut Child {
        self.0.as_mut().expect("the child is still owned")
    }

    fn running(&mut self) -> bool {
        self.child().try_wait().unwrap().is_none()
    }

    fn finish(mut self) -> Output {
        let child = self.0.take().expect("the child is still owned");
        child.wait_with_output().unwrap()
    }

    /// SIGKILL: no destructor runs in the child.
    fn kill9(mut self) {
        let mut child = self.0.take().expect("the child is still owned");
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Waits until the lock file names `pid` as its holder.
fn wait_for_holder(lock: &Path, pid: u32) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let content = fs::read_to_string(lock).unwrap_or_default();
        if content.contains(&format!("pid {pid}: ")) {
            return content;
        }
        assert!(
            Instant::now() < deadline,
            "pid {pid} never took the lock: {content:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn assert_refused(out: &Output, path: &Path, why: &str) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(err.contains(why), "{err}");
}

#[test]
fn an_existing_file_with_content_is_refused_and_keeps_its_bytes() {
    let b = EmptyStateBox::new();
    let imp = b.path("imp.txt");
    fs::write(&imp, "important data\n").unwrap();
    let out = b.apply(&imp);
    assert_refused(&out, &imp, "is not a pgstate lock");
    assert_eq!(fs::read(&imp).unwrap(), b"important data\n");

    // The typo of the issue: the state file given as the lock, here before the subcommand.
    let state = b.state();
    let out = b.run(&["--lock-file", &state, "apply", &state]);
    assert_refused(&out, Path::new(&state), "is not a pgstate lock");
    assert_eq!(fs::read_to_string(&state).unwrap(), "devices: {}\n");

    // A file that merely starts like a lock but is longer than any lock pgstate writes.
    let big = b.path("big");
    let content = format!("{LOCK_HEADER}{}", "data\n".repeat(2000));
    fs::write(&big, &content).unwrap();
    assert_refused(&b.apply(&big), &big, "is not a pgstate lock");
    assert_eq!(fs::read_to_string(&big).unwrap(), content);
}

#[test]
fn a_symlink_is_refused_and_its_target_keeps_its_bytes() {
    let b = EmptyStateBox::new();
    let target = b.path("target.txt");
    fs::write(&target, "secret\n").unwrap();
    let link = b.path("link.lock");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    assert_refused(&b.apply(&link), &link, "is a symbolic link");
    assert_eq!(fs::read(&target).unwrap(), b"secret\n");

    // A dangling link is not followed to create its target either.
    let missing = b.path("missing");
    let dangling = b.path("dangling.lock");
    std::os::unix::fs::symlink(&missing, &dangling).unwrap();
    assert_refused(&b.apply(&dangling), &dangling, "is a symbolic link");
    assert!(!missing.exists());

    // The attack: another user's symlink in a sticky world-writable directory, where only
    // fs.protected_symlinks=1 would stop the kernel from following it. O_NOFOLLOW refuses it
    // whatever that setting is (this machine runs with 0, and the test does not change it).
    let shared = b.path("shared");
    fs::create_dir(&shared).unwrap();
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o1777)).unwrap();
    let planted = shared.join("pgstate.lock");
    std::os::unix::fs::symlink(&target, &planted).unwrap();
    std::os::unix::fs::lchown(&planted, Some(65534), Some(65534)).unwrap();
    assert_refused(&b.apply(&planted), &planted, "is a symbolic link");
    assert_eq!(fs::read(&target).unwrap(), b"secret\n");
}

#[test]
fn a_lock_file_others_may_write_or_own_is_refused() {
    let b = EmptyStateBox::new();
    let lock = b.path("lock");
    assert_eq!(b.apply(&lock).status.code(), Some(0));
    for mode in [0o664, 0o646, 0o666] {
        fs::set_permissions(&lock, fs::Permissions::from_mode(mode)).unwrap();
        assert_refused(&b.apply(&lock), &lock, "writable by group or others");
        assert_eq!(fs::read_to_string(&lock).unwrap(), LOCK_HEADER);
    }
    fs::set_permissions(&lock, fs::Permissions::from_mode(0o644)).unwrap();
    std::os::unix::fs::chown(&lock, Some(65534), None).unwrap();
    assert_refused(&b.apply(&lock), &lock, "belongs to uid 65534");
    std::os::unix::fs::chown(&lock, Some(0), None).unwrap();

    // Nor is a directory, a FIFO or a device opened as a lock.
    assert_refused(&b.apply(b.fake.dir()), b.fake.dir(), "is a directory");
    let fifo = b.path("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    assert_refused(&b.apply(&fifo), &fifo, "is a FIFO");
    assert_refused(
        &b.apply(Path::new("/dev/null")),
        Path::new("/dev/null"),
        "is a character device",
    );
}

#[test]
fn a_new_lock_is_created_0644_and_reused_by_later_applies() {
    let b = EmptyStateBox::new();
    let lock = b.path("lock");
    let out = b.apply(&lock);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let first = fs::metadata(&lock).unwrap();
    assert_eq!(first.mode() & 0o7777, 0o644);
    assert_eq!(fs::read_to_string(&lock).unwrap(), LOCK_HEADER);
    // Also with --lock-file as a global option before the subcommand.
    let out = b.run(&["--lock-file", lock.to_str().unwrap(), "apply", &b.state()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let again = fs::metadata(&lock).unwrap();
    assert_eq!((again.dev(), again.ino()), (first.dev(), first.ino()));
    assert_eq!(fs::read_to_string(&lock).unwrap(), LOCK_HEADER);

    // An empty file (as `flock FILE cmd` leaves) is adopted: there is nothing to lose.
    let empty = b.path("empty");
    fs::write(&empty, "").unwrap();
    assert_eq!(b.apply(&empty).status.code(), Some(0));
    assert_eq!(fs::read_to_string(&empty).unwrap(), LOCK_HEADER);
}

#[test]
fn concurrent_applies_serialise_and_the_waiting_one_names_the_holder() {
    let b = EmptyStateBox::new();
    let lock = b.path("lock");
    let lock_arg = lock.to_str().unwrap();
    b.block_on_pgctrl();
    let state = b.state();
    let mut holder = Guard::spawn(
        b.command(&["apply", "--lock-file", lock_arg, &state])
            .stdout(Stdio::null())
            .stderr(Stdio::piped()),
    );
    let pid = holder.child().id();
    wait_for_holder(&lock, pid);

    let out = b.run(&[
        "apply",
        "--lock-file",
        lock_arg,
        "--lock-timeout",
        "0.3",
        &state,
    ]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "another pgstate holds the lock {lock_arg} (pid {pid}: {} apply --lock-file {lock_arg} {state}",
            env!("CARGO_BIN_EXE_pgstate")
        )),
        "{err}"
    );

    let mut waiter = Guard::spawn(
        b.command(&[
            "apply",
            "--lock-file",
            lock_arg,
            "--lock-timeout",
            "60",
            &state,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped()),
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(waiter.running(), "the waiter did not wait");
    assert!(holder.running(), "the holder ended");
    // Had the waiter taken the lock, it would have written its own pid there.
    assert!(fs::read_to_string(&lock)
        .unwrap()
        .contains(&format!("pid {pid}: ")));

    b.unblock();
    let out = holder.finish();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = waiter.finish();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(fs::read_to_string(&lock).unwrap(), LOCK_HEADER);
}

#[test]
fn a_lock_left_by_a_killed_holder_does_not_block_the_next_apply() {
    let b = EmptyStateBox::new();
    let lock = b.path("lock");
    b.block_on_pgctrl();
    let mut holder = Guard::spawn(
        b.command(&["apply", "--lock-file", lock.to_str().unwrap(), &b.state()])
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let pid = holder.child().id();
    wait_for_holder(&lock, pid);
    holder.kill9();
    // The holder line is still there: only the kernel released the flock.
    assert!(fs::read_to_string(&lock)
        .unwrap()
        .contains(&format!("pid {pid}: ")));

    // Put a readable pgctrl back (nobody is blocked on the FIFO any more).
    fs::remove_file(b.path("pktgen/pgctrl")).unwrap();
    fs::write(b.path("pktgen/pgctrl"), PGCTRL).unwrap();
    let out = b.run(&[
        "apply",
        "--lock-file",
        lock.to_str().unwrap(),
        "--lock-timeout",
        "0",
        &b.state(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(fs::read_to_string(&lock).unwrap(), LOCK_HEADER);
}

#[test]
fn plan_out_never_writes_through_a_symlink_or_over_another_file() {
    let b = EmptyStateBox::new();
    let state = b.state();
    let target = b.path("target.txt");
    fs::write(&target, "secret\n").unwrap();
    let link = b.path("plan.json");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let out = b.run(&["plan", "--out", link.to_str().unwrap(), &state]);
    assert_refused(&out, &link, "is a symbolic link");
    assert_eq!(fs::read(&target).unwrap(), b"secret\n");
    assert!(fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());

    // A typo naming the state file itself.
    let out = b.run(&["plan", "--out", &state, &state]);
    assert_refused(&out, Path::new(&state), "is not a saved pgstate plan");
    assert_eq!(fs::read_to_string(&state).unwrap(), "devices: {}\n");

    // A new path, then the same path again: a saved plan is pgstate's own and is replaced.
    let saved = b.path("saved.json");
    for _ in 0..2 {
        let out = b.run(&["plan", "-out", saved.to_str().unwrap(), &state]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let doc: serde_json::Value = serde_json::from_slice(&fs::read(&saved).unwrap()).unwrap();
        assert_eq!(doc["kind"], "pgstate-plan");
    }
    // And it is still a plan `apply` performs.
    let lock = b.path("lock").display().to_string();
    let out = b.run(&["apply", "--lock-file", &lock, saved.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

/// `--proc-root` pointing at an ordinary directory: a command is never written into a
/// regular file there, so no byte of it is lost.
#[test]
fn a_proc_root_of_ordinary_files_is_never_written_into() {
    let dir = tempfile::tempdir().unwrap();
    let pg = dir.path().join("pktgen");
    fs::create_dir(&pg).unwrap();
    let ctrl = "Packet Generator for packet performance testing. Version: 2.75\n";
    let thread = "Running: \nStopped: \nResult: NA\n";
    fs::write(pg.join("pgctrl"), ctrl).unwrap();
    fs::write(pg.join("kpktgend_0"), thread).unwrap();
    let state = dir.path().join("s.yaml");
    fs::write(&state, "devices:\n  lo: {thread: 0, count: 5}\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_pgstate"))
        .args(["--lock-file"])
        .arg(dir.path().join("lock"))
        .args(["--proc-root"])
        .arg(&pg)
        .arg("apply")
        .arg(&state)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("is not a file of procfs"), "{err}");
    assert_eq!(fs::read_to_string(pg.join("kpktgend_0")).unwrap(), thread);
    assert_eq!(fs::read_to_string(pg.join("pgctrl")).unwrap(), ctrl);
}
