//! PromQL parser and evaluator with Prometheus 3 semantics.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(missing_debug_implementations)]
