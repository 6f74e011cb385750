//! Simulated kube-controller-manager scrapes, for the demo, examples and benchmarks.
//!
//! [`KcmSim`] keeps the state of a few kube-controller-manager processes (workqueues,
//! the REST client, the process) and renders what each one's `/metrics` endpoint
//! would answer at the next scrape, in the Prometheus text format with `# HELP` and
//! `# TYPE` lines and values formatted as Go's client library formats them. Counters
//! grow at per-series rates, histograms stay cumulative with `_count` equal to the
//! `+Inf` bucket, and a configured instance restarts once (its counters reset).
//!
//! Everything is deterministic for a given [`SimConfig`]: no clock, no global RNG.
//!
//! ```
//! use promlite::sim::{KcmSim, SimConfig};
//!
//! let mut sim = KcmSim::new(SimConfig { instances: 2, ..SimConfig::default() });
//! let scrape = sim.next_scrape();
//! assert_eq!(scrape.len(), 2, "one body per instance");
//! let body = std::str::from_utf8(&scrape[0].body).unwrap();
//! assert!(body.contains("# TYPE workqueue_adds_total counter"));
//! assert!(body.contains(r#"workqueue_queue_duration_seconds_bucket{name="deployment",le="+Inf"}"#));
//! ```

use std::fmt::Write as _;

use promlite_model::{format_go_g, Labels};

/// Real workqueue names of kube-controller-manager, with an add rate (per second)
/// and a typical queue latency (median, seconds) for each.
const QUEUES: &[(&str, f64, f64)] = &[
    ("ClusterRoleAggregator", 0.05, 2e-4),
    ("DynamicCABundle-client-ca-bundle", 0.01, 5e-5),
    ("DynamicServingCertificateController", 0.01, 5e-5),
    ("bootstrap_signer_queue", 0.01, 1e-4),
    ("certificate", 0.02, 3e-4),
    ("claims", 0.005, 1e-4),
    ("cronjob", 0.03, 2e-4),
    ("daemonset", 0.4, 8e-4),
    ("deployment", 0.8, 1.5e-3),
    ("disruption", 0.2, 4e-4),
    ("endpoint", 1.5, 2e-3),
    ("endpoint_slice", 1.6, 2.5e-3),
    ("endpoint_slice_mirroring", 0.3, 1e-4),
    ("ephemeral_volume", 0.01, 1e-4),
    ("garbage_collector_attempt_to_delete", 0.2, 3e-3),
    ("garbage_collector_attempt_to_orphan", 0.0, 1e-4),
    ("garbage_collector_graph_changes", 6.0, 4e-5),
    ("horizontalpodautoscaler", 0.1, 5e-4),
    ("job", 0.15, 6e-4),
    ("namespace", 0.02, 2e-3),
    ("node", 0.3, 3e-4),
    ("node_lifecycle_controller", 0.25, 2e-4),
    ("noexec_taint_node", 0.1, 1e-4),
    ("noexec_taint_pod", 0.6, 1e-4),
    ("orphaned_pods_nodes", 0.02, 1e-4),
    ("pvcprotection", 0.05, 2e-4),
    ("pvcs", 0.05, 3e-4),
    ("pvprotection", 0.02, 2e-4),
    ("replicaset", 1.2, 1.2e-3),
    ("replicationmanager", 0.05, 2e-4),
    ("resource_quota_controller_resource_changes", 0.5, 1e-4),
    ("resourcequota_primary", 0.1, 4e-3),
    ("root_ca_cert_publisher", 0.02, 2e-4),
    ("service", 0.1, 1e-3),
    ("serviceaccount", 0.05, 2e-4),
    ("serviceaccount_tokens_secret", 0.01, 1e-4),
    ("statefulset", 0.2, 7e-4),
    ("token_cleaner", 0.01, 1e-4),
    ("ttl_jobs_to_delete", 0.05, 2e-4),
    ("ttlcontroller", 0.3, 1e-4),
    ("volume_expand", 0.0, 1e-4),
    ("volumes", 0.1, 5e-4),
];

/// client-go's workqueue latency buckets: 10 exponential buckets from 10ns.
const WQ_BUCKETS: [f64; 10] = [
    1e-08,
    1e-07,
    1e-06,
    9.999999999999999e-06,
    9.999999999999999e-05,
    0.001,
    0.01,
    0.1,
    1.0,
    10.0,
];

/// client-go's REST client latency buckets (Kubernetes 1.20).
const REST_BUCKETS: [f64; 11] = [
    0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.0,
];

/// REST client endpoints: (url path, verb, requests per second, median latency s).
const URLS: &[(&str, &str, f64, f64)] = &[
    ("/api/v1/namespaces/%7Bnamespace%7D/pods", "GET", 2.0, 0.004),
    (
        "/api/v1/namespaces/%7Bnamespace%7D/pods/%7Bname%7D/status",
        "PUT",
        1.2,
        0.009,
    ),
    (
        "/api/v1/namespaces/%7Bnamespace%7D/events",
        "POST",
        0.8,
        0.006,
    ),
    (
        "/api/v1/namespaces/%7Bnamespace%7D/endpoints/%7Bname%7D",
        "PUT",
        1.0,
        0.007,
    ),
    (
        "/apis/apps/v1/namespaces/%7Bnamespace%7D/replicasets/%7Bname%7D/status",
        "PUT",
        0.9,
        0.011,
    ),
    (
        "/apis/apps/v1/namespaces/%7Bnamespace%7D/deployments/%7Bname%7D/status",
        "PUT",
        0.5,
        0.012,
    ),
    (
        "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-controller-manager",
        "PUT",
        0.5,
        0.005,
    ),
    (
        "/apis/discovery.k8s.io/v1/namespaces/%7Bnamespace%7D/endpointslices/%7Bname%7D",
        "PUT",
        1.1,
        0.008,
    ),
    ("/api/v1/nodes/%7Bname%7D", "PATCH", 0.3, 0.015),
    (
        "/api/v1/namespaces/%7Bnamespace%7D/pods/%7Bname%7D",
        "DELETE",
        0.1,
        0.02,
    ),
];

/// (status code, method, share of the method's requests).
const CODES: &[(&str, f64)] = &[
    ("200", 0.955),
    ("201", 0.02),
    ("304", 0.005),
    ("404", 0.012),
    ("409", 0.006),
    ("500", 0.0015),
    ("503", 0.0005),
];

/// How the simulation is set up.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Number of kube-controller-manager instances (default 3).
    pub instances: usize,
    /// Workqueues per instance, at most the 42 real names (default all).
    pub queues: usize,
    /// Seed of the deterministic random numbers.
    pub seed: u64,
    /// Time of the first scrape, ms since the epoch.
    pub start_ms: i64,
    /// Scrape interval, ms (default 15 s).
    pub interval_ms: i64,
    /// Restart instance `.0` just before scrape number `.1` (0-based): its
    /// counters and histograms reset, as after a crash.
    pub restart: Option<(usize, usize)>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            instances: 3,
            queues: QUEUES.len(),
            seed: 42,
            start_ms: 1_700_000_000_000,
            interval_ms: 15_000,
            restart: Some((1, 24)),
        }
    }
}

/// One instance's answer to one scrape.
#[derive(Debug, Clone)]
pub struct SimScrape {
    /// The target labels a Kubernetes service discovery would attach
    /// (`container`, `instance`, `job`, `namespace`, `pod`).
    pub target: Labels,
    /// The `/metrics` body (Prometheus text format 0.0.4).
    pub body: Vec<u8>,
    /// The scrape time, ms since the epoch (with a few ms of jitter).
    pub ts_ms: i64,
}

#[derive(Debug, Clone)]
struct Hist {
    buckets: Vec<u64>,
    sum: f64,
}

impl Hist {
    fn new(n: usize) -> Self {
        Hist {
            buckets: vec![0; n + 1],
            sum: 0.0,
        }
    }
}

#[derive(Debug, Clone)]
struct Instance {
    adds: Vec<u64>,
    depth: Vec<f64>,
    queue_lat: Vec<Hist>,
    rest_lat: Vec<Hist>,
    requests: Vec<Vec<u64>>,
    cpu_s: f64,
    rss: f64,
    start_time_s: f64,
}

/// The simulator: call [`KcmSim::next_scrape`] once per scrape interval.
#[derive(Debug, Clone)]
pub struct KcmSim {
    cfg: SimConfig,
    rng: SplitMix,
    instances: Vec<Instance>,
    scrape_no: usize,
}

impl KcmSim {
    /// A fresh simulation; every process has just started.
    pub fn new(mut cfg: SimConfig) -> Self {
        cfg.queues = cfg.queues.min(QUEUES.len());
        let start_s = cfg.start_ms as f64 / 1000.0 - 3600.0;
        let instances = (0..cfg.instances)
            .map(|_| Instance::new(cfg.queues, start_s))
            .collect();
        KcmSim {
            rng: SplitMix(cfg.seed),
            cfg,
            instances,
            scrape_no: 0,
        }
    }

    /// Advances every instance by one interval and renders their `/metrics` bodies.
    pub fn next_scrape(&mut self) -> Vec<SimScrape> {
        let n = self.scrape_no;
        self.scrape_no += 1;
        let base_ts = self.cfg.start_ms + n as i64 * self.cfg.interval_ms;
        let dt = if n == 0 {
            0.0
        } else {
            self.cfg.interval_ms as f64 / 1000.0
        };
        let mut out = Vec::with_capacity(self.instances.len());
        for i in 0..self.instances.len() {
            // Each instance scrapes at its own phase, with a few ms of jitter.
            let ts_ms = base_ts + 1_000 * i as i64 + (self.rng.next_f64() * 40.0) as i64;
            if self.cfg.restart == Some((i, n)) {
                self.instances[i] = Instance::new(self.cfg.queues, ts_ms as f64 / 1000.0 - 5.0);
            }
            let rng = &mut self.rng;
            self.instances[i].advance(dt, rng);
            let body = self.instances[i].render(self.cfg.queues);
            let ip = format!("10.0.0.{}", 11 + i);
            let target = Labels::from_pairs([
                ("container", "kube-controller-manager".to_string()),
                ("instance", format!("{ip}:10257")),
                ("job", "kube-controller-manager".to_string()),
                ("namespace", "kube-system".to_string()),
                ("pod", format!("kube-controller-manager-master-{i}")),
            ]);
            out.push(SimScrape {
                target,
                body,
                ts_ms,
            });
        }
        out
    }
}

impl Instance {
    fn new(queues: usize, start_time_s: f64) -> Self {
        Instance {
            adds: vec![0; queues],
            depth: vec![0.0; queues],
            queue_lat: (0..queues).map(|_| Hist::new(WQ_BUCKETS.len())).collect(),
            rest_lat: URLS.iter().map(|_| Hist::new(REST_BUCKETS.len())).collect(),
            requests: URLS.iter().map(|_| vec![0; CODES.len()]).collect(),
            cpu_s: 0.5,
            rss: 6.5e7,
            start_time_s,
        }
    }

    fn advance(&mut self, dt: f64, rng: &mut SplitMix) {
        for (q, &(_, rate, median)) in QUEUES.iter().take(self.adds.len()).enumerate() {
            let n = rng.poisson(rate * dt);
            self.adds[q] += n;
            observe(&mut self.queue_lat[q], &WQ_BUCKETS, n, median, 1.6, rng);
            let busy = rate * median * 50.0;
            self.depth[q] = rng.poisson(busy) as f64;
        }
        for (u, &(_, _, rate, median)) in URLS.iter().enumerate() {
            let n = rng.poisson(rate * dt);
            observe(&mut self.rest_lat[u], &REST_BUCKETS, n, median, 0.8, rng);
            for _ in 0..n {
                let mut x = rng.next_f64();
                let mut c = CODES.len() - 1;
                for (k, &(_, share)) in CODES.iter().enumerate() {
                    if x < share {
                        c = k;
                        break;
                    }
                    x -= share;
                }
                self.requests[u][c] += 1;
            }
        }
        self.cpu_s += dt * (0.04 + 0.03 * rng.next_f64());
        self.rss = (self.rss + (rng.next_f64() - 0.45) * 4e5 * dt).max(5e7);
    }

    fn render(&self, queues: usize) -> Vec<u8> {
        let mut s = String::with_capacity(64 * 1024);
        family(
            &mut s,
            "process_cpu_seconds_total",
            "Total user and system CPU time spent in seconds.",
            "counter",
        );
        let _ = writeln!(
            s,
            "process_cpu_seconds_total {}",
            format_go_g(round_to(self.cpu_s, 100.0))
        );
        family(
            &mut s,
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            "gauge",
        );
        let _ = writeln!(
            s,
            "process_resident_memory_bytes {}",
            format_go_g(self.rss.round())
        );
        family(
            &mut s,
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
            "gauge",
        );
        let _ = writeln!(
            s,
            "process_start_time_seconds {}",
            format_go_g(round_to(self.start_time_s, 100.0))
        );
        family(
            &mut s,
            "rest_client_request_duration_seconds",
            "[ALPHA] Request latency in seconds. Broken down by verb and URL.",
            "histogram",
        );
        for (u, &(path, verb, _, _)) in URLS.iter().enumerate() {
            let url = format!("https://10.96.0.1:443{path}");
            let labels = format!("url=\"{url}\",verb=\"{verb}\"");
            hist_lines(
                &mut s,
                "rest_client_request_duration_seconds",
                &labels,
                &REST_BUCKETS,
                &self.rest_lat[u],
            );
        }
        family(
            &mut s,
            "rest_client_requests_total",
            "[ALPHA] Number of HTTP requests, partitioned by status code, method, and host.",
            "counter",
        );
        // Requests are counted per (method, code) across all URLs, as client-go does.
        let mut methods: Vec<(&str, Vec<u64>)> = Vec::new();
        for (u, &(_, verb, _, _)) in URLS.iter().enumerate() {
            let i = match methods.iter().position(|(m, _)| *m == verb) {
                Some(i) => i,
                None => {
                    methods.push((verb, vec![0; CODES.len()]));
                    methods.len() - 1
                }
            };
            for (c, n) in self.requests[u].iter().enumerate() {
                methods[i].1[c] += n;
            }
        }
        methods.sort_by(|a, b| a.0.cmp(b.0));
        for (c, &(code, _)) in CODES.iter().enumerate() {
            for (verb, counts) in &methods {
                let _ = writeln!(
                    s,
                    "rest_client_requests_total{{code=\"{code}\",host=\"10.96.0.1:443\",method=\"{verb}\"}} {}",
                    counts[c]
                );
            }
        }
        family(
            &mut s,
            "workqueue_adds_total",
            "[ALPHA] Total number of adds handled by workqueue",
            "counter",
        );
        for (q, &(name, _, _)) in QUEUES.iter().take(queues).enumerate() {
            let _ = writeln!(
                s,
                "workqueue_adds_total{{name=\"{name}\"}} {}",
                self.adds[q]
            );
        }
        family(
            &mut s,
            "workqueue_depth",
            "[ALPHA] Current depth of workqueue",
            "gauge",
        );
        for (q, &(name, _, _)) in QUEUES.iter().take(queues).enumerate() {
            let _ = writeln!(
                s,
                "workqueue_depth{{name=\"{name}\"}} {}",
                format_go_g(self.depth[q])
            );
        }
        family(
            &mut s,
            "workqueue_queue_duration_seconds",
            "[ALPHA] How long in seconds an item stays in workqueue before being requested.",
            "histogram",
        );
        for (q, &(name, _, _)) in QUEUES.iter().take(queues).enumerate() {
            let labels = format!("name=\"{name}\"");
            hist_lines(
                &mut s,
                "workqueue_queue_duration_seconds",
                &labels,
                &WQ_BUCKETS,
                &self.queue_lat[q],
            );
        }
        s.into_bytes()
    }
}

fn family(s: &mut String, name: &str, help: &str, typ: &str) {
    let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} {typ}");
}

fn hist_lines(s: &mut String, name: &str, labels: &str, bounds: &[f64], h: &Hist) {
    let mut cum = 0;
    for (i, b) in bounds.iter().enumerate() {
        cum += h.buckets[i];
        let _ = writeln!(
            s,
            "{name}_bucket{{{labels},le=\"{}\"}} {cum}",
            format_go_g(*b)
        );
    }
    cum += h.buckets[bounds.len()];
    let _ = writeln!(s, "{name}_bucket{{{labels},le=\"+Inf\"}} {cum}");
    let _ = writeln!(s, "{name}_sum{{{labels}}} {}", format_go_g(h.sum));
    let _ = writeln!(s, "{name}_count{{{labels}}} {cum}");
}

/// Records `n` observations from a log-normal distribution with the given median.
fn observe(h: &mut Hist, bounds: &[f64], n: u64, median: f64, sigma: f64, rng: &mut SplitMix) {
    for _ in 0..n.min(400) {
        let v = median * (sigma * rng.normal()).exp();
        let weight = if n > 400 { n as f64 / 400.0 } else { 1.0 };
        let idx = bounds.iter().position(|b| v <= *b).unwrap_or(bounds.len());
        // Spread the weight of sub-sampled observations exactly over whole counts.
        let w = weight.floor() as u64 + u64::from(rng.next_f64() < weight.fract());
        h.buckets[idx] += w;
        h.sum += v * w as f64;
    }
}

fn round_to(v: f64, scale: f64) -> f64 {
    (v * scale).round() / scale
}

/// SplitMix64: a tiny, well-known deterministic generator (no dependency needed).
#[derive(Debug, Clone)]
struct SplitMix(u64);

impl SplitMix {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f64 {
        let u1 = self.next_f64().max(1e-300);
        let u2 = self.next_f64();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    /// Poisson-distributed count (normal approximation above 30).
    fn poisson(&mut self, lambda: f64) -> u64 {
        if lambda <= 0.0 {
            return 0;
        }
        if lambda > 30.0 {
            return (lambda + lambda.sqrt() * self.normal()).round().max(0.0) as u64;
        }
        let l = (-lambda).exp();
        let mut k = 0;
        let mut p = 1.0;
        loop {
            p *= self.next_f64();
            if p <= l {
                return k;
            }
            k += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_stay_cumulative_and_count_equals_inf_bucket() {
        let mut sim = KcmSim::new(SimConfig {
            instances: 1,
            ..SimConfig::default()
        });
        for _ in 0..5 {
            let s = sim.next_scrape();
            let body = String::from_utf8(s[0].body.clone()).unwrap();
            let mut last = 0u64;
            let mut inf = None;
            for line in body.lines().filter(|l| l.contains("{name=\"deployment\"")) {
                let v: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
                if line.starts_with("workqueue_queue_duration_seconds_bucket") {
                    assert!(v as u64 >= last, "bucket decreased: {line}");
                    last = v as u64;
                    if line.contains("+Inf") {
                        inf = Some(v as u64);
                    }
                }
                if line.starts_with("workqueue_queue_duration_seconds_count") {
                    assert_eq!(Some(v as u64), inf);
                }
            }
        }
    }

    #[test]
    fn restart_resets_counters() {
        let cfg = SimConfig {
            instances: 2,
            restart: Some((1, 3)),
            ..SimConfig::default()
        };
        let mut sim = KcmSim::new(cfg);
        let adds = |s: &SimScrape| -> u64 {
            let body = std::str::from_utf8(&s.body).unwrap();
            let line = body
                .lines()
                .find(|l| {
                    l.starts_with("workqueue_adds_total{name=\"garbage_collector_graph_changes\"}")
                })
                .unwrap();
            line.rsplit(' ').next().unwrap().parse().unwrap()
        };
        let mut before = 0;
        for n in 0..4 {
            let s = sim.next_scrape();
            if n == 2 {
                before = adds(&s[1]);
            }
            if n == 3 {
                assert!(adds(&s[1]) < before, "instance 1 restarted before scrape 3");
            }
        }
    }

    #[test]
    fn deterministic_for_a_seed() {
        let a = KcmSim::new(SimConfig::default()).next_scrape();
        let b = KcmSim::new(SimConfig::default()).next_scrape();
        assert_eq!(a[2].body, b[2].body);
    }
}
