//! Go `text/template` for alert labels and annotations, as Prometheus runs them.
//!
//! Our own small engine: no maintained Rust crate renders Go templates as Go
//! does (`gtmpl` 0.7.1, last released in 2021, formats floats with Rust's
//! `Display` where Go prints `%v`/`%g`, has no `%g`, spawns a thread per parse
//! and has no execution limits). This module covers the language Prometheus
//! users write: text, `{{- -}}` trimming, comments, pipelines, variables,
//! `if`/`else if`/`else`, `range` (with `else`, `break`, `continue`), `with`,
//! parenthesized pipelines and field chains; Go's builtins (`and or not eq ne
//! lt le gt ge len index print printf println html js urlquery slice`) and
//! Prometheus's functions ([`funcs`]). `define`/`template`/`block` are refused
//! with a clear error.
//!
//! Execution is bounded ([`Limits`]): source size, nesting depth, evaluation
//! steps and output size, so a hostile template fails with an error instead of
//! hanging or exhausting memory.
//!
//! ```
//! use promlite_rules::template::{AlertData, Template};
//! let t = Template::parse_with_defs("__alert_X", "{{ $labels.job }} at {{ humanize $value }}").unwrap();
//! let data = AlertData::new([("job", "api")], [], 1234567.0);
//! assert_eq!(t.render_alert(&data, &promlite_rules::template::NoQuery).unwrap(), "api at 1.235M");
//! ```

mod exec;
pub mod funcs;
mod parse;
pub mod printf;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use promlite_model::Labels;

pub use exec::Value;

/// Execution limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest template source accepted, bytes. Default 64 KiB.
    pub max_source_bytes: usize,
    /// Most evaluation steps (nodes, commands and loop iterations). Default 1,000,000.
    pub max_steps: usize,
    /// Largest output, bytes. Default 1 MiB.
    pub max_output_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_source_bytes: 64 << 10,
            max_steps: 1_000_000,
            max_output_bytes: 1 << 20,
        }
    }
}

/// A template error, displayed as Go does: `template: NAME:LINE: MSG` for
/// parse errors, `template: NAME:LINE:COL: executing "NAME" at <CTX>: MSG`
/// for execution errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    msg: String,
    /// True for parse errors, false for execution errors.
    pub is_parse: bool,
}

impl TemplateError {
    pub(crate) fn parse(name: &str, line: usize, msg: String) -> Self {
        TemplateError {
            msg: format!("template: {name}:{line}: {msg}"),
            is_parse: true,
        }
    }
    pub(crate) fn exec(msg: String) -> Self {
        TemplateError {
            msg,
            is_parse: false,
        }
    }
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for TemplateError {}

/// What a template's `query` function runs: an instant query at the alert's
/// evaluation time, returning samples (labels, value).
pub trait QueryFn {
    /// Runs `q`.
    ///
    /// # Errors
    /// The query's error text.
    fn query(&self, q: &str) -> Result<Vec<(Labels, f64)>, String>;
}

/// A [`QueryFn`] that has no store: every query fails.
#[derive(Debug, Clone, Copy)]
pub struct NoQuery;

impl QueryFn for NoQuery {
    fn query(&self, _q: &str) -> Result<Vec<(Labels, f64)>, String> {
        Err("queries are not available here".into())
    }
}

/// The data an alert template sees (`.Labels`, `.ExternalLabels`,
/// `.ExternalURL`, `.Value`; `$labels`, `$externalLabels`, `$externalURL`,
/// `$value`).
#[derive(Debug, Clone, PartialEq)]
pub struct AlertData {
    /// The alert's labels.
    pub labels: BTreeMap<String, String>,
    /// The external labels.
    pub external_labels: BTreeMap<String, String>,
    /// The external URL.
    pub external_url: String,
    /// The alert's value.
    pub value: f64,
}

impl AlertData {
    /// Data from label pairs, external label pairs and a value.
    pub fn new<'a>(
        labels: impl IntoIterator<Item = (&'a str, &'a str)>,
        external: impl IntoIterator<Item = (&'a str, &'a str)>,
        value: f64,
    ) -> Self {
        AlertData {
            labels: labels
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            external_labels: external
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            external_url: String::new(),
            value,
        }
    }

    fn to_value(&self) -> Value {
        Value::Struct(Arc::new(vec![
            ("Labels".into(), Value::Map(Arc::new(self.labels.clone()))),
            (
                "ExternalLabels".into(),
                Value::Map(Arc::new(self.external_labels.clone())),
            ),
            ("ExternalURL".into(), Value::Str(self.external_url.clone())),
            ("Value".into(), Value::Float(self.value)),
        ]))
    }
}

/// The definitions Prometheus puts in front of every alert template.
pub const ALERT_DEFS: &str = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}";

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    name: String,
    src: String,
    nodes: Vec<parse::Node>,
    limits: Limits,
}

impl Template {
    /// Parses `src` as template `name` with default [`Limits`].
    ///
    /// # Errors
    /// Go's parse errors (`template: NAME:1: unclosed action`), an undefined
    /// function or variable, or a source over the size limit.
    pub fn parse(name: &str, src: &str) -> Result<Template, TemplateError> {
        Template::parse_with_limits(name, src, Limits::default())
    }

    /// Parses an alert label or annotation: Prometheus's definitions of
    /// `$labels`, `$externalLabels`, `$externalURL` and `$value` come first.
    ///
    /// # Errors
    /// As [`Template::parse`].
    pub fn parse_with_defs(name: &str, src: &str) -> Result<Template, TemplateError> {
        Template::parse(name, &format!("{ALERT_DEFS}{src}"))
    }

    /// Parses with explicit limits.
    ///
    /// # Errors
    /// As [`Template::parse`].
    pub fn parse_with_limits(
        name: &str,
        src: &str,
        limits: Limits,
    ) -> Result<Template, TemplateError> {
        if src.len() > limits.max_source_bytes {
            return Err(TemplateError::parse(
                name,
                1,
                format!(
                    "template is {} bytes, more than the limit of {}",
                    src.len(),
                    limits.max_source_bytes
                ),
            ));
        }
        let nodes = parse::parse(name, src, &[], &|f| funcs::exists(f))?;
        Ok(Template {
            name: name.to_string(),
            src: src.to_string(),
            nodes,
            limits,
        })
    }

    /// Renders with `data` as dot.
    ///
    /// # Errors
    /// Go's execution errors, and exceeded limits.
    pub fn render(&self, data: &Value, q: &dyn QueryFn) -> Result<String, TemplateError> {
        exec::execute(self, data, q)
    }

    /// Renders an alert template (parsed with [`Template::parse_with_defs`]).
    ///
    /// # Errors
    /// As [`Template::render`].
    pub fn render_alert(&self, data: &AlertData, q: &dyn QueryFn) -> Result<String, TemplateError> {
        self.render(&data.to_value(), q)
    }
}

/// Expands an alert label or annotation as Prometheus does: the text with its
/// definitions, or `<error expanding template: ...>` when parsing or execution
/// fails.
pub fn expand_alert(name: &str, text: &str, data: &AlertData, q: &dyn QueryFn) -> String {
    let r = Template::parse_with_defs(name, text).and_then(|t| t.render_alert(data, q));
    match r {
        Ok(s) => s,
        Err(e) if e.is_parse => {
            format!("<error expanding template: error parsing template {name}: {e}>")
        }
        Err(e) => format!("<error expanding template: error executing template {name}: {e}>"),
    }
}

#[cfg(test)]
mod tests;
