//! The one place where the CLI talks to the PromQL engine: a thin adapter that turns
//! the engine's results into plain data the `eval` and `test` commands work with.

use promlite::promql::{
    parse_with, Engine, EngineOptions, ParseOptions, QueryError, QueryErrorKind, QueryResult, Value,
};
use promlite_model::{Labels, Matcher, Queryable, Sample};

/// Engine settings the CLI chooses.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Lookback delta in ms.
    pub lookback_ms: i64,
    /// Prometheus's delayed `__name__` removal (on in promqltest, off in a 3.x server).
    pub delayed_name_removal: bool,
    /// Max samples a query may load.
    pub max_samples: usize,
    /// Accept experimental functions (`mad_over_time`, `limitk`, ...).
    pub experimental: bool,
    /// Wall-clock limit per query.
    pub timeout: Option<std::time::Duration>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            lookback_ms: 300_000,
            delayed_name_removal: false,
            max_samples: 50_000_000,
            experimental: false,
            timeout: None,
        }
    }
}

/// A query result value.
#[derive(Debug, Clone, PartialEq)]
pub enum QValue {
    /// Scalar at time t (ms).
    Scalar(i64, f64),
    /// String at time t (ms).
    String(i64, String),
    /// Instant vector: labels, t (ms), value.
    Vector(Vec<(Labels, i64, f64)>),
    /// Range vector / matrix.
    Matrix(Vec<(Labels, Vec<Sample>)>),
}

/// A successful evaluation.
#[derive(Debug, Clone)]
pub struct QOutcome {
    /// The value.
    pub value: QValue,
    /// Warning annotations (rendered as Prometheus renders them).
    pub warnings: Vec<String>,
    /// Info annotations.
    pub infos: Vec<String>,
}

/// A failed evaluation.
#[derive(Debug, Clone)]
pub struct QError {
    /// Prometheus API errorType: `bad_data`, `execution`, `timeout`, `canceled`, ...
    pub error_type: String,
    /// The message, as Prometheus's API would give it.
    pub message: String,
    /// For parse errors: the byte range in the query the error points at.
    pub span: Option<(usize, usize)>,
    /// True when the query did not parse.
    pub is_parse: bool,
}

impl QError {
    /// Renders the query with a caret line under the error position, for humans.
    pub fn render_with_caret(&self, query: &str) -> String {
        let mut out = format!("error: {}\n", self.message);
        if let Some((s, e)) = self.span {
            // Find the line containing s.
            let s = s.min(query.len());
            let line_start = query[..s].rfind('\n').map_or(0, |p| p + 1);
            let line_end = query[s..].find('\n').map_or(query.len(), |p| s + p);
            let line = &query[line_start..line_end];
            let col = query[line_start..s].chars().count();
            let width = query[s..e.clamp(s, line_end)].chars().count().max(1);
            out.push_str(&format!(
                "  {line}\n  {}{}\n",
                " ".repeat(col),
                "^".repeat(width)
            ));
        } else {
            out.push_str(&format!("  {query}\n"));
        }
        out
    }
}

fn options(settings: &Settings) -> EngineOptions {
    EngineOptions::default()
        .with_lookback_delta_ms(settings.lookback_ms)
        .with_delayed_name_removal(settings.delayed_name_removal)
        .with_max_samples(settings.max_samples)
        .with_timeout(settings.timeout)
}

/// Parses `query` with the settings' parser options (parse errors as `bad_data`).
pub(crate) fn parse(settings: &Settings, query: &str) -> Result<promlite::promql::Expr, QError> {
    parse_with(
        query,
        ParseOptions::default().with_experimental_functions(settings.experimental),
    )
    .map_err(|e| QError {
        error_type: "bad_data".into(),
        message: e.to_string(),
        span: Some((e.span().start, e.span().end)),
        is_parse: true,
    })
}

fn convert(r: Result<QueryResult, QueryError>) -> Result<QOutcome, QError> {
    match r {
        Ok(r) => Ok(QOutcome {
            value: match r.value {
                Value::Scalar { t, v } => QValue::Scalar(t, v),
                Value::String { t, s } => QValue::String(t, s),
                Value::Vector(v) => {
                    QValue::Vector(v.into_iter().map(|s| (s.labels, s.t, s.v)).collect())
                }
                Value::Matrix(m) => {
                    QValue::Matrix(m.into_iter().map(|s| (s.labels, s.samples)).collect())
                }
            },
            warnings: r.warnings,
            infos: r.infos,
        }),
        Err(e) => Err(QError {
            error_type: e.error_type().to_string(),
            message: e.to_string(),
            span: e.parse_error().map(|p| (p.span().start, p.span().end)),
            is_parse: e.kind() == QueryErrorKind::Parse,
        }),
    }
}

/// Sets `@ at_ms` on every selector and subquery outside subqueries that has none;
/// returns false when an `@`-unsafe function (`Function::at_unsafe`) was seen.
fn pin(e: &mut promlite::promql::Expr, at_ms: i64) -> bool {
    use promlite::promql::{AtModifier, ExprKind};
    match &mut e.kind {
        ExprKind::NumberLiteral(_) | ExprKind::StringLiteral(_) => true,
        ExprKind::VectorSelector(v) => {
            v.at.get_or_insert(AtModifier::Timestamp(at_ms));
            true
        }
        ExprKind::MatrixSelector(m) => {
            m.selector.at.get_or_insert(AtModifier::Timestamp(at_ms));
            true
        }
        ExprKind::Subquery(sq) => {
            // Selectors inside the (now pinned) subquery are left alone, as upstream does;
            // unsafe functions inside still disqualify the query.
            sq.at.get_or_insert(AtModifier::Timestamp(at_ms));
            safe(&sq.expr)
        }
        ExprKind::Call(c) => {
            let ok = !c.func.at_unsafe;
            c.args.iter_mut().fold(ok, |acc, a| pin(a, at_ms) && acc)
        }
        ExprKind::Aggregate(a) => {
            let ok = a.param.as_mut().is_none_or(|p| pin(p, at_ms));
            pin(&mut a.expr, at_ms) && ok
        }
        ExprKind::Binary(b) => {
            let l = pin(&mut b.lhs, at_ms);
            pin(&mut b.rhs, at_ms) && l
        }
        ExprKind::Unary(u) => pin(&mut u.expr, at_ms),
        ExprKind::Paren(p) => pin(p, at_ms),
    }
}

/// True when no `@`-unsafe function occurs in `e`.
fn safe(e: &promlite::promql::Expr) -> bool {
    use promlite::promql::ExprKind;
    match &e.kind {
        ExprKind::NumberLiteral(_)
        | ExprKind::StringLiteral(_)
        | ExprKind::VectorSelector(_)
        | ExprKind::MatrixSelector(_) => true,
        ExprKind::Subquery(sq) => safe(&sq.expr),
        ExprKind::Call(c) => !c.func.at_unsafe && c.args.iter().all(safe),
        ExprKind::Aggregate(a) => a.param.as_deref().is_none_or(safe) && safe(&a.expr),
        ExprKind::Binary(b) => safe(&b.lhs) && safe(&b.rhs),
        ExprKind::Unary(u) => safe(&u.expr),
        ExprKind::Paren(p) => safe(p),
    }
}

/// FORMAT.md §4.4 (a): `query` with every selector pinned at `@ at_ms`, evaluated at
/// `eval_ms`. `Ok(None)` when the query uses a function that makes this meaningless.
pub fn instant_pinned(
    settings: &Settings,
    db: &dyn Queryable,
    query: &str,
    at_ms: i64,
    eval_ms: i64,
) -> Result<Option<(String, QOutcome)>, QError> {
    let mut expr = parse(settings, query)?;
    if !pin(&mut expr, at_ms) {
        return Ok(None);
    }
    let text = expr.to_string();
    let engine = Engine::new(options(settings));
    convert(engine.instant_query_expr(db, &expr, &text, eval_ms, None)).map(|o| Some((text, o)))
}

/// The matchers of every selector in `query` (vector and range selectors, including
/// those inside subqueries).
pub fn selectors(settings: &Settings, query: &str) -> Result<Vec<Vec<Matcher>>, QError> {
    fn walk(e: &promlite::promql::Expr, out: &mut Vec<Vec<Matcher>>) {
        use promlite::promql::ExprKind;
        match &e.kind {
            ExprKind::NumberLiteral(_) | ExprKind::StringLiteral(_) => {}
            ExprKind::VectorSelector(v) => out.push(v.matchers.clone()),
            ExprKind::MatrixSelector(m) => out.push(m.selector.matchers.clone()),
            ExprKind::Subquery(sq) => walk(&sq.expr, out),
            ExprKind::Call(c) => c.args.iter().for_each(|a| walk(a, out)),
            ExprKind::Aggregate(a) => {
                if let Some(p) = &a.param {
                    walk(p, out);
                }
                walk(&a.expr, out);
            }
            ExprKind::Binary(b) => {
                walk(&b.lhs, out);
                walk(&b.rhs, out);
            }
            ExprKind::Unary(u) => walk(&u.expr, out),
            ExprKind::Paren(p) => walk(p, out),
        }
    }
    let expr = parse(settings, query)?;
    let mut out = Vec::new();
    walk(&expr, &mut out);
    Ok(out)
}

thread_local! {
    /// The cancel flag of the query this thread evaluates (see [`with_cancel`]).
    static CANCEL: std::cell::RefCell<Option<std::sync::Arc<std::sync::atomic::AtomicBool>>> =
        const { std::cell::RefCell::new(None) };
}

/// Runs `f` with `flag` as the cancel flag of every query [`instant`] and [`range`]
/// evaluate on this thread: once another thread sets it, the engine stops the query
/// with a `canceled` error at its next check. `serve` sets it when a client
/// disconnects; `eval` never does.
pub fn with_cancel<R>(
    flag: std::sync::Arc<std::sync::atomic::AtomicBool>,
    f: impl FnOnce() -> R,
) -> R {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            CANCEL.with(|c| c.borrow_mut().take());
        }
    }
    CANCEL.with(|c| *c.borrow_mut() = Some(flag));
    let _reset = Reset;
    f()
}

fn cancel_flag() -> Option<std::sync::Arc<std::sync::atomic::AtomicBool>> {
    CANCEL.with(|c| c.borrow().clone())
}

/// Evaluates `query` at `t_ms`.
pub fn instant(
    settings: &Settings,
    db: &dyn Queryable,
    query: &str,
    t_ms: i64,
) -> Result<QOutcome, QError> {
    let expr = parse(settings, query)?;
    let engine = Engine::new(options(settings));
    let cancel = cancel_flag();
    convert(engine.instant_query_expr(db, &expr, query, t_ms, cancel.as_deref()))
}

/// Evaluates `query` over `[start, end]` every `step` ms.
pub fn range(
    settings: &Settings,
    db: &dyn Queryable,
    query: &str,
    start_ms: i64,
    end_ms: i64,
    step_ms: i64,
) -> Result<QOutcome, QError> {
    let expr = parse(settings, query)?;
    let engine = Engine::new(options(settings));
    let cancel = cancel_flag();
    convert(engine.range_query_expr(
        db,
        &expr,
        query,
        start_ms,
        end_ms,
        step_ms,
        cancel.as_deref(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinning_sets_at_everywhere_but_inside_subqueries() {
        let s = Settings::default();
        let mut e = parse(&s, "sum(rate(x[5m])) + y + max_over_time(z[10m:1m])").unwrap();
        assert!(pin(&mut e, 300_000));
        let text = e.to_string();
        assert_eq!(text.matches('@').count(), 3, "{text}");
        let mut inner = parse(&s, "max_over_time(z[10m:1m] @ 100)").unwrap();
        assert!(pin(&mut inner, 300_000));
        assert_eq!(
            inner.to_string().matches('@').count(),
            1,
            "existing @ kept, inner untouched"
        );
        let mut t = parse(&s, "x - time()").unwrap();
        assert!(!pin(&mut t, 300_000), "time() is not @-invariant");
        let mut h = parse(&s, "max_over_time((hour(x))[5m:1m])").unwrap();
        assert!(
            !pin(&mut h, 300_000),
            "unsafe functions inside subqueries count too"
        );
    }

    #[test]
    fn caret_points_at_the_span() {
        let e = QError {
            error_type: "bad_data".into(),
            message: "1:5: parse error: unexpected".into(),
            span: Some((4, 6)),
            is_parse: true,
        };
        let r = e.render_with_caret("sum(}) + 1");
        assert_eq!(
            r,
            "error: 1:5: parse error: unexpected\n  sum(}) + 1\n      ^^\n"
        );
    }
}
