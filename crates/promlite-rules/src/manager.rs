//! The rule manager: loads rule files into groups and evaluates each group on
//! its interval against a store (Prometheus's `rules/manager.go`). Synchronous:
//! call [`Manager::eval_due`] from your own loop, or [`Manager::spawn`] a thread.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use promlite_model::Labels;
use promlite_promql::{Engine, EngineOptions};
use promlite_store::Store;

use crate::alerting::Alert;
use crate::group::Group;
use crate::rulefmt::parse_rule_file;

/// Manager settings.
#[derive(Debug, Clone)]
pub struct ManagerOptions {
    /// Interval for groups without their own (`global.evaluation_interval`). Default 1m.
    pub default_interval_ms: i64,
    /// External labels (`$externalLabels` in templates; added to alerts sent).
    pub external_labels: Labels,
    /// External URL (`$externalURL`, alerts' `generatorURL`).
    pub external_url: String,
    /// Engine options for rule queries.
    pub engine: EngineOptions,
}

impl Default for ManagerOptions {
    fn default() -> Self {
        ManagerOptions {
            default_interval_ms: 60_000,
            external_labels: Labels::empty(),
            external_url: String::new(),
            engine: EngineOptions::default(),
        }
    }
}

/// Loads rule groups and evaluates them against a store.
#[derive(Debug)]
pub struct Manager {
    opts: ManagerOptions,
    engine: Engine,
    groups: Vec<Group>,
}

/// An error from one evaluation: `(group, rule, message)`.
pub type EvalError = (String, String, String);

impl Manager {
    /// A manager without groups.
    pub fn new(opts: ManagerOptions) -> Manager {
        Manager {
            engine: Engine::new(opts.engine.clone()),
            opts,
            groups: Vec::new(),
        }
    }

    /// The options.
    pub fn options(&self) -> &ManagerOptions {
        &self.opts
    }

    /// Parses rule file text (named `file` in errors and the API) and adds its groups.
    ///
    /// # Errors
    /// Every validation error, each as `FILE: error`, and nothing is added.
    pub fn load_str(&mut self, file: &str, text: &str) -> Result<(), Vec<String>> {
        let parsed = parse_rule_file(text).map_err(|errs| {
            errs.iter()
                .map(|e| format!("{file}: {e}"))
                .collect::<Vec<_>>()
        })?;
        for g in &parsed.groups {
            self.groups
                .push(Group::new(file, g, self.opts.default_interval_ms));
        }
        Ok(())
    }

    /// Reads and loads rule files. All-or-nothing.
    ///
    /// # Errors
    /// Read and validation errors of every file; nothing is added then.
    pub fn load_files<P: AsRef<std::path::Path>>(
        &mut self,
        paths: &[P],
    ) -> Result<(), Vec<String>> {
        let mut staged = Manager::new(self.opts.clone());
        let mut errs = Vec::new();
        for p in paths {
            let name = p.as_ref().display().to_string();
            match std::fs::read_to_string(p) {
                Ok(text) => {
                    if let Err(e) = staged.load_str(&name, &text) {
                        errs.extend(e);
                    }
                }
                Err(e) => errs.push(format!("{name}: {e}")),
            }
        }
        if !errs.is_empty() {
            return Err(errs);
        }
        self.groups.extend(staged.groups);
        Ok(())
    }

    /// The groups, in load order.
    pub fn groups(&self) -> &[Group] {
        &self.groups
    }

    /// Mutable groups (the notifier marks alerts sent).
    pub fn groups_mut(&mut self) -> &mut [Group] {
        &mut self.groups
    }

    /// Every alert of every alerting rule, pending, firing or resolved-but-retained.
    pub fn alerts(&self) -> Vec<&Alert> {
        self.groups
            .iter()
            .flat_map(|g| g.alerting_rules())
            .flat_map(|r| r.alerts())
            .collect()
    }

    /// Evaluates group `idx` at `ts_ms` now.
    ///
    /// # Panics
    /// If `idx` is out of range.
    pub fn eval_group(&mut self, idx: usize, store: &Store, ts_ms: i64) -> Vec<EvalError> {
        let g = &mut self.groups[idx];
        g.eval(
            &self.engine,
            store,
            ts_ms,
            &self.opts.external_labels,
            &self.opts.external_url,
        )
        .into_iter()
        .map(|(r, e)| (g.name.clone(), r, e))
        .collect()
    }

    /// Evaluates every group whose next evaluation time is at or before
    /// `now_ms`. A group's first evaluation is aligned to its interval with a
    /// per-group offset (as Prometheus spreads groups); iterations that were
    /// due but skipped because evaluation ran late are counted in
    /// `missed_iterations_total`. Returns the errors.
    pub fn eval_due(&mut self, store: &Store, now_ms: i64) -> Vec<EvalError> {
        let mut errs = Vec::new();
        for i in 0..self.groups.len() {
            let g = &mut self.groups[i];
            let next = *g.next_eval_ms.get_or_insert_with(|| {
                let off = (fnv(&g.name, &g.file) % g.interval_ms as u64) as i64;
                let base = now_ms - (now_ms - off).rem_euclid(g.interval_ms);
                base + g.interval_ms
            });
            if next > now_ms {
                continue;
            }
            let missed = (now_ms - next) / g.interval_ms;
            g.missed_iterations_total += missed as u64;
            let ts = next + missed * g.interval_ms;
            g.next_eval_ms = Some(ts + g.interval_ms);
            errs.extend(self.eval_group(i, store, ts));
        }
        errs
    }

    /// The earliest next evaluation time of any group (ms), once scheduled.
    pub fn next_eval_ms(&self) -> Option<i64> {
        self.groups.iter().filter_map(|g| g.next_eval_ms).min()
    }

    /// Runs [`Manager::eval_due`] on a thread every 100 ms until `stop` is set.
    /// `on_eval` is called after each round that evaluated something (for
    /// notifications), with the manager locked.
    pub fn spawn(
        mgr: Arc<Mutex<Manager>>,
        store: Arc<Store>,
        stop: Arc<AtomicBool>,
        mut on_eval: impl FnMut(&mut Manager, i64) + Send + 'static,
    ) -> JoinHandle<()> {
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let now = now_ms();
                if let Ok(mut m) = mgr.lock() {
                    let before: u64 = m.groups.iter().map(|g| g.evaluations_total).sum();
                    let _ = m.eval_due(&store, now);
                    let after: u64 = m.groups.iter().map(|g| g.evaluations_total).sum();
                    if after != before {
                        on_eval(&mut m, now);
                    }
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn fnv(name: &str, file: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in file.bytes().chain([0xff]).chain(name.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}
