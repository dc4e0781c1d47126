//! What a plan was agreed against, so that what is carried out later is exactly it: each
//! target's live state as `pgstate show` prints it and the writes planned. A saved plan
//! (`plan --out`, `apply PLAN`) and `destroy`'s question both hold the apply to it: a box
//! that changed meanwhile, or a pgstate that would plan other writes, is refused before any
//! write.

use crate::kernel::KernelProfile;
use crate::model::{LiveState, NamespaceName};
use crate::procfs::Procfs;
use crate::state_file::state_file_from_live;

use super::{OpenTarget, Planned};

/// One target's part of what was agreed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AgreedTarget {
    /// Its namespace; `null` for the one pgstate runs in.
    pub namespace: Option<NamespaceName>,
    /// The live state the plan was made against, as `pgstate show` prints it.
    pub live: String,
    /// The writes, as `file <- command`.
    pub writes: Vec<String>,
}

/// Why a plan agreed earlier is not the one that would be carried out now.
#[derive(Debug, thiserror::Error)]
pub enum Disagreement {
    /// The state's namespaces are not those the plan was made for.
    #[error("the saved plan's namespaces are not the state's; run `pgstate plan` again")]
    Namespaces,
    /// A target's live state changed.
    #[error("the live state{} has changed since this plan was made; run `pgstate plan` again\n{diff}", at(.namespace.as_ref(), *.several))]
    LiveChanged {
        /// Which target.
        namespace: Option<NamespaceName>,
        /// Whether the state has several targets (the message then names this one).
        several: bool,
        /// A unified diff, then → now.
        diff: String,
    },
    /// This pgstate plans other writes for the same state and box.
    #[error("this version of pgstate plans different writes{} for the saved state files; run `pgstate plan` again", at(.namespace.as_ref(), *.several))]
    OtherWrites {
        /// Which target.
        namespace: Option<NamespaceName>,
        /// Whether the state has several targets.
        several: bool,
    },
}

/// ` (namespace h1)`, ` (this namespace)` among several, nothing for a single box.
fn at(namespace: Option<&NamespaceName>, several: bool) -> String {
    match (namespace, several) {
        (Some(n), _) => format!(" (namespace {n})"),
        (None, true) => " (this namespace)".to_owned(),
        (None, false) => String::new(),
    }
}

/// The live state as `pgstate show` prints it.
///
/// # Errors
///
/// When it cannot be written as YAML.
pub fn live_text(live: &LiveState, procfs: &dyn Procfs) -> Result<String, serde_yaml::Error> {
    let profile = procfs
        .kernel_release()
        .and_then(|r| KernelProfile::from_release(&r))
        .unwrap_or_default();
    serde_yaml::to_string(&state_file_from_live(live, &profile))
}

/// What `planned`, the plans of `targets`, were made against.
///
/// # Errors
///
/// When a live state cannot be written as YAML.
pub fn record(
    targets: &[OpenTarget],
    planned: &[Planned],
) -> Result<Vec<AgreedTarget>, serde_yaml::Error> {
    targets
        .iter()
        .zip(planned)
        .map(|(t, p)| {
            Ok(AgreedTarget {
                namespace: t.place().name().cloned(),
                live: live_text(&p.live, &*t.procfs)?,
                writes: p
                    .plan
                    .writes
                    .iter()
                    .map(crate::plan::Write::render)
                    .collect(),
            })
        })
        .collect()
}

/// Whether `now` (what planning again recorded) is what was agreed.
///
/// # Errors
///
/// The first difference.
pub fn check(agreed: &[AgreedTarget], now: &[AgreedTarget]) -> Result<(), Disagreement> {
    let names = |t: &[AgreedTarget]| t.iter().map(|t| t.namespace.clone()).collect::<Vec<_>>();
    if names(agreed) != names(now) {
        return Err(Disagreement::Namespaces);
    }
    let several = now.len() > 1;
    for (then, now) in agreed.iter().zip(now) {
        if now.live != then.live {
            let diff = similar::TextDiff::from_lines(then.live.as_str(), now.live.as_str())
                .unified_diff()
                .header("live when planned", "live now")
                .to_string();
            return Err(Disagreement::LiveChanged {
                namespace: now.namespace.clone(),
                several,
                diff,
            });
        }
        if now.writes != then.writes {
            return Err(Disagreement::OtherWrites {
                namespace: now.namespace.clone(),
                several,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(ns: Option<&str>, live: &str, writes: &[&str]) -> AgreedTarget {
        AgreedTarget {
            namespace: ns.map(|n| NamespaceName::new(n).unwrap()),
            live: live.into(),
            writes: writes.iter().map(|w| (*w).to_owned()).collect(),
        }
    }

    #[test]
    fn only_the_same_boxes_and_writes_agree() {
        let then = [
            target(Some("h1"), "devices: {}\n", &["a"]),
            target(Some("h2"), "devices: {}\n", &["b"]),
        ];
        assert!(check(&then, &then).is_ok());
        let changed = [
            then[0].clone(),
            target(Some("h2"), "devices: {x: {}}\n", &["b"]),
        ];
        let e = check(&then, &changed).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("the live state (namespace h2) has changed"),
            "{e}"
        );
        assert!(e.to_string().contains("+devices: {x: {}}"), "{e}");
        let other = [then[0].clone(), target(Some("h2"), "devices: {}\n", &["c"])];
        assert!(matches!(
            check(&then, &other),
            Err(Disagreement::OtherWrites { .. })
        ));
        assert!(matches!(
            check(&then, &then[..1]),
            Err(Disagreement::Namespaces)
        ));
        // A single box names no namespace.
        let one = [target(None, "a\n", &[])];
        let e = check(&one, &[target(None, "b\n", &[])]).unwrap_err();
        assert!(
            e.to_string().starts_with("the live state has changed"),
            "{e}"
        );
    }
}
