//! Snapshot and log loading on arbitrary bytes: never a panic, and whatever
//! loads is a consistent store (its own snapshot reloads to the same series
//! and samples).
//!
//! The first byte picks the mode: raw bytes as a snapshot; raw bytes as a
//! log segment; the bytes as one log record's payload (CRC made right, so
//! the decoder and the replayed operation run); a valid snapshot with bytes
//! overwritten and its CRCs recomputed (so the section decoders run).
#![no_main]

use libfuzzer_sys::fuzz_target;
use promlite::model::{MatchOp, Matcher, Queryable};
use promlite::store::{Format, Store, StoreConfig, Target};
use promlite_store::fuzzing;

fn cfg() -> StoreConfig {
    StoreConfig {
        ring_samples: Some(8),
        retention_ms: None,
        block_samples: 4,
        ..StoreConfig::default()
    }
}

fn dump(s: &Store) -> Vec<(String, Vec<(i64, u64)>)> {
    let m = Matcher::new(MatchOp::RegexMatch, "__name__", ".*").unwrap();
    let mut v: Vec<_> = s
        .select(&[m], i64::MIN, i64::MAX)
        .unwrap()
        .into_iter()
        .map(|x| {
            (
                x.labels.to_string(),
                x.samples.iter().map(|s| (s.t, s.v.to_bits())).collect(),
            )
        })
        .collect();
    v.sort();
    v
}

fn base_snapshot() -> Vec<u8> {
    let s = Store::new(cfg());
    let t = Target::from_pairs([("job", "j"), ("instance", "i")]);
    let bodies = [
        "# TYPE a counter\n# HELP a Help.\na{x=\"1\"} 1\na{x=\"2\"} 2\nb 3 1000\n",
        "a{x=\"1\"} 2\n",
        "a{x=\"1\"} 3\na{x=\"3\"} 1.5\n",
    ];
    for (k, b) in bodies.iter().enumerate() {
        s.ingest_scrape(&t, b.as_bytes(), Format::Text, 15_000 * (k as i64 + 1))
            .unwrap();
    }
    s.mark_target_down(&t, 60_000);
    fuzzing::snapshot_bytes(&s)
}

fn check(s: &Store) {
    let before = dump(s);
    let again = fuzzing::snapshot_bytes(s);
    let (s2, damage) = fuzzing::load_snapshot(&again, cfg());
    assert!(damage.is_none(), "own snapshot damaged: {damage:?}");
    assert_eq!(dump(&s2), before);
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 4 {
        0 => {
            let (s, _) = fuzzing::load_snapshot(rest, cfg());
            check(&s);
        }
        1 => {
            let s = Store::new(cfg());
            fuzzing::replay_log(&s, rest);
            check(&s);
        }
        2 => {
            let s = Store::new(cfg());
            let (n, _) = fuzzing::replay_log(&s, &fuzzing::frame_record(rest));
            assert!(n <= 1);
            check(&s);
        }
        _ => {
            let mut b = base_snapshot();
            for pair in rest.chunks(3) {
                if let [hi, lo, val] = *pair {
                    let at = usize::from(u16::from_le_bytes([lo, hi])) % b.len();
                    b[at] = val;
                }
            }
            fuzzing::reseal_snapshot(&mut b);
            let (s, _) = fuzzing::load_snapshot(&b, cfg());
            check(&s);
        }
    }
});
