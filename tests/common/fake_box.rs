//! The one fake box of the tests that run the real binary: a static pktgen directory in the
//! 6.12 transcript's file formats (`--proc-root`) and a fake `/sys/class/net`
//! (`--sys-class-net`), in a temporary directory that also holds the lock file and whatever
//! state files a test writes.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `pgctrl` as the kernel prints it.
pub const PGCTRL: &str = "Packet Generator for packet performance testing. Version: 2.75\n";

/// An idle thread.
pub const IDLE_THREAD: &str = "Running: \nStopped: \nResult: NA\n";

/// The kernel release the binary is told it runs on, unless a test says otherwise.
pub const RELEASE: &str = "6.12.0";

pub struct FakeBox {
    dir: tempfile::TempDir,
}

impl FakeBox {
    /// `pgctrl`, two idle threads and no devices; interfaces eth0 and eth1 (up) and eth9
    /// (down).
    pub fn new() -> FakeBox {
        let dir = tempfile::tempdir().unwrap();
        let pg = dir.path().join("pktgen");
        fs::create_dir(&pg).unwrap();
        fs::write(pg.join("pgctrl"), PGCTRL).unwrap();
        for t in 0..2 {
            fs::write(pg.join(format!("kpktgend_{t}")), IDLE_THREAD).unwrap();
        }
        for (name, mac, flags) in [
            ("eth0", "02:00:00:00:00:10", "0x1003"),
            ("eth1", "02:00:00:00:00:11", "0x1003"),
            ("eth9", "02:00:00:00:00:19", "0x1002"),
        ] {
            let d = dir.path().join("net").join(name);
            fs::create_dir_all(&d).unwrap();
            fs::write(d.join("address"), format!("{mac}\n")).unwrap();
            fs::write(d.join("flags"), format!("{flags}\n")).unwrap();
        }
        FakeBox { dir }
    }

    /// The temporary directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `name` in the temporary directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The pktgen directory.
    pub fn pg(&self) -> PathBuf {
        self.path("pktgen")
    }

    /// Writes `text` to `name` in the temporary directory.
    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        fs::write(&p, text).unwrap();
        p
    }

    /// Puts a device with the kernel's fresh-device text on thread `t`.
    pub fn add_device(&self, t: u32, name: &str, mac: &str) {
        self.add_device_with_counters(t, name, mac, 0, 0);
    }

    /// [`add_device`](Self::add_device) with `sent` packets and `errors` so far.
    pub fn add_device_with_counters(&self, t: u32, name: &str, mac: &str, sent: u64, errors: u64) {
        fs::write(
            self.pg().join(format!("kpktgend_{t}")),
            format!("Running: \nStopped: {name} \nResult: OK: add_device={name}\n"),
        )
        .unwrap();
        let text = format!("Params: count 1000  min_pkt_size: 0  max_pkt_size: 0\n     frags: 0  delay: 0  clone_skb: 0  ifname: {name}\n     flows: 0 flowlen: 0\n     queue_map_min: 0  queue_map_max: 0\n     dst_min:   dst_max: \n     src_min:   src_max: \n     src_mac: {mac} dst_mac: 00:00:00:00:00:00\n     udp_src_min: 9  udp_src_max: 9  udp_dst_min: 9  udp_dst_max: 9\n     src_mac_count: 0  dst_mac_count: 0\n     Flags: SHARED  \nCurrent:\n     pkts-sofar: {sent}  errors: {errors}\n     started: 0us  stopped: 0us idle: 0us\n     seq_num: {sent}  cur_dst_mac_offset: 0  cur_src_mac_offset: 0\n     cur_saddr: 0.0.0.0  cur_daddr: 0.0.0.0\n     cur_udp_dst: 0  cur_udp_src: 0\n     cur_queue_map: 0\n     flows: 0\nResult: Idle\n");
        fs::write(self.pg().join(name), text).unwrap();
    }

    /// The binary with `args`, pointed at this box as if the kernel were [`RELEASE`].
    pub fn command(&self, args: &[&str]) -> Command {
        self.command_on(RELEASE, args)
    }

    /// [`command`](Self::command) as if the kernel were `release`. The lock file is the
    /// box's own unless `args` name one; the environment of a service manager or a logger
    /// is left out.
    pub fn command_on(&self, release: &str, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_pgstate"));
        c.args(args)
            .arg("--proc-root")
            .arg(self.pg())
            .arg("--sys-class-net")
            .arg(self.path("net"))
            .args(["--kernel-release", release])
            .env_remove("RUST_LOG")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .env_remove("WATCHDOG_PID");
        if !args.contains(&"--lock-file") {
            c.arg("--lock-file").arg(self.path("lock"));
        }
        c
    }

    /// Runs [`command`](Self::command) to its end.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// Runs [`command_on`](Self::command_on) to its end.
    pub fn run_on(&self, release: &str, args: &[&str]) -> Output {
        self.command_on(release, args).output().unwrap()
    }
}
