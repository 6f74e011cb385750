//! The remote_write sender: a store commit observer that writes to the
//! outbox, and a dispatcher thread that reads the outbox in order, shards
//! each batch by series and sends it, retrying what can be retried.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use promlite_model::Labels;
use promlite_store::{CommitObserver, Committed};

use crate::client::{Client, Outcome};
use crate::metrics::{Counters, Metrics};
use crate::outbox::{Item, OpenReport, Outbox, OutboxConfig, Reader};
use crate::proto;
use crate::{RemoteWriteConfig, StartError};

/// Rewrites or drops a series' labels before it is sent: the hook for
/// `write_relabel_configs`, which the relabel engine implements.
pub trait WriteRelabel: Send + Sync {
    /// The labels to send, or `None` to drop the series.
    fn relabel(&self, labels: &Labels) -> Option<Labels>;
}

struct Shared {
    cfg: RemoteWriteConfig,
    name: String,
    outbox: Outbox,
    client: Client,
    counters: Counters,
    relabel: Option<Arc<dyn WriteRelabel>>,
    stop: AtomicBool,
}

/// A running remote_write queue. Install [`observer`](Self::observer) on a
/// store; every sample committed from then on is written to the outbox and
/// sent. Dropping it stops the sender (unsent data stays in the outbox).
pub struct RemoteWriter {
    shared: Arc<Shared>,
    open: OpenReport,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for RemoteWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteWriter")
            .field("name", &self.shared.name)
            .field("url", &self.shared.cfg.url)
            .finish()
    }
}

impl RemoteWriter {
    /// Opens the outbox (replaying what a previous run left) and starts sending.
    ///
    /// `relabel` applies `write_relabel_configs`; starting with a non-empty
    /// `write_relabel_configs` and no `relabel` is an error rather than sending
    /// series the configuration meant to drop.
    ///
    /// # Errors
    /// A bad URL, unreadable credential or TLS files, conflicting options, or
    /// an outbox directory that cannot be used.
    pub fn start(
        cfg: RemoteWriteConfig,
        outbox: OutboxConfig,
        relabel: Option<Arc<dyn WriteRelabel>>,
    ) -> Result<RemoteWriter, StartError> {
        if !cfg.write_relabel_configs.is_empty() && relabel.is_none() {
            return Err(StartError::Config(
                "write_relabel_configs is set but no relabel engine was given".to_string(),
            ));
        }
        let q = &cfg.queue_config;
        if q.max_shards == 0 || q.min_shards > q.max_shards || q.max_samples_per_send == 0 {
            return Err(StartError::Config(format!(
                "queue_config needs 1 <= min_shards ({}) <= max_shards ({}) and max_samples_per_send ({}) >= 1",
                q.min_shards, q.max_shards, q.max_samples_per_send
            )));
        }
        let client = Client::new(&cfg)?;
        let dir = outbox.dir.clone();
        let (outbox, open) =
            Outbox::open(outbox).map_err(|e| StartError::Outbox(dir.display().to_string(), e))?;
        let counters = Counters::default();
        counters
            .resent_after_restart
            .store(open.resent_samples, Relaxed);
        counters.highest_in_ms.store(i64::MIN, Relaxed);
        counters.highest_sent_ms.store(i64::MIN, Relaxed);
        let shared = Arc::new(Shared {
            name: cfg.queue_name(),
            cfg,
            outbox,
            client,
            counters,
            relabel,
            stop: AtomicBool::new(false),
        });
        let s2 = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("remote-write-{}", shared.name))
            .spawn(move || dispatch(&s2))
            .map_err(|e| StartError::Outbox("thread".to_string(), e))?;
        Ok(RemoteWriter {
            shared,
            open,
            thread: Some(thread),
        })
    }

    /// The observer to install with
    /// [`Store::set_commit_observer`](promlite_store::Store::set_commit_observer).
    pub fn observer(&self) -> Arc<dyn CommitObserver> {
        Arc::new(Sink(self.shared.clone()))
    }

    /// What opening the outbox found (pending samples, damage cut away).
    pub fn open_report(&self) -> &OpenReport {
        &self.open
    }

    /// The queue's name (`remote_name` label).
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The current figures.
    pub fn metrics(&self) -> Metrics {
        let ob = &self.shared.outbox;
        let (pending, bytes) = ob.pending();
        self.shared
            .counters
            .snapshot(pending, bytes, ob.dropped_disk_full())
    }

    /// The figures as text exposition for a `/metrics` page.
    pub fn metrics_text(&self) -> String {
        self.metrics()
            .to_text(&self.shared.name, &self.shared.cfg.url)
    }

    /// Waits until nothing is pending (everything acknowledged, failed or
    /// dropped) or `timeout` passes; true when idle.
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        loop {
            // Idle when every sample ever handed over is accounted for.
            let m = self.metrics();
            let done = m.samples_sent
                + m.samples_failed.values().sum::<u64>()
                + m.samples_dropped.values().sum::<u64>();
            if done >= m.samples_in + self.open.pending_samples {
                return true;
            }
            if Instant::now() >= end {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Stops sending (an unfinished request is abandoned; its samples stay in
    /// the outbox for the next start) and waits for the sender thread.
    pub fn stop(&mut self) {
        self.shared.stop.store(true, Relaxed);
        self.shared.outbox.close();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for RemoteWriter {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The store-side half: encodes labels of new series, writes to the outbox.
struct Sink(Arc<Shared>);

impl CommitObserver for Sink {
    fn committed(&self, c: &Committed<'_>) {
        let sh = &self.0;
        let samples = c.samples();
        let n = samples.len() as u64;
        sh.counters.samples_in.fetch_add(n, Relaxed);
        if let Some(max) = samples.iter().map(|s| s.t).max() {
            Counters::max(&sh.counters.highest_in_ms, max);
        }
        let resolve = |ids: &[u32]| -> Vec<Option<Vec<u8>>> {
            c.labels_many(ids)
                .into_iter()
                .map(|l| {
                    let l = l?;
                    let l = match &sh.relabel {
                        Some(r) => r.relabel(&l)?,
                        None => l,
                    };
                    Some(proto::encode_labels(&l))
                })
                .collect()
        };
        match sh.outbox.append(samples, resolve) {
            Ok(written) => Counters::add(&sh.counters.dropped, "relabel", n - written),
            Err(e) => {
                Counters::add(&sh.counters.dropped, "outbox_io", n);
                sh.counters.set_error(&format!("writing the outbox: {e}"));
            }
        }
    }
}

/// A request body (snappy) for `items`, samples grouped per series in order.
pub(crate) fn encode_request(items: &[Item]) -> Vec<u8> {
    let mut order: Vec<(usize, Vec<(i64, f64)>)> = Vec::new();
    let mut at: HashMap<*const crate::outbox::SeriesRec, usize> = HashMap::new();
    for (i, it) in items.iter().enumerate() {
        let k = Arc::as_ptr(&it.series);
        let slot = *at.entry(k).or_insert_with(|| {
            order.push((i, Vec::new()));
            order.len() - 1
        });
        order[slot].1.push((it.t, it.v));
    }
    let mut raw = Vec::with_capacity(items.len() * 64);
    for (first, samples) in &order {
        proto::encode_series(&mut raw, &items[*first].series.labels, samples);
    }
    proto::compress(&raw)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The dispatcher: batches, shards, sends, acknowledges.
fn dispatch(sh: &Shared) {
    let q = &sh.cfg.queue_config;
    let ob = &sh.outbox;
    let mut reader = Reader::new(ob.start());
    let mut acked = ob.start();
    // A batch: up to `capacity` samples for each of `max_shards` shards.
    let max = q
        .max_shards
        .saturating_mul(q.capacity.max(q.max_samples_per_send));
    let poll = Duration::from_millis(50);
    while !sh.stop.load(Relaxed) {
        let (mut items, mut pos) = match reader.read(ob, max, poll) {
            Ok(x) => x,
            Err(e) => {
                sh.counters.set_error(&format!("reading the outbox: {e}"));
                sleep_unless_stopped(sh, Duration::from_secs(1));
                continue;
            }
        };
        sh.counters.inflight.store(items.len() as u64, Relaxed);
        // Wait for a full request's worth, up to batch_send_deadline.
        let deadline = Instant::now() + q.batch_send_deadline;
        while !items.is_empty() && items.len() < q.max_samples_per_send && !sh.stop.load(Relaxed) {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            match reader.read(ob, max - items.len(), poll.min(deadline - now)) {
                Ok((more, p)) => {
                    items.extend(more);
                    pos = p;
                    sh.counters.inflight.store(items.len() as u64, Relaxed);
                }
                Err(_) => break,
            }
        }
        if items.is_empty() {
            if pos != acked && ob.ack(pos, 0).is_ok() {
                acked = pos;
            }
            continue;
        }
        if !q.sample_age_limit.is_zero() {
            let cutoff = now_ms() - q.sample_age_limit.as_millis() as i64;
            let before = items.len();
            items.retain(|it| it.t >= cutoff);
            Counters::add(
                &sh.counters.dropped,
                "too_old",
                (before - items.len()) as u64,
            );
        }
        let n = items.len() as u64;
        sh.counters.inflight.store(n, Relaxed);
        let _ = ob.ack(acked, n);
        let done = send_sharded(sh, items);
        sh.counters.inflight.store(0, Relaxed);
        if !done {
            break; // stopping: not acknowledged, sent again after restart
        }
        match ob.ack(pos, 0) {
            Ok(()) => acked = pos,
            Err(e) => sh
                .counters
                .set_error(&format!("writing the outbox ack: {e}")),
        }
    }
}

/// Sends `items` over as many shards as their number calls for; false when
/// stopped before every request finished.
fn send_sharded(sh: &Shared, items: Vec<Item>) -> bool {
    let q = &sh.cfg.queue_config;
    let want = items.len().div_ceil(q.max_samples_per_send);
    let n = want.clamp(q.min_shards.max(1), q.max_shards.max(1));
    sh.counters.shards.store(n as u64, Relaxed);
    if n == 1 {
        return send_shard(sh, &items);
    }
    let mut shards: Vec<Vec<Item>> = (0..n).map(|_| Vec::new()).collect();
    for it in items {
        let k = it.series.hash as usize % n;
        shards[k].push(it);
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = shards
            .iter()
            .filter(|x| !x.is_empty())
            .map(|x| s.spawn(|| send_shard(sh, x)))
            .collect();
        // Join every shard (no short-circuit), then combine.
        let done: Vec<bool> = handles
            .into_iter()
            .map(|h| h.join().unwrap_or(false))
            .collect();
        done.into_iter().all(|d| d)
    })
}

fn send_shard(sh: &Shared, items: &[Item]) -> bool {
    let q = &sh.cfg.queue_config;
    for chunk in items.chunks(q.max_samples_per_send) {
        let body = encode_request(chunk);
        let n = chunk.len() as u64;
        let mut backoff = q.min_backoff;
        loop {
            match sh.client.send(&body) {
                Outcome::Sent => {
                    let c = &sh.counters;
                    c.sent.fetch_add(n, Relaxed);
                    c.bytes.fetch_add(body.len() as u64, Relaxed);
                    c.requests.fetch_add(1, Relaxed);
                    if let Some(t) = chunk.iter().map(|i| i.t).max() {
                        Counters::max(&c.highest_sent_ms, t);
                    }
                    break;
                }
                Outcome::Drop(reason) => {
                    let code = reason
                        .strip_prefix("HTTP ")
                        .and_then(|r| r.get(..3))
                        .unwrap_or("other");
                    Counters::add(&sh.counters.failed, &format!("http_{code}"), n);
                    sh.counters.set_error(&reason);
                    break;
                }
                Outcome::Retry(reason, after) => {
                    sh.counters.retried.fetch_add(n, Relaxed);
                    sh.counters.set_error(&reason);
                    let wait = match after {
                        Some(a) => a,
                        None => {
                            // Full jitter over the upper half of the backoff.
                            let ms = backoff.as_millis() as u64;
                            Duration::from_millis(ms / 2 + fastrand::u64(0..=ms / 2))
                        }
                    };
                    if !sleep_unless_stopped(sh, wait) {
                        return false;
                    }
                    backoff = (backoff * 2).min(q.max_backoff);
                }
            }
        }
    }
    true
}

/// Sleeps `d` in short steps; false when stopped meanwhile.
fn sleep_unless_stopped(sh: &Shared, d: Duration) -> bool {
    let end = Instant::now() + d;
    loop {
        if sh.stop.load(Relaxed) {
            return false;
        }
        let now = Instant::now();
        if now >= end {
            return true;
        }
        std::thread::sleep((end - now).min(Duration::from_millis(20)));
    }
}

/// One observer that hands each commit to several (one per `remote_write:`
/// entry; a store takes a single observer).
pub struct Fanout(pub Vec<Arc<dyn CommitObserver>>);

impl std::fmt::Debug for Fanout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Fanout({} observers)", self.0.len())
    }
}

impl CommitObserver for Fanout {
    fn committed(&self, commit: &Committed<'_>) {
        for o in &self.0 {
            o.committed(commit);
        }
    }
}

#[cfg(test)]
#[path = "sender_tests.rs"]
mod tests;
