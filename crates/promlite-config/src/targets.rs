//! Targets from discovered groups, as Prometheus builds them.
//!
//! For each discovered target: its labels, then the group's (a target's own win), then
//! `job`, `__scrape_interval__`, `__scrape_timeout__`, `__metrics_path__`, `__scheme__`
//! and `__param_<name>` from the scrape config where not already set: these are the
//! *discovered labels*. `relabel_configs` then run; a target they drop is kept as a
//! [`DroppedTarget`] with its discovered labels. A kept one needs an `__address__`
//! without `/`, a valid interval and timeout; `__meta_*` labels go, `instance`
//! defaults to `__address__`, and labels starting with `__` stay internal (they shape
//! the URL but are not attached to series).

use std::collections::{BTreeMap, HashSet};

use promlite_model::{Label, Labels};

use crate::config::ScrapeConfig;
use crate::duration::Duration;
use crate::relabel;
use crate::sd::TargetGroup;

/// A label set as discovery and relabeling handle it.
pub type LabelMap = BTreeMap<String, String>;

/// A target that survived relabeling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Labels after relabeling, `__meta_*` removed, `instance` set; includes the
    /// internal `__address__`, `__scheme__`, `__metrics_path__`, `__param_*`, ...
    pub labels: LabelMap,
    /// The labels before relabeling.
    pub discovered_labels: LabelMap,
}

/// A target relabeling dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedTarget {
    /// The labels before relabeling.
    pub discovered_labels: LabelMap,
}

/// A target that could not be built (no address, bad interval...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetError {
    /// The group's source.
    pub source: String,
    /// The target's index in its group.
    pub index: usize,
    /// Why.
    pub message: String,
}

/// The targets of one scrape config.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TargetSet {
    /// Kept targets, without duplicates (same labels and URL), in discovery order.
    pub active: Vec<Target>,
    /// Targets dropped by relabeling (at most `keep_dropped_targets` when it is set).
    pub dropped: Vec<DroppedTarget>,
    /// Targets that could not be built.
    pub errors: Vec<TargetError>,
}

impl Target {
    /// The labels attached to the target's series: those not starting with `__`.
    pub fn public_labels(&self) -> impl Iterator<Item = (&str, &str)> {
        self.labels
            .iter()
            .filter(|(k, _)| !k.starts_with("__"))
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The public labels as a [`Labels`] set.
    pub fn labels_for_series(&self) -> Labels {
        Labels::from_sorted(
            self.public_labels()
                .map(|(k, v)| Label::new(k, v))
                .collect(),
        )
    }

    fn get(&self, name: &str) -> &str {
        self.labels.get(name).map(String::as_str).unwrap_or("")
    }

    /// The scrape URL: `__scheme__://__address____metrics_path__?params`, where the
    /// scrape config's `params` are overridden (first value) by `__param_<name>` labels.
    pub fn url(&self, cfg: &ScrapeConfig) -> String {
        let mut params = cfg.params.clone();
        for (k, v) in &self.labels {
            if let Some(name) = k.strip_prefix("__param_") {
                let vals = params.entry(name.to_string()).or_default();
                if vals.is_empty() {
                    vals.push(v.clone());
                } else {
                    vals[0] = v.clone();
                }
            }
        }
        let mut url = format!(
            "{}://{}{}",
            self.get("__scheme__"),
            self.get("__address__"),
            self.get("__metrics_path__")
        );
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, vs) in &params {
            for v in vs {
                q.append_pair(k, v);
            }
        }
        let q = q.finish();
        if !q.is_empty() {
            url.push('?');
            url.push_str(&q);
        }
        url
    }

    /// The scrape interval (from `__scrape_interval__`, which relabeling may change).
    pub fn scrape_interval(&self) -> Duration {
        Duration::parse(self.get("__scrape_interval__")).unwrap_or_default()
    }

    /// The scrape timeout (from `__scrape_timeout__`).
    pub fn scrape_timeout(&self) -> Duration {
        Duration::parse(self.get("__scrape_timeout__")).unwrap_or_default()
    }
}

/// The labels of a discovered target before relabeling.
pub fn discovered_labels(cfg: &ScrapeConfig, target: &LabelMap, group: &LabelMap) -> LabelMap {
    let mut l = target.clone();
    for (k, v) in group {
        l.entry(k.clone()).or_insert_with(|| v.clone());
    }
    let defaults = [
        ("job", cfg.job_name.clone()),
        ("__scrape_interval__", cfg.scrape_interval.to_string()),
        ("__scrape_timeout__", cfg.scrape_timeout.to_string()),
        ("__metrics_path__", cfg.metrics_path.clone()),
        ("__scheme__", cfg.scheme.clone()),
    ];
    for (k, v) in defaults {
        set_if_empty(&mut l, k, v);
    }
    for (k, vs) in &cfg.params {
        if let Some(v) = vs.first() {
            set_if_empty(&mut l, &format!("__param_{k}"), v.clone());
        }
    }
    l.retain(|_, v| !v.is_empty());
    l
}

fn set_if_empty(l: &mut LabelMap, k: &str, v: String) {
    if l.get(k).is_none_or(String::is_empty) && !v.is_empty() {
        l.insert(k.to_string(), v);
    }
}

/// Relabels one target's discovered labels: `Ok(None)` when relabeling drops it.
///
/// # Errors
/// A message when the kept target has no usable address, interval or timeout.
pub fn populate_labels(
    cfg: &ScrapeConfig,
    discovered: &LabelMap,
) -> Result<Option<LabelMap>, String> {
    let mut l = discovered.clone();
    if !relabel::process(&cfg.relabel_configs, &mut l) {
        return Ok(None);
    }
    let addr = l.get("__address__").cloned().unwrap_or_default();
    if addr.is_empty() {
        return Err("no address".into());
    }
    if addr.contains('/') {
        return Err(format!("{addr:?} is not a valid hostname"));
    }
    let interval = l.get("__scrape_interval__").cloned().unwrap_or_default();
    let iv =
        Duration::parse(&interval).map_err(|e| format!("error parsing scrape interval: {e}"))?;
    if iv.as_millis() == 0 {
        return Err("scrape interval cannot be 0".into());
    }
    let timeout = l.get("__scrape_timeout__").cloned().unwrap_or_default();
    let to = Duration::parse(&timeout).map_err(|e| format!("error parsing scrape timeout: {e}"))?;
    if to.as_millis() == 0 {
        return Err("scrape timeout cannot be 0".into());
    }
    if to > iv {
        return Err(format!(
            "scrape timeout cannot be greater than scrape interval ({timeout:?} > {interval:?})"
        ));
    }
    l.retain(|k, _| !k.starts_with("__meta_"));
    if l.get("instance").is_none_or(String::is_empty) {
        l.insert("instance".into(), addr);
    }
    Ok(Some(l))
}

/// Builds the active and dropped targets of `cfg` from discovered groups.
pub fn targets_from_groups<'a>(
    cfg: &ScrapeConfig,
    groups: impl IntoIterator<Item = &'a TargetGroup>,
) -> TargetSet {
    let mut out = TargetSet::default();
    let mut seen: HashSet<(LabelMap, String)> = HashSet::new();
    for g in groups {
        for (i, t) in g.targets.iter().enumerate() {
            let discovered = discovered_labels(cfg, t, &g.labels);
            match populate_labels(cfg, &discovered) {
                Ok(Some(labels)) => {
                    let target = Target {
                        labels,
                        discovered_labels: discovered,
                    };
                    let key = (target.labels.clone(), target.url(cfg));
                    if seen.insert(key) {
                        out.active.push(target);
                    }
                }
                Ok(None) => {
                    if cfg.keep_dropped_targets == 0
                        || (out.dropped.len() as u64) < cfg.keep_dropped_targets
                    {
                        out.dropped.push(DroppedTarget {
                            discovered_labels: discovered,
                        });
                    }
                }
                Err(message) => out.errors.push(TargetError {
                    source: g.source.clone(),
                    index: i,
                    message,
                }),
            }
        }
    }
    out
}

/// Attaches a target's labels to a scraped series as Prometheus does. With
/// `honor_labels` the series' own labels win; without, the target's win and a
/// clashing series label is kept as `exported_<name>` (more `exported_` prefixes
/// while that name is taken). Empty values are dropped.
pub fn merge_series_labels(series: &Labels, target: &Target, honor_labels: bool) -> Labels {
    let mut out: LabelMap = series
        .iter()
        .map(|l| (l.name.to_string(), l.value.to_string()))
        .collect();
    if honor_labels {
        for (k, v) in target.public_labels() {
            if !series.has(k) {
                out.insert(k.to_string(), v.to_string());
            }
        }
    } else {
        let mut clashes: Vec<(String, String)> = Vec::new();
        for (k, v) in target.public_labels() {
            if let Some(existing) = series.get(k).filter(|e| !e.is_empty()) {
                clashes.push((k.to_string(), existing.to_string()));
            }
            out.insert(k.to_string(), v.to_string());
        }
        clashes.sort_by_key(|(k, _)| k.len());
        for (name, value) in clashes {
            let mut new = name;
            loop {
                new = format!("exported_{new}");
                if out.get(&new).is_none_or(String::is_empty) {
                    out.insert(new, value);
                    break;
                }
            }
        }
    }
    Labels::from_sorted(
        out.into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| Label::new(k, v))
            .collect(),
    )
}

#[cfg(test)]
#[path = "targets_tests.rs"]
mod tests;
