//! The remote_write 1.0 messages (`prometheus/prompb`'s `WriteRequest`,
//! `TimeSeries`, `Label`, `Sample`), derived by hand with prost, and the
//! snappy block framing of a request body.
//!
//! Fields remote_write 1.0 senders may add that promlite does not use
//! (exemplars, native histograms, metadata) are skipped by the decoder, as
//! protobuf requires for unknown fields; [`decode_write_request`] reports how
//! many exemplars and histograms it skipped so a receiver can count them.

use promlite_model::Labels;
use prost::Message;

/// A remote_write request: a batch of series with their samples.
#[derive(Clone, PartialEq, Message)]
pub struct WriteRequest {
    /// The series.
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

/// One series: its labels (sorted by name) and samples (in timestamp order).
#[derive(Clone, PartialEq, Message)]
pub struct TimeSeries {
    /// The labels, `__name__` included, sorted by name.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// The samples, oldest first.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
}

/// A label pair.
#[derive(Clone, PartialEq, Message)]
pub struct Label {
    /// The label name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// The label value.
    #[prost(string, tag = "2")]
    pub value: String,
}

/// A sample.
#[derive(Clone, PartialEq, Message)]
pub struct Sample {
    /// The value (a staleness marker is Prometheus's special NaN).
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Milliseconds since the epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// What `TimeSeries` holds beyond labels and samples, counted but not kept.
#[derive(Clone, PartialEq, Message)]
struct TimeSeriesExtras {
    #[prost(bytes = "vec", repeated, tag = "3")]
    exemplars: Vec<Vec<u8>>,
    #[prost(bytes = "vec", repeated, tag = "4")]
    histograms: Vec<Vec<u8>>,
}

#[derive(Clone, PartialEq, Message)]
struct WriteRequestExtras {
    #[prost(message, repeated, tag = "1")]
    timeseries: Vec<TimeSeriesExtras>,
}

/// Largest decompressed body accepted: 32 MiB, as Prometheus's limit for a
/// remote_write request body (a default-sized request is ~200 KiB).
pub const MAX_DECODED_BYTES: usize = 32 << 20;

/// Why a request body could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    /// The body is not snappy block format (or is corrupt).
    #[error("snappy: {0}")]
    Snappy(String),
    /// The decompressed body would exceed [`MAX_DECODED_BYTES`].
    #[error("decompressed body of {0} bytes exceeds the limit of {MAX_DECODED_BYTES} bytes")]
    TooLarge(usize),
    /// The body is not a valid protobuf `WriteRequest`.
    #[error("protobuf: {0}")]
    Protobuf(String),
}

/// A decoded request, with what was skipped.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Decoded {
    /// The request.
    pub request: WriteRequest,
    /// Exemplars skipped (promlite does not store them).
    pub exemplars_skipped: usize,
    /// Native histogram samples skipped (promlite does not store them).
    pub histograms_skipped: usize,
}

/// Encodes `req` as a remote_write body: protobuf, then snappy block format.
pub fn encode_write_request(req: &WriteRequest) -> Vec<u8> {
    let raw = req.encode_to_vec();
    compress(&raw)
}

/// A series' labels as the `labels` fields of a `TimeSeries` (sorted by name,
/// as [`Labels`] are; [`Labels`] hold no empty values). Senders
/// encode each series once and reuse the bytes with [`encode_series`].
pub fn encode_labels(l: &Labels) -> Vec<u8> {
    let mut buf = Vec::with_capacity(l.len() * 32);
    for x in l.iter() {
        let m = Label {
            name: x.name.to_string(),
            value: x.value.to_string(),
        };
        prost::encoding::message::encode(1, &m, &mut buf);
    }
    buf
}

/// Appends one `timeseries` field of a `WriteRequest` to `out`: the labels
/// from [`encode_labels`] and the samples `(t, v)` (oldest first). A
/// `WriteRequest` is the concatenation of such fields; compress it with
/// [`compress`] to get a request body.
pub fn encode_series(out: &mut Vec<u8>, labels: &[u8], samples: &[(i64, f64)]) {
    let samples_len: usize = samples
        .iter()
        .map(|&(t, v)| {
            let len = Sample {
                value: v,
                timestamp: t,
            }
            .encoded_len();
            prost::encoding::key_len(2) + prost::encoding::encoded_len_varint(len as u64) + len
        })
        .sum();
    prost::encoding::encode_key(1, prost::encoding::WireType::LengthDelimited, out);
    prost::encoding::encode_varint((labels.len() + samples_len) as u64, out);
    out.extend_from_slice(labels);
    for &(t, v) in samples {
        let s = Sample {
            value: v,
            timestamp: t,
        };
        prost::encoding::message::encode(2, &s, out);
    }
}

/// Snappy block compression of `raw`.
pub fn compress(raw: &[u8]) -> Vec<u8> {
    // Compressing into a correctly sized buffer cannot fail for inputs below
    // snappy's 4 GiB limit, which remote_write batches never approach.
    snap::raw::Encoder::new()
        .compress_vec(raw)
        .unwrap_or_default()
}

/// Decodes a remote_write body (snappy block format around a protobuf
/// `WriteRequest`).
///
/// # Errors
/// [`DecodeError`] with what is wrong; never panics on any input.
pub fn decode_write_request(body: &[u8]) -> Result<Decoded, DecodeError> {
    let n = snap::raw::decompress_len(body).map_err(|e| DecodeError::Snappy(e.to_string()))?;
    if n > MAX_DECODED_BYTES {
        return Err(DecodeError::TooLarge(n));
    }
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| DecodeError::Snappy(e.to_string()))?;
    let request =
        WriteRequest::decode(raw.as_slice()).map_err(|e| DecodeError::Protobuf(e.to_string()))?;
    let mut out = Decoded {
        request,
        ..Decoded::default()
    };
    // Count what the typed decode skipped; only when the body may hold any.
    if has_extras(&raw) {
        if let Ok(x) = WriteRequestExtras::decode(raw.as_slice()) {
            for ts in &x.timeseries {
                out.exemplars_skipped += ts.exemplars.len();
                out.histograms_skipped += ts.histograms.len();
            }
        }
    }
    Ok(out)
}

/// Whether any `TimeSeries` in `raw` (a valid `WriteRequest`) has field 3 or 4.
fn has_extras(raw: &[u8]) -> bool {
    // Field 3/4 of a TimeSeries, length-delimited: tags 0x1a and 0x22. A cheap
    // pre-check on the bytes; false positives only cost the second decode.
    memchr_any(raw, 0x1a) || memchr_any(raw, 0x22)
}

fn memchr_any(raw: &[u8], b: u8) -> bool {
    raw.contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_bytes() {
        // Hand-encoded per the protobuf wire format: field 1 (timeseries, LEN)
        // holding field 1 (label, LEN: name "a", value "b") and field 2
        // (sample, LEN: double 1.0 in field 1, varint 5 in field 2).
        let raw: Vec<u8> = vec![
            0x0a, 0x15, // timeseries, 21 bytes
            0x0a, 0x06, 0x0a, 0x01, b'a', 0x12, 0x01, b'b', // label
            0x12, 0x0b, 0x09, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0x10, 0x05, // sample
        ];
        let req = WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![Label {
                    name: "a".into(),
                    value: "b".into(),
                }],
                samples: vec![Sample {
                    value: 1.0,
                    timestamp: 5,
                }],
            }],
        };
        assert_eq!(req.encode_to_vec(), raw);
        let body = encode_write_request(&req);
        let d = decode_write_request(&body).unwrap();
        assert_eq!(d.request, req);
        assert_eq!((d.exemplars_skipped, d.histograms_skipped), (0, 0));
    }

    #[test]
    fn encode_series_matches_the_derived_encoder() {
        let labels = Labels::from_pairs([("__name__", "up"), ("job", "j"), ("empty", "")]);
        let samples = [(0, 0.0), (1000, 1.5), (-5, f64::NAN)];
        let mut raw = Vec::new();
        encode_series(&mut raw, &encode_labels(&labels), &samples);
        let want = WriteRequest {
            timeseries: vec![TimeSeries {
                labels: [("__name__", "up"), ("job", "j")]
                    .iter()
                    .map(|(n, v)| Label {
                        name: n.to_string(),
                        value: v.to_string(),
                    })
                    .collect(),
                samples: samples
                    .iter()
                    .map(|&(t, v)| Sample {
                        value: v,
                        timestamp: t,
                    })
                    .collect(),
            }],
        };
        assert_eq!(raw, want.encode_to_vec());
    }

    #[test]
    fn bad_bodies_are_errors() {
        assert!(matches!(
            decode_write_request(b"not snappy at all"),
            Err(DecodeError::Snappy(_))
        ));
        // Valid snappy around bytes that are not a WriteRequest.
        let body = compress(&[0x0a, 0xff, 0xff]);
        assert!(matches!(
            decode_write_request(&body),
            Err(DecodeError::Protobuf(_))
        ));
        // A snappy header claiming a huge length.
        let body = [0xff, 0xff, 0xff, 0xff, 0x0f];
        assert!(matches!(
            decode_write_request(&body),
            Err(DecodeError::TooLarge(_))
        ));
    }

    #[test]
    fn skipped_extras_are_counted() {
        // A TimeSeries with one exemplar (field 3) and one histogram (field 4).
        let ts = vec![0x1a, 0x00, 0x22, 0x00];
        let mut raw = vec![0x0a, ts.len() as u8];
        raw.extend(ts);
        let d = decode_write_request(&compress(&raw)).unwrap();
        assert_eq!((d.exemplars_skipped, d.histograms_skipped), (1, 1));
    }
}
