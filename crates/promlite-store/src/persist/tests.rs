//! Persistence tests: round trips against a store that never stopped,
//! damaged files, and random scrape/snapshot/crash sequences.

use std::fs;
use std::path::{Path, PathBuf};

use promlite_model::{Labels, MatchOp, Matcher, Queryable};
use proptest::prelude::*;

use super::wal::{self, Op};
use super::*;
use crate::{Format, Store, StoreConfig, TargetCounters};

/// A fresh directory under the system temp dir, removed on drop.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "promlite-persist-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&p);
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

type Dump = Vec<(String, Vec<(i64, u64)>)>;

/// Every series with its samples (values by bits: stale markers compare).
fn dump(s: &Store) -> Dump {
    let m = Matcher::new(MatchOp::RegexMatch, "__name__", ".*").unwrap();
    let mut v: Dump = s
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

fn state(s: &Store) -> (Dump, Vec<(Labels, TargetCounters)>, String) {
    (dump(s), s.target_counters(), format!("{:?}", s.metadata()))
}

fn cfg() -> StoreConfig {
    StoreConfig {
        ring_samples: Some(6),
        retention_ms: None,
        block_samples: 4,
        ..StoreConfig::default()
    }
}

fn apply_all(s: &Store, ops: &[Op]) {
    for op in ops {
        assert!(recover::apply(s, op.clone()), "model refused {op:?}");
    }
}

fn scrape(t: &str, body: &str, ts: i64) -> Op {
    Op::Scrape {
        target: Labels::from_pairs([("job", "j"), ("instance", t)]),
        format: Format::Text,
        ts,
        body: body.as_bytes().to_vec(),
    }
}

/// Hand-made history: metadata, a series going stale, a target down and
/// back, a counter reset, a timestamped file, a batch with a stale marker.
fn history() -> Vec<Op> {
    let mut v = vec![
        scrape(
            "a",
            "# TYPE req_total counter\n# HELP req_total Requests.\nreq_total{code=\"200\"} 1\nreq_total{code=\"500\"} 1\nup_x 1\n",
            15_000,
        ),
        scrape("b", "req_total{code=\"200\"} 7\n", 15_000),
        scrape("a", "req_total{code=\"200\"} 3\nup_x 1\n", 30_000),
        Op::Down {
            target: Labels::from_pairs([("job", "j"), ("instance", "b")]),
            ts: 30_000,
        },
        Op::Timestamped {
            extra: Labels::from_pairs([("src", "file")]),
            format: Format::Text,
            body: b"# TYPE f gauge\nf 1 1000\nf 2 2000\n".to_vec(),
        },
        Op::Batch(vec![
            (Labels::from_pairs([("__name__", "bt")]), 5_000, 1.0),
            (
                Labels::from_pairs([("__name__", "bt")]),
                6_000,
                promlite_model::STALE_NAN,
            ),
        ]),
        scrape("b", "req_total{code=\"200\"} 1\n", 45_000),
    ];
    for k in 0..8 {
        v.push(scrape(
            "a",
            &format!(
                "req_total{{code=\"200\"}} {}\nup_x 1\nreq_total{{code=\"404\"}} {k} 123456\n",
                4 + k
            ),
            60_000 + k * 15_000,
        ));
    }
    v
}

/// What the next scrapes after a restart must see: `up_x` gone (a stale
/// marker is due) and `req_total{code="500"}` back.
fn after() -> Vec<Op> {
    vec![
        scrape(
            "a",
            "req_total{code=\"200\"} 20\nreq_total{code=\"500\"} 2\n",
            300_000,
        ),
        scrape("b", "req_total{code=\"200\"} 2\n", 300_000),
    ]
}

#[test]
fn reopen_equals_a_store_that_never_stopped() {
    let ops = history();
    let model = Store::new(cfg());
    apply_all(&model, &ops);
    for split in [0, 3, 7, ops.len()] {
        let d = TempDir::new("reopen");
        {
            let (s, p) = Store::open(&d.0, cfg()).unwrap();
            assert!(p.recovery().is_clean() && !p.recovery().snapshot_found);
            apply_all(&s, &ops[..split]);
            p.snapshot(&s).unwrap();
            apply_all(&s, &ops[split..]);
            // Dropped without close: the tail is only in the log.
        }
        let (s, p) = Store::open(&d.0, cfg()).unwrap();
        let r = p.recovery().clone();
        assert!(r.is_clean(), "{r}");
        assert_eq!(r.records_replayed as usize, ops.len() - split, "{r}");
        assert_eq!(state(&s), state(&model), "split {split}");
        // Staleness state survived: the next scrapes write the same markers.
        let m2 = Store::new(cfg());
        apply_all(&m2, &ops);
        apply_all(&m2, &after());
        apply_all(&s, &after());
        assert_eq!(state(&s), state(&m2), "split {split}, after");
        // And once more through a clean close.
        p.close(&s).unwrap();
        let (s, p) = Store::open(&d.0, cfg()).unwrap();
        assert_eq!(p.recovery().records_replayed, 0);
        assert!(p.recovery().scrape_state);
        assert_eq!(state(&s), state(&m2));
    }
}

#[test]
fn the_snapshot_carries_the_scrape_state_itself() {
    // Everything in the snapshot, nothing in the log: staleness after the
    // restart comes from the snapshot's per-target section alone.
    let d = TempDir::new("state");
    let ops = history();
    {
        let (s, p) = Store::open(&d.0, cfg()).unwrap();
        apply_all(&s, &ops);
        p.close(&s).unwrap();
    }
    let (s, p) = Store::open(&d.0, cfg()).unwrap();
    assert_eq!(p.recovery().records_replayed, 0);
    apply_all(&s, &after());
    let m = Store::new(cfg());
    apply_all(&m, &ops);
    apply_all(&m, &after());
    let up = |s: &Store| {
        dump(s)
            .into_iter()
            .find(|x| x.0.starts_with("up_x"))
            .unwrap()
            .1
    };
    // Hand-checked: up_x's last sample is the stale marker at 300 s.
    assert_eq!(
        up(&s).last(),
        Some(&(300_000, promlite_model::STALE_NAN.to_bits()))
    );
    assert_eq!(state(&s), state(&m));
}

fn seg_files(dir: &Path) -> Vec<PathBuf> {
    wal::list_segments(dir)
        .unwrap()
        .into_iter()
        .map(|n| wal::segment_path(dir, n))
        .collect()
}

/// The store is consistent: every series it holds equals the same series in
/// `full` on a suffix-free prefix basis (damage loses whole series or whole
/// operations, never changes a sample).
fn assert_subset(got: &Dump, full: &Dump) {
    for (l, s) in got {
        let f = full
            .iter()
            .find(|x| &x.0 == l)
            .unwrap_or_else(|| panic!("{l} invented"));
        assert!(
            f.1.starts_with(s) || f.1 == *s,
            "{l}: {s:?} not a prefix of {:?}",
            f.1
        );
    }
}

#[test]
fn truncated_or_flipped_snapshot_is_reported_and_the_rest_loads() {
    let ops = history();
    let full = Store::new(cfg());
    apply_all(&full, &ops);
    let full = dump(&full);
    let d = TempDir::new("snapdmg");
    {
        let (s, p) = Store::open(&d.0, cfg()).unwrap();
        apply_all(&s, &ops);
        p.close(&s).unwrap();
    }
    let good = fs::read(d.0.join(SNAPSHOT_FILE)).unwrap();
    let mut cases: Vec<(String, Vec<u8>)> = Vec::new();
    for cut in [
        0,
        5,
        23,
        24,
        30,
        good.len() / 2,
        good.len() - 13,
        good.len() - 1,
    ] {
        cases.push((format!("cut at {cut}"), good[..cut].to_vec()));
    }
    for at in [3, 10, 30, good.len() / 2, good.len() - 14] {
        let mut b = good.clone();
        b[at] ^= 0x10;
        cases.push((format!("bit flipped at {at}"), b));
    }
    for (what, bytes) in cases {
        let d2 = TempDir::new("snapcase");
        fs::create_dir_all(&d2.0).unwrap();
        fs::write(d2.0.join(SNAPSHOT_FILE), &bytes).unwrap();
        let (s, p) = Store::open(&d2.0, cfg()).unwrap();
        let r = p.recovery().clone();
        let dmg = r
            .first_error()
            .unwrap_or_else(|| panic!("{what}: no damage reported"));
        assert!(dmg.offset as usize <= bytes.len(), "{what}: {dmg}");
        assert!(dmg.moved_to.as_ref().is_some_and(|p| p.exists()), "{what}");
        let got = dump(&s);
        assert_eq!(got.len(), r.snapshot_series, "{what}: {r}");
        assert_subset(&got, &full);
        // The recovered state was written as a fresh, clean snapshot.
        drop(p);
        let (s, p) = Store::open(&d2.0, cfg()).unwrap();
        assert!(p.recovery().is_clean(), "{what}: {}", p.recovery());
        assert_eq!(dump(&s), got, "{what}");
    }
}

#[test]
fn truncated_or_flipped_log_keeps_the_records_before_the_damage() {
    let ops = history();
    let d = TempDir::new("logdmg");
    let mut ends = Vec::new();
    {
        let (s, p) = Store::open(&d.0, cfg()).unwrap();
        for op in &ops {
            assert!(recover::apply(&s, op.clone()));
            ends.push(p.status().bytes);
        }
    }
    let seg = seg_files(&d.0).pop().unwrap();
    let good = fs::read(&seg).unwrap();
    assert_eq!(*ends.last().unwrap() as usize, good.len());
    for (what, bytes, kept) in [
        ("cut mid-record", good[..ends[4] as usize + 5].to_vec(), 5),
        ("cut in a header", good[..ends[2] as usize + 3].to_vec(), 3),
        (
            "bit flip",
            {
                let mut b = good.clone();
                b[ends[6] as usize + 12] ^= 4;
                b
            },
            7,
        ),
    ] {
        let d2 = TempDir::new("logcase");
        fs::create_dir_all(&d2.0).unwrap();
        fs::write(d2.0.join(seg.file_name().unwrap()), &bytes).unwrap();
        let (s, p) = Store::open(&d2.0, cfg()).unwrap();
        let r = p.recovery().clone();
        assert_eq!(r.records_replayed, kept as u64, "{what}: {r}");
        let dmg = r.first_error().unwrap();
        assert_eq!(dmg.offset, ends[kept - 1], "{what}: {r}");
        assert_eq!(
            dmg.bytes_dropped as usize,
            bytes.len() - ends[kept - 1] as usize
        );
        let m = Store::new(cfg());
        apply_all(&m, &ops[..kept]);
        assert_eq!(state(&s), state(&m), "{what}");
        drop(p);
        let (s, p) = Store::open(&d2.0, cfg()).unwrap();
        assert!(p.recovery().is_clean(), "{}", p.recovery());
        assert_eq!(state(&s), state(&m), "{what}");
    }
}

#[test]
fn a_damaged_log_segment_stops_replay_of_later_ones() {
    let ops = history();
    let d = TempDir::new("segs");
    {
        let (s, _p) = Store::open(&d.0, cfg()).unwrap();
        apply_all(&s, &ops[..4]);
    }
    {
        let (s, _p) = Store::open(&d.0, cfg()).unwrap();
        apply_all(&s, &ops[4..]);
    }
    let segs = seg_files(&d.0);
    assert_eq!(segs.len(), 2);
    let mut b = fs::read(&segs[0]).unwrap();
    let n = b.len();
    b[n - 1] ^= 1;
    fs::write(&segs[0], &b).unwrap();
    let (s, p) = Store::open(&d.0, cfg()).unwrap();
    let r = p.recovery();
    assert_eq!((r.records_replayed, r.segments_skipped), (3, 1), "{r}");
    let m = Store::new(cfg());
    apply_all(&m, &ops[..3]);
    assert_eq!(state(&s), state(&m));
    assert!(r.to_string().contains("DAMAGED"), "{r}");
}

#[derive(Debug, Clone)]
enum Step {
    /// Target, which of 6 series it reports (bit mask), value seed.
    Scrape(u8, u8, u16),
    Down(u8),
    Batch(u8, u16),
    Gc,
    Snapshot,
    /// Kill, cutting the log's last segment at this fraction (per mille)
    /// of its length, then reopen.
    Crash(u16),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (0u8..3, any::<u8>(), any::<u16>()).prop_map(|(t, m, v)| Step::Scrape(t, m, v)),
        1 => (0u8..3).prop_map(Step::Down),
        1 => (0u8..4, any::<u16>()).prop_map(|(s, v)| Step::Batch(s, v)),
        1 => Just(Step::Gc),
        2 => Just(Step::Snapshot),
        2 => (0u16..=1000).prop_map(Step::Crash),
    ]
}

fn op_of(step: &Step, now: i64) -> Option<Op> {
    Some(match *step {
        Step::Scrape(t, mask, v) => {
            let mut body = String::new();
            for k in 0..6 {
                if mask & (1 << k) != 0 {
                    body += &format!("m{{k=\"{k}\"}} {}\n", f64::from(v) / 7.0 + f64::from(k));
                }
            }
            scrape(&t.to_string(), &body, now)
        }
        Step::Down(t) => Op::Down {
            target: Labels::from_pairs([("job", "j"), ("instance", &*t.to_string())]),
            ts: now,
        },
        Step::Batch(s, v) => Op::Batch(vec![(
            Labels::from_pairs([("__name__", "b"), ("s", &*s.to_string())]),
            now,
            f64::from(v),
        )]),
        Step::Gc => Op::Gc(now - 40_000),
        _ => return None,
    })
}

fn gc_cfg() -> StoreConfig {
    StoreConfig {
        retention_ms: Some(60_000),
        ..cfg()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// After any sequence of operations, snapshots and crashes (the log cut
    /// at any byte), the reopened store equals a store that was never
    /// persisted, fed exactly the operations that survived: those in a
    /// snapshot, and the log records wholly before the cut.
    #[test]
    fn crash_anywhere_equals_the_model(steps in prop::collection::vec(step(), 1..40)) {
        let d = TempDir::new("prop");
        let opts = PersistOptions { fsync: FsyncPolicy::Never, now_ms: None };
        let (mut s, mut p) = Persistence::open(&d.0, gc_cfg(), opts.clone()).unwrap();
        let mut kept: Vec<Op> = Vec::new();
        let mut pending: Vec<(u64, Op)> = Vec::new();
        let mut now = 0i64;
        for step in &steps {
            now += 10_000;
            match step {
                Step::Snapshot => {
                    p.snapshot(&s).unwrap();
                    kept.extend(pending.drain(..).map(|x| x.1));
                }
                Step::Crash(per_mille) => {
                    let seg = wal::segment_path(&d.0, p.status().segment);
                    drop(p);
                    let len = fs::metadata(&seg).unwrap().len();
                    let cut = len * u64::from(*per_mille) / 1000;
                    let f = fs::OpenOptions::new().write(true).open(&seg).unwrap();
                    f.set_len(cut).unwrap();
                    drop(f);
                    kept.extend(pending.drain(..).filter(|x| x.0 <= cut).map(|x| x.1));
                    (s, p) = Persistence::open(&d.0, gc_cfg(), opts.clone()).unwrap();
                    // Reopening collects at the newest sample's time.
                    let model = Store::new(gc_cfg());
                    apply_all(&model, &kept);
                    if let Some(t) = recover::newest_time(&model) {
                        model.gc(t);
                        kept.push(Op::Gc(t));
                    }
                    prop_assert_eq!(state(&s), state(&model), "{}", p.recovery());
                    // Reopening's own gc is in the model's ops, not the log.
                }
                _ => {
                    let op = op_of(step, now).unwrap();
                    if recover::apply(&s, op.clone()) {
                        pending.push((p.status().bytes, op));
                    }
                }
            }
        }
        kept.extend(pending.drain(..).map(|x| x.1));
        drop(p);
        let (s, p) = Persistence::open(&d.0, gc_cfg(), opts).unwrap();
        let model = Store::new(gc_cfg());
        apply_all(&model, &kept);
        if let Some(t) = recover::newest_time(&model) {
            model.gc(t);
        }
        prop_assert!(p.recovery().is_clean(), "{}", p.recovery());
        prop_assert_eq!(state(&s), state(&model));
    }
}
