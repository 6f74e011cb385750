//! Integration tests: promqltest.
