//! Parser unit tests: query → canonical printed form, and AST shape checks.
//! Expected printed forms follow Prometheus's `String()` output conventions
//! (`parser/printer.go`, `ast.go`), written out by hand.

use super::ast::*;
use super::parse;

macro_rules! printed {
    ($($name:ident: $q:expr => $want:expr;)*) => {
        $(
            #[test]
            fn $name() {
                let e = parse($q).unwrap_or_else(|e| panic!("{}: {e}", $q));
                assert_eq!(e.to_string(), $want, "query {:?}", $q);
                let again = parse(&e.to_string()).unwrap();
                assert!(again.eq_ignoring_spans(&e), "round trip of {:?}", $q);
            }
        )*
    };
}

printed! {
    number_int: "1" => "1";
    number_float_forms: "1." => "1";
    number_leading_dot: ".5" => "0.5";
    number_exp: "1.5e3" => "1500";
    number_neg_exp: "1E-3" => "0.001";
    number_hex: "0x1F" => "31";
    number_hex_upper: "0X1f" => "31";
    number_octal: "0755" => "493";
    number_neg_octal: "-0755" => "-493";
    number_not_octal: "08" => "8";
    number_underscore: "1_000" => "1000";
    number_inf: "+Inf" => "Inf";
    number_neg_inf: "-inf" => "-Inf";
    number_nan: "nAn" => "NaN";
    duration_as_number: "5m" => "300";
    duration_compound_as_number: "1h30m" => "5400";
    duration_ms_as_number: "100ms" => "0.1";
    unary_folds_literal: "-1" => "-1";
    unary_minus_pow: "-1^2" => "-1 ^ 2";
    pow_right_assoc: "2^3^2" => "2 ^ 3 ^ 2";
    unary_minus_vector: "-foo" => "-foo";
    unary_plus_vector: "+foo" => "+foo";
    precedence_mul_add: "1 + 2 * 3" => "1 + 2 * 3";
    parens_kept: "(1 + 2) * 3" => "(1 + 2) * 3";
    string_double: "\"a\\nb\"" => "\"a\\nb\"";
    string_single: "'it\\'s'" => "\"it's\"";
    string_raw: "`a\\d`" => "\"a\\\\d\"";
    string_hex_utf8: "\"\\xc3\\xa9\"" => "\"é\"";
    selector: "foo" => "foo";
    selector_matchers: "foo{a=\"b\", c!=\"d\", e=~\"f\", g!~\"h\"}" => "foo{a=\"b\", c!=\"d\", e=~\"f\", g!~\"h\"}";
    selector_trailing_comma: "foo{a=\"b\",}" => "foo{a=\"b\"}";
    selector_no_name: "{a=\"b\"}" => "{a=\"b\"}";
    selector_name_matcher: "{__name__=\"foo\"}" => "{__name__=\"foo\"}";
    selector_utf8_name: "{\"my.metric\", \"a.b\"=\"c\"}" => "{\"my.metric\", \"a.b\"=\"c\"}";
    selector_quoted_legacy_name: "{\"foo\"}" => "foo";
    selector_keyword_name: "sum" => "{\"sum\"}";
    selector_keyword_by: "by" => "{\"by\"}";
    selector_keyword_label: "foo{by=\"x\", and=\"y\"}" => "foo{by=\"x\", and=\"y\"}";
    selector_colon_name: "foo:bar:rate5m" => "foo:bar:rate5m";
    selector_comment: "foo # comment\n" => "foo";
    offset_: "foo offset 5m" => "foo offset 5m";
    offset_negative: "foo offset -7m" => "foo offset -7m";
    offset_number: "foo offset 50" => "foo offset 50s";
    offset_compound: "foo OFFSET 1h30m" => "foo offset 1h30m";
    offset_ms: "foo offset 1m30ms" => "foo offset 1m30ms";
    at_int: "foo @ 1603774568" => "foo @ 1603774568.000";
    at_negative: "foo @ -100" => "foo @ -100.000";
    at_fraction: "foo @ .3" => "foo @ 0.300";
    at_round_half_up: "foo @ 3.3335" => "foo @ 3.334";
    at_hex: "foo @ 0xA" => "foo @ 10.000";
    at_duration: "foo @ 100s" => "foo @ 100.000";
    at_start: "foo @ start()" => "foo @ start()";
    at_end: "foo @ end()" => "foo @ end()";
    at_then_offset: "foo @ 10 offset 5m" => "foo @ 10.000 offset 5m";
    offset_then_at: "foo offset 5m @ 10" => "foo @ 10.000 offset 5m";
    matrix: "foo[5m]" => "foo[5m]";
    matrix_number: "foo[100]" => "foo[1m40s]";
    matrix_fraction: "foo[1.5]" => "foo[1s500ms]";
    matrix_days: "foo[1d]" => "foo[1d]";
    matrix_weeks: "foo[14d]" => "foo[2w]";
    matrix_year: "foo[365d]" => "foo[1y]";
    matrix_offset_at: "foo[5m] offset 1m @ 100" => "foo[5m] @ 100.000 offset 1m";
    subquery: "foo[10m:1m]" => "foo[10m:1m]";
    subquery_default_step: "foo[10m:]" => "foo[10m:]";
    subquery_numbers: "foo[100:1]" => "foo[1m40s:1s]";
    subquery_of_call: "rate(foo[5m])[30m:1m] offset 5m @ end()" => "rate(foo[5m])[30m:1m] @ end() offset 5m";
    subquery_of_selector_with_offset: "foo offset 1m[10m:]" => "foo offset 1m[10m:]";
    call: "rate(foo[5m])" => "rate(foo[5m])";
    call_no_args: "time()" => "time()";
    call_variadic_omitted: "hour()" => "hour()";
    call_round: "round(foo, 0.5)" => "round(foo, 0.5)";
    call_label_join: "label_join(foo, \"a\", \",\", \"b\", \"c\")" => "label_join(foo, \"a\", \",\", \"b\", \"c\")";
    call_duration_arg: "predict_linear(foo[5m], 1h)" => "predict_linear(foo[5m], 3600)";
    agg: "sum(foo)" => "sum(foo)";
    agg_by_before: "sum by (a, b) (foo)" => "sum by (a, b) (foo)";
    agg_by_after: "sum(foo) by (a)" => "sum by (a) (foo)";
    agg_without: "avg without (a) (foo)" => "avg without (a) (foo)";
    agg_without_empty: "avg without () (foo)" => "avg without () (foo)";
    agg_by_empty: "sum by () (foo)" => "sum(foo)";
    agg_keyword_case: "SUM BY (a) (foo)" => "sum by (a) (foo)";
    agg_trailing_comma_grouping: "sum by (a,) (foo)" => "sum by (a) (foo)";
    agg_keyword_labels: "sum by (by, and, sum) (foo)" => "sum by (by, and, sum) (foo)";
    agg_utf8_grouping: "sum by (\"a.b\") (foo)" => "sum by (\"a.b\") (foo)";
    agg_topk: "topk(5, foo)" => "topk(5, foo)";
    agg_quantile: "quantile by (a) (0.9, foo)" => "quantile by (a) (0.9, foo)";
    agg_count_values: "count_values(\"v\", foo)" => "count_values(\"v\", foo)";
    bin_bool: "foo > bool 1" => "foo > bool 1";
    bin_scalar_bool: "1 == bool 1" => "1 == bool 1";
    bin_on: "foo * on(a, b) bar" => "foo * on (a, b) bar";
    bin_on_empty: "foo and on() bar" => "foo and on () bar";
    bin_ignoring_empty: "foo + ignoring() bar" => "foo + bar";
    bin_group_left: "foo / on(a) group_left(b) bar" => "foo / on (a) group_left (b) bar";
    bin_group_left_no_labels: "foo / on(a) group_left bar" => "foo / on (a) group_left () bar";
    bin_group_right: "foo - ignoring(a) group_right(b, c) bar" => "foo - ignoring (a) group_right (b, c) bar";
    bin_set_ops: "a and b or c unless d" => "a and b or c unless d";
    bin_atan2: "foo atan2 bar" => "foo atan2 bar";
    bin_keyword_metric_rhs: "foo * sum" => "foo * {\"sum\"}";
    kcm_query: "histogram_quantile(0.99,sum(rate(workqueue_queue_duration_seconds_bucket{container=\"kube-controller-manager\"}[5m])) by (instance, name, le))"
        => "histogram_quantile(0.99, sum by (instance, name, le) (rate(workqueue_queue_duration_seconds_bucket{container=\"kube-controller-manager\"}[5m])))";
}

fn p(q: &str) -> Expr {
    parse(q).unwrap_or_else(|e| panic!("{q}: {e}"))
}

#[test]
fn precedence_shapes() {
    // -1^2 is -(1^2) = -1 in Prometheus.
    let ExprKind::Unary(u) = p("-1^2").kind else {
        panic!("unary expected")
    };
    assert!(matches!(u.expr.kind, ExprKind::Binary(ref b) if b.op == BinaryOp::Pow));
    // 2^3^2 = 2^(3^2)
    let ExprKind::Binary(b) = p("2^3^2").kind else {
        panic!()
    };
    assert!(matches!(b.lhs.kind, ExprKind::NumberLiteral(v) if v == 2.0));
    assert!(matches!(b.rhs.kind, ExprKind::Binary(_)));
    // a - b - c = (a - b) - c
    let ExprKind::Binary(b) = p("a - b - c").kind else {
        panic!()
    };
    assert!(matches!(b.lhs.kind, ExprKind::Binary(_)));
    // foo + bar or bla and blub = (foo + bar) or (bla and blub)
    let ExprKind::Binary(b) = p("foo + bar or bla and blub").kind else {
        panic!()
    };
    assert_eq!(b.op, BinaryOp::Or);
    assert!(matches!(b.rhs.kind, ExprKind::Binary(ref r) if r.op == BinaryOp::And));
    // -a * b = (-a) * b
    let ExprKind::Binary(b) = p("-a * b").kind else {
        panic!()
    };
    assert!(matches!(b.lhs.kind, ExprKind::Unary(_)));
}

#[test]
fn selector_fields() {
    let ExprKind::VectorSelector(vs) = p("foo{a=\"b\"} offset -5m @ 1.5").kind else {
        panic!()
    };
    assert_eq!(vs.name.as_deref(), Some("foo"));
    assert_eq!(vs.matchers.len(), 2);
    assert_eq!(&*vs.matchers[1].name, "__name__");
    assert_eq!(vs.offset, -300_000);
    assert_eq!(vs.at, Some(AtModifier::Timestamp(1500)));
    let ExprKind::MatrixSelector(ms) = p("foo[1h30m]").kind else {
        panic!()
    };
    assert_eq!(ms.range, 5_400_000);
    let ExprKind::Subquery(sq) = p("foo[5m:]").kind else {
        panic!()
    };
    assert_eq!((sq.range, sq.step), (300_000, None));
}

#[test]
fn vector_matching_defaults() {
    let ExprKind::Binary(b) = p("a + b").kind else {
        panic!()
    };
    assert_eq!(b.matching.unwrap().card, VectorMatchCardinality::OneToOne);
    let ExprKind::Binary(b) = p("a or b").kind else {
        panic!()
    };
    assert_eq!(b.matching.unwrap().card, VectorMatchCardinality::ManyToMany);
    let ExprKind::Binary(b) = p("a + 1").kind else {
        panic!()
    };
    assert!(b.matching.is_none());
}

#[test]
fn value_types() {
    assert_eq!(p("1 + 1").value_type(), ValueType::Scalar);
    assert_eq!(p("foo + 1").value_type(), ValueType::Vector);
    assert_eq!(p("foo[5m]").value_type(), ValueType::Matrix);
    assert_eq!(p("foo[5m:]").value_type(), ValueType::Matrix);
    assert_eq!(p("\"x\"").value_type(), ValueType::String);
    assert_eq!(p("scalar(foo)").value_type(), ValueType::Scalar);
    assert_eq!(p("-(foo)").value_type(), ValueType::Vector);
}

#[test]
fn spans_are_byte_offsets() {
    let e = p("sum(foo) + bar");
    assert_eq!(e.span, Span::new(0, 14));
    let ExprKind::Binary(b) = e.kind else {
        panic!()
    };
    assert_eq!(b.lhs.span, Span::new(0, 8));
    assert_eq!(b.rhs.span, Span::new(11, 14));
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let q = format!("{}1{}", "(".repeat(100_000), ")".repeat(100_000));
    assert!(parse(&q)
        .unwrap_err()
        .message()
        .contains("nesting too deep"));
    let q = format!("1{}", "+1".repeat(100_000));
    assert!(parse(&q)
        .unwrap_err()
        .message()
        .contains("nesting too deep"));
    let q = "-".repeat(100_000) + "1";
    assert!(parse(&q).is_err());
    // Within limits it works.
    let q = format!("{}1{}", "(".repeat(60), ")".repeat(60));
    assert!(parse(&q).is_ok());
    let q = format!("1{}", "+1".repeat(199));
    assert!(parse(&q).is_ok());
}

#[test]
fn large_at_timestamps_round_trip() {
    // Beyond ~2^50 ms, seconds with three decimals do not fit an f64 exactly; the
    // printer then picks a decimal that converts back to the same milliseconds.
    for q in [
        "foo @ -4401240988313.563",
        "foo @ 4467382532164.605",
        "foo @ 9000000000000000",
        "foo @ 1e15",
    ] {
        let e = p(q);
        let again = p(&e.to_string());
        assert!(again.eq_ignoring_spans(&e), "{q} printed as {e}");
        assert_eq!(again.to_string(), e.to_string());
    }
    assert_eq!(p("foo @ 1700000000.5").to_string(), "foo @ 1700000000.500");
}

#[test]
fn regex_errors_read_like_go() {
    let e = parse(r#"foo{a=~"("}"#).unwrap_err();
    // Prometheus 3 anchors as ^(?s:...)$ (2.42 printed ^(?:()$ here).
    assert_eq!(
        e.to_string(),
        "1:5: parse error: error parsing regexp: missing closing ): `^(?s:()$`"
    );
    let e = parse(r#"foo{a!~"a)"}"#).unwrap_err();
    assert_eq!(
        e.message(),
        "error parsing regexp: unexpected ): `^(?s:a))$`"
    );
}
