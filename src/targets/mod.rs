//! A state is a list of targets, and every operation acts on a list of them.
//!
//! Every network namespace has its own pktgen (REFERENCE §5.7), so a state with
//! `namespaces:` is several boxes, and a state without it is one: the namespace pgstate runs
//! in. A loaded state yields one [`Target`] per box ([`from_state`]), each with its [`Place`] (where it is and how it is entered),
//! its desired state and its source map. [`open`] enters each place and gives an
//! [`OpenTarget`]; the operations take a slice of them:
//!
//! | operation | module |
//! |---|---|
//! | [`plan`], [`apply`] (all or none) | `converge` |
//! | [`run`] (every target at once, one progress callback, the overlap), [`status`], [`stop`] | `traffic` |
//! | [`discover`] (every namespace of `/run/netns` and `/proc`), [`show`] | `discover` |
//! | what a plan was agreed against, checked before it is carried out | [`agreed`] |
//! | a plan saved to a file (`plan --out`) and read back (`apply FILE`), with its limits | [`saved_plan`] |
//! | [`watch`] (one session per target, signals fanned out) | `watch` |
//!
//! A single box is a list of one, not a special case: the callers render the same data
//! whatever the count. Nothing here prints; pgstate itself never changes namespace (a
//! namespace is reached through a thread inside it, `procfs::netns`).

pub mod agreed;
mod converge;
mod discover;
pub mod receivers;
pub mod saved_plan;
mod traffic;
mod watch;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::model::{DesiredReceiver, DesiredState, NamespaceName};
use crate::procfs::netns::{
    NetnsError, NetnsPath, NetnsProcfs, ReattachingNetns, THREAD_SELF_ROOT,
};
use crate::procfs::unloaded::Unloaded;
use crate::procfs::Procfs;
use crate::state_file::{LoadedState, SourceMap};
use crate::Diagnostic;

pub use converge::{apply, plan, ApplyAllError, PlanAllError, Planned};
pub use discover::{
    discover, discover_in, show, DiscoverError, DiscoverRoots, LiveStateFile, RUN_NETNS,
};
pub use traffic::{
    overlap, run, run_window, status, stop, Overlap, PlaceError, Progress, Receiving, RunReport,
    TargetRun, Window,
};
pub use watch::watch;

/// A procfs that several threads use at once (`run`, `watch`, the metrics endpoint).
pub type SharedProcfs = Arc<dyn Procfs + Send + Sync>;

/// Where a target's pktgen is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Place {
    /// The network namespace pgstate runs in (a state's top-level `devices:`).
    Here,
    /// Another namespace, entered through its file: `netns:`, or `/run/netns/NAME` where
    /// `ip netns add NAME` puts it.
    Namespace {
        /// Its name in the state (or its `/run/netns` name when found on the box).
        name: NamespaceName,
        /// Its file.
        netns: NetnsPath,
    },
}

impl Place {
    /// A namespace that `ip netns add NAME` made.
    pub fn named(name: NamespaceName) -> Place {
        let netns = NetnsPath::named(name.as_str());
        Place::Namespace { name, netns }
    }

    /// The namespace's name; `None` for the one pgstate runs in.
    pub fn name(&self) -> Option<&NamespaceName> {
        match self {
            Place::Here => None,
            Place::Namespace { name, .. } => Some(name),
        }
    }

    /// The namespace's file; `None` for the one pgstate runs in.
    pub fn netns(&self) -> Option<&NetnsPath> {
        match self {
            Place::Here => None,
            Place::Namespace { netns, .. } => Some(netns),
        }
    }
}

/// `this namespace` or `namespace h1`, as messages name a place.
impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::Here => f.write_str("this namespace"),
            Place::Namespace { name, .. } => write!(f, "namespace {name}"),
        }
    }
}

/// One box of a state: where it is, what it must hold, and where that was written.
#[derive(Debug, Clone)]
pub struct Target {
    /// Where.
    pub place: Place,
    /// What it must hold.
    pub desired: DesiredState,
    /// Where its entries came from (paths under `namespaces.NAME` for a namespace).
    pub sources: SourceMap,
    /// Where streams are received in it (not pktgen state: plan and apply never see them).
    pub receivers: Vec<DesiredReceiver>,
}

impl Target {
    /// A target that asks for nothing: what `show` and `status` read, or `destroy` empties.
    pub fn bare(place: Place) -> Target {
        Target {
            place,
            desired: DesiredState::default(),
            sources: SourceMap::default(),
            receivers: Vec::new(),
        }
    }
}

/// The targets of a loaded state, in order: the namespace pgstate runs in first (when the
/// state has a top-level `devices:`), then `namespaces:` by name.
pub fn from_state(loaded: LoadedState) -> Vec<Target> {
    let LoadedState {
        desired,
        current,
        namespaces,
        sources,
        receivers,
        ..
    } = loaded;
    let here = current.then_some(Target {
        place: Place::Here,
        desired,
        sources,
        receivers,
    });
    here.into_iter()
        .chain(namespaces.into_iter().map(|(name, ns)| Target {
            place: Place::Namespace {
                netns: NetnsPath::file(&ns.netns),
                name,
            },
            desired: ns.desired,
            sources: ns.sources,
            receivers: ns.receivers,
        }))
        .collect()
}

/// The pktgen of the namespace pgstate runs in, as the caller opened it (`--proc-root`,
/// loading the module or not).
#[derive(Clone)]
pub struct Here {
    /// Its procfs.
    pub procfs: SharedProcfs,
    /// Whether the module is loaded. It is global: when it is not, no namespace has pktgen,
    /// and every namespace is read as [`Unloaded`] sees it.
    pub loaded: bool,
}

/// How namespaces are entered: what the operation will do with them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Read, plan, apply: one thread inside each namespace.
    Once,
    /// `run`: two threads inside each, one for the `start` that blocks until the streams
    /// are done and one for the readings and `stop` meanwhile.
    Run,
    /// `watch`: re-entered when the namespace is deleted and created again
    /// ([`ReattachingNetns`]).
    Watch,
}

/// A target and the procfs that reaches its pktgen from inside its namespace.
#[derive(Clone)]
pub struct OpenTarget {
    /// The target.
    pub target: Target,
    /// Its pktgen.
    pub procfs: SharedProcfs,
    /// A second procfs of the same namespace for `start` ([`Reach::Run`]); `None`: `procfs`
    /// serves calls from several threads at once.
    starter: Option<SharedProcfs>,
}

impl OpenTarget {
    /// `target`, reached through `procfs` (a simulator in tests, or a procfs the caller
    /// opened itself).
    pub fn new(target: Target, procfs: SharedProcfs) -> OpenTarget {
        OpenTarget {
            target,
            procfs,
            starter: None,
        }
    }

    /// Where it is.
    pub fn place(&self) -> &Place {
        &self.target.place
    }

    /// Whether a run starts traffic here: a target with receivers and no devices of the
    /// state only receives.
    pub fn sends(&self) -> bool {
        !self.target.desired.devices.is_empty() || self.target.receivers.is_empty()
    }

    /// The procfs `start` is written through.
    fn starter(&self) -> SharedProcfs {
        Arc::clone(self.starter.as_ref().unwrap_or(&self.procfs))
    }
}

/// A namespace that could not be entered; nothing has been read or written anywhere.
#[derive(Debug, thiserror::Error)]
#[error("{}", match .diagnostic { Some(d) => d.to_string(), None => .error.to_string() })]
pub struct OpenError {
    /// Which one.
    pub place: Place,
    /// Why (part of the message: no `source()`, so a chain does not print it twice).
    pub error: NetnsError,
    /// The error located at the namespace's `netns:` (or its name) in the state file.
    pub diagnostic: Option<Diagnostic>,
}

/// Enters every target's place (see [`Reach`]); the first that cannot be entered ends it.
pub fn open(
    targets: Vec<Target>,
    here: &Here,
    reach: Reach,
) -> Result<Vec<OpenTarget>, Box<OpenError>> {
    targets
        .into_iter()
        .map(|t| open_one(t, here, reach))
        .collect()
}

/// Enters one target's place.
pub fn open_one(target: Target, here: &Here, reach: Reach) -> Result<OpenTarget, Box<OpenError>> {
    let Place::Namespace { netns, .. } = &target.place else {
        return Ok(OpenTarget::new(target, Arc::clone(&here.procfs)));
    };
    let entered = enter(netns, reach, here.loaded).and_then(|procfs| {
        let starter = match reach {
            Reach::Run => Some(enter(netns, reach, here.loaded)?),
            Reach::Once | Reach::Watch => None,
        };
        Ok((procfs, starter))
    });
    match entered {
        Ok((procfs, starter)) => Ok(OpenTarget {
            target,
            procfs,
            starter,
        }),
        Err(error) => {
            let diagnostic = target
                .sources
                .namespace_diagnostic(error.to_string(), netns_help(&error));
            Err(Box::new(OpenError {
                place: target.place,
                error,
                diagnostic,
            }))
        }
    }
}

fn enter(netns: &NetnsPath, reach: Reach, loaded: bool) -> Result<SharedProcfs, NetnsError> {
    let procfs: SharedProcfs = match reach {
        Reach::Watch => Arc::new(ReattachingNetns::enter(netns)?),
        Reach::Once | Reach::Run => Arc::new(NetnsProcfs::enter(netns)?),
    };
    Ok(if loaded {
        procfs
    } else {
        Arc::new(Unloaded::new(procfs, PathBuf::from(THREAD_SELF_ROOT)))
    })
}

/// What to do about a namespace that cannot be entered.
fn netns_help(e: &NetnsError) -> Option<String> {
    match e {
        NetnsError::Missing { .. } => {
            Some("create it with `ip netns add NAME`, or give its file as `netns:`".into())
        }
        NetnsError::NotNetns { .. } => {
            Some("`netns:` must name a network namespace file, such as /proc/PID/ns/net".into())
        }
        NetnsError::Io { .. } => None,
    }
}
