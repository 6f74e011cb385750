//! Aggregation operators: the simple ones accumulated step by step per group,
//! `topk`/`bottomk`/`limitk`, `limit_ratio` and `count_values`.

use hashbrown::HashMap;
use promlite_model::{Labels, METRIC_NAME};

use super::annotations::Annotation;
use super::engine::{Ctx, Grid, Result, V};
use super::functions as f;
use super::series::{by_step, Grouper, Pts, Series};
use super::QueryError;
use crate::parser::ast::{AggregateExpr, AggregateOp, Span};

impl Ctx<'_> {
    pub(super) fn eval_aggregate(&mut self, a: &AggregateExpr, g: Grid) -> Result<V> {
        let param = match &a.param {
            Some(p) => Some(self.eval(p, g)?),
            None => None,
        };
        let simple = !matches!(
            a.op,
            AggregateOp::Topk
                | AggregateOp::Bottomk
                | AggregateOp::Limitk
                | AggregateOp::LimitRatio
                | AggregateOp::CountValues
        );
        let name_grouped = !a.without && a.grouping.iter().any(|l| l == METRIC_NAME);
        if simple && !name_grouped && !self.opts.delayed_name_removal {
            self.prepare_aggregated_input(a);
        }
        let input = self.eval_vector(&a.expr, g);
        self.lazy_drop = false;
        self.project = None;
        let input = input?;
        match a.op {
            AggregateOp::Topk | AggregateOp::Bottomk | AggregateOp::Limitk => {
                let ks = match param {
                    Some(V::Scalar(k)) => k,
                    _ => return Err(QueryError::exec("topk parameter must be a scalar")),
                };
                self.aggregate_k(a, input, &ks, g)
            }
            AggregateOp::LimitRatio => {
                let ratios = match param {
                    Some(V::Scalar(r)) => r,
                    _ => return Err(QueryError::exec("limit_ratio parameter must be a scalar")),
                };
                let span = a.param.as_ref().map_or(Span::default(), |p| p.span);
                let mut rs = Vec::with_capacity(ratios.len());
                for &r in &ratios {
                    self.tick()?;
                    if r.is_nan() {
                        return Err(QueryError::exec("Ratio value is NaN"));
                    }
                    let capped = r.clamp(-1.0, 1.0);
                    if capped != r {
                        self.annotate(Annotation::RatioOutOfRange { got: r, capped }, span);
                    }
                    rs.push(capped);
                }
                let out = input
                    .into_iter()
                    .filter_map(|mut s| {
                        // A deterministic position of the series in [0, 1].
                        let offset = fnv1a_labels(&s.labels) as f64 / u64::MAX as f64;
                        s.pts.retain(|p| {
                            let r = rs[p.0 as usize];
                            (r >= 0.0 && offset < r) || (r < 0.0 && offset >= 1.0 + r)
                        });
                        (!s.pts.is_empty()).then_some(s)
                    })
                    .collect();
                Ok(V::Vector(out))
            }
            AggregateOp::CountValues => {
                let lname = match param {
                    Some(V::Str(s)) => s,
                    _ => return Err(QueryError::exec("count_values parameter must be a string")),
                };
                self.count_values(a, input, &lname, g)
            }
            _ => {
                let q = match param {
                    Some(V::Scalar(q)) => Some(q),
                    _ => None,
                };
                if a.op == AggregateOp::Quantile {
                    if let Some(q) = &q {
                        let span = a.param.as_ref().map_or(Span::default(), |p| p.span);
                        self.check_quantiles(q, span);
                    }
                }
                self.aggregate_simple(a, input, q.as_deref(), g)
            }
        }
    }

    /// Assigns each input series a group, returning per-series group indices and
    /// the groups' output labels.
    pub(super) fn assign_groups(
        &mut self,
        a: &AggregateExpr,
        input: &[Series],
    ) -> Result<(Vec<u32>, Vec<Labels>, Vec<bool>)> {
        let mut map: HashMap<u64, u32> = HashMap::with_capacity(input.len().min(1 << 20));
        let mut grouper = Grouper::new(&a.grouping, a.without);
        let mut labels = Vec::new();
        // Delayed name removal: a group keyed by a to-be-dropped name drops it too.
        let mut drop = Vec::new();
        let mut gi = Vec::with_capacity(input.len());
        for s in input {
            self.tick()?;
            let h = grouper.hash(&s.labels);
            let idx = *map.entry(h).or_insert_with(|| {
                labels.push(grouper.labels(&s.labels));
                drop.push(false);
                (labels.len() - 1) as u32
            });
            if s.drop_name {
                drop[idx as usize] = true;
            }
            gi.push(idx);
        }
        for (l, d) in labels.iter().zip(drop.iter_mut()) {
            *d = *d && l.has(METRIC_NAME);
        }
        Ok((gi, labels, drop))
    }

    pub(super) fn aggregate_simple(
        &mut self,
        a: &AggregateExpr,
        input: Vec<Series>,
        q: Option<&[f64]>,
        g: Grid,
    ) -> Result<V> {
        let (gi, labels, drops) = self.assign_groups(a, &input)?;
        let ng = labels.len();
        let n = g.n;
        // Step-major accumulation with per-group state reused across steps, so
        // memory stays O(points + groups) for range queries.
        let steps: Vec<Vec<(u32, f64)>> = if n == 1 {
            vec![input
                .iter()
                .enumerate()
                .filter_map(|(si, s)| s.pts.first().map(|&(_, v)| (si as u32, v)))
                .collect()]
        } else {
            by_step(&input, n)
        };
        drop(input);
        let op = a.op;
        let mut acc: Vec<Acc> = vec![Acc::default(); ng];
        let mut vals: Vec<Vec<f64>> = if op == AggregateOp::Quantile {
            vec![Vec::new(); ng]
        } else {
            Vec::new()
        };
        let mut touched: Vec<u32> = Vec::new();
        let mut out_pts: Vec<Pts> = vec![Pts::new(); ng];
        for (i, elems) in steps.iter().enumerate() {
            self.tick()?;
            for &(si, v) in elems {
                let grp = gi[si as usize];
                let st = &mut acc[grp as usize];
                let first = !st.has;
                if first {
                    st.has = true;
                    touched.push(grp);
                }
                match op {
                    AggregateOp::Sum => {
                        if first {
                            st.v = v;
                        } else {
                            (st.v, st.c) = f::kahan_inc(v, st.v, st.c);
                        }
                    }
                    AggregateOp::Avg => st.mean.add(v),
                    AggregateOp::Count | AggregateOp::Group => st.v += 1.0,
                    AggregateOp::Min | AggregateOp::Max => {
                        let max = op == AggregateOp::Max;
                        if first || (if max { v > st.v } else { v < st.v }) || st.v.is_nan() {
                            st.v = v;
                        }
                    }
                    AggregateOp::Stddev | AggregateOp::Stdvar => st.var.add(v),
                    AggregateOp::Quantile => vals[grp as usize].push(v),
                    AggregateOp::LimitRatio => {
                        return Err(QueryError::exec(
                            "limit_ratio is not supported by this engine",
                        ))
                    }
                    _ => unreachable_op()?,
                }
            }
            for &grp in &touched {
                let st = &mut acc[grp as usize];
                let v = match op {
                    AggregateOp::Sum => {
                        if st.v.is_infinite() {
                            st.v
                        } else {
                            st.v + st.c
                        }
                    }
                    AggregateOp::Avg => st.mean.value(),
                    AggregateOp::Group => 1.0,
                    AggregateOp::Stddev => st.var.variance().sqrt(),
                    AggregateOp::Stdvar => st.var.variance(),
                    AggregateOp::Quantile => {
                        let qv = q.map_or(f64::NAN, |q| q[i]);
                        let vs = &mut vals[grp as usize];
                        let r = f::quantile(qv, vs);
                        vs.clear();
                        r
                    }
                    _ => st.v,
                };
                *st = Acc::default();
                out_pts[grp as usize].push((i as u32, v));
            }
            touched.clear();
        }
        let out = labels
            .into_iter()
            .zip(out_pts)
            .enumerate()
            .filter_map(|(grp, (l, pts))| {
                (!pts.is_empty()).then_some(Series {
                    labels: l,
                    drop_name: drops[grp],
                    pts,
                })
            })
            .collect();
        Ok(V::Vector(out))
    }

    pub(super) fn aggregate_k(
        &mut self,
        a: &AggregateExpr,
        input: Vec<Series>,
        ks: &[f64],
        g: Grid,
    ) -> Result<V> {
        let mut kint = Vec::with_capacity(ks.len());
        for &k in ks {
            if k.is_nan() {
                return Err(QueryError::exec("Parameter value is NaN"));
            }
            if k >= 9.223_372_036_854_776e18 {
                return Err(QueryError::exec(format!(
                    "Scalar value {} overflows int64",
                    promlite_model::format_go_g(k)
                )));
            }
            if k <= -9.223_372_036_854_776e18 {
                return Err(QueryError::exec(format!(
                    "Scalar value {} underflows int64",
                    promlite_model::format_go_g(k)
                )));
            }
            kint.push(k as i64);
        }
        let (gi, labels, _) = self.assign_groups(a, &input)?;
        let steps = by_step(&input, g.n);
        let top = a.op == AggregateOp::Topk;
        let mut out_idx: HashMap<u32, usize> = HashMap::new();
        let mut out: Vec<Series> = Vec::new();
        let mut buckets: Vec<Vec<(u32, f64)>> = vec![Vec::new(); labels.len()];
        let mut order: Vec<u32> = Vec::new();
        for (i, elems) in steps.iter().enumerate() {
            self.tick()?;
            let k = kint[i];
            if k < 1 {
                continue;
            }
            order.clear();
            for b in buckets.iter_mut() {
                b.clear();
            }
            for &(si, v) in elems {
                let grp = gi[si as usize];
                if buckets[grp as usize].is_empty() {
                    order.push(grp);
                }
                buckets[grp as usize].push((si, v));
            }
            for &grp in &order {
                let b = &mut buckets[grp as usize];
                if a.op != AggregateOp::Limitk {
                    // Prometheus's selection: a bounded heap fed in input order
                    // (decides which of equal values win), then sorted for output.
                    let kept = go_heap_select(b, k, top);
                    *b = kept;
                    b.sort_by(|x, y| match (x.1.is_nan(), y.1.is_nan()) {
                        (true, true) => std::cmp::Ordering::Equal,
                        (true, false) => std::cmp::Ordering::Greater,
                        (false, true) => std::cmp::Ordering::Less,
                        _ if top => y.1.partial_cmp(&x.1).unwrap_or(std::cmp::Ordering::Equal),
                        _ => x.1.partial_cmp(&y.1).unwrap_or(std::cmp::Ordering::Equal),
                    });
                }
                let take = (k as u64).min(b.len() as u64) as usize;
                for &(si, v) in &b[..take] {
                    let oi = *out_idx.entry(si).or_insert_with(|| {
                        out.push(Series {
                            labels: input[si as usize].labels.clone(),
                            drop_name: input[si as usize].drop_name,
                            pts: Pts::new(),
                        });
                        out.len() - 1
                    });
                    out[oi].pts.push((i as u32, v));
                }
            }
        }
        Ok(V::Vector(out))
    }

    pub(super) fn count_values(
        &mut self,
        a: &AggregateExpr,
        input: Vec<Series>,
        lname: &str,
        g: Grid,
    ) -> Result<V> {
        if lname.is_empty() {
            return Err(QueryError::exec(format!("invalid label name {lname:?}")));
        }
        let mut grouping = a.grouping.clone();
        if !a.without {
            grouping.push(lname.to_string());
        }
        let mut out_idx: HashMap<Labels, usize> = HashMap::new();
        let mut out: Vec<Series> = Vec::new();
        for s in &input {
            self.tick()?;
            for &(i, v) in &s.pts {
                let mut b = s.labels.builder();
                b.set(lname, promlite_model::format_value(v).as_str());
                let l = grouping_labels(&b.build(), &grouping, a.without);
                let oi = *out_idx.entry(l.clone()).or_insert_with(|| {
                    out.push(Series {
                        labels: l,
                        drop_name: false,
                        pts: Pts::new(),
                    });
                    out.len() - 1
                });
                out[oi].pts.push((i, 1.0));
            }
        }
        // Merge counts per step.
        for s in &mut out {
            s.pts.sort_by_key(|p| p.0);
            let mut merged = Pts::with_capacity(s.pts.len());
            for &(i, v) in &s.pts {
                match merged.last_mut() {
                    Some(last) if last.0 == i => last.1 += v,
                    _ => merged.push((i, v)),
                }
            }
            s.pts = merged;
        }
        let _ = g;
        Ok(V::Vector(out))
    }
}

/// topk (`top`) / bottomk selection exactly as Prometheus does it with Go's
/// `container/heap`: the first k elements are pushed; each later element
/// replaces the heap's root (the worst kept) only if strictly better, or if the
/// root is NaN and it is not. NaN counts as the worst value.
pub(super) fn go_heap_select(elems: &[(u32, f64)], k: i64, top: bool) -> Vec<(u32, f64)> {
    let k = usize::try_from(k).unwrap_or(usize::MAX).min(elems.len());
    // less(i, j): i belongs nearer the root (i is "worse").
    let less = |h: &[(u32, f64)], i: usize, j: usize| -> bool {
        if h[i].1.is_nan() {
            return true;
        }
        if top {
            h[i].1 < h[j].1
        } else {
            h[i].1 > h[j].1
        }
    };
    let up = |h: &mut Vec<(u32, f64)>, mut j: usize| {
        while j > 0 {
            let i = (j - 1) / 2;
            if !less(h, j, i) {
                break;
            }
            h.swap(i, j);
            j = i;
        }
    };
    let down = |h: &mut Vec<(u32, f64)>, i0: usize| -> bool {
        let n = h.len();
        let mut i = i0;
        loop {
            let j1 = 2 * i + 1;
            if j1 >= n {
                break;
            }
            let mut j = j1;
            if j1 + 1 < n && less(h, j1 + 1, j1) {
                j = j1 + 1;
            }
            if !less(h, j, i) {
                break;
            }
            h.swap(i, j);
            i = j;
        }
        i > i0
    };
    let mut h: Vec<(u32, f64)> = Vec::with_capacity(k);
    if k == 0 {
        return h;
    }
    for &e in elems {
        if h.len() < k {
            h.push(e);
            let last = h.len() - 1;
            up(&mut h, last);
        } else {
            let root = h[0].1;
            let better = if top { root < e.1 } else { root > e.1 };
            if better || (root.is_nan() && !e.1.is_nan()) {
                h[0] = e;
                if k > 1 && !down(&mut h, 0) {
                    up(&mut h, 0);
                }
            }
        }
    }
    h
}

/// FNV-1a over a label set (names and values with separators): a hash that is
/// the same in every process, for `limit_ratio`.
pub(super) fn fnv1a_labels(l: &Labels) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |b: u8| {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    };
    for x in l.iter() {
        x.name.bytes().for_each(&mut eat);
        eat(0xff);
        x.value.bytes().for_each(&mut eat);
        eat(0xff);
    }
    h
}

pub(super) fn grouping_labels(labels: &Labels, names: &[String], without: bool) -> Labels {
    if without {
        labels.filter(|l| &*l.name != METRIC_NAME && !names.iter().any(|n| **n == *l.name))
    } else {
        labels.filter(|l| names.iter().any(|n| **n == *l.name))
    }
}

pub(super) fn unreachable_op() -> Result<()> {
    Err(QueryError::exec("unsupported aggregation"))
}

/// Per-group accumulator of the simple aggregations.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Acc {
    pub(super) has: bool,
    pub(super) v: f64,
    pub(super) c: f64,
    pub(super) mean: f::MeanAcc,
    pub(super) var: f::VarAcc,
}
