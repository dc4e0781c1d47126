//! The simulator's own checks, one kernel rule each; `tests/sim_transcripts.rs` replays the
//! real transcripts.

use std::net::Ipv6Addr;
use std::str::FromStr;

use super::parse::{in_aton, mac_pton};
use super::show::{fmt_in4, fmt_in6};
use super::state::{E2BIG, EBUSY, EINVAL, ENETDOWN, ENODEV};
use super::*;
use crate::model::{DeviceName, ThreadId};

const MAC: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x10]);

fn new_sim(profile: KernelProfile) -> SimProcfs {
    let sim = SimProcfs::new(profile, &[0, 1]);
    sim.add_interface("eth0", MAC, true);
    sim.add_interface("eth1", MAC, true);
    sim.add_interface("eth10", MAC, true);
    sim
}

fn dev(name: &str) -> PgFile {
    PgFile::Device(DeviceName::new(name).unwrap())
}

fn t(n: u32) -> PgFile {
    PgFile::Thread(ThreadId(n))
}

fn result(sim: &SimProcfs, file: &PgFile) -> String {
    let text = sim.read(file).unwrap();
    let at = text.find("Result: ").unwrap();
    text[at + 8..].trim_end_matches('\n').to_owned()
}

fn errno(res: Result<(), ProcfsError>) -> Option<i32> {
    res.err().and_then(|e| e.errno())
}

#[test]
fn rem_device_all_removes_devices_only_after_the_lag() {
    let sim = new_sim(KernelProfile::LINUX_6_12);
    sim.write(&t(0), "add_device eth0").unwrap();
    sim.write(&t(0), "rem_device_all").unwrap();
    assert_eq!(result(&sim, &t(0)), "OK: rem_device_all");
    // Still there: readable, and blocking a re-add on any thread.
    assert!(sim.read(&dev("eth0")).is_ok());
    assert_eq!(errno(sim.write(&t(1), "add_device eth0")), Some(EBUSY));
    assert!(sim.list().unwrap().contains(&"eth0".to_owned()));
    assert!(!sim.list().unwrap().contains(&"eth0".to_owned()));
    assert!(matches!(
        sim.read(&dev("eth0")),
        Err(ProcfsError::Missing { .. })
    ));
    sim.write(&t(1), "add_device eth0").unwrap();

    sim.set_removal_lag(0);
    sim.write(&t(1), "rem_device_all").unwrap();
    assert!(sim.device_names().is_empty());
}

#[test]
fn injected_faults_hit_the_nth_write_only() {
    let sim = new_sim(KernelProfile::LINUX_6_12);
    sim.write(&t(0), "add_device eth0").unwrap();
    sim.fail_write(1, 5);
    sim.fail_result_at(2, "ERROR: injected");
    assert_eq!(errno(sim.write(&dev("eth0"), "count 7")), Some(5));
    assert!(sim
        .read(&dev("eth0"))
        .unwrap()
        .starts_with("Params: count 1000 "));
    sim.write(&dev("eth0"), "count 8").unwrap();
    assert_eq!(result(&sim, &dev("eth0")), "ERROR: injected");
    assert!(sim
        .read(&dev("eth0"))
        .unwrap()
        .starts_with("Params: count 1000 "));
    sim.write(&dev("eth0"), "count 9").unwrap();
    assert!(sim
        .read(&dev("eth0"))
        .unwrap()
        .starts_with("Params: count 9 "));
    assert_eq!(sim.write_count(), 4);
    let log = sim.write_log();
    assert_eq!(log[1], ("eth0".to_owned(), "count 7".to_owned()));
    assert_eq!(log.len(), 4);
}

#[test]
fn renaming_moves_the_first_proc_file_and_keeps_the_thread_list() {
    let sim = new_sim(KernelProfile::LINUX_6_12);
    sim.set_removal_lag(0);
    sim.write(&t(0), "add_device eth0@1").unwrap();
    sim.write(&t(0), "add_device eth0@2").unwrap();
    assert!(sim.rename_interface("eth0", "wan0"));
    let list = sim.list().unwrap();
    // eth0@2 is the head of the list, so its file moves; eth0@1 keeps its own.
    assert!(list.contains(&"wan0".to_owned()) && list.contains(&"eth0@1".to_owned()));
    assert!(!list.contains(&"eth0@2".to_owned()));
    assert!(sim.read(&dev("wan0")).unwrap().contains("ifname: eth0@2\n"));
    assert_eq!(
        sim.read(&t(0)).unwrap(),
        "Running: \nStopped: eth0@2 eth0@1 \nResult: OK: add_device=eth0@2\n"
    );
    assert!(sim.interface("wan0").is_some());
    assert!(sim.interface("eth0").is_none());
    // A new proc file cannot take the moved name.
    sim.add_interface("wan0x", MAC, true);
    assert!(!sim.rename_interface("wan0x", "wan0"));
}

#[test]
fn removing_an_interface_removes_all_its_streams_only() {
    let sim = new_sim(KernelProfile::LINUX_6_1);
    sim.write(&t(0), "add_device eth1").unwrap();
    sim.write(&t(0), "add_device eth1@3").unwrap();
    sim.write(&t(1), "add_device eth10").unwrap();
    assert!(sim.remove_interface("eth1"));
    assert_eq!(sim.device_names(), vec!["eth10".to_owned()]);
    assert_eq!(errno(sim.write(&t(0), "add_device eth1")), Some(ENODEV));
    assert!(!sim.remove_interface("eth1"));
}

#[test]
fn add_device_errors_follow_the_kernel_checks() {
    let sim = new_sim(KernelProfile::LINUX_6_12);
    sim.add_interface("down0", MAC, false);
    sim.add_interface_with(
        "lo",
        SimInterface {
            mac: MacAddr::ZERO,
            up: true,
            kind: SimIfaceKind::Loopback,
            tx_skb_sharing: false,
            tx_queues: 1,
        },
    );
    sim.add_interface_with(
        "tun0",
        SimInterface {
            mac: MacAddr::ZERO,
            up: true,
            kind: SimIfaceKind::Other,
            tx_skb_sharing: false,
            tx_queues: 1,
        },
    );
    sim.add_interface("pgctrl", MAC, true);
    assert_eq!(errno(sim.write(&t(0), "add_device nosuch")), Some(ENODEV));
    assert_eq!(errno(sim.write(&t(0), "add_device down0")), Some(ENETDOWN));
    assert_eq!(errno(sim.write(&t(0), "add_device tun0")), Some(EINVAL));
    assert_eq!(errno(sim.write(&t(0), "add_device pgctrl")), Some(EINVAL));
    assert_eq!(result(&sim, &t(0)), "ERROR: can not add device pgctrl");
    assert_eq!(errno(sim.write(&t(0), "frobnicate")), Some(EINVAL));
    assert_eq!(result(&sim, &t(0)), "ERROR: can not add device pgctrl");
    sim.write(&t(0), "add_device lo@0").unwrap();
    // No IFF_TX_SKB_SHARING on lo: ENOTSUPP (524) before 6.15.
    assert_eq!(errno(sim.write(&dev("lo@0"), "clone_skb 1")), Some(524));
    assert_eq!(errno(sim.write(&dev("lo@0"), "burst 2")), Some(524));
}

#[test]
fn shared_flag_rules_on_6_7_and_later() {
    let sim = new_sim(KernelProfile::LINUX_6_12);
    sim.write(&t(0), "add_device eth0").unwrap();
    let d = dev("eth0");
    sim.write(&d, "clone_skb 5").unwrap();
    assert_eq!(errno(sim.write(&d, "flag !SHARED")), Some(EINVAL));
    sim.write(&d, "clone_skb 0").unwrap();
    sim.write(&d, "flag !SHARED").unwrap();
    assert_eq!(result(&sim, &d), "OK: flags=0x0");
    assert_eq!(errno(sim.write(&d, "clone_skb 1")), Some(EINVAL));
    assert_eq!(errno(sim.write(&d, "burst 2")), Some(EINVAL));
    sim.write(&d, "flag SHARED").unwrap();
    sim.write(&d, "burst 4").unwrap();
    assert_eq!(result(&sim, &d), "OK: burst=4");
    sim.write(&d, "xmit_mode queue_xmit").unwrap();
    assert_eq!(errno(sim.write(&d, "burst 8")), Some(524));
}

#[test]
fn rate_zero_is_a_short_write_before_6_15() {
    let sim = new_sim(KernelProfile::LINUX_6_1);
    sim.write(&t(0), "add_device eth0").unwrap();
    match sim.write(&dev("eth0"), "rate 0") {
        Err(ProcfsError::ShortWrite { written, len, .. }) => assert_eq!((written, len), (1, 7)),
        other => panic!("{other:?}"),
    }
    sim.write(&dev("eth0"), "min_pkt_size 60").unwrap();
    sim.write(&dev("eth0"), "rate 100").unwrap();
    assert!(sim.read(&dev("eth0")).unwrap().contains("  delay: 4800  "));
    let sim = sim_615();
    sim.write(&t(0), "add_device eth0").unwrap();
    assert_eq!(errno(sim.write(&dev("eth0"), "rate 0")), Some(EINVAL));
}

fn sim_615() -> SimProcfs {
    new_sim(KernelProfile { version: (6, 15) })
}

#[test]
fn pgctrl_accepts_three_commands() {
    let sim = new_sim(KernelProfile::LINUX_6_12);
    for cmd in ["start", "stop", "reset"] {
        sim.write(&PgFile::Ctrl, cmd).unwrap();
    }
    assert_eq!(errno(sim.write(&PgFile::Ctrl, "restart")), Some(EINVAL));
    assert_eq!(errno(sim.write(&PgFile::Ctrl, "start ")), Some(EINVAL));
    assert_eq!(sim.read(&PgFile::Ctrl).unwrap(), VERSION_TEXT);
}

#[test]
fn a_run_ends_with_results_in_kernel_format() {
    let sim = new_sim(KernelProfile::LINUX_6_12);
    sim.write(&t(0), "add_device eth0").unwrap();
    sim.write(&t(1), "add_device eth1").unwrap();
    let d = dev("eth0");
    sim.write(&d, "count 10").unwrap();
    sim.write(&dev("eth1"), "count 0").unwrap();
    sim.write(&PgFile::Ctrl, "start").unwrap();
    assert_eq!(result(&sim, &d), "Starting");
    assert_eq!(
        sim.read(&t(0)).unwrap(),
        "Running: eth0 \nStopped: \nResult: OK: add_device=eth0\n"
    );
    sim.advance(4);
    assert!(sim.read(&d).unwrap().contains("pkts-sofar: 4  errors: 0\n"));
    sim.advance(100);
    assert_eq!(
        result(&sim, &d),
        "OK: 10(c10+d0) usec, 10 (58byte,0frags)\n  1000000pps 464Mb/sec (464000000bps) errors: 0"
    );
    let text = sim.read(&d).unwrap();
    assert!(text.starts_with("Params: count 10  min_pkt_size: 58  max_pkt_size: 58\n"));
    assert!(text.contains("     seq_num: 11  "));
    assert_eq!(sim.running_devices(), vec!["eth1".to_owned()]);
    sim.write(&PgFile::Ctrl, "stop").unwrap();
    assert!(result(&sim, &dev("eth1")).starts_with("OK: 104(c104+d0) usec, 104 (58byte,0frags)"));
    assert!(sim.running_devices().is_empty());
}

#[test]
fn mpls_limits_and_quirks() {
    let sim = new_sim(KernelProfile::LINUX_6_12);
    sim.write(&t(0), "add_device eth0").unwrap();
    let d = dev("eth0");
    // Debian's 6.12.117 has the 6.15 count check: 16 labels, the 17th is E2BIG (lab).
    let labels = vec!["1"; 17].join(",");
    assert_eq!(errno(sim.write(&d, &format!("mpls {labels}"))), Some(E2BIG));
    let labels = vec!["00000001"; 16].join(",");
    sim.write(&d, &format!("mpls {labels}")).unwrap();
    // A short label is shifted one nibble too far before 6.15.
    sim.write(&d, "mpls a").unwrap();
    assert_eq!(result(&sim, &d), "OK: mpls=000000a0");
    sim.write(&d, "mpls xyz").unwrap();
    assert_eq!(result(&sim, &d), "OK: mpls=");
}

#[test]
fn imix_parsing_limits() {
    let sim = new_sim(KernelProfile::LINUX_6_12);
    sim.write(&t(0), "add_device eth0").unwrap();
    let d = dev("eth0");
    assert_eq!(errno(sim.write(&d, "imix_weights 64,0")), Some(EINVAL));
    let pairs = vec!["100,1"; 21].join(" ");
    assert_eq!(
        errno(sim.write(&d, &format!("imix_weights {pairs}"))),
        Some(E2BIG)
    );
    sim.write(&d, "imix_weights 20,1 1500,3").unwrap();
    assert!(sim
        .read(&d)
        .unwrap()
        .contains("     imix_weights: 42,1 1500,3 \n"));
    assert_eq!(result(&sim, &d), "Idle");
    assert_eq!(errno(sim.write(&d, "clone_skb 1")), Some(EINVAL));
}

#[test]
fn result_only_refusals() {
    let sim = new_sim(KernelProfile::LINUX_6_12);
    sim.write(&t(0), "add_device eth0").unwrap();
    let d = dev("eth0");
    sim.write(&d, "node 1").unwrap();
    assert_eq!(result(&sim, &d), "ERROR: node not possible");
    sim.write(&d, "traffic_class 5").unwrap();
    assert_eq!(result(&sim, &d), "ERROR: traffic_class must be 00-ff");
    sim.write(&d, "svlan_cfi 1").unwrap();
    assert_eq!(result(&sim, &d), "ERROR: svlan_cfi must be 0-1");
    sim.write(&d, "svlan_id 5").unwrap();
    assert_eq!(result(&sim, &d), "ERROR: svlan_cfi must be 0-1");
    sim.write(&d, "xmit_mode foo").unwrap();
    // The text ends in a newline, which leaves an empty line after the Result.
    assert!(sim.read(&d).unwrap().ends_with(
        "\nResult: xmit_mode -:foo:- unknown\nAvailable modes: start_xmit, netif_receive\n\n"
    ));
}

#[test]
fn addresses_render_like_the_kernel() {
    assert_eq!(fmt_in4(in_aton(b"10.1.2.3")), "10.1.2.3");
    assert_eq!(fmt_in4(in_aton(b"10.1")), "10.1.0.0");
    assert_eq!(fmt_in4(in_aton(b"")), "0.0.0.0");
    let v6 = |s: &str| fmt_in6(&Ipv6Addr::from_str(s).unwrap().octets());
    assert_eq!(v6("fd00:0:0:0:0:0:0:1"), "fd00::1");
    assert_eq!(v6("::"), "::");
    assert_eq!(v6("2001:db8:0:1:0:0:0:1"), "2001:db8:0:1::1");
    assert_eq!(v6("2001:db8:0:1:1:1:1:1"), "2001:db8:0:1:1:1:1:1");
    assert_eq!(v6("::ffff:1.2.3.4"), "::ffff:1.2.3.4");
    assert_eq!(v6("1:0:0:2:0:0:0:3"), "1:0:0:2::3");
    assert_eq!(
        mac_pton(b"00:1B:21:3c:9d:F8"),
        Some([0, 0x1b, 0x21, 0x3c, 0x9d, 0xf8])
    );
    assert_eq!(mac_pton(b"00:1b:21:3c:9d"), None);
    assert_eq!(mac_pton(b"00-1b-21-3c-9d-f8"), None);
}

#[test]
fn hardened_parser_accepts_name_equals_value() {
    let sim = sim_615();
    sim.write(&t(0), "add_device eth0").unwrap();
    sim.write(&dev("eth0"), "count=20").unwrap();
    assert_eq!(result(&sim, &dev("eth0")), "OK: count=20");
    let sim = new_sim(KernelProfile::LINUX_6_12);
    sim.write(&t(0), "add_device eth0").unwrap();
    assert_eq!(errno(sim.write(&dev("eth0"), "count=20")), Some(EINVAL));
    assert_eq!(result(&sim, &dev("eth0")), "No such parameter \"count=20\"");
}

#[test]
fn a_stream_stops_when_its_interface_goes_down() {
    let sim = new_sim(KernelProfile::LINUX_6_12);
    sim.write(&t(0), "add_device eth0").unwrap();
    sim.write(&dev("eth0"), "count 0").unwrap();
    sim.write(&PgFile::Ctrl, "start").unwrap();
    sim.advance(5);
    assert!(sim.set_interface_up("eth0", false));
    sim.advance(5);
    assert!(sim.running_devices().is_empty());
    assert!(result(&sim, &dev("eth0")).starts_with("OK: 5(c5+d0) usec, 5 (58byte,0frags)\n"));
    let info = sim.interface("eth0").unwrap();
    assert_eq!(
        (info.mac, info.up, info.tx_queues),
        (Some(MAC), false, Some(1))
    );
}

#[test]
fn never_transmit_delay_and_ipv6_start_defaults() {
    let sim = new_sim(KernelProfile::LINUX_6_12);
    sim.write(&t(0), "add_device eth0").unwrap();
    let d = dev("eth0");
    sim.write(&d, "delay 2147483647").unwrap();
    sim.write(&d, "dst6 fd00:0:0:0:0:0:0:1").unwrap();
    assert_eq!(result(&sim, &d), "OK: dst6=fd00::1");
    sim.write(&d, "queue_map_max 7").unwrap();
    sim.write(&PgFile::Ctrl, "start").unwrap();
    sim.advance(1000);
    let text = sim.read(&d).unwrap();
    assert!(text.starts_with("Params: count 1000  min_pkt_size: 78  max_pkt_size: 78\n"));
    assert!(text.contains("  delay: 18446744073709551615  "));
    // Clamped to the interface's single TX queue at start.
    assert!(text.contains("     queue_map_min: 0  queue_map_max: 0\n"));
    assert!(text.contains("     pkts-sofar: 0  errors: 0\n"));
    assert_eq!(sim.running_devices(), vec!["eth0".to_owned()]);
}

#[test]
fn kernel_release_names_the_profile() {
    assert_eq!(
        new_sim(KernelProfile::LINUX_6_1)
            .kernel_release()
            .as_deref(),
        Some("6.1.0-sim")
    );
}
