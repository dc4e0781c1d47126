//! `KernelProfile`: what differs between kernel versions (REFERENCE §6), in one place.

use serde::Serialize;

/// Behaviour of one kernel version that the planner and the parsers must know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct KernelProfile {
    /// `(major, minor)` of the kernel release.
    pub version: (u32, u32),
}

impl KernelProfile {
    /// Linux 6.1, as Debian 12 ships it.
    pub const LINUX_6_1: KernelProfile = KernelProfile { version: (6, 1) };
    /// Linux 6.12, as Debian 12's newer cloud kernel.
    pub const LINUX_6_12: KernelProfile = KernelProfile { version: (6, 12) };

    /// Profile for a release string such as `6.12.117+deb12-cloud-amd64`.
    pub fn from_release(release: &str) -> Option<KernelProfile> {
        let mut parts = release.split(|c: char| !c.is_ascii_digit());
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        Some(KernelProfile {
            version: (major, minor),
        })
    }

    fn at_least(&self, major: u32, minor: u32) -> bool {
        self.version >= (major, minor)
    }

    /// The `SHARED` flag exists and is set on every new device (6.7+, commit 7c7dd1d64910).
    pub fn has_shared_flag(&self) -> bool {
        self.at_least(6, 7)
    }

    /// `mpls 0` clears the label stack (6.15+); before, it stores one all-zero label.
    pub fn mpls_zero_clears(&self) -> bool {
        self.at_least(6, 15)
    }

    /// Most MPLS labels `mpls` accepts (16 on 6.15+, 15 before).
    pub fn max_mpls_labels(&self) -> usize {
        if self.at_least(6, 15) {
            16
        } else {
            15
        }
    }

    /// `imix_weights` exists (5.15+).
    pub fn has_imix(&self) -> bool {
        self.at_least(5, 15)
    }

    /// Refusals that 6.15 reports as `EOPNOTSUPP` (95) were `ENOTSUPP` (524) before.
    pub fn enotsupp_errno(&self) -> i32 {
        if self.at_least(6, 15) {
            95
        } else {
            524
        }
    }
}

impl Default for KernelProfile {
    /// Without a known release, assume the newest behaviour this tool was tested on.
    fn default() -> Self {
        KernelProfile::LINUX_6_12
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_map_to_profiles() {
        let p = KernelProfile::from_release("6.12.117+deb12-cloud-amd64").unwrap();
        assert_eq!(p, KernelProfile::LINUX_6_12);
        assert!(p.has_shared_flag());
        let p = KernelProfile::from_release("6.1.0-56-cloud-amd64").unwrap();
        assert!(!p.has_shared_flag());
        assert_eq!(p.enotsupp_errno(), 524);
        assert!(KernelProfile::from_release("garbage").is_none());
    }
}
