//! Selection from the store: instant vector selectors (lookback), range selectors
//! and subqueries, as the inputs of range functions.

use promlite_model::{is_stale_nan, Labels, PairRef, Sample};

use super::engine::{select_error, unwrap_parens, Ctx, Grid, Result, V};
use super::series::{Pts, RawSeries, Series};
use super::{QueryError, QueryErrorKind, DEFAULT_SUBQUERY_STEP_MS};
use crate::parser::ast::{Expr, ExprKind, SubqueryExpr, VectorSelector};

impl Ctx<'_> {
    pub(super) fn select(
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
    pub(super) fn stream(
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

    /// Instant selection (§4). With `timestamps`, values are the samples' times in
    /// seconds (for `timestamp(sel)`).
    pub(super) fn eval_vector_selector(
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

    /// A range selector or subquery as the query's value (only at the top of an
    /// instant query): the samples of each series' window at the query time.
    pub(super) fn eval_range_value(&mut self, e: &Expr, g: Grid) -> Result<V> {
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

    /// Loads the input of a range function: a range selector or a subquery.
    pub(super) fn load_range(&mut self, e: &Expr, g: Grid) -> Result<RangeInput> {
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

    pub(super) fn eval_subquery(&mut self, sq: &SubqueryExpr, g: Grid) -> Result<RangeInput> {
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
        let inner_value = self.eval(&sq.expr, inner)?;
        self.check_now()?;
        let series = match inner_value {
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
}

pub(super) struct RangeInput {
    pub(super) series: Vec<RawSeries>,
    pub(super) range: i64,
    /// The window end per outer step.
    pub(super) ends: Vec<i64>,
}

/// The window `(start, end]` of `samples` as index range, advancing the cursors
/// (`end` must not decrease between calls).
#[inline]
pub(super) fn window(
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
