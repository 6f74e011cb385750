//! `promlite serve --config FILE`: runs a prometheus.yml's scrape jobs with
//! [`promlite::scrape::manager::ScrapeManager`], feeds it Kubernetes discovery, and
//! answers `/api/v1/targets`, `/api/v1/status/config` and `POST /-/reload` (SIGHUP
//! reloads too).
//!
//! One configuration runs per process: [`install`] registers it for the API router
//! ([`route`]), which answers nothing (falls through) when no `--config` was given.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use promlite::config::{Config, KubernetesSdConfig, TargetGroup};
use promlite::scrape::manager::{ActiveTarget, ScrapeManager};
use promlite::store::Store;
use promlite_discovery::{Auth, KubernetesDiscovery, KubernetesOptions, Role, Selector};
use serde_json::{json, Map, Value};

use super::api::Response;

/// A loaded configuration and what runs it.
pub struct ConfigRuntime {
    path: PathBuf,
    manager: Arc<ScrapeManager>,
    /// The configuration file's text as last loaded.
    yaml: Mutex<String>,
    /// The last loaded configuration (scrape intervals for the targets API).
    config: Mutex<Config>,
    kubernetes: Mutex<Vec<KubernetesDiscovery>>,
    /// Serialises reloads.
    reloading: Mutex<()>,
}

impl std::fmt::Debug for ConfigRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigRuntime")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

static RUNTIME: OnceLock<Arc<ConfigRuntime>> = OnceLock::new();

/// Loads `path`, starts its scrape jobs writing into `store`, and registers the
/// runtime for the API router.
///
/// # Errors
/// The configuration error (file, field, line and column), or a Kubernetes
/// discovery setting promlite cannot run.
pub fn install(path: &Path, store: Arc<Store>) -> Result<Arc<ConfigRuntime>, String> {
    let (text, cfg) = load(path)?;
    let rt = Arc::new(ConfigRuntime {
        path: path.to_path_buf(),
        manager: Arc::new(ScrapeManager::new(store)),
        yaml: Mutex::new(String::new()),
        config: Mutex::new(cfg.clone()),
        kubernetes: Mutex::new(Vec::new()),
        reloading: Mutex::new(()),
    });
    rt.apply(text, cfg)?;
    RUNTIME
        .set(Arc::clone(&rt))
        .map_err(|_| "a configuration is already running".to_string())?;
    Ok(rt)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn load(path: &Path) -> Result<(String, Config), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let cfg = Config::load_file(path).map_err(|e| e.to_string())?;
    Ok((text, cfg))
}

impl ConfigRuntime {
    /// Re-reads the file and applies it; a bad file leaves everything running as
    /// it was. Targets that stay keep their loops and their data.
    ///
    /// # Errors
    /// Why the new configuration was rejected.
    pub fn reload(&self) -> Result<(), String> {
        let _one = lock(&self.reloading);
        let (text, cfg) = load(&self.path)?;
        self.apply(text, cfg)
    }

    fn apply(&self, text: String, cfg: Config) -> Result<(), String> {
        // Build every discovery's options first: an unsupported setting rejects the
        // whole configuration before anything changes.
        let mut plans = Vec::new();
        for job in &cfg.scrape_configs {
            let mut opts = Vec::new();
            for (i, sd) in job.kubernetes_sd_configs.iter().enumerate() {
                let o = kubernetes_options(sd).map_err(|e| {
                    format!(
                        "{}: scrape_configs job {:?} kubernetes_sd_configs[{i}]: {e}",
                        self.path.display(),
                        job.job_name
                    )
                })?;
                opts.push(o);
            }
            if !opts.is_empty() {
                plans.push((job.job_name.clone(), job.static_configs.clone(), opts));
            }
        }
        for d in std::mem::take(&mut *lock(&self.kubernetes)) {
            d.stop();
        }
        self.manager.apply_config(&cfg);
        let mut started = Vec::new();
        for (job, statics, opts) in plans {
            let groups: Arc<Mutex<BTreeMap<(usize, String), TargetGroup>>> = Arc::default();
            for (i, o) in opts.into_iter().enumerate() {
                let (m, g, j, st) = (
                    Arc::clone(&self.manager),
                    Arc::clone(&groups),
                    job.clone(),
                    statics.clone(),
                );
                let d = KubernetesDiscovery::start(o, move |update| {
                    let mut g = lock(&g);
                    for tg in update {
                        let k = (i, tg.source.clone());
                        if tg.targets.is_empty() {
                            g.remove(&k);
                        } else {
                            g.insert(k, convert(&tg));
                        }
                    }
                    let mut all = st.clone();
                    all.extend(g.values().cloned());
                    m.sync(&j, &all);
                })
                .map_err(|e| format!("job {job:?}: Kubernetes discovery: {e}"))?;
                started.push(d);
            }
        }
        *lock(&self.kubernetes) = started;
        *lock(&self.yaml) = text;
        *lock(&self.config) = cfg;
        Ok(())
    }
}

/// A discovery group as the configuration crate's relabeling takes it.
fn convert(g: &promlite_discovery::TargetGroup) -> TargetGroup {
    let map = |l: &promlite::model::Labels| {
        l.iter()
            .map(|l| (l.name.to_string(), l.value.to_string()))
            .collect::<BTreeMap<_, _>>()
    };
    TargetGroup {
        targets: g.targets.iter().map(map).collect(),
        labels: map(&g.labels),
        source: g.source.clone(),
    }
}

/// A `kubernetes_sd_configs` entry as discovery options.
fn kubernetes_options(sd: &KubernetesSdConfig) -> Result<KubernetesOptions, String> {
    if sd.kubeconfig_file.is_some() {
        return Err("kubeconfig_file is not supported (give api_server)".into());
    }
    if sd.attach_metadata.node || sd.attach_metadata.namespace {
        return Err("attach_metadata is not supported".into());
    }
    let role = Role::from_name(sd.role.as_str()).map_err(|e| e.to_string())?;
    let mut o = KubernetesOptions::new(role);
    if let Some(a) = &sd.api_server {
        o = o.with_api_server(a.clone());
    }
    o.namespaces = sd.namespaces.names.clone();
    o.own_namespace = sd.namespaces.own_namespace;
    o.selectors = sd
        .selectors
        .iter()
        .map(|s| Selector {
            role: s.role.as_str().to_string(),
            label: Some(s.label.clone()).filter(|v| !v.is_empty()),
            field: Some(s.field.clone()).filter(|v| !v.is_empty()),
        })
        .collect();
    let h = &sd.http_client;
    o.auth = match (&h.authorization, &h.basic_auth) {
        (Some(a), _) if !a.type_.eq_ignore_ascii_case("bearer") => {
            return Err(format!("authorization type {:?} is not supported", a.type_))
        }
        (Some(a), _) => match (&a.credentials, &a.credentials_file) {
            (Some(c), _) => Auth::Bearer(c.clone()),
            (None, Some(f)) => Auth::BearerFile(f.clone()),
            (None, None) => Auth::None,
        },
        (None, Some(b)) => {
            let username = match (&b.username, &b.username_file) {
                (Some(u), _) => u.clone(),
                (None, Some(f)) => std::fs::read_to_string(f)
                    .map_err(|e| format!("basic_auth username_file {}: {e}", f.display()))?
                    .trim()
                    .to_string(),
                (None, None) => String::new(),
            };
            Auth::Basic {
                username,
                password: b.password.clone(),
                password_file: b.password_file.clone(),
            }
        }
        (None, None) => Auth::None,
    };
    let t = &h.tls_config;
    if t.ca.is_some() || t.cert.is_some() || t.key.is_some() {
        return Err("inline tls_config ca/cert/key are not supported (use the _file forms)".into());
    }
    o.tls.ca_file = t.ca_file.clone();
    o.tls.cert_file = t.cert_file.clone();
    o.tls.key_file = t.key_file.clone();
    o.tls.server_name = t.server_name.clone();
    o.tls.insecure_skip_verify = t.insecure_skip_verify;
    o.validate().map_err(|e| e.to_string())?;
    Ok(o)
}

/// Answers the configuration endpoints, or `None` for every other request (and for
/// all of them when no `--config` is running).
pub fn route(method: &str, url: &str) -> Option<Response> {
    let rt = RUNTIME.get()?;
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let answer = |data: Value| Response::json(200, &json!({"status": "success", "data": data}));
    match (path, method) {
        ("/api/v1/targets", "GET") => {
            let mut state = "any".to_string();
            let mut pool: Option<String> = None;
            for (k, v) in form_urlencoded::parse(query.as_bytes()) {
                match &*k {
                    "state" => state = v.to_ascii_lowercase(),
                    "scrapePool" => pool = Some(v.into_owned()),
                    _ => {}
                }
            }
            Some(answer(targets_json(rt, &state, pool.as_deref())))
        }
        ("/api/v1/status/config", "GET") => Some(answer(json!({"yaml": *lock(&rt.yaml)}))),
        ("/-/reload", "POST" | "PUT") => Some(match rt.reload() {
            Ok(()) => Response::json(200, &json!({"status": "success"})),
            Err(e) => Response::error(500, "internal", &format!("failed to reload config: {e}")),
        }),
        ("/api/v1/targets" | "/api/v1/status/config" | "/-/reload", _) => {
            Some(Response::error(405, "bad_data", "method not allowed"))
        }
        _ => None,
    }
}

fn labels_json<'a>(it: impl Iterator<Item = (&'a str, &'a str)>) -> Value {
    Value::Object(
        it.map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect::<Map<_, _>>(),
    )
}

fn rfc3339(ms: i64) -> String {
    use time::format_description::well_known::Rfc3339;
    if ms == 0 {
        return "0001-01-01T00:00:00Z".into();
    }
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

fn active_json(t: &ActiveTarget) -> Value {
    let s = &t.status;
    json!({
        "discoveredLabels": labels_json(t.target.discovered_labels.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
        "labels": labels_json(t.target.public_labels()),
        "scrapePool": t.job,
        "scrapeUrl": t.scrape_url,
        "globalUrl": t.scrape_url,
        "lastError": s.last_error,
        "lastScrape": rfc3339(s.last_scrape_ms),
        "lastScrapeDuration": s.last_duration.as_secs_f64(),
        "health": s.health.as_str(),
        "scrapeInterval": t.target.scrape_interval().to_string(),
        "scrapeTimeout": t.target.scrape_timeout().to_string(),
    })
}

fn targets_json(rt: &ConfigRuntime, state: &str, pool: Option<&str>) -> Value {
    let in_pool = |job: &str| pool.is_none_or(|p| p == job);
    let active: Vec<Value> = if matches!(state, "active" | "any" | "") {
        rt.manager
            .active_targets()
            .iter()
            .filter(|t| in_pool(&t.job))
            .map(active_json)
            .collect()
    } else {
        Vec::new()
    };
    let dropped: Vec<Value> = if matches!(state, "dropped" | "any" | "") {
        rt.manager
            .dropped_targets()
            .iter()
            .filter(|(job, _)| in_pool(job))
            .map(|(_, d)| {
                json!({"discoveredLabels": labels_json(
                    d.discovered_labels.iter().map(|(k, v)| (k.as_str(), v.as_str()))
                )})
            })
            .collect()
    } else {
        Vec::new()
    };
    json!({"activeTargets": active, "droppedTargets": dropped})
}

/// Reloads on every SIGHUP, on a thread of its own, for the life of the process.
pub fn reload_on_sighup(rt: Arc<ConfigRuntime>) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .map_err(|e| format!("signal runtime: {e}"))?;
    let mut hup = runtime
        .block_on(async { tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) })
        .map_err(|e| format!("SIGHUP handler: {e}"))?;
    std::thread::spawn(move || {
        runtime.block_on(async move {
            while hup.recv().await.is_some() {
                let rt = Arc::clone(&rt);
                let r = tokio::task::spawn_blocking(move || rt.reload()).await;
                match r {
                    Ok(Ok(())) => eprintln!("promlite serve: configuration reloaded"),
                    Ok(Err(e)) => eprintln!("promlite serve: reload failed: {e}"),
                    Err(e) => eprintln!("promlite serve: reload failed: {e}"),
                }
            }
        })
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sd(yaml_sd: &str) -> KubernetesSdConfig {
        let text =
            format!("scrape_configs:\n- job_name: k\n  kubernetes_sd_configs:\n  - {yaml_sd}\n");
        let cfg = Config::from_yaml(&text, "t.yml", None).expect("valid config");
        cfg.scrape_configs[0].kubernetes_sd_configs[0].clone()
    }

    #[test]
    fn kubernetes_sd_config_maps_onto_discovery_options() {
        let o = kubernetes_options(&sd(
            "{role: endpoints, api_server: 'https://10.0.0.1:6443', \
             namespaces: {names: [kube-system, default]}, \
             selectors: [{role: pod, label: 'app=web'}, {role: service, field: 'metadata.name=x'}], \
             authorization: {credentials_file: /tok}, \
             tls_config: {ca_file: /ca.crt, server_name: kubernetes, insecure_skip_verify: true}}",
        ))
        .expect("supported");
        assert_eq!(o.role, Role::Endpoints);
        assert_eq!(o.api_server.as_deref(), Some("https://10.0.0.1:6443"));
        assert_eq!(o.namespaces, ["kube-system", "default"]);
        assert!(!o.own_namespace);
        assert_eq!(
            o.selectors,
            [
                Selector {
                    role: "pod".into(),
                    label: Some("app=web".into()),
                    field: None
                },
                Selector {
                    role: "service".into(),
                    label: None,
                    field: Some("metadata.name=x".into())
                },
            ]
        );
        assert_eq!(o.auth, Auth::BearerFile("/tok".into()));
        assert_eq!(o.tls.ca_file.as_deref(), Some(Path::new("/ca.crt")));
        assert_eq!(o.tls.server_name.as_deref(), Some("kubernetes"));
        assert!(o.tls.insecure_skip_verify);

        let o = kubernetes_options(&sd(
            "{role: pod, api_server: 'http://127.0.0.1:1', basic_auth: {username: u, password: p}}",
        ))
        .expect("supported");
        assert_eq!(
            o.auth,
            Auth::Basic {
                username: "u".into(),
                password: Some("p".into()),
                password_file: None
            }
        );
        assert_eq!(o.role, Role::Pod);
    }

    #[test]
    fn unsupported_kubernetes_settings_are_refused() {
        let e = kubernetes_options(&sd("{role: pod, kubeconfig_file: /kc}")).unwrap_err();
        assert!(e.contains("kubeconfig_file"), "{e}");
    }

    #[test]
    fn discovery_groups_convert_with_their_labels() {
        let g = promlite_discovery::TargetGroup {
            source: "pod/ns/p".into(),
            targets: vec![promlite::model::Labels::from_pairs([(
                "__address__".to_string(),
                "10.1.2.3:80".to_string(),
            )])],
            labels: promlite::model::Labels::from_pairs([(
                "__meta_kubernetes_namespace".to_string(),
                "ns".to_string(),
            )]),
        };
        let c = convert(&g);
        assert_eq!(c.source, "pod/ns/p");
        assert_eq!(c.targets[0]["__address__"], "10.1.2.3:80");
        assert_eq!(c.labels["__meta_kubernetes_namespace"], "ns");
    }
}
