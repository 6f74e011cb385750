//! Bounded-memory in-process time-series store for promlite: interned labels, postings, ring buffers, staleness.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(missing_debug_implementations)]
