//! Opening a persisted directory: load the snapshot, replay the log, apply
//! retention, report what happened.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::wal::{self, Op, Wal};
use super::{io_err, snapshot, PersistError, PersistOptions, Persistence, SNAPSHOT_FILE};
use crate::{Store, StoreConfig, Target};

/// Damage found in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// The damaged file (its name when found).
    pub file: PathBuf,
    /// Byte offset of the first damaged record or section.
    pub offset: u64,
    /// What was wrong there.
    pub message: String,
    /// Bytes from the damage to the end of the file, not loaded.
    pub bytes_dropped: u64,
    /// Where the file was moved for inspection (`*.damaged`).
    pub moved_to: Option<PathBuf>,
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at byte {}: {} ({} bytes not loaded)",
            self.file.display(),
            self.offset,
            self.message,
            self.bytes_dropped
        )
    }
}

/// What [`Persistence::open`] found and loaded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecoveryReport {
    /// A snapshot file was present.
    pub snapshot_found: bool,
    /// Series loaded from it.
    pub snapshot_series: usize,
    /// Samples loaded from it.
    pub snapshot_samples: usize,
    /// Targets (timestamp columns and metadata) loaded from it.
    pub snapshot_targets: usize,
    /// The per-target scrape state (series of each target's last scrape, for
    /// staleness) was loaded.
    pub scrape_state: bool,
    /// Log segments read.
    pub segments_replayed: usize,
    /// Log records (operations) replayed.
    pub records_replayed: u64,
    /// Replayed operations the store refused (say, a limit lowered since);
    /// the store is as if they had never happened.
    pub records_refused: u64,
    /// Later log segments not replayed because an earlier one was damaged.
    pub segments_skipped: usize,
    /// Series dropped by retention after loading.
    pub series_dropped_by_retention: usize,
    /// Damage found, first error first.
    pub damage: Vec<Damage>,
    /// Time taken.
    pub elapsed: Duration,
}

impl RecoveryReport {
    /// Nothing damaged.
    pub fn is_clean(&self) -> bool {
        self.damage.is_empty()
    }

    /// The first damage found.
    pub fn first_error(&self) -> Option<&Damage> {
        self.damage.first()
    }
}

impl fmt::Display for RecoveryReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.snapshot_found {
            write!(
                f,
                "snapshot: {} series, {} samples, {} targets{}; ",
                self.snapshot_series,
                self.snapshot_samples,
                self.snapshot_targets,
                if self.scrape_state {
                    ""
                } else {
                    " (no scrape state)"
                }
            )?;
        } else {
            f.write_str("no snapshot; ")?;
        }
        write!(
            f,
            "log: {} records from {} segments replayed",
            self.records_replayed, self.segments_replayed
        )?;
        if self.records_refused > 0 {
            write!(f, " ({} refused)", self.records_refused)?;
        }
        if self.series_dropped_by_retention > 0 {
            write!(
                f,
                "; {} series past retention dropped",
                self.series_dropped_by_retention
            )?;
        }
        write!(f, "; {:.3} s", self.elapsed.as_secs_f64())?;
        for d in &self.damage {
            write!(f, "; DAMAGED: {d}")?;
        }
        if self.segments_skipped > 0 {
            write!(
                f,
                "; {} later log segments not replayed",
                self.segments_skipped
            )?;
        }
        Ok(())
    }
}

/// Applies one logged operation; false when the store refused it.
pub(crate) fn apply(store: &Store, op: Op) -> bool {
    match op {
        Op::Scrape {
            target,
            format,
            ts,
            body,
        } => store
            .ingest_scrape(&Target::new(target), &body, format, ts)
            .is_ok(),
        Op::Down { target, ts } => {
            store.mark_target_down(&Target::new(target), ts);
            true
        }
        Op::Timestamped {
            extra,
            format,
            body,
        } => store.ingest_timestamped(&body, format, &extra).is_ok(),
        Op::Batch(v) => store.append_batch(v).is_ok(),
        Op::Gc(now) => {
            store.gc(now);
            true
        }
    }
}

/// Moves a damaged file aside; returns its new name.
fn move_aside(path: &Path) -> Option<PathBuf> {
    let mut to = path.as_os_str().to_owned();
    to.push(".damaged");
    let to = PathBuf::from(to);
    fs::rename(path, &to).ok().map(|()| to)
}

/// The newest sample time in the store.
pub(crate) fn newest_time(store: &Store) -> Option<i64> {
    let inner = store.read();
    inner
        .series
        .iter()
        .flatten()
        .map(|s| inner.last_t(s))
        .filter(|&t| t != i64::MIN)
        .max()
}

pub(crate) fn open(
    dir: &Path,
    cfg: StoreConfig,
    opts: &PersistOptions,
) -> Result<(Store, Persistence), PersistError> {
    let t0 = Instant::now();
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    let store = Store::new(cfg);
    let mut rep = RecoveryReport::default();
    let snap_path = dir.join(SNAPSHOT_FILE);
    let mut replay_from = 0u64;
    match fs::read(&snap_path) {
        Ok(bytes) => {
            rep.snapshot_found = true;
            let l = snapshot::load(&store, &bytes);
            rep.snapshot_series = l.series;
            rep.snapshot_samples = l.samples;
            rep.snapshot_targets = l.targets;
            rep.scrape_state = l.writer_state;
            replay_from = l.wal_from.unwrap_or(0);
            if let Some((offset, message)) = l.damage {
                rep.damage.push(Damage {
                    file: snap_path.clone(),
                    offset,
                    message,
                    bytes_dropped: (bytes.len() as u64).saturating_sub(offset),
                    moved_to: move_aside(&snap_path),
                });
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err(&snap_path)(e)),
    }
    let segs = wal::list_segments(dir).map_err(io_err(dir))?;
    let mut next = replay_from;
    let mut stopped = false;
    for &n in &segs {
        next = next.max(n + 1);
        if n < replay_from {
            // Left over from a crash after a snapshot's rename: contained.
            continue;
        }
        if stopped {
            rep.segments_skipped += 1;
            continue;
        }
        let p = wal::segment_path(dir, n);
        let bytes = fs::read(&p).map_err(io_err(&p))?;
        let r = wal::read_segment(&bytes);
        rep.segments_replayed += 1;
        for op in r.ops {
            rep.records_replayed += 1;
            if !apply(&store, op) {
                rep.records_refused += 1;
            }
        }
        if let Some((offset, message)) = r.damage {
            rep.damage.push(Damage {
                file: p.clone(),
                offset,
                message,
                bytes_dropped: r.bytes_dropped,
                moved_to: None,
            });
            stopped = true;
        }
    }
    if stopped {
        // The damaged segment and those after it are moved aside (the
        // snapshot below holds everything replayed from them).
        let mut first = true;
        for &n in segs.iter().filter(|&&n| n >= replay_from) {
            let p = wal::segment_path(dir, n);
            let d = rep
                .damage
                .iter_mut()
                .find(|d| d.file == p && d.moved_to.is_none());
            if let Some(d) = d {
                first = false;
                d.moved_to = move_aside(&p);
            } else if !first {
                move_aside(&p);
            }
        }
    }
    let wal = Arc::new(Wal::create(dir, next, opts.fsync).map_err(io_err(dir))?);
    let _ = store.journal.0.set(Arc::clone(&wal));
    // The collection at start goes into the new log like any other: a later
    // recovery replays it before the operations that came after it (found by
    // `crash_anywhere_equals_the_model`: unlogged, a series collected here came
    // back from the snapshot and took a later staleness marker).
    let now = opts.now_ms.or_else(|| newest_time(&store));
    if let Some(now) = now {
        rep.series_dropped_by_retention = store.gc(now);
    }
    rep.elapsed = t0.elapsed();
    let p = Persistence {
        wal,
        dir: dir.to_path_buf(),
        snap: Mutex::new(()),
        recovery: rep,
    };
    if !p.recovery.is_clean() {
        // The recovered state becomes the clean starting point.
        p.snapshot(&store)?;
    }
    Ok((store, p))
}
