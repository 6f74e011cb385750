//! Parse errors with positions, printed the way Prometheus prints them.

use super::ast::Span;

/// A query that does not parse or does not type-check.
///
/// Displays as Prometheus does: `<line>:<col>: parse error: <message>`, where line
/// and column are 1-based and the column counts bytes from the start of the line
/// (so for a single-line query `col = span.start + 1`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{col}: parse error: {message}")]
pub struct ParseError {
    /// Byte range of the offending token or node.
    pub span: Span,
    /// 1-based line of `span.start`.
    pub line: usize,
    /// 1-based byte column of `span.start` within its line.
    pub col: usize,
    /// The message (without the position prefix).
    pub message: String,
}

impl ParseError {
    /// Creates an error for `span` of `query`, computing line and column.
    pub fn new(query: &str, span: Span, message: impl Into<String>) -> Self {
        let (line, col) = line_col(query, span.start);
        ParseError {
            span,
            line,
            col,
            message: message.into(),
        }
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
