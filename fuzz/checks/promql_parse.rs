//! Arbitrary bytes into the PromQL parser: it must never panic, and every error
//! must carry a position inside the query.
//!
//! Shared by the fuzz target `fuzz/fuzz_targets/promql_parse.rs` and by the replay of kept
//! inputs in `tests/fuzz_regressions.rs` (`fuzz/regressions/promql_parse/`).
use promlite::promql::{parse_with, ParseOptions};

/// Runs one input through the target's checks; panics on a finding.
pub fn check(data: &[u8]) {
    let Ok(q) = std::str::from_utf8(data) else {
        return;
    };
    for experimental in [false, true] {
        let opts = ParseOptions::default().with_experimental_functions(experimental);
        match parse_with(q, opts) {
            Ok(e) => {
                let _ = e.to_string();
                let _ = e.value_type();
            }
            Err(err) => {
                assert!(err.span().start <= q.len(), "error position past the end");
                assert!(err.line() >= 1 && err.col() >= 1);
                let _ = err.render(q);
            }
        }
    }
}
