//! Annotations (warnings and infos) as typed values: each kind has one text, in
//! Prometheus 3's words where Prometheus has it (`util/annotations`), followed by
//! the `(line:col)` position of the query part it is about.

use promlite_model::format_go_g;

use super::engine::Ctx;
use crate::parser::ast::Span;

/// One annotation, before its position is attached.
#[derive(Debug, Clone, Copy)]
pub(super) enum Annotation<'a> {
    /// A `quantile`/`histogram_quantile`/`quantile_over_time` parameter outside [0, 1].
    QuantileOutOfRange(f64),
    /// A `limit_ratio` parameter outside [-1, 1], and the value it was capped to.
    RatioOutOfRange {
        /// The parameter.
        got: f64,
        /// What it was capped to.
        capped: f64,
    },
    /// `sort*` in a range query.
    SortInRangeQuery,
    /// A bucket whose `le` label is missing or not a number.
    BadBucketLabel {
        /// The `le` text ("" when missing).
        le: &'a str,
        /// The metric name ("" when unknown).
        metric: &'a str,
    },
    /// `histogram_quantile` had to fix non-monotonic buckets (an info).
    ForcedMonotonic {
        /// The metric name ("" when unknown).
        metric: &'a str,
    },
    /// `histogram_quantile` over buckets without `+Inf`.
    MissingInfBucket {
        /// The metric name ("" when unknown).
        metric: &'a str,
    },
    /// `rate`/`increase`/`irate` over a family the store declares as gauge.
    GaugeInCounterFunction {
        /// The function's name.
        func: &'a str,
        /// The metric name.
        metric: &'a str,
    },
    /// `rate`/`increase` over a metric whose name does not look like a counter
    /// and whose type is unknown (an info).
    PossibleNonCounter {
        /// The metric name.
        metric: &'a str,
    },
}

impl Annotation<'_> {
    /// Infos go to [`QueryResult::infos`](super::QueryResult::infos), the rest
    /// are warnings.
    fn is_info(&self) -> bool {
        matches!(
            self,
            Annotation::ForcedMonotonic { .. } | Annotation::PossibleNonCounter { .. }
        )
    }

    /// The text with the position `pos` (`(line:col)`).
    fn text(&self, pos: &str) -> String {
        match self {
            Annotation::QuantileOutOfRange(q) => format!(
                "PromQL warning: quantile value should be between 0 and 1, got {} {pos}",
                format_go_g(*q)
            ),
            Annotation::RatioOutOfRange { got, capped } => format!(
                "PromQL warning: ratio value should be between -1 and 1, got {}, capping to {} {pos}",
                format_go_g(*got),
                format_go_g(*capped)
            ),
            Annotation::SortInRangeQuery => format!(
                "PromQL warning: sort is ineffective for range queries since results are always ordered by labels {pos}"
            ),
            Annotation::BadBucketLabel { le, metric } => format!(
                "PromQL warning: bucket label \"le\" is missing or has a malformed value of {le:?} for metric name {metric:?} {pos}"
            ),
            Annotation::ForcedMonotonic { metric } => format!(
                "PromQL info: input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name {metric:?} {pos}"
            ),
            Annotation::MissingInfBucket { metric } => format!(
                "PromQL warning: input to histogram_quantile has no +Inf bucket, result is NaN for metric name {metric:?} {pos}"
            ),
            Annotation::GaugeInCounterFunction { func, metric } => format!(
                "PromQL warning: metric is a gauge (declared TYPE), {func}() is meant for counters: {metric:?} {pos}"
            ),
            Annotation::PossibleNonCounter { metric } => format!(
                "PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: {metric:?} {pos}"
            ),
        }
    }
}

impl Ctx<'_> {
    /// Records `a` about the query part at `span` (once per distinct text).
    pub(super) fn annotate(&mut self, a: Annotation<'_>, span: Span) {
        let text = a.text(&self.pos(span));
        let list = if a.is_info() {
            &mut self.infos
        } else {
            &mut self.warnings
        };
        if !list.contains(&text) {
            list.push(text);
        }
    }

    /// Warns about every quantile parameter outside [0, 1] (`span`: the parameter).
    pub(super) fn check_quantiles(&mut self, qs: &[f64], span: Span) {
        for &q in qs {
            if !(0.0..=1.0).contains(&q) {
                self.annotate(Annotation::QuantileOutOfRange(q), span);
            }
        }
    }
}
