//! Zero-copy pull parser for the Prometheus text (0.0.4) and OpenMetrics 1.0 exposition formats.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(missing_debug_implementations)]
