//! The per-target scrape cache: raw series bytes → series id.
//!
//! Keys are the bytes of a sample line's metric name and label block exactly as
//! written, kept in one arena. A hit costs no label parsing, sorting, hashing of
//! labels or allocation. Scrapes of one target list their series in the same
//! order every time, so before hashing, the entry at the same position of the
//! previous scrape is compared (a sequential memcmp over the arena); only when
//! that fails does the lookup hash the bytes.

use std::hash::BuildHasher;

use hashbrown::{DefaultHashBuilder, HashTable};

/// Sentinel for "no position in the previous scrape".
const NO_POS: u32 = u32::MAX;

#[derive(Debug, Clone)]
pub(crate) struct Entry {
    start: usize,
    len: u32,
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

/// Series bytes → series id for one target.
#[derive(Debug, Default)]
pub(crate) struct ScrapeCache {
    hasher: DefaultHashBuilder,
    arena: Vec<u8>,
    pub(crate) entries: Vec<Entry>,
    table: HashTable<u32>,
    free: Vec<u32>,
    /// Entries of the previous committed scrape, in order.
    pub(crate) order: Vec<u32>,
    garbage: usize,
}

impl ScrapeCache {
    #[inline]
    fn key(&self, e: u32) -> &[u8] {
        let e = &self.entries[e as usize];
        &self.arena[e.start..e.start + e.len as usize]
    }

    /// Finds `bytes`. `cursor` is the position in the previous scrape where the
    /// next line is expected; it is advanced (or resynchronized) on a hit.
    #[inline]
    pub(crate) fn lookup(&self, bytes: &[u8], cursor: &mut usize) -> Option<u32> {
        self.lookup_or_hash(bytes, cursor).ok()
    }

    /// [`lookup`](Self::lookup), returning on a miss the key's
    /// [`hash`](Self::hash) (for [`insert_hashed`](Self::insert_hashed)) when it
    /// was computed, so a new series is not hashed twice.
    #[inline]
    pub(crate) fn lookup_or_hash(
        &self,
        bytes: &[u8],
        cursor: &mut usize,
    ) -> Result<u32, Option<u64>> {
        if let Some(&e) = self.order.get(*cursor) {
            if self.key(e) == bytes {
                *cursor += 1;
                return Ok(e);
            }
        }
        if self.table.is_empty() {
            return Err(None);
        }
        let h = self.hasher.hash_one(bytes);
        let Some(&e) = self.table.find(h, |&e| self.key(e) == bytes) else {
            return Err(Some(h));
        };
        let pos = self.entries[e as usize].pos;
        if pos != NO_POS {
            *cursor = pos as usize + 1;
        }
        Ok(e)
    }

    /// The entry expected at `cursor` (the previous scrape's order) and its key.
    #[inline]
    pub(crate) fn expected(&self, cursor: usize) -> Option<(u32, &[u8])> {
        let &e = self.order.get(cursor)?;
        Some((e, self.key(e)))
    }

    /// The hash the cache uses for `bytes`.
    #[inline]
    pub(crate) fn hash(&self, bytes: &[u8]) -> u64 {
        self.hasher.hash_one(bytes)
    }

    /// Adds a new key (not present) and returns its entry index.
    #[cfg(test)]
    pub(crate) fn insert(&mut self, bytes: &[u8], sid: u32, seen: u32, explicit_ts: bool) -> u32 {
        let h = self.hash(bytes);
        self.insert_hashed(bytes, h, sid, seen, explicit_ts)
    }

    /// Adds a new key (not present) whose [`hash`](Self::hash) is `h`.
    #[cfg(test)]
    pub(crate) fn insert_hashed(
        &mut self,
        bytes: &[u8],
        h: u64,
        sid: u32,
        seen: u32,
        explicit_ts: bool,
    ) -> u32 {
        let idx = self.insert_unindexed(bytes, sid, seen, explicit_ts);
        self.index(&mut [(h, idx, 0)]);
        idx
    }

    /// Adds a new key (not present) to the entries but not yet to the hash
    /// table: [`index`](Self::index) must follow, with its hash.
    pub(crate) fn insert_unindexed(
        &mut self,
        bytes: &[u8],
        sid: u32,
        seen: u32,
        explicit_ts: bool,
    ) -> u32 {
        let start = self.arena.len();
        self.arena.extend_from_slice(bytes);
        let entry = Entry {
            start,
            len: bytes.len() as u32,
            sid,
            seen,
            pos: NO_POS,
            explicit_ts,
            live: true,
        };
        match self.free.pop() {
            Some(i) => {
                self.entries[i as usize] = entry;
                i
            }
            None => {
                self.entries.push(entry);
                (self.entries.len() - 1) as u32
            }
        }
    }

    /// Enters entries made by [`insert_unindexed`](Self::insert_unindexed) in
    /// the hash table, in bucket order (sorting `items`); `items` holds
    /// (hash, entry, anything).
    pub(crate) fn index(&mut self, items: &mut [(u64, u32, u32)]) {
        let ScrapeCache {
            hasher,
            arena,
            entries,
            table,
            ..
        } = self;
        crate::index::insert_in_bucket_order(
            table,
            items,
            |x| x.0,
            |x| x.1,
            |&i| {
                let e = &entries[i as usize];
                hasher.hash_one(&arena[e.start..e.start + e.len as usize])
            },
        );
    }

    /// Makes room for `n` more entries whose keys total `bytes` bytes.
    pub(crate) fn reserve(&mut self, n: usize, bytes: usize) {
        if n == 0 {
            return;
        }
        // Exactly: the arena is the cache's largest part, and doubling it
        // would leave up to half of it unused.
        self.arena.reserve_exact(bytes);
        self.entries.reserve(n);
        let ScrapeCache {
            hasher,
            arena,
            entries,
            table,
            ..
        } = self;
        table.reserve(n, |&i| {
            let e = &entries[i as usize];
            hasher.hash_one(&arena[e.start..e.start + e.len as usize])
        });
    }

    /// Removes entry `e`.
    pub(crate) fn remove(&mut self, e: u32) {
        let Some(ent) = self.entries.get(e as usize) else {
            return;
        };
        if !ent.live {
            return;
        }
        let h = self.hasher.hash_one(self.key(e));
        if let Ok(o) = self.table.find_entry(h, |&i| i == e) {
            o.remove();
        }
        let ent = &mut self.entries[e as usize];
        self.garbage += ent.len as usize;
        ent.live = false;
        ent.pos = NO_POS;
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
        if self.garbage < 1 << 16 || self.garbage * 2 < self.arena.len() {
            return;
        }
        let mut arena = Vec::with_capacity(self.arena.len() - self.garbage);
        let mut done = vec![false; self.entries.len()];
        let order = std::mem::take(&mut self.order);
        let all = order
            .iter()
            .copied()
            .chain(0..self.entries.len() as u32)
            .collect::<Vec<_>>();
        for e in all {
            let ent = &mut self.entries[e as usize];
            if !ent.live || done[e as usize] {
                continue;
            }
            done[e as usize] = true;
            let start = arena.len();
            arena.extend_from_slice(&self.arena[ent.start..ent.start + ent.len as usize]);
            ent.start = start;
        }
        self.arena = arena;
        self.order = order;
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
}
