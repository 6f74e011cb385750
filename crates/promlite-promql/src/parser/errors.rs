//! Parse errors with positions, printed the way Prometheus prints them.

use super::ast::Span;

/// What kind of problem a [`ParseError`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The query is not valid PromQL syntax (an unexpected token, a bad duration...).
    Syntax,
    /// A character or literal the lexer cannot read (an unterminated string...).
    Lexical,
    /// The query parses but does not type-check (argument or operand types, argument
    /// counts).
    Type,
    /// A label matcher's regular expression does not compile.
    Regex,
    /// A function name Prometheus does not know.
    UnknownFunction,
    /// An experimental function or aggregation that is not enabled.
    NotEnabled,
    /// A function Prometheus has and this engine does not implement (reported by the
    /// engine before evaluation, see [`Function::supported`](crate::Function::supported)).
    Unsupported,
    /// The query is longer or nested deeper than the parser's limits.
    TooComplex,
}

/// A query that does not parse or does not type-check.
///
/// Displays as Prometheus does: `<line>:<col>: parse error: <message>`, where line
/// and column are 1-based and the column counts bytes from the start of the line
/// (so for a single-line query `col = span.start + 1`).
///
/// ```
/// use promlite_promql::{parse, ParseErrorKind};
///
/// let e = parse("rate(x)").unwrap_err();
/// assert_eq!(e.kind(), ParseErrorKind::Type);
/// assert_eq!((e.line(), e.col()), (1, 6));
/// assert_eq!(
///     e.message(),
///     "expected type range vector in call to function \"rate\", got instant vector"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{col}: parse error: {message}")]
pub struct ParseError {
    span: Span,
    line: usize,
    col: usize,
    message: String,
    kind: ParseErrorKind,
}

impl ParseError {
    /// Creates a [`ParseErrorKind::Syntax`] error for `span` of `query`, computing
    /// line and column.
    pub fn new(query: &str, span: Span, message: impl Into<String>) -> Self {
        let (line, col) = line_col(query, span.start);
        ParseError {
            span,
            line,
            col,
            message: message.into(),
            kind: ParseErrorKind::Syntax,
        }
    }

    /// The same error with another kind.
    pub fn with_kind(mut self, kind: ParseErrorKind) -> Self {
        self.kind = kind;
        self
    }

    /// What kind of problem this is.
    pub fn kind(&self) -> ParseErrorKind {
        self.kind
    }

    /// Byte range of the offending token or node.
    pub fn span(&self) -> Span {
        self.span
    }

    /// 1-based line of the error's start.
    pub fn line(&self) -> usize {
        self.line
    }

    /// 1-based byte column of the error's start within its line.
    pub fn col(&self) -> usize {
        self.col
    }

    /// The message, without the position prefix.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The query line holding the error with a caret under the position, followed
    /// by the error itself; for CLIs.
    ///
    /// ```
    /// let q = "sum(rate(x[5m])";
    /// let e = promlite_promql::parse(q).unwrap_err();
    /// let shown = e.render(q);
    /// assert!(shown.starts_with("sum(rate(x[5m])\n"));
    /// assert!(shown.contains('^'));
    /// ```
    pub fn render(&self, query: &str) -> String {
        let start = floor_boundary(query, self.span.start);
        let line_start = query[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = query[start..].find('\n').map_or(query.len(), |i| start + i);
        let text = &query[line_start..line_end];
        // Pad with the same whitespace kinds so tabs line up; count chars, not bytes.
        let pad: String = query[line_start..start]
            .chars()
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let width = query[start..floor_boundary(query, self.span.end.clamp(start, line_end))]
            .chars()
            .count()
            .max(1);
        format!("{text}\n{pad}{}\n{self}", "^".repeat(width))
    }
}

/// The 1-based line and byte column of byte `offset` of `query`, as Prometheus
/// prints positions (`1:15`), e.g. for annotations that point into the query.
///
/// ```
/// assert_eq!(promlite_promql::parser::errors::line_col("a +\n  b", 6), (2, 3));
/// ```
pub fn line_col(query: &str, offset: usize) -> (usize, usize) {
    let start = floor_boundary(query, offset);
    let before = &query.as_bytes()[..start];
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    (line, start - line_start + 1)
}

/// The largest char boundary of `s` at or before `i`.
fn floor_boundary(s: &str, i: usize) -> usize {
    let mut i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use crate::{parse, parse_with, ParseErrorKind as K, ParseOptions};

    #[test]
    fn kinds() {
        let kind = |q: &str| parse(q).unwrap_err().kind();
        assert_eq!(kind("sum(x"), K::Lexical);
        assert_eq!(kind("sum(x) by"), K::Syntax);
        assert_eq!(kind("x[5m"), K::Lexical);
        assert_eq!(kind("x{a=\"b}"), K::Lexical);
        assert_eq!(kind("rate(x)"), K::Type);
        assert_eq!(kind("round()"), K::Type);
        assert_eq!(kind("x{a=~\"(\"}"), K::Regex);
        assert_eq!(kind("nope(x)"), K::UnknownFunction);
        assert_eq!(kind("mad_over_time(x[5m])"), K::NotEnabled);
        assert_eq!(kind(&"(".repeat(300)), K::TooComplex);
        let e = parse_with(
            "mad_over_time(x)",
            ParseOptions::default().with_experimental_functions(true),
        )
        .unwrap_err();
        assert_eq!(e.kind(), K::Type);
        assert_eq!(e.span(), crate::Span::new(14, 15));
        assert_eq!((e.line(), e.col()), (1, 15));
    }
}
