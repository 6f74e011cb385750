#![no_main]
//! Fuzz target; the checks are in `fuzz/checks/store_append.rs`.
#[path = "../checks/store_append.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::check(data));
