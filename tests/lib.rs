//! promlite's integration tests: one binary, one module per area.
//!
//! Tests that need the real Prometheus (the `prom-oracle` differential oracle, promtool)
//! print why they were skipped when it is missing, and fail instead when
//! `PROMLITE_REQUIRE_ORACLE` is set (CI sets it).

mod common;
mod compliance;
mod exactness_diff;
mod expfmt;
mod fuzz_regressions;
mod promql_diff;
mod promql_fuzz_diff;
mod promql_parse;
mod promqltest;
mod scrape;
mod serve;
mod store;
mod support;
mod watch;
