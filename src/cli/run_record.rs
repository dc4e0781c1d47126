//! What the latest `run` of a state received, kept where `status` and `watch
//! --metrics-listen` find it.
//!
//! Receivers count only while a `run` captures, and pktgen keeps nothing of what arrived:
//! so `run` records it, `DIR/runs/<state>.json` under `--run-dir` (`/run/pgstate`, a tmpfs
//! that a reboot empties). While the run goes the record says what each stream received so
//! far, each sampling interval; when the run ends, the whole report (`run --json`'s
//! `receivers`). A state is named in the record file by its canonical path, so `status
//! STATE` and `watch STATE` in another shell find it.
//!
//! The record is written as every file pgstate writes at a path ([`super::output`]): a new
//! file renamed over the old one, which is replaced only when it is a record.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use pgstate::model::{NamespaceName, StreamRef};
use pgstate::targets::receivers::ReceiverReport;
use pgstate::targets::{OpenTarget, Progress};

/// Where run records go unless `--run-dir` says otherwise.
pub const DEFAULT_RUN_DIR: &str = "/run/pgstate";

/// What marks a file as a record (a file without it is never replaced).
const KIND: &str = "pgstate run record";

/// The record's format; a reader skips records of another.
const FORMAT_VERSION: u32 = 1;

/// What one run of a state received, so far or in the end.
#[derive(Debug, Serialize, Deserialize)]
pub struct RunRecord {
    kind: String,
    format_version: u32,
    /// The state file, canonical.
    pub state: PathBuf,
    /// The `pgstate run` process.
    pub pid: u32,
    /// When the record was last written, ms since the Unix epoch.
    pub updated_unix_ms: u64,
    /// What was received.
    #[serde(flatten)]
    pub phase: Phase,
}

/// Where the run is.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    /// Capturing: what each stream has received so far.
    Receiving {
        /// Per receiver.
        received: Vec<ReceiverSoFar>,
    },
    /// The run ended: its receivers' reports.
    Ended {
        /// As `run --json` has them.
        receivers: Vec<ReceiverReport>,
    },
}

/// What one receiver has received so far, per stream (or for all its streams at once, when
/// they cannot be told apart).
#[derive(Debug, Serialize, Deserialize)]
pub struct ReceiverSoFar {
    /// Its namespace; `None` for the one pgstate runs in.
    pub namespace: Option<NamespaceName>,
    /// Its interface.
    pub interface: String,
    /// Per stream.
    pub streams: Vec<StreamSoFar>,
}

/// What one stream (or the streams that cannot be told apart) received so far.
#[derive(Debug, Serialize, Deserialize)]
pub struct StreamSoFar {
    /// The stream, or the streams counted together.
    pub streams: Vec<StreamRef>,
    /// Distinct packets received.
    pub received: u64,
}

/// What every receiver of `targets` received so far, as `p` says.
pub fn received_so_far(targets: &[OpenTarget], p: &Progress<'_>) -> Vec<ReceiverSoFar> {
    targets
        .iter()
        .flat_map(|t| t.target.receivers.iter().map(move |r| (t.place(), r)))
        .zip(p.received)
        .map(|((place, r), counts)| ReceiverSoFar {
            namespace: place.name().cloned(),
            interface: r.interface.clone(),
            streams: if counts.len() == r.streams.len() {
                r.streams
                    .iter()
                    .zip(counts)
                    .map(|(s, n)| StreamSoFar {
                        streams: vec![s.clone()],
                        received: *n,
                    })
                    .collect()
            } else {
                vec![StreamSoFar {
                    streams: r.streams.clone(),
                    received: counts.iter().sum(),
                }]
            },
        })
        .collect()
}

impl RunRecord {
    /// A record of this process's run of `state`.
    pub fn new(state: &Path, phase: Phase) -> RunRecord {
        RunRecord {
            kind: KIND.to_owned(),
            format_version: FORMAT_VERSION,
            state: canonical(state),
            pid: std::process::id(),
            updated_unix_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            phase,
        }
    }

    /// Whether the run that wrote it is still going: receiving, by a process that lives.
    pub fn live(&self) -> bool {
        matches!(self.phase, Phase::Receiving { .. })
            && Path::new("/proc").join(self.pid.to_string()).exists()
    }

    /// Writes it where [`read`] finds it for its state.
    pub fn write(&self, run_dir: &Path) -> Result<()> {
        let runs = run_dir.join("runs");
        std::fs::create_dir_all(&runs)
            .with_context(|| format!("creating {} for the run record", runs.display()))?;
        let mut text = serde_json::to_vec_pretty(self).context("encoding the run record")?;
        text.push(b'\n');
        super::output::write_output(
            &record_path(run_dir, &self.state),
            &text,
            "a pgstate run record",
            is_record,
        )
    }
}

/// The latest record of `state`'s runs, if there is one that this pgstate can read. A record
/// that cannot be read is not an error of the command that looks for it: it is logged.
pub fn read(run_dir: &Path, state: &Path) -> Option<RunRecord> {
    let path = record_path(run_dir, &canonical(state));
    let text = match std::fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            tracing::warn!("reading the run record {}: {e}", path.display());
            return None;
        }
    };
    match serde_json::from_slice::<RunRecord>(&text) {
        Ok(r) if r.kind == KIND && r.format_version == FORMAT_VERSION => Some(r),
        Ok(_) => None,
        Err(e) => {
            tracing::warn!("the run record {} is not one: {e}", path.display());
            None
        }
    }
}

/// Whether `bytes` are a record (what [`RunRecord::write`] may replace).
fn is_record(bytes: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Kind {
        kind: String,
    }
    serde_json::from_slice::<Kind>(bytes).is_ok_and(|k| k.kind == KIND)
}

/// `DIR/runs/<hash>.json`: the state's canonical path, hashed (FNV-1a, 64 bits: stable
/// across builds, unlike std's hasher) into a name that no path can turn into a directory
/// walk.
fn record_path(run_dir: &Path, canonical_state: &Path) -> PathBuf {
    use std::os::unix::ffi::OsStrExt as _;
    let hash = canonical_state
        .as_os_str()
        .as_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
    run_dir.join("runs").join(format!("{hash:016x}.json"))
}

/// `state` as the same file is named from any directory; as given when it cannot be
/// resolved (it was loaded, so it exists; a race is no reason to fail the run).
fn canonical(state: &Path) -> PathBuf {
    std::fs::canonicalize(state).unwrap_or_else(|_| state.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_found_from_any_name_of_its_state_and_replaces_only_a_record() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("s.yaml");
        std::fs::write(&state, "devices: {}\n").unwrap();
        let run_dir = dir.path().join("run");
        let record = RunRecord::new(
            &state,
            Phase::Receiving {
                received: vec![ReceiverSoFar {
                    namespace: Some(NamespaceName::new("r").unwrap()),
                    interface: "r-eth0".into(),
                    streams: vec![StreamSoFar {
                        streams: vec![serde_json::from_str("\"s/s-eth0\"").unwrap()],
                        received: 7,
                    }],
                }],
            },
        );
        record.write(&run_dir).unwrap();
        // Another name of the same file finds it.
        let other_name = dir.path().join(".").join("s.yaml");
        let back = read(&run_dir, &other_name).expect("the record");
        assert!(back.live(), "this process lives and the run is receiving");
        let Phase::Receiving { received } = &back.phase else {
            panic!("{back:?}")
        };
        assert_eq!(received[0].streams[0].received, 7);
        assert_eq!(received[0].streams[0].streams[0].to_string(), "s/s-eth0");
        // A record replaces a record; a file that is not one is never replaced.
        record.write(&run_dir).unwrap();
        let path = record_path(&run_dir, &canonical(&state));
        std::fs::write(&path, "someone else's\n").unwrap();
        let err = record.write(&run_dir).unwrap_err();
        assert!(format!("{err:#}").contains("refusing"), "{err:#}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "someone else's\n");
        assert!(read(&run_dir, &state).is_none(), "not a record: none found");
        assert!(read(&run_dir, &dir.path().join("other.yaml")).is_none());
    }

    /// A report read back from its record is the report: the text `status` prints of it is
    /// the run's own.
    #[test]
    fn an_ended_record_reads_back_as_the_runs_report() {
        let report = crate::cli::run_metrics::tests::receiver_report();
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("s.yaml");
        std::fs::write(&state, "devices: {}\n").unwrap();
        let receivers = vec![report];
        let before = crate::cli::results::receivers_text(&receivers);
        RunRecord::new(&state, Phase::Ended { receivers })
            .write(dir.path())
            .unwrap();
        let back = read(dir.path(), &state).expect("the record");
        let Phase::Ended { receivers } = &back.phase else {
            panic!("{back:?}")
        };
        assert_eq!(crate::cli::results::receivers_text(receivers), before);
        assert!(!back.live());
        let filters = vec![
            (r"pid \d+", "pid PID"),
            (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "TIME"),
        ];
        insta::with_settings!({ filters => filters }, {
            insta::assert_snapshot!(crate::cli::results::latest_run_text(&back));
        });
    }
}
