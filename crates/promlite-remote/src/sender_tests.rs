//! Sender fault tests against an in-process fake receiver (loopback, bounded).

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use promlite_model::STALE_NAN;
use promlite_store::{Format, Store, StoreConfig, Target};

use crate::proto::decode_write_request;
use crate::{OutboxConfig, RemoteWriteConfig, RemoteWriter};

/// (labels as text, t, value bits)
type Got = (String, i64, u64);

static N: AtomicUsize = AtomicUsize::new(0);

fn tmpdir() -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "promlite-sender-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// What the fake answers: (status, Retry-After) for the n-th request and its samples.
type Script = dyn Fn(usize, &[Got]) -> (u16, Option<&'static str>) + Send + Sync;

/// A remote_write receiver on loopback: records accepted and rejected
/// samples, checks the headers; stopped on drop.
struct Fake {
    server: Arc<tiny_http::Server>,
    accepted: Arc<Mutex<Vec<Got>>>,
    rejected: Arc<Mutex<Vec<Got>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Fake {
    fn start(port: u16, script: Box<Script>) -> Fake {
        let server = Arc::new(tiny_http::Server::http(("127.0.0.1", port)).unwrap());
        let accepted = Arc::new(Mutex::new(Vec::new()));
        let rejected = Arc::new(Mutex::new(Vec::new()));
        let (s, a, r) = (server.clone(), accepted.clone(), rejected.clone());
        let thread = std::thread::spawn(move || {
            for (n, mut req) in s.incoming_requests().enumerate() {
                let h = |name: &'static str| {
                    req.headers()
                        .iter()
                        .find(|h| h.field.equiv(name))
                        .map(|h| h.value.as_str().to_string())
                };
                assert_eq!(h("Content-Encoding").as_deref(), Some("snappy"));
                assert_eq!(h("Content-Type").as_deref(), Some("application/x-protobuf"));
                assert_eq!(
                    h("X-Prometheus-Remote-Write-Version").as_deref(),
                    Some("0.1.0")
                );
                assert!(h("User-Agent").is_some_and(|u| u.starts_with("promlite/")));
                let mut body = Vec::new();
                req.as_reader().read_to_end(&mut body).unwrap();
                let d = decode_write_request(&body).unwrap();
                let mut samples = Vec::new();
                for ts in &d.request.timeseries {
                    let names: Vec<&str> = ts.labels.iter().map(|l| l.name.as_str()).collect();
                    let mut sorted = names.clone();
                    sorted.sort_unstable();
                    assert_eq!(names, sorted, "labels sorted");
                    assert!(ts
                        .samples
                        .windows(2)
                        .all(|w| w[0].timestamp < w[1].timestamp));
                    let l: Vec<String> = ts
                        .labels
                        .iter()
                        .map(|l| format!("{}={}", l.name, l.value))
                        .collect();
                    for x in &ts.samples {
                        samples.push((l.join(","), x.timestamp, x.value.to_bits()));
                    }
                }
                let (status, retry_after) = script(n, &samples);
                if (200..300).contains(&status) {
                    a.lock().unwrap().extend(samples);
                } else if status == 400 {
                    r.lock().unwrap().extend(samples);
                }
                let mut resp =
                    tiny_http::Response::from_string("fake says so").with_status_code(status);
                if let Some(ra) = retry_after {
                    resp.add_header(tiny_http::Header::from_bytes("Retry-After", ra).unwrap());
                }
                let _ = req.respond(resp);
            }
        });
        Fake {
            server,
            accepted,
            rejected,
            thread: Some(thread),
        }
    }

    fn accepted(&self) -> Vec<Got> {
        self.accepted.lock().unwrap().clone()
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn config(port: u16) -> RemoteWriteConfig {
    let mut c = RemoteWriteConfig::new(format!("http://127.0.0.1:{port}/api/v1/write"));
    let q = &mut c.queue_config;
    q.batch_send_deadline = Duration::from_millis(20);
    q.min_backoff = Duration::from_millis(10);
    q.max_backoff = Duration::from_millis(80);
    q.max_samples_per_send = 50;
    q.max_shards = 4;
    c.remote_timeout = Duration::from_secs(5);
    c
}

/// Ingests `scrapes` scrapes of `series` series (the last one without series
/// 0, which gets a staleness marker) and returns what the receiver must get.
fn ingest(store: &Store, series: usize, scrapes: i64, t0: i64) -> Vec<Got> {
    let target = Target::from_pairs([("instance", "a:1"), ("job", "kcm")]);
    let mut want = Vec::new();
    for k in 0..scrapes {
        let t = t0 + k * 15_000;
        let mut body = String::new();
        let last = scrapes > 1 && k == scrapes - 1;
        for i in 0..series {
            if last && i == 0 {
                continue;
            }
            let v = (k as f64) * 1.5 + i as f64;
            body.push_str(&format!("m{{i=\"{i}\"}} {v}\n"));
            want.push((
                format!("__name__=m,i={i},instance=a:1,job=kcm"),
                t,
                v.to_bits(),
            ));
        }
        if last {
            want.push((
                "__name__=m,i=0,instance=a:1,job=kcm".to_string(),
                t,
                STALE_NAN.to_bits(),
            ));
        }
        store
            .ingest_scrape(&target, body.as_bytes(), Format::Text, t)
            .unwrap();
    }
    want
}

fn sorted(mut v: Vec<Got>) -> Vec<Got> {
    v.sort();
    v
}

fn ok_script() -> Box<Script> {
    Box::new(|_, _| (204, None))
}

#[test]
fn receiver_down_then_up_loses_nothing() {
    let port = free_port();
    let dir = tmpdir();
    let w = RemoteWriter::start(config(port), OutboxConfig::new(&dir), None).unwrap();
    let store = Store::new(StoreConfig::default());
    assert!(store.set_commit_observer(w.observer()).is_ok());
    let want = ingest(&store, 30, 10, 1_000_000);
    std::thread::sleep(Duration::from_millis(300));
    let m = w.metrics();
    assert_eq!(m.samples_sent, 0);
    assert_eq!(m.highest_timestamp_sent_ms, 0, "nothing sent yet");
    assert_eq!(m.highest_timestamp_in_ms, 1_000_000 + 9 * 15_000);
    assert!(m.samples_retried > 0, "{m:?}");
    assert_eq!(m.samples_pending, want.len() as u64);
    let fake = Fake::start(port, ok_script());
    assert!(w.wait_idle(Duration::from_secs(10)), "{:?}", w.metrics());
    assert_eq!(sorted(fake.accepted()), sorted(want.clone()));
    let m = w.metrics();
    assert_eq!(m.samples_sent, want.len() as u64);
    assert_eq!(m.samples_in, want.len() as u64);
    assert_eq!(m.highest_timestamp_sent_ms, 1_000_000 + 9 * 15_000);
    assert!(
        m.samples_failed.is_empty() && m.samples_dropped.is_empty(),
        "{m:?}"
    );
    let text = w.metrics_text();
    assert!(text.contains(&format!("promlite_remote_storage_samples_total{{remote_name=\"{}\",url=\"http://127.0.0.1:{port}/api/v1/write\"}} {}", w.name(), want.len())), "{text}");
    drop(w);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn retries_500_then_429_with_retry_after() {
    let port = free_port();
    let fake = Fake::start(
        port,
        Box::new(|n, _| match n {
            0 => (500, None),
            1 => (429, Some("1")),
            _ => (204, None),
        }),
    );
    let dir = tmpdir();
    let mut c = config(port);
    c.queue_config.max_shards = 1;
    c.queue_config.max_samples_per_send = 1000;
    let w = RemoteWriter::start(c, OutboxConfig::new(&dir), None).unwrap();
    let store = Store::new(StoreConfig::default());
    assert!(store.set_commit_observer(w.observer()).is_ok());
    let started = Instant::now();
    let want = ingest(&store, 20, 1, 5_000);
    assert!(w.wait_idle(Duration::from_secs(10)), "{:?}", w.metrics());
    // Retry-After: 1 was honoured (the backoff alone is 10-80 ms).
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(sorted(fake.accepted()), sorted(want.clone()));
    let m = w.metrics();
    assert_eq!(m.samples_retried, 2 * want.len() as u64, "{m:?}");
    assert!(m.last_error.contains("429"), "{m:?}");
    drop(w);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_400_drops_that_request_only_and_counts_it() {
    let port = free_port();
    // Refuses every request holding a sample of series i="3".
    let fake = Fake::start(
        port,
        Box::new(|_, s| {
            if s.iter().any(|x| x.0.contains(",i=3,")) {
                (400, None)
            } else {
                (204, None)
            }
        }),
    );
    let dir = tmpdir();
    let w = RemoteWriter::start(config(port), OutboxConfig::new(&dir), None).unwrap();
    let store = Store::new(StoreConfig::default());
    assert!(store.set_commit_observer(w.observer()).is_ok());
    let want = ingest(&store, 200, 3, 1_000);
    assert!(w.wait_idle(Duration::from_secs(10)), "{:?}", w.metrics());
    let accepted = fake.accepted();
    let rejected = fake.rejected.lock().unwrap().clone();
    assert!(!rejected.is_empty() && !accepted.is_empty());
    let mut all = accepted.clone();
    all.extend(rejected.iter().cloned());
    assert_eq!(
        sorted(all),
        sorted(want.clone()),
        "each sample accepted or refused once"
    );
    let m = w.metrics();
    assert_eq!(
        m.samples_failed.get("http_400"),
        Some(&(rejected.len() as u64)),
        "{m:?}"
    );
    assert_eq!(m.samples_sent, accepted.len() as u64);
    assert!(m.last_error.contains("fake says so"), "{m:?}");
    drop(w);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn restart_during_outage_replays_the_outbox() {
    let port = free_port();
    let dir = tmpdir();
    let want1 = {
        let w = RemoteWriter::start(config(port), OutboxConfig::new(&dir), None).unwrap();
        let store = Store::new(StoreConfig::default());
        assert!(store.set_commit_observer(w.observer()).is_ok());
        let want = ingest(&store, 40, 5, 1_000_000);
        std::thread::sleep(Duration::from_millis(200)); // a batch in flight, retrying
        assert!(w.metrics().samples_retried > 0);
        want
    }; // the sender stops with nothing delivered
    let fake = Fake::start(port, ok_script());
    let w = RemoteWriter::start(config(port), OutboxConfig::new(&dir), None).unwrap();
    assert_eq!(w.open_report().pending_samples, want1.len() as u64);
    let resent = w.open_report().resent_samples;
    assert!(resent > 0, "the in-flight batch is counted as resent");
    let store = Store::new(StoreConfig::default());
    assert!(store.set_commit_observer(w.observer()).is_ok());
    let want2 = ingest(&store, 40, 2, 2_000_000);
    assert!(w.wait_idle(Duration::from_secs(10)), "{:?}", w.metrics());
    let mut want = want1;
    want.extend(want2);
    assert_eq!(sorted(fake.accepted()), sorted(want));
    assert_eq!(w.metrics().samples_resent_after_restart, resent);
    drop(w);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn disk_cap_drops_oldest_counted_exactly() {
    let port = free_port();
    let dir = tmpdir();
    let ob = OutboxConfig {
        max_disk_usage: 64 * 1024,
        ..OutboxConfig::new(&dir)
    };
    let mut c = config(port);
    c.queue_config.max_shards = 1;
    c.queue_config.capacity = 50;
    let w = RemoteWriter::start(c, ob, None).unwrap();
    let store = Store::new(StoreConfig::default());
    assert!(store.set_commit_observer(w.observer()).is_ok());
    let want = ingest(&store, 100, 60, 1_000_000);
    let m = w.metrics();
    let dropped = *m.samples_dropped.get("disk_full").unwrap_or(&0);
    assert!(dropped > 0, "{m:?}");
    assert!(m.outbox_bytes <= 64 * 1024 + 8 * 1024, "{m:?}");
    let fake = Fake::start(port, ok_script());
    assert!(w.wait_idle(Duration::from_secs(10)), "{:?}", w.metrics());
    let got = fake.accepted();
    let m = w.metrics();
    assert_eq!(got.len() as u64 + dropped, want.len() as u64, "{m:?}");
    // What arrived is a subset of what was ingested, the newest included.
    let wanted: std::collections::HashSet<&Got> = want.iter().collect();
    assert!(got.iter().all(|g| wanted.contains(g)));
    let newest: BTreeMap<_, _> = got.iter().map(|g| (g.1, ())).collect();
    assert_eq!(newest.keys().last(), Some(&(1_000_000 + 59 * 15_000)));
    drop(w);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sample_age_limit_drops_old_samples_and_counts_them() {
    let port = free_port();
    let fake = Fake::start(port, ok_script());
    let dir = tmpdir();
    let mut c = config(port);
    c.queue_config.sample_age_limit = Duration::from_secs(3600);
    let w = RemoteWriter::start(c, OutboxConfig::new(&dir), None).unwrap();
    let store = Store::new(StoreConfig::default());
    assert!(store.set_commit_observer(w.observer()).is_ok());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    // Two scrapes two hours ago (too old), then two fresh ones.
    let old = ingest(&store, 10, 2, now - 7_200_000);
    let fresh = ingest(&store, 10, 2, now - 60_000);
    assert!(w.wait_idle(Duration::from_secs(10)), "{:?}", w.metrics());
    let m = w.metrics();
    assert_eq!(
        m.samples_dropped.get("too_old"),
        Some(&(old.len() as u64)),
        "{m:?}"
    );
    assert_eq!(sorted(fake.accepted()), sorted(fresh));
    drop(w);
    std::fs::remove_dir_all(&dir).unwrap();
}
