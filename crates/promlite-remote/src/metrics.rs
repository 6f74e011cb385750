//! The sender's counters, and their text exposition in the shape of
//! Prometheus's `prometheus_remote_storage_*` families (prefixed `promlite_`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

/// Counters of one queue. All are cumulative since start unless noted.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) samples_in: AtomicU64,
    pub(crate) sent: AtomicU64,
    pub(crate) retried: AtomicU64,
    pub(crate) bytes: AtomicU64,
    pub(crate) requests: AtomicU64,
    pub(crate) resent_after_restart: AtomicU64,
    pub(crate) highest_in_ms: AtomicI64,
    pub(crate) highest_sent_ms: AtomicI64,
    pub(crate) inflight: AtomicU64,
    pub(crate) shards: AtomicU64,
    /// Failed (non-retryable answer) by reason, such as `http_400`.
    pub(crate) failed: Mutex<BTreeMap<String, u64>>,
    /// Dropped before sending by reason (`relabel`, `too_old`, `outbox_io`).
    pub(crate) dropped: Mutex<BTreeMap<String, u64>>,
    pub(crate) last_error: Mutex<String>,
}

/// A snapshot of one queue's figures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metrics {
    /// Samples handed to the queue (written to the outbox), relabel drops included.
    pub samples_in: u64,
    /// Samples the receiver acknowledged (2xx).
    pub samples_sent: u64,
    /// Samples dropped after a non-retryable answer, by reason (`http_400`...).
    pub samples_failed: BTreeMap<String, u64>,
    /// Samples in requests that were retried (counted once per retry).
    pub samples_retried: u64,
    /// Samples not sent, by reason: `relabel` (write_relabel_configs dropped
    /// the series), `disk_full` (outbox cap), `too_old` (sample_age_limit),
    /// `outbox_io` (the outbox could not be written).
    pub samples_dropped: BTreeMap<String, u64>,
    /// Samples waiting in the outbox or in flight.
    pub samples_pending: u64,
    /// Samples sent again after a restart because their delivery was not
    /// confirmed before it (possible duplicates at the receiver).
    pub samples_resent_after_restart: u64,
    /// Compressed request bytes sent.
    pub bytes_sent: u64,
    /// Requests that succeeded.
    pub requests_sent: u64,
    /// Newest sample timestamp handed to the queue, ms.
    pub highest_timestamp_in_ms: i64,
    /// Newest sample timestamp acknowledged by the receiver, ms.
    pub highest_timestamp_sent_ms: i64,
    /// Shards used for the latest batch.
    pub shards: u64,
    /// Bytes of outbox segments on disk.
    pub outbox_bytes: u64,
    /// The latest error (a failed or retried request), empty if none.
    pub last_error: String,
}

impl Counters {
    pub(crate) fn add(map: &Mutex<BTreeMap<String, u64>>, reason: &str, n: u64) {
        if n > 0 {
            let mut m = map.lock().unwrap_or_else(|e| e.into_inner());
            *m.entry(reason.to_string()).or_default() += n;
        }
    }

    pub(crate) fn set_error(&self, e: &str) {
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = e.to_string();
    }

    pub(crate) fn max(a: &AtomicI64, v: i64) {
        a.fetch_max(v, Relaxed);
    }

    pub(crate) fn snapshot(&self, pending: u64, outbox_bytes: u64, disk_full: u64) -> Metrics {
        let map =
            |m: &Mutex<BTreeMap<String, u64>>| m.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut dropped = map(&self.dropped);
        if disk_full > 0 {
            dropped.insert("disk_full".to_string(), disk_full);
        }
        Metrics {
            samples_in: self.samples_in.load(Relaxed),
            samples_sent: self.sent.load(Relaxed),
            samples_failed: map(&self.failed),
            samples_retried: self.retried.load(Relaxed),
            samples_dropped: dropped,
            samples_pending: pending + self.inflight.load(Relaxed),
            samples_resent_after_restart: self.resent_after_restart.load(Relaxed),
            bytes_sent: self.bytes.load(Relaxed),
            requests_sent: self.requests.load(Relaxed),
            // 0 until a sample arrives, as Prometheus reports.
            highest_timestamp_in_ms: self.highest_in_ms.load(Relaxed).max(0),
            highest_timestamp_sent_ms: self.highest_sent_ms.load(Relaxed).max(0),
            shards: self.shards.load(Relaxed),
            outbox_bytes,
            last_error: self
                .last_error
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    /// The figures as Prometheus text exposition (0.0.4), one family per
    /// figure, each series labelled `remote_name` and `url` as Prometheus
    /// labels its own; a `/metrics` handler appends this to its page.
    pub fn to_text(&self, remote_name: &str, url: &str) -> String {
        let base = format!("remote_name=\"{}\",url=\"{}\"", esc(remote_name), esc(url));
        let mut o = String::new();
        let mut fam = |name: &str, typ: &str, help: &str, rows: &[(String, f64)]| {
            let _ = writeln!(o, "# HELP promlite_remote_storage_{name} {help}");
            let _ = writeln!(o, "# TYPE promlite_remote_storage_{name} {typ}");
            for (extra, v) in rows {
                let _ = writeln!(o, "promlite_remote_storage_{name}{{{base}{extra}}} {v}");
            }
        };
        let one = |v: f64| vec![(String::new(), v)];
        let by = |m: &BTreeMap<String, u64>| -> Vec<(String, f64)> {
            m.iter()
                .map(|(r, &n)| (format!(",reason=\"{}\"", esc(r)), n as f64))
                .collect()
        };
        fam(
            "samples_in_total",
            "counter",
            "Samples handed to the remote_write queue.",
            &one(self.samples_in as f64),
        );
        fam(
            "samples_total",
            "counter",
            "Samples sent and acknowledged by the receiver.",
            &one(self.samples_sent as f64),
        );
        fam(
            "samples_failed_total",
            "counter",
            "Samples dropped after a non-retryable answer, by reason.",
            &by(&self.samples_failed),
        );
        fam(
            "samples_retried_total",
            "counter",
            "Samples in requests that were retried.",
            &one(self.samples_retried as f64),
        );
        fam(
            "samples_dropped_total",
            "counter",
            "Samples not sent, by reason (relabel, disk_full, too_old, outbox_io).",
            &by(&self.samples_dropped),
        );
        fam(
            "samples_pending",
            "gauge",
            "Samples in the outbox or in flight.",
            &one(self.samples_pending as f64),
        );
        fam(
            "samples_resent_after_restart_total",
            "counter",
            "Samples sent again after a restart (possible duplicates).",
            &one(self.samples_resent_after_restart as f64),
        );
        fam(
            "bytes_total",
            "counter",
            "Compressed request bytes sent.",
            &one(self.bytes_sent as f64),
        );
        fam(
            "requests_total",
            "counter",
            "Requests acknowledged by the receiver.",
            &one(self.requests_sent as f64),
        );
        fam(
            "highest_timestamp_in_seconds",
            "gauge",
            "Newest timestamp handed to the queue.",
            &one(self.highest_timestamp_in_ms as f64 / 1000.0),
        );
        fam(
            "queue_highest_sent_timestamp_seconds",
            "gauge",
            "Newest timestamp acknowledged by the receiver.",
            &one(self.highest_timestamp_sent_ms as f64 / 1000.0),
        );
        fam(
            "shards",
            "gauge",
            "Shards used for the latest batch.",
            &one(self.shards as f64),
        );
        fam(
            "outbox_bytes",
            "gauge",
            "Bytes of outbox segments on disk.",
            &one(self.outbox_bytes as f64),
        );
        o
    }
}
