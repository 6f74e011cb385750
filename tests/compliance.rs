//! Integration tests: compliance.
