//! Integration tests: the PromQL parser.
//!
//! - every query of the compliance corpus and of Prometheus's own test scripts
//!   parses (except syntax that is out of our scope), and prints back to a query that
//!   parses to the same AST;
//! - one test per error kind, asserting Prometheus's message and position;
//! - a proptest that prints random ASTs and parses them back.

use promlite::promql::{parse, parse_with, Expr, ParseOptions};

use crate::common::shared_dir;

fn roundtrip(q: &str, e: &Expr) {
    let printed = e.to_string();
    let again = parse_with(&printed, experimental())
        .unwrap_or_else(|err| panic!("printed form of {q:?} does not parse: {printed:?}: {err}"));
    assert!(
        again.eq_ignoring_spans(e),
        "round trip changed the AST: {q:?} -> {printed:?}"
    );
    assert_eq!(
        again.to_string(),
        printed,
        "printing is not stable for {q:?}"
    );
}

fn experimental() -> ParseOptions {
    ParseOptions::default().with_experimental_functions(true)
}

#[test]
fn compliance_corpus_parses() {
    let path = shared_dir().join("compliance/cases.json");
    let text = std::fs::read_to_string(&path).expect("compliance/cases.json");
    let cases: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    assert!(cases.len() > 500);
    let mut failures = Vec::new();
    for c in &cases {
        let q = c["expr"].as_str().unwrap();
        match parse(q) {
            Ok(e) => roundtrip(q, &e),
            // The only case the compliance suite expects to fail at parse time: a
            // selector matching everything (the label_replace/label_join cases fail
            // at evaluation).
            // holt_winters was removed in Prometheus 3 (compliance README, item 2):
            // these 9 cases must fail under 3.x semantics.
            Err(err) if c["in_head"] == false && q.starts_with("holt_winters(") => assert_eq!(
                err.to_string(),
                "1:1: parse error: unknown function with name \"holt_winters\""
            ),
            Err(err) if q == r#"{__name__=~".*"}"# => assert_eq!(
                err.to_string(),
                "1:1: parse error: vector selector must contain at least one non-empty matcher"
            ),
            Err(err) => failures.push(format!("{q}: {err}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Syntax the upstream scripts use that is outside our first scope (INVENTORY.md):
/// duration expressions, `fill*` modifiers, `anchored`/`smoothed`, query-context
/// functions, native-histogram trim operators.
fn out_of_scope(q: &str) -> bool {
    let dur_expr = q.contains('[') && {
        // arithmetic or a call inside [...] or after offset
        q.split('[').skip(1).any(|s| {
            let inner = s.split(']').next().unwrap_or("");
            inner.contains(['+', '*', '/', '(', '%', '^']) || inner.contains(" - ")
        })
    };
    let lower = q.to_ascii_lowercase();
    dur_expr
        || lower.contains("offset (")
        || lower.contains("offset -(")
        || lower.contains("offset +(")
        || lower.contains("offset step")
        || lower.contains("fill(")
        || lower.contains("fill_left")
        || lower.contains("fill_right")
        || lower.contains(" anchored")
        || lower.contains(" smoothed")
        || lower.contains("step()")
        || lower.contains("range()")
        || lower.contains("min_of")
        || lower.contains("max_of")
        || (lower.contains("start()") && !lower.contains("@ start()"))
        || (lower.contains("end()") && !lower.contains("@ end()"))
        || q.contains("</")
        || q.contains(">/")
}

#[test]
fn upstream_test_scripts_parse() {
    let dir = shared_dir().join("promqltest/upstream");
    let mut n = 0;
    let mut skipped = 0;
    let mut failures = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "test") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for (lineno, line) in text.lines().enumerate() {
            let Some(q) = eval_query(line) else { continue };
            n += 1;
            match parse_with(q, experimental()) {
                Ok(e) => roundtrip(q, &e),
                Err(err) if out_of_scope(q) => {
                    if std::env::var_os("SHOW_SKIPPED").is_some() {
                        eprintln!("SKIP {q}: {err}");
                    }
                    skipped += 1
                }
                Err(err) => failures.push(format!(
                    "{}:{}: {q}: {err}",
                    path.file_name().unwrap().to_string_lossy(),
                    lineno + 1
                )),
            }
        }
    }
    assert!(n > 2000, "found only {n} eval lines");
    assert!(skipped < 400, "{skipped} queries skipped as out of scope");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The query of an `eval ...` line (FORMAT.md §4).
fn eval_query(line: &str) -> Option<&str> {
    let rest = [
        "eval_fail ",
        "eval_warn ",
        "eval_info ",
        "eval_ordered ",
        "eval ",
    ]
    .iter()
    .find_map(|p| line.strip_prefix(p))?;
    if let Some(r) = rest.strip_prefix("instant at ") {
        return r.split_once(' ').map(|(_, q)| q.trim());
    }
    let r = rest.strip_prefix("range from ")?;
    // <start> to <end> step <step> <expr>
    let mut it = r.splitn(6, ' ');
    let _start = it.next()?;
    it.next()?; // to
    it.next()?; // end
    it.next()?; // step
    it.next()?; // step value
    it.next().map(str::trim)
}

/// One test per error kind: the query, then Prometheus's line, column and message.
/// Expected values are Prometheus's own answers: every case was run through the
/// real Prometheus (2.42, Debian package) with
/// `shared/oracle/prom-oracle shared/oracle/example/staleness.prom -q QUERIES.jsonl`
/// and its `error` field copied here (minus the `invalid parameter "query": ` prefix).
macro_rules! parse_errors {
    ($($name:ident: $q:expr => $line:expr, $col:expr, $msg:expr;)*) => {
        mod errors {
            use promlite::promql::parse;
            $(
                #[test]
                fn $name() {
                    let e = parse($q).expect_err($q);
                    assert_eq!(
                        (e.line(), e.col(), e.message()),
                        ($line, $col, $msg),
                        "query {:?}", $q
                    );
                    assert_eq!(e.to_string(), format!("{}:{}: parse error: {}", $line, $col, $msg));
                }
            )*
        }
    };
}

parse_errors! {
    unexpected_in_label_matching_expected_string: "foo{a=}" => 1, 7, "unexpected \"}\" in label matching, expected string";
    unclosed_left_parenthesis: "sum(foo" => 1, 8, "unclosed left parenthesis";
    unexpected_right_parenthesis: "foo)" => 1, 5, "unexpected right parenthesis ')'";
    unexpected_right_parenthesis_2: "(1))" => 1, 5, "unexpected right parenthesis ')'";
    unclosed_left_parenthesis_2: "((1)" => 1, 5, "unclosed left parenthesis";
    unexpected_end_of_input_inside_braces: "foo{" => 1, 5, "unexpected end of input inside braces";
    unclosed_left_bracket: "foo[5m" => 1, 7, "unclosed left bracket";
    unexpected_right_bracket: "foo]" => 1, 4, "unexpected right bracket ']'";
    no_expression_found_in_input: "" => 1, 1, "no expression found in input";
    no_expression_found_in_input_2: "   " => 1, 1, "no expression found in input";
    no_expression_found_in_input_3: "# only comment" => 1, 1, "no expression found in input";
    unterminated_quoted_string: "\"abc" => 1, 1, "unterminated quoted string";
    unterminated_quoted_string_2: "'abc" => 1, 1, "unterminated quoted string";
    unterminated_raw_string: "`abc" => 1, 1, "unterminated raw string";
    unknown_escape_sequence_u_0064_d: "\"\\d\"" => 1, 1, "unknown escape sequence U+0064 'd'";
    bad_number_or_duration_syntax_1: "1a" => 1, 1, "bad number or duration syntax: \"1\"";
    error_parsing_number_strconv_parsefloat_parsing_1e: "1e" => 1, 1, "error parsing number: strconv.ParseFloat: parsing \"1e\": invalid syntax";
    error_parsing_number_strconv_parsefloat_parsing_0x: "0x" => 1, 1, "error parsing number: strconv.ParseFloat: parsing \"0x\": invalid syntax";
    unexpected_end_of_input_inside_braces_2: "foo{a=\"b\"" => 1, 10, "unexpected end of input inside braces";
    unexpected_identifier_c_in_label_matching_expected: "foo{a=\"b\" c=\"d\"}" => 1, 11, "unexpected identifier \"c\" in label matching, expected \",\" or \"}\"";
    unexpected_in_label_matching_expected_label_matching: "foo{a}" => 1, 6, "unexpected \"}\" in label matching, expected label matching operator";
    unexpected_in_label_matching_expected_identifier_or: "foo{=\"b\"}" => 1, 5, "unexpected \"=\" in label matching, expected identifier or \"}\"";
    unexpected_character_after_inside_braces_b: "foo{a!b}" => 1, 6, "unexpected character after '!' inside braces: 'b'";
    metric_name_must_not_be_set_twice: "foo{__name__=\"bar\"}" => 1, 1, "metric name must not be set twice: \"foo\" or \"bar\"";
    vector_selector_must_contain_at_least_one: "{a=\"\"}" => 1, 1, "vector selector must contain at least one non-empty matcher";
    vector_selector_must_contain_at_least_one_2: "{__name__=~\".*\"}" => 1, 1, "vector selector must contain at least one non-empty matcher";
    vector_selector_must_contain_at_least_one_3: "{}" => 1, 1, "vector selector must contain at least one non-empty matcher";
    ranges_only_allowed_for_vector_selectors: "foo[5m][5m]" => 1, 8, "ranges only allowed for vector selectors";
    duration_must_be_greater_than_0: "foo[0s]" => 1, 5, "duration must be greater than 0";
    duration_must_be_greater_than_0_2: "foo[5m:0s]" => 1, 8, "duration must be greater than 0";
    ranges_only_allowed_for_vector_selectors_2: "(foo)[5m]" => 1, 6, "ranges only allowed for vector selectors";
    ranges_only_allowed_for_vector_selectors_3: "sum(foo)[5m]" => 1, 9, "ranges only allowed for vector selectors";
    no_offset_modifiers_allowed_before_range: "foo offset 5m[5m]" => 1, 14, "no offset modifiers allowed before range";
    no_modifiers_allowed_before_range: "foo @ 10 [5m]" => 1, 10, "no @ modifiers allowed before range";
    offset_may_not_be_set_multiple_times: "foo offset 5m offset 1m" => 1, 1, "offset may not be set multiple times";
    timestamp_may_not_be_set_multiple_times: "foo @ 1 @ 2" => 1, 1, "@ <timestamp> may not be set multiple times";
    offset_modifier_must_be_preceded_by_an: "sum(foo) offset 5m" => 1, 1, "offset modifier must be preceded by an instant vector selector or range vector selector or a subquery";
    modifier_must_be_preceded_by_an_instant: "sum(foo) @ 5" => 1, 1, "@ modifier must be preceded by an instant vector selector or range vector selector or a subquery";
    timestamp_out_of_bounds_for_modifier_inf: "foo @ +Inf" => 1, 1, "timestamp out of bounds for @ modifier: +Inf";
    timestamp_out_of_bounds_for_modifier_nan: "foo @ NaN" => 1, 1, "timestamp out of bounds for @ modifier: NaN";
    expected_type_range_vector_in_call_to: "rate(foo)" => 1, 6, "expected type range vector in call to function \"rate\", got instant vector";
    expected_1_argument_s_in_call_to: "rate(foo[5m], 1)" => 1, 1, "expected 1 argument(s) in call to \"rate\", got 2";
    unknown_function_with_name_rate: "RATE(foo[5m])" => 1, 1, "unknown function with name \"RATE\"";
    unknown_function_with_name_nosuchfn: "nosuchfn(foo)" => 1, 1, "unknown function with name \"nosuchfn\"";
    expected_at_least_1_argument_s_in: "round()" => 1, 1, "expected at least 1 argument(s) in call to \"round\", got 0";
    expected_at_least_3_argument_s_in: "label_join(foo)" => 1, 1, "expected at least 3 argument(s) in call to \"label_join\", got 1";
    expected_at_most_1_argument_s_in: "hour(1,2)" => 1, 1, "expected at most 1 argument(s) in call to \"hour\", got 2";
    expected_type_scalar_in_call_to_function: "histogram_quantile(\"a\", foo)" => 1, 20, "expected type scalar in call to function \"histogram_quantile\", got string";
    expected_type_instant_vector_in_call_to: "abs(foo[5m])" => 1, 5, "expected type instant vector in call to function \"abs\", got range vector";
    expected_type_instant_vector_in_aggregation_expression: "sum(1)" => 1, 5, "expected type instant vector in aggregation expression, got scalar";
    wrong_number_of_arguments_for_aggregate_expression: "topk(foo)" => 1, 1, "wrong number of arguments for aggregate expression provided, expected 2, got 1";
    expected_type_scalar_in_aggregation_parameter_got: "topk(\"a\", foo)" => 1, 6, "expected type scalar in aggregation parameter, got string";
    expected_type_string_in_aggregation_parameter_got: "count_values(1, foo)" => 1, 14, "expected type string in aggregation parameter, got scalar";
    wrong_number_of_arguments_for_aggregate_expression_2: "sum(foo, bar)" => 1, 1, "wrong number of arguments for aggregate expression provided, expected 1, got 2";
    wrong_number_of_arguments_for_aggregate_expression_3: "quantile(foo)" => 1, 1, "wrong number of arguments for aggregate expression provided, expected 2, got 1";
    unexpected_metric_identifier_a_b_in_grouping: "sum by (a:b) (foo)" => 1, 9, "unexpected metric identifier \"a:b\" in grouping opts, expected label";
    unclosed_left_parenthesis_3: "sum by (a" => 1, 10, "unclosed left parenthesis";
    trailing_commas_not_allowed_in_function_call: "sum(rate(x[5m]),)" => 1, 16, "trailing commas not allowed in function call args";
    trailing_commas_not_allowed_in_function_call_2: "rate(x[5m],)" => 1, 11, "trailing commas not allowed in function call args";
    comparisons_between_scalars_must_use_bool_modifier: "1 == 1" => 1, 3, "comparisons between scalars must use BOOL modifier";
    set_operator_and_not_allowed_in_binary: "1 and 1" => 1, 1, "set operator \"and\" not allowed in binary scalar expression";
    set_operator_and_not_allowed_in_binary_2: "foo and 1" => 1, 1, "set operator \"and\" not allowed in binary scalar expression";
    set_operator_or_not_allowed_in_binary: "1 or foo" => 1, 1, "set operator \"or\" not allowed in binary scalar expression";
    bool_modifier_can_only_be_used_on: "foo + bool bar" => 1, 5, "bool modifier can only be used on comparison operators";
    bool_modifier_can_only_be_used_on_2: "foo and bool 10" => 1, 5, "bool modifier can only be used on comparison operators";
    vector_matching_only_allowed_between_instant_vectors: "1 + on(a) foo" => 1, 1, "vector matching only allowed between instant vectors";
    vector_matching_only_allowed_between_instant_vectors_2: "foo == on(bar) 10" => 1, 1, "vector matching only allowed between instant vectors";
    unexpected_group_left: "foo + group_left(baz) bar" => 1, 7, "unexpected <group_left>";
    no_grouping_allowed_for_and_operation: "foo and on(bar) group_left(baz) bar" => 1, 1, "no grouping allowed for \"and\" operation";
    label_a_must_not_occur_in_on: "foo + on(a) group_left(a) bar" => 1, 5, "label \"a\" must not occur in ON and GROUP clause at once";
    binary_expression_must_contain_only_scalar_and: "foo[5m] + 1" => 1, 1, "binary expression must contain only scalar and instant vector types";
    binary_expression_must_contain_only_scalar_and_2: "\"a\" + 1" => 1, 1, "binary expression must contain only scalar and instant vector types";
    unary_expression_only_allowed_on_expressions_of: "-foo[5m]" => 1, 1, "unary expression only allowed on expressions of type scalar or instant vector, got \"range vector\"";
    unary_expression_only_allowed_on_expressions_of_2: "-\"a\"" => 1, 1, "unary expression only allowed on expressions of type scalar or instant vector, got \"string\"";
    subquery_is_only_allowed_on_instant_vector: "foo[5m:1m][5m:]" => 1, 1, "subquery is only allowed on instant vector, got matrix instead";
    subquery_is_only_allowed_on_instant_vector_2: "\"a\"[5m:]" => 1, 1, "subquery is only allowed on instant vector, got string instead";
    subquery_is_only_allowed_on_instant_vector_3: "1[5m:]" => 1, 1, "subquery is only allowed on instant vector, got scalar instead";
    unexpected_end_of_input_in_offset_expected: "foo offset" => 1, 11, "unexpected end of input in offset, expected duration";
    unexpected_end_of_input_in_expected_timestamp: "foo @" => 1, 6, "unexpected end of input in @, expected timestamp";
    unclosed_left_parenthesis_4: "foo @ start(" => 1, 13, "unclosed left parenthesis";
    unexpected_end_of_input_in_grouping_opts: "sum by" => 1, 7, "unexpected end of input in grouping opts, expected \"(\"";
    unexpected_by_in_aggregation: "sum without (a) by (b) (foo)" => 1, 17, "unexpected <by> in aggregation";
    unexpected_end_of_input: "+" => 1, 2, "unexpected end of input";
    unexpected_end_of_input_2: "1 +" => 1, 4, "unexpected end of input";
    unexpected_op: "* 1" => 1, 1, "unexpected <op:*>";
    unexpected_identifier_bar: "foo bar" => 1, 5, "unexpected identifier \"bar\"";
    unexpected: "foo{a=\"b\"}{c=\"d\"}" => 1, 11, "unexpected \"{\"";
    unexpected_in_label_matching_expected_identifier_or_2: "foo{a=\"b\",,}" => 1, 11, "unexpected \",\" in label matching, expected identifier or \"}\"";
    timestamp_out_of_bounds_for_modifier_100000000000000000000: "foo @ 1e20" => 1, 1, "timestamp out of bounds for @ modifier: 100000000000000000000.000000";
    unexpected_in_label_matching_expected_string_2: "foo\n  + bar{a=}" => 2, 11, "unexpected \"}\" in label matching, expected string";
    unclosed_left_parenthesis_5: "sum(\nfoo\n" => 3, 1, "unclosed left parenthesis";
    illegal_character_u_005a_z_in_escape: "foo{a=\"\\xZZ\"}" => 1, 7, "illegal character U+005A 'Z' in escape sequence";
    escape_sequence_is_an_invalid_unicode_code: "foo{a=\"\\777\"}" => 1, 7, "escape sequence is an invalid Unicode code point";
    escape_sequence_is_an_invalid_unicode_code_2: "\"\\ud800\"" => 1, 1, "escape sequence is an invalid Unicode code point";
    unterminated_quoted_string_3: "foo{a=\"b\nc\"}" => 1, 7, "unterminated quoted string";
    not_a_valid_duration_string_1_5h: "foo[1.5h]" => 1, 5, "not a valid duration string: \"1.5h\"";
    unexpected_end_of_input_in_offset_expected_2: "foo offset -" => 1, 13, "unexpected end of input in offset, expected duration";
    unexpected_end_of_input_3: "1 ^" => 1, 4, "unexpected end of input";
    expected_0_argument_s_in_call_to: "time(1)" => 1, 1, "expected 0 argument(s) in call to \"time\", got 1";
    expected_type_scalar_in_call_to_function_2: "vector(\"a\")" => 1, 8, "expected type scalar in call to function \"vector\", got string";
    expected_type_instant_vector_in_call_to_2: "scalar(foo[5m])" => 1, 8, "expected type instant vector in call to function \"scalar\", got range vector";
    expected_type_instant_vector_in_call_to_3: "absent(1)" => 1, 8, "expected type instant vector in call to function \"absent\", got scalar";
    unexpected_end_of_input_4: "foo > bool" => 1, 11, "unexpected end of input";
    unexpected_bool: "foo == bool bool" => 1, 13, "unexpected <bool>";
    unexpected_2: "a:b(foo)" => 1, 4, "unexpected \"(\"";
    unexpected_character_inside_braces: "foo{a:b=\"c\"}" => 1, 6, "unexpected character inside braces: ':'";
    unexpected_character: "$" => 1, 1, "unexpected character: '$'";
    unexpected_character_after: "foo ! bar" => 1, 5, "unexpected character after '!': ' '";
    unexpected_character_after_2: "foo =~ bar" => 1, 5, "unexpected character after '=': '~'";
    unexpected_duration_5m: "offset 5m" => 1, 8, "unexpected duration \"5m\"";
    unexpected_by: "sum(x) by (a) by (b)" => 1, 15, "unexpected <by>";
    offset_may_not_be_set_multiple_times_2: "foo[5m] offset 1m offset 2m" => 1, 1, "offset may not be set multiple times";
    unclosed_left_bracket_2: "foo[5m:1m" => 1, 10, "unclosed left bracket";
    unexpected_ignoring: "ignoring" => 1, 1, "unexpected <ignoring>";
    unexpected_identifier_bar_in_grouping_opts_expected: "foo + ignoring bar" => 1, 16, "unexpected identifier \"bar\" in grouping opts, expected \"(\"";
    unexpected_identifier_bar_in_grouping_opts_expected_2: "foo + on bar" => 1, 10, "unexpected identifier \"bar\" in grouping opts, expected \"(\"";
    unexpected_identifier_bar_in_grouping_opts_expected_3: "foo + on(a) group_left(b bar" => 1, 26, "unexpected identifier \"bar\" in grouping opts, expected \",\" or \")\"";
    unexpected_colon: "foo[5m:1m:1m]" => 1, 10, "unexpected colon ':'";
    unexpected_character_right_brace: "foo}" => 1, 4, "unexpected character: '}'";
    duration_out_of_range: "foo[1000000000y]" => 1, 5, "duration out of range";
}

/// Random ASTs, printed and parsed back.
///
/// The generator builds well-typed ASTs directly (not text), driven by a "choice
/// tape" of random numbers so that proptest's shrinking of the tape towards zeros
/// shrinks the AST towards leaves. Parentheses are inserted where precedence
/// requires them, exactly as a user would have to write them; the property is
/// that `parse(print(ast)) == ast` (ignoring spans) and that printing is stable.
mod roundtrip {
    use promlite::model::{MatchOp, Matcher};
    use promlite::promql::*;
    use proptest::prelude::*;

    struct Tape<'a> {
        v: &'a [u32],
        i: usize,
    }

    impl Tape<'_> {
        /// A choice in `0..n`; 0 once the tape is exhausted.
        fn pick(&mut self, n: usize) -> usize {
            let x = self.v.get(self.i).copied().unwrap_or(0);
            self.i += 1;
            x as usize % n.max(1)
        }
        fn one_of<'b, T>(&mut self, xs: &'b [T]) -> &'b T {
            &xs[self.pick(xs.len())]
        }
        fn coin(&mut self) -> bool {
            self.pick(2) == 1
        }
    }

    fn e(kind: ExprKind) -> Expr {
        Expr::new(kind, Span::default())
    }

    fn paren(x: Expr) -> Expr {
        e(ExprKind::Paren(Box::new(x)))
    }

    const METRICS: &[&str] = &[
        "foo",
        "bar_total",
        "a:b:rate5m",
        "sum",
        "by",
        "bool",
        "on",
        "inf",
        "NaN",
        "my.metric",
        "offset",
        "ünïcode",
        "with space",
        "x\"y",
    ];
    const LABELS: &[&str] = &[
        "job",
        "le",
        "by",
        "and",
        "without",
        "inf",
        "a.b",
        "ü",
        "__name__x",
        "_x1",
        "group_left",
    ];
    const VALUES: &[&str] = &[
        "",
        "x",
        "kube-controller-manager",
        "a\"b",
        "back\\slash",
        "new\nline",
        "tab\t",
        "é✓",
        "\u{7f}ctl",
        "`tick`",
        "'q'",
    ];
    const REGEXES: &[&str] = &[".*", ".+", "a|b", "2..", "\\d+", "[a-z]+", "(?i)x"];

    fn matcher(t: &mut Tape) -> Matcher {
        let op = *t.one_of(&[
            MatchOp::Equal,
            MatchOp::NotEqual,
            MatchOp::RegexMatch,
            MatchOp::RegexNoMatch,
        ]);
        let name = *t.one_of(LABELS);
        let value = match op {
            MatchOp::Equal | MatchOp::NotEqual => *t.one_of(VALUES),
            _ => *t.one_of(REGEXES),
        };
        Matcher::new(op, name, value).unwrap()
    }

    fn duration(t: &mut Tape) -> i64 {
        *t.one_of(&[
            1,
            999,
            1000,
            60_000,
            300_000,
            5_400_000,
            86_400_000,
            604_800_000,
            31_536_000_000,
            90_061_001,
        ]) * (1 + t.pick(3) as i64)
    }

    fn at(t: &mut Tape) -> Option<AtModifier> {
        match t.pick(5) {
            0 | 1 => None,
            2 => Some(AtModifier::Start),
            3 => Some(AtModifier::End),
            _ => {
                let ms = *t.one_of(&[0i64, 1, -1, 1_700_000_000_123, -100_000, 3_333, 1 << 40]);
                Some(AtModifier::Timestamp(ms))
            }
        }
    }

    fn offset(t: &mut Tape) -> i64 {
        match t.pick(3) {
            0 => 0,
            1 => duration(t),
            _ => -duration(t),
        }
    }

    fn selector(t: &mut Tape, modifiers: bool) -> VectorSelector {
        let name = if t.pick(4) == 0 {
            None
        } else {
            Some(t.one_of(METRICS).to_string())
        };
        let mut matchers: Vec<Matcher> = (0..t.pick(4)).map(|_| matcher(t)).collect();
        if name.is_none() {
            // At least one matcher that does not match the empty string.
            matchers.push(Matcher::new(MatchOp::Equal, "job", "api").unwrap());
        } else {
            matchers.push(Matcher::new(MatchOp::Equal, "__name__", name.clone().unwrap()).unwrap());
        }
        let (offset, at) = if modifiers {
            (offset(t), at(t))
        } else {
            (0, None)
        };
        VectorSelector {
            name,
            matchers,
            offset,
            at,
        }
    }

    fn number(t: &mut Tape) -> Expr {
        let v = *t.one_of(&[
            0.0,
            1.0,
            0.5,
            42.0,
            1e300,
            5e-324,
            1.0 / 3.0,
            f64::INFINITY,
            f64::NAN,
            -2.5,
            -0.0,
            493.0,
        ]);
        e(ExprKind::NumberLiteral(v))
    }

    fn needs_parens_left(op: BinaryOp, l: &Expr) -> bool {
        match &l.kind {
            ExprKind::Binary(b) => {
                b.op.precedence() < op.precedence()
                    || (b.op.precedence() == op.precedence() && op.is_right_associative())
            }
            ExprKind::Unary(_) => op == BinaryOp::Pow,
            ExprKind::NumberLiteral(v) => {
                op == BinaryOp::Pow && v.is_sign_negative() && !v.is_nan()
            }
            _ => false,
        }
    }

    fn needs_parens_right(op: BinaryOp, r: &Expr) -> bool {
        match &r.kind {
            ExprKind::Binary(b) => {
                b.op.precedence() < op.precedence()
                    || (b.op.precedence() == op.precedence() && !op.is_right_associative())
            }
            _ => false,
        }
    }

    fn labels(t: &mut Tape) -> Vec<String> {
        (0..t.pick(3))
            .map(|_| t.one_of(LABELS).to_string())
            .collect()
    }

    fn binary(t: &mut Tape, depth: u32, want: ValueType) -> Expr {
        let (lt, rt) = match want {
            ValueType::Scalar => (ValueType::Scalar, ValueType::Scalar),
            _ => *t.one_of(&[
                (ValueType::Vector, ValueType::Vector),
                (ValueType::Vector, ValueType::Scalar),
                (ValueType::Scalar, ValueType::Vector),
            ]),
        };
        let both_vec = lt == ValueType::Vector && rt == ValueType::Vector;
        let ops: &[BinaryOp] = if both_vec {
            &[
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
            ]
        } else {
            &[
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
            ]
        };
        let op = *t.one_of(ops);
        let return_bool = op.is_comparison() && (want == ValueType::Scalar || t.coin());
        let mut l = expr(t, depth - 1, lt);
        let mut r = expr(t, depth - 1, rt);
        if needs_parens_left(op, &l) {
            l = paren(l);
        }
        if needs_parens_right(op, &r) {
            r = paren(r);
        }
        let matching = both_vec.then(|| {
            let mut vm = VectorMatching {
                card: if op.is_set_operator() {
                    VectorMatchCardinality::ManyToMany
                } else {
                    VectorMatchCardinality::OneToOne
                },
                matching_labels: Vec::new(),
                on: false,
                include: Vec::new(),
            };
            if t.coin() {
                vm.on = t.coin();
                vm.matching_labels = labels(t);
                if !op.is_set_operator() && t.coin() {
                    vm.card = *t.one_of(&[
                        VectorMatchCardinality::ManyToOne,
                        VectorMatchCardinality::OneToMany,
                    ]);
                    vm.include = labels(t);
                    if vm.on {
                        let on = vm.matching_labels.clone();
                        vm.include.retain(|l| !on.contains(l));
                    }
                }
            }
            vm
        });
        e(ExprKind::Binary(BinaryExpr {
            op,
            lhs: Box::new(l),
            rhs: Box::new(r),
            return_bool,
            matching,
        }))
    }

    fn call(t: &mut Tape, depth: u32, want: ValueType) -> Option<Expr> {
        let candidates: Vec<&'static Function> = FUNCTIONS
            .iter()
            .filter(|f| f.return_type == want && !f.experimental)
            .collect();
        if candidates.is_empty() {
            return None;
        }
        let func = *t.one_of(&candidates);
        let max = func.max_args().unwrap_or(func.min_args() + 2);
        let n = func.min_args() + t.pick(max - func.min_args() + 1);
        let args = (0..n)
            .map(|i| expr(t, depth - 1, func.arg_type(i).unwrap()))
            .collect();
        Some(e(ExprKind::Call(Call { func, args })))
    }

    fn expr(t: &mut Tape, depth: u32, want: ValueType) -> Expr {
        let leaf = depth == 0 || t.pick(3) == 0;
        match want {
            ValueType::String => e(ExprKind::StringLiteral(t.one_of(VALUES).to_string())),
            ValueType::Scalar => {
                if leaf {
                    return number(t);
                }
                match t.pick(4) {
                    0 => binary(t, depth, ValueType::Scalar),
                    1 => paren(expr(t, depth - 1, ValueType::Scalar)),
                    2 => call(t, depth, ValueType::Scalar).unwrap_or_else(|| number(t)),
                    _ => {
                        let inner = expr(t, depth - 1, ValueType::Scalar);
                        unary(t, inner)
                    }
                }
            }
            ValueType::Matrix => {
                if leaf || t.coin() {
                    let mut selector = selector(t, false);
                    let range = duration(t);
                    selector.offset = offset(t);
                    selector.at = at(t);
                    return e(ExprKind::MatrixSelector(MatrixSelector { selector, range }));
                }
                let mut inner = expr(t, depth - 1, ValueType::Vector);
                if !matches!(
                    inner.kind,
                    ExprKind::VectorSelector(_)
                        | ExprKind::Call(_)
                        | ExprKind::Aggregate(_)
                        | ExprKind::Paren(_)
                ) {
                    inner = paren(inner);
                }
                let range = duration(t);
                let step = t.coin().then(|| duration(t));
                e(ExprKind::Subquery(SubqueryExpr {
                    expr: Box::new(inner),
                    range,
                    step,
                    offset: offset(t),
                    at: at(t),
                }))
            }
            ValueType::Vector => {
                if leaf {
                    return e(ExprKind::VectorSelector(selector(t, true)));
                }
                match t.pick(5) {
                    0 => binary(t, depth, ValueType::Vector),
                    1 => call(t, depth, ValueType::Vector).unwrap(),
                    2 => {
                        let op = *t.one_of(
                            &AggregateOp::ALL
                                .iter()
                                .copied()
                                .filter(|o| !o.is_experimental())
                                .collect::<Vec<_>>(),
                        );
                        let param = op.param_type().map(|pt| Box::new(expr(t, depth - 1, pt)));
                        let inner = expr(t, depth - 1, ValueType::Vector);
                        let without = t.coin();
                        let grouping = labels(t);
                        e(ExprKind::Aggregate(AggregateExpr {
                            op,
                            expr: Box::new(inner),
                            param,
                            grouping,
                            without,
                        }))
                    }
                    3 => paren(expr(t, depth - 1, ValueType::Vector)),
                    _ => {
                        let inner = expr(t, depth - 1, ValueType::Vector);
                        unary(t, inner)
                    }
                }
            }
        }
    }

    fn unary(t: &mut Tape, inner: Expr) -> Expr {
        let op = *t.one_of(&[UnaryOp::Neg, UnaryOp::Pos]);
        let inner = match &inner.kind {
            ExprKind::NumberLiteral(_) => paren(inner),
            ExprKind::Binary(b) if b.op != BinaryOp::Pow => paren(inner),
            _ => inner,
        };
        e(ExprKind::Unary(UnaryExpr {
            op,
            expr: Box::new(inner),
        }))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn print_then_parse_gives_the_same_ast(tape in prop::collection::vec(any::<u32>(), 0..200), want in 0..3usize) {
            let mut t = Tape { v: &tape, i: 0 };
            let want = [ValueType::Vector, ValueType::Scalar, ValueType::Matrix][want];
            let ast = expr(&mut t, 6, want);
            let printed = ast.to_string();
            let opts = ParseOptions::default().with_experimental_functions(true);
            let parsed = parse_with(&printed, opts);
            prop_assert!(parsed.is_ok(), "{printed:?} does not parse: {}", parsed.unwrap_err());
            let parsed = parsed.unwrap();
            prop_assert!(parsed.eq_ignoring_spans(&ast), "{printed:?} parsed to {parsed:?}\nexpected {ast:?}");
            prop_assert_eq!(parsed.to_string(), printed);
            prop_assert_eq!(parsed.value_type(), ast.value_type());
        }
    }
}

#[test]
fn render_puts_a_caret_under_the_error() {
    let q = "sum(rate(foo{job=}[5m]))";
    let e = parse(q).unwrap_err();
    // Prometheus: 1:18: unexpected "}" in label matching, expected string
    assert_eq!((e.line(), e.col()), (1, 18));
    assert_eq!(
        e.render(q),
        "sum(rate(foo{job=}[5m]))\n                 ^\n1:18: parse error: unexpected \"}\" in label matching, expected string"
    );
    // Multi-line: only the offending line is shown; tabs are kept for alignment.
    let q = "sum(\n\tfoo{a=})";
    let e = parse(q).unwrap_err();
    assert_eq!((e.line(), e.col()), (2, 8));
    assert_eq!(
        e.render(q),
        "\tfoo{a=})\n\t      ^\n2:8: parse error: unexpected \"}\" in label matching, expected string"
    );
}

#[test]
fn nesting_limits_give_errors() {
    let q = format!("{}foo{}", "(".repeat(10_000), ")".repeat(10_000));
    let e = parse(&q).unwrap_err();
    assert!(
        e.message().starts_with("expression nesting too deep"),
        "{e}"
    );
    let q = format!("foo{}", " + foo".repeat(10_000));
    let e = parse(&q).unwrap_err();
    assert!(
        e.message().starts_with("expression nesting too deep"),
        "{e}"
    );
    let q = "-".repeat(10_000) + "foo";
    assert!(parse(&q)
        .unwrap_err()
        .message()
        .starts_with("expression nesting too deep"));
}
