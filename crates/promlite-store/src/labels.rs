//! Turning a parsed sample line into a validated, sorted label set (cache misses only).

use std::borrow::Cow;

use promlite_expfmt::SampleEvent;
use promlite_model::{format_openmetrics_float, parse_go_float, Labels, MetricType, METRIC_NAME};

use crate::{IngestError, LimitKind, Limits};

/// Sorted (name, value) pairs, unique names, no empty values.
pub(crate) type LabelVec<'a> = Vec<(Cow<'a, str>, Cow<'a, str>)>;

/// The family currently declared by `# TYPE`, for `le`/`quantile` normalization.
#[derive(Debug, Default, Clone)]
pub(crate) struct FamilyTracker {
    family: String,
    typ: Option<MetricType>,
}

const SUFFIXES: &[&str] = &[
    "_bucket", "_count", "_sum", "_created", "_total", "_gcount", "_gsum", "_info",
];

impl FamilyTracker {
    pub(crate) fn declare(&mut self, family: &str, typ: MetricType) {
        self.family.clear();
        self.family.push_str(family);
        self.typ = Some(typ);
    }

    /// The label whose values Prometheus 3 normalizes for a sample named `name`:
    /// `le` in histograms and gauge histograms, `quantile` in summaries.
    pub(crate) fn normalized_label(&self, name: &str) -> Option<&'static str> {
        let label = match self.typ? {
            MetricType::Histogram | MetricType::GaugeHistogram => "le",
            MetricType::Summary => "quantile",
            _ => return None,
        };
        let rest = name.strip_prefix(self.family.as_str())?;
        (rest.is_empty() || SUFFIXES.contains(&rest)).then_some(label)
    }
}

pub(crate) fn normalize_float(v: Cow<'_, str>) -> Cow<'_, str> {
    // A scrape repeats the same few `le`/`quantile` texts on thousands of lines:
    // remember the last ones per thread instead of formatting each time.
    thread_local! {
        static MEMO: std::cell::RefCell<hashbrown::HashMap<Box<str>, Option<Box<str>>>> =
            std::cell::RefCell::new(hashbrown::HashMap::new());
    }
    let hit = MEMO.with(|m| m.borrow().get(&*v).cloned());
    let norm = match hit {
        Some(norm) => norm,
        None => {
            let norm = parse_go_float(&v)
                .map(format_openmetrics_float)
                .filter(|s| *s != *v)
                .map(String::into_boxed_str);
            MEMO.with(|m| {
                let mut m = m.borrow_mut();
                if m.len() >= 256 {
                    m.clear();
                }
                m.insert(Box::from(&*v), norm.clone());
            });
            norm
        }
    };
    match norm {
        Some(n) => Cow::Owned(n.into_string()),
        None => v,
    }
}

/// Builds the label set of a sample: name, body labels (with `normalize`'s
/// values rewritten), then `extra` overriding, empty values dropped; checks
/// duplicates and limits.
pub(crate) fn build<'a>(
    ev: &SampleEvent<'a>,
    normalize: Option<&str>,
    extra: &'a Labels,
    limits: &Limits,
) -> Result<LabelVec<'a>, IngestError> {
    let mut v = Vec::with_capacity(12);
    build_into(ev, normalize, extra, limits, &mut v)?;
    Ok(v)
}

/// [`build`] into a reused vector.
pub(crate) fn build_into<'a>(
    ev: &SampleEvent<'a>,
    normalize: Option<&str>,
    extra: &'a Labels,
    limits: &Limits,
    v: &mut LabelVec<'a>,
) -> Result<(), IngestError> {
    let line = ev.line;
    v.clear();
    v.push((Cow::Borrowed(METRIC_NAME), ev.name()));
    for (n, val) in ev.labels() {
        let val = if normalize.is_some_and(|x| x == n) {
            normalize_float(val)
        } else {
            val
        };
        v.push((n, val));
    }
    // Exposition libraries write labels sorted by name, so check before sorting.
    if !v.is_sorted_by(|a, b| a.0 < b.0) {
        v.sort_by(|a, b| a.0.cmp(&b.0));
    }
    if let Some(w) = v.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(IngestError::DuplicateLabelName {
            name: w[0].0.to_string(),
            line,
        });
    }
    finish_in_place(v, extra, limits, line)
}

/// Applies `extra`, drops empty values and checks limits on sorted, unique pairs.
fn finish_in_place<'a>(
    v: &mut LabelVec<'a>,
    extra: &'a Labels,
    limits: &Limits,
    line: usize,
) -> Result<(), IngestError> {
    for l in extra.iter() {
        match v.binary_search_by(|x| (*x.0).cmp(&*l.name)) {
            Ok(i) => v[i].1 = Cow::Borrowed(&l.value),
            Err(i) => v.insert(i, (Cow::Borrowed(&l.name), Cow::Borrowed(&l.value))),
        }
    }
    v.retain(|x| !x.1.is_empty());
    if !v.iter().any(|x| x.0 == METRIC_NAME) {
        return Err(IngestError::MissingName { line });
    }
    check_limits(v.iter().map(|(n, v)| (&**n, &**v)), v.len(), limits, line)
}

/// Checks label-count and length limits.
pub(crate) fn check_limits<'s>(
    pairs: impl Iterator<Item = (&'s str, &'s str)>,
    count: usize,
    limits: &Limits,
    line: usize,
) -> Result<(), IngestError> {
    // Series store their label count in a byte.
    let max_labels = limits.max_labels_per_series.min(255);
    if count > max_labels {
        return Err(IngestError::Limit {
            limit: LimitKind::MaxLabelsPerSeries,
            max: max_labels,
            value: count,
            line: Some(line),
        });
    }
    for (n, v) in pairs {
        if n.len() > limits.max_label_name_len {
            return Err(IngestError::Limit {
                limit: LimitKind::MaxLabelNameLen,
                max: limits.max_label_name_len,
                value: n.len(),
                line: Some(line),
            });
        }
        if v.len() > limits.max_label_value_len {
            return Err(IngestError::Limit {
                limit: LimitKind::MaxLabelValueLen,
                max: limits.max_label_value_len,
                value: v.len(),
                line: Some(line),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalization_applies_only_inside_typed_families() {
        let mut f = FamilyTracker::default();
        assert_eq!(f.normalized_label("x_bucket"), None);
        f.declare("x", MetricType::Histogram);
        assert_eq!(f.normalized_label("x_bucket"), Some("le"));
        assert_eq!(f.normalized_label("x_count"), Some("le"));
        assert_eq!(f.normalized_label("xy_bucket"), None);
        f.declare("s", MetricType::Summary);
        assert_eq!(f.normalized_label("s"), Some("quantile"));
        f.declare("c", MetricType::Counter);
        assert_eq!(f.normalized_label("c_total"), None);
    }

    #[test]
    fn floats_are_rewritten_as_prometheus_3_does() {
        // Expected spellings from the oracle README (Prometheus 3 behaviour):
        // "1" -> "1.0", "10" -> "10.0"; "1e-08" and "9.999999999999999e-06" unchanged.
        for (input, want) in [
            ("1", "1.0"),
            ("10", "10.0"),
            ("1e-08", "1e-08"),
            ("9.999999999999999e-06", "9.999999999999999e-06"),
            ("+Inf", "+Inf"),
            ("0.25", "0.25"),
            ("abc", "abc"),
        ] {
            assert_eq!(normalize_float(Cow::Borrowed(input)), want, "{input}");
        }
    }
}
