//! PromQL parsing: lexer, parser, AST, printer and errors.

pub mod ast;
pub mod errors;
pub mod functions;
pub(crate) mod lexer;
mod parse;
pub mod printer;
pub mod value_type;

pub use parse::{MAX_DEPTH, MAX_NESTING, MAX_QUERY_LEN};

use ast::Expr;
use errors::ParseError;

/// Parser switches. Build from [`ParseOptions::default`] and the `with_` methods
/// (new switches may be added).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParseOptions {
    /// Accept experimental functions and aggregations (`limitk`, `mad_over_time`,
    /// ...); off by default, as in Prometheus.
    pub enable_experimental_functions: bool,
}

impl ParseOptions {
    /// These options with experimental functions accepted (or not).
    ///
    /// ```
    /// use promlite_promql::{parse_with, ParseOptions};
    /// let opts = ParseOptions::default().with_experimental_functions(true);
    /// assert!(parse_with("mad_over_time(x[5m])", opts).is_ok());
    /// ```
    pub fn with_experimental_functions(mut self, on: bool) -> Self {
        self.enable_experimental_functions = on;
        self
    }
}

/// Parses and type-checks a PromQL query with default options.
///
/// # Errors
/// [`ParseError`] with the position and a Prometheus-style message.
pub fn parse(query: &str) -> Result<Expr, ParseError> {
    parse_with(query, ParseOptions::default())
}

/// Parses and type-checks a PromQL query.
///
/// # Errors
/// [`ParseError`] with the position and a Prometheus-style message.
pub fn parse_with(query: &str, opts: ParseOptions) -> Result<Expr, ParseError> {
    parse::Parser::new(query, opts)?.parse_all()
}
#[cfg(test)]
mod tests;
