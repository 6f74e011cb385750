//! The scrape manager: one scrape loop (a thread) per target of a
//! [`promlite_config::Config`], started, reloaded and stopped as discovery and the
//! configuration change.
//!
//! Like Prometheus it spreads each job's targets over the scrape interval (a fixed
//! offset per target from a hash of its labels and URL), scrapes with the job's
//! timeout, and writes staleness markers for a target's series (and its `up` and
//! `scrape_*` series) when the target goes away. A reload keeps the loops of targets
//! whose job configuration is unchanged; a changed job restarts its loops without
//! marking the targets that stay as stale.
//!
//! Discovery: `static_configs` and `file_sd_configs` are run by the manager itself;
//! groups from other discovery (such as Kubernetes) are given with
//! [`ScrapeManager::sync`].
//!
//! A job with `metric_relabel_configs` or `sample_limit` scrapes through
//! [`crate::MetricRelabel`]: target labels attached per `honor_labels` (`false`:
//! a clashing series label kept as `exported_<name>`), then the rules, each
//! series' result computed once and remembered; more samples than the limit fail
//! the scrape. Not applied yet: `honor_labels`/`exported_` for jobs with neither
//! (the store ingests the body with the target's labels overriding the series'
//! own, as [`promlite_config::targets::merge_series_labels`] would with
//! `honor_labels: false` minus the `exported_` copy), and the label limits; non-Bearer
//! `authorization` leaves the target down with a "not supported" error rather than
//! scraping it without credentials.
//!
//! ```
//! use std::sync::Arc;
//! use promlite_config::Config;
//! use promlite_scrape::manager::ScrapeManager;
//! use promlite_store::{Store, StoreConfig};
//!
//! let cfg = Config::from_yaml(r#"
//! scrape_configs:
//! - job_name: node
//!   scrape_interval: 15s
//!   static_configs: [{targets: ['127.0.0.1:9']}]
//! "#, "prometheus.yml", None)?;
//! let store = Arc::new(Store::new(StoreConfig::default()));
//! let manager = ScrapeManager::new(store.clone());
//! manager.apply_config(&cfg);
//! let targets = manager.active_targets();
//! assert_eq!(targets[0].scrape_url, "http://127.0.0.1:9/metrics");
//! manager.stop(); // also done on drop
//! # Ok::<(), promlite_config::ConfigError>(())
//! ```

use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use promlite_config::discovery::{FileSdPoller, Refresh};
use promlite_config::targets::{self, DroppedTarget, Target};
use promlite_config::{Config, ScrapeConfig as JobConfig, TargetGroup};
use promlite_model::{Labels, STALE_NAN};
use promlite_store::Store;

use crate::{now_ms, Auth, ScrapeConfig, Scraper, TlsOptions, DEFAULT_BODY_LIMIT};

/// A target's health, as `/api/v1/targets` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Health {
    /// Not scraped yet.
    #[default]
    Unknown,
    /// The last scrape succeeded.
    Up,
    /// The last scrape failed.
    Down,
}

impl Health {
    /// `unknown`, `up` or `down`.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Up => "up",
            Health::Down => "down",
        }
    }
}

/// The state of one scrape loop.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TargetStatus {
    /// Health after the last scrape.
    pub health: Health,
    /// The last scrape's error, empty when it succeeded.
    pub last_error: String,
    /// When the last scrape started (ms since the epoch; 0 before the first).
    pub last_scrape_ms: i64,
    /// How long it took.
    pub last_duration: Duration,
}

/// An active target with its loop's state.
#[derive(Debug, Clone)]
pub struct ActiveTarget {
    /// The job (scrape pool).
    pub job: String,
    /// The target (labels, discovered labels).
    pub target: Target,
    /// The URL scraped.
    pub scrape_url: String,
    /// The loop's state.
    pub status: TargetStatus,
}

struct Loop {
    /// The job configuration the loop was started with.
    cfg: Arc<JobConfig>,
    target: Target,
    url: String,
    status: Arc<Mutex<TargetStatus>>,
    stop: Sender<bool>,
    thread: JoinHandle<()>,
}

impl Loop {
    /// Stops the loop; `stale` writes staleness markers for the target's series.
    fn stop(self, stale: bool) {
        let _ = self.stop.send(stale);
        let _ = self.thread.join();
    }
}

struct Job {
    cfg: Arc<JobConfig>,
    loops: HashMap<String, Loop>,
    dropped: Vec<DroppedTarget>,
}

/// Starts, reloads and stops scrape loops. Dropping it stops everything (without
/// staleness markers: the data stays as it was).
pub struct ScrapeManager {
    shared: Arc<Shared>,
    discovery: Mutex<Vec<DiscoveryThread>>,
}

/// What discovery threads and the manager share.
struct Shared {
    store: Arc<Store>,
    jobs: Mutex<BTreeMap<String, Job>>,
}

impl std::fmt::Debug for ScrapeManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScrapeManager")
            .field("jobs", &lock(&self.shared.jobs).keys().collect::<Vec<_>>())
            .finish()
    }
}

struct DiscoveryThread {
    poller: FileSdPoller,
    thread: JoinHandle<()>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The identity of a target within its job: its labels and URL.
fn key(t: &Target, url: &str) -> String {
    let mut k = url.to_string();
    for (n, v) in &t.labels {
        k.push('\u{0}');
        k.push_str(n);
        k.push('=');
        k.push_str(v);
    }
    k
}

/// FNV-1a, stable across runs, for the scrape offset.
fn fnv64a(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Prometheus's spreading: a fixed point in each interval per target, pinned to
/// absolute time so restarts keep it.
fn offset(interval: Duration, key_hash: u64) -> Duration {
    let iv = interval.as_nanos().max(1) as u64;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos() as u64;
    let base = iv - now % iv;
    let mut next = base + key_hash % iv;
    if next > iv {
        next -= iv;
    }
    Duration::from_nanos(next)
}

/// The scraper settings for a target of `job`.
fn scrape_config(job: &JobConfig, t: &Target, url: String) -> Result<ScrapeConfig, String> {
    let h = &job.http_client;
    let auth = match &h.authorization {
        None => match &h.basic_auth {
            None => Auth::None,
            Some(b) => Auth::Basic {
                username: match (&b.username, &b.username_file) {
                    (Some(u), _) => u.clone(),
                    (None, Some(f)) => std::fs::read_to_string(f)
                        .map_err(|e| format!("basic_auth username_file {}: {e}", f.display()))?
                        .trim()
                        .to_string(),
                    (None, None) => String::new(),
                },
                password: b.password.clone(),
                password_file: b.password_file.clone(),
            },
        },
        Some(a) if !a.type_.eq_ignore_ascii_case("bearer") => {
            return Err(format!("authorization type {:?} is not supported", a.type_))
        }
        Some(a) => match (&a.credentials, &a.credentials_file) {
            (Some(c), _) => Auth::BearerToken(c.clone()),
            (None, Some(f)) => Auth::BearerTokenFile(f.clone()),
            (None, None) => Auth::None,
        },
    };
    let mut cfg = ScrapeConfig::new(url);
    cfg.job = job.job_name.clone();
    cfg.extra_labels = t
        .public_labels()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    cfg.auth = auth;
    cfg.tls = TlsOptions {
        ca_file: h.tls_config.ca_file.clone(),
        cert_file: h.tls_config.cert_file.clone(),
        key_file: h.tls_config.key_file.clone(),
        insecure_skip_verify: h.tls_config.insecure_skip_verify,
    };
    cfg.timeout = t.scrape_timeout().to_std();
    if !job.metric_relabel_configs.is_empty() || job.sample_limit > 0 {
        cfg.metric_relabel = Some(std::sync::Arc::new(crate::MetricRelabel::new(
            job.metric_relabel_configs.clone(),
            job.honor_labels,
            usize::try_from(job.sample_limit).unwrap_or(usize::MAX),
        )));
    }
    cfg.body_limit = if job.body_size_limit == 0 {
        DEFAULT_BODY_LIMIT
    } else {
        job.body_size_limit
    };
    Ok(cfg)
}

/// True when two job configurations scrape the same way (discovery aside: new
/// targets alone do not restart the loops of the others).
fn same_settings(a: &JobConfig, b: &JobConfig) -> bool {
    let strip = |c: &JobConfig| JobConfig {
        static_configs: Vec::new(),
        file_sd_configs: Vec::new(),
        kubernetes_sd_configs: Vec::new(),
        ..c.clone()
    };
    strip(a) == strip(b)
}

const REPORT_SERIES: [&str; 5] = [
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
];

fn mark_stale(store: &Store, scraper: &Scraper) {
    let ts = now_ms();
    store.mark_target_down(scraper.target(), ts);
    let base: &Labels = scraper.target().labels();
    let _ = store.append_batch(REPORT_SERIES.iter().map(|name| {
        let mut b = base.builder();
        b.set("__name__", *name);
        (b.build(), ts, STALE_NAN)
    }));
}

fn run_loop(
    store: Arc<Store>,
    scraper: Scraper,
    interval: Duration,
    first: Duration,
    stop: Receiver<bool>,
    status: Arc<Mutex<TargetStatus>>,
) {
    let stopped = |r: Result<bool, RecvTimeoutError>| match r {
        Err(RecvTimeoutError::Timeout) => None,
        Ok(stale) => Some(stale),
        Err(RecvTimeoutError::Disconnected) => Some(false),
    };
    if let Some(stale) = stopped(stop.recv_timeout(first)) {
        if stale {
            mark_stale(&store, &scraper);
        }
        return;
    }
    let mut next = Instant::now();
    loop {
        let ts = now_ms();
        let started = Instant::now();
        let result = scraper.scrape(&store, ts);
        {
            let mut st = lock(&status);
            st.last_scrape_ms = ts;
            st.last_duration = started.elapsed();
            match result {
                Ok(_) => {
                    st.health = Health::Up;
                    st.last_error.clear();
                }
                Err(e) => {
                    st.health = Health::Down;
                    st.last_error = e.to_string();
                }
            }
        }
        let now = Instant::now();
        next += interval;
        while next <= now {
            next += interval; // a scrape overran: skip the missed ticks
        }
        if let Some(stale) = stopped(stop.recv_timeout(next - now)) {
            if stale {
                mark_stale(&store, &scraper);
            }
            return;
        }
    }
}

impl ScrapeManager {
    /// A manager writing into `store`, with no jobs.
    pub fn new(store: Arc<Store>) -> ScrapeManager {
        ScrapeManager {
            shared: Arc::new(Shared {
                store,
                jobs: Mutex::new(BTreeMap::new()),
            }),
            discovery: Mutex::new(Vec::new()),
        }
    }

    /// Applies a configuration: jobs no longer present stop (their targets go
    /// stale), changed jobs restart their loops, unchanged ones keep running; static
    /// and file discovery restart and sync their targets.
    pub fn apply_config(&self, cfg: &Config) {
        for d in std::mem::take(&mut *lock(&self.discovery)) {
            drop(d.poller);
            let _ = d.thread.join();
        }
        let mut to_stop: Vec<(Loop, bool)> = Vec::new();
        {
            let mut jobs = lock(&self.shared.jobs);
            let names: Vec<&str> = cfg
                .scrape_configs
                .iter()
                .map(|j| j.job_name.as_str())
                .collect();
            let gone: Vec<String> = jobs
                .keys()
                .filter(|k| !names.contains(&k.as_str()))
                .cloned()
                .collect();
            for k in gone {
                if let Some(job) = jobs.remove(&k) {
                    to_stop.extend(job.loops.into_values().map(|l| (l, true)));
                }
            }
            for jc in &cfg.scrape_configs {
                match jobs.get_mut(&jc.job_name) {
                    Some(job) if same_settings(&job.cfg, jc) => {
                        job.cfg = Arc::new(jc.clone());
                        // Loops compare configurations by pointer: keep theirs.
                        for l in job.loops.values_mut() {
                            l.cfg = Arc::clone(&job.cfg);
                        }
                    }
                    Some(job) => {
                        // Changed: the next sync restarts the loops of targets that
                        // stay (without staleness) and stops the others.
                        job.cfg = Arc::new(jc.clone());
                    }
                    None => {
                        jobs.insert(
                            jc.job_name.clone(),
                            Job {
                                cfg: Arc::new(jc.clone()),
                                loops: HashMap::new(),
                                dropped: Vec::new(),
                            },
                        );
                    }
                }
            }
        }
        for (l, stale) in to_stop {
            l.stop(stale);
        }
        for jc in &cfg.scrape_configs {
            if !jc.kubernetes_sd_configs.is_empty() && jc.file_sd_configs.is_empty() {
                // Kubernetes discovery is run by the caller, which syncs the job's
                // static and discovered groups together: until it does, the job's
                // loops keep running (a reload loses no data for targets that stay).
                continue;
            }
            if jc.file_sd_configs.is_empty() {
                self.shared.sync(&jc.job_name, &jc.static_configs);
                continue;
            }
            let (tx, rx) = mpsc::channel::<Refresh>();
            let poller = match FileSdPoller::spawn(jc, Duration::from_secs(1), tx) {
                Ok(p) => p,
                Err(_) => {
                    self.shared.sync(&jc.job_name, &jc.static_configs);
                    continue;
                }
            };
            let shared = Arc::clone(&self.shared);
            let name = jc.job_name.clone();
            let thread = std::thread::spawn(move || {
                while let Ok(r) = rx.recv() {
                    shared.sync(&name, &r.groups);
                }
            });
            lock(&self.discovery).push(DiscoveryThread { poller, thread });
        }
    }

    /// Replaces the targets of `job` with those built from `groups` (for discovery
    /// the manager does not run itself, such as Kubernetes): new targets start a
    /// loop, gone ones stop and go stale, unchanged ones keep running. Unknown jobs
    /// are ignored.
    pub fn sync(&self, job: &str, groups: &[TargetGroup]) {
        self.shared.sync(job, groups);
    }

    /// The active targets with their loops' state, by job then URL.
    pub fn active_targets(&self) -> Vec<ActiveTarget> {
        self.shared.active_targets()
    }

    /// The targets relabeling dropped, by job.
    pub fn dropped_targets(&self) -> Vec<(String, DroppedTarget)> {
        let jobs = lock(&self.shared.jobs);
        jobs.iter()
            .flat_map(|(n, j)| j.dropped.iter().map(move |d| (n.clone(), d.clone())))
            .collect()
    }

    /// Stops discovery and every loop (no staleness markers).
    pub fn stop(&self) {
        for d in std::mem::take(&mut *lock(&self.discovery)) {
            drop(d.poller);
            let _ = d.thread.join();
        }
        let loops: Vec<Loop> = {
            let mut jobs = lock(&self.shared.jobs);
            jobs.values_mut()
                .flat_map(|j| j.loops.drain().map(|(_, l)| l))
                .collect()
        };
        for l in loops {
            l.stop(false);
        }
    }
}

impl Shared {
    fn sync(&self, job: &str, groups: &[TargetGroup]) {
        let mut to_stop = Vec::new();
        let mut restart = Vec::new();
        {
            let mut jobs = lock(&self.jobs);
            let Some(j) = jobs.get_mut(job) else {
                return;
            };
            let cfg = Arc::clone(&j.cfg);
            let mut set = targets::targets_from_groups(&cfg, groups);
            if cfg.target_limit != 0 && set.active.len() as u64 > cfg.target_limit {
                // Prometheus scrapes none of a job's targets past its limit.
                set.active.clear();
            }
            j.dropped = set.dropped;
            let mut keep: HashMap<String, Loop> = HashMap::new();
            for t in set.active {
                let url = t.url(&cfg);
                let k = key(&t, &url);
                if let Some(l) = j.loops.remove(&k) {
                    if Arc::ptr_eq(&l.cfg, &cfg) {
                        keep.insert(k, l);
                        continue;
                    }
                    restart.push(l);
                }
                let l = self.start_loop(&cfg, t, url, fnv64a(&k));
                keep.insert(k, l);
            }
            to_stop.extend(j.loops.drain().map(|(_, l)| l));
            j.loops = keep;
        }
        for l in restart {
            l.stop(false);
        }
        for l in to_stop {
            l.stop(true);
        }
    }

    fn start_loop(&self, cfg: &Arc<JobConfig>, t: Target, url: String, hash: u64) -> Loop {
        let status = Arc::new(Mutex::new(TargetStatus::default()));
        let (tx, rx) = mpsc::channel();
        let interval = t.scrape_interval().to_std();
        let scraper = scrape_config(cfg, &t, url.clone())
            .and_then(|c| Scraper::new(c).map_err(|e| e.to_string()));
        let thread = match scraper {
            Ok(scraper) => {
                let store = Arc::clone(&self.store);
                let st = Arc::clone(&status);
                let first = offset(interval, hash);
                std::thread::spawn(move || run_loop(store, scraper, interval, first, rx, st))
            }
            Err(e) => {
                let mut st = lock(&status);
                st.health = Health::Down;
                st.last_error = e;
                drop(st);
                std::thread::spawn(move || {
                    let _ = rx.recv();
                })
            }
        };
        Loop {
            cfg: Arc::clone(cfg),
            target: t,
            url,
            status,
            stop: tx,
            thread,
        }
    }

    fn active_targets(&self) -> Vec<ActiveTarget> {
        let jobs = lock(&self.jobs);
        let mut out = Vec::new();
        for (name, j) in jobs.iter() {
            let mut ts: Vec<ActiveTarget> = j
                .loops
                .values()
                .map(|l| ActiveTarget {
                    job: name.clone(),
                    target: l.target.clone(),
                    scrape_url: l.url.clone(),
                    status: lock(&l.status).clone(),
                })
                .collect();
            ts.sort_by(|a, b| a.scrape_url.cmp(&b.scrape_url));
            out.extend(ts);
        }
        out
    }
}

impl Drop for ScrapeManager {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
#[path = "manager_tests.rs"]
mod tests;
