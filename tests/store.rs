//! Store: differential proptests against a naive model, and ingest of real fixtures.
//!
//! The model is the obvious implementation of the rules in issue 3: a
//! `BTreeMap<Labels, Vec<Sample>>`, a set of the series each target reported in
//! its last good scrape, and a check list run before anything is applied. The
//! store must give the same answers, reports and errors after every step.

use std::collections::{BTreeMap, BTreeSet};

use promlite::model::{Labels, MatchOp, Matcher, Queryable, Sample, STALE_NAN};
use promlite::store::{Format, IngestError, LimitKind, Limits, Store, StoreConfig, Target};
use proptest::prelude::*;

const CAP: usize = 5;
const MAX_SERIES: usize = 9;
const MAX_SAMPLES: usize = 7;

#[derive(Debug, Clone)]
enum Step {
    /// target index, lines (series index, value), time delta (may be ≤ 0), duplicate a line?
    Scrape(usize, Vec<(usize, u8)>, i64, bool),
    /// target index, time delta
    Down(usize, i64),
}

fn series_line(i: usize) -> (String, Vec<(&'static str, String)>) {
    let names = ["up", "req_total", "lat_bucket"];
    let name = names[i % 3];
    let k = (i / 3) % 4;
    let text = if k == 0 {
        name.to_string()
    } else {
        format!("{name}{{k=\"{k}\"}}")
    };
    let mut labels = vec![("__name__", name.to_string())];
    if k != 0 {
        labels.push(("k", k.to_string()));
    }
    (text, labels)
}

fn value(v: u8) -> f64 {
    // Small counters with resets, a fraction and an infinity.
    match v % 8 {
        6 => 0.5,
        7 => f64::INFINITY,
        x => f64::from(x) * 10.0,
    }
}

fn value_text(v: u8) -> String {
    match v % 8 {
        6 => "0.5".into(),
        7 => "+Inf".into(),
        x => (u32::from(x) * 10).to_string(),
    }
}

fn targets() -> [Target; 2] {
    [
        Target::from_pairs([("job", "a"), ("instance", "1")]),
        Target::from_pairs([("job", "b")]),
    ]
}

#[derive(Default, Debug)]
struct Model {
    series: BTreeMap<Labels, Vec<Sample>>,
    prev: [BTreeSet<Labels>; 2],
}

#[derive(Debug, PartialEq)]
enum Outcome {
    Ok {
        appended: usize,
        stale: usize,
        ooo: usize,
        dup: usize,
        identical: usize,
        repeated: usize,
    },
    Rejected(String),
}

impl Model {
    fn labels(target: &Target, pairs: &[(&str, String)]) -> Labels {
        let mut all: Vec<(String, String)> = pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.clone()))
            .collect();
        for l in target.labels() {
            all.push((l.name.to_string(), l.value.to_string()));
        }
        Labels::from_pairs(all)
    }

    fn push(&mut self, l: &Labels, s: Sample) {
        let v = self.series.entry(l.clone()).or_default();
        v.push(s);
        if v.len() > CAP {
            v.remove(0);
        }
    }

    fn scrape(&mut self, ti: usize, lines: &[(Labels, f64)], ts: i64) -> Outcome {
        if lines.len() > MAX_SAMPLES {
            return Outcome::Rejected("max_samples_per_scrape".into());
        }
        let set: BTreeSet<&Labels> = lines.iter().map(|x| &x.0).collect();
        // A series repeated within the scrape keeps its first sample (Prometheus).
        let repeated = lines.len() - set.len();
        let mut first = BTreeSet::new();
        let lines: Vec<&(Labels, f64)> = lines.iter().filter(|x| first.insert(&x.0)).collect();
        let new = set
            .iter()
            .filter(|l| !self.series.contains_key(**l))
            .count();
        if self.series.len() + new > MAX_SERIES {
            return Outcome::Rejected("max_series".into());
        }
        let (mut appended, mut ooo, mut dup, mut identical) = (0, 0, 0, 0);
        for (l, v) in lines.iter().map(|x| (&x.0, &x.1)) {
            match self.series.get(l).and_then(|s| s.last()) {
                Some(last) if ts < last.t => ooo += 1,
                Some(last) if ts == last.t => {
                    if last.v.to_bits() == v.to_bits() {
                        identical += 1
                    } else {
                        dup += 1
                    }
                }
                _ => {
                    self.push(l, Sample { t: ts, v: *v });
                    appended += 1;
                }
            }
        }
        let mut stale = 0;
        let now: BTreeSet<Labels> = lines.iter().map(|x| x.0.clone()).collect();
        for l in self.prev[ti].clone().difference(&now) {
            if self.series[l].last().is_none_or(|s| s.t < ts) {
                self.push(
                    l,
                    Sample {
                        t: ts,
                        v: STALE_NAN,
                    },
                );
                stale += 1;
            }
        }
        self.prev[ti] = now;
        Outcome::Ok {
            appended,
            stale,
            ooo,
            dup,
            identical,
            repeated,
        }
    }

    fn down(&mut self, ti: usize, ts: i64) -> usize {
        let mut n = 0;
        for l in std::mem::take(&mut self.prev[ti]) {
            if self.series[&l].last().is_none_or(|s| s.t < ts) {
                self.push(
                    &l,
                    Sample {
                        t: ts,
                        v: STALE_NAN,
                    },
                );
                n += 1;
            }
        }
        n
    }
}

/// Every series with its samples as bit patterns, sorted by labels.
fn dump(store: &Store) -> Vec<(Labels, Vec<(i64, u64)>)> {
    let all = Matcher::new(MatchOp::RegexMatch, "__name__", ".+").unwrap();
    let mut v: Vec<_> = store
        .select(&[all], i64::MIN, i64::MAX)
        .unwrap()
        .into_iter()
        .map(|s| {
            (
                s.labels,
                s.samples.iter().map(|x| (x.t, x.v.to_bits())).collect(),
            )
        })
        .collect();
    v.sort();
    v
}

fn model_dump(m: &Model) -> Vec<(Labels, Vec<(i64, u64)>)> {
    m.series
        .iter()
        .filter(|(_, s)| !s.is_empty())
        .map(|(l, s)| (l.clone(), s.iter().map(|x| (x.t, x.v.to_bits())).collect()))
        .collect()
}

fn step_strategy() -> impl Strategy<Value = Step> {
    prop_oneof![
        8 => (0usize..2, proptest::collection::vec((0usize..12, any::<u8>()), 0..9), -20_000i64..60_000, proptest::bool::weighted(0.1))
            .prop_map(|(t, l, d, dup)| Step::Scrape(t, l, d, dup)),
        1 => (0usize..2, -10_000i64..30_000).prop_map(|(t, d)| Step::Down(t, d)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn scrapes_match_the_naive_model(steps in proptest::collection::vec(step_strategy(), 1..40)) {
        let store = Store::new(
            StoreConfig::default()
                .with_ring_samples(Some(CAP))
                .with_retention_ms(None)
                .with_block_samples(2)
                .with_limits(Limits::default().with_max_series(MAX_SERIES).with_max_samples_per_scrape(MAX_SAMPLES)),
        );
        let ts_targets = targets();
        let mut model = Model::default();
        let mut now = [1_000_000i64; 2];
        for step in steps {
            match step {
                Step::Scrape(ti, lines, delta, dup) => {
                    now[ti] += delta;
                    let ts = now[ti];
                    let mut seen = BTreeSet::new();
                    let mut lines: Vec<(usize, u8)> = lines.into_iter().filter(|(i, _)| seen.insert(*i)).collect();
                    if dup && !lines.is_empty() {
                        lines.push(lines[0]);
                    }
                    let body: String = lines
                        .iter()
                        .map(|(i, v)| format!("{} {}\n", series_line(*i).0, value_text(*v)))
                        .collect();
                    let model_lines: Vec<(Labels, f64)> = lines
                        .iter()
                        .map(|(i, v)| (Model::labels(&ts_targets[ti], &series_line(*i).1), value(*v)))
                        .collect();
                    let before = dump(&store);
                    let before_stats = store.stats();
                    let want = model.scrape(ti, &model_lines, ts);
                    let got = match store.ingest_scrape(&ts_targets[ti], body.as_bytes(), Format::Text, ts) {
                        Ok(r) => Outcome::Ok {
                            appended: r.samples_appended,
                            stale: r.stale_markers,
                            ooo: r.out_of_order,
                            dup: r.duplicate_timestamp,
                            identical: r.identical_duplicates,
                            repeated: r.repeated_in_scrape,
                        },
                        Err(IngestError::Limit { limit: LimitKind::MaxSeries, .. }) => Outcome::Rejected("max_series".into()),
                        Err(IngestError::Limit { limit: LimitKind::MaxSamplesPerScrape, .. }) => Outcome::Rejected("max_samples_per_scrape".into()),
                        Err(e) => Outcome::Rejected(format!("unexpected: {e}")),
                    };
                    prop_assert_eq!(&got, &want, "body:\n{}", body);
                    if matches!(got, Outcome::Rejected(_)) {
                        prop_assert_eq!(dump(&store), before);
                        prop_assert_eq!(store.stats(), before_stats);
                    }
                }
                Step::Down(ti, delta) => {
                    now[ti] += delta;
                    let want = model.down(ti, now[ti]);
                    prop_assert_eq!(store.mark_target_down(&ts_targets[ti], now[ti]), want);
                }
            }
            prop_assert_eq!(dump(&store), model_dump(&model));
            let st = store.stats();
            prop_assert_eq!(st.series, model.series.len());
            prop_assert_eq!(st.samples, model.series.values().map(|v| v.len()).sum::<usize>());
        }
    }

    #[test]
    fn direct_appends_match_the_naive_model(
        batches in proptest::collection::vec(
            proptest::collection::vec((0usize..6, 0i64..40, any::<u8>()), 0..25), 1..8),
        cap in proptest::option::of(1usize..10),
    ) {
        let store = Store::new(StoreConfig::unbounded().with_ring_samples(cap).with_block_samples(3));
        let mut model: BTreeMap<Labels, Vec<Sample>> = BTreeMap::new();
        for batch in batches {
            let items: Vec<(Labels, i64, f64)> = batch
                .iter()
                .map(|(i, t, v)| {
                    let l = Labels::from_pairs(series_line(*i).1.iter().map(|(n, v)| (*n, v.as_str())));
                    // A few values repeat per (series, time) so that identical duplicates occur.
                    let v = if v % 4 == 0 { STALE_NAN } else { value(*v % 3) };
                    (l, *t * 1000, v)
                })
                .collect();
            // Model: merge per series; two different bit patterns at one time reject all.
            let mut next = model.clone();
            let mut conflict = false;
            for (l, t, v) in &items {
                let s = next.entry(l.clone()).or_default();
                match s.iter().find(|x| x.t == *t) {
                    Some(x) if x.v.to_bits() != v.to_bits() => conflict = true,
                    Some(_) => {}
                    None => {
                        s.push(Sample { t: *t, v: *v });
                        s.sort_by_key(|x| x.t);
                    }
                }
            }
            let before = dump(&store);
            let got = store.append_batch(items);
            if conflict {
                prop_assert!(matches!(got, Err(IngestError::ConflictingSample { .. })), "{:?}", got);
                prop_assert_eq!(dump(&store), before);
            } else {
                prop_assert!(got.is_ok(), "{:?}", got);
                if let Some(c) = cap {
                    for s in next.values_mut() {
                        let k = s.len().saturating_sub(c);
                        s.drain(..k);
                    }
                }
                model = next;
            }
            let want: Vec<(Labels, Vec<(i64, u64)>)> = model
                .iter()
                .filter(|(_, s)| !s.is_empty())
                .map(|(l, s)| (l.clone(), s.iter().map(|x| (x.t, x.v.to_bits())).collect()))
                .collect();
            prop_assert_eq!(dump(&store), want);
        }
    }
}

#[test]
fn real_kcm_fixture_ingests_and_a_second_scrape_hits_the_cache() {
    let dir = crate::common::shared_dir().join("fixtures/real");
    let Some(path) = std::fs::read_dir(&dir)
        .ok()
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().contains("controller-manager"))
        .min()
    else {
        eprintln!(
            "SKIPPED: no kube-controller-manager fixture in {}",
            dir.display()
        );
        return;
    };
    let body = std::fs::read(&path).unwrap();
    let format = Format::sniff(&body);
    let store = Store::new(StoreConfig::default());
    let t = Target::from_pairs([("job", "kcm")]);
    let r1 = store.ingest_scrape(&t, &body, format, 1_000_000).unwrap();
    assert!(r1.series_created > 1000, "{r1:?}");
    assert_eq!(r1.series_created, r1.samples_appended);
    let r2 = store.ingest_scrape(&t, &body, format, 1_015_000).unwrap();
    assert_eq!(
        (r2.series_created, r2.samples_appended, r2.stale_markers),
        (0, r1.samples_appended, 0)
    );
    assert_eq!(store.stats().samples, 2 * r1.samples_appended);
}

// ---------------------------------------------------------------------------
// Label sets of new series: a proptest against a hand-written model.
//
// A target's first scrape builds every series' label set from its line, and
// the store reuses the work of the previous lines where names repeat (see
// promlite-store's memo.rs). The bodies below are made of runs of lines that
// share a label layout (the names in one written order) with values drawn
// from a handful, so lines share long prefixes, differ in one value, switch
// layouts back and forth, and hit every rule: `le` normalized only inside the
// `# TYPE h histogram` family, target labels overriding body labels, empty
// values dropped, escaped values, unsorted and more than eight labels.

/// Label names a layout draws from (`job` is also a target label).
const LABEL_NAMES: [&str; 11] = [
    "a", "b", "job", "le", "zone", "pod", "c", "d", "e", "f", "g",
];
/// Decoded values, and how each is written inside quotes.
const VALUES: [(&str, &str); 8] = [
    ("x", "x"),
    ("1", "1"),
    ("10", "10"),
    ("+Inf", "+Inf"),
    ("2.5", "2.5"),
    ("", ""),
    ("q\"t", "q\\\"t"),
    (
        "kube-controller-manager-control-plane-0",
        "kube-controller-manager-control-plane-0",
    ),
];
/// How Prometheus 3 writes each value of `VALUES` when it normalizes `le`
/// (worked out by hand: integers gain ".0", everything else is unchanged).
fn normalized(v: &str) -> &str {
    match v {
        "1" => "1.0",
        "10" => "10.0",
        other => other,
    }
}
const METRICS: [&str; 6] = ["h_bucket", "h_sum", "h_count", "u_bucket", "m", "m_total"];

#[derive(Debug, Clone)]
struct Run {
    /// Indices into LABEL_NAMES, in written order (unique).
    layout: Vec<usize>,
    /// Per line: metric index and one value index per layout label.
    lines: Vec<(usize, Vec<usize>)>,
}

fn run_strategy() -> impl Strategy<Value = Run> {
    proptest::sample::subsequence((0..LABEL_NAMES.len()).collect::<Vec<_>>(), 0..=10)
        .prop_shuffle()
        .prop_flat_map(|layout| {
            let n = layout.len();
            let line = (
                0..METRICS.len(),
                proptest::collection::vec(0..VALUES.len(), n),
            );
            (Just(layout), proptest::collection::vec(line, 1..6))
        })
        .prop_map(|(layout, lines)| Run { layout, lines })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn new_series_get_the_label_sets_the_rules_give(
        typed in any::<bool>(),
        runs in proptest::collection::vec(run_strategy(), 1..8),
        repeat_layouts in any::<bool>(),
    ) {
        let target = Target::from_pairs([("instance", "i:1"), ("job", "t")]);
        let mut body = String::new();
        if typed {
            body.push_str("# TYPE h histogram\n");
        }
        let mut runs = runs;
        if repeat_layouts {
            // The same runs again, so layouts come back after others.
            let again = runs.clone();
            runs.extend(again);
        }
        let mut want: Vec<BTreeMap<String, String>> = Vec::new();
        for run in &runs {
            for (metric, vals) in &run.lines {
                let metric = METRICS[*metric];
                let mut text = metric.to_string();
                let mut set = BTreeMap::new();
                set.insert("__name__".to_string(), metric.to_string());
                if !run.layout.is_empty() {
                    text.push('{');
                    for (k, (&li, &vi)) in run.layout.iter().zip(vals).enumerate() {
                        let (name, (value, written)) = (LABEL_NAMES[li], VALUES[vi]);
                        if k > 0 {
                            text.push(',');
                        }
                        text.push_str(&format!("{name}=\"{written}\""));
                        let family_h = typed && metric.starts_with("h_");
                        let value = if family_h && name == "le" { normalized(value) } else { value };
                        set.insert(name.to_string(), value.to_string());
                    }
                    text.push('}');
                }
                text.push_str(" 1\n");
                body.push_str(&text);
                for l in target.labels().iter() {
                    set.insert(l.name.to_string(), l.value.to_string());
                }
                set.retain(|_, v| !v.is_empty());
                want.push(set);
            }
        }
        let distinct: BTreeSet<_> = want.iter().cloned().collect();
        let store = Store::new(StoreConfig::default());
        let r = store.ingest_scrape(&target, body.as_bytes(), Format::Text, 1000);
        {
            // Lines naming one series again keep the first sample (Prometheus).
            let r = r.map_err(|e| TestCaseError::fail(format!("{e}\n{body}")))?;
            prop_assert_eq!(r.repeated_in_scrape, want.len() - distinct.len(), "{}", body);
            let got: BTreeSet<BTreeMap<String, String>> = store
                .series_labels()
                .iter()
                .map(|l| l.iter().map(|x| (x.name.to_string(), x.value.to_string())).collect())
                .collect();
            prop_assert_eq!(&got, &distinct, "{}", body);
            // The second scrape of the same body creates nothing and keeps the firsts.
            let r2 = store.ingest_scrape(&target, body.as_bytes(), Format::Text, 2000).unwrap();
            prop_assert_eq!(r2.series_created, 0);
            prop_assert_eq!(r2.samples_appended, distinct.len());
            prop_assert_eq!(r2.repeated_in_scrape, want.len() - distinct.len());
        }
    }
}
