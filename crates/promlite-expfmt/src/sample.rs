//! Sample events and their lazily decoded labels.

use std::borrow::Cow;

use crate::scan::{
    is_blank, scan_class, scan_label_name, scan_quoted, skip_blanks, unescape_label, LABEL_CONT,
};

/// One sample line, borrowing the input.
///
/// The parser has already validated the whole line, so the accessors below only walk
/// bytes that are known to be well formed; none of them allocates unless a name or value
/// contains a backslash escape.
#[derive(Debug, Clone)]
pub struct SampleEvent<'a> {
    /// Metric name and label block exactly as written (validated UTF-8).
    pub(crate) series: &'a str,
    /// The metric name as written: unquoted, or the inside of its quotes.
    pub(crate) name: &'a str,
    /// Whether `name` contains a backslash escape.
    pub(crate) name_escaped: bool,
    /// Byte index in `series` where the label pairs start (past the quoted metric name,
    /// if any); `series.len()` when there is no label block.
    pub(crate) labels_from: usize,
    /// Whether the label block has the plain shape `{name="value",...}`: legacy names,
    /// no blanks (or there is no label block).
    pub(crate) plain: bool,
    /// Where the first pairs of a plain block are, recorded while validating it.
    pub(crate) spans: Spans,
    /// The series bytes of the sample line whose label block the parser
    /// compared this one's with, and how many bytes after the `{` they share.
    pub(crate) previous: Option<(&'a [u8], usize)>,
    /// The sample value.
    pub value: f64,
    /// The timestamp in milliseconds since the epoch, if the line has one.
    /// OpenMetrics' float seconds are converted exactly (decimal arithmetic, sub-millisecond
    /// digits truncated toward zero).
    pub timestamp: Option<i64>,
    /// The OpenMetrics exemplar after ` # `, if any.
    pub exemplar: Option<Exemplar<'a>>,
    /// 1-based line number of the sample.
    pub line: usize,
}

/// Equal when the lines say the same thing: what the parser recorded on the
/// way (pair offsets, the comparison with an earlier line) is left out.
impl PartialEq for SampleEvent<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.series == other.series
            && self.name == other.name
            && self.name_escaped == other.name_escaped
            && self.labels_from == other.labels_from
            && self.plain == other.plain
            && self.value == other.value
            && self.timestamp == other.timestamp
            && self.exemplar == other.exemplar
            && self.line == other.line
    }
}

impl<'a> SampleEvent<'a> {
    /// The metric name and label block exactly as written, e.g.
    /// `http_requests_total{code="200"}`: a cheap, allocation-free key for caching the
    /// series (the same series written the same way gives the same bytes).
    #[inline]
    pub fn series_bytes(&self) -> &'a [u8] {
        self.series.as_bytes()
    }

    /// [`series_bytes`](Self::series_bytes) as a `&str` (it is always valid UTF-8).
    #[inline]
    pub fn series(&self) -> &'a str {
        self.series
    }

    /// The metric name, with escapes decoded if it was quoted and has any.
    #[inline]
    pub fn name(&self) -> Cow<'a, str> {
        if self.name_escaped {
            unescape_label(self.name)
        } else {
            Cow::Borrowed(self.name)
        }
    }

    /// The label pairs in written order, empty values included, escapes decoded (owned
    /// only when a backslash is present). The metric name is not among them.
    #[inline]
    pub fn labels(&self) -> LabelIter<'a> {
        LabelIter {
            s: self.series,
            pos: self.labels_from,
            plain: self.plain,
            spans: self.spans,
            k: 0,
        }
    }

    /// The byte index in [`series_bytes`](Self::series_bytes) where the label
    /// pairs start (just past the `{`, or past a quoted metric name and its
    /// comma); the length of the series bytes when there is no label block.
    #[inline]
    pub fn labels_offset(&self) -> usize {
        self.labels_from
    }

    /// The series bytes of an earlier sample line of the same parse (the last
    /// one read with a plain label block, usually the line before) and how
    /// many bytes of label pairs, from the start of each line's
    /// [`labels_offset`](Self::labels_offset), the two share; `None` if the
    /// parser did not compare them. The parser compares them anyway to
    /// validate only the pairs that differ, so a caller that decoded that
    /// line need not compare the bytes again (see
    /// [`labels_skipping`](Self::labels_skipping)).
    ///
    /// ```
    /// use promlite_expfmt::{Event, Format, Parser};
    /// let body = b"m{a=\"1\",le=\"5\"} 1\nm{a=\"1\",le=\"10\"} 1\n";
    /// let mut p = Parser::new(body, Format::Text);
    /// let Some(Ok(Event::Sample(first))) = p.next_event() else { panic!() };
    /// let Some(Ok(Event::Sample(second))) = p.next_event() else { panic!() };
    /// let (prev, shared) = second.previous_shared().unwrap();
    /// assert_eq!(prev, first.series_bytes());
    /// assert_eq!(shared, "a=\"1\",le=\"".len());
    /// ```
    #[inline]
    pub fn previous_shared(&self) -> Option<(&'a [u8], usize)> {
        self.previous
    }

    /// Skips the leading label pairs that lie wholly in the first `prefix` bytes
    /// of [`series_bytes`](Self::series_bytes), through the value's closing
    /// quote: returns how many were skipped and an iterator over the rest.
    ///
    /// For a caller that has already decoded a line whose series bytes share
    /// those `prefix` bytes: the skipped pairs are the same as that line's
    /// first pairs (a pair's bytes decide where it ends), so they need not be
    /// decoded or compared again. Only pairs whose offsets the parser
    /// recorded are skipped (the first eight of a plain block); a block that
    /// is not plain skips none.
    ///
    /// ```
    /// use promlite_expfmt::{Event, Format, Parser};
    /// let body = b"m{a=\"1\",b=\"2\",le=\"5\"} 1\nm{a=\"1\",b=\"2\",le=\"10\"} 1\n";
    /// let mut p = Parser::new(body, Format::Text);
    /// let Some(Ok(Event::Sample(first))) = p.next_event() else { panic!() };
    /// let Some(Ok(Event::Sample(second))) = p.next_event() else { panic!() };
    /// let same = promlite_expfmt::common_prefix(first.series_bytes(), second.series_bytes());
    /// let (skipped, rest) = second.labels_skipping(same);
    /// assert_eq!(skipped, 2);
    /// let rest: Vec<_> = rest.map(|(n, v)| format!("{n}={v}")).collect();
    /// assert_eq!(rest, ["le=10"]);
    /// ```
    #[inline]
    pub fn labels_skipping(&self, prefix: usize) -> (usize, LabelIter<'a>) {
        let mut it = self.labels();
        if !self.plain {
            return (0, it);
        }
        let mut k = 0u8;
        while k < self.spans.n {
            let close = usize::from(self.spans.at[usize::from(k)][1]);
            if close >= prefix {
                break;
            }
            k += 1;
            // Past the closing quote and the `,` or `}` after it.
            it.pos = close + 2;
        }
        it.k = k;
        (usize::from(k), it)
    }
}

/// How many pairs of a plain label block have their offsets recorded.
pub(crate) const SPANS: usize = 8;

/// Offsets of the first [`SPANS`] pairs of a plain label block, recorded by the parser so
/// that [`LabelIter`] can hand out pairs without walking the bytes again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Spans {
    /// How many pairs are recorded (the first `n` of the block).
    pub(crate) n: u8,
    /// Bit `k`: value `k` contains a backslash.
    pub(crate) escaped: u8,
    /// Pair `k`: the index in `series` of its `=` and of its value's closing quote. The
    /// pair's name starts at `labels_from` (pair 0) or two bytes past the previous
    /// closing quote (past `",`).
    pub(crate) at: [[u16; 2]; SPANS],
}

impl Spans {
    /// Records a pair whose `=` is at `eq` and whose closing quote is at `close` (both
    /// relative to the start of the series). Does nothing once [`SPANS`] pairs are
    /// recorded or when an offset does not fit in `u16`; offsets only grow, so the
    /// recorded pairs are always the first ones of the block.
    #[inline(always)]
    pub(crate) fn push(&mut self, eq: usize, close: usize, escaped: bool) {
        let k = usize::from(self.n);
        if let (Some(slot), Ok(e), Ok(c)) =
            (self.at.get_mut(k), u16::try_from(eq), u16::try_from(close))
        {
            *slot = [e, c];
            self.escaped |= u8::from(escaped) << k;
            self.n += 1;
        }
    }
}

/// An OpenMetrics exemplar: `# {trace_id="abc"} 0.67 1520879607.789`.
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar<'a> {
    /// The label block as written, braces included.
    pub(crate) block: &'a str,
    /// The exemplar value.
    pub value: f64,
    /// The exemplar timestamp in milliseconds (converted exactly from float seconds).
    pub timestamp: Option<i64>,
}

impl<'a> Exemplar<'a> {
    /// The label block exactly as written, braces included.
    pub fn labels_bytes(&self) -> &'a [u8] {
        self.block.as_bytes()
    }

    /// The exemplar's label pairs in written order.
    pub fn labels(&self) -> LabelIter<'a> {
        LabelIter::new(self.block, 1)
    }
}

/// Iterator over the label pairs of a validated label block, decoding escapes lazily.
#[derive(Debug, Clone)]
pub struct LabelIter<'a> {
    s: &'a str,
    pos: usize,
    /// The block is plain (see [`SampleEvent`]'s field of that name): each pair is
    /// `name="value"` followed by `,` or `}`.
    plain: bool,
    /// The recorded offsets of the first pairs of a plain block.
    spans: Spans,
    /// How many recorded pairs have been handed out.
    k: u8,
}

impl<'a> LabelIter<'a> {
    pub(crate) fn new(s: &'a str, pos: usize) -> Self {
        LabelIter {
            s,
            pos,
            plain: false,
            spans: Spans::default(),
            k: 0,
        }
    }

    /// The next pair of a plain block.
    #[inline]
    fn next_plain(&mut self) -> Option<(Cow<'a, str>, Cow<'a, str>)> {
        let i = self.pos;
        let (eq, close, escaped) = match self.spans.at.get(usize::from(self.k)) {
            Some(&[eq, close]) if self.k < self.spans.n => {
                let escaped = self.spans.escaped & (1 << self.k) != 0;
                self.k += 1;
                (usize::from(eq), usize::from(close), escaped)
            }
            _ => {
                // Past the recorded pairs: walk the bytes.
                let b = self.s.as_bytes();
                if *b.get(i)? == b'}' {
                    self.pos = b.len();
                    return None;
                }
                // The name ends at the `=` of `="`.
                let eq = scan_label_name(b, i);
                let (close, escaped) = scan_quoted(b, eq + 1)?;
                (eq, close, escaped)
            }
        };
        let name = self.s.get(i..eq)?;
        let raw = self.s.get(eq + 2..close)?;
        // Past the `",` (at the next name or the `}` of a trailing comma), or past the
        // `"}` (the end of the series).
        self.pos = close + 2;
        let value = if escaped {
            unescape_label(raw)
        } else {
            Cow::Borrowed(raw)
        };
        Some((Cow::Borrowed(name), value))
    }

    /// A quoted string at `open`: its inside and the index past the closing quote.
    #[inline]
    fn quoted(&self, open: usize) -> Option<(Cow<'a, str>, usize)> {
        let b = self.s.as_bytes();
        let (close, escaped) = scan_quoted(b, open)?;
        let raw = self.s.get(open + 1..close)?;
        let v = if escaped {
            unescape_label(raw)
        } else {
            Cow::Borrowed(raw)
        };
        Some((v, close + 1))
    }
}

impl<'a> Iterator for LabelIter<'a> {
    type Item = (Cow<'a, str>, Cow<'a, str>);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.plain {
            return self.next_plain();
        }
        let b = self.s.as_bytes();
        let mut i = self.pos;
        // Skip the separator left by the previous pair.
        while i < b.len() && (is_blank(b[i]) || b[i] == b',') {
            i += 1;
        }
        let first = *b.get(i)?;
        let (name, after) = if first == b'"' {
            self.quoted(i)?
        } else if first == b'}' {
            self.pos = b.len();
            return None;
        } else {
            let end = scan_class(b, i, &LABEL_CONT);
            if end == i {
                self.pos = b.len();
                return None;
            }
            (Cow::Borrowed(self.s.get(i..end)?), end)
        };
        i = skip_blanks(b, after);
        if b.get(i) != Some(&b'=') {
            self.pos = b.len();
            return None;
        }
        i = skip_blanks(b, i + 1);
        let (value, after) = self.quoted(i)?;
        self.pos = after;
        Some((name, value))
    }
}
