//! The pull parser.
//!
//! ADVICE FOR HACKERS: there are two layers.
//!
//! - Fast paths (`sample_fast`, `metadata_fast`, `label_block_fast`) take the common
//!   text-format lines (`name{a="b",...} value [ms]`, plain `# HELP` / `# TYPE`) straight
//!   off the input, without finding the line end first, and record the offsets of the
//!   first label pairs (`Spans`) so that `SampleEvent::labels` does not scan the block
//!   again. A label block is compared with the last one the fast path accepted
//!   (`PrevBlock`): the pairs the two share, each through its closing quote and comma,
//!   are taken over (offsets moved by the difference of the names' lengths, with the
//!   duplicate filter as it stood after them) and only the rest is scanned. They never report an error: on anything unusual they return `None` and the
//!   line is parsed again by the general path. So they must accept a subset of what the
//!   general path accepts and build the same event from it, and nothing in them may read
//!   past a `\n` (`scan_quoted_in_line`, `parse_value_fast` stop there). The fuzz target
//!   `expfmt_parse` compares both paths on every input (a line indented by one blank
//!   always takes the general path); tests/fast_paths.rs has the hand-written cases.
//! - The general path (`parse_sample`, `parse_label_block`, `parse_comment`) handles
//!   everything, one line at a time, and owns every error and its position.
//!
//! Names and label values are only validated here, so that [`SampleEvent`]'s lazy
//! accessors can re-walk the bytes without any error path. If you change what is accepted
//! here, change `sample.rs` to match, and the proptest round trip in tests/expfmt.rs will
//! tell you if they drift apart.

use std::borrow::Cow;

use promlite_model::MetricType;

use crate::error::{ErrorKind, Found, ParseError};
use crate::sample::{Exemplar, SampleEvent, Spans, SPANS};
use crate::scan::{
    common_prefix, is_blank, parse_int_ms, parse_seconds_ms, parse_value, parse_value_fast,
    scan_class, scan_label_name, scan_metric_name, scan_quoted, scan_quoted_in_line, skip_blanks,
    unescape_help, unescape_label, LABEL_CONT, LABEL_START, METRIC_CONT, METRIC_START,
};
use crate::{Event, Format, Mode};

/// Where the current line is: for turning an index in the line into a [`ParseError`].
#[derive(Clone, Copy)]
struct LineCtx {
    /// Byte offset of the line's first byte in the input.
    start: usize,
    /// 1-based line number.
    number: usize,
}

impl LineCtx {
    #[cold]
    fn err(self, at: usize, kind: ErrorKind) -> ParseError {
        ParseError {
            line: self.number,
            column: at + 1,
            offset: self.start + at,
            kind,
        }
    }

    /// Only blanks may follow a TYPE or UNIT line's last field at `end`.
    fn end_of_metadata(self, line: &[u8], end: usize) -> Result<(), ParseError> {
        let tail = skip_blanks(line, end);
        if tail < line.len() {
            return Err(self.err(
                tail,
                ErrorKind::TrailingMetadata {
                    found: Found::at(line, tail),
                },
            ));
        }
        Ok(())
    }
}

/// A duplicate label name error for the name starting at byte `s` of `line`
/// (reported at its opening quote when it is quoted), naming `name`.
#[cold]
fn duplicate_named(line: &[u8], s: usize, name: &[u8], ctx: LineCtx) -> ParseError {
    // Quoted names start one byte after their quote.
    let at = if s > 0 && line[s - 1] == b'"' {
        s - 1
    } else {
        s
    };
    ctx.err(
        at,
        ErrorKind::DuplicateLabelName {
            name: String::from_utf8_lossy(name).into_owned(),
        },
    )
}

/// A label name seen in the current label block, for the duplicate check.
#[derive(Clone, Copy)]
struct NameSpan {
    start: usize,
    end: usize,
    escaped: bool,
}

/// What `parse_label_block` found.
struct Block {
    /// Index past the closing `}`.
    end: usize,
    /// The quoted metric name inside the braces: (start, end, escaped), quotes excluded.
    quoted_name: Option<(usize, usize, bool)>,
    /// Where the label pairs begin (past the quoted name item, if any).
    labels_from: usize,
    /// Whether the block has the plain shape `{name="value",...}` (see
    /// [`label_block_fast`]), which lets [`SampleEvent::labels`] take its fast path.
    plain: bool,
}

/// A pull parser over an exposition-format body.
///
/// Events borrow the input (`'a`), so they stay valid after the parser moves on.
/// In [`Mode::Strict`] (the default) the first error ends parsing; in [`Mode::Tolerant`]
/// each bad line yields an `Err` with its position and parsing resumes at the next line.
///
/// ```
/// use promlite_expfmt::{Event, Format, Mode, Parser};
///
/// let body = b"up{job=\"a\"} 1\nup{job=\"b\" 0\nup{job=\"c\"} 1\n";
/// let mut p = Parser::new(body, Format::Text).mode(Mode::Tolerant);
/// let mut good = 0;
/// let mut bad = Vec::new();
/// while let Some(ev) = p.next_event() {
///     match ev {
///         Ok(Event::Sample(_)) => good += 1,
///         Ok(_) => {}
///         Err(e) => bad.push((e.line, e.column)),
///     }
/// }
/// assert_eq!(good, 2);
/// assert_eq!(bad, vec![(2, 12)]);
/// ```
#[derive(Debug, Clone)]
pub struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
    line: usize,
    format: Format,
    mode: Mode,
    saw_eof: bool,
    done: bool,
    /// Byte offset where the last line read starts.
    last_start: usize,
    /// A stretch of the input known to be valid UTF-8, `input[utf8_start..utf8_end]`.
    /// Validating long stretches at once is much cheaper than validating each name and
    /// value on its own; it is extended lazily past invalid bytes (see `text_slow`).
    utf8: &'a str,
    utf8_start: usize,
    /// The last legacy metric name seen on a sample line: consecutive lines of a family
    /// mostly repeat it, and comparing it is cheaper than validating the name again.
    prev_name: &'a [u8],
    /// Scratch for the duplicate-label check, reused across samples.
    names: Vec<NameSpanDbg>,
    /// Short label names recently seen, for [`label_block_fast`].
    label_names: NameCache,
    /// The last label block [`label_block_fast`] accepted on a sample line.
    prev_block: PrevBlock<'a>,
}

/// A sample line's series bytes whose label block the fast path accepted, with
/// its recorded pairs and the duplicate filter after each. The next line
/// mostly repeats its first pairs (buckets of a histogram differ in `le`
/// only, its `_sum` and `_count` in the name), and the pairs of a common
/// prefix of two label blocks need no second look: the same bytes are valid
/// the same way, at offsets that differ by the difference of the names'
/// lengths.
#[derive(Debug, Clone, Copy, Default)]
struct PrevBlock<'a> {
    series: &'a [u8],
    /// Offset of the block's `{`.
    open: usize,
    spans: Spans,
    blooms: [u64; SPANS],
}

impl PrevBlock<'_> {
    /// For a line `rest` whose label block opens at `open`: how many bytes
    /// after the `{` the two blocks share; how many of the previous block's
    /// pairs this block starts with, each followed by a `,`, copied into
    /// `spans` and `blooms` with their offsets moved to this line; and where
    /// the next pair starts. `(0, 0, open + 1)` if there is no previous block.
    #[inline]
    fn resume(
        &self,
        rest: &[u8],
        open: usize,
        spans: &mut Spans,
        blooms: &mut [u64; SPANS],
    ) -> (usize, usize, usize) {
        let (Some(cur), Some(prev)) = (rest.get(open + 1..), self.series.get(self.open + 1..))
        else {
            return (0, 0, open + 1);
        };
        let shared = common_prefix(cur, prev);
        let none = (shared, 0, open + 1);
        let n = usize::from(self.spans.n);
        // Pair j's closing quote and the comma after it, as offsets into the
        // blocks after their `{`: both shared.
        let base = self.open + 1;
        let end = |j: usize| usize::from(self.spans.at[j][1]) + 1 - base;
        let mut k = 0;
        while k < n && end(k) < shared {
            k += 1;
        }
        while k > 0 && prev.get(end(k - 1)) != Some(&b',') {
            k -= 1;
        }
        if k == 0 {
            return none;
        }
        // Offsets move by the difference of the two names' lengths.
        let last = end(k - 1) + 1 + open + 1;
        if last > usize::from(u16::MAX) {
            return none;
        }
        for j in 0..k {
            let [eq, close] = self.spans.at[j];
            spans.at[j] = [
                (usize::from(eq) - self.open + open) as u16,
                (usize::from(close) - self.open + open) as u16,
            ];
        }
        spans.n = k as u8;
        spans.escaped = self.spans.escaped & ((1u16 << k) - 1) as u8;
        blooms[..k].copy_from_slice(&self.blooms[..k]);
        (shared, k, open + 1 + end(k - 1) + 1)
    }
}

/// Short label names seen at each of the first [`SPANS`] positions of recent plain label
/// blocks (consecutive series of a family mostly repeat their label names). Entry `k` is
/// the eight bytes from the start of such a name (the name, its `="`, and whatever
/// followed) and a mask selecting the name and its `="`: input bytes equal to the entry
/// under its mask are that same, already validated, name. Unused entries require a first
/// byte of 0, which no name has.
#[derive(Debug, Clone)]
struct NameCache {
    word: [u64; SPANS],
    mask: [u64; SPANS],
    len: [u8; SPANS],
}

impl Default for NameCache {
    fn default() -> Self {
        NameCache {
            word: [0; SPANS],
            mask: [0xff; SPANS],
            len: [0; SPANS],
        }
    }
}

impl NameCache {
    /// The end of the label name starting at `i` (whose first byte is a valid name
    /// start), for the `k`-th pair of a block: from the cache when the bytes match entry
    /// `k`, else scanned (and remembered when short enough).
    #[inline(always)]
    fn name_end(&mut self, line: &[u8], i: usize, k: usize) -> usize {
        let word = line
            .get(i..i + 8)
            .and_then(|c| <[u8; 8]>::try_from(c).ok())
            .map(u64::from_le_bytes);
        let (Some(w), Some(&cw), Some(&cm), Some(&cl)) =
            (word, self.word.get(k), self.mask.get(k), self.len.get(k))
        else {
            return scan_label_name(line, i + 1);
        };
        if (w ^ cw) & cm == 0 {
            return i + usize::from(cl);
        }
        let end = scan_label_name(line, i + 1);
        let len = end - i;
        // Six name bytes and `="` fill the word.
        if len <= 6 && line.get(end..end + 2) == Some(b"=\"") {
            if let (Some(ew), Some(em), Some(el), Ok(l)) = (
                self.word.get_mut(k),
                self.mask.get_mut(k),
                self.len.get_mut(k),
                u8::try_from(len),
            ) {
                *ew = w;
                *em = u64::MAX >> (64 - 8 * (len + 2));
                *el = l;
            }
        }
        end
    }
}

/// `NameSpan` with a `Debug` impl, so `Parser` can derive `Debug`.
type NameSpanDbg = (usize, usize, bool);

impl<'a> Parser<'a> {
    /// A strict parser for `input` in `format`.
    pub fn new(input: &'a [u8], format: Format) -> Self {
        Parser {
            input,
            pos: 0,
            line: 1,
            format,
            mode: Mode::Strict,
            saw_eof: false,
            done: false,
            last_start: 0,
            utf8: "",
            utf8_start: 0,
            prev_name: b"",
            names: Vec::new(),
            label_names: NameCache::default(),
            prev_block: PrevBlock::default(),
        }
    }

    /// Sets the error mode (builder style).
    #[must_use]
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// The format being parsed.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The number of the line the last event came from (1-based; 0 before the first).
    pub fn line(&self) -> usize {
        self.line - 1
    }

    /// The next event, `None` at the end of the input (or after the first error in strict
    /// mode).
    ///
    /// For OpenMetrics the `# EOF` line yields [`Event::Eof`]; input that ends without
    /// it yields [`ErrorKind::MissingEof`]. The text format has no end marker and simply
    /// returns `None`.
    pub fn next_event(&mut self) -> Option<Result<Event<'a>, ParseError>> {
        loop {
            if self.done {
                return None;
            }
            let input = self.input;
            let start = self.pos;
            if start >= input.len() {
                self.done = true;
                if self.format == Format::OpenMetrics && !self.saw_eof {
                    // Point at the end of the input: the start of the line after a final
                    // newline, or just past the last byte of an unterminated last line.
                    let (line, column) = match input.last() {
                        None | Some(b'\n') => (self.line, 1),
                        Some(_) => (self.line - 1, input.len() - self.last_start + 1),
                    };
                    return Some(Err(ParseError {
                        line,
                        column,
                        offset: input.len(),
                        kind: ErrorKind::MissingEof,
                    }));
                }
                return None;
            }
            if self.format == Format::Text {
                // The common lines first, parsed without looking for the line end first;
                // `None` means "not the common shape": the general path below takes it.
                // (They return this function's type, so that the event is built in place.)
                let fast = match input.get(start) {
                    Some(&b) if METRIC_START[usize::from(b)] => self.sample_fast(start),
                    Some(b'#') => self.metadata_fast(start),
                    _ => None,
                };
                if fast.is_some() {
                    return fast;
                }
            }
            let (line_end, next) = match memchr::memchr(b'\n', &input[start..]) {
                Some(k) => (start + k, start + k + 1),
                None => (input.len(), input.len()),
            };
            let mut end = line_end;
            if end > start && input[end - 1] == b'\r' {
                end -= 1;
            }
            let ctx = LineCtx {
                start,
                number: self.line,
            };
            self.pos = next;
            self.last_start = start;
            self.line += 1;
            let line = &input[start..end];

            if self.saw_eof {
                // Nothing may follow `# EOF`, in either mode.
                self.done = true;
                return Some(Err(ctx.err(0, ErrorKind::DataAfterEof)));
            }
            let result = match self.format {
                Format::Text => {
                    let first = skip_blanks(line, 0);
                    match line.get(first) {
                        None => continue,
                        Some(b'#') => self.parse_comment(line, first, ctx),
                        Some(_) => self.parse_sample(line, first, ctx).map(Event::Sample),
                    }
                }
                Format::OpenMetrics => match line.first() {
                    None => Err(ctx.err(0, ErrorKind::BlankLine)),
                    Some(b'#') => self.parse_comment(line, 0, ctx),
                    Some(_) => self.parse_sample(line, 0, ctx).map(Event::Sample),
                },
            };
            if result.is_err() && self.mode == Mode::Strict {
                self.done = true;
            }
            return Some(result);
        }
    }

    /// `line[a..b]` as a `&str`, or an `InvalidUtf8` error at the first bad byte.
    #[inline(always)]
    fn text(&mut self, ctx: LineCtx, a: usize, b: usize) -> Result<&'a str, ParseError> {
        let (s, e) = (ctx.start + a, ctx.start + b);
        if s >= self.utf8_start {
            if let Some(t) = self.utf8.get(s - self.utf8_start..e - self.utf8_start) {
                return Ok(t);
            }
        }
        self.text_slow(ctx, a, b)
    }

    /// Validates the input from the start of the current line on, up to its end or the
    /// first invalid byte, and remembers that stretch. Each byte is validated about once
    /// overall: a new stretch starts only on a line past the end of the previous one
    /// (or on the line holding an invalid byte, stopping at that byte again).
    #[cold]
    #[inline(never)]
    fn text_slow(&mut self, ctx: LineCtx, a: usize, b: usize) -> Result<&'a str, ParseError> {
        let input = self.input;
        let rest = input.get(ctx.start..).unwrap_or_default();
        let valid = match std::str::from_utf8(rest) {
            Ok(t) => t,
            Err(e) => std::str::from_utf8(&rest[..e.valid_up_to()]).unwrap_or_default(),
        };
        self.utf8 = valid;
        self.utf8_start = ctx.start;
        valid
            .get(a..b)
            .ok_or_else(|| ctx.err(valid.len(), ErrorKind::InvalidUtf8))
    }

    /// A `#` line: HELP, TYPE, UNIT, EOF or a free comment. `at` indexes the `#`.
    fn parse_comment(
        &mut self,
        line: &'a [u8],
        at: usize,
        ctx: LineCtx,
    ) -> Result<Event<'a>, ParseError> {
        let om = self.format == Format::OpenMetrics;
        let after_hash = at + 1;
        let kw_start = skip_blanks(line, after_hash);
        let kw_end = kw_start
            + line[kw_start..]
                .iter()
                .take_while(|b| !is_blank(**b))
                .count();
        let keyword = &line[kw_start..kw_end];
        // A keyword counts only after `# ` (a blank right after the hash).
        let spaced = line.get(after_hash).is_some_and(|b| is_blank(*b));
        if om && spaced && keyword == b"EOF" && kw_end == line.len() {
            self.saw_eof = true;
            return Ok(Event::Eof);
        }
        let kind = match keyword {
            b"HELP" if spaced => 0,
            b"TYPE" if spaced => 1,
            b"UNIT" if spaced && om => 2,
            _ => {
                if om {
                    return Err(ctx.err(at, ErrorKind::UnexpectedComment));
                }
                let text = &line[kw_start..];
                return Ok(Event::Comment(String::from_utf8_lossy(text)));
            }
        };
        if kw_end == line.len() || !is_blank(line[kw_end]) {
            return Err(ctx.err(kw_end, ErrorKind::InvalidMetricName));
        }
        let name_start = skip_blanks(line, kw_end);
        let (metric, name_end) = self.metadata_name(line, name_start, ctx)?;
        let rest_start = skip_blanks(line, name_end);
        if name_end < line.len() && !is_blank(line[name_end]) {
            return Err(ctx.err(name_end, ErrorKind::InvalidMetricName));
        }
        let rest = &line[rest_start..];
        match kind {
            0 => {
                let text = self.text(ctx, rest_start, line.len())?;
                Ok(Event::Help {
                    metric,
                    help: unescape_help(text, om),
                })
            }
            1 => {
                let t_end = rest_start + rest.iter().take_while(|b| !is_blank(**b)).count();
                let word = &line[rest_start..t_end];
                if word.is_empty() {
                    return Err(ctx.err(rest_start, ErrorKind::MissingType));
                }
                let typ = parse_type(word, om).ok_or_else(|| {
                    ctx.err(
                        rest_start,
                        ErrorKind::InvalidType {
                            typ: String::from_utf8_lossy(word).into_owned(),
                        },
                    )
                })?;
                ctx.end_of_metadata(line, t_end)?;
                Ok(Event::Type { metric, typ })
            }
            _ => {
                let u_end = rest_start + rest.iter().take_while(|b| !is_blank(**b)).count();
                let unit = self.text(ctx, rest_start, u_end)?;
                ctx.end_of_metadata(line, u_end)?;
                Ok(Event::Unit { metric, unit })
            }
        }
    }

    /// The metric name of a HELP/TYPE/UNIT line: legacy or quoted.
    fn metadata_name(
        &mut self,
        line: &'a [u8],
        i: usize,
        ctx: LineCtx,
    ) -> Result<(Cow<'a, str>, usize), ParseError> {
        match line.get(i) {
            Some(b'"') => {
                let (close, escaped) = scan_quoted(line, i)
                    .ok_or_else(|| ctx.err(i, ErrorKind::UnterminatedString))?;
                let raw = self.text(ctx, i + 1, close)?;
                if raw.is_empty() {
                    return Err(ctx.err(i, ErrorKind::InvalidMetricName));
                }
                let name = if escaped {
                    unescape_label(raw)
                } else {
                    Cow::Borrowed(raw)
                };
                Ok((name, close + 1))
            }
            Some(&b) if METRIC_START[usize::from(b)] => {
                let end = self.legacy_name_end(line, i);
                // Only ASCII bytes were scanned, so this cannot fail.
                let name = self.text(ctx, i, end)?;
                Ok((Cow::Borrowed(name), end))
            }
            _ => Err(ctx.err(i, ErrorKind::InvalidMetricName)),
        }
    }

    /// The end of the legacy metric name whose first byte, at `at`, is valid.
    ///
    /// Consecutive lines mostly repeat a name (HELP, TYPE, then the family's samples), so
    /// the last name is tried first: comparing bytes is cheaper than classifying them.
    #[inline(always)]
    fn legacy_name_end(&mut self, line: &'a [u8], at: usize) -> usize {
        let prev = self.prev_name;
        let rest = line.get(at..).unwrap_or_default();
        if rest.starts_with(prev)
            && !rest
                .get(prev.len())
                .is_some_and(|&b| METRIC_CONT[usize::from(b)])
        {
            at + prev.len()
        } else {
            let end = scan_metric_name(line, at + 1);
            self.prev_name = line.get(at..end).unwrap_or_default();
            end
        }
    }

    /// After a line from `start` parsed on a fast path: the next line starts at `next`.
    #[inline(always)]
    fn advance(&mut self, start: usize, next: usize) {
        self.pos = next;
        self.last_start = start;
        self.line += 1;
    }

    /// The common text-format `# HELP name text` (text without backslashes) and
    /// `# TYPE name type` lines, with single blanks after `#` and the keyword and a
    /// legacy name, parsed straight off the input from `start` (the `#`). Returns the
    /// event (and moves on to the next line), or `None` for anything else, which
    /// [`Parser::parse_comment`] then parses from the same line. Builds the same event
    /// as `parse_comment` would.
    #[inline]
    fn metadata_fast(&mut self, start: usize) -> Option<Result<Event<'a>, ParseError>> {
        let rest = self.input.get(start..)?;
        let help = match rest.get(..7)? {
            b"# HELP " => true,
            b"# TYPE " => false,
            _ => return None,
        };
        if !METRIC_START[usize::from(*rest.get(7)?)] {
            return None;
        }
        let name_end = self.legacy_name_end(rest, 7);
        if *rest.get(name_end)? != b' ' {
            return None;
        }
        let body = skip_blanks(rest, name_end);
        let ctx = LineCtx {
            start,
            number: self.line,
        };
        if help {
            // The text runs to the line end; a backslash needs decoding (general path).
            let (end, next) = match memchr::memchr2(b'\n', b'\\', rest.get(body..)?) {
                Some(k) if rest.get(body + k) == Some(&b'\n') => (body + k, start + body + k + 1),
                Some(_) => return None,
                None => (rest.len(), self.input.len()),
            };
            if end > body && rest.get(end - 1) == Some(&b'\r') {
                return None;
            }
            let metric = self.text(ctx, 7, name_end).ok()?;
            let text = self.text(ctx, body, end).ok()?;
            self.advance(start, next);
            Some(Ok(Event::Help {
                metric: Cow::Borrowed(metric),
                help: Cow::Borrowed(text),
            }))
        } else {
            let word_len = rest
                .get(body..)?
                .iter()
                .position(|b| !b.is_ascii_lowercase())
                .unwrap_or(rest.len() - body);
            let typ = parse_type(rest.get(body..body + word_len)?, false)?;
            let next = match rest.get(body + word_len) {
                None => self.input.len(),
                Some(b'\n') => start + body + word_len + 1,
                Some(_) => return None,
            };
            let metric = self.text(ctx, 7, name_end).ok()?;
            self.advance(start, next);
            Some(Ok(Event::Type {
                metric: Cow::Borrowed(metric),
                typ,
            }))
        }
    }

    /// The common text-format sample line, parsed straight off the input from `start`
    /// (where a legacy metric name begins) without looking for the line end first:
    /// `name{plain labels} value [timestamp]` ended by `\n` or the end of the input.
    /// (The value and timestamp go through the same functions as on the general path.)
    /// Returns the sample (and moves on to the next line), or `None` for anything else
    /// (blanks inside the braces, quoted names, CR, any error, ...): [`Parser::parse_sample`] then parses the same line
    /// the general way. So this accepts a subset of what `parse_sample` accepts and
    /// builds the same [`SampleEvent`] from it; offsets are line-relative in both.
    #[inline(always)]
    fn sample_fast(&mut self, start: usize) -> Option<Result<Event<'a>, ParseError>> {
        let rest = self.input.get(start..)?;
        let name_end = self.legacy_name_end(rest, 0);
        let mut i = name_end;
        let mut labels_from = None;
        let mut spans = Spans::default();
        let mut blooms = [0; SPANS];
        let mut previous = None;
        if rest.get(i) == Some(&b'{') {
            labels_from = Some(i + 1);
            // The pairs this block shares with the previous one are taken as
            // they are; the scan resumes after them.
            let (shared, k, from) = self.prev_block.resume(rest, i, &mut spans, &mut blooms);
            if !self.prev_block.series.is_empty() {
                previous = Some((self.prev_block.series, shared));
            }
            let bloom = match k {
                0 => 0,
                _ => blooms[k - 1],
            };
            i = label_block_fast_from(
                rest,
                from,
                k,
                bloom,
                0,
                &mut spans,
                &mut self.label_names,
                &mut blooms,
            )?;
        }
        let series_end = i;
        if !is_blank(*rest.get(i)?) {
            return None;
        }
        let v_start = skip_blanks(rest, i + 1);
        let (value, v_end) = match parse_value_fast(rest, v_start) {
            Some(fast) => fast,
            None => {
                // Exponents, long mantissas, NaN, Inf: the full float parser.
                let v_end = v_start
                    + rest
                        .get(v_start..)?
                        .iter()
                        .position(|&b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
                        .unwrap_or(rest.len() - v_start);
                (parse_value(rest.get(v_start..v_end)?)?, v_end)
            }
        };
        let mut timestamp = None;
        let mut j = skip_blanks(rest, v_end);
        match rest.get(j) {
            None | Some(b'\n') => {}
            Some(_) => {
                let t_end = j + rest
                    .get(j..)?
                    .iter()
                    .position(|&b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
                    .unwrap_or(rest.len() - j);
                timestamp = Some(parse_int_ms(rest.get(j..t_end)?)?);
                j = skip_blanks(rest, t_end);
            }
        }
        let next = match rest.get(j) {
            None => self.input.len(),
            Some(b'\n') => start + j + 1,
            Some(_) => return None,
        };
        let ctx = LineCtx {
            start,
            number: self.line,
        };
        let series = self.text(ctx, 0, series_end).ok()?;
        let name = series.get(..name_end)?;
        if let Some(from) = labels_from {
            self.prev_block = PrevBlock {
                series: series.as_bytes(),
                open: from - 1,
                spans,
                blooms,
            };
        }
        self.advance(start, next);
        Some(Ok(Event::Sample(SampleEvent {
            series,
            name,
            name_escaped: false,
            labels_from: labels_from.unwrap_or(series.len()),
            plain: true,
            spans,
            previous,
            value,
            timestamp,
            exemplar: None,
            line: ctx.number,
        })))
    }

    /// A sample line starting at `at` (the first non-blank byte).
    #[inline(always)]
    fn parse_sample(
        &mut self,
        line: &'a [u8],
        at: usize,
        ctx: LineCtx,
    ) -> Result<SampleEvent<'a>, ParseError> {
        let first = line[at];
        let mut name_span = None;
        let mut i = at;
        if METRIC_START[usize::from(first)] {
            i = self.legacy_name_end(line, at);
            name_span = Some((at, i, false));
        } else if first != b'{' {
            return Err(ctx.err(
                at,
                ErrorKind::ExpectedMetricName {
                    found: Found::at(line, at),
                },
            ));
        }
        let mut series_end = i;
        let mut labels_from = None;
        let mut plain = true;
        let mut spans = Spans::default();
        let brace = skip_blanks(line, i);
        if line.get(brace) == Some(&b'{') {
            let block = match label_block_fast(line, brace, at, &mut spans, &mut self.label_names) {
                Some(end) => Block {
                    end,
                    quoted_name: None,
                    labels_from: brace + 1,
                    plain: true,
                },
                None => {
                    spans = Spans::default();
                    self.parse_label_block(line, brace, name_span, ctx, false)?
                }
            };
            if let Some(q) = block.quoted_name {
                name_span = Some(q);
            }
            labels_from = Some(block.labels_from);
            plain = block.plain;
            series_end = block.end;
            i = block.end;
        }
        let Some((name_start, name_end, name_escaped)) = name_span else {
            return Err(ctx.err(at, ErrorKind::MissingMetricName));
        };

        // Value.
        match line.get(i) {
            None => return Err(ctx.err(i, ErrorKind::MissingValue)),
            Some(&b) if !is_blank(b) => {
                return Err(ctx.err(
                    i,
                    ErrorKind::ExpectedBlank {
                        found: Found::at(line, i),
                    },
                ))
            }
            Some(_) => {}
        }
        let v_start = skip_blanks(line, i);
        if v_start == line.len() {
            return Err(ctx.err(v_start, ErrorKind::MissingValue));
        }
        let (value, v_end) = match parse_value_fast(line, v_start) {
            Some(fast) => fast,
            None => {
                let v_end = token_end(line, v_start);
                let value = parse_value(&line[v_start..v_end]).ok_or_else(|| {
                    ctx.err(
                        v_start,
                        ErrorKind::InvalidValue {
                            value: String::from_utf8_lossy(&line[v_start..v_end]).into_owned(),
                        },
                    )
                })?;
                (value, v_end)
            }
        };

        // Optional timestamp, then (OpenMetrics) an optional exemplar.
        let om = self.format == Format::OpenMetrics;
        let mut timestamp = None;
        let mut exemplar = None;
        let mut j = skip_blanks(line, v_end);
        if j < line.len() && line[j] != b'#' {
            let t_end = token_end(line, j);
            let tok = &line[j..t_end];
            let ts = if om {
                parse_seconds_ms(tok)
            } else {
                parse_int_ms(tok)
            };
            timestamp = Some(ts.ok_or_else(|| {
                ctx.err(
                    j,
                    ErrorKind::InvalidTimestamp {
                        value: String::from_utf8_lossy(tok).into_owned(),
                    },
                )
            })?);
            j = skip_blanks(line, t_end);
        }
        if j < line.len() {
            if om && line[j] == b'#' {
                exemplar = Some(self.parse_exemplar(line, j, ctx)?);
            } else {
                return Err(ctx.err(
                    j,
                    ErrorKind::TrailingData {
                        found: Found::at(line, j),
                    },
                ));
            }
        }

        let series = self.text(ctx, at, series_end)?;
        // Offsets below are relative to `series`; all sit on ASCII delimiters, so `get`
        // never fails in practice.
        let name = series
            .get(name_start - at..name_end - at)
            .ok_or_else(|| ctx.err(name_start, ErrorKind::InvalidUtf8))?;
        Ok(SampleEvent {
            series,
            name,
            name_escaped,
            labels_from: labels_from.map_or(series.len(), |l| l - at),
            plain,
            spans,
            previous: None,
            value,
            timestamp,
            exemplar,
            line: ctx.number,
        })
    }

    /// ` # {labels} value [timestamp]` after an OpenMetrics sample; `at` indexes the `#`.
    fn parse_exemplar(
        &mut self,
        line: &'a [u8],
        at: usize,
        ctx: LineCtx,
    ) -> Result<Exemplar<'a>, ParseError> {
        let bad = |i: usize, reason| ctx.err(i, ErrorKind::InvalidExemplar { reason });
        if !line.get(at + 1).is_some_and(|b| is_blank(*b)) {
            return Err(bad(at, "expected ' ' after '#'"));
        }
        let open = skip_blanks(line, at + 1);
        if line.get(open) != Some(&b'{') {
            return Err(bad(open, "expected '{' to start the exemplar's labels"));
        }
        // An exemplar label set has no metric name: pretend one was given so that a
        // quoted name inside is reported as a missing '='.
        let block = self.parse_label_block(line, open, Some((0, 0, false)), ctx, false)?;
        let blk = self.text(ctx, open, block.end)?;
        if !line.get(block.end).is_some_and(|b| is_blank(*b)) {
            return Err(bad(block.end, "expected ' ' and a value after the labels"));
        }
        let v_start = skip_blanks(line, block.end);
        if v_start == line.len() {
            return Err(bad(v_start, "missing value"));
        }
        let v_end = token_end(line, v_start);
        let value =
            parse_value(&line[v_start..v_end]).ok_or_else(|| bad(v_start, "invalid value"))?;
        let mut timestamp = None;
        let t_start = skip_blanks(line, v_end);
        if t_start < line.len() {
            let t_end = token_end(line, t_start);
            timestamp = Some(
                parse_seconds_ms(&line[t_start..t_end])
                    .ok_or_else(|| bad(t_start, "invalid timestamp"))?,
            );
            let tail = skip_blanks(line, t_end);
            if tail < line.len() {
                return Err(bad(tail, "unexpected data after the timestamp"));
            }
        }
        Ok(Exemplar {
            block: blk,
            value,
            timestamp,
        })
    }

    /// A `{...}` label block whose `{` is at `open`. `name` is the metric name given before
    /// the block, if any. Validates names, values, separators and duplicates.
    ///
    /// The caller tries [`label_block_fast`] first; this is the general path.
    ///
    /// Duplicate names are rare, so the first pass only keeps a 64-bit Bloom filter of the
    /// names; when two names might clash (or `__name__` or an escaped name appears), the
    /// block is parsed again with `collect` set, recording every name for an exact check.
    #[inline(never)]
    fn parse_label_block(
        &mut self,
        line: &[u8],
        open: usize,
        name: Option<(usize, usize, bool)>,
        ctx: LineCtx,
        collect: bool,
    ) -> Result<Block, ParseError> {
        if collect {
            self.names.clear();
        }
        let mut bloom = 0u64;
        let mut maybe_dup = false;
        let mut quoted_name = None;
        let mut labels_from = open + 1;
        let mut i = open + 1;
        let mut items = 0usize;
        loop {
            i = skip_blanks(line, i);
            let Some(&c) = line.get(i) else {
                return Err(ctx.err(
                    i,
                    ErrorKind::ExpectedLabelName {
                        found: Found::EndOfLine,
                    },
                ));
            };
            if c == b'}' {
                i += 1;
                break;
            }
            // A label name, legacy or quoted.
            let n_start = i;
            let span = if LABEL_START[usize::from(c)] {
                i = scan_class(line, i + 1, &LABEL_CONT);
                NameSpan {
                    start: n_start,
                    end: i,
                    escaped: false,
                }
            } else if c == b'"' {
                let (close, escaped) = scan_quoted(line, i)
                    .ok_or_else(|| ctx.err(i, ErrorKind::UnterminatedString))?;
                i = close + 1;
                NameSpan {
                    start: n_start + 1,
                    end: close,
                    escaped,
                }
            } else {
                return Err(ctx.err(
                    i,
                    ErrorKind::ExpectedLabelName {
                        found: Found::at(line, i),
                    },
                ));
            };
            i = skip_blanks(line, i);
            if line.get(i) == Some(&b'=') {
                if span.start == span.end {
                    return Err(ctx.err(n_start, ErrorKind::EmptyLabelName));
                }
                i = skip_blanks(line, i + 1);
                if line.get(i) != Some(&b'"') {
                    return Err(ctx.err(
                        i,
                        ErrorKind::ExpectedLabelValue {
                            found: Found::at(line, i),
                        },
                    ));
                }
                let (close, _) = scan_quoted(line, i)
                    .ok_or_else(|| ctx.err(i, ErrorKind::UnterminatedString))?;
                i = close + 1;
                if collect {
                    self.names.push((span.start, span.end, span.escaped));
                } else {
                    let n = &line[span.start..span.end];
                    let (Some(&f), Some(&l)) = (n.first(), n.last()) else {
                        return Err(ctx.err(n_start, ErrorKind::EmptyLabelName));
                    };
                    let bit = 1u64 << ((n.len() + usize::from(f) * 7 + usize::from(l) * 3) & 63);
                    maybe_dup |= (bloom & bit != 0) || span.escaped || n == b"__name__";
                    bloom |= bit;
                }
            } else if c == b'"' && items == 0 && name.is_none() {
                // `{"metric.name", ...}`: Prometheus 3's quoted metric name comes first.
                if span.start == span.end {
                    return Err(ctx.err(n_start, ErrorKind::InvalidMetricName));
                }
                quoted_name = Some((span.start, span.end, span.escaped));
            } else {
                return Err(ctx.err(
                    i,
                    ErrorKind::ExpectedEquals {
                        found: Found::at(line, i),
                    },
                ));
            }
            items += 1;
            i = skip_blanks(line, i);
            match line.get(i) {
                Some(b',') => {
                    i += 1;
                    if quoted_name.is_some() && items == 1 {
                        labels_from = i;
                    }
                }
                Some(b'}') => {
                    i += 1;
                    if quoted_name.is_some() && items == 1 {
                        labels_from = i - 1;
                    }
                    break;
                }
                _ => {
                    return Err(ctx.err(
                        i,
                        ErrorKind::ExpectedCommaOrBrace {
                            found: Found::at(line, i),
                        },
                    ))
                }
            }
        }
        if maybe_dup {
            return self.parse_label_block(line, open, name, ctx, true);
        }
        if collect && !self.names.is_empty() {
            self.check_duplicates(line, name.is_some() || quoted_name.is_some(), ctx)?;
        }
        Ok(Block {
            end: i,
            quoted_name,
            labels_from,
            plain: false,
        })
    }

    /// Fails on a label name that occurs twice in `self.names` (or `__name__` when the
    /// sample already has a metric name). Reports the later occurrence.
    fn check_duplicates(
        &self,
        line: &[u8],
        has_name: bool,
        ctx: LineCtx,
    ) -> Result<(), ParseError> {
        let names = &self.names;
        if names.iter().all(|n| !n.2) {
            // Fast path, no escapes: compare the raw bytes.
            for k in 0..names.len() {
                let a = &line[names[k].0..names[k].1];
                let clash = (has_name && a == b"__name__")
                    || names[..k].iter().any(|&(s, e, _)| &line[s..e] == a);
                if clash {
                    return Err(self.duplicate_error(line, k, ctx));
                }
            }
            return Ok(());
        }
        self.check_duplicates_escaped(line, has_name, ctx)
    }

    #[cold]
    fn duplicate_error(&self, line: &[u8], k: usize, ctx: LineCtx) -> ParseError {
        let (s, e, _) = self.names[k];
        duplicate_named(line, s, &line[s..e], ctx)
    }

    /// [`check_duplicates`](Self::check_duplicates) when some quoted name has escapes.
    #[cold]
    fn check_duplicates_escaped(
        &self,
        line: &[u8],
        has_name: bool,
        ctx: LineCtx,
    ) -> Result<(), ParseError> {
        let names = &self.names;
        let decoded = |k: usize| -> Cow<'_, [u8]> {
            let (s, e, esc) = names[k];
            let raw = &line[s..e];
            if esc {
                match std::str::from_utf8(raw) {
                    Ok(t) => match unescape_label(t) {
                        Cow::Borrowed(b) => Cow::Borrowed(b.as_bytes()),
                        Cow::Owned(o) => Cow::Owned(o.into_bytes()),
                    },
                    Err(_) => Cow::Borrowed(raw),
                }
            } else {
                Cow::Borrowed(raw)
            }
        };
        let dup = |k: usize| duplicate_named(line, names[k].0, &decoded(k), ctx);
        for k in 0..names.len() {
            let a = decoded(k);
            if has_name && &*a == b"__name__" {
                return Err(dup(k));
            }
            // Label sets are small; a quadratic scan beats sorting for them. Long ones are
            // bounded by the line, and this only runs once per sample.
            for j in 0..k {
                let (s1, e1, _) = names[j];
                let (s2, e2, _) = names[k];
                if (names[j].2 || names[k].2 || e1 - s1 == e2 - s2) && decoded(j) == a {
                    return Err(dup(k));
                }
            }
        }
        Ok(())
    }
}

impl<'a> Iterator for Parser<'a> {
    type Item = Result<Event<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_event()
    }
}

impl std::iter::FusedIterator for Parser<'_> {}

/// The common shape of a label block, `{name="value",...}` (legacy names, no blanks,
/// optional trailing comma), validated in one tight pass from the `{` at `open`. `line`
/// may run past the end of the line (see [`Parser::sample_fast`]): nothing here
/// crosses a `\n`.
/// Records the first pairs in `spans` (offsets relative to `base`, the series start).
/// Returns the index past the `}`, or `None` for anything else: blanks, quoted names,
/// `__name__`, two names that might be equal, or any error. The general path then parses
/// the block from the start (and reports the error, if there is one), so this function
/// only ever accepts a subset of what the general path accepts, with the same meaning.
#[inline]
fn label_block_fast(
    line: &[u8],
    open: usize,
    base: usize,
    spans: &mut Spans,
    names: &mut NameCache,
) -> Option<usize> {
    let mut blooms = [0; SPANS];
    label_block_fast_from(line, open + 1, 0, 0, base, spans, names, &mut blooms)
}

/// [`label_block_fast`] from the start of pair `k` at `i`, the pairs before
/// it (already in `spans`) having left the Bloom filter at `bloom`. Records
/// in `blooms[j]` the filter after pair `j`, for the first [`SPANS`] pairs.
#[allow(clippy::too_many_arguments)]
#[inline]
fn label_block_fast_from(
    line: &[u8],
    mut i: usize,
    mut k: usize,
    mut bloom: u64,
    base: usize,
    spans: &mut Spans,
    names: &mut NameCache,
    blooms: &mut [u64; SPANS],
) -> Option<usize> {
    loop {
        let c = *line.get(i)?;
        if c == b'}' {
            return Some(i + 1);
        }
        if !LABEL_START[usize::from(c)] {
            return None;
        }
        let n_end = names.name_end(line, i, k);
        k += 1;
        if line.get(n_end..n_end + 2)? != b"=\"" {
            return None;
        }
        let name = line.get(i..n_end)?;
        let last = *name.last()?;
        // A Bloom filter of the names: a possible duplicate goes to the general path,
        // which checks exactly.
        let bit = 1u64 << ((name.len() + usize::from(c) * 7 + usize::from(last) * 3) & 63);
        if bloom & bit != 0 || name == b"__name__" {
            return None;
        }
        bloom |= bit;
        if let Some(b) = blooms.get_mut(k - 1) {
            *b = bloom;
        }
        let (close, escaped) = scan_quoted_in_line(line, n_end + 1)?;
        spans.push(n_end - base, close - base, escaped);
        match line.get(close + 1) {
            Some(b',') => i = close + 2,
            Some(b'}') => return Some(close + 2),
            _ => return None,
        }
    }
}

/// Index of the first blank at or after `i` (or the end of the line).
#[inline]
fn token_end(line: &[u8], mut i: usize) -> usize {
    while i < line.len() && !is_blank(line[i]) {
        i += 1;
    }
    i
}

/// A TYPE keyword valid in the format.
fn parse_type(word: &[u8], om: bool) -> Option<MetricType> {
    Some(match word {
        b"counter" => MetricType::Counter,
        b"gauge" => MetricType::Gauge,
        b"histogram" => MetricType::Histogram,
        b"summary" => MetricType::Summary,
        b"untyped" if !om => MetricType::Unknown,
        b"unknown" if om => MetricType::Unknown,
        b"gaugehistogram" if om => MetricType::GaugeHistogram,
        b"info" if om => MetricType::Info,
        b"stateset" if om => MetricType::StateSet,
        _ => return None,
    })
}
