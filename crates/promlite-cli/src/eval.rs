//! `promlite eval`: evaluates PromQL over data files, speaking prom-oracle's protocol
//! (`shared/oracle/README.md`) so that our answers and Prometheus's diff line by line.
//!
//! ```text
//! promlite eval --data FILE... --batch QUERIES.jsonl [-o OUT]
//! promlite eval --data FILE... --at T 'EXPR'
//! promlite eval --data FILE... --start T --end T --step D 'EXPR'
//! ```
//!
//! Query lines are JSON objects with `expr` and either `time` or `start`/`end`/`step`
//! (times: unix seconds as number or string, or RFC 3339; step: seconds or a duration
//! like `"1m"`); every other key is echoed back inside `"query"`. Each answer is one
//! JSON line: `{"query": {...}, "status": "success", "data": {...}}` or
//! `{"query": {...}, "status": "error", "errorType": "...", "error": "..."}`, with
//! result series sorted by label set unless the expression uses sort, sort_desc, topk
//! or bottomk. Exit status: 0 when every query ran (even if some failed) in batch
//! mode; 1 when the single ad-hoc query failed; 2 on bad input.

pub mod data;
pub mod engine;

use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::sync::OnceLock;

use promlite::params;
use promlite_model::{format_value, Labels, Queryable};
use serde_json::{json, Map, Number, Value};

use crate::test_cmd::promqltest::run::strip_strings;
use engine::{QError, QOutcome, QValue, Settings};

const HELP: &str = "\
usage: promlite eval --data FILE... [--data-at T] (--batch QUERIES.jsonl | --at T EXPR | --start T --end T --step D EXPR)

Evaluates PromQL over sample files, one JSON answer per query as Prometheus's HTTP API gives it.
  --data FILE...          data files: OpenMetrics (ends with '# EOF', timestamps in seconds)
                          or text format 0.0.4 (timestamps in ms); value 'stale' = staleness marker.
                          An expression right after the files is the last argument, not a file
  --data-at T             read samples without a timestamp (a saved /metrics page) as one
                          scrape at T (unix seconds or RFC 3339); without it they are an error
  --batch FILE            JSON-lines queries ('-' = stdin), one JSON answer per line
  --at T, --time T        instant query at T (unix seconds or RFC 3339)
  --start T --end T --step D   range query (D: seconds or a duration such as 1m)
  -o, --output FILE       write answers there instead of stdout
  --lookback-delta D      lookback delta (default 5m)
  --delayed-name-removal  Prometheus's promql-delayed-name-removal feature (default off)
  --experimental          accept experimental functions (promql-experimental-functions)
  --order auto|labels|keep  result order (auto: by labels unless sort/sort_desc/topk/bottomk)";

/// Result order of an answer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Order {
    /// By labels unless the query orders (sort, topk, ...).
    Auto,
    Labels,
    Keep,
}

/// Runs the subcommand with the arguments after its name.
pub fn run(args: &[String]) -> ExitCode {
    match run_inner(args) {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("promlite eval: {msg}");
            ExitCode::from(2)
        }
    }
}

fn run_inner(args: &[String]) -> Result<ExitCode, String> {
    use lexopt::Arg::{Long, Short, Value as Positional};
    let mut p = lexopt::Parser::from_args(args.iter().cloned());
    let mut data: Vec<String> = Vec::new();
    let mut data_at: Option<i64> = None;
    let mut batch: Option<String> = None;
    let mut at: Option<String> = None;
    let (mut start, mut end, mut step) = (None, None, None);
    let mut output: Option<String> = None;
    let mut expr: Option<String> = None;
    let mut settings = Settings::default();
    let mut order = Order::Auto;
    let s = |v: std::ffi::OsString| {
        v.into_string()
            .map_err(|_| "argument is not UTF-8".to_string())
    };
    while let Some(arg) = p.next().map_err(|e| e.to_string())? {
        match arg {
            Long("data") => {
                for v in p.values().map_err(|e| e.to_string())? {
                    data.push(s(v)?);
                }
            }
            Long("data-at") => {
                let v = s(p.value().map_err(|e| e.to_string())?)?;
                data_at =
                    Some(params::parse_time_ms(&v).map_err(|e| format!("bad --data-at: {e}"))?);
            }
            Long("batch") | Short('q') | Long("queries") => {
                batch = Some(s(p.value().map_err(|e| e.to_string())?)?)
            }
            Long("at") | Long("time") => at = Some(s(p.value().map_err(|e| e.to_string())?)?),
            Long("start") => start = Some(s(p.value().map_err(|e| e.to_string())?)?),
            Long("end") => end = Some(s(p.value().map_err(|e| e.to_string())?)?),
            Long("step") => step = Some(s(p.value().map_err(|e| e.to_string())?)?),
            Short('o') | Long("output") => {
                output = Some(s(p.value().map_err(|e| e.to_string())?)?)
            }
            Short('e') | Long("expr") => expr = Some(s(p.value().map_err(|e| e.to_string())?)?),
            Long("lookback-delta") => {
                let v = s(p.value().map_err(|e| e.to_string())?)?;
                settings.lookback_ms = parse_step_ms(&Value::String(v.clone()))
                    .ok_or_else(|| format!("bad --lookback-delta {v:?}"))?;
            }
            Long("delayed-name-removal") => settings.delayed_name_removal = true,
            Long("experimental") => settings.experimental = true,
            Long("order") => {
                order = match s(p.value().map_err(|e| e.to_string())?)?.as_str() {
                    "auto" => Order::Auto,
                    "labels" => Order::Labels,
                    "keep" => Order::Keep,
                    o => return Err(format!("bad --order {o:?}")),
                }
            }
            Short('h') | Long("help") => {
                println!("{HELP}");
                return Ok(ExitCode::SUCCESS);
            }
            Positional(v) if expr.is_none() => expr = Some(s(v)?),
            other => return Err(format!("{}\n{HELP}", other.unexpected())),
        }
    }
    // `--data FILE...` takes every value up to the next flag; an ad-hoc
    // expression written after the files is the last of them.
    if expr.is_none() && batch.is_none() && data.len() >= 2 {
        expr = data.pop();
    }
    if data.is_empty() {
        return Err(format!("no data files given (--data FILE...)\n{HELP}"));
    }
    let adhoc = match (&batch, &expr) {
        (Some(_), Some(_)) => return Err("give either --batch or an expression, not both".into()),
        (None, None) => {
            return Err(format!(
                "no queries: give --batch FILE or an expression\n{HELP}"
            ))
        }
        (None, Some(e)) => {
            let mut q = Map::new();
            q.insert("expr".into(), Value::String(e.clone()));
            if let Some(t) = &at {
                q.insert("time".into(), cli_num(t));
            } else if let (Some(a), Some(b), Some(c)) = (&start, &end, &step) {
                q.insert("start".into(), cli_num(a));
                q.insert("end".into(), cli_num(b));
                q.insert("step".into(), cli_num(c));
            } else {
                return Err("an expression needs --at T, or --start, --end and --step".into());
            }
            Some(Value::Object(q))
        }
        (Some(_), None) => None,
    };
    let storage = data::load_files_at(&data, data_at).map_err(|e| e.to_string())?;
    let queries: Vec<Value> = match (&adhoc, &batch) {
        (Some(q), _) => vec![q.clone()],
        (None, Some(path)) => read_queries(path)?,
        (None, None) => Vec::new(),
    };
    let mut out: Box<dyn Write> = match &output {
        Some(p) if p != "-" => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).map_err(|e| format!("{p}: {e}"))?,
        )),
        _ => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let mut failed_adhoc = false;
    for q in &queries {
        let (rec, err) = answer(&settings, &storage, q, order);
        if adhoc.is_some() && rec.get("status").and_then(Value::as_str) == Some("error") {
            match &err {
                Some(e) => {
                    let expr = q.get("expr").and_then(Value::as_str).unwrap_or("");
                    eprint!("{}", e.render_with_caret(expr));
                }
                // A bad parameter (such as the time): the answer's message.
                None => eprintln!(
                    "promlite eval: {}",
                    rec.get("error").and_then(Value::as_str).unwrap_or("error")
                ),
            }
            failed_adhoc = true;
        }
        let line = serde_json::to_string(&rec).map_err(|e| e.to_string())?;
        writeln!(out, "{line}").map_err(|e| e.to_string())?;
    }
    out.flush().map_err(|e| e.to_string())?;
    Ok(if failed_adhoc {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// A CLI time argument: a number when it looks like one, else the string.
fn cli_num(v: &str) -> Value {
    if let Ok(i) = v.parse::<i64>() {
        return json!(i);
    }
    if let Ok(f) = v.parse::<f64>() {
        if let Some(n) = Number::from_f64(f) {
            return Value::Number(n);
        }
    }
    Value::String(v.to_string())
}

fn read_queries(path: &str) -> Result<Vec<Value>, String> {
    let reader: Box<dyn BufRead> = if path == "-" {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(path).map_err(|e| format!("{path}: {e}"))?,
        ))
    };
    let mut out = Vec::new();
    // Each line stands alone: one that is not UTF-8 or not JSON is answered with
    // an error record, and the batch goes on.
    for (i, line) in reader.split(b'\n').enumerate() {
        let line = line.map_err(|e| format!("{path}: {e}"))?;
        let line = match std::str::from_utf8(&line) {
            Ok(l) => l,
            Err(e) => {
                out.push(json!({
                    "_invalid_line": i + 1,
                    "_error": format!("line {}: not UTF-8 (byte {})", i + 1, e.valid_up_to() + 1),
                }));
                continue;
            }
        };
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        match serde_json::from_str::<Value>(t) {
            Ok(v) => out.push(v),
            Err(e) => out.push(json!({
                "_invalid_line": i + 1,
                "_text": t.chars().take(500).collect::<String>(),
                "_error": e.to_string(),
            })),
        }
    }
    Ok(out)
}

fn error_record(q: &Value, error_type: &str, msg: &str) -> Value {
    let mut m = Map::new();
    m.insert("query".into(), q.clone());
    m.insert("status".into(), json!("error"));
    m.insert("errorType".into(), json!(error_type));
    m.insert("error".into(), json!(msg));
    Value::Object(m)
}

/// Answers one query record; also returns the engine error, if any, for the caret.
pub(crate) fn answer(
    settings: &Settings,
    db: &dyn Queryable,
    q: &Value,
    order: Order,
) -> (Value, Option<QError>) {
    if let Some(e) = q.get("_error").and_then(Value::as_str) {
        if q.get("_invalid_line").is_some() {
            return (
                error_record(q, "oracle_input", &format!("invalid JSON: {e}")),
                None,
            );
        }
    }
    let Some(expr) = q
        .as_object()
        .and_then(|o| o.get("expr"))
        .and_then(Value::as_str)
    else {
        return (
            error_record(
                q,
                "oracle_input",
                "query must be an object with a string \"expr\"",
            ),
            None,
        );
    };
    // "timeout" is passed on, as prom-oracle passes it to the API.
    let mut settings = *settings;
    if let Some(to) = q.get("timeout") {
        match parse_step_ms(to) {
            Some(ms) if ms > 0 => {
                settings.timeout = Some(std::time::Duration::from_millis(ms.unsigned_abs()))
            }
            _ => {
                return (
                    error_record(
                        q,
                        "bad_data",
                        &format!(
                            "invalid parameter \"timeout\": cannot parse {} to a valid duration",
                            quote_param(to)
                        ),
                    ),
                    None,
                )
            }
        }
    }
    let settings = &settings;
    let res = if let Some(t) = q.get("time") {
        let Some(t) = parse_time_ms(t) else {
            return (
                error_record(
                    q,
                    "bad_data",
                    &format!(
                        "invalid parameter \"time\": cannot parse {} to a valid timestamp",
                        quote_param(t)
                    ),
                ),
                None,
            );
        };
        engine::instant(settings, db, expr, t)
    } else if let (Some(s), Some(e), Some(st)) = (q.get("start"), q.get("end"), q.get("step")) {
        let Some(start) = parse_time_ms(s) else {
            return (
                error_record(
                    q,
                    "bad_data",
                    &format!(
                        "invalid parameter \"start\": cannot parse {} to a valid timestamp",
                        quote_param(s)
                    ),
                ),
                None,
            );
        };
        let Some(end) = parse_time_ms(e) else {
            return (
                error_record(
                    q,
                    "bad_data",
                    &format!(
                        "invalid parameter \"end\": cannot parse {} to a valid timestamp",
                        quote_param(e)
                    ),
                ),
                None,
            );
        };
        if end < start {
            return (
                error_record(
                    q,
                    "bad_data",
                    "invalid parameter \"end\": end timestamp must not be before start time",
                ),
                None,
            );
        }
        let Some(step) = parse_step_ms(st) else {
            return (
                error_record(
                    q,
                    "bad_data",
                    &format!(
                        "invalid parameter \"step\": cannot parse {} to a valid duration",
                        quote_param(st)
                    ),
                ),
                None,
            );
        };
        if step <= 0 {
            return (error_record(q, "bad_data", "invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer"), None);
        }
        if (end - start) / step > 11_000 {
            return (error_record(q, "bad_data", "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"), None);
        }
        engine::range(settings, db, expr, start, end, step)
    } else {
        return (
            error_record(
                q,
                "oracle_input",
                "need \"time\" (instant) or \"start\",\"end\",\"step\" (range)",
            ),
            None,
        );
    };
    match res {
        Ok(o) => {
            let sort = match order {
                Order::Labels => true,
                Order::Keep => false,
                Order::Auto => !order_matters(expr),
            };
            (success_record(q, o, sort), None)
        }
        Err(e) => {
            // Prometheus's API reports query parse errors as a bad "query" parameter.
            let msg = if e.is_parse {
                format!("invalid parameter \"query\": {}", e.message)
            } else {
                e.message.clone()
            };
            (error_record(q, &e.error_type, &msg), Some(e))
        }
    }
}

fn quote_param(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        other => format!("\"{other}\""),
    }
}

/// True when the result order is meaningful (sort, sort_desc, topk, bottomk), as in
/// prom-oracle's `order_matters`.
pub fn order_matters(expr: &str) -> bool {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        regex::Regex::new(r"\b(?:sort|sort_desc|topk|bottomk)\s*\(")
            .unwrap_or_else(|e| unreachable!("static regex: {e}"))
    });
    re.is_match(&strip_strings(expr))
}

/// JSON timestamp: seconds, with up to three decimals (exact for integer ms).
fn ts_json(t: i64) -> Value {
    if t % 1000 == 0 {
        json!(t / 1000)
    } else {
        Number::from_f64(t as f64 / 1000.0).map_or(Value::Null, Value::Number)
    }
}

fn metric_json(l: &Labels) -> Value {
    let mut m = Map::new();
    for lab in l {
        m.insert(lab.name.to_string(), Value::String(lab.value.to_string()));
    }
    Value::Object(m)
}

fn success_record(q: &Value, o: QOutcome, sort: bool) -> Value {
    let data = match o.value {
        QValue::Scalar(t, v) => {
            json!({"resultType": "scalar", "result": [ts_json(t), format_value(v)]})
        }
        QValue::String(t, s) => json!({"resultType": "string", "result": [ts_json(t), s]}),
        QValue::Vector(mut v) => {
            if sort {
                v.sort_by(|a, b| a.0.cmp(&b.0));
            }
            let r: Vec<Value> = v
                .iter()
                .map(|(l, t, x)| json!({"metric": metric_json(l), "value": [ts_json(*t), format_value(*x)]}))
                .collect();
            json!({"resultType": "vector", "result": r})
        }
        QValue::Matrix(mut m) => {
            if sort {
                m.sort_by(|a, b| a.0.cmp(&b.0));
            }
            let r: Vec<Value> = m
                .iter()
                .map(|(l, pts)| {
                    let vals: Vec<Value> = pts
                        .iter()
                        .map(|p| json!([ts_json(p.t), format_value(p.v)]))
                        .collect();
                    json!({"metric": metric_json(l), "values": vals})
                })
                .collect();
            json!({"resultType": "matrix", "result": r})
        }
    };
    let mut m = Map::new();
    m.insert("query".into(), q.clone());
    m.insert("status".into(), json!("success"));
    m.insert("data".into(), data);
    if !o.warnings.is_empty() {
        m.insert("warnings".into(), json!(o.warnings));
    }
    if !o.infos.is_empty() {
        m.insert("infos".into(), json!(o.infos));
    }
    Value::Object(m)
}

/// A query time: unix seconds (number or numeric string) or RFC 3339
/// ([`promlite::params::parse_time_ms`]).
pub(crate) fn parse_time_ms(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => params::decimal_seconds_ms(&n.to_string()),
        Value::String(s) => params::parse_time_ms(s).ok(),
        _ => None,
    }
}

/// A step: seconds (number or numeric string) or a Prometheus duration
/// ([`promlite::params::parse_step_ms`]).
pub(crate) fn parse_step_ms(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => params::decimal_seconds_ms(&n.to_string()),
        Value::String(s) => params::parse_step_ms(s).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(
            parse_time_ms(&json!(1704066900.25)),
            Some(1_704_066_900_250)
        );
        assert_eq!(parse_time_ms(&json!("1700000600")), Some(1_700_000_600_000));
        assert_eq!(parse_time_ms(&json!(-1)), Some(-1000));
        // 2023-12-31T23:55:00.250Z = 1704066900.25 (1704067200 is 2024-01-01T00:00:00Z).
        assert_eq!(
            parse_time_ms(&json!("2023-12-31T23:55:00.250Z")),
            Some(1_704_066_900_250)
        );
        assert_eq!(
            parse_time_ms(&json!("2024-01-01T01:00:00+01:00")),
            Some(1_704_067_200_000)
        );
        assert_eq!(parse_time_ms(&json!("yesterday")), None);
        assert_eq!(parse_step_ms(&json!("1m")), Some(60_000));
        assert_eq!(parse_step_ms(&json!(10.0)), Some(10_000));
        assert_eq!(parse_step_ms(&json!("0.5")), Some(500));
        assert_eq!(parse_step_ms(&json!("1h30m")), Some(5_400_000));
    }

    #[test]
    fn timestamps_render_like_the_api() {
        assert_eq!(ts_json(1_700_000_600_000).to_string(), "1700000600");
        assert_eq!(ts_json(1_704_066_900_250).to_string(), "1704066900.25");
        assert_eq!(ts_json(1_001).to_string(), "1.001");
    }

    #[test]
    fn order_rule_ignores_strings() {
        assert!(order_matters("topk(3, x)"));
        assert!(order_matters("sort_desc(x)"));
        assert!(!order_matters("sum(x)"));
        assert!(!order_matters(
            r#"label_replace(x, "a", "sort(", "b", "c")"#
        ));
    }

    #[test]
    fn bad_query_lines_answer_oracle_input() {
        let db = promlite_model::VecStorage::default();
        let s = Settings::default();
        let (r, _) = answer(&s, &db, &json!({"id": 1, "expr": "x"}), Order::Auto);
        assert_eq!(r["errorType"], "oracle_input");
        assert_eq!(r["query"]["id"], 1);
        let (r, _) = answer(
            &s,
            &db,
            &json!({"expr": "x", "start": 10, "end": 5, "step": 1}),
            Order::Auto,
        );
        assert_eq!(r["errorType"], "bad_data");
        assert_eq!(
            r["error"],
            "invalid parameter \"end\": end timestamp must not be before start time"
        );
    }
}
