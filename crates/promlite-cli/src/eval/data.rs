//! Sample data for `eval` and `test`: prom-oracle's data-file format and the storage
//! the engine reads.
//!
//! Data files follow `shared/oracle/README.md` exactly: a file whose last line is
//! `# EOF` is OpenMetrics with timestamps in (decimal) seconds, anything else is text
//! format 0.0.4 with integer-millisecond timestamps; every sample needs a timestamp;
//! `# HELP`/comment lines are ignored (`# TYPE` is remembered for annotations);
//! labels with empty values are dropped; the value `stale` is a staleness marker
//! (an oracle-only extension); several files merge and each series is sorted by time.

use std::collections::HashMap;

use promlite_model::{Labels, MetricType, SeriesSamples, VecStorage, STALE_NAN};

/// What the engine queries.
pub type Storage = VecStorage;

/// Samples collected per series before they become a [`Storage`].
#[derive(Debug, Default)]
pub struct SeriesData {
    series: HashMap<Labels, Vec<(i64, f64)>>,
    types: HashMap<String, MetricType>,
}

/// A data-file error with its position.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}:{line}: {msg}")]
pub struct DataError {
    /// File name.
    pub file: String,
    /// 1-based line (0 = whole file).
    pub line: usize,
    /// What is wrong.
    pub msg: String,
}

impl SeriesData {
    /// Adds one sample.
    pub fn add(&mut self, labels: Labels, t: i64, v: f64) {
        self.series.entry(labels).or_default().push((t, v));
    }

    /// Remembers a family's declared type.
    pub fn set_type(&mut self, name: &str, t: MetricType) {
        self.types.insert(name.to_string(), t);
    }

    /// Sorts each series by time and drops exact duplicates; two different values at
    /// one timestamp are an error (prom-oracle's default `--dedup error`).
    pub fn finalize(&mut self) -> Result<(), String> {
        for (labels, s) in &mut self.series {
            s.sort_by_key(|p| p.0);
            let mut prev: Option<(i64, f64)> = None;
            for &(t, v) in s.iter() {
                if let Some((pt, pv)) = prev {
                    if pt == t && pv.to_bits() != v.to_bits() && !(pv.is_nan() && v.is_nan()) {
                        return Err(format!(
                            "series {labels}: two different values at timestamp {t} ms"
                        ));
                    }
                }
                prev = Some((t, v));
            }
            s.dedup_by_key(|p| p.0);
        }
        Ok(())
    }

    /// Builds the storage (after [`SeriesData::finalize`], or for data known sorted).
    pub fn into_storage(self) -> Storage {
        let mut series: Vec<SeriesSamples> = self
            .series
            .into_iter()
            .map(|(labels, mut s)| {
                s.sort_by_key(|p| p.0);
                s.dedup_by_key(|p| p.0);
                SeriesSamples {
                    labels,
                    samples: s
                        .into_iter()
                        .map(|(t, v)| promlite_model::Sample { t, v })
                        .collect(),
                }
            })
            .collect();
        series.sort_by(|a, b| a.labels.cmp(&b.labels));
        let mut types: Vec<(String, MetricType)> = self.types.into_iter().collect();
        types.sort_by(|a, b| a.0.cmp(&b.0));
        VecStorage { series, types }
    }
}

/// True when the text is OpenMetrics by prom-oracle's rule (last line `# EOF`).
pub fn is_openmetrics(text: &str) -> bool {
    let t = text.trim_end();
    t == "# EOF" || t.ends_with("\n# EOF")
}

fn is_name_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b':'
}
fn is_name_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b':'
}

/// Loads one data file's text into `out`.
pub fn load_text(out: &mut SeriesData, text: &str, file: &str) -> Result<usize, DataError> {
    let om = is_openmetrics(text);
    let mut n = 0;
    for (i, raw) in text.split('\n').enumerate() {
        let line = raw.trim_end_matches('\r');
        let err = |msg: String| DataError {
            file: file.to_string(),
            line: i + 1,
            msg,
        };
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        if let Some(c) = t.strip_prefix('#') {
            let mut w = c.split_whitespace();
            if w.next() == Some("TYPE") {
                if let (Some(name), Some(ty)) = (w.next(), w.next()) {
                    if let Some(mt) = MetricType::parse(ty) {
                        out.set_type(name, mt);
                        // Sample names of the family share its type.
                        let suffixes: &[&str] = match mt {
                            MetricType::Counter if om => &["_total", "_created"],
                            MetricType::Histogram | MetricType::GaugeHistogram => {
                                &["_bucket", "_sum", "_count", "_created", "_gcount", "_gsum"]
                            }
                            MetricType::Summary => &["_sum", "_count", "_created"],
                            _ => &[],
                        };
                        for s in suffixes {
                            out.set_type(&format!("{name}{s}"), mt);
                        }
                    }
                }
            }
            continue;
        }
        let (labels, value, ts) = parse_sample_line(line, om).map_err(err)?;
        let ts = ts.ok_or_else(|| err("sample without a timestamp".into()))?;
        out.add(labels, ts, value);
        n += 1;
    }
    Ok(n)
}

/// Parses `name{labels} value [timestamp]`; timestamp in ms.
fn parse_sample_line(line: &str, om: bool) -> Result<(Labels, f64, Option<i64>), String> {
    let b = line.as_bytes();
    let mut i = 0;
    while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
        i += 1;
    }
    let start = i;
    if i >= b.len() || !is_name_start(b[i]) {
        return Err("expected a metric name".into());
    }
    while i < b.len() && is_name_char(b[i]) {
        i += 1;
    }
    let name = &line[start..i];
    let mut pairs: Vec<(String, String)> = vec![("__name__".into(), name.into())];
    if i < b.len() && b[i] == b'{' {
        i += 1;
        loop {
            while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
                i += 1;
            }
            if i < b.len() && b[i] == b'}' {
                i += 1;
                break;
            }
            let ls = i;
            if i >= b.len() || !(b[i].is_ascii_alphabetic() || b[i] == b'_') {
                return Err(format!("bad label name at column {}", i + 1));
            }
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            let lname = line[ls..i].to_string();
            while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
                i += 1;
            }
            if i >= b.len() || b[i] != b'=' {
                return Err(format!("expected '=' at column {}", i + 1));
            }
            i += 1;
            while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
                i += 1;
            }
            if i >= b.len() || b[i] != b'"' {
                return Err(format!("expected '\"' at column {}", i + 1));
            }
            i += 1;
            let mut val = String::new();
            let mut seg = i;
            loop {
                if i >= b.len() {
                    return Err("unterminated label value".into());
                }
                match b[i] {
                    b'\\' => {
                        val.push_str(&line[seg..i]);
                        let Some(&e) = b.get(i + 1) else {
                            return Err("dangling backslash".into());
                        };
                        match e {
                            b'\\' => val.push('\\'),
                            b'"' => val.push('"'),
                            b'n' => val.push('\n'),
                            _ if om => return Err(format!("invalid escape \\{}", e as char)),
                            _ => {
                                // Text 0.0.4 keeps unknown escapes as written.
                                val.push('\\');
                                let ch = line[i + 1..].chars().next().unwrap_or('\\');
                                val.push(ch);
                                i += ch.len_utf8() - 1;
                            }
                        }
                        i += 2;
                        seg = i;
                    }
                    b'"' => {
                        val.push_str(&line[seg..i]);
                        i += 1;
                        break;
                    }
                    _ => i += 1,
                }
            }
            pairs.push((lname, val));
            while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
                i += 1;
            }
            if i < b.len() && b[i] == b',' {
                i += 1;
                continue;
            }
            if i < b.len() && b[i] == b'}' {
                i += 1;
                break;
            }
            return Err(format!("expected ',' or '}}' at column {}", i + 1));
        }
    }
    let mut rest = &line[i..];
    if om {
        rest = rest.split('#').next().unwrap_or(""); // exemplar
    }
    let toks: Vec<&str> = rest.split_whitespace().collect();
    if toks.is_empty() {
        return Err("missing value".into());
    }
    if toks.len() > 2 {
        return Err(format!("trailing garbage {:?}", toks[2..].join(" ")));
    }
    let value = parse_value(toks[0])?;
    let ts = match toks.get(1) {
        Some(t) => Some(parse_timestamp(t, om)?),
        None => None,
    };
    Ok((Labels::from_pairs(pairs), value, ts))
}

fn parse_value(tok: &str) -> Result<f64, String> {
    let lower = tok.to_ascii_lowercase();
    if tok.contains('_') || lower.trim_start_matches(['+', '-']).starts_with("0x") {
        return Err(format!("unsupported number syntax {tok:?}"));
    }
    if lower == "stale" {
        return Ok(STALE_NAN);
    }
    match lower.trim_start_matches(['+', '-']) {
        "inf" | "infinity" => {
            return Ok(if lower.starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            })
        }
        "nan" => return Ok(f64::NAN),
        _ => {}
    }
    tok.parse::<f64>()
        .map_err(|_| format!("bad sample value {tok:?}"))
}

fn parse_timestamp(tok: &str, om: bool) -> Result<i64, String> {
    let bad = || format!("bad timestamp {tok:?}");
    if !om {
        let v: i64 = tok.parse().map_err(|_| {
            format!("text format 0.0.4 timestamps are integer milliseconds, got {tok:?}")
        })?;
        if v < 0 {
            return Err("negative timestamps are not supported".into());
        }
        return Ok(v);
    }
    // Exact decimal seconds, truncated toward zero to milliseconds.
    let (neg, body) = match tok.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, tok.strip_prefix('+').unwrap_or(tok)),
    };
    let (mant, exp) = match body.find(['e', 'E']) {
        Some(p) => (&body[..p], body[p + 1..].parse::<i32>().map_err(|_| bad())?),
        None => (body, 0),
    };
    let (ip, fp) = mant.split_once('.').unwrap_or((mant, ""));
    if ip.is_empty() && fp.is_empty()
        || !ip.bytes().all(|c| c.is_ascii_digit())
        || !fp.bytes().all(|c| c.is_ascii_digit())
    {
        return Err(bad());
    }
    // digits * 10^(exp - len(fp)) seconds -> ms: shift by exp - len(fp) + 3.
    let digits = format!("{ip}{fp}");
    let digits = digits.trim_start_matches('0');
    let shift = exp - fp.len() as i32 + 3;
    let ms: i64 = if digits.is_empty() {
        0
    } else if shift >= 0 {
        let base: i64 = digits.parse().map_err(|_| bad())?;
        base.checked_mul(10i64.checked_pow(shift as u32).ok_or_else(bad)?)
            .ok_or_else(bad)?
    } else {
        let cut = (-shift) as usize;
        if cut >= digits.len() {
            0
        } else {
            digits[..digits.len() - cut].parse().map_err(|_| bad())?
        }
    };
    if neg && ms != 0 {
        return Err("negative timestamps are not supported".into());
    }
    Ok(ms)
}

/// Loads data files (paths) into one storage.
pub fn load_files(paths: &[String]) -> Result<Storage, DataError> {
    let mut data = SeriesData::default();
    for p in paths {
        let text = std::fs::read_to_string(p).map_err(|e| DataError {
            file: p.clone(),
            line: 0,
            msg: e.to_string(),
        })?;
        load_text(&mut data, &text, p)?;
    }
    data.finalize().map_err(|msg| DataError {
        file: paths.join(","),
        line: 0,
        msg,
    })?;
    Ok(data.into_storage())
}

#[cfg(test)]
mod tests {
    use super::*;
    use promlite_model::{is_stale_nan, Queryable};

    #[test]
    fn openmetrics_seconds_and_text_ms() {
        let mut d = SeriesData::default();
        let om = "# TYPE x counter\nx_total{a=\"1\",b=\"\"} 5 1700000004.322\nx_total{a=\"1\"} stale 1700000005\n# EOF\n";
        assert_eq!(load_text(&mut d, om, "f.om").unwrap(), 2);
        let txt = "y{q=\"a\\\\b\"} 1.5 1700000004322\n";
        load_text(&mut d, txt, "f.prom").unwrap();
        d.finalize().unwrap();
        let s = d.into_storage();
        let x = &s
            .series
            .iter()
            .find(|s| s.labels.metric_name() == Some("x_total"))
            .unwrap();
        assert_eq!(x.labels.get("b"), None, "empty label values are dropped");
        assert_eq!(x.samples[0].t, 1_700_000_004_322);
        assert!(is_stale_nan(x.samples[1].v));
        assert_eq!(s.metric_type("x_total"), Some(MetricType::Counter));
        let y = &s
            .series
            .iter()
            .find(|s| s.labels.metric_name() == Some("y"))
            .unwrap();
        assert_eq!(y.labels.get("q"), Some("a\\b"));
        assert_eq!(y.samples[0].t, 1_700_000_004_322);
    }

    #[test]
    fn timestamps_are_exact_decimals() {
        // 2154865632.937 s is ...937 ms exactly (float arithmetic would give ...936).
        assert_eq!(
            parse_timestamp("2154865632.937", true),
            Ok(2_154_865_632_937)
        );
        assert_eq!(parse_timestamp("1.5e3", true), Ok(1_500_000));
        assert_eq!(parse_timestamp("0.0009", true), Ok(0));
        assert!(parse_timestamp("1.5", false).is_err());
        assert!(parse_timestamp("-5", false).is_err());
    }

    #[test]
    fn errors_have_positions() {
        let mut d = SeriesData::default();
        let e = load_text(&mut d, "ok 1 1\nbad{a=1} 1 1\n", "f").unwrap_err();
        assert_eq!(e.line, 2);
        let e = load_text(&mut d, "x 1\n", "f").unwrap_err();
        assert!(e.msg.contains("timestamp"));
        let mut d = SeriesData::default();
        load_text(&mut d, "x 1 5\nx 2 5\n", "f").unwrap();
        assert!(d.finalize().is_err(), "conflicting duplicate");
    }
}
