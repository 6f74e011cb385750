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
    assert_eq!(again.to_string(), printed, "printing is not stable for {q:?}");
}

fn experimental() -> ParseOptions {
    ParseOptions {
        enable_experimental_functions: true,
    }
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
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

/// The query of an `eval ...` line (FORMAT.md §4).
fn eval_query(line: &str) -> Option<&str> {
    let rest = ["eval_fail ", "eval_warn ", "eval_info ", "eval_ordered ", "eval "]
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
