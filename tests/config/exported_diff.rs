//! `honor_labels` and the `exported_` renaming against Prometheus 2.42: the same
//! target scraped by a job with and one without `honor_labels`, and the series'
//! label sets Prometheus stores compared with `targets::merge_series_labels`.

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use promlite::config::{targets, Config};
use promlite::model::Labels;

use super::targets_diff::{free_port, get_json, Kill};
use crate::common::which;
use crate::support::https::{temp_dir, Resp, Server};

const BODY: &str = "# TYPE m gauge\n\
m{job=\"mine\",instance=\"inst\",exported_job=\"taken\",x=\"1\"} 1\n\
m{y=\"2\"} 2\n";

type LabelSet = Vec<(String, String)>;

fn series_of(l: &Labels) -> LabelSet {
    l.iter()
        .map(|l| (l.name.to_string(), l.value.to_string()))
        .collect()
}

#[test]
fn exported_labels_match_prometheus() {
    let srv = Server::start(None, Arc::new(|_req| Resp::text(BODY.as_bytes().to_vec())));
    let cfg_text = format!(
        "global: {{scrape_interval: 1h}}\nscrape_configs:\n\
         - job_name: plain\n  scrape_interval: 1s\n  static_configs: [{{targets: ['127.0.0.1:{p}'], labels: {{x: t}}}}]\n\
         - job_name: honor\n  honor_labels: true\n  scrape_interval: 1s\n  static_configs: [{{targets: ['127.0.0.1:{p}'], labels: {{x: t}}}}]\n",
        p = srv.port
    );
    let cfg = Config::from_yaml(&cfg_text, "p.yml", None).unwrap();
    let body_series = [
        Labels::from_pairs([
            ("__name__", "m"),
            ("job", "mine"),
            ("instance", "inst"),
            ("exported_job", "taken"),
            ("x", "1"),
        ]),
        Labels::from_pairs([("__name__", "m"), ("y", "2")]),
    ];
    let mut ours = BTreeSet::new();
    for job in &cfg.scrape_configs {
        let t = &targets::targets_from_groups(job, &job.static_configs).active[0];
        for s in &body_series {
            ours.insert(series_of(&targets::merge_series_labels(
                s,
                t,
                job.honor_labels,
            )));
        }
    }
    // By hand: without honor_labels, x, job and instance clash; exported_job is
    // taken, so the series' job becomes exported_exported_job.
    let inst = format!("127.0.0.1:{}", srv.port);
    let want_plain: LabelSet = [
        ("__name__", "m"),
        ("exported_exported_job", "mine"),
        ("exported_instance", "inst"),
        ("exported_job", "taken"),
        ("exported_x", "1"),
        ("instance", inst.as_str()),
        ("job", "plain"),
        ("x", "t"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert!(ours.contains(&want_plain), "{ours:#?}");
    assert_eq!(ours.len(), 4);

    if !which("prometheus") || !which("curl") {
        let why = "the reference needs Debian's `prometheus` package and curl";
        assert!(
            std::env::var_os("PROMLITE_REQUIRE_ORACLE").is_none(),
            "{why}"
        );
        eprintln!("SKIPPED exported_labels_match_prometheus's reference half: {why}");
        return;
    }
    let dir = temp_dir("exported-diff");
    std::fs::write(dir.join("p.yml"), &cfg_text).unwrap();
    let port = free_port();
    let mut prom = Kill(
        Command::new("prometheus")
            .arg(format!("--config.file={}", dir.join("p.yml").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg("--log.level=error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus"),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let theirs: BTreeSet<LabelSet> = loop {
        if let Some(body) = get_json(port, "/api/v1/series?match%5B%5D=m") {
            let set: BTreeSet<LabelSet> = body["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    s.as_object()
                        .unwrap()
                        .iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                        .collect()
                })
                .collect();
            if set.len() >= 4 {
                break set;
            }
        }
        if let Ok(Some(st)) = prom.0.try_wait() {
            panic!("prometheus exited ({st})");
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus did not scrape both jobs within 60 s"
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(ours, theirs);
}
