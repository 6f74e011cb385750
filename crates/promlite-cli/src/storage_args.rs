//! `--storage.path DIR` and `--storage.snapshot-interval D` for `serve` and
//! `watch`: open the persisted store, report what was recovered, snapshot
//! periodically and at SIGINT/SIGTERM.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use promlite::store::{PersistOptions, Persistence, Store, StoreConfig};

/// Help text for the flags.
pub const FLAGS_HELP: &str = "\
storage flags:
  --storage.path DIR      keep the store in DIR across restarts: a snapshot plus a log of
                          every scrape since (a killed process loses at most the scrape
                          being written); loaded, replayed and reported at start
  --storage.snapshot-interval D
                          snapshot every D (default 5m) and at SIGINT/SIGTERM; the log
                          is truncated after each snapshot";

/// The parsed flags.
#[derive(Debug, Clone)]
pub struct StorageArgs {
    /// The directory, when persistence is on.
    pub path: Option<PathBuf>,
    /// Time between snapshots.
    pub interval: Duration,
}

impl Default for StorageArgs {
    fn default() -> Self {
        StorageArgs {
            path: None,
            interval: Duration::from_secs(300),
        }
    }
}

impl StorageArgs {
    /// True for the flags this module takes.
    pub fn is_flag(flag: &str) -> bool {
        matches!(flag, "storage.path" | "storage.snapshot-interval")
    }

    /// Takes one flag's value.
    pub fn take(&mut self, flag: &str, p: &mut lexopt::Parser) -> Result<(), String> {
        let v = p
            .value()
            .map_err(|e| e.to_string())?
            .into_string()
            .map_err(|_| format!("--{flag}: not UTF-8"))?;
        match flag {
            "storage.path" => self.path = Some(PathBuf::from(v)),
            _ => {
                let ms = crate::serve::api::parse_duration_ms(&v)
                    .filter(|ms| *ms >= 1000)
                    .ok_or_else(|| format!("bad --{flag} {v:?} (at least 1s)"))?;
                self.interval = Duration::from_millis(ms as u64);
            }
        }
        Ok(())
    }

    /// Opens the store: persisted in `--storage.path` (the recovery report
    /// goes to stderr), else in memory only.
    pub fn open(&self, cfg: StoreConfig) -> Result<(Store, Option<Arc<Persistence>>), String> {
        let Some(dir) = &self.path else {
            return Ok((Store::new(cfg), None));
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .ok();
        let opts = PersistOptions {
            now_ms: now,
            ..PersistOptions::default()
        };
        let (store, p) = Persistence::open(dir, cfg, opts).map_err(|e| e.to_string())?;
        let r = p.recovery();
        if r.is_clean() {
            eprintln!("promlite: storage {}: {r}", dir.display());
        } else {
            eprintln!(
                "promlite: storage {}: RECOVERED WITH DAMAGE: {r}",
                dir.display()
            );
        }
        Ok((store, Some(Arc::new(p))))
    }
}

/// Snapshots `store` every `interval` on a background thread, and once more
/// at SIGINT or SIGTERM before exiting (status 0).
/// `get` finds the store in `holder`.
pub fn spawn_snapshots<S: Send + Sync + 'static>(
    p: Arc<Persistence>,
    holder: Arc<S>,
    get: fn(&S) -> &Store,
    interval: Duration,
) -> Result<(), String> {
    {
        let (p, holder) = (Arc::clone(&p), Arc::clone(&holder));
        std::thread::spawn(move || loop {
            std::thread::sleep(interval);
            if let Err(e) = p.snapshot(get(&holder)) {
                eprintln!("promlite: snapshot failed: {e}");
            }
        });
    }
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ])
    .map_err(|e| format!("signal handler: {e}"))?;
    std::thread::spawn(move || {
        if signals.forever().next().is_some() {
            match p.snapshot(get(&holder)).and_then(|_| p.sync()) {
                Ok(()) => eprintln!("promlite: snapshot written, exiting"),
                Err(e) => {
                    eprintln!("promlite: final snapshot failed ({e}); the log holds the data")
                }
            }
            std::process::exit(0);
        }
    });
    Ok(())
}
