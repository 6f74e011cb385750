//! The HTTP client fields shared by scrape configs and Kubernetes discovery
//! (Prometheus's `HTTPClientConfig`, written inline in those sections).

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::error::Pos;
use crate::relabel::FieldError;

/// `authorization:` — a credential sent in the `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// The scheme (default `Bearer`).
    pub type_: String,
    /// The credential itself.
    pub credentials: Option<String>,
    /// A file holding the credential, re-read on every request by Prometheus.
    pub credentials_file: Option<PathBuf>,
}

/// `basic_auth:`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BasicAuth {
    /// The user name.
    pub username: Option<String>,
    /// A file holding the user name.
    pub username_file: Option<PathBuf>,
    /// The password.
    pub password: Option<String>,
    /// A file holding the password.
    pub password_file: Option<PathBuf>,
}

/// `tls_config:`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM CA certificates to verify the server with.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The CA certificates inline.
    #[serde(default)]
    pub ca: Option<String>,
    /// The client certificate (PEM) file.
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// The client certificate inline.
    #[serde(default)]
    pub cert: Option<String>,
    /// The client key (PEM) file.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// The client key inline.
    #[serde(default)]
    pub key: Option<String>,
    /// The name the server certificate is checked against (and sent as SNI).
    #[serde(default)]
    pub server_name: Option<String>,
    /// Skip verifying the server certificate.
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// The lowest TLS version accepted (`TLS12`, `TLS13`).
    #[serde(default)]
    pub min_version: Option<String>,
    /// The highest TLS version accepted.
    #[serde(default)]
    pub max_version: Option<String>,
}

/// How to reach an HTTP endpoint: credentials, TLS and redirects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpClientConfig {
    /// `authorization`, or `bearer_token`/`bearer_token_file` mapped to a `Bearer` one.
    pub authorization: Option<Authorization>,
    /// `basic_auth`.
    pub basic_auth: Option<BasicAuth>,
    /// `tls_config`.
    pub tls_config: TlsConfig,
    /// `follow_redirects` (default true).
    pub follow_redirects: bool,
    /// `enable_http2` (default true).
    pub enable_http2: bool,
    /// `proxy_url`.
    pub proxy_url: Option<String>,
}

impl Default for HttpClientConfig {
    fn default() -> Self {
        HttpClientConfig {
            authorization: None,
            basic_auth: None,
            tls_config: TlsConfig::default(),
            follow_redirects: true,
            enable_http2: true,
            proxy_url: None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAuthorization {
    #[serde(default, rename = "type")]
    type_: Option<Spanned<String>>,
    #[serde(default)]
    credentials: Option<String>,
    #[serde(default)]
    credentials_file: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBasicAuth {
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    username_file: Option<PathBuf>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    password_file: Option<PathBuf>,
}

/// The inline HTTP client fields as written, with positions.
#[derive(Debug, Default)]
pub(crate) struct RawHttp<'a> {
    pub authorization: Option<&'a Spanned<RawAuthorization>>,
    pub basic_auth: Option<&'a Spanned<RawBasicAuth>>,
    pub bearer_token: Option<&'a Spanned<String>>,
    pub bearer_token_file: Option<&'a Spanned<String>>,
    pub tls_config: Option<&'a Spanned<TlsConfig>>,
    pub follow_redirects: Option<bool>,
    pub enable_http2: Option<bool>,
    pub proxy_url: Option<&'a String>,
}

/// Declares a struct with the inline HTTP client fields appended, and `raw_http()`.
macro_rules! with_http_client_fields {
    ($(#[$m:meta])* $vis:vis struct $name:ident { $($body:tt)* }) => {
        $(#[$m])* $vis struct $name {
            $($body)*
            #[serde(default)]
            authorization: Option<serde_saphyr::Spanned<$crate::http::RawAuthorization>>,
            #[serde(default)]
            basic_auth: Option<serde_saphyr::Spanned<$crate::http::RawBasicAuth>>,
            #[serde(default)]
            bearer_token: Option<serde_saphyr::Spanned<String>>,
            #[serde(default)]
            bearer_token_file: Option<serde_saphyr::Spanned<String>>,
            #[serde(default)]
            tls_config: Option<serde_saphyr::Spanned<$crate::http::TlsConfig>>,
            #[serde(default)]
            follow_redirects: Option<bool>,
            #[serde(default)]
            enable_http2: Option<bool>,
            #[serde(default)]
            proxy_url: Option<String>,
        }
        impl $name {
            fn raw_http(&self) -> $crate::http::RawHttp<'_> {
                $crate::http::RawHttp {
                    authorization: self.authorization.as_ref(),
                    basic_auth: self.basic_auth.as_ref(),
                    bearer_token: self.bearer_token.as_ref(),
                    bearer_token_file: self.bearer_token_file.as_ref(),
                    tls_config: self.tls_config.as_ref(),
                    follow_redirects: self.follow_redirects,
                    enable_http2: self.enable_http2,
                    proxy_url: self.proxy_url.as_ref(),
                }
            }
        }
    };
}
pub(crate) use with_http_client_fields;

fn at<T>(s: &Spanned<T>) -> Pos {
    Pos::of(s.referenced)
}

fn join(dir: Option<&Path>, p: &Path) -> PathBuf {
    match dir {
        Some(d) if p.is_relative() && !p.as_os_str().is_empty() => d.join(p),
        _ => p.to_path_buf(),
    }
}

impl RawHttp<'_> {
    /// True when no HTTP client field was written.
    pub(crate) fn is_default(&self) -> bool {
        self.authorization.is_none()
            && self.basic_auth.is_none()
            && self.bearer_token.is_none()
            && self.bearer_token_file.is_none()
            && self.tls_config.is_none()
            && self.follow_redirects.is_none()
            && self.enable_http2.is_none()
            && self.proxy_url.is_none()
    }

    /// Validates as Prometheus's common HTTP client config does and resolves file
    /// paths against `dir` (the configuration file's directory).
    pub(crate) fn resolve(&self, dir: Option<&Path>) -> Result<HttpClientConfig, FieldError> {
        let e = |field: &'static str, pos: Pos, message: &str| FieldError {
            field,
            pos,
            message: message.to_string(),
        };
        if let (Some(t), Some(_)) = (self.bearer_token, self.bearer_token_file) {
            return Err(e(
                "bearer_token",
                at(t),
                "at most one of bearer_token & bearer_token_file must be configured",
            ));
        }
        let bearer_pos = self.bearer_token.map(at).or(self.bearer_token_file.map(at));
        if let (Some(b), Some(pos)) = (self.basic_auth, bearer_pos) {
            let _ = b;
            return Err(e(
                "basic_auth",
                pos,
                "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured",
            ));
        }
        let mut out = HttpClientConfig {
            follow_redirects: self.follow_redirects.unwrap_or(true),
            enable_http2: self.enable_http2.unwrap_or(true),
            proxy_url: self.proxy_url.cloned(),
            ..HttpClientConfig::default()
        };
        if let Some(b) = self.basic_auth {
            let v = &b.value;
            if v.username.is_some() && v.username_file.is_some() {
                return Err(e(
                    "basic_auth",
                    at(b),
                    "at most one of basic_auth username & username_file must be configured",
                ));
            }
            if v.password.is_some() && v.password_file.is_some() {
                return Err(e(
                    "basic_auth",
                    at(b),
                    "at most one of basic_auth password & password_file must be configured",
                ));
            }
            out.basic_auth = Some(BasicAuth {
                username: v.username.clone(),
                username_file: v.username_file.as_deref().map(|p| join(dir, p)),
                password: v.password.clone(),
                password_file: v.password_file.as_deref().map(|p| join(dir, p)),
            });
        }
        if let Some(a) = self.authorization {
            if let Some(pos) = bearer_pos {
                return Err(e(
                    "authorization",
                    pos,
                    "authorization is not compatible with bearer_token & bearer_token_file",
                ));
            }
            if self.basic_auth.is_some() {
                return Err(e(
                    "authorization",
                    at(a),
                    "at most one of basic_auth, oauth2 & authorization must be configured",
                ));
            }
            let v = &a.value;
            if v.credentials.is_some() && v.credentials_file.is_some() {
                return Err(e(
                    "authorization",
                    at(a),
                    "at most one of authorization credentials & credentials_file must be configured",
                ));
            }
            let type_ = v.type_.as_ref().map(|t| t.value.trim().to_string());
            let type_ = match type_ {
                Some(t) if !t.is_empty() => t,
                _ => "Bearer".to_string(),
            };
            if type_.eq_ignore_ascii_case("basic") {
                let pos = v.type_.as_ref().map(at).unwrap_or(at(a));
                return Err(e(
                    "authorization.type",
                    pos,
                    "authorization type cannot be set to \"basic\", use \"basic_auth\" instead",
                ));
            }
            out.authorization = Some(Authorization {
                type_,
                credentials: v.credentials.clone(),
                credentials_file: v.credentials_file.as_deref().map(|p| join(dir, p)),
            });
        } else if let Some(t) = self.bearer_token {
            out.authorization = Some(Authorization {
                type_: "Bearer".into(),
                credentials: Some(t.value.clone()),
                credentials_file: None,
            });
        } else if let Some(f) = self.bearer_token_file {
            out.authorization = Some(Authorization {
                type_: "Bearer".into(),
                credentials: None,
                credentials_file: Some(join(dir, Path::new(&f.value))),
            });
        }
        if let Some(t) = self.tls_config {
            let v = &t.value;
            let pos = at(t);
            let pairs: [(&'static str, bool, bool); 3] = [
                ("ca", v.ca.is_some(), v.ca_file.is_some()),
                ("cert", v.cert.is_some(), v.cert_file.is_some()),
                ("key", v.key.is_some(), v.key_file.is_some()),
            ];
            for (name, inline, file) in pairs {
                if inline && file {
                    return Err(FieldError {
                        field: "tls_config",
                        pos,
                        message: format!(
                            "at most one of {name} and {name}_file must be configured"
                        ),
                    });
                }
            }
            let has_cert = v.cert.is_some() || v.cert_file.is_some();
            let has_key = v.key.is_some() || v.key_file.is_some();
            if has_cert && !has_key {
                return Err(e(
                    "tls_config",
                    pos,
                    "exactly one of key or key_file must be configured when a client certificate is configured",
                ));
            }
            if has_key && !has_cert {
                return Err(e(
                    "tls_config",
                    pos,
                    "exactly one of cert or cert_file must be configured when a client key is configured",
                ));
            }
            for (name, ver) in [
                ("min_version", &v.min_version),
                ("max_version", &v.max_version),
            ] {
                if let Some(ver) = ver {
                    if !matches!(ver.as_str(), "TLS10" | "TLS11" | "TLS12" | "TLS13") {
                        return Err(FieldError {
                            field: name,
                            pos,
                            message: format!("unknown TLS version: {ver}"),
                        });
                    }
                }
            }
            let mut tls = v.clone();
            for p in [&mut tls.ca_file, &mut tls.cert_file, &mut tls.key_file] {
                if let Some(x) = p.as_mut() {
                    *x = join(dir, x);
                }
            }
            out.tls_config = tls;
        }
        Ok(out)
    }
}
