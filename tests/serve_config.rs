//! `promlite serve --config FILE`: a prometheus.yml with `file_sd_configs` and
//! relabeling, scraping real /metrics fixtures served over loopback: the targets API
//! shows what the relabel rules give, `up` is 1, a target removed from the file goes
//! away and its series go stale, and `POST /-/reload` keeps the loops (and so the
//! data) of targets that stay. Expected labels are worked out by hand from the rules.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{promlite_bin, shared_dir};

/// Kills the server, stops the targets and removes the scratch directory.
struct Guard {
    child: Option<Child>,
    targets: Vec<Arc<tiny_http::Server>>,
    dir: PathBuf,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        for t in &self.targets {
            t.unblock();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn http(port: u16, method: &str, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    )?;
    let mut raw = String::new();
    s.read_to_string(&mut raw)?;
    let status = raw
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = raw
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, b)| b.to_string());
    Ok((status, body))
}

fn get_json(port: u16, path: &str) -> Value {
    let (code, body) = http(port, "GET", path).expect("request to promlite serve");
    assert_eq!(code, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
}

/// A loopback target serving `body` as its /metrics; returns its address.
fn target(body: Vec<u8>, guard: &mut Guard) -> String {
    let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("target listens"));
    let addr = server
        .server_addr()
        .to_ip()
        .expect("an IP address")
        .to_string();
    let s = Arc::clone(&server);
    std::thread::spawn(move || {
        for req in s.incoming_requests() {
            let resp = tiny_http::Response::from_data(body.clone()).with_header(
                tiny_http::Header::from_bytes("Content-Type", "text/plain; version=0.0.4")
                    .expect("header"),
            );
            let _ = req.respond(resp);
        }
    });
    guard.targets.push(server);
    addr
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Polls `f` every 200 ms until it returns `Some`, for at most `secs` seconds.
fn wait_for<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn labels(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .expect("a label object")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("a string").to_string()))
        .collect()
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn write_targets(path: &std::path::Path, groups: &str) {
    // Write then rename, so the poller never reads half a file.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, groups).expect("write file_sd file");
    std::fs::rename(&tmp, path).expect("rename file_sd file");
}

const CONFIG: &str = "\
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
- job_name: files
  file_sd_configs:
  - files: [targets.json]
  relabel_configs:
  - {action: keep, source_labels: [keep], regex: 'yes'}
  - {action: labeldrop, regex: keep}
  - {action: replace, source_labels: [team], target_label: owner, replacement: 'team-$1'}
";

#[test]
fn serve_config_file_sd_targets_reload_and_staleness() {
    let fixtures = shared_dir().join("fixtures/real");
    let dir = std::env::temp_dir().join(format!("promlite-serve-config-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let mut guard = Guard {
        child: None,
        targets: Vec::new(),
        dir: dir.clone(),
    };
    let read =
        |f: &str| std::fs::read(fixtures.join(f)).unwrap_or_else(|e| panic!("fixture {f}: {e}"));
    let a = target(read("kube-scheduler-1.35.0.prom"), &mut guard);
    let b = target(read("kube-controller-manager-1.24.17.prom"), &mut guard);
    let sd = dir.join("targets.json");
    let group = |addr: &str, keep: &str, team: &str| {
        format!(r#"{{"targets": ["{addr}"], "labels": {{"keep": "{keep}", "team": "{team}"}}}}"#)
    };
    write_targets(
        &sd,
        &format!(
            "[{}, {}, {}]",
            group(&a, "yes", "a"),
            group(&b, "yes", "b"),
            group(&a, "no", "c")
        ),
    );
    let cfg = dir.join("prometheus.yml");
    std::fs::write(&cfg, CONFIG).expect("write config");
    let port = free_port();
    guard.child = Some(
        Command::new(promlite_bin())
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--config",
            ])
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn promlite serve --config"),
    );

    // Both kept targets get scraped successfully.
    let t = wait_for(30, "two healthy active targets", || {
        let v = http(port, "GET", "/api/v1/targets").ok()?;
        let v: Value = serde_json::from_str(&v.1).ok()?;
        let active = v["data"]["activeTargets"].as_array()?.clone();
        (active.len() == 2 && active.iter().all(|t| t["health"] == "up")).then_some(v)
    });
    let mut active: Vec<BTreeMap<String, String>> = t["data"]["activeTargets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| labels(&t["labels"]))
        .collect();
    active.sort();
    let mut want = vec![
        map(&[
            ("instance", &a),
            ("job", "files"),
            ("owner", "team-a"),
            ("team", "a"),
        ]),
        map(&[
            ("instance", &b),
            ("job", "files"),
            ("owner", "team-b"),
            ("team", "b"),
        ]),
    ];
    want.sort();
    assert_eq!(active, want);
    for t in t["data"]["activeTargets"].as_array().unwrap() {
        assert_eq!(t["scrapePool"], "files");
        assert_eq!(t["lastError"], "");
        assert_eq!(t["scrapeInterval"], "1s");
        let url = t["scrapeUrl"].as_str().unwrap();
        assert!(url == format!("http://{a}/metrics") || url == format!("http://{b}/metrics"));
        assert_eq!(labels(&t["discoveredLabels"])["keep"], "yes");
    }
    let dropped = t["data"]["droppedTargets"].as_array().unwrap();
    assert_eq!(dropped.len(), 1, "{dropped:?}");
    let d = labels(&dropped[0]["discoveredLabels"]);
    assert_eq!(
        (d["__address__"].as_str(), d["keep"].as_str()),
        (a.as_str(), "no")
    );
    assert_eq!(d["team"], "c");
    // The state filter.
    let only = get_json(port, "/api/v1/targets?state=dropped");
    assert_eq!(only["data"]["activeTargets"].as_array().unwrap().len(), 0);
    assert_eq!(only["data"]["droppedTargets"].as_array().unwrap().len(), 1);
    let only = get_json(port, "/api/v1/targets?state=active");
    assert_eq!(only["data"]["droppedTargets"].as_array().unwrap().len(), 0);
    assert_eq!(only["data"]["activeTargets"].as_array().unwrap().len(), 2);
    // The configuration as given.
    assert_eq!(
        get_json(port, "/api/v1/status/config")["data"]["yaml"],
        CONFIG
    );

    // up = 1 for both, and the fixtures' own series arrived with the target labels.
    let up = get_json(port, "/api/v1/query?query=up");
    let r = up["data"]["result"].as_array().unwrap();
    assert_eq!(r.len(), 2, "{up}");
    assert!(r.iter().all(|s| s["value"][1] == "1"), "{up}");
    let own = get_json(
        port,
        "/api/v1/query?query=count(scheduler_pending_pods{owner=%22team-a%22})",
    );
    assert_eq!(own["data"]["result"][0]["value"][1], "4", "{own}");

    // A reload adding a job keeps the loops of the targets that stay: still healthy
    // (a restarted loop starts as "unknown"), same lastScrape history.
    std::fs::write(
        &cfg,
        format!("{CONFIG}- job_name: extra\n  static_configs: [{{targets: ['{b}']}}]\n"),
    )
    .expect("rewrite config");
    let (code, body) = http(port, "POST", "/-/reload").expect("reload");
    assert_eq!(code, 200, "{body}");
    let after = get_json(port, "/api/v1/targets?scrapePool=files");
    let kept = after["data"]["activeTargets"].as_array().unwrap();
    assert_eq!(kept.len(), 2, "{after}");
    assert!(
        kept.iter().all(|t| t["health"] == "up"),
        "loops restarted: {after}"
    );
    wait_for(10, "the added job scraped", || {
        let v = get_json(port, "/api/v1/query?query=up%7Bjob%3D%22extra%22%7D");
        (v["data"]["result"][0]["value"][1] == "1").then_some(())
    });
    // A broken configuration is rejected and changes nothing.
    std::fs::write(&cfg, "scrape_configs: [{job_name: files, bogus: 1}]\n").expect("write");
    let (code, body) = http(port, "POST", "/-/reload").expect("reload");
    assert_eq!(code, 500, "{body}");
    assert!(body.contains("bogus"), "{body}");
    assert_eq!(
        get_json(port, "/api/v1/targets?state=active")["data"]["activeTargets"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    // Target b leaves the file: it leaves the targets and its series go stale.
    write_targets(
        &sd,
        &format!("[{}, {}]", group(&a, "yes", "a"), group(&a, "no", "c")),
    );
    wait_for(15, "target b to go away", || {
        let v = get_json(port, "/api/v1/targets?scrapePool=files");
        (v["data"]["activeTargets"].as_array()?.len() == 1).then_some(())
    });
    let stale = get_json(port, "/api/v1/query?query=up%7Bteam%3D%22b%22%7D");
    assert_eq!(
        stale["data"]["result"].as_array().unwrap().len(),
        0,
        "{stale}"
    );
    let gone = get_json(
        port,
        "/api/v1/query?query=count(workqueue_depth%7Bteam%3D%22b%22%7D)",
    );
    assert_eq!(
        gone["data"]["result"].as_array().unwrap().len(),
        0,
        "{gone}"
    );
    let still = get_json(port, "/api/v1/query?query=up%7Bteam%3D%22a%22%7D");
    assert_eq!(still["data"]["result"][0]["value"][1], "1", "{still}");

    // SIGHUP reloads too: the job "extra" leaves with the original configuration.
    std::fs::write(&cfg, CONFIG).expect("restore config");
    let pid = guard
        .child
        .as_ref()
        .expect("server running")
        .id()
        .to_string();
    let hup = Command::new("kill").args(["-HUP", &pid]).status();
    assert!(hup.is_ok_and(|s| s.success()), "kill -HUP {pid}");
    wait_for(10, "SIGHUP to drop job extra", || {
        let v = get_json(port, "/api/v1/targets?scrapePool=extra");
        v["data"]["activeTargets"]
            .as_array()?
            .is_empty()
            .then_some(())
    });
    assert_eq!(
        get_json(port, "/api/v1/targets?scrapePool=files")["data"]["activeTargets"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
