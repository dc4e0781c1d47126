//! Live progress of a run on a terminal (indicatif): one bar per device and a total line.
//! Hidden when stderr is not a terminal or when asked to be quiet. With several namespaces
//! each bar is named `NAMESPACE/DEVICE` (`here/` for the one pgstate runs in).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use pgstate::model::NamespaceName;
use pgstate::run::Sample;

/// Rates are computed between consecutive samples.
struct Last {
    packets: u64,
    at: Duration,
}

pub struct Progress {
    multi: MultiProgress,
    bars: RefCell<BTreeMap<String, ProgressBar>>,
    total: RefCell<Option<ProgressBar>>,
    last: RefCell<BTreeMap<String, Last>>,
}

impl Progress {
    pub fn new(enabled: bool) -> Progress {
        let target = if enabled {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        Progress {
            multi: MultiProgress::with_draw_target(target),
            bars: RefCell::new(BTreeMap::new()),
            total: RefCell::new(None),
            last: RefCell::new(BTreeMap::new()),
        }
    }

    fn bar(&self, key: &str, s: &Sample) -> ProgressBar {
        let mut bars = self.bars.borrow_mut();
        bars.entry(key.to_owned())
            .or_insert_with(|| {
                let bar = if s.count > 0 {
                    let b = self.multi.add(ProgressBar::new(s.count));
                    b.set_style(
                        ProgressStyle::with_template("{prefix:>16} [{bar:30}] {human_pos:>12}/{human_len:<12} {msg}")
                            .unwrap_or_else(|_| ProgressStyle::default_bar())
                            .progress_chars("=> "),
                    );
                    b
                } else {
                    let b = self.multi.add(ProgressBar::new_spinner());
                    b.set_style(
                        ProgressStyle::with_template("{prefix:>16} {spinner} {human_pos:>12} packets (count 0: until stopped) {msg}")
                            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                    );
                    b
                };
                bar.set_prefix(key.to_owned());
                bar
            })
            .clone()
    }

    /// The latest `samples` of each target, named by `names` in the same order.
    pub fn update(
        &self,
        names: &[Option<NamespaceName>],
        samples: &[Vec<Sample>],
        elapsed: Duration,
    ) {
        let mut total_pps = 0.0;
        let mut total_bits = 0.0;
        let mut total_packets = 0;
        let mut total_errors = 0;
        let several = names.len() > 1;
        for (name, s) in names
            .iter()
            .zip(samples)
            .flat_map(|(n, samples)| samples.iter().map(move |s| (n, s)))
        {
            let key = match (several, name) {
                (false, _) => s.device.to_string(),
                (true, Some(n)) => format!("{n}/{}", s.device),
                (true, None) => format!("here/{}", s.device),
            };
            let bar = self.bar(&key, s);
            bar.set_position(s.packets);
            let pps = {
                let mut last = self.last.borrow_mut();
                let prev = last.insert(
                    key,
                    Last {
                        packets: s.packets,
                        at: elapsed,
                    },
                );
                match prev {
                    Some(p) if elapsed > p.at => {
                        s.packets.saturating_sub(p.packets) as f64 / (elapsed - p.at).as_secs_f64()
                    }
                    _ => 0.0,
                }
            };
            let bits = pps * (s.bytes_per_packet.max(1) * 8) as f64;
            total_pps += pps;
            total_bits += bits;
            total_packets += s.packets;
            total_errors += s.errors;
            bar.set_message(format!(
                "{:>10.0} pps {:>8.1} Mb/s  errors {}{}",
                pps,
                bits / 1e6,
                s.errors,
                if s.running { "" } else { "  done" }
            ));
        }
        let mut total = self.total.borrow_mut();
        let t = total.get_or_insert_with(|| {
            let b = self.multi.add(ProgressBar::new_spinner());
            b.set_style(
                ProgressStyle::with_template("{prefix:>16} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            b.set_prefix("total");
            b
        });
        t.set_message(format!(
            "{total_packets} packets  {total_pps:.0} pps  {:.1} Mb/s  errors {total_errors}  elapsed {:.1}s",
            total_bits / 1e6,
            elapsed.as_secs_f64()
        ));
    }

    /// Leaves the bars as they are: `finish` would fill a stopped stream's bar to its count.
    pub fn finish(&self) {
        for b in self.bars.borrow().values() {
            b.abandon();
        }
        if let Some(t) = self.total.borrow().as_ref() {
            t.abandon();
        }
    }
}
