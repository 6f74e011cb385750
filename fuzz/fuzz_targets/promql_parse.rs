#![no_main]
//! Arbitrary bytes into the PromQL parser: it must never panic, and every error
//! must carry a position inside the query.
use libfuzzer_sys::fuzz_target;
use promlite::promql::{parse_with, ParseOptions};

fuzz_target!(|data: &[u8]| {
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
});
