//! The contract between a store and the PromQL evaluator.

use crate::{Labels, Matcher, Sample};

/// The type of a metric family as declared by a `# TYPE` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricType {
    /// `counter`
    Counter,
    /// `gauge`
    Gauge,
    /// `histogram`
    Histogram,
    /// `gaugehistogram` (OpenMetrics)
    GaugeHistogram,
    /// `summary`
    Summary,
    /// `info` (OpenMetrics)
    Info,
    /// `stateset` (OpenMetrics)
    StateSet,
    /// `unknown` / `untyped`
    Unknown,
}

impl MetricType {
    /// Parses a TYPE keyword (`counter`, `gauge`, ..., `untyped` reads as unknown).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "counter" => MetricType::Counter,
            "gauge" => MetricType::Gauge,
            "histogram" => MetricType::Histogram,
            "gaugehistogram" => MetricType::GaugeHistogram,
            "summary" => MetricType::Summary,
            "info" => MetricType::Info,
            "stateset" => MetricType::StateSet,
            "unknown" | "untyped" => MetricType::Unknown,
            _ => return None,
        })
    }

    /// The keyword as written in OpenMetrics.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::GaugeHistogram => "gaugehistogram",
            MetricType::Summary => "summary",
            MetricType::Info => "info",
            MetricType::StateSet => "stateset",
            MetricType::Unknown => "unknown",
        }
    }
}

/// A label pair lent by a store: name and value, as the store holds them.
pub type PairRef<'a> = (&'a std::sync::Arc<str>, &'a std::sync::Arc<str>);

/// One selected series: its labels and its samples inside the requested window,
/// sorted by time, staleness markers included.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesSamples {
    /// The series' labels, `__name__` included.
    pub labels: Labels,
    /// Samples with `mint <= t <= maxt`, ascending by `t`.
    pub samples: Vec<Sample>,
}

/// Why a selection failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SelectError {
    /// The selection would load more samples than allowed.
    #[error("query processing would load too many samples into memory (limit {limit})")]
    TooManySamples {
        /// The limit that was hit.
        limit: usize,
    },
    /// Any other storage failure.
    #[error("storage error: {0}")]
    Other(String),
}

/// What the PromQL evaluator needs from a store.
pub trait Queryable: Send + Sync {
    /// Every series matching all `matchers` that has at least one sample with
    /// `mint <= t <= maxt`, with exactly those samples (both ends inclusive: the
    /// evaluator applies Prometheus 3's left-open windows itself). The order of the
    /// returned series is unspecified.
    ///
    /// # Errors
    /// [`SelectError`] when the store cannot or may not answer.
    fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<SeriesSamples>, SelectError>;

    /// Streams the same selection as [`Queryable::select`]: calls `f(labels, samples)`
    /// once per selected series, in the same order, with the series' label pairs
    /// (sorted by name, as in [`Labels`]) and its samples inside `[mint, maxt]`
    /// (staleness markers included, never empty). Both are borrowed only for the
    /// call, so a store can decode every series into one reused buffer and lend
    /// its interned strings, and the caller builds only the labels it keeps
    /// (see [`Labels::from_pair_refs`]). `f` returns `false` to stop early (the
    /// call then returns `Ok`).
    ///
    /// A store may call `f` while holding a read lock: keep `f` short and never call
    /// back into the store from it.
    ///
    /// The default calls [`Queryable::select`]; stores override it to avoid copies.
    ///
    /// # Errors
    /// [`SelectError`] when the store cannot or may not answer.
    fn select_each(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        f: &mut dyn FnMut(&[PairRef<'_>], &[Sample]) -> bool,
    ) -> Result<(), SelectError> {
        for s in self.select(matchers, mint, maxt)? {
            let pairs: Vec<PairRef<'_>> = s.labels.iter().map(|l| (&l.name, &l.value)).collect();
            if !f(&pairs, &s.samples) {
                break;
            }
        }
        Ok(())
    }

    /// The declared type of metric family `metric_name`, if any scrape declared one.
    /// Used for type-aware annotations (`rate` over a gauge). Default: unknown.
    fn metric_type(&self, metric_name: &str) -> Option<MetricType> {
        let _ = metric_name;
        None
    }
}

/// A trivially simple [`Queryable`]: a list of series scanned linearly. Meant for
/// tests and tiny data sets; the real store is `promlite-store`.
#[derive(Debug, Clone, Default)]
pub struct VecStorage {
    /// The series, each with samples sorted by time.
    pub series: Vec<SeriesSamples>,
    /// Declared family types.
    pub types: Vec<(String, MetricType)>,
}

impl VecStorage {
    /// Adds a sample to series `labels`, creating the series if needed. Samples must
    /// be added in time order per series.
    pub fn push(&mut self, labels: &Labels, sample: Sample) {
        match self.series.iter_mut().find(|s| &s.labels == labels) {
            Some(s) => s.samples.push(sample),
            None => self.series.push(SeriesSamples {
                labels: labels.clone(),
                samples: vec![sample],
            }),
        }
    }
}

impl Queryable for VecStorage {
    fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<SeriesSamples>, SelectError> {
        Ok(self
            .series
            .iter()
            .filter(|s| {
                matchers
                    .iter()
                    .all(|m| m.matches(s.labels.get(&m.name).unwrap_or("")))
            })
            .filter_map(|s| {
                let samples: Vec<Sample> = s
                    .samples
                    .iter()
                    .filter(|x| x.t >= mint && x.t <= maxt)
                    .copied()
                    .collect();
                (!samples.is_empty()).then(|| SeriesSamples {
                    labels: s.labels.clone(),
                    samples,
                })
            })
            .collect())
    }

    fn metric_type(&self, metric_name: &str) -> Option<MetricType> {
        self.types
            .iter()
            .find(|(n, _)| n == metric_name)
            .map(|(_, t)| *t)
    }
}

/// A shared store queries as the store itself, so that an `Arc<Store>` held
/// by a scraper thread and a query thread is passed as `&store`, without `&*`.
///
/// ```
/// use std::sync::Arc;
/// use promlite_model::{Queryable, VecStorage};
///
/// fn count(q: &dyn Queryable) -> usize {
///     q.select(&[], 0, 1).map_or(0, |s| s.len())
/// }
/// let shared = Arc::new(VecStorage::default());
/// assert_eq!(count(&shared), 0);
/// ```
impl<T: Queryable + ?Sized> Queryable for std::sync::Arc<T> {
    fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<SeriesSamples>, SelectError> {
        (**self).select(matchers, mint, maxt)
    }

    fn select_each(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        f: &mut dyn FnMut(&[PairRef<'_>], &[Sample]) -> bool,
    ) -> Result<(), SelectError> {
        (**self).select_each(matchers, mint, maxt, f)
    }

    fn metric_type(&self, metric_name: &str) -> Option<MetricType> {
        (**self).metric_type(metric_name)
    }
}
