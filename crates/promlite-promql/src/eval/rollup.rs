//! Range-vector functions (`rate`, `*_over_time`, ...): a window slides over each
//! series' samples, streamed from the store when the argument is a range selector.

use hashbrown::{HashMap, HashSet};
use promlite_model::{is_stale_nan, Label, Labels, MetricType, Sample, METRIC_NAME};

use super::annotations::Annotation;
use super::engine::{
    dup_labelset_err, family, unwrap_parens, Ctx, Family, Grid, Projection, Result, Stop, V,
};
use super::functions as f;
use super::selector::window;
use super::series::{hash_labels, is_metric_name, name_arc, Grouper, Pts, Series};
use super::QueryError;
use crate::parser::ast::{AggregateExpr, Call, ExprKind, Span};
use crate::parser::functions::FunctionId;

impl Ctx<'_> {
    /// Called by an aggregation (that ignores `__name__` and is evaluated in
    /// immediate name-removal mode) before evaluating its argument: a range
    /// function there may leave `__name__` in place, marked dropped, and build
    /// only the grouping labels from the store (see `Ctx::lazy_drop`/`project`).
    pub(super) fn prepare_aggregated_input(&mut self, a: &AggregateExpr) {
        if let ExprKind::Call(c) = &unwrap_parens(&a.expr).kind {
            self.lazy_drop = c.func.arg_types.contains(&crate::ValueType::Matrix)
                && !keeps_metric_name(c.func.id);
            if self.lazy_drop && family(c.func.id) == Family::Rollup {
                self.project = Some(Projection {
                    names: a.grouping.clone(),
                    without: a.without,
                });
            }
        }
    }

    /// The counter annotations of `rate`/`increase`/`irate` (`id`, named `fname`)
    /// over the metric `names` of its input.
    pub(super) fn annotate_counter(
        &mut self,
        id: FunctionId,
        fname: &str,
        names: &[std::sync::Arc<str>],
        span: Span,
    ) {
        for name in names {
            let name: &str = name;
            let declared = self.storage.metric_type(name).or_else(|| {
                ["_total", "_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|suf| name.strip_suffix(suf))
                    .and_then(|fam| self.storage.metric_type(fam))
            });
            match declared {
                Some(MetricType::Gauge) => self.annotate(
                    Annotation::GaugeInCounterFunction {
                        func: fname,
                        metric: name,
                    },
                    span,
                ),
                Some(MetricType::Unknown) | None => {
                    if id != FunctionId::Irate
                        && !["_total", "_sum", "_count", "_bucket"]
                            .iter()
                            .any(|suf| name.ends_with(suf))
                    {
                        self.annotate(Annotation::PossibleNonCounter { metric: name }, span);
                    }
                }
                Some(_) => {}
            }
        }
    }

    pub(super) fn eval_range_function(&mut self, c: &Call, g: Grid) -> Result<V> {
        let lazy = std::mem::replace(&mut self.lazy_drop, false);
        let project = self.project.take();
        let (warn_mark, info_mark) = (self.warnings.len(), self.infos.len());
        use FunctionId as F;
        let fk = c.func.id;
        // The range argument and any scalar parameter.
        let (param, range_arg) = match fk {
            F::QuantileOverTime | F::PredictLinear => {
                let (p, r) = if fk == F::QuantileOverTime {
                    (&c.args[0], &c.args[1])
                } else {
                    (&c.args[1], &c.args[0])
                };
                (Some(self.eval_scalar(p, g)?), r)
            }
            _ => (None, &c.args[0]),
        };
        // double_exponential_smoothing(v, sf, tf): both factors per step.
        let (sfs, tfs) = if fk == F::DoubleExponentialSmoothing {
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
        if fk == F::QuantileOverTime {
            if let Some(p) = &param {
                self.check_quantiles(p, c.args[0].span);
            }
        }
        let keep_name = keeps_metric_name(fk);
        let mut out = Vec::new();
        let mut window_samples = vec![0usize; g.n];
        let mut scratch: Vec<f64> = Vec::new();
        let mut names = NameSet::default();
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
                stop: self.stop(),
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
            self.check_now()?;
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
                stop: self.stop(),
            };
            out.reserve(rs.series.len());
            for s in rs.series {
                self.tick()?;
                names.note(name_arc(&s.labels));
                let pts = re.points(&s.samples, &mut window_samples, &mut scratch);
                emit(self, &mut out, s.labels, s.drop_name, pts);
            }
            self.check_now()?;
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
        if matches!(fk, F::Rate | F::Increase | F::Irate) {
            self.annotate_counter(c.func.id, c.func.name, &names.list, range_arg.span);
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
}

/// A range function's parameters, shared by every series it is applied to.
pub(super) struct RangeEval<'p> {
    pub(super) fk: FunctionId,
    pub(super) range: i64,
    /// The window end per outer step.
    pub(super) ends: &'p [i64],
    pub(super) param: Option<&'p [f64]>,
    pub(super) sfs: &'p [f64],
    pub(super) tfs: &'p [f64],
    pub(super) g: Grid,
    /// Stops the loop early (the caller then reports the timeout or cancel).
    pub(super) stop: Stop<'p>,
}

/// Samples a range function reads between two [`Stop`] checks.
const STOP_EVERY_SAMPLES: usize = 1 << 20;

impl RangeEval<'_> {
    /// The function's value at every step whose window holds samples of this
    /// series (`samples`: ascending, staleness markers removed). Adds the window
    /// sizes to `window_samples` for the query's sample limit.
    pub(super) fn points(
        &self,
        samples: &[Sample],
        window_samples: &mut [usize],
        scratch: &mut Vec<f64>,
    ) -> Pts {
        use FunctionId as F;
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
        let mut scanned = 0usize;
        for i in i0..i1.max(i0) {
            let end = self.ends[i];
            let start = end.saturating_sub(range);
            let (a, b) = window(samples, start, end, &mut lo, &mut hi);
            let w = &samples[a..b];
            window_samples[i] += w.len();
            scanned += w.len();
            if scanned >= STOP_EVERY_SAMPLES {
                scanned = 0;
                if self.stop.hit() {
                    break;
                }
            }
            if w.is_empty() {
                continue;
            }
            let vals = || w.iter().map(|x| x.v);
            let v = match fk {
                F::Rate => f::extrapolated_rate(w, start, end, true, true),
                F::Increase => f::extrapolated_rate(w, start, end, true, false),
                F::Delta => f::extrapolated_rate(w, start, end, false, false),
                F::Irate => f::instant_value(w, true),
                F::Idelta => f::instant_value(w, false),
                F::Deriv => (w.len() >= 2).then(|| f::linear_regression(w, w[0].t).0),
                F::PredictLinear => (w.len() >= 2).then(|| {
                    let (slope, icpt) = f::linear_regression(w, g.t(i));
                    let p = param.as_ref().map_or(0.0, |p| p[i]);
                    slope * p + icpt
                }),
                F::Changes => Some(f::changes(w)),
                F::Resets => Some(f::resets(w)),
                F::CountOverTime => Some(w.len() as f64),
                F::SumOverTime => Some(f::sum_values(vals())),
                F::AvgOverTime => {
                    let mut m = f::MeanAcc::default();
                    for v in vals() {
                        m.add(v);
                    }
                    Some(m.value())
                }
                F::MinOverTime => Some(f::min_max(vals(), false)),
                F::MaxOverTime => Some(f::min_max(vals(), true)),
                F::StddevOverTime => Some(f::variance_over_time(vals()).sqrt()),
                F::StdvarOverTime => Some(f::variance_over_time(vals())),
                F::QuantileOverTime => {
                    scratch.clear();
                    scratch.extend(vals());
                    let q = param.as_ref().map_or(f64::NAN, |p| p[i]);
                    Some(f::quantile(q, scratch))
                }
                F::MadOverTime if w.iter().any(|x| x.v.is_nan()) => Some(f64::NAN),
                F::MadOverTime => {
                    scratch.clear();
                    scratch.extend(vals());
                    let med = f::quantile(0.5, scratch);
                    for x in scratch.iter_mut() {
                        *x = (*x - med).abs();
                    }
                    Some(f::quantile(0.5, scratch))
                }
                F::DoubleExponentialSmoothing => {
                    (w.len() >= 2).then(|| f::double_exponential_smoothing(w, sfs[i], tfs[i]))
                }
                F::LastOverTime => Some(w[w.len() - 1].v),
                F::FirstOverTime => Some(w[0].v),
                F::PresentOverTime => Some(1.0),
                F::TsOfLastOverTime => Some(w[w.len() - 1].t as f64 / 1000.0),
                F::TsOfFirstOverTime => Some(w[0].t as f64 / 1000.0),
                F::TsOfMaxOverTime | F::TsOfMinOverTime => {
                    let max = fk == F::TsOfMaxOverTime;
                    let mut best = w[0];
                    for x in &w[1..] {
                        let better = if max { x.v >= best.v } else { x.v <= best.v };
                        if better || best.v.is_nan() {
                            best = *x;
                        }
                    }
                    Some(best.t as f64 / 1000.0)
                }
                // Not a range function (excluded by `family`).
                _ => None,
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
pub(super) struct NameSet {
    pub(super) list: Vec<std::sync::Arc<str>>,
    pub(super) seen: HashSet<std::sync::Arc<str>>,
    pub(super) nameless: bool,
}

impl NameSet {
    pub(super) fn note(&mut self, name: Option<&std::sync::Arc<str>>) {
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

/// Range functions whose output keeps the input's metric name.
pub(super) fn keeps_metric_name(id: FunctionId) -> bool {
    matches!(id, FunctionId::LastOverTime | FunctionId::FirstOverTime)
}
