//! Desired state: the YAML schema, loading with located diagnostics, and validation.

mod json_schema;
mod load;
mod schema;
mod validate;
mod yaml;

pub use json_schema::{render_state_file_schema, state_file_schema};
pub use load::{
    load_path, load_texts, reload_path, LoadError, LoadedNamespace, LoadedState, LocationIndex,
    SourceMap, MAX_ALIAS_EXPANSION, MAX_DIAGNOSTICS, MAX_NESTING_DEPTH, MAX_STATE_FILE_BYTES,
    MAX_YAML_NODES,
};
#[doc(hidden)]
pub use load::{read_yaml_value, reload_edited_line, YamlRead};
pub use schema::{DeviceSpec, ImixWeights, MplsLabel, NamespaceSpec, StateFile, DEVICE_KEYS};
pub use validate::{kernel_notes, spec_from_config, validate_device, FieldError, Rule};
pub use yaml::{render_namespaces_state_file, render_state_file};

use crate::kernel::KernelProfile;
use crate::model::LiveState;

/// The live state as a state file: what `pgstate show` prints. Devices whose proc file
/// cannot be read (a renamed interface) are left out.
pub fn state_file_from_live(live: &LiveState, profile: &KernelProfile) -> StateFile {
    StateFile {
        threads: None,
        devices: live
            .devices
            .iter()
            .filter_map(|(name, d)| {
                let config = d.config.as_ref()?;
                Some((
                    name.as_str().to_owned(),
                    spec_from_config(d.thread, config, profile),
                ))
            })
            .collect(),
        ..StateFile::default()
    }
}
