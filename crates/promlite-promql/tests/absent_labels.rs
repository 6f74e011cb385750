//! `absent()` / `absent_over_time()` output labels when a label name has several
//! matchers (issue 13, 1a).
//!
//! The expected labels are computed here from Prometheus's documented rule
//! (`createLabelsForAbsentFunction` in promql/functions.go): walk the matchers in the
//! order written, skip `__name__`; an equality matcher sets its label when no equality
//! matcher for that name came before; any other matcher for the name (a repeated
//! equality, `!=`, `=~`, `!~`) deletes the label. Setting a label to `""` deletes it
//! (Prometheus's `labels.Builder.Set`).

use std::collections::{BTreeMap, HashSet};

use promlite_model::{Labels, Sample, VecStorage};
use promlite_promql::{Engine, EngineOptions, Value};

/// The rule, written out independently of the engine.
fn expected(matchers: &[(&str, &str, &str)]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut had_equal = HashSet::new();
    for (name, op, value) in matchers {
        if *op == "=" && had_equal.insert(*name) && !value.is_empty() {
            out.insert((*name).to_string(), (*value).to_string());
        } else {
            out.remove(*name);
        }
    }
    out
}

fn selector(matchers: &[(&str, &str, &str)]) -> String {
    let body: Vec<String> = matchers
        .iter()
        .map(|(n, op, v)| format!("{n}{op}{v:?}"))
        .collect();
    format!("nope{{{}}}", body.join(", "))
}

fn answer_labels(v: &Value) -> Vec<BTreeMap<String, String>> {
    match v {
        Value::Vector(samples) => samples
            .iter()
            .map(|s| {
                s.labels
                    .iter()
                    .map(|l| (l.name.to_string(), l.value.to_string()))
                    .collect()
            })
            .collect(),
        other => panic!("absent gave a non-vector: {other:?}"),
    }
}

#[test]
fn absent_labels_follow_prometheus_rule_for_repeated_names() {
    let mut storage = VecStorage::default();
    storage.push(
        &Labels::from_pairs([("__name__", "other"), ("job", "a")]),
        Sample { t: 0, v: 1.0 },
    );
    let engine = Engine::new(EngineOptions::default());
    let cases: &[&[(&str, &str, &str)]] = &[
        // The two examples.
        &[("job", "=~", "kube.*"), ("job", "=", "nope")],
        &[("job", "=", "a"), ("job", "=", "b")],
        // The same pairs in the other order.
        &[("job", "=", "nope"), ("job", "=~", "kube.*")],
        &[("job", "!=", "x"), ("job", "=", "y"), ("env", "=", "p")],
        &[("job", "=", "y"), ("job", "!~", "z"), ("env", "=", "p")],
        &[("job", "!~", "z"), ("job", "=", "y"), ("job", "=~", "y.*")],
        &[("job", "=~", "a"), ("job", "!=", "b"), ("job", "=", "c")],
        &[
            ("a", "=", "1"),
            ("b", "=~", "2"),
            ("a", "=", "1"),
            ("b", "=", "3"),
        ],
        &[("job", "=", "a"), ("job", "=", "a")],
        &[("job", "=", "")],
    ];
    for matchers in cases {
        let want = expected(matchers);
        let sel = selector(matchers);
        for query in [
            format!("absent({sel})"),
            format!("absent_over_time({sel}[5m])"),
        ] {
            let got = engine
                .instant_query(&storage, &query, 60_000)
                .unwrap_or_else(|e| panic!("{query}: {e}"));
            let got = answer_labels(&got.value);
            assert_eq!(got.len(), 1, "{query}: one output series");
            assert_eq!(got[0], want, "{query}: labels");
        }
    }
    // The examples, spelled out so the rule above cannot drift unnoticed.
    assert_eq!(
        expected(&[("job", "=~", "kube.*"), ("job", "=", "nope")]),
        BTreeMap::from([("job".to_string(), "nope".to_string())])
    );
    assert!(expected(&[("job", "=", "a"), ("job", "=", "b")]).is_empty());
}
