//! A new user's first commands (issue 13, 3 and 5): bad times are errors, not
//! panics; an expression after `--data FILE...` is the expression; a saved
//! `/metrics` page reads as one scrape with `--data-at`; `parse -` reads stdin;
//! one bad line of a batch does not stop the batch.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::common::promlite_bin;
use crate::support::https::{temp_dir, write_file, Req, Resp, Server};

fn run(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut c = Command::new(promlite_bin())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promlite");
    if let Some(b) = stdin {
        c.stdin.take().unwrap().write_all(b).unwrap();
    }
    drop(c.stdin.take());
    c.wait_with_output().unwrap()
}

fn stdout_json(o: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// A saved `/metrics` page: no timestamps.
const PAGE: &str = "# TYPE up gauge\nup{job=\"kcm\"} 1\nprocess_open_fds 12\n";

#[test]
fn an_expression_after_the_data_files_and_a_page_at_a_given_time() {
    let dir = temp_dir("first-minutes");
    let page = dir.join("page.prom");
    write_file(&page, PAGE);
    let page = page.to_str().unwrap();
    // Without --data-at: an error that says what to do, with a real position.
    let o = run(&["eval", "--at", "1700000000", "--data", page, "up"], None);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--data-at"), "{err}");
    assert!(err.contains("line 2"), "{err}");
    assert!(!err.contains(":0:"), "{err}");
    // With it: the page is one scrape at 2023-11-14T22:13:20Z = 1700000000 s;
    // an instant query 60 s later still sees it (lookback 5 m).
    let o = run(
        &[
            "eval",
            "--at",
            "1700000060",
            "--data-at",
            "2023-11-14T22:13:20Z",
            "--data",
            page,
            "process_open_fds + 1",
        ],
        None,
    );
    assert!(o.status.success(), "{o:?}");
    let a = stdout_json(&o);
    assert_eq!(a[0]["data"]["result"][0]["value"][1], "13", "{a:?}");
}

#[test]
fn bad_times_are_errors_and_a_batch_goes_on() {
    let dir = temp_dir("first-minutes-batch");
    let data = dir.join("d.prom");
    write_file(&data, "x 1 1700000000000\n");
    let data = data.to_str().unwrap();
    // Ad hoc: exit 1 with an error answer, never 101.
    let o = run(
        &[
            "eval",
            "--data",
            data,
            "--at",
            "2024-01-01T00:00:00+1é00",
            "x",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert_eq!(stdout_json(&o)[0]["errorType"], "bad_data");
    // Batch: the bad time, a line that is not UTF-8, then a good query.
    let mut batch = Vec::new();
    batch.extend_from_slice(b"{\"expr\": \"x\", \"time\": \"2024-01-01T00:00:00+1\xc3\xa900\"}\n");
    batch.extend_from_slice(b"{\"expr\": \"\xff\"}\n");
    batch.extend_from_slice(b"{\"expr\": \"x\", \"time\": 1700000000}\n");
    let o = run(&["eval", "--data", data, "--batch", "-"], Some(&batch));
    assert!(o.status.success(), "{o:?}");
    let a = stdout_json(&o);
    assert_eq!(a.len(), 3, "{a:?}");
    assert_eq!(a[0]["errorType"], "bad_data");
    assert_eq!(a[1]["errorType"], "oracle_input");
    assert!(a[1]["error"].as_str().unwrap().contains("line 2"), "{a:?}");
    assert_eq!(a[2]["data"]["result"][0]["value"][1], "1");
}

#[test]
fn parse_dash_reads_standard_input() {
    let o = run(&["parse", "-", "--count"], Some(PAGE.as_bytes()));
    assert!(o.status.success(), "{o:?}");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("\"samples\":2") || out.contains("\"samples\": 2"),
        "{out}"
    );
}

#[test]
fn help_lines_of_the_scrape_flags_are_indented() {
    for cmd in ["serve", "watch"] {
        let o = run(&[cmd, "--help"], None);
        let out = String::from_utf8_lossy(&o.stdout);
        let line = out
            .lines()
            .find(|l| l.contains("--interval D"))
            .unwrap_or_else(|| panic!("{cmd} --help lists --interval: {out}"));
        assert!(line.starts_with("  --interval"), "{cmd}: {line:?}");
    }
}

#[test]
fn watch_query_keeps_the_default_job() {
    let srv = Server::start(
        None,
        std::sync::Arc::new(|_: &Req| Resp::text(b"up_like 1\n".to_vec())),
    );
    let url = format!("http://127.0.0.1:{}/metrics", srv.port);
    let mut child = Command::new(promlite_bin())
        .args([
            "watch",
            &url,
            "--once",
            "--interval",
            "1s",
            "--query",
            "up_like",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Bounded: two scrapes a second apart, then one frame.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("promlite watch --once still running after 30 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{o:?}");
    let out = String::from_utf8_lossy(&o.stdout);
    // The query's row carries the same job (and container) as the dashboard's.
    let row = out.lines().find(|l| {
        l.contains(&format!("127.0.0.1:{}", srv.port)) && l.contains("kube-controller-manager")
    });
    assert!(row.is_some(), "{out}");
}
