//! Ingest errors.

use promlite_expfmt::ParseError;
use promlite_model::Labels;

/// Which limit was hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LimitKind {
    /// [`Limits::max_series`](crate::Limits::max_series)
    MaxSeries,
    /// [`Limits::max_samples_per_scrape`](crate::Limits::max_samples_per_scrape)
    MaxSamplesPerScrape,
    /// [`Limits::max_label_name_len`](crate::Limits::max_label_name_len)
    MaxLabelNameLen,
    /// [`Limits::max_label_value_len`](crate::Limits::max_label_value_len)
    MaxLabelValueLen,
    /// [`Limits::max_labels_per_series`](crate::Limits::max_labels_per_series)
    MaxLabelsPerSeries,
    /// [`Limits::max_body_bytes`](crate::Limits::max_body_bytes)
    MaxBodyBytes,
    /// [`Limits::memory_budget_bytes`](crate::Limits::memory_budget_bytes)
    MemoryBudget,
}

impl LimitKind {
    /// The configuration field's name.
    pub fn as_str(self) -> &'static str {
        match self {
            LimitKind::MaxSeries => "max_series",
            LimitKind::MaxSamplesPerScrape => "max_samples_per_scrape",
            LimitKind::MaxLabelNameLen => "max_label_name_len",
            LimitKind::MaxLabelValueLen => "max_label_value_len",
            LimitKind::MaxLabelsPerSeries => "max_labels_per_series",
            LimitKind::MaxBodyBytes => "max_body_bytes",
            LimitKind::MemoryBudget => "memory_budget_bytes",
        }
    }
}

impl std::fmt::Display for LimitKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a scrape or batch was rejected. A rejected ingest leaves the store
/// exactly as it was.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    /// The body does not parse.
    #[error("parse error: {0}")]
    Parse(#[from] ParseError),
    /// A limit was exceeded.
    #[error("limit {limit} exceeded: {value} > {max}{}", line.map(|l| format!(" (line {l})")).unwrap_or_default())]
    Limit {
        /// The limit.
        limit: LimitKind,
        /// The configured maximum.
        max: usize,
        /// The value that exceeded it.
        value: usize,
        /// The 1-based line that hit it, when one line did.
        line: Option<usize>,
    },
    /// The same series appears twice where that is not allowed. Scrapes no
    /// longer fail this way: [`Store::ingest_scrape`](crate::Store::ingest_scrape)
    /// keeps the first sample of a repeated series, as Prometheus does.
    #[error("line {line}: duplicate series {labels} in one scrape")]
    DuplicateSeries {
        /// The series.
        labels: Labels,
        /// 1-based line of the second occurrence (0 for direct appends).
        line: usize,
    },
    /// A series repeats a label name.
    #[error("line {line}: label name {name:?} repeated in one series")]
    DuplicateLabelName {
        /// The label name.
        name: String,
        /// 1-based line.
        line: usize,
    },
    /// A sample has no metric name.
    #[error("line {line}: series without a metric name")]
    MissingName {
        /// 1-based line (0 for direct appends).
        line: usize,
    },
    /// Timestamped data gives two different values for one series and time.
    #[error("line {line}: series {labels} has two different values at t={t}")]
    ConflictingSample {
        /// The series.
        labels: Labels,
        /// The timestamp in milliseconds.
        t: i64,
        /// 1-based line of one of the samples (0 when unknown).
        line: usize,
    },
    /// A sample of a data file has no timestamp.
    #[error("line {line}: sample without a timestamp in a timestamped data file")]
    MissingTimestamp {
        /// 1-based line.
        line: usize,
    },
}

impl IngestError {
    /// The 1-based line of the body the error is about, when there is one.
    pub fn line(&self) -> Option<usize> {
        match self {
            IngestError::Parse(p) => Some(p.line),
            IngestError::Limit { line, .. } => *line,
            IngestError::DuplicateSeries { line, .. }
            | IngestError::DuplicateLabelName { line, .. }
            | IngestError::MissingName { line }
            | IngestError::ConflictingSample { line, .. }
            | IngestError::MissingTimestamp { line } => Some(*line).filter(|l| *l > 0),
        }
    }
}
