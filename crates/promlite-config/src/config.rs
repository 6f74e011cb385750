//! The configuration file: `global`, `scrape_configs`, and the sections other parts of
//! promlite read (`rule_files`, `alerting`, `remote_write`, `remote_read`), with
//! Prometheus's defaults and validation.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::duration::{ByteSize, Duration};
use crate::error::{ConfigError, Pos};
use crate::http::{with_http_client_fields, HttpClientConfig};
use crate::relabel::{FieldError, RawRelabelConfig, RelabelConfig};
use crate::sd::{
    valid_file_sd_name, FileSdConfig, KubernetesSdConfig, RawFileSdConfig, RawKubernetesSdConfig,
    RawTargetGroup, TargetGroup,
};

/// The scrape protocols Prometheus knows (`scrape_protocols`, `fallback_scrape_protocol`).
pub const SCRAPE_PROTOCOLS: [&str; 5] = [
    "PrometheusProto",
    "OpenMetricsText0.0.1",
    "OpenMetricsText1.0.0",
    "PrometheusText0.0.4",
    "PrometheusText1.0.0",
];

/// Prometheus 3's default `scrape_protocols`.
pub const DEFAULT_SCRAPE_PROTOCOLS: [&str; 4] = [
    "OpenMetricsText1.0.0",
    "OpenMetricsText0.0.1",
    "PrometheusText1.0.0",
    "PrometheusText0.0.4",
];

/// `global:` with defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalConfig {
    /// Default scrape interval (1m).
    pub scrape_interval: Duration,
    /// Default scrape timeout (10s, or the interval when shorter).
    pub scrape_timeout: Duration,
    /// Default accepted scrape protocols, in order of preference (empty: per job).
    pub scrape_protocols: Vec<String>,
    /// How often rules are evaluated (1m).
    pub evaluation_interval: Duration,
    /// How far back rule queries are offset (0).
    pub rule_query_offset: Duration,
    /// Labels added to series and alerts sent outside (remote write, alerts).
    pub external_labels: BTreeMap<String, String>,
    /// Largest uncompressed scrape body in bytes (0: no limit).
    pub body_size_limit: u64,
    /// Most samples per scrape (0: no limit).
    pub sample_limit: u64,
    /// Most targets per job after relabeling (0: no limit).
    pub target_limit: u64,
    /// Most labels per series (0: no limit).
    pub label_limit: u64,
    /// Longest label name (0: no limit).
    pub label_name_length_limit: u64,
    /// Longest label value (0: no limit).
    pub label_value_length_limit: u64,
    /// How many dropped targets each job keeps for display (0: all).
    pub keep_dropped_targets: u64,
    /// Where the query log goes (kept, not used by promlite).
    pub query_log_file: Option<String>,
}

impl Default for GlobalConfig {
    fn default() -> Self {
        GlobalConfig {
            scrape_interval: Duration::from_secs(60),
            scrape_timeout: Duration::from_secs(10),
            scrape_protocols: Vec::new(),
            evaluation_interval: Duration::from_secs(60),
            rule_query_offset: Duration::from_millis(0),
            external_labels: BTreeMap::new(),
            body_size_limit: 0,
            sample_limit: 0,
            target_limit: 0,
            label_limit: 0,
            label_name_length_limit: 0,
            label_value_length_limit: 0,
            keep_dropped_targets: 0,
            query_log_file: None,
        }
    }
}

/// One `scrape_configs:` entry with defaults (its own, then `global`'s) applied.
#[derive(Debug, Clone, PartialEq)]
pub struct ScrapeConfig {
    /// The `job` label of its targets; unique in the file.
    pub job_name: String,
    /// Keep the scraped series' labels when they clash with target labels.
    pub honor_labels: bool,
    /// Use the timestamps the target exposes (default true).
    pub honor_timestamps: bool,
    /// Mark series with explicit timestamps stale when they disappear.
    pub track_timestamps_staleness: bool,
    /// URL query parameters (`__param_<name>` labels override the first value).
    pub params: BTreeMap<String, Vec<String>>,
    /// How often to scrape.
    pub scrape_interval: Duration,
    /// How long a scrape may take (≤ the interval).
    pub scrape_timeout: Duration,
    /// Accepted protocols, in order of preference.
    pub scrape_protocols: Vec<String>,
    /// The protocol assumed when the response's Content-Type is missing or unknown.
    pub fallback_scrape_protocol: Option<String>,
    /// The path scraped (default `/metrics`).
    pub metrics_path: String,
    /// `http` (default) or `https`.
    pub scheme: String,
    /// Ask for gzip (default true).
    pub enable_compression: bool,
    /// Largest uncompressed body in bytes (0: no limit).
    pub body_size_limit: u64,
    /// Most samples per scrape (0: no limit).
    pub sample_limit: u64,
    /// Most targets after relabeling (0: no limit).
    pub target_limit: u64,
    /// Most labels per series (0: no limit).
    pub label_limit: u64,
    /// Longest label name (0: no limit).
    pub label_name_length_limit: u64,
    /// Longest label value (0: no limit).
    pub label_value_length_limit: u64,
    /// How many dropped targets to keep for display (0: all).
    pub keep_dropped_targets: u64,
    /// Credentials, TLS, redirects.
    pub http_client: HttpClientConfig,
    /// `static_configs` target groups.
    pub static_configs: Vec<TargetGroup>,
    /// `file_sd_configs`.
    pub file_sd_configs: Vec<FileSdConfig>,
    /// `kubernetes_sd_configs`.
    pub kubernetes_sd_configs: Vec<KubernetesSdConfig>,
    /// Rules applied to discovered targets.
    pub relabel_configs: Vec<RelabelConfig>,
    /// Rules applied to every scraped series.
    pub metric_relabel_configs: Vec<RelabelConfig>,
}

/// A whole configuration file.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `global:`.
    pub global: GlobalConfig,
    /// `scrape_configs:`.
    pub scrape_configs: Vec<ScrapeConfig>,
    /// `rule_files:` (paths or globs, relative ones taken from the file's directory).
    pub rule_files: Vec<String>,
    /// `alerting:`, kept as written for the alerting component.
    pub alerting: Option<serde_json::Value>,
    /// `remote_write:` entries, kept as written for the remote-write component.
    pub remote_write: Vec<serde_json::Value>,
    /// `remote_read:` entries, kept as written.
    pub remote_read: Vec<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    global: Option<RawGlobal>,
    #[serde(default)]
    scrape_configs: Option<Vec<Spanned<Option<RawScrapeConfig>>>>,
    #[serde(default)]
    rule_files: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    alerting: Option<serde_json::Value>,
    #[serde(default)]
    remote_write: Option<Vec<serde_json::Value>>,
    #[serde(default)]
    remote_read: Option<Vec<serde_json::Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGlobal {
    #[serde(default)]
    scrape_interval: Option<Spanned<Duration>>,
    #[serde(default)]
    scrape_timeout: Option<Spanned<Duration>>,
    #[serde(default)]
    scrape_protocols: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    evaluation_interval: Option<Duration>,
    #[serde(default)]
    rule_query_offset: Option<Duration>,
    #[serde(default)]
    query_log_file: Option<String>,
    #[serde(default)]
    external_labels: Option<Spanned<BTreeMap<String, String>>>,
    #[serde(default)]
    body_size_limit: Option<ByteSize>,
    #[serde(default)]
    sample_limit: Option<u64>,
    #[serde(default)]
    target_limit: Option<u64>,
    #[serde(default)]
    label_limit: Option<u64>,
    #[serde(default)]
    label_name_length_limit: Option<u64>,
    #[serde(default)]
    label_value_length_limit: Option<u64>,
    #[serde(default)]
    keep_dropped_targets: Option<u64>,
}

with_http_client_fields! {
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RawScrapeConfig {
        #[serde(default)]
        job_name: Option<Spanned<String>>,
        #[serde(default)]
        honor_labels: Option<bool>,
        #[serde(default)]
        honor_timestamps: Option<bool>,
        #[serde(default)]
        track_timestamps_staleness: Option<bool>,
        #[serde(default)]
        params: Option<BTreeMap<String, Vec<String>>>,
        #[serde(default)]
        scrape_interval: Option<Spanned<Duration>>,
        #[serde(default)]
        scrape_timeout: Option<Spanned<Duration>>,
        #[serde(default)]
        scrape_protocols: Option<Spanned<Vec<String>>>,
        #[serde(default)]
        fallback_scrape_protocol: Option<Spanned<String>>,
        #[serde(default)]
        metrics_path: Option<String>,
        #[serde(default)]
        scheme: Option<String>,
        #[serde(default)]
        enable_compression: Option<bool>,
        #[serde(default)]
        body_size_limit: Option<ByteSize>,
        #[serde(default)]
        sample_limit: Option<u64>,
        #[serde(default)]
        target_limit: Option<u64>,
        #[serde(default)]
        label_limit: Option<u64>,
        #[serde(default)]
        label_name_length_limit: Option<u64>,
        #[serde(default)]
        label_value_length_limit: Option<u64>,
        #[serde(default)]
        keep_dropped_targets: Option<u64>,
        #[serde(default)]
        static_configs: Option<Vec<RawTargetGroup>>,
        #[serde(default)]
        file_sd_configs: Option<Vec<Spanned<RawFileSdConfig>>>,
        #[serde(default)]
        kubernetes_sd_configs: Option<Vec<Spanned<RawKubernetesSdConfig>>>,
        #[serde(default)]
        relabel_configs: Option<Vec<Spanned<Option<RawRelabelConfig>>>>,
        #[serde(default)]
        metric_relabel_configs: Option<Vec<Spanned<Option<RawRelabelConfig>>>>,
    }
}

/// Builds positioned errors for one file.
struct Ctx<'a> {
    file: &'a str,
    dir: Option<&'a Path>,
}

impl Ctx<'_> {
    fn err(&self, field: String, pos: Pos, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.file.to_string(),
            field,
            pos,
            message: message.into(),
        }
    }

    fn field(&self, prefix: &str, e: FieldError) -> ConfigError {
        self.err(format!("{prefix}.{}", e.field), e.pos, e.message)
    }
}

fn at<T>(s: &Spanned<T>) -> Pos {
    Pos::of(s.referenced)
}

/// Zero means "not set" in Prometheus's configuration.
fn nz(v: Option<u64>) -> Option<u64> {
    v.filter(|v| *v != 0)
}

fn check_protocols(
    cx: &Ctx<'_>,
    field: String,
    protos: &Spanned<Vec<String>>,
) -> Result<Vec<String>, ConfigError> {
    let pos = at(protos);
    if protos.value.is_empty() {
        return Err(cx.err(field, pos, "scrape_protocols cannot be empty"));
    }
    for (i, p) in protos.value.iter().enumerate() {
        if !SCRAPE_PROTOCOLS.contains(&p.as_str()) {
            return Err(cx.err(
                field,
                pos,
                format!(
                    "unknown scrape protocol {p}, supported: [{}]",
                    SCRAPE_PROTOCOLS.join(" ")
                ),
            ));
        }
        if protos.value[..i].contains(p) {
            return Err(cx.err(
                field,
                pos,
                format!(
                    "duplicated protocol in scrape_protocols, got [{}]",
                    protos.value.join(" ")
                ),
            ));
        }
    }
    Ok(protos.value.clone())
}

/// True for a path Prometheus accepts in `rule_files`: `*` only in the last element.
fn valid_rule_path(p: &str) -> bool {
    match p.find('*') {
        None => true,
        Some(i) => !p[i + 1..].contains('/'),
    }
}

impl RawGlobal {
    fn resolve(self, cx: &Ctx<'_>) -> Result<GlobalConfig, ConfigError> {
        let d = GlobalConfig::default();
        if let Some(l) = &self.external_labels {
            if l.value.keys().any(String::is_empty) {
                return Err(cx.err(
                    "global.external_labels".into(),
                    at(l),
                    "\"\" is not a valid label name",
                ));
            }
        }
        let interval = self
            .scrape_interval
            .as_ref()
            .map(|s| s.value)
            .filter(|d| d.as_millis() != 0)
            .unwrap_or(d.scrape_interval);
        let timeout = self
            .scrape_timeout
            .as_ref()
            .map(|s| s.value)
            .filter(|d| d.as_millis() != 0);
        if let (Some(t), Some(ts)) = (timeout, &self.scrape_timeout) {
            if t > interval {
                return Err(cx.err(
                    "global.scrape_timeout".into(),
                    at(ts),
                    "global scrape timeout greater than scrape interval",
                ));
            }
        }
        let scrape_protocols = match &self.scrape_protocols {
            Some(p) => {
                check_protocols(cx, "global.scrape_protocols".into(), p).map_err(|mut e| {
                    e.message.push_str(" for global config");
                    e
                })?
            }
            None => Vec::new(),
        };
        Ok(GlobalConfig {
            scrape_interval: interval,
            scrape_timeout: timeout.unwrap_or(d.scrape_timeout.min(interval)),
            scrape_protocols,
            evaluation_interval: self
                .evaluation_interval
                .filter(|d| d.as_millis() != 0)
                .unwrap_or(d.evaluation_interval),
            rule_query_offset: self.rule_query_offset.unwrap_or_default(),
            external_labels: self.external_labels.map(|l| l.value).unwrap_or_default(),
            body_size_limit: self.body_size_limit.map(|b| b.0).unwrap_or(0),
            sample_limit: self.sample_limit.unwrap_or(0),
            target_limit: self.target_limit.unwrap_or(0),
            label_limit: self.label_limit.unwrap_or(0),
            label_name_length_limit: self.label_name_length_limit.unwrap_or(0),
            label_value_length_limit: self.label_value_length_limit.unwrap_or(0),
            keep_dropped_targets: self.keep_dropped_targets.unwrap_or(0),
            query_log_file: self.query_log_file,
        })
    }
}

fn resolve_rules(
    cx: &Ctx<'_>,
    prefix: &str,
    what: &str,
    rules: Option<Vec<Spanned<Option<RawRelabelConfig>>>>,
) -> Result<Vec<RelabelConfig>, ConfigError> {
    let mut out = Vec::new();
    for (j, r) in rules.into_iter().flatten().enumerate() {
        let pos = at(&r);
        let here = format!("{prefix}[{j}]");
        let Some(raw) = r.value else {
            return Err(cx.err(
                here,
                pos,
                format!("empty or null {what} relabeling rule in scrape config"),
            ));
        };
        out.push(raw.resolve(pos).map_err(|e| cx.field(&here, e))?);
    }
    Ok(out)
}

impl RawScrapeConfig {
    fn resolve(
        self,
        cx: &Ctx<'_>,
        prefix: &str,
        at_pos: Pos,
        global: &GlobalConfig,
    ) -> Result<ScrapeConfig, ConfigError> {
        let job_name = match &self.job_name {
            Some(j) if !j.value.is_empty() => j.value.clone(),
            Some(j) => {
                return Err(cx.err(format!("{prefix}.job_name"), at(j), "job_name is empty"))
            }
            None => return Err(cx.err(format!("{prefix}.job_name"), at_pos, "job_name is empty")),
        };
        let http_client = self
            .raw_http()
            .resolve(cx.dir)
            .map_err(|e| cx.field(prefix, e))?;
        let interval = self
            .scrape_interval
            .as_ref()
            .map(|s| s.value)
            .filter(|d| d.as_millis() != 0)
            .unwrap_or(global.scrape_interval);
        let timeout = self
            .scrape_timeout
            .as_ref()
            .map(|s| s.value)
            .filter(|d| d.as_millis() != 0);
        if let (Some(t), Some(ts)) = (timeout, &self.scrape_timeout) {
            if t > interval {
                return Err(cx.err(
                    format!("{prefix}.scrape_timeout"),
                    at(ts),
                    format!(
                        "scrape timeout greater than scrape interval for scrape config with job name {job_name:?}"
                    ),
                ));
            }
        }
        let scrape_protocols = match &self.scrape_protocols {
            Some(p) => {
                check_protocols(cx, format!("{prefix}.scrape_protocols"), p).map_err(|mut e| {
                    e.message
                        .push_str(&format!(" for scrape config with job name {job_name:?}"));
                    e
                })?
            }
            None if !global.scrape_protocols.is_empty() => global.scrape_protocols.clone(),
            None => DEFAULT_SCRAPE_PROTOCOLS
                .iter()
                .map(|s| s.to_string())
                .collect(),
        };
        if let Some(f) = &self.fallback_scrape_protocol {
            if !SCRAPE_PROTOCOLS.contains(&f.value.as_str()) {
                return Err(cx.err(
                    format!("{prefix}.fallback_scrape_protocol"),
                    at(f),
                    format!(
                        "invalid fallback_scrape_protocol for scrape config with job name {job_name:?}: unknown scrape protocol {}, supported: [{}]",
                        f.value,
                        SCRAPE_PROTOCOLS.join(" ")
                    ),
                ));
            }
        }
        let mut static_configs = Vec::new();
        for (i, g) in self.static_configs.iter().flatten().enumerate() {
            let here = format!("{prefix}.static_configs[{i}]");
            if self.relabel_configs.as_ref().is_none_or(Vec::is_empty) {
                for t in g.targets.iter().flatten() {
                    if t.value.contains('/') {
                        return Err(cx.err(
                            format!("{here}.targets"),
                            at(t),
                            format!("{:?} is not a valid hostname", t.value),
                        ));
                    }
                }
            }
            static_configs.push(g.resolve(i.to_string()).map_err(|e| cx.field(&here, e))?);
        }
        let mut file_sd_configs = Vec::new();
        for (i, f) in self.file_sd_configs.iter().flatten().enumerate() {
            let here = format!("{prefix}.file_sd_configs[{i}]");
            let files = f.value.files.as_ref();
            let Some(files) = files.filter(|fs| !fs.value.is_empty()) else {
                return Err(cx.err(
                    format!("{here}.files"),
                    files.map(at).unwrap_or(at(f)),
                    "file service discovery config must contain at least one path name",
                ));
            };
            let mut paths = Vec::new();
            for name in &files.value {
                if !valid_file_sd_name(&name.value) {
                    return Err(cx.err(
                        format!("{here}.files"),
                        at(name),
                        format!("path name {:?} is not valid for file discovery", name.value),
                    ));
                }
                let p = Path::new(&name.value);
                paths.push(match cx.dir {
                    Some(d) if p.is_relative() => d.join(p),
                    _ => p.to_path_buf(),
                });
            }
            file_sd_configs.push(FileSdConfig {
                files: paths,
                refresh_interval: f
                    .value
                    .refresh_interval
                    .filter(|d| d.as_millis() != 0)
                    .unwrap_or(Duration::from_secs(300)),
            });
        }
        let mut kubernetes_sd_configs = Vec::new();
        for (i, k) in self.kubernetes_sd_configs.iter().flatten().enumerate() {
            let here = format!("{prefix}.kubernetes_sd_configs[{i}]");
            kubernetes_sd_configs.push(
                k.value
                    .resolve(at(k), cx.dir)
                    .map_err(|e| cx.field(&here, e))?,
            );
        }
        let relabel_configs = resolve_rules(
            cx,
            &format!("{prefix}.relabel_configs"),
            "target",
            self.relabel_configs,
        )?;
        let metric_relabel_configs = resolve_rules(
            cx,
            &format!("{prefix}.metric_relabel_configs"),
            "metric",
            self.metric_relabel_configs,
        )?;
        Ok(ScrapeConfig {
            job_name,
            honor_labels: self.honor_labels.unwrap_or(false),
            honor_timestamps: self.honor_timestamps.unwrap_or(true),
            track_timestamps_staleness: self.track_timestamps_staleness.unwrap_or(false),
            params: self.params.unwrap_or_default(),
            scrape_interval: interval,
            scrape_timeout: timeout.unwrap_or(global.scrape_timeout.min(interval)),
            scrape_protocols,
            fallback_scrape_protocol: self.fallback_scrape_protocol.map(|f| f.value),
            metrics_path: self
                .metrics_path
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| "/metrics".into()),
            scheme: self
                .scheme
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "http".into()),
            enable_compression: self.enable_compression.unwrap_or(true),
            body_size_limit: self
                .body_size_limit
                .map(|b| b.0)
                .filter(|b| *b != 0)
                .unwrap_or(global.body_size_limit),
            sample_limit: nz(self.sample_limit).unwrap_or(global.sample_limit),
            target_limit: nz(self.target_limit).unwrap_or(global.target_limit),
            label_limit: nz(self.label_limit).unwrap_or(global.label_limit),
            label_name_length_limit: nz(self.label_name_length_limit)
                .unwrap_or(global.label_name_length_limit),
            label_value_length_limit: nz(self.label_value_length_limit)
                .unwrap_or(global.label_value_length_limit),
            keep_dropped_targets: nz(self.keep_dropped_targets)
                .unwrap_or(global.keep_dropped_targets),
            http_client,
            static_configs,
            file_sd_configs,
            kubernetes_sd_configs,
            relabel_configs,
            metric_relabel_configs,
        })
    }
}

impl Config {
    /// Reads and validates a configuration file. Relative paths inside it (file_sd
    /// files, credential and TLS files, rule files) are taken from its directory.
    ///
    /// # Errors
    /// [`ConfigError`] naming the file, the field, and a line and column.
    pub fn load_file(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: name.clone(),
            field: String::new(),
            pos: Pos::default(),
            message: e.to_string(),
        })?;
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
        Config::from_yaml(&text, &name, dir)
    }

    /// Parses and validates configuration text; `file` names it in errors and `dir`
    /// resolves relative paths (none when `None`).
    ///
    /// # Errors
    /// [`ConfigError`] naming `file`, the field, and a line and column.
    pub fn from_yaml(text: &str, file: &str, dir: Option<&Path>) -> Result<Config, ConfigError> {
        let mut path = String::new();
        let raw: Result<RawConfig, _> = serde_saphyr::with_deserializer_from_str(text, |de| {
            serde_path_to_error::deserialize(de).map_err(|e| {
                path = e.path().to_string();
                e.into_inner()
            })
        });
        let raw = raw.map_err(|e| ConfigError::from_yaml(file, path, &e))?;
        let cx = Ctx { file, dir };
        let global = match raw.global {
            Some(g) => g.resolve(&cx)?,
            None => GlobalConfig::default(),
        };
        let mut rule_files = Vec::new();
        for (i, r) in raw.rule_files.into_iter().flatten().enumerate() {
            if !valid_rule_path(&r.value) {
                return Err(cx.err(
                    format!("rule_files[{i}]"),
                    at(&r),
                    format!("invalid rule file path {:?}", r.value),
                ));
            }
            let p = Path::new(&r.value);
            rule_files.push(match dir {
                Some(d) if p.is_relative() => d.join(p).display().to_string(),
                _ => r.value,
            });
        }
        let mut scrape_configs: Vec<ScrapeConfig> = Vec::new();
        let mut seen: HashMap<String, Pos> = HashMap::new();
        for (i, sc) in raw.scrape_configs.into_iter().flatten().enumerate() {
            let prefix = format!("scrape_configs[{i}]");
            let pos = at(&sc);
            let Some(raw_sc) = sc.value else {
                return Err(cx.err(prefix, pos, "empty or null scrape config section"));
            };
            let name_pos = raw_sc.job_name.as_ref().map(at).unwrap_or(pos);
            let sc = raw_sc.resolve(&cx, &prefix, pos, &global)?;
            if let Some(first) = seen.get(&sc.job_name) {
                return Err(cx.err(
                    format!("{prefix}.job_name"),
                    name_pos,
                    format!(
                        "found multiple scrape configs with job name {:?} (first at line {})",
                        sc.job_name, first.line
                    ),
                ));
            }
            seen.insert(sc.job_name.clone(), name_pos);
            scrape_configs.push(sc);
        }
        Ok(Config {
            global,
            scrape_configs,
            rule_files,
            alerting: raw.alerting,
            remote_write: raw.remote_write.unwrap_or_default(),
            remote_read: raw.remote_read.unwrap_or_default(),
        })
    }
}
