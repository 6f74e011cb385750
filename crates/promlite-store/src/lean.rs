//! The steady-state fast path for text-format scrapes.
//!
//! ADVICE FOR HACKERS. Most lines of a scrape repeat a series already in the
//! target's cache, whose bytes the full parser (`promlite_expfmt`) validated
//! when they first appeared. For such a line only the value and the optional
//! timestamp are new, so this module recognizes `KEY VALUE[ TIMESTAMP]\n`
//! where KEY is exactly a cached key, VALUE a plain decimal and TIMESTAMP plain
//! digits, and hands *every other line* to the full parser unchanged (with line
//! numbers and offsets adjusted). It must therefore accept only lines the full
//! parser accepts with the same result: when in doubt, return `None`. Text
//! format lines are independent of each other, which is what makes per-line
//! fallback exact; OpenMetrics always takes the full parser.

use crate::cache::ScrapeCache;

/// One line of a text body.
#[derive(Debug)]
pub(crate) enum Line<'b> {
    /// A sample line of a cached series.
    Hit {
        entry: u32,
        value: f64,
        timestamp: Option<i64>,
        line: usize,
    },
    /// Anything else: the line's bytes (newline included), its 1-based number
    /// and its byte offset in the body.
    Other {
        bytes: &'b [u8],
        line: usize,
        offset: usize,
    },
}

/// Lines of a text-format body.
#[derive(Debug)]
pub(crate) struct TextLines<'b> {
    body: &'b [u8],
    pos: usize,
    line: usize,
}

impl<'b> TextLines<'b> {
    pub(crate) fn new(body: &'b [u8]) -> Self {
        TextLines {
            body,
            pos: 0,
            line: 1,
        }
    }

    /// The next line, recognized against `cache` (`cursor`: see [`ScrapeCache::lookup`]).
    #[inline]
    pub(crate) fn next(&mut self, cache: &ScrapeCache, cursor: &mut usize) -> Option<Line<'b>> {
        let body = self.body;
        if self.pos >= body.len() {
            return None;
        }
        let start = self.pos;
        let line = self.line;
        // The line expected next: its key is compared in place and only the
        // bytes after it are searched for the newline (a key, the series bytes
        // of an earlier line, holds none).
        let rest = &body[start..];
        let mut cur = *cursor;
        if let Some((entry, n)) = cache.expected(rest, b' ', &mut cur) {
            let tail = &rest[n + 1..];
            let len = memchr::memchr(b'\n', tail).unwrap_or(tail.len());
            if let Some((value, timestamp)) = value_and_timestamp(&tail[..len]) {
                *cursor = cur;
                self.line += 1;
                self.pos = (start + n + 1 + len + 1).min(body.len());
                return Some(Line::Hit {
                    entry,
                    value,
                    timestamp,
                    line,
                });
            }
        }
        let end = memchr::memchr(b'\n', rest).map_or(body.len(), |i| start + i);
        self.line += 1;
        self.pos = (end + 1).min(body.len());
        if let Some((entry, value, timestamp)) = hit(&body[start..end], cache, cursor) {
            return Some(Line::Hit {
                entry,
                value,
                timestamp,
                line,
            });
        }
        Some(Line::Other {
            bytes: &body[start..self.pos],
            line,
            offset: start,
        })
    }
}

/// A line that is not the one expected next ([`TextLines::next`] tried that):
/// its series bytes looked up in `cache`.
#[inline]
fn hit(line: &[u8], cache: &ScrapeCache, cursor: &mut usize) -> Option<(u32, f64, Option<i64>)> {
    let end = series_end(line)?;
    let entry = cache.lookup(&line[..end], cursor)?;
    let (value, timestamp) = value_and_timestamp(&line[end + 1..])?;
    Some((entry, value, timestamp))
}

/// `VALUE[ TIMESTAMP]` (the rest of a line after its key and a space).
#[inline]
fn value_and_timestamp(rest: &[u8]) -> Option<(f64, Option<i64>)> {
    let (vtext, ts) = match memchr::memchr(b' ', rest) {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let value = plain_float(vtext)?;
    let timestamp = match ts {
        None => None,
        Some(x) => Some(plain_int(x)?),
    };
    Some((value, timestamp))
}

/// End of the series bytes (name and label block) when followed by a space.
fn series_end(line: &[u8]) -> Option<usize> {
    let space = memchr::memchr(b' ', line)?;
    let end = match memchr::memchr(b'{', &line[..space]) {
        None => space,
        Some(open) => {
            // Jump between quotes and the closing brace; inside a quoted value
            // jump between quotes and backslashes (which skip the next byte).
            let mut i = open + 1;
            loop {
                let j = i + memchr::memchr2(b'"', b'}', line.get(i..)?)?;
                if line[j] == b'}' {
                    break j + 1;
                }
                let mut k = j + 1;
                loop {
                    let q = k + memchr::memchr2(b'"', b'\\', line.get(k..)?)?;
                    if line[q] == b'"' {
                        k = q + 1;
                        break;
                    }
                    k = q + 2;
                }
                i = k;
            }
        }
    };
    (line.get(end) == Some(&b' ')).then_some(end)
}

/// `-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?`, converted exactly; anything else: `None`.
#[inline]
fn plain_float(s: &[u8]) -> Option<f64> {
    let mut i = 0;
    if s.first() == Some(&b'-') {
        i = 1;
    }
    let digits = |i: &mut usize| {
        let st = *i;
        while *i < s.len() && s[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > st
    };
    if !digits(&mut i) {
        return None;
    }
    if s.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return None;
        }
    }
    if matches!(s.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(s.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        if !digits(&mut i) {
            return None;
        }
    }
    if i != s.len() {
        return None;
    }
    // Small integers are the common case and exact.
    if s.len() <= 15 && s.iter().all(u8::is_ascii_digit) {
        return Some(s.iter().fold(0u64, |a, &d| a * 10 + u64::from(d - b'0')) as f64);
    }
    // A decimal without exponent whose digits make an integer m ≤ 2^53 (a
    // histogram's `_sum`): m and 10^k are exact doubles, so m / 10^k is
    // correctly rounded (Clinger's fast path).
    let (neg, body) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    if body.len() <= 19 && !body.iter().any(|&b| matches!(b, b'e' | b'E')) {
        let mut m = 0u64;
        let mut frac: Option<usize> = None;
        for &b in body {
            match b {
                b'.' => frac = Some(0),
                d => {
                    m = m * 10 + u64::from(d - b'0');
                    frac = frac.map(|k| k + 1);
                }
            }
        }
        const POW10: [f64; 19] = [
            1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
            1e16, 1e17, 1e18,
        ];
        if m <= 1 << 53 {
            if let Some(&p) = POW10.get(frac.unwrap_or(0)) {
                let v = m as f64 / p;
                return Some(if neg { -v } else { v });
            }
        }
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// `[0-9]{1,18}`.
#[inline]
fn plain_int(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 18 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0i64, |a, &d| a * 10 + i64::from(d - b'0')))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Every plain decimal parses to exactly what `str::parse` gives.
        #[test]
        fn plain_decimals_parse_exactly(
            neg in any::<bool>(),
            int in "[0-9]{1,12}",
            frac in proptest::option::of("[0-9]{1,12}"),
        ) {
            let s = format!("{}{int}{}", if neg { "-" } else { "" }, frac.map(|f| format!(".{f}")).unwrap_or_default());
            let want: f64 = s.parse().unwrap_or(f64::NAN);
            prop_assert_eq!(plain_float(s.as_bytes()).map(f64::to_bits), Some(want.to_bits()), "{}", s);
        }
    }

    /// The byte-at-a-time scan `series_end` replaced, as the reference.
    fn series_end_bytewise(line: &[u8]) -> Option<usize> {
        let space = memchr::memchr(b' ', line)?;
        let end = match memchr::memchr(b'{', &line[..space]) {
            None => space,
            Some(open) => {
                let (mut in_quote, mut escaped) = (false, false);
                let mut close = None;
                for (i, &b) in line.iter().enumerate().skip(open + 1) {
                    if escaped {
                        escaped = false;
                    } else if in_quote {
                        match b {
                            b'\\' => escaped = true,
                            b'"' => in_quote = false,
                            _ => {}
                        }
                    } else if b == b'"' {
                        in_quote = true;
                    } else if b == b'}' {
                        close = Some(i + 1);
                        break;
                    }
                }
                close?
            }
        };
        (line.get(end) == Some(&b' ')).then_some(end)
    }

    proptest! {
        #[test]
        fn series_end_equals_bytewise_scan(
            parts in proptest::collection::vec(prop_oneof![
                Just("a".to_string()), Just("{".to_string()), Just("}".to_string()),
                Just("\"".to_string()), Just("\\".to_string()), Just(" ".to_string()),
                Just("=".to_string()), Just(",".to_string()), "[a-z0-9 ]{0,4}",
            ], 0..24)
        ) {
            let line = parts.concat();
            prop_assert_eq!(series_end(line.as_bytes()), series_end_bytewise(line.as_bytes()));
        }
    }

    #[test]
    fn series_end_skips_quoted_braces_and_escapes() {
        let line = br#"m{a="x}\"y",b="\\"} 1"#;
        assert_eq!(series_end(line), Some(line.len() - 2));
        assert_eq!(series_end(br#"m{a="x} 1"#), None);
        assert_eq!(series_end(b"up 1"), Some(2));
    }

    #[test]
    fn plain_numbers_only() {
        assert_eq!(plain_float(b"0"), Some(0.0));
        assert_eq!(plain_float(b"-12.5e-3"), Some(-0.0125));
        assert_eq!(
            plain_float(b"123456789012345678"),
            Some(123456789012345678.0)
        );
        for s in [
            &b"NaN"[..],
            b"+Inf",
            b"+1",
            b".5",
            b"1.",
            b"1e",
            b"0x1p3",
            b"1_0",
            b"",
        ] {
            assert_eq!(plain_float(s), None, "{:?}", std::str::from_utf8(s));
        }
        assert_eq!(plain_int(b"1700000000000"), Some(1_700_000_000_000));
        assert_eq!(plain_int(b"-1"), None);
    }

    #[test]
    fn series_end_respects_quotes() {
        assert_eq!(series_end(b"a 1"), Some(1));
        assert_eq!(series_end(br#"a{x="} {"} 1"#), Some(10));
        assert_eq!(series_end(br#"a{x="\"}"} 1"#), Some(10));
        assert_eq!(series_end(b"a{x=\"1\"}1"), None);
    }

    #[test]
    fn only_exact_cached_keys_hit() {
        let mut c = ScrapeCache::default();
        let e = c.insert(br#"a{x="1"}"#, 7, 0, false);
        c.set_order(vec![e]);
        let mut cur = 0;
        assert_eq!(
            hit(br#"a{x="1"} 2 1000"#, &c, &mut cur),
            Some((e, 2.0, Some(1000)))
        );
        let mut cur = 0;
        assert_eq!(
            hit(br#"a{x="1"}  2"#, &c, &mut cur),
            None,
            "two spaces: full parser"
        );
        let mut cur = 0;
        assert_eq!(hit(br#"a{x="1"} NaN"#, &c, &mut cur), None);
        let mut cur = 5;
        assert_eq!(
            hit(br#"a{x="1"} 3"#, &c, &mut cur),
            Some((e, 3.0, None)),
            "by hash"
        );
        assert_eq!(hit(br#"a{x="2"} 3"#, &c, &mut cur), None);
    }
}
