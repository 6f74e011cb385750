//! Differential cases for issue 13's exactness fixes, against the real Prometheus
//! (`../shared/oracle/prom-oracle`), compared as in `promql_diff.rs` (label sets as
//! text, values within 1e-9):
//! - 1a: `absent`/`absent_over_time` with several matchers for one label name;
//! - 1b: `count_values` labels of doubles that lie exactly halfway between two shortest
//!   decimal candidates (Go keeps the even last digit);
//! - 1d: regex matchers and `label_replace` with `\w \d \s \b` over non-ASCII values
//!   (RE2's classes are ASCII);
//! - date functions of NaN, infinities and out-of-range values (found while making
//!   the hostile-query test assert its answers).

use serde_json::json;

use crate::common::oracle_available;
use crate::promql_diff::{answers_from_both, assert_no_failures, compare};

const T0: i64 = 1_700_000_000;

const DATA: &str = "# TYPE m gauge
m{l=\"a\"} 1 1700000000
m{l=\"_\"} 2 1700000000
m{l=\"é\"} 3 1700000000
m{l=\"\u{0663}\"} 4 1700000000
m{l=\"7\"} 5 1700000000
m{l=\"x\u{00A0}y\"} 6 1700000000
m{l=\"x y\"} 7 1700000000
m{l=\"xé\"} 8 1700000000
m{l=\"héllo\"} 9 1700000000
# TYPE tie gauge
tie{k=\"1\"} 1698289672762573.25 1700000000
tie{k=\"2\"} -1466451024462310.25 1700000000
tie{k=\"3\"} 1165671092624425.25 1700000000
tie{k=\"4\"} 0.1 1700000000
# EOF
";

fn queries() -> Vec<&'static str> {
    vec![
        // 1a
        r#"absent(x{job=~"kube.*", job="nope"})"#,
        r#"absent(x{job="a", job="b"})"#,
        r#"absent(x{job="nope", job=~"kube.*"})"#,
        r#"absent(x{job!="x", job="y", env="p"})"#,
        r#"absent(x{a="1", b=~"2", a="1", b="3"})"#,
        r#"absent_over_time(x{job=~"kube.*", job="nope"}[5m])"#,
        r#"absent_over_time(x{job="a", job!~"b", env="c"}[5m])"#,
        // 1b
        r#"count_values("val", tie)"#,
        r#"count_values("val", tie * 1)"#,
        // 1d
        r#"m{l=~"\\w"}"#,
        r#"m{l=~"\\W"}"#,
        r#"m{l=~"\\d"}"#,
        r#"m{l!~"\\D"}"#,
        r#"m{l=~"x\\sy"}"#,
        r#"m{l=~"x\\Sy"}"#,
        r#"m{l=~"x\\bé"}"#,
        r#"m{l=~"[\\w\\s]+"}"#,
        r#"m{l=~"."}"#,
        r#"label_replace(m, "dst", "$1", "l", "h(\\w*)")"#,
        r#"label_replace(m, "dst", "[$1]", "l", "(\\w+).*")"#,
        // Found on the way: date functions of NaN and out-of-range values follow Go's
        // int64 conversion and time arithmetic.
        "minute(vector(NaN))",
        "year(vector(-1e300))",
        "day_of_month(vector(1e300))",
        "hour(vector(Inf))",
        "day_of_week(vector(-Inf))",
        "days_in_month(vector(9.3e18))",
        "month(vector(-9.2e18))",
        "day_of_year(vector(1e18))",
    ]
}

#[test]
fn exactness_fixes_match_prometheus() {
    if !oracle_available("exactness_fixes_match_prometheus") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("promlite-exactness-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let data = dir.join("data.om");
    std::fs::write(&data, DATA).expect("write data");
    let qs = queries();
    let batch: String = qs
        .iter()
        .enumerate()
        .map(|(i, e)| {
            format!(
                "{}\n",
                json!({"id": format!("x{i}"), "expr": e, "time": T0 + 60})
            )
        })
        .collect();
    let batch_path = dir.join("queries.jsonl");
    std::fs::write(&batch_path, batch).expect("write batch");
    let (ours, theirs) = answers_from_both(&data, &batch_path, qs.len());
    let _ = std::fs::remove_dir_all(&dir);
    let mut failures = Vec::new();
    let mut non_empty = 0;
    for (o, t) in ours.iter().zip(&theirs) {
        if t["data"]["result"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
        {
            non_empty += 1;
        }
        if let Err(e) = compare(o, t) {
            failures.push(format!("{}: {e}", t["query"]["expr"]));
        }
    }
    // Every query here has an answer in Prometheus; an all-empty run proves nothing.
    assert_eq!(
        non_empty,
        qs.len(),
        "every query answers something: {theirs:?}"
    );
    assert_no_failures(&failures, qs.len());
    // The tie's text as Prometheus printed it (also the value Go's strconv gives).
    let tie = &theirs[7]["data"]["result"];
    assert!(
        tie.as_array()
            .is_some_and(|r| r.iter().any(|s| s["metric"]["val"] == "1698289672762573.2")),
        "the oracle's count_values label: {tie}"
    );
}
