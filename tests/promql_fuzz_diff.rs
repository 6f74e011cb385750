//! Differential fuzzing against the real Prometheus (2.42, through
//! `../shared/oracle/prom-oracle`): a seeded generator builds random, well-typed PromQL
//! over random data, and every answer of `promlite eval --batch` must equal the
//! oracle's (same label sets, values within 1e-9 relative, NaN equals NaN, both an
//! error or neither; the comparison is `promql_diff::compare`).
//!
//! Seeds: [`CI_SEEDS`] by default; `PROMLITE_FUZZ_SEEDS=1-50` (a range) or
//! `PROMLITE_FUZZ_SEEDS=3,17,99` runs others, e.g.
//! `PROMLITE_FUZZ_SEEDS=1-50 cargo test -p promlite-cli --test promlite-tests promql_fuzz_diff -- --nocapture`.
//! `PROMLITE_FUZZ_QUERIES=N` changes the number of queries per seed (one oracle batch
//! per seed; the oracle costs about 0.5-1 s to start, so batches are large).
//! `PROMLITE_FUZZ_KEEP=1` keeps the data files and batches (always kept on failure).
//!
//! The data: counters with resets and missing scrapes, gauges with NaN, a classic
//! histogram (`le` buckets, `_sum`, `_count`), each series on its own phase with
//! per-scrape jitter. Constructs whose results legitimately differ between 2.42 and
//! 3.x (`../shared/spec/promql-semantics.md` §14) are avoided, each where the choice is
//! made (search for "§14").

use std::path::PathBuf;

use serde_json::{json, Value};

use crate::common::oracle_available;
use crate::promql_diff::{answers_from_both, assert_no_failures, compare, points, secs};

/// Seeds run by default (CI). Each is one data file and one batch.
const CI_SEEDS: [u64; 8] = [1, 2, 3, 4, 5, 6, 7, 8];
/// Queries per seed unless `PROMLITE_FUZZ_QUERIES` says otherwise.
const QUERIES_PER_SEED: usize = 150;
/// First scrape slot, unix ms.
const T0: i64 = 1_700_000_000_000;
const SCRAPE_MS: i64 = 15_000;
const SCRAPES: i64 = 64;

/// SplitMix64: small, deterministic, good enough for test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
}

const JOBS: [&str; 2] = ["api", "db"];
const INSTANCES: [&str; 3] = ["i0", "i1", "i2"];
const CODES: [&str; 2] = ["200", "500"];
const LES: [&str; 4] = ["0.1", "0.5", "1", "+Inf"];

/// One scrape timestamp per slot, or None for a missed scrape. The per-series phase and
/// the ±1.5 s jitter put samples anywhere in the millisecond grid, except on whole and
/// half seconds: every evaluation time is `x.500 s` and every range, offset and step is
/// whole seconds, so no window edge (range, lookback, or a subquery's inner window at
/// its whole-second steps) ever sits on a sample. This keeps 2.42's closed windows and
/// 3.x's left-open ones (§14.1-3) selecting the same samples.
fn scrape_times(rng: &mut Rng, miss: f64) -> Vec<Option<i64>> {
    let phase = rng.below(SCRAPE_MS as u64) as i64;
    (0..SCRAPES)
        .map(|k| {
            let mut t = T0 + phase + k * SCRAPE_MS + rng.below(3000) as i64 - 1500;
            if t % 500 == 0 {
                t += 1;
            }
            (!rng.chance(miss)).then_some(t)
        })
        .collect()
}

fn labels_text(name: &str, ls: &[(&str, &str)]) -> String {
    let inner: Vec<String> = ls.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!("{name}{{{}}}", inner.join(","))
}

fn fmt_val(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else {
        format!("{v:?}")
    }
}

/// Text format 0.0.4 with millisecond timestamps.
fn generate_data(rng: &mut Rng) -> String {
    let mut out = String::new();
    // Counters. §14.4 (2.42 clamps the zero-point extrapolation before the 1.1 x avg
    // test, 3.x after) only matters when the extrapolation towards zero is shorter than
    // ~1.1 sampling intervals, i.e. when the first value in a window is small compared
    // with the window's increase. Counters therefore start high (2e4..1e5) and grow by at
    // most 20 per scrape, and a reset drops to 10-30 % of the value (never to 0), so the
    // zero point always lies several intervals before the window.
    for job in JOBS {
        for inst in INSTANCES {
            for code in CODES {
                let times = scrape_times(rng, 0.06);
                let mut v = 20_000.0 + rng.below(80_000) as f64;
                let name = labels_text(
                    "fz_requests_total",
                    &[("job", job), ("instance", inst), ("code", code)],
                );
                for t in times.into_iter().flatten() {
                    if rng.chance(0.02) {
                        v = (v * (0.1 + 0.2 * rng.unit())).floor();
                    } else {
                        v += rng.below(21) as f64;
                    }
                    out += &format!("{name} {} {t}\n", fmt_val(v));
                }
            }
        }
    }
    // Gauges: a random walk with NaN samples, and one without NaN.
    for job in JOBS {
        for inst in INSTANCES {
            let mut v = rng.unit() * 100.0 - 50.0;
            let name = labels_text("fz_temp", &[("job", job), ("instance", inst)]);
            for t in scrape_times(rng, 0.06).into_iter().flatten() {
                v += rng.unit() * 10.0 - 5.0;
                // Staleness markers (the oracle then ingests through remote write,
                // the only path that keeps them).
                let x = if rng.chance(0.05) {
                    "NaN".to_string()
                } else if rng.chance(0.03) {
                    "stale".to_string()
                } else {
                    fmt_val(v)
                };
                out += &format!("{name} {x} {t}\n");
            }
            let mut m = 1e6 + rng.below(1_000_000) as f64;
            let name = labels_text("fz_mem", &[("job", job), ("instance", inst)]);
            for t in scrape_times(rng, 0.03).into_iter().flatten() {
                m = (m + rng.below(20_001) as f64 - 10_000.0).max(0.0);
                out += &format!("{name} {} {t}\n", fmt_val(m));
            }
        }
    }
    // A classic histogram per (job, instance), counters like the ones above; a reset
    // scales every bucket by the same factor, so the buckets stay cumulative.
    for job in JOBS {
        for inst in INSTANCES {
            let base = 20_000.0 + rng.below(80_000) as f64;
            let mut buckets: Vec<f64> = (1..=LES.len()).map(|i| base * i as f64).collect();
            let mut sum = base * 0.7;
            for t in scrape_times(rng, 0.05).into_iter().flatten() {
                if rng.chance(0.02) {
                    let f = 0.1 + 0.2 * rng.unit();
                    for b in buckets.iter_mut() {
                        *b = (*b * f).floor();
                    }
                    sum *= f;
                } else {
                    let mut add = 0.0;
                    for b in buckets.iter_mut() {
                        add += rng.below(6) as f64;
                        *b += add;
                    }
                    sum += add * 0.3;
                }
                for (le, b) in LES.iter().zip(&buckets) {
                    let name = labels_text(
                        "fz_latency_seconds_bucket",
                        &[("job", job), ("instance", inst), ("le", le)],
                    );
                    out += &format!("{name} {} {t}\n", fmt_val(*b));
                }
                let ls = [("job", job), ("instance", inst)];
                let count = buckets[LES.len() - 1];
                out += &format!(
                    "{} {} {t}\n",
                    labels_text("fz_latency_seconds_count", &ls),
                    fmt_val(count)
                );
                out += &format!(
                    "{} {} {t}\n",
                    labels_text("fz_latency_seconds_sum", &ls),
                    fmt_val(sum)
                );
            }
        }
    }
    out
}

/// Random well-typed PromQL. Depth bounds the nesting.
struct Gen<'a> {
    rng: &'a mut Rng,
}

const RANGES: [&str; 5] = ["1m", "90s", "2m", "5m", "3m"];

impl Gen<'_> {
    fn matchers(&mut self) -> String {
        let mut ms = Vec::new();
        if self.rng.chance(0.4) {
            let job = self.rng.pick(&JOBS);
            ms.push(match self.rng.below(4) {
                0 => format!("job=\"{job}\""),
                1 => format!("job!=\"{job}\""),
                2 => "job=~\"a.*|d.\"".to_string(),
                _ => format!("job!~\"{job}\""),
            });
        }
        if self.rng.chance(0.3) {
            ms.push(match self.rng.below(3) {
                0 => "instance=~\"i[01]\"".to_string(),
                1 => format!("instance!=\"{}\"", self.rng.pick(&INSTANCES)),
                _ => "instance=~\"i.*\"".to_string(),
            });
        }
        if ms.is_empty() {
            String::new()
        } else {
            format!("{{{}}}", ms.join(","))
        }
    }

    fn offset(&mut self) -> &'static str {
        self.rng
            .pick(&["", "", "", " offset 1m", " offset 30s", " offset -45s"])
    }

    fn counter(&mut self) -> String {
        let m = self.matchers();
        let extra = if self.rng.chance(0.3) {
            let code = self.rng.pick(&CODES);
            if m.is_empty() {
                format!("{{code=\"{code}\"}}")
            } else {
                format!("{},code=\"{code}\"}}", &m[..m.len() - 1])
            }
        } else {
            m
        };
        format!("fz_requests_total{extra}")
    }

    fn gauge(&mut self) -> String {
        let name = if self.rng.chance(0.5) {
            "fz_temp"
        } else {
            "fz_mem"
        };
        format!("{name}{}", self.matchers())
    }

    fn range(&mut self) -> &'static str {
        self.rng.pick(&RANGES)
    }

    /// A range function over a counter or a gauge.
    fn range_fn(&mut self) -> String {
        let r = self.range();
        let off = self.offset();
        match self.rng.below(14) {
            0..=2 => {
                let f = self.rng.pick(&["rate", "increase", "irate", "resets"]);
                format!("{f}({}[{r}]{off})", self.counter())
            }
            3 => format!("changes({}[{r}]{off})", self.gauge()),
            4 => {
                let f = self.rng.pick(&["delta", "idelta", "deriv"]);
                format!("{f}({}[{r}]{off})", self.gauge())
            }
            5 => format!("predict_linear(fz_mem{}[{r}]{off}, 60)", self.matchers()),
            6 => {
                let phi = self.rng.pick(&["0", "0.25", "0.5", "0.9", "1"]);
                format!("quantile_over_time({phi}, {}[{r}]{off})", self.gauge())
            }
            7 => format!(
                "histogram_quantile({}, sum by (le) (rate(fz_latency_seconds_bucket{}[{r}]{off})))",
                self.rng.pick(&["0.5", "0.9", "0.99"]),
                self.matchers()
            ),
            8 => format!(
                "histogram_quantile({}, sum by (job, le) (rate(fz_latency_seconds_bucket[{r}])))",
                self.rng.pick(&["0.25", "0.75", "0.95"])
            ),
            9 => format!(
                "rate(fz_latency_seconds_sum{m}[{r}]) / rate(fz_latency_seconds_count{m}[{r}])",
                m = self.matchers()
            ),
            10 => {
                // A subquery; its inner steps are whole seconds (see scrape_times).
                let f = self
                    .rng
                    .pick(&["max_over_time", "avg_over_time", "min_over_time"]);
                let step = self.rng.pick(&["30s", "1m", "20s"]);
                format!("{f}(rate({}[1m])[5m:{step}])", self.counter())
            }
            _ => {
                let f = self.rng.pick(&[
                    "avg_over_time",
                    "min_over_time",
                    "max_over_time",
                    "sum_over_time",
                    "count_over_time",
                    "last_over_time",
                    "stddev_over_time",
                    "stdvar_over_time",
                    "present_over_time",
                ]);
                let sel = if self.rng.chance(0.3) {
                    self.counter()
                } else {
                    self.gauge()
                };
                format!("{f}({sel}[{r}]{off})")
            }
        }
    }

    fn scalar(&mut self) -> String {
        match self.rng.below(5) {
            0 => format!("scalar(sum({}))", self.gauge()),
            1 => "0".into(),
            2 => "-1.5".into(),
            _ => format!("{}", self.rng.below(100) as f64 / 4.0),
        }
    }

    fn vector(&mut self, depth: u32) -> String {
        let choice = if depth == 0 {
            self.rng.below(3)
        } else {
            self.rng.below(14)
        };
        match choice {
            12 => self.extra(depth - 1),
            13 => format!("-({})", self.vector(depth - 1)),
            0 => format!("{}{}", self.gauge(), self.offset()),
            1 | 2 => self.range_fn(),
            3 | 4 => self.aggregation(depth - 1),
            5 | 6 => {
                // No `atan2`: 3.x drops `__name__` from its result like the other
                // arithmetic operators (upstream operators.test:530 expects `{}` for
                // `trigy atan2 trigx`), 2.42 kept it (the first fuzz run found 18 such
                // answers, all `__name__` only). Not yet listed in spec §14.
                let op = self.rng.pick(&["+", "-", "*", "/", "%", "^"]);
                // `%` amplifies any low-bit difference of its left side as well
                // (seed 42: `(predict_linear(..) * scalar(sum(fz_temp))) % 2`, where
                // the product is ~1e8), so its left side is a plain selector or rate,
                // whose values both versions compute with the same formula.
                let a = if op == "%" {
                    if self.rng.chance(0.5) {
                        self.gauge()
                    } else {
                        format!("rate({}[5m])", self.counter())
                    }
                } else {
                    self.vector(depth - 1)
                };
                // §14.5: `scalar(sum(...))` may differ in the last bits (Kahan in 3.x,
                // naive in 2.42); `%` and `^` can blow that up (a remainder of
                // a large product flips), so these get literal scalars only, on the
                // right: `3 % v` for a tiny v whose low bits differ is noise (seed 5
                // found `3 % exp(histogram_quantile(..) - scalar(sum(fz_temp)))`).
                let s = if matches!(op, "%" | "^") {
                    format!("{}", 1 + self.rng.below(7))
                } else {
                    self.scalar()
                };
                if op == "^" || op == "%" || self.rng.chance(0.5) {
                    format!("({a}) {op} {s}")
                } else {
                    format!("{s} {op} ({a})")
                }
            }
            7 => {
                let op = self.rng.pick(&[">", "<", ">=", "<=", "==", "!="]);
                let b = if self.rng.chance(0.5) { " bool" } else { "" };
                format!("({}) {op}{b} {}", self.vector(depth - 1), self.scalar())
            }
            8 => self.vector_binary(depth - 1),
            9 => {
                let f = self.rng.pick(&[
                    "abs",
                    "ceil",
                    "floor",
                    "round",
                    "sgn",
                    "exp",
                    "ln",
                    "log2",
                    "log10",
                    "sqrt",
                    "timestamp",
                ]);
                format!("{f}({})", self.vector(depth - 1))
            }
            10 => match self.rng.below(3) {
                0 => format!("clamp({}, -10, 10)", self.vector(depth - 1)),
                1 => format!("clamp_min({}, 0)", self.vector(depth - 1)),
                _ => format!("clamp_max({}, 5)", self.vector(depth - 1)),
            },
            _ => format!(
                "label_replace({}, \"shard\", \"s-$1\", \"instance\", \"i(.*)\")",
                self.vector(depth - 1)
            ),
        }
    }

    fn grouping(&mut self) -> String {
        let labels = ["job", "instance", "code"];
        let n = self.rng.below(3);
        let mut ls: Vec<&str> = Vec::new();
        for _ in 0..n {
            let l = self.rng.pick(&labels);
            if !ls.contains(&l) {
                ls.push(l);
            }
        }
        match self.rng.below(3) {
            0 => String::new(),
            1 => format!(" by ({})", ls.join(", ")),
            _ => format!(" without ({})", ls.join(", ")),
        }
    }

    fn aggregation(&mut self, depth: u32) -> String {
        let g = self.grouping();
        match self.rng.below(8) {
            0..=3 => {
                let op = self
                    .rng
                    .pick(&["sum", "avg", "min", "max", "count", "group"]);
                format!("{op}{g} ({})", self.vector(depth))
            }
            4 => {
                // §14.8: stddev/stdvar of a group whose first value is NaN/Inf differ
                // (3.x NaN, 2.42 0 for a single element), so only NaN-free inputs.
                let op = self.rng.pick(&["stddev", "stdvar"]);
                format!("{op}{g} (rate({}[5m]))", self.counter())
            }
            5 => {
                // topk/bottomk over rates: random data has no ties, and §14.10 (k = NaN)
                // is avoided by literal k. Ties would make the winner unspecified.
                let op = self.rng.pick(&["topk", "bottomk"]);
                format!(
                    "{op}{g} ({}, rate({}[5m]))",
                    1 + self.rng.below(3),
                    self.counter()
                )
            }
            6 => format!(
                "quantile{g} ({}, {})",
                self.rng.pick(&["0", "0.3", "0.5", "0.99", "1"]),
                self.vector(depth)
            ),
            _ => format!("count_values{g} (\"v\", ceil({}))", self.gauge()),
        }
    }

    fn vector_binary(&mut self, depth: u32) -> String {
        let op = self
            .rng
            .pick(&["+", "-", "*", "/", ">", "<", "and", "or", "unless"]);
        match self.rng.below(4) {
            0 => format!(
                "sum by (job, instance) (rate({}[5m])) {op} on (job, instance) fz_mem",
                self.counter()
            ),
            1 => format!(
                "rate({}[5m]) {op} ignoring (code) group_left sum without (code) (rate({}[2m]))",
                self.counter(),
                self.counter()
            ),
            2 => format!(
                "fz_temp{} {op} on (instance) group_right (job) max by (instance) (fz_mem)",
                self.matchers()
            ),
            _ => format!("({}) {op} ({})", self.vector(depth), self.vector(depth)),
        }
    }

    /// Less common functions and modifiers.
    fn extra(&mut self, depth: u32) -> String {
        match self.rng.below(20) {
            16 => format!(
                "{{__name__=~\"fz_(temp|mem)\"{}}}",
                self.matchers()
                    .trim_start_matches('{')
                    .trim_end_matches('}')
                    .split(',')
                    .filter(|m| !m.is_empty())
                    .map(|m| format!(",{m}"))
                    .collect::<String>()
            ),
            17 => format!(
                "rate(fz_requests_total[5m]) * on (job, instance) group_left ({}) {}",
                self.rng.pick(&["", "extra"]),
                "label_replace(fz_mem, \"extra\", \"$1\", \"instance\", \"(.*)\")"
            ),
            18 => format!(
                "count_values{} (\"bucket\", floor({} / 10))",
                self.grouping(),
                self.gauge()
            ),
            19 => format!(
                "sum by (__name__) ({{__name__=~\"fz_(temp|mem)\"}}) {} on () group_left {}",
                self.rng.pick(&["+", "/", ">"]),
                "count(fz_mem)"
            ),
            0 => format!("{} @ {}", self.gauge(), self.at_time()),
            1 => format!(
                "rate({}[2m] @ {}{})",
                self.counter(),
                self.at_time(),
                self.offset()
            ),
            2 => format!("absent_over_time({}[1m])", self.gauge()),
            3 => format!(
                "label_join({}, \"tag\", \"/\", \"job\", \"instance\")",
                self.vector(depth)
            ),
            4 => format!("vector({})", self.scalar()),
            5 => {
                let f = self
                    .rng
                    .pick(&["sin", "cos", "tanh", "deg", "rad", "asinh", "atan"]);
                format!("{f}({})", self.vector(depth))
            }
            6 => {
                let f = self
                    .rng
                    .pick(&["minute", "hour", "day_of_week", "day_of_month", "month"]);
                format!("{f}(fz_mem{})", self.matchers())
            }
            7 => format!("round({}, 0.5)", self.vector(depth)),
            8 => format!("clamp({}, 5, -5)", self.vector(depth)),
            9 => format!(
                "histogram_quantile({}, sum by (le) (rate(fz_latency_seconds_bucket[5m])))",
                self.rng.pick(&["-0.5", "1.5", "NaN"])
            ),
            10 => format!(
                "quantile({}, {})",
                self.rng.pick(&["-1", "2", "NaN"]),
                self.vector(depth)
            ),
            11 => {
                // No subquery inside this one (§14.3): the inner subquery then runs at
                // the outer one's whole-second steps u = 45 s * k, and its grid start
                // u - 5m falls on its own 30 s step for every even k, which 2.42
                // includes and 3.x does not (seeds 184, 198, 289 of the first long run:
                // `last_over_time((max_over_time(rate(x[1m])[5m:30s]))[3m:45s] offset 1m)`).
                let mut inner = self.vector(depth);
                if inner.contains("m:") {
                    inner = self.gauge();
                }
                format!("last_over_time(({inner})[3m:45s] offset 1m)")
            }
            12 => format!("timestamp({} offset 30s)", self.gauge()),
            13 => format!(
                "({}) {} bool ({})",
                self.vector(depth),
                self.rng.pick(&[">", "<", "==", "!="]),
                self.vector(depth)
            ),
            14 => format!("sort_desc({})", self.vector(depth)),
            _ => format!(
                "{} unless on (instance) {}",
                self.vector(depth),
                self.vector(depth)
            ),
        }
    }

    /// An `@` time: whole or half seconds, inside or outside the data, or `end()`/`start()`.
    fn at_time(&mut self) -> String {
        match self.rng.below(4) {
            0 => "end()".into(),
            1 => "start()".into(),
            _ => format!("{}.5", (T0 + 300_000) / 1000 + self.rng.below(700) as i64),
        }
    }

    fn query(&mut self) -> String {
        match self.rng.below(20) {
            0 => format!("absent({})", self.gauge()),
            1 => self.scalar(),
            2 => format!(
                "{} {} bool {}",
                self.scalar(),
                self.rng.pick(&["<", ">="]),
                self.scalar()
            ),
            _ => self.vector(3),
        }
    }
}

/// Evaluation times are whole seconds + 500 ms (see `scrape_times`).
fn eval_time(rng: &mut Rng) -> i64 {
    // From 6 min in (enough history for 5m windows and 1m offsets) to past the end.
    T0 + 360_000 + rng.below(660) as i64 * 1000 + 500
}

fn queries(rng: &mut Rng, n: usize) -> Vec<Value> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let expr = Gen { rng: &mut *rng }.query();
        if rng.chance(0.7) {
            let t = eval_time(rng);
            out.push(json!({"id": format!("f{i}"), "expr": expr, "time": secs(t)}));
        } else {
            let start = eval_time(rng) - 180_000;
            let step = rng.pick(&[15_000i64, 30_000, 60_000, 7_000]);
            let end = start + step * (2 + rng.below(12) as i64);
            out.push(json!({
                "id": format!("f{i}"), "expr": expr,
                "start": secs(start), "end": secs(end), "step": step / 1000,
            }));
        }
    }
    out
}

fn seeds() -> Vec<u64> {
    let Ok(spec) = std::env::var("PROMLITE_FUZZ_SEEDS") else {
        return CI_SEEDS.to_vec();
    };
    let mut out = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u64, u64) = (
                    a.parse().expect("PROMLITE_FUZZ_SEEDS: bad range start"),
                    b.parse().expect("PROMLITE_FUZZ_SEEDS: bad range end"),
                );
                out.extend(a..=b);
            }
            None => out.push(part.parse().expect("PROMLITE_FUZZ_SEEDS: bad seed")),
        }
    }
    out
}

fn temp_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("promlite-fuzzdiff-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("create temp dir");
    d
}

#[test]
fn generator_is_deterministic_and_off_edge() {
    let (mut a, mut b) = (Rng(9), Rng(9));
    assert_eq!(generate_data(&mut a), generate_data(&mut b));
    let qa: Vec<Value> = queries(&mut a, 50);
    let qb: Vec<Value> = queries(&mut b, 50);
    assert_eq!(qa, qb);
    // No sample on a whole or half second (the window-edge rule of scrape_times).
    let data = generate_data(&mut Rng(5));
    for line in data.lines() {
        let t: i64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        assert_ne!(t % 500, 0, "{line}");
    }
}

#[test]
fn fuzz_matches_prometheus() {
    if !oracle_available("fuzz_matches_prometheus") {
        return;
    }
    let per_seed = std::env::var("PROMLITE_FUZZ_QUERIES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(QUERIES_PER_SEED);
    let dir = temp_dir();
    let mut failures = Vec::new();
    let (mut compared, mut nonempty, mut errors) = (0usize, 0usize, 0usize);
    let seeds = seeds();
    for &seed in &seeds {
        let mut rng = Rng(seed);
        let data = dir.join(format!("data-{seed}.prom"));
        std::fs::write(&data, generate_data(&mut rng)).expect("write data");
        let qs = queries(&mut rng, per_seed);
        let batch = dir.join(format!("queries-{seed}.jsonl"));
        let text: String = qs.iter().map(|q| format!("{q}\n")).collect();
        std::fs::write(&batch, text).expect("write batch");
        let (ours, theirs) = answers_from_both(&data, &batch, qs.len());
        for (o, t) in ours.iter().zip(&theirs) {
            compared += 1;
            if t["status"] == "error" {
                errors += 1;
            } else if t["data"]["result"]
                .as_array()
                .is_some_and(|r| r.iter().any(|s| !points(s).is_empty()))
                || t["data"]["resultType"] == "scalar"
            {
                nonempty += 1;
            }
            if let Err(e) = compare(o, t) {
                failures.push(format!("seed {seed} {}: {e}", t["query"]));
            }
        }
    }
    if failures.is_empty() && std::env::var_os("PROMLITE_FUZZ_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        eprintln!(
            "promql_fuzz_diff: data and batches kept in {}",
            dir.display()
        );
    }
    eprintln!(
        "promql_fuzz_diff: {} seeds, {compared} queries compared ({nonempty} non-empty, {errors} errors on both sides), {} differences",
        seeds.len(),
        failures.len()
    );
    // Guard against a vacuous pass.
    assert!(
        nonempty * 2 > compared,
        "too few non-empty answers: {nonempty} of {compared}"
    );
    assert_no_failures(&failures, compared);
}
