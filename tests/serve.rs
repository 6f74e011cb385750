//! `promlite serve` queried by clients nobody here wrote: Debian's `promtool query
//! instant` / `promtool query range` (Prometheus's Go API client) must print exactly
//! what `promlite eval` answers on the same data file, and plain HTTP (curl, or a std
//! TcpStream) checks labels, series, errors and unknown paths.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{gen_kcm, oracle_available, promlite_bin, which};

/// Dashboard queries of the kube-controller-manager issue.
const QUERIES: &[&str] = &[
    "histogram_quantile(0.99, sum by (name, le) (rate(workqueue_queue_duration_seconds_bucket[1m])))",
    "sum by (name) (rate(workqueue_adds_total[1m]))",
    "sum by (name) (workqueue_depth)",
    "sum by (code) (rate(rest_client_requests_total[1m]))",
    "histogram_quantile(0.99, sum by (url, le) (rate(rest_client_request_duration_seconds_bucket[1m])))",
    "rate(process_cpu_seconds_total[1m])",
    "process_resident_memory_bytes",
];
const START: i64 = 1_700_000_000;
/// Instant-query time: 150 s into the 12 scrapes 15 s apart.
const AT: i64 = START + 150;

/// Kills the server and removes the scratch directory however the test ends.
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

/// One HTTP/1.1 request over a std TcpStream: (status, body).
fn http(port: u16, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let ct = if body.is_empty() {
        String::new()
    } else {
        "Content-Type: application/x-www-form-urlencoded\r\n".to_string()
    };
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{ct}Content-Length: {}\r\n\r\n{body}",
        body.len()
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

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Starts `promlite serve` and waits (bounded) until it answers.
fn start_server(data: &Path, guard: &mut Guard) -> u16 {
    for _attempt in 0..3 {
        let port = free_port();
        let child = Command::new(promlite_bin())
            .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data"])
            .arg(data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn promlite serve");
        guard.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok((200, _)) = http(port, "GET", "/api/v1/status/buildinfo", "") {
                return port;
            }
            if let Some(c) = guard.child.as_mut() {
                if let Ok(Some(_)) = c.try_wait() {
                    break; // exited (port taken meanwhile?): try another port
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        if let Some(mut c) = guard.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
    panic!("promlite serve did not become ready");
}

/// A result row: labels, timestamp (ms), value bits (f64, compared exactly).
type Row = (BTreeMap<String, String>, i64, u64);

fn bits(v: f64) -> u64 {
    if v.is_nan() {
        f64::NAN.to_bits()
    } else {
        v.to_bits()
    }
}

fn parse_value(s: &str) -> f64 {
    s.trim()
        .parse::<f64>()
        .unwrap_or_else(|_| panic!("bad value {s:?}"))
}

/// `1700000150` or `1700000150.5` (model.Time's text form) to ms.
fn parse_ts(s: &str) -> i64 {
    let (i, f) = s.split_once('.').unwrap_or((s, ""));
    let frac: String = f.chars().chain("000".chars()).take(3).collect();
    i.parse::<i64>().expect("ts seconds") * 1000 + frac.parse::<i64>().expect("ts ms")
}

/// Parses Go's `model.Metric` text: `name{a="b", c="d"}`, `{a="b"}`, `name` or `{}`.
fn parse_metric(s: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let (name, rest) = match s.find('{') {
        Some(p) => (&s[..p], &s[p + 1..]),
        None => (s, "}"),
    };
    if !name.is_empty() {
        out.insert("__name__".to_string(), name.to_string());
    }
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek() == Some(&' ') || chars.peek() == Some(&',') {
            chars.next();
        }
        match chars.peek() {
            Some('}') | None => break,
            _ => {}
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        assert_eq!(chars.next(), Some('"'), "quote after {key}= in {s}");
        let mut val = String::new();
        loop {
            match chars.next().expect("unterminated label value") {
                '"' => break,
                '\\' => match chars.next() {
                    Some('n') => val.push('\n'),
                    Some('t') => val.push('\t'),
                    Some(c @ ('\\' | '"')) => val.push(c),
                    other => panic!("escape {other:?} not handled in {s}"),
                },
                c => val.push(c),
            }
        }
        out.insert(key, val);
    }
    out
}

/// promtool's text output (`model.Vector` / `model.Matrix` String) to rows.
fn parse_promtool(text: &str) -> BTreeSet<Row> {
    let mut rows = BTreeSet::new();
    let mut current: Option<BTreeMap<String, String>> = None;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        if let Some(metric) = line.strip_suffix(" =>") {
            current = Some(parse_metric(metric));
        } else if let Some((metric, rest)) = line.split_once(" => ") {
            let (v, ts) = rest.split_once(" @[").expect("value @[ts]");
            let ts = ts.trim_end_matches(']');
            rows.insert((parse_metric(metric), parse_ts(ts), bits(parse_value(v))));
        } else {
            let (v, ts) = line.split_once(" @[").expect("value @[ts]");
            let ts = ts.trim_end_matches(']');
            let m = current.clone().expect("value line before a series header");
            rows.insert((m, parse_ts(ts), bits(parse_value(v))));
        }
    }
    rows
}

fn json_ts(v: &Value) -> i64 {
    parse_ts(&v.to_string())
}

/// `promlite eval`'s JSON answer to rows.
fn parse_eval(rec: &Value) -> BTreeSet<Row> {
    assert_eq!(rec["status"], "success", "eval failed: {rec}");
    let mut rows = BTreeSet::new();
    for s in rec["data"]["result"].as_array().expect("result array") {
        let m: BTreeMap<String, String> = s["metric"]
            .as_object()
            .expect("metric")
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
            .collect();
        let points: Vec<&Value> = match s.get("values") {
            Some(vs) => vs.as_array().expect("values").iter().collect(),
            None => vec![&s["value"]],
        };
        for p in points {
            let v = parse_value(p[1].as_str().expect("value string"));
            rows.insert((m.clone(), json_ts(&p[0]), bits(v)));
        }
    }
    rows
}

fn promtool(args: &[&str]) -> String {
    let out = Command::new("promtool")
        .args(args)
        .output()
        .expect("run promtool");
    assert!(
        out.status.success(),
        "promtool {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

#[test]
fn promtool_and_curl_against_promlite_serve() {
    if !oracle_available("serve::promtool_and_curl_against_promlite_serve") || !which("python3") {
        return;
    }
    let t0 = Instant::now();
    let dir = std::env::temp_dir().join(format!(
        "promlite-serve-test-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let mut guard = Guard {
        child: None,
        dir: dir.clone(),
    };
    let data = dir.join("kcm.om");
    let start = START.to_string();
    gen_kcm(
        &[
            "--instances",
            "2",
            "--queues",
            "5",
            "--scrapes",
            "12",
            "--interval",
            "15",
            "--format",
            "openmetrics",
            "--start",
            &start,
        ],
        &data,
    );
    let port = start_server(&data, &mut guard);
    let url = format!("http://127.0.0.1:{port}");

    // promlite eval answers every query in one batch.
    let (rs, re, rstep) = (START + 60, START + 165, 15);
    let mut batch = String::new();
    for q in QUERIES {
        batch.push_str(&serde_json::json!({"expr": q, "time": AT}).to_string());
        batch.push('\n');
        batch.push_str(
            &serde_json::json!({"expr": q, "start": rs, "end": re, "step": rstep}).to_string(),
        );
        batch.push('\n');
    }
    let qfile = dir.join("queries.jsonl");
    std::fs::write(&qfile, batch).expect("write queries");
    let out = Command::new(promlite_bin())
        .arg("eval")
        .arg("--data")
        .arg(&data)
        .arg("--batch")
        .arg(&qfile)
        .output()
        .expect("promlite eval");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answers: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("eval JSON line"))
        .collect();
    assert_eq!(answers.len(), QUERIES.len() * 2);

    let mut compared = 0;
    for (i, q) in QUERIES.iter().enumerate() {
        let want = parse_eval(&answers[2 * i]);
        let got = parse_promtool(&promtool(&[
            "query",
            "instant",
            &url,
            q,
            &format!("--time={AT}"),
        ]));
        assert_eq!(got, want, "instant {q}");
        compared += got.len();
        let want = parse_eval(&answers[2 * i + 1]);
        let got = parse_promtool(&promtool(&[
            "query",
            "range",
            &url,
            q,
            &format!("--start={rs}"),
            &format!("--end={re}"),
            &format!("--step={rstep}s"),
        ]));
        assert_eq!(got, want, "range {q}");
        compared += got.len();
    }
    // Not vacuous: 2 instances x 5 queues alone give 10 series for the adds rate.
    assert!(compared > 100, "only {compared} rows compared");

    // The instances, read from the data file itself.
    let text = std::fs::read_to_string(&data).expect("read data");
    let instances: BTreeSet<String> = text
        .lines()
        .filter(|l| l.starts_with("process_resident_memory_bytes{"))
        .filter_map(|l| {
            l.split("instance=\"")
                .nth(1)?
                .split('"')
                .next()
                .map(String::from)
        })
        .collect();
    assert_eq!(instances.len(), 2);

    // Plain HTTP: labels, series, a bad query, an unknown path.
    let get = |path: &str| {
        let (st, body) = http(port, "GET", path, "").expect("GET");
        (
            st,
            serde_json::from_str::<Value>(&body).unwrap_or(Value::Null),
        )
    };
    let (st, v) = get("/api/v1/labels");
    assert_eq!((st, &v["status"]), (200, &Value::from("success")));
    let names: Vec<&str> = v["data"]
        .as_array()
        .expect("labels array")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for n in ["__name__", "instance", "job", "name", "le", "code"] {
        assert!(names.contains(&n), "{n} missing from {names:?}");
    }
    assert!(names.windows(2).all(|w| w[0] < w[1]), "sorted, unique");
    let (st, v) = get(
        "/api/v1/series?match%5B%5D=process_resident_memory_bytes&start=1700000000&end=1700000200",
    );
    assert_eq!(st, 200);
    let got: BTreeSet<String> = v["data"]
        .as_array()
        .expect("series array")
        .iter()
        .map(|s| {
            assert_eq!(s["__name__"], "process_resident_memory_bytes");
            s["instance"].as_str().unwrap_or_default().to_string()
        })
        .collect();
    assert_eq!(got, instances);
    let (st, v) = get("/api/v1/query?query=sum(rate(x%5B5m%5D)&time=1700000100");
    assert_eq!(
        (st, &v["errorType"]),
        (400, &Value::from("bad_data")),
        "{v}"
    );
    let (st, _) = get("/api/v1/no_such_endpoint");
    assert_eq!(st, 404);
    // A POST form answers like GET (promtool POSTs; check it by hand too).
    let (st, body) = http(
        port,
        "POST",
        "/api/v1/query",
        "query=sum+by+%28name%29+%28workqueue_depth%29&time=1700000150",
    )
    .expect("POST");
    assert_eq!(st, 200);
    let posted: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(parse_eval(&posted), parse_eval(&answers[4]));

    if which("curl") {
        let out = Command::new("curl")
            .args([
                "-s",
                "-w",
                "\n%{http_code}",
                &format!("{url}/api/v1/labels"),
            ])
            .output()
            .expect("curl");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let (body, code) = text.rsplit_once('\n').expect("curl output");
        assert_eq!(code, "200");
        let v: Value = serde_json::from_str(body).expect("curl JSON");
        assert_eq!(v["data"].as_array().map(Vec::len), Some(names.len()));
        let out = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
            .arg(format!("{url}/api/v1/query?query=%29&time=1"))
            .output()
            .expect("curl");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "400");
    }
    drop(guard);
    assert!(
        t0.elapsed() < Duration::from_secs(60),
        "took {:?}",
        t0.elapsed()
    );
}

#[test]
fn promtool_output_parser() {
    let rows = parse_promtool(
        "{code=\"200\"} => 9.5 @[1700000150]\nup{a=\"x \\\"y\\\"\", b=\"\"} => NaN @[1.5]\n",
    );
    let mut want = BTreeSet::new();
    let m = |p: &[(&str, &str)]| -> BTreeMap<String, String> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    want.insert((m(&[("code", "200")]), 1_700_000_150_000, 9.5f64.to_bits()));
    want.insert((
        m(&[("__name__", "up"), ("a", "x \"y\""), ("b", "")]),
        1500,
        f64::NAN.to_bits(),
    ));
    assert_eq!(rows, want);
    let rows = parse_promtool("{} =>\n1 @[10]\n+Inf @[25]\n");
    assert_eq!(rows.len(), 2);
    assert!(rows.contains(&(BTreeMap::new(), 25_000, f64::INFINITY.to_bits())));
}
