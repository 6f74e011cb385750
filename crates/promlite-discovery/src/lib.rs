//! Service discovery for promlite: Kubernetes pods, endpoints and endpoint slices as
//! target groups with exactly the `__meta_kubernetes_*` labels Prometheus sets, found
//! by list and watch over the Kubernetes REST API — synchronous, on plain threads, no
//! async runtime (a watch is one long streamed HTTP response of JSON lines).
//!
//! Pipeline stage: discovery → [`TargetGroup`]s → relabeling → scrape targets.
//!
//! ```no_run
//! use promlite_discovery::{Auth, KubernetesDiscovery, KubernetesOptions, Role};
//! use std::time::Duration;
//!
//! let mut opts = KubernetesOptions::new(Role::Pod).with_api_server("https://10.0.0.1:6443");
//! opts.auth = Auth::BearerFile("/etc/promlite/token".into());
//! opts.tls.ca_file = Some("/etc/promlite/ca.crt".into());
//! opts.namespaces = vec!["kube-system".to_string()];
//! let sd = KubernetesDiscovery::start(opts, |groups| {
//!     for g in groups {
//!         println!("{}: {} targets", g.source, g.targets.len());
//!     }
//! })?;
//! sd.wait_synced(Duration::from_secs(10));
//! for group in sd.snapshot() {
//!     for target in group.merged_targets() {
//!         println!("{target}");
//!     }
//! }
//! sd.stop();
//! # Ok::<(), promlite_discovery::DiscoveryError>(())
//! ```
//!
//! With `api_server` left `None`, the in-cluster configuration is used: the URL from
//! `KUBERNETES_SERVICE_HOST`/`KUBERNETES_SERVICE_PORT`, the token and CA from
//! [`SERVICE_ACCOUNT_DIR`].
//!
//! The label builders are pure functions of the API objects and are checked against
//! the labels Prometheus documents for each role; the crate's tests run a fake API
//! server over HTTPS with list, watch, `410 Gone` and broken streams.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(missing_debug_implementations)]

mod client;
mod discovery;
mod endpoints;
mod endpointslice;
mod error;
mod group;
mod index;
mod meta;
mod objects;
mod options;
mod pod;
mod reflector;
#[cfg(test)]
mod role_tests;

pub use discovery::{DiscoveryStats, KubernetesDiscovery, OnUpdate};
pub use error::DiscoveryError;
pub use group::TargetGroup;
pub use options::{Auth, KubernetesOptions, Role, Selector, TlsOptions, SERVICE_ACCOUNT_DIR};
