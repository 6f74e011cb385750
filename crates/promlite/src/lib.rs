//! promlite: an embedded PromQL engine.
//!
//! This facade re-exports the pipeline stages:
//! - [`model`]: label sets, matchers, samples;
//! - [`expfmt`]: the exposition-format parser;
//! - [`store`]: the in-memory time-series store;
//! - [`promql`]: the PromQL parser and evaluator;
//! - `scrape` (cargo feature `scrape`, off by default): fetch endpoints over
//!   HTTP(S) with bearer tokens or client certificates into a store.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(missing_debug_implementations)]

pub use promlite_expfmt as expfmt;
pub use promlite_model as model;
pub use promlite_promql as promql;
pub use promlite_store as store;

/// Scraping endpoints over HTTP(S) (the `promlite-scrape` crate).
#[cfg(feature = "scrape")]
pub use promlite_scrape as scrape;

pub mod dashboard;
pub mod params;
pub mod sim;

pub use params::now_ms;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
