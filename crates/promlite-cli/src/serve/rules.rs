//! Rules in `promlite serve`: `--rules FILE...` (glob patterns, as Prometheus's
//! `rule_files`) are loaded into a [`Manager`] that a background thread
//! evaluates against the served store; alerts go to the Alertmanagers of
//! `--alertmanager.url` (API v2). `/api/v1/rules`, `/api/v1/alerts` and the
//! rule and notification metrics of `/metrics` read the same manager.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use promlite::rules::api::{alerts_data, rules_data, RuleType, RulesFilter};
use promlite::rules::notifier::{AlertmanagerTarget, Notifier, NotifierOptions};
use promlite::rules::{Manager, ManagerOptions};

use super::api::{Request, Response, State};

/// The flags' help text.
pub const FLAGS_HELP: &str = "\
rule flags:
  --rules FILE...             rule files or glob patterns (Prometheus's rule format),
                              evaluated against the served store
  --rules.evaluation-interval D  interval of groups without their own (default 1m,
                              Prometheus's global.evaluation_interval)
  --alertmanager.url URL...   Alertmanagers (base URL with any path prefix) that get
                              the alerts, through API v2
  --alertmanager.timeout D    timeout of one notification POST (default 10s)";

/// What the rule flags asked for.
#[derive(Debug, Default)]
pub struct RuleArgs {
    pub(super) patterns: Vec<String>,
    pub(super) interval_ms: Option<i64>,
    alertmanagers: Vec<String>,
    timeout: Option<Duration>,
    /// `alerting.alertmanagers` of `--config`, besides `--alertmanager.url`.
    pub(super) config_targets: Vec<AlertmanagerTarget>,
    /// `global.external_labels` of `--config`.
    pub(super) external_labels: promlite::model::Labels,
}

impl RuleArgs {
    /// Whether `flag` (without `--`) is one of these.
    pub fn is_flag(flag: &str) -> bool {
        matches!(
            flag,
            "rules" | "rules.evaluation-interval" | "alertmanager.url" | "alertmanager.timeout"
        )
    }

    /// Reads the value(s) of `flag`.
    ///
    /// # Errors
    /// A missing or bad value.
    pub fn take(&mut self, flag: &str, p: &mut lexopt::Parser) -> Result<(), String> {
        let one = |p: &mut lexopt::Parser| -> Result<String, String> {
            p.value()
                .map_err(|e| e.to_string())?
                .into_string()
                .map_err(|_| format!("--{flag}: value is not UTF-8"))
        };
        let dur = |v: &str| {
            super::api::parse_duration_ms(v)
                .filter(|ms| *ms > 0)
                .ok_or_else(|| format!("bad --{flag} {v:?}"))
        };
        match flag {
            "rules" | "alertmanager.url" => {
                for v in p.values().map_err(|e| e.to_string())? {
                    let v = v
                        .into_string()
                        .map_err(|_| format!("--{flag}: value is not UTF-8"))?;
                    if flag == "rules" {
                        self.patterns.push(v);
                    } else {
                        self.alertmanagers.push(v);
                    }
                }
            }
            "rules.evaluation-interval" => self.interval_ms = Some(dur(&one(p)?)?),
            _ => self.timeout = Some(Duration::from_millis(dur(&one(p)?)? as u64)),
        }
        Ok(())
    }

    /// Expands the patterns and loads the files.
    ///
    /// # Errors
    /// A bad pattern, a pattern that matches nothing that is not a glob (a
    /// missing file), Alertmanager flags without rules, or the rule files'
    /// validation errors (file, line and column).
    pub fn load(&self) -> Result<Option<Rules>, String> {
        if self.patterns.is_empty() {
            if !self.alertmanagers.is_empty() {
                return Err("--alertmanager.url needs --rules".into());
            }
            return Ok(None);
        }
        let mut files = Vec::new();
        for pat in &self.patterns {
            let matched: Vec<_> = glob::glob(pat)
                .map_err(|e| format!("--rules {pat:?}: {e}"))?
                .filter_map(Result::ok)
                .collect();
            if matched.is_empty() && !pat.contains(['*', '?', '[']) {
                return Err(format!("--rules {pat:?}: no such file"));
            }
            files.extend(matched);
        }
        let mut opts = ManagerOptions {
            external_labels: self.external_labels.clone(),
            ..ManagerOptions::default()
        };
        if let Some(ms) = self.interval_ms {
            opts.default_interval_ms = ms;
        }
        let mut mgr = Manager::new(opts);
        mgr.load_files(&files)
            .map_err(|e| format!("loading rules:\n  {}", e.join("\n  ")))?;
        let mut targets: Vec<_> = self
            .alertmanagers
            .iter()
            .map(|u| {
                let mut t = AlertmanagerTarget::new(u.clone());
                if let Some(d) = self.timeout {
                    t.timeout = d;
                }
                t
            })
            .collect();
        targets.extend(self.config_targets.iter().cloned());
        let notifier = (!targets.is_empty()).then(|| {
            Notifier::new(NotifierOptions {
                alertmanagers: targets,
                external_labels: self.external_labels.clone(),
                ..NotifierOptions::default()
            })
        });
        Ok(Some(Rules {
            manager: Arc::new(Mutex::new(mgr)),
            notifier: Arc::new(Mutex::new(notifier)),
        }))
    }
}

/// The served rule manager and its notifier.
#[derive(Debug, Clone)]
pub struct Rules {
    manager: Arc<Mutex<Manager>>,
    notifier: Arc<Mutex<Option<Notifier>>>,
}

impl Rules {
    /// Evaluates due groups every 100 ms on its own thread, forever; after a
    /// round that evaluated something, hands the alerts to the notifier and
    /// sends them (outside the manager's lock, so the API never waits on an
    /// Alertmanager).
    ///
    /// # Errors
    /// The thread could not be started.
    pub fn spawn(&self, state: Arc<State>) -> Result<(), String> {
        let me = self.clone();
        std::thread::Builder::new()
            .name("rules".into())
            .spawn(move || loop {
                let now = promlite::rules::manager::now_ms();
                let evaluated = {
                    let Ok(mut m) = me.manager.lock() else { return };
                    let before: u64 = m.groups().iter().map(|g| g.evaluations_total).sum();
                    for (group, rule, msg) in m.eval_due(state.store(), now) {
                        eprintln!("promlite serve: rule group {group:?}, rule {rule:?}: {msg}");
                    }
                    let after: u64 = m.groups().iter().map(|g| g.evaluations_total).sum();
                    if after != before {
                        if let Ok(mut n) = me.notifier.lock() {
                            if let Some(n) = n.as_mut() {
                                n.collect(&mut m, now);
                            }
                        }
                    }
                    after != before
                };
                if evaluated {
                    if let Ok(mut n) = me.notifier.lock() {
                        if let Some(n) = n.as_mut() {
                            for e in n.flush() {
                                eprintln!("promlite serve: notifying Alertmanager: {e}");
                            }
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(100));
            })
            .map(|_| ())
            .map_err(|e| format!("starting the rules thread: {e}"))
    }

    /// The rule metrics (`prometheus_rule_*`) and notification counters.
    pub fn metrics_text(&self) -> String {
        let mut t = self
            .manager
            .lock()
            .map(|m| promlite::rules::metrics::metrics_text(&m))
            .unwrap_or_default();
        if let Ok(n) = self.notifier.lock() {
            if let Some(n) = n.as_ref() {
                let s = n.stats();
                for (name, typ, help, v) in [
                    (
                        "prometheus_notifications_sent_total",
                        "counter",
                        "Alerts sent.",
                        s.sent_total as f64,
                    ),
                    (
                        "prometheus_notifications_errors_total",
                        "counter",
                        "Alerts that could not be sent.",
                        s.errors_total as f64,
                    ),
                    (
                        "prometheus_notifications_dropped_total",
                        "counter",
                        "Alerts dropped (queue full or send error).",
                        s.dropped_total as f64,
                    ),
                    (
                        "prometheus_notifications_queue_length",
                        "gauge",
                        "Alerts waiting in the queue.",
                        s.queue_length as f64,
                    ),
                ] {
                    t.push_str(&format!(
                        "# HELP {name} {help}\n# TYPE {name} {typ}\n{name} {v}\n"
                    ));
                }
            }
        }
        t
    }
}

/// Answers `/api/v1/rules` and `/api/v1/alerts`; `None` for other paths.
/// Without `--rules` both answer empty lists, as Prometheus does without rule files.
pub fn route(
    rules: Option<&Rules>,
    req: &Request<'_>,
    path: &str,
    params: &[(String, String)],
) -> Option<Response> {
    if path != "/api/v1/rules" && path != "/api/v1/alerts" {
        return None;
    }
    if !matches!(req.method, "GET" | "POST") {
        return Some(Response::plain(405, "Method Not Allowed\n"));
    }
    let mgr = rules.and_then(|r| r.manager.lock().ok());
    if path == "/api/v1/alerts" {
        let data = match &mgr {
            Some(m) => alerts_data(m),
            None => serde_json::json!({"alerts": []}),
        };
        return Some(Response::success(data));
    }
    let all = |k: &str| -> Vec<String> {
        params
            .iter()
            .filter(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .collect()
    };
    let kind = params
        .iter()
        .rev()
        .find(|(n, _)| n == "type")
        .map_or("", |(_, v)| v.as_str());
    let kind = match RuleType::parse(kind) {
        Ok(k) => k,
        Err(e) => return Some(Response::error(400, "bad_data", &e)),
    };
    let exclude = params
        .iter()
        .rev()
        .find(|(n, _)| n == "exclude_alerts")
        .map(|(_, v)| v.as_str());
    let exclude_alerts = match exclude {
        None | Some("") | Some("false") | Some("0") | Some("f") | Some("F") | Some("FALSE")
        | Some("False") => false,
        Some("true") | Some("1") | Some("t") | Some("T") | Some("TRUE") | Some("True") => true,
        Some(v) => {
            return Some(Response::error(
                400,
                "bad_data",
                &format!("parsing exclude_alerts: invalid value {v:?}"),
            ))
        }
    };
    let filter = RulesFilter {
        kind,
        rule_names: all("rule_name[]"),
        rule_groups: all("rule_group[]"),
        files: all("file[]"),
        exclude_alerts,
    };
    let data = match &mgr {
        Some(m) => rules_data(m, &filter),
        None => serde_json::json!({"groups": []}),
    };
    Some(Response::success(data))
}
