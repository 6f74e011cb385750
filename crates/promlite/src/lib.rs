//! promlite: an embedded PromQL engine. Link it into an agent, operator,
//! sidecar or CLI to scrape Prometheus endpoints (such as
//! kube-controller-manager's `/metrics`), keep the recent samples in memory,
//! and answer PromQL in-process with the answers Prometheus gives.
//!
//! # Getting started
//!
//! Add `promlite` to `Cargo.toml` (with `features = ["scrape"]` to fetch
//! endpoints over HTTP(S) yourself), then ingest scrapes into a
//! [`store::Store`] and query it with a [`promql::Engine`]:
//!
//! ```
//! use promlite::expfmt::Format;
//! use promlite::promql::{Engine, EngineOptions};
//! use promlite::store::{Store, StoreConfig, Target};
//!
//! let store = Store::new(StoreConfig::default());
//! let target = Target::from_pairs([("job", "kcm"), ("instance", "10.0.0.1:10257")]);
//! let t0 = 1_700_000_000_000; // ms
//! for i in 0..5 {
//!     // A counter growing by 30 every 15 s scrape: 2 per second.
//!     let body = format!(
//!         "# TYPE workqueue_adds_total counter\nworkqueue_adds_total{{name=\"deployment\"}} {}\n",
//!         i * 30
//!     );
//!     let report = store.ingest_scrape(&target, body.as_bytes(), Format::Text, t0 + i * 15_000)?;
//!     // The report's Display names anything not appended (older samples...).
//!     assert_eq!(report.samples_appended, 1, "{report}");
//! }
//!
//! let engine = Engine::new(EngineOptions::default());
//! let res = engine.instant_query(&store, "sum by (name) (rate(workqueue_adds_total[1m]))", t0 + 60_000)?;
//! let v = res.value.as_vector().expect("an instant vector");
//! // The window (t0, t0+60s] holds 4 samples (30..120): increase 90 over 45 s,
//! // extrapolated by 15 s to the window start, so 120 over 60 s.
//! assert!((v[0].v - 2.0).abs() < 1e-12);
//! assert_eq!(v[0].labels.get("name"), Some("deployment"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A store shared between a scraping thread and a querying one lives in an
//! `Arc`; queries take `&Arc<Store>` as they take `&Store`.
//!
//! # Modules
//!
//! - [`model`]: label sets, matchers, samples, the [`model::Queryable`] trait;
//! - [`expfmt`]: the exposition-format parser (text 0.0.4, OpenMetrics 1.0);
//! - [`store`]: the in-memory time-series store;
//! - [`promql`]: the PromQL parser and evaluator;
//! - [`rules`]: rule files, recording and alerting rules, Go templates;
//! - [`config`]: prometheus.yml, relabeling, targets, static and file discovery;
//! - [`params`]: query parameters (times, durations, steps) as Prometheus's
//!   HTTP API reads them;
//! - `dashboard` and `sim` (cargo feature `demo`, off by default): the
//!   kube-controller-manager dashboard and a simulator of its scrapes, behind
//!   `promlite demo` and `promlite watch`;
//! - `scrape` (cargo feature `scrape`, off by default): fetch endpoints over
//!   HTTP(S) with bearer tokens or client certificates into a store.
//!
//! # Errors
//!
//! Each stage returns its own precise error; [`Error`] wraps any of them (with
//! `From` conversions, so `?` works across stages) and [`Error::kind`] says
//! which stage failed.
//!
//! # Crate features
//!
//! - `scrape` (off by default): the `scrape` module, an HTTP(S) client for
//!   `/metrics` endpoints (pulls in ureq and rustls).
//! - `demo` (off by default): the `sim` and `dashboard` modules, a
//!   kube-controller-manager simulator and dashboard (the CLI enables it).
//!
//! The `promlite` command (crate `promlite-cli`) runs all of this from a shell:
//! `promlite demo`, `eval`, `serve`, `watch`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(missing_debug_implementations)]

pub use promlite_config as config;
pub use promlite_expfmt as expfmt;
pub use promlite_model as model;
pub use promlite_promql as promql;
pub use promlite_rules as rules;
pub use promlite_store as store;

/// Scraping endpoints over HTTP(S) (the `promlite-scrape` crate).
#[cfg(feature = "scrape")]
pub use promlite_scrape as scrape;

#[cfg(feature = "demo")]
pub mod dashboard;
mod error;
pub mod params;
#[cfg(feature = "demo")]
pub mod sim;

pub use error::{Error, ErrorKind};
pub use params::now_ms;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
