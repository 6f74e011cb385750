//! Label matchers (`=`, `!=`, `=~`, `!~`) with Prometheus 3 regex semantics.

use std::fmt;
use std::sync::Arc;

use regex::{Regex, RegexBuilder};

use crate::labels::QuotedStr;

/// The four matcher kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchOp {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~` (fully anchored regex)
    RegexMatch,
    /// `!~` (fully anchored regex)
    RegexNoMatch,
}

impl MatchOp {
    /// The operator as written in PromQL.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::RegexMatch => "=~",
            MatchOp::RegexNoMatch => "!~",
        }
    }
}

impl fmt::Display for MatchOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A regex that does not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid regular expression {pattern:?}: {message}")]
#[non_exhaustive]
pub struct MatcherError {
    /// The pattern as written.
    pub pattern: String,
    /// Why it was rejected.
    pub message: String,
}

/// Largest compiled regex we accept (bytes of the regex crate's program). Bounds the
/// memory a hostile query can make a matcher take.
const REGEX_SIZE_LIMIT: usize = 4 << 20;

/// A label matcher. A series without the label matches as if its value were `""`,
/// so `{a=""}` selects series lacking `a`, and `{a!~".+"}` does too.
#[derive(Clone)]
pub struct Matcher {
    /// The label name.
    pub name: Arc<str>,
    /// The operator.
    pub op: MatchOp,
    /// The value or pattern as written (unescaped).
    pub value: Arc<str>,
    re: Option<Regex>,
}

impl Matcher {
    /// Creates a matcher. Regex patterns are compiled fully anchored (`^(?s:...)$`),
    /// with `.` matching newlines as in Prometheus 3, and RE2 syntax and meaning (no
    /// backreferences or look-around; ASCII `\w \d \s \b`): see
    /// [`compile_anchored_regex`].
    ///
    /// # Errors
    /// [`MatcherError`] when a regex does not compile or is too large.
    pub fn new(
        op: MatchOp,
        name: impl Into<Arc<str>>,
        value: impl Into<Arc<str>>,
    ) -> Result<Self, MatcherError> {
        let value = value.into();
        let re = match op {
            MatchOp::RegexMatch | MatchOp::RegexNoMatch => Some(compile_anchored_regex(&value)?),
            _ => None,
        };
        Ok(Matcher {
            name: name.into(),
            op,
            value,
            re,
        })
    }

    /// True when a label value `v` (use `""` for an absent label) satisfies the matcher.
    #[inline]
    pub fn matches(&self, v: &str) -> bool {
        match self.op {
            MatchOp::Equal => *self.value == *v,
            MatchOp::NotEqual => *self.value != *v,
            MatchOp::RegexMatch => self.re.as_ref().is_some_and(|r| r.is_match(v)),
            MatchOp::RegexNoMatch => !self.re.as_ref().is_some_and(|r| r.is_match(v)),
        }
    }

    /// True when the matcher accepts the empty string, i.e. also selects series that
    /// lack the label.
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }

    /// The compiled, anchored regex of a regex matcher.
    pub fn regex(&self) -> Option<&Regex> {
        self.re.as_ref()
    }
}

/// Compiles `pattern` as Prometheus 3 does, `^(?s:pattern)$`, with Go RE2 meaning:
/// `\w`, `\d`, `\s` and `\b` are ASCII-only (see [`re2_pattern`](crate::re2_pattern)).
/// Every regex promlite takes from a user (matchers, `label_replace`) compiles here.
///
/// ```
/// let re = promlite_model::compile_anchored_regex(r"\w+").unwrap();
/// assert!(re.is_match("abc_1"));
/// assert!(!re.is_match("é"), "RE2's \\w is ASCII");
/// ```
///
/// # Errors
/// [`MatcherError`] when the regex does not compile or is too large.
pub fn compile_anchored_regex(pattern: &str) -> Result<Regex, MatcherError> {
    let re2 = crate::re2::re2_pattern(pattern);
    RegexBuilder::new(&format!("^(?s:{re2})$"))
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| MatcherError {
            pattern: pattern.to_string(),
            message: match e {
                regex::Error::Syntax(s) => s.lines().last().unwrap_or("syntax error").to_string(),
                regex::Error::CompiledTooBig(n) => format!("compiled regex exceeds {n} bytes"),
                other => other.to_string(),
            },
        })
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.op == other.op && self.value == other.value
    }
}

impl Eq for Matcher {}

impl std::hash::Hash for Matcher {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
        self.op.hash(state);
        self.value.hash(state);
    }
}

impl fmt::Debug for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Prints as PromQL: `name="value"`, `name=~"re"`; the value escaped and quoted.
impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.name, self.op, QuotedStr(&self.value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(op: MatchOp, v: &str) -> Matcher {
        Matcher::new(op, "l", v).unwrap()
    }

    #[test]
    fn regex_is_fully_anchored() {
        let r = m(MatchOp::RegexMatch, "2..");
        assert!(r.matches("200"));
        assert!(!r.matches("2000"));
        assert!(!r.matches("x200"));
    }

    #[test]
    fn dot_matches_newline_as_in_prometheus_3() {
        assert!(m(MatchOp::RegexMatch, "a.b").matches("a\nb"));
    }

    #[test]
    fn empty_value_semantics() {
        assert!(m(MatchOp::Equal, "").matches_empty());
        assert!(!m(MatchOp::NotEqual, "").matches_empty());
        assert!(m(MatchOp::RegexMatch, ".*").matches_empty());
        assert!(!m(MatchOp::RegexMatch, ".+").matches_empty());
        assert!(m(MatchOp::RegexNoMatch, ".+").matches_empty());
    }

    #[test]
    fn bad_regex_is_an_error_not_a_panic() {
        let e = Matcher::new(MatchOp::RegexMatch, "l", "a(").unwrap_err();
        assert_eq!(e.pattern, "a(");
        assert!(Matcher::new(MatchOp::RegexMatch, "l", "(a{1000}){1000}").is_err());
    }

    #[test]
    fn display_escapes() {
        assert_eq!(m(MatchOp::RegexNoMatch, "a\"b").to_string(), r#"l!~"a\"b""#);
    }
}
