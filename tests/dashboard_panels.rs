//! The kube-controller-manager dashboard over the real `/metrics` dumps of
//! several Kubernetes versions (issue 13, 5): client-go labels its REST
//! latency histogram by `url` and `verb` (1.20) or `host` and `verb` (1.24+),
//! and the latency panel must give one row per endpoint for both.

use std::collections::BTreeSet;

use promlite::dashboard::KCM_PANELS;
use promlite::promql::{Engine, EngineOptions};
use promlite::store::{Format, Store, StoreConfig, Target};

use crate::common::shared_dir;

const FAMILY: &str = "rest_client_request_duration_seconds";
const T0: i64 = 1_700_000_000_000;

/// The fixture, and the same page 30 s later with one more observation in
/// the lowest bucket of every series of the family (every cumulative bucket
/// and `_count` + 1), so that every endpoint has a rate.
fn two_scrapes(fixture: &str) -> (String, String) {
    let path = shared_dir().join("fixtures/real").join(fixture);
    let first = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let mut second = String::new();
    for line in first.lines() {
        let bumped = (line.starts_with(&format!("{FAMILY}_bucket{{"))
            || line.starts_with(&format!("{FAMILY}_count")))
        .then(|| line.rsplit_once(' '))
        .flatten()
        .and_then(|(head, v)| Some(format!("{head} {}", v.parse::<f64>().ok()? + 1.0)));
        second.push_str(bumped.as_deref().unwrap_or(line));
        second.push('\n');
    }
    (first, second)
}

/// Distinct values of `labels` over the family's bucket lines, read from the text.
fn endpoints(text: &str, labels: &[&str]) -> usize {
    let mut set = BTreeSet::new();
    for line in text
        .lines()
        .filter(|l| l.starts_with(&format!("{FAMILY}_bucket{{")))
    {
        let key: Vec<String> = labels
            .iter()
            .map(|n| {
                let pat = format!("{n}=\"");
                line.split_once(&pat)
                    .and_then(|(_, rest)| rest.split_once('"'))
                    .map_or(String::new(), |(v, _)| v.to_string())
            })
            .collect();
        set.insert(key);
    }
    set.len()
}

fn latency_rows(fixture: &str) -> (Vec<f64>, String) {
    let (first, second) = two_scrapes(fixture);
    let store = Store::new(StoreConfig::default());
    let target = Target::from_pairs([
        ("job", "kube-controller-manager"),
        ("container", "kube-controller-manager"),
    ]);
    store
        .ingest_scrape(&target, first.as_bytes(), Format::Text, T0)
        .unwrap();
    store
        .ingest_scrape(&target, second.as_bytes(), Format::Text, T0 + 30_000)
        .unwrap();
    let panel = KCM_PANELS
        .iter()
        .find(|p| p.query.contains(FAMILY))
        .expect("a REST latency panel");
    let engine = Engine::new(EngineOptions::default());
    let r = engine
        .instant_query(&store, panel.query, T0 + 30_000)
        .unwrap();
    let rows = r
        .value
        .as_vector()
        .expect("a vector")
        .iter()
        .map(|s| s.v)
        .collect();
    (rows, first)
}

fn check(fixture: &str, labels: &[&str]) {
    let (rows, text) = latency_rows(fixture);
    let want = endpoints(&text, labels);
    assert!(want > 1, "{fixture}: several endpoints");
    assert_eq!(rows.len(), want, "{fixture}: one row per {labels:?}");
    // Each endpoint saw one more request: a latency, not NaN (rate's
    // extrapolation differs per bucket, so the value itself is not pinned).
    for v in rows {
        assert!(v.is_finite() && v > 0.0, "{fixture}: p99 {v}");
    }
}

#[test]
fn rest_latency_panel_has_a_row_per_host_and_verb_on_1_35() {
    check("kube-controller-manager-1.35.0.prom", &["host", "verb"]);
}

#[test]
fn rest_latency_panel_has_a_row_per_url_and_verb_on_1_20() {
    check("kube-controller-manager-1.20.15.prom", &["url", "verb"]);
}
