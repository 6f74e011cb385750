//! Prometheus recording and alerting rules for promlite.
//!
//! - [`rulefmt`]: rule files (`groups:` of `record`/`alert` rules), validated
//!   as Prometheus's `rulefmt` does, errors with line and column;
//! - [`template`]: Go `text/template` for alert labels and annotations, with
//!   Prometheus's functions, bounded execution;
//!
//! ```
//! use promlite_rules::rulefmt::{parse_rule_file, RuleKind};
//!
//! let file = parse_rule_file(
//!     "groups:\n- name: kcm\n  rules:\n  - record: job:up:sum\n    expr: sum by (job) (up)\n",
//! )
//! .map_err(|errs| errs[0].to_string())?;
//! assert_eq!(file.groups[0].rules[0].kind, RuleKind::Record("job:up:sum".into()));
//!
//! let errs = parse_rule_file("groups:\n- name: g\n  rules:\n  - record: a-b\n    expr: up\n").unwrap_err();
//! assert_eq!(errs[0].to_string(), "4:13: group \"g\", rule 1, \"a-b\": invalid recording rule name: a-b");
//! # Ok::<(), String>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(missing_debug_implementations)]

pub mod alerting;
pub mod api;
pub mod duration;
mod eval;
pub mod group;
pub mod manager;
#[cfg(test)]
mod manager_tests;
pub mod metrics;
pub mod notifier;
pub mod rulefmt;
pub mod template;

pub use alerting::{Alert, AlertState, AlertingRule};
pub use eval::RecordingRule;
pub use group::{Group, GroupRule, RuleHealth, RuleState};
pub use manager::{Manager, ManagerOptions};
