//! Integration tests: promql_parse.
