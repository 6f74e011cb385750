//! Rule group evaluation over the high-cardinality kube-controller-manager data.
//!
//! What is measured: one evaluation of the `kube-controller-manager.rules` group of
//! `rules/kube-controller-manager.yml` (the recording rules for the dashboard's
//! queries) at the last scrape time, writes into the store included. Prometheus's
//! figure to compare with is `prometheus_rule_group_last_duration_seconds` for the
//! same group on the same data in the same session.
//!
//! Data: as `benches/query.rs` (`PROMLITE_BENCH_KCM_DIR`, or a smaller generated set).
//!
//! Run: `cargo bench -p promlite --bench rules`

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use criterion::{criterion_main, Criterion};
use promlite::expfmt::Format;
use promlite::rules::{Manager, ManagerOptions};
use promlite::store::{Store, StoreConfig, Target};

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
            .args(["--instances", "20", "--queues", "200", "--scrapes", "11"])
            .args([
                "--interval",
                "30",
                "--start",
                "1764100000",
                "--seed",
                "1",
                "-q",
                "--out",
            ])
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

fn load(dir: &Path) -> (Store, i64) {
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).expect("manifest.json"))
            .expect("json");
    let times: Vec<i64> = m["files"]
        .as_array()
        .expect("manifest lists files")
        .iter()
        .map(|f| f["timestamp_ms"].as_i64().expect("timestamp_ms"))
        .collect();
    let mut cfg = StoreConfig::default();
    cfg.limits.max_series = usize::MAX;
    cfg.limits.max_samples_per_scrape = usize::MAX;
    cfg.limits.max_body_bytes = usize::MAX;
    cfg.limits.memory_budget_bytes = usize::MAX;
    let store = Store::new(cfg);
    let target = Target::new(promlite::model::Labels::empty());
    for (i, t) in times.iter().enumerate() {
        let body =
            std::fs::read(dir.join(format!("scrape-{:06}.prom", i + 1))).expect("scrape file");
        store
            .ingest_scrape(&target, &body, Format::Text, *t)
            .expect("ingest");
    }
    (store, *times.last().expect("at least one scrape"))
}

fn bench_rules(c: &mut Criterion) {
    let (store, last) = load(&data_dir());
    let rules =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../rules/kube-controller-manager.yml");
    let mut mgr = Manager::new(ManagerOptions::default());
    mgr.load_files(&[rules]).expect("rule file");
    assert!(
        mgr.eval_group(0, &store, last).is_empty(),
        "the group evaluates cleanly"
    );
    let series = store.stats().series;
    let mut g = c.benchmark_group(format!("rules/kcm-{series}-series"));
    g.sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .warm_up_time(Duration::from_secs(2));
    g.bench_function("kube-controller-manager.rules", |b| {
        b.iter(|| {
            let errs = mgr.eval_group(0, &store, last);
            assert!(errs.is_empty());
        })
    });
    g.finish();
}

// criterion_group! defines an undocumented pub fn.
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::bench_rules);
}
use group::benches;
criterion_main!(benches);
