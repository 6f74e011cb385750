//! Timestamped ingestion: data files and direct appends.
//!
//! Unlike scrapes, a batch may hold many samples per series, in any order: the
//! samples of each series are sorted by time, exact duplicates (same time, same
//! value bits) collapse, and two different values at one time are an error.
//! Samples older than what a series already holds are merged in (the series'
//! ring is re-encoded). The whole batch is validated before anything changes,
//! under the write lock.

use std::collections::BTreeMap;

use hashbrown::HashMap;
use promlite_expfmt::{Event, Format, Parser};
use promlite_model::{Labels, Sample};

use crate::labels::{self, FamilyTracker};
use crate::ring::{Ring, EXPLICIT};
use crate::scrape::{label_key, limit, record_meta, EST_SAMPLE_BYTES, EST_SERIES_BYTES, PENDING};
use crate::store::{Inner, Meta, Store};
use crate::{CommittedSample, IngestError, IngestReport, LimitKind};

#[derive(Debug, Clone, Copy)]
struct Item {
    sref: u32,
    t: i64,
    v: f64,
    line: usize,
}

/// Resolves label sets to existing series or new-series slots.
#[derive(Default)]
struct Resolver {
    new_series: Vec<Vec<(String, String)>>,
    new_map: HashMap<Vec<u8>, u32>,
}

impl Resolver {
    fn resolve<'s>(
        &mut self,
        inner: &Inner,
        pairs: impl Iterator<Item = (&'s str, &'s str)> + Clone,
    ) -> u32 {
        if let Some(sid) = inner.find(pairs.clone()) {
            return sid;
        }
        let key = label_key(pairs.clone());
        if let Some(&i) = self.new_map.get(&key) {
            return PENDING | i;
        }
        let i = self.new_series.len() as u32;
        self.new_map.insert(key, i);
        self.new_series
            .push(pairs.map(|(n, v)| (n.to_string(), v.to_string())).collect());
        PENDING | i
    }
}

enum Plan {
    Append(Vec<Sample>),
    /// The merged samples, and those of them that are new.
    Replace(Vec<Sample>, Vec<Sample>),
}

impl Store {
    /// Ingests a data file in which every sample carries its own timestamp
    /// (`prom-oracle`'s data-file protocol): `extra_labels` are added to every
    /// series (overriding), samples of one series may repeat and come in any
    /// order, identical duplicates are dropped, and different values at one
    /// time are an error. No staleness markers are written. Atomic.
    ///
    /// `# TYPE` lines normalize `le`/`quantile` values as in scrapes, and the
    /// metadata is kept under `extra_labels` as if it were a target.
    ///
    /// This holds the write lock for the whole file: load files before querying.
    ///
    /// # Errors
    /// Parse errors, a sample without a timestamp, conflicting values, a
    /// duplicate label name, a series without a name, and exceeded limits.
    pub fn ingest_timestamped(
        &self,
        body: &[u8],
        format: Format,
        extra_labels: &Labels,
    ) -> Result<IngestReport, IngestError> {
        self.ingest_file(body, format, extra_labels, None)
    }

    /// As [`ingest_timestamped`](Self::ingest_timestamped), but a sample
    /// without a timestamp gets `default_ts_ms`: a saved `/metrics` page (whose
    /// samples carry no timestamps) reads as one scrape taken at that time.
    /// Samples that carry a timestamp keep it.
    ///
    /// # Errors
    /// As [`ingest_timestamped`](Self::ingest_timestamped), without the missing
    /// timestamp.
    pub fn ingest_timestamped_at(
        &self,
        body: &[u8],
        format: Format,
        extra_labels: &Labels,
        default_ts_ms: i64,
    ) -> Result<IngestReport, IngestError> {
        self.ingest_file(body, format, extra_labels, Some(default_ts_ms))
    }

    fn ingest_file(
        &self,
        body: &[u8],
        format: Format,
        extra_labels: &Labels,
        default_ts: Option<i64>,
    ) -> Result<IngestReport, IngestError> {
        let limits = &self.cfg.limits;
        if body.len() > limits.max_body_bytes {
            return Err(limit(
                LimitKind::MaxBodyBytes,
                limits.max_body_bytes,
                body.len(),
                None,
            ));
        }
        let mut w = self.writer();
        let mut inner = self.write();
        let mut parser = Parser::new(body, format);
        let mut fam = FamilyTracker::default();
        let mut meta = BTreeMap::new();
        let mut seen: HashMap<&[u8], u32> = HashMap::new();
        let mut res = Resolver::default();
        let mut items = Vec::new();
        while let Some(ev) = parser.next_event() {
            let ev = ev?;
            let Event::Sample(s) = ev else {
                record_meta(&ev, &mut meta, &mut fam);
                continue;
            };
            let t = s
                .timestamp
                .or(default_ts)
                .ok_or(IngestError::MissingTimestamp { line: s.line })?;
            let sref = match seen.get(s.series_bytes()) {
                Some(&r) => r,
                None => {
                    let name = s.name();
                    let norm = fam.normalized_label(&name);
                    let lv = labels::build(&s, norm, extra_labels, limits)?;
                    let r = res.resolve(&inner, lv.iter().map(|(n, v)| (&**n, &**v)));
                    seen.insert(s.series_bytes(), r);
                    r
                }
            };
            items.push(Item {
                sref,
                t,
                v: s.value,
                line: s.line,
            });
        }
        let mut observed = self.observed(items.len());
        let report = self.apply(&mut inner, items, res, &mut observed)?;
        // Metadata, merged into the file "target" of these extra labels.
        if !meta.is_empty() {
            let id = match w.file_targets.get(extra_labels) {
                Some(&id) => id,
                None => {
                    let id = Store::new_target_id(&mut inner, extra_labels);
                    w.file_targets.insert(extra_labels.clone(), id);
                    id
                }
            };
            let slot: &mut BTreeMap<String, Meta> = &mut inner.targets[id as usize].1;
            for (k, m) in meta {
                let e = slot.entry(k).or_default();
                if m.typ.is_some() {
                    e.typ = m.typ;
                }
                if m.help.is_some() {
                    e.help = m.help;
                }
                if m.unit.is_some() {
                    e.unit = m.unit;
                }
            }
        }
        drop(inner);
        self.notify(observed);
        self.journal(crate::persist::OpRef::Timestamped {
            extra: extra_labels,
            format,
            body,
        });
        drop(w);
        Ok(report)
    }

    /// Appends samples directly (the promqltest runner's `load`, which also
    /// appends [`STALE_NAN`](promlite_model::STALE_NAN) markers), with the same
    /// rules as [`ingest_timestamped`](Self::ingest_timestamped): any order,
    /// identical duplicates dropped, conflicting values an error, atomic.
    /// Returns the number of samples appended.
    ///
    /// # Errors
    /// Conflicting values and exceeded limits.
    pub fn append_batch(
        &self,
        samples: impl IntoIterator<Item = (Labels, i64, f64)>,
    ) -> Result<usize, IngestError> {
        let limits = &self.cfg.limits;
        let _w = self.writer();
        let mut inner = self.write();
        let mut seen: HashMap<Labels, u32> = HashMap::new();
        let mut res = Resolver::default();
        let mut items = Vec::new();
        // What the log records, when the store is persisted.
        let mut logged: Option<Vec<(Labels, i64, f64)>> = self.journaled().then(Vec::new);
        for (i, (ls, t, v)) in samples.into_iter().enumerate() {
            if let Some(l) = logged.as_mut() {
                l.push((ls.clone(), t, v));
            }
            let sref = match seen.get(&ls) {
                Some(&r) => r,
                None => {
                    labels::check_limits(
                        ls.iter().map(|l| (&*l.name, &*l.value)),
                        ls.len(),
                        limits,
                        i + 1,
                    )?;
                    let r = res.resolve(&inner, ls.iter().map(|l| (&*l.name, &*l.value)));
                    seen.insert(ls, r);
                    r
                }
            };
            items.push(Item {
                sref,
                t,
                v,
                line: i + 1,
            });
        }
        let mut observed = self.observed(items.len());
        let report = self.apply(&mut inner, items, res, &mut observed)?;
        drop(inner);
        self.notify(observed);
        if let Some(l) = logged {
            self.journal(crate::persist::OpRef::Batch(&l));
        }
        Ok(report.samples_appended)
    }

    fn apply(
        &self,
        inner: &mut Inner,
        mut items: Vec<Item>,
        res: Resolver,
        observed: &mut Option<Vec<CommittedSample>>,
    ) -> Result<IngestReport, IngestError> {
        let limits = &self.cfg.limits;
        let mut report = IngestReport {
            samples_in_body: items.len(),
            ..IngestReport::default()
        };
        if inner.live + res.new_series.len() > limits.max_series {
            return Err(limit(
                LimitKind::MaxSeries,
                limits.max_series,
                inner.live + res.new_series.len(),
                None,
            ));
        }
        let est = inner.mem_estimate
            + res.new_series.len() * EST_SERIES_BYTES
            + items.len() * EST_SAMPLE_BYTES;
        if est > limits.memory_budget_bytes {
            return Err(limit(
                LimitKind::MemoryBudget,
                limits.memory_budget_bytes,
                est,
                None,
            ));
        }
        let labels_of = |inner: &Inner, sref: u32| -> Labels {
            if sref & PENDING != 0 {
                Labels::from_pairs(
                    res.new_series[(sref & !PENDING) as usize]
                        .iter()
                        .map(|(n, v)| (n.as_str(), v.as_str())),
                )
            } else {
                inner.series[sref as usize]
                    .as_ref()
                    .map(|s| inner.labels_of(s))
                    .unwrap_or_default()
            }
        };
        items.sort_by_key(|x| (x.sref, x.t));
        // Validate every series' group, and plan what to write.
        let mut plans: Vec<(u32, Plan)> = Vec::new();
        let mut i = 0;
        while i < items.len() {
            let sref = items[i].sref;
            let mut j = i;
            let mut group: Vec<Sample> = Vec::new();
            while j < items.len() && items[j].sref == sref {
                let x = items[j];
                match group.last() {
                    Some(last) if last.t == x.t => {
                        if last.v.to_bits() != x.v.to_bits() {
                            return Err(IngestError::ConflictingSample {
                                labels: labels_of(inner, sref),
                                t: x.t,
                                line: x.line,
                            });
                        }
                        report.identical_duplicates += 1;
                    }
                    _ => group.push(Sample { t: x.t, v: x.v }),
                }
                j += 1;
            }
            i = j;
            let existing = if sref & PENDING == 0 {
                inner.series[sref as usize].as_ref()
            } else {
                None
            };
            let plan = match existing {
                Some(s) if s.ring.len() > 0 && group[0].t <= inner.last_t(s) => {
                    let old = inner.samples_of(s);
                    let mut added = Vec::new();
                    let mut merged = Vec::with_capacity(old.len() + group.len());
                    let (mut a, mut b) = (0, 0);
                    while a < old.len() || b < group.len() {
                        let take_old =
                            b >= group.len() || (a < old.len() && old[a].t <= group[b].t);
                        if take_old && b < group.len() && old[a].t == group[b].t {
                            if old[a].v.to_bits() != group[b].v.to_bits() {
                                return Err(IngestError::ConflictingSample {
                                    labels: labels_of(inner, sref),
                                    t: old[a].t,
                                    line: 0,
                                });
                            }
                            report.identical_duplicates += 1;
                            b += 1;
                            continue;
                        }
                        if take_old {
                            merged.push(old[a]);
                            a += 1;
                        } else {
                            merged.push(group[b]);
                            added.push(group[b]);
                            b += 1;
                        }
                    }
                    report.samples_appended += merged.len() - old.len();
                    Plan::Replace(merged, added)
                }
                _ => {
                    report.samples_appended += group.len();
                    Plan::Append(group)
                }
            };
            plans.push((sref, plan));
        }
        // Commit.
        let mut sids = Vec::with_capacity(res.new_series.len());
        for ls in &res.new_series {
            sids.push(inner.create(ls.iter().map(|(n, v)| (n.as_str(), v.as_str()))));
        }
        report.series_created = sids.len();
        for (sref, plan) in plans {
            let sid = if sref & PENDING != 0 {
                sids[(sref & !PENDING) as usize]
            } else {
                sref
            };
            match plan {
                Plan::Append(samples) => {
                    if let Some(obs) = observed.as_mut() {
                        obs.extend(samples.iter().map(|x| CommittedSample {
                            series: sid,
                            t: x.t,
                            v: x.v,
                        }));
                    }
                    for x in samples {
                        inner.append(sid, EXPLICIT, x.t, x.v, &self.cfg);
                    }
                }
                Plan::Replace(samples, added) => {
                    if let Some(obs) = observed.as_mut() {
                        obs.extend(added.iter().map(|x| CommittedSample {
                            series: sid,
                            t: x.t,
                            v: x.v,
                        }));
                    }
                    let Some(Some(s)) = inner.series.get_mut(sid as usize) else {
                        continue;
                    };
                    let before = s.ring.len();
                    let mut ring = Ring::default();
                    for x in &samples {
                        ring.push(EXPLICIT, x.t, x.v, self.cfg.block_samples.max(1));
                    }
                    if let Some(cap) = self.cfg.ring_samples {
                        ring.evict(ring.len().saturating_sub(cap.max(1)));
                    }
                    let after = ring.len();
                    s.ring = ring;
                    inner.samples = inner.samples + after - before;
                }
            }
        }
        inner.mem_estimate +=
            report.series_created * EST_SERIES_BYTES + report.samples_appended * EST_SAMPLE_BYTES;
        Ok(report)
    }
}
