//! Zero-copy pull parser for the Prometheus text (0.0.4) and OpenMetrics 1.0 exposition
//! formats: the first stage of promlite's pipeline (scrape body → events → store).
//!
//! [`Parser`] walks a `&[u8]` line by line and yields [`Event`]s that borrow the input.
//! A [`SampleEvent`] carries the raw series bytes (metric name and label block exactly as
//! written — a ready-made cache key), the value, the timestamp in milliseconds and the
//! exemplar; names and labels are decoded only when asked for, into [`Cow`]s that own
//! memory only when a backslash escape is present. Parsing input without escapes
//! allocates nothing per sample.
//!
//! Errors carry line, column and byte offset ([`ParseError`]). In [`Mode::Strict`] the
//! first error ends the parse, as Prometheus does; in [`Mode::Tolerant`] each bad line is
//! reported and the good ones are kept.
//!
//! ```
//! use promlite_expfmt::{Event, Format, Parser};
//! use promlite_model::MetricType;
//!
//! let body = concat!(
//!     "# HELP http_requests_total Requests.\n",
//!     "# TYPE http_requests_total counter\n",
//!     r#"http_requests_total{code="200",path="/a\"b"} 1027 1395066363000"#, "\n",
//!     r#"{"http.requests", "code"="500"} NaN"#, "\n",
//! ).as_bytes();
//! let mut p = Parser::new(body, Format::sniff(body));
//! let mut samples = Vec::new();
//! while let Some(ev) = p.next_event() {
//!     match ev? {
//!         Event::Type { metric, typ } => {
//!             assert_eq!((&*metric, typ), ("http_requests_total", MetricType::Counter))
//!         }
//!         Event::Sample(s) => samples.push(s),
//!         _ => {}
//!     }
//! }
//! let s = &samples[0];
//! assert_eq!(s.series_bytes(), &br#"http_requests_total{code="200",path="/a\"b"}"#[..]);
//! assert_eq!(s.name(), "http_requests_total");
//! let labels: Vec<_> = s.labels().collect();
//! assert_eq!(labels, [("code".into(), "200".into()), ("path".into(), "/a\"b".into())]);
//! assert_eq!((s.value, s.timestamp), (1027.0, Some(1_395_066_363_000)));
//!
//! // Prometheus 3's quoted UTF-8 metric names.
//! assert_eq!(samples[1].name(), "http.requests");
//! assert_eq!(samples[1].labels().count(), 1);
//! assert!(samples[1].value.is_nan());
//!
//! // Errors say where.
//! let err = Parser::new(b"up{job} 1\n", Format::Text).next_event().unwrap().unwrap_err();
//! assert_eq!(err.to_string(), "line 1, col 7: expected '=' after label name, found '}'");
//! # Ok::<(), promlite_expfmt::ParseError>(())
//! ```
//!
//! # What is accepted
//! - Text 0.0.4: integer millisecond timestamps, `untyped`, free `#` comments, blank
//!   lines, leading blanks, blanks around tokens inside `{}`.
//! - OpenMetrics 1.0: float-second timestamps, `# UNIT`, the OpenMetrics types, exemplars
//!   after ` # `, a required final `# EOF` with nothing after it; no blank lines or free
//!   comments. Sample-name suffixes (`_created`, `_gcount`, ...) are plain samples.
//! - Both: `\\`, `\"`, `\n` escapes (other backslash pairs are kept as written, as
//!   Prometheus does), `NaN`, `±Inf` and every Go float form, trailing comma in a label
//!   set, `{}`, CRLF line ends, lines of any length, quoted names
//!   (`{"http.requests.total", "code"="200"} 1`).
//! - Checked: metric and label name syntax, duplicate label names, UTF-8, value and
//!   timestamp syntax, TYPE keywords.
//!
//! # Crate features
//! None.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(missing_debug_implementations)]

use std::borrow::Cow;

use promlite_model::MetricType;

mod error;
mod parser;
mod sample;
mod scan;

pub use error::{ErrorKind, Found, ParseError};
pub use parser::Parser;
pub use sample::{Exemplar, LabelIter, SampleEvent};
pub use scan::common_prefix;

/// The exposition format of a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Prometheus text format 0.0.4 (`text/plain; version=0.0.4`).
    Text,
    /// OpenMetrics 1.0 (`application/openmetrics-text`).
    OpenMetrics,
}

impl Format {
    /// The format named by a Content-Type header value, or `None` for anything else
    /// (such as protobuf).
    ///
    /// ```
    /// use promlite_expfmt::Format;
    /// assert_eq!(Format::from_content_type("text/plain; version=0.0.4; charset=utf-8"), Some(Format::Text));
    /// assert_eq!(Format::from_content_type("application/openmetrics-text; version=1.0.0"), Some(Format::OpenMetrics));
    /// assert_eq!(Format::from_content_type("application/vnd.google.protobuf"), None);
    /// ```
    pub fn from_content_type(content_type: &str) -> Option<Format> {
        let media = content_type.split(';').next().unwrap_or("").trim();
        if media.eq_ignore_ascii_case("application/openmetrics-text") {
            Some(Format::OpenMetrics)
        } else if media.eq_ignore_ascii_case("text/plain") {
            Some(Format::Text)
        } else {
            None
        }
    }

    /// Guesses the format from the body: OpenMetrics if and only if its last line is
    /// `# EOF`.
    ///
    /// ```
    /// use promlite_expfmt::Format;
    /// assert_eq!(Format::sniff(b"up 1\n# EOF\n"), Format::OpenMetrics);
    /// assert_eq!(Format::sniff(b"up 1\n"), Format::Text);
    /// ```
    pub fn sniff(body: &[u8]) -> Format {
        let mut end = body.len();
        while end > 0 && matches!(body[end - 1], b'\n' | b'\r') {
            end -= 1;
        }
        let trimmed = &body[..end];
        let last_line = match memchr::memrchr(b'\n', trimmed) {
            Some(k) => &trimmed[k + 1..],
            None => trimmed,
        };
        if last_line == b"# EOF" {
            Format::OpenMetrics
        } else {
            Format::Text
        }
    }
}

/// What to do with a bad line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Mode {
    /// The first error ends the parse (Prometheus's behaviour: one bad line fails the
    /// scrape).
    #[default]
    Strict,
    /// Each bad line yields an error with its position, and parsing goes on with the next
    /// line.
    Tolerant,
}

/// One parsed line.
#[derive(Debug, Clone, PartialEq)]
pub enum Event<'a> {
    /// `# HELP metric text`, escapes decoded.
    Help {
        /// The metric family name.
        metric: Cow<'a, str>,
        /// The help text, with `\\` and `\n` (and in OpenMetrics `\"`) decoded.
        help: Cow<'a, str>,
    },
    /// `# TYPE metric type`.
    Type {
        /// The metric family name.
        metric: Cow<'a, str>,
        /// The declared type (`untyped` reads as [`MetricType::Unknown`]).
        typ: MetricType,
    },
    /// `# UNIT metric unit` (OpenMetrics only).
    Unit {
        /// The metric family name.
        metric: Cow<'a, str>,
        /// The unit, possibly empty.
        unit: &'a str,
    },
    /// Any other `#` line (text format only): the text after `#` and leading blanks.
    /// Invalid UTF-8 is replaced by U+FFFD (comments are never an error).
    Comment(Cow<'a, str>),
    /// A sample line.
    Sample(SampleEvent<'a>),
    /// OpenMetrics' closing `# EOF`.
    Eof,
}

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
