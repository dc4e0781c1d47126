//! The state-file schema: what a YAML device entry may say. Keys are the kernel's command
//! names, so one grep finds the reference, the code and the kernel source. The keys, their
//! order and their types are the rows of [`crate::model::params`].

use serde::{Deserialize, Serialize};

use crate::model::{params, MacAddr, V4Addr, V6Addr, XmitMode};
pub use crate::model::{ImixWeights, MplsLabel};

/// A state file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateFile {
    /// Threads this state owns; others are never touched. All threads when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<Vec<u32>>,
    /// Devices by pktgen name.
    #[serde(default)]
    pub devices: std::collections::BTreeMap<String, DeviceSpec>,
    /// Other network namespaces by name, each with its own threads and devices
    /// (REFERENCE §5.7: every namespace has its own pktgen).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub namespaces: std::collections::BTreeMap<String, NamespaceSpec>,
    /// Where streams are received, by interface (not pktgen state: nothing is written).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub receivers: std::collections::BTreeMap<String, ReceiverSpec>,
}

/// One entry of `receivers:`: the devices whose streams arrive on the interface.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiverSpec {
    /// The devices: `DEVICE` of the same namespace as the receiver, `NAMESPACE/DEVICE` of
    /// another of the state's namespaces, `/DEVICE` of the top-level `devices:`.
    pub streams: Vec<String>,
    /// A stream that loses more than this percentage of its packets is a traffic problem
    /// (`run` exits 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_loss_percent: Option<f64>,
}

/// One entry of `namespaces:`: the namespace's file when it is not `/run/netns/NAME`, and
/// the same `threads`/`devices` as the top level.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamespaceSpec {
    /// Any network namespace file, e.g. `/proc/4242/ns/net`; `/run/netns/NAME` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netns: Option<String>,
    /// Threads this state owns in the namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<Vec<u32>>,
    /// The namespace's devices by pktgen name.
    #[serde(default)]
    pub devices: std::collections::BTreeMap<String, DeviceSpec>,
    /// Where streams are received in the namespace, by interface.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub receivers: std::collections::BTreeMap<String, ReceiverSpec>,
}

/// Declares [`DeviceSpec`] from the rows of [`params`]: one optional field per key.
macro_rules! device_spec {
    (all: [$($key:ident : $sty:ty,)*]
     plain: [$($(#[$m:meta])* $pkey:ident : $cty:ty = $def:expr, { $($param:tt)* } { $($p:tt)* },)*]
     special: [$($special:tt)*]) => {
        /// One device entry. Every key but `thread` is optional and defaults to the kernel's
        /// value.
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(missing_docs)] // Each field is the kernel command of the same name; see the README.
        pub struct DeviceSpec {
            pub thread: u32,
            $(
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $key: Option<$sty>,
            )*
        }

        impl DeviceSpec {
            /// The value of the plain scalar `key` ([`params::plain`]).
            pub fn plain(&self, key: &str) -> Option<u64> {
                match key {
                    $(stringify!($pkey) => self.$pkey,)*
                    _ => None,
                }
            }

            /// Sets the plain scalar `key`.
            pub fn set_plain(&mut self, key: &str, value: Option<u64>) {
                match key {
                    $(stringify!($pkey) => self.$pkey = value,)*
                    _ => {}
                }
            }
        }
    };
}

params::device_params!(device_spec {});

/// Every key a device entry accepts, for "did you mean" hints ([`params::PARAMS`]).
pub const DEVICE_KEYS: &[&str] = &{
    let mut keys = [""; params::PARAMS.len()];
    let mut i = 0;
    while i < keys.len() {
        keys[i] = params::PARAMS[i].key;
        i += 1;
    }
    keys
};
