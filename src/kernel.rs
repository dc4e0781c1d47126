//! `KernelProfile`: what differs between kernel versions (REFERENCE §6), in one place.
//!
//! Nothing else in the crate compares version numbers. Limits, defaults, which parameters
//! exist and readback spellings are all asked of a profile: the live one (resolved once from
//! the running kernel's release) when planning and applying, and each of
//! [`KernelProfile::SUPPORTED`] when a state is validated offline. The simulator
//! (`procfs::sim`) asks the same profile which behaviour to model. No I/O here, and no
//! imports from the rest of the crate: every other module may depend on this one.

use std::fmt;

use serde::Serialize;

/// A kernel release, `(major, minor)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Version(pub u32, pub u32);

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

/// Something that only some kernels have or accept, with the versions that do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Feature {
    /// `imix_weights` (5.15+).
    Imix,
    /// The `SHARED` flag (6.7+, commit 7c7dd1d64910), listed explicitly in a state.
    SharedFlag,
    /// A 16th MPLS label (upstream 6.15, and the stable releases of every supported series).
    SixteenMplsLabels,
    /// An all-zero MPLS label: before 6.15 it is stored like any other; 6.15+ clears the
    /// whole stack on it (REFERENCE §2.3 mpls row).
    ZeroMplsLabel,
}

/// Kernel releases in which a [`Feature`] is present: `[since, before)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kernels {
    /// First release that has it.
    pub since: Option<Version>,
    /// First release that no longer has it.
    pub before: Option<Version>,
}

impl Kernels {
    /// Whether `version` is in the range.
    pub fn contain(self, version: Version) -> bool {
        self.since.is_none_or(|s| version >= s) && self.before.is_none_or(|b| version < b)
    }
}

impl fmt::Display for Kernels {
    /// `5.15+`, `before 6.15`, `5.15 to 6.14`, or `all`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.since, self.before) {
            (None, None) => f.write_str("all"),
            (Some(s), None) => write!(f, "{s}+"),
            (None, Some(b)) => write!(f, "before {b}"),
            (Some(s), Some(b)) => write!(f, "{s} up to {b} (excluded)"),
        }
    }
}

impl Feature {
    /// The releases that have it.
    pub const fn kernels(self) -> Kernels {
        match self {
            Feature::Imix => Kernels {
                since: Some(Version(5, 15)),
                before: None,
            },
            Feature::SharedFlag => Kernels {
                since: Some(Version(6, 7)),
                before: None,
            },
            // Upstream, 6.15 moved get_labels' count check before each label (15 → 16); the
            // fix reached the stable releases Debian ships, and the lab's 5.10.262, 6.1.192,
            // 6.12.117 and 7.2.13 all take 16 labels and refuse a 17th with E2BIG. Older
            // point releases of those series take 15 and answer the 16th with E2BIG, which
            // apply reports and rolls back like any refused write.
            Feature::SixteenMplsLabels => Kernels {
                since: Some(Version(5, 10)),
                before: None,
            },
            Feature::ZeroMplsLabel => Kernels {
                since: None,
                before: Some(Version(6, 15)),
            },
        }
    }

    /// What the feature asks of the kernel, as a sentence start: "imix_weights needs Linux
    /// 5.15 or later".
    pub fn requirement(self) -> String {
        let subject = match self {
            Feature::Imix => "imix_weights needs",
            Feature::SharedFlag => "flag SHARED needs",
            Feature::SixteenMplsLabels => "16 MPLS labels need",
            Feature::ZeroMplsLabel => "an MPLS label of 0 needs",
        };
        let range = match self.kernels() {
            Kernels {
                since: Some(s),
                before: None,
            } => format!("Linux {s} or later"),
            Kernels {
                since: None,
                before: Some(b),
            } => format!("Linux before {b}"),
            k => format!("Linux {k}"),
        };
        let why = match self {
            // Without the reason, "needs an old kernel" reads like a pgstate bug.
            Feature::ZeroMplsLabel => " (from 6.15 a zero label clears the whole stack)",
            _ => "",
        };
        format!("{subject} {range}{why}")
    }
}

/// Behaviour of one kernel version that the planner and the parsers must know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct KernelProfile {
    /// `(major, minor)` of the kernel release.
    pub version: (u32, u32),
}

impl KernelProfile {
    /// Linux 5.10, as Debian 11 ships it.
    pub const LINUX_5_10: KernelProfile = KernelProfile { version: (5, 10) };
    /// Linux 6.1, as Debian 12 ships it.
    pub const LINUX_6_1: KernelProfile = KernelProfile { version: (6, 1) };
    /// Linux 6.12, as Debian 13 (and Debian 12's newer cloud kernel) ships it.
    pub const LINUX_6_12: KernelProfile = KernelProfile { version: (6, 12) };
    /// Linux 7.2, as Debian testing ships it.
    pub const LINUX_7_2: KernelProfile = KernelProfile { version: (7, 2) };

    /// The kernels pgstate supports, oldest first. Offline validation accepts what any of
    /// them accepts, and names the ones that would refuse it.
    pub const SUPPORTED: [KernelProfile; 4] = [
        KernelProfile::LINUX_5_10,
        KernelProfile::LINUX_6_1,
        KernelProfile::LINUX_6_12,
        KernelProfile::LINUX_7_2,
    ];

    /// Profile for a release string such as `6.12.117+deb12-cloud-amd64`.
    pub fn from_release(release: &str) -> Option<KernelProfile> {
        let mut parts = release.split(|c: char| !c.is_ascii_digit());
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        Some(KernelProfile {
            version: (major, minor),
        })
    }

    /// The release as a [`Version`].
    pub fn release(&self) -> Version {
        Version(self.version.0, self.version.1)
    }

    /// Whether this kernel has `feature`.
    pub fn supports(&self, feature: Feature) -> bool {
        feature.kernels().contain(self.release())
    }

    fn at_least(&self, major: u32, minor: u32) -> bool {
        self.version >= (major, minor)
    }

    /// The `SHARED` flag exists and is set on every new device (6.7+, commit 7c7dd1d64910).
    pub fn has_shared_flag(&self) -> bool {
        self.supports(Feature::SharedFlag)
    }

    /// `mpls 0` (and any zero label) clears the label stack (6.15+); before, it stores one
    /// all-zero label.
    pub fn mpls_zero_clears(&self) -> bool {
        !self.supports(Feature::ZeroMplsLabel)
    }

    /// Most MPLS labels `mpls` accepts on a kernel without the 16-label fix (the 16th →
    /// E2BIG).
    pub const MPLS_LABELS_BEFORE_6_15: usize = 15;

    /// Most MPLS labels `mpls` accepts (16 with the fix, see [`Feature::SixteenMplsLabels`]).
    pub fn max_mpls_labels(&self) -> usize {
        if self.supports(Feature::SixteenMplsLabels) {
            16
        } else {
            Self::MPLS_LABELS_BEFORE_6_15
        }
    }

    /// `imix_weights` exists (5.15+).
    pub fn has_imix(&self) -> bool {
        self.supports(Feature::Imix)
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

impl fmt::Display for KernelProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.release().fmt(f)
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

    #[test]
    fn mpls_limits_follow_the_6_15_hardening() {
        assert_eq!(KernelProfile::LINUX_6_12.max_mpls_labels(), 16);
        assert_eq!(KernelProfile::LINUX_7_2.max_mpls_labels(), 16);
        assert!(!KernelProfile::LINUX_6_12.mpls_zero_clears());
        assert!(KernelProfile::LINUX_7_2.mpls_zero_clears());
        assert!(!KernelProfile::LINUX_5_10.has_imix());
    }

    #[test]
    fn requirements_read_as_sentences() {
        assert_eq!(
            Feature::Imix.requirement(),
            "imix_weights needs Linux 5.15 or later"
        );
        assert_eq!(
            Feature::SixteenMplsLabels.requirement(),
            "16 MPLS labels need Linux 5.10 or later"
        );
        assert_eq!(Feature::ZeroMplsLabel.kernels().to_string(), "before 6.15");
    }
}
