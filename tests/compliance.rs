//! The PromQL compliance tester's 548-case corpus, scored by
//! `../shared/compliance/run-compliance` against the real Prometheus 2.42 with
//! Prometheus 3.x expectations (`--semantics prom3`). Reference answers are cached by
//! the harness (in its cache dir), so only the first run pays for Prometheus.

use std::process::Command;

use crate::common::{oracle_available, promlite_bin, shared_dir};

/// Cases in which promlite's Prometheus-3 answer differs from the 2.42 reference for a
/// reason the harness's `--semantics prom3` overrides do not cover:
/// `../shared/spec/promql-semantics.md` §14.4, the `rate`/`increase` zero-point clamp.
/// 2.42 clamps the extrapolation to the counter's zero point *before* the 1.1 x average
/// interval test, 3.x after it; they differ when a series starts inside the window
/// (here: the first windows after the simulated restart of `:10001`, whose first scrape
/// after the restart is missing) and avg/2 <= dZero < 1.1 x avg. Checked by hand for
/// c426 at 1704067150.25 (15 s data): the 2.42 formula gives 1.3540238 (the reference),
/// the 3.x formula 1.2707095 (ours); and for c529 at 1704067160.25 (5 s data, GET
/// /api/nonexistent): 2.42 gives 0.000331988 (reference), 3.x 0.000332 (ours).
const KNOWN_2_42_VS_3X_15S: &[&str] = &[
    "c426", "c427", "c432", "c433", "c524", "c525", "c526", "c527", "c528", "c529", "c548",
];
const KNOWN_2_42_VS_3X_5S: &[&str] = &["c524", "c525", "c526", "c527", "c528", "c529"];

/// Failures that are not semantic differences: `topk`/`bottomk without(instance) (2,
/// demo_memory_usage_bytes)` with exactly tied values (`:10000` and `:10001` both report
/// 173015040 buffers at several steps). Which tied series wins is unspecified; Prometheus
/// 2.42's own choice is not even stable from run to run (measured on gen-kcm seed 7:
/// `topk(1, sum by (instance) (...))` over tied sums gave different series in 1 of 4
/// oracle runs), and the cached reference holds one such draw.
const KNOWN_ENGINE_GAPS: &[&str] = &["c102", "c103"];

/// The scores we measured and hold ourselves to (cases passed out of 548). Raise them
/// when the engine improves; never lower them to make a regression pass.
const MIN_PASSED_15S: usize = 548 - 11 - 2;
const MIN_PASSED_5S: usize = 548 - 6 - 2;

/// Parses the harness's last line, `N passed, N failed (P%)`.
fn score(out: &str) -> Option<(usize, usize)> {
    let last = out.lines().rev().find(|l| l.contains(" passed, "))?;
    let mut it = last.split(',');
    let p = it.next()?.split_whitespace().next()?.parse().ok()?;
    let f = it.next()?.split_whitespace().next()?.parse().ok()?;
    Some((p, f))
}

#[test]
fn score_line_parses() {
    assert_eq!(
        score("...\n540 passed, 8 failed (98.54%)\n"),
        Some((540, 8))
    );
}

fn run(interval: &str, min_passed: usize, known_diffs: &[&str]) {
    let harness = shared_dir().join("compliance/run-compliance");
    let engine = format!(
        "{} eval --data {{data}} --batch {{batch}}",
        promlite_bin().display()
    );
    let t0 = std::time::Instant::now();
    let out = Command::new("python3")
        .arg(&harness)
        .args([
            "--engine-cmd",
            &engine,
            "--semantics",
            "prom3",
            "--scrape-interval",
            interval,
        ])
        .output()
        .expect("run run-compliance");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let Some((passed, failed)) = score(&stdout).or_else(|| score(&stderr)) else {
        panic!("no score line from run-compliance; stdout:\n{stdout}\nstderr:\n{stderr}");
    };
    eprintln!(
        "compliance ({interval} data): {passed} passed, {failed} failed, {:.1}s",
        t0.elapsed().as_secs_f64()
    );
    assert_eq!(passed + failed, 548, "all 548 cases ran");
    let failing: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("FAIL "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let unexplained: Vec<&&str> = failing
        .iter()
        .filter(|id| !known_diffs.contains(id) && !KNOWN_ENGINE_GAPS.contains(id))
        .collect();
    eprintln!("compliance ({interval} data): failing {failing:?}");
    assert!(
        unexplained.is_empty(),
        "new compliance failures {unexplained:?}:\n{stdout}"
    );
    assert!(
        passed >= min_passed,
        "compliance score fell: {passed}/548 passed, we hold {min_passed}:\n{stdout}"
    );
}

#[test]
fn compliance_corpus_15s() {
    if !oracle_available("compliance_corpus_15s") {
        return;
    }
    run("15s", MIN_PASSED_15S, KNOWN_2_42_VS_3X_15S);
}

#[test]
fn compliance_corpus_5s() {
    if !oracle_available("compliance_corpus_5s") {
        return;
    }
    run("5s", MIN_PASSED_5S, KNOWN_2_42_VS_3X_5S);
}
