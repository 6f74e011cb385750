//! Parser for promqltest scripts (`shared/promqltest/FORMAT.md`).

use promlite_model::Labels;

use super::values::{
    parse_duration, parse_scalar_line, parse_sequence, parse_series_descriptor, split_descriptor,
    Slot,
};

/// A script-level error: the file cannot be run at all.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{line}: {msg}")]
pub struct ScriptError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub msg: String,
}

fn err(line: usize, msg: impl Into<String>) -> ScriptError {
    ScriptError {
        line,
        msg: msg.into(),
    }
}

/// One command of a script.
#[derive(Debug, Clone)]
pub enum Command {
    /// `load` / `load_with_nhcb`.
    Load(Load),
    /// `clear`.
    Clear,
    /// `eval ...`.
    Eval(Box<EvalCase>),
}

/// A `load` block.
#[derive(Debug, Clone)]
pub struct Load {
    /// Slot spacing in ms.
    pub interval_ms: i64,
    /// `load_with_nhcb`: classic histograms are also converted to native ones.
    pub nhcb: bool,
    /// Series lines (a repeated series replaces the earlier line).
    pub series: Vec<(Labels, Vec<Slot>)>,
    /// The block uses start-timestamp lines (`@st`).
    pub start_timestamps: bool,
}

/// How to match an expected error or annotation text.
#[derive(Debug, Clone, PartialEq)]
pub enum TextMatch {
    /// Anything.
    Any,
    /// Exact text (trimmed).
    Exact(String),
    /// Unanchored regular expression.
    Regex(String),
}

impl TextMatch {
    /// Whether `s` matches.
    pub fn matches(&self, s: &str) -> bool {
        match self {
            TextMatch::Any => true,
            TextMatch::Exact(e) => s.trim() == e.trim(),
            // Go regexp (RE2) meaning: ASCII \w, \d, \s, \b.
            TextMatch::Regex(r) => {
                regex::Regex::new(&promlite_model::re2_pattern(r)).is_ok_and(|re| re.is_match(s))
            }
        }
    }
}

/// Instant or range evaluation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EvalKind {
    /// `eval instant at T`.
    Instant {
        /// ms
        at: i64,
    },
    /// `eval range from S to E step D`.
    Range {
        /// ms
        start: i64,
        /// ms
        end: i64,
        /// ms
        step: i64,
    },
}

/// One expected series.
#[derive(Debug, Clone)]
pub struct ExpectedSeries {
    /// Line of the expectation.
    pub line: usize,
    /// Exact label set.
    pub labels: Labels,
    /// Expanded values.
    pub slots: Vec<Slot>,
}

/// The expected result.
#[derive(Debug, Clone)]
pub enum Expected {
    /// A list of series (possibly empty = empty result).
    Series(Vec<ExpectedSeries>),
    /// A scalar.
    Scalar(f64),
}

/// One `eval` case.
#[derive(Debug, Clone)]
pub struct EvalCase {
    /// Line of the `eval` command.
    pub line: usize,
    /// The PromQL expression.
    pub expr: String,
    /// When to evaluate.
    pub kind: EvalKind,
    /// `expect fail` / `eval_fail`.
    pub fail: Option<TextMatch>,
    /// `expect warn` lines (empty vec with `warn_any` = at least one warning).
    pub warn: Vec<TextMatch>,
    /// `expect info` lines.
    pub info: Vec<TextMatch>,
    /// `expect no_warn`.
    pub no_warn: bool,
    /// `expect no_info`.
    pub no_info: bool,
    /// `expect ordered` / `eval_ordered`.
    pub ordered: bool,
    /// `expect string "..."`.
    pub string: Option<String>,
    /// `expect range vector from a to b step s` (ms).
    pub range_vector: Option<(i64, i64, i64)>,
    /// Expected result.
    pub expected: Expected,
}

/// Parses a whole script.
pub fn parse_script(text: &str) -> Result<Vec<(usize, Command)>, ScriptError> {
    let lines: Vec<&str> = text.split('\n').map(str::trim).collect();
    let mut out = Vec::new();
    let mut i = 0;
    let is_blank = |l: &str| l.is_empty() || l.starts_with('#');
    while i < lines.len() {
        let l = lines[i];
        let lineno = i + 1;
        if is_blank(l) {
            i += 1;
            continue;
        }
        // Collect the block: this line up to the next blank one.
        let mut j = i + 1;
        while j < lines.len() && !is_blank(lines[j]) {
            j += 1;
        }
        let body: Vec<(usize, &str)> = (i + 1..j).map(|k| (k + 1, lines[k])).collect();
        let first = l
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        match first.as_str() {
            "load" | "load_with_nhcb" => {
                out.push((lineno, Command::Load(parse_load(lineno, l, &body)?)));
                i = j;
            }
            "clear" => {
                out.push((lineno, Command::Clear));
                i += 1;
            }
            w if w.starts_with("eval") => {
                let (case, used) = parse_eval(lineno, l, &body)?;
                out.push((lineno, Command::Eval(Box::new(case))));
                // Lines after a block-ending line (scalar, expected_fail_*) must be blank.
                if let Some(&(ln, extra)) = body.get(used) {
                    return Err(err(
                        ln,
                        format!("unexpected line after the end of the eval block: {extra:?}"),
                    ));
                }
                i = j;
            }
            _ => return Err(err(lineno, format!("unknown command {l:?}"))),
        }
    }
    Ok(out)
}

fn parse_load(lineno: usize, head: &str, body: &[(usize, &str)]) -> Result<Load, ScriptError> {
    let mut words = head.split_whitespace();
    let cmd = words.next().unwrap_or("");
    let interval = words
        .next()
        .ok_or_else(|| err(lineno, "load needs an interval"))?;
    if words.next().is_some() {
        return Err(err(lineno, "trailing text after load interval"));
    }
    let interval_ms = parse_duration(interval).map_err(|e| err(lineno, e))?;
    let mut load = Load {
        interval_ms,
        nhcb: cmd.eq_ignore_ascii_case("load_with_nhcb"),
        series: Vec::new(),
        start_timestamps: false,
    };
    for &(ln, l) in body {
        let (desc, seq) = split_descriptor(l);
        if desc.ends_with("@st") {
            load.start_timestamps = true;
            continue;
        }
        let labels = parse_series_descriptor(desc).map_err(|e| err(ln, e))?;
        let slots = parse_sequence(seq).map_err(|e| err(ln, e))?;
        if let Some(p) = load.series.iter().position(|(l, _)| *l == labels) {
            load.series[p].1 = slots;
        } else {
            load.series.push((labels, slots));
        }
    }
    Ok(load)
}

fn parse_text_match(rest: &str, ln: usize) -> Result<TextMatch, ScriptError> {
    let rest = rest.trim();
    if rest.is_empty() {
        return Ok(TextMatch::Any);
    }
    if let Some(m) = rest.strip_prefix("msg:") {
        return Ok(TextMatch::Exact(m.trim().to_string()));
    }
    if let Some(r) = rest.strip_prefix("regex:") {
        return Ok(TextMatch::Regex(r.trim().to_string()));
    }
    Err(err(ln, format!("expected msg: or regex:, got {rest:?}")))
}

/// Parses `eval...` plus its body; returns the case and how many body lines it used.
fn parse_eval(
    lineno: usize,
    head: &str,
    body: &[(usize, &str)],
) -> Result<(EvalCase, usize), ScriptError> {
    let (cmd, rest) = head.split_once(char::is_whitespace).unwrap_or((head, ""));
    let rest = rest.trim_start();
    let mut case = EvalCase {
        line: lineno,
        expr: String::new(),
        kind: EvalKind::Instant { at: 0 },
        fail: None,
        warn: Vec::new(),
        info: Vec::new(),
        no_warn: false,
        no_info: false,
        ordered: false,
        string: None,
        range_vector: None,
        expected: Expected::Series(Vec::new()),
    };
    let mut warn_any = false;
    let mut info_any = false;
    match cmd {
        "eval" => {}
        "eval_fail" => case.fail = Some(TextMatch::Any),
        "eval_warn" => warn_any = true,
        "eval_info" => info_any = true,
        "eval_ordered" => case.ordered = true,
        other => return Err(err(lineno, format!("unknown command {other:?}"))),
    }
    let take = |s: &str| -> (String, String) {
        let s = s.trim_start();
        match s.split_once(char::is_whitespace) {
            Some((a, b)) => (a.to_string(), b.trim_start().to_string()),
            None => (s.to_string(), String::new()),
        }
    };
    let dur = |s: &str| parse_duration(s).map_err(|e| err(lineno, format!("{e} in {head:?}")));
    let (w, r) = take(rest);
    match w.as_str() {
        "instant" => {
            let (at, r) = take(&r);
            if at != "at" {
                return Err(err(lineno, "expected `instant at <time>`"));
            }
            let (t, r) = take(&r);
            case.kind = EvalKind::Instant { at: dur(&t)? };
            case.expr = r;
        }
        "range" => {
            let (from, r) = take(&r);
            let (s, r) = take(&r);
            let (to, r) = take(&r);
            let (e, r) = take(&r);
            let (st, r) = take(&r);
            let (step, r) = take(&r);
            if from != "from" || to != "to" || st != "step" {
                return Err(err(lineno, "expected `range from <t> to <t> step <d>`"));
            }
            let (start, end, step) = (dur(&s)?, dur(&e)?, dur(&step)?);
            if end < start {
                return Err(err(lineno, "end timestamp must not be before start"));
            }
            if step <= 0 {
                return Err(err(lineno, "step must be positive"));
            }
            case.kind = EvalKind::Range { start, end, step };
            if case.ordered {
                return Err(err(lineno, "eval_ordered is for instant queries only"));
            }
            case.expr = r;
        }
        _ => return Err(err(lineno, format!("cannot parse eval command {head:?}"))),
    }
    if case.expr.trim().is_empty() {
        return Err(err(lineno, "missing expression"));
    }
    let mut series: Vec<ExpectedSeries> = Vec::new();
    let mut used = 0;
    for &(ln, l) in body {
        used += 1;
        if let Some(m) = l.strip_prefix("expected_fail_message") {
            case.fail = Some(TextMatch::Exact(m.trim().to_string()));
            break;
        }
        if let Some(m) = l.strip_prefix("expected_fail_regexp") {
            case.fail = Some(TextMatch::Regex(m.trim().to_string()));
            break;
        }
        if let Some(e) = l.strip_prefix("expect ") {
            let (kw, arg) = e
                .trim()
                .split_once(char::is_whitespace)
                .unwrap_or((e.trim(), ""));
            match kw {
                "fail" => {
                    if case.fail.is_some() && cmd != "eval_fail" {
                        return Err(err(ln, "more than one `expect fail`"));
                    }
                    case.fail = Some(parse_text_match(arg, ln)?);
                }
                "warn" => {
                    warn_any = true;
                    let m = parse_text_match(arg, ln)?;
                    if m != TextMatch::Any {
                        case.warn.push(m);
                    }
                }
                "info" => {
                    info_any = true;
                    let m = parse_text_match(arg, ln)?;
                    if m != TextMatch::Any {
                        case.info.push(m);
                    }
                }
                "no_warn" => case.no_warn = true,
                "no_info" => case.no_info = true,
                "ordered" => {
                    if matches!(case.kind, EvalKind::Range { .. }) {
                        return Err(err(ln, "expect ordered is for instant queries only"));
                    }
                    case.ordered = true;
                }
                "string" => {
                    let (s, _) =
                        super::values::parse_string_literal(arg.trim()).map_err(|e| err(ln, e))?;
                    case.string = Some(s);
                }
                "range" => {
                    // range vector from a to b step s
                    let w: Vec<&str> = arg.split_whitespace().collect();
                    if w.len() != 7
                        || w[0] != "vector"
                        || w[1] != "from"
                        || w[3] != "to"
                        || w[5] != "step"
                    {
                        return Err(err(ln, format!("bad `expect range` line {l:?}")));
                    }
                    let a = parse_duration(w[2]).map_err(|e| err(ln, e))?;
                    let b = parse_duration(w[4]).map_err(|e| err(ln, e))?;
                    let s = parse_duration(w[6]).map_err(|e| err(ln, e))?;
                    case.range_vector = Some((a, b, s));
                }
                other => return Err(err(ln, format!("unknown expectation {other:?}"))),
            }
            continue;
        }
        if let Some(v) = parse_scalar_line(l) {
            case.expected = Expected::Scalar(v);
            break;
        }
        let (desc, seq) = split_descriptor(l);
        let labels = parse_series_descriptor(desc).map_err(|e| err(ln, e))?;
        let slots = parse_sequence(seq).map_err(|e| err(ln, e))?;
        if slots.is_empty() {
            return Err(err(ln, "expected series without values"));
        }
        series.push(ExpectedSeries {
            line: ln,
            labels,
            slots,
        });
    }
    if !series.is_empty() {
        if matches!(case.expected, Expected::Scalar(_)) {
            return Err(err(lineno, "both series and a scalar expected"));
        }
        case.expected = Expected::Series(series);
    }
    if let (EvalKind::Instant { .. }, None, Expected::Series(s)) =
        (case.kind, case.range_vector, &case.expected)
    {
        if let Some(bad) = s.iter().find(|s| s.slots.len() != 1) {
            return Err(err(
                bad.line,
                "an instant query expects exactly one value per series",
            ));
        }
    }
    if (warn_any && case.no_warn) || (info_any && case.no_info) {
        return Err(err(
            lineno,
            "warn/no_warn (info/no_info) cannot be combined",
        ));
    }
    if warn_any && case.warn.is_empty() {
        case.warn.push(TextMatch::Any);
    }
    if info_any && case.info.is_empty() {
        case.info.push(TextMatch::Any);
    }
    Ok((case, used))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRIPT: &str = r#"
# comment
load 5m
    http_requests{job="api", instance="0"}  0+10x3
    other 1 _ stale

eval instant at 10m sum(http_requests)
    {} 20

eval range from 0 to 10m step 5m http_requests
    expect no_warn
    http_requests{job="api", instance="0"} 0 _ 20

eval_fail instant at 0 foo
    expected_fail_message boom

eval instant at 1m 0x10
    16

eval instant at 50m rate(x[5m])
    expect warn msg: PromQL warning: something (1:6)
    expect info
    expect fail regex: a.c

clear
"#;

    #[test]
    fn parses_every_command() {
        let cmds = parse_script(SCRIPT).unwrap();
        assert_eq!(cmds.len(), 7);
        let Command::Load(l) = &cmds[0].1 else {
            panic!()
        };
        assert_eq!(cmds[0].0, 3);
        assert_eq!(l.interval_ms, 300_000);
        assert_eq!(l.series.len(), 2);
        assert_eq!(l.series[0].1.len(), 4);
        let Command::Eval(e) = &cmds[1].1 else {
            panic!()
        };
        assert_eq!(e.kind, EvalKind::Instant { at: 600_000 });
        assert_eq!(e.expr, "sum(http_requests)");
        assert!(
            matches!(&e.expected, Expected::Series(s) if s.len() == 1 && s[0].labels.is_empty())
        );
        let Command::Eval(e) = &cmds[2].1 else {
            panic!()
        };
        assert_eq!(
            e.kind,
            EvalKind::Range {
                start: 0,
                end: 600_000,
                step: 300_000
            }
        );
        assert!(e.no_warn);
        let Command::Eval(e) = &cmds[3].1 else {
            panic!()
        };
        assert_eq!(e.fail, Some(TextMatch::Exact("boom".into())));
        let Command::Eval(e) = &cmds[4].1 else {
            panic!()
        };
        assert!(matches!(e.expected, Expected::Scalar(v) if v == 16.0));
        let Command::Eval(e) = &cmds[5].1 else {
            panic!()
        };
        assert_eq!(
            e.warn,
            vec![TextMatch::Exact("PromQL warning: something (1:6)".into())]
        );
        assert_eq!(e.info, vec![TextMatch::Any]);
        assert_eq!(e.fail, Some(TextMatch::Regex("a.c".into())));
        assert!(matches!(cmds[6].1, Command::Clear));
    }

    #[test]
    fn rejects_bad_scripts_with_line_numbers() {
        assert_eq!(parse_script("\nbogus\n").unwrap_err().line, 2);
        assert_eq!(
            parse_script("eval instant at 5x foo\n").unwrap_err().line,
            1
        );
        assert_eq!(
            parse_script("eval instant at 0 x\n  {} 1 2\n")
                .unwrap_err()
                .line,
            2
        );
        assert!(parse_script("eval instant at 0 1\n  1\n  2\n").is_err());
    }
}
