//! Integration tests: expfmt.
