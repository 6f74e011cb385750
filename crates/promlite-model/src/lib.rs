//! The shared vocabulary of promlite: label sets, label matchers, samples,
//! staleness markers and Prometheus's float formatting.
//!
//! Every other promlite crate speaks in these types, so that a label string
//! interned by the store can travel into a query result without a copy
//! (label names and values are [`Arc<str>`](std::sync::Arc)).
//!
//! ```
//! use promlite_model::{Labels, MatchOp, Matcher, Sample, format_value, STALE_NAN, is_stale_nan};
//!
//! let ls = Labels::from_pairs([("__name__", "up"), ("job", "kcm"), ("empty", "")]);
//! assert_eq!(ls.metric_name(), Some("up"));
//! assert_eq!(ls.get("empty"), None, "empty values are dropped, as in Prometheus");
//! assert_eq!(ls.to_string(), r#"up{job="kcm"}"#);
//!
//! let m = Matcher::new(MatchOp::RegexMatch, "job", "k.m")?;
//! assert!(m.matches("kcm"));
//! assert!(!m.matches("xkcm"), "regex matchers are fully anchored");
//!
//! let s = Sample { t: 1_700_000_000_000, v: STALE_NAN };
//! assert!(is_stale_nan(s.v));
//! assert_eq!(format_value(1e21), "1000000000000000000000");
//! assert_eq!(format_value(f64::INFINITY), "+Inf");
//! # Ok::<(), promlite_model::MatcherError>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(missing_debug_implementations)]

mod float;
mod labels;
mod matcher;
mod re2;
mod sample;
mod storage;

pub use float::{format_go_g, format_openmetrics_float, format_value, parse_go_float};
pub use labels::{Label, Labels, LabelsBuilder, METRIC_NAME};
pub use matcher::{compile_anchored_regex, MatchOp, Matcher, MatcherError};
pub use re2::re2_pattern;
pub use sample::{is_stale_nan, Sample, STALE_NAN, STALE_NAN_BITS};
pub use storage::{MetricType, PairRef, Queryable, SelectError, SeriesSamples, VecStorage};

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
