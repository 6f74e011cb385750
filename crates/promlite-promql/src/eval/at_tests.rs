//! `@`-pinned selectors in range queries and subqueries, as Prometheus 3 evaluates
//! them (upstream `engine.go`, `PreprocessExpr`/`preprocessExprHelper`, and the
//! range-function loop that fetches an `@`-pinned window once, at the first step).
//!
//! - A subtree whose selectors all carry `@` and which calls no `@`-unsafe function
//!   is step-invariant: upstream wraps it in `StepInvariantExpr`, evaluates it once
//!   at the query's start and repeats the value at every step. So its value at every
//!   step equals its instant value at the start.
//! - `predict_linear` is `@`-unsafe: it is not wrapped; its window stays where `@`
//!   puts it at every step (upstream commit 86d7618, "Fix wrongly scoped range
//!   vectors", Prometheus issue #11708; 2.42, the differential oracle, still moved
//!   the window by the step's distance from the start and emptied it), while the
//!   regression line is evaluated at each step's own time. Inside a subquery the
//!   same holds on the subquery's grid.
//!
//! Expected values are computed here from those rules over the data (least squares
//! by hand), not taken from the engine.

use promlite_model::{Labels, Sample, VecStorage};

use super::*;

/// `x{a="1"}` every 15 s from 1000 s to 2500 s: `2i`, plus 0.5 when `i % 3 == 0`
/// (so that windows are not exactly linear).
fn data() -> (VecStorage, Vec<Sample>) {
    let mut s = VecStorage::default();
    let l = Labels::from_pairs([("__name__", "x"), ("a", "1")]);
    let mut raw = Vec::new();
    for i in 0..=100i64 {
        let v = 2.0 * i as f64 + if i % 3 == 0 { 0.5 } else { 0.0 };
        let p = Sample {
            t: (1000 + 15 * i) * 1000,
            v,
        };
        s.push(&l, p);
        raw.push(p);
    }
    (s, raw)
}

/// Least-squares line through the samples in `(end - range, end]` (seconds):
/// (mean time, mean value, slope per second).
fn line(raw: &[Sample], end_s: i64, range_s: i64) -> (f64, f64, f64) {
    let w: Vec<(f64, f64)> = raw
        .iter()
        .filter(|p| p.t > (end_s - range_s) * 1000 && p.t <= end_s * 1000)
        .map(|p| (p.t as f64 / 1000.0, p.v))
        .collect();
    assert!(w.len() >= 2, "window too small");
    let n = w.len() as f64;
    let mt = w.iter().map(|p| p.0).sum::<f64>() / n;
    let mv = w.iter().map(|p| p.1).sum::<f64>() / n;
    let cov: f64 = w.iter().map(|p| (p.0 - mt) * (p.1 - mv)).sum();
    let var: f64 = w.iter().map(|p| (p.0 - mt) * (p.0 - mt)).sum();
    (mt, mv, cov / var)
}

fn close(a: f64, b: f64) -> bool {
    a == b || ((a - b) / b).abs() < 1e-9
}

fn engine() -> Engine {
    Engine::new(EngineOptions::default())
}

/// (step time ms, value) of the only series of a range query.
fn range_points(s: &VecStorage, q: &str, start: i64, end: i64, step: i64) -> Vec<(i64, f64)> {
    let r = engine()
        .range_query(s, q, start * 1000, end * 1000, step * 1000)
        .unwrap_or_else(|e| panic!("{q}: {e}"));
    let Value::Matrix(m) = r.value else {
        panic!("{q}: not a matrix")
    };
    assert_eq!(m.len(), 1, "{q}: {m:?}");
    m[0].samples.iter().map(|p| (p.t, p.v)).collect()
}

#[test]
fn predict_linear_keeps_its_pinned_window_at_every_step() {
    // Issue 13 §1c, first example, on this data: the window is (1790, 1910] at every
    // step; the line is evaluated 60 s after each step's time.
    let (s, raw) = data();
    let (mt, mv, b) = line(&raw, 1910, 120);
    let got = range_points(&s, "max(predict_linear(x[2m] @ end(), 60))", 1610, 1910, 60);
    let want: Vec<(i64, f64)> = (0..6)
        .map(|k| {
            let ts = 1610 + 60 * k;
            (ts * 1000, mv + b * ((ts + 60) as f64 - mt))
        })
        .collect();
    assert_eq!(got.len(), want.len(), "{got:?}");
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g.0, w.0);
        assert!(close(g.1, w.1), "{got:?} vs {want:?}");
    }
}

#[test]
fn predict_linear_with_at_inside_a_subquery() {
    // Issue 13 §1c, second example, on this data: inside the subquery the window
    // stays (1440, 1500]; the line is evaluated at each inner step, so deriv() over
    // the inner steps gives the window's slope.
    let (s, raw) = data();
    let (_, _, b) = line(&raw, 1500, 60);
    let q = "scalar(min(deriv((predict_linear(x[1m] @ 1500, 1800))[5m:1m])))";
    let r = engine()
        .instant_query(&s, q, 1_710_000)
        .unwrap_or_else(|e| panic!("{q}: {e}"));
    let Value::Scalar { v, .. } = r.value else {
        panic!("not a scalar")
    };
    assert!(close(v, b), "got {v}, want {b}");
    // The window's slope, by hand: samples 60.5, 62, 64, 66.5 at 1450..1495 s.
    assert!(close(b, 2.0 / 15.0));
}

#[test]
fn step_invariant_subtrees_repeat_their_value_at_the_start() {
    let (s, _) = data();
    for q in [
        "x @ 1500",
        "x @ start()",
        "rate(x[2m] @ 1500)",
        "deriv(x[2m] @ end())",
        "sum(x @ 1500) * 2",
        "timestamp(x @ 1500)",
        "max_over_time((x @ 1500)[5m:1m])",
        "max_over_time(timestamp(x @ 1500)[3m:1m])",
        "max_over_time(rate(x[1m])[5m:1m] @ 1500)",
        "label_replace(x @ 1500, \"b\", \"$1\", \"a\", \"(.*)\")",
    ] {
        let at_start = engine()
            .instant_query(
                &s,
                &q.replace("start()", "1610").replace("end()", "1910"),
                1_610_000,
            )
            .unwrap_or_else(|e| panic!("{q}: {e}"));
        let Value::Vector(v) = at_start.value else {
            panic!("{q}: not a vector")
        };
        assert_eq!(v.len(), 1, "{q}");
        let got = range_points(&s, q, 1610, 1910, 60);
        let want: Vec<(i64, f64)> = (0..6).map(|k| ((1610 + 60 * k) * 1000, v[0].v)).collect();
        assert_eq!(got, want, "{q}");
    }
    // timestamp() of a computed (not selected) value is the step's time (upstream's
    // special case: only timestamp(selector @ T) is invariant).
    let got = range_points(&s, "timestamp(abs(x @ 1500))", 1610, 1910, 60);
    let want: Vec<(i64, f64)> = (0..6)
        .map(|k| ((1610 + 60 * k) * 1000, (1610 + 60 * k) as f64))
        .collect();
    assert_eq!(got, want);
}
