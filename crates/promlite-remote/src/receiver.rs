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
