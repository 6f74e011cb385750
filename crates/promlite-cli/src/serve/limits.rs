//! The limits of `promlite serve`: query, HTTP and store limits, each settable by a
//! flag, with Prometheus's defaults where Prometheus has the same limit.

use std::path::PathBuf;
use std::time::Duration;

use promlite::store::Limits as StoreLimits;

/// Help text for the flags [`ServeLimits::take`] reads.
pub const FLAGS_HELP: &str = "\
query limits:
  --query.timeout D                most time one query may take, queueing included
                                   (default 2m; a request's timeout= can only shorten it)
  --query.max-samples N            most samples one query may hold (default 50000000)
  --query.max-concurrency N        queries evaluated at once (default 20)
  --query.max-queue N              queries waiting for a slot; when full, 503 at once
                                   (default 200)
HTTP limits:
  --web.max-connections N          open connections; more wait in the kernel's accept
                                   queue (default 512)
  --web.read-timeout D             most time to read a request's headers and body, and
                                   to keep an idle keep-alive connection (default 5m)
  --web.write-timeout D            most time a response write may make no progress
                                   before the connection is closed (default 2m)
  --web.max-header-bytes N         request line plus headers; more is 431 (default 65536)
  --web.max-body-bytes N           POST body; more is 413 (default 1048576)
  --web.config.file F              TLS and basic auth, in Prometheus's web config format
store limits (apply to the --scrape store; --data files load without limits):
  --storage.max-series N           live series (default 10000000)
  --storage.max-samples-per-scrape N   samples in one scrape (default 5000000)
  --storage.max-label-name-length N    bytes of a label name (default 1024)
  --storage.max-label-value-length N   bytes of a label value (default 16384)
  --storage.max-labels-per-series N    labels of one series (default 64)
  --storage.max-body-bytes N       bytes of one scrape body (default 1073741824)
  --storage.memory-budget N        approximate store memory in bytes; K/M/G/Ki/Mi/Gi
                                   suffixes accepted (default 16Gi)";

/// Every limit `serve` enforces.
#[derive(Debug, Clone)]
pub struct ServeLimits {
    /// Wall-clock limit per query.
    pub query_timeout: Duration,
    /// Samples one query may hold.
    pub max_samples: usize,
    /// Queries evaluated at once.
    pub max_concurrency: usize,
    /// Queries waiting for one of the `max_concurrency` slots.
    pub max_queue: usize,
    /// Open connections.
    pub max_connections: usize,
    /// Reading one request (headers and body); idle keep-alive connections.
    pub read_timeout: Duration,
    /// A response write without progress.
    pub write_timeout: Duration,
    /// Request line plus headers.
    pub max_header_bytes: usize,
    /// POST body.
    pub max_body_bytes: usize,
    /// `--web.config.file`.
    pub web_config: Option<PathBuf>,
    /// The store's admission limits (for the `--scrape` store).
    pub store: StoreLimits,
    /// True when a `--storage.*` flag was given.
    pub store_flags_given: bool,
}

impl Default for ServeLimits {
    fn default() -> Self {
        ServeLimits {
            query_timeout: Duration::from_secs(120),
            max_samples: 50_000_000,
            max_concurrency: 20,
            max_queue: 200,
            max_connections: 512,
            read_timeout: Duration::from_secs(300),
            write_timeout: Duration::from_secs(120),
            max_header_bytes: 64 * 1024,
            max_body_bytes: 1 << 20,
            web_config: None,
            store: StoreLimits::default(),
            store_flags_given: false,
        }
    }
}

/// The long flags [`ServeLimits::take`] handles.
const FLAGS: &[&str] = &[
    "query.timeout",
    "query.max-samples",
    "query.max-concurrency",
    "query.max-queue",
    "web.max-connections",
    "web.read-timeout",
    "web.write-timeout",
    "web.max-header-bytes",
    "web.max-body-bytes",
    "web.config.file",
    "storage.max-series",
    "storage.max-samples-per-scrape",
    "storage.max-label-name-length",
    "storage.max-label-value-length",
    "storage.max-labels-per-series",
    "storage.max-body-bytes",
    "storage.memory-budget",
];

fn duration(flag: &str, v: &str) -> Result<Duration, String> {
    super::api::parse_duration_ms(v)
        .filter(|ms| *ms > 0)
        .map(|ms| Duration::from_millis(ms.unsigned_abs()))
        .ok_or_else(|| format!("bad --{flag} {v:?} (a positive duration such as 30s or 2m)"))
}

fn count(flag: &str, v: &str, min: usize) -> Result<usize, String> {
    v.parse::<usize>()
        .ok()
        .filter(|n| *n >= min)
        .ok_or_else(|| format!("bad --{flag} {v:?} (a whole number, at least {min})"))
}

/// A byte size: digits with an optional K, M, G (powers of 1000) or Ki, Mi, Gi
/// (powers of 1024) suffix, optionally followed by `B`.
pub fn parse_bytes(v: &str) -> Option<usize> {
    let t = v.trim();
    let t = t.strip_suffix('B').unwrap_or(t);
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let mult: usize = match unit {
        "" => 1,
        "K" | "k" => 1000,
        "M" => 1000 * 1000,
        "G" => 1000 * 1000 * 1000,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        _ => return None,
    };
    digits.parse::<usize>().ok()?.checked_mul(mult)
}

fn bytes(flag: &str, v: &str) -> Result<usize, String> {
    parse_bytes(v)
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("bad --{flag} {v:?} (bytes, such as 1048576, 512Mi or 2G)"))
}

impl ServeLimits {
    /// True for the long flags [`take`](Self::take) handles.
    pub fn is_flag(name: &str) -> bool {
        FLAGS.contains(&name)
    }

    /// Sets the limit of flag `name` (one of [`is_flag`](Self::is_flag)) from `v`.
    pub fn set(&mut self, name: &str, v: &str) -> Result<(), String> {
        let s = &mut self.store;
        match name {
            "query.timeout" => self.query_timeout = duration(name, v)?,
            "query.max-samples" => self.max_samples = count(name, v, 1)?,
            "query.max-concurrency" => self.max_concurrency = count(name, v, 1)?.min(1024),
            "query.max-queue" => self.max_queue = count(name, v, 0)?,
            "web.max-connections" => self.max_connections = count(name, v, 1)?,
            "web.read-timeout" => self.read_timeout = duration(name, v)?,
            "web.write-timeout" => self.write_timeout = duration(name, v)?,
            // hyper's smallest read buffer is 8 KiB.
            "web.max-header-bytes" => self.max_header_bytes = count(name, v, 8192)?,
            "web.max-body-bytes" => self.max_body_bytes = bytes(name, v)?,
            "web.config.file" => self.web_config = Some(PathBuf::from(v)),
            _ => {
                match name {
                    "storage.max-series" => s.max_series = count(name, v, 1)?,
                    "storage.max-samples-per-scrape" => {
                        s.max_samples_per_scrape = count(name, v, 1)?
                    }
                    "storage.max-label-name-length" => s.max_label_name_len = count(name, v, 1)?,
                    "storage.max-label-value-length" => s.max_label_value_len = count(name, v, 1)?,
                    "storage.max-labels-per-series" => s.max_labels_per_series = count(name, v, 1)?,
                    "storage.max-body-bytes" => s.max_body_bytes = bytes(name, v)?,
                    "storage.memory-budget" => s.memory_budget_bytes = bytes(name, v)?,
                    _ => return Err(format!("--{name} is not a serve limit flag")),
                }
                self.store_flags_given = true;
            }
        }
        Ok(())
    }

    /// Consumes the long flag `name` and its value from `p`.
    pub fn take(&mut self, name: &str, p: &mut lexopt::Parser) -> Result<(), String> {
        let v = p
            .value()
            .map_err(|e| e.to_string())?
            .into_string()
            .map_err(|_| format!("--{name}: argument is not UTF-8"))?;
        self.set(name, &v)
    }

    /// The store's limits with the query sample limit applied to selections too.
    pub fn store_limits(&self) -> StoreLimits {
        self.store.clone().with_max_query_samples(self.max_samples)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_set_limits_and_reject_bad_values() {
        let mut l = ServeLimits::default();
        l.set("query.timeout", "30s").unwrap();
        assert_eq!(l.query_timeout, Duration::from_secs(30));
        l.set("query.max-concurrency", "3").unwrap();
        assert_eq!(l.max_concurrency, 3);
        l.set("storage.memory-budget", "512Mi").unwrap();
        assert_eq!(l.store.memory_budget_bytes, 512 << 20);
        assert!(l.store_flags_given);
        l.set("query.max-samples", "1000").unwrap();
        assert_eq!(l.store_limits().max_query_samples, 1000);
        for (f, v) in [
            ("query.timeout", "0s"),
            ("query.timeout", "soon"),
            ("query.max-concurrency", "0"),
            ("web.max-header-bytes", "100"),
            ("storage.memory-budget", "12X"),
            ("storage.max-series", "-1"),
        ] {
            let e = l.set(f, v).unwrap_err();
            assert!(e.contains(&format!("--{f}")), "{e}");
        }
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(parse_bytes("1048576"), Some(1 << 20));
        assert_eq!(parse_bytes("2G"), Some(2_000_000_000));
        assert_eq!(parse_bytes("2GiB"), Some(2 << 30));
        assert_eq!(parse_bytes("3K"), Some(3000));
        assert_eq!(parse_bytes("Mi"), None);
        assert_eq!(parse_bytes("1Ti"), None);
        assert_eq!(parse_bytes("99999999999999999999Gi"), None);
    }
}
