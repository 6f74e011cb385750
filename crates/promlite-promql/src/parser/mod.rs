//! PromQL parsing: lexer, parser, AST, printer and errors.

pub mod ast;
pub mod errors;
pub mod functions;

/// Parser switches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParseOptions {
    /// Accept experimental functions and aggregations (`limitk`, `mad_over_time`,
    /// ...); off by default, as in Prometheus.
    pub enable_experimental_functions: bool,
}
