//! Float formatting and parsing the way Prometheus (Go's `strconv`) does it.
//!
//! Three formats matter:
//! - the HTTP API writes sample values with Go's `'f', -1` format ([`format_value`]);
//! - Go client libraries write exposition values with `'g', -1` ([`format_go_g`]);
//! - Prometheus 3 normalizes `le`/`quantile` label values with
//!   `FormatOpenMetricsFloat` ([`format_openmetrics_float`]), `"1"` → `"1.0"`.

/// Formats a value as the Prometheus HTTP API does: `NaN`, `+Inf`, `-Inf`, or the
/// shortest decimal that round-trips, never in exponent form (Go's `'f', -1`).
///
/// ```
/// use promlite_model::format_value;
/// assert_eq!(format_value(0.1), "0.1");
/// assert_eq!(format_value(1e-7), "0.0000001");
/// assert_eq!(format_value(-0.0), "-0");
/// assert_eq!(format_value(f64::NAN), "NaN");
/// ```
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v == f64::INFINITY {
        "+Inf".to_string()
    } else if v == f64::NEG_INFINITY {
        "-Inf".to_string()
    } else {
        // Rust's Display prints the shortest round-tripping digits without an
        // exponent, which is exactly Go's strconv.FormatFloat(v, 'f', -1, 64).
        format!("{v}")
    }
}

/// Formats a value as Go's `strconv.FormatFloat(v, 'g', -1, 64)` does, with
/// Prometheus's spellings of the special values (`NaN`, `+Inf`, `-Inf`).
///
/// ```
/// use promlite_model::format_go_g;
/// assert_eq!(format_go_g(1e6), "1e+06");
/// assert_eq!(format_go_g(123456.0), "123456");
/// assert_eq!(format_go_g(9.999999999999999e-06), "9.999999999999999e-06");
/// assert_eq!(format_go_g(0.0001), "0.0001");
/// ```
pub fn format_go_g(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    // Shortest round-trip digits, from Rust's scientific formatting: "d.ddde±x".
    let sci = format!("{:e}", v.abs());
    let (mant, exp) = sci.split_once('e').expect("{:e} always has an exponent");
    let exp: i32 = exp.parse().expect("{:e} exponent is an integer");
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    let mut out = String::with_capacity(digits.len() + 8);
    if v.is_sign_negative() {
        out.push('-');
    }
    // Go (ftoa.go): for the shortest precision %e is chosen when the decimal
    // exponent is < -4 or >= 6 (`eprec = 6`), so 123456789 prints as 1.23456789e+08.
    if !(-4..6).contains(&exp) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        let e = exp.unsigned_abs();
        if e < 10 {
            out.push('0');
        }
        out.push_str(&e.to_string());
    } else if exp < 0 {
        out.push_str("0.");
        for _ in 0..(-exp - 1) {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let dp = (exp + 1) as usize;
        if digits.len() <= dp {
            out.push_str(&digits);
            for _ in digits.len()..dp {
                out.push('0');
            }
        } else {
            out.push_str(&digits[..dp]);
            out.push('.');
            out.push_str(&digits[dp..]);
        }
    }
    out
}

/// Formats a value as Prometheus's `FormatOpenMetricsFloat`: Go's `'g', -1`, with
/// `.0` appended when the result has neither a `.` nor an exponent. Prometheus 3
/// rewrites classic histogram `le` and summary `quantile` label values this way.
///
/// ```
/// use promlite_model::format_openmetrics_float;
/// assert_eq!(format_openmetrics_float(1.0), "1.0");
/// assert_eq!(format_openmetrics_float(0.005), "0.005");
/// assert_eq!(format_openmetrics_float(1e-8), "1e-08");
/// assert_eq!(format_openmetrics_float(f64::INFINITY), "+Inf");
/// ```
pub fn format_openmetrics_float(v: f64) -> String {
    let mut s = format_go_g(v);
    if v.is_finite() && !s.contains(['.', 'e']) {
        s.push_str(".0");
    }
    s
}

/// Parses a float the way Go's `strconv.ParseFloat(s, 64)` accepts it in exposition
/// values: decimal with optional sign and exponent, and case-insensitive `Inf`,
/// `+Inf`, `-Inf`, `Infinity` and `NaN`. Returns `None` for anything else.
/// Hexadecimal floats (`0x1p-2`) are accepted too.
///
/// ```
/// use promlite_model::parse_go_float;
/// assert_eq!(parse_go_float("1E+03"), Some(1000.0));
/// assert_eq!(parse_go_float("+Inf"), Some(f64::INFINITY));
/// assert!(parse_go_float("NaN").unwrap().is_nan());
/// assert_eq!(parse_go_float("0x1p-2"), Some(0.25));
/// assert_eq!(parse_go_float("1,5"), None);
/// ```
pub fn parse_go_float(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    if b.is_empty() {
        return None;
    }
    // Rust's parser accepts the same decimal forms and special names as Go's
    // (inf, infinity, nan, case-insensitive, optional sign), except for "+nan"/"-nan"
    // which Go rejects, and hex floats which Go accepts.
    let unsigned = match b[0] {
        b'+' | b'-' => &s[1..],
        _ => s,
    };
    if unsigned.len() > 2 && (unsigned.starts_with("0x") || unsigned.starts_with("0X")) {
        let v = parse_hex_float(&unsigned[2..])?;
        return Some(if b[0] == b'-' { -v } else { v });
    }
    if unsigned.eq_ignore_ascii_case("nan") && unsigned.len() != s.len() {
        return None;
    }
    s.parse::<f64>().ok()
}

/// Parses the part of a Go hexadecimal float after `0x`: hex digits with an optional
/// `.`, then a mandatory `p` exponent.
fn parse_hex_float(s: &str) -> Option<f64> {
    let (mant, exp) = s.split_once(['p', 'P'])?;
    let exp: i32 = exp.parse().ok()?;
    let (int_part, frac_part) = mant.split_once('.').unwrap_or((mant, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    let mut v = 0f64;
    for c in int_part.chars() {
        v = v * 16.0 + f64::from(c.to_digit(16)?);
    }
    let mut scale = 1.0 / 16.0;
    for c in frac_part.chars() {
        v += f64::from(c.to_digit(16)?) * scale;
        scale /= 16.0;
    }
    Some(v * 2f64.powi(exp))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected strings are Go's documented strconv.FormatFloat(v, 'g', -1, 64) outputs.
    #[test]
    fn go_g_format_matches_go() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "-0"),
            (1.0, "1"),
            (0.5, "0.5"),
            (100000.0, "100000"),
            (1e6, "1e+06"),
            (123456789.0, "1.23456789e+08"),
            (1.5e-5, "1.5e-05"),
            (0.00015, "0.00015"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (2.5, "2.5"),
            (-5e-324, "-5e-324"),
            (1e21, "1e+21"),
            (1e100, "1e+100"),
        ];
        for (v, want) in cases {
            assert_eq!(format_go_g(*v), *want, "formatting {v:e}");
        }
    }

    #[test]
    fn openmetrics_float_appends_point_zero_only_to_plain_integers() {
        assert_eq!(format_openmetrics_float(10.0), "10.0");
        assert_eq!(format_openmetrics_float(2.5), "2.5");
        assert_eq!(format_openmetrics_float(1e6), "1e+06");
        assert_eq!(format_openmetrics_float(f64::NEG_INFINITY), "-Inf");
        assert_eq!(format_openmetrics_float(f64::NAN), "NaN");
    }

    #[test]
    fn go_float_parsing_accepts_what_go_accepts() {
        assert_eq!(parse_go_float("-0"), Some(-0.0));
        assert_eq!(
            parse_go_float("9.999999999999999e-06"),
            Some(9.999999999999999e-06)
        );
        assert_eq!(parse_go_float("-Inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_go_float("inf"), Some(f64::INFINITY));
        assert_eq!(parse_go_float("Infinity"), Some(f64::INFINITY));
        assert!(parse_go_float("nan").unwrap().is_nan());
        assert_eq!(parse_go_float("+NaN"), None);
        assert_eq!(parse_go_float(""), None);
        assert_eq!(parse_go_float("1.2.3"), None);
        assert_eq!(parse_go_float(" 1"), None);
        assert_eq!(parse_go_float("0x1.8p1"), Some(3.0));
        assert_eq!(
            parse_go_float("0x10"),
            None,
            "Go requires a p exponent in hex floats"
        );
    }

    #[test]
    fn api_format_never_uses_exponents() {
        assert_eq!(format_value(1e-300).len(), 302);
        assert_eq!(format_value(123456789.0), "123456789");
        assert_eq!(format_value(f64::NEG_INFINITY), "-Inf");
    }
}
