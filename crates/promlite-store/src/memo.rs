//! The previous new series' labels, for the next cache miss of a scrape.
//!
//! A target's first scrape is all cache misses, and consecutive lines of a
//! scrape differ in few labels: buckets of one histogram differ only in `le`,
//! series of one family only in a name or two; `instance`, `pod`, `job` and
//! the like repeat on every line. So a miss whose label *names* are, in written
//! order, those of the previous miss reuses that line's work: its pair id for
//! every value that is the same, its placement of each label in the sorted set
//! (same names in the same order give the same sort and the same merge with
//! the target's labels), and its validation of names (duplicates, count,
//! lengths). Only changed values are normalized, checked and interned.
//!
//! Two layouts are remembered, since histogram buckets (with `le`) and their
//! `_sum` and `_count` (without) alternate. A body label that a target label
//! overrides keeps the target's value whatever it says. Lines the memo cannot
//! describe exactly (an empty value, which drops the label) take the general
//! path and are not remembered.

use std::borrow::Cow;

use promlite_expfmt::{common_prefix, SampleEvent};
use promlite_model::{Labels, METRIC_NAME};

use crate::labels::LabelVec;

/// `pos` of a body label overridden by a target label.
const OVERRIDDEN: u8 = u8::MAX;

/// The last two label layouts seen (histogram buckets and their `_sum` and
/// `_count` alternate between two), most recently used first.
#[derive(Debug, Default)]
pub(crate) struct Memo<'b> {
    slots: [Slot<'b>; 2],
    norms: NormCache<'b>,
}

/// Pair refs of recent values of a normalized label, by raw value: a
/// histogram's buckets differ in `le` only, from a handful of values that
/// every histogram repeats, and normalizing and resolving one costs more than
/// finding it here.
#[derive(Debug, Default)]
struct NormCache<'b> {
    /// (label name, raw value, pair ref).
    entries: Vec<(&'static str, Cow<'b, str>, u32)>,
    /// The entry replaced next once full.
    next: usize,
}

/// Values kept per normalized label (Prometheus' default buckets are 11 and
/// kube-controller-manager's workqueue histograms have 12, plus `+Inf`).
const NORM_CACHE: usize = 32;

impl<'b> NormCache<'b> {
    /// The pair ref of (`name`, `raw`) with the value normalized.
    #[inline]
    fn resolve(
        &mut self,
        name: &'static str,
        raw: Cow<'b, str>,
        resolve: &mut impl Resolve,
    ) -> u32 {
        if let Some(e) = self
            .entries
            .iter()
            .find(|e| same_text(&e.1, &raw) && e.0 == name)
        {
            return e.2;
        }
        let r = resolve.resolve(name, &crate::labels::normalize_float(raw.clone()));
        let e = (name, raw, r);
        if self.entries.len() < NORM_CACHE {
            self.entries.push(e);
        } else {
            self.entries[self.next] = e;
            self.next = (self.next + 1) % NORM_CACHE;
        }
        r
    }
}

/// One remembered line.
#[derive(Debug, Default)]
struct Slot<'b> {
    valid: bool,
    /// The label whose values were normalized (`le`, `quantile`), if any.
    norm: Option<&'static str>,
    /// Written order, `__name__` first: names, raw values (before
    /// normalization), pair refs, and positions in the sorted set.
    names: Vec<Cow<'b, str>>,
    raws: Vec<Cow<'b, str>>,
    refs: Vec<u32>,
    pos: Vec<u8>,
    /// The sorted pair refs of the line, target labels included.
    sorted: Vec<u32>,
    /// The line's series bytes, and where its label block starts.
    bytes: &'b [u8],
    block: usize,
}

/// `a == b` for the short names and values a memo compares (see
/// [`same`](crate::cache::same)).
#[inline(always)]
fn same_text(a: &str, b: &str) -> bool {
    crate::cache::same(a.as_bytes(), b.as_bytes())
}

/// Whether two normalized labels (static names) are the same.
#[inline]
fn same_label(a: Option<&'static str>, b: Option<&'static str>) -> bool {
    match (a, b) {
        (Some(x), Some(y)) => std::ptr::eq(x, y) || x == y,
        (x, y) => x.is_none() && y.is_none(),
    }
}

/// What [`Memo::apply`] needs from the stager for a changed value.
pub(crate) trait Resolve {
    /// The pair ref of (name, value); value already normalized.
    fn resolve(&mut self, name: &str, value: &str) -> u32;
    /// Whether a changed value is acceptable without the general path's checks.
    fn plain_value(&self, value: &str) -> bool;
}

impl<'b> Memo<'b> {
    /// Fills `out` with the sorted pair refs of sample `s` (named `name`), if
    /// a remembered line describes it; returns false (and leaves `out`
    /// unspecified) otherwise. Pairs in the bytes `s` shares with that line
    /// are taken as they are, without decoding them.
    pub(crate) fn apply(
        &mut self,
        s: &SampleEvent<'b>,
        name: Cow<'b, str>,
        norm: Option<&'static str>,
        resolve: &mut impl Resolve,
        out: &mut smallvec::SmallVec<[u32; 16]>,
    ) -> bool {
        if self.slots[0].apply(s, name.clone(), norm, &mut self.norms, resolve, out) {
            return true;
        }
        if self.slots[1].apply(s, name, norm, &mut self.norms, resolve, out) {
            self.slots.swap(0, 1);
            return true;
        }
        false
    }

    /// Remembers a line that took the general path (see [`Slot::record`]),
    /// in place of the least recently used one.
    pub(crate) fn record(
        &mut self,
        s: &SampleEvent<'b>,
        name: Cow<'b, str>,
        norm: Option<&'static str>,
        lv: &LabelVec<'b>,
        refs: &[u32],
        extra: &Labels,
    ) {
        self.slots.swap(0, 1);
        self.slots[0].record(s, name, norm, lv, refs, extra);
    }
}

impl<'b> Slot<'b> {
    /// [`Memo::apply`] for this line. Changes nothing unless it succeeds.
    fn apply(
        &mut self,
        s: &SampleEvent<'b>,
        name: Cow<'b, str>,
        norm: Option<&'static str>,
        norms: &mut NormCache<'b>,
        resolve: &mut impl Resolve,
        out: &mut smallvec::SmallVec<[u32; 16]>,
    ) -> bool {
        if !self.valid {
            return false;
        }
        let bytes = s.series_bytes();
        // Another family may normalize another label (or none): then the
        // values of the labels named either way are resolved again, and no
        // pair is skipped.
        let norm_changed = !same_label(self.norm, norm);
        // Label pairs are compared from their start, so that a new metric
        // name with the same labels (`x_sum`, then `x_count`) still skips them.
        let b = s.labels_offset();
        let skip_to = if norm_changed {
            0
        } else {
            match s.previous_shared() {
                // The parser compared the blocks already (same bytes, same
                // offset of the pairs).
                Some((prev, shared)) if std::ptr::eq(prev, self.bytes) => b + shared,
                _ => b + common_prefix(&bytes[b..], &self.bytes[self.block..]),
            }
        };
        let (skipped, rest) = s.labels_skipping(skip_to);
        if 1 + skipped > self.names.len() {
            return false;
        }
        // First check that the names are the remembered ones and note the
        // values that changed; only then resolve them and update the slot.
        let mut changed: smallvec::SmallVec<[(usize, Cow<'b, str>); 4]> = smallvec::SmallVec::new();
        // Place 0 is the metric name (`names[0]` is `__name__`); the line's
        // label pairs from `skipped` on take places `skipped + 1` on.
        // (A normalized label is `le` or `quantile`, never the name.)
        if self.pos[0] != OVERRIDDEN && !same_text(&self.raws[0], &name) {
            if !resolve.plain_value(&name) {
                return false;
            }
            changed.push((0, name));
        }
        let mut j = skipped;
        for (n, v) in rest {
            j += 1;
            match self.names.get(j) {
                Some(m) if same_text(m, &n) => {}
                _ => return false,
            }
            if self.pos[j] == OVERRIDDEN {
                continue;
            }
            let renorm = norm_changed && (self.norm == Some(&*n) || norm == Some(&*n));
            if renorm || !same_text(&self.raws[j], &v) {
                if !resolve.plain_value(&v) {
                    return false;
                }
                changed.push((j, v));
            }
        }
        if j + 1 != self.names.len() {
            return false;
        }
        // `sorted` holds `refs` in label-name order: only changed places
        // move (an overridden label never changes).
        for (j, v) in changed {
            let n = &self.names[j];
            let r = match norm {
                Some(l) if l == &**n => norms.resolve(l, v.clone(), resolve),
                _ => resolve.resolve(n, &v),
            };
            self.refs[j] = r;
            self.sorted[usize::from(self.pos[j])] = r;
            self.raws[j] = v;
        }
        out.clear();
        out.extend_from_slice(&self.sorted);
        self.bytes = bytes;
        self.block = b;
        self.norm = norm;
        true
    }

    /// Remembers a line that took the general path: `lv` its sorted labels
    /// (from `labels::build_into`), `refs` their pair refs, `extra` the target's
    /// labels.
    fn record(
        &mut self,
        s: &SampleEvent<'b>,
        name: Cow<'b, str>,
        norm: Option<&'static str>,
        lv: &LabelVec<'b>,
        refs: &[u32],
        extra: &Labels,
    ) {
        self.valid = false;
        self.names.clear();
        self.raws.clear();
        self.refs.clear();
        self.pos.clear();
        for (n, v) in std::iter::once((Cow::Borrowed(METRIC_NAME), name)).chain(s.labels()) {
            if extra.get(&n).is_some() {
                self.names.push(n);
                self.raws.push(v);
                self.refs.push(0);
                self.pos.push(OVERRIDDEN);
                continue;
            }
            if v.is_empty() {
                return;
            }
            let Ok(k) = lv.binary_search_by(|x| (*x.0).cmp(&*n)) else {
                return;
            };
            let Some(k8) = u8::try_from(k).ok().filter(|&k| k != OVERRIDDEN) else {
                return;
            };
            self.names.push(n);
            self.raws.push(v);
            self.refs.push(refs[k]);
            self.pos.push(k8);
        }
        self.sorted.clear();
        self.sorted.extend_from_slice(refs);
        self.norm = norm;
        self.bytes = s.series_bytes();
        self.block = s.labels_offset();
        self.valid = true;
    }
}

#[cfg(test)]
mod tests {
    proptest::proptest! {
        #[test]
        fn same_text_is_equality(
            a in proptest::collection::vec(0u8..4, 0..20),
            flip in 0usize..1000,
        ) {
            // Every length from 0 to 19 (each branch of `same_text`), one
            // byte changed anywhere in the string.
            let a: String = a.iter().map(|&c| char::from(b'a' + c)).collect();
            let mut b = a.clone().into_bytes();
            let n = b.len().max(1);
            if let Some(x) = b.get_mut(flip % n) {
                *x = b'z';
            }
            let b = String::from_utf8(b).unwrap_or_default();
            proptest::prop_assert_eq!(super::same_text(&a, &b), a == b);
            proptest::prop_assert!(super::same_text(&a, &a));
            let shorter = &a[..a.len().saturating_sub(1)];
            proptest::prop_assert_eq!(super::same_text(&a, shorter), a == shorter);
        }
    }
}
