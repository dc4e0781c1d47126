//! Replays the real-kernel transcripts (`../shared/pktgen/transcripts/linux-6.1.txt` and
//! `linux-6.12.txt`) through [`SimProcfs`] and checks that the simulator answers exactly as the
//! kernel did (STYLE §5.4): the status of every write (return code and errno text), the
//! `Result:` lines read after it, the `Flags:` lines, every file dump byte for byte, and the
//! directory listings. Each transcript is replayed with the kernel profile of its
//! `@@ kernel` line, on a simulator with one thread per `kpktgend_N` it mentions.
//!
//! Transcript format (see its header lines): `@@@ case NAME` starts a case; `@@ write FILE
//! <CMD> rc=R err=<E>` is one `echo CMD > FILE` of the shell; `@@ result` lines are the
//! file's `Result:` line and the line after it (`grep -A1`); `@@ flags` is the `Flags:` line;
//! `@@ dump FILE` … `@@ end` is the whole file; `@@ ls NAME` lines are one `ls` of the
//! pktgen directory.
//!
//! Dumps taken after traffic ran cannot match in their counters and timestamps (the simulator
//! runs on a fake clock), so for them the configuration part (everything before `Current:`)
//! must be identical, the `Current:` lines must be identical once every number is masked, and
//! the run `Result:` must be a well-formed `show_results` text with the same packet count
//! (and the same `(Nbyte,Mfrags)` unless imix chose the last size at random).
//!
//! Set `PGSTATE_TRANSCRIPTS` to replay every `*.txt` of another directory, or one transcript
//! file: `tests/kernel/lab.sh test` records a transcript live on each lab kernel
//! (`tests/kernel/transcript.sh`, the same cases and writes) and replays it this way (its
//! `differential` entry). The default directory must hold both reference transcripts.

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use pgstate::kernel::KernelProfile;
use pgstate::model::{DeviceName, MacAddr, ThreadId};
use pgstate::procfs::sim::{SimIfaceKind, SimInterface};
use pgstate::procfs::{PgFile, Procfs, ProcfsError, SimProcfs};

/// CPUs of the reference transcripts' qemu guest ("2 vCPUs"), for a transcript that names no
/// `kpktgend_N` file.
const DEFAULT_CPUS: [u32; 2] = [0, 1];

/// The reference transcripts the default directory must hold, with their kernel series.
const REFERENCE: [(&str, KernelProfile); 2] = [
    ("linux-6.1.txt", KernelProfile::LINUX_6_1),
    ("linux-6.12.txt", KernelProfile::LINUX_6_12),
];

/// One line (or block) of a transcript.
#[derive(Debug, Clone)]
enum Event {
    Kernel(String),
    Case(String),
    Write {
        file: String,
        cmd: String,
        rc: i32,
        err: String,
    },
    Result(String),
    Flags(String),
    Dump {
        file: String,
        content: String,
    },
    Ls(String),
    /// Output that is not inside a `@@` block (stderr of the guest script, and the thread
    /// file printed without markers in the `netns` case).
    Stray(String),
}

#[derive(Debug, Clone)]
struct Line {
    number: usize,
    event: Event,
}

/// The transcripts to replay: `PGSTATE_TRANSCRIPTS` (a file, or every `*.txt` of a directory)
/// or the reference directory, which must hold every file of [`REFERENCE`].
fn transcript_paths() -> Vec<PathBuf> {
    let (path, reference) = match std::env::var_os("PGSTATE_TRANSCRIPTS") {
        Some(path) => (PathBuf::from(path), false),
        None => (
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/pktgen/transcripts"),
            true,
        ),
    };
    if path.is_file() {
        return vec![path];
    }
    let entries = std::fs::read_dir(&path)
        .unwrap_or_else(|e| panic!("cannot read transcript directory {}: {e}", path.display()));
    let mut paths: Vec<PathBuf> = entries
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "txt"))
        .collect();
    paths.sort();
    assert!(
        !paths.is_empty(),
        "no *.txt transcript in {}",
        path.display()
    );
    if reference {
        for (name, _) in REFERENCE {
            assert!(
                paths.iter().any(|p| p.ends_with(name)),
                "reference transcript {name} missing in {}",
                path.display()
            );
        }
    }
    paths
}

fn parse_transcript(text: &str) -> Vec<Line> {
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((index, line)) = lines.next() {
        let number = index + 1;
        let event = if line.starts_with('#') {
            continue;
        } else if let Some(name) = line.strip_prefix("@@@ case ") {
            Event::Case(name.to_owned())
        } else if let Some(release) = line.strip_prefix("@@ kernel ") {
            Event::Kernel(release.to_owned())
        } else if let Some(rest) = line.strip_prefix("@@ write ") {
            let (file, rest) = rest.split_once(" <").expect("write: file");
            let (cmd, status) = rest.rsplit_once("> rc=").expect("write: rc");
            let (rc, err) = status.split_once(" err=<").expect("write: err");
            Event::Write {
                file: file.to_owned(),
                cmd: cmd.to_owned(),
                rc: rc.parse().expect("write: rc number"),
                err: err.strip_suffix('>').expect("write: err end").to_owned(),
            }
        } else if let Some(rest) = line.strip_prefix("@@ result") {
            Event::Result(rest.strip_prefix(' ').unwrap_or(rest).to_owned())
        } else if let Some(rest) = line.strip_prefix("@@ flags ") {
            Event::Flags(rest.to_owned())
        } else if let Some(file) = line.strip_prefix("@@ dump ") {
            let mut content = String::new();
            for (_, body) in lines.by_ref() {
                if body == "@@ end" {
                    break;
                }
                content.push_str(body);
                content.push('\n');
            }
            Event::Dump {
                file: file.to_owned(),
                content,
            }
        } else if let Some(name) = line.strip_prefix("@@ ls ") {
            Event::Ls(name.to_owned())
        } else {
            Event::Stray(line.to_owned())
        };
        out.push(Line { number, event });
    }
    out
}

/// glibc's `strerror` for the errnos pktgen returns.
fn strerror(errno: i32) -> String {
    match errno {
        1 => "Operation not permitted".to_owned(),
        7 => "Argument list too long".to_owned(),
        12 => "Cannot allocate memory".to_owned(),
        14 => "Bad address".to_owned(),
        16 => "Device or resource busy".to_owned(),
        19 => "No such device".to_owned(),
        22 => "Invalid argument".to_owned(),
        95 => "Operation not supported".to_owned(),
        100 => "Network is down".to_owned(),
        other => format!("Unknown error {other}"),
    }
}

fn pg_file(name: &str) -> PgFile {
    if name == "pgctrl" {
        PgFile::Ctrl
    } else if let Some(t) = ThreadId::from_file_name(name) {
        PgFile::Thread(t)
    } else {
        PgFile::Device(DeviceName::new(name).expect("device name in transcript"))
    }
}

/// The `Result:` line of a file and the line after it, as `grep -A1 Result:` prints them.
fn result_lines(content: &str) -> Vec<String> {
    let lines: Vec<&str> = content.lines().collect();
    match lines.iter().position(|l| l.starts_with("Result: ")) {
        Some(at) => lines[at..lines.len().min(at + 2)]
            .iter()
            .map(|&l| l.to_owned())
            .collect(),
        None => Vec::new(),
    }
}

fn running_line(content: &str) -> &str {
    content.lines().next().unwrap_or_default()
}

fn mask_digits(text: &str) -> String {
    let mut out = String::new();
    let mut in_digits = false;
    for c in text.chars() {
        if c.is_ascii_digit() {
            if !in_digits {
                out.push('#');
            }
            in_digits = true;
        } else {
            out.push(c);
            in_digits = false;
        }
    }
    out
}

/// The packet count and the `Nbyte,Mfrags` part of a well-formed `show_results` text.
fn parse_run_result(result: &str) -> Option<(u64, String)> {
    let num = |s: &str| s.parse::<u64>().ok();
    let rest = result.trim_end_matches('\n').strip_prefix("OK: ")?;
    let (elapsed, rest) = rest.split_once("(c")?;
    let (busy, rest) = rest.split_once("+d")?;
    let (idle, rest) = rest.split_once(") usec, ")?;
    let (packets, rest) = rest.split_once(" (")?;
    let (size_frags, rest) = rest.split_once(")\n  ")?;
    let (size, frags) = size_frags.strip_suffix("frags")?.split_once("byte,")?;
    let (pps, rest) = rest.split_once("pps ")?;
    let (mbps, rest) = rest.split_once("Mb/sec (")?;
    let (bps, errors) = rest.split_once("bps) errors: ")?;
    for n in [elapsed, busy, idle, size, pps, mbps, bps, errors] {
        num(n)?;
    }
    frags.parse::<i64>().ok()?;
    Some((num(packets)?, size_frags.to_owned()))
}

fn params_count(config: &str) -> Option<u64> {
    config
        .strip_prefix("Params: count ")?
        .split(' ')
        .next()?
        .parse()
        .ok()
}

/// Compares a device dump taken after traffic ran (see the module documentation).
fn compare_run_dump(expected: &str, actual: &str) -> Result<(), String> {
    let split = |text: &str| -> Option<(String, String, String)> {
        let (config, rest) = text.split_once("Current:\n")?;
        let (current, result) = rest.split_once("Result: ")?;
        Some((config.to_owned(), current.to_owned(), result.to_owned()))
    };
    let (e_config, e_current, e_result) = split(expected).ok_or("expected dump malformed")?;
    let (a_config, a_current, a_result) =
        split(actual).ok_or_else(|| "no Current:/Result: sections".to_owned())?;
    if e_config != a_config {
        return Err("configuration part differs".to_owned());
    }
    if mask_digits(&e_current) != mask_digits(&a_current) {
        return Err("Current: lines differ in shape".to_owned());
    }
    if !e_result.starts_with("OK: ") || !e_result.contains(" usec, ") {
        return if e_result == a_result {
            Ok(())
        } else {
            Err("Result differs".to_owned())
        };
    }
    let (e_packets, e_size) = parse_run_result(&e_result).ok_or("expected run result malformed")?;
    let (a_packets, a_size) = parse_run_result(&a_result)
        .ok_or_else(|| "run result is not a well-formed show_results text".to_owned())?;
    // With count 0 the stream ran until `stop`: the count is whatever was sent.
    let want = match params_count(&e_config) {
        Some(0) | None => a_current
            .lines()
            .find_map(|l| l.trim().strip_prefix("pkts-sofar: "))
            .and_then(|l| l.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(u64::MAX),
        Some(_) => e_packets,
    };
    if a_packets != want {
        return Err(format!(
            "run result reports {a_packets} packets, expected {want}"
        ));
    }
    // imix picks the size of the last packet at random.
    if !e_config.contains("imix_weights:") && e_size != a_size {
        return Err(format!(
            "run result reports ({a_size}), expected ({e_size})"
        ));
    }
    Ok(())
}

/// The guest's interfaces, with the MACs the transcript's own dumps show.
fn interfaces(lines: &[Line]) -> Vec<(String, SimInterface)> {
    let mut macs: BTreeMap<String, MacAddr> = BTreeMap::new();
    for line in lines {
        let Event::Dump { content, .. } = &line.event else {
            continue;
        };
        let field = |label: &str| {
            content.lines().find_map(|l| {
                let at = l.find(label)?;
                l[at + label.len()..].split(' ').next().map(str::to_owned)
            })
        };
        let (Some(ifname), Some(mac)) = (field("ifname: "), field("src_mac: ")) else {
            continue;
        };
        let iface = ifname.split('@').next().unwrap_or_default().to_owned();
        // The first dump of each interface is a fresh device, whose src_mac is the interface's.
        if let (false, Ok(mac)) = (macs.contains_key(&iface), mac.parse()) {
            macs.insert(iface, mac);
        }
    }
    let mut out = Vec::new();
    // Header: "d0-d3 dummy (up), va/vb veth pair (up), dn dummy (down)". dummy has
    // IFF_TX_SKB_SHARING; veth_setup clears it. Interfaces never dumped get made-up MACs.
    let specs = [
        ("d0", true, true),
        ("d1", true, true),
        ("d2", true, true),
        ("d3", true, true),
        ("va", true, false),
        ("vb", true, false),
        ("dn", false, true),
    ];
    for ((name, up, sharing), n) in specs.into_iter().zip(1u8..) {
        let mac = macs
            .get(name)
            .copied()
            .unwrap_or(MacAddr([0x02, 0, 0, 0, 0x5e, n]));
        out.push((
            name.to_owned(),
            SimInterface {
                mac,
                up,
                kind: SimIfaceKind::Ether,
                tx_skb_sharing: sharing,
                tx_queues: 1,
            },
        ));
    }
    // Inferred from case add_errors: `add_device lo` fails with "Network is down", so the
    // guest's lo was down.
    out.push((
        "lo".to_owned(),
        SimInterface {
            mac: MacAddr::ZERO,
            up: false,
            kind: SimIfaceKind::Loopback,
            tx_skb_sharing: false,
            tx_queues: 1,
        },
    ));
    out
}

/// The kernel release of the transcript's `@@ kernel` line.
fn kernel_release(lines: &[Line]) -> Option<&str> {
    lines.iter().find_map(|l| match &l.event {
        Event::Kernel(release) => Some(release.as_str()),
        _ => None,
    })
}

/// The CPUs of the transcript's guest: one per `kpktgend_N` file it writes, dumps or lists.
fn cpus(lines: &[Line]) -> Vec<u32> {
    let mut cpus: Vec<u32> = lines
        .iter()
        .filter_map(|l| match &l.event {
            Event::Write { file, .. } | Event::Dump { file, .. } | Event::Ls(file) => {
                file.strip_prefix("kpktgend_")?.parse().ok()
            }
            _ => None,
        })
        .collect();
    cpus.sort_unstable();
    cpus.dedup();
    if cpus.is_empty() {
        DEFAULT_CPUS.to_vec()
    } else {
        cpus
    }
}

struct Replay {
    source: String,
    profile: KernelProfile,
    cpus: Vec<u32>,
    ifaces: Vec<(String, SimInterface)>,
    sim: SimProcfs,
    case: String,
    writes: usize,
    dumps: usize,
    mismatches: Vec<String>,
}

impl Replay {
    fn fresh_sim(
        profile: KernelProfile,
        cpus: &[u32],
        ifaces: &[(String, SimInterface)],
    ) -> SimProcfs {
        let sim = SimProcfs::new(profile, cpus);
        for (name, iface) in ifaces {
            sim.add_interface_with(name, iface.clone());
        }
        sim
    }

    fn mismatch(&mut self, line: usize, what: &str, expected: &str, actual: &str) {
        self.mismatches.push(format!(
            "{}:{line} (case {}): {what}\n--- expected\n{expected}\n--- actual\n{actual}\n",
            self.source, self.case
        ));
    }

    fn read(&mut self, line: usize, name: &str) -> String {
        match self.sim.read(&pg_file(name)) {
            Ok(text) => text,
            Err(e) => {
                self.mismatch(line, &format!("read {name}"), "(the file)", &e.to_string());
                String::new()
            }
        }
    }

    /// One `echo CMD > FILE`: bash's echo writes again after a short write, so a pre-6.15
    /// `rate 0` (which takes 1 byte) is followed by a write of `ate 0\n`.
    fn shell_write(&mut self, file: &PgFile, cmd: &str) -> (i32, String) {
        let mut pending = format!("{cmd}\n");
        loop {
            let command = pending.strip_suffix('\n').unwrap_or(&pending).to_owned();
            match self.sim.write(file, &command) {
                Ok(()) => return (0, String::new()),
                Err(ProcfsError::ShortWrite { written, .. }) if written > 0 => {
                    pending = pending[written..].to_owned();
                    if pending.is_empty() {
                        return (0, String::new());
                    }
                }
                Err(e) => {
                    return match e.errno() {
                        Some(errno) => (1, strerror(errno)),
                        None => (1, e.to_string()),
                    };
                }
            }
        }
    }

    /// Sends packets until no stream runs: what the blocking `start` of the kernel waits for.
    fn run_until_idle(&mut self, line: usize) {
        for _ in 0..1000 {
            if self.sim.running_devices().is_empty() {
                return;
            }
            self.sim.advance(1_000_000);
        }
        let running = self.sim.running_devices().join(" ");
        self.mismatch(line, "start never finished", "", &running);
    }

    fn replay(&mut self, lines: &[Line]) {
        let mut index = 0;
        while index < lines.len() {
            let Line { number, event } = lines[index].clone();
            index += 1;
            match event {
                Event::Kernel(release) => {
                    let profile = KernelProfile::from_release(&release).expect("kernel release");
                    assert_eq!(profile, self.profile, "{}: profile", self.source);
                }
                Event::Case(name) => {
                    self.case = name;
                    if self.case == "netns" {
                        // Inferred: the netns case looks at a freshly created namespace (its
                        // kpktgend_0 says `Result: NA`, while the initial namespace's says
                        // `OK: add_device=d0`), so it is replayed on a fresh simulator.
                        self.sim = Self::fresh_sim(self.profile, &self.cpus, &self.ifaces);
                    }
                }
                Event::Write { file, cmd, rc, err } => {
                    let mut follow = Vec::new();
                    while let Some(Line {
                        event: e @ (Event::Result(_) | Event::Flags(_)),
                        ..
                    }) = lines.get(index)
                    {
                        follow.push(e.clone());
                        index += 1;
                    }
                    self.write(number, &file, &cmd, (rc, &err), &follow);
                }
                Event::Dump { file, content } => self.dump(number, &file, &content),
                Event::Ls(first) => {
                    let mut names = vec![first];
                    while let Some(Line {
                        event: Event::Ls(name),
                        ..
                    }) = lines.get(index)
                    {
                        names.push(name.clone());
                        index += 1;
                    }
                    self.ls(number, names);
                }
                Event::Stray(text) => {
                    if self.case == "netns" {
                        // The netns case printed a thread file without `@@ dump` markers.
                        let mut expected = text;
                        expected.push('\n');
                        while let Some(Line {
                            event: Event::Stray(more),
                            ..
                        }) = lines.get(index)
                        {
                            expected.push_str(more);
                            expected.push('\n');
                            index += 1;
                        }
                        self.dumps += 1;
                        let actual = self.read(number, "kpktgend_0");
                        if actual != expected {
                            self.mismatch(number, "netns thread file", &expected, &actual);
                        }
                    }
                    // Elsewhere stray lines are the guest script's stderr (e.g. `ip: …`).
                }
                Event::Result(_) | Event::Flags(_) => {
                    self.mismatch(number, "result/flags line without a write", "", "");
                }
            }
        }
    }

    fn write(&mut self, line: usize, file: &str, cmd: &str, want: (i32, &str), follow: &[Event]) {
        self.writes += 1;
        let pf = pg_file(file);
        let removing = matches!(pf, PgFile::Thread(_)) && cmd == "rem_device_all";
        let before = if removing {
            self.read(line, file)
        } else {
            String::new()
        };
        let (rc, err) = self.shell_write(&pf, cmd);
        if (rc, err.as_str()) != want {
            self.mismatch(
                line,
                &format!("write {file} <{cmd}>"),
                &format!("rc={} err=<{}>", want.0, want.1),
                &format!("rc={rc} err=<{err}>"),
            );
        }
        if pf == PgFile::Ctrl && cmd == "start" {
            // The kernel's `start` blocks until every stream is done.
            self.run_until_idle(line);
        }
        if removing && rc == 0 {
            // `rem_device_all` sleeps 125 ms so the worker has removed the devices when it
            // returns; the simulator removes them lazily, so poll the directory like a
            // careful caller (REFERENCE §7).
            let names: Vec<String> = before
                .lines()
                .take(2)
                .flat_map(|l| l.split_once(": ").map_or("", |(_, v)| v).split_whitespace())
                .map(str::to_owned)
                .collect();
            for _ in 0..100 {
                let listed = self.sim.list().unwrap_or_default();
                if !names.iter().any(|n| listed.contains(n)) {
                    break;
                }
            }
        }
        let results: Vec<String> = follow
            .iter()
            .filter_map(|e| {
                if let Event::Result(r) = e {
                    Some(r.clone())
                } else {
                    None
                }
            })
            .collect();
        let flags: Vec<String> = follow
            .iter()
            .filter_map(|e| {
                if let Event::Flags(f) = e {
                    Some(f.clone())
                } else {
                    None
                }
            })
            .collect();
        if results.is_empty() && flags.is_empty() {
            return;
        }
        let content = self.read(line, file);
        if !results.is_empty() {
            let actual = result_lines(&content);
            if actual != results {
                self.mismatch(
                    line,
                    &format!("Result after {file} <{cmd}>"),
                    &results.join("\n"),
                    &actual.join("\n"),
                );
            }
        }
        for expected in flags {
            let actual = content
                .lines()
                .find(|l| l.starts_with("     Flags:"))
                .unwrap_or("");
            if actual != expected {
                self.mismatch(
                    line,
                    &format!("Flags after {file} <{cmd}>"),
                    &expected,
                    actual,
                );
            }
        }
    }

    fn dump(&mut self, line: usize, file: &str, expected: &str) {
        self.dumps += 1;
        let pf = pg_file(file);
        if matches!(pf, PgFile::Thread(_)) {
            let actual = self.read(line, file);
            if running_line(expected) != "Running: " && running_line(&actual) == "Running: " {
                // Inferred (case running): a stream runs although the transcript shows no
                // `start` since the last run ended, so the guest script had started one in
                // the background (`echo start > pgctrl &`, not logged as a write). The other
                // thread's stream (count 20000) is already stopped again in the next dump, so
                // send enough packets for every stream with a finite count to finish, while
                // count-0 streams keep running.
                if let Err(e) = self.sim.write(&PgFile::Ctrl, "start") {
                    self.mismatch(line, "background start", "", &e.to_string());
                }
                self.sim.advance(1_000_000);
            }
        }
        let actual = self.read(line, file);
        let after_run = expected
            .lines()
            .any(|l| l.starts_with("     started: ") && !l.starts_with("     started: 0us"));
        let verdict = if after_run {
            compare_run_dump(expected, &actual)
        } else if actual == expected {
            Ok(())
        } else {
            Err("contents differ".to_owned())
        };
        if let Err(why) = verdict {
            self.mismatch(line, &format!("dump {file}: {why}"), expected, &actual);
        }
    }

    fn ls(&mut self, line: usize, mut expected: Vec<String>) {
        expected.sort();
        let listed = |sim: &SimProcfs| {
            let mut names = sim.list().unwrap_or_default();
            names.sort();
            names
        };
        let actual = listed(&self.sim);
        let gone: Vec<&String> = actual.iter().filter(|n| !expected.contains(n)).collect();
        let new: Vec<&String> = expected.iter().filter(|n| !actual.contains(n)).collect();
        match (self.case.as_str(), gone.as_slice(), new.as_slice()) {
            ("iface_gone", [gone], []) => {
                // Inferred: the stream just added (rc=0) is missing from `ls` and no write
                // removed it, so its interface was deleted (NETDEV_UNREGISTER, §5.5).
                let iface = gone.split('@').next().unwrap_or_default().to_owned();
                assert!(
                    self.sim.remove_interface(&iface),
                    "iface_gone: no interface {iface}"
                );
            }
            ("iface_rename", [old], [new]) => {
                // Inferred: `d2` disappeared and `d2x` appeared while the thread list still
                // says `d2`: the interface was renamed (NETDEV_CHANGENAME, §5.5).
                let iface = old.split('@').next().unwrap_or_default().to_owned();
                assert!(
                    self.sim.rename_interface(&iface, new),
                    "iface_rename: {iface} -> {new}"
                );
            }
            _ => {}
        }
        let actual = listed(&self.sim);
        if actual != expected {
            self.mismatch(line, "ls", &expected.join(" "), &actual.join(" "));
        }
    }
}

/// Replays one transcript: a one-line summary, or the report of every mismatch.
fn replay_transcript(path: &Path) -> Result<String, String> {
    let source = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read transcript {}: {e}", path.display()));
    let lines = parse_transcript(&text);
    let Some(release) = kernel_release(&lines) else {
        return Err(format!("{source}: no '@@ kernel' line\n"));
    };
    let Some(profile) = KernelProfile::from_release(release) else {
        return Err(format!("{source}: unknown kernel release '{release}'\n"));
    };
    if let Some((_, want)) = REFERENCE.iter().find(|(name, _)| *name == source) {
        if profile != *want {
            return Err(format!(
                "{source}: '@@ kernel {release}' does not match the file name\n"
            ));
        }
    }
    let ifaces = interfaces(&lines);
    let cpus = cpus(&lines);
    let mut replay = Replay {
        source: source.clone(),
        profile,
        sim: Replay::fresh_sim(profile, &cpus, &ifaces),
        cpus,
        ifaces,
        case: String::new(),
        writes: 0,
        dumps: 0,
        mismatches: Vec::new(),
    };
    replay.replay(&lines);
    // The README quotes the size of the reference transcripts (not of a lab re-recording).
    if std::env::var_os("PGSTATE_TRANSCRIPTS").is_none() {
        common::assert_readme_figure(replay.writes, "writes, 64 dumps each");
        common::assert_readme_figure(replay.dumps, "dumps each");
    }
    if replay.mismatches.is_empty() {
        return Ok(format!(
            "{source}: kernel {release}: replayed {} writes, {} dumps: all identical",
            replay.writes, replay.dumps
        ));
    }
    let mut report = format!(
        "{source}: kernel {release}: replayed {} writes, {} dumps: {} mismatches\n",
        replay.writes,
        replay.dumps,
        replay.mismatches.len()
    );
    for m in &replay.mismatches {
        let _ = writeln!(report, "{m}");
    }
    Err(report)
}

#[test]
fn simulator_replays_the_transcripts() {
    let mut failures = String::new();
    for path in transcript_paths() {
        match replay_transcript(&path) {
            Ok(summary) => println!("{summary}"),
            Err(report) => {
                println!("{}", report.lines().next().unwrap_or_default());
                failures.push_str(&report);
            }
        }
    }
    assert!(failures.is_empty(), "{failures}");
}

#[test]
fn run_results_are_recognised() {
    let ok = "OK: 47344(c47344+d0) usec, 20000 (58byte,0frags)\n  422433pps 196Mb/sec (196008912bps) errors: 0\n";
    assert_eq!(
        parse_run_result(ok),
        Some((20000, "58byte,0frags".to_owned()))
    );
    assert_eq!(parse_run_result("Starting"), None);
    assert_eq!(
        mask_digits("     started: 9544305us  stopped: 10us"),
        "     started: #us  stopped: #us"
    );
}
