//! [`TargetGroup`]: what discovery hands out.

use promlite_model::Labels;

use crate::meta::Pairs;

/// A set of targets from one source, as Prometheus's `targetgroup.Group`.
///
/// Each target is a label set holding at least `__address__`; `labels` apply to every
/// target of the group (a target's own label wins over a group label of the same
/// name). A group with no targets means the source is gone (or, for a pod, has no IP
/// yet): whoever holds targets from this source drops them.
///
/// Labels whose value is empty are left out ([`Labels`] holds no empty values); to
/// relabeling an absent label and an empty one are the same.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetGroup {
    /// Where the group comes from, unique within one discovery: `pod/<ns>/<name>`,
    /// `endpoints/<ns>/<name>`, `endpointslice/<ns>/<name>`.
    pub source: String,
    /// The targets, in the order Prometheus lists them.
    pub targets: Vec<Labels>,
    /// Labels common to every target.
    pub labels: Labels,
}

impl TargetGroup {
    /// A group with no targets and no labels: the source has gone away.
    pub fn empty(source: impl Into<String>) -> TargetGroup {
        TargetGroup {
            source: source.into(),
            targets: Vec::new(),
            labels: Labels::empty(),
        }
    }

    /// Every target with the group labels added under its own (the label set
    /// relabeling starts from).
    pub fn merged_targets(&self) -> Vec<Labels> {
        self.targets
            .iter()
            .map(|t| {
                let mut b = self.labels.builder();
                for l in t.iter() {
                    b.set(l.name.clone(), l.value.clone());
                }
                b.build()
            })
            .collect()
    }
}

/// Label pairs to [`Labels`].
pub(crate) fn labels(pairs: Pairs) -> Labels {
    Labels::from_pairs(pairs)
}
