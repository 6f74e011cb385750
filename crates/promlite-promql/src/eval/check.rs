//! Checks an expression before evaluation: types, argument counts and the shape
//! rules the parser enforces. The parser only builds valid trees, but
//! [`Engine::instant_query_expr`](super::Engine::instant_query_expr) and
//! [`Engine::range_query_expr`](super::Engine::range_query_expr) accept any [`Expr`] a
//! caller assembled by hand; the evaluator relies on these rules (it indexes a call's
//! arguments by position), so a tree that breaks one is refused here with an error.

use promlite_model::MatchOp;

use super::{QueryError, QueryErrorKind};
use crate::parser::ast::{
    BinaryExpr, Call, Expr, ExprKind, ValueType, VectorMatchCardinality, VectorSelector,
};
use crate::parser::functions::get_function;
use crate::parser::MAX_DEPTH;

/// Checks `expr` as the parser would have; `Ok` for every tree the parser builds.
///
/// # Errors
/// A [`QueryErrorKind::BadData`] error naming the first rule broken.
pub(crate) fn check_expr(expr: &Expr) -> Result<(), QueryError> {
    walk(expr, 1).map(|_| ())
}

fn bad(message: impl Into<String>) -> QueryError {
    QueryError::new(
        QueryErrorKind::BadData,
        format!("invalid expression: {}", message.into()),
    )
}

fn scalar_or_vector(t: ValueType) -> bool {
    matches!(t, ValueType::Scalar | ValueType::Vector)
}

/// Returns the node's type. Recursion stops at `MAX_DEPTH`, the parser's limit.
fn walk(e: &Expr, depth: u32) -> Result<ValueType, QueryError> {
    if depth > MAX_DEPTH {
        return Err(bad(format!(
            "expression nesting too deep (more than {MAX_DEPTH} levels)"
        )));
    }
    let next = depth + 1;
    Ok(match &e.kind {
        ExprKind::NumberLiteral(_) => ValueType::Scalar,
        ExprKind::StringLiteral(_) => ValueType::String,
        ExprKind::VectorSelector(vs) => {
            selector(vs)?;
            ValueType::Vector
        }
        ExprKind::MatrixSelector(ms) => {
            selector(&ms.selector)?;
            if ms.range <= 0 {
                return Err(bad(format!("range {}ms must be positive", ms.range)));
            }
            ValueType::Matrix
        }
        ExprKind::Subquery(sq) => {
            let t = walk(&sq.expr, next)?;
            if t != ValueType::Vector {
                return Err(bad(format!(
                    "subquery is only allowed on instant vector, got {t}"
                )));
            }
            if sq.range <= 0 || sq.step.is_some_and(|s| s <= 0) {
                return Err(bad("subquery range and step must be positive"));
            }
            ValueType::Matrix
        }
        ExprKind::Call(c) => call(c, next)?,
        ExprKind::Aggregate(a) => {
            match (a.op.param_type(), &a.param) {
                (Some(want), Some(p)) => {
                    let got = walk(p, next)?;
                    if got != want {
                        return Err(bad(format!(
                            "expected type {want} in {} parameter, got {got}",
                            a.op
                        )));
                    }
                }
                (None, None) => {}
                (Some(_), None) => return Err(bad(format!("{} needs a parameter", a.op))),
                (None, Some(_)) => return Err(bad(format!("{} takes no parameter", a.op))),
            }
            let t = walk(&a.expr, next)?;
            if t != ValueType::Vector {
                return Err(bad(format!(
                    "expected type instant vector in aggregation expression, got {t}"
                )));
            }
            ValueType::Vector
        }
        ExprKind::Binary(b) => binary(b, next)?,
        ExprKind::Unary(u) => {
            let t = walk(&u.expr, next)?;
            if !scalar_or_vector(t) {
                return Err(bad(format!(
                    "unary expression only allowed on expressions of type scalar or instant vector, got {t}"
                )));
            }
            t
        }
        ExprKind::Paren(inner) => walk(inner, next)?,
    })
}

fn selector(vs: &VectorSelector) -> Result<(), QueryError> {
    // Prometheus: at least one matcher that does not match the empty string, so a
    // selector never means "every series".
    if vs.matchers.iter().all(|m| m.matches_empty()) {
        return Err(bad(
            "vector selector must contain at least one non-empty matcher",
        ));
    }
    if let Some(name) = &vs.name {
        let named = vs
            .matchers
            .iter()
            .any(|m| m.op == MatchOp::Equal && &*m.name == "__name__" && *m.value == **name);
        if !named {
            return Err(bad(format!(
                "selector named {name:?} has no __name__=\"{name}\" matcher"
            )));
        }
    }
    Ok(())
}

fn call(c: &Call, next: u32) -> Result<ValueType, QueryError> {
    let f = c.func;
    if get_function(f.name) != Some(f) {
        return Err(bad(format!("unknown function {:?}", f.name)));
    }
    let n = c.args.len();
    if n < f.min_args() || f.max_args().is_some_and(|max| n > max) {
        let range = match f.max_args() {
            Some(max) if max == f.min_args() => format!("{max}"),
            Some(max) => format!("{} to {max}", f.min_args()),
            None => format!("at least {}", f.min_args()),
        };
        return Err(bad(format!(
            "expected {range} argument(s) in call to {:?}, got {n}",
            f.name
        )));
    }
    for (i, a) in c.args.iter().enumerate() {
        // `info`'s label selector may match every label set (`{data=~".*"}`): the
        // parser reads it leniently, so only its type is checked here.
        let got = match &a.kind {
            ExprKind::VectorSelector(_) if f.name == "info" && i == 1 => ValueType::Vector,
            _ => walk(a, next)?,
        };
        let want = f.arg_type(i);
        if want != Some(got) {
            return Err(bad(format!(
                "expected type {} in call to function {:?}, got {got}",
                want.map_or("nothing", ValueType::as_str),
                f.name
            )));
        }
    }
    Ok(f.return_type)
}

fn binary(b: &BinaryExpr, next: u32) -> Result<ValueType, QueryError> {
    let lt = walk(&b.lhs, next)?;
    let rt = walk(&b.rhs, next)?;
    let op = b.op;
    if !scalar_or_vector(lt) || !scalar_or_vector(rt) {
        return Err(bad(
            "binary expression must contain only scalar and instant vector types",
        ));
    }
    if b.return_bool && !op.is_comparison() {
        return Err(bad(
            "bool modifier can only be used on comparison operators",
        ));
    }
    let both_vectors = lt == ValueType::Vector && rt == ValueType::Vector;
    if op.is_comparison() && !b.return_bool && !both_vectors && lt == rt {
        return Err(bad("comparisons between scalars must use BOOL modifier"));
    }
    if op.is_set_operator() && !both_vectors {
        return Err(bad(format!(
            "set operator {:?} not allowed in binary scalar expression",
            op.as_str()
        )));
    }
    match &b.matching {
        Some(_) if !both_vectors => {
            return Err(bad("vector matching only allowed between instant vectors"))
        }
        Some(m)
            if op.is_set_operator()
                && matches!(
                    m.card,
                    VectorMatchCardinality::ManyToOne | VectorMatchCardinality::OneToMany
                ) =>
        {
            return Err(bad(format!(
                "no grouping allowed for {:?} operation",
                op.as_str()
            )))
        }
        _ => {}
    }
    Ok(if lt == ValueType::Scalar && rt == ValueType::Scalar {
        ValueType::Scalar
    } else {
        ValueType::Vector
    })
}
