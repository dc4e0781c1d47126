//! Every file dump in the real-kernel transcripts (Linux 6.1 and 6.12, Debian cloud kernels
//! under qemu) parses, with no line left unrecognised.

mod common;

use common::{dumps, transcripts};
use pgstate::model::ThreadId;
use pgstate::procfs::parse::{parse_device, parse_pgctrl, parse_thread};

#[test]
fn every_dump_in_both_transcripts_parses_completely() {
    let mut devices = 0;
    for (name, text) in transcripts() {
        for (file, body) in dumps(&text) {
            if file == "pgctrl" {
                assert_eq!(parse_pgctrl(&body), "2.75", "{name}");
            } else if ThreadId::from_file_name(&file).is_some() {
                parse_thread(&file, &body).unwrap_or_else(|e| panic!("{name}: {e}"));
            } else {
                let d =
                    parse_device(&file, &body).unwrap_or_else(|e| panic!("{name}: {e}\n{body}"));
                assert!(
                    d.unknown_lines.is_empty(),
                    "{name} {file}: {:?}",
                    d.unknown_lines
                );
                assert_eq!(d.ifname, file, "{name}");
                devices += 1;
            }
        }
    }
    assert!(devices > 40, "only {devices} device dumps found");
}

#[test]
fn run_results_in_the_transcripts_carry_the_packet_counts() {
    let mut runs = 0;
    for (name, text) in transcripts() {
        for (file, body) in dumps(&text) {
            if let Ok(d) = parse_device(&file, &body) {
                if d.result.starts_with("OK: ") && d.result.contains("usec") {
                    assert!(d.sofar > 0, "{name} {file}");
                    let stats = pgstate::run::parse_run_result(&d.result).unwrap_or_else(|| {
                        panic!("{name} {file}: unparsed run result {:?}", d.result)
                    });
                    assert_eq!(stats.packets, d.sofar, "{name} {file}");
                    // c and d are rounded down from ns separately, so they may sum to one µs less.
                    assert!(
                        stats.elapsed_us.abs_diff(stats.busy_us + stats.idle_us) <= 1,
                        "{name} {file}"
                    );
                    assert_eq!(stats.mbps, stats.bps / 1_000_000, "{name} {file}");
                    runs += 1;
                    assert!(
                        d.result.contains(&format!(" {} (", d.sofar)),
                        "{name} {file}: {}",
                        d.result
                    );
                }
            }
        }
    }
    assert!(runs >= 6, "only {runs} run results found");
}
