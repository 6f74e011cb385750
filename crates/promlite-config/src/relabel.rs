//! Relabeling: `relabel_configs` and `metric_relabel_configs` rules, every action of
//! Prometheus 3 with its defaults and validation.
//!
//! Regexes are RE2 syntax, fully anchored, with `.` matching a newline (`^(?s:re)$`,
//! as Prometheus 3 compiles them; the same compilation as PromQL's `=~` matchers in
//! `promlite-model`). Label names follow Prometheus 3's UTF-8 validation: any non-empty
//! name is valid.

use std::collections::BTreeMap;
use std::fmt;

use md5::{Digest, Md5};
use promlite_model::{Label, Labels, MatchOp, Matcher};
use serde::{Deserialize, Deserializer};
use serde_saphyr::Spanned;

use crate::error::Pos;

/// A relabeling action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Set `target_label` to `replacement` expanded with the regex's groups, when the
    /// joined source values match.
    Replace,
    /// Drop the target or series unless the joined source values match.
    Keep,
    /// Drop the target or series when the joined source values match.
    Drop,
    /// Drop unless the joined source values equal `target_label`'s value.
    KeepEqual,
    /// Drop when the joined source values equal `target_label`'s value.
    DropEqual,
    /// Set `target_label` to the MD5 of the joined source values modulo `modulus`.
    HashMod,
    /// Copy every label whose name matches to the name `replacement` gives.
    LabelMap,
    /// Remove every label whose name matches.
    LabelDrop,
    /// Remove every label whose name does not match.
    LabelKeep,
    /// Set `target_label` to the joined source values in lower case.
    Lowercase,
    /// Set `target_label` to the joined source values in upper case.
    Uppercase,
}

impl Action {
    /// The name used in configuration files.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Replace => "replace",
            Action::Keep => "keep",
            Action::Drop => "drop",
            Action::KeepEqual => "keepequal",
            Action::DropEqual => "dropequal",
            Action::HashMod => "hashmod",
            Action::LabelMap => "labelmap",
            Action::LabelDrop => "labeldrop",
            Action::LabelKeep => "labelkeep",
            Action::Lowercase => "lowercase",
            Action::Uppercase => "uppercase",
        }
    }

    /// Parses an action name, case-insensitively as Prometheus does.
    ///
    /// # Errors
    /// `unknown relabel action "x"`.
    pub fn parse(s: &str) -> Result<Action, String> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "replace" => Action::Replace,
            "keep" => Action::Keep,
            "drop" => Action::Drop,
            "keepequal" => Action::KeepEqual,
            "dropequal" => Action::DropEqual,
            "hashmod" => Action::HashMod,
            "labelmap" => Action::LabelMap,
            "labeldrop" => Action::LabelDrop,
            "labelkeep" => Action::LabelKeep,
            "lowercase" => Action::Lowercase,
            "uppercase" => Action::Uppercase,
            _ => return Err(format!("unknown relabel action {s:?}")),
        })
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Action::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A relabeling regex: RE2 syntax compiled fully anchored, `.` matching newlines.
#[derive(Clone)]
pub struct Regex {
    source: String,
    re: regex::Regex,
}

impl Regex {
    /// Compiles `pattern` as Prometheus 3 does (`^(?s:pattern)$`).
    ///
    /// # Errors
    /// A message naming the pattern when it does not compile or is too large.
    pub fn new(pattern: &str) -> Result<Regex, String> {
        let m = Matcher::new(MatchOp::RegexMatch, "", pattern).map_err(|e| e.to_string())?;
        let re = m.regex().cloned().ok_or("regex matcher without a regex")?;
        Ok(Regex {
            source: pattern.to_string(),
            re,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// True when the whole of `s` matches.
    pub fn is_match(&self, s: &str) -> bool {
        self.re.is_match(s)
    }

    /// The compiled (anchored) regex.
    pub fn compiled(&self) -> &regex::Regex {
        &self.re
    }
}

impl fmt::Debug for Regex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Regex({:?})", self.source)
    }
}

impl PartialEq for Regex {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl<'de> Deserialize<'de> for Regex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Regex::new(&s).map_err(serde::de::Error::custom)
    }
}

/// The default separator joining source label values.
pub const DEFAULT_SEPARATOR: &str = ";";
/// The default regex.
pub const DEFAULT_REGEX: &str = "(.*)";
/// The default replacement.
pub const DEFAULT_REPLACEMENT: &str = "$1";

/// One relabeling rule, with Prometheus's defaults filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct RelabelConfig {
    /// Labels whose values are joined with `separator` (absent labels count as `""`).
    pub source_labels: Vec<String>,
    /// Joins the source values (default `;`).
    pub separator: String,
    /// Matched against the joined values, or label names for the label* actions
    /// (default `(.*)`).
    pub regex: Regex,
    /// The modulus of `hashmod`.
    pub modulus: u64,
    /// The label written by replace, hashmod, lowercase, uppercase; compared by
    /// keepequal and dropequal. May hold `$1`-style references for replace.
    pub target_label: String,
    /// The value written by replace (default `$1`), or the new name for labelmap.
    pub replacement: String,
    /// What to do (default replace).
    pub action: Action,
    /// Whether `regex` was written (keepequal/dropequal allow no regex).
    regex_set: bool,
}

/// A rule as written, with the position of each field for validation errors.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRelabelConfig {
    #[serde(default)]
    source_labels: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    separator: Option<Spanned<String>>,
    #[serde(default)]
    regex: Option<Spanned<Regex>>,
    #[serde(default)]
    modulus: Option<Spanned<u64>>,
    #[serde(default)]
    target_label: Option<Spanned<String>>,
    #[serde(default)]
    replacement: Option<Spanned<String>>,
    #[serde(default)]
    action: Option<Spanned<Action>>,
}

/// A validation failure: the field it concerns, where, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldError {
    pub field: &'static str,
    pub pos: Pos,
    pub message: String,
}

fn span<T>(s: &Option<Spanned<T>>, or: Pos) -> Pos {
    s.as_ref().map(|s| Pos::of(s.referenced)).unwrap_or(or)
}

fn valid_label_name(s: &str) -> bool {
    !s.is_empty()
}

impl RawRelabelConfig {
    /// Applies the defaults and Prometheus's validation; `at` is where the rule starts.
    pub(crate) fn resolve(self, at: Pos) -> Result<RelabelConfig, FieldError> {
        let err = |field: &'static str, pos: Pos, message: String| FieldError {
            field,
            pos,
            message,
        };
        let action = self
            .action
            .as_ref()
            .map(|a| a.value)
            .unwrap_or(Action::Replace);
        let action_pos = span(&self.action, at);
        let target_pos = span(&self.target_label, action_pos);
        let repl_pos = span(&self.replacement, action_pos);
        if let Some(sl) = &self.source_labels {
            if sl.value.iter().any(|n| !valid_label_name(n)) {
                return Err(err(
                    "source_labels",
                    Pos::of(sl.referenced),
                    "\"\" is not a valid label name".to_string(),
                ));
            }
        }
        let cfg = RelabelConfig {
            source_labels: self
                .source_labels
                .as_ref()
                .map(|s| s.value.clone())
                .unwrap_or_default(),
            separator: self
                .separator
                .as_ref()
                .map(|s| s.value.clone())
                .unwrap_or_else(|| DEFAULT_SEPARATOR.to_string()),
            regex: match &self.regex {
                Some(r) => r.value.clone(),
                None => Regex::new(DEFAULT_REGEX).map_err(|m| err("regex", at, m))?,
            },
            modulus: self.modulus.as_ref().map(|m| m.value).unwrap_or(0),
            target_label: self
                .target_label
                .as_ref()
                .map(|s| s.value.clone())
                .unwrap_or_default(),
            replacement: self
                .replacement
                .as_ref()
                .map(|s| s.value.clone())
                .unwrap_or_else(|| DEFAULT_REPLACEMENT.to_string()),
            action,
            regex_set: self.regex.is_some(),
        };
        cfg.validate().map_err(|(field, message)| {
            let pos = match field {
                "modulus" => span(&self.modulus, action_pos),
                "target_label" => target_pos,
                "replacement" => repl_pos,
                "source_labels" => span(&self.source_labels, action_pos),
                "regex" => span(&self.regex, action_pos),
                "separator" => span(&self.separator, action_pos),
                _ => action_pos,
            };
            err(field, pos, message)
        })?;
        Ok(cfg)
    }
}

impl RelabelConfig {
    /// A rule with every field at Prometheus's default (action `replace`, regex `(.*)`,
    /// separator `;`, replacement `$1`); set the fields you need, then [`validate`].
    ///
    /// [`validate`]: RelabelConfig::validate
    pub fn new(action: Action) -> RelabelConfig {
        RelabelConfig {
            source_labels: Vec::new(),
            separator: DEFAULT_SEPARATOR.to_string(),
            regex: Regex::new(DEFAULT_REGEX).expect("the default regex compiles"),
            modulus: 0,
            target_label: String::new(),
            replacement: DEFAULT_REPLACEMENT.to_string(),
            action,
            regex_set: false,
        }
    }

    /// Sets the regex (builder style).
    ///
    /// # Errors
    /// When the pattern does not compile.
    pub fn with_regex(mut self, pattern: &str) -> Result<RelabelConfig, String> {
        self.regex = Regex::new(pattern)?;
        self.regex_set = true;
        Ok(self)
    }

    /// Checks the rule as Prometheus 3 does; on failure returns the offending field's
    /// name and the message.
    ///
    /// # Errors
    /// `(field, message)` for the first problem found.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        use Action::*;
        let a = self.action;
        if a == HashMod && self.modulus == 0 {
            return Err((
                "modulus",
                "relabel configuration for hashmod requires non-zero modulus".into(),
            ));
        }
        let needs_target = matches!(
            a,
            Replace | HashMod | Lowercase | Uppercase | KeepEqual | DropEqual
        );
        if needs_target && self.target_label.is_empty() {
            return Err((
                "target_label",
                format!("relabel configuration for {a} action requires 'target_label' value"),
            ));
        }
        if matches!(a, Lowercase | Uppercase | KeepEqual | DropEqual)
            && self.replacement != DEFAULT_REPLACEMENT
        {
            return Err((
                "replacement",
                format!("'replacement' can not be set for {a} action"),
            ));
        }
        if a == LabelMap && !valid_label_name(&self.replacement) {
            return Err((
                "replacement",
                format!(
                    "{:?} is invalid 'replacement' for {a} action",
                    self.replacement
                ),
            ));
        }
        if matches!(a, DropEqual | KeepEqual)
            && (self.regex_set
                || self.modulus != 0
                || self.separator != DEFAULT_SEPARATOR
                || self.replacement != DEFAULT_REPLACEMENT)
        {
            let field = if self.regex_set {
                "regex"
            } else if self.modulus != 0 {
                "modulus"
            } else {
                "separator"
            };
            return Err((
                field,
                format!("{a} action requires only 'source_labels' and `target_label`, and no other fields"),
            ));
        }
        if matches!(a, LabelDrop | LabelKeep)
            && (!self.source_labels.is_empty()
                || !self.target_label.is_empty()
                || self.modulus != 0
                || self.separator != DEFAULT_SEPARATOR
                || self.replacement != DEFAULT_REPLACEMENT)
        {
            let field = if !self.source_labels.is_empty() {
                "source_labels"
            } else if !self.target_label.is_empty() {
                "target_label"
            } else if self.modulus != 0 {
                "modulus"
            } else if self.separator != DEFAULT_SEPARATOR {
                "separator"
            } else {
                "replacement"
            };
            return Err((
                field,
                format!("{a} action requires only 'regex', and no other fields"),
            ));
        }
        Ok(())
    }

    /// Applies this one rule to `labels`; false when the target or series is dropped.
    pub fn apply(&self, labels: &mut BTreeMap<String, String>) -> bool {
        let val = self.joined(labels);
        match self.action {
            Action::Drop => return !self.regex.is_match(&val),
            Action::Keep => return self.regex.is_match(&val),
            Action::DropEqual => {
                return get(labels, &self.target_label) != val;
            }
            Action::KeepEqual => {
                return get(labels, &self.target_label) == val;
            }
            Action::Replace => {
                // The shortcut Prometheus takes: an empty value with the default regex
                // and no references writes the replacement verbatim.
                if val.is_empty()
                    && self.regex.as_str() == DEFAULT_REGEX
                    && !self.target_label.contains('$')
                    && !self.replacement.contains('$')
                {
                    set(labels, &self.target_label, self.replacement.clone());
                    return true;
                }
                let Some(caps) = self.regex.re.captures(&val) else {
                    return true;
                };
                let mut target = String::new();
                caps.expand(&self.target_label, &mut target);
                if !valid_label_name(&target) {
                    return true;
                }
                let mut res = String::new();
                caps.expand(&self.replacement, &mut res);
                set(labels, &target, res);
            }
            Action::Lowercase => set(labels, &self.target_label, val.to_lowercase()),
            Action::Uppercase => set(labels, &self.target_label, val.to_uppercase()),
            Action::HashMod => {
                let sum = Md5::digest(val.as_bytes());
                let mut tail = [0u8; 8];
                tail.copy_from_slice(&sum[8..16]);
                let m = u64::from_be_bytes(tail) % self.modulus.max(1);
                set(labels, &self.target_label, m.to_string());
            }
            Action::LabelMap => {
                let snapshot: Vec<(String, String)> =
                    labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                for (name, value) in snapshot {
                    if self.regex.is_match(&name) {
                        let new = self.regex.re.replace_all(&name, self.replacement.as_str());
                        set(labels, &new, value);
                    }
                }
            }
            Action::LabelDrop => labels.retain(|k, _| !self.regex.is_match(k)),
            Action::LabelKeep => labels.retain(|k, _| self.regex.is_match(k)),
        }
        true
    }

    fn joined(&self, labels: &BTreeMap<String, String>) -> String {
        let mut out = String::new();
        for (i, name) in self.source_labels.iter().enumerate() {
            if i > 0 {
                out.push_str(&self.separator);
            }
            out.push_str(get(labels, name));
        }
        out
    }
}

fn get<'a>(labels: &'a BTreeMap<String, String>, name: &str) -> &'a str {
    labels.get(name).map(String::as_str).unwrap_or("")
}

/// Sets a label; an empty value deletes it, as in Prometheus's label builder.
fn set(labels: &mut BTreeMap<String, String>, name: &str, value: String) {
    if value.is_empty() {
        labels.remove(name);
    } else {
        labels.insert(name.to_string(), value);
    }
}

/// Applies `rules` in order; false as soon as one drops the label set (which is then
/// left half-relabeled and should be discarded).
pub fn process(rules: &[RelabelConfig], labels: &mut BTreeMap<String, String>) -> bool {
    rules.iter().all(|r| r.apply(labels))
}

/// Applies `rules` to a [`Labels`] set: `None` when dropped.
pub fn process_labels(rules: &[RelabelConfig], labels: &Labels) -> Option<Labels> {
    let mut map: BTreeMap<String, String> = labels
        .iter()
        .map(|l| (l.name.to_string(), l.value.to_string()))
        .collect();
    if !process(rules, &mut map) {
        return None;
    }
    Some(Labels::from_sorted(
        map.into_iter().map(|(k, v)| Label::new(k, v)).collect(),
    ))
}

/// Parses a YAML list of rules (the contents of a `relabel_configs:` section), with
/// defaults and validation; `file` names the text in errors.
///
/// # Errors
/// [`crate::ConfigError`] with the rule's index, field, line and column.
pub fn parse_rules(text: &str, file: &str) -> Result<Vec<RelabelConfig>, crate::ConfigError> {
    let mut path = String::new();
    let raw: Result<Vec<Spanned<RawRelabelConfig>>, _> =
        serde_saphyr::with_deserializer_from_str(text, |de| {
            serde_path_to_error::deserialize(de).map_err(|e| {
                path = e.path().to_string();
                e.into_inner()
            })
        });
    let raw = raw.map_err(|e| crate::ConfigError::from_yaml(file, path, &e))?;
    raw.into_iter()
        .enumerate()
        .map(|(i, r)| {
            let pos = Pos::of(r.referenced);
            r.value.resolve(pos).map_err(|e| crate::ConfigError {
                file: file.to_string(),
                field: format!("[{i}].{}", e.field),
                pos: e.pos,
                message: e.message,
            })
        })
        .collect()
}

#[cfg(test)]
#[path = "relabel_tests.rs"]
mod tests;
