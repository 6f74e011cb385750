//! A series repeated within one scrape. Prometheus keeps the first sample and
//! drops the later ones; the scrape succeeds (checked against the real
//! Prometheus 2.42 scraping a loopback endpoint that served
//! `m{a="1"} 1 / m{a="2"} 2 / m{a="1"} 3 / m{b="x",a="3"} 4 / m{a="3",b="x"} 5`:
//! `up` 1, `m{a="1"}` 1, `m{a="3",b="x"}` 4). Prometheus 3 also counts the
//! dropped ones (`seriesAlreadyScraped` → `ErrDuplicateSampleForTimestamp`,
//! `prometheus_target_scrapes_sample_duplicate_timestamp_total`); here they
//! are `repeated_in_scrape`.

use promlite_model::{is_stale_nan, MatchOp, Matcher, Queryable};

use crate::{Format, Store, StoreConfig, Target};

fn tgt() -> Target {
    Target::from_pairs([("job", "j"), ("instance", "i:1")])
}

fn scrape(store: &Store, body: &str, ts: i64) -> crate::IngestReport {
    store
        .ingest_scrape(&tgt(), body.as_bytes(), Format::Text, ts)
        .unwrap_or_else(|e| panic!("scrape at {ts} rejected: {e}"))
}

/// Value of the one series named `name` (and `x` = `x`, if given) at `t`.
fn value_at(store: &Store, name: &str, x: Option<&str>, t: i64) -> Option<f64> {
    let mut ms = vec![Matcher::new(MatchOp::Equal, "__name__", name).unwrap()];
    if let Some(x) = x {
        ms.push(Matcher::new(MatchOp::Equal, "x", x).unwrap());
    }
    let got = store.select(&ms, t, t).unwrap();
    assert!(got.len() <= 1, "one series, got {got:?}");
    got.first()
        .and_then(|s| s.samples.iter().find(|p| p.t == t))
        .map(|p| p.v)
}

#[test]
fn the_same_line_twice_keeps_the_first_sample() {
    let s = Store::new(StoreConfig::default());
    // A brand-new series repeated (both lines miss the cache).
    let r = scrape(&s, "a 1\nb 1\na 9\n", 1000);
    assert_eq!(value_at(&s, "a", None, 1000), Some(1.0));
    assert_eq!(
        (
            r.samples_in_body,
            r.samples_appended,
            r.series_created,
            r.repeated_in_scrape
        ),
        (3, 2, 2, 1)
    );
    // The steady state: the repeat hits the cached entry of line 1.
    let r = scrape(&s, "a 2\nb 2\na 8\n", 2000);
    assert_eq!(value_at(&s, "a", None, 2000), Some(2.0));
    assert_eq!((r.samples_appended, r.repeated_in_scrape), (2, 1));
    assert_eq!(
        r.out_of_order + r.duplicate_timestamp + r.identical_duplicates,
        0
    );
    // Staleness still works for the repeated series.
    let r = scrape(&s, "b 3\n", 3000);
    assert_eq!(r.stale_markers, 1);
    let c = &s.target_counters()[0].1;
    assert_eq!((c.repeated_in_scrape, c.rejected_scrapes), (2, 0));
}

#[test]
fn another_spelling_of_the_labels_is_a_repeat_too() {
    let s = Store::new(StoreConfig::default());
    let body = "c{x=\"1\",y=\"2\"} 1\nc{y=\"2\",x=\"1\"} 5\nd 1\n";
    let r = scrape(&s, body, 1000);
    assert_eq!((r.series_created, r.repeated_in_scrape), (2, 1));
    assert_eq!(value_at(&s, "c", None, 1000), Some(1.0));
    // Next scrape: line 1 hits the cache, line 2 misses and finds the same
    // existing series.
    let r = scrape(
        &s,
        "c{x=\"1\",y=\"2\"} 2\nc{y=\"2\",x=\"1\"} 6\nd 2\n",
        2000,
    );
    assert_eq!((r.series_created, r.repeated_in_scrape), (0, 1));
    assert_eq!(value_at(&s, "c", None, 2000), Some(2.0));
    // The other spelling first: it is the one kept (line order), the cached
    // spelling after it is the repeat.
    let r = scrape(
        &s,
        "c{y=\"2\",x=\"1\"} 7\nc{x=\"1\",y=\"2\"} 3\nd 3\n",
        3000,
    );
    assert_eq!(r.repeated_in_scrape, 1);
    assert_eq!(value_at(&s, "c", None, 3000), Some(7.0));
    assert_eq!(s.stats().series, 2);
}

#[test]
fn repeats_among_many_new_series_keep_the_first() {
    // Over 4 096 new series take the radix sort of the repeat check.
    let mut body = String::new();
    for i in 0..6000 {
        body.push_str(&format!("m{{x=\"{i}\",y=\"{}\"}} 1\n", i % 7));
    }
    // Line 6001 repeats line 17 (labels in the other order); 6002 line 4000.
    body.push_str("m{y=\"2\",x=\"16\"} 2\nm{x=\"3999\",y=\"2\"} 2\nlast 1\n");
    let s = Store::new(StoreConfig::default());
    let r = scrape(&s, &body, 1000);
    assert_eq!((r.series_created, r.repeated_in_scrape), (6001, 2));
    assert_eq!(value_at(&s, "m", Some("16"), 1000), Some(1.0));
    assert_eq!(value_at(&s, "m", Some("3999"), 1000), Some(1.0));
    // The series after the repeats got the right ids (renumbering).
    assert_eq!(value_at(&s, "last", None, 1000), Some(1.0));
    assert_eq!(s.stats().series, 6001);
}

#[test]
fn a_repeat_is_counted_once_not_also_as_out_of_order() {
    let s = Store::new(StoreConfig::default());
    scrape(&s, "a 1\n", 1000);
    // The target goes down: its cache is emptied, `a` gets a marker at 2000.
    s.mark_target_down(&tgt(), 2000);
    // An older scrape time: both lines miss the cache and find `a`, older
    // than its newest sample. Prometheus: the first is out of order, the
    // second a duplicate of the first.
    let r = scrape(&s, "a 7\na 8\n", 1500);
    assert_eq!(
        (r.out_of_order, r.repeated_in_scrape, r.samples_appended),
        (1, 1, 0)
    );
    // And in order: the first is appended, the second dropped.
    let r = scrape(&s, "a 7\na 8\n", 3000);
    assert_eq!((r.samples_appended, r.repeated_in_scrape), (1, 1));
    assert_eq!(value_at(&s, "a", None, 3000), Some(7.0));
    let stale = s
        .select(
            &[Matcher::new(MatchOp::Equal, "__name__", "a").unwrap()],
            2000,
            2000,
        )
        .unwrap();
    assert!(is_stale_nan(stale[0].samples[0].v));
}

#[test]
fn a_repeat_with_its_own_timestamp_does_not_change_the_first_ones_staleness() {
    let s = Store::new(StoreConfig::default());
    scrape(&s, "a 1\n", 1000);
    // Line 2 repeats `a` (the same cached entry) with a timestamp of its own.
    let r = scrape(&s, "a 2\na 3 1500\n", 2000);
    assert_eq!((r.samples_appended, r.repeated_in_scrape), (1, 1));
    // `a` was scraped without a timestamp, so when it vanishes it is marked
    // stale (series with their own timestamps are not).
    let r = scrape(&s, "b 1\n", 3000);
    assert_eq!(r.stale_markers, 1);
}
