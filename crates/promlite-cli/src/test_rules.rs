//! `promlite test rules FILE...`: runs `promtool test rules` unit-test files
//! (rule_files, evaluation_interval, group_eval_order, tests with interval,
//! input_series in the expanding notation, alert_rule_test, promql_expr_test,
//! external_labels, external_url) with promtool's output and exit codes:
//! `Unit Testing:  FILE`, then `  SUCCESS` or `  FAILED:` and each failure
//! on stderr, exit 1 when any file failed.
//!
//! Like promtool, the rules are evaluated from time 0 every
//! `evaluation_interval` up to the largest `eval_time`, all groups in
//! `group_eval_order` (then file order); an alert test at `eval_time` sees the
//! alerts of the evaluation at the last step at or before it; expression tests
//! run after all evaluations. A test group without `interval` uses the
//! evaluation interval (Prometheus 3; promtool 2.42 requires it).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use promlite::model::Labels;
use promlite::rules::duration::{format_duration, parse_duration};
use promlite::rules::template::printf::go_quote;
use promlite::rules::{AlertState, Manager, ManagerOptions};
use promlite::store::{Store, StoreConfig};
use serde::Deserialize;

use crate::test_cmd::promqltest::values::{parse_sequence, parse_series_descriptor, Slot};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UnitTestFile {
    #[serde(default)]
    rule_files: Vec<String>,
    evaluation_interval: Option<String>,
    #[serde(default)]
    group_eval_order: Vec<String>,
    #[serde(default)]
    tests: Vec<TestGroup>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TestGroup {
    interval: Option<String>,
    #[serde(default)]
    input_series: Vec<Series>,
    #[serde(default)]
    alert_rule_test: Vec<AlertTestCase>,
    #[serde(default)]
    promql_expr_test: Vec<PromqlTestCase>,
    #[serde(default)]
    external_labels: BTreeMap<String, String>,
    #[serde(default)]
    external_url: String,
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Series {
    series: String,
    #[serde(default)]
    values: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertTestCase {
    eval_time: Option<String>,
    #[serde(default)]
    alertname: String,
    #[serde(default)]
    exp_alerts: Vec<ExpAlert>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpAlert {
    #[serde(default)]
    exp_labels: BTreeMap<String, String>,
    #[serde(default)]
    exp_annotations: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PromqlTestCase {
    #[serde(default)]
    expr: String,
    eval_time: Option<String>,
    #[serde(default)]
    exp_samples: Vec<ExpSample>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpSample {
    #[serde(default)]
    labels: String,
    #[serde(default)]
    value: f64,
}

/// Runs `promlite test rules` with the arguments after `rules`.
pub fn run(files: &[String]) -> ExitCode {
    if files.is_empty() || files.iter().any(|f| f == "-h" || f == "--help") {
        println!("usage: promlite test rules FILE...\n\nRuns promtool rule unit-test files.");
        return ExitCode::from(if files.is_empty() { 2 } else { 0 });
    }
    if let Some(missing) = files.iter().find(|f| !Path::new(f).exists()) {
        eprintln!("promlite: error: path '{missing}' does not exist, try --help");
        return ExitCode::from(1);
    }
    let mut failed = false;
    for f in files {
        let _ = writeln!(std::io::stdout(), "Unit Testing:  {f}");
        let errs = run_file(f);
        if errs.is_empty() {
            println!("  SUCCESS");
        } else {
            failed = true;
            eprintln!("  FAILED:");
            for e in errs {
                eprintln!("{e}");
                println!();
            }
        }
        println!();
    }
    ExitCode::from(u8::from(failed))
}

fn yaml_type(expected: &[&str]) -> &'static str {
    let has = |f: &str| expected.contains(&f);
    if has("rule_files") || has("tests") {
        "main.unitTestFile"
    } else if has("input_series") {
        "main.testGroup"
    } else if has("series") {
        "main.series"
    } else if has("alertname") {
        "main.alertTestCase"
    } else if has("exp_labels") {
        "main.alert"
    } else if has("exp_samples") {
        "main.promqlTestCase"
    } else {
        "main.sample"
    }
}

fn yaml_error(e: &serde_saphyr::Error) -> String {
    let e = e.without_snippet();
    let line = e.location().map(|l| l.line()).unwrap_or(0);
    if let serde_saphyr::Error::SerdeUnknownField {
        field, expected, ..
    } = e
    {
        return format!(
            "yaml: unmarshal errors:\n  line {line}: field {field} not found in type {}",
            yaml_type(expected)
        );
    }
    let msg = e.to_string();
    format!("yaml: line {line}: {}", msg.lines().next().unwrap_or(""))
}

fn dur(s: &Option<String>) -> Result<i64, String> {
    match s {
        None => Ok(0),
        Some(s) => parse_duration(s),
    }
}

fn run_file(path: &str) -> Vec<String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => return vec![format!("open {path}: {e}")],
    };
    let file: UnitTestFile = match serde_saphyr::from_str(&text) {
        Ok(f) => f,
        Err(e) => return vec![yaml_error(&e)],
    };
    let base = Path::new(path).parent().unwrap_or(Path::new(""));
    let mut rule_files = Vec::new();
    for rf in &file.rule_files {
        let p = if Path::new(rf).is_absolute() || rf.is_empty() {
            Path::new(rf).to_path_buf()
        } else {
            base.join(rf)
        };
        // Patterns as Go's filepath.Glob reads them (sorted matches).
        let pattern = p.to_string_lossy().into_owned();
        let mut matched: Vec<std::path::PathBuf> = match glob::glob(&pattern) {
            Ok(paths) => paths.filter_map(Result::ok).collect(),
            Err(e) => return vec![format!("syntax error in pattern: {e}")],
        };
        matched.sort();
        if matched.is_empty() {
            eprintln!("  WARNING: no file match pattern {pattern}");
        }
        rule_files.extend(matched);
    }
    let eval_interval = match dur(&file.evaluation_interval) {
        Ok(0) => 60_000,
        Ok(d) => d,
        Err(e) => return vec![e],
    };
    let mut order: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, g) in file.group_eval_order.iter().enumerate() {
        if order.insert(g, i).is_some() {
            return vec![format!("group name repeated in evaluation order: {g}")];
        }
    }
    let mut errs = Vec::new();
    for tg in &file.tests {
        errs.extend(run_group(tg, eval_interval, &order, &rule_files));
    }
    errs
}

/// Go's `time.Duration.String` of whole milliseconds (`5m0s`, `1h0m0s`, `1.5s`).
fn go_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    if ms.abs() < 1000 {
        return format!("{ms}ms");
    }
    let sign = if ms < 0 { "-" } else { "" };
    let ms = ms.abs();
    let (h, m, s, frac) = (
        ms / 3_600_000,
        (ms / 60_000) % 60,
        (ms / 1000) % 60,
        ms % 1000,
    );
    let mut secs = s.to_string();
    if frac != 0 {
        let f = format!("{frac:03}");
        secs = format!("{s}.{}", f.trim_end_matches('0'));
    }
    if h > 0 {
        format!("{sign}{h}h{m}m{secs}s")
    } else if m > 0 {
        format!("{sign}{m}m{secs}s")
    } else {
        format!("{sign}{secs}s")
    }
}

/// Prometheus's `labels.Labels.String`: every label inside braces.
fn labels_string(pairs: &[(String, String)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", go_quote(v)))
        .collect();
    format!("{{{}}}", parts.join(", "))
}

fn pairs_of(ls: &Labels) -> Vec<(String, String)> {
    ls.iter()
        .map(|l| (l.name.to_string(), l.value.to_string()))
        .collect()
}

/// Go's `strconv.FormatFloat(v, 'E', -1, 64)`.
fn format_e(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let s = format!("{v:E}");
    let (m, e) = s.split_once('E').unwrap_or((&s, "0"));
    let e: i32 = e.parse().unwrap_or(0);
    format!("{m}E{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
}

type Pairs = Vec<(String, String)>;
type AlertSet = Vec<(Pairs, Pairs)>;

fn alerts_string(la: &AlertSet) -> String {
    if la.is_empty() {
        return "[]".into();
    }
    let one = |(l, a): &(Pairs, Pairs)| {
        format!(
            "\n  Labels:{}\n  Annotations:{}",
            labels_string(l),
            labels_string(a)
        )
    };
    let mut s = format!("[\n0:{}", one(&la[0]));
    for (i, x) in la[1..].iter().enumerate() {
        s.push_str(&format!(",\n{}:{}", i + 1, one(x)));
    }
    s.push_str("\n]");
    s
}

fn indent(s: &str, ind: &str) -> String {
    s.replace('\n', &format!("\n{ind}"))
}

fn run_group(
    tg: &TestGroup,
    eval_interval: i64,
    order: &BTreeMap<&str, usize>,
    rule_files: &[std::path::PathBuf],
) -> Vec<String> {
    let interval = match dur(&tg.interval) {
        Ok(0) => eval_interval,
        Ok(d) => d,
        Err(e) => return vec![e],
    };
    let store = Store::new(StoreConfig::unbounded());
    let mut samples = Vec::new();
    for s in &tg.input_series {
        let ls = match parse_series_descriptor(&s.series) {
            Ok(l) => l,
            Err(e) => return vec![format!("error in input series {:?}: {e}", s.series)],
        };
        let seq = match parse_sequence(&s.values) {
            Ok(v) => v,
            Err(e) => return vec![format!("error in input series {:?}: {e}", s.values)],
        };
        for (i, slot) in seq.iter().enumerate() {
            let t = i as i64 * interval;
            match slot {
                Slot::Gap => {}
                Slot::Float(v) => samples.push((ls.clone(), t, *v)),
                Slot::Histogram => {
                    return vec![format!(
                        "native histograms in input series are not supported: {:?}",
                        s.series
                    )]
                }
            }
        }
    }
    if let Err(e) = store.append_batch(samples) {
        return vec![format!("error loading input series: {e}")];
    }
    let ext = Labels::from_pairs(
        tg.external_labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str())),
    );
    let mut mgr = Manager::new(ManagerOptions {
        default_interval_ms: interval,
        external_labels: ext,
        external_url: tg.external_url.clone(),
        ..ManagerOptions::default()
    });
    if let Err(e) = mgr.load_files(rule_files) {
        return e;
    }
    let mut idx: Vec<usize> = (0..mgr.groups().len()).collect();
    idx.sort_by_key(|&i| {
        order
            .get(mgr.groups()[i].name.as_str())
            .copied()
            .unwrap_or(0)
    });

    let mut alert_tests: BTreeMap<i64, Vec<&AlertTestCase>> = BTreeMap::new();
    for a in &tg.alert_rule_test {
        let t = match dur(&a.eval_time) {
            Ok(t) => t,
            Err(e) => return vec![e],
        };
        if a.alertname.is_empty() {
            let in_group = if tg.name.is_empty() {
                String::new()
            } else {
                format!(" (in TestGroup {})", tg.name)
            };
            return vec![format!(
                "an item under alert_rule_test misses required attribute alertname at eval_time {}{in_group}",
                format_duration(t)
            )];
        }
        alert_tests.entry(t).or_default().push(a);
    }
    let mut expr_times = Vec::new();
    for p in &tg.promql_expr_test {
        match dur(&p.eval_time) {
            Ok(t) => expr_times.push(t),
            Err(e) => return vec![e],
        }
    }
    let maxt = alert_tests
        .keys()
        .copied()
        .chain(expr_times.iter().copied())
        .max()
        .unwrap_or(0);

    let mut errs = Vec::new();
    let mut pending_alert_times: Vec<i64> = alert_tests.keys().copied().collect();
    pending_alert_times.reverse();
    let mut ts = 0i64;
    while ts <= maxt {
        let mut eval_errs = Vec::new();
        for &i in &idx {
            mgr.eval_group(i, &store, ts);
            for r in &mgr.groups()[i].rules {
                if let Some(e) = &r.last_error {
                    eval_errs.push(format!(
                        "    rule: {}, time: {}, err: {e}",
                        r.name(),
                        go_duration(ts)
                    ));
                }
            }
        }
        if !eval_errs.is_empty() {
            errs.extend(eval_errs);
            return errs;
        }
        while let Some(&t) = pending_alert_times.last() {
            if !(ts <= t && t < ts + eval_interval) {
                break;
            }
            pending_alert_times.pop();
            for tc in &alert_tests[&t] {
                let mut got: AlertSet = Vec::new();
                for g in mgr.groups() {
                    for r in g.alerting_rules().filter(|r| r.name == tc.alertname) {
                        for a in r.alerts() {
                            if a.state == AlertState::Firing {
                                got.push((
                                    pairs_of(&a.labels),
                                    a.annotations
                                        .iter()
                                        .map(|(k, v)| (k.clone(), v.clone()))
                                        .collect(),
                                ));
                            }
                        }
                    }
                }
                let mut exp: AlertSet = tc
                    .exp_alerts
                    .iter()
                    .map(|a| {
                        let mut l = a.exp_labels.clone();
                        l.insert("alertname".into(), tc.alertname.clone());
                        (
                            l.into_iter().collect(),
                            a.exp_annotations
                                .iter()
                                .map(|(k, v)| (k.clone(), v.clone()))
                                .collect(),
                        )
                    })
                    .collect();
                got.sort();
                exp.sort();
                if got != exp {
                    let name = if tg.name.is_empty() {
                        String::new()
                    } else {
                        format!("    name: {},\n", tg.name)
                    };
                    errs.push(format!(
                        "{name}    alertname: {}, time: {}, \n        exp:{}, \n        got:{}",
                        tc.alertname,
                        format_duration(t),
                        indent(&alerts_string(&exp), "            "),
                        indent(&alerts_string(&got), "            ")
                    ));
                }
            }
        }
        ts += eval_interval;
    }

    let engine = promlite::promql::Engine::new(promlite::promql::EngineOptions::default());
    'outer: for (tc, &t) in tg.promql_expr_test.iter().zip(&expr_times) {
        let head = format!(
            "    expr: {}, time: {}",
            go_quote(&tc.expr),
            format_duration(t)
        );
        let got = match engine.instant_query(&store, &tc.expr, t) {
            Err(e) => {
                errs.push(format!("{head}, err: {e}"));
                continue;
            }
            Ok(r) => match r.value {
                promlite::promql::Value::Vector(v) => v
                    .into_iter()
                    .map(|s| (pairs_of(&s.labels), s.v))
                    .collect::<Vec<_>>(),
                promlite::promql::Value::Scalar { v, .. } => vec![(Vec::new(), v)],
                _ => {
                    errs.push(format!(
                        "{head}, err: rule result is not a vector or scalar"
                    ));
                    continue;
                }
            },
        };
        let mut exp = Vec::new();
        for s in &tc.exp_samples {
            match parse_series_descriptor(&s.labels) {
                Ok(l) => exp.push((pairs_of(&l), s.value)),
                Err(e) => {
                    errs.push(format!("{head}, err: labels {}: {e}", go_quote(&s.labels)));
                    continue 'outer;
                }
            }
        }
        let mut got = got;
        got.sort_by(|a, b| a.0.cmp(&b.0));
        exp.sort_by(|a, b| a.0.cmp(&b.0));
        // reflect.DeepEqual: exact float equality (NaN never equals).
        let same =
            got.len() == exp.len() && got.iter().zip(&exp).all(|(g, e)| g.0 == e.0 && g.1 == e.1);
        if !same {
            let show = |v: &[(Pairs, f64)]| {
                if v.is_empty() {
                    "nil".to_string()
                } else {
                    v.iter()
                        .map(|(l, x)| format!("{} {}", labels_string(l), format_e(*x)))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            };
            errs.push(format!(
                "{head},\n        exp: {}\n        got: {}",
                show(&exp),
                show(&got)
            ));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_formats() {
        assert_eq!(go_duration(300_000), "5m0s");
        assert_eq!(go_duration(3_600_000), "1h0m0s");
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(1_500), "1.5s");
        assert_eq!(format_e(2.0), "2E+00");
        assert_eq!(format_e(123_400.0), "1.234E+05");
        assert_eq!(format_e(0.015), "1.5E-02");
    }
}
