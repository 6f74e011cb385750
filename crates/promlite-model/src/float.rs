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
        let d = shortest_digits(v);
        let digits = d.digits.as_bytes();
        let mut out = String::with_capacity(digits.len() + 24);
        if v.is_sign_negative() {
            out.push('-');
        }
        if d.exp < 0 {
            out.push_str("0.");
            for _ in 0..(-d.exp - 1) {
                out.push('0');
            }
            out.push_str(&d.digits);
        } else {
            let int_len = d.exp as usize + 1;
            if digits.len() <= int_len {
                out.push_str(&d.digits);
                for _ in digits.len()..int_len {
                    out.push('0');
                }
            } else {
                out.push_str(&d.digits[..int_len]);
                out.push('.');
                out.push_str(&d.digits[int_len..]);
            }
        }
        out
    }
}

/// The shortest decimal digits that read back as a double, chosen exactly as Go's
/// `strconv` chooses them: `digits` (no leading or trailing zeros; `"0"` for zero)
/// times `10^exp` with the decimal point after the first digit.
struct Shortest {
    digits: String,
    exp: i32,
}

/// Go's shortest formatting (`strconv/ftoa.go`, `roundShortest` and its Ryū twin)
/// finds the fewest digits that read back as `v` and, among those candidates, the
/// one nearest to `v`; when `v` lies exactly halfway between two of them it takes
/// the one whose last digit is even. Rust's shortest formatting agrees on the length
/// and on the nearest candidate but breaks exact ties the other way sometimes
/// (1698289672762573.25 → Rust `...573.3`, Go `...573.2`), so ties are settled here.
fn shortest_digits(v: f64) -> Shortest {
    let a = v.abs();
    if a == 0.0 {
        return Shortest {
            digits: "0".to_string(),
            exp: 0,
        };
    }
    let sci = format!("{a:e}");
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    let n = digits.len() as i32;
    // v = m * 2^q with m odd. Its exact decimal expansion ends with a 5 at 10^q
    // (for q < 0). v is exactly halfway between two n-digit candidates iff that 5
    // sits one place below the candidates' last digit, at 10^(exp - n).
    // (For q >= 0 the half gap 5*10^q exceeds half an ulp, so no tie reads back.)
    let bits = a.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1u64 << 52) - 1);
    let (m, q) = if biased == 0 {
        (frac, -1074)
    } else {
        (frac | (1u64 << 52), biased - 1075)
    };
    let q = q + m.trailing_zeros() as i32;
    let last_odd = digits.as_bytes()[digits.len() - 1] % 2 == 1;
    if q >= 0 || q != exp - n || !last_odd {
        return Shortest { digits, exp };
    }
    // A tie, and Rust took the odd candidate: take the even neighbour if it reads
    // back as v (it may not, next to a power of two where the gap below is halved).
    // The exact value has n+1 significant digits, so this prints it exactly.
    let exact = format!("{a:.*e}", n as usize);
    let (emant, eexp) = exact.split_once('e').unwrap_or((&exact, "0"));
    let eexp: i32 = eexp.parse().unwrap_or(exp);
    let edigits: String = emant.chars().filter(|c| *c != '.').collect();
    let lower: u64 = match edigits[..edigits.len() - 1].parse() {
        Ok(x) => x,
        Err(_) => return Shortest { digits, exp },
    };
    // Candidates below and above v, as integers scaled by 10^(eexp - n + 1).
    let chosen: u64 = digits.parse().unwrap_or(0);
    let chosen_scaled = if exp == eexp { chosen } else { chosen * 10 };
    let other = if chosen_scaled == lower {
        lower + 1
    } else {
        lower
    };
    let other_text = format!("{other}e{}", eexp - n + 1);
    if other_text.parse::<f64>() != Ok(a) {
        return Shortest { digits, exp };
    }
    let mut od = other.to_string();
    let oexp = eexp + (od.len() as i32 - n);
    while od.len() > 1 && od.ends_with('0') {
        od.pop();
    }
    Shortest {
        digits: od,
        exp: oexp,
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
    let Shortest { digits, exp } = shortest_digits(v);
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
