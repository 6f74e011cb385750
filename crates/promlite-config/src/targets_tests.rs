//! Target building, with expectations worked out by hand from Prometheus's rules.

use super::*;
use crate::Config;

fn cfg(yaml: &str) -> ScrapeConfig {
    Config::from_yaml(yaml, "t.yml", None)
        .unwrap_or_else(|e| panic!("{e}"))
        .scrape_configs
        .remove(0)
}

fn map(pairs: &[(&str, &str)]) -> LabelMap {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn static_target_gets_prometheus_labels() {
    let c = cfg("scrape_configs:\n- job_name: node\n  static_configs: [{targets: ['a:9100'], labels: {env: prod}}]\n");
    let set = targets_from_groups(&c, &c.static_configs);
    assert_eq!(set.active.len(), 1);
    let t = &set.active[0];
    assert_eq!(
        t.labels,
        map(&[
            ("__address__", "a:9100"),
            ("__metrics_path__", "/metrics"),
            ("__scheme__", "http"),
            ("__scrape_interval__", "1m"),
            ("__scrape_timeout__", "10s"),
            ("env", "prod"),
            ("instance", "a:9100"),
            ("job", "node"),
        ])
    );
    assert_eq!(
        t.public_labels().collect::<Vec<_>>(),
        vec![("env", "prod"), ("instance", "a:9100"), ("job", "node")]
    );
    assert_eq!(t.url(&c), "http://a:9100/metrics");
    assert_eq!(t.scrape_interval(), Duration::from_secs(60));
}

#[test]
fn relabeling_drops_meta_and_keeps_dropped_targets() {
    let c = cfg(r#"
scrape_configs:
- job_name: j
  scrape_interval: 15s
  params: {module: [x, y]}
  relabel_configs:
  - {source_labels: [__meta_keep], regex: "yes", action: keep}
  - {source_labels: [__meta_port], target_label: __address__, regex: "(.+)", replacement: "h:$1"}
  - {target_label: __param_module, replacement: z}
  - {source_labels: [__meta_port], target_label: __tmp_port}
"#);
    let groups = vec![TargetGroup {
        targets: vec![
            map(&[
                ("__address__", "a:1"),
                ("__meta_keep", "yes"),
                ("__meta_port", "80"),
            ]),
            map(&[("__address__", "b:1"), ("__meta_keep", "no")]),
        ],
        labels: map(&[("g", "1")]),
        source: "s".into(),
    }];
    let set = targets_from_groups(&c, &groups);
    assert_eq!(set.active.len(), 1);
    let t = &set.active[0];
    assert_eq!(
        t.labels,
        map(&[
            ("__address__", "h:80"),
            ("__metrics_path__", "/metrics"),
            ("__param_module", "z"),
            ("__scheme__", "http"),
            ("__scrape_interval__", "15s"),
            ("__scrape_timeout__", "10s"),
            ("__tmp_port", "80"),
            ("g", "1"),
            ("instance", "h:80"),
            ("job", "j"),
        ])
    );
    // __param_module replaces the first value of params.module only.
    assert_eq!(t.url(&c), "http://h:80/metrics?module=z&module=y");
    assert_eq!(
        t.discovered_labels,
        map(&[
            ("__address__", "a:1"),
            ("__meta_keep", "yes"),
            ("__meta_port", "80"),
            ("__metrics_path__", "/metrics"),
            ("__param_module", "x"),
            ("__scheme__", "http"),
            ("__scrape_interval__", "15s"),
            ("__scrape_timeout__", "10s"),
            ("g", "1"),
            ("job", "j"),
        ])
    );
    assert_eq!(set.dropped.len(), 1);
    assert_eq!(set.dropped[0].discovered_labels["__address__"], "b:1");
    assert_eq!(set.dropped[0].discovered_labels["__meta_keep"], "no");
}

#[test]
fn bad_targets_are_errors_not_targets() {
    let c = cfg(r#"
scrape_configs:
- job_name: j
  relabel_configs:
  - {source_labels: [x], target_label: __address__}
  - {source_labels: [t], target_label: __scrape_timeout__, regex: "(.+)"}
"#);
    let groups = vec![TargetGroup {
        targets: vec![
            map(&[("__address__", "a:1")]),
            map(&[("__address__", "a:1"), ("x", "h/p")]),
            map(&[("__address__", "a:1"), ("x", "h:1"), ("t", "2m")]),
        ],
        labels: LabelMap::new(),
        source: "s".into(),
    }];
    let set = targets_from_groups(&c, &groups);
    assert!(set.active.is_empty());
    let msgs: Vec<_> = set.errors.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(
        msgs,
        vec![
            "no address",
            "\"h/p\" is not a valid hostname",
            "scrape timeout cannot be greater than scrape interval (\"2m\" > \"1m\")",
        ]
    );
}

#[test]
fn duplicate_targets_are_scraped_once() {
    let c = cfg("scrape_configs:\n- job_name: j\n  static_configs: [{targets: ['a:1', 'a:1']}]\n");
    assert_eq!(targets_from_groups(&c, &c.static_configs).active.len(), 1);
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied())
}

#[test]
fn series_labels_get_exported_prefixes() {
    let t = Target {
        labels: map(&[("__address__", "a:1"), ("instance", "a:1"), ("job", "j")]),
        discovered_labels: LabelMap::new(),
    };
    let s = labels(&[
        ("__name__", "m"),
        ("job", "mine"),
        ("exported_job", "taken"),
        ("x", "1"),
    ]);
    // job clashes: the target's wins, the series' goes to exported_job, which is
    // taken, so exported_exported_job.
    assert_eq!(
        merge_series_labels(&s, &t, false),
        labels(&[
            ("__name__", "m"),
            ("exported_exported_job", "mine"),
            ("exported_job", "taken"),
            ("instance", "a:1"),
            ("job", "j"),
            ("x", "1"),
        ])
    );
    // honor_labels: the series keeps its job; instance is added.
    assert_eq!(
        merge_series_labels(&s, &t, true),
        labels(&[
            ("__name__", "m"),
            ("exported_job", "taken"),
            ("instance", "a:1"),
            ("job", "mine"),
            ("x", "1"),
        ])
    );
}
