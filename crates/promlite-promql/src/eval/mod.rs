//! The PromQL evaluator: instant and range queries over a [`Queryable`] store,
//! with Prometheus 3 semantics (<https://prometheus.io/docs/prometheus/latest/querying/basics/>).
//!
//! ```
//! use promlite_model::{Labels, Sample, VecStorage};
//! use promlite_promql::{Engine, EngineOptions, Value};
//!
//! // A counter scraped every 15 s, growing by 3 per scrape: 0.2 per second.
//! let mut store = VecStorage::default();
//! let series = Labels::from_pairs([("__name__", "jobs_total"), ("job", "a")]);
//! for i in 0..=40 {
//!     store.push(&series, Sample { t: i * 15_000, v: 3.0 * i as f64 });
//! }
//! let engine = Engine::new(EngineOptions::default());
//! let r = engine.instant_query(&store, "sum by (job) (rate(jobs_total[5m]))", 600_000).unwrap();
//! let Value::Vector(v) = &r.value else { panic!("not a vector") };
//! assert_eq!(v[0].labels, Labels::from_pairs([("job", "a")]));
//! assert!((v[0].v - 0.2).abs() < 1e-12);
//! // The HTTP API's `data` object:
//! let json = serde_json::to_string(&r).unwrap();
//! assert!(json.starts_with(r#"{"resultType":"vector","result":[{"metric":{"job":"a"},"value":[600,"#));
//! ```
//!
//! Annotations (in [`QueryResult::warnings`] / [`QueryResult::infos`], never
//! errors) use Prometheus 3's texts where Prometheus has them, with the
//! `(line:col)` position of the argument: `rate`/`increase` over a metric whose
//! name does not look like a counter and whose type the store does not know
//! (info, Prometheus's text); `rate`/`increase`/`irate` over a family the store
//! declares as gauge (warning; Prometheus cannot know this); `histogram_quantile`
//! with buckets fixed for monotonicity (info, Prometheus's text), without a
//! `+Inf` bucket (warning), with a malformed `le` (warning, Prometheus's text);
//! quantile/ratio parameters out of range and `sort` in range queries
//! (warnings, Prometheus's texts).
//!
//! Design: every node is evaluated once for all steps of a query. Vectors are
//! series-major (each series holds the steps where it has a value); range
//! functions slide a window over each series' samples; aggregations hash each
//! series' grouping labels once and accumulate step by step.

mod aggregate;
mod annotations;
#[cfg(test)]
mod at_tests;
mod binary;
mod call;
mod check;
mod engine;
pub(crate) mod functions;
mod go_time;
mod histogram;
mod json;
mod notes;
mod rollup;
mod selector;
mod series;
#[cfg(test)]
mod table_tests;
#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use promlite_model::{Labels, Queryable, Sample};

use crate::parser::ast::Expr;

/// Engine settings. Build from [`EngineOptions::default`] and the `with_` methods
/// (new settings may be added).
///
/// ```
/// use std::time::Duration;
/// use promlite_promql::EngineOptions;
///
/// let opts = EngineOptions::default()
///     .with_lookback_delta_ms(120_000)
///     .with_timeout(Some(Duration::from_secs(10)));
/// assert_eq!(opts.max_samples, 50_000_000);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EngineOptions {
    /// How far back an instant selector looks for a sample (ms). Default 5m.
    pub lookback_delta_ms: i64,
    /// Prometheus's `promql-delayed-name-removal` feature: `__name__` stays visible
    /// until the final result. Default off (as a default Prometheus 3 server).
    pub delayed_name_removal: bool,
    /// Most samples a query may hold in memory at once. Default 50,000,000.
    pub max_samples: usize,
    /// Wall-clock limit per query; `None` for no limit.
    pub timeout: Option<Duration>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            lookback_delta_ms: 300_000,
            delayed_name_removal: false,
            max_samples: 50_000_000,
            timeout: None,
        }
    }
}

impl EngineOptions {
    /// With this lookback for instant selectors (ms; 0 or less means the default 5m).
    pub fn with_lookback_delta_ms(mut self, ms: i64) -> Self {
        self.lookback_delta_ms = ms;
        self
    }

    /// With Prometheus's delayed `__name__` removal on or off.
    pub fn with_delayed_name_removal(mut self, on: bool) -> Self {
        self.delayed_name_removal = on;
        self
    }

    /// With this limit on the samples a query may hold at once.
    pub fn with_max_samples(mut self, n: usize) -> Self {
        self.max_samples = n;
        self
    }

    /// With this wall-clock limit per query (`None`: none).
    pub fn with_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }
}

/// The default subquery step (`expr[5m:]`): Prometheus's default evaluation interval.
pub const DEFAULT_SUBQUERY_STEP_MS: i64 = 60_000;

/// A PromQL query engine. Cheap to create; holds only its options.
#[derive(Debug, Clone, Default)]
pub struct Engine {
    opts: EngineOptions,
}

impl Engine {
    /// An engine with `opts`.
    pub fn new(opts: EngineOptions) -> Self {
        Engine { opts }
    }

    /// The engine's options.
    pub fn options(&self) -> &EngineOptions {
        &self.opts
    }

    /// Parses and evaluates `query` at `time_ms`.
    ///
    /// # Errors
    /// [`QueryError`] for parse errors and evaluation failures.
    pub fn instant_query(
        &self,
        storage: &dyn Queryable,
        query: &str,
        time_ms: i64,
    ) -> Result<QueryResult, QueryError> {
        let expr = parse_query(query)?;
        self.instant_query_expr(storage, &expr, query, time_ms, None)
    }

    /// Parses and evaluates `query` at every step from `start_ms` to `end_ms`.
    ///
    /// # Errors
    /// [`QueryError`] for parse errors, a non-scalar/vector expression, or
    /// evaluation failures.
    pub fn range_query(
        &self,
        storage: &dyn Queryable,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<QueryResult, QueryError> {
        let expr = parse_query(query)?;
        self.range_query_expr(storage, &expr, query, start_ms, end_ms, step_ms, None)
    }

    /// Evaluates a parsed expression at `time_ms`. `query` is the text the
    /// expression was parsed from (used for annotation positions; may be empty).
    /// `cancel`, when set to true by another thread, stops the query.
    ///
    /// # Errors
    /// See [`Engine::instant_query`].
    pub fn instant_query_expr(
        &self,
        storage: &dyn Queryable,
        expr: &Expr,
        query: &str,
        time_ms: i64,
        cancel: Option<&AtomicBool>,
    ) -> Result<QueryResult, QueryError> {
        // The shape check first: it bounds the depth that `check_supported` then walks.
        check::check_expr(expr)?;
        check_supported(expr, query)?;
        engine::run(
            &self.opts, storage, expr, query, time_ms, time_ms, 1, true, cancel,
        )
    }

    /// Evaluates a parsed expression as a range query. See
    /// [`Engine::instant_query_expr`] for `query` and `cancel`.
    ///
    /// # Errors
    /// See [`Engine::range_query`].
    #[allow(clippy::too_many_arguments)]
    pub fn range_query_expr(
        &self,
        storage: &dyn Queryable,
        expr: &Expr,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
        cancel: Option<&AtomicBool>,
    ) -> Result<QueryResult, QueryError> {
        check::check_expr(expr)?;
        if step_ms <= 0 {
            return Err(QueryError::new(
                QueryErrorKind::BadData,
                "zero or negative query resolution step widths are not accepted. Try a positive integer",
            ));
        }
        if end_ms < start_ms {
            return Err(QueryError::new(
                QueryErrorKind::BadData,
                "end timestamp must not be before start time",
            ));
        }
        // Prometheus's API limit on points per series.
        if end_ms.saturating_sub(start_ms) / step_ms > 11_000 {
            return Err(QueryError::new(
                QueryErrorKind::BadData,
                "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
            ));
        }
        check_supported(expr, query)?;
        engine::run(
            &self.opts, storage, expr, query, start_ms, end_ms, step_ms, false, cancel,
        )
    }
}

fn parse_query(query: &str) -> Result<Expr, QueryError> {
    crate::parse(query).map_err(QueryError::from_parse)
}

/// Rejects, before any evaluation, a call of a function the parser knows (it is
/// Prometheus's grammar) but this engine does not implement
/// ([`Function::supported`](crate::Function::supported)): a parse error at the
/// function's name, so that no query fails half-way through.
fn check_supported(expr: &Expr, query: &str) -> Result<(), QueryError> {
    fn first_unsupported(e: &Expr) -> Option<(usize, &'static str)> {
        match &e.kind {
            crate::ExprKind::Call(c) if !c.func.supported => Some((e.span.start, c.func.name)),
            _ => e.children().into_iter().find_map(first_unsupported),
        }
    }
    match first_unsupported(expr) {
        None => Ok(()),
        Some((start, name)) => {
            let at = crate::Span::new(start, start + name.len());
            Err(QueryError::from_parse(
                crate::ParseError::new(
                    query,
                    at,
                    format!("function {name:?} is not supported by this engine"),
                )
                .with_kind(crate::ParseErrorKind::Unsupported),
            ))
        }
    }
}

/// A query's answer plus its annotations.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    /// The value.
    pub value: Value,
    /// Warning annotations (`PromQL warning: ...`).
    pub warnings: Vec<String>,
    /// Info annotations (`PromQL info: ...`).
    pub infos: Vec<String>,
}

/// A query value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A scalar at time `t` (ms).
    Scalar {
        /// Time (ms).
        t: i64,
        /// Value.
        v: f64,
    },
    /// A string at time `t` (ms).
    String {
        /// Time (ms).
        t: i64,
        /// The string.
        s: String,
    },
    /// An instant vector. Unordered as in Prometheus (deterministic, but only
    /// `sort`, `sort_desc`, `topk` and `bottomk` order it meaningfully).
    Vector(Vec<VectorSample>),
    /// A range vector (range query results, or a range selector in an instant
    /// query), sorted by labels.
    Matrix(Vec<RangeSeries>),
}

/// One element of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorSample {
    /// The series' labels.
    pub labels: Labels,
    /// Time (ms).
    pub t: i64,
    /// Value.
    pub v: f64,
}

/// One series of a range vector.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeSeries {
    /// The series' labels.
    pub labels: Labels,
    /// Samples in time order.
    pub samples: Vec<Sample>,
}

/// What kind of failure a [`QueryError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum QueryErrorKind {
    /// The query does not parse.
    Parse,
    /// Bad request parameters (or a query type not allowed for the request).
    BadData,
    /// The evaluation failed (duplicate label sets, matching errors, ...).
    Execution,
    /// The query ran past its timeout.
    Timeout,
    /// The query was canceled.
    Canceled,
    /// The query would load more samples than allowed.
    TooManySamples,
}

/// A failed query, with Prometheus's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    kind: QueryErrorKind,
    message: String,
    parse: Option<crate::parser::errors::ParseError>,
}

impl QueryError {
    pub(crate) fn new(kind: QueryErrorKind, message: impl Into<String>) -> Self {
        QueryError {
            kind,
            message: message.into(),
            parse: None,
        }
    }

    pub(crate) fn exec(message: impl Into<String>) -> Self {
        Self::new(QueryErrorKind::Execution, message)
    }

    /// Wraps a parse error (kind [`QueryErrorKind::Parse`], message as the parser prints it).
    pub fn from_parse(e: crate::parser::errors::ParseError) -> Self {
        QueryError {
            kind: QueryErrorKind::Parse,
            message: e.to_string(),
            parse: Some(e),
        }
    }

    /// The kind of failure.
    pub fn kind(&self) -> QueryErrorKind {
        self.kind
    }

    /// The parse error, when the query did not parse (for caret rendering).
    pub fn parse_error(&self) -> Option<&crate::parser::errors::ParseError> {
        self.parse.as_ref()
    }

    /// The Prometheus API `errorType`: `bad_data`, `execution`, `timeout` or `canceled`.
    pub fn error_type(&self) -> &'static str {
        match self.kind {
            QueryErrorKind::Parse | QueryErrorKind::BadData => "bad_data",
            QueryErrorKind::Execution | QueryErrorKind::TooManySamples => "execution",
            QueryErrorKind::Timeout => "timeout",
            QueryErrorKind::Canceled => "canceled",
        }
    }
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for QueryError {}

impl From<crate::parser::errors::ParseError> for QueryError {
    fn from(e: crate::parser::errors::ParseError) -> Self {
        QueryError::from_parse(e)
    }
}
