//! Pieces of the promqltest language shared by `load` blocks and expected results:
//! durations, series descriptors (`name{l="v"}`), value sequences (`0+10x5 _ stale`)
//! and the `almost.Equal` float comparison.

use promlite_model::{parse_go_float, Labels, STALE_NAN};

/// Parses a Prometheus duration (`1h30m`, `250ms`, `0`) into milliseconds. Units must
/// appear in decreasing order, each at most once, as `model.ParseDuration` requires.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    promlite::params::parse_duration_ms(s).map_err(|e| e.to_string())
}

/// One slot of an expanded value sequence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Slot {
    /// `_`: no sample here.
    Gap,
    /// A float sample (possibly the staleness marker).
    Float(f64),
    /// A native-histogram sample (`{{...}}`), which this runner cannot load or compare.
    Histogram,
}

/// Splits a line into the series descriptor and the rest (the value sequence).
/// The descriptor ends at the first whitespace outside braces and quotes.
pub fn split_descriptor(line: &str) -> (&str, &str) {
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' && q != '`' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '\'' | '`' => quote = Some(c),
            '{' => depth += 1,
            '}' => depth -= 1,
            c if c.is_whitespace() && depth <= 0 => return (&line[..i], line[i..].trim()),
            _ => {}
        }
    }
    (line, "")
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':'
}
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

/// Parses a PromQL string literal starting at `s[0]` (one of `"`, `'`, `` ` ``).
/// Returns the unescaped value and the number of bytes consumed.
pub fn parse_string_literal(s: &str) -> Result<(String, usize), String> {
    let mut chars = s.char_indices();
    let Some((_, q)) = chars.next() else {
        return Err("expected a string".into());
    };
    if !matches!(q, '"' | '\'' | '`') {
        return Err(format!("expected a quoted string, got {s:?}"));
    }
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        if c == q {
            return Ok((out, i + c.len_utf8()));
        }
        if c == '\\' && q != '`' {
            let Some((_, e)) = chars.next() else { break };
            match e {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                'a' => out.push('\x07'),
                'b' => out.push('\x08'),
                'f' => out.push('\x0c'),
                'v' => out.push('\x0b'),
                '\\' => out.push('\\'),
                '"' => out.push('"'),
                '\'' => out.push('\''),
                'x' | 'u' | 'U' => {
                    let n = match e {
                        'x' => 2,
                        'u' => 4,
                        _ => 8,
                    };
                    let mut hex = String::new();
                    for _ in 0..n {
                        let Some((_, h)) = chars.next() else {
                            return Err("short escape".into());
                        };
                        hex.push(h);
                    }
                    let v = u32::from_str_radix(&hex, 16).map_err(|_| "bad hex escape")?;
                    if e == 'x' {
                        // A byte escape; only ASCII bytes can be represented in a Rust String.
                        // Non-ASCII bytes become U+FFFD, which never matches real data.
                        out.push(if v < 0x80 {
                            char::from(v as u8)
                        } else {
                            '\u{fffd}'
                        });
                    } else {
                        out.push(char::from_u32(v).ok_or("bad unicode escape")?);
                    }
                }
                '0'..='7' => {
                    let mut oct = String::from(e);
                    for _ in 0..2 {
                        let Some((_, h)) = chars.next() else {
                            return Err("short escape".into());
                        };
                        oct.push(h);
                    }
                    let v = u32::from_str_radix(&oct, 8).map_err(|_| "bad octal escape")?;
                    out.push(if v < 0x80 {
                        char::from(v as u8)
                    } else {
                        '\u{fffd}'
                    });
                }
                other => return Err(format!("unknown escape sequence \\{other}")),
            }
        } else {
            out.push(c);
        }
    }
    Err("unterminated string".into())
}

/// Parses a series descriptor: `name`, `name{l="v", ...}`, `{__name__="n", l="v"}` or
/// `{"utf8.name", l="v"}`. Returns the label set (`__name__` included).
pub fn parse_series_descriptor(s: &str) -> Result<Labels, String> {
    let s = s.trim();
    let mut pairs: Vec<(String, String)> = Vec::new();
    let name_end = s.find(|c: char| !is_name_char(c)).unwrap_or(s.len());
    if name_end > 0 {
        let name = &s[..name_end];
        if !name.starts_with(is_name_start) {
            return Err(format!("bad metric name in {s:?}"));
        }
        pairs.push(("__name__".into(), name.into()));
    }
    let rest = s[name_end..].trim_start();
    if rest.is_empty() {
        if pairs.is_empty() {
            return Err("empty series descriptor".into());
        }
        return Ok(Labels::from_pairs(pairs));
    }
    let Some(mut rest) = rest.strip_prefix('{') else {
        return Err(format!("unexpected {rest:?} in series descriptor {s:?}"));
    };
    loop {
        rest = rest.trim_start();
        if let Some(r) = rest.strip_prefix('}') {
            if !r.trim().is_empty() {
                return Err(format!("trailing {r:?} after series descriptor"));
            }
            break;
        }
        // Label name: identifier or quoted string; a quoted string alone is the metric name.
        let lname: String;
        if rest.starts_with(['"', '\'', '`']) {
            let (v, n) = parse_string_literal(rest)?;
            rest = rest[n..].trim_start();
            if rest.starts_with('=') {
                lname = v;
            } else {
                pairs.push(("__name__".into(), v));
                rest = rest.strip_prefix(',').unwrap_or(rest);
                continue;
            }
        } else {
            let end = rest.find(|c: char| !is_name_char(c)).unwrap_or(rest.len());
            if end == 0 {
                return Err(format!("bad label name at {rest:?}"));
            }
            lname = rest[..end].to_string();
            rest = rest[end..].trim_start();
        }
        let Some(r) = rest.strip_prefix('=') else {
            return Err(format!("expected '=' after label {lname:?}"));
        };
        rest = r.trim_start();
        let (v, n) = parse_string_literal(rest)?;
        rest = rest[n..].trim_start();
        pairs.push((lname, v));
        if let Some(r) = rest.strip_prefix(',') {
            rest = r;
        } else if !rest.starts_with('}') {
            return Err(format!("expected ',' or '}}' at {rest:?}"));
        }
    }
    Ok(Labels::from_pairs(pairs))
}

/// Parses a float as the promqltest value lexer does: decimal or float with optional
/// sign and exponent, `Inf`/`+Inf`/`-Inf`, `NaN` (case-insensitive). No hex.
pub fn parse_number(s: &str) -> Option<f64> {
    let lower = s.to_ascii_lowercase();
    let body = lower.trim_start_matches(['+', '-']);
    match body {
        "inf" | "infinity" => {
            return Some(if lower.starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            })
        }
        "nan" => return Some(f64::NAN),
        _ => {}
    }
    if body.starts_with("0x") || s.contains('_') {
        return None;
    }
    parse_go_float(s).filter(|v| v.is_finite())
}

/// Parses an expected-scalar line: Go `ParseInt(s, 0, 64)` (hex/octal/binary prefixes)
/// or a float.
pub fn parse_scalar_line(s: &str) -> Option<f64> {
    let t = s.trim();
    if t.is_empty() || t.contains(char::is_whitespace) {
        return None;
    }
    if let Some(v) = parse_number(t) {
        return Some(v);
    }
    let (neg, body) = match t.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let lower = body.to_ascii_lowercase();
    let parsed = if let Some(h) = lower.strip_prefix("0x") {
        i64::from_str_radix(h, 16).ok()
    } else if let Some(o) = lower.strip_prefix("0o") {
        i64::from_str_radix(o, 8).ok()
    } else if let Some(b) = lower.strip_prefix("0b") {
        i64::from_str_radix(b, 2).ok()
    } else {
        None
    };
    parsed.map(|v| if neg { -(v as f64) } else { v as f64 })
}

/// Splits a value sequence into items, keeping `{{ ... }}` histogram literals (which
/// contain spaces) together with any `xN` / `+{{...}}xN` suffix.
fn sequence_items(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let start = i;
        let mut depth = 0;
        while i < b.len() {
            match b[i] {
                b'{' => depth += 1,
                b'}' => depth -= 1,
                c if c.is_ascii_whitespace() && depth <= 0 => break,
                _ => {}
            }
            i += 1;
        }
        out.push(&s[start..i]);
    }
    out
}

/// Expands a value sequence (`1 _ 0+10x3 stale _x2 {{...}}x2`) into slots.
pub fn parse_sequence(s: &str) -> Result<Vec<Slot>, String> {
    let mut out = Vec::new();
    for item in sequence_items(s) {
        if item.starts_with("{{") {
            let reps = match item.rfind("}}") {
                Some(p) => {
                    let tail = &item[p + 2..];
                    match tail.strip_prefix('x') {
                        Some(n) => {
                            n.parse::<usize>()
                                .map_err(|_| format!("bad count in {item:?}"))?
                                + 1
                        }
                        None if tail.is_empty() => 1,
                        None => 1,
                    }
                }
                None => return Err(format!("unterminated histogram {item:?}")),
            };
            // `{{a}}+{{b}}xN`: the count follows the last `}}`.
            out.extend(std::iter::repeat_n(Slot::Histogram, reps.min(100_000)));
            continue;
        }
        if item == "_" {
            out.push(Slot::Gap);
            continue;
        }
        if let Some(n) = item.strip_prefix("_x") {
            let n: usize = n.parse().map_err(|_| format!("bad count in {item:?}"))?;
            out.extend(std::iter::repeat_n(Slot::Gap, n.min(1_000_000)));
            continue;
        }
        if item.eq_ignore_ascii_case("stale") {
            out.push(Slot::Float(STALE_NAN));
            continue;
        }
        if let Some(v) = parse_number(item) {
            out.push(Slot::Float(v));
            continue;
        }
        // `a xN`, `a+bxN`, `a-bxN`
        let Some(xpos) = item.rfind('x') else {
            return Err(format!("bad value {item:?}"));
        };
        let n: usize = item[xpos + 1..]
            .parse()
            .map_err(|_| format!("bad value {item:?}"))?;
        if n > 1_000_000 {
            return Err(format!("repetition count too large in {item:?}"));
        }
        let head = &item[..xpos];
        let (start, step) = split_start_step(head).ok_or_else(|| format!("bad value {item:?}"))?;
        let mut v = start;
        out.push(Slot::Float(v));
        for _ in 0..n {
            v += step;
            out.push(Slot::Float(v));
        }
    }
    Ok(out)
}

/// `a` -> (a, 0); `a+b` -> (a, b); `a-b` -> (a, -b). The sign that separates them is the
/// first `+`/`-` after position 0 that does not follow an exponent `e`.
fn split_start_step(head: &str) -> Option<(f64, f64)> {
    if let Some(v) = parse_number(head) {
        return Some((v, 0.0));
    }
    let b = head.as_bytes();
    for i in 1..b.len() {
        if (b[i] == b'+' || b[i] == b'-') && !matches!(b[i - 1], b'e' | b'E') {
            let a = parse_number(&head[..i])?;
            let d = parse_number(&head[i + 1..])?;
            return Some((a, if b[i] == b'-' { -d } else { d }));
        }
    }
    None
}

const MIN_NORMAL: f64 = 2.2250738585072014e-308;

/// Prometheus's `almost.Equal(a, b, epsilon)` as described in FORMAT.md §4.3.
pub fn almost_equal(a: f64, b: f64, epsilon: f64) -> bool {
    let sa = promlite_model::is_stale_nan(a);
    let sb = promlite_model::is_stale_nan(b);
    if sa || sb {
        return sa && sb;
    }
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let diff = (a - b).abs();
    let sum = a.abs() + b.abs();
    if a == 0.0 || b == 0.0 || sum < MIN_NORMAL {
        return diff < epsilon * MIN_NORMAL;
    }
    diff / sum.min(f64::MAX) < epsilon
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5m"), Ok(300_000));
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000));
        assert_eq!(parse_duration("10s53ms"), Ok(10_053));
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(parse_duration("1y"), Ok(31_536_000_000));
        assert!(parse_duration("30m1h").is_err(), "units must decrease");
        assert!(parse_duration("1.5h").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("5").is_err());
    }

    #[test]
    fn sequences_expand_like_upstream() {
        // vxN gives N+1 samples; a+bxN counts up, a-bxN down.
        let got = parse_sequence("1 _ 0+10x2 5-2x1 3x2 _x2 stale").unwrap();
        let want = [
            Slot::Float(1.0),
            Slot::Gap,
            Slot::Float(0.0),
            Slot::Float(10.0),
            Slot::Float(20.0),
            Slot::Float(5.0),
            Slot::Float(3.0),
            Slot::Float(3.0),
            Slot::Float(3.0),
            Slot::Float(3.0),
            Slot::Gap,
            Slot::Gap,
        ];
        assert_eq!(&got[..12], &want);
        assert!(matches!(got[12], Slot::Float(v) if promlite_model::is_stale_nan(v)));
        assert_eq!(got.len(), 13);
        let neg = parse_sequence("-1+1x2 1e3 -Inf NaN 1-2x1").unwrap();
        assert_eq!(
            neg[..3],
            [Slot::Float(-1.0), Slot::Float(0.0), Slot::Float(1.0)]
        );
        assert_eq!(neg[3], Slot::Float(1000.0));
        assert_eq!(neg[4], Slot::Float(f64::NEG_INFINITY));
        assert!(matches!(neg[5], Slot::Float(v) if v.is_nan()));
        assert_eq!(neg[6..], [Slot::Float(1.0), Slot::Float(-1.0)]);
        // Repeated addition, not multiplication: 0.1 added three times is not 0.3.
        let acc = parse_sequence("0+0.1x3").unwrap();
        assert_eq!(acc[3], Slot::Float(0.1 + 0.1 + 0.1));
        let h = parse_sequence("{{schema:0 sum:1 count:1}}x2 1").unwrap();
        assert_eq!(
            h,
            vec![
                Slot::Histogram,
                Slot::Histogram,
                Slot::Histogram,
                Slot::Float(1.0)
            ]
        );
        assert!(parse_sequence("1+x").is_err());
        assert!(
            parse_sequence("0x1F").is_err(),
            "hex is not allowed in sequences"
        );
    }

    #[test]
    fn descriptors() {
        let l = parse_series_descriptor(r#"http_requests{job="api", instance="0"}"#).unwrap();
        assert_eq!(l.get("__name__"), Some("http_requests"));
        assert_eq!(l.get("job"), Some("api"));
        let l = parse_series_descriptor(r#"{"my.metric", "a.b"='x\ny'}"#).unwrap();
        assert_eq!(l.get("__name__"), Some("my.metric"));
        assert_eq!(l.get("a.b"), Some("x\ny"));
        assert_eq!(parse_series_descriptor("{}").unwrap(), Labels::empty());
        let (d, rest) = split_descriptor(r#"m{a="x y"}  1 2"#);
        assert_eq!(d, r#"m{a="x y"}"#);
        assert_eq!(rest, "1 2");
    }

    #[test]
    fn scalar_lines() {
        assert_eq!(parse_scalar_line("0x10"), Some(16.0));
        assert_eq!(parse_scalar_line("-1.5e3"), Some(-1500.0));
        assert_eq!(parse_scalar_line("+Inf"), Some(f64::INFINITY));
        assert!(parse_scalar_line("NaN").unwrap().is_nan());
        assert_eq!(parse_scalar_line("{} 1"), None);
        assert_eq!(parse_scalar_line("metric"), None);
    }

    #[test]
    fn almost_equal_rules() {
        // Rule 4: an expected 0 demands an exact 0.
        assert!(!almost_equal(0.0, 1e-17, 1e-6));
        assert!(almost_equal(0.0, -0.0, 1e-6));
        // Rule 5: relative to the sum of magnitudes.
        assert!(almost_equal(1.0, 1.0 + 1e-7, 1e-6));
        assert!(!almost_equal(1.0, 1.00001, 1e-6));
        assert!(almost_equal(f64::NAN, -f64::NAN, 1e-6));
        assert!(!almost_equal(STALE_NAN, f64::NAN, 1e-6));
        assert!(almost_equal(STALE_NAN, STALE_NAN, 1e-6));
        assert!(almost_equal(f64::INFINITY, f64::INFINITY, 1e-6));
        assert!(!almost_equal(f64::INFINITY, f64::NEG_INFINITY, 1e-6));
        assert!(!almost_equal(f64::INFINITY, 1e308, 1e-6));
    }
}
