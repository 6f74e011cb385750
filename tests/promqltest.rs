//! Prometheus's own PromQL test scripts (`../shared/promqltest/upstream/*.test`), run
//! through `promlite test`. The runner reports every case as passed, failed or skipped
//! with a reason (native histograms, `@st`, `__type__`/`__unit__`, and syntax our
//! parser does not support such as fill modifiers or anchored/smoothed selectors);
//! this test fails on any failed case.

use std::process::Command;

use crate::common::{promlite_bin, shared_dir};

/// Parses the runner's last line, `N passed, N failed, N skipped`.
fn summary(out: &str) -> Option<(usize, usize, usize)> {
    let last = out.lines().rev().find(|l| !l.trim().is_empty())?;
    let nums: Vec<usize> = last
        .split(',')
        .map(|part| part.split_whitespace().next().and_then(|n| n.parse().ok()))
        .collect::<Option<Vec<_>>>()?;
    match (
        nums.as_slice(),
        last.contains("passed") && last.contains("failed") && last.contains("skipped"),
    ) {
        ([p, f, s], true) => Some((*p, *f, *s)),
        _ => None,
    }
}

#[test]
fn summary_line_parses() {
    assert_eq!(
        summary("x\n3 passed, 1 failed, 2 skipped\n"),
        Some((3, 1, 2))
    );
    assert_eq!(summary("3 passed"), None);
}

#[test]
fn upstream_promqltest_scripts_pass() {
    let dir = shared_dir().join("promqltest/upstream");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "test"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 21, "the upstream corpus has 21 files");
    let out = Command::new(promlite_bin())
        .arg("test")
        .args(&files)
        .output()
        .expect("run promlite test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let (passed, failed, skipped) = summary(&stdout)
        .unwrap_or_else(|| panic!("no summary line; stdout:\n{stdout}\nstderr:\n{stderr}"));
    eprintln!("promqltest: {passed} passed, {failed} failed, {skipped} skipped");
    assert_eq!(
        passed + failed + skipped,
        2214,
        "every case of the corpus is accounted for"
    );
    assert!(
        failed == 0 && out.status.success(),
        "{failed} promqltest case(s) failed:\n{stdout}\n{stderr}"
    );
    // A change in the skip rules could turn passes into skips with nothing failing:
    // the pass count may only grow (raise the floor when it does).
    assert!(
        passed >= MIN_PASSED,
        "only {passed} promqltest cases passed, fewer than the {MIN_PASSED} of before \
         ({skipped} skipped): did a skip rule widen?"
    );
}

/// Cases of the upstream corpus that pass today (issue 13).
const MIN_PASSED: usize = 966;

/// The runner must fail wrong expectations (with file:line, query, expected and got),
/// pass right ones (values worked out by hand below), and skip what it cannot run.
#[test]
fn runner_reports_pass_fail_and_skip() {
    // x: 0, 10, 20, 30, 40 at 0m..4m. rate(x[2m]) at 4m: the left-open window (2m, 4m]
    // holds the samples at 3m (30) and 4m (40): increase 10 over 60 s. The first sample
    // is 60 s from the window start (< 1.1 x 60 s), so it extrapolates to the start; the
    // zero point (60 s x 30/10 = 180 s back) is further, so no clamp; the end needs
    // none. Increase 10 x 120/60 = 20 over 120 s: 1/6 per second.
    let script = "\
load 1m
    x{a=\"1\"} 0+10x4
    h {{schema:0 sum:1 count:1}}

eval instant at 4m x
    x{a=\"1\"} 40

eval instant at 4m rate(x[2m])
    {a=\"1\"} 0.16666666666666666

eval instant at 4m x
    x{a=\"1\"} 41

eval range from 0 to 2m step 1m x * 2
    {a=\"1\"} 0 20 40

eval instant at 0 h
    {} 1
";
    let dir = std::env::temp_dir().join(format!("promlite-runner-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("mini.test");
    std::fs::write(&path, script).unwrap();
    let out = Command::new(promlite_bin())
        .arg("test")
        .arg(&path)
        .output()
        .expect("run promlite test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(summary(&stdout), Some((3, 1, 1)), "{stdout}");
    assert_eq!(out.status.code(), Some(1), "a failure exits 1");
    let fail = stdout
        .lines()
        .find(|l| l.starts_with("FAIL "))
        .expect("a FAIL line");
    assert!(fail.ends_with("mini.test:11: x"), "{fail}");
    assert!(stdout.contains("expected 41, got 40"), "{stdout}");
}
