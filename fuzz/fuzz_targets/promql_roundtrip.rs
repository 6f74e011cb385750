#![no_main]
//! If a query parses, its printed form must parse to the same AST (ignoring
//! spans) and print identically: `Display` is canonical.
use libfuzzer_sys::fuzz_target;
use promlite::promql::{parse_with, ParseOptions};

fuzz_target!(|data: &[u8]| {
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
});
