//! The log of operations committed since the last snapshot.
//!
//! A directory holds numbered segments, `wal-<n>.log`. Each record is
//! `len: u32 LE | crc32(payload): u32 LE | payload`, and a payload is one
//! store operation as its caller gave it (a scrape's target, format,
//! timestamp and raw body; a target marked down; a timestamped file; a
//! sample batch; an explicit gc). Replaying the operations in order through
//! the store's own methods rebuilds exactly the state they made, scrape
//! caches (and so staleness) included.
//!
//! A record is handed to the operating system with one `write` as soon as
//! its operation has committed, under the store's writer mutex (so the log's
//! order is the commit order). A killed process therefore loses nothing the
//! store had committed, except a record whose `write` it was inside; when
//! the record reaches the disk depends on the [`FsyncPolicy`].

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use promlite_expfmt::Format;
use promlite_model::{Label, Labels};

use super::codec::{Dec, DecErr, Enc};
use super::FsyncPolicy;

/// Largest record accepted when reading (a scrape body is limited by the
/// store's `max_body_bytes`; this bounds what a damaged length may ask for).
pub(crate) const MAX_RECORD: usize = 1 << 30;

/// One logged operation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Op {
    Scrape {
        target: Labels,
        format: Format,
        ts: i64,
        body: Vec<u8>,
    },
    Down {
        target: Labels,
        ts: i64,
    },
    Timestamped {
        extra: Labels,
        format: Format,
        body: Vec<u8>,
    },
    Batch(Vec<(Labels, i64, f64)>),
    Gc(i64),
}

/// Borrowed form of [`Op`] for logging without copies.
#[derive(Debug, Clone, Copy)]
pub(crate) enum OpRef<'a> {
    Scrape {
        target: &'a Labels,
        format: Format,
        ts: i64,
        body: &'a [u8],
    },
    Down {
        target: &'a Labels,
        ts: i64,
    },
    Timestamped {
        extra: &'a Labels,
        format: Format,
        body: &'a [u8],
    },
    Batch(&'a [(Labels, i64, f64)]),
    Gc(i64),
}

fn enc_labels(e: &mut Enc, l: &Labels) {
    e.uvar(l.len() as u64);
    for x in l.iter() {
        e.str(&x.name);
        e.str(&x.value);
    }
}

fn dec_labels(d: &mut Dec<'_>) -> Result<Labels, DecErr> {
    let n = d.len(u8::MAX as usize, "label count")?;
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let name = d.str("label name")?;
        let value = d.str("label value")?;
        v.push(Label::new(name, value));
    }
    Ok(Labels::from_labels(v))
}

fn enc_format(f: Format) -> u8 {
    match f {
        Format::Text => 0,
        Format::OpenMetrics => 1,
    }
}

fn dec_format(d: &mut Dec<'_>) -> Result<Format, DecErr> {
    match d.u8("format")? {
        0 => Ok(Format::Text),
        1 => Ok(Format::OpenMetrics),
        _ => Err(DecErr {
            at: d.pos - 1,
            what: "format",
        }),
    }
}

/// Encodes `op` as a payload into `e`.
#[cfg(test)]
pub(crate) fn encode(e: &mut Enc, op: OpRef<'_>) {
    let tail = encode_split(e, op);
    e.buf.extend_from_slice(tail);
}

/// Encodes `op` into `e` except for a trailing body, which is returned: the
/// payload is `e`'s bytes followed by it (a scrape body is written to the
/// log straight from the caller's buffer, never copied).
pub(crate) fn encode_split<'a>(e: &mut Enc, op: OpRef<'a>) -> &'a [u8] {
    match op {
        OpRef::Scrape {
            target,
            format,
            ts,
            body,
        } => {
            e.u8(1);
            enc_labels(e, target);
            e.u8(enc_format(format));
            e.ivar(ts);
            e.uvar(body.len() as u64);
            return body;
        }
        OpRef::Down { target, ts } => {
            e.u8(2);
            enc_labels(e, target);
            e.ivar(ts);
        }
        OpRef::Timestamped {
            extra,
            format,
            body,
        } => {
            e.u8(3);
            enc_labels(e, extra);
            e.u8(enc_format(format));
            e.uvar(body.len() as u64);
            return body;
        }
        OpRef::Batch(samples) => {
            e.u8(4);
            e.uvar(samples.len() as u64);
            for (l, t, v) in samples {
                enc_labels(e, l);
                e.ivar(*t);
                e.f64(*v);
            }
        }
        OpRef::Gc(now) => {
            e.u8(5);
            e.ivar(now);
        }
    }
    &[]
}

/// Decodes one payload.
pub(crate) fn decode(payload: &[u8]) -> Result<Op, DecErr> {
    let mut d = Dec::new(payload);
    let op = match d.u8("record kind")? {
        1 => Op::Scrape {
            target: dec_labels(&mut d)?,
            format: dec_format(&mut d)?,
            ts: d.ivar("timestamp")?,
            body: d.bytes("body")?.to_vec(),
        },
        2 => Op::Down {
            target: dec_labels(&mut d)?,
            ts: d.ivar("timestamp")?,
        },
        3 => Op::Timestamped {
            extra: dec_labels(&mut d)?,
            format: dec_format(&mut d)?,
            body: d.bytes("body")?.to_vec(),
        },
        4 => {
            // Each sample takes at least 10 bytes: bound the allocation.
            let n = d.len(payload.len() / 10, "sample count")?;
            let mut v = Vec::with_capacity(n);
            for _ in 0..n {
                let l = dec_labels(&mut d)?;
                let t = d.ivar("timestamp")?;
                let x = d.f64("value")?;
                v.push((l, t, x));
            }
            Op::Batch(v)
        }
        5 => Op::Gc(d.ivar("timestamp")?),
        _ => {
            return Err(DecErr {
                at: 0,
                what: "record kind",
            })
        }
    };
    if !d.done() {
        return Err(d.err("end of record"));
    }
    Ok(op)
}

/// Frames a payload as a record.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn frame(payload: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// What reading one segment gave.
#[derive(Debug, Default)]
pub(crate) struct SegmentRead {
    pub(crate) ops: Vec<Op>,
    /// The first damaged record: its offset and what was wrong.
    pub(crate) damage: Option<(u64, String)>,
    /// Bytes from the damage to the end of the segment.
    pub(crate) bytes_dropped: u64,
}

/// Reads the records of one segment's bytes, stopping at the first damaged
/// one (a short header or payload, a CRC mismatch, an undecodable payload).
pub(crate) fn read_segment(b: &[u8]) -> SegmentRead {
    let mut out = SegmentRead::default();
    let mut pos = 0usize;
    while pos < b.len() {
        let fail = |out: &mut SegmentRead, why: String| {
            out.damage = Some((pos as u64, why));
            out.bytes_dropped = (b.len() - pos) as u64;
        };
        let Some(h) = b.get(pos..pos + 8) else {
            fail(
                &mut out,
                format!("truncated record header ({} of 8 bytes)", b.len() - pos),
            );
            break;
        };
        let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
        let crc = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
        if len > MAX_RECORD {
            fail(&mut out, format!("record length {len} exceeds the limit"));
            break;
        }
        let Some(payload) = b.get(pos + 8..pos + 8 + len) else {
            fail(
                &mut out,
                format!(
                    "truncated record: {len} payload bytes announced, {} present",
                    b.len() - pos - 8
                ),
            );
            break;
        };
        let got = crc32fast::hash(payload);
        if got != crc {
            fail(
                &mut out,
                format!("checksum mismatch (stored {crc:08x}, computed {got:08x})"),
            );
            break;
        }
        match decode(payload) {
            Ok(op) => out.ops.push(op),
            Err(e) => {
                fail(&mut out, format!("bad {} at payload byte {}", e.what, e.at));
                break;
            }
        }
        pos += 8 + len;
    }
    out
}

/// The path of segment `n` in `dir`.
pub(crate) fn segment_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("wal-{n:016}.log"))
}

/// Segment numbers present in `dir`, ascending.
pub(crate) fn list_segments(dir: &Path) -> io::Result<Vec<u64>> {
    let mut v = Vec::new();
    for ent in fs::read_dir(dir)? {
        let name = ent?.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(n) = name
            .strip_prefix("wal-")
            .and_then(|s| s.strip_suffix(".log"))
            .and_then(|s| s.parse::<u64>().ok())
        {
            v.push(n);
        }
    }
    v.sort_unstable();
    Ok(v)
}

/// Fsyncs a directory (so a created, renamed or removed entry is durable).
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The open log: appends records to the current segment.
#[derive(Debug)]
pub(crate) struct Wal {
    dir: PathBuf,
    policy: FsyncPolicy,
    state: Mutex<WalState>,
}

#[derive(Debug)]
struct WalState {
    seg: u64,
    file: File,
    bytes: u64,
    records: u64,
    last_sync: Instant,
    dirty: bool,
    enc: Enc,
    frame: Vec<u8>,
    errors: u64,
    last_error: Option<String>,
}

/// Log figures, from [`Persistence::status`](super::Persistence::status).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogStatus {
    /// The segment being written.
    pub segment: u64,
    /// Records written to it.
    pub records: u64,
    /// Its size in bytes.
    pub bytes: u64,
    /// Writes or fsyncs that failed since the log was opened (the operation
    /// had committed in memory; it would be missing after a restart).
    pub write_errors: u64,
    /// The last such error.
    pub last_error: Option<String>,
}

fn create_segment(dir: &Path, n: u64) -> io::Result<File> {
    let f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(segment_path(dir, n))?;
    sync_dir(dir)?;
    Ok(f)
}

impl Wal {
    /// Starts segment `seg` (created empty, or appended to if present).
    pub(crate) fn create(dir: &Path, seg: u64, policy: FsyncPolicy) -> io::Result<Wal> {
        let file = create_segment(dir, seg)?;
        let bytes = file.metadata()?.len();
        Ok(Wal {
            dir: dir.to_path_buf(),
            policy,
            state: Mutex::new(WalState {
                seg,
                file,
                bytes,
                records: 0,
                last_sync: Instant::now(),
                dirty: false,
                enc: Enc::default(),
                frame: Vec::new(),
                errors: 0,
                last_error: None,
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, WalState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends one operation (called under the store's writer mutex).
    pub(crate) fn append(&self, op: OpRef<'_>) {
        let mut st = self.lock();
        let st = &mut *st;
        st.enc.buf.clear();
        let tail = encode_split(&mut st.enc, op);
        let len = st.enc.buf.len() + tail.len();
        if len > MAX_RECORD {
            st.errors += 1;
            st.last_error = Some(format!(
                "record of {len} bytes not logged (limit {MAX_RECORD})"
            ));
            return;
        }
        let mut crc = crc32fast::Hasher::new();
        crc.update(&st.enc.buf);
        crc.update(tail);
        st.frame.clear();
        st.frame.extend_from_slice(&(len as u32).to_le_bytes());
        st.frame.extend_from_slice(&crc.finalize().to_le_bytes());
        st.frame.extend_from_slice(&st.enc.buf);
        if st.enc.buf.capacity() > (64 << 20) {
            st.enc.buf = Vec::new();
        }
        // Two writes: a kill between them leaves a cut record, which loading
        // drops like any torn write.
        let res = st.file.write_all(&st.frame).and_then(|()| {
            st.file.write_all(tail)?;
            st.bytes += (st.frame.len() + tail.len()) as u64;
            st.records += 1;
            st.dirty = true;
            let due = match self.policy {
                FsyncPolicy::Always => true,
                FsyncPolicy::Interval(d) => st.last_sync.elapsed() >= d,
                FsyncPolicy::Never => false,
            };
            if due {
                st.file.sync_data()?;
                st.last_sync = Instant::now();
                st.dirty = false;
            }
            Ok(())
        });
        if st.frame.capacity() > (64 << 20) {
            st.frame = Vec::new();
        }
        if let Err(e) = res {
            st.errors += 1;
            st.last_error = Some(format!("segment {}: {e}", st.seg));
        }
    }

    /// Fsyncs the current segment if anything is unsynced.
    pub(crate) fn sync(&self) -> io::Result<()> {
        let mut st = self.lock();
        if st.dirty {
            st.file.sync_data()?;
            st.last_sync = Instant::now();
            st.dirty = false;
        }
        Ok(())
    }

    /// Closes the current segment (fsynced) and starts the next; returns the
    /// new segment's number.
    pub(crate) fn rotate(&self) -> io::Result<u64> {
        let mut st = self.lock();
        st.file.sync_data()?;
        let next = st.seg + 1;
        st.file = create_segment(&self.dir, next)?;
        st.seg = next;
        st.bytes = 0;
        st.records = 0;
        st.dirty = false;
        st.last_sync = Instant::now();
        Ok(next)
    }

    pub(crate) fn status(&self) -> LogStatus {
        let st = self.lock();
        LogStatus {
            segment: st.seg,
            records: st.records,
            bytes: st.bytes,
            write_errors: st.errors,
            last_error: st.last_error.clone(),
        }
    }

    /// Default interval for [`FsyncPolicy::Interval`] when none is given.
    pub(crate) const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ops() -> Vec<Op> {
        vec![
            Op::Scrape {
                target: Labels::from_pairs([("job", "j")]),
                format: Format::OpenMetrics,
                ts: -5,
                body: b"a 1\n".to_vec(),
            },
            Op::Down {
                target: Labels::from_pairs([("job", "j")]),
                ts: 7,
            },
            Op::Timestamped {
                extra: Labels::empty(),
                format: Format::Text,
                body: b"a 1 1000\n".to_vec(),
            },
            Op::Batch(vec![(Labels::from_pairs([("__name__", "x")]), 3, f64::NAN)]),
            Op::Gc(99),
        ]
    }

    fn log_bytes(ops: &[Op]) -> Vec<u8> {
        let mut out = Vec::new();
        for op in ops {
            let mut e = Enc::default();
            let r = match op {
                Op::Scrape {
                    target,
                    format,
                    ts,
                    body,
                } => OpRef::Scrape {
                    target,
                    format: *format,
                    ts: *ts,
                    body,
                },
                Op::Down { target, ts } => OpRef::Down { target, ts: *ts },
                Op::Timestamped {
                    extra,
                    format,
                    body,
                } => OpRef::Timestamped {
                    extra,
                    format: *format,
                    body,
                },
                Op::Batch(v) => OpRef::Batch(v),
                Op::Gc(t) => OpRef::Gc(*t),
            };
            encode(&mut e, r);
            frame(&e.buf, &mut out);
        }
        out
    }

    #[test]
    fn records_round_trip() {
        let ops = ops();
        let r = read_segment(&log_bytes(&ops));
        assert!(r.damage.is_none());
        assert_eq!(r.ops.len(), ops.len());
        // NaN != NaN: compare the batch by bits.
        assert_eq!(r.ops[..3], ops[..3]);
        let Op::Batch(b) = &r.ops[3] else { panic!() };
        assert!(b[0].2.is_nan());
        assert_eq!(r.ops[4], Op::Gc(99));
    }

    #[test]
    fn every_cut_keeps_the_whole_records_before_it() {
        let ops = ops();
        let b = log_bytes(&ops);
        let mut ends = vec![0];
        for i in 1..=ops.len() {
            ends.push(log_bytes(&ops[..i]).len());
        }
        for cut in 0..b.len() {
            let r = read_segment(&b[..cut]);
            let whole = ends.iter().filter(|&&e| e <= cut).count() - 1;
            assert_eq!(r.ops.len(), whole, "cut at {cut}");
            let at_boundary = ends.contains(&cut);
            assert_eq!(r.damage.is_none(), at_boundary, "cut at {cut}");
            if let Some((off, _)) = r.damage {
                assert_eq!(off as usize, ends[whole]);
                assert_eq!(r.bytes_dropped as usize, cut - ends[whole]);
            }
        }
    }

    #[test]
    fn a_flipped_bit_is_a_checksum_error_at_its_record() {
        let ops = ops();
        let b = log_bytes(&ops);
        let second = log_bytes(&ops[..1]).len();
        for bit in 0..8 {
            let mut c = b.clone();
            c[second + 9] ^= 1 << bit;
            let r = read_segment(&c);
            assert_eq!(r.ops.len(), 1);
            let (off, why) = r.damage.unwrap();
            assert_eq!(off as usize, second);
            assert!(why.contains("checksum"), "{why}");
        }
    }
}
