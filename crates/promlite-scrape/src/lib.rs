//! Scrape Prometheus endpoints over HTTP or HTTPS into a [`promlite_store::Store`].
//!
//! A [`Scraper`] fetches one URL — with a bearer token (a string, or a file re-read
//! before every scrape, as kubelet rotates service-account tokens), a client
//! certificate, a CA file or no verification at all — and ingests the body with the
//! target labels `instance` (host:port) and `job`. Like Prometheus it then records
//! `up`, `scrape_duration_seconds`, `scrape_samples_scraped`,
//! `scrape_samples_post_metric_relabeling` and `scrape_series_added` at the scrape
//! timestamp. A failed scrape writes `up` 0, marks the target's series stale and
//! returns a [`ScrapeError`] saying what failed.
//!
//! ```
//! use promlite_scrape::{ScrapeConfig, ScrapeError, Scraper};
//! use promlite_store::{Store, StoreConfig};
//!
//! // Nothing listens on port 9 of loopback: the scrape fails, and says so.
//! let mut cfg = ScrapeConfig::new("http://127.0.0.1:9/metrics");
//! cfg.job = "demo".to_string();
//! cfg.timeout = std::time::Duration::from_secs(2);
//! let scraper = Scraper::new(cfg)?;
//! assert_eq!(scraper.target().labels().get("instance"), Some("127.0.0.1:9"));
//! let store = Store::new(StoreConfig::default());
//! let err = scraper.scrape(&store, 1_700_000_000_000).unwrap_err();
//! assert!(matches!(err, ScrapeError::Connect { .. }), "{err}");
//! // ...and `up` 0 was recorded for the target.
//! # Ok::<(), ScrapeError>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(missing_debug_implementations)]

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub mod manager;
pub mod metric_relabel;
pub use metric_relabel::MetricRelabel;

use promlite_expfmt::Format;
use promlite_model::Labels;
use promlite_store::{IngestError, IngestReport, Store, Target};
use ureq::tls::{Certificate, ClientCert, PemItem, PrivateKey, RootCerts, TlsConfig, TlsProvider};

/// The `Accept` header Prometheus sends by default (its scrape protocols
/// OpenMetrics 1.0.0, OpenMetrics 0.0.1 and text 0.0.4, protobuf left out),
/// weighted as its `acceptHeader` does.
pub const DEFAULT_ACCEPT: &str = "application/openmetrics-text;version=1.0.0;q=0.5,\
application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";

/// Default scrape timeout, as Prometheus's `scrape_timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Default limit on the (decompressed) body: 64 MiB, far above any real
/// `/metrics` page (kube-apiserver's is a few MB) yet bounded.
pub const DEFAULT_BODY_LIMIT: u64 = 64 << 20;

/// How the scraper authenticates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Auth {
    /// No `Authorization` header.
    #[default]
    None,
    /// `Authorization: Bearer <token>`.
    BearerToken(String),
    /// `Authorization: Bearer <contents of the file, trimmed>`; the file is read
    /// before every scrape, so a rotated token is picked up at once.
    BearerTokenFile(PathBuf),
    /// `Authorization: Basic base64(user:password)`; a password file is read before
    /// every scrape (Prometheus's `basic_auth` with `password_file`).
    Basic {
        /// The user name.
        username: String,
        /// The password, when given inline.
        password: Option<String>,
        /// A file holding the password (trimmed), read before every scrape.
        password_file: Option<PathBuf>,
    },
}

/// TLS settings for `https://` URLs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsOptions {
    /// PEM file of the CA certificate(s) to trust instead of the built-in
    /// Mozilla roots (such as `/var/run/secrets/kubernetes.io/serviceaccount/ca.crt`).
    pub ca_file: Option<PathBuf>,
    /// PEM file of the client certificate (chain), sent when the server asks.
    pub cert_file: Option<PathBuf>,
    /// PEM file of the client certificate's private key.
    pub key_file: Option<PathBuf>,
    /// Accept any server certificate (`curl -k`): the connection is encrypted
    /// but not authenticated.
    pub insecure_skip_verify: bool,
}

/// What to scrape and how. [`ScrapeConfig::new`] gives Prometheus's
/// defaults:
///
/// | field | default |
/// |---|---|
/// | `job` | `"promlite"` |
/// | `extra_labels` | none |
/// | `auth` | [`Auth::None`] |
/// | `tls` | system defaults: Mozilla roots, verification on, no client certificate |
/// | `timeout` | [`DEFAULT_TIMEOUT`] (10 s, Prometheus's `scrape_timeout`) |
/// | `body_limit` | [`DEFAULT_BODY_LIMIT`] (64 MiB) |
/// | `accept` | [`DEFAULT_ACCEPT`] (OpenMetrics first, then text 0.0.4) |
/// | `fallback_scrape_protocol` | `None`: a response without a text Content-Type fails |
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ScrapeConfig {
    /// `http://` or `https://` URL of the metrics page.
    pub url: String,
    /// The `job` target label.
    pub job: String,
    /// More target labels (such as `container`), added to every series;
    /// `instance` and `job` here override the defaults.
    pub extra_labels: Vec<(String, String)>,
    /// Authentication.
    pub auth: Auth,
    /// TLS settings.
    pub tls: TlsOptions,
    /// The whole request (connect, TLS, headers, body) must finish within this.
    pub timeout: Duration,
    /// Bodies larger than this many bytes (after decompression) are refused.
    pub body_limit: u64,
    /// The `Accept` header.
    pub accept: String,
    /// How to read a body whose Content-Type is blank or not a format promlite
    /// reads (`python3 -m http.server` sends `application/octet-stream`), as
    /// Prometheus 3's `fallback_scrape_protocol`. `None` (the default): such a
    /// scrape fails with [`ScrapeError::ContentType`]. See
    /// [`parse_scrape_protocol`] for Prometheus's names.
    pub fallback_scrape_protocol: Option<Format>,
    /// `metric_relabel_configs`, `honor_labels` and `sample_limit` of a
    /// prometheus.yml job; `None` (the default): the body is ingested as it is.
    pub metric_relabel: Option<std::sync::Arc<MetricRelabel>>,
}

/// A Prometheus 3 `fallback_scrape_protocol` name as the [`Format`] promlite
/// reads it: `PrometheusText0.0.4` and `PrometheusText1.0.0` are the text
/// format, `OpenMetricsText0.0.1` and `OpenMetricsText1.0.0` OpenMetrics.
///
/// ```
/// use promlite_scrape::parse_scrape_protocol;
/// use promlite_expfmt::Format;
/// assert_eq!(parse_scrape_protocol("PrometheusText0.0.4"), Ok(Format::Text));
/// assert!(parse_scrape_protocol("PrometheusProto").is_err());
/// ```
///
/// # Errors
/// Any other name, and `PrometheusProto` (promlite reads no protobuf).
pub fn parse_scrape_protocol(name: &str) -> Result<Format, String> {
    match name {
        "PrometheusText0.0.4" | "PrometheusText1.0.0" => Ok(Format::Text),
        "OpenMetricsText0.0.1" | "OpenMetricsText1.0.0" => Ok(Format::OpenMetrics),
        "PrometheusProto" => Err("PrometheusProto: promlite reads no protobuf scrapes".to_string()),
        other => Err(format!(
            "unknown scrape protocol {other:?} (one of PrometheusText0.0.4, \
             PrometheusText1.0.0, OpenMetricsText0.0.1, OpenMetricsText1.0.0)"
        )),
    }
}

impl ScrapeConfig {
    /// A configuration for `url` with job `promlite` and the defaults above.
    pub fn new(url: impl Into<String>) -> Self {
        ScrapeConfig {
            url: url.into(),
            job: "promlite".to_string(),
            extra_labels: Vec::new(),
            auth: Auth::None,
            tls: TlsOptions::default(),
            timeout: DEFAULT_TIMEOUT,
            body_limit: DEFAULT_BODY_LIMIT,
            accept: DEFAULT_ACCEPT.to_string(),
            fallback_scrape_protocol: None,
            metric_relabel: None,
        }
    }
}

/// Why a scrape failed. Every variant names the URL.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScrapeError {
    /// More samples than the job's `sample_limit` after metric relabeling
    /// (Prometheus's "sample limit exceeded"); nothing was ingested.
    #[error("sample limit exceeded: {url} had {samples} samples, limit {limit}")]
    SampleLimit {
        /// The URL.
        url: String,
        /// Samples after relabeling.
        samples: usize,
        /// The limit.
        limit: usize,
    },
    /// The configuration cannot work (bad URL, a key without a certificate...).
    #[error("bad scrape configuration for {url}: {msg}")]
    Config {
        /// The URL.
        url: String,
        /// What is wrong.
        msg: String,
    },
    /// A credentials file (token, certificate, key, CA) could not be read or parsed.
    #[error("{url}: reading {what} {}: {msg}", path.display())]
    File {
        /// The URL.
        url: String,
        /// What the file holds ("bearer token file", "CA file"...).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What went wrong.
        msg: String,
    },
    /// The TCP connection failed (refused, unreachable, unknown host).
    #[error("{url}: connection failed: {msg}")]
    Connect {
        /// The URL.
        url: String,
        /// What went wrong.
        msg: String,
    },
    /// The TLS handshake failed: untrusted or mismatched server certificate, or the
    /// server refused our client certificate (or the lack of one).
    #[error("{url}: TLS failed: {msg}")]
    Tls {
        /// The URL.
        url: String,
        /// What went wrong.
        msg: String,
    },
    /// The scrape did not finish within the timeout.
    #[error("{url}: timed out after {timeout:?} ({msg})")]
    Timeout {
        /// The URL.
        url: String,
        /// The configured timeout.
        timeout: Duration,
        /// Which phase timed out.
        msg: String,
    },
    /// The server answered with a status other than 200.
    #[error("{url}: server returned HTTP status {status}{}", status_hint(*status))]
    Status {
        /// The URL.
        url: String,
        /// The HTTP status code.
        status: u16,
    },
    /// The body exceeded [`ScrapeConfig::body_limit`].
    #[error("{url}: body exceeds the limit of {limit} bytes")]
    BodyTooLarge {
        /// The URL.
        url: String,
        /// The limit.
        limit: u64,
    },
    /// The response's Content-Type is blank or not a text format promlite
    /// reads, and no [`ScrapeConfig::fallback_scrape_protocol`] is set.
    #[error("{url}: {} and no fallback_scrape_protocol set (promlite reads text/plain and application/openmetrics-text; set fallback_scrape_protocol, --fallback-scrape-protocol PrometheusText0.0.4 on the command line, to read it anyway)", if content_type.trim().is_empty() { "blank Content-Type".to_string() } else { format!("unsupported Content-Type {content_type:?}") })]
    ContentType {
        /// The URL.
        url: String,
        /// The Content-Type header.
        content_type: String,
    },
    /// Any other HTTP-level failure (protocol error, reset connection...).
    #[error("{url}: HTTP request failed: {msg}")]
    Http {
        /// The URL.
        url: String,
        /// What went wrong.
        msg: String,
    },
    /// The body was fetched but the store rejected it (parse error, duplicate
    /// label name, a store limit); nothing of it was ingested.
    #[error("{url}: scrape rejected: {source}")]
    Ingest {
        /// The URL.
        url: String,
        /// The store's error, with the line.
        #[source]
        source: IngestError,
    },
}

fn status_hint(status: u16) -> &'static str {
    match status {
        401 => " Unauthorized (bearer token missing or wrong?)",
        403 => " Forbidden (the token's identity may not read /metrics?)",
        404 => " Not Found (wrong path?)",
        _ => "",
    }
}

/// What a successful scrape did.
#[derive(Debug, Clone, PartialEq)]
pub struct ScrapeReport {
    /// The scrape timestamp, ms since the epoch.
    pub ts_ms: i64,
    /// Wall time of fetch and ingest (what `scrape_duration_seconds` records).
    pub duration: Duration,
    /// The body's format (from Content-Type, or the fallback protocol).
    pub format: Format,
    /// Body bytes after decompression.
    pub body_bytes: usize,
    /// The store's report (samples in the body, appended, series created...).
    pub ingest: IngestReport,
}

/// Scrapes one endpoint. Cheap to share between threads (`&self` methods).
#[derive(Debug)]
pub struct Scraper {
    cfg: ScrapeConfig,
    target: Target,
    agent: ureq::Agent,
}

impl Scraper {
    /// Checks the configuration and loads the TLS files.
    ///
    /// # Errors
    /// [`ScrapeError::Config`] for a URL that is not `http(s)://host[:port]/...` or a
    /// certificate without its key; [`ScrapeError::File`] for unreadable or
    /// unparsable PEM files.
    pub fn new(cfg: ScrapeConfig) -> Result<Scraper, ScrapeError> {
        let (https, hostport) = parse_url(&cfg.url).map_err(|msg| ScrapeError::Config {
            url: cfg.url.clone(),
            msg,
        })?;
        let mut labels: Vec<(String, String)> = vec![
            ("instance".to_string(), hostport),
            ("job".to_string(), cfg.job.clone()),
        ];
        for (n, v) in &cfg.extra_labels {
            labels.retain(|(m, _)| m != n);
            labels.push((n.clone(), v.clone()));
        }
        let target = Target::from_pairs(labels.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        let tls = tls_config(&cfg, https)?;
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(cfg.timeout))
            // Scrapes go straight to the target, as Prometheus does unless told to
            // use a proxy; so HTTP(S)_PROXY never hijacks a loopback scrape.
            .proxy(None)
            .max_redirects(10)
            .user_agent(concat!("promlite/", env!("CARGO_PKG_VERSION")))
            .accept(cfg.accept.clone())
            .tls_config(tls)
            .build()
            .new_agent();
        Ok(Scraper { cfg, target, agent })
    }

    /// The configuration.
    pub fn config(&self) -> &ScrapeConfig {
        &self.cfg
    }

    /// The target: its labels (`instance`, `job`, extras) go on every series.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Fetches the body without touching any store: (body, format).
    ///
    /// # Errors
    /// Everything but [`ScrapeError::Ingest`].
    pub fn fetch(&self) -> Result<(Vec<u8>, Format), ScrapeError> {
        let url = &self.cfg.url;
        let mut req = self.agent.get(url).header(
            "X-Prometheus-Scrape-Timeout-Seconds",
            format!("{}", self.cfg.timeout.as_secs_f64()),
        );
        if let Some(value) = self.authorization()? {
            req = req.header("Authorization", value);
        }
        let mut resp = req.call().map_err(|e| self.classify(e))?;
        let status = resp.status().as_u16();
        if status != 200 {
            return Err(ScrapeError::Status {
                url: url.clone(),
                status,
            });
        }
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = resp
            .body_mut()
            .with_config()
            .limit(self.cfg.body_limit)
            .read_to_vec()
            .map_err(|e| self.classify(e))?;
        // As Prometheus 3: a blank or unknown Content-Type is read with the
        // fallback protocol, or fails.
        let format = Format::from_content_type(&content_type)
            .or(self.cfg.fallback_scrape_protocol)
            .ok_or_else(|| ScrapeError::ContentType {
                url: url.clone(),
                content_type: content_type.clone(),
            })?;
        Ok((body, format))
    }

    /// Scrapes once at `ts_ms` (ms since the epoch) into `store`, then records
    /// `up` and the `scrape_*` series at `ts_ms` with the target labels.
    ///
    /// On failure `up` is 0, `scrape_samples_scraped` and the others 0, and every
    /// series of the target's last good scrape gets a staleness marker at `ts_ms`
    /// ([`Store::mark_target_down`]), as Prometheus does.
    ///
    /// # Errors
    /// The [`ScrapeError`] saying what failed. The store is then consistent:
    /// a rejected body is not ingested at all.
    pub fn scrape(&self, store: &Store, ts_ms: i64) -> Result<ScrapeReport, ScrapeError> {
        let started = Instant::now();
        let result = self.fetch().and_then(|(body, format)| {
            let body_len = body.len();
            let (body, format, raw) = match &self.cfg.metric_relabel {
                None => (body, format, None),
                Some(mr) => match mr.rewrite(&self.target, &body, format) {
                    Ok((b, raw)) => (b, Format::Text, Some(raw)),
                    // The store reports the error with its position.
                    Err(metric_relabel::RewriteError::Parse) => (body, format, None),
                    Err(metric_relabel::RewriteError::SampleLimit(n)) => {
                        return Err(ScrapeError::SampleLimit {
                            url: self.cfg.url.clone(),
                            samples: n,
                            limit: mr.sample_limit,
                        })
                    }
                },
            };
            store
                .ingest_scrape(&self.target, &body, format, ts_ms)
                .map(|mut ingest| {
                    if let Some(raw) = raw {
                        ingest.samples_in_body = raw;
                    }
                    (ingest, format, body_len)
                })
                .map_err(|source| ScrapeError::Ingest {
                    url: self.cfg.url.clone(),
                    source,
                })
        });
        let duration = started.elapsed();
        match result {
            Ok((ingest, format, body_bytes)) => {
                let post = ingest.samples_appended + ingest.identical_duplicates;
                self.report(
                    store,
                    ts_ms,
                    1.0,
                    duration,
                    [ingest.samples_in_body, post, ingest.series_created],
                );
                Ok(ScrapeReport {
                    ts_ms,
                    duration,
                    format,
                    body_bytes,
                    ingest,
                })
            }
            Err(e) => {
                store.mark_target_down(&self.target, ts_ms);
                self.report(store, ts_ms, 0.0, duration, [0, 0, 0]);
                Err(e)
            }
        }
    }

    /// Scrapes now (the wall clock, in ms, is the scrape timestamp).
    ///
    /// # Errors
    /// As [`scrape`](Self::scrape).
    pub fn scrape_now(&self, store: &Store) -> Result<ScrapeReport, ScrapeError> {
        self.scrape(store, now_ms())
    }

    /// Appends the report series; a store that refuses them (a limit) only loses them.
    fn report(&self, store: &Store, ts: i64, up: f64, duration: Duration, counts: [usize; 3]) {
        let series = |name: &str, v: f64| {
            let mut b = self.target.labels().builder();
            b.set("__name__", name);
            (b.build(), ts, v)
        };
        let [scraped, post, added] = counts;
        let samples: Vec<(Labels, i64, f64)> = vec![
            series("up", up),
            series("scrape_duration_seconds", duration.as_secs_f64()),
            series("scrape_samples_scraped", scraped as f64),
            series("scrape_samples_post_metric_relabeling", post as f64),
            series("scrape_series_added", added as f64),
        ];
        let _ = store.append_batch(samples);
    }

    /// The `Authorization` header value, with any file read fresh each time.
    fn authorization(&self) -> Result<Option<String>, ScrapeError> {
        let read = |what: &'static str, p: &Path| -> Result<String, ScrapeError> {
            let bytes = std::fs::read(p).map_err(|e| self.file_err(what, p, e))?;
            let s = String::from_utf8(bytes).map_err(|_| {
                self.file_err(
                    what,
                    p,
                    io::Error::new(io::ErrorKind::InvalidData, "not UTF-8"),
                )
            })?;
            Ok(s.trim().to_string())
        };
        match &self.cfg.auth {
            Auth::None => Ok(None),
            Auth::BearerToken(t) => Ok(Some(format!("Bearer {}", t.trim()))),
            Auth::BearerTokenFile(p) => {
                Ok(Some(format!("Bearer {}", read("bearer token file", p)?)))
            }
            Auth::Basic {
                username,
                password,
                password_file,
            } => {
                use base64::Engine as _;
                let pw = match (password, password_file) {
                    (_, Some(f)) => read("basic_auth password file", f)?,
                    (Some(p), None) => p.clone(),
                    (None, None) => String::new(),
                };
                let b64 =
                    base64::engine::general_purpose::STANDARD.encode(format!("{username}:{pw}"));
                Ok(Some(format!("Basic {b64}")))
            }
        }
    }

    fn file_err(&self, what: &'static str, path: &Path, e: impl std::fmt::Display) -> ScrapeError {
        ScrapeError::File {
            url: self.cfg.url.clone(),
            what,
            path: path.to_path_buf(),
            msg: e.to_string(),
        }
    }

    fn classify(&self, e: ureq::Error) -> ScrapeError {
        classify(&self.cfg, e)
    }
}

fn classify(cfg: &ScrapeConfig, e: ureq::Error) -> ScrapeError {
    let url = cfg.url.clone();
    match e {
        ureq::Error::Timeout(t) => ScrapeError::Timeout {
            url,
            timeout: cfg.timeout,
            msg: format!("{t}"),
        },
        ureq::Error::BodyExceedsLimit(limit) => ScrapeError::BodyTooLarge { url, limit },
        ureq::Error::HostNotFound | ureq::Error::ConnectionFailed => ScrapeError::Connect {
            url,
            msg: e.to_string(),
        },
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) | ureq::Error::Pem(_) => ScrapeError::Tls {
            url,
            msg: e.to_string(),
        },
        ureq::Error::Io(io) => classify_io(cfg, io),
        other => ScrapeError::Http {
            url,
            msg: other.to_string(),
        },
    }
}

fn classify_io(cfg: &ScrapeConfig, io: io::Error) -> ScrapeError {
    let url = cfg.url.clone();
    // rustls reports handshake failures (ours, or the server's alert) as I/O
    // errors wrapping a `rustls::Error`.
    let is_tls = io
        .get_ref()
        .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some());
    if is_tls {
        let msg = io
            .get_ref()
            .and_then(|i| i.downcast_ref::<rustls::Error>())
            .map(tls_message)
            .unwrap_or_else(|| io.to_string());
        return ScrapeError::Tls { url, msg };
    }
    match io.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => ScrapeError::Timeout {
            url,
            timeout: cfg.timeout,
            msg: io.to_string(),
        },
        io::ErrorKind::ConnectionRefused
        | io::ErrorKind::AddrNotAvailable
        | io::ErrorKind::HostUnreachable
        | io::ErrorKind::NetworkUnreachable => ScrapeError::Connect {
            url,
            msg: io.to_string(),
        },
        _ if https(cfg) && io.kind() == io::ErrorKind::UnexpectedEof => ScrapeError::Tls {
            url,
            msg: format!("{io} (did the server refuse the client certificate?)"),
        },
        _ => ScrapeError::Http {
            url,
            msg: io.to_string(),
        },
    }
}

fn https(cfg: &ScrapeConfig) -> bool {
    parse_url(&cfg.url).is_ok_and(|(https, _)| https)
}

fn tls_message(e: &rustls::Error) -> String {
    use rustls::{AlertDescription as A, CertificateError as C, Error as E};
    match e {
        E::InvalidCertificate(C::UnknownIssuer) => {
            "server certificate is signed by an unknown CA (give --ca-file, or \
             --insecure-skip-tls-verify to skip verification)"
                .to_string()
        }
        E::InvalidCertificate(C::NotValidForName | C::NotValidForNameContext { .. }) => {
            format!("server certificate does not match the host name ({e})")
        }
        E::AlertReceived(A::CertificateRequired | A::BadCertificate | A::UnknownCA) => {
            format!(
                "server rejected the client certificate or its absence ({e}); give --cert and --key"
            )
        }
        _ => e.to_string(),
    }
}

/// Splits an http(s) URL into (is https, "host:port"), the port defaulting to
/// 80 or 443. The URL is read by the `http` crate's `Uri` (the type ureq
/// sends requests with), so what passes here is what ureq will fetch.
fn parse_url(url: &str) -> Result<(bool, String), String> {
    let uri: ureq::http::Uri = url.parse().map_err(|e| format!("not a URL: {e}"))?;
    let https = match uri.scheme_str() {
        Some(s) if s.eq_ignore_ascii_case("https") => true,
        Some(s) if s.eq_ignore_ascii_case("http") => false,
        _ => return Err("the URL must start with http:// or https://".to_string()),
    };
    let host = uri
        .host()
        .filter(|h| !h.is_empty())
        .ok_or("the URL has no host")?;
    // A port that is not a u16 (`:99999`) reads as no port: refuse it.
    let authority = uri.authority().map_or("", |a| a.as_str());
    let port = match (uri.port_u16(), authority.ends_with(host)) {
        (Some(p), _) => p,
        (None, true) => {
            if https {
                443
            } else {
                80
            }
        }
        (None, false) => return Err(format!("bad port in {authority:?}")),
    };
    Ok((https, format!("{host}:{port}")))
}

fn tls_config(cfg: &ScrapeConfig, https: bool) -> Result<TlsConfig, ScrapeError> {
    let t = &cfg.tls;
    let file_err = |what: &'static str, path: &Path, msg: String| ScrapeError::File {
        url: cfg.url.clone(),
        what,
        path: path.to_path_buf(),
        msg,
    };
    let read_pem =
        |what: &'static str, path: &Path| -> Result<Vec<PemItem<'static>>, ScrapeError> {
            let bytes = std::fs::read(path).map_err(|e| file_err(what, path, e.to_string()))?;
            ureq::tls::parse_pem(&bytes)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| file_err(what, path, e.to_string()))
        };
    // The certificates of a PEM file, at least one.
    let read_certs =
        |what: &'static str, path: &Path| -> Result<Vec<Certificate<'static>>, ScrapeError> {
            let certs: Vec<Certificate<'static>> = read_pem(what, path)?
                .into_iter()
                .filter_map(|i| match i {
                    PemItem::Certificate(c) => Some(c),
                    _ => None,
                })
                .collect();
            if certs.is_empty() {
                return Err(file_err(what, path, "no PEM certificate in it".to_string()));
            }
            Ok(certs)
        };
    let mut b = TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .disable_verification(t.insecure_skip_verify);
    if let Some(p) = &t.ca_file {
        let certs = read_certs("CA file", p)?;
        b = b.root_certs(RootCerts::Specific(Arc::new(certs)));
    }
    match (&t.cert_file, &t.key_file) {
        (None, None) => {}
        (Some(c), Some(k)) => {
            let chain = read_certs("client certificate", c)?;
            let key: Option<PrivateKey<'static>> =
                read_pem("client key", k)?
                    .into_iter()
                    .find_map(|i| match i {
                        PemItem::PrivateKey(k) => Some(k),
                        _ => None,
                    });
            let key = key
                .ok_or_else(|| file_err("client key", k, "no PEM private key in it".to_string()))?;
            b = b.client_cert(Some(ClientCert::new_with_certs(&chain, key)));
        }
        _ => {
            return Err(ScrapeError::Config {
                url: cfg.url.clone(),
                msg: "a client certificate needs both the certificate and the key file".to_string(),
            })
        }
    }
    if !https && (t.ca_file.is_some() || t.cert_file.is_some()) {
        return Err(ScrapeError::Config {
            url: cfg.url.clone(),
            msg: "TLS files given for a plain http:// URL".to_string(),
        });
    }
    Ok(b.build())
}

/// The wall clock in ms since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_header() {
        let mut cfg = ScrapeConfig::new("http://127.0.0.1:9/metrics".to_string());
        cfg.auth = Auth::Basic {
            username: "u".into(),
            password: Some("p".into()),
            password_file: None,
        };
        let s = Scraper::new(cfg).expect("scraper");
        // base64("u:p") worked out by hand: 0x75 0x3a 0x70 -> d T p w.
        assert_eq!(s.authorization().unwrap().as_deref(), Some("Basic dTpw"));
    }

    #[test]
    fn url_host_port() {
        assert_eq!(
            parse_url("https://127.0.0.1:10257/metrics"),
            Ok((true, "127.0.0.1:10257".to_string()))
        );
        assert_eq!(
            parse_url("http://node1/metrics"),
            Ok((false, "node1:80".to_string()))
        );
        assert_eq!(
            parse_url("HTTPS://[::1]/metrics"),
            Ok((true, "[::1]:443".to_string()))
        );
        assert_eq!(
            parse_url("http://[::1]:9100"),
            Ok((false, "[::1]:9100".to_string()))
        );
        assert!(parse_url("ftp://x/").is_err());
        assert!(parse_url("http:///metrics").is_err());
        assert!(parse_url("http://h:99999/").is_err());
        // Non-ASCII right where a hand-written "https://" check cut the
        // string (once a panic), and other malformed URLs: errors.
        for bad in ["http:/xé/metrics", "é", "https", "http://", "http://é/", ""] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn scrape_protocol_names_follow_prometheus() {
        assert_eq!(
            parse_scrape_protocol("PrometheusText1.0.0"),
            Ok(Format::Text)
        );
        assert_eq!(
            parse_scrape_protocol("OpenMetricsText1.0.0"),
            Ok(Format::OpenMetrics)
        );
        assert!(parse_scrape_protocol("text").is_err());
    }

    #[test]
    fn accept_header_weights_descend_like_prometheus() {
        // Prometheus: weight starts at (number of known protocols + 1) and drops by
        // one per listed protocol; "*/*" takes the next weight.
        let qs: Vec<&str> = DEFAULT_ACCEPT
            .split(',')
            .map(|p| p.rsplit(";q=").next().unwrap())
            .collect();
        assert_eq!(qs, ["0.5", "0.4", "0.3", "0.2"]);
        assert!(DEFAULT_ACCEPT.starts_with("application/openmetrics-text;version=1.0.0;"));
    }

    #[test]
    fn target_labels_and_overrides() {
        let mut cfg = ScrapeConfig::new("https://10.0.0.1:10257/metrics");
        cfg.job = "kcm".into();
        cfg.extra_labels = vec![("container".into(), "kube-controller-manager".into())];
        let s = Scraper::new(cfg.clone()).unwrap();
        let l = s.target().labels();
        assert_eq!(l.get("instance"), Some("10.0.0.1:10257"));
        assert_eq!(l.get("job"), Some("kcm"));
        assert_eq!(l.get("container"), Some("kube-controller-manager"));
        cfg.extra_labels = vec![("instance".into(), "kcm-0".into())];
        let s = Scraper::new(cfg).unwrap();
        assert_eq!(s.target().labels().get("instance"), Some("kcm-0"));
    }

    #[test]
    fn bad_tls_files_are_typed_errors() {
        let mut cfg = ScrapeConfig::new("https://127.0.0.1:1/metrics");
        cfg.tls.ca_file = Some("/nonexistent/ca.pem".into());
        let e = Scraper::new(cfg.clone()).unwrap_err();
        assert!(
            matches!(
                e,
                ScrapeError::File {
                    what: "CA file",
                    ..
                }
            ),
            "{e}"
        );
        cfg.tls.ca_file = None;
        cfg.tls.cert_file = Some("/nonexistent/c.pem".into());
        let e = Scraper::new(cfg).unwrap_err();
        assert!(matches!(e, ScrapeError::Config { .. }), "{e}");
    }

    #[test]
    fn missing_token_file_fails_the_scrape_and_records_up_0() {
        let mut cfg = ScrapeConfig::new("http://127.0.0.1:9/metrics");
        cfg.auth = Auth::BearerTokenFile("/nonexistent/token".into());
        let s = Scraper::new(cfg).unwrap();
        let store = Store::new(promlite_store::StoreConfig::default());
        let e = s.scrape(&store, 1_000_000).unwrap_err();
        assert!(
            matches!(
                e,
                ScrapeError::File {
                    what: "bearer token file",
                    ..
                }
            ),
            "{e}"
        );
        let up = promlite_model::Queryable::select(
            &store,
            &[
                promlite_model::Matcher::new(promlite_model::MatchOp::Equal, "__name__", "up")
                    .unwrap(),
            ],
            0,
            2_000_000,
        )
        .unwrap();
        assert_eq!(up.len(), 1);
        assert_eq!(up[0].samples[0].v, 0.0);
        assert_eq!(up[0].samples[0].t, 1_000_000);
    }
}

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
