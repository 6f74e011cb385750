//! Persistence: a store that survives restarts.
//!
//! [`Persistence::open`] (or [`Store::open`](crate::Store::open)) loads a
//! directory's snapshot, replays the log of operations committed after it,
//! drops what retention no longer keeps, and attaches a fresh log segment to
//! the store: from then on every committed scrape, target-down marking,
//! timestamped load, sample batch and explicit gc is appended to the log
//! under the store's writer mutex, in commit order.
//! [`Persistence::snapshot`] writes the whole store to `snapshot.bin` (temp
//! file, fsync, rename, fsync of the directory) and deletes the log segments
//! it contains; call it periodically (say every few minutes) and at shutdown
//! ([`Persistence::close`]).
//!
//! ```
//! use promlite_model::{MatchOp, Matcher, Queryable};
//! use promlite_store::{Format, PersistOptions, Persistence, Store, StoreConfig, Target};
//!
//! let dir = std::env::temp_dir().join(format!("promlite-doc-{}", std::process::id()));
//! # let _ = std::fs::remove_dir_all(&dir);
//! let target = Target::from_pairs([("job", "kcm")]);
//! {
//!     let (store, p) = Store::open(&dir, StoreConfig::default())?;
//!     assert!(p.recovery().is_clean());
//!     store.ingest_scrape(&target, b"up 1\n", Format::Text, 15_000)?;
//!     p.snapshot(&store)?; // written, log truncated
//!     store.ingest_scrape(&target, b"up 0\n", Format::Text, 30_000)?; // in the log
//!     // No close(): as if the process had been killed here.
//! }
//! let (store, p) = Persistence::open(&dir, StoreConfig::default(), PersistOptions::default())?;
//! let r = p.recovery();
//! assert_eq!((r.snapshot_series, r.records_replayed), (1, 1));
//! let m = Matcher::new(MatchOp::Equal, "__name__", "up").unwrap();
//! let got = store.select(&[m], 0, 60_000).unwrap();
//! assert_eq!(got[0].samples.len(), 2);
//! p.close(&store)?;
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Durability
//!
//! A log record is written with one `write` call as soon as its operation
//! has committed in memory, so a killed process (`kill -9`) loses at most the
//! operation it was committing. Surviving a power failure needs the record
//! on the disk: [`FsyncPolicy`] says when the log is fsynced (default: at most
//! a second after a write, checked at the next write, and at every snapshot
//! and [`Persistence::sync`]).
//!
//! # Damage
//!
//! Every log record and snapshot section carries a CRC-32. Loading stops at
//! the first damaged record or section, keeps what came before it, and says
//! so in the [`RecoveryReport`] (file, offset, what was wrong, bytes
//! dropped). Damaged files are renamed (`*.damaged`), kept for inspection,
//! and a fresh snapshot of what was recovered is written at once, so the
//! next start sees a clean directory. Nothing panics on any input.
//!
//! One directory belongs to one process at a time; nothing enforces it.

mod codec;
mod recover;
mod snapshot;
mod wal;

use std::fmt;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

pub use recover::{Damage, RecoveryReport};
pub use wal::LogStatus;

use crate::{Store, StoreConfig};
pub(crate) use wal::{OpRef, Wal};

/// When the log is fsynced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// After every record: nothing committed is lost even on power failure;
    /// costs one fsync per scrape.
    Always,
    /// At a write that comes at least this long after the last fsync (and at
    /// every snapshot and [`Persistence::sync`]): a power failure loses at
    /// most about this much (plus the time to the next write).
    Interval(Duration),
    /// Never by the log itself (only at snapshots and [`Persistence::sync`]):
    /// the operating system writes back when it likes.
    Never,
}

impl Default for FsyncPolicy {
    /// `Interval(1 s)`.
    fn default() -> Self {
        FsyncPolicy::Interval(Wal::DEFAULT_INTERVAL)
    }
}

/// How [`Persistence::open`] behaves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersistOptions {
    /// When the log is fsynced.
    pub fsync: FsyncPolicy,
    /// The time retention is measured from after loading (ms since the
    /// epoch); `None`: the newest sample's time in the loaded store, which
    /// keeps exactly what the store would have kept had it never stopped.
    /// Servers scraping with wall-clock times pass the current time, so data
    /// that aged out while the process was down is dropped.
    pub now_ms: Option<i64>,
}

/// What went wrong opening, snapshotting or syncing.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    /// [`Persistence::snapshot`] was given a store it does not persist.
    #[error("this store is not the one persisted in {0}")]
    WrongStore(PathBuf),
    /// A file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(io::Error) -> PersistError + '_ {
    move |source| PersistError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Figures of one snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotStats {
    /// Series written.
    pub series: usize,
    /// Samples written.
    pub samples: usize,
    /// File size in bytes.
    pub bytes: u64,
    /// Time spent encoding under the writer mutex (ingest waits for this).
    pub encode: Duration,
    /// Time spent writing, fsyncing and renaming (ingest goes on).
    pub write: Duration,
}

/// The store's log slot: empty unless the store was opened with persistence.
#[derive(Default)]
pub(crate) struct JournalSlot(pub(crate) OnceLock<Arc<Wal>>);

impl fmt::Debug for JournalSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "JournalSlot(set)"
        } else {
            "JournalSlot(none)"
        })
    }
}

impl Store {
    /// Opens (or creates) a store persisted in `dir`, with default
    /// [`PersistOptions`]. See [`Persistence::open`].
    ///
    /// # Errors
    /// The directory or a file in it cannot be created, read or written
    /// (damaged contents are not an error: see [`RecoveryReport`]).
    pub fn open(
        dir: impl AsRef<Path>,
        cfg: StoreConfig,
    ) -> Result<(Store, Persistence), PersistError> {
        Persistence::open(dir, cfg, PersistOptions::default())
    }

    /// Logs a committed operation when the store is persisted (one atomic
    /// load otherwise). Called under the writer mutex.
    #[inline]
    pub(crate) fn journal(&self, op: OpRef<'_>) {
        if let Some(w) = self.journal.0.get() {
            w.append(op);
        }
    }

    /// True when the store is persisted (callers collect what to log).
    #[inline]
    pub(crate) fn journaled(&self) -> bool {
        self.journal.0.get().is_some()
    }
}

/// The handle for snapshots and sync of a store persisted in a directory
/// (the store itself is returned beside it by [`Persistence::open`]; share
/// both as you like).
#[derive(Debug)]
pub struct Persistence {
    wal: Arc<Wal>,
    dir: PathBuf,
    snap: Mutex<()>,
    recovery: RecoveryReport,
}

/// The snapshot's file name in the directory.
pub const SNAPSHOT_FILE: &str = "snapshot.bin";

impl Persistence {
    /// Opens (or creates) `dir`: loads `snapshot.bin` if present, replays the
    /// log segments after it, runs [`Store::gc`] at
    /// [`PersistOptions::now_ms`], and starts a new log segment. What was
    /// loaded, and any damage found, is in [`recovery`](Self::recovery).
    /// Returns the store (ingest into it as usual: every commit is logged) and
    /// this handle.
    ///
    /// # Errors
    /// The directory or a file in it cannot be created, read or written.
    pub fn open(
        dir: impl AsRef<Path>,
        cfg: StoreConfig,
        opts: PersistOptions,
    ) -> Result<(Store, Persistence), PersistError> {
        recover::open(dir.as_ref(), cfg, &opts)
    }

    /// What opening found and loaded.
    pub fn recovery(&self) -> &RecoveryReport {
        &self.recovery
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The log's figures (segment, records, bytes, write errors).
    pub fn status(&self) -> LogStatus {
        self.wal.status()
    }

    /// Fsyncs the log.
    ///
    /// # Errors
    /// The fsync failed.
    pub fn sync(&self) -> Result<(), PersistError> {
        let seg = self.wal.status().segment;
        self.wal
            .sync()
            .map_err(io_err(&wal::segment_path(&self.dir, seg)))
    }

    /// Writes a snapshot of the store and deletes the log segments it holds.
    ///
    /// Under the store's writer mutex (ingest waits) the store is encoded in
    /// memory and the log moves to a new segment; then, with ingest running
    /// again, the file is written to a temporary name, fsynced, renamed over
    /// `snapshot.bin` and the directory fsynced; only then are the older
    /// segments deleted. A crash at any point leaves a loadable directory
    /// holding everything committed. One snapshot runs at a time.
    ///
    /// # Errors
    /// Writing failed (the previous snapshot and the log stay in place), or
    /// `store` is not the store this handle persists.
    pub fn snapshot(&self, store: &Store) -> Result<SnapshotStats, PersistError> {
        if !store
            .journal
            .0
            .get()
            .is_some_and(|w| Arc::ptr_eq(w, &self.wal))
        {
            return Err(PersistError::WrongStore(self.dir.clone()));
        }
        let _one = self.snap.lock().unwrap_or_else(|e| e.into_inner());
        let t0 = Instant::now();
        let enc = {
            let w = store.writer();
            let next = self.wal.rotate().map_err(io_err(&wal::segment_path(
                &self.dir,
                self.wal.status().segment,
            )))?;
            snapshot::encode(store, &w, next)
        };
        let encode = t0.elapsed();
        let t1 = Instant::now();
        let bytes = write_snapshot(&self.dir, &enc)?;
        // Segments before `wal_from` are in the snapshot now.
        let segs = wal::list_segments(&self.dir).map_err(io_err(&self.dir))?;
        for n in segs.into_iter().filter(|&n| n < enc.wal_from) {
            let p = wal::segment_path(&self.dir, n);
            fs::remove_file(&p).map_err(io_err(&p))?;
        }
        wal::sync_dir(&self.dir).map_err(io_err(&self.dir))?;
        Ok(SnapshotStats {
            series: enc.series,
            samples: enc.samples,
            bytes,
            encode,
            write: t1.elapsed(),
        })
    }

    /// Writes a final snapshot (so the next start loads it without replaying
    /// the log) and fsyncs. The store stays usable, and logged, afterwards.
    ///
    /// # Errors
    /// As [`snapshot`](Self::snapshot).
    pub fn close(self, store: &Store) -> Result<SnapshotStats, PersistError> {
        let s = self.snapshot(store)?;
        self.sync()?;
        Ok(s)
    }
}

/// Writes `enc` to `dir/snapshot.bin` atomically; returns its size.
fn write_snapshot(dir: &Path, enc: &snapshot::Encoded) -> Result<u64, PersistError> {
    let tmp = dir.join(format!("{SNAPSHOT_FILE}.tmp"));
    let path = dir.join(SNAPSHOT_FILE);
    let (h, sh) = enc.headers();
    let mut size = h.len() as u64;
    {
        let f = File::create(&tmp).map_err(io_err(&tmp))?;
        let mut bw = io::BufWriter::with_capacity(1 << 20, f);
        bw.write_all(&h).map_err(io_err(&tmp))?;
        for (x, p) in sh.iter().zip(enc.pieces()) {
            bw.write_all(x).map_err(io_err(&tmp))?;
            bw.write_all(p).map_err(io_err(&tmp))?;
            size += (x.len() + p.len()) as u64;
        }
        let f = bw.into_inner().map_err(|e| io_err(&tmp)(e.into_error()))?;
        f.sync_all().map_err(io_err(&tmp))?;
    }
    fs::rename(&tmp, &path).map_err(io_err(&path))?;
    wal::sync_dir(dir).map_err(io_err(dir))?;
    Ok(size)
}

/// Fuzzing entry points: load arbitrary bytes as a snapshot and as a log
/// segment into a fresh store, returning the store and what was found.
#[cfg(feature = "fuzzing")]
pub mod fuzzing {
    use super::*;

    /// Loads `bytes` as a snapshot; returns the store and the damage found.
    pub fn load_snapshot(bytes: &[u8], cfg: StoreConfig) -> (Store, Option<(u64, String)>) {
        let store = Store::new(cfg);
        let l = snapshot::load(&store, bytes);
        (store, l.damage)
    }

    /// Replays `bytes` as a log segment into `store`; returns the number of
    /// operations applied and the damage found.
    pub fn replay_log(store: &Store, bytes: &[u8]) -> (usize, Option<(u64, String)>) {
        let r = wal::read_segment(bytes);
        let n = r.ops.len();
        for op in r.ops {
            recover::apply(store, op);
        }
        (n, r.damage)
    }

    /// Snapshot bytes of `store` (as [`Persistence::snapshot`] writes them).
    pub fn snapshot_bytes(store: &Store) -> Vec<u8> {
        let w = store.writer();
        snapshot::encode(store, &w, 0).to_bytes()
    }

    /// Recomputes the header's and every whole section's CRC in snapshot
    /// bytes, so mutated contents reach the section decoders.
    pub fn reseal_snapshot(b: &mut [u8]) {
        if b.len() < 24 {
            return;
        }
        let crc = crc32fast::hash(&b[..20]);
        b[20..24].copy_from_slice(&crc.to_le_bytes());
        let mut pos = 24usize;
        while let Some(h) = b.get(pos..pos + 13) {
            let mut lb = [0u8; 8];
            lb.copy_from_slice(&h[1..9]);
            let Some(end) = usize::try_from(u64::from_le_bytes(lb))
                .ok()
                .and_then(|n| (pos + 13).checked_add(n))
                .filter(|&e| e <= b.len())
            else {
                return;
            };
            let crc = crc32fast::hash(&b[pos + 13..end]);
            b[pos + 9..pos + 13].copy_from_slice(&crc.to_le_bytes());
            pos = end;
        }
    }

    /// Frames `payload` as one log record with a correct CRC.
    pub fn frame_record(payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        wal::frame(payload, &mut out);
        out
    }
}

#[cfg(test)]
mod tests;
