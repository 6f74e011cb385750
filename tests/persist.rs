//! `promlite serve --storage.path`: SIGKILL the server mid-scraping, start it
//! again on the same directory, and ask the same queries at the same times.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::{gen_kcm, promlite_bin};
use crate::support::https::{temp_dir, Resp, Server};

/// Kills the server (SIGKILL) and removes the directory however the test ends.
struct Guard {
    child: Option<Child>,
    dir: PathBuf,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    let (head, body) = raw.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_string())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn start(g: &mut Guard, target: &str, log: &str) -> u16 {
    let port = free_port();
    let err = std::fs::File::create(g.dir.join(log)).unwrap();
    let child = Command::new(promlite_bin())
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--scrape", target, "--interval", "1s", "--timeout", "1s"])
        .args(["--storage.snapshot-interval", "1h", "--storage.path"])
        .arg(g.dir.join("data"))
        .stdout(Stdio::null())
        .stderr(err)
        .spawn()
        .expect("spawn promlite serve");
    g.child = Some(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if get(port, "/api/v1/status/buildinfo").is_some() {
            return port;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("promlite serve did not become ready");
}

fn enc(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

const QUERIES: &[&str] = &[
    "req_total",
    "rate(req_total[10s])",
    "count_over_time(req_total[1m])",
    "count_over_time(flappy[1m])",
    "flappy",
    "sum by (le) (rate(lat_bucket[10s]))",
    "histogram_quantile(0.9, sum by (le) (rate(lat_bucket[10s])))",
    "count_over_time(up[1m])",
];

fn answers(port: u16, times: &[f64]) -> Vec<String> {
    let mut out = Vec::new();
    for &t in times {
        for q in QUERIES {
            let path = format!("/api/v1/query?query={}&time={t:.3}", enc(q));
            out.push(get(port, &path).unwrap_or_else(|| panic!("query {q} at {t} failed")));
        }
    }
    let (a, b) = (times[0], times[times.len() - 1]);
    let path = format!(
        "/api/v1/query_range?query={}&start={a:.3}&end={b:.3}&step=0.5",
        enc("rate(req_total[5s])")
    );
    out.push(get(port, &path).expect("range query"));
    out
}

#[test]
fn sigkill_then_restart_answers_the_same() {
    // A target whose counter grows, with a histogram and a series present
    // only in every other scrape (staleness markers in the log).
    let n = Arc::new(AtomicUsize::new(0));
    let n2 = Arc::clone(&n);
    let target = Server::start(
        None,
        Arc::new(move |_req| {
            let k = n2.fetch_add(1, Ordering::Relaxed);
            let mut body = format!(
                "# TYPE req_total counter\nreq_total{{code=\"200\"}} {}\nreq_total{{code=\"500\"}} {}\n",
                10 * k,
                k / 3
            );
            body += "# TYPE lat histogram\n";
            let mut cum = 0;
            for (i, le) in ["0.1", "0.5", "1", "+Inf"].iter().enumerate() {
                cum += k * (i + 1);
                body += &format!("lat_bucket{{le=\"{le}\"}} {cum}\n");
            }
            body += &format!("lat_sum {}\nlat_count {cum}\n", k * 3);
            if k % 2 == 0 {
                body += &format!("flappy {k}\n");
            }
            Resp::text(body.into_bytes())
        }),
    );
    let url = format!("http://127.0.0.1:{}/metrics", target.port);
    let mut g = Guard {
        child: None,
        dir: temp_dir("persist-kill"),
    };
    let port = start(&mut g, &url, "first.log");
    // Wait (bounded) for 6 scrapes (no snapshot in this run: all in the log).
    let deadline = Instant::now() + Duration::from_secs(30);
    while n.load(Ordering::Relaxed) < 6 {
        assert!(Instant::now() < deadline, "target not scraped");
        std::thread::sleep(Duration::from_millis(100));
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    // Up to 2 s ago: every scrape started by then has committed (its samples
    // and its `up`), so the answers cannot change any more.
    std::thread::sleep(Duration::from_millis(2500));
    let times: Vec<f64> = (0..4).map(|i| now - 3.0 + f64::from(i)).collect();
    let before = answers(port, &times);
    assert!(
        before[0].contains("\"code\":\"500\""),
        "no data before the kill: {}",
        before[0]
    );
    // One more scrape goes into the log, then SIGKILL.
    let seen = n.load(Ordering::Relaxed);
    while n.load(Ordering::Relaxed) < seen + 1 {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    let mut c = g.child.take().unwrap();
    c.kill().unwrap();
    c.wait().unwrap();
    let port = start(&mut g, &url, "second.log");
    let after = answers(port, &times);
    let report = std::fs::read_to_string(g.dir.join("second.log")).unwrap();
    assert!(
        report.contains("records from"),
        "no recovery report: {report}"
    );
    assert!(!report.contains("DAMAGED"), "{report}");
    for (i, (a, b)) in before.iter().zip(&after).enumerate() {
        assert_eq!(a, b, "answer {i} differs after the restart ({report})");
    }
}

/// gen-kcm scrapes (restarts included) into a persisted store, a snapshot
/// part-way, the rest only in the log; reopened, the dashboard's queries
/// answer as on a store that was never persisted, at several times, and the
/// series are the same.
#[test]
fn gen_kcm_window_reopens_with_the_same_dashboard_answers() {
    use promlite::promql::{Engine, EngineOptions};
    use promlite::store::{Format, PersistOptions, Persistence, Store, StoreConfig, Target};

    let dir = temp_dir("persist-kcm");
    let data = dir.join("kcm");
    gen_kcm(
        &[
            "--instances",
            "2",
            "--queues",
            "3",
            "--scrapes",
            "30",
            "--interval",
            "15",
            "--restart-prob",
            "0.1",
            "--seed",
            "persist",
        ],
        &data,
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("manifest.json")).unwrap()).unwrap();
    let files: Vec<(Vec<u8>, i64)> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                std::fs::read(data.join(f["file"].as_str().unwrap())).unwrap(),
                f["timestamp_ms"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(files.len(), 30);
    let target = Target::from_pairs([("job", "kcm"), ("instance", "a")]);
    let model = Store::new(StoreConfig::default());
    let store_dir = dir.join("store");
    {
        let (store, p) = Persistence::open(
            &store_dir,
            StoreConfig::default(),
            PersistOptions::default(),
        )
        .unwrap();
        for (k, (body, t)) in files.iter().enumerate() {
            store
                .ingest_scrape(&target, body, Format::Text, *t)
                .unwrap();
            model
                .ingest_scrape(&target, body, Format::Text, *t)
                .unwrap();
            if k == 17 {
                p.snapshot(&store).unwrap();
            }
        }
        // Not closed: the last 12 scrapes are only in the log.
    }
    let (store, p) = Persistence::open(
        &store_dir,
        StoreConfig::default(),
        PersistOptions::default(),
    )
    .unwrap();
    let r = p.recovery();
    assert!(r.is_clean() && r.snapshot_found, "{r}");
    assert_eq!(r.records_replayed, 12, "{r}");
    assert_eq!(store.series_labels(), model.series_labels());
    let engine = Engine::new(EngineOptions::default());
    let last = files.last().unwrap().1;
    let mut compared = 0;
    let mut nonempty = 0;
    for t in [
        files[10].1 + 7_000,
        files[17].1,
        files[20].1 + 1,
        last,
        last + 60_000,
    ] {
        for panel in promlite::dashboard::KCM_PANELS {
            let a = engine.instant_query(&store, panel.query, t).unwrap();
            let b = engine.instant_query(&model, panel.query, t).unwrap();
            assert_eq!(
                format!("{:?}", a.value),
                format!("{:?}", b.value),
                "{} at {t}",
                panel.query
            );
            compared += 1;
            if let promlite::promql::Value::Vector(v) = &a.value {
                nonempty += usize::from(!v.is_empty());
            }
        }
    }
    assert!(compared >= 50);
    assert!(nonempty >= 30, "only {nonempty} non-empty answers");
    let restarts = manifest["restarts"].as_array().map_or(0, Vec::len);
    assert!(restarts > 0, "the data should include a restart");
    drop((store, p));
    let _ = std::fs::remove_dir_all(&dir);
}
