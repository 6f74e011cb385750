//! `@`-pinned selectors in range queries and subqueries against the real Prometheus
//! (issue 13 §1c): step-invariant subtrees (all selectors `@`-pinned, no `@`-unsafe
//! function) repeat their value at the query's start on every step, and an `@`-pinned
//! window stays put inside range queries and subqueries.
//!
//! The oracle is Prometheus 2.42. Where 2.42 and 3.x agree the answers are compared
//! point by point. 2.42 moved an `@`-pinned window of an `@`-unsafe function
//! (`predict_linear`, the only one taking a range) by each step's distance from the
//! start and so emptied it (Prometheus issue #11708, fixed in 2.51 by upstream commit
//! 86d7618 "Fix wrongly scoped range vectors"); for those queries only instant queries,
//! where both versions read the same window, are compared here. Range queries and
//! subqueries over them (where 2.42 moves the window on the inner grid too) are
//! checked against values computed by hand in `crates/promlite-promql/src/eval/at_tests.rs`.
//!
//! Data: one series every 15 s from 1000 s to 2500 s; evaluation times are chosen so
//! that no window edge sits on a sample (2.42 closed vs 3.x left-open windows) and no
//! subquery range starts on its step grid (§14 items 1-3 of the semantics spec).

use serde_json::{json, Value};

use crate::common::oracle_available;
use crate::promql_diff::{answers_from_both, assert_no_failures, compare, points};

fn data() -> String {
    let mut s = String::from("# TYPE x gauge\n# TYPE y gauge\n");
    for i in 0..=100 {
        let t = 1000 + 15 * i;
        let v = 2.0 * i as f64 + if i % 3 == 0 { 0.5 } else { 0.0 };
        s.push_str(&format!("x{{a=\"1\"}} {v} {t}\n"));
        s.push_str(&format!("y{{a=\"1\"}} {} {t}\n", (i * 7) % 11));
    }
    s.push_str("# EOF\n");
    s
}

/// Range queries from 1610 s to 1910 s every 60 s, compared on every step.
const INVARIANT: &[&str] = &[
    "x @ 1500",
    "x @ start()",
    "y @ end()",
    "rate(x[2m] @ 1500)",
    "deriv(x[2m] @ end())",
    "sum(x @ 1500) * 2 + y @ 1200",
    "timestamp(x @ 1500)",
    "timestamp(abs(x @ 1500))",
    "max_over_time((x @ 1500)[5m:1m])",
    "max_over_time(timestamp(y @ 1500)[3m:1m])",
    "max_over_time(rate(x[1m])[5m:1m] @ 1530)",
    "rate(x[2m] @ 1500) + time()",
    "x @ 1500 > bool y",
    "absent(nope @ 1500)",
];

/// `@`-unsafe with a pinned window: compared at one instant only (see the module doc).
const FIRST_STEP_ONLY: &[(&str, i64)] = &[
    ("predict_linear(x[2m] @ 1500, 60)", 1610),
    ("max(predict_linear(x[2m] @ 1910, 60))", 1610),
];

#[test]
fn at_pinned_subtrees_match_prometheus() {
    if !oracle_available("at_pinned_subtrees_match_prometheus") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("promlite-at-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let data_path = dir.join("at.om");
    std::fs::write(&data_path, data()).expect("write data");
    let mut qs: Vec<Value> = Vec::new();
    for (i, e) in INVARIANT.iter().enumerate() {
        qs.push(json!({"id": format!("r{i}"), "expr": e, "start": 1610, "end": 1910, "step": 60}));
        qs.push(json!({"id": format!("i{i}"), "expr": e, "time": 1730}));
    }
    for (i, (e, t)) in FIRST_STEP_ONLY.iter().enumerate() {
        qs.push(json!({"id": format!("p{i}"), "expr": e, "time": t}));
    }
    let batch = dir.join("at.jsonl");
    let text: String = qs.iter().map(|q| format!("{q}\n")).collect();
    std::fs::write(&batch, text).expect("write batch");
    let (ours, theirs) = answers_from_both(&data_path, &batch, qs.len());
    let _ = std::fs::remove_dir_all(&dir);
    let mut failures = Vec::new();
    let mut n_points = 0;
    for (o, t) in ours.iter().zip(&theirs) {
        assert_eq!(o["query"], t["query"], "answers in query order");
        n_points += match &t["data"]["result"] {
            Value::Array(r) => r.iter().map(|s| points(s).len()).sum::<usize>(),
            _ => 1,
        };
        if let Err(e) = compare(o, t) {
            failures.push(format!("{} {}: {e}", t["query"]["id"], t["query"]["expr"]));
        }
    }
    // Every range query answers at all 6 steps (one series each, absent() included).
    assert!(n_points >= 6 * INVARIANT.len(), "only {n_points} points");
    assert_no_failures(&failures, qs.len());
}
