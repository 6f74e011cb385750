//! `--web.config.file`: TLS and basic auth in the format of Prometheus's web
//! configuration file (the exporter-toolkit format):
//!
//! ```yaml
//! tls_server_config:
//!   cert_file: server.crt
//!   key_file: server.key
//!   client_ca_file: ca.crt                        # optional
//!   client_auth_type: RequireAndVerifyClientCert  # optional, default NoClientCert
//!   min_version: TLS12                            # optional: TLS12 or TLS13
//! basic_auth_users:
//!   alice: $2y$10$...                             # bcrypt hashes
//! ```
//!
//! Relative file names are relative to the configuration file's directory, as in
//! Prometheus. Unknown keys are errors (Prometheus reads the file strictly too).

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;

/// The file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    tls_server_config: Option<TlsFile>,
    #[serde(default)]
    basic_auth_users: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsFile {
    #[serde(default)]
    cert_file: String,
    #[serde(default)]
    key_file: String,
    #[serde(default)]
    client_ca_file: String,
    #[serde(default)]
    client_auth_type: String,
    #[serde(default)]
    min_version: String,
    #[serde(default)]
    max_version: String,
}

/// What the server enforces from the file.
#[derive(Debug, Default)]
pub struct WebConfig {
    /// The TLS configuration, when `tls_server_config` is given.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Basic auth, when `basic_auth_users` is given.
    pub auth: Option<BasicAuth>,
}

/// `basic_auth_users` and a small cache of credentials already checked (bcrypt is
/// slow on purpose; checking it on every request would make each one cost ~50 ms).
#[derive(Debug)]
pub struct BasicAuth {
    users: BTreeMap<String, String>,
    good: Mutex<HashSet<(String, String)>>,
}

/// Entries the credential cache holds before it is emptied.
const CACHE_MAX: usize = 256;

impl BasicAuth {
    /// True when the `Authorization` header value names a user whose bcrypt hash
    /// the password matches.
    pub fn check(&self, header: Option<&str>) -> bool {
        let Some((user, pass)) = header.and_then(parse_basic) else {
            return false;
        };
        let Some(hash) = self.users.get(&user) else {
            // Spend the same time as for a known user, so that user names cannot
            // be told apart by timing.
            let _ = bcrypt::verify(&pass, DUMMY_HASH);
            return false;
        };
        let key = (user, pass);
        {
            let g = self.good.lock().unwrap_or_else(|e| e.into_inner());
            if g.contains(&key) {
                return true;
            }
        }
        let ok = bcrypt::verify(&key.1, hash).unwrap_or(false);
        if ok {
            let mut g = self.good.lock().unwrap_or_else(|e| e.into_inner());
            if g.len() >= CACHE_MAX {
                g.clear();
            }
            g.insert(key);
        }
        ok
    }
}

/// bcrypt of "x" at cost 10, checked against unknown users.
const DUMMY_HASH: &str = "$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy";

/// `Basic base64(user:password)` → (user, password).
fn parse_basic(h: &str) -> Option<(String, String)> {
    use base64::Engine as _;
    let (scheme, rest) = h.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let s = String::from_utf8(raw).ok()?;
    let (u, p) = s.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

/// Reads and checks `path`.
///
/// # Errors
/// A message naming the file and what is wrong (with the YAML position for syntax
/// errors).
pub fn load(path: &Path) -> Result<WebConfig, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    parse(&text, dir).map_err(|e| format!("{}: {e}", path.display()))
}

/// Parses the file's text; relative paths are taken from `dir`.
pub fn parse(text: &str, dir: &Path) -> Result<WebConfig, String> {
    let f: File = if text.trim().is_empty() {
        File::default()
    } else {
        serde_saphyr::from_str(text).map_err(|e| e.to_string())?
    };
    let mut out = WebConfig::default();
    if let Some(users) = f.basic_auth_users {
        for (u, h) in &users {
            if u.contains(':') {
                return Err(format!("basic_auth_users: user name {u:?} contains ':'"));
            }
            // bcrypt::verify checks the format only when verifying; check it now so
            // that a typo fails at start-up rather than as 401s.
            h.parse::<bcrypt::HashParts>()
                .map_err(|e| format!("basic_auth_users: {u:?}: not a bcrypt hash ({e})"))?;
        }
        if !users.is_empty() {
            out.auth = Some(BasicAuth {
                users,
                good: Mutex::new(HashSet::new()),
            });
        }
    }
    if let Some(t) = f.tls_server_config {
        out.tls = Some(Arc::new(tls(&t, dir)?));
    }
    Ok(out)
}

fn resolve(dir: &Path, f: &str) -> PathBuf {
    let p = Path::new(f);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        dir.join(p)
    }
}

fn version(v: &str, key: &str) -> Result<Option<u8>, String> {
    match v {
        "" => Ok(None),
        "TLS12" => Ok(Some(12)),
        "TLS13" => Ok(Some(13)),
        // rustls speaks TLS 1.2 and 1.3 only.
        "TLS10" | "TLS11" => Err(format!("{key}: {v} is not supported (TLS12 or TLS13)")),
        _ => Err(format!("{key}: unknown TLS version {v:?} (TLS12 or TLS13)")),
    }
}

fn tls(t: &TlsFile, dir: &Path) -> Result<rustls::ServerConfig, String> {
    if t.cert_file.is_empty() {
        return Err("tls_server_config: missing cert_file".into());
    }
    if t.key_file.is_empty() {
        return Err("tls_server_config: missing key_file".into());
    }
    let cert_path = resolve(dir, &t.cert_file);
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert_path)
        .and_then(|i| i.collect::<Result<_, _>>())
        .map_err(|e| format!("cert_file {}: {e}", cert_path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "cert_file {}: no certificate in it",
            cert_path.display()
        ));
    }
    let key_path = resolve(dir, &t.key_file);
    let key = PrivateKeyDer::from_pem_file(&key_path)
        .map_err(|e| format!("key_file {}: {e}", key_path.display()))?;
    let verify = match t.client_auth_type.as_str() {
        "" | "NoClientCert" => None,
        "VerifyClientCertIfGiven" => Some(false),
        "RequireAndVerifyClientCert" => Some(true),
        "RequestClientCert" | "RequireAnyClientCert" | "RequireClientCert" => {
            return Err(format!(
                "client_auth_type: {} (client certificates taken without verification) is not supported; use VerifyClientCertIfGiven or RequireAndVerifyClientCert",
                t.client_auth_type
            ))
        }
        other => return Err(format!("client_auth_type: invalid value {other:?}")),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let (lo, hi) = (
        version(&t.min_version, "min_version")?.unwrap_or(12),
        version(&t.max_version, "max_version")?.unwrap_or(13),
    );
    if lo > hi {
        return Err("min_version is above max_version".into());
    }
    let versions: Vec<&'static rustls::SupportedProtocolVersion> =
        [(12, &rustls::version::TLS12), (13, &rustls::version::TLS13)]
            .into_iter()
            .filter(|(v, _)| (lo..=hi).contains(v))
            .map(|(_, p)| p)
            .collect();
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&versions)
        .map_err(|e| format!("tls_server_config: {e}"))?;
    let builder = match verify {
        None if !t.client_ca_file.is_empty() => {
            return Err(
                "client_ca_file is set but client_auth_type is not (use RequireAndVerifyClientCert or VerifyClientCertIfGiven)"
                    .into(),
            )
        }
        None => builder.with_no_client_auth(),
        Some(required) => {
            if t.client_ca_file.is_empty() {
                return Err(format!(
                    "client_auth_type {} needs client_ca_file",
                    t.client_auth_type
                ));
            }
            let ca_path = resolve(dir, &t.client_ca_file);
            let mut roots = RootCertStore::empty();
            let cas = CertificateDer::pem_file_iter(&ca_path)
                .and_then(|i| i.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("client_ca_file {}: {e}", ca_path.display()))?;
            for c in cas {
                roots
                    .add(c)
                    .map_err(|e| format!("client_ca_file {}: {e}", ca_path.display()))?;
            }
            if roots.is_empty() {
                return Err(format!(
                    "client_ca_file {}: no certificate in it",
                    ca_path.display()
                ));
            }
            let v = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let v = if required {
                v
            } else {
                v.allow_unauthenticated()
            };
            builder.with_client_cert_verifier(
                v.build()
                    .map_err(|e| format!("client_ca_file {}: {e}", ca_path.display()))?,
            )
        }
    };
    let mut cfg = builder
        .with_single_cert(certs, key)
        .map_err(|e| format!("cert_file/key_file: {e}"))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_problem() {
        let d = Path::new("/nonexistent");
        let e = parse("tls_server_config:\n  cert_fil: a\n", d).unwrap_err();
        assert!(e.contains("cert_fil"), "{e}");
        let e = parse("basic_auth_users:\n  bob: plain\n", d).unwrap_err();
        assert!(e.contains("not a bcrypt hash"), "{e}");
        let e = parse("tls_server_config:\n  cert_file: a.crt\n", d).unwrap_err();
        assert!(e.contains("missing key_file"), "{e}");
        let e = parse(
            "tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n",
            d,
        )
        .unwrap_err();
        assert!(
            e.contains("/nonexistent/a.crt"),
            "relative to the file: {e}"
        );
        let e = parse("basic_auth_users: [\n", d).unwrap_err();
        assert!(e.contains("line") || e.contains(':'), "{e}");
        assert!(parse("", d).unwrap().tls.is_none());
    }

    #[test]
    fn basic_auth_checks_bcrypt_and_caches() {
        // `htpasswd -nbBC 4 alice secret` style hash, made with the bcrypt crate.
        let hash = bcrypt::hash("secret", 4).unwrap();
        let c = parse(
            &format!("basic_auth_users:\n  alice: '{hash}'\n"),
            Path::new("."),
        )
        .unwrap();
        let a = c.auth.unwrap();
        use base64::Engine as _;
        let hdr = |s: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(s)
            )
        };
        assert!(a.check(Some(&hdr("alice:secret"))));
        assert!(a.check(Some(&hdr("alice:secret"))), "cached");
        assert!(!a.check(Some(&hdr("alice:Secret"))));
        assert!(!a.check(Some(&hdr("bob:secret"))));
        assert!(!a.check(Some("Bearer abc")));
        assert!(!a.check(None));
    }
}
