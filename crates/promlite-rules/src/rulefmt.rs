//! Rule files in Prometheus's format (`groups:` of `record`/`alert` rules), read
//! with serde-saphyr and validated as Prometheus's `rulefmt` package does.
//!
//! Every error carries the line and column Prometheus reports, and its text is
//! Prometheus's, so `promlite check rules` prints what `promtool check rules` does.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::duration::parse_duration;
use crate::template::Template;

/// A position in a rule file (1-based line and column; 0:0 when unknown, as
/// Prometheus prints a missing node).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    /// Line, 1-based.
    pub line: u64,
    /// Column, 1-based.
    pub col: u64,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// A parsed and validated rule file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RuleFile {
    /// The groups, in file order.
    pub groups: Vec<RuleGroup>,
}

/// One `groups:` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleGroup {
    /// The group's name (unique within its file).
    pub name: String,
    /// `interval`, in ms; `None` uses the global evaluation interval.
    pub interval_ms: Option<i64>,
    /// `query_offset`, in ms; `None` uses the global offset (0).
    pub query_offset_ms: Option<i64>,
    /// `limit`: most alerts / series a rule may produce; 0 for no limit.
    pub limit: usize,
    /// The rules, in evaluation order.
    pub rules: Vec<Rule>,
    /// Where the group's mapping starts.
    pub pos: Pos,
}

/// Whether a rule records a series or raises alerts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleKind {
    /// `record: NAME`.
    Record(String),
    /// `alert: NAME`.
    Alert(String),
}

/// One rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Recording or alerting, with its name.
    pub kind: RuleKind,
    /// The PromQL expression.
    pub expr: String,
    /// Where the expression's value starts.
    pub expr_pos: Pos,
    /// `for`, ms (alerting rules).
    pub for_ms: i64,
    /// `keep_firing_for`, ms (alerting rules).
    pub keep_firing_for_ms: i64,
    /// `labels`, sorted by name.
    pub labels: BTreeMap<String, String>,
    /// `annotations`, sorted by name (alerting rules).
    pub annotations: BTreeMap<String, String>,
}

impl Rule {
    /// The rule's name (`record` or `alert`).
    pub fn name(&self) -> &str {
        match &self.kind {
            RuleKind::Record(n) | RuleKind::Alert(n) => n,
        }
    }
}

/// One validation or syntax error, displayed as Prometheus does (without the
/// file name, which the caller prefixes: `FILE: 5:11: group "g", rule 1, ...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    /// The line and column Prometheus names, if any.
    pub pos: Option<Pos>,
    /// A second position (`record` and `alert` both set names both nodes).
    pub pos_alt: Option<Pos>,
    /// The message.
    pub msg: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = self.pos {
            write!(f, "{p}: ")?;
        }
        if let Some(p) = self.pos_alt {
            write!(f, "{p}: ")?;
        }
        f.write_str(&self.msg)
    }
}

impl std::error::Error for RuleError {}

fn plain(msg: impl Into<String>) -> RuleError {
    RuleError {
        pos: None,
        pos_alt: None,
        msg: msg.into(),
    }
}

/// Largest rule file read (64 MiB): bigger files are refused before parsing.
pub const MAX_RULE_FILE_BYTES: usize = 64 << 20;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    groups: Vec<Spanned<RawGroup>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    #[serde(default)]
    name: String,
    interval: Option<String>,
    query_offset: Option<String>,
    #[serde(default)]
    limit: i64,
    #[serde(default)]
    rules: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    record: Option<Spanned<String>>,
    alert: Option<Spanned<String>>,
    expr: Option<Spanned<String>>,
    #[serde(rename = "for")]
    for_: Option<String>,
    keep_firing_for: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

fn yaml_struct_of(field: &str) -> &'static str {
    match field {
        "record" | "alert" | "expr" | "for" | "keep_firing_for" | "labels" | "annotations" => {
            "rulefmt.RuleNode"
        }
        _ => "rulefmt.RuleGroup",
    }
}

fn yaml_error(e: &serde_saphyr::Error) -> RuleError {
    let e = e.without_snippet();
    let loc = e.location();
    let line = loc.map(|l| l.line()).unwrap_or(0);
    if let serde_saphyr::Error::SerdeUnknownField {
        field, expected, ..
    } = e
    {
        // Prometheus (go-yaml) names the Go struct the field is not in.
        let ty = if expected.contains(&"groups") {
            "rulefmt.RuleGroups"
        } else if expected.contains(&"rules") {
            "rulefmt.RuleGroup"
        } else {
            yaml_struct_of(expected.first().copied().unwrap_or("record"))
        };
        return plain(format!(
            "yaml: unmarshal errors:\n  line {line}: field {field} not found in type {ty}"
        ));
    }
    let msg = e.to_string();
    let first = msg.lines().next().unwrap_or("").to_string();
    match loc {
        Some(l) if l.line() > 0 && !first.contains(&format!("line {}", l.line())) => plain(
            format!("yaml: line {}: column {}: {first}", l.line(), l.column()),
        ),
        _ => plain(format!("yaml: {first}")),
    }
}

fn pos_of<T>(s: &Spanned<T>) -> Pos {
    Pos {
        line: s.referenced.line(),
        col: s.referenced.column(),
    }
}

/// Parses and validates a rule file's text.
///
/// # Errors
/// All errors found, in Prometheus's order: a YAML or type error stops at the
/// first; validation reports every problem of every rule.
pub fn parse_rule_file(text: &str) -> Result<RuleFile, Vec<RuleError>> {
    if text.len() > MAX_RULE_FILE_BYTES {
        return Err(vec![plain(format!(
            "rule file is {} bytes, more than the limit of {MAX_RULE_FILE_BYTES}",
            text.len()
        ))]);
    }
    if text.trim().is_empty() {
        return Ok(RuleFile::default());
    }
    let raw: RawFile = serde_saphyr::from_str(text).map_err(|e| vec![yaml_error(&e)])?;
    let mut errs = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut groups = Vec::with_capacity(raw.groups.len());
    for sg in raw.groups {
        let gpos = pos_of(&sg);
        let g = sg.value;
        if g.name.is_empty() {
            errs.push(RuleError {
                pos: Some(gpos),
                pos_alt: None,
                msg: "Groupname must not be empty".into(),
            });
        }
        if !seen.insert(g.name.clone()) {
            errs.push(RuleError {
                pos: Some(gpos),
                pos_alt: None,
                msg: format!("groupname: \"{}\" is repeated in the same file", g.name),
            });
        }
        // Durations are read (and fail) while unmarshalling in Prometheus.
        let interval_ms = match g.interval.as_deref().map(parse_duration).transpose() {
            Ok(v) => v,
            Err(e) => return Err(vec![plain(e)]),
        };
        let query_offset_ms = match g.query_offset.as_deref().map(parse_duration).transpose() {
            Ok(v) => v,
            Err(e) => return Err(vec![plain(e)]),
        };
        let mut rules = Vec::with_capacity(g.rules.len());
        for (i, r) in g.rules.into_iter().enumerate() {
            let for_ms = match r.for_.as_deref().map(parse_duration).transpose() {
                Ok(v) => v.unwrap_or(0),
                Err(e) => return Err(vec![plain(e)]),
            };
            let kff_ms = match r.keep_firing_for.as_deref().map(parse_duration).transpose() {
                Ok(v) => v.unwrap_or(0),
                Err(e) => return Err(vec![plain(e)]),
            };
            let rule_name = match (&r.alert, &r.record) {
                (Some(a), _) if !a.value.is_empty() => a.value.clone(),
                (_, Some(rec)) => rec.value.clone(),
                _ => String::new(),
            };
            for e in validate_rule(&r, for_ms, kff_ms) {
                let prefix = format!("group \"{}\", rule {}, \"{}\": ", g.name, i + 1, rule_name);
                errs.push(RuleError {
                    msg: format!("{prefix}{}", e.msg),
                    ..e
                });
            }
            let alert = r.alert.as_ref().map(|s| s.value.as_str()).unwrap_or("");
            let kind = if !alert.is_empty() {
                RuleKind::Alert(alert.to_string())
            } else {
                RuleKind::Record(r.record.map(|s| s.value).unwrap_or_default())
            };
            let (expr, expr_pos) = r
                .expr
                .map(|s| (s.value.clone(), pos_of(&s)))
                .unwrap_or_default();
            rules.push(Rule {
                kind,
                expr,
                expr_pos,
                for_ms,
                keep_firing_for_ms: kff_ms,
                labels: r.labels,
                annotations: r.annotations,
            });
        }
        groups.push(RuleGroup {
            name: g.name,
            interval_ms,
            query_offset_ms,
            limit: g.limit.max(0) as usize,
            rules,
            pos: gpos,
        });
    }
    if errs.is_empty() {
        Ok(RuleFile { groups })
    } else {
        Err(errs)
    }
}

/// Prometheus's `model.IsValidMetricName` (legacy names: `[a-zA-Z_:][a-zA-Z0-9_:]*`).
pub fn is_valid_metric_name(s: &str) -> bool {
    let mut it = s.bytes();
    matches!(it.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_' | b':'))
        && it.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

/// Prometheus's `model.LabelName.IsValid` (legacy names: `[a-zA-Z_][a-zA-Z0-9_]*`).
pub fn is_valid_label_name(s: &str) -> bool {
    let mut it = s.bytes();
    matches!(it.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_'))
        && it.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn validate_rule(r: &RawRule, for_ms: i64, kff_ms: i64) -> Vec<RuleError> {
    let mut out = Vec::new();
    let rec = r.record.as_ref().map(|s| s.value.as_str()).unwrap_or("");
    let alert = r.alert.as_ref().map(|s| s.value.as_str()).unwrap_or("");
    let rec_pos = r.record.as_ref().map(pos_of).unwrap_or_default();
    let alert_pos = r.alert.as_ref().map(pos_of).unwrap_or_default();
    if !rec.is_empty() && !alert.is_empty() {
        out.push(RuleError {
            pos: Some(rec_pos),
            pos_alt: Some(alert_pos),
            msg: "only one of 'record' and 'alert' must be set".into(),
        });
    }
    if rec.is_empty() && alert.is_empty() {
        out.push(RuleError {
            pos: Some(rec_pos),
            pos_alt: None,
            msg: "one of 'record' or 'alert' must be set".into(),
        });
    }
    let expr = r.expr.as_ref().map(|s| s.value.as_str()).unwrap_or("");
    let expr_pos = r.expr.as_ref().map(pos_of).unwrap_or_default();
    if expr.is_empty() {
        out.push(RuleError {
            pos: Some(expr_pos),
            pos_alt: None,
            msg: "field 'expr' must be set in rule".into(),
        });
    } else if let Err(e) = promlite_promql::parse(expr) {
        out.push(RuleError {
            pos: Some(expr_pos),
            pos_alt: None,
            msg: format!("could not parse expression: {e}"),
        });
    }
    if !rec.is_empty() {
        let at = |msg: &str| RuleError {
            pos: Some(rec_pos),
            pos_alt: None,
            msg: msg.to_string(),
        };
        if !r.annotations.is_empty() {
            out.push(at("invalid field 'annotations' in recording rule"));
        }
        if for_ms != 0 {
            out.push(at("invalid field 'for' in recording rule"));
        }
        if kff_ms != 0 {
            out.push(at("invalid field 'keep_firing_for' in recording rule"));
        }
        if !is_valid_metric_name(rec) {
            out.push(at(&format!("invalid recording rule name: {rec}")));
        }
    }
    for (k, v) in &r.labels {
        if !is_valid_label_name(k) || k == "__name__" {
            out.push(plain(format!("invalid label name: {k}")));
        }
        // Label values are valid UTF-8 by construction (Rust strings).
        let _ = v;
    }
    for k in r.annotations.keys() {
        if !is_valid_label_name(k) {
            out.push(plain(format!("invalid annotation name: {k}")));
        }
    }
    if !alert.is_empty() {
        let name = format!("__alert_{alert}");
        for (what, map) in [("label", &r.labels), ("annotation", &r.annotations)] {
            for (k, v) in map {
                if let Err(e) = Template::parse_with_defs(&name, v) {
                    out.push(plain(format!("{what} \"{k}\": {e}")));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errs(text: &str) -> Vec<String> {
        parse_rule_file(text)
            .unwrap_err()
            .iter()
            .map(|e| e.to_string())
            .collect()
    }

    #[test]
    fn reads_groups_and_rules() {
        let f = parse_rule_file(
            "groups:\n- name: g\n  interval: 30s\n  limit: 3\n  rules:\n  - record: job:up:sum\n    expr: sum by (job) (up)\n  - alert: Down\n    expr: up == 0\n    for: 5m\n    keep_firing_for: 1m\n    labels: {severity: page}\n    annotations:\n      summary: \"{{ $labels.job }} down\"\n",
        )
        .unwrap();
        let g = &f.groups[0];
        assert_eq!(g.interval_ms, Some(30_000));
        assert_eq!(g.limit, 3);
        assert_eq!(g.rules[0].kind, RuleKind::Record("job:up:sum".into()));
        assert_eq!(g.rules[0].expr_pos, Pos { line: 7, col: 11 });
        assert_eq!(g.rules[1].for_ms, 300_000);
        assert_eq!(g.rules[1].keep_firing_for_ms, 60_000);
        assert_eq!(g.rules[1].labels["severity"], "page");
    }

    // Expected texts: `promtool check rules` 2.42 on the same files.
    #[test]
    fn errors_as_promtool_prints_them() {
        let e = errs("groups:\n- name: g\n  rules:\n  - record: job-up\n    expr: sum by (job) (up\n  - alert: Down\n    record: x\n    expr: up == 0\n    annotations:\n      summary: \"{{ $labels.job \"\n- name: g\n  rules:\n  - alert: X\n    expr: up\n");
        assert_eq!(
            e,
            [
                "5:11: group \"g\", rule 1, \"job-up\": could not parse expression: 1:17: parse error: unclosed left parenthesis",
                "4:13: group \"g\", rule 1, \"job-up\": invalid recording rule name: job-up",
                "7:13: 6:12: group \"g\", rule 2, \"Down\": only one of 'record' and 'alert' must be set",
                "7:13: group \"g\", rule 2, \"Down\": invalid field 'annotations' in recording rule",
                "group \"g\", rule 2, \"Down\": annotation \"summary\": template: __alert_Down:1: unclosed action",
                "11:3: groupname: \"g\" is repeated in the same file",
            ]
        );
        let e = errs("groups:\n- name: g\n  rules:\n  - record: \"a b\"\n    expr: up\n  - alert: \"\"\n    expr: up\n  - record: x\n    expr: up\n    for: 5m\n    annotations: {a: b}\n  - alert: y\n    expr: up\n    labels: {\"0x\": a, b: \"{{ .Foo\"}\n");
        assert_eq!(
            e,
            [
                "4:13: group \"g\", rule 1, \"a b\": invalid recording rule name: a b",
                "0:0: group \"g\", rule 2, \"\": one of 'record' or 'alert' must be set",
                "8:13: group \"g\", rule 3, \"x\": invalid field 'annotations' in recording rule",
                "8:13: group \"g\", rule 3, \"x\": invalid field 'for' in recording rule",
                "group \"g\", rule 4, \"y\": invalid label name: 0x",
                "group \"g\", rule 4, \"y\": label \"b\": template: __alert_y:1: unclosed action",
            ]
        );
    }

    #[test]
    fn unknown_fields_and_bad_durations() {
        assert_eq!(
            errs("groups:\n- name: g\n  rules:\n  - alert: X\n    expr: up\n    foo: 1\n"),
            ["yaml: unmarshal errors:\n  line 6: field foo not found in type rulefmt.RuleNode"]
        );
        assert_eq!(
            errs("groups:\n- name: g\n  interval: 1x\n  rules: []\n"),
            ["not a valid duration string: \"1x\""]
        );
    }

    #[test]
    fn hostile_files_fail_cleanly() {
        let deep = format!("groups: {}{}", "[".repeat(200_000), "]".repeat(200_000));
        let e = errs(&deep);
        assert!(e[0].contains("recursion limit"), "{e:?}");
        let nested = format!(
            "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    annotations:\n      a: \"{}x{}\"\n",
            "{{ if true }}".repeat(300),
            "{{ end }}".repeat(300)
        );
        let e = errs(&nested);
        assert!(
            e[0].ends_with("if nested too deeply (more than 64 levels)"),
            "{e:?}"
        );
    }

    #[test]
    fn empty_file_has_no_groups() {
        assert_eq!(parse_rule_file("").unwrap().groups.len(), 0);
    }
}
