//! The `data` objects of Prometheus's `/api/v1/rules` and `/api/v1/alerts`
//! (field names, order and value spellings as Prometheus writes them), built
//! from a [`Manager`]. The HTTP layer wraps them in
//! `{"status":"success","data":...}`.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::alerting::{Alert, AlertState, AlertingRule};
use crate::eval::canonical_expr;
use crate::group::{Group, GroupRule, RuleState};
use crate::template::funcs::rfc3339_ms;
use crate::Manager;

/// Filters of `/api/v1/rules` (`type`, `rule_name[]`, `rule_group[]`, `file[]`,
/// `exclude_alerts`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RulesFilter {
    /// `type=alert` or `type=record`; `None` for both.
    pub kind: Option<RuleType>,
    /// Only rules with these names (empty: all).
    pub rule_names: Vec<String>,
    /// Only groups with these names (empty: all).
    pub rule_groups: Vec<String>,
    /// Only groups from these files (empty: all).
    pub files: Vec<String>,
    /// Leave out the alerts of alerting rules.
    pub exclude_alerts: bool,
}

/// A rule type for [`RulesFilter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleType {
    /// Alerting rules (`type=alert`).
    Alert,
    /// Recording rules (`type=record`).
    Record,
}

impl RuleType {
    /// Parses the `type` parameter as Prometheus does.
    ///
    /// # Errors
    /// Prometheus's text for any other value.
    pub fn parse(s: &str) -> Result<Option<RuleType>, String> {
        match s {
            "" => Ok(None),
            "alert" => Ok(Some(RuleType::Alert)),
            "record" => Ok(Some(RuleType::Record)),
            other => Err(format!("invalid query parameter type='{other}'")),
        }
    }
}

/// One alert as the API shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ApiAlert {
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
    /// `pending` / `firing` / `inactive`.
    pub state: &'static str,
    /// When it became active (RFC 3339).
    #[serde(rename = "activeAt", skip_serializing_if = "Option::is_none")]
    pub active_at: Option<String>,
    /// Since when `keep_firing_for` holds it.
    #[serde(rename = "keepFiringSince", skip_serializing_if = "Option::is_none")]
    pub keep_firing_since: Option<String>,
    /// Value, Go's `%e` shortest (`1e+00`).
    pub value: String,
}

fn labels_map(a: &Alert) -> BTreeMap<String, String> {
    a.labels
        .iter()
        .map(|l| (l.name.to_string(), l.value.to_string()))
        .collect()
}

/// Go's `strconv.FormatFloat(v, 'e', -1, 64)`.
fn format_e_shortest(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let s = format!("{v:e}");
    let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
    let e: i32 = e.parse().unwrap_or(0);
    format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
}

fn api_alert(a: &Alert) -> ApiAlert {
    ApiAlert {
        labels: labels_map(a),
        annotations: a.annotations.clone(),
        state: a.state.as_str(),
        active_at: Some(rfc3339_ms(a.active_at_ms)),
        keep_firing_since: a.keep_firing_since_ms.map(rfc3339_ms),
        value: format_e_shortest(a.value),
    }
}

fn active_alerts(r: &AlertingRule) -> impl Iterator<Item = &Alert> {
    r.alerts()
        .into_iter()
        .filter(|a| a.state != AlertState::Inactive)
}

/// `/api/v1/alerts`: `{"alerts":[...]}`, the pending and firing alerts.
pub fn alerts_data(m: &Manager) -> serde_json::Value {
    let alerts: Vec<ApiAlert> = m
        .groups()
        .iter()
        .flat_map(Group::alerting_rules)
        .flat_map(active_alerts)
        .map(api_alert)
        .collect();
    serde_json::json!({ "alerts": alerts })
}

/// A JSON number as Go's encoding/json writes a float64: integral values
/// without a fraction (`3600`, not `3600.0`).
fn go_number(v: f64) -> serde_json::Value {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        serde_json::Value::from(v as i64)
    } else {
        serde_json::Value::from(v)
    }
}

#[derive(Serialize)]
struct ApiAlertingRule<'a> {
    state: &'static str,
    name: &'a str,
    query: String,
    duration: serde_json::Value,
    #[serde(rename = "keepFiringFor")]
    keep_firing_for: serde_json::Value,
    labels: &'a BTreeMap<String, String>,
    annotations: &'a BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    alerts: Option<Vec<ApiAlert>>,
    health: &'static str,
    #[serde(rename = "lastError", skip_serializing_if = "Option::is_none")]
    last_error: Option<&'a str>,
    #[serde(rename = "evaluationTime")]
    evaluation_time: serde_json::Value,
    #[serde(rename = "lastEvaluation")]
    last_evaluation: String,
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
struct ApiRecordingRule<'a> {
    name: &'a str,
    query: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    labels: &'a BTreeMap<String, String>,
    health: &'static str,
    #[serde(rename = "lastError", skip_serializing_if = "Option::is_none")]
    last_error: Option<&'a str>,
    #[serde(rename = "evaluationTime")]
    evaluation_time: serde_json::Value,
    #[serde(rename = "lastEvaluation")]
    last_evaluation: String,
    #[serde(rename = "type")]
    kind: &'static str,
}

fn last_eval(ms: Option<i64>) -> String {
    match ms {
        Some(ms) => rfc3339_ms(ms),
        None => "0001-01-01T00:00:00Z".into(),
    }
}

fn rule_json(gr: &GroupRule, exclude_alerts: bool) -> serde_json::Value {
    let health = gr.health.as_str();
    let last_error = gr.last_error.as_deref();
    let evaluation_time = go_number(gr.eval_duration.as_secs_f64());
    let last_evaluation = last_eval(gr.last_eval_ms);
    let v = match &gr.rule {
        RuleState::Alerting(r) => serde_json::to_value(ApiAlertingRule {
            state: r.state().as_str(),
            name: &r.name,
            query: canonical_expr(&r.expr),
            duration: go_number(r.hold_ms as f64 / 1000.0),
            keep_firing_for: go_number(r.keep_firing_for_ms as f64 / 1000.0),
            labels: &r.labels,
            annotations: &r.annotations,
            alerts: (!exclude_alerts).then(|| active_alerts(r).map(api_alert).collect()),
            health,
            last_error,
            evaluation_time,
            last_evaluation,
            kind: "alerting",
        }),
        RuleState::Recording(r) => serde_json::to_value(ApiRecordingRule {
            name: &r.name,
            query: canonical_expr(&r.expr),
            labels: &r.labels,
            health,
            last_error,
            evaluation_time,
            last_evaluation,
            kind: "recording",
        }),
    };
    v.unwrap_or(serde_json::Value::Null)
}

/// `/api/v1/rules`: `{"groups":[...]}` with the filters applied (groups left
/// without rules by a rule filter are dropped, as Prometheus does).
pub fn rules_data(m: &Manager, f: &RulesFilter) -> serde_json::Value {
    let keep = |list: &[String], v: &str| list.is_empty() || list.iter().any(|x| x == v);
    let mut groups = Vec::new();
    for g in m.groups() {
        if !keep(&f.rule_groups, &g.name) || !keep(&f.files, &g.file) {
            continue;
        }
        let rules: Vec<serde_json::Value> = g
            .rules
            .iter()
            .filter(|r| keep(&f.rule_names, r.name()))
            .filter(|r| {
                !matches!(
                    (f.kind, &r.rule),
                    (Some(RuleType::Alert), RuleState::Recording(_))
                        | (Some(RuleType::Record), RuleState::Alerting(_))
                )
            })
            .map(|r| rule_json(r, f.exclude_alerts))
            .collect();
        let filtered = f.kind.is_some() || !f.rule_names.is_empty();
        if filtered && rules.is_empty() {
            continue;
        }
        let mut obj = serde_json::Map::new();
        obj.insert("name".into(), g.name.clone().into());
        obj.insert("file".into(), g.file.clone().into());
        obj.insert("rules".into(), rules.into());
        obj.insert("interval".into(), go_number(g.interval_ms as f64 / 1000.0));
        obj.insert("limit".into(), g.limit.into());
        obj.insert(
            "evaluationTime".into(),
            go_number(g.last_duration.as_secs_f64()),
        );
        obj.insert("lastEvaluation".into(), last_eval(g.last_eval_ms).into());
        groups.push(serde_json::Value::Object(obj));
    }
    serde_json::json!({ "groups": groups })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ManagerOptions;
    use promlite_model::Labels;
    use promlite_store::{Store, StoreConfig};

    #[test]
    fn rules_and_alerts_in_prometheus_shape() {
        let store = Store::new(StoreConfig::unbounded());
        store
            .append_batch([(
                Labels::from_pairs([("__name__", "up"), ("job", "a")]),
                1_699_999_999_000,
                0.0,
            )])
            .unwrap();
        let mut m = Manager::new(ManagerOptions::default());
        m.load_str(
            "r.yml",
            "groups:\n- name: g\n  rules:\n  - record: job:up\n    expr: up\n  - alert: Down\n    expr: up == 0\n    for: 5m\n    annotations: {s: x}\n",
        )
        .unwrap();
        m.eval_group(0, &store, 1_700_000_000_000);
        let alerts = alerts_data(&m);
        // Compared as JSON values: key order depends on serde_json's `preserve_order`,
        // which another crate of the workspace turns on.
        let want: serde_json::Value = serde_json::from_str(
            r#"{"alerts":[{"activeAt":"2023-11-14T22:13:20Z","annotations":{"s":"x"},"labels":{"alertname":"Down","job":"a"},"state":"pending","value":"0e+00"}]}"#,
        )
        .unwrap();
        assert_eq!(alerts, want);
        let rules = rules_data(&m, &RulesFilter::default());
        let g = &rules["groups"][0];
        assert_eq!(g["interval"], 60);
        assert_eq!(g["lastEvaluation"], "2023-11-14T22:13:20Z");
        assert_eq!(g["rules"][0]["type"], "recording");
        assert_eq!(g["rules"][0]["health"], "ok");
        assert!(g["rules"][0].get("labels").is_none());
        assert_eq!(g["rules"][1]["state"], "pending");
        assert_eq!(g["rules"][1]["duration"], 300);
        assert_eq!(g["rules"][1]["alerts"][0]["state"], "pending");
        let only_alerts = rules_data(
            &m,
            &RulesFilter {
                kind: Some(RuleType::Alert),
                exclude_alerts: true,
                ..RulesFilter::default()
            },
        );
        let r = &only_alerts["groups"][0]["rules"];
        assert_eq!(r.as_array().map(Vec::len), Some(1));
        assert!(r[0].get("alerts").is_none());
        assert_eq!(format_e_shortest(1234.5), "1.2345e+03");
        assert_eq!(
            RuleType::parse("x"),
            Err("invalid query parameter type='x'".into())
        );
    }
}
