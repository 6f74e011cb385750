//! `metric_relabel_configs`, `honor_labels: false` (`exported_` prefixes) and
//! `sample_limit` on the scrape path.
//!
//! Used only by jobs that set `metric_relabel_configs` or `sample_limit`; other
//! jobs hand the body to the store untouched. The body is parsed, each series'
//! final labels are computed once, when the series is first seen, and remembered
//! keyed by the raw series bytes; the kept samples are written out again as a text
//! exposition body that the store ingests as usual (so staleness, duplicates and
//! the target's report series behave as for any scrape).
//!
//! Not done yet: the store still sets the target's labels on every series it
//! ingests, so with `honor_labels: true` a series' own clashing label (say
//! `job`) is still replaced by the target's, and a rule that rewrites or drops a
//! target label (`job`, `instance`, ...) is undone. Both need a store entry
//! point that takes the final labels as they are. The rules see `le` and
//! `quantile` values as written (`1`), where Prometheus 3 has already written
//! them as floats (`1.0`); the stored series get the float form either way.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::Mutex;

use promlite_config::relabel::{process, RelabelConfig};
use promlite_expfmt::{Event, Format, Parser};
use promlite_model::MetricType;
use promlite_store::Target;

/// Series kept in a target's relabel cache before it is cleared (bounded memory).
const MAX_CACHED_SERIES: usize = 1 << 20;

/// Raw series bytes → final series text (`None`: dropped).
type SeriesCache = HashMap<Box<[u8]>, Option<Box<str>>>;

/// What a job asks of each scraped series.
#[derive(Debug, Default)]
pub struct MetricRelabel {
    /// `metric_relabel_configs`, applied after the target labels are attached.
    pub rules: Vec<RelabelConfig>,
    /// `honor_labels`: the series' own labels win over the target's.
    pub honor_labels: bool,
    /// `sample_limit` (0: none): more samples after relabeling fail the scrape.
    pub sample_limit: usize,
    /// Raw series bytes → the series as written in the rewritten body, or
    /// `None` when relabeling drops it.
    cache: Mutex<SeriesCache>,
}

impl PartialEq for MetricRelabel {
    fn eq(&self, o: &Self) -> bool {
        self.rules == o.rules
            && self.honor_labels == o.honor_labels
            && self.sample_limit == o.sample_limit
    }
}

/// Why a body could not be rewritten.
#[derive(Debug)]
pub(crate) enum RewriteError {
    /// The body does not parse; the store reports it with its position.
    Parse,
    /// More samples than `sample_limit` after relabeling.
    SampleLimit(usize),
}

impl MetricRelabel {
    /// Settings for a job; the cache starts empty.
    pub fn new(rules: Vec<RelabelConfig>, honor_labels: bool, sample_limit: usize) -> Self {
        MetricRelabel {
            rules,
            honor_labels,
            sample_limit,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The body the store should ingest (with the number of samples scraped): kept samples with their final labels,
    /// and the `# TYPE` and `# HELP` lines (so `le`/`quantile` are still
    /// normalized and the metadata kept; `# UNIT` and exemplars are not carried).
    pub(crate) fn rewrite(
        &self,
        target: &Target,
        body: &[u8],
        format: Format,
    ) -> Result<(Vec<u8>, usize), RewriteError> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() > MAX_CACHED_SERIES {
            cache.clear();
        }
        let mut out = String::with_capacity(body.len());
        let mut kept = 0usize;
        let mut raw = 0usize;
        let mut parser = Parser::new(body, format);
        while let Some(ev) = parser.next_event() {
            match ev.map_err(|_| RewriteError::Parse)? {
                Event::Help { metric, help } => {
                    let help = help.replace('\\', "\\\\").replace('\n', "\\n");
                    let _ = writeln!(out, "# HELP {metric} {help}");
                }
                Event::Type { metric, typ } => {
                    let _ = writeln!(out, "# TYPE {metric} {}", type_name(typ));
                }
                Event::Sample(s) => {
                    raw += 1;
                    let key = s.series_bytes();
                    let series = match cache.get(key) {
                        Some(v) => v.clone(),
                        None => {
                            let mut labels: BTreeMap<String, String> = s
                                .labels()
                                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                                .collect();
                            labels.insert("__name__".into(), s.name().into_owned());
                            let v = self.final_series(target, labels);
                            cache.insert(key.into(), v.clone());
                            v
                        }
                    };
                    let Some(series) = series else { continue };
                    kept += 1;
                    out.push_str(&series);
                    out.push(' ');
                    write_value(&mut out, s.value);
                    if let Some(ts) = s.timestamp {
                        let _ = write!(out, " {ts}");
                    }
                    out.push('\n');
                }
                _ => {}
            }
        }
        if self.sample_limit > 0 && kept > self.sample_limit {
            return Err(RewriteError::SampleLimit(kept));
        }
        Ok((out.into_bytes(), raw))
    }

    /// Target labels attached per `honor_labels`, then the rules; `None` if dropped.
    fn final_series(
        &self,
        target: &Target,
        mut labels: BTreeMap<String, String>,
    ) -> Option<Box<str>> {
        labels.retain(|_, v| !v.is_empty());
        let mut clashes: Vec<(String, String)> = Vec::new();
        for l in target.labels().iter() {
            let (k, v) = (&*l.name, &*l.value);
            if self.honor_labels {
                labels.entry(k.to_string()).or_insert_with(|| v.to_string());
            } else {
                if let Some(old) = labels.insert(k.to_string(), v.to_string()) {
                    clashes.push((k.to_string(), old));
                }
            }
        }
        clashes.sort_by_key(|(k, _)| k.len());
        for (name, value) in clashes {
            let mut new = name;
            loop {
                new = format!("exported_{new}");
                if let std::collections::btree_map::Entry::Vacant(e) = labels.entry(new.clone()) {
                    e.insert(value);
                    break;
                }
            }
        }
        if !process(&self.rules, &mut labels) {
            return None;
        }
        labels.retain(|_, v| !v.is_empty());
        let name = labels.remove("__name__")?;
        let mut s = name;
        s.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            s.push_str(k);
            s.push_str("=\"");
            for c in v.chars() {
                match c {
                    '\\' => s.push_str("\\\\"),
                    '"' => s.push_str("\\\""),
                    '\n' => s.push_str("\\n"),
                    c => s.push(c),
                }
            }
            s.push('"');
        }
        s.push('}');
        Some(s.into_boxed_str())
    }
}

fn type_name(t: MetricType) -> &'static str {
    use MetricType as T;
    match t {
        T::Counter => "counter",
        T::Gauge => "gauge",
        T::Histogram => "histogram",
        T::Summary => "summary",
        _ => "untyped",
    }
}

/// A value as the text format writes it (Rust's shortest round-trip decimal).
fn write_value(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        let _ = write!(out, "{v:?}");
    }
}

#[cfg(test)]
#[path = "metric_relabel_tests.rs"]
mod tests;
