//! `promlite serve --config` takes `rule_files`, `global.evaluation_interval`,
//! `global.external_labels` and `remote_write` from the prometheus.yml, over
//! loopback: a rule group recorded from a scraped target, listed by
//! `/api/v1/rules`, and the scraped `up` series pushed to a second serve.

use std::process::Command;
use std::sync::Arc;

use crate::common::promlite_bin;
use crate::serve_wired::{free_port, get, json_of, missing, now_s, query_one, wait_for, Guard};

const RULES: &str = "groups:
- name: from-config
  rules:
  - record: job:x:sum
    expr: sum by (job) (x)
  - alert: XHigh
    expr: job:x:sum > 5
    annotations: {summary: 'in {{ $externalLabels.cluster }}'}
";

/// Expected by hand: the target serves x{k=\"a\"} 3 and x{k=\"b\"} 4, so
/// job:x:sum{job=\"app\"} is 7, XHigh fires, its summary reads the external
/// label; the group has no interval, so it runs at the global 1s; the receiver
/// gets up{job=\"app\"} = 1.
#[test]
fn serve_config_rule_files_and_remote_write() {
    if missing("serve_config_rule_files_and_remote_write", &["curl"]) {
        return;
    }
    let mut g = Guard::new("cfgsections");
    let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("target listens"));
    let target = server.server_addr().to_ip().expect("an IP").to_string();
    let s = Arc::clone(&server);
    std::thread::spawn(move || {
        for req in s.incoming_requests() {
            let _ = req.respond(tiny_http::Response::from_string(
                "x{k=\"a\"} 3\nx{k=\"b\"} 4\n",
            ));
        }
    });
    let (recv_port, port) = (free_port(), free_port());
    std::fs::create_dir_all(g.dir.join("rules")).unwrap();
    std::fs::write(g.dir.join("rules/x.yml"), RULES).unwrap();
    let config = g.dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n  \
             external_labels: {{cluster: c1}}\n\
             rule_files: ['rules/*.yml']\n\
             remote_write:\n- url: http://127.0.0.1:{recv_port}/api/v1/write\n\
             scrape_configs:\n- job_name: app\n  static_configs:\n  - targets: ['{target}']\n"
        ),
    )
    .unwrap();
    g.spawn(Command::new(promlite_bin()).args([
        "serve",
        "--listen",
        &format!("127.0.0.1:{recv_port}"),
        "--web.enable-remote-write-receiver",
    ]));
    // Started from another directory: rule_files are relative to the config file.
    g.spawn(
        Command::new(promlite_bin())
            .current_dir("/")
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--config")
            .arg(&config)
            .arg("--remote-write.outbox")
            .arg(g.dir.join("outbox")),
    );
    let base = format!("http://127.0.0.1:{port}");
    let recv = format!("http://127.0.0.1:{recv_port}");
    wait_for(30, "job:x:sum recorded", || {
        query_one(&base, "job:x:sum{job=\"app\"}", now_s()).filter(|v| *v == 7.0)
    });
    let v = json_of(&format!("{base}/api/v1/rules"));
    let groups = v["data"]["groups"].as_array().expect("groups");
    assert_eq!(groups.len(), 1, "{v}");
    assert_eq!(groups[0]["name"], "from-config");
    assert_eq!(groups[0]["interval"], 1.0, "{v}");
    let names: Vec<&str> = groups[0]["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .map(|r| r["name"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(names, ["job:x:sum", "XHigh"]);
    let summary = wait_for(20, "XHigh firing", || {
        let v = json_of(&format!("{base}/api/v1/alerts"));
        v["data"]["alerts"].as_array()?.first().cloned()
    });
    assert_eq!(summary["annotations"]["summary"], "in c1", "{summary}");
    wait_for(30, "up pushed to the receiver", || {
        query_one(&recv, "up{job=\"app\"}", now_s()).filter(|v| *v == 1.0)
    });
    assert!(get(&format!("{base}/-/ready")).is_some());
}
