//! The `promlite` binary against live endpoints: `watch --once` over an HTTPS server
//! answering successive simulated kube-controller-manager scrapes, and
//! `serve --scrape` answering `up` through the HTTP API.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use promlite::dashboard::KCM_PANELS;
use promlite::sim::{KcmSim, SimConfig};

use crate::common::promlite_bin;
use crate::support::https::{temp_dir, Pki, Req, Resp, Server};

const TOKEN: &str = "watch-token";

/// An HTTPS server (bearer token required) whose every answer is the next scrape of
/// one simulated kube-controller-manager, advanced by 1 s per scrape.
fn sim_server(pki: &Pki) -> Server {
    let sim = Mutex::new(KcmSim::new(SimConfig {
        instances: 1,
        interval_ms: 1_000,
        restart: None,
        ..SimConfig::default()
    }));
    Server::start(
        Some(pki.server_config(false)),
        Arc::new(move |r: &Req| {
            if r.header("authorization") != Some(&format!("Bearer {TOKEN}")) {
                return Resp::status(401, "Unauthorized");
            }
            let mut sim = sim.lock().unwrap();
            Resp::text(sim.next_scrape().swap_remove(0).body)
        }),
    )
}

/// Runs the binary with `args`, killing it after `limit`: (exit code, stdout, stderr).
fn run_bounded(args: &[&str], limit: Duration) -> (Option<i32>, String, String) {
    let mut child = Command::new(promlite_bin())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn promlite");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + limit;
    let code = loop {
        if let Ok(Some(st)) = child.try_wait() {
            break st.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("promlite {args:?} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (code, t_out.join().unwrap(), t_err.join().unwrap())
}

#[test]
fn watch_once_prints_the_dashboard_from_live_scrapes() {
    let pki = Pki::generate();
    let srv = sim_server(&pki);
    let dir = temp_dir("watch");
    let token = dir.join("token");
    std::fs::write(&token, format!("{TOKEN}\n")).unwrap();
    let url = srv.url("https");
    let (code, out, err) = run_bounded(
        &[
            "watch",
            &url,
            "--once",
            "--interval",
            "1s",
            "--bearer-token-file",
            token.to_str().unwrap(),
            "--ca-file",
            pki.ca_pem.to_str().unwrap(),
        ],
        Duration::from_secs(60),
    );
    assert_eq!(code, Some(0), "stdout:\n{out}\nstderr:\n{err}");
    for p in KCM_PANELS {
        assert!(out.contains(p.title), "panel {:?} missing:\n{out}", p.title);
    }
    // The target line: up, with 2 good scrapes (what rate() needs) and none failed.
    assert!(out.contains(&format!("up   {url}")), "{out}");
    assert!(out.contains("(2 ok, 0 failed)"), "{out}");
    assert!(!out.contains("(no data)\n── Workqueue adds"), "{out}");
    // garbage_collector_graph_changes is the sim's busiest queue. The server handed
    // out the sim's scrapes 0 and 1; replaying the same deterministic sim gives the
    // counter's two values. By hand, Prometheus's rate over [5m] with two samples
    // dt apart: the start is not extrapolated past the counter's zero (the first
    // value is 0), the end only by the few ms between the last scrape and the
    // evaluation (less than 1.1 dt, and at most dt/2 otherwise), so
    // increase = delta * (dt + e) / dt with 0 <= e <= dt/2, and rate = increase / 300 s.
    let mut replay = KcmSim::new(SimConfig {
        instances: 1,
        interval_ms: 1_000,
        restart: None,
        ..SimConfig::default()
    });
    let gc_adds = |body: Vec<u8>| -> f64 {
        String::from_utf8(body)
            .unwrap()
            .lines()
            .find_map(|l| {
                l.strip_prefix(r#"workqueue_adds_total{name="garbage_collector_graph_changes"} "#)
            })
            .unwrap()
            .parse()
            .unwrap()
    };
    let first = gc_adds(replay.next_scrape().swap_remove(0).body);
    let second = gc_adds(replay.next_scrape().swap_remove(0).body);
    assert_eq!(first, 0.0);
    let delta = second - first;
    assert!(delta > 0.0);
    let adds = out
        .split("── Workqueue adds per second ──")
        .nth(1)
        .and_then(|s| s.split("── ").next())
        .unwrap();
    let row = adds
        .lines()
        .find(|l| l.contains("garbage_collector_graph_changes"))
        .unwrap_or_else(|| panic!("no row for the busiest queue:\n{adds}"));
    let v: f64 = row
        .split_whitespace()
        .last()
        .and_then(|v| v.strip_suffix("/s"))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no value in {row:?}"));
    // Printed with 3 decimals: allow half a unit of the last place.
    let (lo, hi) = (delta / 300.0 - 0.0005, delta * 1.5 / 300.0 + 0.0005);
    assert!(
        v >= lo && v <= hi,
        "{row}: expected {lo}..{hi} (delta {delta})"
    );
    assert!(
        row.contains(&format!("127.0.0.1:{}", srv.port)),
        "instance label: {row}"
    );
    // No ANSI clear-screen when stdout is not a terminal.
    assert!(!out.contains("\x1b["), "{out}");
    assert!(srv.hits.load(std::sync::atomic::Ordering::Relaxed) >= 2);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn watch_once_without_any_reachable_target_exits_1_with_the_error() {
    // A port that was free a moment ago: connection refused.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/metrics");
    let (code, out, err) = run_bounded(
        &["watch", &url, "--once", "--interval", "1s"],
        Duration::from_secs(30),
    );
    assert_eq!(code, Some(1), "stdout:\n{out}\nstderr:\n{err}");
    assert!(err.contains("no target could be scraped"), "{err}");
    assert!(err.contains("connection failed"), "{err}");
}

#[test]
fn watch_rejects_a_bad_query_before_scraping() {
    let (code, _, err) = run_bounded(
        &[
            "watch",
            "http://127.0.0.1:9/metrics",
            "--query",
            "rate(x[5m]",
        ],
        Duration::from_secs(30),
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("bad --query"), "{err}");
}

/// GET `path` from 127.0.0.1:`port`: (status, body).
fn get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)?;
    let status = resp
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = resp.split_once("\r\n\r\n").map_or("", |x| x.1).to_string();
    Ok((status, body))
}

struct Kill(std::process::Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn serve_scrape_answers_up_1_through_the_api() {
    let pki = Pki::generate();
    let srv = sim_server(&pki);
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = srv.url("https");
    let _child = Kill(
        Command::new(promlite_bin())
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--scrape",
                &url,
                "--interval",
                "1s",
                "--job",
                "kcm",
                "--bearer-token",
                TOKEN,
                "--ca-file",
                pki.ca_pem.to_str().unwrap(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn promlite serve"),
    );
    // Wait (bounded) for the first scrape to land.
    let deadline = Instant::now() + Duration::from_secs(30);
    let body = loop {
        if let Ok((200, body)) = get(port, "/api/v1/query?query=up") {
            if body.contains("\"result\":[{") {
                break body;
            }
        }
        assert!(Instant::now() < deadline, "no `up` from serve --scrape");
        std::thread::sleep(Duration::from_millis(200));
    };
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let r = &v["data"]["result"];
    assert_eq!(r.as_array().unwrap().len(), 1, "{body}");
    assert_eq!(r[0]["metric"]["__name__"], "up");
    assert_eq!(r[0]["metric"]["job"], "kcm");
    assert_eq!(
        r[0]["metric"]["instance"],
        format!("127.0.0.1:{}", srv.port).as_str()
    );
    assert_eq!(r[0]["value"][1], "1", "{body}");
    // The scraped series are queryable, and /metrics counts the scrapes.
    let (status, body) = get(port, "/api/v1/query?query=count(workqueue_adds_total)").unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(!body.contains("\"result\":[]"), "{body}");
    let (status, metrics) = get(port, "/metrics").unwrap();
    assert_eq!(status, 200);
    let scrapes: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("promlite_scrapes_total "))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{metrics}"));
    assert!(scrapes >= 1, "{metrics}");
    assert!(
        metrics.contains("\npromlite_scrape_failures_total 0\n"),
        "{metrics}"
    );
}
