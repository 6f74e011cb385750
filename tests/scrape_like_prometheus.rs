//! Scrapes that Prometheus accepts or refuses, over loopback HTTP (issue 13, 2):
//! a series repeated within one scrape keeps its first sample and the scrape
//! succeeds; a body whose Content-Type is not text fails unless the scrape sets
//! a fallback protocol, as in Prometheus 3.

use std::sync::Arc;

use promlite::model::{MatchOp, Matcher, Queryable};
use promlite::scrape::{parse_scrape_protocol, ScrapeConfig, ScrapeError, Scraper};
use promlite::store::{Store, StoreConfig};

use crate::support::https::{Req, Resp, Server};

const T0: i64 = 1_700_000_000_000;

/// The body the real Prometheus 2.42 was run against (loopback, 1 s
/// interval): it kept `m{a="1"}` = 1 and `m{a="3",b="x"}` = 4 (the first of
/// each repeated series) and recorded `up` 1.
const REPEATS: &[u8] =
    b"# TYPE m gauge\nm{a=\"1\"} 1\nm{a=\"2\"} 2\nm{a=\"1\"} 3\nm{b=\"x\",a=\"3\"} 4\nm{a=\"3\",b=\"x\"} 5\n";

fn values(store: &Store, name: &str, t: i64) -> Vec<(String, f64)> {
    let m = Matcher::new(MatchOp::Equal, "__name__", name).unwrap();
    let mut v: Vec<(String, f64)> = store
        .select(&[m], t, t)
        .unwrap()
        .into_iter()
        .filter_map(|s| {
            let x = s.samples.iter().find(|p| p.t == t)?;
            Some((s.labels.to_string(), x.v))
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn serve(content_type: &'static str, body: &'static [u8]) -> Server {
    Server::start(
        None,
        Arc::new(move |_: &Req| Resp {
            content_type: content_type.to_string(),
            ..Resp::text(body.to_vec())
        }),
    )
}

#[test]
fn a_repeated_series_keeps_its_first_sample_and_up_is_1() {
    let srv = serve("text/plain; version=0.0.4", REPEATS);
    let url = format!("http://127.0.0.1:{}/metrics", srv.port);
    let scraper = Scraper::new(ScrapeConfig::new(url)).unwrap();
    let store = Store::new(StoreConfig::default());
    for k in 0..2 {
        let t = T0 + k * 15_000;
        let r = scraper.scrape(&store, t).expect("the scrape succeeds");
        assert_eq!(r.ingest.samples_in_body, 5);
        assert_eq!(r.ingest.repeated_in_scrape, 2);
        let m: Vec<f64> = values(&store, "m", t).into_iter().map(|x| x.1).collect();
        assert_eq!(m, vec![1.0, 2.0, 4.0], "scrape {k}");
        assert_eq!(values(&store, "up", t)[0].1, 1.0);
        // Prometheus 3 leaves dropped repeats out of the post-relabeling count.
        assert_eq!(
            values(&store, "scrape_samples_post_metric_relabeling", t)[0].1,
            3.0
        );
    }
}

#[test]
fn a_non_text_content_type_needs_a_fallback_protocol() {
    let srv = serve("application/octet-stream", b"up_like 1\n");
    let url = format!("http://127.0.0.1:{}/metrics", srv.port);
    let store = Store::new(StoreConfig::default());
    let e = Scraper::new(ScrapeConfig::new(url.clone()))
        .unwrap()
        .scrape(&store, T0)
        .unwrap_err();
    assert!(matches!(e, ScrapeError::ContentType { .. }), "{e}");
    let msg = e.to_string();
    assert_eq!(msg.matches(&url).count(), 1, "the URL once: {msg}");
    assert!(msg.contains("\"application/octet-stream\""), "{msg}");
    assert!(msg.contains("fallback_scrape_protocol"), "{msg}");
    assert_eq!(values(&store, "up", T0)[0].1, 0.0);
    let mut cfg = ScrapeConfig::new(url);
    cfg.fallback_scrape_protocol = Some(parse_scrape_protocol("PrometheusText0.0.4").unwrap());
    let r = Scraper::new(cfg)
        .unwrap()
        .scrape(&store, T0 + 15_000)
        .unwrap();
    assert_eq!(r.ingest.samples_appended, 1);
    assert_eq!(values(&store, "up_like", T0 + 15_000)[0].1, 1.0);
}

#[test]
fn a_blank_content_type_needs_a_fallback_protocol_too() {
    // Prometheus 3: "non-compliant scrape target sending blank Content-Type
    // and no fallback_scrape_protocol specified for target".
    let srv = serve("", b"up_like 1\n");
    let url = format!("http://127.0.0.1:{}/metrics", srv.port);
    let store = Store::new(StoreConfig::default());
    let e = Scraper::new(ScrapeConfig::new(url))
        .unwrap()
        .scrape(&store, T0)
        .unwrap_err();
    assert!(e.to_string().contains("blank Content-Type"), "{e}");
}

#[test]
fn watch_once_with_a_bad_url_is_an_error_not_a_panic() {
    let out = std::process::Command::new(crate::common::promlite_bin())
        .args(["watch", "http:/xé/metrics", "--once"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("http:/xé/metrics"), "{err}");
}
