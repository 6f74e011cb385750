//! The API server client: authenticated GETs, paged lists, and watch streams read
//! one newline-terminated JSON event at a time.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::de::DeserializeOwned;
use ureq::tls::{Certificate, ClientCert, PemItem, PrivateKey, RootCerts, TlsConfig, TlsProvider};

use crate::error::DiscoveryError;
use crate::objects::{List, MetaOnly, ObjectMeta, RawWatchEvent, Status};
use crate::options::{
    read_trimmed, Auth, KubernetesOptions, Resolved, ResourceSelector, TlsOptions,
};

/// Characters escaped in query values: all but RFC 3986's unreserved ones.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A watched kind of object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Resource {
    Pods,
    Services,
    Endpoints,
    EndpointSlices,
}

impl Resource {
    /// The path segment (plural resource name).
    pub fn plural(self) -> &'static str {
        match self {
            Resource::Pods => "pods",
            Resource::Services => "services",
            Resource::Endpoints => "endpoints",
            Resource::EndpointSlices => "endpointslices",
        }
    }

    /// The API group and version path.
    pub fn api(self) -> &'static str {
        match self {
            Resource::EndpointSlices => "/apis/discovery.k8s.io/v1",
            _ => "/api/v1",
        }
    }
}

/// An object with metadata (to learn its key and resource version).
pub(crate) trait HasMeta {
    fn meta(&self) -> &ObjectMeta;
}

/// One decoded watch event.
#[derive(Debug)]
pub(crate) enum WatchEvent<T> {
    /// ADDED or MODIFIED: the object as it is now.
    Upsert(T),
    /// DELETED: the object as it was.
    Deleted(T),
    /// BOOKMARK: only a newer resource version.
    Bookmark(String),
}

/// A configured client for one API server.
#[derive(Debug)]
pub(crate) struct Client {
    agent: ureq::Agent,
    base: String,
    auth: Auth,
    request_timeout: Duration,
    watch_timeout: Duration,
    page_size: u32,
    max_bytes: u64,
    selectors: Vec<ResourceSelector>,
}

impl Client {
    /// Builds the HTTP agent (TLS files are read here, once).
    pub fn new(opts: &KubernetesOptions, r: &Resolved) -> Result<Client, DiscoveryError> {
        let tls = tls_config(&r.tls)?;
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            // Straight to the API server unless told otherwise, as Prometheus's default.
            .proxy(None)
            .max_redirects(0)
            .user_agent(concat!("promlite-discovery/", env!("CARGO_PKG_VERSION")))
            .tls_config(tls)
            .build();
        let (agent, base) = match &r.tls.server_name {
            None => (config.new_agent(), r.base_url.clone()),
            Some(name) => server_name_agent(config, &r.base_url, name)?,
        };
        Ok(Client {
            agent,
            base,
            auth: r.auth.clone(),
            request_timeout: opts.request_timeout,
            watch_timeout: opts.watch_timeout,
            page_size: opts.page_size,
            max_bytes: opts.max_object_bytes,
            selectors: r.selectors.clone(),
        })
    }

    /// `labelSelector` and `fieldSelector` for `res`, when configured.
    fn selector_query(&self, res: Resource) -> Vec<(&'static str, &str)> {
        let mut q = Vec::new();
        if let Some((_, label, field)) = self.selectors.iter().find(|(r, _, _)| *r == res) {
            if let Some(l) = label {
                q.push(("labelSelector", l.as_str()));
            }
            if let Some(f) = field {
                q.push(("fieldSelector", f.as_str()));
            }
        }
        q
    }

    fn url(&self, res: Resource, ns: Option<&str>, query: &[(&str, &str)]) -> String {
        let mut u = format!("{}{}", self.base, res.api());
        if let Some(ns) = ns {
            u.push_str("/namespaces/");
            // Validated as a DNS label: nothing to escape.
            u.push_str(ns);
        }
        u.push('/');
        u.push_str(res.plural());
        for (i, (k, v)) in query.iter().enumerate() {
            u.push(if i == 0 { '?' } else { '&' });
            u.push_str(k);
            u.push('=');
            u.extend(utf8_percent_encode(v, QUERY_VALUE));
        }
        u
    }

    fn authorization(&self) -> Result<Option<String>, DiscoveryError> {
        Ok(match &self.auth {
            Auth::None => None,
            Auth::Bearer(t) => Some(format!("Bearer {t}")),
            Auth::BearerFile(p) => {
                Some(format!("Bearer {}", read_trimmed(p, "bearer token file")?))
            }
            Auth::Basic {
                username,
                password,
                password_file,
            } => {
                let pw = match (password, password_file) {
                    (Some(p), _) => p.clone(),
                    (None, Some(f)) => read_trimmed(f, "basic auth password file")?,
                    (None, None) => String::new(),
                };
                let b64 =
                    base64::engine::general_purpose::STANDARD.encode(format!("{username}:{pw}"));
                Some(format!("Basic {b64}"))
            }
        })
    }

    /// GET `url`; a 2xx response, or a typed error.
    fn get(
        &self,
        url: &str,
        timeout: Duration,
    ) -> Result<ureq::http::Response<ureq::Body>, DiscoveryError> {
        let mut req = self
            .agent
            .get(url)
            .header("Accept", "application/json")
            .config()
            .timeout_global(Some(timeout))
            .build();
        if let Some(a) = self.authorization()? {
            req = req.header("Authorization", a);
        }
        let mut resp = req.call().map_err(|e| DiscoveryError::Transport {
            url: url.to_string(),
            msg: transport_message(e),
        })?;
        let status = resp.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(resp);
        }
        // An API error body is a Status object; keep its message, or the body's start.
        let body = resp
            .body_mut()
            .with_config()
            .limit(64 << 10)
            .read_to_vec()
            .unwrap_or_default();
        let msg = match serde_json::from_slice::<Status>(&body) {
            Ok(s) if !s.message.is_empty() => s.message,
            _ => String::from_utf8_lossy(&body[..body.len().min(200)])
                .trim()
                .to_string(),
        };
        Err(status_error(url, status, msg))
    }

    /// Lists every object (following `continue` tokens); returns them and the list's
    /// resource version to watch from.
    pub fn list<T: DeserializeOwned>(
        &self,
        res: Resource,
        ns: Option<&str>,
    ) -> Result<(Vec<T>, String), DiscoveryError> {
        let mut items = Vec::new();
        let mut token = String::new();
        let limit = self.page_size.to_string();
        loop {
            let mut q: Vec<(&str, &str)> = Vec::new();
            if self.page_size > 0 {
                q.push(("limit", &limit));
            }
            if !token.is_empty() {
                q.push(("continue", &token));
            }
            q.extend(self.selector_query(res));
            let url = self.url(res, ns, &q);
            let mut resp = self.get(&url, self.request_timeout)?;
            let body = resp
                .body_mut()
                .with_config()
                .limit(self.max_bytes)
                .read_to_vec()
                .map_err(|e| DiscoveryError::Transport {
                    url: url.clone(),
                    msg: transport_message(e),
                })?;
            let page: List<T> = serde_json::from_slice(&body)
                .map_err(|e| decode_error(&url, format!("{} list", res.plural()), &e))?;
            items.extend(page.items);
            if page.metadata.continue_token.is_empty() {
                return Ok((items, page.metadata.resource_version));
            }
            token = page.metadata.continue_token;
        }
    }

    /// Opens a watch from resource version `rv`.
    pub fn watch(
        &self,
        res: Resource,
        ns: Option<&str>,
        rv: &str,
    ) -> Result<WatchStream, DiscoveryError> {
        let secs = self.watch_timeout.as_secs().max(1).to_string();
        let mut q = vec![
            ("watch", "1"),
            ("resourceVersion", rv),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", &secs),
        ];
        q.extend(self.selector_query(res));
        let url = self.url(res, ns, &q);
        // The server ends the watch after timeoutSeconds; the client deadline only
        // guards against a server that stops talking without closing.
        let resp = self.get(&url, self.watch_timeout + Duration::from_secs(60))?;
        Ok(WatchStream {
            reader: BufReader::with_capacity(64 << 10, resp.into_body().into_reader()),
            url,
            events: 0,
            max_bytes: self.max_bytes,
            line: Vec::new(),
        })
    }
}

/// A watch response body: one JSON event per line.
pub(crate) struct WatchStream {
    reader: BufReader<ureq::BodyReader<'static>>,
    url: String,
    events: usize,
    max_bytes: u64,
    line: Vec<u8>,
}

impl std::fmt::Debug for WatchStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchStream")
            .field("url", &self.url)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

impl WatchStream {
    /// The next event; `None` when the server ended the watch cleanly. Blocks until
    /// an event arrives.
    pub fn next_event<T: DeserializeOwned + HasMeta>(
        &mut self,
    ) -> Option<Result<WatchEvent<T>, DiscoveryError>> {
        loop {
            self.line.clear();
            let n = match (&mut self.reader)
                .take(self.max_bytes + 1)
                .read_until(b'\n', &mut self.line)
            {
                Ok(n) => n,
                Err(e) => {
                    return Some(Err(DiscoveryError::Transport {
                        url: self.url.clone(),
                        msg: format!("watch stream broken after {} events: {e}", self.events),
                    }))
                }
            };
            if n == 0 {
                return None;
            }
            if self.line.len() as u64 > self.max_bytes {
                return Some(Err(DiscoveryError::Transport {
                    url: self.url.clone(),
                    msg: format!("watch event larger than {} bytes", self.max_bytes),
                }));
            }
            if self.line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            self.events += 1;
            return Some(self.decode());
        }
    }

    fn decode<T: DeserializeOwned + HasMeta>(&self) -> Result<WatchEvent<T>, DiscoveryError> {
        let what = || format!("watch event {}", self.events);
        let err = |e: &serde_json::Error| decode_error(&self.url, what(), e);
        let ev: RawWatchEvent = serde_json::from_slice(&self.line).map_err(|e| err(&e))?;
        let obj = ev.object.get();
        match ev.kind.as_str() {
            "ADDED" | "MODIFIED" => Ok(WatchEvent::Upsert(
                serde_json::from_str(obj).map_err(|e| err(&e))?,
            )),
            "DELETED" => Ok(WatchEvent::Deleted(
                serde_json::from_str(obj).map_err(|e| err(&e))?,
            )),
            "BOOKMARK" => {
                let m: MetaOnly = serde_json::from_str(obj).map_err(|e| err(&e))?;
                Ok(WatchEvent::Bookmark(m.metadata.resource_version))
            }
            "ERROR" => {
                let s: Status = serde_json::from_str(obj).map_err(|e| err(&e))?;
                // client-go also recognises an expired version by its reason alone.
                let code = match s.reason.as_str() {
                    "Expired" | "Gone" => 410,
                    _ => s.code,
                };
                Err(status_error(&self.url, code, s.message))
            }
            other => Err(DiscoveryError::Decode {
                url: self.url.clone(),
                what: what(),
                line: 1,
                column: 1,
                msg: format!("unknown watch event type {other:?}"),
            }),
        }
    }
}

fn status_error(url: &str, status: u16, msg: String) -> DiscoveryError {
    if status == 410 {
        DiscoveryError::Gone {
            url: url.to_string(),
            msg,
        }
    } else {
        DiscoveryError::Status {
            url: url.to_string(),
            status,
            msg,
        }
    }
}

fn decode_error(url: &str, what: String, e: &serde_json::Error) -> DiscoveryError {
    DiscoveryError::Decode {
        url: url.to_string(),
        what,
        line: e.line(),
        column: e.column(),
        msg: e.to_string(),
    }
}

/// A ureq error as a sentence, with rustls's reason when a handshake failed.
fn transport_message(e: ureq::Error) -> String {
    if let ureq::Error::Io(io) = &e {
        if let Some(t) = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
            return format!("TLS handshake failed: {t}");
        }
    }
    e.to_string()
}

fn tls_config(t: &TlsOptions) -> Result<TlsConfig, DiscoveryError> {
    let file_err = |what: &'static str, path: &Path, msg: String| DiscoveryError::File {
        what,
        path: path.to_path_buf(),
        msg,
    };
    let read_pem =
        |what: &'static str, path: &Path| -> Result<Vec<PemItem<'static>>, DiscoveryError> {
            let bytes = std::fs::read(path).map_err(|e| file_err(what, path, e.to_string()))?;
            ureq::tls::parse_pem(&bytes)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| file_err(what, path, e.to_string()))
        };
    let read_certs =
        |what: &'static str, path: &Path| -> Result<Vec<Certificate<'static>>, DiscoveryError> {
            let certs: Vec<Certificate<'static>> = read_pem(what, path)?
                .into_iter()
                .filter_map(|i| match i {
                    PemItem::Certificate(c) => Some(c),
                    _ => None,
                })
                .collect();
            if certs.is_empty() {
                return Err(file_err(what, path, "no PEM certificate in it".into()));
            }
            Ok(certs)
        };
    let mut b = TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .disable_verification(t.insecure_skip_verify);
    if let Some(p) = &t.ca_file {
        b = b.root_certs(RootCerts::Specific(Arc::new(read_certs("CA file", p)?)));
    }
    if let (Some(c), Some(k)) = (&t.cert_file, &t.key_file) {
        let chain = read_certs("client certificate", c)?;
        let key: Option<PrivateKey<'static>> =
            read_pem("client key", k)?
                .into_iter()
                .find_map(|i| match i {
                    PemItem::PrivateKey(k) => Some(k),
                    _ => None,
                });
        let key =
            key.ok_or_else(|| file_err("client key", k, "no PEM private key in it".into()))?;
        b = b.client_cert(Some(ClientCert::new_with_certs(&chain, key)));
    }
    Ok(b.build())
}

/// An agent that verifies the server certificate against `server_name` while
/// connecting to the address of `base`'s host. ureq takes the name TLS checks from
/// the URL, so requests go to `https://<server_name>:<port>/...` and a resolver maps
/// that name back to `base`'s host. (The `Host` header then carries `server_name`;
/// the API server does not look at it.)
fn server_name_agent(
    config: ureq::config::Config,
    base: &str,
    name: &str,
) -> Result<(ureq::Agent, String), DiscoveryError> {
    let bad = |m: String| DiscoveryError::Config(format!("tls_config.server_name {name:?}: {m}"));
    let real: ureq::http::Uri = base.parse().map_err(|e| bad(format!("{e}")))?;
    let authority = real
        .authority()
        .ok_or_else(|| bad("api_server has no host".into()))?;
    let port = authority
        .port_u16()
        .unwrap_or(if real.scheme_str() == Some("http") {
            80
        } else {
            443
        });
    let host = if name.contains(':') {
        format!("[{name}]")
    } else {
        name.to_string()
    };
    let rewritten = format!(
        "{}://{host}:{port}{}",
        real.scheme_str().unwrap_or("https"),
        real.path().trim_end_matches('/')
    );
    let probe: ureq::http::Uri = rewritten.parse().map_err(|e| bad(format!("{e}")))?;
    let resolver = PinnedResolver {
        name: probe.host().unwrap_or_default().to_string(),
        real,
        inner: ureq::unversioned::resolver::DefaultResolver::default(),
    };
    let agent = ureq::Agent::with_parts(
        config,
        ureq::unversioned::transport::DefaultConnector::new(),
        resolver,
    );
    Ok((agent, rewritten))
}

/// Resolves `name` as the host of `real` would be resolved; other hosts normally.
#[derive(Debug)]
struct PinnedResolver {
    name: String,
    real: ureq::http::Uri,
    inner: ureq::unversioned::resolver::DefaultResolver,
}

impl ureq::unversioned::resolver::Resolver for PinnedResolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: ureq::unversioned::transport::NextTimeout,
    ) -> Result<ureq::unversioned::resolver::ResolvedSocketAddrs, ureq::Error> {
        if uri.host() == Some(self.name.as_str()) {
            self.inner.resolve(&self.real, config, timeout)
        } else {
            self.inner.resolve(uri, config, timeout)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::Role;

    fn client(auth: Auth) -> Client {
        let mut o = KubernetesOptions::new(Role::Pod).with_api_server("https://10.0.0.1:6443/");
        o.auth = auth;
        let r = o.resolve(|_| None).unwrap();
        Client::new(&o, &r).unwrap()
    }

    #[test]
    fn basic_auth_header_is_base64_of_user_colon_password() {
        // base64("martin:secret") by hand: "mar" "tin" ":se" "cre" "t" → bWFy dGlu OnNl Y3Jl dA==
        let c = client(Auth::Basic {
            username: "martin".into(),
            password: Some("secret".into()),
            password_file: None,
        });
        assert_eq!(
            c.authorization().unwrap().as_deref(),
            Some("Basic bWFydGluOnNlY3JldA==")
        );
        let c = client(Auth::Bearer("abc".into()));
        assert_eq!(c.authorization().unwrap().as_deref(), Some("Bearer abc"));
        let c = client(Auth::BearerFile("/nonexistent/token".into()));
        let e = c.authorization().unwrap_err().to_string();
        assert!(
            e.contains("bearer token file") && e.contains("/nonexistent/token"),
            "{e}"
        );
    }

    #[test]
    fn urls_join_base_group_namespace_and_escaped_query() {
        let c = client(Auth::None);
        assert_eq!(
            c.url(
                Resource::Pods,
                Some("kube-system"),
                &[("continue", "a b/c=")]
            ),
            "https://10.0.0.1:6443/api/v1/namespaces/kube-system/pods?continue=a%20b%2Fc%3D"
        );
        assert_eq!(
            c.url(Resource::EndpointSlices, None, &[]),
            "https://10.0.0.1:6443/apis/discovery.k8s.io/v1/endpointslices"
        );
    }
}
