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

use promlite::store::{Format, Store, StoreConfig};
use promlite_model::{is_stale_nan, Labels, STALE_NAN};

/// What the engine queries: the real store, with unbounded rings.
pub type Storage = Store;

/// An empty store for whole data files.
pub fn new_storage() -> Storage {
    Store::new(StoreConfig::unbounded())
}

/// Samples collected per series before they become a [`Storage`].
#[derive(Debug, Default)]
pub struct SeriesData {
    series: HashMap<Labels, Vec<(i64, f64)>>,
}

/// A data-file error with its position.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}:{}{msg}", if *line > 0 { format!("{line}: ") } else { " ".to_string() })]
pub struct DataError {
    /// File name.
    pub file: String,
    /// 1-based line (0 = whole file, or the message gives the position).
    pub line: usize,
    /// What is wrong.
    pub msg: String,
}

/// What `--data-at` adds to the store's "sample without a timestamp" error.
const DATA_AT_HINT: &str =
    "; a /metrics page without timestamps reads as one scrape with --data-at T";

/// Reads `p` as UTF-8; invalid UTF-8 is an error with its line and column.
fn read_utf8(p: &str) -> Result<String, DataError> {
    let bytes = std::fs::read(p).map_err(|e| DataError {
        file: p.to_string(),
        line: 0,
        msg: e.to_string(),
    })?;
    String::from_utf8(bytes).map_err(|e| {
        let bad = e.utf8_error().valid_up_to();
        let b = e.as_bytes();
        let line = 1 + memchr_count(&b[..bad]);
        let line_start = b[..bad]
            .iter()
            .rposition(|&c| c == b'\n')
            .map_or(0, |i| i + 1);
        // Columns count characters, as for other errors; the line's valid
        // prefix is UTF-8 by construction.
        let col = 1 + String::from_utf8_lossy(&b[line_start..bad]).chars().count();
        DataError {
            file: p.to_string(),
            line,
            msg: format!("column {col}: invalid UTF-8 (byte 0x{:02x})", b[bad]),
        }
    })
}

fn memchr_count(b: &[u8]) -> usize {
    b.iter().filter(|&&c| c == b'\n').count()
}

impl SeriesData {
    /// Adds one sample.
    pub fn add(&mut self, labels: Labels, t: i64, v: f64) {
        self.series.entry(labels).or_default().push((t, v));
    }

    /// Appends everything to `store` (atomic; conflicting values are an error).
    pub fn append_to(self, store: &Storage) -> Result<usize, String> {
        let samples = self
            .series
            .into_iter()
            .flat_map(|(l, s)| s.into_iter().map(move |(t, v)| (l.clone(), t, v)));
        store.append_batch(samples).map_err(|e| e.to_string())
    }

    /// Builds a fresh store holding these samples.
    pub fn into_storage(self) -> Result<Storage, String> {
        let store = new_storage();
        self.append_to(&store)?;
        Ok(store)
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

/// Loads data files (paths) into one store: each file goes through the store's own
/// timestamped ingestion (which also keeps `# TYPE` metadata for annotations), except
/// the sample lines whose value is the oracle's `stale` extension, which this module
/// parses itself and appends as staleness markers.
///
/// With `at` (ms), a sample without a timestamp (a saved `/metrics` page) is
/// read as scraped at `at`; without it, such a sample is an error that says so.
pub fn load_files_at(paths: &[String], at: Option<i64>) -> Result<Storage, DataError> {
    let store = new_storage();
    let mut stale = SeriesData::default();
    for p in paths {
        let file_err = |line: usize, msg: String| DataError {
            file: p.clone(),
            line,
            msg,
        };
        let text = read_utf8(p)?;
        let om = is_openmetrics(&text);
        let mut body = std::borrow::Cow::Borrowed(text.as_str());
        if text.contains("stale") {
            let mut kept = String::with_capacity(text.len());
            for (i, line) in text.split_inclusive('\n').enumerate() {
                let t = line.trim();
                if !t.starts_with('#') && t.contains("stale") {
                    if let Ok((labels, v, ts)) = parse_sample_line(t, om) {
                        if is_stale_nan(v) {
                            let ts = ts.or(at).ok_or_else(|| {
                                file_err(i + 1, format!("sample without a timestamp{DATA_AT_HINT}"))
                            })?;
                            stale.add(labels, ts, v);
                            // Text format: keep the store's error line numbers right.
                            // OpenMetrics allows no blank lines, so the line goes.
                            if !om {
                                kept.push('\n');
                            }
                            continue;
                        }
                    }
                }
                kept.push_str(line);
            }
            body = std::borrow::Cow::Owned(kept);
        }
        let format = if om {
            Format::OpenMetrics
        } else {
            Format::Text
        };
        let ingested = match at {
            Some(t) => store.ingest_timestamped_at(body.as_bytes(), format, &Labels::empty(), t),
            None => store.ingest_timestamped(body.as_bytes(), format, &Labels::empty()),
        };
        ingested.map_err(|e| {
            let hint = match e {
                promlite::store::IngestError::MissingTimestamp { .. } => DATA_AT_HINT,
                _ => "",
            };
            // The store's message starts with its line ("line 3: ..."): the
            // file name goes in front, and no ":0:".
            file_err(0, format!("{e}{hint}"))
        })?;
    }
    stale.append_to(&store).map_err(|msg| DataError {
        file: paths.join(","),
        line: 0,
        msg,
    })?;
    Ok(store)
}

#[cfg(test)]
mod tests {
    use super::*;
    use promlite_model::{MatchOp, Matcher, MetricType, Queryable};

    fn write(name: &str, text: &str) -> String {
        let dir = std::env::temp_dir().join(format!("promlite-data-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.to_string_lossy().into_owned()
    }

    fn select(s: &Storage, name: &str) -> Vec<promlite_model::SeriesSamples> {
        let m = Matcher::new(MatchOp::Equal, "__name__", name).unwrap();
        s.select(&[m], i64::MIN, i64::MAX).unwrap()
    }

    #[test]
    fn oracle_protocol_through_the_store() {
        let om = write(
            "a.om",
            "# TYPE x counter\nx_total{a=\"1\",b=\"\"} 5 2154865632.937\nx_total{a=\"1\"} stale 2154865633\n# EOF\n",
        );
        let txt = write(
            "b.prom",
            "y{q=\"a\\\\b\"} 1.5 1700000004322\ny{q=\"a\\\\b\"} 1 1700000003322\n",
        );
        let s = load_files_at(&[om, txt], None).unwrap();
        let x = select(&s, "x_total");
        assert_eq!(x.len(), 1);
        assert_eq!(x[0].labels.get("b"), None, "empty label values are dropped");
        // 2154865632.937 s is ...937 ms exactly (promtool's float math gives ...936).
        assert_eq!(x[0].samples[0].t, 2_154_865_632_937);
        assert!(
            is_stale_nan(x[0].samples[1].v),
            "`stale` is a staleness marker"
        );
        assert_eq!(s.metric_type("x_total"), Some(MetricType::Counter));
        let y = select(&s, "y");
        assert_eq!(y[0].labels.get("q"), Some("a\\b"));
        let ts: Vec<i64> = y[0].samples.iter().map(|p| p.t).collect();
        assert_eq!(
            ts,
            vec![1_700_000_003_322, 1_700_000_004_322],
            "sorted by time"
        );
    }

    #[test]
    fn bad_files_are_errors() {
        let no_ts = write("c.prom", "x 1\n");
        assert!(
            load_files_at(&[no_ts], None).is_err(),
            "every sample needs a timestamp"
        );
        let conflict = write("d.prom", "x 1 5\nx 2 5\n");
        assert!(
            load_files_at(&[conflict], None).is_err(),
            "two values at one time"
        );
        assert!(load_files_at(&["/nonexistent/file".into()], None).is_err());
    }

    #[test]
    fn a_metrics_page_reads_as_one_scrape_at_data_at() {
        let page = write("page.prom", "# TYPE up gauge\nup{job=\"a\"} 1\nx 2 5000\n");
        let e = load_files_at(std::slice::from_ref(&page), None).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("--data-at"), "{msg}");
        assert!(msg.contains("line 2"), "{msg}");
        assert!(!msg.contains(":0:"), "{msg}");
        let s = load_files_at(&[page], Some(1_700_000_000_000)).unwrap();
        assert_eq!(select(&s, "up")[0].samples[0].t, 1_700_000_000_000);
        // A sample with its own timestamp keeps it.
        assert_eq!(select(&s, "x")[0].samples[0].t, 5000);
    }

    #[test]
    fn invalid_utf8_has_a_line_and_column() {
        let dir = std::env::temp_dir().join(format!("promlite-data-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("bad.prom");
        // Line 2: `q{a="` (5 columns), `é` (two bytes, column 6), then a lone
        // 0xff at column 7.
        std::fs::write(&p, b"x 1 5\nq{a=\"\xc3\xa9\xff\"} 1 5\n").unwrap();
        let e = load_files_at(&[p.to_string_lossy().into_owned()], None).unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        assert!(e.msg.starts_with("column 7: invalid UTF-8"), "{e}");
    }

    #[test]
    fn sample_lines_and_timestamps() {
        let (l, v, t) = parse_sample_line(r#"m{a="x\"y"} stale 1.5"#, true).unwrap();
        assert_eq!(l.get("a"), Some("x\"y"));
        assert!(is_stale_nan(v));
        assert_eq!(t, Some(1500));
        assert_eq!(parse_timestamp("1.5e3", true), Ok(1_500_000));
        assert_eq!(parse_timestamp("0.0009", true), Ok(0));
        assert!(parse_timestamp("1.5", false).is_err());
        assert!(parse_timestamp("-5", false).is_err());
        assert!(parse_sample_line("bad{a=1} 1 1", false).is_err());
        let _ = STALE_NAN;
    }
}
