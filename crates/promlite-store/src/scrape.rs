//! Scrape ingestion: stage a whole scrape, then commit it in batches.

use std::collections::BTreeMap;

use hashbrown::HashTable;
use promlite_expfmt::{Event, Format, Parser};
use promlite_model::{Labels, STALE_NAN};

use crate::cache::ScrapeCache;
use crate::labels::{self, FamilyTracker};
use crate::lean::{Line, TextLines};
use crate::memo::{Memo, Resolve};
use crate::ring::EXPLICIT;
use crate::store::{Committing, Inner, Meta, Store, TargetState, COMMIT_BATCH};
use crate::{CommittedSample, IngestError, IngestReport, LimitKind, Target};

/// Marks a staged reference to the i-th new series of a scrape.
pub(crate) const PENDING: u32 = 0x8000_0000;
/// Target id not assigned yet.
const NO_ID: u32 = u32::MAX;

/// Estimated bytes per new series and per sample, for the memory budget.
pub(crate) const EST_SERIES_BYTES: usize = 256;
pub(crate) const EST_SAMPLE_BYTES: usize = 2;

/// A staged sample: 16 bytes, because a target's first scrape stages one per
/// new series and every byte of the list is fresh memory. A sample that is
/// not a plain append at the scrape's timestamp also has an [`Odd`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Staged {
    /// Series id, or `PENDING | i` for the i-th new series.
    sref: u32,
    /// Cache entry, or `PENDING | i` for the i-th cache miss.
    entry: u32,
    v: f64,
}

/// What a staged sample has beyond [`Staged`]: its own timestamp, or that it
/// is not appended (out of order or a duplicate).
#[derive(Debug, Clone, Copy)]
struct Odd {
    /// Index of the sample in the staged list.
    at: u32,
    /// The sample's timestamp.
    t: i64,
    explicit: bool,
    skip: bool,
    /// The series appeared earlier in this scrape (also `skip`).
    repeat: bool,
}

/// Walks the [`Odd`]s of a staged list in step with it.
struct OddCursor<'a> {
    odd: &'a [Odd],
    next: usize,
    /// Index of the staged sample that `odd[next]` belongs to (`usize::MAX`
    /// past the end): the common case is one comparison.
    next_at: usize,
}

impl<'a> OddCursor<'a> {
    fn new(odd: &'a [Odd]) -> Self {
        let mut c = OddCursor {
            odd,
            next: 0,
            next_at: 0,
        };
        c.next_at = c.at_of(0);
        c
    }

    fn at_of(&self, k: usize) -> usize {
        self.odd.get(k).map_or(usize::MAX, |o| o.at as usize)
    }

    /// The `Odd` of staged sample `i`, if any; `i` must not go backwards.
    #[inline(always)]
    fn at(&mut self, i: usize) -> Option<Odd> {
        if i != self.next_at {
            return None;
        }
        let o = self.odd.get(self.next).copied();
        self.next += 1;
        self.next_at = self.at_of(self.next);
        o
    }
}

pub(crate) fn limit(
    limit: LimitKind,
    max: usize,
    value: usize,
    line: Option<usize>,
) -> IngestError {
    IngestError::Limit {
        limit,
        max,
        value,
        line,
    }
}

/// Joins sorted pairs into a map key (0xff never occurs in UTF-8).
pub(crate) fn label_key<'s>(pairs: impl Iterator<Item = (&'s str, &'s str)>) -> Vec<u8> {
    let mut k = Vec::with_capacity(128);
    for (n, v) in pairs {
        k.extend_from_slice(n.as_bytes());
        k.push(0xff);
        k.extend_from_slice(v.as_bytes());
        k.push(0xff);
    }
    k
}

/// Label pairs first seen in this scrape, interned only on commit.
#[derive(Default)]
struct LocalPairs {
    pairs: Vec<(Box<str>, Box<str>)>,
    table: HashTable<u32>,
}

impl LocalPairs {
    /// The local id of (n, v), whose `index.hash_pair` is `h`.
    fn get_or_insert(&mut self, index: &crate::index::Index, n: &str, v: &str, h: u64) -> u32 {
        if let Some(&i) = self.table.find(h, |&i| {
            &*self.pairs[i as usize].0 == n && &*self.pairs[i as usize].1 == v
        }) {
            return i;
        }
        let i = self.pairs.len() as u32;
        self.pairs.push((n.into(), v.into()));
        let pairs = &self.pairs;
        self.table.insert_unique(h, i, |&k| {
            let (n, v) = &pairs[k as usize];
            index.hash_pair(n, v)
        });
        i
    }
}

/// New series of a scrape: pair refs (global ids, or `PENDING | local pair`)
/// in label-name order, flat.
///
/// Two lines naming the same new series are found once the scrape is read,
/// by sorting the series' hashes ([`repeats`](Self::repeats)),
/// not with a hash table: 1.45 M random inserts into a table far larger than
/// the CPU caches cost more than the sort.
#[derive(Default)]
struct NewSeries {
    refs: Vec<u32>,
    /// Where each series' refs end in `refs`.
    ends: Vec<u32>,
    /// Per series: the high half of its refs' hash above its index (a sort
    /// key of eight bytes; equal halves are told apart by the refs).
    keys: Vec<u64>,
    /// Per series: the line naming it.
    lines: Vec<u32>,
}

impl NewSeries {
    fn len(&self) -> usize {
        self.ends.len()
    }

    /// Where series `i`'s refs start and end in `refs`.
    fn bounds(&self, i: usize) -> (u32, u32) {
        let start = match i.checked_sub(1) {
            Some(j) => self.ends[j],
            None => 0,
        };
        (start, self.ends[i])
    }

    fn get(&self, i: u32) -> &[u32] {
        let (start, end) = self.bounds(i as usize);
        &self.refs[start as usize..end as usize]
    }

    /// Adds a series (which may repeat an earlier one) seen on `line`; `None`
    /// when the scrape has more pair refs than 32 bits count.
    fn push(&mut self, refs: &[u32], line: usize) -> Option<u32> {
        let i = u32::try_from(self.ends.len()).ok()?;
        let end = u32::try_from(self.refs.len() + refs.len()).ok()?;
        self.refs.extend_from_slice(refs);
        self.ends.push(end);
        self.keys
            .push(hash_refs(refs) & !0xffff_ffff | u64::from(i));
        self.lines.push(u32::try_from(line).unwrap_or(u32::MAX));
        Some(i)
    }

    /// Every series that repeats an earlier one of this scrape, as (its
    /// index, the index of the first series with its labels), in no order.
    /// The keys are consumed (handed back empty, for the commit to reuse).
    fn repeats(&mut self) -> Vec<(u32, u32)> {
        let mut keys = std::mem::take(&mut self.keys);
        sort_by_high_half(&mut keys);
        let mut found = Vec::new();
        let mut run_start = 0;
        for i in 1..=keys.len() {
            if i < keys.len() && keys[i] >> 32 == keys[run_start] >> 32 {
                continue;
            }
            let run = &mut keys[run_start..i];
            run_start = i;
            if run.len() < 2 {
                continue;
            }
            // Equal hash halves: order by refs, then by index (line order),
            // so that the first of equal neighbours is the first occurrence.
            let idx = |k: u64| k as u32;
            run.sort_unstable_by(|&a, &b| {
                self.get(idx(a))
                    .cmp(self.get(idx(b)))
                    .then(idx(a).cmp(&idx(b)))
            });
            let mut first = idx(run[0]);
            for w in run.windows(2) {
                if self.get(idx(w[0])) == self.get(idx(w[1])) {
                    found.push((idx(w[1]), first));
                } else {
                    first = idx(w[1]);
                }
            }
        }
        keys.clear();
        self.keys = keys;
        found
    }

    /// Drops the series flagged in `gone` (repeats), keeping the order of the
    /// others.
    fn remove(&mut self, gone: &[bool]) {
        let mut refs = Vec::with_capacity(self.refs.len());
        let mut ends = Vec::with_capacity(self.ends.len());
        let mut lines = Vec::with_capacity(self.lines.len());
        for (i, _) in gone.iter().enumerate().filter(|(_, g)| !**g) {
            refs.extend_from_slice(self.get(i as u32));
            ends.push(refs.len() as u32);
            lines.push(self.lines[i]);
        }
        self.refs = refs;
        self.ends = ends;
        self.lines = lines;
    }
}

/// Puts keys with equal high 32 bits next to each other (a radix sort of
/// those bits in three passes; for 1.45 M keys about a third of the time of
/// a comparison sort). The order within such a run is unspecified.
pub(crate) fn sort_by_high_half(keys: &mut Vec<u64>) {
    const BITS: u32 = 11;
    const MASK: u64 = (1 << BITS) - 1;
    if keys.len() < 1 << 12 {
        keys.sort_unstable_by_key(|k| k >> 32);
        return;
    }
    let mut src = std::mem::take(keys);
    let mut dst = vec![0u64; src.len()];
    for shift in [32, 32 + BITS, 32 + 2 * BITS] {
        let mut starts = [0usize; 1 << BITS];
        for &k in &src {
            starts[((k >> shift) & MASK) as usize] += 1;
        }
        let mut sum = 0;
        for c in starts.iter_mut() {
            let n = *c;
            *c = sum;
            sum += n;
        }
        for &k in &src {
            let d = &mut starts[((k >> shift) & MASK) as usize];
            if let Some(slot) = dst.get_mut(*d) {
                *slot = k;
            }
            *d += 1;
        }
        std::mem::swap(&mut src, &mut dst);
    }
    *keys = src;
}

/// About how many lines `body` has, from the lines of its first 256 KiB
/// (rounded up by a quarter: too much room costs nothing until used).
fn estimate_lines(body: &[u8]) -> usize {
    const PROBE: usize = 256 << 10;
    let probe = &body[..body.len().min(PROBE)];
    let n = memchr::memchr_iter(b'\n', probe).count() + 1;
    if probe.len() == body.len() {
        return n;
    }
    let per_line = probe.len() / n;
    (body.len() / per_line.max(1)).saturating_mul(5) / 4 + 16
}

fn hash_refs(refs: &[u32]) -> u64 {
    // Stable within one scrape; any decent mix will do.
    let mut h: u64 = 0x9e37_79b9_7f4a_7c15;
    for &r in refs {
        h = (h ^ u64::from(r))
            .wrapping_mul(0x0100_0000_01b3)
            .rotate_left(29);
    }
    h
}

struct StagedScrape<'b> {
    body: &'b [u8],
    staged: Vec<Staged>,
    odd: Vec<Odd>,
    /// Series bytes of misses as (offset in `body`, length); `Staged::entry`
    /// is `PENDING | i`.
    new_entries: Vec<(u32, u32)>,
    new_pairs: LocalPairs,
    new_series: NewSeries,
    meta: BTreeMap<String, Meta>,
    report: IngestReport,
}

/// A staging list handed back after a rejected scrape: emptied, and at the
/// capacity it had before.
fn spare_back(mut v: Vec<Staged>, cap: usize) -> Vec<Staged> {
    v.clear();
    v.shrink_to(cap);
    v
}

/// Records a metadata event into `meta`; returns false for non-metadata events.
pub(crate) fn record_meta(
    ev: &Event<'_>,
    meta: &mut BTreeMap<String, Meta>,
    fam: &mut FamilyTracker,
) {
    match ev {
        Event::Type { metric, typ } => {
            fam.declare(metric, *typ);
            meta.entry(metric.to_string()).or_default().typ = Some(*typ);
        }
        Event::Help { metric, help } => {
            meta.entry(metric.to_string()).or_default().help = Some(help.to_string());
        }
        Event::Unit { metric, unit } if !unit.is_empty() => {
            meta.entry(metric.to_string()).or_default().unit = Some(unit.to_string());
        }
        _ => {}
    }
}

/// Staging state of one scrape.
struct Stager<'b, 'i> {
    inner: &'i Inner,
    limits: &'i crate::Limits,
    target_labels: &'b Labels,
    body: &'b [u8],
    ts: i64,
    attempt: u32,
    fam: FamilyTracker,
    meta: BTreeMap<String, Meta>,
    cursor: usize,
    staged: Vec<Staged>,
    odd: Vec<Odd>,
    new_pairs: LocalPairs,
    new_series: NewSeries,
    /// Misses that found an existing series: (series id, line). A series
    /// reached twice this way, or both this way and through the cache, is a
    /// duplicate; `finish` checks. (Byte-identical repeats of a new series are
    /// caught by `new_series`, which sees the same label set twice.)
    miss_existing: Vec<(u32, usize)>,
    /// Cache misses of this scrape, as (offset in the body, length); they
    /// enter the cache only on commit.
    new_entries: Vec<(u32, u32)>,
    lv: labels::LabelVec<'b>,
    refs: smallvec::SmallVec<[u32; 16]>,
    memo: Memo<'b>,
    report: IngestReport,
}

/// Pair refs for the labels of cache misses: a global pair id, or `PENDING |`
/// a pair first seen in this scrape.
struct PairResolver<'a> {
    index: &'a crate::index::Index,
    new_pairs: &'a mut LocalPairs,
    max_value_len: usize,
}

impl Resolve for PairResolver<'_> {
    #[inline]
    fn resolve(&mut self, n: &str, v: &str) -> u32 {
        let index = self.index;
        let h = index.hash_pair(n, v);
        match index.pair_hashed(n, v, h) {
            Some(p) => p,
            None => PENDING | self.new_pairs.get_or_insert(index, n, v, h),
        }
    }

    #[inline]
    fn plain_value(&self, v: &str) -> bool {
        !v.is_empty() && v.len() <= self.max_value_len
    }
}

impl<'b> Stager<'b, '_> {
    fn count_sample(&mut self, line: usize) -> Result<(), IngestError> {
        self.report.samples_in_body += 1;
        if self.report.samples_in_body > self.limits.max_samples_per_scrape {
            return Err(limit(
                LimitKind::MaxSamplesPerScrape,
                self.limits.max_samples_per_scrape,
                self.report.samples_in_body,
                Some(line),
            ));
        }
        Ok(())
    }

    /// A sample of cached entry `e`.
    #[inline]
    fn hit(
        &mut self,
        cache: &mut ScrapeCache,
        e: u32,
        value: f64,
        timestamp: Option<i64>,
        line: usize,
    ) -> Result<(), IngestError> {
        self.count_sample(line)?;
        let ent = &mut cache.entries[e as usize];
        if ent.seen == self.attempt {
            // The same bytes again in this scrape: keep the first sample.
            let sid = ent.sid;
            self.push_repeat(sid, e, value, timestamp);
            return Ok(());
        }
        ent.seen = self.attempt;
        let sid = ent.sid;
        self.push(sid, e, value, timestamp);
        Ok(())
    }

    /// Stages a sample of a series seen earlier in this scrape: not appended,
    /// counted.
    #[cold]
    fn push_repeat(&mut self, sref: u32, entry: u32, v: f64, timestamp: Option<i64>) {
        self.report.repeated_in_scrape += 1;
        self.odd.push(Odd {
            at: self.staged.len() as u32,
            t: timestamp.unwrap_or(self.ts),
            explicit: timestamp.is_some(),
            skip: true,
            repeat: true,
        });
        self.staged.push(Staged { sref, entry, v });
    }

    /// What [`push`](Self::push) counted a sample of existing series `sid` at
    /// `t` as, if anything: out of order, a different value at the newest
    /// time, or the newest sample again.
    fn counter_of(&mut self, sid: u32, t: i64, v: f64) -> Option<&mut usize> {
        let series = self.inner.series.get(sid as usize)?.as_ref()?;
        let last_t = self.inner.last_t(series);
        if t < last_t {
            Some(&mut self.report.out_of_order)
        } else if t > last_t {
            None
        } else if series.ring.last_bits() == v.to_bits() {
            Some(&mut self.report.identical_duplicates)
        } else {
            Some(&mut self.report.duplicate_timestamp)
        }
    }

    #[inline]
    fn push(&mut self, sref: u32, entry: u32, v: f64, timestamp: Option<i64>) {
        let (t, explicit) = match timestamp {
            Some(t) => (t, true),
            None => (self.ts, false),
        };
        let mut skip = false;
        if sref & PENDING == 0 {
            if let Some(Some(series)) = self.inner.series.get(sref as usize) {
                let last_t = self.inner.last_t(series);
                if t < last_t {
                    self.report.out_of_order += 1;
                    skip = true;
                } else if t == last_t {
                    skip = true;
                    if series.ring.last_bits() == v.to_bits() {
                        self.report.identical_duplicates += 1;
                    } else {
                        self.report.duplicate_timestamp += 1;
                    }
                }
            }
        }
        if explicit || skip {
            self.odd.push(Odd {
                at: self.staged.len() as u32,
                t,
                explicit,
                skip,
                repeat: false,
            });
        }
        self.staged.push(Staged { sref, entry, v });
    }

    /// A parsed event.
    fn event(&mut self, cache: &mut ScrapeCache, ev: &Event<'b>) -> Result<(), IngestError> {
        let Event::Sample(s) = ev else {
            record_meta(ev, &mut self.meta, &mut self.fam);
            return Ok(());
        };
        let bytes = s.series_bytes();
        if let Some(e) = cache.lookup(bytes, &mut self.cursor) {
            return self.hit(cache, e, s.value, s.timestamp, s.line);
        }
        self.count_sample(s.line)?;
        let name = s.name();
        let norm = self.fam.normalized_label(&name);
        let mut resolver = PairResolver {
            index: &self.inner.index,
            new_pairs: &mut self.new_pairs,
            max_value_len: self.limits.max_label_value_len,
        };
        let memo_hit = self
            .memo
            .apply(s, name.clone(), norm, &mut resolver, &mut self.refs);
        if !memo_hit {
            labels::build_into(s, norm, self.target_labels, self.limits, &mut self.lv)?;
            self.refs.clear();
            for (n, v) in &self.lv {
                self.refs.push(resolver.resolve(n, v));
            }
            self.memo
                .record(s, name, norm, &self.lv, &self.refs, self.target_labels);
        }
        let all_global = self.refs.iter().all(|&r| r & PENDING == 0);
        let existing = if all_global {
            self.inner.find_pairs(&self.refs)
        } else {
            None
        };
        let sref = match existing {
            Some(sid) => {
                self.miss_existing.push((sid, s.line));
                sid
            }
            None => match self.new_series.push(&self.refs, s.line) {
                Some(i) => PENDING | i,
                None => {
                    // Over 4 G label references in one scrape.
                    return Err(limit(
                        LimitKind::MemoryBudget,
                        self.limits.memory_budget_bytes,
                        self.new_series.refs.len().saturating_mul(4),
                        Some(s.line),
                    ));
                }
            },
        };
        let p = self.new_entries.len() as u32;
        // Within the body, which is shorter than 4 GiB (see `ingest_scrape`).
        let off = (bytes.as_ptr() as usize).wrapping_sub(self.body.as_ptr() as usize);
        debug_assert!(off + bytes.len() <= self.body.len());
        self.new_entries.push((off as u32, bytes.len() as u32));
        self.push(sref, PENDING | p, s.value, s.timestamp);
        Ok(())
    }

    /// Finds the samples whose series appeared on an earlier line of the
    /// scrape through cache misses — two new series with the same labels, or
    /// an existing series reached twice (two spellings, or a miss and a cache
    /// hit) — and turns them into repeats: not appended, not cached, counted.
    /// (Repeats of the same cached bytes were caught when read.) Repeated new
    /// series are dropped from the new list. Nothing to do, and no pass over
    /// the scrape, when there are none.
    fn resolve_repeats(&mut self) {
        let new_repeats = if self.new_series.len() > 1 {
            self.new_series.repeats()
        } else {
            Vec::new()
        };
        let existing_repeats = self.existing_repeats();
        if new_repeats.is_empty() && existing_repeats.is_empty() {
            return;
        }
        // New series: renumber the kept ones, point repeats at their first.
        let n_new = self.new_series.len();
        let mut gone = vec![false; n_new];
        let mut first_of: Vec<u32> = (0..n_new as u32).collect();
        for &(dup, first) in &new_repeats {
            gone[dup as usize] = true;
            first_of[dup as usize] = first;
        }
        let mut renum = vec![0u32; n_new];
        for (next, (r, _)) in renum
            .iter_mut()
            .zip(&gone)
            .filter(|(_, g)| !**g)
            .enumerate()
        {
            *r = next as u32;
        }
        let mut at: Vec<usize> = existing_repeats;
        for (i, x) in self.staged.iter_mut().enumerate() {
            if x.sref & PENDING != 0 {
                let old = (x.sref & !PENDING) as usize;
                if gone[old] {
                    at.push(i);
                }
                x.sref = PENDING | renum[first_of[old] as usize];
            }
        }
        if !new_repeats.is_empty() {
            self.new_series.remove(&gone);
        }
        at.sort_unstable();
        // Merge into the odd list (sorted by position): a sample that already
        // has an entry (own timestamp, or counted against the store) becomes
        // a repeat, and what it was counted as is taken back.
        let old = std::mem::take(&mut self.odd);
        let mut merged = Vec::with_capacity(old.len() + at.len());
        let mut k = 0;
        for i in at {
            while k < old.len() && (old[k].at as usize) < i {
                merged.push(old[k]);
                k += 1;
            }
            let x = self.staged[i];
            let mut o = match old.get(k) {
                Some(o) if o.at as usize == i => {
                    k += 1;
                    *o
                }
                _ => Odd {
                    at: i as u32,
                    t: self.ts,
                    explicit: false,
                    skip: false,
                    repeat: false,
                },
            };
            if o.repeat {
                merged.push(o);
                continue;
            }
            if o.skip && x.sref & PENDING == 0 {
                if let Some(c) = self.counter_of(x.sref, o.t, x.v) {
                    *c -= 1;
                }
            }
            o.skip = true;
            o.repeat = true;
            self.report.repeated_in_scrape += 1;
            merged.push(o);
        }
        merged.extend_from_slice(&old[k..]);
        self.odd = merged;
    }

    /// Positions in the staged list of samples of an existing series reached
    /// by a cache miss whose series an earlier sample of the scrape (a miss
    /// or a hit) already had.
    fn existing_repeats(&self) -> Vec<usize> {
        if self.miss_existing.is_empty() {
            return Vec::new();
        }
        let mut sids: Vec<u32> = self.miss_existing.iter().map(|m| m.0).collect();
        sids.sort_unstable();
        sids.dedup();
        // Line order is staged order: the first sample of each such series
        // stays, later ones repeat.
        let mut seen = vec![false; sids.len()];
        let mut out = Vec::new();
        for (i, x) in self.staged.iter().enumerate() {
            if x.sref & PENDING != 0 {
                continue;
            }
            if let Ok(j) = sids.binary_search(&x.sref) {
                if std::mem::replace(&mut seen[j], true) {
                    out.push(i);
                }
            }
        }
        out
    }

    fn finish(&mut self) -> Result<StagedScrape<'b>, IngestError> {
        self.resolve_repeats();
        let inner = self.inner;
        let limits = self.limits;
        let n_new = self.new_series.len();
        if inner.live + n_new > limits.max_series {
            return Err(limit(
                LimitKind::MaxSeries,
                limits.max_series,
                inner.live + n_new,
                None,
            ));
        }
        let est =
            inner.mem_estimate + n_new * EST_SERIES_BYTES + self.staged.len() * EST_SAMPLE_BYTES;
        if est > limits.memory_budget_bytes {
            return Err(limit(
                LimitKind::MemoryBudget,
                limits.memory_budget_bytes,
                est,
                None,
            ));
        }
        Ok(StagedScrape {
            body: self.body,
            staged: std::mem::take(&mut self.staged),
            odd: std::mem::take(&mut self.odd),
            new_entries: std::mem::take(&mut self.new_entries),
            new_pairs: std::mem::take(&mut self.new_pairs),
            new_series: std::mem::take(&mut self.new_series),
            meta: std::mem::take(&mut self.meta),
            report: std::mem::take(&mut self.report),
        })
    }
}

impl Store {
    /// Ingests one scrape of `target` taken at `scrape_ts_ms`, atomically: on
    /// any error nothing is appended and the store is exactly as before.
    ///
    /// * Series are found through the target's cache of raw series bytes; only a
    ///   miss parses, normalizes, sorts and interns labels.
    /// * The target's labels are added to every series, overriding body labels of
    ///   the same name.
    /// * Samples without a timestamp get `scrape_ts_ms`; samples with one keep it
    ///   (and their series are exempt from staleness, as in Prometheus).
    /// * Series of the target's previous scrape missing from this one get a
    ///   staleness marker at `scrape_ts_ms`.
    /// * A sample older than its series' newest one, or at the same time with a
    ///   different value, is not appended and is counted (report and
    ///   [`TargetCounters`](crate::TargetCounters)); the same time and value is
    ///   ignored and counted as an identical duplicate.
    /// * A series that appears again in the same scrape (the same line twice,
    ///   or its labels in another order) keeps its first sample; the later ones
    ///   are dropped and counted in
    ///   [`IngestReport::repeated_in_scrape`], and the scrape succeeds, as in
    ///   Prometheus 3. (Prometheus appends a repeat that carries its own,
    ///   later timestamp; promlite drops it too.)
    /// * `le` (histograms, gauge histograms) and `quantile` (summaries) label
    ///   values of `# TYPE`d families are rewritten as Prometheus 3 does
    ///   (`1` → `1.0`).
    /// * `# TYPE`, `# HELP`, `# UNIT` replace the target's metadata.
    ///
    /// # Errors
    /// A parse error, a duplicate label name, a series without a name, or an
    /// exceeded [`Limits`](crate::Limits) value.
    pub fn ingest_scrape(
        &self,
        target: &Target,
        body: &[u8],
        format: Format,
        scrape_ts_ms: i64,
    ) -> Result<IngestReport, IngestError> {
        let limits = &self.cfg.limits;
        // Staging keeps offsets into the body as `u32`.
        let max_body = limits.max_body_bytes.min(u32::MAX as usize);
        let mut guard = self.writer();
        let w = &mut *guard;
        let (mut st, is_new) = match w.targets.remove(target.labels()) {
            Some(st) => (st, false),
            None => (
                TargetState {
                    id: NO_ID,
                    ..TargetState::default()
                },
                true,
            ),
        };
        if body.len() > max_body {
            st.counters.rejected_scrapes += 1;
            if !is_new {
                w.targets.insert(target.labels().clone(), st);
            }
            return Err(limit(LimitKind::MaxBodyBytes, max_body, body.len(), None));
        }
        w.attempt = w.attempt.wrapping_add(1);
        let attempt = w.attempt;
        let staged = {
            let inner = self.read();
            self.stage(
                &inner,
                &mut st,
                target.labels(),
                body,
                format,
                scrape_ts_ms,
                attempt,
            )
        };
        let staged = match staged {
            Ok(s) => s,
            Err(e) => {
                st.counters.rejected_scrapes += 1;
                if !is_new {
                    w.targets.insert(target.labels().clone(), st);
                }
                return Err(e);
            }
        };
        let report = self.commit(&mut st, target.labels(), staged, scrape_ts_ms, attempt);
        st.format = Some(format);
        w.targets.insert(target.labels().clone(), st);
        self.journal(crate::persist::OpRef::Scrape {
            target: target.labels(),
            format,
            ts: scrape_ts_ms,
            body,
        });
        if let Some(r) = self.cfg.retention_ms {
            match w.last_gc {
                None => w.last_gc = Some(scrape_ts_ms),
                Some(last) if scrape_ts_ms.saturating_sub(last) >= (r / 8).max(1000) => {
                    self.gc_locked(w, scrape_ts_ms);
                }
                _ => {}
            }
        }
        Ok(report)
    }

    #[allow(clippy::too_many_arguments)]
    fn stage<'b>(
        &self,
        inner: &Inner,
        st: &mut TargetState,
        target_labels: &'b Labels,
        body: &'b [u8],
        format: Format,
        ts: i64,
        attempt: u32,
    ) -> Result<StagedScrape<'b>, IngestError> {
        let limits = &self.cfg.limits;
        // A first scrape sizes its lists once, from the line count of the
        // body's start (counting every line costs a pass over the body;
        // room reserved and never used costs no memory).
        let lines_hint = if st.cache.order.is_empty() {
            estimate_lines(body)
        } else {
            st.cache.order.len() + 16
        };
        let expect_new = if st.cache.order.is_empty() {
            lines_hint
        } else {
            0
        };
        // The target's kept staging list; a rejected scrape gives it back as it
        // was, so that nothing about the store changes.
        let spare_cap;
        let mut sg = Stager {
            inner,
            limits,
            target_labels,
            body,
            ts,
            attempt,
            fam: FamilyTracker::default(),
            meta: BTreeMap::new(),
            cursor: 0,
            staged: {
                spare_cap = st.spare_staged.capacity();
                let mut v = std::mem::take(&mut st.spare_staged);
                v.clear();
                v.reserve(lines_hint);
                v
            },
            odd: Vec::new(),
            new_pairs: LocalPairs::default(),
            new_series: NewSeries {
                refs: Vec::with_capacity(expect_new * 8),
                ends: Vec::with_capacity(expect_new),
                keys: Vec::with_capacity(expect_new),
                lines: Vec::with_capacity(expect_new),
            },
            miss_existing: Vec::new(),
            new_entries: Vec::with_capacity(expect_new),
            lv: Vec::with_capacity(16),
            refs: smallvec::SmallVec::new(),
            memo: Memo::default(),
            report: IngestReport::default(),
        };
        // Cached keys were validated under the format of earlier scrapes.
        // With nothing cached (a target's first scrape) every line would miss, so
        // the whole body goes straight to the parser.
        let lean = self.lean
            && format == Format::Text
            && st.format.is_none_or(|f| f == format)
            && !st.cache.order.is_empty();
        let mut read = || -> Result<(), IngestError> {
            match format {
                Format::Text if lean => {
                    let mut lines = TextLines::new(body);
                    let mut cursor = 0;
                    while let Some(line) = lines.next(&st.cache, &mut cursor) {
                        match line {
                            Line::Hit {
                                entry,
                                value,
                                timestamp,
                                line,
                            } => sg.hit(&mut st.cache, entry, value, timestamp, line)?,
                            Line::Other {
                                bytes,
                                line,
                                offset,
                            } => {
                                let mut p = Parser::new(bytes, Format::Text);
                                while let Some(ev) = p.next_event() {
                                    let ev = match ev {
                                        Ok(Event::Sample(mut s)) => {
                                            s.line = line;
                                            Event::Sample(s)
                                        }
                                        Ok(ev) => ev,
                                        Err(mut e) => {
                                            e.line = line;
                                            e.offset += offset;
                                            return Err(e.into());
                                        }
                                    };
                                    sg.cursor = cursor;
                                    sg.event(&mut st.cache, &ev)?;
                                    cursor = sg.cursor;
                                }
                            }
                        }
                    }
                }
                _ => {
                    let mut parser = Parser::new(body, format);
                    while let Some(ev) = parser.next_event() {
                        match ev {
                            Ok(ev) => sg.event(&mut st.cache, &ev)?,
                            Err(e) => return Err(e.into()),
                        }
                    }
                }
            }
            Ok(())
        };
        if let Err(e) = read() {
            st.spare_staged = spare_back(sg.staged, spare_cap);
            return Err(e);
        }
        sg.finish().inspect_err(|_| {
            st.spare_staged = spare_back(std::mem::take(&mut sg.staged), spare_cap);
        })
    }

    fn commit(
        &self,
        st: &mut TargetState,
        target_labels: &Labels,
        s: StagedScrape<'_>,
        ts: i64,
        attempt: u32,
    ) -> IngestReport {
        let StagedScrape {
            body,
            mut staged,
            odd,
            new_entries,
            new_pairs,
            mut new_series,
            meta,
            mut report,
        } = s;
        let (seq, pair_ids, pair_slots) = {
            let mut inner = self.write();
            if st.id == NO_ID {
                st.id = Store::new_target_id(&mut inner, target_labels);
            }
            let clock = &mut inner.clocks.list[st.id as usize];
            let seq = clock.next_seq();
            clock.ts.push_back(ts);
            let pair_ids: Vec<u32> = new_pairs
                .pairs
                .iter()
                .map(|(n, v)| inner.index.intern_pair(n, v))
                .collect();
            inner.committing = Some(Committing {
                clock: st.id,
                seq: i64::from(seq),
                explicit: Vec::new(),
            });
            (seq, pair_ids, inner.index.pair_slots())
        };
        // New series, a batch per lock. They take the next ids in order (the
        // writer lock is held since staging, and ids are never reused).
        let n_new = new_series.len();
        let mut first_sid = 0;
        // Hashes of new series, then of new cache entries: each table
        // is filled in a loop of its own, where the CPU overlaps the cache
        // misses of many inserts (interleaved with the other work of a new
        // series, the same inserts were measured slower).
        // (The duplicate check's lists, emptied: no fresh memory for these.)
        let mut hashes = std::mem::take(&mut new_series.keys);
        hashes.clear();
        hashes.reserve(n_new);
        let mut ids = std::mem::take(&mut new_series.lines);
        ids.clear();
        // The new series' refs become global pair ids in place and join the
        // pair arena in one piece (as the arena itself when it is empty: a
        // first scrape's refs are not copied).
        // Many new series: each touched postings list is sized once, from
        // counts taken in the same pass.
        let mut counts: Vec<u32> = if n_new >= 1024 {
            vec![0; pair_slots]
        } else {
            Vec::new()
        };
        for r in &mut new_series.refs {
            if *r & PENDING != 0 {
                *r = pair_ids[(*r & !PENDING) as usize];
            }
            if let Some(c) = counts.get_mut(*r as usize) {
                *c += 1;
            }
        }
        let mut arena_base = 0;
        for start in (0..n_new).step_by(COMMIT_BATCH) {
            let mut inner = self.write();
            if start == 0 {
                first_sid = inner.series.len() as u32;
                let n = n_new;
                inner.series.reserve_exact(n);
                inner.reserve_series(n);
                for (p, &k) in counts.iter().enumerate() {
                    if k > 0 {
                        inner.index.reserve_postings(p as u32, k as usize);
                    }
                }
                arena_base = inner.append_pairs(std::mem::take(&mut new_series.refs));
            }
            for i in start..(start + COMMIT_BATCH).min(n_new) {
                let (from, to) = new_series.bounds(i);
                let (sid, h) = inner.create_in_arena(arena_base + from, (to - from) as u8);
                debug_assert_eq!(sid, first_sid + i as u32);
                hashes.push(h);
            }
        }
        drop(new_series);
        for (k, chunk) in hashes.chunks(4 * COMMIT_BATCH).enumerate() {
            let first = first_sid + (k * 4 * COMMIT_BATCH) as u32;
            self.write().map_new_series(chunk, first);
        }
        report.series_created = n_new;
        let resolve = |sref: u32| {
            if sref & PENDING != 0 {
                first_sid + (sref & !PENDING)
            } else {
                sref
            }
        };
        // Series getting a sample with its own timestamp are hidden by id.
        if odd.iter().any(|o| o.explicit && !o.skip) {
            let mut explicit: Vec<u32> = odd
                .iter()
                .filter(|o| o.explicit && !o.skip)
                .map(|o| resolve(staged[o.at as usize].sref))
                .collect();
            explicit.sort_unstable();
            if let Some(c) = self.write().committing.as_mut() {
                c.explicit = explicit;
            }
        }
        let clock = st.id;
        let mut odds = OddCursor::new(&odd);
        let mut observed = self.observed(staged.len());
        for (c, chunk) in staged.chunks(COMMIT_BATCH).enumerate() {
            let mut inner = self.write();
            for (k, x) in chunk.iter().enumerate() {
                let sid = resolve(x.sref);
                let t = match odds.at(c * COMMIT_BATCH + k) {
                    None => {
                        inner.append(sid, clock, i64::from(seq), x.v, &self.cfg);
                        ts
                    }
                    Some(o) if o.skip => continue,
                    Some(o) if o.explicit => {
                        inner.append(sid, EXPLICIT, o.t, x.v, &self.cfg);
                        o.t
                    }
                    Some(_) => {
                        inner.append(sid, clock, i64::from(seq), x.v, &self.cfg);
                        ts
                    }
                };
                if let Some(obs) = observed.as_mut() {
                    obs.push(CommittedSample {
                        series: sid,
                        t,
                        v: x.v,
                    });
                }
                report.samples_appended += 1;
            }
        }
        // Cache: add the misses, note timestamp mode, set the new order.
        st.cache.reserve(
            new_entries.len(),
            new_entries.iter().map(|&(_, n)| n as usize).sum(),
        );
        let mut order = std::mem::take(&mut st.spare_order);
        order.clear();
        order.reserve(staged.len());
        hashes.clear();
        hashes.reserve(new_entries.len());
        ids.reserve(new_entries.len());
        let mut odds = OddCursor::new(&odd);
        for (i, x) in staged.iter().enumerate() {
            let sid = resolve(x.sref);
            let o = odds.at(i);
            let explicit = o.is_some_and(|o| o.explicit);
            if o.is_some_and(|o| o.repeat) {
                // A repeat: its first line set the series' entry and whether
                // it carries its own timestamps. A cached spelling stays in
                // the order (so that it is still seen, and removed once it
                // vanishes); a new spelling is not cached.
                if x.entry & PENDING == 0 {
                    order.push(x.entry);
                }
                continue;
            }
            let entry = if x.entry & PENDING != 0 {
                let (off, n) = new_entries[(x.entry & !PENDING) as usize];
                let bytes = &body[off as usize..off as usize + n as usize];
                let (e, h) = st.cache.insert_unindexed(bytes, sid, attempt, explicit);
                hashes.push(h);
                ids.push(e);
                e
            } else {
                x.entry
            };
            let e = &mut st.cache.entries[entry as usize];
            e.sid = sid;
            e.explicit_ts = explicit;
            order.push(entry);
        }
        st.cache.index(&hashes, &ids);
        drop((hashes, ids));
        drop(new_entries);
        if order == st.cache.order {
            // The same series in the same order (the steady state): none
            // vanished and every position stands.
            st.spare_order = order;
        } else {
            // Staleness: series of the previous scrape not seen in this one.
            let vanished: Vec<u32> = st
                .cache
                .order
                .iter()
                .copied()
                .filter(|&e| st.cache.entries[e as usize].seen != attempt)
                .collect();
            let stale_sids: Vec<u32> = vanished
                .iter()
                .filter(|&&e| !st.cache.entries[e as usize].explicit_ts)
                .map(|&e| st.cache.entries[e as usize].sid)
                .collect();
            report.stale_markers = self.write_stale(&stale_sids, clock, seq, ts, &mut observed);
            for e in vanished {
                st.cache.remove(e);
            }
            st.spare_order = st.cache.set_order(order);
        }
        // Kept for the next scrape, without the slack a first scrape's
        // estimate of its line count may have left.
        let n = staged.len();
        staged.clear();
        if staged.capacity() > n + n / 8 + 64 {
            staged.shrink_to(n + n / 16 + 64);
        }
        st.spare_staged = staged;
        {
            let mut inner = self.write();
            inner.committing = None;
            if let Some(slot) = inner.targets.get_mut(clock as usize) {
                slot.1 = meta;
            }
            inner.mem_estimate += report.series_created * EST_SERIES_BYTES
                + report.samples_appended * EST_SAMPLE_BYTES;
        }
        // Still under the writer mutex: observers see commits in order.
        self.notify(observed);
        let c = &mut st.counters;
        c.scrapes += 1;
        c.out_of_order += report.out_of_order as u64;
        c.duplicate_timestamp += report.duplicate_timestamp as u64;
        c.identical_duplicates += report.identical_duplicates as u64;
        c.repeated_in_scrape += report.repeated_in_scrape as u64;
        c.stale_markers += report.stale_markers as u64;
        report
    }

    /// Appends staleness markers at (`clock`, `seq`) = `ts` to series whose newest
    /// sample is older than `ts`.
    fn write_stale(
        &self,
        sids: &[u32],
        clock: u32,
        seq: u32,
        ts: i64,
        observed: &mut Option<Vec<CommittedSample>>,
    ) -> usize {
        let mut n = 0;
        for chunk in sids.chunks(COMMIT_BATCH) {
            let mut inner = self.write();
            for &sid in chunk {
                let ok =
                    matches!(inner.series.get(sid as usize), Some(Some(s)) if inner.last_t(s) < ts);
                if ok {
                    inner.append(sid, clock, i64::from(seq), STALE_NAN, &self.cfg);
                    if let Some(obs) = observed.as_mut() {
                        obs.push(CommittedSample {
                            series: sid,
                            t: ts,
                            v: STALE_NAN,
                        });
                    }
                    n += 1;
                }
            }
        }
        n
    }

    /// Reports `target` down at `ts_ms`: every series of its last scrape gets a
    /// staleness marker (except those whose samples carried their own
    /// timestamps), and its scrape cache is emptied. Returns the number of
    /// markers written.
    pub fn mark_target_down(&self, target: &Target, ts_ms: i64) -> usize {
        let mut guard = self.writer();
        let w = &mut *guard;
        let Some(st) = w.targets.get_mut(target.labels()) else {
            return 0;
        };
        let seq = {
            let mut inner = self.write();
            let clock = &mut inner.clocks.list[st.id as usize];
            let seq = clock.next_seq();
            clock.ts.push_back(ts_ms);
            inner.committing = Some(Committing {
                clock: st.id,
                seq: i64::from(seq),
                explicit: Vec::new(),
            });
            seq
        };
        let sids: Vec<u32> = st
            .cache
            .order
            .iter()
            .map(|&e| &st.cache.entries[e as usize])
            .filter(|e| !e.explicit_ts)
            .map(|e| e.sid)
            .collect();
        let mut observed = self.observed(sids.len());
        let n = self.write_stale(&sids, st.id, seq, ts_ms, &mut observed);
        self.write().committing = None;
        self.notify(observed);
        let all: Vec<u32> = st.cache.live().map(|(i, _)| i).collect();
        for e in all {
            st.cache.remove(e);
        }
        st.cache.set_order(Vec::new());
        st.counters.stale_markers += n as u64;
        self.journal(crate::persist::OpRef::Down {
            target: target.labels(),
            ts: ts_ms,
        });
        n
    }
}
