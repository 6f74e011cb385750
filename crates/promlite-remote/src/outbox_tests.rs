//! Outbox tests: order, restart, damage at any byte, disk cap.

use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;

use super::*;

static N: AtomicUsize = AtomicUsize::new(0);

fn tmpdir() -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "promlite-outbox-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = fs::remove_dir_all(&d);
    d
}

fn labels(r: u32) -> Vec<u8> {
    format!("series-{r}").into_bytes()
}

fn resolve(ids: &[u32]) -> Vec<Option<Vec<u8>>> {
    ids.iter().map(|&r| (r != 99).then(|| labels(r))).collect()
}

fn commit(ob: &Outbox, i: i64) -> u64 {
    let s: Vec<CommittedSample> = (0..3)
        .map(|r| CommittedSample {
            series: r,
            t: i * 1000,
            v: i as f64 + f64::from(r) / 10.0,
        })
        .collect();
    ob.append(&s, resolve).unwrap()
}

/// Everything readable now, as (labels, t, v bits).
fn drain(ob: &Outbox, r: &mut Reader) -> (Vec<(Vec<u8>, i64, u64)>, Pos) {
    let mut out = Vec::new();
    loop {
        let (items, pos) = r.read(ob, 1000, Duration::from_millis(1)).unwrap();
        if items.is_empty() {
            return (out, pos);
        }
        out.extend(
            items
                .iter()
                .map(|x| (x.series.labels.clone(), x.t, x.v.to_bits())),
        );
    }
}

fn cfg(dir: &Path) -> OutboxConfig {
    OutboxConfig {
        segment_bytes: 512,
        max_disk_usage: 1 << 20,
        ..OutboxConfig::new(dir)
    }
}

#[test]
fn order_restart_and_ack() {
    let dir = tmpdir();
    let (ob, rep) = Outbox::open(cfg(&dir)).unwrap();
    assert_eq!(rep.pending_samples, 0);
    for i in 0..40 {
        assert_eq!(commit(&ob, i), 3);
    }
    // Series 99 is relabeled away: its sample is not written.
    let s = [
        CommittedSample {
            series: 99,
            t: 1,
            v: 1.0,
        },
        CommittedSample {
            series: 1,
            t: 41_000,
            v: 7.0,
        },
    ];
    assert_eq!(ob.append(&s, resolve).unwrap(), 1);
    let mut r = Reader::new(ob.start());
    let (got, _) = drain(&ob, &mut r);
    assert_eq!(got.len(), 121);
    // Segments were rotated (512-byte segments) and each defines its series.
    assert!(fs::read_dir(&dir).unwrap().count() > 3);
    for (k, (l, t, v)) in got.iter().take(120).enumerate() {
        let (i, s) = (k as i64 / 3, k as u32 % 3);
        assert_eq!(
            (l.clone(), *t, *v),
            (
                labels(s),
                i * 1000,
                (i as f64 + f64::from(s) / 10.0).to_bits()
            )
        );
    }
    assert_eq!(got[120], (labels(1), 41_000, 7f64.to_bits()));
    // Restart without an ack: everything again.
    drop(ob);
    let (ob, rep) = Outbox::open(cfg(&dir)).unwrap();
    assert_eq!(rep.pending_samples, 121);
    assert!(rep.warnings.is_empty(), "{:?}", rep.warnings);
    let mut r = Reader::new(ob.start());
    let (first, _) = r.read(&ob, 50, Duration::from_millis(1)).unwrap();
    let (_, pos) = (first.len(), r.pos);
    // Ack what was read, with 9 in flight; restart: the rest, 9 counted as resent.
    ob.ack(pos, 9).unwrap();
    drop(ob);
    let (ob, rep) = Outbox::open(cfg(&dir)).unwrap();
    assert_eq!(rep.pending_samples, 121 - first.len() as u64);
    assert_eq!(rep.resent_samples, 9);
    let mut r = Reader::new(ob.start());
    let (rest, _) = drain(&ob, &mut r);
    assert_eq!(rest.len(), 121 - first.len());
    assert_eq!(rest.last(), got.last());
    // New commits after a restart are read after the old ones.
    commit(&ob, 100);
    let (more, _) = drain(&ob, &mut r);
    assert_eq!(more.len(), 3);
    assert_eq!(more[0].1, 100_000);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn disk_cap_drops_oldest_and_counts_exactly() {
    let dir = tmpdir();
    let c = OutboxConfig {
        segment_bytes: 1 << 20,
        max_disk_usage: 8 * 1024, // segments of 1 KiB (an eighth)
        ..OutboxConfig::new(&dir)
    };
    let (ob, _) = Outbox::open(c).unwrap();
    // Read the first 30 samples (in flight: not dropped by the cap).
    for i in 0..10 {
        commit(&ob, i);
    }
    let mut r = Reader::new(ob.start());
    let (taken, _) = r.read(&ob, 30, Duration::from_millis(1)).unwrap();
    assert_eq!(taken.len(), 30);
    for i in 10..500 {
        commit(&ob, i);
    }
    let dropped = ob.dropped_disk_full();
    let (pending, bytes) = ob.pending();
    assert!(dropped > 0);
    assert!(bytes <= 8 * 1024 + 1024, "{bytes}");
    assert_eq!(
        dropped + pending + 30,
        1500,
        "every sample is sent, pending or dropped"
    );
    let (rest, _) = drain(&ob, &mut r);
    assert_eq!(rest.len() as u64, pending);
    // What is left is the newest data, in order.
    assert_eq!(rest.last().unwrap().1, 499_000);
    assert!(rest.windows(2).all(|w| w[0].1 <= w[1].1));
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bit_flip_cuts_the_segment_there() {
    let dir = tmpdir();
    let (ob, _) = Outbox::open(OutboxConfig::new(&dir)).unwrap();
    for i in 0..10 {
        commit(&ob, i);
    }
    drop(ob);
    let seg = seg_path(&dir, 1);
    let mut data = fs::read(&seg).unwrap();
    let mid = data.len() / 2;
    data[mid] ^= 0x40;
    fs::write(&seg, &data).unwrap();
    let (ob, rep) = Outbox::open(OutboxConfig::new(&dir)).unwrap();
    assert_eq!(rep.warnings.len(), 1, "{:?}", rep.warnings);
    assert!(
        rep.warnings[0].contains("CRC mismatch"),
        "{:?}",
        rep.warnings
    );
    assert!(rep.pending_samples < 30 && rep.pending_samples > 0);
    let mut r = Reader::new(ob.start());
    let (got, _) = drain(&ob, &mut r);
    assert_eq!(got.len() as u64, rep.pending_samples);
    fs::remove_dir_all(&dir).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// A crash can leave a segment cut at any byte: reopening keeps exactly
    /// the commits wholly written before the cut, never panics, and warns
    /// unless the cut falls on a record boundary.
    #[test]
    fn crash_at_any_byte_keeps_whole_commits(commits in 1usize..12, cut_frac in 0.0f64..1.0) {
        let dir = tmpdir();
        let (ob, _) = Outbox::open(OutboxConfig::new(&dir)).unwrap();
        let mut ends = vec![0u64];
        for i in 0..commits {
            commit(&ob, i as i64);
            ends.push(fs::metadata(seg_path(&dir, 1)).unwrap().len());
        }
        drop(ob);
        let len = *ends.last().unwrap();
        let cut = (len as f64 * cut_frac) as u64;
        OpenOptions::new().write(true).open(seg_path(&dir, 1)).unwrap().set_len(cut).unwrap();
        let (ob, rep) = Outbox::open(OutboxConfig::new(&dir)).unwrap();
        let whole = ends.iter().filter(|&&e| e > 0 && e <= cut).count();
        prop_assert_eq!(rep.pending_samples, 3 * whole as u64);
        if ends.contains(&cut) {
            prop_assert!(rep.warnings.is_empty(), "{:?}", rep.warnings);
        }
        let mut r = Reader::new(ob.start());
        let (got, _) = drain(&ob, &mut r);
        prop_assert_eq!(got.len(), 3 * whole);
        for (k, g) in got.iter().enumerate() {
            prop_assert_eq!(g.1, (k / 3) as i64 * 1000);
        }
        fs::remove_dir_all(&dir).unwrap();
    }
}
