//! Target relabeling against the real Prometheus 2.42: the same prometheus.yml and
//! file_sd files, every relabel action, and the seed's `kubernetes-pods` rules over
//! pod target groups given through file_sd (Debian's 2.42 has no Kubernetes
//! discovery). `/api/v1/targets`' active labels, scrape URLs and dropped targets'
//! discovered labels must equal what `promlite::config::targets` computes.
//!
//! 2.39–2.42 relabel the discovered-labels array in place, so the reference gets each
//! `relabel_configs` with a no-op pair prepended (labelmap to `__tmp_copy_*`, then
//! labeldrop of those), which makes it relabel a copy. Addresses all have ports
//! (2.42 adds one otherwise) and `params` never clash with `__param_*` labels (3.0
//! reversed which wins). Every address is on loopback.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use promlite::config::{discovery::FileDiscovery, targets, Config};
use serde_json::Value;

use crate::common::which;
use crate::support::https::temp_dir;

const CONFIG: &str = r#"
global:
  scrape_interval: 1h
scrape_configs:
- job_name: diff
  scrape_interval: 5s
  params: {format: [prometheus]}
  file_sd_configs: [{files: ['DIR/diff-*.yml']}]
  relabel_configs:
NOOP
  - {source_labels: [__meta_scrape], regex: "true", action: keep}
  - {source_labels: [__meta_phase], regex: Pending|Failed, action: drop}
  - {source_labels: [__meta_want], target_label: __meta_have, action: keepequal}
  - {source_labels: [job], target_label: __meta_job_alias, action: dropequal}
  - {source_labels: [__address__, __meta_port], regex: '(.+?)(?::\d+)?;(\d+)', replacement: '$1:$2', target_label: __address__}
  - {source_labels: [__meta_path], regex: '(.+)', target_label: __metrics_path__}
  - {source_labels: [__meta_scheme], regex: '(https?)', target_label: __scheme__}
  - {source_labels: [__meta_interval], regex: '(.+)', target_label: __scrape_interval__}
  - {source_labels: [__meta_instance], regex: '(.+)', target_label: instance}
  - {source_labels: [__address__], modulus: 8, target_label: shard, action: hashmod}
  - {regex: '__meta_label_(.+)', action: labelmap}
  - {regex: '__meta_param_(.+)', replacement: '__param_$1', action: labelmap}
  - {regex: '__.*|[a-z].*', action: labelkeep}
  - {regex: 'secret', action: labeldrop}
  - {source_labels: [__meta_env], target_label: env, action: lowercase}
  - {source_labels: [__meta_region, __meta_env], separator: '-', target_label: region, action: uppercase}
  - {source_labels: [__meta_env], regex: '(P)ROD', replacement: 'tier-${1}', target_label: tier}
# The seed's job, in the Helm chart's block style (Go's YAML reader rejects the
# `(?::\d+)` regex unquoted inside a flow mapping).
- job_name: kubernetes-pods
  honor_labels: true
  file_sd_configs: [{files: ['DIR/pods.json']}]
  relabel_configs:
NOOP
  - action: keep
    regex: true
    source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape]
  - action: replace
    regex: (https?)
    source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scheme]
    target_label: __scheme__
  - action: replace
    regex: (.+)
    source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_path]
    target_label: __metrics_path__
  - action: replace
    regex: (.+?)(?::\d+)?;(\d+)
    replacement: $1:$2
    source_labels: [__address__, __meta_kubernetes_pod_annotation_prometheus_io_port]
    target_label: __address__
  - action: labelmap
    regex: __meta_kubernetes_pod_annotation_prometheus_io_param_(.+)
    replacement: __param_$1
  - action: labelmap
    regex: __meta_kubernetes_pod_label_(.+)
  - action: replace
    source_labels: [__meta_kubernetes_namespace]
    target_label: namespace
  - action: replace
    source_labels: [__meta_kubernetes_pod_name]
    target_label: pod
  - action: drop
    regex: Pending|Succeeded|Failed|Completed
    source_labels: [__meta_kubernetes_pod_phase]
"#;

const NOOP: &str = "  - {regex: '(.*)', replacement: '__tmp_copy_$1', action: labelmap}\n  - {regex: '__tmp_copy_.*', action: labeldrop}";

const DIFF_A: &str = r#"
- targets: ['127.0.0.1:9', '127.0.0.2:9']
  labels: {__meta_scrape: "true", __meta_port: "19", __meta_env: PROD, __meta_region: eu-west,
           __meta_label_team: infra, __meta_label_Upper: x, __meta_label_secret: s,
           __meta_param_module: http_2xx, __meta_path: /probe, __meta_want: a, __meta_have: a}
- targets: ['127.0.0.3:9']
  labels: {__meta_scrape: "false"}
- targets: ['127.0.0.4:9']
  labels: {__meta_scrape: "true", __meta_phase: Pending}
"#;

const DIFF_B: &str = r#"
- targets: ['127.0.0.5:9', '127.0.0.6:9']
  labels: {__meta_scrape: "true", __meta_want: a, __meta_have: b}
- targets: ['127.0.0.7:9']
  labels: {__meta_scrape: "true", __meta_job_alias: diff}
- targets: ['127.0.0.8:9']
  labels: {__meta_scrape: "true", __meta_instance: custom-inst, __meta_interval: 30s, env: keep-me}
- targets: ['127.0.0.9:9', '127.0.0.10:9']
  labels: {__meta_scrape: "true", __meta_scheme: https, __meta_env: Dev}
"#;

/// Pods as Kubernetes discovery would give them (role pod, one target per port).
const PODS: &str = r#"[
 {"targets": ["127.0.1.10:10257"], "labels": {
   "__meta_kubernetes_namespace": "kube-system",
   "__meta_kubernetes_pod_name": "kube-controller-manager-node1",
   "__meta_kubernetes_pod_annotation_prometheus_io_scrape": "true",
   "__meta_kubernetes_pod_annotation_prometheus_io_port": "10257",
   "__meta_kubernetes_pod_annotation_prometheus_io_scheme": "https",
   "__meta_kubernetes_pod_label_component": "kube-controller-manager",
   "__meta_kubernetes_pod_label_tier": "control-plane",
   "__meta_kubernetes_pod_phase": "Running",
   "__meta_kubernetes_pod_ip": "127.0.1.10",
   "__meta_kubernetes_pod_container_name": "kube-controller-manager",
   "__meta_kubernetes_pod_container_port_number": "10257"}},
 {"targets": ["127.0.1.11:8080"], "labels": {
   "__meta_kubernetes_namespace": "default", "__meta_kubernetes_pod_name": "pending-1",
   "__meta_kubernetes_pod_annotation_prometheus_io_scrape": "true",
   "__meta_kubernetes_pod_phase": "Pending"}},
 {"targets": ["127.0.1.12:8080"], "labels": {
   "__meta_kubernetes_namespace": "default", "__meta_kubernetes_pod_name": "plain",
   "__meta_kubernetes_pod_phase": "Running"}},
 {"targets": ["127.0.1.13:9000"], "labels": {
   "__meta_kubernetes_namespace": "apps", "__meta_kubernetes_pod_name": "web-7d9",
   "__meta_kubernetes_pod_annotation_prometheus_io_scrape": "true",
   "__meta_kubernetes_pod_annotation_prometheus_io_port": "8080",
   "__meta_kubernetes_pod_annotation_prometheus_io_path": "/custom/metrics",
   "__meta_kubernetes_pod_annotation_prometheus_io_param_format": "text",
   "__meta_kubernetes_pod_label_app": "web",
   "__meta_kubernetes_pod_phase": "Running"}},
 {"targets": ["127.0.1.14:8080"], "labels": {
   "__meta_kubernetes_namespace": "jobs", "__meta_kubernetes_pod_name": "done",
   "__meta_kubernetes_pod_annotation_prometheus_io_scrape": "true",
   "__meta_kubernetes_pod_phase": "Succeeded"}}
]"#;

pub(super) struct Kill(pub(super) Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

type Labels = BTreeMap<String, String>;

/// (job, public labels, discovered labels, scrape URL) of active targets; (job,
/// discovered labels) of dropped ones; both sorted.
type Snapshot = (Vec<(String, Labels, Labels, String)>, Vec<(String, Labels)>);

fn labels(v: &Value) -> Labels {
    v.as_object()
        .expect("label object")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect()
}

fn from_prometheus(body: &Value) -> Snapshot {
    let d = &body["data"];
    let mut active: Vec<_> = d["activeTargets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["scrapePool"].as_str().unwrap().to_string(),
                labels(&t["labels"]),
                labels(&t["discoveredLabels"]),
                t["scrapeUrl"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut dropped: Vec<_> = d["droppedTargets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let l = labels(&t["discoveredLabels"]);
            (l["job"].clone(), l)
        })
        .collect();
    active.sort();
    dropped.sort();
    (active, dropped)
}

fn from_promlite(cfg: &Config) -> Snapshot {
    let mut active = Vec::new();
    let mut dropped = Vec::new();
    for sc in &cfg.scrape_configs {
        let mut groups = Vec::new();
        for f in &sc.file_sd_configs {
            let r = FileDiscovery::new(f.clone()).refresh();
            assert!(r.errors.is_empty(), "{:?}", r.errors);
            groups.extend(r.groups);
        }
        let set = targets::targets_from_groups(sc, &groups);
        assert!(set.errors.is_empty(), "{:?}", set.errors);
        for t in &set.active {
            let public = t
                .public_labels()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            active.push((
                sc.job_name.clone(),
                public,
                t.discovered_labels.clone(),
                t.url(sc),
            ));
        }
        for t in set.dropped {
            dropped.push((sc.job_name.clone(), t.discovered_labels));
        }
    }
    active.sort();
    dropped.sort();
    (active, dropped)
}

pub(super) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub(super) fn get_json(port: u16, path: &str) -> Option<Value> {
    let out = Command::new("curl")
        .args(["-sf", "--max-time", "5"])
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    serde_json::from_slice(&out.stdout).ok()
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

#[test]
fn targets_match_prometheus() {
    let dir = temp_dir("targets-diff");
    write(&dir, "diff-a.yml", DIFF_A);
    write(&dir, "diff-b.yml", DIFF_B);
    write(&dir, "pods.json", PODS);
    let cfg_text = CONFIG.replace("DIR", &dir.display().to_string());
    write(&dir, "ours.yml", &cfg_text.replace("NOOP\n", ""));
    write(&dir, "reference.yml", &cfg_text.replace("NOOP", NOOP));

    let ours =
        from_promlite(&Config::load_file(dir.join("ours.yml")).unwrap_or_else(|e| panic!("{e}")));
    // Hand-checked anchors, so that a bug shared by both sides still shows: the
    // kube-controller-manager pod is scraped over HTTPS on its annotated port with its
    // pod labels; 7 targets are active (diff: 2+1+2, pods: kcm and web), 8 dropped
    // (diff: 1+1+2+1, pods: pending, unannotated, succeeded).
    let kcm = ours
        .0
        .iter()
        .find(|t| t.1.get("pod").map(String::as_str) == Some("kube-controller-manager-node1"))
        .expect("kcm pod active");
    assert_eq!(kcm.3, "https://127.0.1.10:10257/metrics");
    assert_eq!(kcm.1["component"], "kube-controller-manager");
    assert_eq!(kcm.1["instance"], "127.0.1.10:10257");
    assert_eq!(kcm.1["namespace"], "kube-system");
    assert_eq!((ours.0.len(), ours.1.len()), (7, 8), "{ours:#?}");

    if !which("prometheus") || !which("curl") {
        let why = "the reference needs Debian's `prometheus` package and curl";
        assert!(
            std::env::var_os("PROMLITE_REQUIRE_ORACLE").is_none(),
            "{why}"
        );
        eprintln!("SKIPPED targets_match_prometheus's reference half: {why}");
        return;
    }
    let port = free_port();
    let mut prom = Kill(
        Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                dir.join("reference.yml").display()
            ))
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
    let theirs = loop {
        if let Some(body) = get_json(port, "/api/v1/targets") {
            let snap = from_prometheus(&body);
            if snap.0.len() + snap.1.len() >= ours.0.len() + ours.1.len() {
                break snap;
            }
        }
        if let Ok(Some(st)) = prom.0.try_wait() {
            panic!(
                "prometheus exited ({st}); run it on {} to see why",
                dir.join("reference.yml").display()
            );
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus did not list the targets within 60 s"
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(ours.0, theirs.0, "active targets differ");
    assert_eq!(ours.1, theirs.1, "dropped targets differ");
}
