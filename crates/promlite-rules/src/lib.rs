//! Prometheus recording and alerting rules for promlite, synchronous.
//!
//! - [`rulefmt`]: rule files (`groups:` of `record`/`alert` rules), validated
//!   as Prometheus's `rulefmt` does, errors with line and column;
//! - [`Manager`] ([`manager`], [`group`], [`alerting`]): evaluates groups on
//!   their interval against a [`promlite_store::Store`]: recording rules write
//!   series (with staleness markers for vanished ones), alerting rules go
//!   through inactive → pending → firing → resolved with `for` and
//!   `keep_firing_for` and write `ALERTS` / `ALERTS_FOR_STATE`;
//! - [`template`]: Go `text/template` for alert labels and annotations, with
//!   Prometheus's functions and bounded execution;
//! - [`api`]: the `data` of `/api/v1/rules` and `/api/v1/alerts`;
//!   [`metrics`]: `prometheus_rule_*` metrics text;
//! - [`notifier`]: alerts to Alertmanager API v2 with Prometheus's timing.
//!
//! ```
//! use promlite_model::Labels;
//! use promlite_rules::{AlertState, Manager, ManagerOptions};
//! use promlite_store::{Store, StoreConfig};
//!
//! let store = Store::new(StoreConfig::unbounded());
//! let up = Labels::from_pairs([("__name__", "up"), ("job", "kcm")]);
//! store.append_batch((0..4).map(|i| (up.clone(), i * 60_000, 0.0))).unwrap();
//!
//! let mut rules = Manager::new(ManagerOptions::default());
//! rules.load_str("kcm.yml", "groups:
//! - name: kcm
//!   rules:
//!   - record: job:up:sum
//!     expr: sum by (job) (up)
//!   - alert: KcmDown
//!     expr: job:up:sum == 0
//!     for: 2m
//!     annotations: {summary: '{{ $labels.job }} is down'}
//! ").map_err(|e| e.join("; "))?;
//! for i in 0..4 {
//!     rules.eval_group(0, &store, i * 60_000);
//! }
//! let alerts = rules.alerts();
//! assert_eq!(alerts[0].state, AlertState::Firing);
//! assert_eq!(alerts[0].annotations["summary"], "kcm is down");
//!
//! // Rule files are validated as promtool does.
//! let errs = promlite_rules::rulefmt::parse_rule_file(
//!     "groups:\n- name: g\n  rules:\n  - record: a-b\n    expr: up\n",
//! ).unwrap_err();
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
pub use eval::{canonical_expr, RecordingRule};
pub use group::{Group, GroupRule, RuleHealth, RuleState};
pub use manager::{Manager, ManagerOptions};
