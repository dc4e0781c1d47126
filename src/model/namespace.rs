//! Names of network namespaces in a state file (`namespaces:`).
//!
//! A namespace without `netns:` is the one `ip netns add NAME` made, `/run/netns/NAME`, so
//! its name must be one `ip netns` accepts: iproute2's `invalid_name()` (ip/ipnetns.c)
//! refuses an empty name, one longer than `NAME_MAX`, one with `/`, and `.` or `..`. The
//! name also ends up in a path and in every line of output, so a NUL or another control
//! character is refused too.

use std::fmt;

use serde::{Deserialize, Serialize};

/// `NAME_MAX`: the longest file name, and so the longest `ip netns` name.
pub const MAX_NAMESPACE_NAME_LEN: usize = 255;

/// The name of a namespace of the state: an `ip netns` name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NamespaceName(String);

/// Checked as [`NamespaceName::new`] (a saved plan read back, for one).
impl TryFrom<String> for NamespaceName {
    type Error = NamespaceNameError;
    fn try_from(name: String) -> Result<Self, Self::Error> {
        NamespaceName::new(&name)
    }
}

impl From<NamespaceName> for String {
    fn from(name: NamespaceName) -> String {
        name.0
    }
}

/// Why a string is not a usable namespace name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NamespaceNameError {
    /// Empty.
    #[error("the name is empty")]
    Empty,
    /// Longer than `NAME_MAX`.
    #[error("the name is {0} bytes long; `ip netns` names are at most {MAX_NAMESPACE_NAME_LEN}")]
    TooLong(usize),
    /// `/` would make `/run/netns/NAME` another path.
    #[error("the name contains '/', which `ip netns` refuses")]
    Slash,
    /// `.` or `..`.
    #[error("'{0}' is a directory, not a name `ip netns` accepts")]
    Dot(String),
    /// A control character.
    #[error("the name contains a control character")]
    Control,
}

impl NamespaceName {
    /// Checks `name` as `ip netns add` would.
    pub fn new(name: &str) -> Result<NamespaceName, NamespaceNameError> {
        if name.is_empty() {
            return Err(NamespaceNameError::Empty);
        }
        if name.len() > MAX_NAMESPACE_NAME_LEN {
            return Err(NamespaceNameError::TooLong(name.len()));
        }
        if name.contains('/') {
            return Err(NamespaceNameError::Slash);
        }
        if name == "." || name == ".." {
            return Err(NamespaceNameError::Dot(name.to_owned()));
        }
        if name.chars().any(char::is_control) {
            return Err(NamespaceNameError::Control);
        }
        Ok(NamespaceName(name.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NamespaceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_netns_names_are_accepted_and_what_it_refuses_is_refused() {
        for ok in ["h1", "lab-a", "ns.1", "_x", "a b", "..."] {
            assert!(NamespaceName::new(ok).is_ok(), "{ok}");
        }
        assert_eq!(NamespaceName::new(""), Err(NamespaceNameError::Empty));
        assert_eq!(NamespaceName::new("a/b"), Err(NamespaceNameError::Slash));
        assert!(matches!(
            NamespaceName::new(".."),
            Err(NamespaceNameError::Dot(_))
        ));
        assert!(matches!(
            NamespaceName::new(&"x".repeat(256)),
            Err(NamespaceNameError::TooLong(256))
        ));
        assert!(NamespaceName::new(&"x".repeat(255)).is_ok());
        assert_eq!(NamespaceName::new("a\nb"), Err(NamespaceNameError::Control));
    }
}
