//! Ingest benchmark: consecutive kube-controller-manager scrapes from
//! `../shared/tools/gen-kcm` into a [`Store`] (parse + cache lookup + append).
//!
//! Measured (group `ingest/kcm-<instances>x<queues>`):
//! * `parse-only`: the exposition parser alone over one scrape (reference floor);
//! * `steady`: one more scrape of the same target into a store that already has
//!   its series (the cache hits), alternating two real scrape bodies at
//!   increasing times;
//! * `first`: the first scrape into an empty store (every series is new).
//!
//! Throughput is in samples (one per sample line). After the timing, rings are
//! filled (`PROMLITE_BENCH_FILL` scrapes, default 121 ≥ the 120-sample ring) and
//! the store's stats are printed as `FILLED {json}` on stderr: bytes/sample of
//! sample data and bytes/series beyond label strings, with every ring full.
//!
//! Run: `cargo bench -p promlite --bench ingest` (the high-cardinality preset:
//! 200 instances × 200 queues, 1.45 M series, 372 MB per scrape; data generated
//! once into `target/bench-data/`). Smaller and faster:
//! `PROMLITE_BENCH_INSTANCES=20 PROMLITE_BENCH_QUEUES=50 cargo bench -p promlite --bench ingest`.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{criterion_main, Criterion, Throughput};
use promlite::expfmt::{Event, Format, Parser};
use promlite::store::{Store, StoreConfig, Target};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Three text scrapes (30 s apart) of `instances` × `queues`, generated once.
fn data() -> (String, Vec<Vec<u8>>) {
    let instances = env_usize("PROMLITE_BENCH_INSTANCES", 200);
    let queues = env_usize("PROMLITE_BENCH_QUEUES", 200);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = root.join(format!("target/bench-data/kcm-{instances}x{queues}"));
    let files = |d: &PathBuf| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(d)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "prom"))
            .collect();
        v.sort();
        v
    };
    if files(&dir).len() < 3 {
        let gen = root.join("../shared/tools/gen-kcm");
        let status = Command::new("python3")
            .arg(gen)
            .args([
                "--instances",
                &instances.to_string(),
                "--queues",
                &queues.to_string(),
            ])
            .args([
                "--scrapes",
                "3",
                "--seed",
                "bench",
                "--restart-prob",
                "0",
                "-q",
                "--out",
            ])
            .arg(&dir)
            .status()
            .expect("python3 ../shared/tools/gen-kcm");
        assert!(status.success(), "gen-kcm failed");
    }
    let bodies: Vec<Vec<u8>> = files(&dir)
        .iter()
        .take(3)
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    (format!("kcm-{instances}x{queues}"), bodies)
}

fn count_samples(body: &[u8]) -> usize {
    let mut p = Parser::new(body, Format::Text);
    let mut n = 0;
    while let Some(ev) = p.next_event() {
        if let Ok(Event::Sample(_)) = ev {
            n += 1;
        }
    }
    n
}

fn bench(c: &mut Criterion) {
    let (name, bodies) = data();
    let samples = count_samples(&bodies[0]);
    let target = Target::from_pairs([("job", "bench")]);
    let mut g = c.benchmark_group(format!("ingest/{name}"));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.warm_up_time(Duration::from_secs(1));
    g.throughput(Throughput::Elements(samples as u64));

    g.bench_function("parse-only", |b| {
        b.iter(|| assert_eq!(count_samples(&bodies[0]), samples));
    });

    let store = Store::new(StoreConfig::default());
    store
        .ingest_scrape(&target, &bodies[0], Format::Text, 0)
        .unwrap();
    let mut k = 0i64;
    g.bench_function("steady", |b| {
        b.iter(|| {
            k += 1;
            let r = store
                .ingest_scrape(
                    &target,
                    &bodies[1 + (k as usize % 2)],
                    Format::Text,
                    k * 30_000,
                )
                .unwrap();
            assert_eq!(r.samples_appended, samples);
        });
    });
    drop(store);

    g.bench_function("first", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let store = Store::new(StoreConfig::default());
                let start = Instant::now();
                let r = store
                    .ingest_scrape(&target, &bodies[0], Format::Text, 0)
                    .unwrap();
                total += start.elapsed();
                assert_eq!(r.series_created, samples);
                drop(store);
            }
            total
        });
    });
    g.finish();

    // Rings full: bytes per sample and per series.
    let fill = env_usize("PROMLITE_BENCH_FILL", 121);
    let store = Store::new(StoreConfig::default());
    let start = Instant::now();
    for k in 0..fill {
        store
            .ingest_scrape(&target, &bodies[k % 3], Format::Text, k as i64 * 30_000)
            .unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    let st = store.stats();
    eprintln!(
        "FILLED {name}: {fill} scrapes in {secs:.1} s ({:.0} ns/sample) {}",
        secs * 1e9 / (fill * samples) as f64,
        serde_json::to_string(&st).unwrap()
    );
}

#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::bench);
}
use group::benches;
criterion_main!(benches);
