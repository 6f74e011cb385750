//! The evaluator proper. Every node is evaluated once for all steps of a query
//! (a "grid" of evaluation times): vectors are kept series-major, each series
//! holding the steps where it has a value. Range functions slide a window over
//! each series' samples, aggregations precompute each series' group once.

use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use hashbrown::{HashMap, HashSet};
use promlite_model::{
    is_stale_nan, parse_go_float, Label, Labels, LabelsBuilder, MatchOp, MetricType, PairRef,
    Queryable, Sample, SelectError, METRIC_NAME,
};

use super::functions as f;
use super::{
    EngineOptions, QueryError, QueryErrorKind, QueryResult, RangeSeries, Value, VectorSample,
    DEFAULT_SUBQUERY_STEP_MS,
};
use crate::parser::ast::{
    AggregateExpr, AggregateOp, AtModifier, BinaryExpr, BinaryOp, Call, Expr, ExprKind, Span,
    SubqueryExpr, UnaryOp, VectorMatchCardinality, VectorMatching, VectorSelector,
};

type Result<T> = std::result::Result<T, QueryError>;

/// Evaluation times `start + i*step`, `i < n`.
#[derive(Debug, Clone, Copy)]
struct Grid {
    start: i64,
    step: i64,
    n: usize,
}

impl Grid {
    fn t(&self, i: usize) -> i64 {
        self.start + i as i64 * self.step
    }
}

/// A series of an instant-vector value: points at step indices, ascending.
#[derive(Debug, Clone)]
struct Series {
    labels: Labels,
    /// Delayed name removal: `__name__` is to be removed from the final result.
    drop_name: bool,
    pts: Pts,
}

/// Points of a series: (step index, value); inline for instant queries.
type Pts = smallvec::SmallVec<[(u32, f64); 1]>;

/// A series of raw samples (range vectors).
#[derive(Debug, Clone)]
struct RawSeries {
    labels: Labels,
    drop_name: bool,
    samples: Vec<Sample>,
}

#[derive(Debug)]
enum V {
    Scalar(Vec<f64>),
    Str(String),
    Vector(Vec<Series>),
    Matrix(Vec<RawSeries>),
}

struct Ctx<'a> {
    opts: &'a EngineOptions,
    storage: &'a dyn Queryable,
    query: &'a str,
    qstart: i64,
    qend: i64,
    /// The query step (0 for instant queries), for `step()`.
    qstep: i64,
    instant: bool,
    cancel: Option<&'a AtomicBool>,
    deadline: Option<Instant>,
    warnings: super::notes::Notes,
    infos: super::notes::Notes,
    ticks: u32,
    /// Set by an aggregation for its direct range-function argument: keep
    /// `__name__` in the labels but mark it dropped (the aggregation ignores
    /// it), saving a label-set allocation per series. Immediate mode only.
    lazy_drop: bool,
    /// Set by an aggregation for its direct range-function argument: the only
    /// labels it reads (its grouping), so that the streamed selection builds
    /// just those. Immediate mode only; see `eval_range_function`.
    project: Option<Projection>,
}

/// The labels an aggregation groups by (`by` names, or all but `without` names
/// and `__name__`).
#[derive(Debug, Clone)]
struct Projection {
    names: Vec<String>,
    without: bool,
}

/// The query error for a failed selection.
fn select_error(e: SelectError) -> QueryError {
    match e {
        SelectError::TooManySamples { .. } => QueryError::new(
            QueryErrorKind::TooManySamples,
            "query processing would load too many samples into memory in query execution",
        ),
        other => QueryError::exec(other.to_string()),
    }
}

fn unwrap_parens(e: &Expr) -> &Expr {
    match &e.kind {
        ExprKind::Paren(inner) => unwrap_parens(inner),
        _ => e,
    }
}

fn dup_labelset_err() -> QueryError {
    QueryError::exec("vector cannot contain metrics with the same labelset")
}

/// Entry point shared by instant and range queries.
#[allow(clippy::too_many_arguments)]
pub(super) fn run(
    opts: &EngineOptions,
    storage: &dyn Queryable,
    expr: &Expr,
    query: &str,
    start: i64,
    end: i64,
    step: i64,
    instant: bool,
    cancel: Option<&AtomicBool>,
) -> std::result::Result<QueryResult, QueryError> {
    let n = (end.saturating_sub(start) / step.max(1)) as usize + 1;
    let grid = Grid { start, step, n };
    let mut ctx = Ctx {
        opts,
        storage,
        query,
        qstart: start,
        qend: end,
        qstep: if instant { 0 } else { step },
        instant,
        cancel,
        deadline: opts.timeout.map(|d| Instant::now() + d),
        warnings: Default::default(),
        infos: Default::default(),
        ticks: 0,
        lazy_drop: false,
        project: None,
    };
    if !instant
        && matches!(
            expr.value_type(),
            crate::ValueType::Matrix | crate::ValueType::String
        )
    {
        return Err(QueryError::new(
            QueryErrorKind::BadData,
            format!(
                "invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
                expr.value_type().as_str()
            ),
        ));
    }
    let v = ctx.eval(expr, grid)?;
    ctx.check_now()?;
    let value = match v {
        V::Scalar(vals) => {
            if instant {
                Value::Scalar {
                    t: start,
                    v: vals[0],
                }
            } else {
                let samples = vals
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| Sample { t: grid.t(i), v })
                    .collect();
                Value::Matrix(vec![RangeSeries {
                    labels: Labels::empty(),
                    samples,
                }])
            }
        }
        V::Str(s) => Value::String { t: start, s },
        V::Vector(series) => {
            let series = ctx.finalize_names(series)?;
            if instant {
                // Like Prometheus, instant vectors are not sorted (the order is
                // deterministic: store order, groups by first appearance); only
                // sort()/sort_desc()/topk()/bottomk() order them on purpose.
                let out: Vec<VectorSample> = series
                    .into_iter()
                    .filter_map(|s| {
                        s.pts.first().map(|&(_, v)| VectorSample {
                            labels: s.labels,
                            t: start,
                            v,
                        })
                    })
                    .collect();
                Value::Vector(out)
            } else {
                let mut out: Vec<RangeSeries> = series
                    .into_iter()
                    .filter(|s| !s.pts.is_empty())
                    .map(|s| RangeSeries {
                        labels: s.labels,
                        samples: s
                            .pts
                            .iter()
                            .map(|&(i, v)| Sample {
                                t: grid.t(i as usize),
                                v,
                            })
                            .collect(),
                    })
                    .collect();
                out.sort_by(|a, b| a.labels.cmp(&b.labels));
                Value::Matrix(out)
            }
        }
        V::Matrix(series) => {
            let mut out: Vec<RangeSeries> = series
                .into_iter()
                .map(|s| RangeSeries {
                    labels: if s.drop_name {
                        s.labels.without_metric_name()
                    } else {
                        s.labels
                    },
                    samples: s.samples,
                })
                .collect();
            out.sort_by(|a, b| a.labels.cmp(&b.labels));
            Value::Matrix(out)
        }
    };
    let mut seen = HashSet::new();
    ctx.warnings.retain(|w| seen.insert(w.clone()));
    let mut seen = HashSet::new();
    ctx.infos.retain(|w| seen.insert(w.clone()));
    Ok(QueryResult {
        value,
        warnings: ctx.warnings.into(),
        infos: ctx.infos.into(),
    })
}

/// topk (`top`) / bottomk selection exactly as Prometheus does it with Go's
/// `container/heap`: the first k elements are pushed; each later element
/// replaces the heap's root (the worst kept) only if strictly better, or if the
/// root is NaN and it is not. NaN counts as the worst value.
fn go_heap_select(elems: &[(u32, f64)], k: i64, top: bool) -> Vec<(u32, f64)> {
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
fn fnv1a_labels(l: &Labels) -> u64 {
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

/// Natural ordering: runs of digits compare by numeric value, the rest bytewise.
fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i].is_ascii_digit() && b[j].is_ascii_digit() {
            let si = i;
            while i < a.len() && a[i].is_ascii_digit() {
                i += 1;
            }
            let sj = j;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            let x = &a[si..i];
            let y = &b[sj..j];
            let xt = &x[x.iter().position(|&c| c != b'0').unwrap_or(x.len())..];
            let yt = &y[y.iter().position(|&c| c != b'0').unwrap_or(y.len())..];
            let o = xt.len().cmp(&yt.len()).then_with(|| xt.cmp(yt));
            if o != Ordering::Equal {
                return o;
            }
        } else {
            if a[i] != b[j] {
                return a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
    }
    (a.len() - i).cmp(&(b.len() - j))
}

/// One fixed hasher state per process, so equal label sets hash equally.
fn hasher() -> impl Hasher {
    static STATE: std::sync::OnceLock<hashbrown::DefaultHashBuilder> = std::sync::OnceLock::new();
    STATE
        .get_or_init(hashbrown::DefaultHashBuilder::default)
        .build_hasher()
}

/// Hashes a sequence of label pairs into a 64-bit key.
fn hash_labels<'l>(it: impl Iterator<Item = &'l Label>) -> u64 {
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
fn has_distinct_names<'l>(mut it: impl Iterator<Item = &'l Labels>) -> bool {
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
fn is_metric_name(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() == 8
        && u64::from_ne_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
            == u64::from_ne_bytes(*b"__name__")
}

/// The `__name__` value of a label set (a linear scan: it is nearly always first).
#[inline]
fn name_arc(labels: &Labels) -> Option<&std::sync::Arc<str>> {
    labels
        .iter()
        .find(|l| is_metric_name(&l.name))
        .map(|l| &l.value)
}

/// Decides per label whether it belongs to an aggregation's group key, caching
/// the answer per label-name pointer (stores intern names, so a handful of
/// pointers cover all series).
struct Grouper<'a> {
    names: &'a [String],
    without: bool,
    /// Direct-mapped cache: slot by pointer bits, (pointer, decision).
    cache: [(usize, bool); 64],
}

impl<'a> Grouper<'a> {
    fn new(names: &'a [String], without: bool) -> Self {
        Grouper {
            names,
            without,
            cache: [(0, false); 64],
        }
    }

    #[inline]
    fn keep(&mut self, l: &Label) -> bool {
        self.keep_name(&l.name)
    }

    #[inline]
    fn keep_name(&mut self, name: &std::sync::Arc<str>) -> bool {
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

    fn hash(&mut self, labels: &Labels) -> u64 {
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

    fn labels(&mut self, labels: &Labels) -> Labels {
        labels.filter(|l| self.keep(l))
    }
}

fn grouping_labels(labels: &Labels, names: &[String], without: bool) -> Labels {
    if without {
        labels.filter(|l| &*l.name != METRIC_NAME && !names.iter().any(|n| **n == *l.name))
    } else {
        labels.filter(|l| names.iter().any(|n| **n == *l.name))
    }
}

/// Transposes series-major points into per-step lists of (series index, value).
fn by_step(series: &[Series], n: usize) -> Vec<Vec<(u32, f64)>> {
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

impl Ctx<'_> {
    fn warn(&mut self, msg: String) {
        if !self.warnings.contains(&msg) {
            self.warnings.push(msg);
        }
    }

    fn info(&mut self, msg: String) {
        if !self.infos.contains(&msg) {
            self.infos.push(msg);
        }
    }

    fn check_now(&mut self) -> Result<()> {
        if let Some(c) = self.cancel {
            if c.load(Ordering::Relaxed) {
                return Err(QueryError::new(
                    QueryErrorKind::Canceled,
                    "query was canceled in query execution",
                ));
            }
        }
        if let Some(d) = self.deadline {
            if Instant::now() >= d {
                return Err(QueryError::new(
                    QueryErrorKind::Timeout,
                    "query timed out in query execution",
                ));
            }
        }
        Ok(())
    }

    /// Cheap periodic check for loops.
    #[inline]
    fn tick(&mut self) -> Result<()> {
        self.ticks = self.ticks.wrapping_add(1);
        if self.ticks % 1024 == 0 {
            self.check_now()
        } else {
            Ok(())
        }
    }

    fn check_samples(&self, n: usize) -> Result<()> {
        if n > self.opts.max_samples {
            Err(QueryError::new(
                QueryErrorKind::TooManySamples,
                "query processing would load too many samples into memory in query execution",
            ))
        } else {
            Ok(())
        }
    }

    fn pos(&self, span: Span) -> String {
        let e = crate::parser::errors::ParseError::new(self.query, span, "");
        format!("({}:{})", e.line, e.col)
    }

    /// Removes `__name__` now (immediate mode) or marks it (delayed mode).
    fn drop_name(&self, labels: &Labels) -> (Labels, bool) {
        if self.opts.delayed_name_removal {
            (labels.clone(), true)
        } else {
            (labels.without_metric_name(), false)
        }
    }

    /// Final name cleanup (delayed mode) plus the duplicate-labelset check.
    fn finalize_names(&self, series: Vec<Series>) -> Result<Vec<Series>> {
        if !series.iter().any(|s| s.drop_name) {
            return Ok(series);
        }
        let out: Vec<Series> = series
            .into_iter()
            .map(|mut s| {
                if s.drop_name {
                    s.labels = s.labels.without_metric_name();
                    s.drop_name = false;
                }
                s
            })
            .collect();
        merge_same_labels(out)
    }

    fn ref_time(&self, at: Option<AtModifier>, offset: i64, t: i64) -> i64 {
        let base = match at {
            None => t,
            Some(AtModifier::Timestamp(x)) => x,
            Some(AtModifier::Start) => self.qstart,
            Some(AtModifier::End) => self.qend,
        };
        base.saturating_sub(offset)
    }

    fn select(
        &mut self,
        sel: &VectorSelector,
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<promlite_model::SeriesSamples>> {
        self.check_now()?;
        self.storage
            .select(&sel.matchers, mint, maxt)
            .map_err(select_error)
    }

    /// Streams the series `sel` selects in `[mint, maxt]` (samples borrowed from
    /// the store, staleness markers included) through `f`, checking cancellation
    /// and the timeout once per series; `f` gets the context back.
    fn stream(
        &mut self,
        sel: &VectorSelector,
        mint: i64,
        maxt: i64,
        mut f: impl FnMut(&Self, &[PairRef<'_>], &[Sample]),
    ) -> Result<()> {
        self.check_now()?;
        let storage = self.storage;
        let mut err = None;
        storage
            .select_each(&sel.matchers, mint, maxt, &mut |pairs, samples| {
                if let Err(e) = self.tick() {
                    err = Some(e);
                    return false;
                }
                f(self, pairs, samples);
                true
            })
            .map_err(select_error)?;
        err.map_or(Ok(()), Err)
    }

    fn eval(&mut self, e: &Expr, g: Grid) -> Result<V> {
        self.check_now()?;
        match &e.kind {
            ExprKind::NumberLiteral(v) => Ok(V::Scalar(vec![*v; g.n])),
            ExprKind::StringLiteral(s) => Ok(V::Str(s.clone())),
            ExprKind::Paren(inner) => self.eval(inner, g),
            ExprKind::Unary(u) => {
                let v = self.eval(&u.expr, g)?;
                if u.op == UnaryOp::Pos {
                    return Ok(v);
                }
                match v {
                    V::Scalar(vals) => Ok(V::Scalar(vals.into_iter().map(|x| -x).collect())),
                    V::Vector(series) => {
                        let out = self.map_series(series, |x| -x);
                        Ok(V::Vector(merge_same_labels(out)?))
                    }
                    _ => Err(QueryError::exec("unary minus on non-numeric value")),
                }
            }
            ExprKind::VectorSelector(sel) => {
                Ok(V::Vector(self.eval_vector_selector(sel, g, false)?))
            }
            ExprKind::MatrixSelector(_) | ExprKind::Subquery(_) => {
                // Only reachable at the top of an instant query.
                let rs = self.load_range(e, g)?;
                let t_end = rs.ends[0];
                let out = rs
                    .series
                    .into_iter()
                    .filter_map(|s| {
                        let w: Vec<Sample> = s
                            .samples
                            .iter()
                            .filter(|x| x.t > t_end.saturating_sub(rs.range) && x.t <= t_end)
                            .copied()
                            .collect();
                        (!w.is_empty()).then_some(RawSeries {
                            labels: s.labels,
                            drop_name: s.drop_name,
                            samples: w,
                        })
                    })
                    .collect();
                Ok(V::Matrix(out))
            }
            ExprKind::Call(c) => self.eval_call(c, e.span, g),
            ExprKind::Aggregate(a) => self.eval_aggregate(a, g),
            ExprKind::Binary(b) => self.eval_binary(b, g),
        }
    }

    fn eval_vector(&mut self, e: &Expr, g: Grid) -> Result<Vec<Series>> {
        match self.eval(e, g)? {
            V::Vector(s) => Ok(s),
            _ => Err(QueryError::exec("expected instant vector")),
        }
    }

    fn eval_scalar(&mut self, e: &Expr, g: Grid) -> Result<Vec<f64>> {
        match self.eval(e, g)? {
            V::Scalar(s) => Ok(s),
            _ => Err(QueryError::exec("expected scalar")),
        }
    }

    /// Instant selection (§4). With `timestamps`, values are the samples' times in
    /// seconds (for `timestamp(sel)`).
    fn eval_vector_selector(
        &mut self,
        sel: &VectorSelector,
        g: Grid,
        timestamps: bool,
    ) -> Result<Vec<Series>> {
        let refs: Vec<i64> = (0..g.n)
            .map(|i| self.ref_time(sel.at, sel.offset, g.t(i)))
            .collect();
        // As in Prometheus, a zero (or negative) lookback means the default 5m.
        let lb = if self.opts.lookback_delta_ms > 0 {
            self.opts.lookback_delta_ms
        } else {
            300_000
        };
        let mut out = Vec::new();
        let mut total = 0usize;
        self.stream(
            sel,
            refs[0].saturating_sub(lb).saturating_add(1),
            refs[g.n - 1],
            |_, pairs, samples| {
                let mut pts = Pts::new();
                let mut j = 0usize;
                let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
                    return;
                };
                // Only steps whose lookback window can reach the series' samples.
                let i0 = refs.partition_point(|&r| r < first.t);
                let i1 = refs.partition_point(|&r| r.saturating_sub(lb) < last.t);
                for (i, &r) in refs.iter().enumerate().take(i1).skip(i0) {
                    while j < samples.len() && samples[j].t <= r {
                        j += 1;
                    }
                    if j == 0 {
                        continue;
                    }
                    let last = samples[j - 1];
                    if last.t > r.saturating_sub(lb) && !is_stale_nan(last.v) {
                        let v = if timestamps {
                            last.t as f64 / 1000.0
                        } else {
                            last.v
                        };
                        pts.push((i as u32, v));
                    }
                }
                if !pts.is_empty() {
                    total += pts.len();
                    out.push(Series {
                        labels: Labels::from_pair_refs(pairs, |_| true),
                        drop_name: false,
                        pts,
                    });
                }
            },
        )?;
        self.check_samples(total)?;
        Ok(out)
    }

    /// Loads the input of a range function: a range selector or a subquery.
    fn load_range(&mut self, e: &Expr, g: Grid) -> Result<RangeInput> {
        let e = unwrap_parens(e);
        match &e.kind {
            ExprKind::MatrixSelector(ms) => {
                let sel = &ms.selector;
                let ends: Vec<i64> = (0..g.n)
                    .map(|i| self.ref_time(sel.at, sel.offset, g.t(i)))
                    .collect();
                let data = self.select(
                    sel,
                    ends[0].saturating_sub(ms.range).saturating_add(1),
                    ends[g.n - 1],
                )?;
                let series = data
                    .into_iter()
                    .filter_map(|s| {
                        let mut samples = s.samples;
                        samples.retain(|x| !is_stale_nan(x.v));
                        (!samples.is_empty()).then_some(RawSeries {
                            labels: s.labels,
                            drop_name: false,
                            samples,
                        })
                    })
                    .collect();
                Ok(RangeInput {
                    series,
                    range: ms.range,
                    ends,
                })
            }
            ExprKind::Subquery(sq) => self.eval_subquery(sq, g),
            _ => Err(QueryError::exec("expected range vector")),
        }
    }

    fn eval_subquery(&mut self, sq: &SubqueryExpr, g: Grid) -> Result<RangeInput> {
        let step = sq.step.unwrap_or(DEFAULT_SUBQUERY_STEP_MS);
        let ends: Vec<i64> = (0..g.n)
            .map(|i| self.ref_time(sq.at, sq.offset, g.t(i)))
            .collect();
        if step <= 0 {
            return Err(QueryError::exec("subquery step must be positive"));
        }
        let first = ends[0]
            .saturating_sub(sq.range)
            .div_euclid(step)
            .saturating_mul(step)
            .saturating_add(step);
        let last = ends[g.n - 1].div_euclid(step).saturating_mul(step);
        if last < first {
            return Ok(RangeInput {
                series: Vec::new(),
                range: sq.range,
                ends,
            });
        }
        let n_inner = (last.checked_sub(first).unwrap_or(i64::MAX) / step) as u64 + 1;
        if n_inner > self.opts.max_samples as u64 {
            return Err(QueryError::new(
                QueryErrorKind::TooManySamples,
                "query processing would load too many samples into memory in query execution",
            ));
        }
        let inner = Grid {
            start: first,
            step,
            n: n_inner as usize,
        };
        let series = match self.eval(&sq.expr, inner)? {
            V::Vector(s) => s
                .into_iter()
                .map(|s| RawSeries {
                    labels: s.labels,
                    drop_name: s.drop_name,
                    samples: s
                        .pts
                        .iter()
                        .map(|&(i, v)| Sample {
                            t: inner.t(i as usize),
                            v,
                        })
                        .collect(),
                })
                .collect(),
            V::Scalar(vals) => vec![RawSeries {
                labels: Labels::empty(),
                drop_name: false,
                samples: vals
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| Sample { t: inner.t(i), v })
                    .collect(),
            }],
            _ => {
                return Err(QueryError::exec(
                    "subquery is only allowed on instant vector",
                ))
            }
        };
        Ok(RangeInput {
            series,
            range: sq.range,
            ends,
        })
    }

    /// Applies `f` to every value, dropping the metric name.
    fn map_series(&self, series: Vec<Series>, f: impl Fn(f64) -> f64) -> Vec<Series> {
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

    fn eval_call(&mut self, c: &Call, span: Span, g: Grid) -> Result<V> {
        let name = c.func.name;
        let args = &c.args;
        match name {
            "time" => Ok(V::Scalar(
                (0..g.n).map(|i| g.t(i) as f64 / 1000.0).collect(),
            )),
            "pi" => Ok(V::Scalar(vec![std::f64::consts::PI; g.n])),
            // Prometheus 3.14's query-parameter functions (if the parser knows them).
            "start" => Ok(V::Scalar(vec![self.qstart as f64 / 1000.0; g.n])),
            "end" => Ok(V::Scalar(vec![self.qend as f64 / 1000.0; g.n])),
            "step" => Ok(V::Scalar(vec![self.qstep as f64 / 1000.0; g.n])),
            "range" => Ok(V::Scalar(vec![
                (self.qend - self.qstart) as f64 / 1000.0;
                g.n
            ])),
            // Go's math.Min/math.Max: NaN wins, and -0 is below +0.
            "min_of" | "max_of" => {
                let a = self.eval_scalar(&args[0], g)?;
                let b = self.eval_scalar(&args[1], g)?;
                let min = name == "min_of";
                Ok(V::Scalar(
                    a.iter()
                        .zip(&b)
                        .map(|(&x, &y)| {
                            if x.is_nan() || y.is_nan() {
                                f64::NAN
                            } else if x == y {
                                // Equal values differ at most in the sign of zero.
                                if min == x.is_sign_negative() {
                                    x
                                } else {
                                    y
                                }
                            } else if min {
                                x.min(y)
                            } else {
                                x.max(y)
                            }
                        })
                        .collect(),
                ))
            }
            "vector" => {
                let vals = self.eval_scalar(&args[0], g)?;
                Ok(V::Vector(vec![Series {
                    labels: Labels::empty(),
                    drop_name: false,
                    pts: vals
                        .into_iter()
                        .enumerate()
                        .map(|(i, v)| (i as u32, v))
                        .collect(),
                }]))
            }
            "scalar" => {
                let s = self.eval_vector(&args[0], g)?;
                let mut cnt = vec![0u32; g.n];
                let mut val = vec![f64::NAN; g.n];
                for se in &s {
                    for &(i, v) in &se.pts {
                        cnt[i as usize] += 1;
                        val[i as usize] = v;
                    }
                }
                Ok(V::Scalar(
                    cnt.iter()
                        .zip(val)
                        .map(|(&c, v)| if c == 1 { v } else { f64::NAN })
                        .collect(),
                ))
            }
            "abs" | "ceil" | "floor" | "exp" | "sqrt" | "ln" | "log2" | "log10" | "sin" | "cos"
            | "tan" | "asin" | "acos" | "atan" | "sinh" | "cosh" | "tanh" | "asinh" | "acosh"
            | "atanh" | "deg" | "rad" | "sgn" => {
                let func: fn(f64) -> f64 = match name {
                    "abs" => f64::abs,
                    "ceil" => f64::ceil,
                    "floor" => f64::floor,
                    "exp" => f64::exp,
                    "sqrt" => f64::sqrt,
                    "ln" => f64::ln,
                    "log2" => f64::log2,
                    "log10" => f64::log10,
                    "sin" => f64::sin,
                    "cos" => f64::cos,
                    "tan" => f64::tan,
                    "asin" => f64::asin,
                    "acos" => f64::acos,
                    "atan" => f64::atan,
                    "sinh" => f64::sinh,
                    "cosh" => f64::cosh,
                    "tanh" => f64::tanh,
                    "asinh" => f64::asinh,
                    "acosh" => f64::acosh,
                    "atanh" => f64::atanh,
                    "deg" => |v| v * 180.0 / std::f64::consts::PI,
                    "rad" => |v| v * std::f64::consts::PI / 180.0,
                    _ => f::sgn,
                };
                let s = self.eval_vector(&args[0], g)?;
                Ok(V::Vector(merge_same_labels(self.map_series(s, func))?))
            }
            "round" => {
                let s = self.eval_vector(&args[0], g)?;
                let to = match args.get(1) {
                    Some(a) => self.eval_scalar(a, g)?,
                    None => vec![1.0; g.n],
                };
                let out = self.map_series_step(s, |i, v| Some(f::round_to(v, to[i])));
                Ok(V::Vector(merge_same_labels(out)?))
            }
            "clamp" | "clamp_min" | "clamp_max" => {
                let s = self.eval_vector(&args[0], g)?;
                let (lo, hi) = match name {
                    "clamp" => (
                        self.eval_scalar(&args[1], g)?,
                        self.eval_scalar(&args[2], g)?,
                    ),
                    "clamp_min" => (self.eval_scalar(&args[1], g)?, vec![f64::INFINITY; g.n]),
                    _ => (vec![f64::NEG_INFINITY; g.n], self.eval_scalar(&args[1], g)?),
                };
                let out = self.map_series_step(s, |i, v| {
                    if hi[i] < lo[i] {
                        None
                    } else {
                        Some(f::clamp(v, lo[i], hi[i]))
                    }
                });
                Ok(V::Vector(merge_same_labels(out)?))
            }
            "timestamp" => {
                let a = unwrap_parens(&args[0]);
                let s = if let ExprKind::VectorSelector(sel) = &a.kind {
                    self.eval_vector_selector(sel, g, true)?
                } else {
                    let s = self.eval_vector(a, g)?;
                    s.into_iter()
                        .map(|mut s| {
                            for p in &mut s.pts {
                                p.1 = g.t(p.0 as usize) as f64 / 1000.0;
                            }
                            s
                        })
                        .collect()
                };
                Ok(V::Vector(merge_same_labels(self.map_series(s, |v| v))?))
            }
            "minute" | "hour" | "day_of_week" | "day_of_month" | "day_of_year"
            | "days_in_month" | "month" | "year" => {
                let func = move |v: f64| -> f64 {
                    let c = super::go_time::civil_of_go_float(v);
                    match name {
                        "minute" => c.minute as f64,
                        "hour" => c.hour as f64,
                        "day_of_week" => c.weekday as f64,
                        "day_of_month" => c.day as f64,
                        "day_of_year" => c.yday as f64,
                        "days_in_month" => f::days_in_month(c.year, c.month) as f64,
                        "month" => c.month as f64,
                        _ => c.year as f64,
                    }
                };
                if args.is_empty() {
                    return Ok(V::Vector(vec![Series {
                        labels: Labels::empty(),
                        drop_name: false,
                        pts: (0..g.n)
                            .map(|i| (i as u32, func(g.t(i) as f64 / 1000.0)))
                            .collect(),
                    }]));
                }
                let s = self.eval_vector(&args[0], g)?;
                Ok(V::Vector(merge_same_labels(self.map_series(s, func))?))
            }
            "sort" | "sort_desc" => {
                let mut s = self.eval_vector(&args[0], g)?;
                if self.instant {
                    let desc = name == "sort_desc";
                    s.sort_by(|a, b| {
                        let x = a.pts.first().map_or(f64::NAN, |p| p.1);
                        let y = b.pts.first().map_or(f64::NAN, |p| p.1);
                        match (x.is_nan(), y.is_nan()) {
                            (true, true) => std::cmp::Ordering::Equal,
                            (true, false) => std::cmp::Ordering::Greater,
                            (false, true) => std::cmp::Ordering::Less,
                            _ if desc => y.partial_cmp(&x).unwrap_or(std::cmp::Ordering::Equal),
                            _ => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
                        }
                    });
                } else {
                    self.warn(format!(
                        "PromQL warning: sort is ineffective for range queries since results are always ordered by labels {}",
                        self.pos(span)
                    ));
                }
                Ok(V::Vector(s))
            }
            "sort_by_label" | "sort_by_label_desc" => {
                let mut s = self.eval_vector(&args[0], g)?;
                let names: Vec<String> = args[1..]
                    .iter()
                    .map(|e| match &unwrap_parens(e).kind {
                        ExprKind::StringLiteral(s) => s.clone(),
                        _ => String::new(),
                    })
                    .collect();
                let desc = name == "sort_by_label_desc";
                if !self.instant {
                    self.warn(format!(
                        "PromQL warning: sort is ineffective for range queries since results are always ordered by labels {}",
                        self.pos(span)
                    ));
                    return Ok(V::Vector(s));
                }
                s.sort_by(|a, b| {
                    let mut ord = std::cmp::Ordering::Equal;
                    for n in &names {
                        let x = a.labels.get(n).unwrap_or("");
                        let y = b.labels.get(n).unwrap_or("");
                        if x != y {
                            ord = natural_cmp(x, y);
                            break;
                        }
                    }
                    let ord = ord.then_with(|| a.labels.cmp(&b.labels));
                    if desc {
                        ord.reverse()
                    } else {
                        ord
                    }
                });
                Ok(V::Vector(s))
            }
            "label_replace" => self.label_replace(args, g),
            "label_join" => self.label_join(args, g),
            "absent" => {
                let s = self.eval_vector(&args[0], g)?;
                let mut has = vec![false; g.n];
                for se in &s {
                    for &(i, _) in &se.pts {
                        has[i as usize] = true;
                    }
                }
                Ok(absent_result(absent_labels(&args[0]), &has))
            }
            "absent_over_time" => {
                let rs = self.load_range(&args[0], g)?;
                let mut has = vec![false; g.n];
                for s in &rs.series {
                    let (mut lo, mut hi) = (0usize, 0usize);
                    for (i, &end) in rs.ends.iter().enumerate() {
                        let (a, b) = window(
                            &s.samples,
                            end.saturating_sub(rs.range),
                            end,
                            &mut lo,
                            &mut hi,
                        );
                        if b > a {
                            has[i] = true;
                        }
                    }
                }
                Ok(absent_result(absent_labels(&args[0]), &has))
            }
            "histogram_quantile" => {
                let q = self.eval_scalar(&args[0], g)?;
                if let ExprKind::Aggregate(a) = &unwrap_parens(&args[1]).kind {
                    let fusable = a.op == AggregateOp::Sum
                        && !a.without
                        && a.param.is_none()
                        && a.grouping.iter().any(|l| l == "le")
                        && !a.grouping.iter().any(|l| l == METRIC_NAME);
                    if fusable {
                        for &qv in &q {
                            if !(0.0..=1.0).contains(&qv) {
                                self.warn(format!(
                                    "PromQL warning: quantile value should be between 0 and 1, got {} {}",
                                    promlite_model::format_go_g(qv),
                                    self.pos(args[0].span)
                                ));
                            }
                        }
                        return self.quantile_of_sum_by_le(&q, a, args[1].span, g);
                    }
                }
                let s = self.eval_vector(&args[1], g)?;
                for &qv in &q {
                    if !(0.0..=1.0).contains(&qv) {
                        self.warn(format!(
                            "PromQL warning: quantile value should be between 0 and 1, got {} {}",
                            promlite_model::format_go_g(qv),
                            self.pos(args[0].span)
                        ));
                    }
                }
                self.histogram_buckets(s, g, args[1].span, |i, bs| {
                    let r = f::bucket_quantile(q[i], bs);
                    (r.value, r.forced_monotonic, r.missing_inf)
                })
            }
            "histogram_fraction" => {
                let lo = self.eval_scalar(&args[0], g)?;
                let hi = self.eval_scalar(&args[1], g)?;
                let s = self.eval_vector(&args[2], g)?;
                self.histogram_buckets(s, g, args[2].span, |i, bs| {
                    (f::bucket_fraction(lo[i], hi[i], bs), false, false)
                })
            }
            "histogram_count" | "histogram_sum" | "histogram_avg" | "histogram_stddev"
            | "histogram_stdvar" => {
                // Native histograms only; float samples are ignored.
                let _ = self.eval_vector(&args[0], g)?;
                Ok(V::Vector(Vec::new()))
            }
            _ => {
                if c.func.arg_types.contains(&crate::ValueType::Matrix) {
                    self.eval_range_function(c, g)
                } else {
                    Err(QueryError::exec(format!(
                        "function \"{name}\" is not supported by this engine"
                    )))
                }
            }
        }
    }

    fn map_series_step(
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

    fn label_replace(&mut self, args: &[Expr], g: Grid) -> Result<V> {
        let s = self.eval_vector(&args[0], g)?;
        let strarg = |e: &Expr| match &unwrap_parens(e).kind {
            ExprKind::StringLiteral(s) => s.clone(),
            _ => String::new(),
        };
        let dst = strarg(&args[1]);
        let repl = strarg(&args[2]);
        let src = strarg(&args[3]);
        let re_text = strarg(&args[4]);
        let re = promlite_model::compile_anchored_regex(&re_text).map_err(|_| {
            QueryError::exec(format!(
                "invalid regular expression in label_replace(): {re_text}"
            ))
        })?;
        if dst.is_empty() || !self.literal_is_utf8(&args[1]) {
            return Err(QueryError::exec(format!(
                "invalid destination label name in label_replace(): {dst}"
            )));
        }
        let mut out = Vec::with_capacity(s.len());
        for mut se in s {
            let val = se.labels.get(&src).unwrap_or("");
            if let Some(caps) = re.captures(val) {
                let mut res = String::new();
                caps.expand(&repl, &mut res);
                set_output_label(&mut se, &dst, &res);
            }
            out.push(se);
        }
        Ok(V::Vector(merge_same_labels(out)?))
    }

    /// False when the string literal `e` was written with escapes that make it invalid
    /// UTF-8 (`"\xff"`): Prometheus keeps the raw bytes and its label-name check
    /// (UTF-8 validity in 3.x) rejects them; our lexer had to convert them lossily, so
    /// the check re-reads the literal's source text.
    fn literal_is_utf8(&self, e: &Expr) -> bool {
        let e = unwrap_parens(e);
        match self.query.get(e.span.start..e.span.end) {
            Some(text) => crate::parser::lexer::quoted_literal_is_utf8(text),
            None => true,
        }
    }

    fn label_join(&mut self, args: &[Expr], g: Grid) -> Result<V> {
        let s = self.eval_vector(&args[0], g)?;
        let strarg = |e: &Expr| match &unwrap_parens(e).kind {
            ExprKind::StringLiteral(s) => s.clone(),
            _ => String::new(),
        };
        let dst = strarg(&args[1]);
        let sep = strarg(&args[2]);
        let srcs: Vec<String> = args[3..].iter().map(strarg).collect();
        if dst.is_empty() || !self.literal_is_utf8(&args[1]) {
            return Err(QueryError::exec(format!(
                "invalid destination label name in label_join(): {dst}"
            )));
        }
        for src in &srcs {
            if src.is_empty() {
                return Err(QueryError::exec(format!(
                    "invalid source label name in label_join(): {src}"
                )));
            }
        }
        let mut out = Vec::with_capacity(s.len());
        for mut se in s {
            let joined = srcs
                .iter()
                .map(|n| se.labels.get(n).unwrap_or(""))
                .collect::<Vec<_>>()
                .join(&sep);
            set_output_label(&mut se, &dst, &joined);
            out.push(se);
        }
        Ok(V::Vector(merge_same_labels(out)?))
    }

    #[allow(clippy::type_complexity)]
    fn histogram_buckets(
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
                self.warn(format!(
                    "PromQL warning: bucket label \"le\" is missing or has a malformed value of {:?} for metric name {:?} {}",
                    se.labels.get("le").unwrap_or(""),
                    se.labels.metric_name().unwrap_or(""),
                    self.pos(arg_span)
                ));
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
                    self.info(format!(
                        "PromQL info: input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name {:?} {}",
                        metric,
                        self.pos(arg_span)
                    ));
                }
                if missing_inf {
                    self.warn(format!(
                        "PromQL warning: input to histogram_quantile has no +Inf bucket, result is NaN for metric name {:?} {}",
                        metric,
                        self.pos(arg_span)
                    ));
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
    fn quantile_of_sum_by_le(
        &mut self,
        q: &[f64],
        a: &AggregateExpr,
        arg_span: Span,
        g: Grid,
    ) -> Result<V> {
        if !self.opts.delayed_name_removal {
            if let ExprKind::Call(c) = &unwrap_parens(&a.expr).kind {
                self.lazy_drop = c.func.arg_types.contains(&crate::ValueType::Matrix)
                    && !matches!(c.func.name, "last_over_time" | "first_over_time");
                if self.lazy_drop && RangeFn::from_name(c.func.name).is_some() {
                    self.project = Some(Projection {
                        names: a.grouping.clone(),
                        without: a.without,
                    });
                }
            }
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
                self.warn(format!(
                    "PromQL warning: bucket label \"le\" is missing or has a malformed value of {:?} for metric name \"\" {}",
                    le_text.unwrap_or(""),
                    self.pos(arg_span)
                ));
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
                    self.info(format!(
                        "PromQL info: input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name \"\" {}",
                        self.pos(arg_span)
                    ));
                }
                if r.missing_inf {
                    self.warn(format!(
                        "PromQL warning: input to histogram_quantile has no +Inf bucket, result is NaN for metric name \"\" {}",
                        self.pos(arg_span)
                    ));
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

    fn annotate_counter(&mut self, fname: &str, names: &[std::sync::Arc<str>], span: Span) {
        for name in names {
            let name: &str = name;
            let declared = self.storage.metric_type(name).or_else(|| {
                ["_total", "_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|suf| name.strip_suffix(suf))
                    .and_then(|fam| self.storage.metric_type(fam))
            });
            match declared {
                Some(MetricType::Gauge) => self.warn(format!(
                    "PromQL warning: metric is a gauge (declared TYPE), {fname}() is meant for counters: {name:?} {}",
                    self.pos(span)
                )),
                Some(MetricType::Unknown) | None => {
                    if fname != "irate"
                        && !["_total", "_sum", "_count", "_bucket"]
                            .iter()
                            .any(|suf| name.ends_with(suf))
                    {
                        self.info(format!(
                            "PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: {name:?} {}",
                            self.pos(span)
                        ));
                    }
                }
                Some(_) => {}
            }
        }
    }

    fn eval_range_function(&mut self, c: &Call, g: Grid) -> Result<V> {
        let lazy = std::mem::replace(&mut self.lazy_drop, false);
        let project = self.project.take();
        let (warn_mark, info_mark) = (self.warnings.len(), self.infos.len());
        let name = c.func.name;
        // The range argument and any scalar parameter.
        let (param, range_arg) = match name {
            "quantile_over_time" | "predict_linear" => {
                let (p, r) = if name == "quantile_over_time" {
                    (&c.args[0], &c.args[1])
                } else {
                    (&c.args[1], &c.args[0])
                };
                (Some(self.eval_scalar(p, g)?), r)
            }
            _ => (None, &c.args[0]),
        };
        // double_exponential_smoothing(v, sf, tf): both factors per step.
        let (sfs, tfs) = if name == "double_exponential_smoothing" {
            let sf = self.eval_scalar(&c.args[1], g)?;
            let tf = self.eval_scalar(&c.args[2], g)?;
            for &x in &sf {
                if !(x > 0.0 && x < 1.0) {
                    return Err(QueryError::exec(format!(
                        "invalid smoothing factor. Expected: 0 < sf < 1, got: {x:.6}"
                    )));
                }
            }
            for &x in &tf {
                if !(x > 0.0 && x < 1.0) {
                    return Err(QueryError::exec(format!(
                        "invalid trend factor. Expected: 0 < tf < 1, got: {x:.6}"
                    )));
                }
            }
            (sf, tf)
        } else {
            (Vec::new(), Vec::new())
        };
        if name == "quantile_over_time" {
            if let Some(p) = &param {
                for &q in p {
                    if !(0.0..=1.0).contains(&q) {
                        self.warn(format!(
                            "PromQL warning: quantile value should be between 0 and 1, got {} {}",
                            promlite_model::format_go_g(q),
                            self.pos(c.args[0].span)
                        ));
                    }
                }
            }
        }
        let keep_name = matches!(name, "last_over_time" | "first_over_time");
        let mut out = Vec::new();
        let mut window_samples = vec![0usize; g.n];
        let mut scratch: Vec<f64> = Vec::new();
        let mut names = NameSet::default();
        let Some(fk) = RangeFn::from_name(name) else {
            return Err(QueryError::exec(format!(
                "function \"{name}\" is not supported by this engine"
            )));
        };
        // The output series of one input series (labels as selected or computed).
        let emit = |ctx: &Ctx, out: &mut Vec<Series>, labels: Labels, dropped: bool, pts: Pts| {
            if pts.is_empty() {
                return;
            }
            let (labels, dn) = if keep_name {
                (labels, dropped)
            } else if lazy {
                (labels, true)
            } else {
                let (l, dn) = ctx.drop_name(&labels);
                (l, dn || dropped)
            };
            out.push(Series {
                labels,
                drop_name: dn,
                pts,
            });
        };
        let range_arg_inner = unwrap_parens(range_arg);
        if let ExprKind::MatrixSelector(ms) = &range_arg_inner.kind {
            // Streamed: each series is decoded into the store's buffer and reduced
            // to its points at once; no per-series sample vector is kept.
            let sel = &ms.selector;
            let ends: Vec<i64> = (0..g.n)
                .map(|i| self.ref_time(sel.at, sel.offset, g.t(i)))
                .collect();
            let re = RangeEval {
                fk,
                range: ms.range,
                ends: &ends,
                param: param.as_deref(),
                sfs: &sfs,
                tfs: &tfs,
                g,
            };
            let mut live: Vec<Sample> = Vec::new();
            let mut grouper = project.as_ref().map(|p| Grouper::new(&p.names, p.without));
            self.stream(
                sel,
                ends[0].saturating_sub(ms.range).saturating_add(1),
                ends[g.n - 1],
                |ctx, pairs, samples| {
                    // Staleness markers are not samples here; copy only when there are any.
                    let samples = if samples.iter().any(|x| is_stale_nan(x.v)) {
                        live.clear();
                        live.extend(samples.iter().filter(|x| !is_stale_nan(x.v)));
                        &live[..]
                    } else {
                        samples
                    };
                    if samples.is_empty() {
                        return;
                    }
                    names.note(pairs.iter().find(|(n, _)| is_metric_name(n)).map(|p| p.1));
                    let pts = re.points(samples, &mut window_samples, &mut scratch);
                    if pts.is_empty() {
                        return;
                    }
                    let labels = match grouper.as_mut() {
                        // The aggregation above reads only its grouping labels.
                        Some(gr) => Labels::from_pair_refs(pairs, |n| gr.keep_name(n)),
                        None => Labels::from_pair_refs(pairs, |_| true),
                    };
                    emit(ctx, &mut out, labels, false, pts);
                },
            )?;
        } else {
            let rs = self.load_range(range_arg, g)?;
            let re = RangeEval {
                fk,
                range: rs.range,
                ends: &rs.ends,
                param: param.as_deref(),
                sfs: &sfs,
                tfs: &tfs,
                g,
            };
            out.reserve(rs.series.len());
            for s in rs.series {
                self.tick()?;
                names.note(name_arc(&s.labels));
                let pts = re.points(&s.samples, &mut window_samples, &mut scratch);
                emit(self, &mut out, s.labels, s.drop_name, pts);
            }
        }
        let distinct_names = names.list.len() + usize::from(names.nameless) > 1;
        if project.is_some() && distinct_names && !keep_name {
            // Dropping names may make two input series equal, which is an error
            // that only the full label sets can show: evaluate again without the
            // projection (rare: one aggregation over several metric names).
            self.warnings.truncate(warn_mark);
            self.infos.truncate(info_mark);
            self.lazy_drop = lazy;
            return self.eval_range_function(c, g);
        }
        if matches!(name, "rate" | "increase" | "irate") {
            self.annotate_counter(name, &names.list, range_arg.span);
        }
        let peak = window_samples.iter().copied().max().unwrap_or(0);
        self.check_samples(peak)?;
        if !keep_name && distinct_names && !self.opts.delayed_name_removal {
            let mut seen: HashMap<u64, usize> = HashMap::with_capacity(out.len());
            let without_name = |l: &Labels| -> Vec<Label> {
                l.iter()
                    .filter(|x| &*x.name != METRIC_NAME)
                    .cloned()
                    .collect()
            };
            for (k, s) in out.iter().enumerate() {
                let h = hash_labels(s.labels.iter().filter(|x| &*x.name != METRIC_NAME));
                if let Some(&prev) = seen.get(&h) {
                    if without_name(&out[prev].labels) == without_name(&s.labels) {
                        return Err(dup_labelset_err());
                    }
                }
                seen.insert(h, k);
            }
        }
        Ok(V::Vector(out))
    }

    fn eval_aggregate(&mut self, a: &AggregateExpr, g: Grid) -> Result<V> {
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
            if let ExprKind::Call(c) = &unwrap_parens(&a.expr).kind {
                self.lazy_drop = c.func.arg_types.contains(&crate::ValueType::Matrix)
                    && !matches!(c.func.name, "last_over_time" | "first_over_time");
                if self.lazy_drop && RangeFn::from_name(c.func.name).is_some() {
                    self.project = Some(Projection {
                        names: a.grouping.clone(),
                        without: a.without,
                    });
                }
            }
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
                        self.warn(format!(
                            "PromQL warning: ratio value should be between -1 and 1, got {}, capping to {} {}",
                            promlite_model::format_go_g(r),
                            promlite_model::format_go_g(capped),
                            self.pos(span)
                        ));
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
                        for &qv in q {
                            if !(0.0..=1.0).contains(&qv) {
                                let span = a.param.as_ref().map_or(Span::default(), |p| p.span);
                                self.warn(format!(
                                    "PromQL warning: quantile value should be between 0 and 1, got {} {}",
                                    promlite_model::format_go_g(qv),
                                    self.pos(span)
                                ));
                            }
                        }
                    }
                }
                self.aggregate_simple(a, input, q.as_deref(), g)
            }
        }
    }

    /// Assigns each input series a group, returning per-series group indices and
    /// the groups' output labels.
    fn assign_groups(
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

    fn aggregate_simple(
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

    fn aggregate_k(
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

    fn count_values(
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

    fn eval_binary(&mut self, b: &BinaryExpr, g: Grid) -> Result<V> {
        let lhs = self.eval(&b.lhs, g)?;
        let rhs = self.eval(&b.rhs, g)?;
        let op = b.op;
        match (lhs, rhs) {
            (V::Scalar(l), V::Scalar(r)) => Ok(V::Scalar(
                l.iter()
                    .zip(&r)
                    .map(|(&x, &y)| match scalar_op(op, x, y) {
                        OpResult::Value(v) => v,
                        OpResult::Cmp(c) => {
                            if c {
                                1.0
                            } else {
                                0.0
                            }
                        }
                    })
                    .collect(),
            )),
            (V::Vector(l), V::Scalar(r)) => self.vector_scalar(b, l, &r, false),
            (V::Scalar(l), V::Vector(r)) => self.vector_scalar(b, r, &l, true),
            (V::Vector(l), V::Vector(r)) => {
                let default_matching = VectorMatching {
                    card: if op.is_set_operator() {
                        VectorMatchCardinality::ManyToMany
                    } else {
                        VectorMatchCardinality::OneToOne
                    },
                    matching_labels: Vec::new(),
                    on: false,
                    include: Vec::new(),
                };
                let m = b.matching.as_ref().unwrap_or(&default_matching);
                match op {
                    BinaryOp::And | BinaryOp::Or | BinaryOp::Unless => self.set_op(op, m, l, r, g),
                    _ => self.vector_vector(b, m, l, r, g),
                }
            }
            _ => Err(QueryError::exec(
                "binary expression must contain only scalar and instant vector types",
            )),
        }
    }

    fn vector_scalar(
        &mut self,
        b: &BinaryExpr,
        vec: Vec<Series>,
        sc: &[f64],
        scalar_left: bool,
    ) -> Result<V> {
        let is_cmp = b.op.is_comparison();
        let drop = !is_cmp || b.return_bool;
        let mut out = Vec::with_capacity(vec.len());
        for s in vec {
            self.tick()?;
            let pts: Pts = s
                .pts
                .iter()
                .filter_map(|&(i, v)| {
                    let (x, y) = if scalar_left {
                        (sc[i as usize], v)
                    } else {
                        (v, sc[i as usize])
                    };
                    match scalar_op(b.op, x, y) {
                        OpResult::Value(r) => Some((i, r)),
                        OpResult::Cmp(c) => {
                            if b.return_bool {
                                Some((i, if c { 1.0 } else { 0.0 }))
                            } else if c {
                                Some((i, v))
                            } else {
                                None
                            }
                        }
                    }
                })
                .collect();
            if pts.is_empty() {
                continue;
            }
            let (labels, dn) = if drop {
                let (l, dn) = self.drop_name(&s.labels);
                (l, dn || s.drop_name)
            } else {
                (s.labels, s.drop_name)
            };
            out.push(Series {
                labels,
                drop_name: dn,
                pts,
            });
        }
        Ok(V::Vector(if drop { merge_same_labels(out)? } else { out }))
    }

    fn set_op(
        &mut self,
        op: BinaryOp,
        m: &VectorMatching,
        l: Vec<Series>,
        r: Vec<Series>,
        g: Grid,
    ) -> Result<V> {
        let lsig: Vec<u64> = l.iter().map(|s| signature(&s.labels, m)).collect();
        let rsig: Vec<u64> = r.iter().map(|s| signature(&s.labels, m)).collect();
        let lsteps = by_step(&l, g.n);
        let rsteps = by_step(&r, g.n);
        let mut lpts: Vec<Pts> = vec![Pts::new(); l.len()];
        let mut rpts: Vec<Pts> = vec![Pts::new(); r.len()];
        let mut set: HashSet<u64> = HashSet::new();
        for i in 0..g.n {
            self.tick()?;
            set.clear();
            match op {
                BinaryOp::And | BinaryOp::Unless => {
                    for &(si, _) in &rsteps[i] {
                        set.insert(rsig[si as usize]);
                    }
                    let want = op == BinaryOp::And;
                    for &(si, v) in &lsteps[i] {
                        if set.contains(&lsig[si as usize]) == want {
                            lpts[si as usize].push((i as u32, v));
                        }
                    }
                }
                _ => {
                    for &(si, v) in &lsteps[i] {
                        set.insert(lsig[si as usize]);
                        lpts[si as usize].push((i as u32, v));
                    }
                    for &(si, v) in &rsteps[i] {
                        if !set.contains(&rsig[si as usize]) {
                            rpts[si as usize].push((i as u32, v));
                        }
                    }
                }
            }
        }
        let mut out: Vec<Series> = Vec::new();
        for (s, pts) in l.into_iter().zip(lpts).chain(r.into_iter().zip(rpts)) {
            if !pts.is_empty() {
                out.push(Series {
                    labels: s.labels,
                    drop_name: s.drop_name,
                    pts,
                });
            }
        }
        Ok(V::Vector(merge_lenient(out)))
    }

    fn vector_vector(
        &mut self,
        b: &BinaryExpr,
        m: &VectorMatching,
        l: Vec<Series>,
        r: Vec<Series>,
        g: Grid,
    ) -> Result<V> {
        let op = b.op;
        let is_cmp = op.is_comparison();
        let drop = !is_cmp || b.return_bool;
        let lsig: Vec<u64> = l.iter().map(|s| signature(&s.labels, m)).collect();
        let rsig: Vec<u64> = r.iter().map(|s| signature(&s.labels, m)).collect();
        let lsteps = by_step(&l, g.n);
        let rsteps = by_step(&r, g.n);
        // The "one" side and the "many" side.
        let swap = m.card == VectorMatchCardinality::OneToMany;
        let (one, one_sig, one_steps, many, many_sig, many_steps) = if swap {
            (&l, &lsig, &lsteps, &r, &rsig, &rsteps)
        } else {
            (&r, &rsig, &rsteps, &l, &lsig, &lsteps)
        };
        let one_side_name = if swap { "left" } else { "right" };
        let mut pair_out: HashMap<(u32, u32), usize> = HashMap::new();
        let mut out_by_labels: HashMap<Labels, usize> = HashMap::new();
        let mut out: Vec<Series> = Vec::new();
        let mut one_map: HashMap<u64, (u32, f64)> = HashMap::new();
        let mut matched_one: HashSet<u64> = HashSet::new();
        let mut step_labels: HashSet<usize> = HashSet::new();
        for i in 0..g.n {
            self.tick()?;
            if one_steps[i].is_empty() || many_steps[i].is_empty() {
                continue;
            }
            one_map.clear();
            for &(si, v) in &one_steps[i] {
                let sig = one_sig[si as usize];
                if let Some(&(prev, _)) = one_map.get(&sig) {
                    let a = &one[prev as usize].labels;
                    let c = &one[si as usize].labels;
                    let (x, y) = if a <= c { (a, c) } else { (c, a) };
                    return Err(QueryError::exec(format!(
                        "found duplicate series for the match group {} on the {one_side_name} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                        go_labels(&match_labels(a, m)),
                        go_labels(x),
                        go_labels(y)
                    )));
                }
                one_map.insert(sig, (si, v));
            }
            matched_one.clear();
            step_labels.clear();
            for &(mi, mv) in &many_steps[i] {
                let sig = many_sig[mi as usize];
                let Some(&(oi, ov)) = one_map.get(&sig) else {
                    continue;
                };
                if m.card == VectorMatchCardinality::OneToOne && !matched_one.insert(sig) {
                    return Err(QueryError::exec(
                        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)",
                    ));
                }
                let (lv, rv) = if swap { (ov, mv) } else { (mv, ov) };
                let value = match scalar_op(op, lv, rv) {
                    OpResult::Value(v) => v,
                    OpResult::Cmp(c) => {
                        if b.return_bool {
                            if c {
                                1.0
                            } else {
                                0.0
                            }
                        } else if c {
                            lv
                        } else {
                            continue;
                        }
                    }
                };
                let key = (mi, oi);
                let oidx = match pair_out.get(&key) {
                    Some(&o) => o,
                    None => {
                        let ms = &many[mi as usize];
                        let os = &one[oi as usize];
                        let (labels, dn) = self.result_labels(ms, os, m, drop);
                        let o = *out_by_labels.entry(labels.clone()).or_insert_with(|| {
                            out.push(Series {
                                labels,
                                drop_name: dn,
                                pts: Pts::new(),
                            });
                            out.len() - 1
                        });
                        pair_out.insert(key, o);
                        o
                    }
                };
                if !step_labels.insert(oidx) {
                    return Err(QueryError::exec(
                        if m.card == VectorMatchCardinality::OneToOne {
                            "vector cannot contain metrics with the same labelset"
                        } else {
                            "multiple matches for labels: grouping labels must ensure unique matches"
                        },
                    ));
                }
                out[oidx].pts.push((i as u32, value));
            }
        }
        out.retain(|s| !s.pts.is_empty());
        Ok(V::Vector(out))
    }

    fn result_labels(
        &self,
        many: &Series,
        one: &Series,
        m: &VectorMatching,
        drop: bool,
    ) -> (Labels, bool) {
        let mut b: LabelsBuilder = many.labels.builder();
        let mut dn = many.drop_name;
        if drop {
            if self.opts.delayed_name_removal {
                dn = true;
            } else {
                b.del(METRIC_NAME);
            }
        }
        if m.card == VectorMatchCardinality::OneToOne {
            if m.on {
                let keep: Vec<String> = many
                    .labels
                    .iter()
                    .filter(|l| !m.matching_labels.iter().any(|n| **n == *l.name))
                    .map(|l| l.name.to_string())
                    .collect();
                for k in keep {
                    b.del(&k);
                }
            } else {
                for n in &m.matching_labels {
                    b.del(n);
                }
            }
        }
        for n in &m.include {
            match one.labels.get(n) {
                Some(v) => {
                    b.set(n.as_str(), v);
                }
                None => {
                    b.del(n);
                }
            }
        }
        let labels = b.build();
        if !labels.has(METRIC_NAME) {
            dn = false;
        }
        (labels, dn)
    }
}

fn unreachable_op() -> Result<()> {
    Err(QueryError::exec("unsupported aggregation"))
}

/// The range-vector functions, resolved once per call instead of per step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RangeFn {
    DoubleExponentialSmoothing,
    Rate,
    Increase,
    Delta,
    Irate,
    Idelta,
    Deriv,
    PredictLinear,
    Changes,
    Resets,
    CountOverTime,
    SumOverTime,
    AvgOverTime,
    MinOverTime,
    MaxOverTime,
    StddevOverTime,
    StdvarOverTime,
    QuantileOverTime,
    MadOverTime,
    LastOverTime,
    FirstOverTime,
    PresentOverTime,
    TsOfLastOverTime,
    TsOfFirstOverTime,
    TsOfMaxOverTime,
    TsOfMinOverTime,
}

impl RangeFn {
    fn from_name(name: &str) -> Option<RangeFn> {
        Some(match name {
            "double_exponential_smoothing" => RangeFn::DoubleExponentialSmoothing,
            "rate" => RangeFn::Rate,
            "increase" => RangeFn::Increase,
            "delta" => RangeFn::Delta,
            "irate" => RangeFn::Irate,
            "idelta" => RangeFn::Idelta,
            "deriv" => RangeFn::Deriv,
            "predict_linear" => RangeFn::PredictLinear,
            "changes" => RangeFn::Changes,
            "resets" => RangeFn::Resets,
            "count_over_time" => RangeFn::CountOverTime,
            "sum_over_time" => RangeFn::SumOverTime,
            "avg_over_time" => RangeFn::AvgOverTime,
            "min_over_time" => RangeFn::MinOverTime,
            "max_over_time" => RangeFn::MaxOverTime,
            "stddev_over_time" => RangeFn::StddevOverTime,
            "stdvar_over_time" => RangeFn::StdvarOverTime,
            "quantile_over_time" => RangeFn::QuantileOverTime,
            "mad_over_time" => RangeFn::MadOverTime,
            "last_over_time" => RangeFn::LastOverTime,
            "first_over_time" => RangeFn::FirstOverTime,
            "present_over_time" => RangeFn::PresentOverTime,
            "ts_of_last_over_time" => RangeFn::TsOfLastOverTime,
            "ts_of_first_over_time" => RangeFn::TsOfFirstOverTime,
            "ts_of_max_over_time" => RangeFn::TsOfMaxOverTime,
            "ts_of_min_over_time" => RangeFn::TsOfMinOverTime,
            _ => return None,
        })
    }
}

/// Per-group accumulator of the simple aggregations.
#[derive(Debug, Clone, Copy, Default)]
struct Acc {
    has: bool,
    v: f64,
    c: f64,
    mean: f::MeanAcc,
    var: f::VarAcc,
}

enum OpResult {
    Value(f64),
    Cmp(bool),
}

fn scalar_op(op: BinaryOp, x: f64, y: f64) -> OpResult {
    use f::{ArithOp as A, CmpOp as C};
    let a = |o| OpResult::Value(f::arith(o, x, y));
    let c = |o| OpResult::Cmp(f::compare(o, x, y));
    match op {
        BinaryOp::Add => a(A::Add),
        BinaryOp::Sub => a(A::Sub),
        BinaryOp::Mul => a(A::Mul),
        BinaryOp::Div => a(A::Div),
        BinaryOp::Mod => a(A::Mod),
        BinaryOp::Pow => a(A::Pow),
        BinaryOp::Atan2 => a(A::Atan2),
        BinaryOp::Eql => c(C::Eq),
        BinaryOp::Neq => c(C::Ne),
        BinaryOp::Gtr => c(C::Gt),
        BinaryOp::Lss => c(C::Lt),
        BinaryOp::Gte => c(C::Ge),
        BinaryOp::Lte => c(C::Le),
        BinaryOp::And | BinaryOp::Or | BinaryOp::Unless => OpResult::Value(f64::NAN),
    }
}

fn signature(labels: &Labels, m: &VectorMatching) -> u64 {
    if m.on {
        // Missing labels hash as empty values: iterate the on-list in sorted order.
        let mut names: Vec<&String> = m.matching_labels.iter().collect();
        names.sort();
        names.dedup();
        let mut h = hasher();
        for n in names {
            n.hash(&mut h);
            0xffu8.hash(&mut h);
            labels.get(n).unwrap_or("").hash(&mut h);
            0xfeu8.hash(&mut h);
        }
        h.finish()
    } else {
        hash_labels(labels.iter().filter(|l| {
            &*l.name != METRIC_NAME && !m.matching_labels.iter().any(|n| **n == *l.name)
        }))
    }
}

/// Labels as Go's `labels.Labels.String()` prints them: `{a="b", c="d"}`,
/// the metric name included as `__name__`.
fn go_labels(l: &Labels) -> String {
    let mut s = String::from("{");
    for (i, x) in l.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(&x.name);
        s.push('=');
        s.push_str(&format!("{:?}", &*x.value));
    }
    s.push('}');
    s
}

fn match_labels(labels: &Labels, m: &VectorMatching) -> Labels {
    if m.on {
        labels.filter(|l| m.matching_labels.iter().any(|n| **n == *l.name))
    } else {
        labels.filter(|l| {
            &*l.name != METRIC_NAME && !m.matching_labels.iter().any(|n| **n == *l.name)
        })
    }
}

/// The window `(start, end]` of `samples` as index range, advancing the cursors
/// (`end` must not decrease between calls).
#[inline]
fn window(
    samples: &[Sample],
    start: i64,
    end: i64,
    lo: &mut usize,
    hi: &mut usize,
) -> (usize, usize) {
    if *hi < *lo {
        *hi = *lo;
    }
    while *hi < samples.len() && samples[*hi].t <= end {
        *hi += 1;
    }
    while *lo < *hi && samples[*lo].t <= start {
        *lo += 1;
    }
    (*lo, *hi)
}

/// A range function's parameters, shared by every series it is applied to.
struct RangeEval<'p> {
    fk: RangeFn,
    range: i64,
    /// The window end per outer step.
    ends: &'p [i64],
    param: Option<&'p [f64]>,
    sfs: &'p [f64],
    tfs: &'p [f64],
    g: Grid,
}

impl RangeEval<'_> {
    /// The function's value at every step whose window holds samples of this
    /// series (`samples`: ascending, staleness markers removed). Adds the window
    /// sizes to `window_samples` for the query's sample limit.
    fn points(
        &self,
        samples: &[Sample],
        window_samples: &mut [usize],
        scratch: &mut Vec<f64>,
    ) -> Pts {
        let (fk, range, g) = (self.fk, self.range, self.g);
        let (param, sfs, tfs) = (self.param, self.sfs, self.tfs);
        let mut pts = Pts::new();
        let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
            return pts;
        };
        // Only steps whose window can reach the series' samples.
        let i0 = self.ends.partition_point(|&e| e < first.t);
        let i1 = self
            .ends
            .partition_point(|&e| e.saturating_sub(range) < last.t);
        let (mut lo, mut hi) = (0usize, 0usize);
        for i in i0..i1.max(i0) {
            let end = self.ends[i];
            let start = end.saturating_sub(range);
            let (a, b) = window(samples, start, end, &mut lo, &mut hi);
            let w = &samples[a..b];
            window_samples[i] += w.len();
            if w.is_empty() {
                continue;
            }
            let vals = || w.iter().map(|x| x.v);
            let v = match fk {
                RangeFn::Rate => f::extrapolated_rate(w, start, end, true, true),
                RangeFn::Increase => f::extrapolated_rate(w, start, end, true, false),
                RangeFn::Delta => f::extrapolated_rate(w, start, end, false, false),
                RangeFn::Irate => f::instant_value(w, true),
                RangeFn::Idelta => f::instant_value(w, false),
                RangeFn::Deriv => (w.len() >= 2).then(|| f::linear_regression(w, w[0].t).0),
                RangeFn::PredictLinear => (w.len() >= 2).then(|| {
                    let (slope, icpt) = f::linear_regression(w, g.t(i));
                    let p = param.as_ref().map_or(0.0, |p| p[i]);
                    slope * p + icpt
                }),
                RangeFn::Changes => Some(f::changes(w)),
                RangeFn::Resets => Some(f::resets(w)),
                RangeFn::CountOverTime => Some(w.len() as f64),
                RangeFn::SumOverTime => Some(f::sum_values(vals())),
                RangeFn::AvgOverTime => {
                    let mut m = f::MeanAcc::default();
                    for v in vals() {
                        m.add(v);
                    }
                    Some(m.value())
                }
                RangeFn::MinOverTime => Some(f::min_max(vals(), false)),
                RangeFn::MaxOverTime => Some(f::min_max(vals(), true)),
                RangeFn::StddevOverTime => Some(f::variance_over_time(vals()).sqrt()),
                RangeFn::StdvarOverTime => Some(f::variance_over_time(vals())),
                RangeFn::QuantileOverTime => {
                    scratch.clear();
                    scratch.extend(vals());
                    let q = param.as_ref().map_or(f64::NAN, |p| p[i]);
                    Some(f::quantile(q, scratch))
                }
                RangeFn::MadOverTime if w.iter().any(|x| x.v.is_nan()) => Some(f64::NAN),
                RangeFn::MadOverTime => {
                    scratch.clear();
                    scratch.extend(vals());
                    let med = f::quantile(0.5, scratch);
                    for x in scratch.iter_mut() {
                        *x = (*x - med).abs();
                    }
                    Some(f::quantile(0.5, scratch))
                }
                RangeFn::DoubleExponentialSmoothing => {
                    (w.len() >= 2).then(|| f::double_exponential_smoothing(w, sfs[i], tfs[i]))
                }
                RangeFn::LastOverTime => Some(w[w.len() - 1].v),
                RangeFn::FirstOverTime => Some(w[0].v),
                RangeFn::PresentOverTime => Some(1.0),
                RangeFn::TsOfLastOverTime => Some(w[w.len() - 1].t as f64 / 1000.0),
                RangeFn::TsOfFirstOverTime => Some(w[0].t as f64 / 1000.0),
                RangeFn::TsOfMaxOverTime | RangeFn::TsOfMinOverTime => {
                    let max = fk == RangeFn::TsOfMaxOverTime;
                    let mut best = w[0];
                    for x in &w[1..] {
                        let better = if max { x.v >= best.v } else { x.v <= best.v };
                        if better || best.v.is_nan() {
                            best = *x;
                        }
                    }
                    Some(best.t as f64 / 1000.0)
                }
            };
            if let Some(v) = v {
                pts.push((i as u32, v));
            }
        }
        pts
    }
}

/// The distinct metric names of a range function's input, in first-seen order.
#[derive(Default)]
struct NameSet {
    list: Vec<std::sync::Arc<str>>,
    seen: HashSet<std::sync::Arc<str>>,
    nameless: bool,
}

impl NameSet {
    fn note(&mut self, name: Option<&std::sync::Arc<str>>) {
        let Some(n) = name else {
            self.nameless = true;
            return;
        };
        // Fast path: consecutive series usually share the interned name.
        if self
            .list
            .last()
            .is_some_and(|p| std::sync::Arc::ptr_eq(p, n) || **p == **n)
        {
            return;
        }
        if self.seen.insert(n.clone()) {
            self.list.push(n.clone());
        }
    }
}

struct RangeInput {
    series: Vec<RawSeries>,
    range: i64,
    /// The window end per outer step.
    ends: Vec<i64>,
}

/// Labels for `absent`/`absent_over_time` from the argument's matchers (§8.7).
fn absent_labels(arg: &Expr) -> Labels {
    let a = unwrap_parens(arg);
    let sel = match &a.kind {
        ExprKind::VectorSelector(s) => s,
        ExprKind::MatrixSelector(ms) => &ms.selector,
        _ => return Labels::empty(),
    };
    let mut b = LabelsBuilder::new();
    // Prometheus's rule: an equality matcher sets its label unless an equality matcher
    // for that name came before; every other matcher for the name deletes it. Only
    // equality matchers count as "came before".
    let mut set_once: HashSet<&str> = HashSet::new();
    for mt in &sel.matchers {
        if &*mt.name == METRIC_NAME {
            continue;
        }
        if mt.op == MatchOp::Equal && set_once.insert(&mt.name) {
            b.set(mt.name.clone(), mt.value.clone());
        } else {
            b.del(&mt.name);
        }
    }
    b.build()
}

/// Sets the destination label of `label_replace`/`label_join` (an empty value deletes
/// it). Writing `__name__` gives the series a name again, so it is no longer dropped.
fn set_output_label(se: &mut Series, dst: &str, value: &str) {
    let mut b = se.labels.builder();
    b.set(dst, value);
    se.labels = b.build();
    if dst == METRIC_NAME {
        se.drop_name = false;
    }
}

/// The answer of `absent`/`absent_over_time`: one series with value 1 at every step
/// where the argument had nothing (`has[step]` false), or nothing at all.
fn absent_result(labels: Labels, has: &[bool]) -> V {
    let pts: Pts = (0..has.len())
        .filter(|&i| !has[i])
        .map(|i| (i as u32, 1.0))
        .collect();
    V::Vector(if pts.is_empty() {
        Vec::new()
    } else {
        vec![Series {
            labels,
            drop_name: false,
            pts,
        }]
    })
}

/// Merges series with equal labels when their points never share a step;
/// errors when they do (step-wise evaluation, §12).
fn merge_same_labels(series: Vec<Series>) -> Result<Vec<Series>> {
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
fn merge_lenient(series: Vec<Series>) -> Vec<Series> {
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
