//! The `remote_write:` entry of prometheus.yml: field names and defaults as
//! Prometheus 3 documents them, so the configuration crate can embed
//! [`RemoteWriteConfig`] as is.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// One `remote_write:` entry.
///
/// ```
/// let cfg: promlite_remote::RemoteWriteConfig = serde_json::from_str(
///     r#"{"url": "http://127.0.0.1:8428/api/v1/write", "queue_config": {"max_shards": 4}}"#,
/// ).unwrap();
/// assert_eq!(cfg.remote_timeout, std::time::Duration::from_secs(30));
/// assert_eq!(cfg.queue_config.max_shards, 4);
/// assert_eq!(cfg.queue_config.max_samples_per_send, 2000);
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteWriteConfig {
    /// The receiver's URL (`http://` or `https://`).
    pub url: String,
    /// Timeout of one request (default 30s).
    #[serde(default = "d_30s", deserialize_with = "duration")]
    pub remote_timeout: Duration,
    /// Extra HTTP headers sent with every request.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Relabeling applied to each series before it is sent; kept as given
    /// (see [`WriteRelabel`](crate::WriteRelabel) for how they are applied).
    #[serde(default)]
    pub write_relabel_configs: Vec<serde_json::Value>,
    /// A name for the queue (metrics label `remote_name`); defaults to a hash
    /// of the URL, as Prometheus does.
    #[serde(default)]
    pub name: Option<String>,
    /// Accepted for compatibility; promlite stores no exemplars.
    #[serde(default)]
    pub send_exemplars: bool,
    /// Accepted for compatibility; promlite stores no native histograms.
    #[serde(default)]
    pub send_native_histograms: bool,
    /// `Authorization: <type> <credentials>`.
    #[serde(default)]
    pub authorization: Option<Authorization>,
    /// HTTP basic authentication.
    #[serde(default)]
    pub basic_auth: Option<BasicAuth>,
    /// `Authorization: Bearer <token>` (deprecated in Prometheus in favour of
    /// `authorization`).
    #[serde(default)]
    pub bearer_token: Option<String>,
    /// `Authorization: Bearer <contents of the file>`, re-read per request.
    #[serde(default)]
    pub bearer_token_file: Option<PathBuf>,
    /// TLS settings for `https://` URLs.
    #[serde(default)]
    pub tls_config: TlsConfig,
    /// Whether to follow HTTP redirects (default true).
    #[serde(default = "d_true")]
    pub follow_redirects: bool,
    /// Accepted for compatibility; promlite speaks HTTP/1.1.
    #[serde(default = "d_true")]
    pub enable_http2: bool,
    /// Queue tuning.
    #[serde(default)]
    pub queue_config: QueueConfig,
    /// Accepted for compatibility; promlite sends no metadata requests.
    #[serde(default)]
    pub metadata_config: Option<serde_json::Value>,
}

impl RemoteWriteConfig {
    /// A configuration for `url` with every default.
    pub fn new(url: impl Into<String>) -> Self {
        RemoteWriteConfig {
            url: url.into(),
            remote_timeout: d_30s(),
            headers: BTreeMap::new(),
            write_relabel_configs: Vec::new(),
            name: None,
            send_exemplars: false,
            send_native_histograms: false,
            authorization: None,
            basic_auth: None,
            bearer_token: None,
            bearer_token_file: None,
            tls_config: TlsConfig::default(),
            follow_redirects: true,
            enable_http2: true,
            queue_config: QueueConfig::default(),
            metadata_config: None,
        }
    }

    /// The queue's name: `name`, or the first 6 hex digits of a hash of the
    /// URL (Prometheus hashes the whole config; promlite the URL only).
    pub fn queue_name(&self) -> String {
        match &self.name {
            Some(n) => n.clone(),
            None => format!("{:06x}", crc32fast::hash(self.url.as_bytes()) & 0xff_ffff),
        }
    }
}

/// `authorization:` — a credentials type (default `Bearer`) and the
/// credentials, inline or in a file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authorization {
    /// The scheme (default `Bearer`).
    #[serde(default = "d_bearer", rename = "type")]
    pub typ: String,
    /// The credentials.
    #[serde(default)]
    pub credentials: Option<String>,
    /// A file holding the credentials, re-read per request.
    #[serde(default)]
    pub credentials_file: Option<PathBuf>,
}

/// `basic_auth:`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    /// User name.
    pub username: String,
    /// Password.
    #[serde(default)]
    pub password: Option<String>,
    /// A file holding the password, re-read per request.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
}

/// `tls_config:`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// CA certificate(s) to trust instead of the built-in roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Client certificate (chain).
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// Client key.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// Accepted; rustls checks the URL's host name.
    #[serde(default)]
    pub server_name: Option<String>,
    /// Accept any server certificate.
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// Accepted; rustls speaks TLS 1.2 and 1.3.
    #[serde(default)]
    pub min_version: Option<String>,
}

/// `queue_config:` with Prometheus 3's defaults.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    /// Samples buffered in memory per shard (default 10000). With the durable
    /// outbox this bounds how many samples one shard holds while sending.
    pub capacity: usize,
    /// Fewest concurrent senders (default 1).
    pub min_shards: usize,
    /// Most concurrent senders (default 50).
    pub max_shards: usize,
    /// Most samples per request (default 2000).
    pub max_samples_per_send: usize,
    /// Longest a sample waits for a fuller batch (default 5s).
    #[serde(deserialize_with = "duration")]
    pub batch_send_deadline: Duration,
    /// First retry delay (default 30ms); doubled per retry.
    #[serde(deserialize_with = "duration")]
    pub min_backoff: Duration,
    /// Longest retry delay (default 5s).
    #[serde(deserialize_with = "duration")]
    pub max_backoff: Duration,
    /// Retry on HTTP 429, honouring `Retry-After` (default true).
    pub retry_on_http_429: bool,
    /// Samples older than this when sent are dropped (0, the default: never).
    #[serde(deserialize_with = "duration")]
    pub sample_age_limit: Duration,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            capacity: 10_000,
            min_shards: 1,
            max_shards: 50,
            max_samples_per_send: 2000,
            batch_send_deadline: Duration::from_secs(5),
            min_backoff: Duration::from_millis(30),
            max_backoff: Duration::from_secs(5),
            retry_on_http_429: true,
            sample_age_limit: Duration::ZERO,
        }
    }
}

fn d_30s() -> Duration {
    Duration::from_secs(30)
}

fn d_true() -> bool {
    true
}

fn d_bearer() -> String {
    "Bearer".to_string()
}

/// Parses a Prometheus duration (`30s`, `5m`, `1h30m`, `100ms`, `0`).
///
/// # Errors
/// A message naming the text.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    humantime::parse_duration(s).map_err(|e| format!("invalid duration {s:?}: {e}"))
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    parse_duration(&s).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_prometheus_docs() {
        let c: RemoteWriteConfig =
            serde_json::from_str(r#"{"url":"http://x/api/v1/write"}"#).unwrap();
        let q = &c.queue_config;
        assert_eq!(c.remote_timeout, Duration::from_secs(30));
        assert_eq!(
            (
                q.capacity,
                q.min_shards,
                q.max_shards,
                q.max_samples_per_send
            ),
            (10_000, 1, 50, 2000)
        );
        assert_eq!(q.batch_send_deadline, Duration::from_secs(5));
        assert_eq!(q.min_backoff, Duration::from_millis(30));
        assert_eq!(q.max_backoff, Duration::from_secs(5));
        assert!(q.retry_on_http_429);
        assert_eq!(q.sample_age_limit, Duration::ZERO);
        assert!(c.follow_redirects);
        assert_eq!(c, RemoteWriteConfig::new("http://x/api/v1/write"));
    }

    #[test]
    fn full_entry_and_errors() {
        let c: RemoteWriteConfig = serde_json::from_str(
            r#"{"url":"https://vm:8428/api/v1/write","remote_timeout":"1m30s",
                "headers":{"X-Scope-OrgID":"a"},
                "authorization":{"credentials":"tok"},
                "write_relabel_configs":[{"source_labels":["__name__"],"regex":"go_.*","action":"drop"}],
                "queue_config":{"min_backoff":"100ms","sample_age_limit":"0","max_shards":2}}"#,
        )
        .unwrap();
        assert_eq!(c.remote_timeout, Duration::from_secs(90));
        assert_eq!(c.authorization.as_ref().unwrap().typ, "Bearer");
        assert_eq!(c.queue_config.min_backoff, Duration::from_millis(100));
        assert_eq!(c.queue_config.max_shards, 2);
        assert_eq!(c.write_relabel_configs.len(), 1);
        let e = serde_json::from_str::<RemoteWriteConfig>(r#"{"url":"u","remote_timout":"1s"}"#)
            .unwrap_err();
        assert!(e.to_string().contains("remote_timout"), "{e}");
        let e = serde_json::from_str::<RemoteWriteConfig>(r#"{"url":"u","remote_timeout":"soon"}"#)
            .unwrap_err();
        assert!(e.to_string().contains("soon"), "{e}");
    }
}
