//! prometheus.yml: validation errors with positions, `promlite check config` against
//! promtool, and target relabeling against the real Prometheus 2.42.

mod bad_configs;
mod check_cli;
mod exported_diff;
mod targets_diff;
