//! Regular expressions with Go RE2 meaning (what Prometheus compiles).
//!
//! The `regex` crate reads RE2 syntax, but its Perl classes and word boundaries are
//! Unicode-aware by default, while RE2's are ASCII-only: in Prometheus `\w` is
//! `[0-9A-Za-z_]`, `\d` is `[0-9]`, `\s` is `[\t\n\f\r ]` and `\b` is an ASCII word
//! boundary. [`re2_pattern`] rewrites exactly those items, found with `regex-syntax`'s
//! parser (so escapes, classes and flags are read correctly), and leaves everything
//! else, `.` and literals included, Unicode as in RE2.

use std::borrow::Cow;

use regex_syntax::ast::{self, AssertionKind, Ast, ClassPerlKind, ClassSetItem, Span};

/// Rewrites `pattern` so that the `regex` crate gives it RE2's meaning: the Perl
/// classes `\d \D \w \W \s \S` become their ASCII sets (in brackets too) and `\b \B`
/// become ASCII word boundaries. A pattern with no backslash, or one that does not
/// parse (the regex compiler then reports the error), is returned unchanged.
///
/// ```
/// use promlite_model::re2_pattern;
/// assert_eq!(re2_pattern("2.."), "2..");
/// assert_eq!(re2_pattern(r"\d+"), "[0-9]+");
/// assert_eq!(re2_pattern(r"[\w.]"), "[[0-9A-Za-z_].]");
/// assert_eq!(re2_pattern(r"\bx"), r"(?-u:\b)x");
/// ```
pub fn re2_pattern(pattern: &str) -> Cow<'_, str> {
    if !pattern.contains('\\') {
        return Cow::Borrowed(pattern);
    }
    let Ok(parsed) = ast::parse::Parser::new().parse(pattern) else {
        return Cow::Borrowed(pattern);
    };
    let Ok(mut edits) = ast::visit(&parsed, Edits(Vec::new())) else {
        return Cow::Borrowed(pattern);
    };
    if edits.is_empty() {
        return Cow::Borrowed(pattern);
    }
    edits.sort_by_key(|(span, _)| span.start.offset);
    let mut out = String::with_capacity(pattern.len() + 16 * edits.len());
    let mut at = 0;
    for (span, text) in edits {
        out.push_str(&pattern[at..span.start.offset]);
        out.push_str(text);
        at = span.end.offset;
    }
    out.push_str(&pattern[at..]);
    Cow::Owned(out)
}

/// RE2's ASCII set for a Perl class; valid both alone and nested inside brackets.
fn perl_class(kind: &ClassPerlKind, negated: bool) -> &'static str {
    match (kind, negated) {
        (ClassPerlKind::Digit, false) => "[0-9]",
        (ClassPerlKind::Digit, true) => "[^0-9]",
        (ClassPerlKind::Word, false) => "[0-9A-Za-z_]",
        (ClassPerlKind::Word, true) => "[^0-9A-Za-z_]",
        (ClassPerlKind::Space, false) => r"[\t\n\f\r ]",
        (ClassPerlKind::Space, true) => r"[^\t\n\f\r ]",
    }
}

/// Collects (span to replace, replacement) pairs.
struct Edits(Vec<(Span, &'static str)>);

impl ast::Visitor for Edits {
    type Output = Vec<(Span, &'static str)>;
    type Err = ();

    fn finish(self) -> Result<Self::Output, ()> {
        Ok(self.0)
    }

    fn visit_pre(&mut self, node: &Ast) -> Result<(), ()> {
        match node {
            Ast::ClassPerl(c) => self.0.push((c.span, perl_class(&c.kind, c.negated))),
            Ast::Assertion(a) => match a.kind {
                AssertionKind::WordBoundary => self.0.push((a.span, r"(?-u:\b)")),
                AssertionKind::NotWordBoundary => self.0.push((a.span, r"(?-u:\B)")),
                _ => {}
            },
            _ => {}
        }
        Ok(())
    }

    fn visit_class_set_item_pre(&mut self, item: &ClassSetItem) -> Result<(), ()> {
        if let ClassSetItem::Perl(c) = item {
            self.0.push((c.span, perl_class(&c.kind, c.negated)));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_without_perl_items_are_untouched() {
        for p in ["2..", "a|b", r"\.x", r"\pL+", r"a\nb", "[a-z]+", "(", r"\"] {
            assert!(matches!(re2_pattern(p), Cow::Borrowed(_)), "{p}");
        }
    }

    #[test]
    fn rewrites_every_perl_item() {
        assert_eq!(re2_pattern(r"\D\W\S"), r"[^0-9][^0-9A-Za-z_][^\t\n\f\r ]");
        assert_eq!(re2_pattern(r"[^\s-]\B"), r"[^[\t\n\f\r ]-](?-u:\B)");
        assert_eq!(re2_pattern(r"(?i)a\w"), r"(?i)a[0-9A-Za-z_]");
        // An escaped backslash followed by `d` is a literal, not a class.
        assert_eq!(re2_pattern(r"\\d"), r"\\d");
    }
}
