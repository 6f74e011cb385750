//! Snapshot and restart figures on the high-cardinality window: fills a store
//! with kube-controller-manager scrapes from `../shared/tools/gen-kcm` (as
//! `benches/ingest.rs` does; data generated once into
//! `target/bench-data/kcm-<instances>x<queues>`), then times
//! [`Persistence::snapshot`] and [`Persistence::open`] and prints the bytes on
//! disk per sample, and the log's bytes per scrape.
//!
//! ```text
//! cargo run --release -p promlite-store --example persist_figures
//! PROMLITE_BENCH_INSTANCES=20 PROMLITE_BENCH_QUEUES=50 PROMLITE_BENCH_FILL=121 cargo run ...
//! ```

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use promlite_store::{Format, FsyncPolicy, PersistOptions, Persistence, StoreConfig, Target};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let instances = env_usize("PROMLITE_BENCH_INSTANCES", 200);
    let queues = env_usize("PROMLITE_BENCH_QUEUES", 200);
    let fill = env_usize("PROMLITE_BENCH_FILL", 121);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let data = root.join(format!("target/bench-data/kcm-{instances}x{queues}"));
    let list = || -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(&data)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "prom"))
            .collect();
        v.sort();
        v
    };
    if list().len() < 3 {
        let st = Command::new("python3")
            .arg(root.join("../shared/tools/gen-kcm"))
            .args(["--instances", &instances.to_string()])
            .args(["--queues", &queues.to_string()])
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
            .arg(&data)
            .status()
            .expect("python3 ../shared/tools/gen-kcm");
        assert!(st.success(), "gen-kcm failed");
    }
    let bodies: Vec<Vec<u8>> = list()
        .iter()
        .take(3)
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    let dir = std::env::temp_dir().join(format!("promlite-persist-figures-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let opts = PersistOptions {
        fsync: FsyncPolicy::Never,
        now_ms: None,
    };
    let (store, p) = Persistence::open(&dir, StoreConfig::default(), opts.clone()).unwrap();
    let target = Target::from_pairs([("job", "kcm"), ("instance", "a")]);
    let t0 = Instant::now();
    let mut log_bytes = 0u64;
    for k in 0..fill {
        let before = p.status().bytes;
        store
            .ingest_scrape(&target, &bodies[k % 3], Format::Text, 30_000 * k as i64)
            .unwrap();
        log_bytes += p.status().bytes - before;
        // Keep the log from growing past a few scrapes (as periodic snapshots
        // would), without timing those.
        if k % 8 == 7 && k + 1 < fill {
            p.snapshot(&store).unwrap();
        }
    }
    let st = store.stats();
    eprintln!(
        "filled: {} series, {} samples in {:.1} s ({:.1} B/sample in memory); log {:.1} B/sample ({:.0} MB per scrape)",
        st.series,
        st.samples,
        t0.elapsed().as_secs_f64(),
        st.sample_data_bytes as f64 / st.samples as f64,
        log_bytes as f64 / (fill as f64 * st.series as f64),
        log_bytes as f64 / fill as f64 / 1e6,
    );
    let t1 = Instant::now();
    let s = p.snapshot(&store).unwrap();
    let total = t1.elapsed();
    println!(
        "snapshot: {} series, {} samples, {} bytes = {:.2} B/sample; encode (ingest paused) {:.2} s, write+fsync+rename {:.2} s, total {:.2} s",
        s.series,
        s.samples,
        s.bytes,
        s.bytes as f64 / s.samples as f64,
        s.encode.as_secs_f64(),
        s.write.as_secs_f64(),
        total.as_secs_f64()
    );
    drop((store, p));
    let t2 = Instant::now();
    let (store2, p2) = Persistence::open(&dir, StoreConfig::default(), opts).unwrap();
    println!(
        "load: {:.2} s ({})",
        t2.elapsed().as_secs_f64(),
        p2.recovery()
    );
    assert_eq!(store2.stats().samples, st.samples);
    drop((store2, p2));
    let _ = std::fs::remove_dir_all(&dir);
}
