//! Commit observers: a hook that sees every sample the store commits, for
//! remote_write and similar forwarders.
//!
//! The store calls the observer once per commit (a scrape with its staleness
//! markers, a target marked down, a timestamped batch) after the samples are
//! readable and while the writer mutex is still held, so calls arrive one at
//! a time in commit order. Without an observer the store does nothing extra
//! beyond one atomic load per commit.

use std::fmt;
use std::sync::{Arc, OnceLock};

use promlite_model::Labels;

use crate::store::Store;

/// One committed sample: the series' id (stable for the series' lifetime, never
/// reused for another label set), its timestamp in ms and its value (a
/// staleness marker is [`STALE_NAN`](promlite_model::STALE_NAN)).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CommittedSample {
    /// Series id; resolve it with [`Committed::labels`].
    pub series: u32,
    /// Timestamp in ms since the epoch.
    pub t: i64,
    /// Value.
    pub v: f64,
}

/// What one commit appended, as passed to a [`CommitObserver`].
#[derive(Debug)]
pub struct Committed<'a> {
    pub(crate) store: &'a Store,
    pub(crate) samples: &'a [CommittedSample],
}

impl Committed<'_> {
    /// The samples, in the order they were appended (series of a scrape in
    /// body order, then its staleness markers).
    pub fn samples(&self) -> &[CommittedSample] {
        self.samples
    }

    /// The labels of series `id` (sorted), `None` for an id the store does not
    /// hold. Takes the store's read lock: resolve the ids you have not seen
    /// before in one [`labels_many`](Self::labels_many) call.
    pub fn labels(&self, id: u32) -> Option<Labels> {
        let inner = self.store.read();
        let s = inner.series.get(id as usize)?.as_ref()?;
        Some(inner.labels_of(s))
    }

    /// The labels of each id in `ids`, under one read lock.
    pub fn labels_many(&self, ids: &[u32]) -> Vec<Option<Labels>> {
        let inner = self.store.read();
        ids.iter()
            .map(|&id| {
                let s = inner.series.get(id as usize)?.as_ref()?;
                Some(inner.labels_of(s))
            })
            .collect()
    }
}

/// Sees every committed sample. Keep it quick: the store's writers wait for it.
pub trait CommitObserver: Send + Sync {
    /// Called once per commit, in commit order, never concurrently.
    fn committed(&self, commit: &Committed<'_>);
}

/// The store's observer slot.
#[derive(Default)]
pub(crate) struct ObserverSlot(pub(crate) OnceLock<Arc<dyn CommitObserver>>);

impl fmt::Debug for ObserverSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "ObserverSlot(set)"
        } else {
            "ObserverSlot(none)"
        })
    }
}

impl Store {
    /// Installs the observer that sees every sample committed from now on.
    /// Only one observer per store; returns it back if one is installed already.
    ///
    /// # Errors
    /// The observer, when the store already has one.
    pub fn set_commit_observer(
        &self,
        obs: Arc<dyn CommitObserver>,
    ) -> Result<(), Arc<dyn CommitObserver>> {
        self.observer.0.set(obs)
    }

    /// A buffer to collect a commit's samples in, when an observer is set.
    #[inline]
    pub(crate) fn observed(&self, n: usize) -> Option<Vec<CommittedSample>> {
        self.observer.0.get().map(|_| Vec::with_capacity(n))
    }

    /// Hands collected samples to the observer (no store lock may be held
    /// except the writer mutex).
    pub(crate) fn notify(&self, samples: Option<Vec<CommittedSample>>) {
        if let (Some(obs), Some(samples)) = (self.observer.0.get(), samples) {
            if !samples.is_empty() {
                obs.committed(&Committed {
                    store: self,
                    samples: &samples,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use promlite_model::{is_stale_nan, Labels};

    use super::*;
    use crate::{Format, StoreConfig, Target};

    #[derive(Default)]
    struct Log(Mutex<Vec<(String, i64, u64)>>);

    impl CommitObserver for Log {
        fn committed(&self, c: &Committed<'_>) {
            let mut log = self.0.lock().unwrap();
            for s in c.samples() {
                let l = c.labels(s.series).expect("known series");
                log.push((l.to_string(), s.t, s.v.to_bits()));
            }
        }
    }

    #[test]
    fn observer_sees_scrapes_stale_markers_and_batches_in_order() {
        let store = Store::new(StoreConfig::default());
        let log = Arc::new(Log::default());
        assert!(store.set_commit_observer(log.clone()).is_ok());
        assert!(store.set_commit_observer(log.clone()).is_err());
        let t = Target::from_pairs([("job", "j")]);
        store
            .ingest_scrape(&t, b"a 1\nb{x=\"y\"} 2\n", Format::Text, 1000)
            .unwrap();
        store
            .ingest_scrape(&t, b"a 3\n", Format::Text, 2000)
            .unwrap();
        // A rejected scrape (a syntax error on its second line) commits nothing.
        assert!(store
            .ingest_scrape(&t, b"a 4\na{ 5\n", Format::Text, 3000)
            .is_err());
        store
            .append_batch([(Labels::from_pairs([("__name__", "c")]), 500, 7.0)])
            .unwrap();
        // An older sample merged into c (its ring is rebuilt): only it is new.
        store
            .append_batch([
                (Labels::from_pairs([("__name__", "c")]), 400, 6.0),
                (Labels::from_pairs([("__name__", "c")]), 500, 7.0),
            ])
            .unwrap();
        store.mark_target_down(&t, 4000);
        let got = log.0.lock().unwrap().clone();
        let stale = promlite_model::STALE_NAN.to_bits();
        let want = vec![
            ("a{job=\"j\"}".to_string(), 1000, 1f64.to_bits()),
            ("b{job=\"j\", x=\"y\"}".to_string(), 1000, 2f64.to_bits()),
            ("a{job=\"j\"}".to_string(), 2000, 3f64.to_bits()),
            ("b{job=\"j\", x=\"y\"}".to_string(), 2000, stale),
            ("c".to_string(), 500, 7f64.to_bits()),
            ("c".to_string(), 400, 6f64.to_bits()),
            ("a{job=\"j\"}".to_string(), 4000, stale),
        ];
        assert_eq!(got, want);
        assert!(is_stale_nan(f64::from_bits(got[3].2)));
    }
}
