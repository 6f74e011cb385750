//! Metric relabeling, `exported_` and `sample_limit` against a loopback target.
//! Expected labels and counts are worked out by hand from Prometheus's
//! documented relabeling rules.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use promlite_config::Config;
use promlite_model::{is_stale_nan, Labels, MatchOp, Matcher, Queryable};
use promlite_store::{Store, StoreConfig};

use crate::{ScrapeConfig, ScrapeError, Scraper};

use super::*;

/// Serves the current `body` to every request until dropped.
struct Server {
    port: u16,
    body: Arc<Mutex<String>>,
    done: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start(body: &str) -> Server {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let done = Arc::new(AtomicBool::new(false));
        let body = Arc::new(Mutex::new(body.to_string()));
        let (d, b) = (Arc::clone(&done), Arc::clone(&body));
        let thread = std::thread::spawn(move || {
            for conn in l.incoming() {
                if d.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(mut c) = conn else { continue };
                let mut buf = [0u8; 4096];
                let _ = c.read(&mut buf);
                let body = b.lock().unwrap().clone();
                let _ = write!(
                    c,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Server {
            port,
            body,
            done,
            thread: Some(thread),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.done.store(true, Ordering::SeqCst);
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

const BODY: &str = "# HELP req_total Requests \\\\ served\\n(total).\n# TYPE req_total counter
req_total{code=\"200\",job=\"app\"} 5
req_total{code=\"500\",job=\"app\"} 1
# TYPE lat_seconds histogram
lat_seconds_bucket{le=\"0.1\"} 1
lat_seconds_bucket{le=\"1\"} 2
lat_seconds_bucket{le=\"+Inf\"} 3
lat_seconds_sum 1.5
lat_seconds_count 3
go_gc_total 7
";

const RULES: &str = r"
  metric_relabel_configs:
  - {action: drop, source_labels: [__name__], regex: 'go_.*'}
  - {action: drop, source_labels: [__name__, le], regex: 'lat_seconds_bucket;0\.1'}
  - {action: replace, source_labels: [code], regex: '5..', target_label: class, replacement: error}
  - {action: labeldrop, regex: code}
  - {action: keep, source_labels: [__name__], regex: 'req_total|lat_seconds_.*'}
";

fn scraper(port: u16, extra: &str, limit: usize) -> Scraper {
    let yaml = format!("scrape_configs:\n- job_name: j\n{extra}{RULES}");
    let cfg = Config::from_yaml(&yaml, "t.yml", None).unwrap();
    let job = &cfg.scrape_configs[0];
    let mut sc = ScrapeConfig::new(format!("http://127.0.0.1:{port}/metrics"));
    sc.job = "j".into();
    sc.metric_relabel = Some(Arc::new(MetricRelabel::new(
        job.metric_relabel_configs.clone(),
        job.honor_labels,
        limit,
    )));
    Scraper::new(sc).unwrap()
}

/// Every series of the store as `labels => last value`, report series aside.
fn series(store: &Store) -> Vec<(String, f64)> {
    let m = [Matcher::new(MatchOp::NotEqual, "__name__", "").unwrap()];
    let mut out: Vec<(String, f64)> = store
        .select(&m, 0, i64::MAX)
        .unwrap()
        .into_iter()
        .filter(|s| !s.labels.get("__name__").unwrap().starts_with("scrape_"))
        .filter(|s| s.labels.get("__name__") != Some("up"))
        .map(|s| (show(&s.labels), s.samples.last().unwrap().v))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn show(l: &Labels) -> String {
    l.iter()
        .map(|l| format!("{}={}", l.name, l.value))
        .collect::<Vec<_>>()
        .join(",")
}

fn last(store: &Store, name: &str) -> f64 {
    let m = [Matcher::new(MatchOp::Equal, "__name__", name).unwrap()];
    let s = store.select(&m, 0, i64::MAX).unwrap();
    s[0].samples.last().unwrap().v
}

#[test]
fn metric_relabel_and_exported_labels_follow_prometheus() {
    let srv = Server::start(BODY);
    let store = Store::new(StoreConfig::default());
    let s = scraper(srv.port, "", 0);
    s.scrape(&store, 1_000).unwrap();
    let i = format!("instance=127.0.0.1:{}", srv.port);
    let want = vec![
        (
            format!("__name__=lat_seconds_bucket,{i},job=j,le=+Inf"),
            3.0,
        ),
        // `le="1"` of a typed histogram is written `1.0`, as Prometheus 3 does.
        (format!("__name__=lat_seconds_bucket,{i},job=j,le=1.0"), 2.0),
        (format!("__name__=lat_seconds_count,{i},job=j"), 3.0),
        (format!("__name__=lat_seconds_sum,{i},job=j"), 1.5),
        (
            format!("__name__=req_total,class=error,exported_job=app,{i},job=j"),
            1.0,
        ),
        (
            format!("__name__=req_total,exported_job=app,{i},job=j"),
            5.0,
        ),
    ];
    assert_eq!(series(&store), want);
    assert_eq!(last(&store, "up"), 1.0);
    assert_eq!(last(&store, "scrape_samples_scraped"), 8.0);
    assert_eq!(last(&store, "scrape_samples_post_metric_relabeling"), 6.0);
    let md = store.metadata();
    let req = md.iter().find(|m| m.family == "req_total").unwrap();
    assert_eq!(req.help.as_deref(), Some("Requests \\ served\n(total)."));
    assert_eq!(req.typ, Some(promlite_model::MetricType::Counter));

    // The 500 line goes away: its series is marked stale, the others go on.
    *srv.body.lock().unwrap() = BODY.replace("req_total{code=\"500\",job=\"app\"} 1\n", "");
    s.scrape(&store, 2_000).unwrap();
    let got = series(&store);
    let err = got.iter().find(|(l, _)| l.contains("class=error")).unwrap();
    assert!(is_stale_nan(err.1), "{got:?}");
    assert_eq!(last(&store, "scrape_samples_post_metric_relabeling"), 5.0);
    assert_eq!(last(&store, "scrape_samples_scraped"), 7.0);
}

#[test]
fn sample_limit_counts_after_relabeling_and_fails_the_scrape() {
    let srv = Server::start(BODY);
    // 6 samples survive relabeling (8 in the body): a limit of 6 passes.
    let store = Store::new(StoreConfig::default());
    scraper(srv.port, "", 6).scrape(&store, 1_000).unwrap();
    assert_eq!(series(&store).len(), 6);

    let store = Store::new(StoreConfig::default());
    let err = scraper(srv.port, "", 5).scrape(&store, 1_000).unwrap_err();
    assert!(
        matches!(
            err,
            ScrapeError::SampleLimit {
                samples: 6,
                limit: 5,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("sample limit exceeded"), "{err}");
    assert_eq!(last(&store, "up"), 0.0);
    assert!(series(&store).is_empty(), "{:?}", series(&store));
}

#[test]
fn the_manager_relabels_jobs_that_ask_for_it() {
    let srv = Server::start(BODY);
    let store = Arc::new(Store::new(StoreConfig::default()));
    let yaml = format!(
        "scrape_configs:\n- job_name: j\n  scrape_interval: 100ms\n  static_configs: [{{targets: ['127.0.0.1:{}']}}]\n{RULES}",
        srv.port
    );
    let m = crate::manager::ScrapeManager::new(Arc::clone(&store));
    m.apply_config(&Config::from_yaml(&yaml, "t.yml", None).unwrap());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let name = Matcher::new(
        MatchOp::Equal,
        "__name__",
        "scrape_samples_post_metric_relabeling",
    );
    while store
        .select(&[name.clone().unwrap()], 0, i64::MAX)
        .unwrap()
        .is_empty()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no scrape within 10 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    m.stop();
    assert_eq!(last(&store, "scrape_samples_post_metric_relabeling"), 6.0);
    assert!(series(&store)
        .iter()
        .any(|(l, _)| l.contains("exported_job=app")));
}
