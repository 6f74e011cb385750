//! The durable outbox: an on-disk log of what is still to be sent.
//!
//! # Layout
//! A directory of segment files `NNNNNNNNNNNNNNNNNNNN.seg` (ids increase) and
//! one `acked` file. A segment is a sequence of records, each
//! `[payload length: u32 LE][CRC32 of payload: u32 LE][payload]`. A payload is
//! either a *series* record (`1`, series ref `u32 LE`, the series' labels
//! already encoded as remote_write `Label` fields) or a *samples* record (`2`,
//! then per sample ref `u32 LE`, timestamp `i64 LE`, value bits `u64 LE`).
//! Each segment defines every series it uses, so any segment can be read
//! alone and deleted alone. A restarted writer always starts a new segment.
//!
//! # Durability (fsync policy)
//! A commit's records are written to the current segment with one `write`
//! before the store's commit returns: from then on they survive the process
//! being killed (`kill -9`). [`FsyncPolicy`] says when they also survive a
//! power loss: `Segment` (the default) fsyncs each segment when it is sealed,
//! `Always` after every commit, `Never` leaves it to the OS.
//!
//! The `acked` file holds the position up to which the receiver acknowledged
//! everything, and the number of samples in flight; it is replaced (temp
//! file, rename) after every batch. Segments wholly before it are deleted.
//! After a crash the in-flight samples are sent again (they may be
//! duplicates at the receiver) and counted.
//!
//! # Disk cap
//! When the segments exceed `max_disk_usage`, the oldest segments (never the
//! one being written) are deleted and their samples not yet handed to a
//! sender are counted as dropped, exactly.
//!
//! # Damage
//! On open every segment is checked record by record; at the first record
//! that is truncated or fails its CRC the segment is cut (the file is
//! truncated there) and a warning says how many bytes were lost.

use std::collections::{HashMap, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use promlite_store::CommittedSample;

const REC_SERIES: u8 = 1;
const REC_SAMPLES: u8 = 2;
const HEADER: usize = 8;
const SAMPLE_BYTES: usize = 20;
/// Larger records are taken as damage, not data.
const MAX_RECORD: usize = 256 << 20;
const ACK_FILE: &str = "acked";
/// Series-state value of a series whose samples are not sent (relabeled away).
const DROPPED: u32 = u32::MAX;

/// When the outbox calls `fsync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FsyncPolicy {
    /// Never; the OS writes back when it likes (survives process crashes only).
    Never,
    /// When a segment is sealed (default): at most one segment's worth of
    /// data is at risk on power loss.
    #[default]
    Segment,
    /// After every commit: nothing accepted is lost on power loss, at the cost
    /// of one fsync per scrape.
    Always,
}

/// Where and how big the outbox is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxConfig {
    /// The outbox directory (created if missing). One directory per queue.
    pub dir: PathBuf,
    /// Cap on the segments' total size in bytes (default 1 GiB).
    pub max_disk_usage: u64,
    /// A segment is sealed and a new one started past this size (default
    /// 8 MiB, and at most an eighth of `max_disk_usage`, so the cap drops
    /// data in small steps).
    pub segment_bytes: u64,
    /// When to fsync.
    pub fsync: FsyncPolicy,
}

impl OutboxConfig {
    /// An outbox in `dir` with the defaults.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        OutboxConfig {
            dir: dir.into(),
            max_disk_usage: 1 << 30,
            segment_bytes: 8 << 20,
            fsync: FsyncPolicy::default(),
        }
    }

    fn seg_limit(&self) -> u64 {
        self.segment_bytes.min(self.max_disk_usage / 8).max(256)
    }
}

/// A sample read back from the outbox.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    pub(crate) series: Arc<SeriesRec>,
    pub(crate) t: i64,
    pub(crate) v: f64,
}

/// A series as the outbox keeps it: encoded labels and a hash for sharding.
#[derive(Debug)]
pub(crate) struct SeriesRec {
    pub(crate) labels: Vec<u8>,
    pub(crate) hash: u32,
}

/// A position in the log: (segment id, byte offset).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub(crate) struct Pos {
    pub(crate) seg: u64,
    pub(crate) off: u64,
}

#[derive(Debug)]
struct Seg {
    id: u64,
    /// Bytes published to readers (whole records only).
    bytes: u64,
    /// Samples in those bytes.
    samples: u64,
    /// Samples handed to a sender.
    consumed: u64,
}

#[derive(Debug, Default)]
struct State {
    segs: VecDeque<Seg>,
    total_bytes: u64,
    dropped_disk_full: u64,
    closed: bool,
}

#[derive(Debug)]
struct WriterState {
    file: File,
    seg: u64,
    bytes: u64,
    /// Generation of the current segment (1, 2, ... per process).
    gen: u32,
    /// Per series ref: `gen` when its series record is in the current
    /// segment, [`DROPPED`], or anything else when it is not.
    series: Vec<u32>,
    buf: Vec<u8>,
}

/// What opening an existing outbox found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// Segments found.
    pub segments: usize,
    /// Samples not yet acknowledged, to be sent.
    pub pending_samples: u64,
    /// Samples that were in flight when the previous process stopped: sent
    /// again, possibly duplicates at the receiver.
    pub resent_samples: u64,
    /// Warnings about damaged data cut away.
    pub warnings: Vec<String>,
}

/// The outbox: one writer (the store's commits), one reader (the sender).
#[derive(Debug)]
pub(crate) struct Outbox {
    cfg: OutboxConfig,
    state: Mutex<State>,
    cond: Condvar,
    writer: Mutex<WriterState>,
    start: Pos,
}

fn seg_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:020}.seg"))
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Scans one segment: returns per record (end offset, cumulative samples),
/// and the offset where valid data ends plus why it ends early (if it does).
fn scan(data: &[u8]) -> (Vec<(u64, u64)>, usize, Option<String>) {
    let mut bounds = Vec::new();
    let mut off = 0usize;
    let mut samples = 0u64;
    while off < data.len() {
        match record_at(data, off) {
            Ok((payload, next)) => {
                if payload[0] == REC_SAMPLES {
                    samples += ((payload.len() - 1) / SAMPLE_BYTES) as u64;
                }
                off = next;
                bounds.push((off as u64, samples));
            }
            Err(why) => return (bounds, off, Some(why)),
        }
    }
    (bounds, off, None)
}

/// The payload of the record at `off` and the offset after it.
fn record_at(data: &[u8], off: usize) -> Result<(&[u8], usize), String> {
    let rest = &data[off..];
    if rest.len() < HEADER {
        return Err(format!("truncated record header ({} bytes)", rest.len()));
    }
    let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
    let crc = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
    if len == 0 || len > MAX_RECORD {
        return Err(format!("bad record length {len}"));
    }
    if rest.len() < HEADER + len {
        return Err(format!(
            "truncated record: {} of {len} payload bytes",
            rest.len() - HEADER
        ));
    }
    let payload = &rest[HEADER..HEADER + len];
    if crc32fast::hash(payload) != crc {
        return Err("CRC mismatch".to_string());
    }
    let ok = match payload[0] {
        REC_SERIES => payload.len() >= 5,
        REC_SAMPLES => (payload.len() - 1) % SAMPLE_BYTES == 0,
        _ => false,
    };
    if !ok {
        return Err(format!("bad record type {} or size {len}", payload[0]));
    }
    Ok((payload, off + HEADER + len))
}

fn push_record(buf: &mut [u8], payload_start: usize) {
    // The header was reserved at payload_start - HEADER.
    let len = (buf.len() - payload_start) as u32;
    let crc = crc32fast::hash(&buf[payload_start..]);
    let h = payload_start - HEADER;
    buf[h..h + 4].copy_from_slice(&len.to_le_bytes());
    buf[h + 4..h + 8].copy_from_slice(&crc.to_le_bytes());
}

fn read_ack(dir: &Path) -> Option<(Pos, u64)> {
    let b = fs::read(dir.join(ACK_FILE)).ok()?;
    if b.len() != 28 || crc32fast::hash(&b[..24]).to_le_bytes() != b[24..28] {
        return None;
    }
    let u = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap_or([0; 8]));
    Some((
        Pos {
            seg: u(0),
            off: u(8),
        },
        u(16),
    ))
}

fn write_ack(dir: &Path, pos: Pos, inflight: u64) -> io::Result<()> {
    let mut b = Vec::with_capacity(28);
    b.extend_from_slice(&pos.seg.to_le_bytes());
    b.extend_from_slice(&pos.off.to_le_bytes());
    b.extend_from_slice(&inflight.to_le_bytes());
    let crc = crc32fast::hash(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    let tmp = dir.join("acked.tmp");
    fs::write(&tmp, &b)?;
    fs::rename(tmp, dir.join(ACK_FILE))
}

impl Outbox {
    /// Opens (or creates) the outbox in `cfg.dir`, checking what is there.
    pub(crate) fn open(cfg: OutboxConfig) -> io::Result<(Outbox, OpenReport)> {
        fs::create_dir_all(&cfg.dir)?;
        let mut ids: Vec<u64> = fs::read_dir(&cfg.dir)?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                name.strip_suffix(".seg")?.parse::<u64>().ok()
            })
            .collect();
        ids.sort_unstable();
        let ack = read_ack(&cfg.dir);
        let mut report = OpenReport::default();
        let mut state = State::default();
        let mut start = None;
        for &id in &ids {
            let path = seg_path(&cfg.dir, id);
            if ack.is_some_and(|(p, _)| id < p.seg) {
                fs::remove_file(&path)?;
                continue;
            }
            let data = fs::read(&path)?;
            let (bounds, good, why) = scan(&data);
            if let Some(why) = why {
                report.warnings.push(format!(
                    "outbox segment {}: {why} at byte {good}; cut there, {} bytes dropped",
                    path.display(),
                    data.len() - good
                ));
                OpenOptions::new()
                    .write(true)
                    .open(&path)?
                    .set_len(good as u64)?;
            }
            let samples = bounds.last().map_or(0, |b| b.1);
            let mut consumed = 0;
            if let Some((p, _)) = ack.filter(|(p, _)| p.seg == id) {
                // Samples before the acknowledged offset are delivered.
                let at = bounds.iter().rev().find(|b| b.0 <= p.off);
                consumed = at.map_or(0, |b| b.1);
                let off = at.map_or(0, |b| b.0);
                start = Some(Pos { seg: id, off });
            }
            state.total_bytes += good as u64;
            report.pending_samples += samples - consumed;
            state.segs.push_back(Seg {
                id,
                bytes: good as u64,
                samples,
                consumed,
            });
        }
        report.segments = state.segs.len();
        if let Some((_, inflight)) = ack {
            report.resent_samples = inflight.min(report.pending_samples);
        }
        let next = ids.last().map_or(1, |l| l + 1);
        let start = start.unwrap_or(Pos {
            seg: state.segs.front().map_or(next, |s| s.id),
            off: 0,
        });
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(seg_path(&cfg.dir, next))?;
        state.segs.push_back(Seg {
            id: next,
            bytes: 0,
            samples: 0,
            consumed: 0,
        });
        let ob = Outbox {
            cfg,
            state: Mutex::new(state),
            cond: Condvar::new(),
            writer: Mutex::new(WriterState {
                file,
                seg: next,
                bytes: 0,
                gen: 1,
                series: Vec::new(),
                buf: Vec::new(),
            }),
            start,
        };
        Ok((ob, report))
    }

    /// Where the reader starts.
    pub(crate) fn start(&self) -> Pos {
        self.start
    }

    /// Appends one commit's samples. `resolve` gives the encoded
    /// labels of refs this segment has not defined yet (`None`: never send this
    /// series). Returns the number of samples written.
    pub(crate) fn append(
        &self,
        samples: &[CommittedSample],
        mut resolve: impl FnMut(&[u32]) -> Vec<Option<Vec<u8>>>,
    ) -> io::Result<u64> {
        let mut w = lock(&self.writer);
        if w.bytes >= self.cfg.seg_limit() {
            self.rotate(&mut w)?;
        }
        let gen = w.gen;
        let mut need: Vec<u32> = Vec::new();
        for x in samples {
            let r = x.series as usize;
            if r >= w.series.len() {
                w.series.resize(r + 1, 0);
            }
            let s = w.series[r];
            if s != gen && s != DROPPED {
                need.push(r as u32);
            }
        }
        need.sort_unstable();
        need.dedup();
        let mut buf = std::mem::take(&mut w.buf);
        buf.clear();
        if !need.is_empty() {
            let got = resolve(&need);
            for (i, &r) in need.iter().enumerate() {
                match got.get(i).cloned().flatten() {
                    Some(labels) => {
                        buf.extend_from_slice(&[0; HEADER]);
                        let p = buf.len();
                        buf.push(REC_SERIES);
                        buf.extend_from_slice(&r.to_le_bytes());
                        buf.extend_from_slice(&labels);
                        push_record(&mut buf, p);
                        w.series[r as usize] = gen;
                    }
                    None => w.series[r as usize] = DROPPED,
                }
            }
        }
        buf.extend_from_slice(&[0; HEADER]);
        let p = buf.len();
        buf.push(REC_SAMPLES);
        let mut n = 0u64;
        for x in samples {
            if w.series[x.series as usize] == DROPPED {
                continue;
            }
            buf.extend_from_slice(&x.series.to_le_bytes());
            buf.extend_from_slice(&x.t.to_le_bytes());
            buf.extend_from_slice(&x.v.to_bits().to_le_bytes());
            n += 1;
        }
        if n == 0 {
            buf.truncate(p - HEADER);
        } else {
            push_record(&mut buf, p);
        }
        if !buf.is_empty() {
            w.file.write_all(&buf)?;
            if self.cfg.fsync == FsyncPolicy::Always {
                w.file.sync_data()?;
            }
        }
        let len = buf.len() as u64;
        w.bytes += len;
        w.buf = buf;
        let seg = w.seg;
        let mut st = lock(&self.state);
        if let Some(s) = st.segs.back_mut().filter(|s| s.id == seg) {
            s.bytes += len;
            s.samples += n;
        }
        st.total_bytes += len;
        self.enforce_cap(&mut st);
        drop(st);
        self.cond.notify_all();
        Ok(n)
    }

    fn rotate(&self, w: &mut WriterState) -> io::Result<()> {
        if self.cfg.fsync != FsyncPolicy::Never {
            w.file.sync_all()?;
        }
        let next = w.seg + 1;
        w.file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(seg_path(&self.cfg.dir, next))?;
        w.seg = next;
        w.bytes = 0;
        w.gen += 1;
        lock(&self.state).segs.push_back(Seg {
            id: next,
            bytes: 0,
            samples: 0,
            consumed: 0,
        });
        Ok(())
    }

    fn enforce_cap(&self, st: &mut State) {
        while st.total_bytes > self.cfg.max_disk_usage && st.segs.len() > 1 {
            let Some(s) = st.segs.pop_front() else { break };
            st.dropped_disk_full += s.samples - s.consumed;
            st.total_bytes -= s.bytes;
            let _ = fs::remove_file(seg_path(&self.cfg.dir, s.id));
        }
    }

    /// Samples dropped because the disk cap was reached.
    pub(crate) fn dropped_disk_full(&self) -> u64 {
        lock(&self.state).dropped_disk_full
    }

    /// Samples written but not yet handed to a sender, and bytes on disk.
    pub(crate) fn pending(&self) -> (u64, u64) {
        let st = lock(&self.state);
        let n = st.segs.iter().map(|s| s.samples - s.consumed).sum();
        (n, st.total_bytes)
    }

    /// Wakes a waiting reader for good.
    pub(crate) fn close(&self) {
        lock(&self.state).closed = true;
        self.cond.notify_all();
    }

    /// Records that everything before `pos` is delivered, with `inflight`
    /// samples now being sent past it; deletes segments wholly before `pos`.
    pub(crate) fn ack(&self, pos: Pos, inflight: u64) -> io::Result<()> {
        write_ack(&self.cfg.dir, pos, inflight)?;
        let mut st = lock(&self.state);
        while st.segs.len() > 1 && st.segs.front().is_some_and(|s| s.id < pos.seg) {
            let Some(s) = st.segs.pop_front() else { break };
            st.total_bytes -= s.bytes;
            let _ = fs::remove_file(seg_path(&self.cfg.dir, s.id));
        }
        Ok(())
    }
}

/// Reads the outbox in order.
#[derive(Debug)]
pub(crate) struct Reader {
    pos: Pos,
    file: Option<File>,
    series: HashMap<u32, Arc<SeriesRec>>,
}

impl Reader {
    pub(crate) fn new(start: Pos) -> Self {
        Reader {
            pos: start,
            file: None,
            series: HashMap::new(),
        }
    }

    /// Reads whole records until at least `max` samples or the published end,
    /// waiting up to `wait` for data when there is none. Returns the samples
    /// and the position after them.
    pub(crate) fn read(
        &mut self,
        ob: &Outbox,
        max: usize,
        wait: Duration,
    ) -> io::Result<(Vec<Item>, Pos)> {
        let mut out = Vec::new();
        let mut waited = false;
        loop {
            // Find the readable range of the current segment.
            let (limit, more_after) = {
                let mut st = lock(&ob.state);
                loop {
                    let cur = st.segs.iter().position(|s| s.id >= self.pos.seg);
                    match cur {
                        Some(i) => {
                            let s = &st.segs[i];
                            if s.id != self.pos.seg {
                                // Ours was dropped (disk cap) or acked away.
                                self.pos = Pos { seg: s.id, off: 0 };
                                self.file = None;
                                self.series.clear();
                            }
                            let more = i + 1 < st.segs.len();
                            if s.bytes > self.pos.off
                                || more
                                || !out.is_empty()
                                || waited
                                || st.closed
                            {
                                break (s.bytes, more);
                            }
                        }
                        None if !out.is_empty() || waited || st.closed => {
                            return Ok((out, self.pos));
                        }
                        None => {}
                    }
                    let (g, _) = ob
                        .cond
                        .wait_timeout(st, wait)
                        .unwrap_or_else(|e| e.into_inner());
                    st = g;
                    waited = true;
                }
            };
            if self.pos.off >= limit {
                if more_after {
                    self.pos = Pos {
                        seg: self.pos.seg + 1,
                        off: 0,
                    };
                    self.file = None;
                    self.series.clear();
                    continue;
                }
                return Ok((out, self.pos));
            }
            if self.file.is_none() {
                match File::open(seg_path(&ob.cfg.dir, self.pos.seg)) {
                    Ok(f) => self.file = Some(f),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        // Deleted under us by the disk cap: the loop moves on.
                        self.pos.seg += 1;
                        self.pos.off = 0;
                        self.series.clear();
                        continue;
                    }
                    Err(e) => return Err(e),
                }
                if self.pos.off > 0 {
                    self.load_series_before(self.pos.off)?;
                }
            }
            let Some(f) = self.file.as_mut() else {
                continue;
            };
            let want = (limit - self.pos.off).min(4 << 20) as usize;
            let mut data = vec![0; want];
            f.seek(SeekFrom::Start(self.pos.off))?;
            f.read_exact(&mut data)?;
            let mut off = 0;
            let mut items = Vec::new();
            let seg_before = self.pos.seg;
            while off < data.len() && out.len() + items.len() < max {
                let Ok((payload, next)) = record_at(&data, off) else {
                    break; // the rest of a record beyond `want`
                };
                take(&mut self.series, payload, &mut items);
                off = next;
            }
            if off == 0 {
                // A single record larger than the read window: read it whole.
                let mut head = [0u8; HEADER];
                f.seek(SeekFrom::Start(self.pos.off))?;
                f.read_exact(&mut head)?;
                let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
                let mut rec = vec![0; HEADER + len];
                f.seek(SeekFrom::Start(self.pos.off))?;
                f.read_exact(&mut rec)?;
                let (payload, next) = record_at(&rec, 0)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                take(&mut self.series, payload, &mut items);
                off = next;
            }
            // Account for what was taken, unless the cap dropped it meanwhile.
            let mut st = lock(&ob.state);
            match st.segs.iter_mut().find(|s| s.id == seg_before) {
                Some(s) => {
                    s.consumed += items.len() as u64;
                    out.extend(items);
                    self.pos.off += off as u64;
                }
                None => {
                    // Counted as dropped by the cap; move on.
                    self.pos = Pos {
                        seg: seg_before + 1,
                        off: 0,
                    };
                    self.file = None;
                    self.series.clear();
                }
            }
            drop(st);
            if out.len() >= max {
                return Ok((out, self.pos));
            }
        }
    }

    /// Reads the series records of the current segment before `end`.
    fn load_series_before(&mut self, end: u64) -> io::Result<()> {
        let Some(f) = self.file.as_mut() else {
            return Ok(());
        };
        let mut data = vec![0; end as usize];
        f.seek(SeekFrom::Start(0))?;
        f.read_exact(&mut data)?;
        let mut off = 0;
        while off < data.len() {
            let Ok((payload, next)) = record_at(&data, off) else {
                break;
            };
            if payload[0] == REC_SERIES {
                let mut sink = Vec::new();
                take(&mut self.series, payload, &mut sink);
            }
            off = next;
        }
        Ok(())
    }
}

/// Applies one record: defines a series or appends its samples to `items`.
fn take(series: &mut HashMap<u32, Arc<SeriesRec>>, payload: &[u8], items: &mut Vec<Item>) {
    match payload[0] {
        REC_SERIES => {
            let r = u32::from_le_bytes([payload[1], payload[2], payload[3], payload[4]]);
            let labels = payload[5..].to_vec();
            let hash = crc32fast::hash(&labels);
            series.insert(r, Arc::new(SeriesRec { labels, hash }));
        }
        _ => {
            for c in payload[1..].chunks_exact(SAMPLE_BYTES) {
                let r = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                let t = i64::from_le_bytes(c[4..12].try_into().unwrap_or([0; 8]));
                let v = f64::from_bits(u64::from_le_bytes(c[12..20].try_into().unwrap_or([0; 8])));
                // A sample of a series the segment never defined cannot
                // be sent; the CRC makes this unreachable short of a bug.
                if let Some(s) = series.get(&r) {
                    items.push(Item {
                        series: s.clone(),
                        t,
                        v,
                    });
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "outbox_tests.rs"]
mod tests;
