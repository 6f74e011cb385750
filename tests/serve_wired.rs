//! `promlite serve` with rules, Alertmanager and remote_write wired in, over
//! loopback: an alert fires in serve and reaches the real Alertmanager 0.25;
//! `/api/v1/rules` and `/api/v1/alerts` answer in Prometheus's JSON shape;
//! the remote-write receiver takes pushes from promlite's sender and from
//! Prometheus 2.42 in agent mode, and answers queries over them.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::{promlite_bin, which};

/// Processes killed and a scratch directory removed however the test ends.
pub(crate) struct Guard {
    children: Vec<Child>,
    pub(crate) dir: PathBuf,
}

impl Guard {
    pub(crate) fn new(tag: &str) -> Guard {
        let dir = std::env::temp_dir().join(format!("promlite-wired-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Guard {
            children: Vec::new(),
            dir,
        }
    }

    pub(crate) fn spawn(&mut self, cmd: &mut Command) {
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {cmd:?}: {e}"));
        self.children.push(child);
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `(status, body)` of a GET, or `None` when nothing answers.
pub(crate) fn get(url: &str) -> Option<(u16, String)> {
    let out = Command::new("curl")
        .args(["-sg", "--max-time", "3", "-w", "\n%{http_code}", url])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n')?;
    let code: u16 = code.trim().parse().ok()?;
    (code != 0).then(|| (code, body.to_string()))
}

fn post(url: &str, headers: &[&str], body: &[u8]) -> (u16, String) {
    let dir = std::env::temp_dir().join(format!("promlite-wired-body-{}", std::process::id()));
    std::fs::write(&dir, body).unwrap();
    let mut c = Command::new("curl");
    c.args([
        "-s",
        "--max-time",
        "5",
        "-w",
        "\n%{http_code}",
        "-X",
        "POST",
    ]);
    for h in headers {
        c.args(["-H", h]);
    }
    c.arg("--data-binary").arg(format!("@{}", dir.display()));
    let out = c.arg(url).output().expect("curl");
    let _ = std::fs::remove_file(&dir);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (b, code) = text.rsplit_once('\n').expect("curl output");
    (code.trim().parse().unwrap_or(0), b.to_string())
}

/// Polls `f` every 200 ms until it gives `Some`, at most `secs` seconds.
pub(crate) fn wait_for<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

pub(crate) fn json_of(url: &str) -> Value {
    let (code, body) = get(url).unwrap_or_else(|| panic!("GET {url}: no answer"));
    assert_eq!(code, 200, "GET {url}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {url}: {e}: {body}"))
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect()
}

fn set(k: &[&str]) -> BTreeSet<String> {
    k.iter().map(|s| s.to_string()).collect()
}

/// The value of a one-series instant query `q` at unix time `t`, if any.
pub(crate) fn query_one(base: &str, q: &str, t: f64) -> Option<f64> {
    let url = format!(
        "{base}/api/v1/query?query={}&time={t}",
        q.replace('{', "%7B")
            .replace('}', "%7D")
            .replace('"', "%22")
            .replace(' ', "%20")
            .replace('+', "%2B")
    );
    let v = json_of(&url);
    let r = v["data"]["result"].as_array()?;
    if r.len() != 1 {
        return None;
    }
    r[0]["value"][1].as_str()?.parse().ok()
}

pub(crate) fn missing(test: &str, what: &[&str]) -> bool {
    let absent: Vec<&str> = what.iter().copied().filter(|c| !which(c)).collect();
    if absent.is_empty() {
        return false;
    }
    let why = format!("needs {} on PATH", absent.join(", "));
    if std::env::var_os("PROMLITE_REQUIRE_ORACLE").is_some() {
        panic!("{test}: {why}, and PROMLITE_REQUIRE_ORACLE is set");
    }
    eprintln!("SKIPPED {test}: {why}");
    true
}

pub(crate) fn now_s() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

const RULES: &str = "groups:
- name: wired
  interval: 1s
  rules:
  - record: job:x:sum
    expr: sum by (job) (x)
  - alert: XHigh
    expr: job:x:sum > 2
    labels: {severity: page}
    annotations: {summary: 'x is {{ $value }} on {{ $labels.job }}'}
  - alert: XHuge
    expr: job:x:sum > 100
";

/// serve evaluates the rule file against its store and sends the alert to
/// Alertmanager; the API answers in Prometheus's shape. Expected by hand: x
/// is 3 for job kcm, so job:x:sum is 3, XHigh (no `for`) fires with value 3
/// and XHuge stays inactive.
#[test]
fn serve_rules_fire_into_alertmanager() {
    const AM: &str = "prometheus-alertmanager";
    if missing("serve_rules_fire_into_alertmanager", &[AM, "curl"]) {
        return;
    }
    let mut g = Guard::new("am");
    let am_port = free_port();
    let am_cfg = g.dir.join("am.yml");
    std::fs::write(
        &am_cfg,
        "route:\n  receiver: blackhole\nreceivers:\n- name: blackhole\n",
    )
    .unwrap();
    let am_dir = g.dir.join("am");
    g.spawn(
        Command::new(AM)
            .arg(format!("--web.listen-address=127.0.0.1:{am_port}"))
            .arg("--cluster.listen-address=")
            .arg("--storage.path")
            .arg(&am_dir)
            .arg("--config.file")
            .arg(&am_cfg),
    );
    let am = format!("http://127.0.0.1:{am_port}");
    wait_for(20, "alertmanager ready", || {
        get(&format!("{am}/-/ready")).filter(|(c, _)| *c == 200)
    });

    // One sample a few seconds old, with its timestamp, so that rule
    // evaluations at "now" see it within the 5m lookback.
    let t = (now_s() * 1000.0) as i64 - 5_000;
    let data = g.dir.join("x.prom");
    std::fs::write(&data, format!("x{{job=\"kcm\"}} 3 {t}\n")).unwrap();
    let rules = g.dir.join("wired.yml");
    std::fs::write(&rules, RULES).unwrap();
    let port = free_port();
    g.spawn(
        Command::new(promlite_bin())
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--data")
            .arg(&data)
            .arg("--rules")
            .arg(&rules)
            .args(["--alertmanager.url", &am]),
    );
    let base = format!("http://127.0.0.1:{port}");

    // Alertmanager receives XHigh with the rule's labels and rendered annotation.
    let got = wait_for(20, "XHigh in Alertmanager", || {
        let (_, body) = get(&format!("{am}/api/v2/alerts"))?;
        let v: Vec<Value> = serde_json::from_str(&body).ok()?;
        v.into_iter().find(|a| a["labels"]["alertname"] == "XHigh")
    });
    assert_eq!(
        got["labels"],
        json!({"alertname": "XHigh", "job": "kcm", "severity": "page"})
    );
    assert_eq!(got["annotations"], json!({"summary": "x is 3 on kcm"}));

    // /api/v1/alerts: Prometheus's alert objects; the value as Go's %e.
    let v = json_of(&format!("{base}/api/v1/alerts"));
    assert_eq!(v["status"], "success");
    let alerts = v["data"]["alerts"].as_array().expect("alerts list");
    assert_eq!(alerts.len(), 1, "{v}");
    let a = &alerts[0];
    assert_eq!(
        keys(a),
        set(&["labels", "annotations", "state", "activeAt", "value"])
    );
    assert_eq!(a["state"], "firing");
    assert_eq!(a["value"], "3e+00");
    assert_eq!(
        a["labels"],
        json!({"alertname": "XHigh", "job": "kcm", "severity": "page"})
    );

    // /api/v1/rules: one group with the recording rule and both alerting rules.
    let v = json_of(&format!("{base}/api/v1/rules"));
    let groups = v["data"]["groups"].as_array().expect("groups");
    assert_eq!(groups.len(), 1);
    let grp = &groups[0];
    assert_eq!(
        keys(grp),
        set(&[
            "name",
            "file",
            "rules",
            "interval",
            "limit",
            "evaluationTime",
            "lastEvaluation"
        ])
    );
    assert_eq!(grp["name"], "wired");
    assert_eq!(grp["interval"], 1.0);
    let r = grp["rules"].as_array().expect("rules");
    assert_eq!(r.len(), 3);
    assert_eq!(
        keys(&r[0]),
        set(&[
            "name",
            "query",
            "health",
            "evaluationTime",
            "lastEvaluation",
            "type"
        ])
    );
    assert_eq!(
        (&r[0]["name"], &r[0]["type"], &r[0]["health"]),
        (&json!("job:x:sum"), &json!("recording"), &json!("ok"))
    );
    assert_eq!(
        keys(&r[1]),
        set(&[
            "state",
            "name",
            "query",
            "duration",
            "keepFiringFor",
            "labels",
            "annotations",
            "alerts",
            "health",
            "evaluationTime",
            "lastEvaluation",
            "type"
        ])
    );
    assert_eq!(
        (&r[1]["state"], &r[2]["state"]),
        (&json!("firing"), &json!("inactive"))
    );
    assert_eq!(r[2]["alerts"], json!([]));
    // type=record keeps the recording rule only.
    let v = json_of(&format!("{base}/api/v1/rules?type=record"));
    assert_eq!(v["data"]["groups"][0]["rules"].as_array().unwrap().len(), 1);
    let (code, _) = get(&format!("{base}/api/v1/rules?type=bogus")).unwrap();
    assert_eq!(code, 400);

    // The recorded series is in the store, and the group's metrics are served.
    assert_eq!(query_one(&base, "job:x:sum", now_s()), Some(3.0));
    let (_, metrics) = get(&format!("{base}/metrics")).unwrap();
    for family in [
        "prometheus_rule_group_last_duration_seconds{",
        "prometheus_rule_evaluation_failures_total{",
        "prometheus_rule_group_iterations_missed_total{",
        "prometheus_notifications_sent_total ",
    ] {
        assert!(metrics.contains(family), "{family} missing from /metrics");
    }
}

/// promlite's remote_write sender pushes into `serve
/// --web.enable-remote-write-receiver`, which then answers the pushed values;
/// bad bodies are 400 and the route is 404 without the flag.
#[test]
fn serve_receives_remote_write() {
    use promlite::model::Labels;
    use promlite::store::{Store, StoreConfig};
    use promlite_remote::{OutboxConfig, RemoteWriteConfig, RemoteWriter};
    if missing("serve_receives_remote_write", &["curl"]) {
        return;
    }
    let mut g = Guard::new("rw");
    let port = free_port();
    g.spawn(Command::new(promlite_bin()).args([
        "serve",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--web.enable-remote-write-receiver",
    ]));
    let base = format!("http://127.0.0.1:{port}");
    wait_for(20, "promlite ready", || {
        get(&format!("{base}/-/ready")).filter(|(c, _)| *c == 200)
    });

    let writer = RemoteWriter::start(
        RemoteWriteConfig::new(format!("{base}/api/v1/write")),
        OutboxConfig::new(g.dir.join("outbox")),
        None,
    )
    .expect("start writer");
    let store = Store::new(StoreConfig::unbounded());
    store.set_commit_observer(writer.observer()).ok();
    let t0 = ((now_s() as i64) - 120) * 1000;
    let s = |job: &str| Labels::from_pairs([("__name__", "pushed"), ("job", job)]);
    store
        .append_batch((0..5).flat_map(|i| {
            [
                (s("a"), t0 + i * 15_000, i as f64),
                (s("b"), t0 + i * 15_000, 10.0 * i as f64),
            ]
        }))
        .unwrap();
    assert!(writer.wait_idle(Duration::from_secs(20)), "sender idle");
    // By hand: at t0+60s job a holds 4, job b 40; their sum 44. rate over
    // (t0-1s, t0+60s] of a: increase 4 over the samples' 60 s; extrapolation
    // toward the window start stops at the counter's zero (the first sample
    // is 0), so the increase stays 4, divided by the 61 s range.
    let at = (t0 + 60_000) as f64 / 1000.0;
    assert_eq!(query_one(&base, "pushed{job=\"a\"}", at), Some(4.0));
    assert_eq!(query_one(&base, "sum(pushed)", at), Some(44.0));
    let rate = query_one(&base, "rate(pushed{job=\"a\"}[61s])", at).unwrap();
    assert!((rate - 4.0 / 61.0).abs() < 1e-12, "{rate}");

    let (code, body) = post(
        &format!("{base}/api/v1/write"),
        &[
            "Content-Encoding: snappy",
            "Content-Type: application/x-protobuf",
        ],
        b"junk",
    );
    assert_eq!(code, 400, "{body}");
}

/// Without `--web.enable-remote-write-receiver` the route is not served.
#[test]
fn serve_write_route_off_by_default() {
    if missing("serve_write_route_off_by_default", &["curl"]) {
        return;
    }
    let mut g = Guard::new("off");
    let data = g.dir.join("d.prom");
    std::fs::write(&data, "x 1 1000\n").unwrap();
    let port = free_port();
    g.spawn(
        Command::new(promlite_bin())
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--data")
            .arg(&data),
    );
    let base = format!("http://127.0.0.1:{port}");
    wait_for(20, "promlite ready", || {
        get(&format!("{base}/-/ready")).filter(|(c, _)| *c == 200)
    });
    let (code, _) = post(&format!("{base}/api/v1/write"), &[], b"x");
    assert_eq!(code, 404);
}

/// Prometheus 2.42 in agent mode scrapes a static page and remote-writes into
/// `promlite serve`; promlite answers what the agent's scrapes hold. Expected
/// by hand from the page: two gauges 42 and 7, `up` 1, two samples scraped.
#[test]
fn serve_receives_from_prometheus_agent() {
    if missing(
        "serve_receives_from_prometheus_agent",
        &["prometheus", "python3", "curl"],
    ) {
        return;
    }
    let mut g = Guard::new("agent");
    let site = g.dir.join("site");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(
        site.join("metrics.txt"),
        "# TYPE kcm_test_gauge gauge\nkcm_test_gauge{a=\"1\"} 42\nkcm_test_gauge{a=\"2\"} 7\n",
    )
    .unwrap();
    let web = free_port();
    g.spawn(
        Command::new("python3")
            .args(["-m", "http.server", &web.to_string(), "--bind", "127.0.0.1"])
            .arg("--directory")
            .arg(&site),
    );
    let port = free_port();
    g.spawn(Command::new(promlite_bin()).args([
        "serve",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--web.enable-remote-write-receiver",
    ]));
    let base = format!("http://127.0.0.1:{port}");
    let cfg = g.dir.join("agent.yml");
    std::fs::write(
        &cfg,
        format!(
            "global: {{scrape_interval: 1s}}\nscrape_configs:\n- job_name: static\n  metrics_path: /metrics.txt\n  static_configs: [{{targets: ['127.0.0.1:{web}']}}]\nremote_write:\n- url: {base}/api/v1/write\n  queue_config: {{batch_send_deadline: 1s}}\n"
        ),
    )
    .unwrap();
    let agent_port = free_port();
    g.spawn(
        Command::new("prometheus")
            .arg("--enable-feature=agent")
            .arg("--config.file")
            .arg(&cfg)
            .arg("--storage.agent.path")
            .arg(g.dir.join("wal"))
            .arg(format!("--web.listen-address=127.0.0.1:{agent_port}")),
    );
    let sel = |m: &str| format!("{m}{{job=\"static\",instance=\"127.0.0.1:{web}\"}}");
    let up = wait_for(60, "the agent's up in promlite", || {
        query_one(&base, &sel("up"), now_s())
    });
    assert_eq!(up, 1.0);
    assert_eq!(
        query_one(&base, &sel("scrape_samples_scraped"), now_s()),
        Some(2.0)
    );
    assert_eq!(
        query_one(&base, "kcm_test_gauge{a=\"1\",job=\"static\"}", now_s()),
        Some(42.0)
    );
    assert_eq!(
        query_one(&base, "sum(kcm_test_gauge{job=\"static\"})", now_s()),
        Some(49.0)
    );
}

/// Runs `promlite serve ARGS` expecting it to exit within 10 s (killed and
/// failed otherwise); its exit code and stderr.
fn serve_exits(args: &[&std::ffi::OsStr]) -> (Option<i32>, String) {
    let mut child = Command::new(promlite_bin())
        .arg("serve")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promlite serve");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(st) = child.try_wait().expect("wait") {
            let mut err = String::new();
            use std::io::Read;
            child.stderr.take().unwrap().read_to_string(&mut err).ok();
            return (st.code(), err);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("promlite serve {args:?} kept running instead of refusing");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A bad rule file stops serve before it listens, with the file, line and
/// column of the error (the position counted by hand: line 4, column 13).
#[test]
fn serve_refuses_a_bad_rule_file() {
    let g = Guard::new("bad");
    let data = g.dir.join("d.prom");
    std::fs::write(&data, "x 1 1000\n").unwrap();
    let bad = g.dir.join("bad.yml");
    std::fs::write(
        &bad,
        "groups:\n- name: g\n  rules:\n  - record: a-b\n    expr: up\n",
    )
    .unwrap();
    let os = |s: &str| std::ffi::OsString::from(s);
    let (code, err) = serve_exits(&[
        &os("--listen"),
        &os("127.0.0.1:0"),
        &os("--data"),
        data.as_os_str(),
        &os("--rules"),
        bad.as_os_str(),
    ]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("bad.yml")
            && err.contains("4:13")
            && err.contains("invalid recording rule name"),
        "{err}"
    );
    let (code, err) = serve_exits(&[
        &os("--listen"),
        &os("127.0.0.1:0"),
        &os("--data"),
        data.as_os_str(),
        &os("--rules"),
        &os("/nonexistent/rules.yml"),
    ]);
    assert_eq!(code, Some(2));
    assert!(err.contains("no such file"), "{err}");
}
