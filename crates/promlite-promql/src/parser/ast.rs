//! The PromQL abstract syntax tree.
//!
//! Every node carries a [`Span`] of byte offsets into the query text. Durations and
//! timestamps are `i64` milliseconds. [`Expr::value_type`] gives the static type of a
//! node, which the parser has already checked the way Prometheus does.

use std::fmt;

use promlite_model::Matcher;

use super::functions::Function;
pub use super::value_type::ValueType;

/// A half-open byte range `start..end` of the query text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// First byte (inclusive).
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end`.
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

/// A PromQL expression: a node kind plus its position in the query.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// What the node is.
    pub kind: ExprKind,
    /// Where it is in the query text.
    pub span: Span,
}

/// The expression kinds.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// A float literal (`1`, `0x1f`, `Inf`, `5m` as 300). A unary minus directly in
    /// front of a literal is folded into it, as Prometheus does.
    NumberLiteral(f64),
    /// A string literal, unescaped.
    StringLiteral(String),
    /// `name{matchers} offset d @ t`.
    VectorSelector(VectorSelector),
    /// `name{matchers}[range] offset d @ t`.
    MatrixSelector(MatrixSelector),
    /// `expr[range:step] offset d @ t`.
    Subquery(SubqueryExpr),
    /// `func(args...)`.
    Call(Call),
    /// `op by (labels) (param, expr)`.
    Aggregate(AggregateExpr),
    /// `lhs op bool on (labels) group_left (labels) rhs`.
    Binary(BinaryExpr),
    /// `-expr` or `+expr`.
    Unary(UnaryExpr),
    /// `(expr)`.
    Paren(Box<Expr>),
}

/// The `@` modifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AtModifier {
    /// `@ <seconds>`, stored in milliseconds (rounded half away from zero).
    Timestamp(i64),
    /// `@ start()`: the query's start time.
    Start,
    /// `@ end()`: the query's end time.
    End,
}

/// An instant vector selector.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorSelector {
    /// The metric name when one was given (before the braces or as the first
    /// quoted name inside them).
    pub name: Option<String>,
    /// All matchers in the order written, plus `__name__="name"` appended last when
    /// a name was given (as Prometheus does).
    pub matchers: Vec<Matcher>,
    /// `offset` in milliseconds; `0` when absent (may be negative).
    pub offset: i64,
    /// The `@` modifier, if any.
    pub at: Option<AtModifier>,
}

/// A range vector selector `selector[range]`. Its `offset`/`@` live on `selector`.
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixSelector {
    /// The underlying vector selector (with the modifiers written after the range).
    pub selector: VectorSelector,
    /// The range in milliseconds (> 0).
    pub range: i64,
}

/// A subquery `expr[range:step]`.
#[derive(Debug, Clone, PartialEq)]
pub struct SubqueryExpr {
    /// The inner expression (an instant vector).
    pub expr: Box<Expr>,
    /// The range in milliseconds (> 0).
    pub range: i64,
    /// The step in milliseconds (> 0); `None` means the engine's default
    /// evaluation interval (`expr[5m:]`).
    pub step: Option<i64>,
    /// `offset` in milliseconds; `0` when absent.
    pub offset: i64,
    /// The `@` modifier, if any.
    pub at: Option<AtModifier>,
}

/// A function call.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The function's signature from the function table.
    pub func: &'static Function,
    /// The arguments, type-checked against the signature.
    pub args: Vec<Expr>,
}

/// Aggregation operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AggregateOp {
    /// `sum`
    Sum,
    /// `avg`
    Avg,
    /// `count`
    Count,
    /// `min`
    Min,
    /// `max`
    Max,
    /// `group`
    Group,
    /// `stddev`
    Stddev,
    /// `stdvar`
    Stdvar,
    /// `topk` (scalar parameter)
    Topk,
    /// `bottomk` (scalar parameter)
    Bottomk,
    /// `quantile` (scalar parameter)
    Quantile,
    /// `count_values` (string parameter)
    CountValues,
    /// `limitk` (experimental; scalar parameter)
    Limitk,
    /// `limit_ratio` (experimental; scalar parameter)
    LimitRatio,
}

impl AggregateOp {
    /// Every aggregation operator.
    pub const ALL: [AggregateOp; 14] = [
        AggregateOp::Sum,
        AggregateOp::Avg,
        AggregateOp::Count,
        AggregateOp::Min,
        AggregateOp::Max,
        AggregateOp::Group,
        AggregateOp::Stddev,
        AggregateOp::Stdvar,
        AggregateOp::Topk,
        AggregateOp::Bottomk,
        AggregateOp::Quantile,
        AggregateOp::CountValues,
        AggregateOp::Limitk,
        AggregateOp::LimitRatio,
    ];

    /// The operator's keyword (lower case).
    pub fn as_str(self) -> &'static str {
        match self {
            AggregateOp::Sum => "sum",
            AggregateOp::Avg => "avg",
            AggregateOp::Count => "count",
            AggregateOp::Min => "min",
            AggregateOp::Max => "max",
            AggregateOp::Group => "group",
            AggregateOp::Stddev => "stddev",
            AggregateOp::Stdvar => "stdvar",
            AggregateOp::Topk => "topk",
            AggregateOp::Bottomk => "bottomk",
            AggregateOp::Quantile => "quantile",
            AggregateOp::CountValues => "count_values",
            AggregateOp::Limitk => "limitk",
            AggregateOp::LimitRatio => "limit_ratio",
        }
    }

    /// Looks an operator up by keyword, case-insensitively.
    pub fn from_keyword(s: &str) -> Option<AggregateOp> {
        AggregateOp::ALL
            .into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(s))
    }

    /// The type of the parameter, for the operators that take one.
    pub fn param_type(self) -> Option<ValueType> {
        match self {
            AggregateOp::Topk
            | AggregateOp::Bottomk
            | AggregateOp::Quantile
            | AggregateOp::Limitk
            | AggregateOp::LimitRatio => Some(ValueType::Scalar),
            AggregateOp::CountValues => Some(ValueType::String),
            _ => None,
        }
    }

    /// True for the experimental operators (`limitk`, `limit_ratio`).
    pub fn is_experimental(self) -> bool {
        matches!(self, AggregateOp::Limitk | AggregateOp::LimitRatio)
    }
}

impl fmt::Display for AggregateOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An aggregation `op without|by (grouping) ([param,] expr)`.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateExpr {
    /// The operator.
    pub op: AggregateOp,
    /// The aggregated expression (an instant vector).
    pub expr: Box<Expr>,
    /// The parameter of `topk`, `bottomk`, `quantile`, `count_values`, `limitk`,
    /// `limit_ratio`.
    pub param: Option<Box<Expr>>,
    /// The labels of `by (...)` or `without (...)`, as written.
    pub grouping: Vec<String>,
    /// True for `without`, false for `by` (or no clause).
    pub without: bool,
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `^` (right-associative)
    Pow,
    /// `atan2`
    Atan2,
    /// `==`
    Eql,
    /// `!=`
    Neq,
    /// `>`
    Gtr,
    /// `<`
    Lss,
    /// `>=`
    Gte,
    /// `<=`
    Lte,
    /// `and`
    And,
    /// `or`
    Or,
    /// `unless`
    Unless,
}

impl BinaryOp {
    /// The operator as written (`atan2`, `and`, ... in lower case).
    pub fn as_str(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
            BinaryOp::Pow => "^",
            BinaryOp::Atan2 => "atan2",
            BinaryOp::Eql => "==",
            BinaryOp::Neq => "!=",
            BinaryOp::Gtr => ">",
            BinaryOp::Lss => "<",
            BinaryOp::Gte => ">=",
            BinaryOp::Lte => "<=",
            BinaryOp::And => "and",
            BinaryOp::Or => "or",
            BinaryOp::Unless => "unless",
        }
    }

    /// Binding strength, higher binds tighter: `or` 1, `and`/`unless` 2,
    /// comparisons 3, `+ -` 4, `* / % atan2` 5, `^` 6.
    pub fn precedence(self) -> u8 {
        match self {
            BinaryOp::Or => 1,
            BinaryOp::And | BinaryOp::Unless => 2,
            BinaryOp::Eql
            | BinaryOp::Neq
            | BinaryOp::Gtr
            | BinaryOp::Lss
            | BinaryOp::Gte
            | BinaryOp::Lte => 3,
            BinaryOp::Add | BinaryOp::Sub => 4,
            BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod | BinaryOp::Atan2 => 5,
            BinaryOp::Pow => 6,
        }
    }

    /// True only for `^`.
    pub fn is_right_associative(self) -> bool {
        self == BinaryOp::Pow
    }

    /// True for `== != > < >= <=`.
    pub fn is_comparison(self) -> bool {
        self.precedence() == 3
    }

    /// True for `and or unless`.
    pub fn is_set_operator(self) -> bool {
        matches!(self, BinaryOp::And | BinaryOp::Or | BinaryOp::Unless)
    }
}

impl fmt::Display for BinaryOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Matching cardinality of a vector/vector binary operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VectorMatchCardinality {
    /// Default for arithmetic and comparisons.
    OneToOne,
    /// `group_left`
    ManyToOne,
    /// `group_right`
    OneToMany,
    /// Set operators (`and`, `or`, `unless`).
    ManyToMany,
}

/// How the two sides of a vector/vector operation are matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VectorMatching {
    /// The cardinality.
    pub card: VectorMatchCardinality,
    /// The labels of `on (...)` or `ignoring (...)`.
    pub matching_labels: Vec<String>,
    /// True for `on`, false for `ignoring` (or no clause).
    pub on: bool,
    /// The extra labels of `group_left (...)` / `group_right (...)`.
    pub include: Vec<String>,
}

/// A binary operation.
#[derive(Debug, Clone, PartialEq)]
pub struct BinaryExpr {
    /// The operator.
    pub op: BinaryOp,
    /// Left operand.
    pub lhs: Box<Expr>,
    /// Right operand.
    pub rhs: Box<Expr>,
    /// The `bool` modifier of a comparison.
    pub return_bool: bool,
    /// Present exactly when both operands are instant vectors (as in Prometheus:
    /// one-to-one by default, many-to-many for set operators).
    pub matching: Option<VectorMatching>,
}

/// Unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// `-`
    Neg,
    /// `+`
    Pos,
}

/// A unary operation (never directly on a number literal: that is folded).
#[derive(Debug, Clone, PartialEq)]
pub struct UnaryExpr {
    /// The operator.
    pub op: UnaryOp,
    /// The operand.
    pub expr: Box<Expr>,
}

impl Expr {
    /// A node with a span.
    pub fn new(kind: ExprKind, span: Span) -> Self {
        Expr { kind, span }
    }

    /// The static type of the expression.
    pub fn value_type(&self) -> ValueType {
        match &self.kind {
            ExprKind::NumberLiteral(_) => ValueType::Scalar,
            ExprKind::StringLiteral(_) => ValueType::String,
            ExprKind::VectorSelector(_) => ValueType::Vector,
            ExprKind::MatrixSelector(_) | ExprKind::Subquery(_) => ValueType::Matrix,
            ExprKind::Call(c) => c.func.return_type,
            ExprKind::Aggregate(_) => ValueType::Vector,
            ExprKind::Binary(b) => {
                if b.lhs.value_type() == ValueType::Scalar
                    && b.rhs.value_type() == ValueType::Scalar
                {
                    ValueType::Scalar
                } else {
                    ValueType::Vector
                }
            }
            ExprKind::Unary(u) => u.expr.value_type(),
            ExprKind::Paren(e) => e.value_type(),
        }
    }

    /// Structural equality that ignores spans (all NaN literals equal each other;
    /// `0` and `-0` differ).
    pub fn eq_ignoring_spans(&self, other: &Expr) -> bool {
        use ExprKind as K;
        match (&self.kind, &other.kind) {
            (K::NumberLiteral(a), K::NumberLiteral(b)) => {
                a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
            }
            (K::StringLiteral(a), K::StringLiteral(b)) => a == b,
            (K::VectorSelector(a), K::VectorSelector(b)) => a == b,
            (K::MatrixSelector(a), K::MatrixSelector(b)) => a == b,
            (K::Subquery(a), K::Subquery(b)) => {
                a.range == b.range
                    && a.step == b.step
                    && a.offset == b.offset
                    && a.at == b.at
                    && a.expr.eq_ignoring_spans(&b.expr)
            }
            (K::Call(a), K::Call(b)) => {
                a.func.id == b.func.id
                    && a.args.len() == b.args.len()
                    && a.args
                        .iter()
                        .zip(&b.args)
                        .all(|(x, y)| x.eq_ignoring_spans(y))
            }
            (K::Aggregate(a), K::Aggregate(b)) => {
                a.op == b.op
                    && a.grouping == b.grouping
                    && a.without == b.without
                    && a.expr.eq_ignoring_spans(&b.expr)
                    && match (&a.param, &b.param) {
                        (None, None) => true,
                        (Some(x), Some(y)) => x.eq_ignoring_spans(y),
                        _ => false,
                    }
            }
            (K::Binary(a), K::Binary(b)) => {
                a.op == b.op
                    && a.return_bool == b.return_bool
                    && a.matching == b.matching
                    && a.lhs.eq_ignoring_spans(&b.lhs)
                    && a.rhs.eq_ignoring_spans(&b.rhs)
            }
            (K::Unary(a), K::Unary(b)) => a.op == b.op && a.expr.eq_ignoring_spans(&b.expr),
            (K::Paren(a), K::Paren(b)) => a.eq_ignoring_spans(b),
            _ => false,
        }
    }

    /// The direct children of this node, in source order.
    pub fn children(&self) -> Vec<&Expr> {
        match &self.kind {
            ExprKind::NumberLiteral(_)
            | ExprKind::StringLiteral(_)
            | ExprKind::VectorSelector(_)
            | ExprKind::MatrixSelector(_) => Vec::new(),
            ExprKind::Subquery(s) => vec![&s.expr],
            ExprKind::Call(c) => c.args.iter().collect(),
            ExprKind::Aggregate(a) => a.param.iter().map(|p| &**p).chain([&*a.expr]).collect(),
            ExprKind::Binary(b) => vec![&b.lhs, &b.rhs],
            ExprKind::Unary(u) => vec![&u.expr],
            ExprKind::Paren(e) => vec![e],
        }
    }
}
