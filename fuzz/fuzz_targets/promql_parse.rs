#![no_main]
//! Fuzz target; the checks are in `fuzz/checks/promql_parse.rs`.
#[path = "../checks/promql_parse.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::check(data));
