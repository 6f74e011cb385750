//! What remote_write costs on top of ingest, in CPU time.
//!
//! Group `remote_write/kcm-<instances>x<queues>`, throughput in samples (one
//! scrape of every instance per iteration, alternating two gen-kcm bodies):
//! * `ingest`: steady-state `ingest_scrape` into a store without an observer;
//! * `ingest+remote_write`: the same with a [`RemoteWriter`] installed: each
//!   iteration's time runs until the receiver acknowledged everything, so it
//!   includes the outbox write, reading it back, encoding, snappy, HTTP, and
//!   the in-process null receiver reading each body (an upper bound).
//!
//! Both measure *process CPU time* (`utime + stime` of `/proc/self/stat`, all
//! threads, Linux only), not wall time, so the sender's background threads are
//! counted and waiting is not. The extra CPU of remote_write per sample is
//! `ingest+remote_write - ingest`.
//!
//! Run: `cargo bench -p promlite-remote --bench remote_write` (default 10
//! instances × 48 queues; `PROMLITE_BENCH_INSTANCES`, `PROMLITE_BENCH_QUEUES`).

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_main, Criterion, Throughput};
use promlite_remote::{OutboxConfig, RemoteWriteConfig, RemoteWriter};
use promlite_store::{Format, Store, StoreConfig, Target};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Process CPU time so far (all threads, exited ones included).
fn cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat (Linux)");
    // Fields after the parenthesised command name; utime and stime are 14th and 15th.
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    // USER_HZ is 100 on every Linux configuration Rust targets.
    Duration::from_millis(ticks * 10)
}

fn data() -> (String, Vec<Vec<u8>>) {
    let instances = env_usize("PROMLITE_BENCH_INSTANCES", 10);
    let queues = env_usize("PROMLITE_BENCH_QUEUES", 48);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = root.join(format!("target/bench-data/remote-kcm-{instances}x{queues}"));
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
    if files(&dir).len() < 2 {
        let status = Command::new("python3")
            .arg(root.join("../shared/tools/gen-kcm"))
            .args([
                "--instances",
                &instances.to_string(),
                "--queues",
                &queues.to_string(),
            ])
            .args([
                "--scrapes",
                "2",
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
    let bodies = files(&dir)
        .iter()
        .take(2)
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    (format!("kcm-{instances}x{queues}"), bodies)
}

/// A receiver that reads each body and answers 204.
fn null_receiver() -> (Arc<tiny_http::Server>, u16) {
    let s = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
    let port = s.server_addr().to_ip().unwrap().port();
    let s2 = s.clone();
    std::thread::spawn(move || {
        for mut req in s2.incoming_requests() {
            let mut b = Vec::new();
            let _ = req.as_reader().read_to_end(&mut b);
            let _ = req.respond(tiny_http::Response::empty(204));
        }
    });
    (s, port)
}

fn bench(c: &mut Criterion) {
    let (name, bodies) = data();
    let target = Target::from_pairs([("job", "bench")]);
    let probe = Store::new(StoreConfig::default());
    let samples = probe
        .ingest_scrape(&target, &bodies[0], Format::Text, 0)
        .unwrap()
        .samples_appended;
    drop(probe);
    let mut g = c.benchmark_group(format!("remote_write/{name}"));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(15));
    g.warm_up_time(Duration::from_secs(2));
    g.throughput(Throughput::Elements(samples as u64));

    let t0 = 1_800_000_000_000i64;
    let run = |store: &Store, k: &mut i64, iters: u64| {
        for _ in 0..iters {
            *k += 1;
            let r = store
                .ingest_scrape(
                    &target,
                    &bodies[(*k % 2) as usize],
                    Format::Text,
                    t0 + *k * 15_000,
                )
                .unwrap();
            assert_eq!(r.samples_appended, samples);
        }
    };

    let store = Store::new(StoreConfig::default());
    let mut k = 0;
    run(&store, &mut k, 1);
    g.bench_function("ingest", |b| {
        b.iter_custom(|iters| {
            let start = cpu();
            run(&store, &mut k, iters);
            cpu() - start
        })
    });
    drop(store);

    let (server, port) = null_receiver();
    let dir = std::env::temp_dir().join(format!("promlite-bench-outbox-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut cfg = RemoteWriteConfig::new(format!("http://127.0.0.1:{port}/api/v1/write"));
    cfg.queue_config.batch_send_deadline = Duration::from_millis(5);
    let writer = RemoteWriter::start(cfg, OutboxConfig::new(&dir), None).unwrap();
    let store = Store::new(StoreConfig::default());
    assert!(store.set_commit_observer(writer.observer()).is_ok());
    let mut k = 0;
    run(&store, &mut k, 1);
    assert!(writer.wait_idle(Duration::from_secs(60)));
    g.bench_function("ingest+remote_write", |b| {
        b.iter_custom(|iters| {
            let start = cpu();
            run(&store, &mut k, iters);
            assert!(
                writer.wait_idle(Duration::from_secs(120)),
                "{:?}",
                writer.metrics()
            );
            cpu() - start
        })
    });
    g.finish();
    let m = writer.metrics();
    eprintln!(
        "SENT {} samples in {} requests, {:.2} bytes/sample on the wire",
        m.samples_sent,
        m.requests_sent,
        m.bytes_sent as f64 / m.samples_sent.max(1) as f64
    );
    drop(writer);
    server.unblock();
    let _ = std::fs::remove_dir_all(&dir);
}

#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::bench);
}
use group::benches;
criterion_main!(benches);
