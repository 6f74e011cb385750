//! `prometheus.yml` for promlite.
//!
//! - [`Config`]: the configuration file with Prometheus's defaults and validation;
//!   every error names the file, the field and its line and column;
//! - [`relabel`]: relabeling rules, every action;
//! - [`targets`]: target label sets from discovered groups, as Prometheus builds them;
//! - [`discovery`]: `static_configs` and `file_sd_configs`.
//!
//! ```
//! use promlite_config::Config;
//!
//! let yaml = r#"
//! global: {scrape_interval: 15s}
//! scrape_configs:
//! - job_name: node
//!   static_configs: [{targets: ['localhost:9100']}]
//! "#;
//! let cfg = Config::from_yaml(
//!     yaml,
//!     "prometheus.yml",
//!     None,
//! )?;
//! let job = &cfg.scrape_configs[0];
//! assert_eq!(job.scrape_interval.to_string(), "15s");
//! assert_eq!(job.scrape_timeout.to_string(), "10s");
//! assert_eq!(job.metrics_path, "/metrics");
//!
//! let err = Config::from_yaml("scrape_configs:\n- job_name: x\n  scrape_interval: 1x\n", "p.yml", None)
//!     .unwrap_err();
//! assert_eq!(err.to_string(),
//!     "p.yml:3:20: scrape_configs[0].scrape_interval: not a valid duration string: \"1x\"");
//! # Ok::<(), promlite_config::ConfigError>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod config;
pub mod discovery;
mod duration;
mod error;
mod http;
pub mod relabel;
mod sd;
pub mod targets;

pub use config::{Config, GlobalConfig, ScrapeConfig, DEFAULT_SCRAPE_PROTOCOLS, SCRAPE_PROTOCOLS};
pub use duration::{ByteSize, Duration};
pub use error::{ConfigError, Pos};
pub use http::{Authorization, BasicAuth, HttpClientConfig, TlsConfig};
pub use sd::{
    AttachMetadata, FileSdConfig, KubernetesRole, KubernetesSdConfig, KubernetesSelector,
    NamespaceDiscovery, TargetGroup,
};
