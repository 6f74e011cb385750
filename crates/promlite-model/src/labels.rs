//! Label sets: sorted, unique names, no empty values — Prometheus's series identity.

use std::fmt;
use std::sync::Arc;

/// The reserved label name holding the metric name.
pub const METRIC_NAME: &str = "__name__";

/// One label pair. Names and values are shared strings, so copies are cheap and a
/// string interned by the store is shared by every result that carries it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Label {
    /// The label name.
    pub name: Arc<str>,
    /// The label value (never empty inside a [`Labels`]).
    pub value: Arc<str>,
}

impl Label {
    /// Creates a label pair.
    pub fn new(name: impl Into<Arc<str>>, value: impl Into<Arc<str>>) -> Self {
        Label {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// A label set: sorted by name, names unique, no empty values. Cloning is an
/// atomic reference count increment.
///
/// Ordering compares label by label (name, then value), as Prometheus's
/// `labels.Compare` does, so sorting results by `Labels` gives Prometheus's order.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Labels(Arc<[Label]>);

impl Labels {
    /// The empty label set.
    pub fn empty() -> Self {
        Labels(Arc::from(Vec::new()))
    }

    /// Builds a label set from pairs in any order. Pairs with an empty value are
    /// dropped; when a name repeats, the last pair wins.
    pub fn from_pairs<N, V, I>(pairs: I) -> Self
    where
        N: Into<Arc<str>>,
        V: Into<Arc<str>>,
        I: IntoIterator<Item = (N, V)>,
    {
        Self::from_labels(pairs.into_iter().map(|(n, v)| Label::new(n, v)).collect())
    }

    /// Builds a label set from labels in any order, with the rules of [`Labels::from_pairs`].
    pub fn from_labels(mut v: Vec<Label>) -> Self {
        // Stable sort keeps input order among equal names, so "last wins" below.
        v.sort_by(|a, b| a.name.cmp(&b.name));
        let mut out: Vec<Label> = Vec::with_capacity(v.len());
        for l in v {
            match out.last_mut() {
                Some(prev) if prev.name == l.name => *prev = l,
                _ => out.push(l),
            }
        }
        out.retain(|l| !l.value.is_empty());
        Labels(Arc::from(out))
    }

    /// Wraps labels that the caller guarantees are sorted by name, unique and
    /// non-empty. Debug builds check it.
    pub fn from_sorted(v: Vec<Label>) -> Self {
        debug_assert!(
            v.windows(2).all(|w| w[0].name < w[1].name),
            "labels not sorted/unique"
        );
        debug_assert!(v.iter().all(|l| !l.value.is_empty()), "empty label value");
        Labels(Arc::from(v))
    }

    /// Builds a label set from borrowed pairs that are sorted by name, unique and
    /// non-empty (as a store lends them through
    /// [`Queryable::select_each`](crate::Queryable::select_each)), keeping those for
    /// which `keep(name)` is true. One allocation; the strings are shared.
    pub fn from_pair_refs(
        pairs: &[crate::PairRef<'_>],
        mut keep: impl FnMut(&Arc<str>) -> bool,
    ) -> Self {
        let label = |&(n, v): &crate::PairRef<'_>| Label {
            name: n.clone(),
            value: v.clone(),
        };
        let Some((kept, k)) = kept_indices(pairs, |(n, _)| keep(n)) else {
            let v: Vec<Label> = pairs.iter().filter(|(n, _)| keep(n)).map(label).collect();
            return Self::from_sorted(v);
        };
        if k == pairs.len() {
            return Self::from_sorted_iter(pairs.iter().map(label));
        }
        Self::from_sorted_iter(kept[..k].iter().map(|&i| label(&pairs[usize::from(i)])))
    }

    /// Like [`Labels::from_sorted`], from an exact-size iterator: one allocation, no
    /// intermediate `Vec` (the store builds every selected series' labels this way).
    pub fn from_sorted_iter<I>(labels: I) -> Self
    where
        I: IntoIterator<Item = Label>,
        I::IntoIter: ExactSizeIterator,
    {
        let arc: Arc<[Label]> = labels.into_iter().collect();
        debug_assert!(
            arc.windows(2).all(|w| w[0].name < w[1].name),
            "labels not sorted/unique"
        );
        debug_assert!(arc.iter().all(|l| !l.value.is_empty()), "empty label value");
        Labels(arc)
    }

    /// The value of label `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|l| (*l.name).cmp(name))
            .ok()
            .map(|i| &*self.0[i].value)
    }

    /// The shared value string of label `name`, if present.
    pub fn get_arc(&self, name: &str) -> Option<&Arc<str>> {
        self.0
            .binary_search_by(|l| (*l.name).cmp(name))
            .ok()
            .map(|i| &self.0[i].value)
    }

    /// True when the set has a label `name`.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The metric name (`__name__`), if any.
    pub fn metric_name(&self) -> Option<&str> {
        self.get(METRIC_NAME)
    }

    /// The labels in name order.
    pub fn iter(&self) -> std::slice::Iter<'_, Label> {
        self.0.iter()
    }

    /// The labels as a slice, in name order.
    pub fn as_slice(&self) -> &[Label] {
        &self.0
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True for the empty set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// This set without `__name__`. Returns a cheap clone when there is no name.
    pub fn without_metric_name(&self) -> Labels {
        if self.has(METRIC_NAME) {
            self.filter(|l| &*l.name != METRIC_NAME)
        } else {
            self.clone()
        }
    }

    /// Keeps only the labels for which `keep` returns true.
    pub fn filter(&self, mut keep: impl FnMut(&Label) -> bool) -> Labels {
        let Some((kept, k)) = kept_indices(&self.0, &mut keep) else {
            return Labels(self.0.iter().filter(|l| keep(l)).cloned().collect());
        };
        // Keeping everything shares this set (no allocation).
        if k == self.0.len() {
            return self.clone();
        }
        Labels(
            kept[..k]
                .iter()
                .map(|&i| self.0[usize::from(i)].clone())
                .collect(),
        )
    }

    /// Keeps only the labels whose names are in `names` (`by (...)` grouping).
    pub fn keep_only<S: AsRef<str>>(&self, names: &[S]) -> Labels {
        self.filter(|l| names.iter().any(|n| n.as_ref() == &*l.name))
    }

    /// Drops the labels whose names are in `names` (`without (...)` grouping).
    pub fn drop_names<S: AsRef<str>>(&self, names: &[S]) -> Labels {
        self.filter(|l| !names.iter().any(|n| n.as_ref() == &*l.name))
    }

    /// A builder starting from this set, for set/delete edits.
    pub fn builder(&self) -> LabelsBuilder {
        LabelsBuilder {
            labels: self.0.to_vec(),
        }
    }
}

impl fmt::Debug for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Prints as PromQL would write the series: `name{a="b", c="d"}`, with label values
/// escaped like Go's `strconv.Quote`. A set without a name prints as `{a="b"}`.
impl fmt::Display for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.metric_name();
        if let Some(n) = name {
            f.write_str(n)?;
        }
        let mut first = true;
        let rest = self.0.iter().filter(|l| &*l.name != METRIC_NAME);
        let mut any = false;
        for l in rest {
            if first {
                f.write_str("{")?;
                first = false;
            } else {
                f.write_str(", ")?;
            }
            any = true;
            write!(f, "{}={}", l.name, QuotedStr(&l.value))?;
        }
        if any {
            f.write_str("}")
        } else if name.is_none() {
            f.write_str("{}")
        } else {
            Ok(())
        }
    }
}

/// Writes a string in double quotes, escaped like Go's `strconv.Quote` for the
/// characters that occur in label values.
pub(crate) struct QuotedStr<'a>(pub &'a str);

impl fmt::Display for QuotedStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        for c in self.0.chars() {
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                c if (c as u32) < 0x20 || c as u32 == 0x7f => write!(f, "\\x{:02x}", c as u32)?,
                c => write!(f, "{c}")?,
            }
        }
        f.write_str("\"")
    }
}

impl<'a> IntoIterator for &'a Labels {
    type Item = &'a Label;
    type IntoIter = std::slice::Iter<'a, Label>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Edits a label set: set and delete labels, then [`build`](LabelsBuilder::build).
#[derive(Debug, Clone, Default)]
pub struct LabelsBuilder {
    labels: Vec<Label>,
}

impl LabelsBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `name` to `value`; an empty value deletes the label, as in Prometheus.
    pub fn set(&mut self, name: impl Into<Arc<str>>, value: impl Into<Arc<str>>) -> &mut Self {
        let name = name.into();
        let value = value.into();
        match self.labels.iter().position(|l| l.name == name) {
            Some(i) if value.is_empty() => {
                self.labels.remove(i);
            }
            Some(i) => self.labels[i].value = value,
            None if value.is_empty() => {}
            None => self.labels.push(Label { name, value }),
        }
        self
    }

    /// Deletes label `name` if present.
    pub fn del(&mut self, name: &str) -> &mut Self {
        self.labels.retain(|l| &*l.name != name);
        self
    }

    /// The value of `name` in the builder's current state.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|l| &*l.name == name)
            .map(|l| &*l.value)
    }

    /// The finished, sorted label set.
    pub fn build(&self) -> Labels {
        let mut v = self.labels.clone();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        Labels(Arc::from(v))
    }
}

/// The indices, in order, of the items `keep` accepts, for slices of at most 64
/// items (`None` for longer ones). Deciding first lets the callers build the new
/// shared slice from a slice iterator, which std collects straight into one
/// allocation (a filtering iterator would go through a `Vec` and a copy).
fn kept_indices<T>(items: &[T], mut keep: impl FnMut(&T) -> bool) -> Option<([u8; 64], usize)> {
    if items.len() > 64 {
        return None;
    }
    let mut kept = [0u8; 64];
    let mut k = 0usize;
    for (i, x) in items.iter().enumerate() {
        if keep(x) {
            kept[k] = i as u8;
            k += 1;
        }
    }
    Some((kept, k))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_pairs_sorts_drops_empty_and_keeps_last_duplicate() {
        let ls = Labels::from_pairs([("b", "1"), ("a", "x"), ("c", ""), ("b", "2")]);
        let got: Vec<(&str, &str)> = ls.iter().map(|l| (&*l.name, &*l.value)).collect();
        assert_eq!(got, vec![("a", "x"), ("b", "2")]);
    }

    #[test]
    fn ordering_is_label_by_label_like_prometheus() {
        // labels.Compare: {a="1"} < {a="1", b="1"} < {a="2"}
        let x = Labels::from_pairs([("a", "1")]);
        let y = Labels::from_pairs([("a", "1"), ("b", "1")]);
        let z = Labels::from_pairs([("a", "2")]);
        assert!(x < y && y < z);
    }

    #[test]
    fn display_quotes_and_escapes_values() {
        let ls = Labels::from_pairs([("__name__", "m"), ("path", "a\"b\\c\nd")]);
        assert_eq!(ls.to_string(), r#"m{path="a\"b\\c\nd"}"#);
        assert_eq!(Labels::empty().to_string(), "{}");
        assert_eq!(Labels::from_pairs([("__name__", "up")]).to_string(), "up");
    }

    #[test]
    fn builder_set_empty_deletes() {
        let ls = Labels::from_pairs([("a", "1"), ("b", "2")]);
        let mut b = ls.builder();
        b.set("a", "").set("c", "3");
        assert_eq!(b.build(), Labels::from_pairs([("b", "2"), ("c", "3")]));
    }

    #[test]
    fn grouping_helpers() {
        let ls = Labels::from_pairs([("__name__", "m"), ("a", "1"), ("b", "2")]);
        assert_eq!(ls.keep_only(&["a"]), Labels::from_pairs([("a", "1")]));
        assert_eq!(
            ls.drop_names(&["a"]),
            Labels::from_pairs([("__name__", "m"), ("b", "2")])
        );
        assert_eq!(
            ls.without_metric_name(),
            Labels::from_pairs([("a", "1"), ("b", "2")])
        );
    }
}
