//! Evaluates arbitrary ASTs, built from the input with the `arbitrary` crate, over a
//! small store, as instant and as range queries. Trees are mostly well typed (so the
//! evaluator gets deep), sometimes not (wrong argument counts and types, forged
//! shapes: the engine's AST check must refuse them). Nothing may panic, overflow
//! (fuzz builds have overflow checks on) or run away (the engine has a timeout and
//! a sample limit here).
//!
//! Run from fuzz/: `RUSTC_BOOTSTRAP=1 cargo fuzz run promql_eval_ast -- -max_total_time=600`.
//!
//! Shared by the fuzz target `fuzz/fuzz_targets/promql_eval_ast.rs` and by the replay of kept
//! inputs in `tests/fuzz_regressions.rs` (`fuzz/regressions/promql_eval_ast/`).
use std::sync::OnceLock;
use std::time::Duration;

use arbitrary::{Result, Unstructured};
use promlite::model::{Labels, MatchOp, Matcher, Sample, VecStorage, STALE_NAN};
use promlite::promql::{
    AggregateExpr, AggregateOp, AtModifier, BinaryExpr, BinaryOp, Call, Engine, EngineOptions,
    Expr, ExprKind, MatrixSelector, Span, SubqueryExpr, UnaryExpr, UnaryOp, ValueType,
    VectorMatchCardinality, VectorMatching, VectorSelector, FUNCTIONS,
};

const BINARY_OPS: [BinaryOp; 16] = [
    BinaryOp::Add,
    BinaryOp::Sub,
    BinaryOp::Mul,
    BinaryOp::Div,
    BinaryOp::Mod,
    BinaryOp::Pow,
    BinaryOp::Atan2,
    BinaryOp::Eql,
    BinaryOp::Neq,
    BinaryOp::Gtr,
    BinaryOp::Lss,
    BinaryOp::Gte,
    BinaryOp::Lte,
    BinaryOp::And,
    BinaryOp::Or,
    BinaryOp::Unless,
];

const NAMES: [&str; 5] = ["m", "c", "h_bucket", "nope", "s"];
const LABELS: [&str; 5] = ["a", "le", "__name__", "job", "x"];
const VALUES: [&str; 8] = ["x", "y", "", ".*", "1", "+Inf", "é", "(a"];
const STRINGS: [&str; 8] = ["a", "dst", "$1", "(.*)", "le", "", "__name__", "x\\w+"];
const TIMES: [i64; 12] = [
    0,
    1,
    -1,
    15_000,
    60_000,
    300_000,
    3_600_000,
    -300_000,
    9_000_000_000_000_000,
    -9_000_000_000_000_000,
    i64::MAX,
    i64::MIN,
];
const FLOATS: [f64; 12] = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    2.0,
    100.0,
    1e308,
    5e-324,
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
];

fn e(kind: ExprKind) -> Expr {
    Expr::new(kind, Span::default())
}

fn time(u: &mut Unstructured<'_>) -> Result<i64> {
    Ok(if u.ratio(1, 4)? {
        u.arbitrary()?
    } else {
        *u.choose(&TIMES)?
    })
}

fn selector(u: &mut Unstructured<'_>) -> Result<VectorSelector> {
    let name = *u.choose(&NAMES)?;
    let mut matchers = Vec::new();
    let named = u.ratio(7, 8)?;
    if named {
        matchers.push(Matcher::new(MatchOp::Equal, "__name__", name).expect("equality"));
    }
    for _ in 0..u.int_in_range(0..=2)? {
        let op = *u.choose(&[
            MatchOp::Equal,
            MatchOp::NotEqual,
            MatchOp::RegexMatch,
            MatchOp::RegexNoMatch,
        ])?;
        if let Ok(m) = Matcher::new(op, *u.choose(&LABELS)?, *u.choose(&VALUES)?) {
            matchers.push(m);
        }
    }
    let at = match u.int_in_range(0..=5)? {
        0 => Some(AtModifier::Start),
        1 => Some(AtModifier::End),
        2 => Some(AtModifier::Timestamp(time(u)?)),
        _ => None,
    };
    Ok(VectorSelector {
        name: named.then(|| name.to_string()),
        matchers,
        offset: if u.ratio(1, 3)? { time(u)? } else { 0 },
        at,
    })
}

struct Gen {
    /// Nodes left to build; bounds the tree's size and depth.
    budget: u32,
}

impl Gen {
    /// An expression of type `want`, or, now and then, of any type at all.
    fn expr(&mut self, u: &mut Unstructured<'_>, want: ValueType) -> Result<Expr> {
        if self.budget == 0 || u.is_empty() {
            return self.leaf(u, want);
        }
        self.budget -= 1;
        if u.ratio(1, 24)? {
            let any = *u.choose(&[
                ValueType::Scalar,
                ValueType::Vector,
                ValueType::Matrix,
                ValueType::String,
            ])?;
            return self.expr(u, any);
        }
        match want {
            ValueType::Scalar => match u.int_in_range(0..=5)? {
                0 => self.leaf(u, want),
                1 => self.call(u, want),
                2 => Ok(e(ExprKind::Paren(Box::new(self.expr(u, want)?)))),
                3 => Ok(e(ExprKind::Unary(UnaryExpr {
                    op: *u.choose(&[UnaryOp::Neg, UnaryOp::Pos])?,
                    expr: Box::new(self.expr(u, want)?),
                }))),
                _ => self.binary(u, false),
            },
            ValueType::Vector => match u.int_in_range(0..=6)? {
                0 => self.leaf(u, want),
                1 | 2 => self.call(u, want),
                3 => self.aggregate(u),
                4 => self.binary(u, true),
                5 => Ok(e(ExprKind::Unary(UnaryExpr {
                    op: UnaryOp::Neg,
                    expr: Box::new(self.expr(u, want)?),
                }))),
                _ => Ok(e(ExprKind::Paren(Box::new(self.expr(u, want)?)))),
            },
            ValueType::Matrix => {
                if u.ratio(1, 3)? {
                    let range = if u.ratio(1, 4)? { time(u)? } else { 300_000 };
                    let step = match u.int_in_range(0..=3)? {
                        0 => None,
                        1 => Some(time(u)?),
                        _ => Some(60_000),
                    };
                    let at = if u.ratio(1, 4)? {
                        Some(AtModifier::Timestamp(time(u)?))
                    } else {
                        None
                    };
                    Ok(e(ExprKind::Subquery(SubqueryExpr {
                        expr: Box::new(self.expr(u, ValueType::Vector)?),
                        range,
                        step,
                        offset: if u.ratio(1, 4)? { time(u)? } else { 0 },
                        at,
                    })))
                } else {
                    self.leaf(u, want)
                }
            }
            ValueType::String => self.leaf(u, want),
        }
    }

    fn leaf(&mut self, u: &mut Unstructured<'_>, want: ValueType) -> Result<Expr> {
        Ok(match want {
            ValueType::Scalar => e(ExprKind::NumberLiteral(if u.ratio(1, 4)? {
                u.arbitrary()?
            } else {
                *u.choose(&FLOATS)?
            })),
            ValueType::String => e(ExprKind::StringLiteral(u.choose(&STRINGS)?.to_string())),
            ValueType::Vector => e(ExprKind::VectorSelector(selector(u)?)),
            ValueType::Matrix => e(ExprKind::MatrixSelector(MatrixSelector {
                selector: selector(u)?,
                range: if u.ratio(1, 4)? {
                    time(u)?
                } else {
                    *u.choose(&[60_000, 300_000, 1])?
                },
            })),
        })
    }

    fn call(&mut self, u: &mut Unstructured<'_>, want: ValueType) -> Result<Expr> {
        let candidates: Vec<_> = FUNCTIONS.iter().filter(|f| f.return_type == want).collect();
        let Ok(f) = u.choose(&candidates) else {
            return self.leaf(u, want);
        };
        let mut n = f.min_args() + u.int_in_range(0..=2)?;
        if let Some(max) = f.max_args() {
            n = n.min(max);
        }
        if u.ratio(1, 16)? {
            n = u.int_in_range(0..=4)?; // possibly the wrong count
        }
        let mut args = Vec::with_capacity(n);
        for i in 0..n {
            let t = f.arg_type(i).unwrap_or(ValueType::Scalar);
            args.push(self.expr(u, t)?);
        }
        Ok(e(ExprKind::Call(Call { func: f, args })))
    }

    fn aggregate(&mut self, u: &mut Unstructured<'_>) -> Result<Expr> {
        let op = *u.choose(&AggregateOp::ALL)?;
        let param = match op.param_type() {
            Some(t) if !u.ratio(1, 16)? => Some(Box::new(self.expr(u, t)?)),
            _ => None,
        };
        let mut grouping = Vec::new();
        for _ in 0..u.int_in_range(0..=2)? {
            grouping.push(u.choose(&LABELS)?.to_string());
        }
        Ok(e(ExprKind::Aggregate(AggregateExpr {
            op,
            expr: Box::new(self.expr(u, ValueType::Vector)?),
            param,
            grouping,
            without: u.arbitrary()?,
        })))
    }

    fn binary(&mut self, u: &mut Unstructured<'_>, vector: bool) -> Result<Expr> {
        let op = *u.choose(&BINARY_OPS)?;
        let (lt, rt) = if vector {
            *u.choose(&[
                (ValueType::Vector, ValueType::Vector),
                (ValueType::Vector, ValueType::Scalar),
                (ValueType::Scalar, ValueType::Vector),
            ])?
        } else {
            (ValueType::Scalar, ValueType::Scalar)
        };
        let lhs = self.expr(u, lt)?;
        let rhs = self.expr(u, rt)?;
        let both = lt == ValueType::Vector && rt == ValueType::Vector;
        let matching = if both || u.ratio(1, 16)? {
            let mut labels = Vec::new();
            for _ in 0..u.int_in_range(0..=2)? {
                labels.push(u.choose(&LABELS)?.to_string());
            }
            let mut include = Vec::new();
            for _ in 0..u.int_in_range(0..=1)? {
                include.push(u.choose(&LABELS)?.to_string());
            }
            Some(VectorMatching {
                card: *u.choose(&[
                    VectorMatchCardinality::OneToOne,
                    VectorMatchCardinality::ManyToOne,
                    VectorMatchCardinality::OneToMany,
                    VectorMatchCardinality::ManyToMany,
                ])?,
                matching_labels: labels,
                on: u.arbitrary()?,
                include,
            })
        } else {
            None
        };
        Ok(e(ExprKind::Binary(BinaryExpr {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
            return_bool: op.is_comparison() && (u.arbitrary()? || !vector),
            matching,
        })))
    }
}

fn storage() -> &'static VecStorage {
    static S: OnceLock<VecStorage> = OnceLock::new();
    S.get_or_init(|| {
        let mut s = VecStorage::default();
        let mut put = |pairs: &[(&str, &str)], vals: &[f64]| {
            let l = Labels::from_pairs(pairs.iter().copied());
            for (i, v) in vals.iter().enumerate() {
                s.push(
                    &l,
                    Sample {
                        t: i as i64 * 15_000,
                        v: *v,
                    },
                );
            }
        };
        put(
            &[("__name__", "m"), ("a", "x")],
            &[1.0, 2.0, 3.0, f64::NAN, 5.0, 6.0],
        );
        put(
            &[("__name__", "m"), ("a", "y")],
            &[-1.0, 0.0, f64::INFINITY, 1e308, STALE_NAN, 2.0],
        );
        put(
            &[("__name__", "c"), ("job", "x")],
            &[0.0, 10.0, 20.0, 5.0, 15.0, 30.0],
        );
        for (le, k) in [("0.1", 1.0), ("1", 3.0), ("+Inf", 4.0)] {
            put(
                &[("__name__", "h_bucket"), ("le", le)],
                &[0.0, k, 2.0 * k, 3.0 * k, 4.0 * k, 5.0 * k],
            );
        }
        put(
            &[("__name__", "s"), ("x", "é")],
            &[1.698_289_672_762_573_2e15; 6],
        );
        s
    })
}

/// Runs one input through the target's checks; panics on a finding.
pub fn check(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(range_query) = u.arbitrary::<bool>() else {
        return;
    };
    let Ok(top) = u
        .choose(&[
            ValueType::Vector,
            ValueType::Scalar,
            ValueType::Matrix,
            ValueType::String,
        ])
        .copied()
    else {
        return;
    };
    let mut g = Gen { budget: 24 };
    let Ok(expr) = g.expr(&mut u, top) else {
        return;
    };
    let t = *u
        .choose(&[0i64, 30_000, 75_000, 400_000, -60_000])
        .unwrap_or(&75_000);
    let engine = Engine::new(
        EngineOptions::default()
            .with_max_samples(200_000)
            .with_timeout(Some(Duration::from_secs(2))),
    );
    let _ = expr.to_string();
    let r = if range_query {
        let step = *u.choose(&[1i64, 15_000, 60_000, 7_000]).unwrap_or(&15_000);
        let end = t + step.saturating_mul(u.int_in_range(0..=20).unwrap_or(3));
        engine.range_query_expr(storage(), &expr, "", t, end, step, None)
    } else {
        engine.instant_query_expr(storage(), &expr, "", t, None)
    };
    if let Ok(res) = r {
        let _ = serde_json::to_string(&res.value);
    }
}
