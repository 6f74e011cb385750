//! The evaluator's series values and the label helpers every family shares:
//! hashing label sets, grouping, transposing points by step, merging series.

use std::hash::{BuildHasher, Hash, Hasher};

use hashbrown::HashMap;
use promlite_model::{Label, Labels, Sample};

use super::engine::{dup_labelset_err, Ctx, Result};

impl Ctx<'_> {
    /// Applies `f` to every value, dropping the metric name.
    pub(super) fn map_series(&self, series: Vec<Series>, f: impl Fn(f64) -> f64) -> Vec<Series> {
        series
            .into_iter()
            .map(|s| {
                let (labels, dn) = self.drop_name(&s.labels);
                Series {
                    labels,
                    drop_name: dn || s.drop_name,
                    pts: s.pts.into_iter().map(|(i, v)| (i, f(v))).collect(),
                }
            })
            .collect()
    }

    pub(super) fn map_series_step(
        &self,
        series: Vec<Series>,
        f: impl Fn(usize, f64) -> Option<f64>,
    ) -> Vec<Series> {
        series
            .into_iter()
            .map(|s| {
                let (labels, dn) = self.drop_name(&s.labels);
                Series {
                    labels,
                    drop_name: dn || s.drop_name,
                    pts: s
                        .pts
                        .into_iter()
                        .filter_map(|(i, v)| f(i as usize, v).map(|x| (i, x)))
                        .collect(),
                }
            })
            .filter(|s| !s.pts.is_empty())
            .collect()
    }
}

/// A series of an instant-vector value: points at step indices, ascending.
#[derive(Debug, Clone)]
pub(super) struct Series {
    pub(super) labels: Labels,
    /// Delayed name removal: `__name__` is to be removed from the final result.
    pub(super) drop_name: bool,
    pub(super) pts: Pts,
}

/// Points of a series: (step index, value); inline for instant queries.
pub(super) type Pts = smallvec::SmallVec<[(u32, f64); 1]>;

/// A series of raw samples (range vectors).
#[derive(Debug, Clone)]
pub(super) struct RawSeries {
    pub(super) labels: Labels,
    pub(super) drop_name: bool,
    pub(super) samples: Vec<Sample>,
}

/// One fixed hasher state per process, so equal label sets hash equally.
pub(super) fn hasher() -> impl Hasher {
    static STATE: std::sync::OnceLock<hashbrown::DefaultHashBuilder> = std::sync::OnceLock::new();
    STATE
        .get_or_init(hashbrown::DefaultHashBuilder::default)
        .build_hasher()
}

/// Hashes a sequence of label pairs into a 64-bit key.
pub(super) fn hash_labels<'l>(it: impl Iterator<Item = &'l Label>) -> u64 {
    let mut h = hasher();
    for l in it {
        l.name.hash(&mut h);
        0xffu8.hash(&mut h);
        l.value.hash(&mut h);
        0xfeu8.hash(&mut h);
    }
    h.finish()
}

/// True when the label sets carry more than one distinct metric name (so that
/// dropping names could make two of them equal).
pub(super) fn has_distinct_names<'l>(mut it: impl Iterator<Item = &'l Labels>) -> bool {
    let Some(first) = it.next() else {
        return false;
    };
    let first = name_arc(first);
    it.any(|l| match (first, name_arc(l)) {
        (None, None) => false,
        (Some(a), Some(b)) => !std::sync::Arc::ptr_eq(a, b) && **a != **b,
        _ => true,
    })
}

/// `name == "__name__"` without a library string comparison.
#[inline]
pub(super) fn is_metric_name(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() == 8
        && u64::from_ne_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
            == u64::from_ne_bytes(*b"__name__")
}

/// The `__name__` value of a label set (a linear scan: it is nearly always first).
#[inline]
pub(super) fn name_arc(labels: &Labels) -> Option<&std::sync::Arc<str>> {
    labels
        .iter()
        .find(|l| is_metric_name(&l.name))
        .map(|l| &l.value)
}

/// Decides per label whether it belongs to an aggregation's group key, caching
/// the answer per label-name pointer (stores intern names, so a handful of
/// pointers cover all series).
pub(super) struct Grouper<'a> {
    pub(super) names: &'a [String],
    pub(super) without: bool,
    /// Direct-mapped cache: slot by pointer bits, (pointer, decision).
    pub(super) cache: [(usize, bool); 64],
}

impl<'a> Grouper<'a> {
    pub(super) fn new(names: &'a [String], without: bool) -> Self {
        Grouper {
            names,
            without,
            cache: [(0, false); 64],
        }
    }

    #[inline]
    pub(super) fn keep(&mut self, l: &Label) -> bool {
        self.keep_name(&l.name)
    }

    #[inline]
    pub(super) fn keep_name(&mut self, name: &std::sync::Arc<str>) -> bool {
        let p = std::sync::Arc::as_ptr(name) as *const u8 as usize;
        let slot = (p >> 4) % 64;
        let (q, k) = self.cache[slot];
        if q == p && p != 0 {
            return k;
        }
        let listed = self.names.iter().any(|n| **n == **name);
        let k = if self.without {
            !listed && !is_metric_name(name)
        } else {
            listed
        };
        self.cache[slot] = (p, k);
        k
    }

    pub(super) fn hash(&mut self, labels: &Labels) -> u64 {
        let mut h = hasher();
        for l in labels.iter() {
            if self.keep(l) {
                l.name.hash(&mut h);
                0xffu8.hash(&mut h);
                l.value.hash(&mut h);
                0xfeu8.hash(&mut h);
            }
        }
        h.finish()
    }

    pub(super) fn labels(&mut self, labels: &Labels) -> Labels {
        labels.filter(|l| self.keep(l))
    }
}

/// Transposes series-major points into per-step lists of (series index, value).
pub(super) fn by_step(series: &[Series], n: usize) -> Vec<Vec<(u32, f64)>> {
    // Count first so every step's list is allocated once.
    let mut counts = vec![0usize; n];
    for s in series {
        for &(i, _) in &s.pts {
            counts[i as usize] += 1;
        }
    }
    let mut out: Vec<Vec<(u32, f64)>> = counts.into_iter().map(Vec::with_capacity).collect();
    for (si, s) in series.iter().enumerate() {
        for &(i, v) in &s.pts {
            out[i as usize].push((si as u32, v));
        }
    }
    out
}

/// Merges series with equal labels when their points never share a step;
/// errors when they do (step-wise evaluation, §12).
pub(super) fn merge_same_labels(series: Vec<Series>) -> Result<Vec<Series>> {
    if series.len() < 2 {
        return Ok(series);
    }
    let mut idx: HashMap<Labels, usize> = HashMap::with_capacity(series.len());
    let mut out: Vec<Series> = Vec::with_capacity(series.len());
    let mut dup = false;
    for s in series {
        match idx.get(&s.labels) {
            Some(&o) => {
                dup = true;
                out[o].pts.extend(s.pts);
                out[o].drop_name |= s.drop_name;
            }
            None => {
                idx.insert(s.labels.clone(), out.len());
                out.push(s);
            }
        }
    }
    if dup {
        for s in &mut out {
            s.pts.sort_by_key(|p| p.0);
            if s.pts.windows(2).any(|w| w[0].0 == w[1].0) {
                return Err(dup_labelset_err());
            }
        }
    }
    Ok(out)
}

/// Like [`merge_same_labels`] but keeps the first value on a shared step.
pub(super) fn merge_lenient(series: Vec<Series>) -> Vec<Series> {
    let mut idx: HashMap<Labels, usize> = HashMap::with_capacity(series.len());
    let mut out: Vec<Series> = Vec::with_capacity(series.len());
    let mut dup = false;
    for s in series {
        match idx.get(&s.labels) {
            Some(&o) => {
                dup = true;
                out[o].pts.extend(s.pts);
            }
            None => {
                idx.insert(s.labels.clone(), out.len());
                out.push(s);
            }
        }
    }
    if dup {
        for s in &mut out {
            s.pts.sort_by_key(|p| p.0);
            s.pts.dedup_by_key(|p| p.0);
        }
    }
    out
}
