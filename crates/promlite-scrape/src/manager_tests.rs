//! The manager against a loopback HTTP server answering every path.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};

use promlite_model::{is_stale_nan, MatchOp, Matcher, Queryable};
use promlite_store::StoreConfig;

use super::*;

/// Serves `m 1` to every request until dropped.
struct Server {
    port: u16,
    done: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start() -> Server {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let done = Arc::new(AtomicBool::new(false));
        let d = Arc::clone(&done);
        let thread = std::thread::spawn(move || {
            for conn in l.incoming() {
                if d.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(mut c) = conn else { continue };
                let mut buf = [0u8; 4096];
                let _ = c.read(&mut buf);
                let body = "# TYPE m gauge\nm 1\n";
                let _ = write!(
                    c,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Server {
            port,
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

fn config(port: u16, targets: &[&str]) -> Config {
    let list: Vec<String> = targets
        .iter()
        .map(|p| format!("{{targets: ['127.0.0.1:{port}'], labels: {{__metrics_path__: '/{p}'}}}}"))
        .collect();
    Config::from_yaml(
        &format!(
            "scrape_configs:\n- job_name: j\n  scrape_interval: 100ms\n  static_configs: [{}]\n  relabel_configs:\n  - {{source_labels: [__metrics_path__], target_label: path}}\n",
            list.join(", ")
        ),
        "t.yml",
        None,
    )
    .unwrap()
}

fn up_samples(store: &Store, path: &str) -> Vec<f64> {
    let m = [
        Matcher::new(MatchOp::Equal, "__name__", "up").unwrap(),
        Matcher::new(MatchOp::Equal, "path", path).unwrap(),
    ];
    store
        .select(&m, 0, i64::MAX)
        .unwrap()
        .into_iter()
        .flat_map(|s| s.samples.into_iter().map(|x| x.v))
        .collect()
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn loops_scrape_reload_keeps_targets_and_removal_marks_stale() {
    let srv = Server::start();
    let store = Arc::new(Store::new(StoreConfig::default()));
    let m = ScrapeManager::new(Arc::clone(&store));
    m.apply_config(&config(srv.port, &["a", "b"]));
    assert_eq!(m.active_targets().len(), 2);
    wait_for("both targets up", || {
        m.active_targets()
            .iter()
            .all(|t| t.status.health == Health::Up)
    });
    let t = &m.active_targets()[0];
    assert_eq!(t.scrape_url, format!("http://127.0.0.1:{}/a", srv.port));
    assert_eq!(t.target.labels["path"], "/a");
    wait_for("two scrapes of a", || up_samples(&store, "/a").len() >= 2);

    // The same configuration again: the loops are not restarted.
    let before = lock(&m.shared.jobs)["j"]
        .loops
        .values()
        .map(|l| l.thread.thread().id())
        .collect::<Vec<_>>();
    m.apply_config(&config(srv.port, &["a", "b"]));
    let after = lock(&m.shared.jobs)["j"]
        .loops
        .values()
        .map(|l| l.thread.thread().id())
        .collect::<Vec<_>>();
    let mut b = before.clone();
    b.sort_by_key(|i| format!("{i:?}"));
    let mut a = after.clone();
    a.sort_by_key(|i| format!("{i:?}"));
    assert_eq!(a, b, "unchanged targets keep their loops");

    // b goes away: its up series ends with a staleness marker; a keeps scraping.
    m.apply_config(&config(srv.port, &["a"]));
    assert_eq!(m.active_targets().len(), 1);
    let last_b = *up_samples(&store, "/b").last().unwrap();
    assert!(is_stale_nan(last_b), "b's up ends stale, got {last_b}");
    let n = up_samples(&store, "/a").len();
    wait_for("a keeps scraping", || up_samples(&store, "/a").len() > n);
    assert!(!is_stale_nan(*up_samples(&store, "/a").last().unwrap()));
    drop(m);
    // Stopped: no more scrapes.
    let n = up_samples(&store, "/a").len();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(up_samples(&store, "/a").len(), n);
}

#[test]
fn offsets_spread_and_stay_inside_the_interval() {
    let iv = Duration::from_secs(15);
    let offs: Vec<Duration> = (0..100)
        .map(|i| offset(iv, fnv64a(&format!("t{i}"))))
        .collect();
    assert!(offs.iter().all(|o| *o <= iv));
    // 100 targets spread over 15 s: not bunched in one second.
    let mut secs: Vec<u64> = offs.iter().map(|o| o.as_secs()).collect();
    secs.sort();
    secs.dedup();
    assert!(secs.len() >= 10, "{secs:?}");
}

#[test]
fn file_sd_changes_reach_the_loops() {
    let srv = Server::start();
    let dir = std::env::temp_dir().join(format!("promlite-manager-fsd-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("t.yml");
    let port = srv.port;
    std::fs::write(&f, format!("- targets: ['127.0.0.1:{port}']\n- targets: ['127.0.0.2:{port}']\n  labels: {{drop: 'yes'}}\n")).unwrap();
    let cfg = Config::from_yaml(
        &format!(
            "scrape_configs:\n- job_name: f\n  scrape_interval: 1h\n  file_sd_configs: [{{files: ['{}']}}]\n  relabel_configs: [{{source_labels: [drop], regex: 'yes', action: drop}}]\n",
            f.display()
        ),
        "t.yml",
        None,
    )
    .unwrap();
    let store = Arc::new(Store::new(StoreConfig::default()));
    let m = ScrapeManager::new(store);
    m.apply_config(&cfg);
    wait_for("the first target", || m.active_targets().len() == 1);
    assert_eq!(m.dropped_targets().len(), 1);
    std::fs::write(
        &f,
        format!("- targets: ['127.0.0.1:{port}', '127.0.0.3:{port}']\n"),
    )
    .unwrap();
    wait_for("the second target", || m.active_targets().len() == 2);
    assert!(m.dropped_targets().is_empty());
    // A configuration without the job stops its discovery and loops.
    m.apply_config(&Config::from_yaml("", "empty.yml", None).unwrap());
    assert!(m.active_targets().is_empty());
}
