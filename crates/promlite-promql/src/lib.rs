//! PromQL parser and evaluator with Prometheus 3 semantics.
//!
//! ```
//! use promlite_promql::{parse, ExprKind, ValueType};
//!
//! let e = parse("sum by (job) (rate(http_requests_total{code=~\"5..\"}[5m]))").unwrap();
//! assert_eq!(e.value_type(), ValueType::Vector);
//! assert!(matches!(e.kind, ExprKind::Aggregate(_)));
//! assert_eq!(
//!     e.to_string(),
//!     "sum by (job) (rate(http_requests_total{code=~\"5..\"}[5m]))"
//! );
//!
//! let err = parse("foo{a=}").unwrap_err();
//! assert_eq!(err.to_string(), "1:7: parse error: unexpected \"}\" in label matching, expected string");
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(missing_debug_implementations)]

pub mod parser;

pub use parser::ast::{
    AggregateExpr, AggregateOp, AtModifier, BinaryExpr, BinaryOp, Call, Expr, ExprKind,
    MatrixSelector, Span, SubqueryExpr, UnaryExpr, UnaryOp, VectorMatchCardinality, VectorMatching,
    VectorSelector,
};
pub use parser::errors::{line_col, ParseError, ParseErrorKind};
pub use parser::functions::{get_function, Function, FunctionId, FUNCTIONS};
pub use parser::value_type::ValueType;
pub use parser::{parse, parse_with, ParseOptions};

pub mod eval;
mod value_access;
pub use eval::{
    Engine, EngineOptions, QueryError, QueryErrorKind, QueryResult, RangeSeries, Value,
    VectorSample,
};
