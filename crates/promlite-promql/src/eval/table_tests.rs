//! The function table against the evaluator: every entry is either implemented
//! (evaluates without error, and gives an answer where one is due) or marked
//! unsupported, in which case the engine rejects the query with a parse error
//! before evaluating anything.

use promlite_model::{Labels, Sample, VecStorage};

use super::engine::{family, Family};
use super::*;
use crate::parser::functions::{FunctionId, FUNCTIONS};
use crate::{ParseOptions, ValueType};

fn opts() -> ParseOptions {
    #[allow(clippy::needless_update)] // robust to new parser options
    ParseOptions {
        enable_experimental_functions: true,
        ..Default::default()
    }
}

/// A call of `name` with one well-formed argument of each expected type.
fn call_text(f: &crate::Function) -> String {
    let args: Vec<&str> = (0..f.min_args())
        .map(|i| match f.arg_type(i).expect("typed argument") {
            ValueType::Vector => "m",
            ValueType::Matrix => "m[5m]",
            ValueType::Scalar => "0.5",
            ValueType::String => "\"a\"",
        })
        .collect();
    format!("{}({})", f.name, args.join(", "))
}

/// Functions whose answer over a classic (float) series with data is empty.
fn empty_by_design(id: FunctionId) -> bool {
    use FunctionId as F;
    matches!(
        id,
        F::Absent
            | F::AbsentOverTime
            | F::HistogramAvg
            | F::HistogramCount
            | F::HistogramStddev
            | F::HistogramStdvar
            | F::HistogramSum
    )
}

#[test]
fn every_table_entry_is_implemented_or_rejected_at_parse_time() {
    // A counter-like bucket series every 15 s over 10 minutes.
    let mut s = VecStorage::default();
    let l = Labels::from_pairs([("__name__", "m"), ("le", "1")]);
    for i in 0..=40 {
        s.push(
            &l,
            Sample {
                t: i * 15_000,
                v: 2.0 * i as f64,
            },
        );
    }
    let engine = Engine::new(EngineOptions::default());
    for f in FUNCTIONS {
        let text = call_text(f);
        let expr = crate::parse_with(&text, opts()).unwrap_or_else(|e| panic!("{text}: {e}"));
        let r = engine.instant_query_expr(&s, &expr, &text, 600_000, None);
        if !f.supported {
            assert_eq!(family(f.id), Family::Unsupported, "{}", f.name);
            let e = r.expect_err(&text);
            assert_eq!(e.kind(), QueryErrorKind::Parse);
            assert_eq!(
                e.to_string(),
                format!(
                    "1:1: parse error: function \"{}\" is not supported by this engine",
                    f.name
                ),
            );
            // Also inside an expression, before anything is evaluated.
            let nested = format!("sum(rate(m[5m])) + sum({text})");
            let expr = crate::parse_with(&nested, opts()).expect("parses");
            let e = engine
                .range_query_expr(&s, &expr, &nested, 0, 600_000, 15_000, None)
                .expect_err(&nested);
            assert_eq!(e.kind(), QueryErrorKind::Parse, "{nested}");
            assert!(
                e.to_string().starts_with("1:24: parse error: function"),
                "{e}"
            );
            continue;
        }
        assert_ne!(family(f.id), Family::Unsupported, "{}", f.name);
        let r = r.unwrap_or_else(|e| panic!("{text}: {e}"));
        let empty = match &r.value {
            Value::Vector(v) => v.is_empty(),
            Value::Matrix(m) => m.is_empty(),
            Value::Scalar { .. } | Value::String { .. } => false,
        };
        assert_eq!(empty, empty_by_design(f.id), "{text}: {:?}", r.value);
    }
}

#[test]
fn ids_are_distinct_and_follow_the_table_order() {
    for (i, f) in FUNCTIONS.iter().enumerate() {
        assert!(
            FUNCTIONS[..i].iter().all(|g| g.id != f.id),
            "{} repeats an id",
            f.name
        );
        assert_eq!(crate::get_function(f.name).map(|g| g.id), Some(f.id));
    }
}
