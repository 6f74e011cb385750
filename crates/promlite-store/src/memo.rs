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
//! A body label that a target label overrides keeps the target's value
//! whatever it says. Lines the memo cannot describe exactly (an empty value,
//! which drops the label) take the general path and leave the memo empty until
//! the next line it can describe.

use std::borrow::Cow;

use promlite_model::{Labels, METRIC_NAME};

use crate::labels::LabelVec;

/// `pos` of a body label overridden by a target label.
const OVERRIDDEN: u8 = u8::MAX;

/// See the module docs.
#[derive(Debug, Default)]
pub(crate) struct Memo<'b> {
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
}

/// What [`Memo::apply`] needs from the stager for a changed value.
pub(crate) trait Resolve {
    /// The pair ref of (name, value); value already normalized.
    fn resolve(&mut self, name: &str, value: &str) -> u32;
    /// Whether a changed value is acceptable without the general path's checks.
    fn plain_value(&self, value: &str) -> bool;
}

impl<'b> Memo<'b> {
    /// Fills `out` with the sorted pair refs of the line whose labels are
    /// `name` then `labels` (written order), if the memo describes it; returns
    /// false (and leaves `out` unspecified) otherwise.
    pub(crate) fn apply(
        &mut self,
        name: Cow<'b, str>,
        labels: impl Iterator<Item = (Cow<'b, str>, Cow<'b, str>)>,
        norm: Option<&'static str>,
        resolve: &mut impl Resolve,
        out: &mut smallvec::SmallVec<[u32; 16]>,
    ) -> bool {
        if !self.valid || self.norm != norm {
            return false;
        }
        out.clear();
        out.extend_from_slice(&self.sorted);
        let mut count = 0;
        for (n, v) in std::iter::once((Cow::Borrowed(METRIC_NAME), name)).chain(labels) {
            let j = count;
            count += 1;
            if j >= self.names.len() || self.names[j] != n {
                return false;
            }
            let p = self.pos[j];
            if p == OVERRIDDEN {
                continue;
            }
            if self.raws[j] != v {
                if !resolve.plain_value(&v) {
                    return false;
                }
                let r = if norm == Some(&*n) {
                    resolve.resolve(&n, &crate::labels::normalize_float(v.clone()))
                } else {
                    resolve.resolve(&n, &v)
                };
                self.raws[j] = v;
                self.refs[j] = r;
            }
            out[usize::from(p)] = self.refs[j];
        }
        count == self.names.len()
    }

    /// Remembers a line that took the general path: `lv` its sorted labels
    /// (from `labels::build_into`), `refs` their pair refs, `extra` the target's
    /// labels.
    pub(crate) fn record(
        &mut self,
        name: Cow<'b, str>,
        labels: impl Iterator<Item = (Cow<'b, str>, Cow<'b, str>)>,
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
        for (n, v) in std::iter::once((Cow::Borrowed(METRIC_NAME), name)).chain(labels) {
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
        self.valid = true;
    }
}
