//! Template functions: Go's builtins and Prometheus's (`template/template.go`):
//! humanize, humanize1024, humanizeDuration, humanizePercentage,
//! humanizeTimestamp, printf, toUpper, toLower, title, reReplaceAll, match,
//! query, first, value, label, strvalue, sortByLabel, args, safeHtml,
//! graphLink, tableLink, stripPort, stripDomain, toTime, parseDuration,
//! pathPrefix, externalURL.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::exec::Sample;
use super::printf::{fmt_g, sprint, sprintf, sprintln};
use super::{QueryFn, Value};

/// A parameter's Go type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Param {
    /// `interface{}`.
    Any,
    /// `string`.
    Str,
    /// `float64`.
    Float,
    /// `int`.
    Int,
    /// `bool`.
    Bool,
    /// `*template.sample`.
    Sample,
    /// `template.queryResult`.
    Samples,
}

impl Param {
    /// Go's spelling of the type.
    pub fn go_name(self) -> &'static str {
        match self {
            Param::Any => "interface {}",
            Param::Str => "string",
            Param::Float => "float64",
            Param::Int => "int",
            Param::Bool => "bool",
            Param::Sample => "*template.sample",
            Param::Samples => "template.queryResult",
        }
    }
}

/// Why a call failed: `Call` texts get Go's `error calling NAME: ` prefix.
#[derive(Debug)]
pub(crate) enum CallError {
    Call(String),
    Plain(String),
}

use Param::*;

/// Parameters and the variadic element type of every function.
pub(crate) fn signature(name: &str) -> Option<(&'static [Param], Option<Param>)> {
    Some(match name {
        "and" | "or" => (&[Any], Some(Any)),
        "not" | "len" => (&[Any], None),
        "index" => (&[Any], Some(Any)),
        "slice" => (&[Any], Some(Any)),
        "print" | "println" => (&[], Some(Any)),
        "printf" => (&[Str], Some(Any)),
        "html" | "js" | "urlquery" => (&[], Some(Any)),
        "eq" => (&[Any], Some(Any)),
        "ne" | "lt" | "le" | "gt" | "ge" => (&[Any, Any], None),
        "query" => (&[Str], None),
        "first" => (&[Samples], None),
        "label" => (&[Str, Sample], None),
        "value" => (&[Sample], None),
        "strvalue" => (&[Sample], None),
        "args" => (&[], Some(Any)),
        "reReplaceAll" => (&[Str, Str, Str], None),
        "safeHtml" => (&[Str], None),
        "match" => (&[Str, Str], None),
        "title" | "toUpper" | "toLower" | "graphLink" | "tableLink" | "stripPort"
        | "stripDomain" | "parseDuration" => (&[Str], None),
        "sortByLabel" => (&[Str, Samples], None),
        "humanize" | "humanize1024" | "humanizeDuration" | "humanizePercentage"
        | "humanizeTimestamp" | "toTime" => (&[Any], None),
        "pathPrefix" | "externalURL" => (&[], None),
        _ => return None,
    })
}

/// Whether `name` is a function templates may call.
pub(crate) fn exists(name: &str) -> bool {
    signature(name).is_some()
}

fn call_err<T>(m: impl Into<String>) -> Result<T, CallError> {
    Err(CallError::Call(m.into()))
}

fn s(v: &Value) -> &str {
    match v {
        Value::Str(s) => s,
        _ => "",
    }
}

/// Prometheus's `convertToFloat`.
fn to_float(v: &Value) -> Result<f64, CallError> {
    match v {
        Value::Float(f) => Ok(*f),
        Value::Int(i) => Ok(*i as f64),
        Value::Str(t) => promlite_model::parse_go_float(t).ok_or_else(|| {
            CallError::Call(format!(
                "strconv.ParseFloat: parsing {}: invalid syntax",
                super::printf::go_quote(t)
            ))
        }),
        other => call_err(format!("can't convert {} to float", other.type_name())),
    }
}

const SI_BIG: [&str; 8] = ["k", "M", "G", "T", "P", "E", "Z", "Y"];
const SI_SMALL: [&str; 8] = ["m", "u", "n", "p", "f", "a", "z", "y"];

/// Prometheus's `humanize`: SI prefixes, 4 significant digits.
pub fn humanize(mut v: f64) -> String {
    if v == 0.0 || v.is_nan() || v.is_infinite() {
        return fmt_g(v, Some(4), false);
    }
    let mut prefix = "";
    if v.abs() >= 1.0 {
        for p in SI_BIG {
            if v.abs() < 1000.0 {
                break;
            }
            prefix = p;
            v /= 1000.0;
        }
    } else {
        for p in SI_SMALL {
            if v.abs() >= 1.0 {
                break;
            }
            prefix = p;
            v *= 1000.0;
        }
    }
    format!("{}{prefix}", fmt_g(v, Some(4), false))
}

/// Prometheus's `humanize1024`: binary prefixes.
pub fn humanize1024(mut v: f64) -> String {
    if v.abs() <= 1.0 || v.is_nan() || v.is_infinite() {
        return fmt_g(v, Some(4), false);
    }
    let mut prefix = "";
    for p in ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"] {
        if v.abs() < 1024.0 {
            break;
        }
        prefix = p;
        v /= 1024.0;
    }
    format!("{}{prefix}", fmt_g(v, Some(4), false))
}

/// Prometheus's `humanizeDuration` (seconds in).
pub fn humanize_duration(mut v: f64) -> String {
    if v.is_nan() || v.is_infinite() {
        return fmt_g(v, Some(4), false);
    }
    if v == 0.0 {
        return format!("{}s", fmt_g(v, Some(4), false));
    }
    if v.abs() >= 1.0 {
        let mut sign = "";
        if v < 0.0 {
            sign = "-";
            v = -v;
        }
        let d = v as i64;
        let (secs, mins, hours, days) = (d % 60, (d / 60) % 60, (d / 3600) % 24, d / 86400);
        if days != 0 {
            return format!("{sign}{days}d {hours}h {mins}m {secs}s");
        }
        if hours != 0 {
            return format!("{sign}{hours}h {mins}m {secs}s");
        }
        if mins != 0 {
            return format!("{sign}{mins}m {secs}s");
        }
        return format!("{sign}{}s", fmt_g(v, Some(4), false));
    }
    let mut prefix = "";
    for p in SI_SMALL {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    format!("{}{prefix}s", fmt_g(v, Some(4), false))
}

/// Prometheus's `humanizePercentage` (ratio in).
pub fn humanize_percentage(v: f64) -> String {
    format!("{}%", fmt_g(v * 100.0, Some(4), false))
}

/// Prometheus's `humanizeTimestamp` (Unix seconds in): Go's `time.Time`
/// string in UTC at millisecond precision, `1970-01-01 00:00:01.5 +0000 UTC`.
///
/// # Errors
/// A value whose nanoseconds overflow an int64.
pub fn humanize_timestamp(v: f64) -> Result<String, String> {
    if v.is_nan() || v.is_infinite() {
        return Ok(fmt_g(v, Some(4), false));
    }
    let ns = v * 1e9;
    if ns > i64::MAX as f64 || ns < i64::MIN as f64 {
        return Err(format!(
            "{} cannot be represented as a nanoseconds timestamp since it overflows int64",
            super::printf::format_v_float(v)
        ));
    }
    let ms = (ns as i64) / 1_000_000;
    Ok(go_time_string(ms))
}

/// RFC 3339 with Go's `RFC3339Nano` trimming, UTC: `2023-11-14T22:13:20.5Z`.
pub fn rfc3339_ms(ms: i64) -> String {
    let (date, time, frac) = civil(ms);
    format!("{date}T{time}{frac}Z")
}

/// Go's `time.Time.String()` of a UTC instant given in Unix milliseconds.
pub fn go_time_string(ms: i64) -> String {
    let (date, time, frac) = civil(ms);
    format!("{date} {time}{frac} +0000 UTC")
}

/// Date `YYYY-MM-DD`, time `hh:mm:ss` and trimmed fraction (`.5`) of a UTC instant.
fn civil(ms: i64) -> (String, String, String) {
    let secs = ms.div_euclid(1000);
    let frac = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Civil date from days since the epoch (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let mut f = String::new();
    if frac != 0 {
        f = format!(".{frac:03}");
        while f.ends_with('0') {
            f.pop();
        }
    }
    (
        format!("{y:04}-{m:02}-{d:02}"),
        format!("{:02}:{:02}:{:02}", sod / 3600, (sod / 60) % 60, sod % 60),
        f,
    )
}

/// Go's `url.QueryEscape`.
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Go's deprecated `strings.Title`: upper-cases the first letter of each word.
pub fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_sep = true;
    for c in s.chars() {
        if prev_sep {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev_sep = if c.is_ascii() {
            !(c.is_ascii_alphanumeric() || c == '_')
        } else {
            !(c.is_alphanumeric()) && c.is_whitespace()
        };
    }
    out
}

/// Go's `strings.ToUpper`: rune by rune simple case mapping (`ß` stays `ß`,
/// where Rust's full mapping gives `SS`).
pub fn go_to_upper(s: &str) -> String {
    s.chars()
        .map(|c| {
            let mut up = c.to_uppercase();
            match (up.next(), up.next()) {
                (Some(u), None) => u,
                _ => c,
            }
        })
        .collect()
}

/// Go's `strings.ToLower`: rune by rune simple case mapping (`İ` → `i`).
pub fn go_to_lower(s: &str) -> String {
    s.chars()
        .map(|c| c.to_lowercase().next().unwrap_or(c))
        .collect()
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '\'' => out.push_str("&#39;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&#34;"),
            '\0' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

#[derive(PartialEq, PartialOrd)]
enum Basic<'a> {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'a str),
}

fn basic(v: &Value) -> Option<Basic<'_>> {
    match v {
        Value::Bool(b) => Some(Basic::Bool(*b)),
        Value::Int(i) => Some(Basic::Int(*i)),
        Value::Float(f) => Some(Basic::Float(*f)),
        Value::Str(s) => Some(Basic::Str(s)),
        _ => None,
    }
}

fn same_kind(a: &Basic<'_>, b: &Basic<'_>) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

fn eq(args: &[Value]) -> Result<Value, CallError> {
    let a = &args[0];
    if args.len() < 2 {
        return call_err("missing argument for comparison");
    }
    for b in &args[1..] {
        let valid = |v: &Value| !matches!(v, Value::Nil | Value::Missing);
        match (basic(a), basic(b)) {
            (Some(x), Some(y)) => {
                if !same_kind(&x, &y) {
                    return call_err("incompatible types for comparison");
                }
                if x == y {
                    return Ok(Value::Bool(true));
                }
            }
            _ if !valid(a) || !valid(b) => {}
            _ => {
                if a.type_name() != b.type_name() {
                    return call_err("incompatible types for comparison");
                }
                return call_err(format!(
                    "non-comparable type {}: {}",
                    a.go_string(),
                    a.type_name()
                ));
            }
        }
    }
    Ok(Value::Bool(false))
}

fn lt(a: &Value, b: &Value) -> Result<bool, CallError> {
    let (Some(x), Some(y)) = (basic(a), basic(b)) else {
        return call_err("invalid type for comparison");
    };
    if !same_kind(&x, &y) {
        return call_err("incompatible types for comparison");
    }
    if matches!(x, Basic::Bool(_)) {
        return call_err("invalid type for comparison");
    }
    Ok(x < y)
}

fn index(args: &[Value]) -> Result<Value, CallError> {
    let mut v = args[0].clone();
    for ix in &args[1..] {
        v = match (&v, ix) {
            (Value::Map(m), Value::Str(k)) => Value::Str(m.get(k).cloned().unwrap_or_default()),
            (Value::AnyMap(m), Value::Str(k)) => m.get(k).cloned().unwrap_or(Value::Missing),
            (Value::Samples(s), Value::Int(i)) => match usize::try_from(*i)
                .ok()
                .and_then(|i| s.get(i))
            {
                Some(x) => Value::Sample(x.clone()),
                None => return call_err(format!("error calling index: index out of range: {i}")),
            },
            (Value::Str(st), Value::Int(i)) => match usize::try_from(*i)
                .ok()
                .and_then(|i| st.as_bytes().get(i))
            {
                Some(b) => Value::Int(i64::from(*b)),
                None => return call_err(format!("error calling index: index out of range: {i}")),
            },
            (Value::Nil | Value::Missing, _) => return call_err("index of untyped nil"),
            (Value::Map(_) | Value::AnyMap(_), other) => {
                return call_err(format!(
                    "value has type {}; should be string",
                    other.type_name()
                ))
            }
            (Value::Samples(_) | Value::Str(_), _) => {
                return call_err("cannot index slice/array with nil")
            }
            (other, _) => {
                return call_err(format!("can't index item of type {}", other.type_name()))
            }
        };
    }
    Ok(v)
}

fn slice(args: &[Value]) -> Result<Value, CallError> {
    let Value::Str(st) = &args[0] else {
        return call_err(format!("can't slice item of type {}", args[0].type_name()));
    };
    let mut ix = Vec::new();
    for a in &args[1..] {
        match a {
            Value::Int(i) if *i >= 0 => ix.push(*i as usize),
            _ => return call_err("cannot index slice/array with type"),
        }
    }
    if ix.len() > 2 {
        return call_err("too many slice indexes: 3");
    }
    let lo = ix.first().copied().unwrap_or(0);
    let hi = ix.get(1).copied().unwrap_or(st.len());
    if lo > hi || hi > st.len() {
        return call_err(format!("index out of range: {}", hi.max(lo)));
    }
    match st.get(lo..hi) {
        Some(x) => Ok(Value::Str(x.to_string())),
        None => Ok(Value::Str(
            String::from_utf8_lossy(&st.as_bytes()[lo..hi]).into_owned(),
        )),
    }
}

/// Compiles `pat` with Go RE2's meaning (`\d`, `\w`, `\s`, `\b` ASCII-only).
fn regex(pat: &str) -> Result<regex::Regex, CallError> {
    regex::RegexBuilder::new(&promlite_model::re2_pattern(pat))
        .size_limit(1 << 20)
        .build()
        .map_err(|e| CallError::Call(format!("error parsing regexp: {e}")))
}

fn sample_of(v: &Value) -> Result<&Arc<Sample>, CallError> {
    match v {
        Value::Sample(s) => Ok(s),
        _ => call_err("runtime error: invalid memory address or nil pointer dereference"),
    }
}

/// Calls `name` on evaluated arguments.
pub(crate) fn call(name: &str, a: Vec<Value>, q: &dyn QueryFn) -> Result<Value, CallError> {
    let str_ = |s: String| Ok(Value::Str(s));
    match name {
        "not" => Ok(Value::Bool(!a[0].truth())),
        "len" => match &a[0] {
            Value::Str(s) => Ok(Value::Int(s.len() as i64)),
            Value::Map(m) => Ok(Value::Int(m.len() as i64)),
            Value::AnyMap(m) => Ok(Value::Int(m.len() as i64)),
            Value::Samples(m) => Ok(Value::Int(m.len() as i64)),
            other => call_err(format!("len of type {}", other.type_name())),
        },
        "index" => index(&a),
        "slice" => slice(&a),
        "print" => str_(sprint(&a)),
        "println" => str_(sprintln(&a)),
        "printf" => str_(sprintf(s(&a[0]), &a[1..])),
        "html" => str_(html_escape(&sprint(&a))),
        "js" => str_(js_escape(&sprint(&a))),
        "urlquery" => str_(query_escape(&sprint(&a))),
        "eq" => eq(&a),
        "ne" => eq(&a).map(|v| Value::Bool(!v.truth())),
        "lt" => lt(&a[0], &a[1]).map(Value::Bool),
        "le" => Ok(Value::Bool(lt(&a[0], &a[1])? || eq(&a)?.truth())),
        "gt" => Ok(Value::Bool(!lt(&a[0], &a[1])? && !eq(&a)?.truth())),
        "ge" => Ok(Value::Bool(!lt(&a[0], &a[1])?)),
        "query" => {
            let r = q.query(s(&a[0])).map_err(CallError::Call)?;
            Ok(Value::Samples(Arc::new(
                r.into_iter()
                    .map(|(ls, v)| {
                        Arc::new(Sample {
                            labels: ls
                                .iter()
                                .map(|l| (l.name.to_string(), l.value.to_string()))
                                .collect(),
                            value: v,
                        })
                    })
                    .collect(),
            )))
        }
        "first" => match &a[0] {
            Value::Samples(v) if !v.is_empty() => Ok(Value::Sample(v[0].clone())),
            _ => call_err("first() called on vector with no elements"),
        },
        "label" => Ok(Value::Str(
            sample_of(&a[1])?
                .labels
                .get(s(&a[0]))
                .cloned()
                .unwrap_or_default(),
        )),
        "value" => Ok(Value::Float(sample_of(&a[0])?.value)),
        "strvalue" => Ok(Value::Str(
            sample_of(&a[0])?
                .labels
                .get("__value__")
                .cloned()
                .unwrap_or_default(),
        )),
        "args" => Ok(Value::AnyMap(Arc::new(
            a.into_iter()
                .enumerate()
                .map(|(i, v)| (format!("arg{i}"), v))
                .collect::<BTreeMap<_, _>>(),
        ))),
        "reReplaceAll" => {
            let re = regex(s(&a[0]))?;
            str_(re.replace_all(s(&a[2]), s(&a[1])).into_owned())
        }
        "safeHtml" => str_(s(&a[0]).to_string()),
        "match" => Ok(Value::Bool(regex(s(&a[0]))?.is_match(s(&a[1])))),
        "title" => str_(title(s(&a[0]))),
        "toUpper" => str_(go_to_upper(s(&a[0]))),
        "toLower" => str_(go_to_lower(s(&a[0]))),
        "graphLink" => str_(format!(
            "/graph?g0.expr={}&g0.tab=0",
            query_escape(s(&a[0]))
        )),
        "tableLink" => str_(format!(
            "/graph?g0.expr={}&g0.tab=1",
            query_escape(s(&a[0]))
        )),
        "stripPort" => {
            let hp = s(&a[0]);
            let host = match hp.rsplit_once(':') {
                Some((h, p))
                    if !p.contains(']') && !h.contains(':')
                        || h.starts_with('[') && h.ends_with(']') =>
                {
                    h.trim_start_matches('[').trim_end_matches(']').to_string()
                }
                _ => hp.to_string(),
            };
            str_(host)
        }
        "stripDomain" => {
            let hp = s(&a[0]);
            let (host, port) = match hp.rsplit_once(':') {
                Some((h, p)) if !h.contains(':') => (h, Some(p)),
                _ => (hp, None),
            };
            if host.parse::<std::net::IpAddr>().is_ok() {
                return str_(hp.to_string());
            }
            let short = host.split('.').next().unwrap_or("");
            str_(match port {
                Some(p) => format!("{short}:{p}"),
                None => short.to_string(),
            })
        }
        "toTime" => {
            let v = to_float(&a[0])?;
            if v.is_nan() || v.is_infinite() {
                return call_err("value is NaN or Inf");
            }
            humanize_timestamp(v)
                .map(Value::Str)
                .map_err(CallError::Call)
        }
        "parseDuration" => crate::duration::parse_duration(s(&a[0]))
            .map(|ms| Value::Float(ms as f64 / 1000.0))
            .map_err(CallError::Call),
        "sortByLabel" => {
            let Value::Samples(v) = &a[1] else {
                return Ok(a[1].clone());
            };
            let l = s(&a[0]);
            let mut v: Vec<Arc<Sample>> = v.as_ref().clone();
            v.sort_by(|x, y| {
                x.labels
                    .get(l)
                    .map(String::as_str)
                    .unwrap_or("")
                    .cmp(y.labels.get(l).map(String::as_str).unwrap_or(""))
            });
            Ok(Value::Samples(Arc::new(v)))
        }
        "humanize" => str_(humanize(to_float(&a[0])?)),
        "humanize1024" => str_(humanize1024(to_float(&a[0])?)),
        "humanizeDuration" => str_(humanize_duration(to_float(&a[0])?)),
        "humanizePercentage" => str_(humanize_percentage(to_float(&a[0])?)),
        "humanizeTimestamp" => humanize_timestamp(to_float(&a[0])?)
            .map(Value::Str)
            .map_err(CallError::Call),
        "pathPrefix" | "externalURL" => str_(String::new()),
        other => Err(CallError::Plain(format!(
            "{other:?} is not a defined function"
        ))),
    }
}
