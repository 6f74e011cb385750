//! The evaluator's core: the query context (options, limits, cancellation,
//! annotations), the grid of evaluation times, the dispatch over expression
//! kinds and function families, and the conversion of the final value.
//!
//! Every node is evaluated once for all steps of a query (a "grid" of
//! evaluation times): vectors are kept series-major, each series holding the
//! steps where it has a value. The families live beside this file: `selector`,
//! `call`, `histogram`, `rollup`, `aggregate`, `binary`; `series` holds the
//! shared value types and label helpers.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use hashbrown::HashSet;
use promlite_model::{Labels, Queryable, Sample, SelectError};

use super::series::{merge_same_labels, RawSeries, Series};
use super::{
    EngineOptions, QueryError, QueryErrorKind, QueryResult, RangeSeries, Value, VectorSample,
};
use crate::parser::ast::{AtModifier, Call, Expr, ExprKind, Span, UnaryOp};
use crate::parser::functions::FunctionId;

pub(super) type Result<T> = std::result::Result<T, QueryError>;

/// Evaluation times `start + i*step`, `i < n`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Grid {
    pub(super) start: i64,
    pub(super) step: i64,
    pub(super) n: usize,
}

impl Grid {
    pub(super) fn t(&self, i: usize) -> i64 {
        self.start + i as i64 * self.step
    }
}

#[derive(Debug)]
pub(super) enum V {
    Scalar(Vec<f64>),
    Str(String),
    Vector(Vec<Series>),
    Matrix(Vec<RawSeries>),
}

pub(super) struct Ctx<'a> {
    pub(super) opts: &'a EngineOptions,
    pub(super) storage: &'a dyn Queryable,
    pub(super) query: &'a str,
    pub(super) qstart: i64,
    pub(super) qend: i64,
    /// The query step (0 for instant queries), for `step()`.
    pub(super) qstep: i64,
    pub(super) instant: bool,
    pub(super) cancel: Option<&'a AtomicBool>,
    pub(super) deadline: Option<Instant>,
    pub(super) warnings: super::notes::Notes,
    pub(super) infos: super::notes::Notes,
    pub(super) ticks: u32,
    /// Set by an aggregation for its direct range-function argument: keep
    /// `__name__` in the labels but mark it dropped (the aggregation ignores
    /// it), saving a label-set allocation per series. Immediate mode only.
    pub(super) lazy_drop: bool,
    /// Set by an aggregation for its direct range-function argument: the only
    /// labels it reads (its grouping), so that the streamed selection builds
    /// just those. Immediate mode only; see `eval_range_function`.
    pub(super) project: Option<Projection>,
}

/// The labels an aggregation groups by (`by` names, or all but `without` names
/// and `__name__`).
#[derive(Debug, Clone)]
pub(super) struct Projection {
    pub(super) names: Vec<String>,
    pub(super) without: bool,
}

/// The query error for a failed selection.
pub(super) fn select_error(e: SelectError) -> QueryError {
    match e {
        SelectError::TooManySamples { .. } => QueryError::new(
            QueryErrorKind::TooManySamples,
            "query processing would load too many samples into memory in query execution",
        ),
        other => QueryError::exec(other.to_string()),
    }
}

pub(super) fn unwrap_parens(e: &Expr) -> &Expr {
    match &e.kind {
        ExprKind::Paren(inner) => unwrap_parens(inner),
        _ => e,
    }
}

pub(super) fn dup_labelset_err() -> QueryError {
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

/// The query's cancel flag and deadline, for loops that cannot borrow the context.
#[derive(Clone, Copy)]
pub(super) struct Stop<'a> {
    cancel: Option<&'a AtomicBool>,
    deadline: Option<Instant>,
}

impl Stop<'_> {
    /// True once the query is canceled or past its deadline.
    pub(super) fn hit(&self) -> bool {
        self.cancel.is_some_and(|c| c.load(Ordering::Relaxed))
            || self.deadline.is_some_and(|d| Instant::now() >= d)
    }
}

impl<'a> Ctx<'a> {
    /// The cancel flag and deadline, for loops outside the context.
    pub(super) fn stop(&self) -> Stop<'a> {
        Stop {
            cancel: self.cancel,
            deadline: self.deadline,
        }
    }

    pub(super) fn check_now(&mut self) -> Result<()> {
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
    pub(super) fn tick(&mut self) -> Result<()> {
        self.ticks = self.ticks.wrapping_add(1);
        if self.ticks % 1024 == 0 {
            self.check_now()
        } else {
            Ok(())
        }
    }

    pub(super) fn check_samples(&self, n: usize) -> Result<()> {
        if n > self.opts.max_samples {
            Err(QueryError::new(
                QueryErrorKind::TooManySamples,
                "query processing would load too many samples into memory in query execution",
            ))
        } else {
            Ok(())
        }
    }

    pub(super) fn pos(&self, span: Span) -> String {
        let (line, col) = crate::parser::errors::line_col(self.query, span.start);
        format!("({line}:{col})")
    }

    /// Removes `__name__` now (immediate mode) or marks it (delayed mode).
    pub(super) fn drop_name(&self, labels: &Labels) -> (Labels, bool) {
        if self.opts.delayed_name_removal {
            (labels.clone(), true)
        } else {
            (labels.without_metric_name(), false)
        }
    }

    /// Final name cleanup (delayed mode) plus the duplicate-labelset check.
    pub(super) fn finalize_names(&self, series: Vec<Series>) -> Result<Vec<Series>> {
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

    pub(super) fn ref_time(&self, at: Option<AtModifier>, offset: i64, t: i64) -> i64 {
        let base = match at {
            None => t,
            Some(AtModifier::Timestamp(x)) => x,
            Some(AtModifier::Start) => self.qstart,
            Some(AtModifier::End) => self.qend,
        };
        base.saturating_sub(offset)
    }

    pub(super) fn eval(&mut self, e: &Expr, g: Grid) -> Result<V> {
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
            ExprKind::MatrixSelector(_) | ExprKind::Subquery(_) => self.eval_range_value(e, g),
            ExprKind::Call(c) => self.eval_call(c, e.span, g),
            ExprKind::Aggregate(a) => self.eval_aggregate(a, g),
            ExprKind::Binary(b) => self.eval_binary(b, g),
        }
    }

    pub(super) fn eval_vector(&mut self, e: &Expr, g: Grid) -> Result<Vec<Series>> {
        match self.eval(e, g)? {
            V::Vector(s) => Ok(s),
            _ => Err(QueryError::exec("expected instant vector")),
        }
    }

    pub(super) fn eval_scalar(&mut self, e: &Expr, g: Grid) -> Result<Vec<f64>> {
        match self.eval(e, g)? {
            V::Scalar(s) => Ok(s),
            _ => Err(QueryError::exec("expected scalar")),
        }
    }

    pub(super) fn eval_call(&mut self, c: &Call, span: Span, g: Grid) -> Result<V> {
        match family(c.func.id) {
            Family::Instant => self.eval_instant_call(c, span, g),
            Family::Histogram => self.eval_histogram_call(c, g),
            Family::Rollup => self.eval_range_function(c, g),
            Family::Unsupported => Err(QueryError::exec(format!(
                "function \"{}\" is not supported by this engine",
                c.func.name
            ))),
        }
    }
}

/// How the evaluator implements a function: the one place that sorts every
/// [`FunctionId`] of the table into a family (exhaustive, so a new table entry does
/// not compile until it has one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    /// Instant-vector, scalar, time, label and sorting functions
    /// ([`Ctx::eval_instant_call`]).
    Instant,
    /// Classic-histogram functions ([`Ctx::eval_histogram_call`]).
    Histogram,
    /// Functions of a range vector evaluated window by window ([`RangeEval`]).
    Rollup,
    /// In the table (Prometheus has it) but not implemented: the parser rejects it.
    Unsupported,
}

/// The family of `id`.
pub(crate) fn family(id: FunctionId) -> Family {
    use FunctionId as F;
    match id {
        F::Abs
        | F::Absent
        | F::AbsentOverTime
        | F::Acos
        | F::Acosh
        | F::Asin
        | F::Asinh
        | F::Atan
        | F::Atanh
        | F::Ceil
        | F::Clamp
        | F::ClampMax
        | F::ClampMin
        | F::Cos
        | F::Cosh
        | F::DayOfMonth
        | F::DayOfWeek
        | F::DayOfYear
        | F::DaysInMonth
        | F::Deg
        | F::End
        | F::Exp
        | F::Floor
        | F::Hour
        | F::LabelJoin
        | F::LabelReplace
        | F::Ln
        | F::Log10
        | F::Log2
        | F::MaxOf
        | F::MinOf
        | F::Minute
        | F::Month
        | F::Pi
        | F::Rad
        | F::Range
        | F::Round
        | F::Scalar
        | F::Sgn
        | F::Sin
        | F::Sinh
        | F::Sort
        | F::SortByLabel
        | F::SortByLabelDesc
        | F::SortDesc
        | F::Sqrt
        | F::Start
        | F::Step
        | F::Tan
        | F::Tanh
        | F::Time
        | F::Timestamp
        | F::Vector
        | F::Year => Family::Instant,
        F::HistogramAvg
        | F::HistogramCount
        | F::HistogramFraction
        | F::HistogramQuantile
        | F::HistogramStddev
        | F::HistogramStdvar
        | F::HistogramSum => Family::Histogram,
        F::AvgOverTime
        | F::Changes
        | F::CountOverTime
        | F::Delta
        | F::Deriv
        | F::DoubleExponentialSmoothing
        | F::FirstOverTime
        | F::Idelta
        | F::Increase
        | F::Irate
        | F::LastOverTime
        | F::MadOverTime
        | F::MaxOverTime
        | F::MinOverTime
        | F::PredictLinear
        | F::PresentOverTime
        | F::QuantileOverTime
        | F::Rate
        | F::Resets
        | F::StddevOverTime
        | F::StdvarOverTime
        | F::SumOverTime
        | F::TsOfFirstOverTime
        | F::TsOfLastOverTime
        | F::TsOfMaxOverTime
        | F::TsOfMinOverTime => Family::Rollup,
        F::HistogramQuantiles | F::Info | F::StartTimestamp => Family::Unsupported,
    }
}

/// A family's dispatcher reached with a function of another family (a bug).
pub(super) fn not_in_family(c: &Call) -> QueryError {
    QueryError::exec(format!(
        "internal error: function \"{}\" dispatched to the wrong family",
        c.func.name
    ))
}
