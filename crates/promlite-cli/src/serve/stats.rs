//! Counters of the HTTP server and its query gate, for `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// What an operator needs to see of the server under load.
#[derive(Debug, Default)]
pub struct ServerStats {
    /// Queries being evaluated now.
    pub queries_running: AtomicU64,
    /// Queries waiting for an evaluation slot.
    pub queries_queued: AtomicU64,
    /// Queries refused because the queue was full.
    pub queries_rejected: AtomicU64,
    /// Queries that ran past their timeout.
    pub query_timeouts: AtomicU64,
    /// Queries canceled because their client went away.
    pub queries_canceled: AtomicU64,
    /// Open HTTP connections.
    pub connections_open: AtomicU64,
    /// HTTP connections accepted.
    pub connections_total: AtomicU64,
    /// Requests refused for bad credentials.
    pub auth_failures: AtomicU64,
    /// Answers by (handler, status code).
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
}

impl ServerStats {
    /// Counts one answer of `handler` with `code`.
    pub fn record(&self, handler: &'static str, code: u16) {
        let mut m = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        *m.entry((handler, code)).or_default() += 1;
    }

    /// The counters in text exposition format.
    pub fn render(&self) -> String {
        let mut t = String::new();
        let ld = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut one = |name: &str, typ: &str, help: &str, v: u64| {
            let _ = write!(t, "# HELP {name} {help}\n# TYPE {name} {typ}\n{name} {v}\n");
        };
        one(
            "promlite_queries_running",
            "gauge",
            "Queries being evaluated.",
            ld(&self.queries_running),
        );
        one(
            "promlite_queries_queued",
            "gauge",
            "Queries waiting for one of --query.max-concurrency slots.",
            ld(&self.queries_queued),
        );
        one(
            "promlite_queries_rejected_total",
            "counter",
            "Queries answered 503 because --query.max-queue queries were waiting.",
            ld(&self.queries_rejected),
        );
        one(
            "promlite_query_timeouts_total",
            "counter",
            "Queries stopped by --query.timeout or their timeout= parameter.",
            ld(&self.query_timeouts),
        );
        one(
            "promlite_queries_canceled_total",
            "counter",
            "Queries stopped because their client closed the connection.",
            ld(&self.queries_canceled),
        );
        one(
            "promlite_http_connections_open",
            "gauge",
            "Open HTTP connections.",
            ld(&self.connections_open),
        );
        one(
            "promlite_http_connections_total",
            "counter",
            "HTTP connections accepted.",
            ld(&self.connections_total),
        );
        one(
            "promlite_http_auth_failures_total",
            "counter",
            "Requests refused for missing or wrong basic auth credentials.",
            ld(&self.auth_failures),
        );
        let m = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        t.push_str(
            "# HELP promlite_http_responses_total HTTP answers by handler and status code.\n\
             # TYPE promlite_http_responses_total counter\n",
        );
        for ((h, c), n) in m.iter() {
            let _ = writeln!(
                t,
                "promlite_http_responses_total{{handler=\"{h}\",code=\"{c}\"}} {n}"
            );
        }
        t
    }
}

/// The handler label of a request path: the route, not the raw path (label values
/// of `/api/v1/label/<name>/values` would be unbounded).
pub fn handler_of(path: &str) -> &'static str {
    match path {
        "/api/v1/query" => "/api/v1/query",
        "/api/v1/query_range" => "/api/v1/query_range",
        "/api/v1/series" => "/api/v1/series",
        "/api/v1/labels" => "/api/v1/labels",
        "/api/v1/metadata" => "/api/v1/metadata",
        "/api/v1/query_exemplars" => "/api/v1/query_exemplars",
        "/api/v1/status/buildinfo" => "/api/v1/status/buildinfo",
        "/-/ready" => "/-/ready",
        "/-/healthy" => "/-/healthy",
        "/metrics" => "/metrics",
        p if p.starts_with("/api/v1/label/") => "/api/v1/label/:name/values",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_codes() {
        let s = ServerStats::default();
        s.record(handler_of("/api/v1/label/job/values"), 200);
        s.record(handler_of("/api/v1/label/x/values"), 200);
        s.record(handler_of("/nope"), 404);
        s.queries_rejected.fetch_add(3, Ordering::Relaxed);
        let t = s.render();
        assert!(t.contains(
            "\npromlite_http_responses_total{handler=\"/api/v1/label/:name/values\",code=\"200\"} 2\n"
        ), "{t}");
        assert!(t.contains("\npromlite_http_responses_total{handler=\"other\",code=\"404\"} 1\n"));
        assert!(t.contains("\npromlite_queries_rejected_total 3\n"));
    }
}
