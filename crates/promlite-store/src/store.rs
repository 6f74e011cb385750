//! The store: shared state, series, selection, garbage collection, statistics.

use std::collections::BTreeMap;
use std::hash::BuildHasher;
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use hashbrown::{DefaultHashBuilder, HashMap, HashTable};
use promlite_model::{
    Labels, Matcher, MetricType, PairRef, Queryable, Sample, SelectError, SeriesSamples,
};
use serde::Serialize;

use crate::cache::ScrapeCache;
use crate::index::Index;
use crate::ring::{Clock, Clocks, Ring, EXPLICIT};
use crate::StoreConfig;

/// Samples or series handled per write-lock acquisition during a commit, so a
/// reader never waits for a whole scrape.
pub(crate) const COMMIT_BATCH: usize = 16 * 1024;

/// A scrape target: its labels (such as `instance`, `job`) are attached to
/// every series it reports, overriding labels of the same name in the body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    labels: Labels,
}

impl Target {
    /// A target with these labels.
    pub fn new(labels: Labels) -> Self {
        Target { labels }
    }

    /// A target from (name, value) pairs.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Target {
            labels: Labels::from_pairs(pairs),
        }
    }

    /// The target's labels.
    pub fn labels(&self) -> &Labels {
        &self.labels
    }
}

/// One series.
#[derive(Debug)]
pub(crate) struct Series {
    /// Offset of the series' pair ids in `Inner::pair_arena`.
    pub(crate) off: u32,
    /// Number of labels.
    pub(crate) len: u8,
    pub(crate) ring: Ring,
}

/// What the running commit is appending, hidden from readers until it ends.
#[derive(Debug, Default)]
pub(crate) struct Committing {
    /// The target clock and sequence number of the scrape being committed.
    pub(crate) clock: u32,
    pub(crate) seq: i64,
    /// Series (sorted) getting a sample with its own timestamp in this commit.
    pub(crate) explicit: Vec<u32>,
}

/// Family metadata from `# TYPE`, `# HELP`, `# UNIT`.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Meta {
    pub(crate) typ: Option<MetricType>,
    pub(crate) help: Option<String>,
    pub(crate) unit: Option<String>,
}

/// Metadata of one metric family as reported by one target.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricMetadata {
    /// The reporting target's labels (the extra labels for data files).
    pub target: Labels,
    /// The family name.
    pub family: String,
    /// Its declared type.
    pub typ: Option<MetricType>,
    /// Its help text.
    pub help: Option<String>,
    /// Its unit.
    pub unit: Option<String>,
}

/// State readers see, behind the `RwLock`.
#[derive(Debug, Default)]
pub(crate) struct Inner {
    pub(crate) index: Index,
    pub(crate) series: Vec<Option<Series>>,
    pub(crate) live: usize,
    pub(crate) samples: usize,
    hasher: DefaultHashBuilder,
    series_map: HashTable<u32>,
    pub(crate) clocks: Clocks,
    /// Per target id: its labels and metadata.
    pub(crate) targets: Vec<(Labels, BTreeMap<String, Meta>)>,
    /// Pair ids of all series, `Series::off..off + len` each.
    pub(crate) pair_arena: Vec<u32>,
    /// Arena entries of dropped series.
    pub(crate) arena_garbage: usize,
    /// The scrape being committed: its samples are hidden from readers.
    pub(crate) committing: Option<Committing>,
    /// Running allocation estimate for the memory budget (recounted by gc).
    pub(crate) mem_estimate: usize,
}

impl Inner {
    fn hash_pairs(&self, pairs: &[u32]) -> u64 {
        self.hasher.hash_one(pairs)
    }

    /// The pair ids of a series.
    #[inline]
    pub(crate) fn pairs_of(&self, s: &Series) -> &[u32] {
        let off = s.off as usize;
        self.pair_arena
            .get(off..off + usize::from(s.len))
            .unwrap_or(&[])
    }

    /// Decodes every series of `ids` that has samples in `[mint, maxt]` into one
    /// reused buffer and hands it to `f` with the series' label pairs; stops when
    /// `f` returns false; fails once more than `limit` samples were handed out.
    /// Returns the number of samples handed out.
    pub(crate) fn visit_series(
        &self,
        ids: &[u32],
        mint: i64,
        maxt: i64,
        limit: usize,
        f: &mut dyn FnMut(&[PairRef<'_>], &[Sample]) -> bool,
    ) -> Result<usize, SelectError> {
        let mut total = 0usize;
        let mut samples: Vec<Sample> = Vec::new();
        let mut pairs: Vec<PairRef<'_>> = Vec::new();
        for &sid in ids {
            let Some(Some(s)) = self.series.get(sid as usize) else {
                continue;
            };
            let last_t = self.last_t(s);
            if last_t < mint || s.ring.len() == 0 {
                continue;
            }
            let pending = self.is_pending(sid, s);
            samples.clear();
            s.ring.decode_window(&self.clocks, mint, maxt, &mut samples);
            if pending && samples.last().is_some_and(|x| x.t == last_t) {
                samples.pop();
            }
            if samples.is_empty() {
                continue;
            }
            total += samples.len();
            if total > limit {
                return Err(SelectError::TooManySamples { limit });
            }
            pairs.clear();
            pairs.extend(self.pairs_of(s).iter().map(|&p| self.index.pair_strings(p)));
            if !f(&pairs, &samples) {
                break;
            }
        }
        Ok(total)
    }

    /// The labels of a series.
    pub(crate) fn labels_of(&self, s: &Series) -> Labels {
        self.index.labels(self.pairs_of(s))
    }

    /// Timestamp of the series' newest sample (`i64::MIN` when none).
    #[inline]
    pub(crate) fn last_t(&self, s: &Series) -> i64 {
        if s.ring.len() == 0 {
            return i64::MIN;
        }
        let (c, i) = s.ring.last_int();
        self.clocks.t_of(c, i).unwrap_or(i64::MIN)
    }

    /// True when the series' newest sample belongs to the running commit.
    #[inline]
    pub(crate) fn is_pending(&self, sid: u32, s: &Series) -> bool {
        let Some(c) = &self.committing else {
            return false;
        };
        let (clock, int) = s.ring.last_int();
        (s.ring.len() > 0 && clock != EXPLICIT && clock == c.clock && int == c.seq)
            || c.explicit.binary_search(&sid).is_ok()
    }

    /// Finds the series with exactly these sorted (name, value) pairs.
    pub(crate) fn find<'s>(&self, labels: impl Iterator<Item = (&'s str, &'s str)>) -> Option<u32> {
        let mut ids: smallvec::SmallVec<[u32; 16]> = smallvec::SmallVec::new();
        for (n, v) in labels {
            ids.push(self.index.pair(n, v)?);
        }
        self.find_pairs(&ids)
    }

    pub(crate) fn find_pairs(&self, ids: &[u32]) -> Option<u32> {
        self.find_pairs_hashed(ids, self.hash_pairs(ids))
    }

    /// [`find_pairs`](Self::find_pairs) with the pairs' `hash_pairs` given.
    fn find_pairs_hashed(&self, ids: &[u32], h: u64) -> Option<u32> {
        self.series_map
            .find(h, |&s| {
                self.series[s as usize]
                    .as_ref()
                    .is_some_and(|x| self.pairs_of(x) == ids)
            })
            .copied()
    }

    /// The series lookup table and its rehash function (a series' pair ids
    /// hashed as [`hash_pairs`](Self::hash_pairs) does), the fields borrowed
    /// apart as the borrow checker wants.
    fn series_map_mut(&mut self) -> (&mut HashTable<u32>, impl Fn(&u32) -> u64 + '_) {
        let Inner {
            hasher,
            series,
            series_map,
            pair_arena,
            ..
        } = self;
        let rehash = move |&s: &u32| {
            let p = series[s as usize]
                .as_ref()
                .and_then(|x| pair_arena.get(x.off as usize..x.off as usize + usize::from(x.len)))
                .unwrap_or(&[]);
            hasher.hash_one(p)
        };
        (series_map, rehash)
    }

    /// Makes room in the series lookup table for `n` more series.
    pub(crate) fn reserve_series(&mut self, n: usize) {
        let (map, rehash) = self.series_map_mut();
        map.reserve(n, rehash);
    }

    /// Creates a series (labels sorted, unique, non-empty) unless it exists.
    pub(crate) fn create<'s>(&mut self, labels: impl Iterator<Item = (&'s str, &'s str)>) -> u32 {
        let pairs: smallvec::SmallVec<[u32; 16]> =
            labels.map(|(n, v)| self.index.intern_pair(n, v)).collect();
        self.create_from_pairs(&pairs)
    }

    /// Creates a series from pair ids in label-name order unless it exists.
    pub(crate) fn create_from_pairs(&mut self, pairs: &[u32]) -> u32 {
        let h = self.hash_pairs(pairs);
        if let Some(s) = self.find_pairs_hashed(pairs, h) {
            return s;
        }
        self.insert_series(pairs, h)
    }

    /// Enters series made by [`create_in_arena`](Self::create_in_arena) in the
    /// lookup table: series `first`, `first + 1`, ... with `hashes`.
    pub(crate) fn map_new_series(&mut self, hashes: &[u64], first: u32) {
        let (map, rehash) = self.series_map_mut();
        map.reserve(hashes.len(), &rehash);
        for (sid, &h) in (first..).zip(hashes) {
            map.insert_unique(h, sid, &rehash);
        }
    }

    fn insert_series(&mut self, pairs: &[u32], h: u64) -> u32 {
        let sid = self.push_series(pairs);
        let (map, rehash) = self.series_map_mut();
        map.insert_unique(h, sid, rehash);
        sid
    }

    /// Appends pair ids for [`create_in_arena`](Self::create_in_arena) to the
    /// pair arena (becoming the arena if that is empty); returns where they
    /// start.
    pub(crate) fn append_pairs(&mut self, mut pairs: Vec<u32>) -> u32 {
        let base = self.pair_arena.len() as u32;
        if self.pair_arena.capacity() == 0 {
            pairs.shrink_to_fit();
            self.pair_arena = pairs;
        } else {
            self.pair_arena.reserve_exact(pairs.len());
            self.pair_arena.extend_from_slice(&pairs);
        }
        base
    }

    /// Creates a series known not to exist whose `len` pair ids (in label-name
    /// order) are at `off` in the pair arena, without entering it in the
    /// lookup table: returns its id (the next one) and its hash for
    /// [`map_new_series`](Self::map_new_series), which must follow before the
    /// writer lock is released.
    pub(crate) fn create_in_arena(&mut self, off: u32, len: u8) -> (u32, u64) {
        let pairs = self
            .pair_arena
            .get(off as usize..off as usize + usize::from(len))
            .unwrap_or(&[]);
        let h = self.hasher.hash_one(pairs);
        debug_assert!(self.find_pairs_hashed(pairs, h).is_none());
        (self.series_at(off, len), h)
    }

    /// Adds a series to the series list, the pair arena and the postings.
    fn push_series(&mut self, pairs: &[u32]) -> u32 {
        // Grow by an eighth, not by doubling: slack here is paid per series.
        let arena = &mut self.pair_arena;
        if arena.capacity() - arena.len() < pairs.len() {
            arena.reserve_exact(pairs.len().max(arena.len() / 8));
        }
        let off = arena.len() as u32;
        arena.extend_from_slice(pairs);
        self.series_at(off, pairs.len() as u8)
    }

    /// Adds the series whose `len` pair ids are at `off` in the pair arena to
    /// the series list and the postings; returns its id (the next one).
    fn series_at(&mut self, off: u32, len: u8) -> u32 {
        let sid = self.series.len() as u32;
        let pairs = self
            .pair_arena
            .get(off as usize..off as usize + usize::from(len))
            .unwrap_or(&[]);
        self.index.add_series(sid, pairs);
        if self.series.capacity() == self.series.len() {
            self.series.reserve_exact((self.series.len() / 8).max(16));
        }
        self.mem_estimate += std::mem::size_of::<Option<Series>>() + usize::from(len) * 8 + 16;
        self.series.push(Some(Series {
            off,
            len,
            ring: Ring::default(),
        }));
        self.live += 1;
        sid
    }

    /// Appends a sample to a series, evicting beyond the ring capacity.
    #[inline]
    pub(crate) fn append(&mut self, sid: u32, clock: u32, int: i64, v: f64, cfg: &StoreConfig) {
        let Some(Some(s)) = self.series.get_mut(sid as usize) else {
            return;
        };
        s.ring.push(clock, int, v, cfg.block_samples.max(1));
        self.samples += 1;
        if let Some(cap) = cfg.ring_samples {
            while s.ring.len() > cap.max(1) {
                s.ring.evict_one();
                self.samples -= 1;
            }
        }
    }

    /// The series' logical samples, decoded.
    pub(crate) fn samples_of(&self, s: &Series) -> Vec<Sample> {
        let mut out = Vec::with_capacity(s.ring.len());
        s.ring.for_each(|c, i, v| {
            if let Some(t) = self.clocks.t_of(c, i) {
                out.push(Sample { t, v });
            }
        });
        out
    }

    pub(crate) fn live_ids(&self) -> Vec<u32> {
        self.series
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_some())
            .map(|(i, _)| i as u32)
            .collect()
    }

    /// Drops series `dead` (sorted ids).
    pub(crate) fn drop_series(&mut self, dead: &[u32]) {
        let mut touched = Vec::new();
        for &sid in dead {
            let Some(s) = self.series.get_mut(sid as usize).and_then(|s| s.take()) else {
                continue;
            };
            let off = s.off as usize;
            let pairs = self
                .pair_arena
                .get(off..off + usize::from(s.len))
                .unwrap_or(&[]);
            let h = self.hasher.hash_one(pairs);
            touched.extend_from_slice(pairs);
            if let Ok(e) = self.series_map.find_entry(h, |&x| x == sid) {
                e.remove();
            }
            self.arena_garbage += usize::from(s.len);
            self.samples -= s.ring.len();
            self.live -= 1;
        }
        self.index.remove_series(dead, &mut touched);
    }

    /// Bytes allocated, by part.
    pub(crate) fn allocated(&self) -> Stats {
        let (label_bytes, index_bytes) = self.index.allocated();
        let mut sample_data = 0usize;
        let series_bytes = self.series.capacity() * std::mem::size_of::<Option<Series>>()
            + self.series_map.capacity() * 5
            + self.pair_arena.capacity() * 4;
        for s in self.series.iter().flatten() {
            sample_data += s.ring.allocated();
        }
        let clock_bytes = self.clocks.allocated();
        let meta_bytes: usize = self
            .targets
            .iter()
            .map(|(_, m)| {
                m.iter()
                    .map(|(k, v)| {
                        k.len()
                            + 64
                            + v.help.as_ref().map_or(0, |h| h.len())
                            + v.unit.as_ref().map_or(0, |h| h.len())
                    })
                    .sum::<usize>()
            })
            .sum();
        Stats {
            series: self.live,
            samples: self.samples,
            label_bytes,
            sample_data_bytes: sample_data,
            series_bytes,
            index_bytes,
            postings_bytes: self.index.postings_bytes(),
            clock_bytes,
            metadata_bytes: meta_bytes,
            ..Stats::default()
        }
    }
}

/// Writer-side state of one target.
#[derive(Debug, Default)]
pub(crate) struct TargetState {
    pub(crate) id: u32,
    /// Format of the last committed scrape.
    pub(crate) format: Option<promlite_expfmt::Format>,
    pub(crate) cache: ScrapeCache,
    pub(crate) counters: TargetCounters,
    /// A scrape's staging list and cache order, kept for the next scrape: a
    /// new list of 1.45 M entries each scrape would come from fresh pages.
    pub(crate) spare_staged: Vec<crate::scrape::Staged>,
    pub(crate) spare_order: Vec<u32>,
}

impl TargetState {
    /// Bytes allocated for the target's scrape cache and kept buffers.
    pub(crate) fn allocated(&self) -> usize {
        self.cache.allocated()
            + self.spare_staged.capacity() * std::mem::size_of::<crate::scrape::Staged>()
            + self.spare_order.capacity() * 4
    }
}

/// Per-target counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TargetCounters {
    /// Scrapes committed.
    pub scrapes: u64,
    /// Scrapes rejected (nothing appended).
    pub rejected_scrapes: u64,
    /// Samples rejected because they were older than the series' newest sample.
    pub out_of_order: u64,
    /// Samples rejected because the series already had a different value at that time.
    pub duplicate_timestamp: u64,
    /// Samples identical to the series' newest (same time and value): ignored.
    pub identical_duplicates: u64,
    /// Samples dropped because their series appeared earlier in the same
    /// scrape (Prometheus 3 counts these as duplicate timestamps).
    pub repeated_in_scrape: u64,
    /// Staleness markers written.
    pub stale_markers: u64,
}

/// Writer-side state, behind the writer mutex.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    pub(crate) targets: HashMap<Labels, TargetState>,
    pub(crate) attempt: u32,
    pub(crate) last_gc: Option<i64>,
    /// Target ids of data-file "targets" by their extra labels.
    pub(crate) file_targets: HashMap<Labels, u32>,
}

/// The store. See the crate docs for the concurrency design.
#[derive(Debug)]
pub struct Store {
    pub(crate) cfg: StoreConfig,
    /// Use the text fast path (tests turn it off to compare).
    pub(crate) lean: bool,
    pub(crate) inner: RwLock<Inner>,
    pub(crate) writer: Mutex<Writer>,
    /// Sees every commit (remote_write); empty unless set.
    pub(crate) observer: crate::observer::ObserverSlot,
    /// The log of a persisted store; empty unless opened with persistence.
    pub(crate) journal: crate::persist::JournalSlot,
}

/// Memory and size figures. Allocated bytes are counted from the capacities of
/// every buffer the store owns (hash tables: one slot plus one control byte per
/// bucket), not estimated from sample counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Stats {
    /// Live series.
    pub series: usize,
    /// Samples held (logical ring contents, staleness markers included).
    pub samples: usize,
    /// Bytes of interned label strings (each distinct string once, plus its
    /// 16-byte `Arc` header).
    pub label_bytes: usize,
    /// Bytes allocated for compressed sample data (ring buffers).
    pub sample_data_bytes: usize,
    /// Bytes of series records and label references (pair ids), and the series
    /// lookup table.
    pub series_bytes: usize,
    /// Bytes of the postings index and interner tables.
    pub index_bytes: usize,
    /// Of `index_bytes`: the postings lists.
    pub postings_bytes: usize,
    /// Bytes of the per-target scrape caches (raw series bytes → id), with the
    /// staging buffers each target keeps for its next scrape.
    pub cache_bytes: usize,
    /// Bytes of the shared per-target timestamp columns.
    pub clock_bytes: usize,
    /// Bytes of family metadata (approximate: strings plus a fixed 64 per entry).
    pub metadata_bytes: usize,
    /// Sum of all the above.
    pub allocated_bytes: usize,
    /// `sample_data_bytes / samples`.
    pub bytes_per_sample: f64,
    /// Everything except label strings, sample data and scrape caches, per series.
    pub bytes_per_series: f64,
    /// Like `bytes_per_series`, scrape caches included.
    pub bytes_per_series_with_cache: f64,
}

impl Store {
    /// An empty store.
    pub fn new(cfg: StoreConfig) -> Store {
        Store {
            cfg,
            lean: true,
            inner: RwLock::new(Inner::default()),
            writer: Mutex::new(Writer::default()),
            observer: Default::default(),
            journal: Default::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &StoreConfig {
        &self.cfg
    }

    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn writer(&self) -> MutexGuard<'_, Writer> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Size and memory figures.
    pub fn stats(&self) -> Stats {
        let cache_bytes: usize = self
            .writer()
            .targets
            .values()
            .map(TargetState::allocated)
            .sum();
        let inner = self.read();
        let mut st = inner.allocated();
        st.cache_bytes = cache_bytes;
        st.allocated_bytes = st.label_bytes
            + st.sample_data_bytes
            + st.series_bytes
            + st.index_bytes
            + st.cache_bytes
            + st.clock_bytes
            + st.metadata_bytes;
        let per = |x: usize, n: usize| if n == 0 { 0.0 } else { x as f64 / n as f64 };
        st.bytes_per_sample = per(st.sample_data_bytes, st.samples);
        let rest = st.series_bytes + st.index_bytes + st.clock_bytes + st.metadata_bytes;
        st.bytes_per_series = per(rest, st.series);
        st.bytes_per_series_with_cache = per(rest + st.cache_bytes, st.series);
        st
    }

    /// Per-target counters, by target labels.
    pub fn target_counters(&self) -> Vec<(Labels, TargetCounters)> {
        let mut v: Vec<_> = self
            .writer()
            .targets
            .iter()
            .map(|(l, t)| (l.clone(), t.counters.clone()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// Family metadata of every target, sorted by family then target.
    pub fn metadata(&self) -> Vec<MetricMetadata> {
        let inner = self.read();
        let mut out = Vec::new();
        for (labels, metas) in &inner.targets {
            for (family, m) in metas {
                out.push(MetricMetadata {
                    target: labels.clone(),
                    family: family.clone(),
                    typ: m.typ,
                    help: m.help.clone(),
                    unit: m.unit.clone(),
                });
            }
        }
        out.sort_by(|a, b| {
            a.family
                .cmp(&b.family)
                .then_with(|| a.target.cmp(&b.target))
        });
        out
    }

    /// Every series' labels (sorted), for listings and tests.
    pub fn series_labels(&self) -> Vec<Labels> {
        let inner = self.read();
        let mut v: Vec<Labels> = inner
            .series
            .iter()
            .flatten()
            .map(|s| inner.labels_of(s))
            .collect();
        v.sort();
        v
    }

    /// Drops samples older than `now_ms - retention_ms` (when time retention is
    /// configured) and every series left without samples, reclaiming their
    /// memory: ring buffers, postings entries, label pairs and strings no other
    /// series uses, scrape-cache entries. Returns the number of series dropped.
    pub fn gc(&self, now_ms: i64) -> usize {
        let mut w = self.writer();
        let n = self.gc_locked(&mut w, now_ms);
        self.journal(crate::persist::OpRef::Gc(now_ms));
        n
    }

    pub(crate) fn gc_locked(&self, w: &mut Writer, now_ms: i64) -> usize {
        w.last_gc = Some(now_ms);
        let cutoff = self.cfg.retention_ms.map(|r| now_ms.saturating_sub(r));
        let mut dead = Vec::new();
        let (n, n_clocks) = {
            let inner = self.read();
            (inner.series.len(), inner.clocks.list.len())
        };
        // Per clock, the lowest sequence number a kept block starts at, found
        // in the same pass (each ring's block headers are read once).
        let mut min_seq: Vec<u32> = vec![u32::MAX; n_clocks];
        let mut start = 0;
        while start < n {
            let end = (start + COMMIT_BATCH).min(n);
            let mut guard = self.write();
            let inner = &mut *guard;
            for sid in start..end {
                let last_t = match inner.series[sid].as_ref() {
                    Some(s) => inner.last_t(s),
                    None => continue,
                };
                let Some(s) = inner.series[sid].as_mut() else {
                    continue;
                };
                if let Some(cut) = cutoff {
                    if last_t < cut {
                        dead.push(sid as u32);
                        continue;
                    }
                    let clocks = &inner.clocks;
                    // The first block's first sample bounds the ring's from
                    // below: most rings need no decoding.
                    let mut t0 = None;
                    s.ring.first_block_start(|c, i| t0 = clocks.t_of(c, i));
                    let first_t = match t0 {
                        Some(t) if t >= cut => Some(t),
                        _ => s.ring.first().and_then(|(c, i)| clocks.t_of(c, i)),
                    };
                    if first_t.is_none_or(|t| t < cut) {
                        let mut old = 0usize;
                        s.ring.for_each(|c, i, _| {
                            if clocks.t_of(c, i).is_none_or(|t| t < cut) {
                                old += 1;
                            }
                        });
                        if old > 0 {
                            s.ring.evict(old);
                            inner.samples -= old;
                        }
                    }
                }
                if s.ring.len() == 0 {
                    dead.push(sid as u32);
                } else if cutoff.is_some() {
                    s.ring.block_starts(|c, i| {
                        if let Some(m) = min_seq.get_mut(c as usize) {
                            *m = (*m).min(i as u32);
                        }
                    });
                }
            }
            drop(guard);
            start = end;
        }
        if !dead.is_empty() {
            {
                let mut inner = self.write();
                inner.drop_series(&dead);
            }
            for t in w.targets.values_mut() {
                let gone: Vec<u32> = t
                    .cache
                    .live()
                    .filter(|(_, e)| dead.binary_search(&e.sid).is_ok())
                    .map(|(i, _)| i)
                    .collect();
                for e in gone {
                    t.cache.remove(e);
                }
                let order: Vec<u32> = t
                    .cache
                    .order
                    .iter()
                    .copied()
                    .filter(|&e| {
                        t.cache.entries[e as usize].sid != u32::MAX
                            && dead
                                .binary_search(&t.cache.entries[e as usize].sid)
                                .is_err()
                    })
                    .collect();
                t.cache.set_order(order);
            }
        }
        let mut inner = self.write();
        if inner.arena_garbage * 2 > inner.pair_arena.len() {
            let inner = &mut *inner;
            let mut arena = Vec::with_capacity(inner.pair_arena.len() - inner.arena_garbage);
            for s in inner.series.iter_mut().flatten() {
                let off = s.off as usize;
                let pairs = inner
                    .pair_arena
                    .get(off..off + usize::from(s.len))
                    .unwrap_or(&[]);
                s.off = arena.len() as u32;
                arena.extend_from_slice(pairs);
            }
            inner.pair_arena = arena;
            inner.arena_garbage = 0;
        }
        // Timestamps no series references any more.
        if cutoff.is_some() {
            for (c, m) in inner.clocks.list.iter_mut().zip(min_seq) {
                let keep_from = m.min(c.next_seq().saturating_sub(1));
                while c.base < keep_from && !c.ts.is_empty() {
                    c.ts.pop_front();
                    c.base += 1;
                }
            }
        }
        let est = inner.allocated();
        inner.mem_estimate =
            est.label_bytes + est.sample_data_bytes + est.series_bytes + est.index_bytes;
        dead.len()
    }

    /// Registers a target id (clock and metadata slot) for `labels`.
    pub(crate) fn new_target_id(inner: &mut Inner, labels: &Labels) -> u32 {
        inner.clocks.list.push(Clock::default());
        inner.targets.push((labels.clone(), BTreeMap::new()));
        (inner.targets.len() - 1) as u32
    }
}

impl Queryable for Store {
    fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<SeriesSamples>, SelectError> {
        let mut out = Vec::new();
        self.select_each(matchers, mint, maxt, &mut |pairs, samples| {
            out.push(SeriesSamples {
                labels: Labels::from_pair_refs(pairs, |_| true),
                samples: samples.to_vec(),
            });
            true
        })?;
        Ok(out)
    }

    fn select_each(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        f: &mut dyn FnMut(&[PairRef<'_>], &[Sample]) -> bool,
    ) -> Result<(), SelectError> {
        let inner = self.read();
        let ids = inner.index.select(matchers, || inner.live_ids());
        let limit = self.cfg.limits.max_query_samples;
        inner.visit_series(&ids, mint, maxt, limit, f).map(|_| ())
    }

    fn metric_type(&self, metric_name: &str) -> Option<MetricType> {
        let inner = self.read();
        let lookup = |fam: &str| {
            inner
                .targets
                .iter()
                .find_map(|(_, m)| m.get(fam).and_then(|x| x.typ))
        };
        if let Some(t) = lookup(metric_name) {
            return Some(t);
        }
        for (suffix, ok) in [
            (
                "_bucket",
                &[MetricType::Histogram, MetricType::GaugeHistogram][..],
            ),
            ("_sum", &[MetricType::Histogram, MetricType::Summary][..]),
            ("_count", &[MetricType::Histogram, MetricType::Summary][..]),
            ("_total", &[MetricType::Counter][..]),
            (
                "_created",
                &[
                    MetricType::Counter,
                    MetricType::Histogram,
                    MetricType::Summary,
                ][..],
            ),
        ] {
            if let Some(fam) = metric_name.strip_suffix(suffix) {
                if let Some(t) = lookup(fam).filter(|t| ok.contains(t)) {
                    return Some(t);
                }
            }
        }
        None
    }
}
