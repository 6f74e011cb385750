//! If a query parses, its printed form must parse to the same AST (ignoring
//! spans) and print identically: `Display` is canonical.
//!
//! Shared by the fuzz target `fuzz/fuzz_targets/promql_roundtrip.rs` and by the replay of kept
//! inputs in `tests/fuzz_regressions.rs` (`fuzz/regressions/promql_roundtrip/`).
use promlite::promql::{parse_with, ParseOptions};

/// Runs one input through the target's checks; panics on a finding.
pub fn check(data: &[u8]) {
    let Ok(q) = std::str::from_utf8(data) else {
        return;
    };
    let opts = ParseOptions::default().with_experimental_functions(true);
    let Ok(ast) = parse_with(q, opts) else {
        return;
    };
    let printed = ast.to_string();
    let again = match parse_with(&printed, opts) {
        Ok(a) => a,
        Err(e) => panic!("printed form {printed:?} of {q:?} does not parse: {e}"),
    };
    assert!(
        again.eq_ignoring_spans(&ast),
        "round trip changed the AST: {q:?} printed as {printed:?}"
    );
    assert_eq!(again.to_string(), printed, "printing is not stable");
}
