//! Alerting rules: the inactive → pending → firing → resolved life cycle with
//! `for` and `keep_firing_for`, templated labels and annotations, and the
//! `ALERTS` / `ALERTS_FOR_STATE` series (Prometheus's `rules/alerting.go`).

use std::collections::{BTreeMap, HashMap, HashSet};

use promlite_model::Labels;

use crate::eval::{QueryCtx, RuleOutput};
use crate::template::{expand_alert, AlertData};

/// How long a resolved alert is kept (and re-sent to Alertmanager): 15 minutes.
pub const RESOLVED_RETENTION_MS: i64 = 15 * 60 * 1000;

/// An alert's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AlertState {
    /// Not active (resolved alerts are inactive).
    Inactive,
    /// Active, waiting for `for` to pass.
    Pending,
    /// Firing.
    Firing,
}

impl AlertState {
    /// Prometheus's spelling: `inactive`, `pending`, `firing`.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

/// One alert of an alerting rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Labels: the sample's (without `__name__`), the rule's, and `alertname`.
    pub labels: Labels,
    /// Expanded annotations.
    pub annotations: BTreeMap<String, String>,
    /// State.
    pub state: AlertState,
    /// The value of the sample that made it active.
    pub value: f64,
    /// When it became active (ms).
    pub active_at_ms: i64,
    /// When it started firing (ms).
    pub fired_at_ms: Option<i64>,
    /// When it was resolved (ms).
    pub resolved_at_ms: Option<i64>,
    /// When it was last sent to Alertmanager (ms).
    pub last_sent_ms: Option<i64>,
    /// The `endsAt` it was last sent with (ms).
    pub valid_until_ms: Option<i64>,
    /// Since when it has been kept firing by `keep_firing_for` (ms).
    pub keep_firing_since_ms: Option<i64>,
}

/// An alerting rule and its active alerts.
#[derive(Debug, Clone)]
pub struct AlertingRule {
    /// `alert:` name.
    pub name: String,
    /// The expression's text.
    pub expr: String,
    /// `for`, ms.
    pub hold_ms: i64,
    /// `keep_firing_for`, ms.
    pub keep_firing_for_ms: i64,
    /// Label templates.
    pub labels: BTreeMap<String, String>,
    /// Annotation templates.
    pub annotations: BTreeMap<String, String>,
    /// Whether `ALERTS`/`ALERTS_FOR_STATE` are written (Prometheus holds them
    /// back until the `for` state is restored at startup).
    pub restored: bool,
    pub(crate) active: HashMap<Labels, Alert>,
}

impl AlertingRule {
    /// A rule without active alerts.
    pub fn new(
        name: String,
        expr: String,
        hold_ms: i64,
        keep_firing_for_ms: i64,
        labels: BTreeMap<String, String>,
        annotations: BTreeMap<String, String>,
    ) -> Self {
        AlertingRule {
            name,
            expr,
            hold_ms,
            keep_firing_for_ms,
            labels,
            annotations,
            restored: true,
            active: HashMap::new(),
        }
    }

    /// Active alerts (pending, firing, and resolved ones still retained),
    /// sorted by labels.
    pub fn alerts(&self) -> Vec<&Alert> {
        let mut v: Vec<&Alert> = self.active.values().collect();
        v.sort_by(|a, b| a.labels.cmp(&b.labels));
        v
    }

    /// Mutable access to the alerts (the notifier records what it sent).
    pub fn alerts_mut(&mut self) -> impl Iterator<Item = &mut Alert> {
        self.active.values_mut()
    }

    /// The rule's state: the highest state of its alerts.
    pub fn state(&self) -> AlertState {
        self.active
            .values()
            .map(|a| a.state)
            .max()
            .unwrap_or(AlertState::Inactive)
    }

    /// Evaluates the rule at `ts_ms`, updating its alerts; returns the
    /// `ALERTS` and `ALERTS_FOR_STATE` samples to write.
    pub(crate) fn eval(&mut self, ctx: &QueryCtx<'_>, ts_ms: i64, limit: usize) -> RuleOutput {
        let q_ts = ctx.query_ts(ts_ms);
        let res = ctx.query_vector(&self.expr, q_ts)?;
        let tmpl_name = format!("__alert_{}", self.name);
        let mut seen: HashSet<Labels> = HashSet::new();
        let mut fresh: Vec<Alert> = Vec::with_capacity(res.len());
        for (metric, v) in &res {
            let label_map: BTreeMap<String, String> = metric
                .iter()
                .map(|l| (l.name.to_string(), l.value.to_string()))
                .collect();
            let data = AlertData {
                labels: label_map,
                external_labels: ctx.external_labels.clone(),
                external_url: ctx.external_url.clone(),
                value: *v,
            };
            let tq = ctx.template_query(q_ts);
            let mut b = metric.builder();
            b.del("__name__");
            for (k, t) in &self.labels {
                let val = expand_alert(&tmpl_name, t, &data, &tq);
                if val.is_empty() {
                    b.del(k);
                } else {
                    b.set(k.as_str(), val);
                }
            }
            b.set("alertname", self.name.as_str());
            let labels = b.build();
            let annotations = self
                .annotations
                .iter()
                .map(|(k, t)| (k.clone(), expand_alert(&tmpl_name, t, &data, &tq)))
                .collect();
            if !seen.insert(labels.clone()) {
                return Err(
                    "vector contains metrics with the same labelset after applying alert labels"
                        .into(),
                );
            }
            fresh.push(Alert {
                labels,
                annotations,
                state: AlertState::Pending,
                value: *v,
                active_at_ms: ts_ms,
                fired_at_ms: None,
                resolved_at_ms: None,
                last_sent_ms: None,
                valid_until_ms: None,
                keep_firing_since_ms: None,
            });
        }
        for a in fresh {
            match self.active.get_mut(&a.labels) {
                Some(old) if old.state != AlertState::Inactive => {
                    old.value = a.value;
                    old.annotations = a.annotations;
                }
                _ => {
                    self.active.insert(a.labels.clone(), a);
                }
            }
        }
        let mut out = Vec::new();
        let mut num_active = 0usize;
        let mut gone = Vec::new();
        for (key, a) in self.active.iter_mut() {
            if !seen.contains(key) {
                let mut keep_firing = false;
                if a.state == AlertState::Firing && self.keep_firing_for_ms > 0 {
                    let since = *a.keep_firing_since_ms.get_or_insert(ts_ms);
                    if ts_ms - since < self.keep_firing_for_ms {
                        keep_firing = true;
                    }
                }
                if a.state == AlertState::Pending
                    || a.resolved_at_ms
                        .is_some_and(|r| ts_ms - r > RESOLVED_RETENTION_MS)
                {
                    gone.push(key.clone());
                }
                if a.state != AlertState::Inactive && !keep_firing {
                    a.state = AlertState::Inactive;
                    a.resolved_at_ms = Some(ts_ms);
                }
                if !keep_firing {
                    continue;
                }
            } else {
                a.keep_firing_since_ms = None;
            }
            num_active += 1;
            if a.state == AlertState::Pending && ts_ms - a.active_at_ms >= self.hold_ms {
                a.state = AlertState::Firing;
                a.fired_at_ms = Some(ts_ms);
            }
            if self.restored {
                let mut b = a.labels.builder();
                b.set("__name__", "ALERTS");
                b.set("alertstate", a.state.as_str());
                out.push((b.build(), q_ts, 1.0));
                let mut b = a.labels.builder();
                b.set("__name__", "ALERTS_FOR_STATE");
                out.push((b.build(), q_ts, (a.active_at_ms.div_euclid(1000)) as f64));
            }
        }
        for k in gone {
            self.active.remove(&k);
        }
        if limit > 0 && num_active > limit {
            self.active.clear();
            return Err(format!(
                "exceeded limit of {limit} with {num_active} alerts"
            ));
        }
        Ok(out)
    }
}
