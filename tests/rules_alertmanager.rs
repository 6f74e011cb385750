//! Alerts from promlite's rule manager into the real Alertmanager 0.25 on
//! loopback: an alert fires and appears with its labels, annotations and
//! startsAt, resolves and disappears; Alertmanager down for a while, then back:
//! the alert arrives at the next resend.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use promlite::model::{Labels, STALE_NAN};
use promlite::rules::manager::now_ms;
use promlite::rules::notifier::{AlertmanagerTarget, Notifier, NotifierOptions};
use promlite::rules::template::funcs::rfc3339_ms;
use promlite::rules::{Manager, ManagerOptions};
use promlite::store::{Store, StoreConfig};

use crate::common::which;

const AM: &str = "prometheus-alertmanager";

/// A running Alertmanager, killed on drop.
struct AmGuard {
    child: Child,
    _dir: PathBuf,
}

impl Drop for AmGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self._dir);
    }
}

fn start_am(port: u16, tag: &str) -> AmGuard {
    let dir = std::env::temp_dir().join(format!("promlite-am-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let cfg = dir.join("am.yml");
    std::fs::write(
        &cfg,
        "route:\n  receiver: blackhole\nreceivers:\n- name: blackhole\n",
    )
    .unwrap();
    let child = Command::new(AM)
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .arg("--storage.path")
        .arg(&dir)
        .arg("--config.file")
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start prometheus-alertmanager");
    let guard = AmGuard { child, _dir: dir };
    let deadline = Instant::now() + Duration::from_secs(20);
    while curl(&format!("http://127.0.0.1:{port}/-/ready")).as_deref() != Some("OK") {
        assert!(
            Instant::now() < deadline,
            "alertmanager did not become ready"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    guard
}

fn curl(url: &str) -> Option<String> {
    let out = Command::new("curl")
        .args(["-sf", "--max-time", "2", url])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn am_alerts(port: u16) -> Vec<serde_json::Value> {
    let body = curl(&format!("http://127.0.0.1:{port}/api/v2/alerts")).expect("GET /api/v2/alerts");
    serde_json::from_str::<Vec<serde_json::Value>>(&body).expect("alerts JSON")
}

fn find(alerts: &[serde_json::Value], name: &str) -> Option<serde_json::Value> {
    alerts
        .iter()
        .find(|a| a["labels"]["alertname"] == name)
        .cloned()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn alerts_reach_alertmanager_and_resolve() {
    if !which(AM) || !which("curl") {
        let why = "needs Debian's `prometheus-alertmanager` (0.25) and `curl`";
        if std::env::var_os("PROMLITE_REQUIRE_ORACLE").is_some() {
            panic!(
                "alerts_reach_alertmanager_and_resolve: {why}, and PROMLITE_REQUIRE_ORACLE is set"
            );
        }
        eprintln!("SKIPPED alerts_reach_alertmanager_and_resolve: {why}");
        return;
    }
    let port = free_port();
    let am = start_am(port, "a");
    let store = Store::new(StoreConfig::unbounded());
    let series = |name: &str| Labels::from_pairs([("__name__", name), ("job", "kcm")]);
    let mut mgr = Manager::new(ManagerOptions::default());
    mgr.load_str(
        "am.yml",
        "groups:\n- name: am\n  interval: 1s\n  rules:\n  - alert: KcmTest\n    expr: x > 0\n    labels: {severity: page}\n    annotations: {summary: 'value {{ $value }} on {{ $labels.job }}'}\n  - alert: KcmLater\n    expr: y > 0\n",
    )
    .unwrap();
    let mut notifier = Notifier::new(NotifierOptions {
        alertmanagers: vec![AlertmanagerTarget::new(format!("http://127.0.0.1:{port}"))],
        resend_delay_ms: 1000,
        external_labels: Labels::from_pairs([("cluster", "test")]),
        ..NotifierOptions::default()
    });

    // Fires (no `for`) and is sent.
    let t0 = now_ms();
    store.append_batch([(series("x"), t0 - 500, 3.0)]).unwrap();
    assert!(mgr.eval_group(0, &store, t0).is_empty());
    assert_eq!(notifier.collect(&mut mgr, t0), 1);
    assert_eq!(notifier.flush(), Vec::<String>::new());
    let got = find(&am_alerts(port), "KcmTest").expect("KcmTest in Alertmanager");
    assert_eq!(
        got["labels"],
        serde_json::json!({"alertname": "KcmTest", "cluster": "test", "job": "kcm", "severity": "page"})
    );
    assert_eq!(
        got["annotations"],
        serde_json::json!({"summary": "value 3 on kcm"})
    );
    assert_eq!(got["status"]["state"], "active");
    let starts = got["startsAt"].as_str().unwrap().to_string();
    assert_eq!(&starts[..19], &rfc3339_ms(t0)[..19], "startsAt {starts}");

    // Resolves: the resolved alert is sent at once and leaves the active list.
    let t1 = now_ms().max(t0 + 1);
    store
        .append_batch([(series("x"), t1 - 1, STALE_NAN)])
        .unwrap();
    mgr.eval_group(0, &store, t1);
    assert_eq!(notifier.collect(&mut mgr, t1), 1);
    assert!(notifier.flush().is_empty());
    let deadline = Instant::now() + Duration::from_secs(10);
    while find(&am_alerts(port), "KcmTest").is_some() {
        assert!(
            Instant::now() < deadline,
            "KcmTest was not resolved in Alertmanager"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // Alertmanager down: the send fails and is counted.
    drop(am);
    let t2 = now_ms().max(t1 + 1);
    store.append_batch([(series("y"), t2 - 1, 1.0)]).unwrap();
    mgr.eval_group(0, &store, t2);
    assert_eq!(notifier.collect(&mut mgr, t2), 1);
    let errs = notifier.flush();
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(notifier.stats().errors_total >= 1);

    // Back up: after the resend delay the alert is sent again and arrives.
    let _am = start_am(port, "b");
    std::thread::sleep(Duration::from_millis(1100));
    let t3 = now_ms();
    store.append_batch([(series("y"), t3 - 1, 1.0)]).unwrap();
    mgr.eval_group(0, &store, t3);
    // KcmLater, and the resolved KcmTest (resolved alerts are re-sent for 15m).
    assert_eq!(notifier.collect(&mut mgr, t3), 2);
    assert!(notifier.flush().is_empty());
    let got = find(&am_alerts(port), "KcmLater").expect("KcmLater arrived after the restart");
    assert_eq!(
        &got["startsAt"].as_str().unwrap()[..19],
        &rfc3339_ms(t2)[..19]
    );
}
