//! Runs parsed promqltest scripts against the engine and judges each case.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::OnceLock;

use promlite_model::{format_value, Labels, Sample};
use regex::Regex;

use super::script::{Command, EvalCase, EvalKind, Expected, ExpectedSeries, Load, TextMatch};
use super::values::{almost_equal, Slot};
use crate::eval::engine::{self, QError, QOutcome, QValue, Settings};

/// Relative tolerance of upstream's comparisons.
const EPSILON: f64 = 1e-6;

/// The verdict on one case.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Every check passed.
    Pass,
    /// A check failed; the text says which and shows expected and got.
    Fail(String),
    /// The case cannot run here; the text says why.
    Skip(String),
}

/// Outcome of one case.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// Line of the `eval` command.
    pub line: usize,
    /// The query.
    pub expr: String,
    /// The verdict.
    pub verdict: Verdict,
}

/// The loaded data of a script, plus what the runner knows about it.
#[derive(Debug, Default)]
struct Db {
    series: BTreeMap<Labels, BTreeMap<i64, f64>>,
    /// Metric names that carry native-histogram samples ("" = a nameless series).
    histogram_names: BTreeSet<String>,
    /// The label sets of series that carry native-histogram samples.
    histogram_series: BTreeSet<Labels>,
    type_and_unit: bool,
    start_timestamps: bool,
    cache: Option<crate::eval::data::Storage>,
}

impl Db {
    fn load(&mut self, load: &Load) {
        self.cache = None;
        if load.start_timestamps {
            self.start_timestamps = true;
        }
        for (labels, slots) in &load.series {
            if labels.has("__type__") || labels.has("__unit__") {
                self.type_and_unit = true;
            }
            let name = labels.metric_name().unwrap_or("").to_string();
            if load.nhcb {
                if let Some(base) = name.strip_suffix("_bucket") {
                    self.histogram_names.insert(base.to_string());
                    // The converted histogram: the bucket's labels minus `le`, named X.
                    let mut b = labels.builder();
                    b.del("le");
                    b.set("__name__", base.to_string());
                    self.histogram_series.insert(b.build());
                }
            }
            let entry = self.series.entry(labels.clone()).or_default();
            let mut t: i64 = 0;
            for slot in slots {
                match slot {
                    Slot::Gap => {}
                    Slot::Float(v) => {
                        entry.insert(t, *v);
                    }
                    Slot::Histogram => {
                        self.histogram_names.insert(name.clone());
                        self.histogram_series.insert(labels.clone());
                    }
                }
                t = t.saturating_add(load.interval_ms);
            }
        }
        self.series.retain(|_, s| !s.is_empty());
    }

    fn clear(&mut self) {
        *self = Db::default();
    }

    fn storage(&mut self) -> Result<&crate::eval::data::Storage, String> {
        if self.cache.is_none() {
            let mut b = crate::eval::data::SeriesData::default();
            for (labels, samples) in &self.series {
                for (&t, &v) in samples {
                    b.add(labels.clone(), t, v);
                }
            }
            self.cache = Some(b.into_storage()?);
        }
        self.cache.as_ref().ok_or_else(|| "no storage".to_string())
    }
}

fn re(pat: &str) -> Regex {
    Regex::new(pat).unwrap_or_else(|e| unreachable!("static regex {pat}: {e}"))
}

/// Features that we run when the engine parses them, and report as skipped when it
/// does not (out of the first scope; the engine may or may not implement them).
fn optional_features() -> &'static [(Regex, &'static str)] {
    static F: OnceLock<Vec<(Regex, &'static str)>> = OnceLock::new();
    F.get_or_init(|| {
        vec![
            (
                re(r"\b(limitk|limit_ratio|info|sort_by_label|sort_by_label_desc|double_exponential_smoothing|mad_over_time|first_over_time|ts_of_(first|last|max|min)_over_time|start_timestamp|max_of|min_of)\s*\("),
                "experimental function",
            ),
            (re(r"\b(fill|fill_left|fill_right)\s*\("), "fill modifier"),
            (re(r"\b(anchored|smoothed)\b"), "anchored/smoothed modifier"),
            (
                re(r"(?i)\[[^\]]*(\(|\)|[0-9a-z]\s*[-+*/%^]\s*[0-9a-z(])[^\]]*\]|\b(offset|@)\s*\(|\boffset\s+-?\s*[0-9a-z]+\s*[-+*/%^]|\boffset\s+-?\s*(step|range)\s*\("),
                "duration expression",
            ),
            (
                // `@ start()` / `@ end()` are stable; the bare functions are not.
                re(r"(?i)\b(start|end|step|range)\s*\(\s*\)"),
                "query-context function (start/end/step/range)",
            ),
            (
                re(r"\bhistogram_(count|sum|avg|stddev|stdvar|quantiles)\s*\("),
                "native-histogram function",
            ),
        ]
    })
}

/// Strips string literals so that regexes over the query do not see their content.
pub(crate) fn strip_strings(q: &str) -> String {
    let mut out = String::with_capacity(q.len());
    let mut quote: Option<char> = None;
    let mut esc = false;
    for c in q.chars() {
        match quote {
            Some(qc) => {
                if esc {
                    esc = false;
                } else if c == '\\' && qc != '`' {
                    esc = true;
                } else if c == qc {
                    quote = None;
                    out.push(c);
                }
            }
            None => {
                if matches!(c, '"' | '\'' | '`') {
                    quote = Some(c);
                }
                out.push(c);
            }
        }
    }
    out
}

/// Why a case must be skipped whatever the engine can do, if it must.
fn hard_skip(db: &Db, case: &EvalCase) -> Option<String> {
    if db.start_timestamps {
        return Some("start timestamps (@st) are not supported".into());
    }
    if db.type_and_unit || case.expr.contains("__type__") || case.expr.contains("__unit__") {
        return Some("__type__/__unit__ labels (type-and-unit feature) are not supported".into());
    }
    if let Expected::Series(s) = &case.expected {
        if s.iter().any(|s| s.slots.contains(&Slot::Histogram)) {
            return Some("native histograms: the expected result holds {{...}} samples".into());
        }
    }
    if !db.histogram_series.is_empty() {
        // Exact when our parser reads the query: a selector that matches a series
        // holding histogram samples. Otherwise a name-based guess.
        let settings = Settings {
            experimental: true,
            ..Settings::default()
        };
        match engine::selectors(&settings, &case.expr) {
            Ok(sels) => {
                for ms in &sels {
                    if let Some(h) = db
                        .histogram_series
                        .iter()
                        .find(|l| ms.iter().all(|m| m.matches(l.get(&m.name).unwrap_or(""))))
                    {
                        return Some(format!("native histograms: selects histogram series {h}"));
                    }
                }
            }
            Err(_) => return name_guess(db, case),
        }
    }
    None
}

/// For queries our parser cannot read: does the query text name a histogram metric, or
/// use a selector without a name, while the data holds histograms?
fn name_guess(db: &Db, case: &EvalCase) -> Option<String> {
    let q = strip_strings(&case.expr);
    static WORD: OnceLock<Regex> = OnceLock::new();
    let word = WORD.get_or_init(|| re(r"[A-Za-z_:][A-Za-z0-9_:]*"));
    for m in word.find_iter(&q) {
        if db.histogram_names.contains(m.as_str()) {
            return Some(format!(
                "native histograms: reads histogram series {:?}",
                m.as_str()
            ));
        }
    }
    for h in &db.histogram_names {
        if !h.is_empty()
            && (case.expr.contains(&format!("\"{h}\"")) || case.expr.contains(&format!("'{h}'")))
        {
            return Some(format!("native histograms: reads histogram series {h:?}"));
        }
    }
    static NAMELESS: OnceLock<Regex> = OnceLock::new();
    let nameless = NAMELESS.get_or_init(|| re(r"(^|[^A-Za-z0-9_:\s])\s*\{"));
    if nameless.is_match(&q) {
        return Some(
            "native histograms: a selector without a metric name over data that holds histograms"
                .into(),
        );
    }
    None
}

fn optional_feature(case: &EvalCase) -> Option<&'static str> {
    static AT: OnceLock<Regex> = OnceLock::new();
    let at = AT.get_or_init(|| re(r"@\s*(start|end)\s*\(\s*\)"));
    let q = at
        .replace_all(&strip_strings(&case.expr), "@ 0")
        .into_owned();
    optional_features()
        .iter()
        .find(|(r, _)| r.is_match(&q))
        .map(|(_, why)| *why)
}

/// Runs a whole script; returns one result per `eval` case.
pub fn run_script(cmds: &[(usize, Command)]) -> Vec<CaseResult> {
    let settings = Settings {
        lookback_ms: 300_000,
        // Upstream's test engine runs with delayed __name__ removal (FORMAT.md §5).
        delayed_name_removal: true,
        // Upstream uses 10000; no case tests the limit, and our sample accounting need
        // not match Prometheus's peak count, so the default limit avoids false failures.
        max_samples: 50_000_000,
        // Upstream's test parser enables experimental functions.
        experimental: true,
        timeout: None,
    };
    let mut db = Db::default();
    let mut out = Vec::new();
    for (_, cmd) in cmds {
        match cmd {
            Command::Load(l) => db.load(l),
            Command::Clear => db.clear(),
            Command::Eval(case) => {
                let verdict = match hard_skip(&db, case) {
                    Some(why) => Verdict::Skip(why),
                    None => run_case(&settings, &mut db, case),
                };
                out.push(CaseResult {
                    line: case.line,
                    expr: case.expr.clone(),
                    verdict,
                });
            }
        }
    }
    out
}

fn run_case(settings: &Settings, db: &mut Db, case: &EvalCase) -> Verdict {
    let storage = match db.storage() {
        Ok(s) => s,
        Err(e) => return Verdict::Fail(format!("loading the data into the store failed: {e}")),
    };
    let res = match case.kind {
        EvalKind::Instant { at } => engine::instant(settings, storage, &case.expr, at),
        EvalKind::Range { start, end, step } => {
            engine::range(settings, storage, &case.expr, start, end, step)
        }
    };
    let outcome = match res {
        Err(e) => return judge_error(case, &e),
        Ok(o) => o,
    };
    if case.fail.is_some() {
        return Verdict::Fail(format!(
            "expected an error, got a result:\n{}",
            show_value(&outcome.value)
        ));
    }
    if let Err(msg) = check_annotations(case, &outcome) {
        return Verdict::Fail(msg);
    }
    let checked = match case.kind {
        EvalKind::Instant { at } => check_instant(case, &outcome.value, at),
        EvalKind::Range { start, end, step } => match (&case.expected, &outcome.value) {
            (Expected::Series(exp), QValue::Matrix(m)) => check_matrix(exp, m, start, end, step),
            (Expected::Scalar(_), _) => Err("a range eval cannot expect a scalar".into()),
            (_, other) => Err(format!("expected a matrix, got:\n{}", show_value(other))),
        },
    };
    if let Err(msg) = checked {
        return Verdict::Fail(msg);
    }
    if let EvalKind::Instant { at } = case.kind {
        if let Err(msg) = check_at_invariance(settings, storage, case, at) {
            return Verdict::Fail(msg);
        }
        if let Err(msg) = check_range_mode(settings, storage, case, at) {
            return Verdict::Fail(msg);
        }
    }
    Verdict::Pass
}

fn judge_error(case: &EvalCase, e: &QError) -> Verdict {
    if e.is_parse {
        if let Some(feature) = optional_feature(case) {
            return Verdict::Skip(format!("{feature} not supported ({})", e.message));
        }
        return Verdict::Fail(format!(
            "the query does not parse (upstream parses every query of the corpus):\n{}",
            e.render_with_caret(&case.expr)
        ));
    }
    // An engine that says it does not support an optional feature (experimental
    // functions, ...) cannot be judged on this case, whatever the expectation.
    if let Some(feature) = optional_feature(case) {
        if e.message.contains("not supported") || e.message.contains("unknown function") {
            return Verdict::Skip(format!("{feature} not supported ({})", e.message));
        }
    }
    match &case.fail {
        Some(m) if m.matches(&e.message) => Verdict::Pass,
        Some(m) => Verdict::Fail(format!(
            "expected error {m:?}\n     got error {:?}",
            e.message
        )),
        None => Verdict::Fail(format!(
            "unexpected error: {} ({})",
            e.message, e.error_type
        )),
    }
}

fn check_annotations(case: &EvalCase, o: &QOutcome) -> Result<(), String> {
    fn one(kind: &str, want: &[TextMatch], none: bool, got: &[String]) -> Result<(), String> {
        if none && !got.is_empty() {
            return Err(format!("expected no {kind} annotations, got {got:?}"));
        }
        if want.is_empty() {
            return Ok(());
        }
        if got.is_empty() {
            return Err(format!("expected {kind} annotations {want:?}, got none"));
        }
        for w in want {
            if !got.iter().any(|g| w.matches(g)) {
                return Err(format!(
                    "expected a {kind} annotation matching {w:?}, got {got:?}"
                ));
            }
        }
        for g in got {
            if !want.iter().any(|w| w.matches(g)) {
                return Err(format!(
                    "unexpected {kind} annotation {g:?} (expected {want:?})"
                ));
            }
        }
        Ok(())
    }
    one("warning", &case.warn, case.no_warn, &o.warnings)?;
    one("info", &case.info, case.no_info, &o.infos)
}

fn show_labels_value(l: &Labels, v: f64) -> String {
    format!("{l} {}", format_value(v))
}

fn show_value(v: &QValue) -> String {
    let mut s = String::new();
    match v {
        QValue::Scalar(_, x) => {
            let _ = writeln!(s, "    scalar {}", format_value(*x));
        }
        QValue::String(_, x) => {
            let _ = writeln!(s, "    string {x:?}");
        }
        QValue::Vector(vs) => {
            if vs.is_empty() {
                s.push_str("    (empty vector)\n");
            }
            for (l, _, x) in vs {
                let _ = writeln!(s, "    {}", show_labels_value(l, *x));
            }
        }
        QValue::Matrix(m) => {
            if m.is_empty() {
                s.push_str("    (empty matrix)\n");
            }
            for (l, pts) in m {
                let _ = writeln!(s, "    {l} {}", show_points(pts));
            }
        }
    }
    s
}

fn show_points(pts: &[Sample]) -> String {
    pts.iter()
        .map(|p| format!("{}@{}", format_value(p.v), p.t))
        .collect::<Vec<_>>()
        .join(" ")
}

fn show_expected(exp: &[ExpectedSeries]) -> String {
    if exp.is_empty() {
        return "    (empty)\n".into();
    }
    let mut s = String::new();
    for e in exp {
        let vals: Vec<String> = e
            .slots
            .iter()
            .map(|x| match x {
                Slot::Gap => "_".into(),
                Slot::Float(v) => format_value(*v),
                Slot::Histogram => "{{..}}".into(),
            })
            .collect();
        let _ = writeln!(s, "    {} {}", e.labels, vals.join(" "));
    }
    s
}

fn check_instant(case: &EvalCase, v: &QValue, _at: i64) -> Result<(), String> {
    if let Some(want) = &case.string {
        return match v {
            QValue::String(_, got) if got == want => Ok(()),
            other => Err(format!(
                "expected string {want:?}, got:\n{}",
                show_value(other)
            )),
        };
    }
    if let Some((a, b, s)) = case.range_vector {
        let Expected::Series(exp) = &case.expected else {
            return Err("expect range vector with a scalar expectation".into());
        };
        return match v {
            QValue::Matrix(m) => check_matrix(exp, m, a, b, s),
            other => Err(format!(
                "expected a range vector, got:\n{}",
                show_value(other)
            )),
        };
    }
    match (&case.expected, v) {
        (Expected::Scalar(want), QValue::Scalar(_, got)) => {
            if almost_equal(*want, *got, EPSILON) {
                Ok(())
            } else {
                Err(format!(
                    "expected scalar {}, got {}",
                    format_value(*want),
                    format_value(*got)
                ))
            }
        }
        (Expected::Scalar(want), other) => Err(format!(
            "expected scalar {}, got:\n{}",
            format_value(*want),
            show_value(other)
        )),
        (Expected::Series(exp), QValue::Vector(got)) => check_vector(exp, got, case.ordered),
        (Expected::Series(exp), other) => Err(format!(
            "expected an instant vector:\n{}got:\n{}",
            show_expected(exp),
            show_value(other)
        )),
    }
}

fn expected_value(e: &ExpectedSeries) -> Option<f64> {
    match e.slots.first() {
        Some(Slot::Float(v)) => Some(*v),
        _ => None,
    }
}

fn check_vector(
    exp: &[ExpectedSeries],
    got: &[(Labels, i64, f64)],
    ordered: bool,
) -> Result<(), String> {
    let mismatch = |why: String| {
        let g = show_value(&QValue::Vector(got.to_vec()));
        Err(format!(
            "{why}\n  expected:\n{}  got:\n{g}",
            show_expected(exp)
        ))
    };
    if exp.len() != got.len() {
        return mismatch(format!("expected {} series, got {}", exp.len(), got.len()));
    }
    if ordered {
        for (i, (e, (l, _, v))) in exp.iter().zip(got).enumerate() {
            if &e.labels != l {
                return mismatch(format!(
                    "element {i}: expected {}, got {l} (order matters)",
                    e.labels
                ));
            }
            if !expected_value(e).is_some_and(|x| almost_equal(x, *v, EPSILON)) {
                return mismatch(format!("element {i} ({l}): value differs"));
            }
        }
        return Ok(());
    }
    let mut seen = BTreeSet::new();
    for (l, _, v) in got {
        if !seen.insert(l.clone()) {
            return mismatch(format!("series {l} returned twice"));
        }
        let Some(e) = exp.iter().find(|e| &e.labels == l) else {
            return mismatch(format!("unexpected series {l}"));
        };
        if !expected_value(e).is_some_and(|x| almost_equal(x, *v, EPSILON)) {
            return mismatch(format!(
                "series {l}: expected {}, got {}",
                expected_value(e).map_or("?".into(), format_value),
                format_value(*v)
            ));
        }
    }
    Ok(())
}

fn check_matrix(
    exp: &[ExpectedSeries],
    got: &[(Labels, Vec<Sample>)],
    start: i64,
    end: i64,
    step: i64,
) -> Result<(), String> {
    let mismatch = |why: String| {
        let g = show_value(&QValue::Matrix(got.to_vec()));
        Err(format!(
            "{why}\n  expected (from {start} step {step}):\n{}  got:\n{g}",
            show_expected(exp)
        ))
    };
    if let Some(w) = got.windows(2).find(|w| w[0].0 >= w[1].0) {
        return mismatch(format!(
            "matrix not sorted by labels: {} before {}",
            w[0].0, w[1].0
        ));
    }
    let steps = if step > 0 {
        (end - start) / step + 1
    } else {
        1
    };
    for e in exp {
        if e.slots.len() as i64 > steps {
            return Err(format!(
                "script error at line {}: {} values for {} steps",
                e.line,
                e.slots.len(),
                steps
            ));
        }
    }
    for (l, pts) in got {
        let Some(e) = exp.iter().find(|e| &e.labels == l) else {
            return mismatch(format!("unexpected series {l}"));
        };
        let want: Vec<(i64, f64)> = e
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match s {
                Slot::Float(v) => Some((start + i as i64 * step, *v)),
                _ => None,
            })
            .collect();
        if want.len() != pts.len() {
            return mismatch(format!(
                "series {l}: expected {} points, got {}",
                want.len(),
                pts.len()
            ));
        }
        for ((wt, wv), p) in want.iter().zip(pts) {
            if *wt != p.t {
                return mismatch(format!(
                    "series {l}: expected a point at {wt}, got one at {}",
                    p.t
                ));
            }
            if !almost_equal(*wv, p.v, EPSILON) {
                return mismatch(format!(
                    "series {l} at {wt}: expected {}, got {}",
                    format_value(*wv),
                    format_value(p.v)
                ));
            }
        }
    }
    for e in exp {
        let has_points = e.slots.iter().any(|s| matches!(s, Slot::Float(_)));
        if has_points && !got.iter().any(|(l, _)| *l == e.labels) {
            return mismatch(format!("expected series {} missing", e.labels));
        }
    }
    Ok(())
}

/// FORMAT.md §4.4 (a): every selector pinned with `@ t`, evaluated at other times, must
/// give the same answer.
fn check_at_invariance(
    settings: &Settings,
    storage: &crate::eval::data::Storage,
    case: &EvalCase,
    at: i64,
) -> Result<(), String> {
    if case.fail.is_some() || case.string.is_some() {
        return Ok(());
    }
    let times: Vec<i64> = if at == 0 {
        vec![-1000, 0, 1000]
    } else {
        vec![-10 * at, 0, at / 5, at, 10 * at]
    };
    for t in times {
        match engine::instant_pinned(settings, storage, &case.expr, at, t) {
            Ok(None) => return Ok(()),
            Ok(Some((text, o))) => check_instant(case, &o.value, t).map_err(|e| {
                format!("with every selector pinned (`{text}`) evaluated at {t} ms: {e}")
            })?,
            Err(e) => {
                return Err(format!(
                    "with every selector pinned at @ {at} ms, evaluated at {t} ms: error {}",
                    e.message
                ))
            }
        }
    }
    Ok(())
}

/// FORMAT.md §4.4 (b): the instant case again as a range query from t-1m to t+1m.
fn check_range_mode(
    settings: &Settings,
    storage: &crate::eval::data::Storage,
    case: &EvalCase,
    at: i64,
) -> Result<(), String> {
    static CTX: OnceLock<Regex> = OnceLock::new();
    let ctx = CTX.get_or_init(|| re(r"\b(start|end|range|step)\s*\(\s*\)"));
    if case.range_vector.is_some()
        || case.string.is_some()
        || case.fail.is_some()
        || ctx.is_match(&strip_strings(&case.expr))
    {
        return Ok(());
    }
    let res = engine::range(
        settings,
        storage,
        &case.expr,
        at - 60_000,
        at + 60_000,
        60_000,
    )
    .map_err(|e| {
        format!(
            "range-mode re-run (t-1m..t+1m step 1m) failed: {}",
            e.message
        )
    })?;
    let QValue::Matrix(m) = &res.value else {
        return Err(format!(
            "range-mode re-run returned a non-matrix:\n{}",
            show_value(&res.value)
        ));
    };
    if let Some(w) = m.windows(2).find(|w| w[0].0 >= w[1].0) {
        return Err(format!(
            "range-mode re-run: matrix not sorted: {} before {}",
            w[0].0, w[1].0
        ));
    }
    if case.ordered {
        return Ok(());
    }
    let at_t: Vec<(Labels, i64, f64)> = m
        .iter()
        .filter_map(|(l, pts)| {
            pts.iter()
                .find(|p| p.t == at)
                .map(|p| (l.clone(), p.t, p.v))
        })
        .collect();
    let r = match &case.expected {
        Expected::Scalar(want) => match at_t.first() {
            Some((_, _, got)) if almost_equal(*want, *got, EPSILON) => Ok(()),
            Some((_, _, got)) => Err(format!(
                "expected scalar {}, got {}",
                format_value(*want),
                format_value(*got)
            )),
            None => Err(format!(
                "expected scalar {}, got no point",
                format_value(*want)
            )),
        },
        Expected::Series(exp) => check_vector(exp, &at_t, false),
    };
    r.map_err(|e| format!("range-mode re-run (t-1m..t+1m step 1m), points at t: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_cmd::promqltest::script::parse_script;

    fn case(src: &str) -> EvalCase {
        let cmds = parse_script(src).unwrap();
        match &cmds.last().unwrap().1 {
            Command::Eval(c) => (**c).clone(),
            _ => panic!("no eval"),
        }
    }

    #[test]
    fn vector_comparison_is_unordered_unless_asked() {
        let c = case("eval instant at 0 x\n  a{l=\"1\"} 1\n  a{l=\"2\"} 2\n");
        let Expected::Series(exp) = &c.expected else {
            panic!()
        };
        let a1 = Labels::from_pairs([("__name__", "a"), ("l", "1")]);
        let a2 = Labels::from_pairs([("__name__", "a"), ("l", "2")]);
        let got = vec![(a2.clone(), 0, 2.0), (a1.clone(), 0, 1.0)];
        assert!(check_vector(exp, &got, false).is_ok());
        assert!(check_vector(exp, &got, true).is_err());
        let wrong = vec![(a2, 0, 2.0), (a1, 0, 1.1)];
        assert!(check_vector(exp, &wrong, false).is_err());
    }

    #[test]
    fn matrix_checks_timestamps_gaps_and_order() {
        let c = case("eval range from 0 to 2m step 1m x\n  a 1 _ 3\n  b 1 2 3\n");
        let Expected::Series(exp) = &c.expected else {
            panic!()
        };
        let a = Labels::from_pairs([("__name__", "a")]);
        let b = Labels::from_pairs([("__name__", "b")]);
        let s = |t, v| Sample { t, v };
        let good = vec![
            (a.clone(), vec![s(0, 1.0), s(120_000, 3.0)]),
            (b.clone(), vec![s(0, 1.0), s(60_000, 2.0), s(120_000, 3.0)]),
        ];
        assert!(check_matrix(exp, &good, 0, 120_000, 60_000).is_ok());
        let unsorted = vec![good[1].clone(), good[0].clone()];
        assert!(check_matrix(exp, &unsorted, 0, 120_000, 60_000).is_err());
        let shifted = vec![(a, vec![s(0, 1.0), s(60_000, 3.0)]), good[1].clone()];
        assert!(check_matrix(exp, &shifted, 0, 120_000, 60_000).is_err());
        assert!(
            check_matrix(exp, &good[1..], 0, 120_000, 60_000).is_err(),
            "missing series"
        );
    }

    #[test]
    fn skips_are_classified() {
        let cmds = parse_script(
            "load 1m\n  h {{schema:0 sum:1 count:1}}\n  f 1\n\neval instant at 0 h\n  {} 1\n\neval instant at 0 sum(f)\n  {} 1\n\neval instant at 0 {job=\"x\"}\n\neval instant at 0 {__name__=~\"h|f\"}\n",
        )
        .unwrap();
        let mut db = Db::default();
        let Command::Load(l) = &cmds[0].1 else {
            panic!()
        };
        db.load(l);
        let c = |i: usize| match &cmds[i].1 {
            Command::Eval(c) => (**c).clone(),
            _ => panic!(),
        };
        assert!(hard_skip(&db, &c(1)).is_some_and(|w| w.contains("histogram")));
        assert_eq!(hard_skip(&db, &c(2)), None);
        assert_eq!(hard_skip(&db, &c(3)), None, "matches no histogram series");
        assert!(
            hard_skip(&db, &c(4)).is_some_and(|w| w.contains("histogram series h")),
            "a regex selector that matches the histogram series"
        );
        let f = case("eval instant at 0 rate(x[5m] smoothed)\n");
        assert_eq!(optional_feature(&f), Some("anchored/smoothed modifier"));
        let at = case("eval instant at 0 x @ start()\n");
        assert_eq!(optional_feature(&at), None, "@ start() is stable syntax");
        let st = case("eval instant at 0 end() - start()\n");
        assert_eq!(
            optional_feature(&st),
            Some("query-context function (start/end/step/range)")
        );
        let d = case("eval instant at 0 rate(x[5m+1m])\n");
        assert_eq!(optional_feature(&d), Some("duration expression"));
        let sq = case("eval instant at 0 rate(x[5m:1m])\n");
        assert_eq!(optional_feature(&sq), None);
        let s = case("eval instant at 0 label_replace(x, \"a\", \"fill(\", \"b\", \"c\")\n");
        assert_eq!(optional_feature(&s), None, "string contents are not syntax");
    }
}
