//! `promlite::scrape` against an in-process HTTPS server (rustls + an rcgen-made CA)
//! serving the real kube-controller-manager fixture: bearer tokens (string and
//! rotated file), client certificates, CA files, `insecure_skip_verify`, timeouts,
//! the body limit, and what a failed scrape leaves in the store (up 0, stale series).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use promlite::expfmt::{Event, Format, Parser};
use promlite::model::{MatchOp, Matcher, Queryable};
use promlite::promql::{Engine, EngineOptions, Value};
use promlite::scrape::{Auth, ScrapeConfig, ScrapeError, Scraper};
use promlite::store::{Store, StoreConfig};

use crate::common::shared_dir;
use crate::support::https::{temp_dir, Pki, Req, Resp, Server};

const TOKEN: &str = "s3cret-token";
const T0: i64 = 1_700_000_000_000;

fn fixture() -> Vec<u8> {
    std::fs::read(shared_dir().join("fixtures/real/kube-controller-manager-1.35.0.prom")).unwrap()
}

/// Samples in the fixture as the parser counts them, checked against a plain line
/// count (every line that is neither blank nor a `#` comment is one sample).
fn fixture_samples() -> usize {
    let body = fixture();
    let mut p = Parser::new(&body, Format::Text);
    let mut n = 0;
    while let Some(ev) = p.next_event() {
        if let Event::Sample(_) = ev.unwrap() {
            n += 1;
        }
    }
    let lines = std::str::from_utf8(&body)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .count();
    assert_eq!(n, lines);
    // `grep -v '^#' kube-controller-manager-1.35.0.prom | grep -c .` prints 2852.
    assert_eq!(
        n, 2852,
        "wc-style count of the 1.35.0 fixture's sample lines"
    );
    n
}

/// Serves the fixture to requests carrying `Authorization: Bearer <expected>`, 401
/// otherwise; `down` makes it answer 503.
fn token_handler(
    expected: Arc<Mutex<String>>,
    down: Arc<AtomicBool>,
) -> crate::support::https::Handler {
    let body = fixture();
    Arc::new(move |r: &Req| {
        if down.load(Ordering::Relaxed) {
            return Resp::status(503, "down");
        }
        let want = format!("Bearer {}", expected.lock().unwrap());
        if r.header("authorization") != Some(want.as_str()) {
            return Resp::status(401, "Unauthorized");
        }
        Resp::text(body.clone())
    })
}

struct Setup {
    pki: Pki,
    /// TLS, bearer token required.
    token: Server,
    /// TLS, client certificate signed by the CA required.
    mtls: Server,
    expected: Arc<Mutex<String>>,
    down: Arc<AtomicBool>,
}

fn setup() -> Setup {
    let pki = Pki::generate();
    let expected = Arc::new(Mutex::new(TOKEN.to_string()));
    let down = Arc::new(AtomicBool::new(false));
    let token = Server::start(
        Some(pki.server_config(false)),
        token_handler(expected.clone(), down.clone()),
    );
    let body = fixture();
    let mtls = Server::start(
        Some(pki.server_config(true)),
        Arc::new(move |_: &Req| Resp::text(body.clone())),
    );
    Setup {
        pki,
        token,
        mtls,
        expected,
        down,
    }
}

fn cfg(url: String) -> ScrapeConfig {
    let mut c = ScrapeConfig::new(url);
    c.job = "kcm".to_string();
    c.timeout = Duration::from_secs(10);
    c
}

fn select(store: &Store, name: &str) -> Vec<(promlite::model::Labels, Vec<(i64, f64)>)> {
    store
        .select(
            &[Matcher::new(MatchOp::Equal, "__name__", name).unwrap()],
            i64::MIN / 2,
            i64::MAX / 2,
        )
        .unwrap()
        .into_iter()
        .map(|s| (s.labels, s.samples.iter().map(|x| (x.t, x.v)).collect()))
        .collect()
}

/// The one value of `name` (a report series) at time `t`.
fn report_value(store: &Store, name: &str, t: i64) -> f64 {
    let s = select(store, name);
    assert_eq!(s.len(), 1, "{name}: {s:?}");
    s[0].1
        .iter()
        .find(|x| x.0 == t)
        .unwrap_or_else(|| panic!("{name} has no sample at {t}: {:?}", s[0].1))
        .1
}

fn instant(store: &Store, q: &str, t: i64) -> usize {
    let engine = Engine::new(EngineOptions::default());
    match engine.instant_query(store, q, t).unwrap().value {
        Value::Vector(v) => v.len(),
        other => panic!("{q}: not a vector: {other:?}"),
    }
}

#[test]
fn scrape_with_token_and_ca_file_ingests_the_whole_fixture() {
    let s = setup();
    let n = fixture_samples();
    let mut c = cfg(s.token.url("https"));
    c.auth = Auth::BearerToken(TOKEN.to_string());
    c.tls.ca_file = Some(s.pki.ca_pem.clone());
    let scraper = Scraper::new(c).unwrap();
    let store = Store::new(StoreConfig::default());
    let rep = scraper.scrape(&store, T0).unwrap();
    assert_eq!(rep.ingest.samples_in_body, n);
    assert_eq!(rep.ingest.samples_appended, n);
    assert_eq!(rep.format, Format::Text);
    assert_eq!(report_value(&store, "up", T0), 1.0);
    assert_eq!(report_value(&store, "scrape_samples_scraped", T0), n as f64);
    assert_eq!(report_value(&store, "scrape_series_added", T0), n as f64);
    let d = report_value(&store, "scrape_duration_seconds", T0);
    assert!(d > 0.0 && d < 10.0, "{d}");
    // Target labels on the scraped series and on `up`.
    let up = select(&store, "up");
    assert_eq!(up[0].0.get("job"), Some("kcm"));
    assert_eq!(
        up[0].0.get("instance"),
        Some(format!("127.0.0.1:{}", s.token.port).as_str())
    );
    let cpu = select(&store, "process_cpu_seconds_total");
    assert_eq!(cpu.len(), 1);
    assert_eq!(cpu[0].0.get("job"), Some("kcm"));
    // A second scrape: the same series again, no new ones.
    let rep = scraper.scrape(&store, T0 + 15_000).unwrap();
    assert_eq!(rep.ingest.series_created, 0);
    assert_eq!(
        report_value(&store, "scrape_series_added", T0 + 15_000),
        0.0
    );
}

#[test]
fn wrong_or_missing_token_is_a_401_error() {
    let s = setup();
    for auth in [Auth::None, Auth::BearerToken("wrong".to_string())] {
        let mut c = cfg(s.token.url("https"));
        c.auth = auth.clone();
        c.tls.ca_file = Some(s.pki.ca_pem.clone());
        let store = Store::new(StoreConfig::default());
        let e = Scraper::new(c).unwrap().scrape(&store, T0).unwrap_err();
        eprintln!("expected error: {e}");
        assert!(
            matches!(e, ScrapeError::Status { status: 401, .. }),
            "{auth:?}: {e}"
        );
        let msg = e.to_string();
        assert!(msg.contains("401") && msg.contains("Unauthorized"), "{msg}");
        assert_eq!(report_value(&store, "up", T0), 0.0);
        assert!(select(&store, "process_cpu_seconds_total").is_empty());
    }
}

#[test]
fn token_file_is_reread_between_scrapes() {
    let s = setup();
    let dir = temp_dir("token");
    let file = dir.join("token");
    std::fs::write(&file, "old-token\n").unwrap();
    let mut c = cfg(s.token.url("https"));
    c.auth = Auth::BearerTokenFile(file.clone());
    c.tls.ca_file = Some(s.pki.ca_pem.clone());
    let scraper = Scraper::new(c).unwrap();
    let store = Store::new(StoreConfig::default());
    *s.expected.lock().unwrap() = "old-token".to_string();
    scraper.scrape(&store, T0).unwrap();
    // The server rotates to a new token: the old one now fails...
    *s.expected.lock().unwrap() = "new-token".to_string();
    let e = scraper.scrape(&store, T0 + 15_000).unwrap_err();
    eprintln!("expected error: {e}");
    assert!(matches!(e, ScrapeError::Status { status: 401, .. }), "{e}");
    // ...until the file (as kubelet does) gets the new one; no restart needed.
    std::fs::write(&file, "new-token\n").unwrap();
    scraper.scrape(&store, T0 + 30_000).unwrap();
    assert_eq!(report_value(&store, "up", T0 + 30_000), 1.0);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn client_certificate_port() {
    let s = setup();
    let store = Store::new(StoreConfig::default());
    // Signed by the CA: accepted.
    let mut c = cfg(s.mtls.url("https"));
    c.tls.ca_file = Some(s.pki.ca_pem.clone());
    c.tls.cert_file = Some(s.pki.client_cert.clone());
    c.tls.key_file = Some(s.pki.client_key.clone());
    let rep = Scraper::new(c.clone()).unwrap().scrape(&store, T0).unwrap();
    assert_eq!(rep.ingest.samples_in_body, fixture_samples());
    // No certificate, or one the server does not trust: a TLS error saying so.
    for (cert, key) in [
        (None, None),
        (
            Some(s.pki.rogue_cert.clone()),
            Some(s.pki.rogue_key.clone()),
        ),
    ] {
        let rogue = cert.is_some();
        c.tls.cert_file = cert;
        c.tls.key_file = key;
        let e = Scraper::new(c.clone())
            .unwrap()
            .scrape(&store, T0 + 15_000)
            .unwrap_err();
        eprintln!("expected error: {e}");
        assert!(matches!(e, ScrapeError::Tls { .. }), "rogue={rogue}: {e:?}");
        assert!(e.to_string().contains("certificate"), "{e}");
    }
}

#[test]
fn untrusted_server_certificate_fails_unless_insecure() {
    let s = setup();
    let store = Store::new(StoreConfig::default());
    let mut c = cfg(s.token.url("https"));
    c.auth = Auth::BearerToken(TOKEN.to_string());
    // Built-in roots only: the test CA is unknown.
    let e = Scraper::new(c.clone())
        .unwrap()
        .scrape(&store, T0)
        .unwrap_err();
    eprintln!("expected error: {e}");
    assert!(matches!(e, ScrapeError::Tls { .. }), "{e:?}");
    assert!(e.to_string().contains("unknown CA"), "{e}");
    c.tls.insecure_skip_verify = true;
    Scraper::new(c).unwrap().scrape(&store, T0 + 1).unwrap();
    assert_eq!(report_value(&store, "up", T0 + 1), 1.0);
}

#[test]
fn a_server_that_never_answers_times_out() {
    let hang = Server::hanging();
    let mut c = cfg(hang.url("http"));
    c.timeout = Duration::from_millis(500);
    let store = Store::new(StoreConfig::default());
    let started = Instant::now();
    let e = Scraper::new(c).unwrap().scrape(&store, T0).unwrap_err();
    eprintln!("expected error: {e}");
    assert!(matches!(e, ScrapeError::Timeout { .. }), "{e:?}");
    assert!(e.to_string().contains("timed out"), "{e}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(report_value(&store, "up", T0), 0.0);
}

#[test]
fn body_over_the_limit_is_refused() {
    let s = setup();
    let mut c = cfg(s.token.url("https"));
    c.auth = Auth::BearerToken(TOKEN.to_string());
    c.tls.ca_file = Some(s.pki.ca_pem.clone());
    c.body_limit = 100_000; // the fixture is 279,403 bytes
    let store = Store::new(StoreConfig::default());
    let e = Scraper::new(c).unwrap().scrape(&store, T0).unwrap_err();
    assert!(
        matches!(e, ScrapeError::BodyTooLarge { limit: 100_000, .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains("limit"), "{e}");
    assert!(select(&store, "process_cpu_seconds_total").is_empty());
}

#[test]
fn unparsable_body_is_an_ingest_error_with_the_line() {
    let srv = Server::start(
        None,
        Arc::new(|_: &Req| Resp::text(b"ok 1\nbad{ 2\n".to_vec())),
    );
    let store = Store::new(StoreConfig::default());
    let e = Scraper::new(cfg(srv.url("http")))
        .unwrap()
        .scrape(&store, T0)
        .unwrap_err();
    eprintln!("expected error: {e}");
    assert!(matches!(e, ScrapeError::Ingest { .. }), "{e:?}");
    assert!(e.to_string().contains("line 2"), "{e}");
    assert!(
        select(&store, "ok").is_empty(),
        "a rejected body ingests nothing"
    );
    assert_eq!(report_value(&store, "up", T0), 0.0);
}

#[test]
fn failed_scrape_after_a_good_one_marks_everything_stale() {
    let s = setup();
    let mut c = cfg(s.token.url("https"));
    c.auth = Auth::BearerToken(TOKEN.to_string());
    c.tls.ca_file = Some(s.pki.ca_pem.clone());
    let scraper = Scraper::new(c).unwrap();
    let store = Store::new(StoreConfig::default());
    scraper.scrape(&store, T0).unwrap();
    let t1 = T0 + 15_000;
    assert_eq!(instant(&store, "process_cpu_seconds_total", t1 - 1), 1);
    s.down.store(true, Ordering::Relaxed);
    let e = scraper.scrape(&store, t1).unwrap_err();
    eprintln!("expected error: {e}");
    assert!(matches!(e, ScrapeError::Status { status: 503, .. }), "{e}");
    assert_eq!(report_value(&store, "up", t1), 0.0);
    assert_eq!(report_value(&store, "scrape_samples_scraped", t1), 0.0);
    // Stale from t1 on: an instant query within the 5 m lookback sees nothing.
    assert_eq!(instant(&store, "process_cpu_seconds_total", t1), 0);
    assert_eq!(
        instant(
            &store,
            r#"{job="kcm", __name__!~"up|scrape_.*"}"#,
            t1 + 1_000
        ),
        0
    );
    assert_eq!(instant(&store, "up == 0", t1 + 1_000), 1);
    // The target comes back: series are live again.
    s.down.store(false, Ordering::Relaxed);
    scraper.scrape(&store, T0 + 30_000).unwrap();
    assert_eq!(instant(&store, "process_cpu_seconds_total", T0 + 30_000), 1);
}

#[test]
fn request_headers_and_gzip_openmetrics_body() {
    use std::io::Write as _;
    let body = b"# TYPE x counter\nx_total 3\nx_created 1.7e9\n# EOF\n".to_vec();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&body).unwrap();
    let gz = gz.finish().unwrap();
    let seen: Arc<Mutex<Option<Req>>> = Arc::default();
    let s2 = seen.clone();
    let srv = Server::start(
        None,
        Arc::new(move |r: &Req| {
            *s2.lock().unwrap() = Some(r.clone());
            Resp {
                status: 200,
                content_type: "application/openmetrics-text; version=1.0.0; charset=utf-8"
                    .to_string(),
                body: gz.clone(),
                headers: vec![("Content-Encoding".to_string(), "gzip".to_string())],
            }
        }),
    );
    let mut c = cfg(srv.url("http"));
    c.timeout = Duration::from_secs(7);
    let store = Store::new(StoreConfig::default());
    let rep = Scraper::new(c).unwrap().scrape(&store, T0).unwrap();
    assert_eq!(rep.format, Format::OpenMetrics);
    assert_eq!(rep.body_bytes, body.len(), "decompressed");
    assert_eq!(select(&store, "x_total")[0].1, vec![(T0, 3.0)]);
    let req = seen.lock().unwrap().clone().unwrap();
    // Prometheus's weighting: OpenMetrics 1.0.0 first, text 0.0.4 still accepted.
    assert_eq!(
        req.header("accept"),
        Some(
            "application/openmetrics-text;version=1.0.0;q=0.5,\
application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
        )
    );
    assert!(
        req.header("accept-encoding").unwrap_or("").contains("gzip"),
        "{req:?}"
    );
    assert_eq!(req.header("x-prometheus-scrape-timeout-seconds"), Some("7"));
    assert!(req.header("authorization").is_none());
}
