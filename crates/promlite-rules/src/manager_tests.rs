//! The manager against a real store: scheduling, recording into the store,
//! staleness markers, the alert life cycle and its series. Expected values are
//! hand-calculated from Prometheus's rules (`rules/group.go`, `alerting.go`).

use promlite_model::Labels;
use promlite_promql::{Engine, Value};
use promlite_store::{Store, StoreConfig};

use crate::{AlertState, Manager, ManagerOptions, RuleHealth};

const RULES: &str = "groups:
- name: g
  interval: 1m
  rules:
  - record: job:x:sum
    expr: sum by (job) (x)
  - record: job:x:double
    expr: job:x:sum * 2
  - alert: XHigh
    expr: job:x:double > 10
    for: 2m
    keep_firing_for: 1m
    labels: {severity: page}
    annotations: {summary: '{{ $labels.job }} at {{ $value }}'}
";

fn store_with(points: &[(&str, i64, f64)]) -> Store {
    let store = Store::new(StoreConfig::unbounded());
    store
        .append_batch(points.iter().map(|(job, t, v)| {
            (
                Labels::from_pairs([("__name__", "x"), ("job", *job)]),
                *t,
                *v,
            )
        }))
        .unwrap();
    store
}

fn query(store: &Store, q: &str, t: i64) -> Vec<(String, f64)> {
    let r = Engine::default().instant_query(store, q, t).unwrap();
    let Value::Vector(v) = r.value else {
        panic!("not a vector")
    };
    let mut out: Vec<(String, f64)> = v.into_iter().map(|s| (s.labels.to_string(), s.v)).collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn recording_rules_chain_and_go_stale() {
    // job a exists until 2m, then vanishes (no samples after).
    let store = store_with(&[
        ("a", 0, 3.0),
        ("a", 60_000, 4.0),
        ("a", 120_000, 5.0),
        ("b", 0, 1.0),
        ("b", 300_000, 1.0),
    ]);
    let mut m = Manager::new(ManagerOptions::default());
    m.load_str("r.yml", RULES).unwrap();
    for t in [0, 60_000, 120_000] {
        assert!(m.eval_group(0, &store, t).is_empty());
    }
    // The second rule saw the first one's output at the same timestamp.
    assert_eq!(
        query(&store, "job:x:double", 120_000),
        [
            ("job:x:double{job=\"a\"}".to_string(), 10.0),
            ("job:x:double{job=\"b\"}".to_string(), 2.0)
        ]
    );
    // At 7m job a's last input sample (2m) leaves the lookback window: the rule
    // stops producing a, and its recorded series gets a stale marker, so it
    // disappears at once instead of lingering 5 more minutes.
    for t in [180_000, 240_000, 300_000, 360_000, 420_000] {
        m.eval_group(0, &store, t);
    }
    assert_eq!(query(&store, "job:x:sum", 360_000).len(), 2);
    assert_eq!(
        query(&store, "job:x:sum", 420_000),
        [("job:x:sum{job=\"b\"}".to_string(), 1.0)]
    );
    assert_eq!(
        query(
            &store,
            "count_over_time(job:x:sum{job=\"a\"}[10m])",
            420_000
        ),
        [("{job=\"a\"}".to_string(), 7.0)]
    );
}

#[test]
fn alert_life_cycle_and_series() {
    // job a: 6 (double 12 > 10) from 1m to 4m, then 1.
    let pts: Vec<(&str, i64, f64)> = (0..10)
        .map(|i| {
            (
                "a",
                i * 60_000,
                if (1..=4).contains(&i) { 6.0 } else { 1.0 },
            )
        })
        .collect();
    let store = store_with(&pts);
    let mut m = Manager::new(ManagerOptions::default());
    m.load_str("r.yml", RULES).unwrap();
    let mut states = Vec::new();
    for i in 0..8 {
        m.eval_group(0, &store, i * 60_000);
        let a = m.alerts();
        states.push(a.first().map(|a| a.state));
    }
    use AlertState::*;
    // active at 1m; fires at 3m (for: 2m); condition gone at 5m but kept firing
    // for 1m; at 6m resolved (inactive, kept for Alertmanager).
    assert_eq!(
        states,
        [
            None,
            Some(Pending),
            Some(Pending),
            Some(Firing),
            Some(Firing),
            Some(Firing),
            Some(Inactive),
            Some(Inactive)
        ]
    );
    let alerts = m.alerts();
    // Annotations stay as the last active evaluation expanded them.
    assert_eq!(alerts[0].annotations["summary"], "a at 12");
    assert_eq!(alerts[0].labels.get("severity"), Some("page"));
    assert_eq!(alerts[0].resolved_at_ms, Some(360_000));
    assert_eq!(
        query(&store, "ALERTS", 120_000),
        [(
            "ALERTS{alertname=\"XHigh\", alertstate=\"pending\", job=\"a\", severity=\"page\"}"
                .to_string(),
            1.0
        )]
    );
    assert_eq!(query(&store, "ALERTS_FOR_STATE", 240_000)[0].1, 60.0);
    assert_eq!(query(&store, "ALERTS", 360_000), []);
    assert_eq!(m.groups()[0].rules[2].health, RuleHealth::Ok);
}

#[test]
fn duplicate_label_sets_are_rule_errors() {
    let store = store_with(&[("a", 0, 1.0), ("b", 0, 1.0)]);
    let mut m = Manager::new(ManagerOptions::default());
    m.load_str("d.yml", "groups:\n- name: d\n  rules:\n  - record: r\n    expr: x\n    labels: {job: same}\n  - alert: A\n    expr: x\n    labels: {job: same}\n").unwrap();
    let errs = m.eval_group(0, &store, 0);
    assert_eq!(
        errs,
        [
            (
                "d".to_string(),
                "r".to_string(),
                "vector contains metrics with the same labelset after applying rule labels"
                    .to_string()
            ),
            (
                "d".to_string(),
                "A".to_string(),
                "vector contains metrics with the same labelset after applying alert labels"
                    .to_string()
            ),
        ]
    );
    assert_eq!(m.groups()[0].rules[0].health, RuleHealth::Err);
    assert_eq!(m.groups()[0].evaluation_failures_total, 2);
}

#[test]
fn eval_due_aligns_and_counts_missed_iterations() {
    let store = Store::new(StoreConfig::unbounded());
    let mut m = Manager::new(ManagerOptions::default());
    m.load_str("r.yml", RULES).unwrap();
    assert!(m.eval_due(&store, 1_000_000).is_empty());
    let first = m.next_eval_ms().unwrap();
    assert!(first > 1_000_000 && first <= 1_060_000, "{first}");
    assert_eq!(m.groups()[0].evaluations_total, 0);
    m.eval_due(&store, first);
    assert_eq!(m.groups()[0].last_eval_ms, Some(first));
    // 3.5 intervals late: two iterations were missed, the third runs.
    m.eval_due(&store, first + 210_000);
    assert_eq!(m.groups()[0].missed_iterations_total, 2);
    assert_eq!(m.groups()[0].last_eval_ms, Some(first + 180_000));
    assert_eq!(m.next_eval_ms(), Some(first + 240_000));
}

#[test]
fn invalid_files_are_not_loaded() {
    let mut m = Manager::new(ManagerOptions::default());
    let e = m
        .load_str(
            "bad.yml",
            "groups:\n- name: g\n  rules:\n  - record: a-b\n    expr: up\n",
        )
        .unwrap_err();
    assert_eq!(
        e,
        ["bad.yml: 4:13: group \"g\", rule 1, \"a-b\": invalid recording rule name: a-b"]
    );
    assert!(m.groups().is_empty());
}
