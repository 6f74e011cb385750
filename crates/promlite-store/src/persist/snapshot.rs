//! The snapshot file: the whole store, logically, in CRC-checked sections.
//!
//! ```text
//! header   "PLSNAP\0\0" | version: u32 LE | wal_from: u64 LE | crc32(previous 20 bytes): u32 LE
//! section  tag: u8 | len: u64 LE | crc32(payload): u32 LE | payload
//!   1 strings   every distinct label string, referred to by index after
//!   2 targets   per target id: labels, timestamp column (base, times), family metadata
//!   3 series    (repeated, up to 4096 series each) labels, samples as (column, int, value)
//!   4 writer    scrape attempt, last gc, per target its state and the series of its
//!               last scrape (raw series bytes as scraped, for staleness), file targets
//! 255 end      empty: a file without it was cut short
//! ```
//!
//! A sample's time is stored as the store holds it: a scrape sample as its
//! sequence number in its target's timestamp column, a sample with its own
//! timestamp as that time; loading pushes the same values into fresh rings, so
//! a loaded store is encoded as the saved one was. Values are stored XORed
//! with the series' previous value, as a varint.

use std::collections::BTreeMap;
use std::sync::Arc;

use hashbrown::HashMap;
use promlite_expfmt::Format;
use promlite_model::{Label, Labels, MetricType};

use super::codec::{Dec, DecErr, Enc};
use crate::cache::ScrapeCache;
use crate::ring::{Clock, EXPLICIT};
use crate::store::{Inner, Meta, Store, TargetState, Writer};

pub(crate) const MAGIC: &[u8; 8] = b"PLSNAP\0\0";
pub(crate) const VERSION: u32 = 1;
const HEADER: usize = 24;
const T_STRINGS: u8 = 1;
const T_TARGETS: u8 = 2;
const T_SERIES: u8 = 3;
const T_WRITER: u8 = 4;
const T_END: u8 = 255;
const CHUNK: usize = 4096;

/// Encoded sections, ready to be written.
#[derive(Debug)]
pub(crate) struct Encoded {
    pub(crate) wal_from: u64,
    pub(crate) sections: Vec<(u8, Vec<u8>)>,
    pub(crate) series: usize,
    pub(crate) samples: usize,
}

impl Encoded {
    /// The file's bytes, in pieces (header, then per section its header and
    /// payload), to be written in order.
    pub(crate) fn pieces(&self) -> Vec<&[u8]> {
        let mut v: Vec<&[u8]> = Vec::with_capacity(self.sections.len() * 2 + 1);
        for (_, p) in &self.sections {
            v.push(p);
        }
        v
    }

    /// Header bytes and per-section header bytes.
    pub(crate) fn headers(&self) -> (Vec<u8>, Vec<[u8; 13]>) {
        let mut h = Vec::with_capacity(HEADER);
        h.extend_from_slice(MAGIC);
        h.extend_from_slice(&VERSION.to_le_bytes());
        h.extend_from_slice(&self.wal_from.to_le_bytes());
        let crc = crc32fast::hash(&h);
        h.extend_from_slice(&crc.to_le_bytes());
        let sh = self
            .sections
            .iter()
            .map(|(tag, p)| {
                let mut x = [0u8; 13];
                x[0] = *tag;
                x[1..9].copy_from_slice(&(p.len() as u64).to_le_bytes());
                x[9..13].copy_from_slice(&crc32fast::hash(p).to_le_bytes());
                x
            })
            .collect();
        (h, sh)
    }

    /// The whole file in one buffer (tests, fuzzing).
    #[cfg(feature = "fuzzing")]
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let (h, sh) = self.headers();
        let mut out = h;
        for (x, p) in sh.iter().zip(self.pieces()) {
            out.extend_from_slice(x);
            out.extend_from_slice(p);
        }
        out
    }
}

#[derive(Default)]
struct Strings<'a> {
    ids: HashMap<&'a str, u32>,
    enc: Enc,
}

impl<'a> Strings<'a> {
    fn id(&mut self, s: &'a str) -> u32 {
        let n = self.ids.len() as u32;
        *self.ids.entry(s).or_insert_with(|| {
            self.enc.str(s);
            n
        })
    }

    fn labels(&mut self, e: &mut Enc, l: &'a Labels) {
        e.uvar(l.len() as u64);
        for x in l.iter() {
            let n = self.id(&x.name);
            let v = self.id(&x.value);
            e.uvar(u64::from(n));
            e.uvar(u64::from(v));
        }
    }
}

fn typ_code(t: Option<MetricType>) -> u8 {
    match t {
        None => 0,
        Some(MetricType::Counter) => 1,
        Some(MetricType::Gauge) => 2,
        Some(MetricType::Histogram) => 3,
        Some(MetricType::GaugeHistogram) => 4,
        Some(MetricType::Summary) => 5,
        Some(MetricType::Info) => 6,
        Some(MetricType::StateSet) => 7,
        Some(MetricType::Unknown) => 8,
    }
}

fn typ_of(c: u8) -> Option<Option<MetricType>> {
    Some(match c {
        0 => None,
        1 => Some(MetricType::Counter),
        2 => Some(MetricType::Gauge),
        3 => Some(MetricType::Histogram),
        4 => Some(MetricType::GaugeHistogram),
        5 => Some(MetricType::Summary),
        6 => Some(MetricType::Info),
        7 => Some(MetricType::StateSet),
        8 => Some(MetricType::Unknown),
        _ => return None,
    })
}

fn format_code(f: Option<Format>) -> u8 {
    match f {
        None => 0,
        Some(Format::Text) => 1,
        Some(Format::OpenMetrics) => 2,
    }
}

/// Encodes the store's state (the caller holds the writer mutex `w`).
pub(crate) fn encode(store: &Store, w: &Writer, wal_from: u64) -> Encoded {
    let inner = store.read();
    // Labels are built once per series and kept for the string table.
    let live: Vec<(u32, Labels)> = inner
        .series
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.as_ref().map(|s| (i as u32, inner.labels_of(s))))
        .collect();
    let mut new_id = vec![u32::MAX; inner.series.len()];
    for (k, (sid, _)) in live.iter().enumerate() {
        new_id[*sid as usize] = k as u32;
    }
    let mut strings = Strings::default();
    let mut sections = Vec::new();

    // Targets: labels, timestamp column, metadata.
    let mut e = Enc::default();
    e.uvar(inner.targets.len() as u64);
    for (id, (labels, metas)) in inner.targets.iter().enumerate() {
        strings.labels(&mut e, labels);
        let clock = &inner.clocks.list[id];
        e.uvar(u64::from(clock.base));
        e.uvar(clock.ts.len() as u64);
        let mut prev = 0i64;
        for &t in &clock.ts {
            e.ivar(t.wrapping_sub(prev));
            prev = t;
        }
        e.uvar(metas.len() as u64);
        for (fam, m) in metas {
            e.str(fam);
            e.u8(typ_code(m.typ));
            e.opt_str(m.help.as_deref());
            e.opt_str(m.unit.as_deref());
        }
    }
    let targets = e.buf;

    // Series, in chunks.
    let mut samples = 0usize;
    let mut chunks = Vec::new();
    for part in live.chunks(CHUNK) {
        let mut e = Enc::default();
        e.uvar(part.len() as u64);
        for (sid, labels) in part {
            strings.labels(&mut e, labels);
            let Some(s) = inner.series[*sid as usize].as_ref() else {
                continue;
            };
            e.uvar(s.ring.len() as u64);
            let (mut prev_int, mut prev_v) = (0i64, 0u64);
            s.ring.for_each(|c, i, v| {
                e.uvar(if c == EXPLICIT { 0 } else { u64::from(c) + 1 });
                e.ivar(i.wrapping_sub(prev_int));
                e.uvar(v.to_bits() ^ prev_v);
                prev_int = i;
                prev_v = v.to_bits();
            });
            samples += s.ring.len();
        }
        chunks.push(e.buf);
    }

    // Writer state.
    let mut e = Enc::default();
    e.uvar(u64::from(w.attempt));
    match w.last_gc {
        None => e.u8(0),
        Some(t) => {
            e.u8(1);
            e.ivar(t);
        }
    }
    let mut tl: Vec<(&Labels, &TargetState)> = w.targets.iter().collect();
    tl.sort_by_key(|a| a.1.id);
    e.uvar(tl.len() as u64);
    let mut key = Vec::new();
    for (labels, st) in tl {
        strings.labels(&mut e, labels);
        e.uvar(u64::from(st.id));
        e.u8(format_code(st.format));
        let c = &st.counters;
        for x in [
            c.scrapes,
            c.rejected_scrapes,
            c.out_of_order,
            c.duplicate_timestamp,
            c.identical_duplicates,
            c.stale_markers,
        ] {
            e.uvar(x);
        }
        let order: Vec<_> = st
            .cache
            .order
            .iter()
            .filter_map(|&ent| {
                let x = st.cache.entries.get(ent as usize)?;
                let id = *new_id.get(x.sid as usize)?;
                (id != u32::MAX).then_some((ent, id, x.explicit_ts))
            })
            .collect();
        e.uvar(order.len() as u64);
        for (ent, id, explicit) in order {
            let (p, s) = st.cache.parts(ent);
            key.clear();
            key.extend_from_slice(p);
            key.extend_from_slice(s);
            e.bytes(&key);
            e.uvar(u64::from(id));
            e.u8(u8::from(explicit));
        }
    }
    let mut ft: Vec<(&Labels, &u32)> = w.file_targets.iter().collect();
    ft.sort_by_key(|x| *x.1);
    e.uvar(ft.len() as u64);
    for (l, id) in ft {
        strings.labels(&mut e, l);
        e.uvar(u64::from(*id));
    }
    let writer = e.buf;

    let mut st = Enc::default();
    st.uvar(strings.ids.len() as u64);
    st.buf.extend_from_slice(&strings.enc.buf);
    sections.push((T_STRINGS, st.buf));
    sections.push((T_TARGETS, targets));
    for c in chunks {
        sections.push((T_SERIES, c));
    }
    sections.push((T_WRITER, writer));
    sections.push((T_END, Vec::new()));
    Encoded {
        wal_from,
        sections,
        series: live.len(),
        samples,
    }
}

/// What loading a snapshot gave.
#[derive(Debug, Default)]
pub(crate) struct Loaded {
    /// The first log segment not contained in the snapshot (when the header
    /// was readable).
    pub(crate) wal_from: Option<u64>,
    pub(crate) series: usize,
    pub(crate) samples: usize,
    pub(crate) targets: usize,
    /// Whether per-target scrape state was restored.
    pub(crate) writer_state: bool,
    /// The first damage: file offset and description.
    pub(crate) damage: Option<(u64, String)>,
}

/// An error inside a section, with the section's payload offset in the file.
fn at(base: usize, e: DecErr) -> (u64, String) {
    ((base + e.at) as u64, format!("bad {}", e.what))
}

/// Loads snapshot bytes into `store` (fresh, not yet shared). Stops at the
/// first damage, keeping what came before it: targets and their metadata,
/// the series before the damaged one (a series is only kept with all its
/// samples), and the scrape state only when everything before it loaded.
pub(crate) fn load(store: &Store, b: &[u8]) -> Loaded {
    let mut out = Loaded::default();
    let mut w = store.writer();
    let mut inner = store.write();
    if let Err(d) = load_into(store, &mut w, &mut inner, b, &mut out) {
        out.damage = Some(d);
    }
    out
}

fn load_into(
    store: &Store,
    w: &mut Writer,
    inner: &mut Inner,
    b: &[u8],
    out: &mut Loaded,
) -> Result<(), (u64, String)> {
    let Some(h) = b.get(..HEADER) else {
        return Err((
            0,
            format!(
                "file too short for the header ({} of {HEADER} bytes)",
                b.len()
            ),
        ));
    };
    if &h[..8] != MAGIC {
        return Err((0, "not a promlite snapshot (bad magic bytes)".into()));
    }
    let crc = u32::from_le_bytes([h[20], h[21], h[22], h[23]]);
    if crc32fast::hash(&h[..20]) != crc {
        return Err((0, "header checksum mismatch".into()));
    }
    let version = u32::from_le_bytes([h[8], h[9], h[10], h[11]]);
    if version != VERSION {
        return Err((
            8,
            format!("unsupported snapshot version {version} (this build reads {VERSION})"),
        ));
    }
    let mut wf = [0u8; 8];
    wf.copy_from_slice(&h[12..20]);
    out.wal_from = Some(u64::from_le_bytes(wf));

    let mut pos = HEADER;
    let mut strings: Vec<&str> = Vec::new();
    let mut expect = T_STRINGS;
    let mut series_seen = 0usize;
    loop {
        let Some(sh) = b.get(pos..pos + 13) else {
            return Err((
                pos as u64,
                "file cut short: section header missing (no end marker)".into(),
            ));
        };
        let tag = sh[0];
        let mut lb = [0u8; 8];
        lb.copy_from_slice(&sh[1..9]);
        let len = u64::from_le_bytes(lb);
        let crc = u32::from_le_bytes([sh[9], sh[10], sh[11], sh[12]]);
        let base = pos + 13;
        let Some(payload) = usize::try_from(len)
            .ok()
            .and_then(|n| b.get(base..base.checked_add(n)?))
        else {
            return Err((
                pos as u64,
                format!(
                    "file cut short: section of {len} bytes, {} present",
                    b.len().saturating_sub(base)
                ),
            ));
        };
        if crc32fast::hash(payload) != crc {
            return Err((pos as u64, format!("section {tag}: checksum mismatch")));
        }
        let ok = tag == expect
            || (tag == T_SERIES && expect == T_WRITER)
            || (tag == T_WRITER && expect == T_SERIES);
        if !ok {
            return Err((pos as u64, format!("unexpected section {tag}")));
        }
        let mut d = Dec::new(payload);
        match tag {
            T_STRINGS => {
                let n = d
                    .len(payload.len(), "string count")
                    .map_err(|e| at(base, e))?;
                strings.reserve(n);
                for _ in 0..n {
                    strings.push(d.str("string").map_err(|e| at(base, e))?);
                }
                expect = T_TARGETS;
            }
            T_TARGETS => {
                load_targets(inner, &mut d, &strings, out).map_err(|e| at(base, e))?;
                expect = T_SERIES;
            }
            T_SERIES => {
                let n =
                    load_series(store, inner, &mut d, &strings, out).map_err(|e| at(base, e))?;
                series_seen += n;
                expect = T_WRITER;
            }
            T_WRITER => {
                load_writer(w, inner, &mut d, &strings, series_seen).map_err(|e| at(base, e))?;
                out.writer_state = true;
                expect = T_END;
            }
            _ => {
                if !payload.is_empty() {
                    return Err((pos as u64, "end section not empty".into()));
                }
                if base + payload.len() != b.len() {
                    return Err((
                        (base + payload.len()) as u64,
                        "bytes after the end marker".into(),
                    ));
                }
                return Ok(());
            }
        }
        if !d.done() {
            return Err(at(base, d.err("end of section")));
        }
        pos = base + payload.len();
    }
}

fn dec_labels<'a>(d: &mut Dec<'_>, strings: &[&'a str]) -> Result<Vec<(&'a str, &'a str)>, DecErr> {
    let n = d.len(u8::MAX as usize, "label count")?;
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let at = d.pos;
        let a = d.len(u32::MAX as usize, "label name")?;
        let b = d.len(u32::MAX as usize, "label value")?;
        let (Some(&name), Some(&value)) = (strings.get(a), strings.get(b)) else {
            return Err(DecErr {
                at,
                what: "string index",
            });
        };
        v.push((name, value));
    }
    if v.windows(2).any(|p| p[0].0 >= p[1].0) {
        return Err(d.err("label order"));
    }
    Ok(v)
}

fn to_labels(v: &[(&str, &str)]) -> Labels {
    Labels::from_sorted(
        v.iter()
            .map(|&(n, x)| Label::new(Arc::<str>::from(n), Arc::<str>::from(x)))
            .collect(),
    )
}

fn load_targets(
    inner: &mut Inner,
    d: &mut Dec<'_>,
    strings: &[&str],
    out: &mut Loaded,
) -> Result<(), DecErr> {
    let n = d.len(d.b.len(), "target count")?;
    for _ in 0..n {
        let labels = to_labels(&dec_labels(d, strings)?);
        let base = d.u32("column base")?;
        let nts = d.len(d.b.len(), "column length")?;
        if u64::from(base) + nts as u64 >= u64::from(u32::MAX) {
            return Err(d.err("column length"));
        }
        let mut clock = Clock {
            base,
            ts: std::collections::VecDeque::with_capacity(nts),
        };
        let mut prev = 0i64;
        for _ in 0..nts {
            prev = prev.wrapping_add(d.ivar("column time")?);
            clock.ts.push_back(prev);
        }
        let nm = d.len(d.b.len(), "metadata count")?;
        let mut metas = BTreeMap::new();
        for _ in 0..nm {
            let fam = d.str("family")?.to_string();
            let at = d.pos;
            let typ = typ_of(d.u8("type")?).ok_or(DecErr { at, what: "type" })?;
            let help = d.opt_str("help")?.map(str::to_string);
            let unit = d.opt_str("unit")?.map(str::to_string);
            metas.insert(fam, Meta { typ, help, unit });
        }
        let id = Store::new_target_id(inner, &labels);
        inner.clocks.list[id as usize] = clock;
        inner.targets[id as usize].1 = metas;
        out.targets += 1;
    }
    Ok(())
}

/// Loads one chunk of series; returns how many it held. A series whose
/// samples do not decode is dropped whole before the error is returned.
fn load_series(
    store: &Store,
    inner: &mut Inner,
    d: &mut Dec<'_>,
    strings: &[&str],
    out: &mut Loaded,
) -> Result<usize, DecErr> {
    let n = d.len(d.b.len(), "series count")?;
    let mut samples = Vec::new();
    for _ in 0..n {
        let at = d.pos;
        let labels = dec_labels(d, strings)?;
        if labels.is_empty() {
            return Err(DecErr {
                at,
                what: "series without labels",
            });
        }
        if inner.find(labels.iter().copied()).is_some() {
            return Err(DecErr {
                at,
                what: "duplicate series",
            });
        }
        let ns = d.len(d.b.len(), "sample count")?;
        samples.clear();
        let (mut prev_int, mut prev_v, mut prev_t) = (0i64, 0u64, None::<i64>);
        for _ in 0..ns {
            let at = d.pos;
            let c = d.uvar("sample column")?;
            let clock = if c == 0 {
                EXPLICIT
            } else {
                u32::try_from(c - 1)
                    .ok()
                    .filter(|&c| (c as usize) < inner.clocks.list.len())
                    .ok_or(DecErr {
                        at,
                        what: "sample column",
                    })?
            };
            prev_int = prev_int.wrapping_add(d.ivar("sample time")?);
            prev_v ^= d.uvar("sample value")?;
            let t = inner.clocks.t_of(clock, prev_int).ok_or(DecErr {
                at,
                what: "sample time (outside its column)",
            })?;
            if prev_t.is_some_and(|p| t <= p) {
                return Err(DecErr {
                    at,
                    what: "sample time (not increasing)",
                });
            }
            prev_t = Some(t);
            samples.push((clock, prev_int, f64::from_bits(prev_v)));
        }
        let sid = inner.create(labels.iter().copied());
        for &(c, i, v) in &samples {
            inner.append(sid, c, i, v, &store.cfg);
        }
        out.series += 1;
        out.samples += samples
            .len()
            .min(store.cfg.ring_samples.unwrap_or(usize::MAX));
    }
    Ok(n)
}

fn load_writer(
    w: &mut Writer,
    inner: &Inner,
    d: &mut Dec<'_>,
    strings: &[&str],
    series: usize,
) -> Result<(), DecErr> {
    let attempt = d.u32("attempt")?;
    let last_gc = match d.u8("last gc")? {
        0 => None,
        1 => Some(d.ivar("last gc")?),
        _ => return Err(d.err("last gc")),
    };
    // Series ids: the loaded series are dense from 0 in snapshot order.
    let live = inner.series.len();
    if live != series {
        return Err(d.err("series count"));
    }
    let n = d.len(d.b.len(), "target count")?;
    let mut targets = Vec::with_capacity(n);
    for _ in 0..n {
        let labels = to_labels(&dec_labels(d, strings)?);
        let at = d.pos;
        let id = d.u32("target id")?;
        if id as usize >= inner.targets.len() {
            return Err(DecErr {
                at,
                what: "target id",
            });
        }
        let format = match d.u8("format")? {
            0 => None,
            1 => Some(Format::Text),
            2 => Some(Format::OpenMetrics),
            _ => return Err(d.err("format")),
        };
        let mut st = TargetState {
            id,
            format,
            ..TargetState::default()
        };
        let c = &mut st.counters;
        for x in [
            &mut c.scrapes,
            &mut c.rejected_scrapes,
            &mut c.out_of_order,
            &mut c.duplicate_timestamp,
            &mut c.identical_duplicates,
            &mut c.stale_markers,
        ] {
            *x = d.uvar("counter")?;
        }
        let no = d.len(d.b.len(), "cache entries")?;
        let mut cache = ScrapeCache::default();
        let (mut hashes, mut ents) = (Vec::with_capacity(no), Vec::with_capacity(no));
        let mut keys = hashbrown::HashSet::with_capacity(no);
        for _ in 0..no {
            let at = d.pos;
            let key = d.bytes("cache key")?;
            let sid = d.len(series.saturating_sub(1), "cache series")? as u32;
            if series == 0 || key.is_empty() || !keys.insert(key) {
                return Err(DecErr {
                    at,
                    what: "cache entry",
                });
            }
            let explicit = match d.u8("cache flag")? {
                0 => false,
                1 => true,
                _ => return Err(d.err("cache flag")),
            };
            let (e, h) = cache.insert_unindexed(key, sid, attempt, explicit);
            hashes.push(h);
            ents.push(e);
        }
        cache.index(&hashes, &ents);
        cache.set_order(ents);
        st.cache = cache;
        targets.push((labels, st));
    }
    let nf = d.len(d.b.len(), "file target count")?;
    let mut files = Vec::with_capacity(nf);
    for _ in 0..nf {
        let labels = to_labels(&dec_labels(d, strings)?);
        let at = d.pos;
        let id = d.u32("file target id")?;
        if id as usize >= inner.targets.len() {
            return Err(DecErr {
                at,
                what: "file target id",
            });
        }
        files.push((labels, id));
    }
    w.attempt = attempt;
    w.last_gc = last_gc;
    w.targets = targets.into_iter().collect();
    w.file_targets = files.into_iter().collect();
    Ok(())
}
