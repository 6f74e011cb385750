//! File discovery against files written by the test.

use super::*;
use crate::Duration;

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("promlite-config-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn json_and_yaml_files_give_groups_with_filepath() {
    let d = tmpdir("read");
    let j = d.join("a.json");
    std::fs::write(
        &j,
        r#"[{"targets": ["h:1", "h:2"], "labels": {"env": "x"}}, {"targets": ["h:3"]}]"#,
    )
    .unwrap();
    let y = d.join("b.yml");
    std::fs::write(&y, "- targets: ['h:4']\n  labels: {__meta_k: v}\n").unwrap();
    let g = read_file(&j).unwrap();
    assert_eq!(g.len(), 2);
    assert_eq!(g[0].targets.len(), 2);
    assert_eq!(g[0].targets[1]["__address__"], "h:2");
    assert_eq!(g[0].labels["env"], "x");
    assert_eq!(g[0].labels["__meta_filepath"], j.display().to_string());
    assert_eq!(g[1].source, format!("{}:1", j.display()));
    let g = read_file(&y).unwrap();
    assert_eq!(g[0].labels["__meta_k"], "v");
    assert_eq!(g[0].labels["__meta_filepath"], y.display().to_string());
}

#[test]
fn bad_files_are_errors_with_positions() {
    let d = tmpdir("bad");
    let j = d.join("a.json");
    std::fs::write(&j, "[{\"targets\": [\"h:1\"],\n \"lables\": {}}]").unwrap();
    let e = read_file(&j).unwrap_err();
    // serde_json points at the key's closing quote.
    assert_eq!((e.pos.line, e.pos.column), (2, 9), "{e}");
    assert_eq!(
        e.message,
        "unknown field `lables`, expected `targets` or `labels`"
    );
    let y = d.join("b.yaml");
    std::fs::write(&y, "- targets: ['h:1']\n  labels: [x]\n").unwrap();
    let e = read_file(&y).unwrap_err();
    assert_eq!((e.pos.line, e.pos.column), (2, 11), "{e}");
}

#[test]
fn globs_changes_and_last_good_groups() {
    let d = tmpdir("glob");
    std::fs::write(d.join("t1.json"), r#"[{"targets": ["a:1"]}]"#).unwrap();
    std::fs::write(d.join("other.txt"), "x").unwrap();
    let mut fd = FileDiscovery::new(FileSdConfig {
        files: vec![d.join("t*.json")],
        refresh_interval: Duration::from_secs(300),
    });
    let r = fd.refresh();
    assert_eq!(r.groups.len(), 1);
    assert!(!fd.changed());
    std::fs::write(d.join("t2.json"), r#"[{"targets": ["b:1"]}]"#).unwrap();
    assert!(fd.changed());
    let r = fd.refresh();
    assert_eq!(r.groups.len(), 2);
    // A file that turns bad keeps its last good groups and reports the error.
    std::fs::write(d.join("t2.json"), "[{").unwrap();
    let r = fd.refresh();
    assert_eq!(r.groups.len(), 2);
    assert_eq!(r.errors.len(), 1);
    // A removed file's groups go.
    std::fs::remove_file(d.join("t2.json")).unwrap();
    assert!(fd.changed());
    assert_eq!(fd.refresh().groups.len(), 1);
}

#[test]
fn poller_sends_on_change_and_stops_on_drop() {
    let d = tmpdir("poll");
    let f = d.join("t.yml");
    std::fs::write(&f, "- targets: ['a:1']\n").unwrap();
    let yaml = format!(
        "scrape_configs:\n- job_name: j\n  static_configs: [{{targets: ['s:1']}}]\n  file_sd_configs: [{{files: ['{}']}}]\n",
        f.display()
    );
    let cfg = crate::Config::from_yaml(&yaml, "p", None)
        .unwrap()
        .scrape_configs
        .remove(0);
    let (tx, rx) = mpsc::channel();
    let poller = FileSdPoller::spawn(&cfg, StdDuration::from_millis(20), tx).unwrap();
    let first = rx.recv_timeout(StdDuration::from_secs(5)).unwrap();
    assert_eq!(first.groups.len(), 2);
    assert_eq!(first.groups[0].targets[0]["__address__"], "s:1");
    std::fs::write(&f, "- targets: ['bb:1']\n").unwrap();
    let next = rx.recv_timeout(StdDuration::from_secs(5)).unwrap();
    assert_eq!(next.groups[1].targets[0]["__address__"], "bb:1");
    drop(poller);
    assert!(rx.recv_timeout(StdDuration::from_millis(200)).is_err());
}
