//! The HTTP side of the sender: a blocking ureq agent (rustls on `ring`, as
//! promlite-scrape builds it) and the classification of each answer.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use ureq::tls::{Certificate, ClientCert, PemItem, PrivateKey, RootCerts, TlsConfig, TlsProvider};

use crate::{RemoteWriteConfig, StartError};

/// How one request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// 2xx.
    Sent,
    /// Worth retrying (5xx, 429, network): why, and `Retry-After` if given.
    Retry(String, Option<Duration>),
    /// Not worth retrying (other 4xx, or 429 when not retried): the reason.
    Drop(String),
}

/// Sends remote_write requests.
#[derive(Debug)]
pub(crate) struct Client {
    cfg: RemoteWriteConfig,
    agent: ureq::Agent,
}

fn file_err(what: &str, p: &Path, e: impl std::fmt::Display) -> StartError {
    StartError::Config(format!("reading {what} {}: {e}", p.display()))
}

fn read_secret(what: &str, p: &Path) -> Result<String, StartError> {
    std::fs::read_to_string(p)
        .map(|s| s.trim().to_string())
        .map_err(|e| file_err(what, p, e))
}

impl Client {
    pub(crate) fn new(cfg: &RemoteWriteConfig) -> Result<Client, StartError> {
        let url = cfg.url.to_ascii_lowercase();
        let https = url.starts_with("https://");
        if !https && !url.starts_with("http://") {
            return Err(StartError::Config(format!(
                "remote_write url {:?} must start with http:// or https://",
                cfg.url
            )));
        }
        let auths = [
            cfg.authorization.is_some(),
            cfg.basic_auth.is_some(),
            cfg.bearer_token.is_some() || cfg.bearer_token_file.is_some(),
        ];
        if auths.iter().filter(|&&a| a).count() > 1 {
            return Err(StartError::Config(
                "at most one of authorization, basic_auth and bearer_token(_file) may be set"
                    .to_string(),
            ));
        }
        let tls = tls_config(cfg, https)?;
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(cfg.remote_timeout))
            .proxy(None)
            .max_redirects(if cfg.follow_redirects { 10 } else { 0 })
            .user_agent(concat!("promlite/", env!("CARGO_PKG_VERSION")))
            .tls_config(tls)
            .build()
            .new_agent();
        let c = Client {
            cfg: cfg.clone(),
            agent,
        };
        c.authorization()?; // credential files must be readable at start
        Ok(c)
    }

    /// The `Authorization` header, files re-read each time (rotated tokens).
    fn authorization(&self) -> Result<Option<String>, StartError> {
        let c = &self.cfg;
        if let Some(a) = &c.authorization {
            let cred = match (&a.credentials, &a.credentials_file) {
                (Some(s), _) => s.clone(),
                (None, Some(p)) => read_secret("authorization credentials_file", p)?,
                (None, None) => return Ok(None),
            };
            return Ok(Some(format!("{} {cred}", a.typ)));
        }
        if let Some(b) = &c.basic_auth {
            let pw = match (&b.password, &b.password_file) {
                (Some(p), _) => p.clone(),
                (None, Some(f)) => read_secret("basic_auth password_file", f)?,
                (None, None) => String::new(),
            };
            let enc =
                base64::engine::general_purpose::STANDARD.encode(format!("{}:{pw}", b.username));
            return Ok(Some(format!("Basic {enc}")));
        }
        if let Some(t) = &c.bearer_token {
            return Ok(Some(format!("Bearer {t}")));
        }
        if let Some(p) = &c.bearer_token_file {
            return Ok(Some(format!(
                "Bearer {}",
                read_secret("bearer_token_file", p)?
            )));
        }
        Ok(None)
    }

    /// POSTs one snappy-compressed `WriteRequest`.
    pub(crate) fn send(&self, body: &[u8]) -> Outcome {
        let mut req = self
            .agent
            .post(&self.cfg.url)
            .header("Content-Encoding", "snappy")
            .header("Content-Type", "application/x-protobuf")
            .header("X-Prometheus-Remote-Write-Version", "0.1.0");
        for (k, v) in &self.cfg.headers {
            req = req.header(k, v);
        }
        match self.authorization() {
            Ok(Some(a)) => req = req.header("Authorization", a),
            Ok(None) => {}
            Err(e) => return Outcome::Retry(e.to_string(), None),
        }
        let mut resp = match req.send(body) {
            Ok(r) => r,
            Err(e) => return Outcome::Retry(format!("request failed: {e}"), None),
        };
        let status = resp.status().as_u16();
        if (200..300).contains(&status) {
            return Outcome::Sent;
        }
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let text = resp
            .body_mut()
            .with_config()
            .limit(1024)
            .read_to_string()
            .unwrap_or_default();
        let reason = format!("HTTP {status}: {}", text.trim());
        if status >= 500 || (status == 429 && self.cfg.queue_config.retry_on_http_429) {
            Outcome::Retry(reason, retry_after)
        } else {
            Outcome::Drop(reason)
        }
    }
}

/// `Retry-After`: delay-seconds or an HTTP date.
pub(crate) fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(s) = v.parse::<u64>() {
        return Some(Duration::from_secs(s));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

fn tls_config(cfg: &RemoteWriteConfig, https: bool) -> Result<TlsConfig, StartError> {
    let t = &cfg.tls_config;
    let read_pem = |what: &str, path: &Path| -> Result<Vec<PemItem<'static>>, StartError> {
        let bytes = std::fs::read(path).map_err(|e| file_err(what, path, e))?;
        ureq::tls::parse_pem(&bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| file_err(what, path, e))
    };
    let read_certs = |what: &str, path: &Path| -> Result<Vec<Certificate<'static>>, StartError> {
        let certs: Vec<Certificate<'static>> = read_pem(what, path)?
            .into_iter()
            .filter_map(|i| match i {
                PemItem::Certificate(c) => Some(c),
                _ => None,
            })
            .collect();
        if certs.is_empty() {
            return Err(file_err(what, path, "no PEM certificate in it"));
        }
        Ok(certs)
    };
    let mut b = TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .disable_verification(t.insecure_skip_verify);
    if let Some(p) = &t.ca_file {
        b = b.root_certs(RootCerts::Specific(Arc::new(read_certs(
            "tls_config ca_file",
            p,
        )?)));
    }
    match (&t.cert_file, &t.key_file) {
        (None, None) => {}
        (Some(c), Some(k)) => {
            let chain = read_certs("tls_config cert_file", c)?;
            let key: Option<PrivateKey<'static>> = read_pem("tls_config key_file", k)?
                .into_iter()
                .find_map(|i| match i {
                    PemItem::PrivateKey(k) => Some(k),
                    _ => None,
                });
            let key =
                key.ok_or_else(|| file_err("tls_config key_file", k, "no PEM private key in it"))?;
            b = b.client_cert(Some(ClientCert::new_with_certs(&chain, key)));
        }
        _ => {
            return Err(StartError::Config(
                "tls_config needs both cert_file and key_file".to_string(),
            ))
        }
    }
    if !https && (t.ca_file.is_some() || t.cert_file.is_some()) {
        return Err(StartError::Config(
            "tls_config files given for a plain http:// URL".to_string(),
        ));
    }
    Ok(b.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}
