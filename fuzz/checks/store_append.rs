//! Feeds arbitrary bodies to a store as a sequence of scrapes of two targets (and,
//! for some inputs, as a timestamped data file): nothing may panic, and a rejected
//! ingest must leave the store exactly as it was (stats and every selected sample).
//!
//! Input: byte 0 picks the format and small limits; the rest is split at `\0` into
//! up to 4 bodies, each ingested in turn at increasing (sometimes equal) times.
//!
//! Run from fuzz/: `RUSTC_BOOTSTRAP=1 cargo fuzz run store_append -- -max_total_time=600`
//! (seed corpus: `mkdir -p corpus/store_append && cp ../../shared/fixtures/real/*.prom corpus/store_append/`).
//!
//! Shared by the fuzz target `fuzz/fuzz_targets/store_append.rs` and by the replay of kept
//! inputs in `tests/fuzz_regressions.rs` (`fuzz/regressions/store_append/`).
use promlite::expfmt::Format;
use promlite::model::{Labels, MatchOp, Matcher, Queryable};
use promlite::store::{Limits, Store, StoreConfig, Target};

fn dump(store: &Store) -> Vec<(Labels, Vec<(i64, u64)>)> {
    let all = Matcher::new(MatchOp::RegexMatch, "__name__", ".*").unwrap();
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

/// Runs one input through the target's checks; panics on a finding.
pub fn check(data: &[u8]) {
    let Some((&ctl, rest)) = data.split_first() else {
        return;
    };
    let format = if ctl & 1 == 0 {
        Format::Text
    } else {
        Format::OpenMetrics
    };
    let limits = Limits::default()
        .with_max_series(if ctl & 2 != 0 { 5 } else { 1000 })
        .with_max_samples_per_scrape(if ctl & 4 != 0 { 6 } else { 1000 })
        .with_max_label_value_len(if ctl & 8 != 0 { 8 } else { 1024 });
    let store = Store::new(
        StoreConfig::default()
            .with_ring_samples(Some(1 + (ctl as usize >> 5)))
            .with_block_samples(1 + (ctl >> 4) % 4)
            .with_limits(limits),
    );
    let targets = [
        Target::from_pairs([("job", "a")]),
        Target::from_pairs([("job", "b"), ("instance", "x")]),
    ];
    for (i, body) in rest.split(|&b| b == 0).take(4).enumerate() {
        let before = (store.stats(), dump(&store));
        let res = if ctl & 16 != 0 && i == 3 {
            store.ingest_timestamped(body, format, &Labels::empty())
        } else {
            let ts = 1_000_000 + (i as i64 / 2) * 15_000;
            store.ingest_scrape(&targets[i % 2], body, format, ts)
        };
        if res.is_err() {
            assert_eq!(
                (store.stats(), dump(&store)),
                before,
                "a rejected ingest changed the store"
            );
        }
        if ctl & 64 != 0 && i == 1 {
            store.mark_target_down(&targets[0], 1_100_000);
        }
    }
    store.gc(2_000_000_000);
}
