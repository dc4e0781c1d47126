//! Names pktgen uses: threads (`kpktgend_N`), devices (`eth0`, `eth0@3`) and MAC addresses.
//!
//! A device name ends up both in a path under `/proc/net/pktgen` and inside a command written
//! to a thread file, so it is validated here, once, before it can reach either
//! (REFERENCE §1.1, §2.0).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Longest interface name the kernel accepts (`IFNAMSIZ` − 1).
pub const MAX_INTERFACE_NAME_LEN: usize = 15;
/// Longest full pktgen device name (`char f[32]` in `pktgen_thread_write`).
pub const MAX_DEVICE_NAME_LEN: usize = 31;

/// A pktgen thread, `kpktgend_N`, bound to CPU `N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ThreadId(pub u32);

impl ThreadId {
    /// The proc file name of this thread.
    pub fn file_name(self) -> String {
        format!("kpktgend_{}", self.0)
    }

    /// Parses `kpktgend_N`.
    pub fn from_file_name(name: &str) -> Option<ThreadId> {
        let digits = name.strip_prefix("kpktgend_")?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok().map(ThreadId)
    }
}

impl fmt::Display for ThreadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Why a string is not a usable pktgen device name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The name is empty or starts with `@`.
    #[error("the interface part (before '@') is empty")]
    EmptyInterface,
    /// The interface part exceeds `IFNAMSIZ - 1`.
    #[error("interface name '{0}' is longer than {MAX_INTERFACE_NAME_LEN} characters")]
    InterfaceTooLong(String),
    /// The whole name exceeds 31 bytes.
    #[error("device name is {0} bytes long; the kernel keeps at most {MAX_DEVICE_NAME_LEN}")]
    TooLong(usize),
    /// A character that would split the command or the path.
    #[error("device name contains {0}, which would split the procfs command or path")]
    BadChar(&'static str),
    /// `.`/`..` or a name of one of pktgen's own files.
    #[error("'{0}' is reserved: it names a pktgen control file or a directory")]
    Reserved(String),
}

/// A pktgen device name: `ifname` or `ifname@tag` (REFERENCE §1.1).
///
/// Guaranteed to be a single path component and a single command token: no whitespace,
/// no control characters, no `/`, no `"` or `=` (both end a token in `pktgen_thread_write`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct DeviceName(String);

impl DeviceName {
    /// Validates a device name.
    pub fn new(name: &str) -> Result<DeviceName, NameError> {
        if name.len() > MAX_DEVICE_NAME_LEN {
            return Err(NameError::TooLong(name.len()));
        }
        for c in name.chars() {
            let what = match c {
                '/' => "'/'",
                '"' => "'\"'",
                '=' => "'='",
                '\n' | '\r' => "a newline",
                c if c.is_whitespace() => "whitespace",
                c if c.is_control() => "a control character",
                c if !c.is_ascii() => "a non-ASCII character",
                _ => continue,
            };
            return Err(NameError::BadChar(what));
        }
        let iface = name.split('@').next().unwrap_or_default();
        if iface.is_empty() {
            return Err(NameError::EmptyInterface);
        }
        if iface.len() > MAX_INTERFACE_NAME_LEN {
            return Err(NameError::InterfaceTooLong(iface.to_owned()));
        }
        if name == "." || name == ".." || iface == "." || iface == ".." {
            return Err(NameError::Reserved(name.to_owned()));
        }
        if name == "pgctrl" || ThreadId::from_file_name(name).is_some() {
            return Err(NameError::Reserved(name.to_owned()));
        }
        Ok(DeviceName(name.to_owned()))
    }

    /// The full name, as used for the proc file and in thread lists.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The interface part: everything before the first `@`.
    pub fn interface(&self) -> &str {
        self.0.split('@').next().unwrap_or(&self.0)
    }
}

impl fmt::Display for DeviceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for DeviceName {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DeviceName::new(s)
    }
}

impl<'de> Deserialize<'de> for DeviceName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        DeviceName::new(&s).map_err(serde::de::Error::custom)
    }
}

/// A MAC address, printed as the kernel prints `%pM` (lowercase, colons).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// `00:00:00:00:00:00`, which pktgen uses for "unset".
    pub const ZERO: MacAddr = MacAddr([0; 6]);

    /// True for the all-zero address.
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 6]
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

/// Why a string is not a MAC address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "'{0}' is not a MAC address (expected six hex pairs separated by ':', like 02:00:00:00:00:01)"
)]
pub struct MacError(pub String);

impl FromStr for MacAddr {
    type Err = MacError;
    /// Accepts what the kernel's `mac_pton` accepts: `xx:xx:xx:xx:xx:xx`, either case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || MacError(s.to_owned());
        let mut out = [0u8; 6];
        let mut parts = s.split(':');
        for byte in &mut out {
            let part = parts.next().ok_or_else(err)?;
            if part.len() != 2 {
                return Err(err());
            }
            *byte = u8::from_str_radix(part, 16).map_err(|_| err())?;
        }
        if parts.next().is_some() {
            return Err(err());
        }
        Ok(MacAddr(out))
    }
}

impl Serialize for MacAddr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for MacAddr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_follow_the_kernel_limits() {
        assert_eq!(DeviceName::new("eth0@3").unwrap().interface(), "eth0");
        assert!(DeviceName::new("enp0s31f6abcdefg@1").is_err());
        assert!(DeviceName::new("abcdefghijklmno@123456789012345").is_ok());
        assert!(DeviceName::new("abcdefghijklmno@1234567890123456").is_err());
        assert!(DeviceName::new("").is_err());
        assert!(DeviceName::new("@3").is_err());
    }

    #[test]
    fn names_that_would_inject_a_command_or_a_path_are_refused() {
        for bad in [
            "eth0\ncount 5",
            "eth0 x",
            "../pgctrl",
            "eth0/x",
            "..",
            "pgctrl",
            "kpktgend_0",
            "eth0=1",
            "eth\t0",
        ] {
            assert!(DeviceName::new(bad).is_err(), "{bad:?} accepted");
        }
        assert!(DeviceName::new("kpktgend_x").is_ok());
    }

    #[test]
    fn mac_addresses_parse_either_case_and_print_lowercase() {
        let mac: MacAddr = "00:1B:21:3c:9d:F8".parse().unwrap();
        assert_eq!(mac.to_string(), "00:1b:21:3c:9d:f8");
        assert!("00:1b:21:3c:9d".parse::<MacAddr>().is_err());
        assert!("00:1b:21:3c:9d:f8:00".parse::<MacAddr>().is_err());
        assert!("001b.213c.9df8".parse::<MacAddr>().is_err());
    }

    #[test]
    fn thread_file_names_round_trip() {
        assert_eq!(ThreadId::from_file_name("kpktgend_12"), Some(ThreadId(12)));
        assert_eq!(ThreadId(3).file_name(), "kpktgend_3");
        assert_eq!(ThreadId::from_file_name("kpktgend_"), None);
        assert_eq!(ThreadId::from_file_name("kpktgend_1a"), None);
    }
}
