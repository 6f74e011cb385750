//! Canonical PromQL printing (`impl Display for Expr`), in the style of
//! Prometheus's `String()` methods. The output parses back to the same AST.

use std::fmt::{self, Write};

use promlite_model::{MatchOp, METRIC_NAME};

use super::ast::*;
use super::parse::{at_ms, is_keyword};

/// Writes `s` as a double-quoted string with Go-style escapes.
pub fn write_quoted(f: &mut impl Write, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            '\x07' => f.write_str("\\a")?,
            '\x08' => f.write_str("\\b")?,
            '\x0c' => f.write_str("\\f")?,
            '\x0b' => f.write_str("\\v")?,
            c if (c as u32) < 0x20 || c as u32 == 0x7f => write!(f, "\\x{:02x}", c as u32)?,
            c if c.is_control() => {
                if (c as u32) < 0x10000 {
                    write!(f, "\\u{:04x}", c as u32)?
                } else {
                    write!(f, "\\U{:08x}", c as u32)?
                }
            }
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

fn is_legacy_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && (b[0] == b'_' || b[0].is_ascii_alphabetic())
        && b.iter().all(|&c| c == b'_' || c.is_ascii_alphanumeric())
}

fn is_bare_metric_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && (b[0] == b'_' || b[0] == b':' || b[0].is_ascii_alphabetic())
        && b.iter()
            .all(|&c| c == b'_' || c == b':' || c.is_ascii_alphanumeric())
        && !is_keyword(s)
}

/// A label name in a matcher (`{name="v"}`): bare when it is a legacy name.
fn write_label(f: &mut impl Write, s: &str) -> fmt::Result {
    if is_legacy_label(s) {
        f.write_str(s)
    } else {
        write_quoted(f, s)
    }
}

/// A label name in a grouping list: also quoted when the lexer would read it as a
/// number (`inf`, `nan`).
fn write_grouping_label(f: &mut impl Write, s: &str) -> fmt::Result {
    if is_legacy_label(s) && !s.eq_ignore_ascii_case("inf") && !s.eq_ignore_ascii_case("nan") {
        f.write_str(s)
    } else {
        write_quoted(f, s)
    }
}

fn write_label_list(f: &mut impl Write, labels: &[String]) -> fmt::Result {
    f.write_char('(')?;
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write_grouping_label(f, l)?;
    }
    f.write_char(')')
}

/// Formats milliseconds the way Prometheus's `model.Duration` does (`1h30m`,
/// `1d`, `500ms`; years and weeks only when exact).
pub fn format_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    if ms < 0 {
        out.push('-');
    }
    let mut rest = ms.unsigned_abs();
    const DAY: u64 = 24 * 3_600_000;
    for (unit, mult, exact) in [
        ("y", 365 * DAY, true),
        ("w", 7 * DAY, true),
        ("d", DAY, false),
        ("h", 3_600_000, false),
        ("m", 60_000, false),
        ("s", 1000, false),
        ("ms", 1, false),
    ] {
        if exact && rest % mult != 0 {
            continue;
        }
        let v = rest / mult;
        if v > 0 {
            let _ = write!(out, "{v}{unit}");
            rest -= v * mult;
        }
    }
    out
}

/// Formats a float literal like Go's `strconv.FormatFloat(v, 'f', -1, 64)`, except
/// that positive infinity prints as `Inf` rather than `+Inf`: a leading `+` would
/// parse back as a unary operator (`+Inf ^ x` is `+(Inf ^ x)`).
pub fn format_number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "Inf" } else { "-Inf" }.into()
    } else {
        promlite_model::format_value(v)
    }
}

/// Formats an `@` timestamp (milliseconds) as seconds: `%.3f` like Prometheus when
/// that parses back to the same milliseconds; beyond ~2^50 ms, where seconds with
/// three decimals no longer fit an f64 exactly, the shortest decimal that does.
pub fn format_at(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let a = ms.unsigned_abs();
    let canonical = format!("{sign}{}.{:03}", a / 1000, a % 1000);
    let back = |text: &str| text.parse::<f64>().ok().and_then(at_ms);
    if back(&canonical) == Some(ms) {
        return canonical;
    }
    // Search the floats around |ms|/1000 for one that converts back exactly.
    let target = i64::try_from(a).unwrap_or(i64::MAX);
    let v0 = (a as f64 / 1000.0).to_bits();
    for k in 0..64u64 {
        for bits in [v0.wrapping_add(k), v0.wrapping_sub(k)] {
            let v = f64::from_bits(bits);
            if at_ms(v) == Some(target) {
                return format!("{sign}{}", promlite_model::format_value(v));
            }
        }
    }
    canonical
}

fn write_modifiers(f: &mut fmt::Formatter<'_>, offset: i64, at: Option<AtModifier>) -> fmt::Result {
    match at {
        None => {}
        Some(AtModifier::Start) => f.write_str(" @ start()")?,
        Some(AtModifier::End) => f.write_str(" @ end()")?,
        Some(AtModifier::Timestamp(ms)) => write!(f, " @ {}", format_at(ms))?,
    }
    if offset != 0 {
        write!(f, " offset {}", format_duration(offset))?;
    }
    Ok(())
}

impl fmt::Display for VectorSelector {
    /// The selector without its `offset`/`@` modifiers.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut quoted_name = false;
        if let Some(n) = &self.name {
            if is_bare_metric_name(n) {
                f.write_str(n)?;
            } else {
                quoted_name = true;
            }
        }
        let shown: Vec<_> = self
            .matchers
            .iter()
            .filter(|m| {
                !(self.name.is_some()
                    && &*m.name == METRIC_NAME
                    && m.op == MatchOp::Equal
                    && Some(&*m.value) == self.name.as_deref())
            })
            .collect();
        if quoted_name || !shown.is_empty() || self.name.is_none() {
            f.write_char('{')?;
            let mut first = true;
            if quoted_name {
                write_quoted(f, self.name.as_deref().unwrap_or(""))?;
                first = false;
            }
            for m in shown {
                if !first {
                    f.write_str(", ")?;
                }
                first = false;
                write_label(f, &m.name)?;
                f.write_str(m.op.as_str())?;
                write_quoted(f, &m.value)?;
            }
            f.write_char('}')?;
        }
        Ok(())
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ExprKind::NumberLiteral(v) => f.write_str(&format_number(*v)),
            ExprKind::StringLiteral(s) => write_quoted(f, s),
            ExprKind::VectorSelector(vs) => {
                write!(f, "{vs}")?;
                write_modifiers(f, vs.offset, vs.at)
            }
            ExprKind::MatrixSelector(ms) => {
                write!(f, "{}[{}]", ms.selector, format_duration(ms.range))?;
                write_modifiers(f, ms.selector.offset, ms.selector.at)
            }
            ExprKind::Subquery(sq) => {
                write!(f, "{}[{}:", sq.expr, format_duration(sq.range))?;
                if let Some(s) = sq.step {
                    f.write_str(&format_duration(s))?;
                }
                f.write_char(']')?;
                write_modifiers(f, sq.offset, sq.at)
            }
            ExprKind::Call(c) => {
                write!(f, "{}(", c.func.name)?;
                for (i, a) in c.args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{a}")?;
                }
                f.write_char(')')
            }
            ExprKind::Aggregate(a) => {
                f.write_str(a.op.as_str())?;
                if a.without {
                    f.write_str(" without ")?;
                    write_label_list(f, &a.grouping)?;
                    f.write_char(' ')?;
                } else if !a.grouping.is_empty() {
                    f.write_str(" by ")?;
                    write_label_list(f, &a.grouping)?;
                    f.write_char(' ')?;
                }
                f.write_char('(')?;
                if let Some(p) = &a.param {
                    write!(f, "{p}, ")?;
                }
                write!(f, "{})", a.expr)
            }
            ExprKind::Binary(b) => {
                write!(f, "{} {}", b.lhs, b.op)?;
                if b.return_bool {
                    f.write_str(" bool")?;
                }
                if let Some(vm) = &b.matching {
                    let grouped = matches!(
                        vm.card,
                        VectorMatchCardinality::ManyToOne | VectorMatchCardinality::OneToMany
                    );
                    if vm.on || !vm.matching_labels.is_empty() || grouped {
                        f.write_str(if vm.on { " on " } else { " ignoring " })?;
                        write_label_list(f, &vm.matching_labels)?;
                    }
                    if grouped {
                        f.write_str(if vm.card == VectorMatchCardinality::ManyToOne {
                            " group_left "
                        } else {
                            " group_right "
                        })?;
                        write_label_list(f, &vm.include)?;
                    }
                }
                write!(f, " {}", b.rhs)
            }
            ExprKind::Unary(u) => {
                f.write_str(match u.op {
                    UnaryOp::Neg => "-",
                    UnaryOp::Pos => "+",
                })?;
                write!(f, "{}", u.expr)
            }
            ExprKind::Paren(e) => write!(f, "({e})"),
        }
    }
}
