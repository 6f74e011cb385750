//! Replays every input the fuzzers found and that was kept, through the same checks
//! the fuzz targets run (`fuzz/checks/<target>.rs`, shared by `#[path]`): a file
//! `fuzz/regressions/<target>/<name>` is a named regression test. A directory for a
//! target with no replay here fails the test, so no kept input is silently ignored.
//!
//! To keep a finding: copy the crash file from `fuzz/artifacts/<target>/` to
//! `fuzz/regressions/<target>/<what-it-broke>`, fix the bug, and run this test.
//! (`promql_eval_ast` inputs are read by its tree generator: a change to the generator
//! changes what they build, so re-find them with the bug planted back when it changes.)
//!
//! Kept so far: `promql_eval_ast/math_call_without_argument_{1,2}`, found within a
//! second by the AST target with the engine's AST check (`eval/check.rs`) removed: a
//! hand-built `sgn()`-style call with no argument indexed `args[0]` and panicked.
//! `promql_eval_ast/limit_ratio_warning_per_step_hang`: a libFuzzer timeout (45 s) on a
//! subquery over `limit_ratio` with a time-varying ratio (one warning per step, deduped
//! by a quadratic scan); the named test is `one_warning_per_step_does_not_hang` in
//! `promlite-promql/tests/hostile.rs` (the target's 2 s engine timeout hides a
//! regression from this replay).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use crate::common::repo_root;

#[path = "../fuzz/checks/expfmt_parse.rs"]
#[allow(missing_docs, dead_code)]
mod expfmt_parse;
#[path = "../fuzz/checks/promql_eval_ast.rs"]
#[allow(missing_docs, dead_code)]
mod promql_eval_ast;
#[path = "../fuzz/checks/promql_parse.rs"]
#[allow(missing_docs, dead_code)]
mod promql_parse;
#[path = "../fuzz/checks/promql_roundtrip.rs"]
#[allow(missing_docs, dead_code)]
mod promql_roundtrip;
#[path = "../fuzz/checks/store_append.rs"]
#[allow(missing_docs, dead_code)]
mod store_append;

/// A target's checks: panics on a finding.
type Check = fn(&[u8]);

/// The targets whose kept inputs replay here. (`api_params` joins once
/// `promlite::params` is in the tree; until then its directory must stay empty.)
const REPLAYS: &[(&str, Check)] = &[
    ("expfmt_parse", expfmt_parse::check),
    ("promql_eval_ast", promql_eval_ast::check),
    ("promql_parse", promql_parse::check),
    ("promql_roundtrip", promql_roundtrip::check),
    ("store_append", store_append::check),
];

/// Runs every kept input of every target; returns (inputs run, failures).
fn replay_all(root: &Path) -> (usize, Vec<String>) {
    let mut run = 0;
    let mut failures = Vec::new();
    let Ok(dirs) = std::fs::read_dir(root) else {
        return (0, failures);
    };
    let mut dirs: Vec<_> = dirs.filter_map(Result::ok).map(|e| e.path()).collect();
    dirs.sort();
    for dir in dirs {
        let target = dir
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let Some((_, check)) = REPLAYS.iter().find(|(t, _)| *t == target) else {
            failures.push(format!(
                "{}: no replay for target {target:?}",
                dir.display()
            ));
            continue;
        };
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        files.sort();
        for f in files {
            let data = std::fs::read(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            run += 1;
            if let Err(p) = catch_unwind(AssertUnwindSafe(|| check(&data))) {
                let msg = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_string()))
                    .unwrap_or_default();
                failures.push(format!("{}: {msg}", f.display()));
            }
        }
    }
    (run, failures)
}

#[test]
fn every_kept_fuzz_input_replays() {
    let root = repo_root().join("fuzz/regressions");
    let (run, failures) = replay_all(&root);
    eprintln!("fuzz_regressions: {run} kept inputs replayed");
    assert!(
        failures.is_empty(),
        "{} kept fuzz input(s) fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn a_failing_input_and_an_unknown_target_are_reported() {
    let dir = std::env::temp_dir().join(format!("promlite-fuzzreg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("promql_parse")).unwrap();
    std::fs::create_dir_all(dir.join("no_such_target")).unwrap();
    std::fs::write(dir.join("promql_parse/fine"), b"sum(rate(x[5m]))").unwrap();
    std::fs::write(dir.join("no_such_target/x"), b"").unwrap();
    let (run, failures) = replay_all(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(run, 1);
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(failures[0].contains("no replay for target"), "{failures:?}");
}
