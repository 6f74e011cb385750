//! Integration tests: promql_diff.
