//! A rule group: its rules evaluated in order at one timestamp, their results
//! written to the store, stale markers for series a rule stopped producing
//! (Prometheus's `rules/group.go`).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use promlite_model::{Labels, STALE_NAN};
use promlite_promql::Engine;
use promlite_store::Store;

use crate::alerting::AlertingRule;
use crate::eval::{QueryCtx, RecordingRule};
use crate::rulefmt::{RuleGroup, RuleKind};

/// A rule's health after its last evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleHealth {
    /// Not evaluated yet.
    Unknown,
    /// The last evaluation succeeded.
    Ok,
    /// The last evaluation failed.
    Err,
}

impl RuleHealth {
    /// Prometheus's spelling: `unknown`, `ok`, `err`.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleHealth::Unknown => "unknown",
            RuleHealth::Ok => "ok",
            RuleHealth::Err => "err",
        }
    }
}

/// A recording or alerting rule with its state.
#[derive(Debug, Clone)]
pub enum RuleState {
    /// A recording rule.
    Recording(RecordingRule),
    /// An alerting rule and its alerts.
    Alerting(AlertingRule),
}

/// One rule of a group, with its evaluation status.
#[derive(Debug, Clone)]
pub struct GroupRule {
    /// The rule.
    pub rule: RuleState,
    /// Health after the last evaluation.
    pub health: RuleHealth,
    /// The last evaluation's error.
    pub last_error: Option<String>,
    /// When it was last evaluated (ms).
    pub last_eval_ms: Option<i64>,
    /// How long the last evaluation took.
    pub eval_duration: Duration,
    prev_series: HashSet<Labels>,
}

impl GroupRule {
    /// The rule's name.
    pub fn name(&self) -> &str {
        match &self.rule {
            RuleState::Recording(r) => &r.name,
            RuleState::Alerting(r) => &r.name,
        }
    }
}

/// A group of rules evaluated together.
#[derive(Debug, Clone)]
pub struct Group {
    /// The group's name.
    pub name: String,
    /// The file it came from.
    pub file: String,
    /// Evaluation interval, ms.
    pub interval_ms: i64,
    /// Query offset, ms.
    pub query_offset_ms: i64,
    /// Most series / alerts a rule may produce (0: no limit).
    pub limit: usize,
    /// The rules, in order.
    pub rules: Vec<GroupRule>,
    /// The last evaluation's timestamp (ms).
    pub last_eval_ms: Option<i64>,
    /// How long the last evaluation took.
    pub last_duration: Duration,
    /// Evaluations run.
    pub evaluations_total: u64,
    /// Rule evaluations run.
    pub rule_evaluations_total: u64,
    /// Rule evaluations that failed.
    pub evaluation_failures_total: u64,
    /// Evaluations skipped because the previous one ran late.
    pub missed_iterations_total: u64,
    pub(crate) next_eval_ms: Option<i64>,
}

impl Group {
    /// A group from a parsed rule file group; `default_interval_ms` applies
    /// when the group has no `interval`.
    pub fn new(file: &str, g: &RuleGroup, default_interval_ms: i64) -> Group {
        let rules = g
            .rules
            .iter()
            .map(|r| GroupRule {
                rule: match &r.kind {
                    RuleKind::Record(n) => RuleState::Recording(RecordingRule {
                        name: n.clone(),
                        expr: r.expr.clone(),
                        labels: r.labels.clone(),
                    }),
                    RuleKind::Alert(n) => RuleState::Alerting(AlertingRule::new(
                        n.clone(),
                        r.expr.clone(),
                        r.for_ms,
                        r.keep_firing_for_ms,
                        r.labels.clone(),
                        r.annotations.clone(),
                    )),
                },
                health: RuleHealth::Unknown,
                last_error: None,
                last_eval_ms: None,
                eval_duration: Duration::ZERO,
                prev_series: HashSet::new(),
            })
            .collect();
        Group {
            name: g.name.clone(),
            file: file.to_string(),
            interval_ms: g
                .interval_ms
                .filter(|i| *i > 0)
                .unwrap_or(default_interval_ms)
                .max(1),
            query_offset_ms: g.query_offset_ms.unwrap_or(0),
            limit: g.limit,
            rules,
            last_eval_ms: None,
            last_duration: Duration::ZERO,
            evaluations_total: 0,
            rule_evaluations_total: 0,
            evaluation_failures_total: 0,
            missed_iterations_total: 0,
            next_eval_ms: None,
        }
    }

    /// Alerting rules of the group.
    pub fn alerting_rules(&self) -> impl Iterator<Item = &AlertingRule> {
        self.rules.iter().filter_map(|r| match &r.rule {
            RuleState::Alerting(a) => Some(a),
            RuleState::Recording(_) => None,
        })
    }

    /// Evaluates every rule in order at `ts_ms`, writing recorded series,
    /// `ALERTS`/`ALERTS_FOR_STATE` and stale markers to `store` (later rules
    /// see earlier rules' output). Returns `(rule name, error)` for each rule
    /// that failed.
    pub fn eval(
        &mut self,
        engine: &Engine,
        store: &Store,
        ts_ms: i64,
        external_labels: &Labels,
        external_url: &str,
    ) -> Vec<(String, String)> {
        let start = Instant::now();
        let mut errors = Vec::new();
        let ctx = QueryCtx {
            engine,
            storage: store,
            external_labels: external_labels
                .iter()
                .map(|l| (l.name.to_string(), l.value.to_string()))
                .collect(),
            external_url: external_url.to_string(),
            query_offset_ms: self.query_offset_ms,
        };
        let q_ts = ctx.query_ts(ts_ms);
        for gr in &mut self.rules {
            self.rule_evaluations_total += 1;
            let t0 = Instant::now();
            let out = match &mut gr.rule {
                RuleState::Recording(r) => r.eval(&ctx, ts_ms, self.limit),
                RuleState::Alerting(r) => r.eval(&ctx, ts_ms, self.limit),
            };
            gr.last_eval_ms = Some(ts_ms);
            match out {
                Ok(samples) => {
                    gr.health = RuleHealth::Ok;
                    gr.last_error = None;
                    let now: HashSet<Labels> = samples.iter().map(|s| s.0.clone()).collect();
                    let mut batch = samples;
                    for old in gr.prev_series.iter() {
                        if !now.contains(old) {
                            batch.push((old.clone(), q_ts, STALE_NAN));
                        }
                    }
                    gr.prev_series = now;
                    write(store, batch);
                }
                Err(e) => {
                    gr.health = RuleHealth::Err;
                    gr.last_error = Some(e.clone());
                    self.evaluation_failures_total += 1;
                    errors.push((gr.name().to_string(), e));
                }
            }
            gr.eval_duration = t0.elapsed();
        }
        self.evaluations_total += 1;
        self.last_eval_ms = Some(ts_ms);
        self.last_duration = start.elapsed();
        errors
    }
}

/// Appends a rule's output; if the batch is refused as a whole (a conflicting
/// sample), appends sample by sample so one bad sample does not drop the rest,
/// as Prometheus's appender skips only the sample it rejects.
fn write(store: &Store, batch: Vec<(Labels, i64, f64)>) {
    if batch.is_empty() {
        return;
    }
    if store.append_batch(batch.iter().cloned()).is_err() {
        for s in batch {
            let _ = store.append_batch(std::iter::once(s));
        }
    }
}
