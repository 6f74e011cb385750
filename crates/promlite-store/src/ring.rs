//! Per-series sample rings: compressed blocks in one byte buffer.
//!
//! ADVICE FOR HACKERS. A series keeps its samples in a single byte buffer made
//! of blocks of at most `block_samples` samples each. A block starts byte-aligned
//! with a header — `[n: u8][len: u16 LE][clock: varint][int0: zigzag varint][v0: 8 B]`
//! (`n` and `len` stay zero while the block is open) — followed by a bit stream: per sample a delta-of-delta of the *time integer*
//! and a Gorilla-style XOR of the value. The time integer is either the
//! timestamp in milliseconds (clock [`EXPLICIT`]) or a scrape sequence number
//! of a target's clock (a shared column of scrape timestamps, see
//! [`Clocks`]): consecutive scrapes give a delta-of-delta of 0, one bit.
//!
//! Eviction is logical first: samples at the head of block 0 stop being part of
//! the ring (`Ring::head` keeps count); once all of block 0 is evicted the block is
//! drained from the buffer. Readers therefore always see exactly the newest
//! `capacity` samples, while memory holds at most `capacity + block_samples - 1`.
//!
//! Decoding always starts at block 0 and runs forward; the encoder state for the
//! open (last) block, with its newest bits, lives in [`Ring`]. If you change the format, change
//! `push`, `Decoder` and the round-trip proptest together.

use std::collections::VecDeque;

use promlite_model::Sample;

/// Clock id of samples that carry their own timestamps.
pub(crate) const EXPLICIT: u32 = u32::MAX;

/// Shared timestamp columns, one per scrape target: seq → timestamp.
#[derive(Debug, Default)]
pub(crate) struct Clocks {
    pub(crate) list: Vec<Clock>,
}

/// One target's scrape timestamps, indexed by sequence number from `base`.
#[derive(Debug, Default)]
pub(crate) struct Clock {
    pub(crate) base: u32,
    pub(crate) ts: VecDeque<i64>,
}

impl Clock {
    /// The next sequence number.
    pub(crate) fn next_seq(&self) -> u32 {
        self.base + self.ts.len() as u32
    }
}

impl Clocks {
    /// Maps a (clock, integer) pair to a timestamp.
    #[inline]
    pub(crate) fn t_of(&self, clock: u32, int: i64) -> Option<i64> {
        if clock == EXPLICIT {
            return Some(int);
        }
        let c = self.list.get(clock as usize)?;
        let i = int.checked_sub(i64::from(c.base))?;
        usize::try_from(i).ok().and_then(|i| c.ts.get(i).copied())
    }

    /// Allocated bytes.
    pub(crate) fn allocated(&self) -> usize {
        self.list.capacity() * std::mem::size_of::<Clock>()
            + self.list.iter().map(|c| c.ts.capacity() * 8).sum::<usize>()
    }
}

const NO_WINDOW: u8 = 0xff;

/// A new ring's buffer: a first block's header (13-20 bytes) and, mostly, a
/// flush of pending bits. Small, because a target's first scrape allocates
/// one per series and every byte is fresh memory there: glibc serves up to
/// 24 bytes from a 32-byte chunk, 25 to 40 from a 48-byte one.
const FIRST_CAP: usize = 24;

/// The compressed samples of one series.
///
/// Finished bytes live in `heap[..used]`; the open block's newest bits (at most
/// 63) wait in `acc`, and its sample count in `open_n`. An append therefore
/// writes only this struct, which sits in the series table that a scrape walks
/// in order anyway, and touches the heap buffer once per eight finished bytes
/// (about every five samples of a counter) instead of on every append: with
/// 1.45 M series the buffers are far apart in memory and each touch is a cache
/// miss. The open block's header has zeros for its count and length until the
/// block is closed; readers take both from here.
#[derive(Debug, Clone)]
pub(crate) struct Ring {
    /// Finished bytes in `..used`; the rest is spare capacity.
    heap: Box<[u8]>,
    used: u32,
    /// Offset of the open block's header.
    cur: u32,
    /// Logical number of samples.
    n: u32,
    clock: u32,
    prev_int: i64,
    prev_v: u64,
    /// The open block's pending bits, oldest highest, below a marker bit: with
    /// `k` bits pending, `acc` is `1 << k | bits` (so `acc == 1` when empty).
    acc: u64,
    prev_delta: i32,
    /// Block 0's eviction state. While block 0 is the open block (`cur == 0`):
    /// how many of its samples are logically evicted. Once it is closed: how
    /// many are still logical; eviction then counts down and drains the block
    /// at zero, so a full ring's append does not read block 0's header.
    head: u8,
    /// Samples in the open block.
    open_n: u8,
    lead: u8,
    trail: u8,
}

impl Default for Ring {
    fn default() -> Self {
        Ring {
            heap: Box::default(),
            used: 0,
            cur: 0,
            n: 0,
            clock: EXPLICIT,
            prev_int: 0,
            prev_v: 0,
            acc: 1,
            prev_delta: 0,
            head: 0,
            open_n: 0,
            lead: NO_WINDOW,
            trail: 0,
        }
    }
}

/// Writes `x` as a LEB128 varint into a slice with room for ten bytes;
/// returns the length.
#[inline]
fn varint_into(out: &mut [u8], mut x: u64) -> usize {
    let mut i = 0;
    loop {
        let b = (x & 0x7f) as u8;
        x >>= 7;
        if x == 0 {
            out[i] = b;
            return i + 1;
        }
        out[i] = b | 0x80;
        i += 1;
    }
}

#[inline]
fn zigzag(x: i64) -> u64 {
    ((x << 1) ^ (x >> 63)) as u64
}

#[inline]
fn unzigzag(x: u64) -> i64 {
    ((x >> 1) as i64) ^ -((x & 1) as i64)
}

#[inline]
fn fits_signed(x: i64, bits: u32) -> bool {
    let lim = 1i64 << (bits - 1);
    (-lim..lim).contains(&x)
}

impl Ring {
    /// Logical sample count.
    pub(crate) fn len(&self) -> usize {
        self.n as usize
    }

    /// Clock and time integer of the newest sample (meaningless when empty).
    #[inline]
    pub(crate) fn last_int(&self) -> (u32, i64) {
        (self.clock, self.prev_int)
    }

    /// Bit pattern of the newest value (meaningless when empty).
    pub(crate) fn last_bits(&self) -> u64 {
        self.prev_v
    }

    /// Bytes of encoded data held (including physically kept, logically evicted ones).
    #[cfg(test)]
    pub(crate) fn data_len(&self) -> usize {
        self.used as usize + self.pending().1
    }

    /// Allocated bytes of the buffer.
    pub(crate) fn allocated(&self) -> usize {
        self.heap.len()
    }

    /// The pending bits as bytes (zero-padded to a whole byte) and their count.
    #[inline]
    fn pending(&self) -> ([u8; 8], usize) {
        let k = 63 - self.acc.leading_zeros();
        if k == 0 {
            return ([0; 8], 0);
        }
        let bits = (self.acc ^ (1u64 << k)) << (64 - k);
        (bits.to_be_bytes(), (k as usize).div_ceil(8))
    }

    /// Sample count of the block at `off` (the open block's from `open_n`).
    fn block_n(&self, off: usize) -> u8 {
        if off == self.cur as usize && self.used > 0 {
            return self.open_n;
        }
        self.heap.get(off).copied().unwrap_or(0)
    }

    /// Length of the block at `off`, header included (the open block's counts
    /// its pending bytes).
    fn block_len(&self, off: usize) -> usize {
        if off == self.cur as usize && self.used > 0 {
            return self.used as usize - off + self.pending().1;
        }
        match (self.heap.get(off + 1), self.heap.get(off + 2)) {
            (Some(&a), Some(&b)) => usize::from(u16::from_le_bytes([a, b])),
            _ => 0,
        }
    }

    /// Makes room for `extra` more finished bytes.
    fn reserve(&mut self, extra: usize) {
        let used = self.used as usize;
        if self.heap.len() - used >= extra {
            return;
        }
        // Grow in small steps, not by doubling: a full ring's buffer should
        // carry little slack, because slack is paid per series.
        let cap = used + extra + (used / 4).max(32);
        let mut v = std::mem::take(&mut self.heap).into_vec();
        v.reserve_exact(cap - v.len());
        v.resize(cap, 0);
        self.heap = v.into_boxed_slice();
    }

    /// Appends finished bytes.
    #[inline]
    fn emit(&mut self, bytes: &[u8]) {
        self.reserve(bytes.len());
        let used = self.used as usize;
        if let Some(dst) = self.heap.get_mut(used..used + bytes.len()) {
            dst.copy_from_slice(bytes);
            self.used += bytes.len() as u32;
        }
    }

    /// Appends the low `n` bits of `value` (1 ≤ n ≤ 64; higher bits must be zero).
    #[inline]
    fn put(&mut self, value: u64, n: u32) {
        let k = 63 - self.acc.leading_zeros();
        if k + n <= 63 {
            self.acc = (self.acc << n) | value;
            return;
        }
        // Eight bytes are complete: the pending bits, then the first `room`
        // bits of `value`.
        let room = 64 - k;
        let rest = n - room;
        let pending = self.acc ^ (1u64 << k);
        let hi = if room >= 64 { 0 } else { pending << room };
        let word = hi | (value >> rest);
        self.emit(&word.to_be_bytes());
        self.acc = (1u64 << rest) | (value & ((1u64 << rest) - 1));
    }

    /// Writes the open block's pending bits and its header's count and length.
    fn close_block(&mut self) {
        if self.used == 0 {
            return;
        }
        let (bytes, k) = self.pending();
        self.emit(&bytes[..k]);
        self.acc = 1;
        let cur = self.cur as usize;
        if cur == 0 {
            // Block 0 closes: from an evicted count to a remaining one.
            self.head = self.open_n - self.head;
        }
        let len = (self.used as usize - cur) as u16;
        if let Some(h) = self.heap.get_mut(cur..cur + 3) {
            h[0] = self.open_n;
            h[1..3].copy_from_slice(&len.to_le_bytes());
        }
    }

    /// Length in bytes of the open block so far.
    fn open_len(&self) -> usize {
        self.used as usize - self.cur as usize + self.pending().1
    }

    /// Appends one sample. `int` is the timestamp (clock [`EXPLICIT`]) or the
    /// scrape sequence number of `clock`; it must be larger than the previous one
    /// of the same clock (the caller checks ordering by timestamp).
    pub(crate) fn push(&mut self, clock: u32, int: i64, v: f64, block_samples: u8) {
        let vb = v.to_bits();
        let delta = i32::try_from(int.wrapping_sub(self.prev_int)).ok();
        let open = self.used > 0
            && delta.is_some()
            && self.clock == clock
            && self.open_n < block_samples
            && self.open_len() < 60_000;
        if !open {
            self.close_block();
            // Header (count and length zero until the block closes), clock + 1
            // and the timestamp as varints, the value's bits: built on the
            // stack and written at once (a new series' first push is on the
            // hot path of a target's first scrape).
            let mut block = [0u8; 3 + 10 + 10 + 8];
            let mut n = 3;
            n += varint_into(&mut block[n..], u64::from(clock.wrapping_add(1)));
            n += varint_into(&mut block[n..], zigzag(int));
            block[n..n + 8].copy_from_slice(&vb.to_le_bytes());
            n += 8;
            if self.heap.is_empty() {
                // A new ring (hot in a first scrape): room for its first header
                // and a few flushes, filled in one go (`vec![0; n]` would take
                // calloc's slower path).
                let mut v = Vec::with_capacity(FIRST_CAP.max(n));
                v.extend_from_slice(&block[..n]);
                v.resize(v.capacity(), 0);
                self.heap = v.into_boxed_slice();
                self.cur = 0;
                self.used = n as u32;
            } else {
                self.cur = self.used;
                self.emit(&block[..n]);
            }
            self.open_n = 1;
            self.lead = NO_WINDOW;
            self.trail = 0;
            self.clock = clock;
            self.prev_int = int;
            self.prev_delta = 0;
            self.prev_v = vb;
        } else {
            let delta = delta.unwrap_or(0);
            let dod = i64::from(delta) - i64::from(self.prev_delta);
            if dod == 0 {
                self.put(0, 1);
            } else if fits_signed(dod, 7) {
                self.put((0b10 << 7) | (dod as u64 & 0x7f), 9);
            } else if fits_signed(dod, 14) {
                self.put((0b110 << 14) | (dod as u64 & 0x3fff), 17);
            } else if fits_signed(dod, 20) {
                self.put((0b1110 << 20) | (dod as u64 & 0xf_ffff), 24);
            } else {
                self.put(0b1111, 4);
                self.put(dod as u64, 64);
            }
            let xor = vb ^ self.prev_v;
            if xor == 0 {
                self.put(0, 1);
            } else {
                let lz = xor.leading_zeros().min(31) as u8;
                let tz = xor.trailing_zeros() as u8;
                if self.lead != NO_WINDOW && lz >= self.lead && tz >= self.trail {
                    let sig = 64 - u32::from(self.lead) - u32::from(self.trail);
                    let bits = xor >> self.trail;
                    if sig <= 62 {
                        self.put((0b10 << sig) | bits, sig + 2);
                    } else {
                        self.put(0b10, 2);
                        self.put(bits, sig);
                    }
                } else {
                    let sig = 64 - u32::from(lz) - u32::from(tz);
                    let head = (0b11 << 11) | (u64::from(lz) << 6) | u64::from(sig & 63);
                    self.put(head, 13);
                    self.put(xor >> tz, sig);
                    self.lead = lz;
                    self.trail = tz;
                }
            }
            self.prev_delta = delta;
            self.prev_int = int;
            self.prev_v = vb;
            self.open_n += 1;
        }
        self.n += 1;
    }

    /// Drops the oldest logical sample.
    pub(crate) fn evict_one(&mut self) {
        if self.n == 0 {
            return;
        }
        self.n -= 1;
        if self.n == 0 {
            *self = Ring::default();
            return;
        }
        if self.cur == 0 {
            self.head += 1;
            return;
        }
        self.head = self.head.saturating_sub(1);
        if self.head == 0 {
            let len0 = self.block_len(0);
            let used = self.used as usize;
            self.heap.copy_within(len0..used, 0);
            self.used -= len0 as u32;
            self.cur -= len0 as u32;
            // The new block 0: the open one (nothing evicted) or a closed one
            // (all of it logical).
            self.head = if self.cur == 0 { 0 } else { self.block_n(0) };
        }
    }

    /// Drops the oldest `k` logical samples.
    pub(crate) fn evict(&mut self, k: usize) {
        for _ in 0..k {
            self.evict_one();
        }
    }

    /// Offsets and lengths of the blocks, oldest first.
    fn blocks(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        let used = self.used as usize;
        let mut off = 0usize;
        std::iter::from_fn(move || {
            if off >= used {
                return None;
            }
            let len = self.block_len(off);
            if len == 0 || (off != self.cur as usize && off + len > used) {
                return None;
            }
            let block = (off, len);
            off += len;
            Some(block)
        })
    }

    /// Calls `f(data, len, n, skip)` for the block at `off` of length `len`:
    /// `data` starts at its header and holds at least `len` bytes (for the open
    /// block, a copy with the pending bits behind the finished bytes).
    fn with_block<R>(
        &self,
        off: usize,
        len: usize,
        f: impl FnOnce(&[u8], usize, u8, u8) -> R,
    ) -> Option<R> {
        let used = self.used as usize;
        let skip = match (off, self.cur) {
            (0, 0) => self.head,
            (0, _) => self.block_n(0).saturating_sub(self.head),
            _ => 0,
        };
        let fin = self.heap.get(off..used)?;
        if off != self.cur as usize {
            return Some(f(fin, len, *fin.first()?, skip));
        }
        let (p, k) = self.pending();
        // Eight zero bytes of padding let the decoder load whole words.
        let mut local = [0u8; 320];
        let mut big = Vec::new();
        let buf: &mut [u8] = if fin.len() + k + 8 <= local.len() {
            &mut local[..]
        } else {
            big.resize(fin.len() + k + 8, 0);
            &mut big[..]
        };
        buf[..fin.len()].copy_from_slice(fin);
        buf[fin.len()..fin.len() + k].copy_from_slice(&p[..k]);
        Some(f(buf, fin.len() + k, self.open_n, skip))
    }

    /// Calls `f(clock, int0)` for the first sample of every block (a lower bound
    /// of every sequence number the ring references, per clock), reading
    /// headers only.
    pub(crate) fn block_starts(&self, mut f: impl FnMut(u32, i64)) {
        let used = self.used as usize;
        for (off, _) in self.blocks() {
            let Some(h) = self.heap.get(off..used) else {
                return;
            };
            let mut pos = 3;
            let (Some(c), Some(i)) = (read_varint(h, &mut pos), read_varint(h, &mut pos)) else {
                return;
            };
            f((c as u32).wrapping_sub(1), unzigzag(i));
        }
    }

    /// Calls `f(clock, int0)` for the first sample of block 0 (kept physically,
    /// perhaps evicted logically: a lower bound of the oldest logical sample of
    /// that clock), reading its header only.
    pub(crate) fn first_block_start(&self, f: impl FnOnce(u32, i64)) {
        let Some(h) = self.heap.get(..self.used as usize) else {
            return;
        };
        let mut pos = 3;
        if let (Some(c), Some(i)) = (read_varint(h, &mut pos), read_varint(h, &mut pos)) {
            f((c as u32).wrapping_sub(1), unzigzag(i));
        }
    }

    /// Clock and time integer of the oldest logical sample.
    pub(crate) fn first(&self) -> Option<(u32, i64)> {
        if self.n == 0 {
            return None;
        }
        let (off, len) = self.blocks().next()?;
        let mut out = None;
        self.with_block(off, len, |data, len, n, skip| {
            decode_block(data, len, n, skip, &mut |c, i, _| {
                out = Some((c, i));
                false
            });
        });
        out
    }

    /// Appends the samples with `mint <= t <= maxt` to `out`, oldest first. Blocks
    /// that end before `mint` (the next block already starts before it) are
    /// skipped without decoding; decoding stops at the first sample after `maxt`.
    pub(crate) fn decode_window(
        &self,
        clocks: &Clocks,
        mint: i64,
        maxt: i64,
        out: &mut Vec<Sample>,
    ) {
        let used = self.used as usize;
        for (off, len) in self.blocks() {
            let next = off + len;
            if next < used && self.block_first_t(next, clocks).is_some_and(|t| t < mint) {
                continue;
            }
            let mut done = false;
            // Keeps one decoded sample; false (stop) once past the window.
            let mut take = |t: i64, v: f64| {
                if t > maxt {
                    done = true;
                    return false;
                }
                if t >= mint {
                    out.push(Sample { t, v });
                }
                true
            };
            let Some(clock) = self.heap.get(off..used).and_then(block_clock) else {
                return;
            };
            if clock == EXPLICIT {
                self.with_block(off, len, |data, len, n, skip| {
                    decode_block(data, len, n, skip, &mut |_, t, v| take(t, v));
                });
            } else {
                let Some(col) = clocks.list.get(clock as usize) else {
                    return;
                };
                let base = i64::from(col.base);
                let (a, b) = col.ts.as_slices();
                self.with_block(off, len, |data, len, n, skip| {
                    decode_block(data, len, n, skip, &mut |_, i, v| {
                        let k = i.wrapping_sub(base) as usize;
                        let t = if k < a.len() {
                            a[k]
                        } else if let Some(&t) = b.get(k - a.len()) {
                            t
                        } else {
                            return true;
                        };
                        take(t, v)
                    });
                });
            }
            if done {
                return;
            }
        }
    }

    /// Timestamp of the first sample of the block at `off` (from its header).
    fn block_first_t(&self, off: usize, clocks: &Clocks) -> Option<i64> {
        let block = self.heap.get(off..self.used as usize)?;
        let clock = block_clock(block)?;
        let mut pos = 3usize;
        read_varint(block, &mut pos)?;
        let int = unzigzag(read_varint(block, &mut pos)?);
        clocks.t_of(clock, int)
    }

    /// Calls `f(clock, int, value)` for every logical sample, oldest first.
    pub(crate) fn for_each(&self, mut f: impl FnMut(u32, i64, f64)) {
        for (off, len) in self.blocks() {
            self.with_block(off, len, |data, len, n, skip| {
                decode_block(data, len, n, skip, &mut |c, i, v| {
                    f(c, i, v);
                    true
                });
            });
        }
    }
}

struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl BitReader<'_> {
    /// The 8 bytes from byte `at` as a big-endian word, zero-padded past the end.
    #[inline]
    fn word(&self, at: usize) -> u64 {
        if let Some(Ok(w)) = self.data.get(at..at + 8).map(<[u8; 8]>::try_from) {
            return u64::from_be_bytes(w);
        }
        // The last bytes of the ring: assemble by hand (no memcpy call).
        let rest = self.data.get(at..).unwrap_or(&[]);
        let mut w = 0u64;
        for &b in rest {
            w = (w << 8) | u64::from(b);
        }
        w << (8 * (8 - rest.len().min(8)) as u32)
    }

    /// The next 64 bits without consuming them (zeros past the end); only the
    /// first 57 are exact when the position is not byte-aligned.
    #[inline]
    fn peek(&self) -> u64 {
        self.word(self.pos / 8) << (self.pos % 8)
    }

    /// The next `n` bits (`n <= 64`) as an integer, most significant first. One
    /// unaligned word load for `n <= 56`, two for more.
    #[inline(always)]
    fn bits(&mut self, n: u32) -> Option<u64> {
        if n == 0 {
            return Some(0);
        }
        if self.pos + n as usize > self.data.len() * 8 {
            return None;
        }
        if n > 56 {
            let hi = self.bits(n - 32)?;
            let lo = self.bits(32)?;
            return Some((hi << 32) | lo);
        }
        // After shifting out at most 7 consumed bits, 57 valid bits remain.
        let w = self.peek();
        self.pos += n as usize;
        Some(w >> (64 - n))
    }
}

fn read_varint(data: &[u8], pos: &mut usize) -> Option<u64> {
    let mut x = 0u64;
    let mut shift = 0;
    loop {
        let b = *data.get(*pos)?;
        *pos += 1;
        if shift >= 64 {
            return None;
        }
        x |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(x);
        }
        shift += 7;
    }
}

fn sign_extend(x: u64, bits: u32) -> i64 {
    let s = 64 - bits;
    ((x << s) as i64) >> s
}

/// The clock id in a block's header.
fn block_clock(block: &[u8]) -> Option<u32> {
    let mut pos = 3usize;
    Some((read_varint(block, &mut pos)? as u32).wrapping_sub(1))
}

/// Decodes a block, calling `f` for samples from index `skip` on until it
/// returns false.
///
/// `data` starts at the block's header and may run past the block (`len` bytes):
/// the bit reader then loads whole words even at the block's end; nothing past
/// `len` is ever decoded.
fn decode_block(
    data: &[u8],
    len: usize,
    n: u8,
    skip: u8,
    f: &mut impl FnMut(u32, i64, f64) -> bool,
) {
    let Some(block) = data.get(..len) else {
        return;
    };
    let mut pos = 3usize;
    let Some(clock) = read_varint(block, &mut pos) else {
        return;
    };
    let clock = (clock as u32).wrapping_sub(1);
    let Some(int0) = read_varint(block, &mut pos) else {
        return;
    };
    let mut int = unzigzag(int0);
    let Some(vb) = block.get(pos..pos + 8) else {
        return;
    };
    let mut v = u64::from_le_bytes(vb.try_into().unwrap_or([0; 8]));
    pos += 8;
    if skip == 0 && !f(clock, int, f64::from_bits(v)) {
        return;
    }
    let end_bit = (len - pos) * 8;
    // Word loads need 8 readable bytes past the bit position. A block that ends
    // the ring (the common case for recent samples) has none, so a small block's
    // bits are copied once into a zero-padded local buffer instead.
    let mut local = [0u8; 264];
    let bits_len = len - pos;
    let data: &[u8] = if data.len() < len + 8 && bits_len + 8 <= local.len() {
        local[..bits_len].copy_from_slice(&block[pos..]);
        &local[..bits_len + 8]
    } else {
        &data[pos..]
    };
    let mut r = BitReader { data, pos: 0 };
    let mut delta = 0i64;
    let (mut lead, mut trail) = (0u32, 0u32);
    for i in 1..n {
        // Delta-of-delta: the prefix is 0, 10, 110, 1110 or 1111 (read from one
        // peeked word; the widest short form, 4 + 20 bits, fits in it).
        let w = r.peek();
        let dod = match w.leading_ones() {
            0 => {
                r.pos += 1;
                0
            }
            1 => {
                r.pos += 2 + 7;
                sign_extend((w >> (64 - 9)) & 0x7f, 7)
            }
            2 => {
                r.pos += 3 + 14;
                sign_extend((w >> (64 - 17)) & 0x3fff, 14)
            }
            3 => {
                r.pos += 4 + 20;
                sign_extend((w >> (64 - 24)) & 0xf_ffff, 20)
            }
            _ => {
                r.pos += 4;
                match r.bits(64) {
                    Some(x) => x as i64,
                    None => return,
                }
            }
        };
        delta = delta.wrapping_add(dod);
        int = int.wrapping_add(delta);
        // Value: 0 (unchanged), 10 (XOR in the previous window) or 11 (new window:
        // 5 bits of leading zeros, 6 of significant length, then the bits).
        let w = r.peek();
        if w >> 63 == 1 {
            if (w >> 62) & 1 == 1 {
                lead = ((w >> (64 - 7)) & 0x1f) as u32;
                let sig = ((w >> (64 - 13)) & 0x3f) as u32;
                let sig = if sig == 0 { 64 } else { sig };
                trail = 64u32.saturating_sub(lead + sig);
                r.pos += 13;
            } else {
                r.pos += 2;
            }
            let sig = 64 - lead - trail;
            let Some(x) = r.bits(sig) else { return };
            v ^= if trail >= 64 { 0 } else { x << trail };
        } else {
            r.pos += 1;
        }
        if r.pos > end_bit {
            return;
        }
        if i >= skip && !f(clock, int, f64::from_bits(v)) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn collect(r: &Ring) -> Vec<(u32, i64, u64)> {
        let mut out = Vec::new();
        r.for_each(|c, i, v| out.push((c, i, v.to_bits())));
        out
    }

    #[test]
    fn steady_scrape_costs_two_bits_per_unchanged_sample() {
        let mut r = Ring::default();
        for seq in 0..120 {
            r.push(0, seq, 42.0, 120);
        }
        // header: 3 + clock varint 1 + int varint 1 + value 8 = 13 bytes;
        // the 2nd sample: dod 1 ('10' + 7 bits) + xor '0' = 10 bits; the other
        // 118: 1 bit dod + 1 bit xor = 236 bits; 246 bits = 31 bytes.
        assert_eq!(r.data_len(), 13 + 31);
        assert_eq!(collect(&r).len(), 120);
    }

    #[test]
    fn eviction_keeps_exactly_the_newest_samples() {
        let mut r = Ring::default();
        for t in 0..50i64 {
            r.push(EXPLICIT, t * 1000, t as f64, 8);
            if r.len() > 20 {
                r.evict_one();
            }
        }
        let got = collect(&r);
        assert_eq!(r.first(), Some((EXPLICIT, 30_000)));
        assert_eq!(got.len(), 20);
        assert_eq!(got[0].1, 30_000);
        assert_eq!(f64::from_bits(got[19].2), 49.0);
        // At most capacity + block_samples - 1 samples kept physically: 3 or 4 blocks.
        assert!(r.data_len() < 4 * 8 * 20);
    }

    proptest! {
        #[test]
        fn decode_window_equals_filtered_for_each(
            steps in proptest::collection::vec((1i64..5_000, any::<u64>(), any::<bool>()), 1..200),
            cap in 1usize..64,
            block in 1u8..20,
            lo in 0i64..400_000,
            width in 0i64..400_000,
        ) {
            // Clock 0 is a scrape clock whose column starts at sequence 7; samples
            // alternate between it and explicit timestamps while staying ascending.
            let mut clocks = Clocks::default();
            clocks.list.push(Clock { base: 7, ts: VecDeque::new() });
            let mut r = Ring::default();
            let mut all: std::collections::VecDeque<Sample> = Default::default();
            let mut t = 0i64;
            for (step, bits, scraped) in steps {
                t += step;
                let v = f64::from_bits(bits);
                if scraped {
                    let seq = clocks.list[0].next_seq();
                    clocks.list[0].ts.push_back(t);
                    r.push(0, i64::from(seq), v, block);
                } else {
                    r.push(EXPLICIT, t, v, block);
                }
                all.push_back(Sample { t, v });
                if all.len() > cap { all.pop_front(); r.evict_one(); }
            }
            let (mint, maxt) = (lo, lo + width);
            let mut got = Vec::new();
            r.decode_window(&clocks, mint, maxt, &mut got);
            let want: Vec<(i64, u64)> = all.iter().filter(|x| x.t >= mint && x.t <= maxt).map(|x| (x.t, x.v.to_bits())).collect();
            let got: Vec<(i64, u64)> = got.iter().map(|x| (x.t, x.v.to_bits())).collect();
            prop_assert_eq!(got, want);
        }

        #[test]
        fn ring_round_trips_like_a_vec(
            samples in proptest::collection::vec((0i64..100_000, any::<u64>(), 0u8..4, any::<bool>()), 1..300),
            cap in 1usize..64,
            block in 1u8..40,
        ) {
            let mut r = Ring::default();
            let mut model: std::collections::VecDeque<(u32, i64, u64)> = Default::default();
            let mut int = -5_000i64;
            for (step, bits, kind, clk) in samples {
                int += step.max(1) * if kind == 3 { 1_000_000 } else { 1 };
                let v = match kind { 0 => 1.0, 1 => (step % 7) as f64, _ => f64::from_bits(bits) };
                let clock = if clk { 3 } else { EXPLICIT };
                r.push(clock, int, v, block);
                model.push_back((clock, int, v.to_bits()));
                if model.len() > cap { model.pop_front(); r.evict_one(); }
            }
            prop_assert_eq!(collect(&r), model.into_iter().collect::<Vec<_>>());
        }
    }
}
