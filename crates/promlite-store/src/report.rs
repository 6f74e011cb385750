//! [`IngestReport`]: what one ingest did, and its one-line summary.

use std::fmt;

use serde::Serialize;

/// What an ingest did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IngestReport {
    /// Samples in the body (or batch).
    pub samples_in_body: usize,
    /// Samples appended (staleness markers not included).
    pub samples_appended: usize,
    /// Series created.
    pub series_created: usize,
    /// Staleness markers written for series that vanished since the previous scrape.
    pub stale_markers: usize,
    /// Samples rejected as older than their series' newest sample.
    pub out_of_order: usize,
    /// Samples rejected: the series already had a different value at that time.
    pub duplicate_timestamp: usize,
    /// Samples equal (time and value) to the series' newest sample: ignored.
    pub identical_duplicates: usize,
    /// Samples of a series that already appeared earlier in the same scrape
    /// (the same or another spelling of its labels): dropped, the first kept,
    /// as Prometheus 3 does (it counts them in
    /// `prometheus_target_scrapes_sample_duplicate_timestamp_total`).
    pub repeated_in_scrape: usize,
}

/// One line a person can read: what was appended, then each kind of sample
/// that was not, with why. Samples at or before their series' newest time
/// (re-ingesting older data, a clock going backwards) are named, so that a
/// scrape that appended nothing does not pass for a quiet one.
///
/// ```
/// use promlite_store::{Format, Store, StoreConfig, Target};
///
/// let store = Store::new(StoreConfig::default());
/// let t = Target::from_pairs([("job", "demo")]);
/// store.ingest_scrape(&t, b"up 1\n", Format::Text, 2_000)?;
/// // The same body again, at an older time: nothing is appended, and the
/// // report says why.
/// let r = store.ingest_scrape(&t, b"up 1\n", Format::Text, 1_000)?;
/// assert_eq!(r.out_of_order, 1);
/// assert_eq!(
///     r.to_string(),
///     "1 samples read, 0 appended, 0 series created, 0 stale markers; \
///      not appended: 1 older than their series' newest sample (out of order)"
/// );
/// # Ok::<(), promlite_store::IngestError>(())
/// ```
impl fmt::Display for IngestReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} samples read, {} appended, {} series created, {} stale markers",
            self.samples_in_body, self.samples_appended, self.series_created, self.stale_markers
        )?;
        let dropped = [
            (
                self.out_of_order,
                "older than their series' newest sample (out of order)",
            ),
            (
                self.duplicate_timestamp,
                "at their series' newest time with another value (duplicate timestamp)",
            ),
            (
                self.identical_duplicates,
                "equal to their series' newest sample (already ingested)",
            ),
            (
                self.repeated_in_scrape,
                "of a series repeated within the scrape (the first kept)",
            ),
        ];
        let mut first = true;
        for (n, why) in dropped {
            if n > 0 {
                f.write_str(if first { "; not appended: " } else { ", " })?;
                write!(f, "{n} {why}")?;
                first = false;
            }
        }
        Ok(())
    }
}
