#![no_main]
//! Fuzz target; the checks are in `fuzz/checks/expfmt_parse.rs`.
#[path = "../checks/expfmt_parse.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::check(data));
