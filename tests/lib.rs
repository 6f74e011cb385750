//! promlite's integration tests: one binary, one module per area.
//!
//! Tests that need the real Prometheus (the `prom-oracle` differential oracle, promtool)
//! print why they were skipped when it is missing, and fail instead when
//! `PROMLITE_REQUIRE_ORACLE` is set (CI sets it).

mod cli_first_minutes;
mod common;
mod compliance;
mod config;
mod dashboard_panels;
mod exactness_diff;
mod expfmt;
mod fuzz_regressions;
mod persist;
mod promql_at;
mod promql_diff;
mod promql_fuzz_diff;
mod promql_parse;
mod promqltest;
mod remote;
mod rules;
mod rules_alertmanager;
mod rules_prometheus;
mod scrape;
mod scrape_like_prometheus;
mod serve;
mod serve_config;
mod serve_config_sections;
mod serve_limits;
mod serve_tls;
mod serve_wired;
mod store;
mod support;
mod watch;
