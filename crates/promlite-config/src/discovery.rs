//! Discovery without Kubernetes: `static_configs` and `file_sd_configs`.
//!
//! File discovery reads JSON or YAML files (chosen by extension) holding a list of
//! `{targets: [...], labels: {...}}` groups; each group gets `__meta_filepath` and the
//! source `<file>:<index>`. [`FileSdPoller`] re-reads them when a matching file
//! appears, changes or goes, and every `refresh_interval`, on a plain thread.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration as StdDuration, Instant, SystemTime};

use serde::Deserialize;

use crate::config::ScrapeConfig;
use crate::error::Pos;
use crate::sd::{FileSdConfig, TargetGroup};

/// A file_sd file that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveryError {
    /// The file.
    pub file: PathBuf,
    /// Where in it (0:0 when the whole file is at fault).
    pub pos: Pos,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for DiscoveryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.pos.line,
            self.pos.column,
            self.message
        )
    }
}

impl std::error::Error for DiscoveryError {}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileGroup {
    #[serde(default)]
    targets: Option<Vec<String>>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
}

/// Reads one file_sd file into target groups.
///
/// # Errors
/// [`DiscoveryError`] with the position of a syntax or type error, or an I/O error.
pub fn read_file(path: &Path) -> Result<Vec<TargetGroup>, DiscoveryError> {
    let err = |pos: Pos, message: String| DiscoveryError {
        file: path.to_path_buf(),
        pos,
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(Pos::default(), e.to_string()))?;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let groups: Vec<Option<FileGroup>> = match ext.as_str() {
        "json" => serde_json::from_str(&text).map_err(|e| {
            let pos = Pos {
                line: e.line() as u64,
                column: e.column() as u64,
            };
            let msg = e.to_string();
            let suffix = format!(" at line {} column {}", pos.line, pos.column);
            err(pos, msg.strip_suffix(&suffix).unwrap_or(&msg).to_string())
        })?,
        "yml" | "yaml" => serde_saphyr::from_str::<Option<Vec<Option<FileGroup>>>>(&text)
            .map_err(|e| {
                let c = crate::ConfigError::from_yaml("", String::new(), &e);
                err(c.pos, c.message)
            })?
            .unwrap_or_default(),
        other => {
            return Err(err(
                Pos::default(),
                format!("unhandled file extension {other:?}"),
            ))
        }
    };
    let name = path.display().to_string();
    let mut out = Vec::with_capacity(groups.len());
    for (i, g) in groups.into_iter().enumerate() {
        let Some(g) = g else {
            return Err(err(Pos::default(), "nil target group item found".into()));
        };
        let mut labels = g.labels.unwrap_or_default();
        if labels.keys().any(String::is_empty) {
            return Err(err(
                Pos::default(),
                format!("group {i}: \"\" is not a valid label name"),
            ));
        }
        labels.insert("__meta_filepath".into(), name.clone());
        out.push(TargetGroup {
            targets: g
                .targets
                .unwrap_or_default()
                .into_iter()
                .map(|t| BTreeMap::from([("__address__".to_string(), t)]))
                .collect(),
            labels,
            source: format!("{name}:{i}"),
        });
    }
    Ok(out)
}

/// The files a file_sd config's names and globs match now, sorted, without repeats.
pub fn matching_files(cfg: &FileSdConfig) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for pat in &cfg.files {
        let s = pat.to_string_lossy();
        if s.contains('*') {
            if let Ok(paths) = glob::glob(&s) {
                out.extend(paths.flatten());
            }
        } else if pat.exists() {
            out.push(pat.clone());
        }
    }
    out.sort();
    out.dedup();
    out
}

/// One refresh's outcome: the groups of every file read, and the files that failed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Refresh {
    /// Target groups, file by file in name order.
    pub groups: Vec<TargetGroup>,
    /// Files that could not be read (their last good groups are kept in `groups`).
    pub errors: Vec<DiscoveryError>,
}

/// File discovery state for one `file_sd_configs` entry: the last good groups of
/// each file, so a file that turns bad keeps its targets as Prometheus does.
#[derive(Debug, Clone)]
pub struct FileDiscovery {
    cfg: FileSdConfig,
    last: BTreeMap<PathBuf, Vec<TargetGroup>>,
    stamps: HashMap<PathBuf, (Option<SystemTime>, u64)>,
}

impl FileDiscovery {
    /// Discovery for one config entry (nothing read yet).
    pub fn new(cfg: FileSdConfig) -> Self {
        FileDiscovery {
            cfg,
            last: BTreeMap::new(),
            stamps: HashMap::new(),
        }
    }

    /// Re-reads every matching file.
    pub fn refresh(&mut self) -> Refresh {
        let files = matching_files(&self.cfg);
        let mut errors = Vec::new();
        self.last.retain(|p, _| files.contains(p));
        self.stamps = files.iter().map(|p| (p.clone(), stamp(p))).collect();
        for f in &files {
            match read_file(f) {
                Ok(g) => {
                    self.last.insert(f.clone(), g);
                }
                Err(e) => errors.push(e),
            }
        }
        Refresh {
            groups: self.last.values().flatten().cloned().collect(),
            errors,
        }
    }

    /// True when a matching file appeared, went, or changed (time or size) since the
    /// last refresh.
    pub fn changed(&self) -> bool {
        let files = matching_files(&self.cfg);
        files.len() != self.stamps.len()
            || files
                .iter()
                .any(|f| self.stamps.get(f).is_none_or(|s| *s != stamp(f)))
    }

    /// The configured refresh interval.
    pub fn refresh_interval(&self) -> StdDuration {
        self.cfg.refresh_interval.to_std()
    }
}

fn stamp(p: &Path) -> (Option<SystemTime>, u64) {
    match std::fs::metadata(p) {
        Ok(m) => (m.modified().ok(), m.len()),
        Err(_) => (None, 0),
    }
}

/// Re-reads a job's file_sd files on a thread and sends every change.
///
/// The thread checks the files' modification times every `poll` and re-reads them
/// when one changed and at each `refresh_interval`; it sends the job's complete set
/// of groups (static ones first) when it differs from the last one sent. Dropping
/// the poller stops the thread.
#[derive(Debug)]
pub struct FileSdPoller {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl FileSdPoller {
    /// Starts polling `cfg`'s file_sd configs; the first set is sent at once.
    pub fn spawn(
        cfg: &ScrapeConfig,
        poll: StdDuration,
        updates: Sender<Refresh>,
    ) -> std::io::Result<FileSdPoller> {
        let statics = cfg.static_configs.clone();
        let mut sds: Vec<(FileDiscovery, Instant)> = cfg
            .file_sd_configs
            .iter()
            .map(|c| (FileDiscovery::new(c.clone()), Instant::now()))
            .collect();
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("file-sd-{}", cfg.job_name))
            .spawn(move || {
                let mut sent: Option<Refresh> = None;
                let mut first = true;
                loop {
                    let mut any = first;
                    for (d, at) in &mut sds {
                        if first || d.changed() || at.elapsed() >= d.refresh_interval() {
                            any = true;
                        }
                    }
                    if any {
                        let mut all = Refresh {
                            groups: statics.clone(),
                            errors: Vec::new(),
                        };
                        for (d, at) in &mut sds {
                            let r = d.refresh();
                            *at = Instant::now();
                            all.groups.extend(r.groups);
                            all.errors.extend(r.errors);
                        }
                        if sent.as_ref() != Some(&all) {
                            if updates.send(all.clone()).is_err() {
                                return;
                            }
                            sent = Some(all);
                        }
                    }
                    first = false;
                    match stop_rx.recv_timeout(poll) {
                        Err(RecvTimeoutError::Timeout) => {}
                        _ => return,
                    }
                }
            })?;
        Ok(FileSdPoller {
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }
}

impl Drop for FileSdPoller {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
#[path = "discovery_tests.rs"]
mod tests;
