//! Label interning and the postings index.
//!
//! Every distinct string (label name or value) is stored once as an `Arc<str>`
//! and named by a dense `u32` symbol; every distinct (name, value) pair is a dense
//! `u32` pair id with a postings list: the sorted ids of the live series carrying
//! it. Series store their labels as a boxed slice of pair ids in label-name order.
//! Reference counts (the postings length for pairs, the number of live pairs for
//! strings) let garbage collection free what dead series leave behind.

use std::hash::BuildHasher;
use std::sync::Arc;

use hashbrown::{DefaultHashBuilder, HashMap, HashTable};
use promlite_model::{Label, Labels, MatchOp, Matcher};

const FREE: u32 = u32::MAX;

/// Strings, pairs and postings.
#[derive(Debug, Default)]
pub(crate) struct Index {
    hasher: DefaultHashBuilder,
    strings: Vec<Option<Arc<str>>>,
    str_refs: Vec<u32>,
    str_table: HashTable<u32>,
    free_strings: Vec<u32>,
    /// Pair id → (name symbol, value symbol); `(FREE, FREE)` when free.
    pairs: Vec<(u32, u32)>,
    /// Pair ids keyed by the hash of (name, value) strings.
    pair_table: HashTable<u32>,
    postings: Vec<Vec<u32>>,
    free_pairs: Vec<u32>,
    /// Name symbol → pair ids of its values.
    names: HashMap<u32, Vec<u32>>,
    /// Bytes of the live interned strings.
    pub(crate) string_bytes: usize,
}

/// One matcher's effect on the candidate set.
enum Selection {
    /// Only these (sorted) series can match.
    Include(Vec<u32>),
    /// These (sorted) series cannot match; all others can.
    Exclude(Vec<u32>),
}

impl Index {
    fn hash_str(&self, s: &str) -> u64 {
        self.hasher.hash_one(s)
    }

    /// The symbol of `s`, if interned.
    pub(crate) fn sym(&self, s: &str) -> Option<u32> {
        let h = self.hash_str(s);
        self.str_table
            .find(h, |&id| {
                self.strings[id as usize].as_deref().is_some_and(|x| x == s)
            })
            .copied()
    }

    /// The string of symbol `id`.
    pub(crate) fn string(&self, id: u32) -> &Arc<str> {
        static EMPTY: std::sync::OnceLock<Arc<str>> = std::sync::OnceLock::new();
        self.strings
            .get(id as usize)
            .and_then(|s| s.as_ref())
            .unwrap_or_else(|| EMPTY.get_or_init(|| Arc::from("")))
    }

    fn intern_str(&mut self, s: &str) -> u32 {
        if let Some(id) = self.sym(s) {
            return id;
        }
        let arc: Arc<str> = Arc::from(s);
        self.string_bytes += s.len();
        let id = match self.free_strings.pop() {
            Some(id) => {
                self.strings[id as usize] = Some(arc);
                self.str_refs[id as usize] = 0;
                id
            }
            None => {
                self.strings.push(Some(arc));
                self.str_refs.push(0);
                (self.strings.len() - 1) as u32
            }
        };
        let h = self.hash_str(s);
        let Index {
            hasher,
            strings,
            str_table,
            ..
        } = self;
        str_table.insert_unique(h, id, |&i| {
            hasher.hash_one(strings[i as usize].as_deref().unwrap_or(""))
        });
        id
    }

    #[inline]
    pub(crate) fn hash_pair(&self, name: &str, value: &str) -> u64 {
        self.hasher.hash_one((name, value))
    }

    /// The pair id of (name, value), if it exists: one hash lookup.
    #[inline]
    pub(crate) fn pair(&self, name: &str, value: &str) -> Option<u32> {
        self.pair_hashed(name, value, self.hash_pair(name, value))
    }

    /// [`pair`](Self::pair) with the pair's [`hash_pair`](Self::hash_pair) given.
    #[inline]
    pub(crate) fn pair_hashed(&self, name: &str, value: &str, h: u64) -> Option<u32> {
        if self.pair_table.is_empty() {
            return None;
        }
        self.pair_table
            .find(h, |&p| {
                let (n, v) = self.pairs[p as usize];
                self.str_eq(n, name) && self.str_eq(v, value)
            })
            .copied()
    }

    #[inline]
    fn str_eq(&self, id: u32, s: &str) -> bool {
        self.strings
            .get(id as usize)
            .and_then(|x| x.as_deref())
            .is_some_and(|x| x == s)
    }

    /// Interns (name, value) and returns its pair id.
    pub(crate) fn intern_pair(&mut self, name: &str, value: &str) -> u32 {
        if let Some(p) = self.pair(name, value) {
            return p;
        }
        let n = self.intern_str(name);
        let v = self.intern_str(value);
        self.str_refs[n as usize] += 1;
        self.str_refs[v as usize] += 1;
        let p = match self.free_pairs.pop() {
            Some(p) => {
                self.pairs[p as usize] = (n, v);
                p
            }
            None => {
                self.pairs.push((n, v));
                self.postings.push(Vec::new());
                (self.pairs.len() - 1) as u32
            }
        };
        let h = self.hash_pair(name, value);
        let Index {
            hasher,
            strings,
            pairs,
            pair_table,
            ..
        } = self;
        pair_table.insert_unique(h, p, |&q| {
            let (n, v) = pairs[q as usize];
            let get = |i: u32| strings[i as usize].as_deref().unwrap_or("");
            hasher.hash_one((get(n), get(v)))
        });
        self.names.entry(n).or_default().push(p);
        p
    }

    /// Name and value of pair `p`.
    pub(crate) fn pair_strings(&self, p: u32) -> (&Arc<str>, &Arc<str>) {
        let (n, v) = self.pairs.get(p as usize).copied().unwrap_or((FREE, FREE));
        (self.string(n), self.string(v))
    }

    /// Builds the [`Labels`] of a series from its pair ids.
    pub(crate) fn labels(&self, pairs: &[u32]) -> Labels {
        Labels::from_sorted_iter(pairs.iter().map(|&p| {
            let (n, v) = self.pair_strings(p);
            Label {
                name: n.clone(),
                value: v.clone(),
            }
        }))
    }

    /// One more than the largest pair id.
    pub(crate) fn pair_slots(&self) -> usize {
        self.pairs.len()
    }

    /// Makes room in pair `p`'s postings for `n` more series (one growth instead
    /// of many when a scrape adds a large batch).
    pub(crate) fn reserve_postings(&mut self, p: u32, n: usize) {
        if let Some(list) = self.postings.get_mut(p as usize) {
            list.reserve_exact(n);
        }
    }

    /// Adds series `sid` (larger than every id added before) to its pairs' postings.
    pub(crate) fn add_series(&mut self, sid: u32, pairs: &[u32]) {
        for &p in pairs {
            let list = &mut self.postings[p as usize];
            if list.capacity() == list.len() {
                // Grow by an eighth, not by doubling: postings slack is paid per series.
                list.reserve_exact((list.len() / 8).max(4));
            }
            match list.last() {
                Some(&last) if last >= sid => {
                    if let Err(i) = list.binary_search(&sid) {
                        list.insert(i, sid);
                    }
                }
                _ => list.push(sid),
            }
        }
    }

    /// Removes dead series (sorted ids) from the postings of `pairs` and frees
    /// pairs and strings nobody references any more.
    pub(crate) fn remove_series(&mut self, dead: &[u32], touched_pairs: &mut Vec<u32>) {
        touched_pairs.sort_unstable();
        touched_pairs.dedup();
        for &p in touched_pairs.iter() {
            let list = &mut self.postings[p as usize];
            list.retain(|s| dead.binary_search(s).is_err());
            if list.is_empty() {
                list.shrink_to_fit();
                self.free_pair(p);
            } else if list.capacity() > 2 * list.len() + 8 {
                list.shrink_to_fit();
            }
        }
    }

    fn free_pair(&mut self, p: u32) {
        let (n, v) = self.pairs[p as usize];
        if n == FREE {
            return;
        }
        let h = self.hash_pair(self.string(n), self.string(v));
        if let Ok(e) = self.pair_table.find_entry(h, |&q| q == p) {
            e.remove();
        }
        if let Some(list) = self.names.get_mut(&n) {
            list.retain(|&x| x != p);
            if list.is_empty() {
                self.names.remove(&n);
            }
        }
        self.pairs[p as usize] = (FREE, FREE);
        self.free_pairs.push(p);
        for s in [n, v] {
            let r = &mut self.str_refs[s as usize];
            *r = r.saturating_sub(1);
            if *r == 0 {
                self.free_string(s);
            }
        }
    }

    fn free_string(&mut self, s: u32) {
        let Some(arc) = self.strings[s as usize].take() else {
            return;
        };
        self.string_bytes -= arc.len();
        let h = self.hash_str(&arc);
        if let Ok(e) = self.str_table.find_entry(h, |&i| i == s) {
            e.remove();
        }
        self.free_strings.push(s);
    }

    /// Series ids (sorted) matching every matcher, among `all` (sorted live ids,
    /// computed lazily only when no matcher narrows the set).
    pub(crate) fn select(&self, matchers: &[Matcher], all: impl FnOnce() -> Vec<u32>) -> Vec<u32> {
        let mut includes: Vec<Vec<u32>> = Vec::new();
        let mut excludes: Vec<Vec<u32>> = Vec::new();
        for m in matchers {
            match self.selection(m) {
                Selection::Include(v) => {
                    if v.is_empty() {
                        return Vec::new();
                    }
                    includes.push(v)
                }
                Selection::Exclude(v) => {
                    if !v.is_empty() {
                        excludes.push(v)
                    }
                }
            }
        }
        includes.sort_by_key(|v| v.len());
        let mut it = includes.into_iter();
        let mut acc = match it.next() {
            Some(first) => first,
            None => all(),
        };
        for other in it {
            acc = intersect(&acc, &other);
            if acc.is_empty() {
                return acc;
            }
        }
        for ex in excludes {
            acc = subtract(&acc, &ex);
        }
        acc
    }

    fn selection(&self, m: &Matcher) -> Selection {
        if m.op == MatchOp::Equal && !m.value.is_empty() {
            return Selection::Include(
                self.pair(&m.name, &m.value)
                    .map(|p| self.postings[p as usize].clone())
                    .unwrap_or_default(),
            );
        }
        let matches_empty = m.matches_empty();
        let pairs: &[u32] = self
            .sym(&m.name)
            .and_then(|n| self.names.get(&n))
            .map(|v| v.as_slice())
            .unwrap_or(&[]);
        // Each distinct value is tested once; the postings of the values whose
        // verdict differs from the verdict on "" (a missing label) are merged.
        let mut lists: Vec<&[u32]> = Vec::new();
        for &p in pairs {
            let (_, v) = self.pairs[p as usize];
            if m.matches(self.string(v)) != matches_empty {
                lists.push(&self.postings[p as usize]);
            }
        }
        let merged = union(&lists);
        if matches_empty {
            Selection::Exclude(merged)
        } else {
            Selection::Include(merged)
        }
    }

    /// Allocated bytes, split into (strings, index structures).
    pub(crate) fn allocated(&self) -> (usize, usize) {
        let strings = self.string_bytes + self.strings.iter().flatten().count() * 16;
        let mut idx = self.strings.capacity() * 8
            + self.str_refs.capacity() * 4
            + self.str_table.capacity() * 5
            + self.free_strings.capacity() * 4
            + self.pairs.capacity() * 8
            + self.pair_table.capacity() * 5
            + self.postings.capacity() * 24
            + self.free_pairs.capacity() * 4
            + self.names.capacity() * 29;
        idx += self
            .postings
            .iter()
            .map(|p| p.capacity() * 4)
            .sum::<usize>();
        idx += self.names.values().map(|p| p.capacity() * 4).sum::<usize>();
        (strings, idx)
    }

    /// Postings bytes alone (part of the index structures).
    pub(crate) fn postings_bytes(&self) -> usize {
        self.postings.iter().map(|p| p.capacity() * 4).sum()
    }
}

fn union(lists: &[&[u32]]) -> Vec<u32> {
    match lists {
        [] => Vec::new(),
        [one] => one.to_vec(),
        _ => {
            let mut v: Vec<u32> = Vec::with_capacity(lists.iter().map(|l| l.len()).sum());
            for l in lists {
                v.extend_from_slice(l);
            }
            v.sort_unstable();
            v.dedup();
            v
        }
    }
}

/// Intersection of two sorted id lists.
pub(crate) fn intersect(a: &[u32], b: &[u32]) -> Vec<u32> {
    let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    let mut out = Vec::with_capacity(small.len());
    if small.len() * 16 < large.len() {
        let mut lo = 0;
        for &x in small {
            match large[lo..].binary_search(&x) {
                Ok(i) => {
                    out.push(x);
                    lo += i + 1;
                }
                Err(i) => lo += i,
            }
        }
        return out;
    }
    let (mut i, mut j) = (0, 0);
    while i < small.len() && j < large.len() {
        match small[i].cmp(&large[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(small[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

/// `a` without the ids in `b` (both sorted).
pub(crate) fn subtract(a: &[u32], b: &[u32]) -> Vec<u32> {
    let mut out = Vec::with_capacity(a.len());
    let mut j = 0;
    for &x in a {
        while j < b.len() && b[j] < x {
            j += 1;
        }
        if j < b.len() && b[j] == x {
            continue;
        }
        out.push(x);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    #[test]
    fn set_operations() {
        assert_eq!(intersect(&[1, 3, 5, 7], &[3, 4, 5]), vec![3, 5]);
        assert_eq!(subtract(&[1, 3, 5, 7], &[3, 4, 5]), vec![1, 7]);
        assert_eq!(union(&[&[1, 5], &[2, 3]]), vec![1, 2, 3, 5]);
    }

    proptest! {
        #[test]
        fn postings_ops_match_btreeset(a in proptest::collection::btree_set(0u32..500, 0..200),
                                       b in proptest::collection::btree_set(0u32..500, 0..200)) {
            let av: Vec<u32> = a.iter().copied().collect();
            let bv: Vec<u32> = b.iter().copied().collect();
            let i: Vec<u32> = a.intersection(&b).copied().collect();
            let d: Vec<u32> = a.difference(&b).copied().collect();
            let u: Vec<u32> = a.union(&b).copied().collect::<BTreeSet<_>>().into_iter().collect();
            prop_assert_eq!(intersect(&av, &bv), i);
            prop_assert_eq!(subtract(&av, &bv), d);
            prop_assert_eq!(union(&[&av, &bv]), u);
        }
    }

    #[test]
    fn gc_frees_pairs_and_strings() {
        let mut ix = Index::default();
        let a = ix.intern_pair("job", "a");
        let b = ix.intern_pair("job", "b");
        ix.add_series(0, &[a]);
        ix.add_series(1, &[b]);
        assert_eq!(ix.string_bytes, "job".len() + 2);
        ix.remove_series(&[1], &mut vec![b]);
        assert_eq!(ix.pair("job", "b"), None);
        assert_eq!(ix.sym("b"), None);
        assert_eq!(ix.pair("job", "a"), Some(a));
        assert_eq!(ix.string_bytes, "job".len() + 1);
    }
}
