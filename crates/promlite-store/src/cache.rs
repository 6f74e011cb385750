//! The per-target scrape cache: raw series bytes → series id.
//!
//! Keys are the bytes of a sample line's metric name and label block exactly as
//! written. A hit costs no label parsing, sorting, hashing of labels or
//! allocation. Scrapes of one target list their series in the same order every
//! time, so before hashing, the entry at the same position of the previous
//! scrape is compared; only when that fails does the lookup hash the bytes.
//!
//! A key is stored as an optional shared prefix and its own suffix. Lines that
//! follow each other share most of their bytes (a histogram's buckets differ in
//! `le` only), so a key inserted right after another one reuses that key's
//! prefix, or starts a new prefix cut after the last `{` or `,` of the bytes the
//! two share. For kube-controller-manager scrapes this stores about a sixth of
//! the raw bytes, and a target's first scrape writes that much less fresh
//! memory; a lookup compares the prefix (hot in cache: the lines around it use
//! it too) and the suffix.

use std::hash::BuildHasher;

use hashbrown::{DefaultHashBuilder, HashTable};

use promlite_expfmt::common_prefix;

/// Sentinel for "no position in the previous scrape".
const NO_POS: u32 = u32::MAX;

/// Sentinel for "no prefix".
const NO_PREFIX: u32 = u32::MAX;

/// Garbage below this many bytes is never compacted (small in tests, so that
/// they reach it).
const COMPACT_MIN: usize = if cfg!(test) { 256 } else { 1 << 16 };

/// Shortest prefix worth sharing (a prefix costs a table slot of 16 bytes).
const MIN_PREFIX: usize = 32;

#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// The suffix: `arena[start..start + len]`.
    start: usize,
    len: u32,
    /// Index into `prefixes`, or [`NO_PREFIX`].
    prefix: u32,
    /// Series id, or `PENDING | i` while staged for the i-th new series.
    pub(crate) sid: u32,
    /// Last scrape attempt that saw the entry (duplicate detection).
    pub(crate) seen: u32,
    /// Position in the previous committed scrape.
    pos: u32,
    /// The sample carried its own timestamp: no staleness tracking.
    pub(crate) explicit_ts: bool,
    live: bool,
}

/// Bytes that start several keys.
#[derive(Debug, Clone)]
struct Prefix {
    start: usize,
    len: u32,
    /// Live entries using it.
    refs: u32,
}

/// Series bytes → series id for one target.
#[derive(Debug, Default)]
pub(crate) struct ScrapeCache {
    hasher: DefaultHashBuilder,
    arena: Vec<u8>,
    pub(crate) entries: Vec<Entry>,
    prefixes: Vec<Prefix>,
    table: HashTable<u32>,
    free: Vec<u32>,
    /// Entries of the previous committed scrape, in order.
    pub(crate) order: Vec<u32>,
    /// Arena bytes no live entry uses.
    garbage: usize,
    /// The entry inserted last (the next key is coded against it).
    last_insert: Option<u32>,
}

/// `a == b`, without a call to `memcmp` up to 16 bytes (overlapping loads
/// cover every byte): cache suffixes (`le="0.005"}`) and the memo's names and
/// values are mostly that short.
#[inline(always)]
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word = |s: &[u8], i: usize| {
        u64::from_le_bytes(
            s.get(i..i + 8)
                .and_then(|w| w.try_into().ok())
                .unwrap_or([0; 8]),
        )
    };
    let half = |s: &[u8], i: usize| {
        u32::from_le_bytes(
            s.get(i..i + 4)
                .and_then(|w| w.try_into().ok())
                .unwrap_or([0; 4]),
        )
    };
    match n {
        0 => true,
        1..=3 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        4..=7 => half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4),
        8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        _ => a == b,
    }
}

impl ScrapeCache {
    /// Entry `e`'s prefix and suffix.
    #[inline]
    pub(crate) fn parts(&self, e: u32) -> (&[u8], &[u8]) {
        let x = &self.entries[e as usize];
        let suffix = &self.arena[x.start..x.start + x.len as usize];
        match self.prefixes.get(x.prefix as usize) {
            Some(p) => (&self.arena[p.start..p.start + p.len as usize], suffix),
            None => (&[], suffix),
        }
    }

    /// Whether `line` starts with entry `e`'s key; the key's length if so.
    #[inline(always)]
    fn key_starts(&self, e: u32, line: &[u8]) -> Option<usize> {
        let x = self.entries.get(e as usize)?;
        let (ps, pl) = match self.prefixes.get(x.prefix as usize) {
            Some(p) => (p.start, p.len as usize),
            None => (0, 0),
        };
        let n = pl + x.len as usize;
        let (lp, ls) = line.get(..n)?.split_at(pl);
        let suffix = self.arena.get(x.start..x.start + x.len as usize)?;
        (same(suffix, ls) && self.arena.get(ps..ps + pl)? == lp).then_some(n)
    }

    /// Whether entry `e`'s key is `bytes`.
    #[inline(always)]
    fn key_is(&self, e: u32, bytes: &[u8]) -> bool {
        self.key_starts(e, bytes) == Some(bytes.len())
    }

    /// The cache's hash of entry `e`'s key (put together on the stack).
    fn key_hash(&self, e: u32) -> u64 {
        let (p, s) = self.parts(e);
        let n = p.len() + s.len();
        let mut local = [0u8; 512];
        let mut big = Vec::new();
        let buf: &mut [u8] = if n <= local.len() {
            &mut local[..n]
        } else {
            big.resize(n, 0);
            &mut big
        };
        buf[..p.len()].copy_from_slice(p);
        buf[p.len()..].copy_from_slice(s);
        self.hasher.hash_one(&*buf)
    }

    /// Finds `bytes`. `cursor` is the position in the previous scrape where the
    /// next line is expected; it is advanced (or resynchronized) on a hit.
    #[inline]
    pub(crate) fn lookup(&self, bytes: &[u8], cursor: &mut usize) -> Option<u32> {
        if let Some(&e) = self.order.get(*cursor) {
            if self.key_is(e, bytes) {
                *cursor += 1;
                return Some(e);
            }
        }
        if self.table.is_empty() {
            return None;
        }
        let h = self.hasher.hash_one(bytes);
        let &e = self.table.find(h, |&e| self.key_is(e, bytes))?;
        let pos = self.entries[e as usize].pos;
        if pos != NO_POS {
            *cursor = pos as usize + 1;
        }
        Some(e)
    }

    /// If `line` starts with the key of the entry expected at `cursor` (the
    /// previous scrape's order) followed by `sep`: that entry and the key's
    /// length (the cursor moves on).
    #[inline]
    pub(crate) fn expected(
        &self,
        line: &[u8],
        sep: u8,
        cursor: &mut usize,
    ) -> Option<(u32, usize)> {
        let &e = self.order.get(*cursor)?;
        let n = self.key_starts(e, line)?;
        if line.get(n) != Some(&sep) {
            return None;
        }
        *cursor += 1;
        Some((e, n))
    }

    /// The hash the cache uses for `bytes`.
    #[inline]
    pub(crate) fn hash(&self, bytes: &[u8]) -> u64 {
        self.hasher.hash_one(bytes)
    }

    /// Adds a new key (not present) and returns its entry index.
    #[cfg(test)]
    pub(crate) fn insert(&mut self, bytes: &[u8], sid: u32, seen: u32, explicit_ts: bool) -> u32 {
        let (idx, h) = self.insert_unindexed(bytes, sid, seen, explicit_ts);
        self.index(&[h], &[idx]);
        idx
    }

    /// The prefix to store `bytes` under, given the key inserted last: that
    /// key's prefix if `bytes` starts with it, else a new one cut after the
    /// last `{` or `,` of the bytes the two keys share, if long enough.
    fn prefix_for(&mut self, bytes: &[u8]) -> u32 {
        let Some(last) = self
            .last_insert
            .filter(|&l| self.entries.get(l as usize).is_some_and(|x| x.live))
        else {
            return NO_PREFIX;
        };
        let (p, s) = self.parts(last);
        if !p.is_empty() && bytes.len() > p.len() && bytes.starts_with(p) {
            return self.entries[last as usize].prefix;
        }
        let mut shared = common_prefix(p, bytes);
        if shared == p.len() {
            shared += common_prefix(s, &bytes[p.len()..]);
        }
        // Stop after a label boundary: the next line then shares it too.
        let Some(cut) = bytes[..shared.min(bytes.len().saturating_sub(1))]
            .iter()
            .rposition(|&b| b == b',' || b == b'{')
            .map(|i| i + 1)
        else {
            return NO_PREFIX;
        };
        if cut < MIN_PREFIX {
            return NO_PREFIX;
        }
        let start = self.arena.len();
        self.arena.extend_from_slice(&bytes[..cut]);
        self.prefixes.push(Prefix {
            start,
            len: cut as u32,
            refs: 0,
        });
        (self.prefixes.len() - 1) as u32
    }

    /// Adds a new key (not present) to the entries but not yet to the hash
    /// table: returns its entry and its hash for [`index`](Self::index),
    /// which must follow.
    pub(crate) fn insert_unindexed(
        &mut self,
        bytes: &[u8],
        sid: u32,
        seen: u32,
        explicit_ts: bool,
    ) -> (u32, u64) {
        let h = self.hash(bytes);
        let prefix = self.prefix_for(bytes);
        let plen = match self.prefixes.get_mut(prefix as usize) {
            Some(p) => {
                p.refs += 1;
                p.len as usize
            }
            None => 0,
        };
        let start = self.arena.len();
        self.arena.extend_from_slice(&bytes[plen..]);
        let entry = Entry {
            start,
            len: (bytes.len() - plen) as u32,
            prefix,
            sid,
            seen,
            pos: NO_POS,
            explicit_ts,
            live: true,
        };
        let idx = match self.free.pop() {
            Some(i) => {
                self.entries[i as usize] = entry;
                i
            }
            None => {
                self.entries.push(entry);
                (self.entries.len() - 1) as u32
            }
        };
        self.last_insert = Some(idx);
        (idx, h)
    }

    /// Enters entries made by [`insert_unindexed`](Self::insert_unindexed) in
    /// the hash table: `entries[i]` with `hashes[i]`. Then gives back the
    /// arena's spare room when it is large.
    pub(crate) fn index(&mut self, hashes: &[u64], entries: &[u32]) {
        let mut table = std::mem::take(&mut self.table);
        table.reserve(entries.len(), |&i| self.key_hash(i));
        for (&h, &e) in hashes.iter().zip(entries) {
            table.insert_unique(h, e, |&i| self.key_hash(i));
        }
        self.table = table;
        if self.arena.capacity() - self.arena.len() > self.arena.len() / 8 + 4096 {
            self.arena.shrink_to_fit();
        }
    }

    /// Makes room for `n` more entries whose keys total `bytes` bytes.
    pub(crate) fn reserve(&mut self, n: usize, bytes: usize) {
        if n == 0 {
            return;
        }
        // Shared prefixes leave about a sixth of the bytes to store; `index`
        // gives back what is left over.
        self.arena.reserve(bytes / 4);
        self.entries.reserve(n);
        let mut table = std::mem::take(&mut self.table);
        table.reserve(n, |&i| self.key_hash(i));
        self.table = table;
    }

    /// Removes entry `e`.
    pub(crate) fn remove(&mut self, e: u32) {
        let Some(ent) = self.entries.get(e as usize) else {
            return;
        };
        if !ent.live {
            return;
        }
        let h = self.key_hash(e);
        if let Ok(o) = self.table.find_entry(h, |&i| i == e) {
            o.remove();
        }
        let ent = &mut self.entries[e as usize];
        self.garbage += ent.len as usize;
        ent.live = false;
        ent.pos = NO_POS;
        if let Some(p) = self.prefixes.get_mut(ent.prefix as usize) {
            p.refs -= 1;
            if p.refs == 0 {
                self.garbage += p.len as usize;
            }
        }
        self.free.push(e);
    }

    /// Makes `order` the previous scrape and records each entry's position;
    /// returns the order it replaces.
    pub(crate) fn set_order(&mut self, order: Vec<u32>) -> Vec<u32> {
        for &e in &self.order {
            if let Some(ent) = self.entries.get_mut(e as usize) {
                ent.pos = NO_POS;
            }
        }
        for (i, &e) in order.iter().enumerate() {
            self.entries[e as usize].pos = i as u32;
        }
        let old = std::mem::replace(&mut self.order, order);
        self.maybe_compact();
        old
    }

    /// Rewrites the arena without garbage, in scrape order, when more than half
    /// of it is garbage.
    fn maybe_compact(&mut self) {
        if self.garbage < COMPACT_MIN || self.garbage * 2 < self.arena.len() {
            return;
        }
        let mut arena = Vec::with_capacity(self.arena.len() - self.garbage);
        let mut prefixes: Vec<Prefix> = Vec::new();
        let mut remap = vec![NO_PREFIX; self.prefixes.len()];
        let mut done = vec![false; self.entries.len()];
        let all = self
            .order
            .iter()
            .copied()
            .chain(0..self.entries.len() as u32);
        for e in all {
            let ent = &mut self.entries[e as usize];
            if !ent.live || done[e as usize] {
                continue;
            }
            done[e as usize] = true;
            if let Some(p) = self.prefixes.get(ent.prefix as usize) {
                let slot = &mut remap[ent.prefix as usize];
                if *slot == NO_PREFIX {
                    *slot = prefixes.len() as u32;
                    prefixes.push(Prefix {
                        start: arena.len(),
                        len: p.len,
                        refs: p.refs,
                    });
                    arena.extend_from_slice(&self.arena[p.start..p.start + p.len as usize]);
                }
                ent.prefix = *slot;
            }
            let start = arena.len();
            arena.extend_from_slice(&self.arena[ent.start..ent.start + ent.len as usize]);
            ent.start = start;
        }
        self.arena = arena;
        self.prefixes = prefixes;
        self.garbage = 0;
    }

    /// Live entries.
    pub(crate) fn live(&self) -> impl Iterator<Item = (u32, &Entry)> {
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.live)
            .map(|(i, e)| (i as u32, e))
    }

    /// Allocated bytes.
    pub(crate) fn allocated(&self) -> usize {
        self.arena.capacity()
            + self.entries.capacity() * std::mem::size_of::<Entry>()
            + self.prefixes.capacity() * std::mem::size_of::<Prefix>()
            + self.table.capacity() * 5
            + self.free.capacity() * 4
            + self.order.capacity() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_hits_and_resync_after_insertions() {
        let mut c = ScrapeCache::default();
        let a = c.insert(b"a", 0, 1, false);
        let b = c.insert(b"b", 1, 1, false);
        let d = c.insert(b"d", 2, 1, false);
        c.set_order(vec![a, b, d]);
        let mut cur = 0;
        assert_eq!(c.lookup(b"a", &mut cur), Some(a));
        assert_eq!(cur, 1);
        assert_eq!(c.lookup(b"x", &mut cur), None, "new series: cursor stays");
        assert_eq!(cur, 1);
        assert_eq!(
            c.lookup(b"d", &mut cur),
            Some(d),
            "b vanished: found by hash"
        );
        assert_eq!(cur, 3);
        c.remove(b);
        let mut cur = 0;
        assert_eq!(c.lookup(b"b", &mut cur), None);
        assert_eq!(c.live().count(), 2);
    }

    /// Keys as a kube-controller-manager scrape writes them: histogram
    /// buckets sharing all but `le`, `_sum`/`_count` and plain series between.
    fn keys(spec: &[(u8, u8, u8)]) -> Vec<Vec<u8>> {
        let mut out: Vec<Vec<u8>> = Vec::new();
        for &(kind, queue, les) in spec {
            let labels = format!(
                "container=\"kube-controller-manager\",instance=\"10.0.0.{queue}:10257\",name=\"q{queue}\""
            );
            match kind % 3 {
                0 => {
                    for le in 0..=les % 12 {
                        out.push(format!("h_bucket{{{labels},le=\"{le}\"}}").into_bytes());
                    }
                    out.push(format!("h_sum{{{labels}}}").into_bytes());
                    out.push(format!("h_count{{{labels}}}").into_bytes());
                }
                1 => out.push(format!("depth{{{labels}}}").into_bytes()),
                _ => out.push(format!("up_{queue}").into_bytes()),
            }
        }
        // A key once, where it first appears.
        let mut seen = std::collections::HashSet::new();
        out.retain(|k| seen.insert(k.clone()));
        out
    }

    proptest::proptest! {
        #[test]
        fn prefixed_keys_are_found_exactly(
            spec in proptest::collection::vec((0u8..3, 0u8..20, 0u8..12), 1..40),
            drop in proptest::collection::vec(proptest::bool::ANY, 200),
            probe in proptest::collection::vec(0usize..1000, 20),
        ) {
            let keys = keys(&spec);
            let mut c = ScrapeCache::default();
            let mut ids = Vec::new();
            for (i, k) in keys.iter().enumerate() {
                ids.push(c.insert(k, i as u32, 1, false));
            }
            c.set_order(ids.clone());
            // In order: every line hits the expected entry, by the fast path.
            let mut cur = 0;
            for (k, &e) in keys.iter().zip(&ids) {
                let mut line = k.clone();
                line.extend_from_slice(b" 1");
                proptest::prop_assert_eq!(c.expected(&line, b' ', &mut cur), Some((e, k.len())));
            }
            // Out of order, and keys one byte short or long: by hash, exactly.
            for &p in &probe {
                let k = &keys[p % keys.len()];
                let e = ids[p % keys.len()];
                let mut cur = (p * 7) % (keys.len() + 1);
                proptest::prop_assert_eq!(c.lookup(k, &mut cur), Some(e));
                // (`up_1` is a key and one byte short of `up_10`.)
                let mut longer = k.clone();
                longer.push(b'0');
                for other in [&k[..k.len() - 1], &longer[..]] {
                    let want = keys.iter().position(|x| x == other).map(|i| ids[i]);
                    let mut cur = 0;
                    proptest::prop_assert_eq!(c.lookup(other, &mut cur), want);
                }
            }
            // Remove some (compacting once enough is garbage), add them back.
            let mut kept = Vec::new();
            for (i, &e) in ids.iter().enumerate() {
                if drop[i % drop.len()] {
                    c.remove(e);
                } else {
                    kept.push(e);
                }
            }
            c.set_order(kept);
            for (i, k) in keys.iter().enumerate() {
                let mut cur = 0;
                match c.lookup(k, &mut cur) {
                    Some(e) => {
                        proptest::prop_assert!(!drop[i % drop.len()]);
                        proptest::prop_assert_eq!(e, ids[i]);
                    }
                    None => {
                        proptest::prop_assert!(drop[i % drop.len()]);
                        ids[i] = c.insert(k, i as u32, 2, false);
                    }
                }
            }
            for (k, &e) in keys.iter().zip(&ids) {
                let mut cur = 0;
                proptest::prop_assert_eq!(c.lookup(k, &mut cur), Some(e));
                proptest::prop_assert_eq!(c.entries[e as usize].sid as usize, keys.iter().position(|x| x == k).unwrap_or(usize::MAX));
            }
        }
    }

    #[test]
    fn buckets_share_one_prefix() {
        let keys = keys(&[(0, 1, 11)]);
        let mut c = ScrapeCache::default();
        for (i, k) in keys.iter().enumerate() {
            c.insert(k, i as u32, 1, false);
        }
        // 12 buckets: the first stored whole, then one prefix up to
        // `name="q1",` and 11 suffixes `le="N"}`; `_sum` and `_count` whole.
        let prefix = "h_bucket{container=\"kube-controller-manager\",instance=\"10.0.0.1:10257\",name=\"q1\",";
        let bucket_bytes: usize = keys
            .iter()
            .filter(|k| k.starts_with(b"h_bucket"))
            .map(|k| k.len())
            .sum();
        let stored_buckets = bucket_bytes - 10 * prefix.len();
        let others: usize = keys
            .iter()
            .filter(|k| !k.starts_with(b"h_bucket"))
            .map(|k| k.len())
            .sum();
        assert_eq!(c.prefixes.len(), 1);
        assert_eq!(c.arena.len(), stored_buckets + others);
    }
}
