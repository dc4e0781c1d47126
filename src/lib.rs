//! pgstate: a declarative reconciler for the Linux kernel packet generator (pktgen).
//!
//! pktgen is configured one command at a time through `/proc/net/pktgen`. pgstate reads a
//! desired state from YAML ([`state_file`]), reads the live state back from procfs
//! ([`procfs::observe`]), computes the minimal ordered list of writes between them with a
//! pure planner ([`plan`](mod@plan)), and carries them out with both error channels
//! checked, verification by readback and rollback on failure ([`apply`](mod@apply)). [`run`]
//! starts traffic and parses the results; [`watch`] keeps a box converged as files change and
//! state drifts.
//!
//! ```no_run
//! use std::path::Path;
//! use pgstate::procfs::RealProcfs;
//!
//! let desired = pgstate::load_path(Path::new("states/simple.yaml"))?.desired;
//! let procfs = RealProcfs::new("/proc/net/pktgen");
//! let report = pgstate::apply(&procfs, &desired)?;
//! println!("{} writes, verified", report.writes);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! All access to pktgen goes through the [`procfs::Procfs`] trait, implemented by the real
//! kernel ([`procfs::RealProcfs`]) and by an in-memory simulator (`procfs::SimProcfs`, built
//! only with the `simulator` cargo feature, which the tests and benches turn on).
//!
//! # Modules
//!
//! From the bottom up; each imports only from the lines above it.
//!
//! | module | what it holds |
//! |---|---|
//! | [`error`], [`kernel`], [`lock`] | located diagnostics; what differs per kernel version; the box lock |
//! | [`model`] | pure data: desired and live state, device names, flags, values |
//! | [`receive`] | the receivers' pure core: pktgen's packets found in frames, told apart by stream, counted (loss, duplicates, reordering) and timed (latency, jitter) |
//! | [`procfs`] | the `Procfs` trait, the real directory, the parsers, reading the live state |
//! | [`capture`] | receiving pktgen's packets: an `AF_PACKET` TPACKET_V3 ring behind a classic BPF filter for pktgen's magic, in a network namespace's thread |
//! | [`state_file`] | the state-file format: schema, loading with located diagnostics, validation |
//! | [`import`] | the state a kernel `samples/pktgen` script configures, from its options |
//! | [`plan`](mod@plan), [`render`] | the pure planner: desired + live → ordered writes, as data; how its changes read as text |
//! | [`apply`](mod@apply), [`locate`] | carrying a plan out: both error channels, verification, rollback; errors located in the state files |
//! | [`run`], [`watch`] | traffic runs and results; keeping a box converged as files change |
//! | [`targets`] | a state as a list of boxes (network namespaces): every operation over them, a single box being a list of one |
//!
//! # Features
//!
//! * `simulator` (off by default): `procfs::sim`, an in-memory pktgen faithful to the 6.1
//!   and 6.12 transcripts, for tests.

#![warn(missing_docs)]

pub mod error;
pub mod kernel;
pub mod lock;

pub mod model;
pub mod receive;

pub mod procfs;
pub mod state_file;

pub mod capture;

pub mod import;

pub mod plan;
pub mod render;

pub mod apply;
pub mod locate;
pub mod targets;

pub mod run;
pub mod watch;

pub use apply::{apply, ApplyError, ApplyReport};
pub use error::{Diagnostic, ErrorKind, Location};
pub use kernel::KernelProfile;
pub use model::{DesiredState, DeviceName, LiveState, ThreadId};
pub use plan::{plan, Plan, PlanError, Write};
pub use procfs::{PgFile, Procfs, ProcfsError};
pub use state_file::{load_path, LoadError, LoadedState};
