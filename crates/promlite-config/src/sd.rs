//! Service-discovery sections: `static_configs`, `file_sd_configs` and
//! `kubernetes_sd_configs`, and the target groups discovery produces.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::duration::Duration;
use crate::error::Pos;
use crate::http::{with_http_client_fields, HttpClientConfig};
use crate::relabel::FieldError;

/// A set of targets sharing labels, as discovery produces them and as `static_configs`
/// and file_sd files write them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TargetGroup {
    /// One label set per target (`__address__` and any per-target labels).
    pub targets: Vec<BTreeMap<String, String>>,
    /// Labels shared by every target of the group (a target's own labels win).
    pub labels: BTreeMap<String, String>,
    /// Where the group came from (for file_sd: `<file>:<index>`).
    pub source: String,
}

/// A group as written in YAML/JSON: `targets: [host:port...]`, `labels: {...}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTargetGroup {
    #[serde(default)]
    pub targets: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    pub labels: Option<Spanned<BTreeMap<String, String>>>,
}

impl RawTargetGroup {
    /// Builds the group; label names must be non-empty.
    pub(crate) fn resolve(&self, source: String) -> Result<TargetGroup, FieldError> {
        let mut labels = BTreeMap::new();
        if let Some(l) = &self.labels {
            for (k, v) in &l.value {
                if k.is_empty() {
                    return Err(FieldError {
                        field: "labels",
                        pos: Pos::of(l.referenced),
                        message: "\"\" is not a valid label name".into(),
                    });
                }
                labels.insert(k.clone(), v.clone());
            }
        }
        let targets = self
            .targets
            .iter()
            .flatten()
            .map(|t| BTreeMap::from([("__address__".to_string(), t.value.clone())]))
            .collect();
        Ok(TargetGroup {
            targets,
            labels,
            source,
        })
    }
}

/// `file_sd_configs:` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSdConfig {
    /// File names or globs (`*` only in the last path element), ending in `.json`,
    /// `.yml` or `.yaml`; relative ones are taken from the configuration's directory.
    pub files: Vec<PathBuf>,
    /// How often the files are re-read even without a change (default 5m).
    pub refresh_interval: Duration,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFileSdConfig {
    #[serde(default)]
    pub files: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    pub refresh_interval: Option<Duration>,
}

/// True for a file_sd name Prometheus accepts: `^[^*]*(\*[^/]*)?\.(json|yml|yaml)$`
/// (extension in lower or upper case).
pub(crate) fn valid_file_sd_name(name: &str) -> bool {
    let Some((stem, ext)) = name.rsplit_once('.') else {
        return false;
    };
    if !matches!(ext, "json" | "yml" | "yaml" | "JSON" | "YML" | "YAML") {
        return false;
    }
    match stem.find('*') {
        None => true,
        Some(i) => !stem[i + 1..].contains('/'),
    }
}

/// The Kubernetes discovery roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KubernetesRole {
    /// `pod`
    Pod,
    /// `service`
    Service,
    /// `endpoints`
    Endpoints,
    /// `endpointslice`
    EndpointSlice,
    /// `node`
    Node,
    /// `ingress`
    Ingress,
}

impl KubernetesRole {
    /// The name used in configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            KubernetesRole::Pod => "pod",
            KubernetesRole::Service => "service",
            KubernetesRole::Endpoints => "endpoints",
            KubernetesRole::EndpointSlice => "endpointslice",
            KubernetesRole::Node => "node",
            KubernetesRole::Ingress => "ingress",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pod" => KubernetesRole::Pod,
            "service" => KubernetesRole::Service,
            "endpoints" => KubernetesRole::Endpoints,
            "endpointslice" => KubernetesRole::EndpointSlice,
            "node" => KubernetesRole::Node,
            "ingress" => KubernetesRole::Ingress,
            _ => return None,
        })
    }

    /// The selector roles this role accepts.
    fn allowed_selectors(self) -> &'static [&'static str] {
        match self {
            KubernetesRole::Pod => &["pod", "node"],
            KubernetesRole::Service => &["service"],
            KubernetesRole::EndpointSlice => &["pod", "service", "endpointslice"],
            KubernetesRole::Endpoints => &["pod", "service", "endpoints"],
            KubernetesRole::Node => &["node"],
            KubernetesRole::Ingress => &["ingress"],
        }
    }
}

impl<'de> Deserialize<'de> for KubernetesRole {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        KubernetesRole::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown Kubernetes SD role {s:?}")))
    }
}

/// `namespaces:` of a Kubernetes SD config.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamespaceDiscovery {
    /// Also watch the namespace promlite runs in.
    #[serde(default)]
    pub own_namespace: bool,
    /// The namespaces to watch (all when empty).
    #[serde(default)]
    pub names: Vec<String>,
}

/// One `selectors:` entry: label and field selectors for one role's objects.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesSelector {
    /// The role whose objects are filtered.
    pub role: KubernetesRole,
    /// A label selector (`app=x,tier!=y`).
    #[serde(default)]
    pub label: String,
    /// A field selector.
    #[serde(default)]
    pub field: String,
}

/// `attach_metadata:`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttachMetadata {
    /// Attach the node's labels (`__meta_kubernetes_node_*`).
    #[serde(default)]
    pub node: bool,
    /// Attach the namespace's labels and annotations.
    #[serde(default)]
    pub namespace: bool,
}

/// `kubernetes_sd_configs:` entry, with Prometheus's fields. Discovery itself lives in
/// the `promlite-discovery` crate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubernetesSdConfig {
    /// What to discover.
    pub role: KubernetesRole,
    /// The API server URL; in-cluster configuration when absent.
    pub api_server: Option<String>,
    /// A kubeconfig file (exclusive with `api_server`).
    pub kubeconfig_file: Option<PathBuf>,
    /// Which namespaces.
    pub namespaces: NamespaceDiscovery,
    /// Label and field selectors.
    pub selectors: Vec<KubernetesSelector>,
    /// Extra metadata to attach.
    pub attach_metadata: AttachMetadata,
    /// How to reach the API server.
    pub http_client: HttpClientConfig,
}

with_http_client_fields! {
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct RawKubernetesSdConfig {
        #[serde(default)]
        role: Option<KubernetesRole>,
        #[serde(default)]
        api_server: Option<Spanned<String>>,
        #[serde(default)]
        kubeconfig_file: Option<Spanned<String>>,
        #[serde(default)]
        namespaces: Option<Spanned<NamespaceDiscovery>>,
        #[serde(default)]
        selectors: Option<Vec<Spanned<KubernetesSelector>>>,
        #[serde(default)]
        attach_metadata: Option<AttachMetadata>,
    }
}

impl RawKubernetesSdConfig {
    pub(crate) fn resolve(
        &self,
        at: Pos,
        dir: Option<&std::path::Path>,
    ) -> Result<KubernetesSdConfig, FieldError> {
        let e = |field: &'static str, pos: Pos, message: String| FieldError {
            field,
            pos,
            message,
        };
        let p = |s: &Spanned<String>| Pos::of(s.referenced);
        let Some(role) = self.role else {
            return Err(e(
                "role",
                at,
                "role missing (one of: pod, service, endpoints, endpointslice, node, ingress)"
                    .into(),
            ));
        };
        let raw_http = self.raw_http();
        let http_client = raw_http.resolve(dir)?;
        if let (Some(a), Some(_)) = (&self.api_server, &self.kubeconfig_file) {
            return Err(e(
                "api_server",
                p(a),
                "cannot use 'kubeconfig_file' and 'api_server' simultaneously".into(),
            ));
        }
        if let Some(a) = &self.api_server {
            let u = a.value.as_str();
            let ok = (u.starts_with("http://") || u.starts_with("https://"))
                && u.split_once("://")
                    .is_some_and(|(_, rest)| !rest.is_empty());
            if !ok {
                return Err(e(
                    "api_server",
                    p(a),
                    format!("invalid api_server URL {u:?}"),
                ));
            }
        }
        if let Some(k) = &self.kubeconfig_file {
            if !raw_http.is_default() {
                return Err(e(
                    "kubeconfig_file",
                    p(k),
                    "cannot use a custom HTTP client configuration together with 'kubeconfig_file'"
                        .into(),
                ));
            }
        }
        if self.api_server.is_none() && self.kubeconfig_file.is_none() && !raw_http.is_default() {
            return Err(e(
                "api_server",
                at,
                "to use custom HTTP client configuration please provide the 'api_server' URL explicitly".into(),
            ));
        }
        let namespaces = self
            .namespaces
            .as_ref()
            .map(|n| n.value.clone())
            .unwrap_or_default();
        if namespaces.own_namespace {
            let npos = self
                .namespaces
                .as_ref()
                .map(|n| Pos::of(n.referenced))
                .unwrap_or(at);
            if self.api_server.is_some() {
                return Err(e(
                    "namespaces",
                    npos,
                    "cannot use 'api_server' and 'namespaces.own_namespace' simultaneously".into(),
                ));
            }
            if self.kubeconfig_file.is_some() {
                return Err(e(
                    "namespaces",
                    npos,
                    "cannot use 'kubeconfig_file' and 'namespaces.own_namespace' simultaneously"
                        .into(),
                ));
            }
        }
        let mut seen = Vec::new();
        for s in self.selectors.iter().flatten() {
            let pos = Pos::of(s.referenced);
            if seen.contains(&s.value.role) {
                return Err(e(
                    "selectors",
                    pos,
                    format!("duplicated selector role: {}", s.value.role.as_str()),
                ));
            }
            seen.push(s.value.role);
            let allowed = role.allowed_selectors();
            if !allowed.contains(&s.value.role.as_str()) {
                return Err(e(
                    "selectors",
                    pos,
                    format!(
                        "{} role supports only {} selectors",
                        role.as_str(),
                        allowed.join(", ")
                    ),
                ));
            }
        }
        Ok(KubernetesSdConfig {
            role,
            api_server: self.api_server.as_ref().map(|a| a.value.clone()),
            kubeconfig_file: self.kubeconfig_file.as_ref().map(|k| match dir {
                Some(d) if std::path::Path::new(&k.value).is_relative() => d.join(&k.value),
                _ => PathBuf::from(&k.value),
            }),
            namespaces,
            selectors: self
                .selectors
                .iter()
                .flatten()
                .map(|s| s.value.clone())
                .collect(),
            attach_metadata: self.attach_metadata.clone().unwrap_or_default(),
            http_client,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_sd_names_follow_prometheus_pattern() {
        for ok in [
            "a.json",
            "dir/*.yml",
            "/x/y/t*.yaml",
            "T.JSON",
            "a*b.yml",
            "a**.json",
        ] {
            assert!(valid_file_sd_name(ok), "{ok}");
        }
        for bad in ["a.txt", "a", "*/x.json", "a.Json", "d*/x.yml"] {
            assert!(!valid_file_sd_name(bad), "{bad}");
        }
    }
}
