//! What rules evaluate with: the engine, the store, external labels; and
//! recording rules (Prometheus's `rules/recording.go`).

use std::collections::{BTreeMap, HashSet};

use promlite_model::{Labels, Queryable};
use promlite_promql::{Engine, Value};

use crate::template::QueryFn;

/// Samples a rule evaluation writes (labels, time ms, value), or its error.
pub(crate) type RuleOutput = Result<Vec<(Labels, i64, f64)>, String>;

/// The context of one group evaluation.
pub(crate) struct QueryCtx<'a> {
    pub engine: &'a Engine,
    pub storage: &'a dyn Queryable,
    pub external_labels: BTreeMap<String, String>,
    pub external_url: String,
    pub query_offset_ms: i64,
}

impl QueryCtx<'_> {
    pub fn query_ts(&self, ts_ms: i64) -> i64 {
        ts_ms - self.query_offset_ms
    }

    /// Prometheus's `EngineQueryFunc`: an instant query whose scalar result
    /// becomes a one-sample vector without labels.
    pub fn query_vector(&self, q: &str, ts_ms: i64) -> Result<Vec<(Labels, f64)>, String> {
        let r = self
            .engine
            .instant_query(self.storage, q, ts_ms)
            .map_err(|e| e.to_string())?;
        match r.value {
            Value::Vector(v) => Ok(v.into_iter().map(|s| (s.labels, s.v)).collect()),
            Value::Scalar { v, .. } => Ok(vec![(Labels::empty(), v)]),
            _ => Err("rule result is not a vector or scalar".into()),
        }
    }

    pub fn template_query(&self, ts_ms: i64) -> TemplateQuery<'_> {
        TemplateQuery { ctx: self, ts_ms }
    }
}

/// The `query` template function of one alert evaluation.
pub(crate) struct TemplateQuery<'a> {
    ctx: &'a QueryCtx<'a>,
    ts_ms: i64,
}

impl QueryFn for TemplateQuery<'_> {
    fn query(&self, q: &str) -> Result<Vec<(Labels, f64)>, String> {
        self.ctx.query_vector(q, self.ts_ms)
    }
}

/// An expression as Prometheus shows it in the API and in alert links: parsed
/// and printed back (`vector(1234567)` → `vector(1.234567e+06)`); the text
/// itself if it does not parse.
pub fn canonical_expr(expr: &str) -> String {
    promlite_promql::parse(expr)
        .map(|e| e.to_string())
        .unwrap_or_else(|_| expr.to_string())
}

/// A recording rule.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordingRule {
    /// The recorded metric name.
    pub name: String,
    /// The expression's text.
    pub expr: String,
    /// Labels added (or, with an empty value, removed).
    pub labels: BTreeMap<String, String>,
}

impl RecordingRule {
    pub(crate) fn eval(&self, ctx: &QueryCtx<'_>, ts_ms: i64, limit: usize) -> RuleOutput {
        let q_ts = ctx.query_ts(ts_ms);
        let res = ctx.query_vector(&self.expr, q_ts)?;
        let mut seen = HashSet::with_capacity(res.len());
        let mut out = Vec::with_capacity(res.len());
        for (metric, v) in res {
            let mut b = metric.builder();
            b.set("__name__", self.name.as_str());
            for (k, val) in &self.labels {
                if val.is_empty() {
                    b.del(k);
                } else {
                    b.set(k.as_str(), val.as_str());
                }
            }
            let ls = b.build();
            if !seen.insert(ls.clone()) {
                return Err(
                    "vector contains metrics with the same labelset after applying rule labels"
                        .into(),
                );
            }
            out.push((ls, q_ts, v));
        }
        if limit > 0 && out.len() > limit {
            return Err(format!(
                "exceeded limit of {limit} with {} series",
                out.len()
            ));
        }
        Ok(out)
    }
}
