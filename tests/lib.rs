//! promlite's integration tests: one binary, one module per area.
//!
//! Tests that need the real Prometheus (the `prom-oracle` differential oracle, promtool)
//! print why they were skipped when it is missing, and fail instead when
//! `PROMLITE_REQUIRE_ORACLE` is set (CI sets it).

mod common;
mod compliance;
mod config;
mod expfmt;
mod fuzz_regressions;
mod persist;
mod promql_diff;
mod promql_fuzz_diff;
mod promql_parse;
mod promqltest;
mod remote;
mod rules;
mod rules_alertmanager;
mod scrape;
mod serve;
mod store;
mod support;
mod watch;
