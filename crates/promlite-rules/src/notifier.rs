//! Sending alerts to Alertmanager (API v2, `POST /api/v2/alerts`) with
//! Prometheus's timing (`rules/alerting.go` `sendAlerts`, `notifier/notifier.go`):
//!
//! - a firing alert is (re)sent when it was never sent or its last send is
//!   older than the resend delay (default 1m); pending alerts are never sent;
//! - `startsAt` is when it started firing; `endsAt` is, while firing,
//!   now + 4 × max(resend delay, group interval), so Alertmanager resolves it
//!   by itself if promlite stops; once resolved, `endsAt` is the resolve time,
//!   and resolved alerts are re-sent for as long as the rule keeps them (15m);
//! - external labels are added to alerts that lack them; `generatorURL` links
//!   the expression;
//! - a bounded queue (default 10,000 alerts) drops the oldest alerts when full
//!   and counts them; batches of at most 64 alerts go to every Alertmanager.
//!
//! Synchronous: [`Notifier::collect`] after each evaluation, then
//! [`Notifier::flush`] (blocking HTTP with a timeout) from your loop or thread.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use promlite_model::Labels;
use serde::Serialize;

use crate::alerting::AlertState;
use crate::group::RuleState;
use crate::template::funcs::{query_escape, rfc3339_ms};
use crate::Manager;

/// One Alertmanager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertmanagerTarget {
    /// Base URL with any path prefix (`http://127.0.0.1:9093`, `https://am/prefix`).
    pub url: String,
    /// Timeout of one POST. Default 10s.
    pub timeout: Duration,
    /// `Authorization: Bearer` credentials.
    pub bearer_token: Option<String>,
}

impl AlertmanagerTarget {
    /// A target at `url` with the default timeout and no credentials.
    pub fn new(url: impl Into<String>) -> Self {
        AlertmanagerTarget {
            url: url.into(),
            timeout: Duration::from_secs(10),
            bearer_token: None,
        }
    }

    fn endpoint(&self) -> String {
        format!("{}/api/v2/alerts", self.url.trim_end_matches('/'))
    }
}

/// Notifier settings.
#[derive(Debug, Clone, PartialEq)]
pub struct NotifierOptions {
    /// Where alerts go.
    pub alertmanagers: Vec<AlertmanagerTarget>,
    /// Most queued alerts; the oldest are dropped beyond it. Default 10,000.
    pub queue_capacity: usize,
    /// Most alerts per POST. Default 64.
    pub max_batch: usize,
    /// Minimum time before a firing alert is sent again (`--rules.alert.resend-delay`). Default 1m.
    pub resend_delay_ms: i64,
    /// External labels, added to alerts that lack them.
    pub external_labels: Labels,
    /// Prefix of `generatorURL`.
    pub external_url: String,
}

impl Default for NotifierOptions {
    fn default() -> Self {
        NotifierOptions {
            alertmanagers: Vec::new(),
            queue_capacity: 10_000,
            max_batch: 64,
            resend_delay_ms: 60_000,
            external_labels: Labels::empty(),
            external_url: String::new(),
        }
    }
}

/// An alert as Alertmanager's API v2 takes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AmAlert {
    /// Labels (external labels included).
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
    /// When it started firing (RFC 3339).
    #[serde(rename = "startsAt")]
    pub starts_at: String,
    /// When it ends: the resolve time, or the time Alertmanager may assume it resolved.
    #[serde(rename = "endsAt")]
    pub ends_at: String,
    /// A link to the expression.
    #[serde(rename = "generatorURL")]
    pub generator_url: String,
}

/// Counters of the notifier (Prometheus's `prometheus_notifications_*`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NotifierStats {
    /// Alerts sent successfully (per Alertmanager).
    pub sent_total: u64,
    /// Alerts whose send failed (per Alertmanager).
    pub errors_total: u64,
    /// Alerts dropped because the queue was full.
    pub dropped_total: u64,
    /// Alerts waiting.
    pub queue_length: usize,
}

/// Queues alerts and posts them to Alertmanagers.
#[derive(Debug)]
pub struct Notifier {
    opts: NotifierOptions,
    queue: VecDeque<AmAlert>,
    stats: NotifierStats,
    agent: ureq::Agent,
}

impl Notifier {
    /// A notifier with an empty queue.
    pub fn new(opts: NotifierOptions) -> Notifier {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .user_agent(concat!("promlite/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Notifier {
            opts,
            queue: VecDeque::new(),
            stats: NotifierStats::default(),
            agent,
        }
    }

    /// The counters.
    pub fn stats(&self) -> NotifierStats {
        NotifierStats {
            queue_length: self.queue.len(),
            ..self.stats
        }
    }

    /// The queued alerts, oldest first.
    pub fn queued(&self) -> impl Iterator<Item = &AmAlert> {
        self.queue.iter()
    }

    /// Picks the alerts of every alerting rule that need sending at `ts_ms`
    /// (marking them sent) and queues them. Returns how many were queued.
    pub fn collect(&mut self, mgr: &mut Manager, ts_ms: i64) -> usize {
        let resend = self.opts.resend_delay_ms;
        let mut out = Vec::new();
        for g in mgr.groups_mut() {
            let delta = resend.max(g.interval_ms);
            for gr in &mut g.rules {
                let RuleState::Alerting(r) = &mut gr.rule else {
                    continue;
                };
                let link = format!(
                    "{}/graph?g0.expr={}&g0.tab=1",
                    self.opts.external_url.trim_end_matches('/'),
                    query_escape(&crate::eval::canonical_expr(&r.expr))
                );
                for a in r.alerts_mut() {
                    let needs = match a.state {
                        AlertState::Pending => false,
                        _ if a.resolved_at_ms > a.last_sent_ms => true,
                        _ => a.last_sent_ms.is_none_or(|l| l + resend < ts_ms),
                    };
                    if !needs {
                        continue;
                    }
                    a.last_sent_ms = Some(ts_ms);
                    a.valid_until_ms = Some(ts_ms + 4 * delta);
                    let mut labels: BTreeMap<String, String> = a
                        .labels
                        .iter()
                        .map(|l| (l.name.to_string(), l.value.to_string()))
                        .collect();
                    for l in self.opts.external_labels.iter() {
                        labels
                            .entry(l.name.to_string())
                            .or_insert_with(|| l.value.to_string());
                    }
                    let ends = a.resolved_at_ms.unwrap_or(ts_ms + 4 * delta);
                    out.push(AmAlert {
                        labels,
                        annotations: a.annotations.clone(),
                        starts_at: rfc3339_ms(a.fired_at_ms.unwrap_or(a.active_at_ms)),
                        ends_at: rfc3339_ms(ends),
                        generator_url: link.clone(),
                    });
                }
            }
        }
        let n = out.len();
        self.enqueue(out);
        n
    }

    /// Queues alerts, dropping the oldest ones beyond the capacity.
    pub fn enqueue(&mut self, alerts: Vec<AmAlert>) {
        self.queue.extend(alerts);
        let cap = self.opts.queue_capacity.max(1);
        while self.queue.len() > cap {
            self.queue.pop_front();
            self.stats.dropped_total += 1;
        }
    }

    /// Posts every queued alert, in batches, to every Alertmanager; the queue
    /// is emptied (failed alerts are sent again at the next resend, as in
    /// Prometheus). Returns the errors, `URL: reason`, one per failed POST.
    pub fn flush(&mut self) -> Vec<String> {
        let mut errors = Vec::new();
        while !self.queue.is_empty() {
            let n = self.queue.len().min(self.opts.max_batch.max(1));
            let batch: Vec<AmAlert> = self.queue.drain(..n).collect();
            let body = match serde_json::to_vec(&batch) {
                Ok(b) => b,
                Err(e) => {
                    errors.push(format!("encoding alerts: {e}"));
                    continue;
                }
            };
            for am in &self.opts.alertmanagers {
                match self.post(am, &body) {
                    Ok(()) => self.stats.sent_total += batch.len() as u64,
                    Err(e) => {
                        self.stats.errors_total += batch.len() as u64;
                        errors.push(format!("{}: {e}", am.endpoint()));
                    }
                }
            }
        }
        errors
    }

    fn post(&self, am: &AlertmanagerTarget, body: &[u8]) -> Result<(), String> {
        let mut req = self
            .agent
            .post(&am.endpoint())
            .config()
            .timeout_global(Some(am.timeout))
            .build()
            .header("Content-Type", "application/json");
        if let Some(t) = &am.bearer_token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        let resp = req.send(body).map_err(|e| e.to_string())?;
        let status = resp.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("bad response status {status}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ManagerOptions;
    use promlite_store::{Store, StoreConfig};

    fn manager() -> (Manager, Store) {
        let store = Store::new(StoreConfig::unbounded());
        let mut m = Manager::new(ManagerOptions::default());
        m.load_str(
            "r.yml",
            "groups:\n- name: g\n  interval: 30s\n  rules:\n  - alert: A\n    expr: x > 0\n    for: 1m\n    annotations: {s: '{{ $value }}'}\n",
        )
        .unwrap();
        (m, store)
    }

    #[test]
    fn prometheus_timing() {
        let (mut m, store) = manager();
        let x = Labels::from_pairs([("__name__", "x"), ("job", "j")]);
        store
            .append_batch((0..=6).map(|i| (x.clone(), i * 30_000, if i < 5 { 1.0 } else { 0.0 })))
            .unwrap();
        let mut n = Notifier::new(NotifierOptions {
            external_labels: Labels::from_pairs([("cluster", "c1"), ("job", "ignored")]),
            external_url: "http://promlite:9090".into(),
            ..NotifierOptions::default()
        });
        let mut sent_at = Vec::new();
        for i in 0..=6 {
            let ts = i * 30_000;
            m.eval_group(0, &store, ts);
            if n.collect(&mut m, ts) > 0 {
                sent_at.push(ts);
            }
        }
        // Pending at 0 and 30s; firing at 60s (sent); not again within the 1m
        // resend delay (90s, 120s); resolved at 150s: sent at once.
        assert_eq!(sent_at, [60_000, 150_000]);
        let q: Vec<&AmAlert> = n.queued().collect();
        assert_eq!(q[0].starts_at, "1970-01-01T00:01:00Z");
        // endsAt = now + 4 × max(resend 1m, interval 30s).
        assert_eq!(q[0].ends_at, "1970-01-01T00:05:00Z");
        assert_eq!(q[1].ends_at, "1970-01-01T00:02:30Z");
        assert_eq!(q[0].labels["cluster"], "c1");
        assert_eq!(q[0].labels["job"], "j");
        assert_eq!(
            q[0].generator_url,
            "http://promlite:9090/graph?g0.expr=x+%3E+0&g0.tab=1"
        );
    }

    #[test]
    fn full_queue_drops_oldest() {
        let mut n = Notifier::new(NotifierOptions {
            queue_capacity: 3,
            ..NotifierOptions::default()
        });
        let mk = |i: usize| AmAlert {
            labels: BTreeMap::from([("i".to_string(), i.to_string())]),
            annotations: BTreeMap::new(),
            starts_at: String::new(),
            ends_at: String::new(),
            generator_url: String::new(),
        };
        n.enqueue((0..5).map(mk).collect());
        let left: Vec<&str> = n.queued().map(|a| a.labels["i"].as_str()).collect();
        assert_eq!(left, ["2", "3", "4"]);
        assert_eq!(n.stats().dropped_total, 2);
        assert_eq!(n.stats().queue_length, 3);
        // Nowhere to send: flushing empties the queue without errors.
        assert!(n.flush().is_empty());
        assert_eq!(n.stats().queue_length, 0);
    }
}
