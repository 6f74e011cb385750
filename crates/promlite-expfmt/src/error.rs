//! Parse errors: what went wrong, and where.

use std::fmt;

/// A parse error with its position in the input.
///
/// Lines and columns are 1-based; the column counts bytes from the start of the line
/// (so a multi-byte UTF-8 character counts as several columns). `offset` is the 0-based
/// byte offset into the whole input.
///
/// Displays as `line 12, col 31: expected '=' after label name, found '}'`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, col {column}: {kind}")]
#[non_exhaustive]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// 1-based byte column within the line.
    pub column: usize,
    /// 0-based byte offset into the input.
    pub offset: usize,
    /// What went wrong.
    pub kind: ErrorKind,
}

impl ParseError {
    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }
}

/// What the parser found where it expected something else: a character, or the end of
/// the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// A character (a byte that is not valid UTF-8 shows as U+FFFD).
    Char(char),
    /// The end of the line.
    EndOfLine,
}

impl Found {
    /// What starts at `i` in `line`.
    pub(crate) fn at(line: &[u8], i: usize) -> Found {
        let Some(&b) = line.get(i) else {
            return Found::EndOfLine;
        };
        if b.is_ascii() {
            return Found::Char(char::from(b));
        }
        let end = line.len().min(i + 4);
        for j in (i + 2..=end).rev() {
            if let Ok(s) = std::str::from_utf8(&line[i..j]) {
                if let Some(c) = s.chars().next() {
                    return Found::Char(c);
                }
            }
        }
        Found::Char(char::REPLACEMENT_CHARACTER)
    }
}

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Found::Char(c) if c.is_control() => write!(f, "{:?}", c),
            Found::Char(c) => write!(f, "'{c}'"),
            Found::EndOfLine => f.write_str("end of line"),
        }
    }
}

/// The kinds of parse error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A sample line starts with something that is neither a metric name nor `{`.
    #[error("expected metric name, found {found}")]
    ExpectedMetricName {
        /// What was there instead.
        found: Found,
    },
    /// A label set without a metric name before it or quoted first inside it.
    #[error("sample has no metric name")]
    MissingMetricName,
    /// A metric name that is empty or not valid (in a sample, HELP, TYPE or UNIT line).
    #[error("invalid metric name")]
    InvalidMetricName,
    /// Inside `{...}` something other than a label name or `}`.
    #[error("expected label name, found {found}")]
    ExpectedLabelName {
        /// What was there instead.
        found: Found,
    },
    /// A quoted label name that is empty.
    #[error("label name is empty")]
    EmptyLabelName,
    /// A label name not followed by `=`.
    #[error("expected '=' after label name, found {found}")]
    ExpectedEquals {
        /// What was there instead.
        found: Found,
    },
    /// A `=` not followed by a quoted label value.
    #[error("expected '\"' to start label value, found {found}")]
    ExpectedLabelValue {
        /// What was there instead.
        found: Found,
    },
    /// A quoted string (label value or quoted name) still open at the end of the line.
    #[error("quoted string is not closed before the end of the line")]
    UnterminatedString,
    /// A label pair not followed by `,` or `}`.
    #[error("expected ',' or '}}' after label value, found {found}")]
    ExpectedCommaOrBrace {
        /// What was there instead.
        found: Found,
    },
    /// The same label name twice in one label set (`__name__` counts as the metric name).
    #[error("duplicate label name {name:?}")]
    DuplicateLabelName {
        /// The repeated label name.
        name: String,
    },
    /// Bytes that are not UTF-8 in a name, label value or HELP text.
    #[error("invalid UTF-8")]
    InvalidUtf8,
    /// The metric name or label set runs straight into something other than a blank.
    #[error("expected blank before the value, found {found}")]
    ExpectedBlank {
        /// What was there instead.
        found: Found,
    },
    /// A sample line that ends before its value.
    #[error("sample has no value")]
    MissingValue,
    /// A value that is not a float.
    #[error("invalid value {value:?}")]
    InvalidValue {
        /// The value as written.
        value: String,
    },
    /// A timestamp that is not an integer (text format) or a finite decimal number of
    /// seconds (OpenMetrics), or that does not fit in an `i64` of milliseconds.
    #[error("invalid timestamp {value:?}")]
    InvalidTimestamp {
        /// The timestamp as written.
        value: String,
    },
    /// Something after the timestamp (or after the value) that is not allowed there.
    #[error("unexpected {found} after sample value")]
    TrailingData {
        /// What was there.
        found: Found,
    },
    /// A malformed exemplar (OpenMetrics ` # {labels} value [timestamp]`).
    #[error("invalid exemplar: {reason}")]
    InvalidExemplar {
        /// Why.
        reason: &'static str,
    },
    /// A `# TYPE` line without a type.
    #[error("TYPE line has no type")]
    MissingType,
    /// A `# TYPE` line with a type the format does not know.
    #[error("invalid metric type {typ:?}")]
    InvalidType {
        /// The type as written.
        typ: String,
    },
    /// Extra text after a `# TYPE` or `# UNIT` line's last field.
    #[error("unexpected {found} at end of metadata line")]
    TrailingMetadata {
        /// What was there.
        found: Found,
    },
    /// A comment that is not HELP, TYPE, UNIT or EOF (OpenMetrics allows no others).
    #[error("OpenMetrics allows only HELP, TYPE, UNIT and EOF comments")]
    UnexpectedComment,
    /// An empty line (OpenMetrics allows none).
    #[error("OpenMetrics does not allow blank lines")]
    BlankLine,
    /// OpenMetrics input that does not end with `# EOF`.
    #[error("OpenMetrics input must end with '# EOF'")]
    MissingEof,
    /// Anything after OpenMetrics' `# EOF` line.
    #[error("unexpected data after '# EOF'")]
    DataAfterEof,
}
