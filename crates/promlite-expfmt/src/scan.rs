//! Byte-level building blocks: character classes, quoted strings, escapes, numbers.
//!
//! Everything here works on slices of one line (no `\n` inside) and never panics:
//! indexing goes through `get` or is guarded by a length check in the same expression.

use std::borrow::Cow;

const fn class(start: bool, colon: bool) -> [bool; 256] {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphabetic()
            || b == b'_'
            || (colon && b == b':')
            || (!start && b.is_ascii_digit());
        c += 1;
    }
    t
}

/// First byte of a legacy metric name: `[a-zA-Z_:]`.
pub(crate) static METRIC_START: [bool; 256] = class(true, true);
/// Later bytes of a legacy metric name: `[a-zA-Z0-9_:]`.
pub(crate) static METRIC_CONT: [bool; 256] = class(false, true);
/// First byte of a legacy label name: `[a-zA-Z_]`.
pub(crate) static LABEL_START: [bool; 256] = class(true, false);
/// Later bytes of a legacy label name: `[a-zA-Z0-9_]`.
pub(crate) static LABEL_CONT: [bool; 256] = class(false, false);

#[inline]
pub(crate) fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Index of the first non-blank byte at or after `i`.
#[inline]
pub(crate) fn skip_blanks(line: &[u8], mut i: usize) -> usize {
    while i < line.len() && is_blank(line[i]) {
        i += 1;
    }
    i
}

/// Index just past the run of `table` bytes starting at `i`.
#[inline]
pub(crate) fn scan_class(line: &[u8], mut i: usize, table: &[bool; 256]) -> usize {
    while i < line.len() && table[usize::from(line[i])] {
        i += 1;
    }
    i
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Flags (high bit of each byte) where a byte of `w` equals `b`. Not exact above the
/// first match (borrows), which is all `trailing_zeros` needs.
#[inline(always)]
fn has_byte(w: u64, b: u8) -> u64 {
    let x = w ^ (LO * u64::from(b));
    x.wrapping_sub(LO) & !x & HI
}

/// Index just past the legacy metric name characters (`[a-zA-Z0-9_:]`) starting at `i`.
#[inline]
pub(crate) fn scan_metric_name(line: &[u8], i: usize) -> usize {
    scan_name::<true>(line, i)
}

/// Index just past the legacy label name characters (`[a-zA-Z0-9_]`) starting at `i`.
#[inline]
pub(crate) fn scan_label_name(line: &[u8], i: usize) -> usize {
    scan_name::<false>(line, i)
}

/// Index just past the run of name characters starting at `i`: `[a-zA-Z0-9_]`, plus `:`
/// when `COLON`.
///
/// Classifies eight bytes per step (SWAR): for an ASCII byte `b`, adding `0x80 - c`
/// sets its high bit exactly when `b >= c`, without carrying into the next byte, so
/// ranges are two such tests. A byte >= 0x80 may carry into the bytes above it, but it
/// is itself the first non-name byte, so only bytes below it are read.
#[inline]
fn scan_name<const COLON: bool>(line: &[u8], mut i: usize) -> usize {
    while let Some(chunk) = line.get(i..i + 8) {
        let Ok(bytes) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        let w = u64::from_le_bytes(bytes);
        let ge = |c: u8| w.wrapping_add(LO * u64::from(0x80 - c)) & HI;
        let digits_end = if COLON { b':' + 1 } else { b'9' + 1 };
        let ok = (ge(b'0') & !ge(digits_end))
            | (ge(b'A') & !ge(b'Z' + 1))
            | (ge(b'_') & !ge(b'_' + 1))
            | (ge(b'a') & !ge(b'z' + 1));
        let bad = (!ok & HI) | (w & HI);
        if bad != 0 {
            return i + (bad.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    let table = if COLON { &METRIC_CONT } else { &LABEL_CONT };
    scan_class(line, i, table)
}

/// Scans a quoted string whose opening `"` is at `open`. Returns the index of the closing
/// `"` and whether a backslash occurs inside, or `None` when the line ends first.
///
/// Looks at eight bytes per step (SWAR) for `"` or `\`: label values are mostly too
/// short for memchr's setup to pay off, and long enough for a byte loop to show.
#[inline]
pub(crate) fn scan_quoted(line: &[u8], open: usize) -> Option<(usize, bool)> {
    scan_quoted_impl::<false>(line, open)
}

/// [`scan_quoted`] on a slice that may run past the end of the line: `None` as soon as a
/// `\n` comes before the closing quote (escaped or not), so the string never spans lines.
#[inline]
pub(crate) fn scan_quoted_in_line(line: &[u8], open: usize) -> Option<(usize, bool)> {
    scan_quoted_impl::<true>(line, open)
}

#[inline(always)]
fn scan_quoted_impl<const NL: bool>(line: &[u8], open: usize) -> Option<(usize, bool)> {
    let mut i = open + 1;
    let mut escaped = false;
    loop {
        while let Some(chunk) = line.get(i..i + 8) {
            let Ok(bytes) = <[u8; 8]>::try_from(chunk) else {
                break;
            };
            let w = u64::from_le_bytes(bytes);
            let mut m = has_byte(w, b'"') | has_byte(w, b'\\');
            if NL {
                m |= has_byte(w, b'\n');
            }
            if m != 0 {
                i += (m.trailing_zeros() / 8) as usize;
                break;
            }
            i += 8;
        }
        match *line.get(i)? {
            b'"' => return Some((i, escaped)),
            b'\\' => {
                // A backslash escapes the next byte, whatever it is.
                if NL && line.get(i + 1) == Some(&b'\n') {
                    return None;
                }
                escaped = true;
                i += 2;
            }
            b'\n' if NL => return None,
            _ => i += 1,
        }
    }
}

/// Decodes the escapes of a label value or quoted name: `\\`, `\"` and `\n`. Any other
/// backslash sequence is kept as written, as Prometheus does.
pub(crate) fn unescape_label(s: &str) -> Cow<'_, str> {
    unescape(s, true)
}

/// Decodes a HELP text: `\\` and `\n` (and `\"` in OpenMetrics).
pub(crate) fn unescape_help(s: &str, quote: bool) -> Cow<'_, str> {
    unescape(s, quote)
}

fn unescape(s: &str, quote: bool) -> Cow<'_, str> {
    if memchr::memchr(b'\\', s.as_bytes()).is_none() {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('"') if quote => out.push('"'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    Cow::Owned(out)
}

/// Exact powers of ten as f64 (all of them are exactly representable).
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Parses a sample value as Go's `strconv.ParseFloat` does.
///
/// Fast path (Clinger): an optional `-`, at most 15 digits and at most one `.`. The digits
/// form an integer below 2^53 and the divisor is an exact power of ten, so one correctly
/// rounded IEEE division gives the correctly rounded result. Everything else goes to
/// [`promlite_model::parse_go_float`].
#[inline]
pub(crate) fn parse_value(b: &[u8]) -> Option<f64> {
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        _ => (false, b),
    };
    if !digits.is_empty() && digits.len() <= 16 {
        let mut m: u64 = 0;
        let mut n = 0usize;
        let mut frac = 0usize;
        let mut dot = false;
        let mut ok = true;
        for &c in digits {
            if c.is_ascii_digit() {
                m = m * 10 + u64::from(c - b'0');
                n += 1;
                frac += usize::from(dot);
            } else if c == b'.' && !dot {
                dot = true;
            } else {
                ok = false;
                break;
            }
        }
        if ok && n > 0 && n <= 15 {
            // n <= 15, so m < 10^15 < 2^53 (exact) and frac <= 15 indexes POW10.
            #[allow(clippy::cast_precision_loss)]
            let v = m as f64 / POW10[frac];
            return Some(if neg { -v } else { v });
        }
    }
    std::str::from_utf8(b)
        .ok()
        .and_then(promlite_model::parse_go_float)
}

/// Parses a text-format timestamp: an integer number of milliseconds, as Go's
/// `strconv.ParseInt(s, 10, 64)` accepts it.
#[inline]
pub(crate) fn parse_int_ms(b: &[u8]) -> Option<i64> {
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() {
        return None;
    }
    // Accumulate negatively so that i64::MIN parses.
    let mut v: i64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_sub(i64::from(c - b'0'))?;
    }
    if neg {
        Some(v)
    } else {
        v.checked_neg()
    }
}

/// The fast path of [`parse_value`] run straight on the line: an optional `-`, 1 to 15
/// digits and at most one `.`, ended by a blank, a `\n` or the end of the slice. Returns the value
/// and the index of that end, or `None` for any other token (which [`parse_value`] then
/// parses, or rejects). The arithmetic is the same as in [`parse_value`].
#[inline(always)]
pub(crate) fn parse_value_fast(line: &[u8], start: usize) -> Option<(f64, usize)> {
    let neg = line.get(start) == Some(&b'-');
    let mut i = start + usize::from(neg);
    let mut m: u64 = 0;
    let mut n = 0usize;
    let mut frac = 0usize;
    let mut dot = false;
    loop {
        match line.get(i) {
            Some(&c) if c.is_ascii_digit() => {
                if n == 15 {
                    return None;
                }
                m = m * 10 + u64::from(c - b'0');
                n += 1;
                frac += usize::from(dot);
            }
            Some(b'.') if !dot => dot = true,
            None | Some(b' ' | b'\t' | b'\n') => break,
            Some(_) => return None,
        }
        i += 1;
    }
    if n == 0 {
        return None;
    }
    // n <= 15, so m < 10^15 < 2^53 (exact, and the signed conversion is one
    // instruction) and frac <= 15 indexes POW10.
    #[allow(clippy::cast_precision_loss, clippy::cast_possible_wrap)]
    let mut v = m as i64 as f64;
    if frac != 0 {
        v /= *POW10.get(frac)?;
    }
    Some((if neg { -v } else { v }, i))
}

/// Parses an OpenMetrics timestamp, a decimal number of seconds such as `1520879607.789`
/// or `1.5e9`, into milliseconds, exactly: the decimal digits are shifted by three places
/// in integer arithmetic (no float multiply, so `0.001` is 1 ms, not 0.99999 ms).
/// Digits below a millisecond are truncated toward zero, as Go's `int64(f * 1000)` does.
/// `NaN`, `Inf` and values outside `i64` milliseconds are rejected.
pub(crate) fn parse_seconds_ms(b: &[u8]) -> Option<i64> {
    let (neg, rest) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    let (mant, exp) = match rest.iter().position(|&c| c == b'e' || c == b'E') {
        Some(k) => (&rest[..k], Some(&rest[k + 1..])),
        None => (rest, None),
    };
    let (int_part, frac_part) = match mant.iter().position(|&c| c == b'.') {
        Some(k) => (&mant[..k], &mant[k + 1..]),
        None => (mant, &mant[mant.len()..]),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    let mut exp10: i64 = match exp {
        None => 0,
        Some(e) => {
            let (eneg, ed) = match e.first() {
                Some(b'-') => (true, &e[1..]),
                Some(b'+') => (false, &e[1..]),
                _ => (false, e),
            };
            if ed.is_empty() || !ed.iter().all(u8::is_ascii_digit) {
                return None;
            }
            // Saturate: anything past ±10^6 is out of range or zero either way.
            let mut v: i64 = 0;
            for &c in ed {
                v = (v * 10 + i64::from(c - b'0')).min(1_000_000);
            }
            if eneg {
                -v
            } else {
                v
            }
        }
    };
    // Milliseconds: three more decimal places.
    exp10 += 3;
    let mut m: i128 = 0;
    let mut sig = 0usize;
    for (k, &c) in int_part.iter().chain(frac_part.iter()).enumerate() {
        if !c.is_ascii_digit() {
            return None;
        }
        if k >= int_part.len() {
            exp10 -= 1;
        }
        if sig >= 36 {
            // Digits this far below the leading one are far below a millisecond for any
            // result that fits in i64; dropping them only truncates further.
            exp10 += 1;
            continue;
        }
        if m != 0 || c != b'0' {
            sig += 1;
        }
        m = m * 10 + i128::from(c - b'0');
    }
    let v = if exp10 >= 0 {
        if m == 0 {
            0
        } else {
            let p = u32::try_from(exp10).ok().filter(|&p| p <= 38)?;
            m.checked_mul(10i128.checked_pow(p)?)?
        }
    } else {
        let p = u32::try_from(-exp10).ok()?;
        if p > 38 {
            0
        } else {
            m / 10i128.pow(p)
        }
    };
    let v = if neg { -v } else { v };
    i64::try_from(v).ok()
}

/// The length of the longest common prefix of `a` and `b`, compared sixteen
/// bytes at a time: how the parser measures what two lines' label blocks
/// share (see [`SampleEvent::previous_shared`](crate::SampleEvent::previous_shared)),
/// and what a caller comparing series bytes needs for
/// [`SampleEvent::labels_skipping`](crate::SampleEvent::labels_skipping).
///
/// ```
/// assert_eq!(promlite_expfmt::common_prefix(b"m{a=\"1\",le=\"5\"}", b"m{a=\"1\",le=\"10\"}"), 12);
/// assert_eq!(promlite_expfmt::common_prefix(b"abc", b"abc"), 3);
/// assert_eq!(promlite_expfmt::common_prefix(b"", b"x"), 0);
/// ```
#[inline]
pub fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut i = 0;
    for (x, y) in a.chunks_exact(16).zip(b.chunks_exact(16)) {
        let (mut wx, mut wy) = ([0u8; 16], [0u8; 16]);
        wx.copy_from_slice(x);
        wy.copy_from_slice(y);
        let d = u128::from_le_bytes(wx) ^ u128::from_le_bytes(wy);
        if d != 0 {
            return i + (d.trailing_zeros() / 8) as usize;
        }
        i += 16;
    }
    i + a[i..]
        .iter()
        .zip(&b[i..])
        .take_while(|(x, y)| x == y)
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_value_path_agrees_with_correct_rounding() {
        // Each expected value is the f64 nearest to the decimal, as Rust's parser gives it.
        for s in [
            "0",
            "-0",
            "1",
            "0.1",
            "0.3",
            "123456789012345",
            "1.5",
            "0.000000000000001",
            "99999.99999",
            "1.",
            ".5",
            "-2.25",
        ] {
            let want: f64 = s.parse().unwrap();
            let got = parse_value(s.as_bytes()).unwrap();
            assert_eq!(got.to_bits(), want.to_bits(), "{s}");
        }
        assert!(parse_value(b"-0").unwrap().is_sign_negative());
        assert_eq!(parse_value(b"1E+03"), Some(1000.0));
        assert_eq!(
            parse_value(b"9.999999999999999e-06"),
            Some(9.999999999999999e-06)
        );
        assert_eq!(parse_value(b"-5e-324"), Some(-5e-324));
        assert_eq!(parse_value(b"+Inf"), Some(f64::INFINITY));
        assert_eq!(parse_value(b"-Inf"), Some(f64::NEG_INFINITY));
        assert!(parse_value(b"NaN").unwrap().is_nan());
        assert_eq!(parse_value(b"."), None);
        assert_eq!(parse_value(b"-"), None);
        assert_eq!(parse_value(b"1.2.3"), None);
        assert_eq!(parse_value(b"1,5"), None);
    }

    #[test]
    fn fast_value_scan_agrees_with_parse_value() {
        for s in [
            "0",
            "-0",
            "1",
            "0.1",
            "0.3",
            "123456789012345",
            "1.5",
            "0.000000000000001",
            "99999.99999",
            "1.",
            ".5",
            "-2.25",
            "1234567890123456",
            "1e3",
            "+1",
            "-",
            ".",
            "1.2.3",
            "--1",
            "NaN",
            "+Inf",
            "1_0",
            "12a",
        ] {
            let want = parse_value(s.as_bytes());
            for tail in ["", " 17", "\t"] {
                let line = format!("{s}{tail}");
                if let Some((v, end)) = parse_value_fast(line.as_bytes(), 0) {
                    assert_eq!(Some(v.to_bits()), want.map(f64::to_bits), "{line:?}");
                    assert_eq!(end, s.len(), "{line:?}");
                }
            }
        }
        // The common forms do take the fast path.
        assert_eq!(parse_value_fast(b"x 12.5 7", 2), Some((12.5, 6)));
        assert_eq!(
            parse_value_fast(b"-0", 0).map(|v| v.0.is_sign_negative()),
            Some(true)
        );
        assert_eq!(parse_value_fast(b"1e3", 0), None);
        assert_eq!(parse_value_fast(b"1234567890123456", 0), None);
    }

    #[test]
    fn integer_timestamps() {
        assert_eq!(parse_int_ms(b"1782468875486"), Some(1_782_468_875_486));
        assert_eq!(parse_int_ms(b"-1"), Some(-1));
        assert_eq!(parse_int_ms(b"+7"), Some(7));
        assert_eq!(parse_int_ms(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_int_ms(b"9223372036854775808"), None);
        assert_eq!(parse_int_ms(b"1.5"), None);
        assert_eq!(parse_int_ms(b""), None);
        assert_eq!(parse_int_ms(b"-"), None);
    }

    #[test]
    fn second_timestamps_convert_exactly() {
        // 1520879607.789 s = 1520879607789 ms by hand; 0.001 s = 1 ms (a float multiply
        // gives 0.9999999999999999 * ... for some such inputs).
        assert_eq!(parse_seconds_ms(b"1520879607.789"), Some(1_520_879_607_789));
        assert_eq!(parse_seconds_ms(b"0.001"), Some(1));
        assert_eq!(
            parse_seconds_ms(b"1.0005"),
            Some(1000),
            "sub-ms digits truncate"
        );
        assert_eq!(parse_seconds_ms(b"-1.0005"), Some(-1000), "toward zero");
        assert_eq!(parse_seconds_ms(b"1.5e9"), Some(1_500_000_000_000));
        assert_eq!(parse_seconds_ms(b"15E-1"), Some(1500));
        assert_eq!(parse_seconds_ms(b"1"), Some(1000));
        assert_eq!(parse_seconds_ms(b"0"), Some(0));
        assert_eq!(parse_seconds_ms(b"1e-1000000000"), Some(0));
        assert_eq!(parse_seconds_ms(b"1e30"), None);
        assert_eq!(parse_seconds_ms(b"0e999999999"), Some(0));
        assert_eq!(parse_seconds_ms(b"NaN"), None);
        assert_eq!(parse_seconds_ms(b"+Inf"), None);
        assert_eq!(parse_seconds_ms(b"."), None);
        assert_eq!(parse_seconds_ms(b"1e"), None);
        assert_eq!(
            parse_seconds_ms(b"1520879607.789000000000000000000000000000000000000001"),
            Some(1_520_879_607_789)
        );
    }

    #[test]
    fn unescaping_keeps_unknown_sequences() {
        assert_eq!(unescape_label(r#"a\\b\"c\nd"#), "a\\b\"c\nd");
        assert_eq!(unescape_label(r"\t"), r"\t");
        assert!(matches!(unescape_label("plain"), Cow::Borrowed("plain")));
        assert_eq!(unescape_help(r#"say \"hi\""#, false), r#"say \"hi\""#);
        assert_eq!(unescape_help(r#"say \"hi\""#, true), r#"say "hi""#);
    }

    #[test]
    fn swar_name_scan_agrees_with_the_table() {
        // Every byte value at every position of a 20-byte name.
        for bad in 0..=255u8 {
            for pos in 0..20 {
                let mut line = b"abcdefghij_:XYZ0123456789".to_vec();
                line[pos] = bad;
                let want = scan_class(&line, 0, &METRIC_CONT);
                assert_eq!(scan_metric_name(&line, 0), want, "byte {bad:#x} at {pos}");
                let want = scan_class(&line, 0, &LABEL_CONT);
                assert_eq!(scan_label_name(&line, 0), want, "byte {bad:#x} at {pos}");
            }
        }
    }

    #[test]
    fn quoted_scan_skips_escaped_quotes() {
        let line = br#""a\"b" rest"#;
        assert_eq!(scan_quoted(line, 0), Some((5, true)));
        assert_eq!(scan_quoted(br#""abc"#, 0), None);
        assert_eq!(scan_quoted(br#""abc\"#, 0), None);
        assert_eq!(scan_quoted(br#""""#, 0), Some((1, false)));
        // Within a line only: a newline (escaped or not) ends the search.
        assert_eq!(scan_quoted_in_line(b"\"ab\\\"c\" 1\n", 0), Some((6, true)));
        assert_eq!(scan_quoted_in_line(b"\"abcdefghij\nk\"", 0), None);
        assert_eq!(scan_quoted_in_line(b"\"a\nk\"", 0), None);
        assert_eq!(scan_quoted_in_line(b"\"abc\\\n\"", 0), None);
        assert_eq!(scan_quoted(b"\"abc\\\n\"", 0), Some((6, true)));
    }
}
