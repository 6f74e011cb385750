//! The remote_write receiver: decodes a `POST /api/v1/write` body and appends
//! its samples to a store.

use promlite_model::{Label, Labels, METRIC_NAME};
use promlite_store::{IngestError, LimitKind, Store};

use crate::proto::{decode_write_request, DecodeError};

/// The answer to give the sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteResponse {
    /// 204 on success; 400 for bad input (the sender must not retry); 413 for
    /// a body past [`MAX_DECODED_BYTES`](crate::MAX_DECODED_BYTES); 415 for an
    /// unsupported encoding; 500 when the store is full (series or memory
    /// limit), which may pass, so the sender retries.
    pub status: u16,
    /// Empty on success, else the reason (plain text).
    pub body: String,
    /// Samples appended (identical duplicates not counted).
    pub samples_appended: usize,
    /// Samples in the request.
    pub samples_received: usize,
    /// Exemplars and native histogram samples skipped (promlite stores neither).
    pub skipped: usize,
}

impl WriteResponse {
    fn err(status: u16, body: String) -> Self {
        WriteResponse {
            status,
            body,
            samples_appended: 0,
            samples_received: 0,
            skipped: 0,
        }
    }
}

/// Handles one remote_write 1.0 request: `body` is the raw HTTP body,
/// `content_encoding` and `content_type` the request's headers if present.
///
/// The samples are appended atomically with the rules of
/// [`Store::append_batch`]: samples of a series may come in any order and are
/// merged in, identical duplicates (same time and value) are ignored, and a
/// different value at a time the series already has rejects the whole request
/// with 400. Labels are sorted; empty-valued labels are dropped (Prometheus
/// treats them as absent); a series without `__name__`, with an empty or
/// repeated label name is a 400. Nothing is appended when the answer is not 204.
pub fn handle_write(
    store: &Store,
    body: &[u8],
    content_encoding: Option<&str>,
    content_type: Option<&str>,
) -> WriteResponse {
    if let Some(enc) = content_encoding {
        if !enc.trim().eq_ignore_ascii_case("snappy") {
            return WriteResponse::err(
                415,
                format!("unsupported Content-Encoding {enc:?}: remote_write 1.0 bodies are snappy"),
            );
        }
    }
    if let Some(ct) = content_type {
        let media = ct.split(';').next().unwrap_or("").trim();
        if !media.eq_ignore_ascii_case("application/x-protobuf") {
            return WriteResponse::err(
                415,
                format!("unsupported Content-Type {ct:?}: expected application/x-protobuf"),
            );
        }
    }
    let decoded = match decode_write_request(body) {
        Ok(d) => d,
        Err(e @ DecodeError::TooLarge(_)) => return WriteResponse::err(413, e.to_string()),
        Err(e) => return WriteResponse::err(400, format!("bad remote_write body: {e}")),
    };
    let mut samples = Vec::new();
    for (i, ts) in decoded.request.timeseries.iter().enumerate() {
        let labels = match to_labels(ts) {
            Ok(l) => l,
            Err(why) => return WriteResponse::err(400, format!("timeseries {i}: {why}")),
        };
        for s in &ts.samples {
            samples.push((labels.clone(), s.timestamp, s.value));
        }
    }
    let received = samples.len();
    let skipped = decoded.exemplars_skipped + decoded.histograms_skipped;
    match store.append_batch(samples) {
        Ok(n) => WriteResponse {
            status: 204,
            body: String::new(),
            samples_appended: n,
            samples_received: received,
            skipped,
        },
        // Room may come back (gc, retention): let the sender retry.
        Err(
            e @ IngestError::Limit {
                limit: LimitKind::MaxSeries | LimitKind::MemoryBudget,
                ..
            },
        ) => WriteResponse::err(500, e.to_string()),
        Err(e) => WriteResponse::err(400, e.to_string()),
    }
}

fn to_labels(ts: &crate::proto::TimeSeries) -> Result<Labels, String> {
    let mut v: Vec<Label> = Vec::with_capacity(ts.labels.len());
    for l in &ts.labels {
        if l.name.is_empty() {
            return Err("empty label name".to_string());
        }
        if l.value.is_empty() {
            continue;
        }
        v.push(Label::new(l.name.as_str(), l.value.as_str()));
    }
    v.sort_by(|a, b| a.name.cmp(&b.name));
    if let Some(w) = v.windows(2).find(|w| w[0].name == w[1].name) {
        return Err(format!("duplicate label name {:?}", &*w[0].name));
    }
    if !v.iter().any(|l| &*l.name == METRIC_NAME) {
        return Err("series has no __name__ label".to_string());
    }
    Ok(Labels::from_sorted(v))
}

#[cfg(test)]
mod tests {
    use promlite_model::{is_stale_nan, MatchOp, Matcher, Queryable, STALE_NAN};
    use promlite_store::StoreConfig;

    use super::*;
    use crate::proto::{encode_write_request, Label as L, Sample as S, TimeSeries, WriteRequest};

    fn ts(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
        TimeSeries {
            labels: labels
                .iter()
                .map(|(n, v)| L {
                    name: n.to_string(),
                    value: v.to_string(),
                })
                .collect(),
            samples: samples
                .iter()
                .map(|&(t, v)| S {
                    value: v,
                    timestamp: t,
                })
                .collect(),
        }
    }

    fn body(series: Vec<TimeSeries>) -> Vec<u8> {
        encode_write_request(&WriteRequest { timeseries: series })
    }

    const PB: Option<&str> = Some("application/x-protobuf");
    const SNAPPY: Option<&str> = Some("snappy");

    fn dump(store: &Store) -> Vec<(String, Vec<(i64, u64)>)> {
        let all = Matcher::new(MatchOp::RegexMatch, "__name__", ".+").unwrap();
        let mut v: Vec<_> = store
            .select(&[all], i64::MIN / 2, i64::MAX / 2)
            .unwrap()
            .into_iter()
            .map(|s| {
                (
                    s.labels.to_string(),
                    s.samples.iter().map(|x| (x.t, x.v.to_bits())).collect(),
                )
            })
            .collect();
        v.sort();
        v
    }

    #[test]
    fn round_trip_into_the_store() {
        let store = Store::new(StoreConfig::default());
        // Labels unsorted and with an empty value; samples out of order; a
        // staleness marker.
        let b = body(vec![
            ts(
                &[("job", "a"), ("__name__", "up"), ("zone", "")],
                &[(2000, 1.0), (1000, 0.0), (3000, STALE_NAN)],
            ),
            ts(&[("__name__", "x_total"), ("code", "200")], &[(1000, 7.5)]),
        ]);
        let r = handle_write(&store, &b, SNAPPY, Some("application/x-protobuf; proto=x"));
        assert_eq!(
            (r.status, r.samples_appended, r.samples_received),
            (204, 4, 4),
            "{r:?}"
        );
        let got = dump(&store);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, "up{job=\"a\"}");
        assert_eq!(
            &got[0].1[..2],
            &[(1000, 0f64.to_bits()), (2000, 1f64.to_bits())]
        );
        assert!(is_stale_nan(f64::from_bits(got[0].1[2].1)));
        assert_eq!(
            got[1],
            (
                "x_total{code=\"200\"}".to_string(),
                vec![(1000, 7.5f64.to_bits())]
            )
        );
        // The same request again: identical duplicates, ignored.
        let r = handle_write(&store, &b, None, None);
        assert_eq!((r.status, r.samples_appended), (204, 0));
        assert_eq!(dump(&store), got);
    }

    #[test]
    fn bad_requests_change_nothing() {
        let store = Store::new(StoreConfig::default());
        let ok = body(vec![ts(&[("__name__", "up")], &[(1000, 1.0)])]);
        assert_eq!(handle_write(&store, &ok, SNAPPY, PB).status, 204);
        let before = dump(&store);
        let cases: Vec<(Vec<u8>, Option<&str>, u16, &str)> = vec![
            (
                body(vec![
                    ts(&[("__name__", "new")], &[(1, 1.0)]),
                    ts(&[("__name__", "up")], &[(1000, 2.0)]),
                ]),
                SNAPPY,
                400,
                "two different values",
            ),
            (
                body(vec![ts(
                    &[("__name__", "a"), ("x", "1"), ("x", "2")],
                    &[(1, 1.0)],
                )]),
                SNAPPY,
                400,
                "duplicate label name \"x\"",
            ),
            (
                body(vec![ts(&[("job", "a")], &[(1, 1.0)])]),
                SNAPPY,
                400,
                "no __name__",
            ),
            (
                body(vec![ts(&[("", "a")], &[(1, 1.0)])]),
                SNAPPY,
                400,
                "empty label name",
            ),
            (ok.clone(), Some("gzip"), 415, "Content-Encoding"),
            (b"\x05garbage".to_vec(), SNAPPY, 400, "snappy"),
        ];
        for (b, enc, status, why) in cases {
            let r = handle_write(&store, &b, enc, PB);
            assert_eq!(r.status, status, "{r:?}");
            assert!(r.body.contains(why), "{:?} lacks {why:?}", r.body);
            assert_eq!(dump(&store), before);
        }
        let r = handle_write(&store, &ok, SNAPPY, Some("application/json"));
        assert_eq!(r.status, 415);
    }

    #[test]
    fn store_limits_are_retryable() {
        let mut cfg = StoreConfig::default();
        cfg.limits.max_series = 1;
        let store = Store::new(cfg);
        let b = body(vec![
            ts(&[("__name__", "a")], &[(1, 1.0)]),
            ts(&[("__name__", "b")], &[(1, 1.0)]),
        ]);
        let r = handle_write(&store, &b, SNAPPY, PB);
        assert_eq!(r.status, 500, "{r:?}");
        assert!(r.body.contains("max_series"), "{r:?}");
    }
}
