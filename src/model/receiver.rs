//! Where a state's streams are received (`receivers:`): an interface, and the devices whose
//! streams arrive on it. Receivers are not pktgen state: nothing is written for them; `run`
//! captures on them and counts, orders and times what arrives (`pgstate::receive`).

use std::fmt;

use super::{DeviceName, NamespaceName};

/// A device of the state, wherever it is: the stream it sends.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamRef {
    /// Its namespace; `None` for the one pgstate runs in (the top-level `devices:`).
    pub namespace: Option<NamespaceName>,
    /// The device.
    pub device: DeviceName,
}

/// `h1/h1-eth0`, or `eth0` for a device of the namespace pgstate runs in.
impl fmt::Display for StreamRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{ns}/{}", self.device),
            None => write!(f, "{}", self.device),
        }
    }
}

/// One receiver of the state.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredReceiver {
    /// The interface it captures on, in its target's namespace.
    pub interface: String,
    /// The streams expected there.
    pub streams: Vec<StreamRef>,
    /// A stream that loses more than this share of its packets, in percent, makes `run`
    /// report a traffic problem (exit code 3); `None`: loss is reported, never a problem.
    pub max_loss_percent: Option<f64>,
}

/// As it is written in a state file: `h1/h1-eth0`, or `eth0` at the top level.
impl serde::Serialize for StreamRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Read back as it is written (`pgstate status` reads the latest run's record): `NS/DEV`,
/// or a device name alone for the namespace pgstate runs in. A device name has no `/`.
impl<'de> serde::Deserialize<'de> for StreamRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let text = String::deserialize(d)?;
        let (namespace, device) = match text.split_once('/') {
            Some((ns, dev)) => (Some(NamespaceName::new(ns).map_err(D::Error::custom)?), dev),
            None => (None, text.as_str()),
        };
        Ok(StreamRef {
            namespace,
            device: DeviceName::new(device).map_err(D::Error::custom)?,
        })
    }
}
