//! One test per rule of the store (issue 3). Expected values are worked out by
//! hand in each test from Prometheus's documented behaviour.

use promlite_model::{is_stale_nan, Labels, MatchOp, Matcher, MetricType, Queryable, STALE_NAN};

use crate::{Format, IngestError, LimitKind, Limits, Stats, Store, StoreConfig, Target};

fn m(op: MatchOp, n: &str, v: &str) -> Matcher {
    Matcher::new(op, n, v).unwrap()
}

/// Selected series as (labels as text, [(t, value or "stale")]), sorted.
type Dump = Vec<(String, Vec<(i64, String)>)>;

fn sel(store: &Store, ms: &[Matcher], mint: i64, maxt: i64) -> Dump {
    let mut out: Vec<_> = store
        .select(ms, mint, maxt)
        .unwrap()
        .into_iter()
        .map(|s| {
            (
                s.labels.to_string(),
                s.samples
                    .iter()
                    .map(|x| {
                        let v = if is_stale_nan(x.v) {
                            "stale".to_string()
                        } else {
                            x.v.to_string()
                        };
                        (x.t, v)
                    })
                    .collect(),
            )
        })
        .collect();
    out.sort();
    out
}

fn all(store: &Store) -> Dump {
    sel(
        store,
        &[m(MatchOp::RegexMatch, "__name__", ".+")],
        i64::MIN,
        i64::MAX,
    )
}

fn tgt() -> Target {
    Target::from_pairs([("job", "j"), ("instance", "i:1")])
}

fn scrape(store: &Store, body: &str, ts: i64) -> crate::IngestReport {
    store
        .ingest_scrape(&tgt(), body.as_bytes(), Format::Text, ts)
        .unwrap()
}

fn snapshot(store: &Store) -> (Stats, Dump) {
    (store.stats(), all(store))
}

#[test]
fn store_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Store>();
}

#[test]
fn second_scrape_hits_the_cache_and_creates_nothing() {
    let s = Store::new(StoreConfig::default());
    let body = "a 1\nb{x=\"1\"} 2\n";
    let r1 = scrape(&s, body, 1000);
    assert_eq!((r1.series_created, r1.samples_appended), (2, 2));
    let r2 = scrape(&s, body, 2000);
    assert_eq!(
        (r2.series_created, r2.samples_appended, r2.stale_markers),
        (0, 2, 0)
    );
    assert_eq!(
        all(&s),
        vec![
            (
                r#"a{instance="i:1", job="j"}"#.into(),
                vec![(1000, "1".into()), (2000, "1".into())]
            ),
            (
                r#"b{instance="i:1", job="j", x="1"}"#.into(),
                vec![(1000, "2".into()), (2000, "2".into())]
            ),
        ]
    );
}

#[test]
fn target_labels_override_body_labels() {
    let s = Store::new(StoreConfig::default());
    scrape(&s, "a{job=\"body\",k=\"v\"} 1\n", 1000);
    assert_eq!(all(&s)[0].0, r#"a{instance="i:1", job="j", k="v"}"#);
}

#[test]
fn empty_label_values_are_dropped_from_identity() {
    let s = Store::new(StoreConfig::default());
    scrape(&s, "a{e=\"\"} 1\n", 1000);
    // The same series written without the empty label, in a later scrape: one series.
    scrape(&s, "a 2\n", 2000);
    assert_eq!(s.stats().series, 1);
}

#[test]
fn vanished_series_get_a_staleness_marker_at_the_next_scrape() {
    let s = Store::new(StoreConfig::default());
    scrape(&s, "a 1\nb 2\n", 1000);
    let r = scrape(&s, "a 3\n", 2000);
    assert_eq!(r.stale_markers, 1);
    // b comes back: no marker for it any more, a new sample.
    let r = scrape(&s, "a 4\nb 5\n", 3000);
    assert_eq!(r.stale_markers, 0);
    let got = sel(&s, &[m(MatchOp::Equal, "__name__", "b")], 0, 10_000);
    assert_eq!(
        got[0].1,
        vec![
            (1000, "2".into()),
            (2000, "stale".into()),
            (3000, "5".into())
        ]
    );
    // a vanished only now: marker at 4000, b keeps going.
    let r = scrape(&s, "b 6\n", 4000);
    assert_eq!(r.stale_markers, 1);
    let got = sel(&s, &[m(MatchOp::Equal, "__name__", "a")], 0, 10_000);
    assert_eq!(got[0].1.last().unwrap(), &(4000, "stale".to_string()));
}

#[test]
fn target_down_marks_every_series_stale() {
    let s = Store::new(StoreConfig::default());
    scrape(&s, "a 1\nb 2\nc 3 500\n", 1000);
    // c carries its own timestamp: exempt from staleness, as in Prometheus.
    assert_eq!(s.mark_target_down(&tgt(), 2000), 2);
    let got = all(&s);
    assert_eq!(got[0].1, vec![(1000, "1".into()), (2000, "stale".into())]);
    assert_eq!(got[1].1, vec![(1000, "2".into()), (2000, "stale".into())]);
    assert_eq!(got[2].1, vec![(500, "3".into())]);
    // Coming back up: series are found again (through the global map) and go on.
    let r = scrape(&s, "a 5\n", 3000);
    assert_eq!((r.series_created, r.samples_appended), (0, 1));
}

#[test]
fn samples_with_timestamps_are_not_stale_marked() {
    let s = Store::new(StoreConfig::default());
    scrape(&s, "a 1 900\nb 2\n", 1000);
    let r = scrape(&s, "x 1\n", 2000);
    assert_eq!(r.stale_markers, 1, "only b");
}

#[test]
fn sorting_by_high_half_groups_equal_halves() {
    // Many equal high halves (in runs and scattered), some huge.
    let mut keys: Vec<u64> = (0..20_000u64)
        .map(|i| ((i * 7919 % 613) << 32 | i) ^ (u64::from(i % 5 == 0) << 63))
        .collect();
    let mut want: Vec<u64> = keys.clone();
    want.sort_unstable();
    crate::scrape::sort_by_high_half(&mut keys);
    let highs: Vec<u64> = keys.iter().map(|k| k >> 32).collect();
    assert!(highs.windows(2).all(|w| w[0] <= w[1]));
    keys.sort_unstable();
    assert_eq!(keys, want);
}

#[test]
fn parse_error_rejects_the_scrape_and_changes_nothing() {
    let s = Store::new(StoreConfig::default());
    scrape(&s, "a 1\n", 1000);
    let before = snapshot(&s);
    let e = s
        .ingest_scrape(&tgt(), b"a 2\nnew 1\nbad{ 1\n", Format::Text, 2000)
        .unwrap_err();
    assert!(matches!(e, IngestError::Parse(_)), "{e}");
    assert_eq!(snapshot(&s), before);
    // The new series staged before the error is not in the cache: it is created now.
    let r = scrape(&s, "a 2\nnew 1\n", 3000);
    assert_eq!(r.series_created, 1);
}

#[test]
fn out_of_order_and_duplicate_timestamps_are_rejected_and_counted() {
    let s = Store::new(StoreConfig::default());
    scrape(&s, "a 1\nb 1\n", 2000);
    // Older scrape time: both samples out of order.
    let r = scrape(&s, "a 5\nb 5\n", 1000);
    assert_eq!((r.out_of_order, r.samples_appended), (2, 0));
    // Same time: a identical (ignored), b different (rejected).
    let r = scrape(&s, "a 1\nb 9\n", 2000);
    assert_eq!(
        (
            r.identical_duplicates,
            r.duplicate_timestamp,
            r.samples_appended
        ),
        (1, 1, 0)
    );
    let c = &s.target_counters()[0].1;
    assert_eq!(
        (
            c.out_of_order,
            c.duplicate_timestamp,
            c.identical_duplicates
        ),
        (2, 1, 1)
    );
    // Nothing was overwritten.
    assert_eq!(all(&s)[1].1, vec![(2000, "1".into())]);
}

#[test]
fn le_and_quantile_are_normalized_only_in_typed_families() {
    let s = Store::new(StoreConfig::default());
    let body =
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_count 2\nh_sum 3\n\
                # TYPE q summary\nq{quantile=\"1\"} 1\n\
                # TYPE g gauge\ng_bucket{le=\"1\"} 1\n\
                u_bucket{le=\"10\"} 1\n";
    scrape(&s, body, 1000);
    let les: Vec<String> = all(&s).into_iter().map(|x| x.0).collect();
    assert!(
        les.contains(&r#"h_bucket{instance="i:1", job="j", le="1.0"}"#.to_string()),
        "{les:?}"
    );
    assert!(les.contains(&r#"h_bucket{instance="i:1", job="j", le="+Inf"}"#.to_string()));
    assert!(les.contains(&r#"q{instance="i:1", job="j", quantile="1.0"}"#.to_string()));
    assert!(les.contains(&r#"g_bucket{instance="i:1", job="j", le="1"}"#.to_string()));
    // "u" follows "# TYPE g gauge" but is another family: left as written.
    assert!(les.contains(&r#"u_bucket{instance="i:1", job="j", le="10"}"#.to_string()));
}

#[test]
fn a_summary_after_a_histogram_keeps_its_quantile_label() {
    // Recent normalized values are remembered by label name and raw value:
    // the summary's `0.5` and `1` are quantiles, not the histogram's `le`.
    let s = Store::new(StoreConfig::default());
    let body = "# TYPE h histogram\nh_bucket{le=\"0.5\"} 1\nh_bucket{le=\"1\"} 2\n\
                h_bucket{le=\"+Inf\"} 2\n# TYPE q summary\nq{quantile=\"0.1\"} 1\n\
                q{quantile=\"0.5\"} 2\nq{quantile=\"1\"} 3\n";
    scrape(&s, body, 1000);
    let got: Vec<String> = all(&s).into_iter().map(|x| x.0).collect();
    for want in [
        r#"h_bucket{instance="i:1", job="j", le="0.5"}"#,
        r#"h_bucket{instance="i:1", job="j", le="1.0"}"#,
        r#"q{instance="i:1", job="j", quantile="0.1"}"#,
        r#"q{instance="i:1", job="j", quantile="0.5"}"#,
        r#"q{instance="i:1", job="j", quantile="1.0"}"#,
    ] {
        assert!(got.contains(&want.to_string()), "{want} not in {got:?}");
    }
    assert_eq!(got.len(), 6, "{got:?}");
}

#[test]
fn metadata_is_kept_per_target_and_answers_metric_type() {
    let s = Store::new(StoreConfig::default());
    let body = "# HELP h Request latency.\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\n# TYPE c counter\nc_total 1\n";
    scrape(&s, body, 1000);
    let md = s.metadata();
    assert_eq!(md.len(), 2);
    assert_eq!(md[1].family, "h");
    assert_eq!(md[1].help.as_deref(), Some("Request latency."));
    assert_eq!(md[1].target, *tgt().labels());
    assert_eq!(s.metric_type("h"), Some(MetricType::Histogram));
    assert_eq!(s.metric_type("h_bucket"), Some(MetricType::Histogram));
    assert_eq!(s.metric_type("c_total"), Some(MetricType::Counter));
    assert_eq!(s.metric_type("nope"), None);
}

#[test]
fn every_limit_rejects_with_its_name_and_value() {
    let cases: Vec<(Limits, &str, LimitKind, usize)> = vec![
        (
            Limits {
                max_series: 2,
                ..Limits::default()
            },
            "a 1\nb 1\nc 1\n",
            LimitKind::MaxSeries,
            3,
        ),
        (
            Limits {
                max_samples_per_scrape: 2,
                ..Limits::default()
            },
            "a 1\nb 1\nc 1\n",
            LimitKind::MaxSamplesPerScrape,
            3,
        ),
        // `__name__` is 8 bytes long and counts too.
        (
            Limits {
                max_label_name_len: 8,
                ..Limits::default()
            },
            "a{abcdefghi=\"1\"} 1\n",
            LimitKind::MaxLabelNameLen,
            9,
        ),
        (
            Limits {
                max_label_value_len: 4,
                ..Limits::default()
            },
            "a{x=\"abcde\"} 1\n",
            LimitKind::MaxLabelValueLen,
            5,
        ),
        // __name__ + x + y + the target's job and instance = 5 labels.
        (
            Limits {
                max_labels_per_series: 4,
                ..Limits::default()
            },
            "a{x=\"1\",y=\"2\"} 1\n",
            LimitKind::MaxLabelsPerSeries,
            5,
        ),
        (
            Limits {
                max_body_bytes: 4,
                ..Limits::default()
            },
            "a 1\nb 1\n",
            LimitKind::MaxBodyBytes,
            8,
        ),
        (
            Limits {
                memory_budget_bytes: 100,
                ..Limits::default()
            },
            "a 1\n",
            LimitKind::MemoryBudget,
            256 + 2,
        ),
    ];
    for (limits, body, kind, value) in cases {
        let s = Store::new(StoreConfig {
            limits,
            ..StoreConfig::default()
        });
        let before = snapshot(&s);
        let e = s
            .ingest_scrape(&tgt(), body.as_bytes(), Format::Text, 1000)
            .unwrap_err();
        match &e {
            IngestError::Limit {
                limit, value: v, ..
            } => {
                assert_eq!((*limit, *v), (kind, value), "{e}");
                assert!(e.to_string().contains(kind.as_str()));
            }
            other => panic!("{kind}: {other}"),
        }
        assert_eq!(snapshot(&s), before, "{kind}");
    }
}

#[test]
fn matchers_of_all_kinds_and_the_empty_value_rule() {
    let s = Store::new(StoreConfig::default());
    scrape(
        &s,
        "x{code=\"200\"} 1\nx{code=\"500\"} 1\nx 1\ny{code=\"2000\"} 1\nz{path=\"a\\nb\"} 1\n",
        1000,
    );
    let names =
        |ms: &[Matcher]| -> Vec<String> { sel(&s, ms, 0, 2000).into_iter().map(|x| x.0).collect() };
    let x = m(MatchOp::Equal, "__name__", "x");
    assert_eq!(
        names(&[x.clone(), m(MatchOp::Equal, "code", "200")]).len(),
        1
    );
    // != "200" also selects the series without code.
    assert_eq!(
        names(&[x.clone(), m(MatchOp::NotEqual, "code", "200")]).len(),
        2
    );
    // Anchored: "2.." does not match "2000".
    assert_eq!(names(&[m(MatchOp::RegexMatch, "code", "2..")]).len(), 1);
    assert_eq!(
        names(&[m(MatchOp::RegexNoMatch, "code", "2..|5..")]).len(),
        3,
        "x without code, y, z"
    );
    // code="" selects series lacking code; code!="" those having it.
    assert_eq!(
        names(&[x.clone(), m(MatchOp::Equal, "code", "")]),
        vec![r#"x{instance="i:1", job="j"}"#]
    );
    assert_eq!(names(&[m(MatchOp::NotEqual, "code", "")]).len(), 3);
    // "." matches a newline (Prometheus 3).
    assert_eq!(names(&[m(MatchOp::RegexMatch, "path", "a.b")]).len(), 1);
    // No matcher narrows: all series; an unknown value: none.
    assert_eq!(names(&[m(MatchOp::RegexMatch, "job", ".*")]).len(), 5);
    assert!(names(&[m(MatchOp::Equal, "code", "404")]).is_empty());
}

#[test]
fn select_returns_only_samples_inside_the_inclusive_window() {
    let s = Store::new(StoreConfig::default());
    for t in 1..=5 {
        scrape(&s, &format!("a {t}\n"), t * 1000);
    }
    let got = sel(&s, &[m(MatchOp::Equal, "__name__", "a")], 2000, 4000);
    assert_eq!(
        got[0].1,
        vec![(2000, "2".into()), (3000, "3".into()), (4000, "4".into())]
    );
    assert!(sel(&s, &[m(MatchOp::Equal, "__name__", "a")], 6000, 9000).is_empty());
}

#[test]
fn ring_keeps_exactly_the_newest_capacity_samples() {
    let s = Store::new(StoreConfig {
        ring_samples: Some(120),
        retention_ms: None,
        ..StoreConfig::default()
    });
    for i in 0..130 {
        scrape(&s, &format!("a {i}\n"), 1000 + i * 15_000);
    }
    let got = all(&s);
    assert_eq!(got[0].1.len(), 120);
    assert_eq!(got[0].1[0], (1000 + 10 * 15_000, "10".into()));
    assert_eq!(s.stats().samples, 120);
}

#[test]
fn gc_drops_series_without_samples_in_retention_and_frees_their_labels() {
    let s = Store::new(StoreConfig {
        retention_ms: Some(60_000),
        ..StoreConfig::default()
    });
    scrape(
        &s,
        "a 1\nonly_once{big=\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"} 1\n",
        0,
    );
    let with = s.stats().label_bytes;
    for i in 1..=3 {
        scrape(&s, "a 1\n", i * 15_000);
    }
    // At 70 s, only_once's samples (0 s and its marker at 15 s) are older than 60 s.
    assert_eq!(s.gc(80_000), 1);
    let st = s.stats();
    assert_eq!(st.series, 1);
    assert!(st.label_bytes < with, "strings of the dropped series freed");
    // a keeps its samples newer than 20 s: 30 s and 45 s.
    assert_eq!(
        all(&s)[0].1,
        vec![(30_000, "1".into()), (45_000, "1".into())]
    );
    // The dropped series can come back (its cache entry was removed too).
    let r = scrape(&s, "a 1\nonly_once{big=\"y\"} 1\n", 90_000);
    assert_eq!(r.series_created, 1);
}

#[test]
fn gc_keeps_every_sample_inside_retention_readable() {
    // Retention 100 s, blocks of 4 samples, rings long enough never to evict:
    // only retention removes samples. `a` is scraped every 10 s from 0 to 300 s
    // with value t/10; `b` from 0 to 150 s, then gone (its staleness marker is
    // at 160 s). GC also runs by itself every 12.5 s of scrape time, and trims
    // scrape timestamps no ring references; a trim one sequence number too far
    // would lose a sample's timestamp below.
    let s = Store::new(StoreConfig {
        retention_ms: Some(100_000),
        ring_samples: Some(1000),
        block_samples: 4,
        ..StoreConfig::default()
    });
    for k in 0..=30i64 {
        let body = if k <= 15 {
            format!("a {k}\nb {k}\n")
        } else {
            format!("a {k}\n")
        };
        scrape(&s, &body, k * 10_000);
    }
    // Cut at 200 s: `a` keeps 200..=300 s, `b` (newest 160 s) is dropped.
    s.gc(300_000);
    let want: Vec<(i64, String)> = (20..=30i64).map(|k| (k * 10_000, k.to_string())).collect();
    let got = all(&s);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1, want);
    // Later scrapes still map onto the trimmed clock.
    scrape(&s, "a 31\n", 310_000);
    let mut want = want;
    want.push((310_000, "31".into()));
    assert_eq!(all(&s)[0].1, want);
}

#[test]
fn timestamped_files_merge_sort_and_dedupe() {
    let s = Store::new(StoreConfig::unbounded());
    let extra = Labels::from_pairs([("src", "f")]);
    let r = s
        .ingest_timestamped(b"a 3 3000\na 1 1000\na 1 1000\n", Format::Text, &extra)
        .unwrap();
    assert_eq!(
        (r.samples_appended, r.identical_duplicates, r.series_created),
        (2, 1, 1)
    );
    // A second file with older and newer samples of the same series: merged.
    let r = s
        .ingest_timestamped(b"a 2 2000\na 4 4000\n# EOF\n", Format::Text, &extra)
        .unwrap();
    assert_eq!(r.samples_appended, 2);
    assert_eq!(
        all(&s)[0].1,
        vec![
            (1000, "1".into()),
            (2000, "2".into()),
            (3000, "3".into()),
            (4000, "4".into())
        ]
    );
    // OpenMetrics timestamps are seconds.
    s.ingest_timestamped(b"b 1 5.5\n# EOF\n", Format::OpenMetrics, &extra)
        .unwrap();
    assert_eq!(
        sel(&s, &[m(MatchOp::Equal, "__name__", "b")], 0, 10_000)[0].1,
        vec![(5500, "1".into())]
    );
}

#[test]
fn timestamped_conflicts_and_missing_timestamps_reject_the_file() {
    let s = Store::new(StoreConfig::unbounded());
    let extra = Labels::empty();
    s.ingest_timestamped(b"a 1 1000\n", Format::Text, &extra)
        .unwrap();
    let before = snapshot(&s);
    let e = s
        .ingest_timestamped(b"b 1 1000\na 2 1000\n", Format::Text, &extra)
        .unwrap_err();
    assert!(
        matches!(e, IngestError::ConflictingSample { t: 1000, .. }),
        "{e}"
    );
    let e = s
        .ingest_timestamped(b"b 1 1000\nb 2 1000\n", Format::Text, &extra)
        .unwrap_err();
    assert!(
        matches!(e, IngestError::ConflictingSample { line: 2, .. }),
        "{e}"
    );
    let e = s
        .ingest_timestamped(b"b 1\n", Format::Text, &extra)
        .unwrap_err();
    assert!(
        matches!(e, IngestError::MissingTimestamp { line: 1 }),
        "{e}"
    );
    assert_eq!(snapshot(&s), before);
}

#[test]
fn append_batch_takes_stale_markers_and_is_atomic() {
    let s = Store::new(StoreConfig::unbounded());
    let a = Labels::from_pairs([("__name__", "a")]);
    let n = s
        .append_batch(vec![
            (a.clone(), 0, 1.0),
            (a.clone(), 60_000, STALE_NAN),
            (a.clone(), 30_000, 2.0),
        ])
        .unwrap();
    assert_eq!(n, 3);
    let got = all(&s);
    assert_eq!(
        got[0].1,
        vec![
            (0, "1".into()),
            (30_000, "2".into()),
            (60_000, "stale".into())
        ]
    );
    let before = snapshot(&s);
    let b = Labels::from_pairs([("__name__", "b")]);
    let e = s
        .append_batch(vec![(b, 0, 1.0), (a, 30_000, 3.0)])
        .unwrap_err();
    assert!(matches!(e, IngestError::ConflictingSample { .. }));
    assert_eq!(snapshot(&s), before);
}

#[test]
fn readers_run_while_a_writer_ingests() {
    use std::sync::atomic::{AtomicBool, Ordering};
    // More series than one commit batch: each scrape is committed over several write
    // locks, and between them readers must not see the part already appended (the
    // `Committing` / `is_pending` path). Below COMMIT_BATCH a scrape commits under
    // one lock and that path never runs.
    let n = 2 * crate::store::COMMIT_BATCH + 1000;
    let s = std::sync::Arc::new(Store::new(StoreConfig::default()));
    let body: String = (0..n).map(|i| format!("m{{i=\"{i}\"}} {i}\n")).collect();
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let w = {
        let (s, stop) = (s.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut k = 0;
            // At least 3 scrapes; then until the reader has met a half-committed
            // scrape a few times (or 200 scrapes, the test then fails below).
            while k < 3 || (!stop.load(Ordering::Relaxed) && k < 200) {
                k += 1;
                s.ingest_scrape(&tgt(), body.as_bytes(), Format::Text, 1000 * k)
                    .unwrap();
            }
            k
        })
    };
    let (mut seen, mut mid_commit) = (0, 0);
    while !w.is_finished() {
        let committing = s.read().committing.is_some();
        let got = s
            .select(&[m(MatchOp::Equal, "__name__", "m")], 0, i64::MAX)
            .unwrap();
        // All-or-nothing per scrape: every series has the same number of samples.
        if let Some(first) = got.first() {
            let k = first.samples.len();
            assert!(
                got.iter().all(|x| x.samples.len() == k),
                "a reader saw half a scrape"
            );
            assert!(got.len() == n, "a reader saw {} of {n} series", got.len());
        }
        if committing && s.read().committing.is_some() {
            mid_commit += 1;
            if mid_commit >= 5 {
                stop.store(true, Ordering::Relaxed);
            }
        }
        seen += 1;
    }
    let scrapes = w.join().unwrap();
    assert!(seen > 0);
    assert!(
        mid_commit > 0,
        "no read ran while a scrape was half committed ({scrapes} scrapes)"
    );
    let kept = usize::try_from(scrapes).unwrap().min(120);
    assert_eq!(s.stats().samples, n * kept);
}

mod lean_vs_full {
    use super::*;
    use proptest::prelude::*;

    const VALUES: &[&str] = &[
        "1",
        "1.5",
        "-2",
        "1e3",
        "1E-3",
        "1e+3",
        "+Inf",
        "-Inf",
        "NaN",
        "01",
        "1.",
        ".5",
        "-0",
        "0x10",
        "1_0",
        "12345678901234567890",
        "2 1000",
        "3 -5",
        "4 99999999999999999999",
        "5  6",
        "7\t8",
        "9 ",
        "x",
    ];
    const SERIES: &[&str] = &["a", "b{x=\"1\"}", "c{y=\"} {\",z=\"2\"}", "d{x=\"\\\"\"}"];

    fn body(lines: &[(usize, usize, bool)]) -> String {
        lines
            .iter()
            .map(|&(s, v, crlf)| {
                let end = if crlf { "\r\n" } else { "\n" };
                format!(
                    "{} {}{end}",
                    SERIES[s % SERIES.len()],
                    VALUES[v % VALUES.len()]
                )
            })
            .collect()
    }

    proptest! {
        #[test]
        fn fast_path_gives_the_same_store_as_the_full_parser(
            scrapes in proptest::collection::vec(
                proptest::collection::vec((0usize..4, 0usize..40, proptest::bool::weighted(0.05)), 0..6), 1..5)
        ) {
            let lean = Store::new(StoreConfig::default());
            let mut full = Store::new(StoreConfig::default());
            full.lean = false;
            let t = tgt();
            for (i, lines) in scrapes.iter().enumerate() {
                // Mostly valid lines: value index >= 23 maps to a plain integer.
                let mut b = String::new();
                for &(s, v, crlf) in lines {
                    if v >= VALUES.len() {
                        b.push_str(&format!("{} {}\n", SERIES[s], v));
                    } else {
                        b.push_str(&body(&[(s, v, crlf)]));
                    }
                }
                let ts = 1000 * (i as i64 + 1);
                let a = lean.ingest_scrape(&t, b.as_bytes(), Format::Text, ts).map_err(|e| e.to_string());
                let f = full.ingest_scrape(&t, b.as_bytes(), Format::Text, ts).map_err(|e| e.to_string());
                prop_assert_eq!(&a, &f, "body {:?}", b);
                prop_assert_eq!(all(&lean), all(&full));
            }
        }
    }
}
