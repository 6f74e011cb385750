//! Classic-histogram functions over `le` buckets: `histogram_quantile` (with a
//! fused path for `sum by (..., le)`), `histogram_fraction`, and the native-only
//! functions that see no native histograms.

use std::hash::{Hash, Hasher};

use hashbrown::HashMap;
use promlite_model::{parse_go_float, Labels, METRIC_NAME};

use super::annotations::Annotation;
use super::engine::{not_in_family, unwrap_parens, Ctx, Grid, Result, V};
use super::functions as f;
use super::series::{
    by_step, has_distinct_names, hash_labels, hasher, merge_same_labels, Grouper, Pts, Series,
};
use crate::parser::ast::{AggregateExpr, AggregateOp, Call, ExprKind, Span};
use crate::parser::functions::FunctionId;

impl Ctx<'_> {
    /// The classic-histogram functions (`le` buckets); the native-histogram ones
    /// see no native histograms and answer nothing.
    pub(super) fn eval_histogram_call(&mut self, c: &Call, g: Grid) -> Result<V> {
        use FunctionId as F;
        let args = &c.args;
        match c.func.id {
            F::HistogramQuantile => {
                let q = self.eval_scalar(&args[0], g)?;
                if let ExprKind::Aggregate(a) = &unwrap_parens(&args[1]).kind {
                    let fusable = a.op == AggregateOp::Sum
                        && !a.without
                        && a.param.is_none()
                        && a.grouping.iter().any(|l| l == "le")
                        && !a.grouping.iter().any(|l| l == METRIC_NAME);
                    if fusable {
                        self.check_quantiles(&q, args[0].span);
                        return self.quantile_of_sum_by_le(&q, a, args[1].span, g);
                    }
                }
                let s = self.eval_vector(&args[1], g)?;
                self.check_quantiles(&q, args[0].span);
                self.histogram_buckets(s, g, args[1].span, |i, bs| {
                    let r = f::bucket_quantile(q[i], bs);
                    (r.value, r.forced_monotonic, r.missing_inf)
                })
            }
            F::HistogramFraction => {
                let lo = self.eval_scalar(&args[0], g)?;
                let hi = self.eval_scalar(&args[1], g)?;
                let s = self.eval_vector(&args[2], g)?;
                self.histogram_buckets(s, g, args[2].span, |i, bs| {
                    (f::bucket_fraction(lo[i], hi[i], bs), false, false)
                })
            }
            F::HistogramCount
            | F::HistogramSum
            | F::HistogramAvg
            | F::HistogramStddev
            | F::HistogramStdvar => {
                // Native histograms only; float samples are ignored.
                let _ = self.eval_vector(&args[0], g)?;
                Ok(V::Vector(Vec::new()))
            }
            _ => Err(not_in_family(c)),
        }
    }

    #[allow(clippy::type_complexity)]
    pub(super) fn histogram_buckets(
        &mut self,
        s: Vec<Series>,
        g: Grid,
        arg_span: Span,
        compute: impl Fn(usize, &mut Vec<f::Bucket>) -> (f64, bool, bool),
    ) -> Result<V> {
        // Group by all labels except `le` (name included), once per series.
        let mut groups: HashMap<u64, usize> = HashMap::new();
        let mut group_labels: Vec<(Labels, bool, String)> = Vec::new();
        let mut per_series: Vec<Option<(usize, f64)>> = Vec::with_capacity(s.len());
        for se in &s {
            let le = se.labels.get("le").and_then(parse_go_float);
            let Some(le) = le else {
                let bad = Annotation::BadBucketLabel {
                    le: se.labels.get("le").unwrap_or(""),
                    metric: se.labels.metric_name().unwrap_or(""),
                };
                self.annotate(bad, arg_span);
                per_series.push(None);
                continue;
            };
            let h = hash_labels(se.labels.iter().filter(|l| l.name.as_bytes() != b"le"));
            let gi = *groups.entry(h).or_insert_with(|| {
                let base = se.labels.filter(|l| &*l.name != "le");
                let (labels, dn) = if self.opts.delayed_name_removal {
                    (base, true)
                } else {
                    (base.without_metric_name(), false)
                };
                let name = se.labels.metric_name().unwrap_or("").to_string();
                group_labels.push((labels, dn, name));
                group_labels.len() - 1
            });
            per_series.push(Some((gi, le)));
        }
        let ng = group_labels.len();
        let mut out: Vec<Series> = group_labels
            .iter()
            .map(|(l, dn, _)| Series {
                labels: l.clone(),
                drop_name: *dn,
                pts: Pts::new(),
            })
            .collect();
        // Step-major: one bucket list per group, reused across steps.
        let steps: Vec<Vec<(u32, f64)>> = if g.n == 1 {
            vec![s
                .iter()
                .enumerate()
                .filter_map(|(si, x)| x.pts.first().map(|&(_, v)| (si as u32, v)))
                .collect()]
        } else {
            by_step(&s, g.n)
        };
        let mut buckets: Vec<Vec<f::Bucket>> = vec![Vec::new(); ng];
        let mut touched: Vec<usize> = Vec::new();
        for (i, elems) in steps.iter().enumerate() {
            self.tick()?;
            for &(si, v) in elems {
                if let Some((gi, le)) = per_series[si as usize] {
                    if buckets[gi].is_empty() {
                        touched.push(gi);
                    }
                    buckets[gi].push(f::Bucket {
                        upper: le,
                        count: v,
                    });
                }
            }
            for &gi in &touched {
                let bs = &mut buckets[gi];
                let (v, forced, missing_inf) = compute(i, bs);
                bs.clear();
                let metric = &group_labels[gi].2;
                if forced {
                    self.annotate(Annotation::ForcedMonotonic { metric }, arg_span);
                }
                if missing_inf {
                    self.annotate(Annotation::MissingInfBucket { metric }, arg_span);
                }
                out[gi].pts.push((i as u32, v));
            }
            touched.clear();
        }
        out.retain(|s| !s.pts.is_empty());
        // Groups are distinct with their names; only dropping differing names
        // can make two equal.
        if has_distinct_names(s.iter().map(|x| &x.labels)) {
            out = merge_same_labels(out)?;
        }
        Ok(V::Vector(out))
    }

    /// `histogram_quantile(q, sum by (..., le) (expr))` in one pass: sums per
    /// (group, le) and quantiles per group, without building the intermediate
    /// label set of every (group, le) pair. Same additions in the same order as
    /// the two-step evaluation, so the same results.
    pub(super) fn quantile_of_sum_by_le(
        &mut self,
        q: &[f64],
        a: &AggregateExpr,
        arg_span: Span,
        g: Grid,
    ) -> Result<V> {
        if !self.opts.delayed_name_removal {
            self.prepare_aggregated_input(a);
        }
        let input = self.eval_vector(&a.expr, g);
        self.lazy_drop = false;
        self.project = None;
        let input = input?;
        let names: Vec<String> = a.grouping.iter().filter(|l| *l != "le").cloned().collect();
        let mut grouper = Grouper::new(&names, false);
        let mut groups: HashMap<u64, u32> = HashMap::new();
        let mut group_labels: Vec<Labels> = Vec::new();
        // One accumulator per (group, le text).
        let mut bucket_of: HashMap<(u32, u64), u32> = HashMap::new();
        let mut bucket_info: Vec<(u32, f64)> = Vec::new(); // (group, upper bound)
        let mut per_series: Vec<Option<u32>> = Vec::with_capacity(input.len());
        // `le` values are few and shared (interned) strings: parse each once.
        let mut le_cache: Vec<(&str, Option<f64>)> = Vec::new();
        for s in &input {
            self.tick()?;
            let h = grouper.hash(&s.labels);
            let gi = *groups.entry(h).or_insert_with(|| {
                group_labels.push(grouper.labels(&s.labels));
                (group_labels.len() - 1) as u32
            });
            let le_text = s.labels.get("le");
            let le = le_text.and_then(|t| {
                if let Some(&(_, v)) = le_cache.iter().find(|c| c.0 == t) {
                    return v;
                }
                let v = parse_go_float(t);
                if le_cache.len() < 64 {
                    le_cache.push((t, v));
                }
                v
            });
            let Some(le) = le else {
                let bad = Annotation::BadBucketLabel {
                    le: le_text.unwrap_or(""),
                    metric: "",
                };
                self.annotate(bad, arg_span);
                per_series.push(None);
                continue;
            };
            let mut hh = hasher();
            le_text.unwrap_or("").hash(&mut hh);
            let key = (gi, hh.finish());
            let bi = *bucket_of.entry(key).or_insert_with(|| {
                bucket_info.push((gi, le));
                (bucket_info.len() - 1) as u32
            });
            per_series.push(Some(bi));
        }
        let steps: Vec<Vec<(u32, f64)>> = if g.n == 1 {
            vec![input
                .iter()
                .enumerate()
                .filter_map(|(si, x)| x.pts.first().map(|&(_, v)| (si as u32, v)))
                .collect()]
        } else {
            by_step(&input, g.n)
        };
        drop(input);
        let nb = bucket_info.len();
        let ng = group_labels.len();
        let mut acc: Vec<(bool, f64, f64)> = vec![(false, 0.0, 0.0); nb];
        let mut touched: Vec<u32> = Vec::new();
        let mut gbuckets: Vec<Vec<f::Bucket>> = {
            let mut per_group = vec![0usize; ng];
            for &(gi, _) in &bucket_info {
                per_group[gi as usize] += 1;
            }
            per_group.into_iter().map(Vec::with_capacity).collect()
        };
        let mut gtouched: Vec<u32> = Vec::new();
        let mut out: Vec<Pts> = vec![Pts::new(); ng];
        for (i, elems) in steps.iter().enumerate() {
            self.tick()?;
            for &(si, v) in elems {
                let Some(bi) = per_series[si as usize] else {
                    continue;
                };
                let st = &mut acc[bi as usize];
                if st.0 {
                    (st.1, st.2) = f::kahan_inc(v, st.1, st.2);
                } else {
                    *st = (true, v, 0.0);
                    touched.push(bi);
                }
            }
            for &bi in &touched {
                let st = acc[bi as usize];
                acc[bi as usize] = (false, 0.0, 0.0);
                let sum = if st.1.is_infinite() {
                    st.1
                } else {
                    st.1 + st.2
                };
                let (gi, upper) = bucket_info[bi as usize];
                if gbuckets[gi as usize].is_empty() {
                    gtouched.push(gi);
                }
                gbuckets[gi as usize].push(f::Bucket { upper, count: sum });
            }
            touched.clear();
            for &gi in &gtouched {
                let bs = &mut gbuckets[gi as usize];
                let r = f::bucket_quantile(q[i], bs);
                bs.clear();
                if r.forced_monotonic {
                    self.annotate(Annotation::ForcedMonotonic { metric: "" }, arg_span);
                }
                if r.missing_inf {
                    self.annotate(Annotation::MissingInfBucket { metric: "" }, arg_span);
                }
                out[gi as usize].push((i as u32, r.value));
            }
            gtouched.clear();
        }
        let series = group_labels
            .into_iter()
            .zip(out)
            .filter(|(_, p)| !p.is_empty())
            .map(|(labels, pts)| Series {
                labels,
                drop_name: false,
                pts,
            })
            .collect();
        Ok(V::Vector(series))
    }
}
