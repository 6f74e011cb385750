//! Bounded-memory, in-process time-series store for promlite: the stage
//! between the exposition parser and the PromQL evaluator.
//!
//! Scrapes go in whole and atomically ([`Store::ingest_scrape`]); data files
//! with explicit timestamps through [`Store::ingest_timestamped`]; test data
//! through [`Store::append_batch`]. Queries come out through
//! [`promlite_model::Queryable`].
//!
//! ```
//! use promlite_model::{Labels, MatchOp, Matcher, Queryable, is_stale_nan};
//! use promlite_store::{Format, Store, StoreConfig, Target};
//!
//! let store = Store::new(StoreConfig::default());
//! let target = Target::from_pairs([("job", "kcm"), ("instance", "10.0.0.1:10257")]);
//! let body = b"# TYPE req_total counter\nreq_total{code=\"200\"} 10\nreq_total{code=\"500\"} 1\n";
//! let r = store.ingest_scrape(&target, body, Format::Text, 15_000)?;
//! assert_eq!((r.samples_appended, r.series_created), (2, 2));
//!
//! // The next scrape lacks code="500": it gets a staleness marker.
//! let r = store.ingest_scrape(&target, b"req_total{code=\"200\"} 12\n", Format::Text, 30_000)?;
//! assert_eq!(r.stale_markers, 1);
//!
//! let m = Matcher::new(MatchOp::Equal, "code", "500").unwrap();
//! let got = store.select(&[m], 0, 60_000).unwrap();
//! assert_eq!(got.len(), 1);
//! assert_eq!(got[0].labels.get("job"), Some("kcm"));
//! assert_eq!(got[0].samples[0].v, 1.0);
//! assert!(is_stale_nan(got[0].samples[1].v));
//! assert_eq!(store.stats().series, 2);
//! # Ok::<(), promlite_store::IngestError>(())
//! ```
//!
//! # Design
//!
//! * **Scrape cache.** Each target keeps a map from the raw bytes of a sample
//!   line's series (name and label block as written) to a dense `u32` series
//!   id. A hit costs no label parsing, sorting, hashing of labels or
//!   allocation; since targets list their series in the same order every time,
//!   the entry at the same position of the previous scrape is tried before
//!   hashing. A key shares its prefix with the key stored before it (a
//!   histogram's buckets differ in `le` only), so the cache holds a fraction
//!   of the raw bytes. For text bodies, a line of a cached series
//!   with a plain decimal value is staged without running the full parser at
//!   all; every other line goes through `promlite-expfmt` (see `lean.rs`).
//! * **New series.** A cache miss builds the label set (normalized, sorted,
//!   with the target's labels) and interns it. On a target's first scrape every
//!   line misses, so that path is lean too: consecutive lines share most
//!   labels, and a miss whose label names repeat one of the last two layouts
//!   takes the remembered pair ids for the label pairs in the bytes it shares
//!   with that line, resolving only the rest (`memo.rs`; the parser has
//!   compared the two label blocks already and says how much they share, see
//!   `SampleEvent::previous_shared`). Recent `le`/`quantile` values are
//!   remembered with their pair ids. New series, their cache keys and their
//!   lookup-table entries are added at commit in bulk, each table reserved
//!   once; their staged pair ids become the pair arena in one piece. Two lines
//!   naming one new series are found by a radix sort of the new series'
//!   hashes at the end of the scrape; the error reported is still the first
//!   problem in line order. What a first scrape stages is kept small (16
//!   bytes per sample, 8 per cache miss), since all of it is fresh memory.
//! * **Interning and postings.** Each distinct label string is stored once;
//!   each (name, value) pair has a postings list of sorted series ids. All four
//!   matcher kinds are answered from postings; regex matchers are run once per
//!   distinct value of their label, never per series; a matcher that matches
//!   `""` also selects series lacking the label.
//! * **Rings.** Each series keeps its newest `ring_samples` samples in one
//!   byte buffer of compressed blocks (delta-of-delta times, XOR values). Times
//!   of scrape samples are stored as the scrape's sequence number in its
//!   target's shared timestamp column, so a sample of a regular scrape costs
//!   one bit of time plus its value bits. The open block's newest bits wait in
//!   the series record, so an append writes the ring's buffer only once per
//!   eight encoded bytes. Reading decodes forward (windows are decoded, not
//!   sliced: the compressed form has no random access).
//! * **Staleness** follows Prometheus: series of a target's previous scrape
//!   missing from the next get a staleness marker at the new scrape's
//!   timestamp; [`Store::mark_target_down`] marks all its series.
//! * **Retention.** Ring capacity in samples and/or time; [`Store::gc`]
//!   (also run during ingest every `retention_ms / 8`) drops old samples and
//!   series with none left, freeing postings, pairs, strings and cache entries.
//!
//! # Concurrency
//!
//! [`Store`] is `Send + Sync`. Writers (ingest, gc) are serialized by a mutex
//! that also owns the per-target scrape caches; readers never touch it. The
//! readable state sits behind an `RwLock`. A scrape is *staged* under the read
//! lock (parsing, cache lookups, validation: readers run in parallel), then
//! *committed* in batches of 16,384 samples, taking the write lock once per
//! batch, so a reader waits for at most one batch, never for a whole scrape.
//! Readers still see a scrape all-or-nothing: while a commit runs, the store
//! records its (target clock, scrape sequence number) and the few series
//! getting samples with explicit timestamps, and `select` hides a series'
//! newest sample when it belongs to that commit. (Ring eviction is not
//! hidden: during a commit a reader may already miss the oldest sample of a
//! full ring.) Timestamped loads ([`Store::ingest_timestamped`],
//! [`Store::append_batch`]) hold the write lock for the whole batch.
//!
//! A selection holds the read lock while it runs; with
//! [`Queryable::select_each`](promlite_model::Queryable::select_each) that
//! includes the caller's per-series work (for the evaluator: reducing each
//! series to its points), so a commit batch waits at most for one selection.
//!
//! # Crate features
//!
//! None.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(missing_debug_implementations)]

mod batch;
mod cache;
mod config;
mod error;
mod index;
mod labels;
mod lean;
mod memo;
mod observer;
mod persist;
mod report;
mod ring;
mod scrape;
mod store;

pub use config::{Limits, StoreConfig};
pub use error::{IngestError, LimitKind};
pub use observer::{CommitObserver, Committed, CommittedSample};
#[cfg(feature = "fuzzing")]
pub use persist::fuzzing;
pub use persist::{
    Damage, FsyncPolicy, LogStatus, PersistError, PersistOptions, Persistence, RecoveryReport,
    SnapshotStats, SNAPSHOT_FILE,
};
pub use promlite_expfmt::Format;
pub use report::IngestReport;
pub use store::{MetricMetadata, Stats, Store, Target, TargetCounters};

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_repeats;

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
