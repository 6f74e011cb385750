//! Times the parts of the two benchmark queries on a gen-kcm text directory:
//! selection from the store alone (streamed, as the evaluator
//! reads it), then the whole query.
//!
//! `cargo run --release -p promlite --example query_profile -- DIR` (`REPS=N` repeats each
//! query N times, default 3, e.g. to profile the queries rather than the ingest).
use std::time::Instant;

use promlite::expfmt::Format;
use promlite::model::{Labels, MatchOp, Matcher, Queryable};
use promlite::promql::{Engine, EngineOptions};
use promlite::store::{Store, StoreConfig, Target};

fn main() {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).expect("usage: query_profile DIR"));
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).expect("manifest"))
            .expect("json");
    let mut cfg = StoreConfig::default();
    cfg.limits.max_samples_per_scrape = usize::MAX;
    cfg.limits.max_body_bytes = usize::MAX;
    let store = Store::new(cfg);
    let target = Target::new(Labels::empty());
    let mut last = 0;
    for f in m["files"].as_array().expect("files") {
        let body = std::fs::read(dir.join(f["file"].as_str().expect("file"))).expect("read");
        last = f["timestamp_ms"].as_i64().expect("ts");
        store
            .ingest_scrape(&target, &body, Format::Text, last)
            .expect("ingest");
    }
    let sel = |name: &str| {
        vec![
            Matcher::new(MatchOp::Equal, "container", "kube-controller-manager").expect("m"),
            Matcher::new(MatchOp::Equal, "__name__", name).expect("m"),
        ]
    };
    let engine = Engine::new(EngineOptions::default());
    for (name, q) in [
        (
            "workqueue_queue_duration_seconds_bucket",
            r#"histogram_quantile(0.99, sum(rate(workqueue_queue_duration_seconds_bucket{container="kube-controller-manager"}[5m])) by (instance, name, le))"#,
        ),
        (
            "workqueue_adds_total",
            r#"sum(rate(workqueue_adds_total{container="kube-controller-manager"}[5m])) by (instance, name)"#,
        ),
    ] {
        let reps: usize = std::env::var("REPS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(3);
        for _ in 0..reps {
            let t = Instant::now();
            let mut n = 0usize;
            store
                .select_each(&sel(name), last - 300_000, last, &mut |_, samples| {
                    n += samples.len();
                    true
                })
                .expect("select");
            let t_sel = t.elapsed();
            let t = Instant::now();
            let r = engine.instant_query(&store, q, last).expect("query");
            let t_q = t.elapsed();
            eprintln!(
                "{name}: select {:?} ({} samples), whole query {:?} ({} warnings)",
                t_sel,
                n,
                t_q,
                r.warnings.len()
            );
        }
    }
}
