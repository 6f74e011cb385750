//! `/api/v1/rules` and `/api/v1/alerts` against the real Prometheus 2.42: the
//! same rule file (no scrape data needed: the expressions are constant), both
//! evaluate it, and the JSON must agree except for times and durations.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use promlite::rules::api::{alerts_data, rules_data, RulesFilter};
use promlite::rules::manager::now_ms;
use promlite::rules::{Manager, ManagerOptions};
use promlite::store::{Store, StoreConfig};

use crate::common::which;

const RULES: &str = r#"groups:
- name: constants
  interval: 1s
  limit: 10
  rules:
  - record: answer:constant
    expr: vector(42)
    labels:
      source: test
  - alert: AlwaysFiring
    expr: vector(3) > 1
    labels:
      severity: page
      level: '{{ if gt $value 2.0 }}high{{ else }}low{{ end }}'
    annotations:
      summary: 'value {{ $value }} ({{ humanize $value }})'
  - alert: StillPending
    expr: label_replace(vector(2048), "queue", "deployment", "", "")
    for: 1h
    keep_firing_for: 5m
    annotations:
      summary: '{{ $labels.queue }} is at {{ humanize1024 $value }}'
  - alert: Broken
    expr: vector(1) or label_replace(vector(1), "x", "y", "", "")
    labels:
      x: z
  - alert: NeverFires
    expr: vector(1) < 0
- name: second
  interval: 1s
  rules:
  - record: answer:doubled
    expr: answer:constant * 2
"#;

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn curl(url: &str) -> Option<serde_json::Value> {
    let out = Command::new("curl")
        .args(["-sf", "--max-time", "2", url])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    serde_json::from_slice(&out.stdout).ok()
}

/// Replaces times and durations (which differ between any two runs) by markers.
fn normalize(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                match k.as_str() {
                    "lastEvaluation" | "activeAt" | "keepFiringSince" => *x = "<time>".into(),
                    "evaluationTime" => *x = "<duration>".into(),
                    _ => normalize(x),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(normalize),
        _ => {}
    }
}

#[test]
fn rules_and_alerts_api_match_prometheus() {
    if !which("prometheus") || !which("curl") {
        let why = "needs Debian's `prometheus` (2.42) and `curl`";
        if std::env::var_os("PROMLITE_REQUIRE_ORACLE").is_some() {
            panic!(
                "rules_and_alerts_api_match_prometheus: {why}, and PROMLITE_REQUIRE_ORACLE is set"
            );
        }
        eprintln!("SKIPPED rules_and_alerts_api_match_prometheus: {why}");
        return;
    }
    let dir = std::env::temp_dir().join(format!("promlite-rules-prom-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rules = dir.join("rules.yml");
    std::fs::write(&rules, RULES).unwrap();
    std::fs::write(
        dir.join("prometheus.yml"),
        format!(
            "global:\n  evaluation_interval: 1s\nrule_files: [{:?}]\n",
            rules.display().to_string()
        ),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let prom = Kill(
        Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus"),
    );
    // Wait until Prometheus has evaluated both groups twice (so `for: 0` fired).
    let base = format!("http://127.0.0.1:{port}/api/v1");
    let deadline = Instant::now() + Duration::from_secs(30);
    let theirs_rules = loop {
        assert!(
            Instant::now() < deadline,
            "Prometheus did not evaluate the rules"
        );
        std::thread::sleep(Duration::from_millis(300));
        let Some(r) = curl(&format!("{base}/rules")) else {
            continue;
        };
        let groups = r["data"]["groups"].as_array().cloned().unwrap_or_default();
        let evaluated = groups.len() == 2
            && groups.iter().all(|g| {
                !g["lastEvaluation"]
                    .as_str()
                    .unwrap_or("0001")
                    .starts_with("0001")
            });
        if evaluated {
            std::thread::sleep(Duration::from_millis(1500));
            break curl(&format!("{base}/rules")).expect("rules");
        }
    };
    let theirs_alerts = curl(&format!("{base}/alerts")).expect("alerts");
    drop(prom);
    let _ = std::fs::remove_dir_all(&dir);

    let store = Store::new(StoreConfig::unbounded());
    let mut m = Manager::new(ManagerOptions::default());
    m.load_str(&rules.display().to_string(), RULES).unwrap();
    let t0 = now_ms();
    for t in [t0, t0 + 1000, t0 + 2000] {
        m.eval_group(0, &store, t);
        m.eval_group(1, &store, t);
    }
    let mut ours_rules =
        serde_json::json!({"status": "success", "data": rules_data(&m, &RulesFilter::default())});
    let mut ours_alerts = serde_json::json!({"status": "success", "data": alerts_data(&m)});
    let mut theirs_rules = theirs_rules;
    let mut theirs_alerts = theirs_alerts;
    for v in [
        &mut ours_rules,
        &mut ours_alerts,
        &mut theirs_rules,
        &mut theirs_alerts,
    ] {
        normalize(v);
    }
    // Prometheus lists /api/v1/alerts in map order: compare as sorted lists.
    let sort = |v: &mut serde_json::Value| {
        if let Some(a) = v["data"]["alerts"].as_array_mut() {
            a.sort_by_key(|x| x.to_string());
        }
    };
    sort(&mut ours_alerts);
    sort(&mut theirs_alerts);
    assert_eq!(
        ours_rules, theirs_rules,
        "/api/v1/rules differs:\nours   {ours_rules}\ntheirs {theirs_rules}"
    );
    assert_eq!(
        ours_alerts, theirs_alerts,
        "/api/v1/alerts differs:\nours   {ours_alerts}\ntheirs {theirs_alerts}"
    );
}
