//! [`KubernetesOptions`]: what to discover and how to reach the API server, and its
//! resolution (in-cluster credentials, own namespace) into what the client uses.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::client::Resource;
use crate::error::DiscoveryError;

/// The default directory of the in-cluster service account credentials.
pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// Which Kubernetes objects become targets (Prometheus's `role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Role {
    /// One target per declared container port of every pod (one per container
    /// without ports), labelled `__meta_kubernetes_pod_*`.
    Pod,
    /// One target per address × port of every Endpoints object, labelled
    /// `__meta_kubernetes_endpoint(s)_*`, `__meta_kubernetes_service_*` and, for
    /// addresses backed by a pod, `__meta_kubernetes_pod_*`.
    Endpoints,
    /// One target per endpoint address × port of every discovery.k8s.io/v1
    /// EndpointSlice, labelled `__meta_kubernetes_endpointslice_*`,
    /// `__meta_kubernetes_service_*` and, for pod-backed endpoints,
    /// `__meta_kubernetes_pod_*`.
    EndpointSlice,
}

impl Role {
    /// The name used in `prometheus.yml` (`pod`, `endpoints`).
    pub fn name(self) -> &'static str {
        match self {
            Role::Pod => "pod",
            Role::Endpoints => "endpoints",
            Role::EndpointSlice => "endpointslice",
        }
    }

    /// Parses a `prometheus.yml` role name.
    ///
    /// # Errors
    /// [`DiscoveryError::Config`] for a role this crate does not implement (Prometheus
    /// also has `node`, `service`, `ingress`).
    pub fn from_name(name: &str) -> Result<Role, DiscoveryError> {
        match name {
            "pod" => Ok(Role::Pod),
            "endpoints" => Ok(Role::Endpoints),
            "endpointslice" => Ok(Role::EndpointSlice),
            other => Err(DiscoveryError::Config(format!(
                "kubernetes role {other:?} is not supported (supported: pod, endpoints, endpointslice)"
            ))),
        }
    }
}

/// How requests authenticate to the API server.
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Auth {
    /// No credentials (or, in-cluster, the service account token).
    #[default]
    None,
    /// `Authorization: Bearer <token>`.
    Bearer(String),
    /// A bearer token read from a file before every request (tokens rotate).
    BearerFile(PathBuf),
    /// HTTP basic authentication; the password or a file holding it.
    Basic {
        /// The user name.
        username: String,
        /// The password, when given inline.
        password: Option<String>,
        /// A file holding the password, read before every request.
        password_file: Option<PathBuf>,
    },
}

impl std::fmt::Debug for Auth {
    // Secrets stay out of logs and panics.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Bearer(_) => f.write_str("Bearer(<secret>)"),
            Auth::BearerFile(p) => f.debug_tuple("BearerFile").field(p).finish(),
            Auth::Basic {
                username,
                password_file,
                ..
            } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password_file", password_file)
                .finish_non_exhaustive(),
        }
    }
}

/// TLS settings for the API server connection (Prometheus's `tls_config`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// PEM file of the CA certificates to trust instead of the system's.
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate (needs `key_file`).
    pub cert_file: Option<PathBuf>,
    /// PEM private key of the client certificate.
    pub key_file: Option<PathBuf>,
    /// The name to verify the server certificate against (and send as SNI), instead
    /// of the URL's host. Requests then carry it in the `Host` header too.
    pub server_name: Option<String>,
    /// Accept any server certificate.
    pub insecure_skip_verify: bool,
}

impl TlsOptions {
    fn is_empty(&self) -> bool {
        *self == TlsOptions::default()
    }
}

/// A label and/or field selector limiting which objects of one kind are watched
/// (an entry of Prometheus's `selectors`). The server applies them: a malformed
/// selector shows up as a request error (HTTP 400) in [`crate::DiscoveryStats`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector {
    /// The kind of object: `pod`, `service`, `endpoints` or `endpointslice`, as the
    /// discovery role allows (role `pod`: pod; `endpoints`: pod, service, endpoints;
    /// `endpointslice`: pod, service, endpointslice).
    pub role: String,
    /// A label selector (`app=web,tier!=cache`), sent as `labelSelector`.
    pub label: Option<String>,
    /// A field selector (`spec.nodeName=node-1`), sent as `fieldSelector`.
    pub field: Option<String>,
}

/// What to discover and how (Prometheus's `kubernetes_sd_config`).
///
/// `api_server: None` means in-cluster: the URL comes from `KUBERNETES_SERVICE_HOST`
/// and `KUBERNETES_SERVICE_PORT`, the bearer token and CA from
/// [`service_account_dir`](Self::service_account_dir) (`token`, `ca.crt`), and then
/// `auth` and `tls` must be left empty, as Prometheus requires.
#[derive(Debug, Clone)]
pub struct KubernetesOptions {
    /// The role.
    pub role: Role,
    /// The API server URL (`https://host:port`, optionally with a path prefix); `None`
    /// for in-cluster configuration.
    pub api_server: Option<String>,
    /// Namespaces to watch (`namespaces.names`); empty means all namespaces.
    pub namespaces: Vec<String>,
    /// Also watch the namespace this process runs in (`namespaces.own_namespace`), read
    /// from `<service_account_dir>/namespace`. Not allowed with `api_server`.
    pub own_namespace: bool,
    /// Label and field selectors per watched kind.
    pub selectors: Vec<Selector>,
    /// Credentials for `api_server`.
    pub auth: Auth,
    /// TLS settings for `api_server`.
    pub tls: TlsOptions,
    /// Where the in-cluster credentials live ([`SERVICE_ACCOUNT_DIR`] by default).
    pub service_account_dir: PathBuf,
    /// Limit for one list request (connect to last byte).
    pub request_timeout: Duration,
    /// How long the server keeps one watch open (`timeoutSeconds`); the watch is then
    /// resumed from the last resource version seen, without a relist.
    pub watch_timeout: Duration,
    /// First wait before retrying after an error; doubles up to `retry_max`.
    pub retry_initial: Duration,
    /// Longest wait between retries.
    pub retry_max: Duration,
    /// Objects per list page (`limit`); 0 lists everything at once.
    pub page_size: u32,
    /// Largest accepted list response or watch event, in bytes.
    pub max_object_bytes: u64,
}

impl KubernetesOptions {
    /// Options for `role` with Prometheus's defaults: in-cluster, all namespaces.
    pub fn new(role: Role) -> KubernetesOptions {
        KubernetesOptions {
            role,
            api_server: None,
            namespaces: Vec::new(),
            own_namespace: false,
            selectors: Vec::new(),
            auth: Auth::None,
            tls: TlsOptions::default(),
            service_account_dir: PathBuf::from(SERVICE_ACCOUNT_DIR),
            request_timeout: Duration::from_secs(60),
            watch_timeout: Duration::from_secs(300),
            retry_initial: Duration::from_millis(800),
            retry_max: Duration::from_secs(30),
            page_size: 500,
            max_object_bytes: 256 << 20,
        }
    }

    /// The same options against an explicit API server URL.
    pub fn with_api_server(mut self, url: impl Into<String>) -> KubernetesOptions {
        self.api_server = Some(url.into());
        self
    }

    /// Checks the options as Prometheus checks a `kubernetes_sd_config`, without
    /// reading the environment or any file (for `check config`): conflicting
    /// settings, namespace names, selectors, the `api_server` URL.
    ///
    /// # Errors
    /// [`DiscoveryError::Config`] naming the problem.
    pub fn validate(&self) -> Result<(), DiscoveryError> {
        let cfg = |m: String| DiscoveryError::Config(m);
        if self.own_namespace && self.api_server.is_some() {
            return Err(cfg(
                "cannot use 'api_server' and 'namespaces.own_namespace' simultaneously".into(),
            ));
        }
        if let (Some(_), None) | (None, Some(_)) = (&self.tls.cert_file, &self.tls.key_file) {
            return Err(cfg(
                "a client certificate needs both cert_file and key_file".into(),
            ));
        }
        if let Auth::Basic {
            password: Some(_),
            password_file: Some(_),
            ..
        } = &self.auth
        {
            return Err(cfg(
                "basic_auth: at most one of password and password_file".into()
            ));
        }
        for ns in &self.namespaces {
            if !valid_namespace(ns) {
                return Err(cfg(format!(
                    "namespace {ns:?} is not a valid Kubernetes namespace name"
                )));
            }
        }
        self.check_selectors()?;
        match &self.api_server {
            Some(url) => check_url(url, &self.tls),
            None if self.auth != Auth::None || !self.tls.is_empty() => Err(cfg(
                "to use custom authorization or TLS settings please provide the \
                 'api_server' URL explicitly"
                    .into(),
            )),
            None => Ok(()),
        }
    }

    /// Checks the options and resolves in-cluster settings, reading the environment
    /// with `env` (`std::env::var` in [`crate::KubernetesDiscovery::start`]).
    pub(crate) fn resolve(
        &self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Resolved, DiscoveryError> {
        self.validate()?;
        let cfg = |m: String| DiscoveryError::Config(m);
        let selectors = self.check_selectors()?;
        let mut namespaces = self.namespaces.clone();
        if self.own_namespace {
            let path = self.service_account_dir.join("namespace");
            let own = read_trimmed(&path, "own namespace file")?;
            if own.is_empty() {
                return Err(cfg(format!(
                    "could not read own namespace name: {} is empty",
                    path.display()
                )));
            }
            namespaces.push(own);
        }
        namespaces.dedup();
        let (base, auth, tls) = match &self.api_server {
            Some(url) => (url.clone(), self.auth.clone(), self.tls.clone()),
            None => {
                let (Some(host), Some(port)) = (
                    env("KUBERNETES_SERVICE_HOST"),
                    env("KUBERNETES_SERVICE_PORT"),
                ) else {
                    return Err(cfg("unable to load in-cluster configuration: \
                         KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be \
                         defined (or give 'api_server')"
                        .into()));
                };
                let host = if host.contains(':') {
                    format!("[{host}]")
                } else {
                    host
                };
                let dir = &self.service_account_dir;
                let tls = TlsOptions {
                    ca_file: Some(dir.join("ca.crt")),
                    ..TlsOptions::default()
                };
                let base = format!("https://{host}:{port}");
                check_url(&base, &tls)?;
                (base, Auth::BearerFile(dir.join("token")), tls)
            }
        };
        Ok(Resolved {
            base_url: base.trim_end_matches('/').to_string(),
            auth,
            tls,
            namespaces,
            selectors,
        })
    }

    /// Prometheus's selector rules: one selector per kind, only kinds the role watches.
    fn check_selectors(&self) -> Result<Vec<ResourceSelector>, DiscoveryError> {
        let allowed: &[(&str, Resource)] = match self.role {
            Role::Pod => &[("pod", Resource::Pods)],
            Role::Endpoints => &[
                ("pod", Resource::Pods),
                ("service", Resource::Services),
                ("endpoints", Resource::Endpoints),
            ],
            Role::EndpointSlice => &[
                ("pod", Resource::Pods),
                ("service", Resource::Services),
                ("endpointslice", Resource::EndpointSlices),
            ],
        };
        let mut out: Vec<ResourceSelector> = Vec::new();
        for s in &self.selectors {
            let Some(&(_, res)) = allowed.iter().find(|(n, _)| *n == s.role) else {
                let names: Vec<&str> = allowed.iter().map(|(n, _)| *n).collect();
                return Err(DiscoveryError::Config(format!(
                    "{} role supports only {} selectors, not {:?}",
                    self.role.name(),
                    names.join(", "),
                    s.role
                )));
            };
            if out.iter().any(|(r, _, _)| *r == res) {
                return Err(DiscoveryError::Config(format!(
                    "duplicated selector role: {}",
                    s.role
                )));
            }
            let nonempty = |v: &Option<String>| v.clone().filter(|x| !x.is_empty());
            out.push((res, nonempty(&s.label), nonempty(&s.field)));
        }
        Ok(out)
    }
}

/// A selector resolved to the kind it applies to: (kind, label, field).
pub(crate) type ResourceSelector = (Resource, Option<String>, Option<String>);

/// Options after validation and in-cluster resolution.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    /// `scheme://host:port[/prefix]` without a trailing slash.
    pub base_url: String,
    pub auth: Auth,
    pub tls: TlsOptions,
    /// Empty: all namespaces.
    pub namespaces: Vec<String>,
    /// (kind, label selector, field selector).
    pub selectors: Vec<ResourceSelector>,
}

/// An API server URL: http(s), a host, no query; TLS files only with https.
fn check_url(base: &str, tls: &TlsOptions) -> Result<(), DiscoveryError> {
    let cfg = |m: String| DiscoveryError::Config(format!("api_server {base:?}: {m}"));
    let uri: ureq::http::Uri = base.parse().map_err(|e| cfg(format!("{e}")))?;
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err(cfg("the URL must start with http:// or https://".into())),
    };
    if uri.host().is_none_or(str::is_empty) {
        return Err(cfg("no host".into()));
    }
    if uri.query().is_some() {
        return Err(cfg("a query is not allowed".into()));
    }
    if !https && (tls.ca_file.is_some() || tls.cert_file.is_some()) {
        return Err(cfg("TLS files given for a plain http:// URL".into()));
    }
    Ok(())
}

/// A DNS-1123 label, as Kubernetes requires of namespace names.
fn valid_namespace(ns: &str) -> bool {
    !ns.is_empty()
        && ns.len() <= 63
        && ns
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !ns.starts_with('-')
        && !ns.ends_with('-')
}

/// A file's content without surrounding whitespace.
pub(crate) fn read_trimmed(path: &Path, what: &'static str) -> Result<String, DiscoveryError> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|e| DiscoveryError::File {
            what,
            path: path.to_path_buf(),
            msg: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn in_cluster_takes_env_token_and_ca() {
        let dir = std::env::temp_dir().join(format!("promlite-sa-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("namespace"), "monitoring\n").unwrap();
        let mut o = KubernetesOptions::new(Role::Pod);
        o.service_account_dir = dir.clone();
        o.own_namespace = true;
        o.namespaces = vec!["kube-system".into()];
        let r = o
            .resolve(env_of(&[
                ("KUBERNETES_SERVICE_HOST", "fd00::1"),
                ("KUBERNETES_SERVICE_PORT", "6443"),
            ]))
            .unwrap();
        assert_eq!(r.base_url, "https://[fd00::1]:6443");
        assert_eq!(r.auth, Auth::BearerFile(dir.join("token")));
        assert_eq!(r.tls.ca_file, Some(dir.join("ca.crt")));
        assert_eq!(r.namespaces, vec!["kube-system", "monitoring"]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn in_cluster_without_env_is_an_error() {
        let o = KubernetesOptions::new(Role::Pod);
        let e = o.resolve(env_of(&[])).unwrap_err().to_string();
        assert!(e.contains("KUBERNETES_SERVICE_HOST"), "{e}");
    }

    #[test]
    fn invalid_combinations_are_rejected() {
        let env = || {
            env_of(&[
                ("KUBERNETES_SERVICE_HOST", "h"),
                ("KUBERNETES_SERVICE_PORT", "1"),
            ])
        };
        let mut o = KubernetesOptions::new(Role::Pod).with_api_server("https://k:6443");
        o.own_namespace = true;
        assert!(o
            .resolve(env())
            .unwrap_err()
            .to_string()
            .contains("own_namespace"));

        let mut o = KubernetesOptions::new(Role::Pod);
        o.auth = Auth::Bearer("x".into());
        assert!(o
            .resolve(env())
            .unwrap_err()
            .to_string()
            .contains("api_server"));

        let o = KubernetesOptions::new(Role::Pod).with_api_server("ftp://k");
        assert!(o.resolve(env()).unwrap_err().to_string().contains("http"));

        let mut o = KubernetesOptions::new(Role::Pod).with_api_server("https://k:6443");
        o.namespaces = vec!["Kube_System".into()];
        assert!(o
            .resolve(env())
            .unwrap_err()
            .to_string()
            .contains("namespace"));

        let mut o = KubernetesOptions::new(Role::Pod).with_api_server("https://k:6443");
        o.tls.cert_file = Some("c.pem".into());
        assert!(o
            .resolve(env())
            .unwrap_err()
            .to_string()
            .contains("key_file"));
    }

    #[test]
    fn selectors_follow_prometheus_rules() {
        let sel = |role: &str| Selector {
            role: role.into(),
            label: Some("app=web".into()),
            field: None,
        };
        let env = |_: &str| None;
        let mut o = KubernetesOptions::new(Role::Endpoints).with_api_server("https://k:6443");
        o.selectors = vec![sel("pod"), sel("service"), sel("endpoints")];
        let r = o.resolve(env).unwrap();
        assert_eq!(r.selectors.len(), 3);
        o.selectors = vec![sel("pod"), sel("pod")];
        let e = o.resolve(env).unwrap_err().to_string();
        assert!(e.contains("duplicated selector role: pod"), "{e}");
        let mut o = KubernetesOptions::new(Role::Pod).with_api_server("https://k:6443");
        o.selectors = vec![sel("service")];
        let e = o.resolve(env).unwrap_err().to_string();
        assert!(e.contains("pod role supports only pod selectors"), "{e}");
    }

    #[test]
    fn roles_parse_by_prometheus_name() {
        assert_eq!(Role::from_name("pod").unwrap(), Role::Pod);
        assert_eq!(Role::from_name("endpoints").unwrap().name(), "endpoints");
        assert!(Role::from_name("node").is_err());
    }
}
