//! Store configuration: retention and limits.

/// How much history each series keeps, and how big the store may grow.
///
/// Build one from [`StoreConfig::default`] or [`StoreConfig::unbounded`] and the
/// `with_*` setters (fields may be added, so struct literals only work inside
/// this crate):
///
/// ```
/// use promlite_store::{Limits, StoreConfig};
///
/// let cfg = StoreConfig::default()
///     .with_ring_samples(Some(240))
///     .with_limits(Limits::default().with_max_series(100_000));
/// assert_eq!(cfg.ring_samples, Some(240));
/// assert_eq!(cfg.limits.max_series, 100_000);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StoreConfig {
    /// Ring capacity in samples per series: a series keeps exactly its newest
    /// `ring_samples` samples. `None`: unbounded (rings grow; use for loading
    /// whole data files).
    pub ring_samples: Option<usize>,
    /// Retention in milliseconds of data time: [`Store::gc`](crate::Store::gc)
    /// (run automatically every `retention_ms / 8` of scrape time) drops samples
    /// older than `now - retention_ms`, and series left with none. `None`: no
    /// time-based retention.
    pub retention_ms: Option<i64>,
    /// Samples per compressed block inside a ring (1..=255). Smaller blocks let
    /// eviction free memory sooner; larger ones amortize the 13-20 byte block
    /// header better.
    pub block_samples: u8,
    /// Admission limits.
    pub limits: Limits,
}

impl Default for StoreConfig {
    /// 120 samples per series (30 minutes at a 15 s interval), 2 hours of
    /// retention, default [`Limits`].
    fn default() -> Self {
        StoreConfig {
            ring_samples: Some(120),
            retention_ms: Some(2 * 3600 * 1000),
            block_samples: 40,
            limits: Limits::default(),
        }
    }
}

impl StoreConfig {
    /// Unbounded rings and no time retention, for loading whole data files
    /// (the oracle protocol, promqltest `load`). Limits stay at their defaults
    /// except the body size, which is unlimited.
    pub fn unbounded() -> Self {
        StoreConfig {
            ring_samples: None,
            retention_ms: None,
            block_samples: 120,
            limits: Limits {
                max_body_bytes: usize::MAX,
                max_samples_per_scrape: usize::MAX,
                memory_budget_bytes: usize::MAX,
                ..Limits::default()
            },
        }
    }

    /// Sets [`ring_samples`](StoreConfig::ring_samples).
    #[must_use]
    pub fn with_ring_samples(mut self, ring_samples: Option<usize>) -> Self {
        self.ring_samples = ring_samples;
        self
    }

    /// Sets [`retention_ms`](StoreConfig::retention_ms).
    #[must_use]
    pub fn with_retention_ms(mut self, retention_ms: Option<i64>) -> Self {
        self.retention_ms = retention_ms;
        self
    }

    /// Sets [`block_samples`](StoreConfig::block_samples).
    #[must_use]
    pub fn with_block_samples(mut self, block_samples: u8) -> Self {
        self.block_samples = block_samples;
        self
    }

    /// Sets [`limits`](StoreConfig::limits).
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
}

/// Admission limits. Exceeding any rejects the whole scrape (or batch) with
/// [`IngestError::Limit`](crate::IngestError::Limit) naming the limit and the
/// value; the store is left unchanged.
///
/// Build one from [`Limits::default`] and the `with_*` setters.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Limits {
    /// Live series in the whole store. Default 10,000,000.
    pub max_series: usize,
    /// Samples in one scrape body. Default 5,000,000.
    pub max_samples_per_scrape: usize,
    /// Bytes of a label name. Default 1,024.
    pub max_label_name_len: usize,
    /// Bytes of a label value. Default 16,384.
    pub max_label_value_len: usize,
    /// Labels per series, `__name__` and target labels included. Default 64.
    pub max_labels_per_series: usize,
    /// Bytes of one scrape body or data file. Default 1 GiB. A scrape body is
    /// at most 4 GiB whatever this says (staging keeps 32-bit offsets into it).
    pub max_body_bytes: usize,
    /// Approximate memory the store may use, in bytes. Admission uses an
    /// estimate (current allocation + new series × 256 B + samples × 2 B);
    /// [`Store::stats`](crate::Store::stats) counts exactly. Default 16 GiB.
    pub memory_budget_bytes: usize,
    /// Samples one `select` may return. Default 50,000,000 (Prometheus's
    /// `--query.max-samples`).
    pub max_query_samples: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_series: 10_000_000,
            max_samples_per_scrape: 5_000_000,
            max_label_name_len: 1024,
            max_label_value_len: 16 * 1024,
            max_labels_per_series: 64,
            max_body_bytes: 1 << 30,
            memory_budget_bytes: 16 << 30,
            max_query_samples: 50_000_000,
        }
    }
}

impl Limits {
    /// Sets [`max_series`](Limits::max_series).
    #[must_use]
    pub fn with_max_series(mut self, max_series: usize) -> Self {
        self.max_series = max_series;
        self
    }

    /// Sets [`max_samples_per_scrape`](Limits::max_samples_per_scrape).
    #[must_use]
    pub fn with_max_samples_per_scrape(mut self, max_samples_per_scrape: usize) -> Self {
        self.max_samples_per_scrape = max_samples_per_scrape;
        self
    }

    /// Sets [`max_label_name_len`](Limits::max_label_name_len).
    #[must_use]
    pub fn with_max_label_name_len(mut self, max_label_name_len: usize) -> Self {
        self.max_label_name_len = max_label_name_len;
        self
    }

    /// Sets [`max_label_value_len`](Limits::max_label_value_len).
    #[must_use]
    pub fn with_max_label_value_len(mut self, max_label_value_len: usize) -> Self {
        self.max_label_value_len = max_label_value_len;
        self
    }

    /// Sets [`max_labels_per_series`](Limits::max_labels_per_series).
    #[must_use]
    pub fn with_max_labels_per_series(mut self, max_labels_per_series: usize) -> Self {
        self.max_labels_per_series = max_labels_per_series;
        self
    }

    /// Sets [`max_body_bytes`](Limits::max_body_bytes).
    #[must_use]
    pub fn with_max_body_bytes(mut self, max_body_bytes: usize) -> Self {
        self.max_body_bytes = max_body_bytes;
        self
    }

    /// Sets [`memory_budget_bytes`](Limits::memory_budget_bytes).
    #[must_use]
    pub fn with_memory_budget_bytes(mut self, memory_budget_bytes: usize) -> Self {
        self.memory_budget_bytes = memory_budget_bytes;
        self
    }

    /// Sets [`max_query_samples`](Limits::max_query_samples).
    #[must_use]
    pub fn with_max_query_samples(mut self, max_query_samples: usize) -> Self {
        self.max_query_samples = max_query_samples;
        self
    }
}
