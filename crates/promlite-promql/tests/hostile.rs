//! Hostile queries and extreme evaluation times (issue 13, 4): every answer is
//! checked, not discarded, and the workspace builds this crate with overflow checks
//! on in every profile (`[profile.*.package.promlite-promql]` in Cargo.toml), so an
//! arithmetic overflow fails here instead of wrapping silently in the `--release`
//! run CI does.
//!
//! Two kinds of checks: invariants every answer must keep (instant answers are at
//! the evaluation time, range answers on the step grid inside [start, end], errors
//! are bad-data/execution/too-many-samples with a message), and per-query answers
//! worked out by hand from Prometheus's documented semantics (comments).

use promlite_model::{Labels, Sample, VecStorage};
use promlite_promql::{Engine, EngineOptions, QueryErrorKind, QueryResult, Value};

/// (label pairs, (timestamp ms, value) samples)
type SeriesSpec<'a> = (&'a [(&'a str, &'a str)], &'a [(i64, f64)]);

fn storage(series: &[SeriesSpec<'_>]) -> VecStorage {
    let mut s = VecStorage::default();
    for (labels, samples) in series {
        let l = Labels::from_pairs(labels.iter().copied());
        for &(t, v) in *samples {
            s.push(&l, Sample { t, v });
        }
    }
    s
}

fn engine() -> Engine {
    Engine::new(EngineOptions::default())
}

/// What a query must answer at t = 60 s.
#[derive(Debug)]
enum Want {
    /// An instant vector with these values, sorted (NaN compared as NaN).
    Values(&'static [f64]),
    /// A scalar.
    Scalar(f64),
    /// An error of this kind.
    Error(QueryErrorKind),
    /// Any successful answer (the invariants still apply).
    Ok,
}

fn same(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b
}

/// The invariants of an instant answer at `t`.
fn check_instant(q: &str, t: i64, r: &Result<QueryResult, promlite_promql::QueryError>) {
    match r {
        Ok(res) => match &res.value {
            Value::Vector(v) => {
                for s in v {
                    assert_eq!(s.t, t, "{q} @ {t}: sample at {} ", s.t);
                }
            }
            Value::Scalar { t: st, .. } | Value::String { t: st, .. } => {
                assert_eq!(*st, t, "{q} @ {t}")
            }
            Value::Matrix(m) => {
                for s in m {
                    assert!(
                        s.samples.windows(2).all(|w| w[0].t < w[1].t),
                        "{q} @ {t}: samples out of order"
                    );
                    assert!(
                        s.samples.iter().all(|x| x.t <= t),
                        "{q} @ {t}: sample after the evaluation time"
                    );
                }
            }
        },
        Err(e) => check_error(q, e),
    }
}

/// The invariants of a range answer.
fn check_range(
    q: &str,
    (start, end, step): (i64, i64, i64),
    r: &Result<QueryResult, promlite_promql::QueryError>,
) {
    match r {
        Ok(res) => {
            let Value::Matrix(m) = &res.value else {
                panic!("{q}: a range query answered {:?}", res.value)
            };
            for s in m {
                for x in &s.samples {
                    assert!(
                        x.t >= start && x.t <= end && (x.t - start) % step == 0,
                        "{q} [{start}, {end}] step {step}: point at {}",
                        x.t
                    );
                }
            }
        }
        Err(e) => check_error(q, e),
    }
}

fn check_error(q: &str, e: &promlite_promql::QueryError) {
    assert!(
        matches!(
            e.kind(),
            QueryErrorKind::Parse
                | QueryErrorKind::BadData
                | QueryErrorKind::Execution
                | QueryErrorKind::TooManySamples
        ),
        "{q}: unexpected error kind {:?}: {e}",
        e.kind()
    );
    assert!(!e.to_string().is_empty(), "{q}: empty error message");
}

fn values(r: &QueryResult) -> Option<Vec<f64>> {
    match &r.value {
        Value::Vector(v) => {
            let mut out: Vec<f64> = v.iter().map(|s| s.v).collect();
            out.sort_by(f64::total_cmp);
            Some(out)
        }
        _ => None,
    }
}

#[test]
fn hostile_queries_answer_sensibly() {
    // m{le="0.5"}: 1 @ 0, 2 @ 60 s, NaN @ 120 s; m{le="x"}: 3 @ 0.
    let s = storage(&[
        (
            &[("__name__", "m"), ("le", "0.5")],
            &[(0, 1.0), (60_000, 2.0), (120_000, f64::NAN)],
        ),
        (&[("__name__", "m"), ("le", "x")], &[(0, 3.0)]),
    ]);
    use QueryErrorKind::*;
    use Want::*;
    const NAN: f64 = f64::NAN;
    // At t = 60 s the two series read 2 and 3 (lookback 5 m).
    let cases: &[(&str, Want)] = &[
        ("topk(-1, m)", Values(&[])), // k < 1: nothing
        // k must fit an int64 (Prometheus 3: "Scalar value 1e+30 overflows int64").
        ("topk(1e30, m)", Error(Execution)),
        ("topk(1e9, m)", Values(&[2.0, 3.0])), // k beyond the input: everything
        ("bottomk(0.5, m)", Values(&[])),      // k truncates to 0
        ("quantile(NaN, m)", Values(&[NAN])),  // phi NaN gives NaN
        ("m @ 9e15", Values(&[])),             // no data there
        // 1000y overflows Go's int64 nanosecond durations: Prometheus refuses it.
        ("m offset -1000y", Error(Parse)),
        ("m offset 1000y", Error(Parse)),
        ("m offset -100y", Values(&[])),
        ("histogram_quantile(0.5, m)", Ok), // malformed le: Prometheus warns
        ("histogram_quantile(NaN, m)", Ok),
        ("histogram_fraction(-Inf, Inf, m)", Ok),
        ("count_values(\"\", m)", Error(Execution)), // invalid label name
        ("count_values(\"v\", m)", Values(&[1.0, 1.0])),
        (
            "label_replace(m, \"\", \"\", \"\", \"(\")",
            Error(Execution),
        ), // bad regex
        (
            "label_replace(m, \"a\", \"$9$x\", \"le\", \"(.*)\")",
            Values(&[2.0, 3.0]),
        ),
        ("label_join(m, \"a\", \"-\")", Values(&[2.0, 3.0])),
        ("rate(m[1s:1ms])", Ok),
        // 3.15e12 subquery steps: over the sample limit.
        ("m[100y:1ms]", Error(TooManySamples)),
        // Date functions of out-of-range values give what Go's time package gives
        // (answers of the real Prometheus through the oracle; see eval/go_time.rs).
        ("day_of_month(vector(1e300))", Values(&[4.0])),
        ("year(vector(-1e300))", Values(&[292_277_026_596.0])),
        ("minute(vector(NaN))", Values(&[30.0])),
        ("hour(vector(Inf))", Values(&[15.0])),
        ("-m", Values(&[-3.0, -2.0])),
        ("1/0", Scalar(f64::INFINITY)),
        ("m % 0", Values(&[NAN, NAN])),
        ("m ^ m", Values(&[4.0, 27.0])),
        ("absent_over_time(nope[5m])", Values(&[1.0])),
        ("scalar(m)", Scalar(NAN)), // two elements: NaN
        ("sort_desc(m)", Values(&[2.0, 3.0])),
        ("m and on() m", Values(&[2.0, 3.0])),
        ("m or m", Values(&[2.0, 3.0])),
        ("m unless ignoring(le) m", Values(&[])),
        ("m * on(le) group_left m", Values(&[4.0, 9.0])),
        ("predict_linear(m[5m], 1e308)", Ok),
        (
            "quantile_over_time(2, m[5m])",
            Values(&[f64::INFINITY, f64::INFINITY]),
        ), // phi > 1
        ("round(m, 0)", Ok),
        ("clamp(m, NaN, NaN)", Values(&[NAN, NAN])),
        ("sum by (le) (m)", Values(&[2.0, 3.0])),
        ("stddev(m)", Values(&[0.5])), // population stddev of {2, 3}
        ("timestamp(timestamp(m))", Values(&[60.0, 60.0])),
    ];
    let mut wrong = Vec::new();
    for (q, want) in cases {
        let r = engine().instant_query(&s, q, 60_000);
        check_instant(q, 60_000, &r);
        let ok = match (want, &r) {
            (Values(w), Result::Ok(res)) => values(res).is_some_and(|got| {
                got.len() == w.len() && got.iter().zip(w.iter()).all(|(a, b)| same(*a, *b))
            }),
            (Scalar(w), Result::Ok(res)) => {
                matches!(res.value, Value::Scalar { v, .. } if same(v, *w))
            }
            (Error(k), Err(e)) => e.kind() == *k,
            (Ok, Result::Ok(_)) => true,
            _ => false,
        };
        if !ok {
            wrong.push(format!("{q}: want {want:?}, got {r:?}"));
        }
        for t in [0, i64::MAX / 2, i64::MIN / 2, i64::MAX, i64::MIN] {
            check_instant(q, t, &engine().instant_query(&s, q, t));
        }
        for (start, end, step) in [(0, 600_000, 7_000), (i64::MIN, i64::MAX, 1)] {
            let r = engine().range_query(&s, q, start, end, step);
            check_range(q, (start, end, step), &r);
        }
    }
    assert!(wrong.is_empty(), "wrong answers:\n{}", wrong.join("\n"));
}

#[test]
fn extreme_times_do_not_overflow() {
    // A counter 0, 10, ..., 100 every minute from t = 0.
    let samples: Vec<(i64, f64)> = (0..11).map(|i| (i * 60_000, i as f64 * 10.0)).collect();
    let s = storage(&[(&[("__name__", "c"), ("job", "a")], &samples)]);
    for t in [i64::MIN, i64::MAX, i64::MIN + 1, i64::MAX - 1] {
        for q in [
            "c",
            "rate(c[5m])",
            "c[5m]",
            "max_over_time(c[5m:1m])",
            "c offset 1h",
            "c offset -1h",
            "c @ 100",
            "last_over_time(c[1h] @ 600)",
        ] {
            let r = engine().instant_query(&s, q, t);
            check_instant(q, t, &r);
            let res = r.unwrap_or_else(|e| panic!("{q} @ {t}: {e}"));
            // Far from the data every answer is empty, except where `@` pins it.
            let len = match &res.value {
                Value::Vector(v) => v.len(),
                Value::Matrix(m) => m.len(),
                other => panic!("{q} @ {t}: {other:?}"),
            };
            let pinned = q.contains('@');
            assert_eq!(len, usize::from(pinned), "{q} @ {t}: {:?}", res.value);
        }
        // time() is the evaluation time in seconds.
        let r = engine().instant_query(&s, "time()", t).expect("time()");
        assert!(
            matches!(r.value, Value::Scalar { t: at, v } if at == t && v == t as f64 / 1000.0),
            "time() @ {t}: {:?}",
            r.value
        );
    }
}

/// Found by the `promql_eval_ast` fuzz target (a 45 s timeout): `limit_ratio` warns
/// once per distinct out-of-range ratio, a time-varying ratio in a subquery gives one
/// warning per step, and finding repeats by scanning the list was quadratic, with the
/// engine's timeout never checked in that loop. 172,800 steps must finish well inside
/// the 30 s timeout set here (they take well under a second).
#[test]
fn one_warning_per_step_does_not_hang() {
    let s = storage(&[(&[("__name__", "m")], &[(0, 1.0)])]);
    let opts = promlite_promql::ParseOptions::default().with_experimental_functions(true);
    let q = "count_over_time(limit_ratio(time() + 2, m)[2d:1s])";
    let expr = promlite_promql::parse_with(q, opts).expect("parses");
    let engine = Engine::new(
        EngineOptions::default().with_timeout(Some(std::time::Duration::from_secs(30))),
    );
    let r = engine
        .instant_query_expr(&s, &expr, q, 172_800_000, None)
        .unwrap_or_else(|e| panic!("{q}: {e}"));
    // Every step's ratio (its time + 2 s) is above 1: one distinct warning per step.
    assert_eq!(r.warnings.len(), 172_800, "{:?}", r.warnings.first());
}
