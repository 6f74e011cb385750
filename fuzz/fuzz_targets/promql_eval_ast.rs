#![no_main]
//! Fuzz target; the checks are in `fuzz/checks/promql_eval_ast.rs`.
#[path = "../checks/promql_eval_ast.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::check(data));
