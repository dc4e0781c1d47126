//! Pure data: names, flags, device configuration and whole-box states. No I/O here.

mod device;
mod flags;
mod names;
mod namespace;
pub mod params;
mod receiver;
mod state;
mod values;

pub use device::{DeviceConfig, ImixEntry, Pacing, Vlan, XmitMode, DELAY_NEVER_WRITTEN};
pub use flags::{Flag, FlagSet, UnknownFlag};
pub use names::{
    DeviceName, MacAddr, MacError, NameError, ThreadId, MAX_DEVICE_NAME_LEN, MAX_INTERFACE_NAME_LEN,
};
pub use namespace::{NamespaceName, NamespaceNameError, MAX_NAMESPACE_NAME_LEN};
pub use receiver::{DesiredReceiver, StreamRef};
pub use state::{DesiredDevice, DesiredState, KernelNeed, LiveDevice, LiveState, LiveThread};
pub use values::{ImixWeights, MplsLabel, V4Addr, V6Addr};
