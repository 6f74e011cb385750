//! End-to-end tests of the engine over `VecStorage`. Expected values are either
//! from Prometheus's own test scripts (cited) or calculated by hand in comments.

use promlite_model::{Labels, MetricType, Sample, VecStorage, STALE_NAN};

use super::*;

/// (labels, first timestamp ms, interval ms, values)
type SeriesSpec<'a> = (&'a [(&'a str, &'a str)], i64, i64, &'a [f64]);

fn store(series: &[SeriesSpec<'_>]) -> VecStorage {
    // (labels, first timestamp ms, interval ms, values)
    let mut s = VecStorage::default();
    for (labels, t0, dt, vals) in series {
        let l = Labels::from_pairs(labels.iter().copied());
        for (i, v) in vals.iter().enumerate() {
            s.push(
                &l,
                Sample {
                    t: t0 + i as i64 * dt,
                    v: *v,
                },
            );
        }
    }
    s
}

fn ramp(start: f64, inc: f64, n: usize) -> Vec<f64> {
    (0..n).map(|i| start + inc * i as f64).collect()
}

fn engine() -> Engine {
    Engine::new(EngineOptions::default())
}

fn vector(r: &QueryResult) -> Vec<(String, f64)> {
    match &r.value {
        Value::Vector(v) => v.iter().map(|s| (s.labels.to_string(), s.v)).collect(),
        other => panic!("not a vector: {other:?}"),
    }
}

fn close(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b || ((a - b) / b).abs() < 1e-12
}

fn assert_vec(r: &QueryResult, want: &[(&str, f64)]) {
    let mut got = vector(r);
    got.sort_by(|a, b| a.0.cmp(&b.0));
    let mut want: Vec<(String, f64)> = want.iter().map(|(l, v)| (l.to_string(), *v)).collect();
    want.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(got.len(), want.len(), "got {got:?}, want {want:?}");
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g.0, w.0, "got {got:?}, want {want:?}");
        assert!(close(g.1, w.1), "{}: got {}, want {}", g.0, g.1, w.1);
    }
}

fn q(s: &VecStorage, query: &str, t_s: f64) -> QueryResult {
    engine()
        .instant_query(s, query, (t_s * 1000.0) as i64)
        .unwrap_or_else(|e| panic!("{query}: {e}"))
}

fn qerr(s: &VecStorage, query: &str, t_s: f64) -> QueryError {
    engine()
        .instant_query(s, query, (t_s * 1000.0) as i64)
        .expect_err(query)
}

fn counters() -> VecStorage {
    // Counter 0,10,20,...,100 every minute from t=0; a gauge; a histogram.
    let mut s = store(&[
        (
            &[
                ("__name__", "http_requests_total"),
                ("job", "api"),
                ("instance", "0"),
            ],
            0,
            60_000,
            &ramp(0.0, 10.0, 11),
        ),
        (
            &[
                ("__name__", "http_requests_total"),
                ("job", "api"),
                ("instance", "1"),
            ],
            0,
            60_000,
            &ramp(0.0, 20.0, 11),
        ),
        (
            &[("__name__", "mem_bytes"), ("job", "api")],
            0,
            60_000,
            &ramp(100.0, -5.0, 11),
        ),
    ]);
    s.types.push(("mem_bytes".to_string(), MetricType::Gauge));
    s
}

#[test]
fn rate_and_sum_rate() {
    let s = counters();
    // Window (5m, 10m]: samples at 6..10 min, values 60..100 (instance 0).
    // result 40, sampled 240 s, avg 60 s, dStart 60 s (< 66, kept; zero clamp
    // dZero = 240*60/40 = 360 not smaller), dEnd 0. factor 300/240 → increase 50,
    // rate 50/300.
    let r = q(&s, "rate(http_requests_total[5m])", 600.0);
    assert_vec(
        &r,
        &[
            ("{instance=\"0\", job=\"api\"}", 50.0 / 300.0),
            ("{instance=\"1\", job=\"api\"}", 100.0 / 300.0),
        ],
    );
    assert!(r.infos.is_empty() && r.warnings.is_empty());
    let r = q(&s, "sum(rate(http_requests_total[5m])) by (job)", 600.0);
    assert_vec(&r, &[("{job=\"api\"}", 150.0 / 300.0)]);
    let r = q(
        &s,
        "increase(http_requests_total{instance=\"0\"}[5m])",
        600.0,
    );
    assert_vec(&r, &[("{instance=\"0\", job=\"api\"}", 50.0)]);
}

#[test]
fn aggregations_over_range_functions_build_only_grouping_labels() {
    // Same data and hand calculation as rate_and_sum_rate: instance 0 rises 50 in
    // the 5m window (rate 50/300), instance 1 rises 100 (rate 100/300).
    let mut s = counters();
    let r = q(
        &s,
        "sum by (instance) (rate(http_requests_total[5m]))",
        600.0,
    );
    assert_vec(
        &r,
        &[
            ("{instance=\"0\"}", 50.0 / 300.0),
            ("{instance=\"1\"}", 100.0 / 300.0),
        ],
    );
    let r = q(
        &s,
        "sum without (instance) (rate(http_requests_total[5m]))",
        600.0,
    );
    assert_vec(&r, &[("{job=\"api\"}", 150.0 / 300.0)]);
    let r = q(
        &s,
        "count without () (rate(http_requests_total[5m]))",
        600.0,
    );
    assert_vec(
        &r,
        &[
            ("{instance=\"0\", job=\"api\"}", 1.0),
            ("{instance=\"1\", job=\"api\"}", 1.0),
        ],
    );
    // Two metric names under one aggregation: the gauge warning is given once,
    // however the engine evaluates the argument.
    let r = q(
        &s,
        "max by (job) (rate({__name__=~\"http_requests_total|mem_bytes\"}[5m]))",
        600.0,
    );
    assert_eq!(vector(&r).len(), 1);
    assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
    // A second counter with instance 0's labels: once rate drops the names, the
    // two series have the same label set, an error even under an aggregation
    // that would not read the colliding labels.
    let other = Labels::from_pairs([
        ("__name__", "other_total"),
        ("job", "api"),
        ("instance", "0"),
    ]);
    for i in 0..11 {
        s.push(
            &other,
            Sample {
                t: i * 60_000,
                v: i as f64,
            },
        );
    }
    let e = qerr(
        &s,
        "sum by (job) (rate({__name__=~\"http_requests_total|other_total\"}[5m]))",
        600.0,
    );
    assert_eq!(
        e.to_string(),
        "vector cannot contain metrics with the same labelset"
    );
}

#[test]
fn rate_over_gauge_warns() {
    let s = counters();
    let r = q(&s, "rate(mem_bytes[5m])", 600.0);
    assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
    assert!(r.warnings[0].contains("\"mem_bytes\""), "{:?}", r.warnings);
    assert!(r.warnings[0].ends_with("(1:6)"), "{:?}", r.warnings);
    // Undeclared type and no counter suffix: Prometheus's name-based info.
    let mut s2 = counters();
    s2.types.clear();
    let r = q(&s2, "rate(mem_bytes[5m])", 600.0);
    assert_eq!(
        r.infos,
        vec!["PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: \"mem_bytes\" (1:6)".to_string()]
    );
}

#[test]
fn lookback_and_staleness() {
    let s = store(&[
        (&[("__name__", "a")], 0, 60_000, &[1.0, 2.0]),
        (&[("__name__", "b")], 0, 60_000, &[1.0, STALE_NAN]),
    ]);
    // a's last sample at 60 s; visible until 60+300 = 360 s exclusive.
    assert_vec(&q(&s, "a", 359.999), &[("a", 2.0)]);
    assert_vec(&q(&s, "a", 360.0), &[]);
    // b is stale from 60 s on.
    assert_vec(&q(&s, "b", 30.0), &[("b", 1.0)]);
    assert_vec(&q(&s, "b", 61.0), &[]);
    // count_over_time ignores the marker: (0, 60] holds only t=60's marker → none;
    // (-30, 30] holds the sample at 0.
    assert_vec(&q(&s, "count_over_time(b[1m])", 60.0), &[]);
    assert_vec(&q(&s, "count_over_time(b[1m])", 30.0), &[("{}", 1.0)]);
}

#[test]
fn left_open_windows() {
    let s = counters();
    // (4m, 5m] holds one sample (at 5m): no rate.
    assert_vec(&q(&s, "rate(http_requests_total[1m])", 300.0), &[]);
    // count over (0, 5m] = 5 samples.
    assert_vec(
        &q(
            &s,
            "count_over_time(http_requests_total{instance=\"0\"}[5m])",
            300.0,
        ),
        &[("{instance=\"0\", job=\"api\"}", 5.0)],
    );
}

#[test]
fn upstream_subquery_cases() {
    // From promqltest/upstream/subquery.test.
    let s = store(&[(&[("__name__", "metric_total")], 0, 10_000, &[1.0, 2.0])]);
    assert_vec(
        &q(&s, "sum_over_time(metric_total[50s:10s])", 10.0),
        &[("{}", 3.0)],
    );
    assert_vec(
        &q(&s, "sum_over_time(metric_total[50s:5s])", 10.0),
        &[("{}", 4.0)],
    );
    assert_vec(
        &q(&s, "sum_over_time(metric_total[50s:10s])", 300.0),
        &[("{}", 10.0)],
    );
    assert_vec(
        &q(&s, "sum_over_time(metric_total[60s:10s])", 359.0),
        &[("{}", 2.0)],
    );
    assert_vec(&q(&s, "rate(metric_total[20s:10s])", 10.0), &[("{}", 0.1)]);
    assert_vec(
        &q(&s, "rate(metric_total[20s:5s])", 20.0),
        &[("{}", 0.06666666666666667)],
    );
    let s = store(&[(
        &[("__name__", "metric1_total")],
        0,
        10_000,
        &ramp(0.0, 1.0, 1001),
    )]);
    assert_vec(
        &q(&s, "sum_over_time(metric1_total[30s:10s])", 1000.0),
        &[("{}", 297.0)],
    );
    assert_vec(
        &q(&s, "sum_over_time(metric1_total[30s:5s])", 1000.0),
        &[("{}", 591.0)],
    );
    assert_vec(
        &q(
            &s,
            "sum_over_time(metric1_total[30s:10s] offset 3s)",
            1010.0,
        ),
        &[("{}", 297.0)],
    );
}

#[test]
fn histogram_quantile_end_to_end() {
    // Bucket counters growing linearly: le=0.1 by 1/s, le=0.5 by 3/s, +Inf by 4/s,
    // scraped every 15 s. rate over [5m] at 600 s is exactly 1, 3, 4 per second
    // (linear data: extrapolation reproduces the slope).
    let mut series: Vec<(Vec<(&str, &str)>, f64)> = Vec::new();
    for (le, r) in [("0.1", 1.0), ("0.5", 3.0), ("+Inf", 4.0)] {
        series.push((
            vec![("__name__", "lat_bucket"), ("le", le), ("job", "x")],
            r,
        ));
    }
    let mut s = VecStorage::default();
    for (l, r) in &series {
        let labels = Labels::from_pairs(l.iter().copied());
        for i in 0..=40 {
            s.push(
                &labels,
                Sample {
                    t: i * 15_000,
                    v: r * 15.0 * i as f64,
                },
            );
        }
    }
    // q=0.5: rank 2 of 4 → bucket (0.1, 0.5]: 0.1 + 0.4*(2-1)/(3-1) = 0.3.
    let r = q(
        &s,
        "histogram_quantile(0.5, sum(rate(lat_bucket[5m])) by (le))",
        600.0,
    );
    assert_vec(&r, &[("{}", 0.3)]);
    // q=0.99: rank 3.96 > 3 → +Inf bucket → 0.5.
    let r = q(&s, "histogram_quantile(0.99, rate(lat_bucket[5m]))", 600.0);
    assert_vec(&r, &[("{job=\"x\"}", 0.5)]);
}

#[test]
fn aggregations() {
    let s = store(&[
        (
            &[("__name__", "m"), ("g", "a"), ("i", "1")],
            0,
            60_000,
            &[1.0],
        ),
        (
            &[("__name__", "m"), ("g", "a"), ("i", "2")],
            0,
            60_000,
            &[3.0],
        ),
        (
            &[("__name__", "m"), ("g", "b"), ("i", "3")],
            0,
            60_000,
            &[10.0],
        ),
    ]);
    assert_vec(
        &q(&s, "sum by (g) (m)", 0.0),
        &[("{g=\"a\"}", 4.0), ("{g=\"b\"}", 10.0)],
    );
    assert_vec(&q(&s, "avg(m)", 0.0), &[("{}", 14.0 / 3.0)]);
    assert_vec(
        &q(&s, "count without (i) (m)", 0.0),
        &[("{g=\"a\"}", 2.0), ("{g=\"b\"}", 1.0)],
    );
    // stddev of 1,3 = 1.
    assert_vec(
        &q(&s, "stddev by (g) (m)", 0.0),
        &[("{g=\"a\"}", 1.0), ("{g=\"b\"}", 0.0)],
    );
    assert_vec(&q(&s, "max(m)", 0.0), &[("{}", 10.0)]);
    assert_vec(&q(&s, "quantile(0.5, m)", 0.0), &[("{}", 3.0)]);
    let r = q(&s, "topk(2, m)", 0.0);
    assert_eq!(
        vector(&r),
        vec![
            ("m{g=\"b\", i=\"3\"}".to_string(), 10.0),
            ("m{g=\"a\", i=\"2\"}".to_string(), 3.0)
        ]
    );
    assert_vec(
        &q(&s, "count_values(\"v\", m)", 0.0),
        &[("{v=\"1\"}", 1.0), ("{v=\"3\"}", 1.0), ("{v=\"10\"}", 1.0)],
    );
    assert_eq!(
        qerr(&s, "topk(scalar(foo), m)", 0.0).to_string(),
        "Parameter value is NaN"
    );
}

#[test]
fn binary_operators_and_matching() {
    let s = store(&[
        (&[("__name__", "a"), ("x", "1")], 0, 60_000, &[6.0]),
        (&[("__name__", "a"), ("x", "2")], 0, 60_000, &[7.0]),
        (&[("__name__", "b"), ("x", "1")], 0, 60_000, &[2.0]),
        (
            &[("__name__", "c"), ("x", "1"), ("y", "p")],
            0,
            60_000,
            &[1.0],
        ),
        (
            &[("__name__", "c"), ("x", "1"), ("y", "q")],
            0,
            60_000,
            &[2.0],
        ),
    ]);
    assert_vec(&q(&s, "a / b", 0.0), &[("{x=\"1\"}", 3.0)]);
    assert_vec(&q(&s, "a > 6", 0.0), &[("a{x=\"2\"}", 7.0)]);
    assert_vec(
        &q(&s, "a > bool 6", 0.0),
        &[("{x=\"1\"}", 0.0), ("{x=\"2\"}", 1.0)],
    );
    assert_vec(
        &q(&s, "a % 4", 0.0),
        &[("{x=\"1\"}", 2.0), ("{x=\"2\"}", 3.0)],
    );
    assert_vec(&q(&s, "a and b", 0.0), &[("a{x=\"1\"}", 6.0)]);
    assert_vec(&q(&s, "a unless b", 0.0), &[("a{x=\"2\"}", 7.0)]);
    assert_vec(
        &q(&s, "b or a", 0.0),
        &[("b{x=\"1\"}", 2.0), ("a{x=\"2\"}", 7.0)],
    );
    assert_vec(
        &q(&s, "c * on (x) group_left a", 0.0),
        &[("{x=\"1\", y=\"p\"}", 6.0), ("{x=\"1\", y=\"q\"}", 12.0)],
    );
    let e = qerr(&s, "a * on (x) c", 0.0);
    assert!(e.to_string().starts_with("found duplicate series for the match group {x=\"1\"} on the right hand-side of the operation: [{__name__=\"c\", x=\"1\", y=\"p\"}, {__name__=\"c\", x=\"1\", y=\"q\"}];many-to-many matching not allowed"), "{e}");
    let e = qerr(&s, "c * on (x) a", 0.0);
    assert_eq!(e.to_string(), "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)");
    // Name dropping makes a and b collide.
    let e = qerr(&s, "-{x=\"1\", __name__=~\"a|b\"}", 0.0);
    assert_eq!(
        e.to_string(),
        "vector cannot contain metrics with the same labelset"
    );
    assert_eq!(e.error_type(), "execution");
    assert_eq!(
        q(&s, "2 ^ 3 ^ 2", 0.0).value,
        Value::Scalar { t: 0, v: 512.0 }
    );
}

#[test]
fn range_query_and_at() {
    let s = counters();
    let r = engine()
        .range_query(
            &s,
            "http_requests_total{instance=\"0\"} @ 120",
            0,
            180_000,
            60_000,
        )
        .unwrap();
    let Value::Matrix(m) = &r.value else { panic!() };
    assert_eq!(m.len(), 1);
    // Pinned at 120 s: value 20 at every step.
    assert_eq!(
        m[0].samples,
        vec![
            Sample { t: 0, v: 20.0 },
            Sample { t: 60_000, v: 20.0 },
            Sample {
                t: 120_000,
                v: 20.0
            },
            Sample {
                t: 180_000,
                v: 20.0
            }
        ]
    );
    let r = engine()
        .range_query(&s, "time()", 0, 120_000, 60_000)
        .unwrap();
    let Value::Matrix(m) = &r.value else { panic!() };
    assert_eq!(
        m[0].samples.iter().map(|s| s.v).collect::<Vec<_>>(),
        vec![0.0, 60.0, 120.0]
    );
    let e = engine()
        .range_query(&s, "http_requests_total[5m]", 0, 120_000, 60_000)
        .unwrap_err();
    assert_eq!(e.to_string(), "invalid expression type \"range vector\" for range query, must be Scalar or instant Vector");
}

#[test]
fn functions_misc() {
    let s = store(&[(&[("__name__", "m"), ("src", "a-b")], 0, 60_000, &[-2.5])]);
    assert_vec(&q(&s, "abs(m)", 0.0), &[("{src=\"a-b\"}", 2.5)]);
    assert_vec(&q(&s, "round(m)", 0.0), &[("{src=\"a-b\"}", -2.0)]);
    assert_vec(&q(&s, "clamp(m, -1, 1)", 0.0), &[("{src=\"a-b\"}", -1.0)]);
    assert_vec(&q(&s, "clamp(m, 1, -1)", 0.0), &[]);
    assert_vec(
        &q(
            &s,
            "label_replace(m, \"dst\", \"$2\", \"src\", \"(.*)-(.*)\")",
            0.0,
        ),
        &[("m{dst=\"b\", src=\"a-b\"}", -2.5)],
    );
    assert_vec(
        &q(&s, "label_join(m, \"dst\", \",\", \"src\", \"src\")", 0.0),
        &[("m{dst=\"a-b,a-b\", src=\"a-b\"}", -2.5)],
    );
    assert_vec(
        &q(&s, "absent(nope{job=\"x\", a=~\"y\"})", 0.0),
        &[("{job=\"x\"}", 1.0)],
    );
    assert_vec(&q(&s, "absent(m)", 0.0), &[]);
    // 2024-02-29T13:45:00Z = 1709214300.
    assert_vec(
        &q(&s, "day_of_month(vector(1709214300))", 0.0),
        &[("{}", 29.0)],
    );
    assert_vec(&q(&s, "hour()", 1_709_214_300.0), &[("{}", 13.0)]);
    assert_vec(&q(&s, "timestamp(m)", 100.0), &[("{src=\"a-b\"}", 0.0)]);
    assert_vec(
        &q(&s, "last_over_time(m[1m])", 30.0),
        &[("m{src=\"a-b\"}", -2.5)],
    );
    assert_eq!(
        q(&s, "scalar(m)", 0.0).value,
        Value::Scalar { t: 0, v: -2.5 }
    );
}

#[test]
fn serializes_like_prometheus_api() {
    let s = store(&[(&[("__name__", "m"), ("a", "b")], 0, 60_000, &[0.1])]);
    let r = engine().instant_query(&s, "m", 1_500).unwrap();
    assert_eq!(
        serde_json::to_string(&r).unwrap(),
        r#"{"resultType":"vector","result":[{"metric":{"__name__":"m","a":"b"},"value":[1.5,"0.1"]}]}"#
    );
    let r = engine().instant_query(&s, "1", 2_000).unwrap();
    assert_eq!(
        serde_json::to_string(&r.value).unwrap(),
        r#"{"resultType":"scalar","result":[2,"1"]}"#
    );
}

#[test]
fn limits_and_cancel() {
    let s = counters();
    let eng = Engine::new(EngineOptions {
        max_samples: 3,
        ..EngineOptions::default()
    });
    let e = eng
        .instant_query(&s, "sum_over_time(http_requests_total[5m])", 600_000)
        .unwrap_err();
    assert_eq!(e.kind(), QueryErrorKind::TooManySamples);
    assert_eq!(
        e.to_string(),
        "query processing would load too many samples into memory in query execution"
    );
    let flag = std::sync::atomic::AtomicBool::new(true);
    let expr = crate::parse("http_requests_total").unwrap();
    let e = engine()
        .instant_query_expr(&s, &expr, "http_requests_total", 0, Some(&flag))
        .unwrap_err();
    assert_eq!(e.kind(), QueryErrorKind::Canceled);
    assert_eq!(e.error_type(), "canceled");
}

#[test]
fn timeout_and_query_parameter_functions() {
    let s = counters();
    let eng = Engine::new(EngineOptions {
        timeout: Some(std::time::Duration::ZERO),
        ..EngineOptions::default()
    });
    let e = eng.instant_query(&s, "http_requests_total", 0).unwrap_err();
    assert_eq!(e.kind(), QueryErrorKind::Timeout);
    assert_eq!(e.error_type(), "timeout");
    assert_eq!(e.to_string(), "query timed out in query execution");
    let e = engine().instant_query(&s, "sum(", 0).unwrap_err();
    assert_eq!(e.kind(), QueryErrorKind::Parse);
    assert_eq!(e.error_type(), "bad_data");
    assert!(e.to_string().starts_with("1:5: parse error:"), "{e}");
}

#[test]
fn delayed_name_removal_mode() {
    // From upstream name_label_dropping.test (which runs with the feature on).
    let s = store(&[
        (
            &[("__name__", "metric_total"), ("env", "1")],
            0,
            300_000,
            &[0.0, 60.0, 120.0],
        ),
        (
            &[("__name__", "another_metric_total"), ("env", "1")],
            0,
            300_000,
            &[60.0, 120.0, 180.0],
        ),
    ]);
    let delayed = Engine::new(EngineOptions {
        delayed_name_removal: true,
        ..EngineOptions::default()
    });
    let r = delayed
        .instant_query(&s, "sum(rate({env=\"1\"}[10m])) by (env)", 600_000)
        .unwrap();
    assert_vec(&r, &[("{env=\"1\"}", 0.4)]);
    let r = delayed
        .instant_query(
            &s,
            "label_replace(rate({env=\"1\"}[10m]), \"__name__\", \"rate_$1\", \"__name__\", \"(.+)\")",
            600_000,
        )
        .unwrap();
    assert_vec(
        &r,
        &[
            ("rate_metric_total{env=\"1\"}", 0.2),
            ("rate_another_metric_total{env=\"1\"}", 0.2),
        ],
    );
    // The same query in the default (immediate) mode collides after rate().
    let e = qerr(&s, "sum(rate({env=\"1\"}[10m])) by (env)", 600.0);
    assert_eq!(
        e.to_string(),
        "vector cannot contain metrics with the same labelset"
    );
}

/// Evaluates with experimental functions enabled in the parser.
fn qx(s: &VecStorage, query: &str, t_s: f64) -> Result<QueryResult, QueryError> {
    #[allow(clippy::needless_update)] // robust to new parser options
    let opts = crate::ParseOptions {
        enable_experimental_functions: true,
        ..Default::default()
    };
    let expr = crate::parse_with(query, opts).map_err(QueryError::from_parse)?;
    engine().instant_query_expr(s, &expr, query, (t_s * 1000.0) as i64, None)
}

#[test]
fn experimental_functions() {
    // upstream functions.test: double_exponential_smoothing over 0+10x1000 every 10 s.
    let s = store(&[(
        &[("__name__", "http_requests"), ("i", "0")],
        0,
        10_000,
        &ramp(0.0, 10.0, 1001),
    )]);
    assert_vec(
        &qx(
            &s,
            "double_exponential_smoothing(http_requests[1m], 0.01, 0.1)",
            8000.0,
        )
        .unwrap(),
        &[("{i=\"0\"}", 8000.0)],
    );
    let e = qx(
        &s,
        "double_exponential_smoothing(http_requests[1m], 1, 0.1)",
        8000.0,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid smoothing factor. Expected: 0 < sf < 1, got: 1.000000"
    );
    let s = store(&[
        (&[("__name__", "m"), ("n", "a10")], 0, 60_000, &[1.0]),
        (&[("__name__", "m"), ("n", "a9")], 0, 60_000, &[2.0]),
    ]);
    // Natural order: a9 before a10.
    assert_eq!(
        vector(&qx(&s, "sort_by_label(m, \"n\")", 0.0).unwrap()),
        vec![
            ("m{n=\"a9\"}".to_string(), 2.0),
            ("m{n=\"a10\"}".to_string(), 1.0)
        ]
    );
}

#[test]
fn fused_histogram_quantile_matches_two_step_evaluation() {
    // Three jobs x two instances, buckets with a reset, a non-monotonic bucket,
    // a duplicate-valued bound ("1" and "1.0") and a series without le.
    let mut s = VecStorage::default();
    let les = ["0.1", "0.5", "1", "1.0", "+Inf"];
    for job in ["a", "b", "c"] {
        for inst in ["0", "1"] {
            for (li, le) in les.iter().enumerate() {
                let l = Labels::from_pairs([
                    ("__name__", "h_bucket"),
                    ("job", job),
                    ("instance", inst),
                    ("le", le),
                ]);
                for k in 0..30i64 {
                    let mut v = (k * (li as i64 + 1) * (job.len() as i64 + inst.len() as i64))
                        as f64
                        * 1.37;
                    if k > 20 && job == "b" {
                        v -= 50.0; // reset-ish drop
                    }
                    if job == "c" && *le == "0.5" {
                        v *= 3.0; // non-monotonic
                    }
                    s.push(
                        &l,
                        Sample {
                            t: k * 10_000 + 7,
                            v,
                        },
                    );
                }
            }
        }
        let l = Labels::from_pairs([("__name__", "h_bucket"), ("job", job)]);
        s.push(&l, Sample { t: 100_000, v: 1.0 });
    }
    let fused = "histogram_quantile(0.73, sum by (job, le) (rate(h_bucket[1m])))";
    let two_step = "histogram_quantile(0.73, sum by (job, le) (rate(h_bucket[1m])) + 0)";
    for t in [60_000, 150_000, 290_000] {
        let a = engine().instant_query(&s, fused, t).unwrap();
        let b = engine().instant_query(&s, two_step, t).unwrap();
        let (mut va, mut vb) = (vector(&a), vector(&b));
        va.sort_by(|x, y| x.0.cmp(&y.0));
        vb.sort_by(|x, y| x.0.cmp(&y.0));
        assert_eq!(va.len(), 3);
        for (x, y) in va.iter().zip(&vb) {
            assert_eq!(x.0, y.0);
            assert!(
                x.1.to_bits() == y.1.to_bits() || (x.1.is_nan() && y.1.is_nan()),
                "{x:?} {y:?}"
            );
        }
        assert_eq!(a.infos, b.infos);
    }
    let a = engine().range_query(&s, fused, 0, 300_000, 15_000).unwrap();
    let b = engine()
        .range_query(&s, two_step, 0, 300_000, 15_000)
        .unwrap();
    let norm = |v: &Value| match v {
        Value::Matrix(m) => m
            .iter()
            .map(|r| {
                (
                    r.labels.to_string(),
                    r.samples
                        .iter()
                        .map(|p| (p.t, p.v.to_bits()))
                        .collect::<Vec<_>>(),
                )
            })
            .collect::<Vec<_>>(),
        _ => panic!(),
    };
    assert_eq!(norm(&a.value), norm(&b.value));
}

#[test]
fn topk_ties_follow_prometheus_heap() {
    // Input order a=1, b=1, c=3, d=1 and k=2. Go's heap (as Prometheus uses it):
    // push a, push b → [a, b]; c beats root a → [c, b], sift down swaps → [b, c];
    // d does not beat root b (1 < 1 is false). Kept: b and c (a stable sort would
    // keep c and a).
    let s = store(&[
        (&[("__name__", "m"), ("x", "a")], 0, 60_000, &[1.0]),
        (&[("__name__", "m"), ("x", "b")], 0, 60_000, &[1.0]),
        (&[("__name__", "m"), ("x", "c")], 0, 60_000, &[3.0]),
        (&[("__name__", "m"), ("x", "d")], 0, 60_000, &[1.0]),
    ]);
    assert_eq!(
        vector(&q(&s, "topk(2, m)", 0.0)),
        vec![
            ("m{x=\"c\"}".to_string(), 3.0),
            ("m{x=\"b\"}".to_string(), 1.0)
        ]
    );
    // bottomk(1) over 1,1,3,1: the first 1 stays (later equal values never win).
    assert_eq!(
        vector(&q(&s, "bottomk(1, m)", 0.0)),
        vec![("m{x=\"a\"}".to_string(), 1.0)]
    );
}

#[test]
fn matrix_and_string_serialize_like_prometheus_api() {
    let s = store(&[(&[("__name__", "m")], 0, 1_500, &[1.0, f64::INFINITY])]);
    let r = engine().range_query(&s, "m", 0, 1_500, 1_500).unwrap();
    assert_eq!(
        serde_json::to_string(&r).unwrap(),
        r#"{"resultType":"matrix","result":[{"metric":{"__name__":"m"},"values":[[0,"1"],[1.5,"+Inf"]]}]}"#
    );
    let r = engine().instant_query(&s, "\"hi\"", 3_000).unwrap();
    assert_eq!(
        serde_json::to_string(&r).unwrap(),
        r#"{"resultType":"string","result":[3,"hi"]}"#
    );
}

/// Regression (functions.test:523): `"\xff"` unquotes to the raw byte 0xFF, which is not
/// UTF-8, so Prometheus rejects it as a label_replace/label_join destination; valid
/// escapes of the same character (`"\u00ff"`, `"\303\277"`) still work.
#[test]
fn label_replace_rejects_invalid_utf8_destination() {
    let s = store(&[(&[("__name__", "m"), ("src", "a")], 0, 60_000, &[1.0])]);
    for query in [
        r#"label_replace(m, "\xff", "", "src", "(.*)")"#,
        r#"label_replace(m, ("\377"), "x", "src", "(.*)")"#,
        r#"label_join(m, "\xff", ",", "src")"#,
    ] {
        let e = qerr(&s, query, 0.0);
        assert!(
            e.to_string()
                .contains("invalid destination label name in label_"),
            "{query}: {e}"
        );
    }
    assert_vec(
        &q(
            &s,
            r#"label_replace(m, "\u00ff", "$1", "src", "(.*)")"#,
            0.0,
        ),
        &[("m{src=\"a\", ÿ=\"a\"}", 1.0)],
    );
    assert_vec(
        &q(
            &s,
            r#"label_replace(m, "\303\277", "$1", "src", "(.*)")"#,
            0.0,
        ),
        &[("m{src=\"a\", ÿ=\"a\"}", 1.0)],
    );
}

/// `min_of`/`max_of` follow Go's math.Min/math.Max (documented: Min(x, NaN) = NaN,
/// Min(-0, ±0) = -0, Max(+0, ±0) = +0); `start()`/`end()`/`range()`/`step()` are the
/// query's parameters in seconds, 0 for `step()`/`range()` of an instant query
/// (upstream functions.test:2101-2106).
#[test]
fn scalar_query_context_functions() {
    let s = store(&[]);
    let scalar = |q: &str| match qx(&s, q, 100.0).unwrap().value {
        Value::Scalar { v, .. } => v,
        other => panic!("{q}: {other:?}"),
    };
    assert_eq!(scalar("min_of(3, 5)"), 3.0);
    assert_eq!(scalar("max_of(3, -5)"), 3.0);
    assert!(scalar("min_of(NaN, 1)").is_nan());
    assert!(scalar("max_of(1, NaN)").is_nan());
    assert!(scalar("min_of(0, -0)").is_sign_negative());
    assert!(scalar("min_of(-0, 0)").is_sign_negative());
    assert!(scalar("max_of(-0, 0)").is_sign_positive());
    assert!(scalar("max_of(0, -0)").is_sign_positive());
    assert_eq!(scalar("start()"), 100.0);
    assert_eq!(scalar("end()"), 100.0);
    assert_eq!(scalar("step()"), 0.0);
    assert_eq!(scalar("range()"), 0.0);
}

/// Found by tests/promql_fuzz_diff.rs (seed 5, `(fz_temp offset -45s) atan2 6`): Prometheus
/// 2.42 keeps `__name__` on `atan2` results (measured with prom-oracle: `trigy atan2
/// trigx` gives `{__name__="trigy"}`), 3.x drops it like the other arithmetic operators
/// (upstream operators.test:530 expects `{} 0.4636476090008061`). We follow 3.x, for
/// vector/vector and vector/scalar alike.
#[test]
fn atan2_drops_metric_name_like_3x() {
    let s = store(&[
        (&[("__name__", "trigy")], 0, 60_000, &[10.0]),
        (&[("__name__", "trigx")], 0, 60_000, &[20.0]),
    ]);
    // atan(10/20) and atan(10/2), by hand: 0.46364760900080611, 1.3734007669450159.
    assert_vec(
        &q(&s, "trigy atan2 trigx", 60.0),
        &[("{}", 0.463_647_609_000_806_1)],
    );
    assert_vec(
        &q(&s, "trigy atan2 2", 60.0),
        &[("{}", 1.373_400_766_945_016)],
    );
}
