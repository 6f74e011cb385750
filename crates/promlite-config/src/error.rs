//! Configuration errors: every one names the file, the field and a line and column.

use std::fmt;

/// A position in a YAML document (1-based line and column; 0 when unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    /// 1-based line.
    pub line: u64,
    /// 1-based column.
    pub column: u64,
}

impl Pos {
    /// The position of a `serde_saphyr` location.
    pub fn of(loc: serde_saphyr::Location) -> Pos {
        Pos {
            line: loc.line(),
            column: loc.column(),
        }
    }
}

/// An error in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file name as given (or `<string>` for text not read from a file).
    pub file: String,
    /// The field path, e.g. `scrape_configs[0].relabel_configs[2].regex`.
    pub field: String,
    /// Where in the file.
    pub pos: Pos,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pos.line == 0 {
            write!(f, "{}: ", self.file)?;
        } else {
            write!(f, "{}:{}:{}: ", self.file, self.pos.line, self.pos.column)?;
        }
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    /// Converts a YAML deserialization error, with the field path serde reported.
    pub(crate) fn from_yaml(file: &str, field: String, e: &serde_saphyr::Error) -> ConfigError {
        let pos = e.location().map(Pos::of).unwrap_or_default();
        let mut message = e.without_snippet().to_string();
        // The crate's message starts with "error: line L column C: "; we print our own.
        if let Some(rest) = message.strip_prefix("error: ") {
            message = rest.to_string();
        }
        let prefix = format!("line {} column {}: ", pos.line, pos.column);
        if let Some(rest) = message.strip_prefix(&prefix) {
            message = rest.to_string();
        }
        let suffix = format!(" at line {}, column {}", pos.line, pos.column);
        if let Some(rest) = message.strip_suffix(&suffix) {
            message = rest.to_string();
        }
        ConfigError {
            file: file.to_string(),
            field: clean_path(&field),
            pos,
            message,
        }
    }
}

/// Drops the segments `Spanned` wrappers add (`.value`) and serde's unknown ones (`?`).
fn clean_path(path: &str) -> String {
    path.split('.')
        .filter(|seg| *seg != "value" && *seg != "?")
        .collect::<Vec<_>>()
        .join(".")
}
