//! Query evaluation over the high-cardinality kube-controller-manager data.
//!
//! What is measured: `Engine::instant_query` / `range_query` for the two queries that
//! `../shared/bench/stores/store-bench` times in Prometheus (`hq99`, `adds`), over the
//! store after ingesting gen-kcm scrapes (ingest is setup, not measured). Prometheus's
//! figure to compare with is its `evalTotalTime` on the same data in the same session.
//!
//! Data: `PROMLITE_BENCH_KCM_DIR` names a gen-kcm text directory (scrape-*.prom plus
//! manifest.json), e.g. the high-cardinality preset made by
//! `../shared/tools/gen-kcm --preset high-cardinality --scrapes 11 --interval 30
//!  --start 1764100000 --seed 1 --out DIR`. Without it, a smaller set (20 instances x
//! 200 queues, 11 scrapes) is generated once under target/bench-data/.
//!
//! Run: `cargo bench -p promlite --bench query`
//! (`PROMLITE_BENCH_KCM_DIR=/path cargo bench -p promlite --bench query` for the full set).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use criterion::{criterion_main, BenchmarkId, Criterion};
use promlite::expfmt::Format;
use promlite::promql::{Engine, EngineOptions, Value};
use promlite::store::{Store, StoreConfig, Target};

const HQ99: &str = r#"histogram_quantile(0.99, sum(rate(workqueue_queue_duration_seconds_bucket{container="kube-controller-manager"}[5m])) by (instance, name, le))"#;
const ADDS: &str = r#"sum(rate(workqueue_adds_total{container="kube-controller-manager"}[5m])) by (instance, name)"#;

fn data_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("PROMLITE_BENCH_KCM_DIR") {
        return PathBuf::from(d);
    }
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-data/kcm-20x200x11");
    if !dir.join("manifest.json").exists() {
        let gen = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/tools/gen-kcm");
        let ok = Command::new("python3")
            .arg(gen)
            .args([
                "--instances",
                "20",
                "--queues",
                "200",
                "--scrapes",
                "11",
                "--interval",
                "30",
            ])
            .args(["--start", "1764100000", "--seed", "1", "-q", "--out"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "gen-kcm failed; set PROMLITE_BENCH_KCM_DIR to a gen-kcm text directory"
        );
    }
    dir
}

/// Reads the scrape timestamps (ms) from gen-kcm's manifest.json.
fn scrape_times(dir: &Path) -> Vec<i64> {
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).expect("manifest.json"))
            .expect("json");
    let files = m["files"].as_array().expect("manifest lists files");
    files
        .iter()
        .map(|f| f["timestamp_ms"].as_i64().expect("timestamp_ms"))
        .collect()
}

fn load(dir: &Path) -> (Store, i64, usize) {
    let times = scrape_times(dir);
    let mut cfg = StoreConfig::default();
    cfg.limits.max_series = usize::MAX;
    cfg.limits.max_samples_per_scrape = usize::MAX;
    cfg.limits.max_body_bytes = usize::MAX;
    cfg.limits.memory_budget_bytes = usize::MAX;
    let store = Store::new(cfg);
    // The files already carry the target labels on every series (like /federate).
    let target = Target::new(promlite::model::Labels::empty());
    for (i, t) in times.iter().enumerate() {
        let body =
            std::fs::read(dir.join(format!("scrape-{:06}.prom", i + 1))).expect("scrape file");
        store
            .ingest_scrape(&target, &body, Format::Text, *t)
            .expect("ingest");
    }
    let series = store.stats().series;
    (store, *times.last().expect("at least one scrape"), series)
}

fn result_len(v: &Value) -> usize {
    match v {
        Value::Vector(v) => v.len(),
        Value::Matrix(m) => m.len(),
        _ => 1,
    }
}

fn bench_query(c: &mut Criterion) {
    let dir = data_dir();
    let (store, last, series) = load(&dir);
    let engine = Engine::new(EngineOptions::default());
    let mut g = c.benchmark_group(format!("query/kcm-{series}-series"));
    g.sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .warm_up_time(Duration::from_secs(2));
    for (name, q) in [("hq99", HQ99), ("adds", ADDS)] {
        // The answer is checked once outside the loop and its size asserted inside.
        let expect = result_len(&engine.instant_query(&store, q, last).expect("query").value);
        assert!(expect > 0, "{name} returned nothing");
        g.bench_function(BenchmarkId::new(name, "instant"), |b| {
            b.iter(|| {
                let r = engine.instant_query(&store, q, last).expect("query");
                assert_eq!(result_len(&r.value), expect);
                r
            })
        });
        g.bench_function(BenchmarkId::new(name, "range-1h-15s"), |b| {
            b.iter(|| {
                engine
                    .range_query(&store, q, last - 3_600_000, last, 15_000)
                    .expect("query")
            })
        });
    }
    g.finish();
}

// criterion_group! defines an undocumented pub fn.
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::bench_query);
}
use group::benches;
criterion_main!(benches);
