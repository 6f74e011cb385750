//! PromQL parser and evaluator with Prometheus 3 semantics.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(missing_debug_implementations)]

pub mod parser;

pub use parser::ast::{
    AggregateExpr, AggregateOp, AtModifier, BinaryExpr, BinaryOp, Call, Expr, ExprKind,
    MatrixSelector, Span, SubqueryExpr, UnaryExpr, UnaryOp, ValueType, VectorMatchCardinality,
    VectorMatching, VectorSelector,
};
pub use parser::functions::{get_function, Function, FUNCTIONS};

pub mod eval;
pub use eval::{
    Engine, EngineOptions, QueryError, QueryErrorKind, QueryResult, RangeSeries, Value,
    VectorSample,
};
