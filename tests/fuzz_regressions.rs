//! Integration tests: fuzz_regressions.
