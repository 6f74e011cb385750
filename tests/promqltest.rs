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
}
