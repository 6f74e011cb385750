//! remote_write against real receivers: promlite ingests gen-kcm scrapes
//! (restarts and staleness included) and sends them to the real Prometheus
//! 2.42 (`--web.enable-remote-write-receiver`) and VictoriaMetrics 1.79; every
//! sample promlite accepted is read back sample by sample. And the other way:
//! Prometheus 2.42 in agent mode scrapes a test target and remote-writes into
//! a receiver built on `promlite_remote::handle_write`.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use promlite::model::{is_stale_nan, MatchOp, Matcher, Queryable, STALE_NAN};
use promlite::store::{Format, Store, StoreConfig, Target};
use promlite_remote::{handle_write, OutboxConfig, RemoteWriteConfig, RemoteWriter};
use serde_json::Value;

use crate::common::{gen_kcm, which};

/// (sorted `name=value` pairs joined by `,`, t ms, value bits)
type Point = (String, i64, u64);

/// True when `cmd` exists; otherwise skips (prints why), or fails under
/// PROMLITE_REQUIRE_ORACLE (CI).
fn have(test: &str, cmd: &str, package: &str) -> bool {
    if which(cmd) {
        return true;
    }
    let why = format!("{test} needs `{cmd}` (Debian package {package})");
    if std::env::var_os("PROMLITE_REQUIRE_ORACLE").is_some() {
        panic!("{why}, and PROMLITE_REQUIRE_ORACLE is set");
    }
    eprintln!("SKIPPED {why}");
    false
}

/// A child process and scratch directory, both gone however the test ends.
struct Proc {
    child: Option<Child>,
    dir: PathBuf,
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("promlite-remote-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch dir");
    d
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// GET with curl (handles chunked bodies): (ok, body).
fn get(url: &str, params: &[(&str, &str)]) -> (bool, String) {
    let mut c = Command::new("curl");
    c.args(["-sS", "--fail", "--max-time", "20", "-G", url]);
    for (k, v) in params {
        c.arg("--data-urlencode").arg(format!("{k}={v}"));
    }
    match c.output() {
        Ok(o) => (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
        ),
        Err(_) => (false, String::new()),
    }
}

fn wait_ready(url: &str, what: &str, child: &mut Child) {
    let end = Instant::now() + Duration::from_secs(30);
    while Instant::now() < end {
        if get(url, &[]).0 {
            return;
        }
        if let Ok(Some(st)) = child.try_wait() {
            panic!("{what} exited early: {st}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what} not ready at {url} within 30 s");
}

fn key(pairs: impl Iterator<Item = (String, String)>) -> String {
    let mut v: Vec<String> = pairs.map(|(n, val)| format!("{n}={val}")).collect();
    v.sort();
    v.join(",")
}

/// Ingests gen-kcm scrapes (then marks the target down: staleness markers) into
/// a store whose commits go to `writer`; returns every sample the store holds.
fn ingest_kcm(writer: &RemoteWriter, dir: &Path) -> Vec<Point> {
    let data = dir.join("kcm");
    gen_kcm(
        &[
            "--queues",
            "2",
            "--scrapes",
            "6",
            "--interval",
            "15",
            "--restart-prob",
            "0.3",
            "--seed",
            "remote",
        ],
        &data,
    );
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("manifest.json")).unwrap())
            .unwrap();
    let store = Store::new(StoreConfig::default());
    assert!(store.set_commit_observer(writer.observer()).is_ok());
    let target = Target::from_pairs([("job", "kcm")]);
    let mut last = 0;
    for f in manifest["files"].as_array().unwrap() {
        let body = std::fs::read(data.join(f["file"].as_str().unwrap())).unwrap();
        last = f["timestamp_ms"].as_i64().unwrap();
        store
            .ingest_scrape(&target, &body, Format::Text, last)
            .unwrap();
    }
    assert!(store.mark_target_down(&target, last + 15_000) > 1000);
    let all = Matcher::new(MatchOp::RegexMatch, "__name__", ".+").unwrap();
    let mut want = Vec::new();
    for s in store.select(&[all], i64::MIN / 2, i64::MAX / 2).unwrap() {
        let k = key(s
            .labels
            .iter()
            .map(|l| (l.name.to_string(), l.value.to_string())));
        for x in &s.samples {
            want.push((k.clone(), x.t, x.v.to_bits()));
        }
    }
    want.sort();
    want
}

fn start_writer(url: String, dir: &Path) -> RemoteWriter {
    let mut cfg = RemoteWriteConfig::new(url);
    cfg.queue_config.batch_send_deadline = Duration::from_millis(50);
    cfg.queue_config.max_shards = 4;
    cfg.remote_timeout = Duration::from_secs(10);
    RemoteWriter::start(cfg, OutboxConfig::new(dir.join("outbox")), None).expect("start writer")
}

fn assert_all_sent(w: &RemoteWriter, want: &[Point]) {
    assert!(
        w.wait_idle(Duration::from_secs(30)),
        "not delivered: {:?}",
        w.metrics()
    );
    let m = w.metrics();
    assert_eq!(m.samples_sent, want.len() as u64, "{m:?}");
    assert!(
        m.samples_failed.is_empty() && m.samples_dropped.is_empty(),
        "{m:?}"
    );
}

fn num(v: &Value) -> f64 {
    match v {
        Value::String(s) => s.parse().unwrap_or_else(|_| panic!("value {s:?}")),
        Value::Number(n) => n.as_f64().unwrap(),
        // VictoriaMetrics exports a staleness marker as null.
        Value::Null => STALE_NAN,
        other => panic!("value {other}"),
    }
}

#[test]
fn remote_write_to_prometheus_2_42() {
    if !have(
        "remote_write_to_prometheus_2_42",
        "prometheus",
        "prometheus",
    ) {
        return;
    }
    let dir = scratch("prom");
    let port = free_port();
    std::fs::write(dir.join("prometheus.yml"), "global: {}\n").unwrap();
    let child = Command::new("prometheus")
        .arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--web.enable-remote-write-receiver")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start prometheus");
    let mut p = Proc {
        child: Some(child),
        dir: dir.clone(),
    };
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(
        &format!("{base}/-/ready"),
        "prometheus",
        p.child.as_mut().unwrap(),
    );
    let w = start_writer(format!("{base}/api/v1/write"), &dir);
    let want = ingest_kcm(&w, &dir);
    assert_all_sent(&w, &want);
    // Read back every raw sample: a range selector at the end of the data.
    let t_end = want.iter().map(|x| x.1).max().unwrap();
    let t_start = want.iter().map(|x| x.1).min().unwrap();
    let span = (t_end - t_start) / 1000 + 60;
    let (ok, body) = get(
        &format!("{base}/api/v1/query"),
        &[
            ("query", &format!("{{__name__=~\".+\"}}[{span}s]")),
            ("time", &format!("{}.{:03}", t_end / 1000, t_end % 1000)),
        ],
    );
    assert!(ok, "query failed: {body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let mut got = Vec::new();
    for s in v["data"]["result"].as_array().unwrap() {
        let k = key(s["metric"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(n, v)| (n.clone(), v.as_str().unwrap().to_string())));
        for pt in s["values"].as_array().unwrap() {
            let t = (pt[0].as_f64().unwrap() * 1000.0).round() as i64;
            got.push((k.clone(), t, num(&pt[1]).to_bits()));
        }
    }
    got.sort();
    // The query API hides staleness markers (they end a series), so compare
    // the others exactly, and check each marker ended its series there.
    let (stale, values): (Vec<Point>, Vec<Point>) = want
        .iter()
        .cloned()
        .partition(|x| is_stale_nan(f64::from_bits(x.2)));
    assert!(stale.len() > 1000, "staleness markers were sent");
    assert_eq!(got.len(), values.len());
    assert!(
        got == values,
        "Prometheus holds exactly the non-stale samples promlite accepted"
    );
    let (ok, body) = get(
        &format!("{base}/api/v1/query"),
        &[
            ("query", "count({__name__=~\".+\"})"),
            ("time", &format!("{}.{:03}", (t_end) / 1000, t_end % 1000)),
        ],
    );
    assert!(
        ok && body.contains("\"result\":[]"),
        "every series is stale at the marker time: {body}"
    );
    drop(w);
    drop(p);
}

#[test]
fn remote_write_to_victoriametrics_1_79() {
    if !have(
        "remote_write_to_victoriametrics_1_79",
        "victoria-metrics",
        "victoria-metrics",
    ) {
        return;
    }
    let dir = scratch("vm");
    let port = free_port();
    let child = Command::new("victoria-metrics")
        .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
        .arg(format!("-storageDataPath={}", dir.join("vm").display()))
        .arg("-retentionPeriod=100y")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start victoria-metrics");
    let mut p = Proc {
        child: Some(child),
        dir: dir.clone(),
    };
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(
        &format!("{base}/health"),
        "victoria-metrics",
        p.child.as_mut().unwrap(),
    );
    let w = start_writer(format!("{base}/api/v1/write"), &dir);
    let want = ingest_kcm(&w, &dir);
    assert_all_sent(&w, &want);
    assert!(get(&format!("{base}/internal/force_flush"), &[]).0);
    let (ok, body) = get(
        &format!("{base}/api/v1/export"),
        &[("match[]", "{__name__=~\".+\"}"), ("start", "0")],
    );
    assert!(ok, "export failed: {body}");
    let mut got = Vec::new();
    for line in body.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let k = key(v["metric"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(n, v)| (n.clone(), v.as_str().unwrap().to_string())));
        let ts = v["timestamps"].as_array().unwrap();
        let vals = v["values"].as_array().unwrap();
        for (t, x) in ts.iter().zip(vals) {
            got.push((k.clone(), t.as_i64().unwrap(), num(x).to_bits()));
        }
    }
    got.sort();
    // VictoriaMetrics keeps staleness markers; export may print them as
    // plain NaN: compare those as Prometheus's stale NaN.
    let canon = |p: &Point| -> Point {
        if f64::from_bits(p.2).is_nan() {
            (p.0.clone(), p.1, STALE_NAN.to_bits())
        } else {
            p.clone()
        }
    };
    let got: Vec<Point> = got.iter().map(canon).collect();
    let want: Vec<Point> = want.iter().map(canon).collect();
    assert_eq!(got.len(), want.len());
    // Labels and timestamps must be identical. Values too, except that
    // VictoriaMetrics stores floats as decimals (an int64 mantissa and a
    // power of ten), so beyond ~13 significant digits it rounds: those are
    // compared to 1e-12 relative and counted.
    let mut rounded = 0;
    for (g, w) in got.iter().zip(&want) {
        assert_eq!((&g.0, g.1), (&w.0, w.1), "labels and timestamps");
        if g.2 != w.2 {
            let (a, b) = (f64::from_bits(g.2), f64::from_bits(w.2));
            assert!(
                (a - b).abs() <= 1e-12 * b.abs(),
                "{} at {}: VictoriaMetrics has {a}, promlite sent {b}",
                g.0,
                g.1
            );
            rounded += 1;
        }
    }
    assert!(
        rounded * 10 < want.len(),
        "{rounded} of {} values rounded",
        want.len()
    );
    drop(w);
    drop(p);
}

#[test]
fn prometheus_agent_remote_writes_into_promlite() {
    if !have(
        "prometheus_agent_remote_writes_into_promlite",
        "prometheus",
        "prometheus",
    ) {
        return;
    }
    let dir = scratch("agent");
    // The scrape target: one fixed gen-kcm body.
    gen_kcm(
        &[
            "--queues",
            "2",
            "--scrapes",
            "1",
            "--no-target-labels",
            "--seed",
            "agent",
        ],
        &dir.join("kcm"),
    );
    let body = std::fs::read(dir.join("kcm/scrape-000001.prom")).unwrap();
    let target = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
    let target_port = target.server_addr().to_ip().unwrap().port();
    let t2 = target.clone();
    let b2 = body.clone();
    let target_thread = std::thread::spawn(move || {
        for req in t2.incoming_requests() {
            let resp = tiny_http::Response::from_data(b2.clone()).with_header(
                tiny_http::Header::from_bytes("Content-Type", "text/plain; version=0.0.4").unwrap(),
            );
            let _ = req.respond(resp);
        }
    });
    // The receiver: tiny_http around handle_write, into a promlite store.
    let store = Arc::new(Store::new(StoreConfig::default()));
    let recv = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
    let recv_port = recv.server_addr().to_ip().unwrap().port();
    let (r2, s2) = (recv.clone(), store.clone());
    let statuses = Arc::new(std::sync::Mutex::new(Vec::new()));
    let st2 = statuses.clone();
    let recv_thread = std::thread::spawn(move || {
        for mut req in r2.incoming_requests() {
            let header = |name: &'static str| {
                req.headers()
                    .iter()
                    .find(|h| h.field.equiv(name))
                    .map(|h| h.value.as_str().to_string())
            };
            let (ce, ct) = (header("Content-Encoding"), header("Content-Type"));
            let mut b = Vec::new();
            let _ = req.as_reader().read_to_end(&mut b);
            let r = handle_write(&s2, &b, ce.as_deref(), ct.as_deref());
            st2.lock().unwrap().push((r.status, r.body.clone()));
            let _ =
                req.respond(tiny_http::Response::from_string(r.body).with_status_code(r.status));
        }
    });
    let cfg = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: kcm\n    static_configs:\n      - targets: ['127.0.0.1:{target_port}']\n\
remote_write:\n  - url: http://127.0.0.1:{recv_port}/api/v1/write\n    queue_config:\n      batch_send_deadline: 1s\n    metadata_config:\n      send: false\n"
    );
    std::fs::write(dir.join("agent.yml"), cfg).unwrap();
    let child = Command::new("prometheus")
        .arg("--enable-feature=agent")
        .arg(format!("--config.file={}", dir.join("agent.yml").display()))
        .arg(format!(
            "--storage.agent.path={}",
            dir.join("wal").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{}", free_port()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start prometheus --enable-feature=agent");
    let p = Proc {
        child: Some(child),
        dir: dir.clone(),
    };
    // What the body says, with the labels Prometheus adds.
    let mut want: BTreeMap<String, f64> = BTreeMap::new();
    let mut parser = promlite::expfmt::Parser::new(&body, Format::Text);
    while let Some(ev) = parser.next_event() {
        if let promlite::expfmt::Event::Sample(s) = ev.unwrap() {
            // Prometheus drops empty-valued labels.
            let mut pairs: Vec<(String, String)> = s
                .labels()
                .filter(|(_, v)| !v.is_empty())
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect();
            pairs.push(("__name__".into(), s.name().to_string()));
            pairs.push(("job".into(), "kcm".into()));
            pairs.push(("instance".into(), format!("127.0.0.1:{target_port}")));
            want.insert(key(pairs.into_iter()), s.value);
        }
    }
    // Wait until every series has three samples (or 30 s).
    let all = Matcher::new(MatchOp::RegexMatch, "__name__", ".+").unwrap();
    let end = Instant::now() + Duration::from_secs(30);
    let got = loop {
        let got = store
            .select(std::slice::from_ref(&all), i64::MIN / 2, i64::MAX / 2)
            .unwrap();
        let done = want.keys().all(|k| {
            got.iter().any(|s| {
                s.samples.len() >= 3
                    && key(s
                        .labels
                        .iter()
                        .map(|l| (l.name.to_string(), l.value.to_string())))
                        == *k
            })
        });
        if done || Instant::now() > end {
            break got;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    drop(p);
    recv.unblock();
    target.unblock();
    let _ = recv_thread.join();
    let _ = target_thread.join();
    let statuses = statuses.lock().unwrap().clone();
    assert!(
        !statuses.is_empty() && statuses.iter().all(|s| s.0 == 204),
        "{statuses:?}"
    );
    let by_key: BTreeMap<String, &promlite::model::SeriesSamples> = got
        .iter()
        .map(|s| {
            (
                key(s
                    .labels
                    .iter()
                    .map(|l| (l.name.to_string(), l.value.to_string()))),
                s,
            )
        })
        .collect();
    for (k, v) in &want {
        let s = by_key
            .get(k)
            .unwrap_or_else(|| panic!("series {k} missing"));
        assert!(s.samples.len() >= 3, "{k}: {} samples", s.samples.len());
        for x in &s.samples {
            assert_eq!(x.v.to_bits(), v.to_bits(), "{k} at {}", x.t);
        }
        assert!(
            s.samples
                .windows(2)
                .all(|w| w[1].t - w[0].t >= 500 && w[1].t - w[0].t <= 3000),
            "{k}: 1 s apart"
        );
    }
    // Besides the body's series, the agent's own `up` and `scrape_*` series.
    let up = by_key
        .iter()
        .find(|(k, _)| k.starts_with("__name__=up,"))
        .expect("up series");
    assert!(up.1.samples.iter().all(|x| x.v == 1.0));
    assert_eq!(
        by_key.len(),
        want.len() + 5,
        "the body's series plus up and 4 scrape_* series"
    );
}
