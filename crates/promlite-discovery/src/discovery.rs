//! [`KubernetesDiscovery`]: the reflector threads and the dispatcher thread that
//! turns their objects into target groups and hands changed groups to the caller.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::client::{Client, Resource};
use crate::endpoints::{build_endpoints, endpoints_source};
use crate::endpointslice::{build_endpointslice, endpointslice_source, SERVICE_NAME_LABEL};
use crate::error::DiscoveryError;
use crate::group::TargetGroup;
use crate::index::{pod_ref, service_ref, RefIndex};
use crate::options::{KubernetesOptions, Role};
use crate::pod::{build_pod, pod_source};
use crate::reflector::{Msg, Object, Reflector, StopSignal};

/// Counters about a running discovery, for logs and self-monitoring.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiscoveryStats {
    /// Complete lists (all pages of one list count once).
    pub lists: u64,
    /// Watches opened.
    pub watches: u64,
    /// Watch events applied (ADDED, MODIFIED, DELETED).
    pub events: u64,
    /// Relists forced by `410 Gone`.
    pub relists_gone: u64,
    /// Failed requests and broken or undecodable watch streams (each retried).
    pub errors: u64,
    /// The last error, as a sentence.
    pub last_error: Option<String>,
    /// Calls made to the update callback.
    pub updates: u64,
    /// Whether every list has completed once (the first snapshot was delivered).
    pub synced: bool,
}

/// The callback receiving target groups: the first call carries every group (a full
/// snapshot), later calls only the groups that changed; a group without targets
/// means its source is gone.
pub type OnUpdate = Box<dyn FnMut(Vec<TargetGroup>) + Send>;

/// Messages queued between the reflectors and the dispatcher.
const QUEUE: usize = 4096;

#[derive(Debug, Default)]
struct Shared {
    stats: Mutex<DiscoveryStats>,
    groups: Mutex<BTreeMap<String, TargetGroup>>,
}

/// Kubernetes service discovery running on its own threads.
///
/// [`start`](Self::start) validates the options, then spawns one reflector thread
/// per watched (resource, namespace) — pods for role `pod`; endpoints (or endpoint
/// slices), services and pods for role `endpoints` (`endpointslice`) — and one
/// dispatcher thread that calls the update
/// callback. Request errors never stop it: they are retried with backoff and show in
/// [`stats`](Self::stats). Dropping the value stops it, as [`stop`](Self::stop) does.
pub struct KubernetesDiscovery {
    stop: Arc<StopSignal>,
    shared: Arc<Shared>,
    tx: SyncSender<Msg>,
    dispatcher: Option<JoinHandle<()>>,
    reflectors: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for KubernetesDiscovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubernetesDiscovery")
            .field("reflectors", &self.reflectors.len())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl KubernetesDiscovery {
    /// Starts discovery; `on_update` is called from the dispatcher thread.
    ///
    /// # Errors
    /// [`DiscoveryError::Config`] or [`DiscoveryError::File`] when the options are
    /// invalid, in-cluster settings are missing, or a TLS file cannot be read. Nothing
    /// is contacted before this returns.
    pub fn start(
        opts: KubernetesOptions,
        on_update: impl FnMut(Vec<TargetGroup>) + Send + 'static,
    ) -> Result<KubernetesDiscovery, DiscoveryError> {
        Self::start_with_env(opts, Box::new(on_update), |k| std::env::var(k).ok())
    }

    /// Starts discovery delivering updates on a channel instead of a callback.
    ///
    /// # Errors
    /// As [`start`](Self::start).
    pub fn start_channel(
        opts: KubernetesOptions,
    ) -> Result<(KubernetesDiscovery, Receiver<Vec<TargetGroup>>), DiscoveryError> {
        let (tx, rx) = mpsc::channel();
        let d = Self::start(opts, move |groups| {
            let _ = tx.send(groups);
        })?;
        Ok((d, rx))
    }

    fn start_with_env(
        opts: KubernetesOptions,
        on_update: OnUpdate,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<KubernetesDiscovery, DiscoveryError> {
        let resolved = opts.resolve(env)?;
        let client = Arc::new(Client::new(&opts, &resolved)?);
        let resources: &[Resource] = match opts.role {
            Role::Pod => &[Resource::Pods],
            Role::Endpoints => &[Resource::Endpoints, Resource::Services, Resource::Pods],
            Role::EndpointSlice => &[Resource::EndpointSlices, Resource::Services, Resource::Pods],
        };
        let namespaces: Vec<Option<String>> = if resolved.namespaces.is_empty() {
            vec![None]
        } else {
            resolved.namespaces.iter().cloned().map(Some).collect()
        };
        let stop = Arc::new(StopSignal::default());
        let shared = Arc::new(Shared::default());
        // Bounded: when the callback is slow, reflectors wait (their watch streams
        // wait in the socket) instead of queueing without limit.
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        let mut kinds = Vec::new();
        let mut reflectors = Vec::new();
        for &resource in resources {
            for ns in &namespaces {
                let id = kinds.len();
                kinds.push(resource);
                let r = Reflector {
                    id,
                    resource,
                    namespace: ns.clone(),
                    client: client.clone(),
                    tx: tx.clone(),
                    stop: stop.clone(),
                    retry_initial: opts.retry_initial,
                    retry_max: opts.retry_max,
                };
                let name = format!(
                    "k8s-sd-{}-{}",
                    resource.plural(),
                    ns.as_deref().unwrap_or("all")
                );
                let h = std::thread::Builder::new()
                    .name(name)
                    .spawn(move || r.run())
                    .map_err(|e| DiscoveryError::Config(format!("cannot start a thread: {e}")))?;
                reflectors.push(h);
            }
        }
        let state = Dispatcher {
            role: opts.role,
            stores: kinds.iter().map(|&k| (k, BTreeMap::new())).collect(),
            synced: vec![false; kinds.len()],
            refs: RefIndex::default(),
            all_synced: false,
            shared: shared.clone(),
            on_update,
        };
        let dispatcher = std::thread::Builder::new()
            .name("k8s-sd-dispatch".into())
            .spawn(move || state.run(rx))
            .map_err(|e| DiscoveryError::Config(format!("cannot start a thread: {e}")))?;
        Ok(KubernetesDiscovery {
            stop,
            shared,
            tx,
            dispatcher: Some(dispatcher),
            reflectors,
        })
    }

    /// The current groups with targets, by source.
    pub fn snapshot(&self) -> Vec<TargetGroup> {
        lock(&self.shared.groups).values().cloned().collect()
    }

    /// The counters so far.
    pub fn stats(&self) -> DiscoveryStats {
        lock(&self.shared.stats).clone()
    }

    /// Waits until the first snapshot was delivered; false on timeout.
    pub fn wait_synced(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.stats().synced {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Stops discovery. The callback is not called after this returns. Waits for the
    /// dispatcher, and up to `grace` for reflector threads; a reflector blocked in a
    /// watch read longer than that is left to end by itself at its next event or when
    /// the server ends the watch (`watch_timeout`). Returns how many were left.
    pub fn stop_within(mut self, grace: Duration) -> usize {
        self.shutdown(grace)
    }

    /// [`stop_within`](Self::stop_within) one second.
    pub fn stop(self) -> usize {
        self.stop_within(Duration::from_secs(1))
    }

    fn shutdown(&mut self, grace: Duration) -> usize {
        self.stop.stop();
        let _ = self.tx.send(Msg::Stop);
        if let Some(d) = self.dispatcher.take() {
            let _ = d.join();
        }
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline && !self.reflectors.iter().all(|h| h.is_finished()) {
            std::thread::sleep(Duration::from_millis(5));
        }
        let mut left = 0;
        for h in self.reflectors.drain(..) {
            if h.is_finished() {
                let _ = h.join();
            } else {
                left += 1;
            }
        }
        left
    }
}

impl Drop for KubernetesDiscovery {
    fn drop(&mut self) {
        if self.dispatcher.is_some() {
            self.shutdown(Duration::from_millis(100));
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The dispatcher's state: every reflector's objects by `namespace/name`.
struct Dispatcher {
    role: Role,
    stores: Vec<(Resource, BTreeMap<String, Object>)>,
    synced: Vec<bool>,
    all_synced: bool,
    /// Which Endpoints objects and slices refer to each pod and service.
    refs: RefIndex,
    shared: Arc<Shared>,
    on_update: OnUpdate,
}

impl Dispatcher {
    fn run(mut self, rx: Receiver<Msg>) {
        while let Ok(first) = rx.recv() {
            let mut touched = BTreeSet::new();
            let mut msg = Some(first);
            // Apply everything already queued before computing groups once.
            while let Some(m) = msg.take() {
                if matches!(m, Msg::Stop) {
                    return;
                }
                self.apply(m, &mut touched);
                if touched.len() < 10_000 {
                    msg = rx.try_recv().ok();
                }
            }
            self.publish(touched);
        }
    }

    fn apply(&mut self, m: Msg, touched: &mut BTreeSet<String>) {
        match m {
            Msg::Reset { id, objects } => {
                let kind = self.stores[id].0;
                let old = std::mem::take(&mut self.stores[id].1);
                for o in old.values() {
                    self.affected(kind, o, touched);
                    self.refs.remove(o);
                }
                let new: BTreeMap<String, Object> =
                    objects.into_iter().map(|o| (o.meta().key(), o)).collect();
                for o in new.values() {
                    self.refs.add(o);
                    self.affected(kind, o, touched);
                }
                self.stores[id].1 = new;
                self.synced[id] = true;
            }
            Msg::Upsert { id, object } => {
                let kind = self.stores[id].0;
                // What the old version fed changes too (a pod leaving an Endpoints
                // object, a slice moving to another service).
                if let Some(old) = self.stores[id].1.remove(&object.meta().key()) {
                    self.affected(kind, &old, touched);
                    self.refs.remove(&old);
                }
                self.refs.add(&object);
                self.affected(kind, &object, touched);
                self.stores[id].1.insert(object.meta().key(), object);
                self.count(|s| s.events += 1);
            }
            Msg::Delete { id, object } => {
                let kind = self.stores[id].0;
                self.affected(kind, &object, touched);
                if let Some(old) = self.stores[id].1.remove(&object.meta().key()) {
                    self.affected(kind, &old, touched);
                    self.refs.remove(&old);
                }
                self.count(|s| s.events += 1);
            }
            Msg::Error { error, gone } => self.count(|s| {
                if gone {
                    s.relists_gone += 1;
                } else {
                    s.errors += 1;
                }
                s.last_error = Some(error.to_string());
            }),
            Msg::Request { watch } => self.count(|s| {
                if watch {
                    s.watches += 1;
                } else {
                    s.lists += 1;
                }
            }),
            Msg::Stop => {}
        }
    }

    fn count(&self, f: impl FnOnce(&mut DiscoveryStats)) {
        f(&mut lock(&self.shared.stats));
    }

    /// Adds the group sources an object of `kind` feeds.
    fn affected(&self, kind: Resource, o: &Object, touched: &mut BTreeSet<String>) {
        let m = o.meta();
        match (self.role, kind) {
            (Role::Pod, Resource::Pods) => {
                touched.insert(pod_source(&m.namespace, &m.name));
            }
            (Role::Endpoints, Resource::Endpoints | Resource::Services) => {
                touched.insert(endpoints_source(&m.namespace, &m.name));
            }
            (Role::EndpointSlice, Resource::EndpointSlices) => {
                touched.insert(endpointslice_source(&m.namespace, &m.name));
            }
            (Role::EndpointSlice, Resource::Services) => {
                let key = service_ref(&m.namespace, &m.name);
                touched.extend(self.refs.sources(&key).cloned());
            }
            (Role::Endpoints | Role::EndpointSlice, Resource::Pods) => {
                let key = pod_ref(&m.namespace, &m.name);
                touched.extend(self.refs.sources(&key).cloned());
            }
            _ => {}
        }
    }

    fn objects(&self, kind: Resource) -> impl Iterator<Item = &Object> {
        self.stores
            .iter()
            .filter(move |(k, _)| *k == kind)
            .flat_map(|(_, m)| m.values())
    }

    fn find(&self, kind: Resource, key: &str) -> Option<&Object> {
        self.stores
            .iter()
            .filter(|(k, _)| *k == kind)
            .find_map(|(_, m)| m.get(key))
    }

    /// The group of `source` as the stores say now (empty when its object is gone).
    fn build(&self, source: &str) -> TargetGroup {
        let (kind, key) = match source.split_once('/') {
            Some(("pod", key)) => (Resource::Pods, key),
            Some(("endpoints", key)) => (Resource::Endpoints, key),
            Some(("endpointslice", key)) => (Resource::EndpointSlices, key),
            _ => return TargetGroup::empty(source),
        };
        match self.find(kind, key) {
            Some(Object::Pod(p)) => build_pod(p),
            Some(Object::Endpoints(e)) => {
                let svc = match self.find(Resource::Services, key) {
                    Some(Object::Service(s)) => Some(s),
                    _ => None,
                };
                build_endpoints(e, svc, |k| match self.find(Resource::Pods, k) {
                    Some(Object::Pod(p)) => Some(p),
                    _ => None,
                })
            }
            Some(Object::EndpointSlice(e)) => {
                let svc = e.metadata.labels.get(SERVICE_NAME_LABEL).and_then(|name| {
                    self.find(
                        Resource::Services,
                        &format!("{}/{name}", e.metadata.namespace),
                    )
                });
                let svc = match svc {
                    Some(Object::Service(s)) => Some(s),
                    _ => None,
                };
                build_endpointslice(e, svc, |k| match self.find(Resource::Pods, k) {
                    Some(Object::Pod(p)) => Some(p),
                    _ => None,
                })
            }
            _ => TargetGroup::empty(source),
        }
    }

    fn publish(&mut self, touched: BTreeSet<String>) {
        if !self.all_synced {
            if !self.synced.iter().all(|&s| s) {
                return;
            }
            // First full snapshot: every group there is.
            self.all_synced = true;
            let kind = match self.role {
                Role::Pod => Resource::Pods,
                Role::Endpoints => Resource::Endpoints,
                Role::EndpointSlice => Resource::EndpointSlices,
            };
            let sources: Vec<String> = self
                .objects(kind)
                .map(|o| {
                    let m = o.meta();
                    match kind {
                        Resource::Pods => pod_source(&m.namespace, &m.name),
                        Resource::EndpointSlices => endpointslice_source(&m.namespace, &m.name),
                        _ => endpoints_source(&m.namespace, &m.name),
                    }
                })
                .collect();
            let groups: Vec<TargetGroup> = sources.iter().map(|s| self.build(s)).collect();
            {
                let mut cur = lock(&self.shared.groups);
                cur.clear();
                for g in &groups {
                    if !g.targets.is_empty() {
                        cur.insert(g.source.clone(), g.clone());
                    }
                }
            }
            self.count(|s| {
                s.synced = true;
                s.updates += 1;
            });
            (self.on_update)(groups);
            return;
        }
        let mut changed = Vec::new();
        {
            let mut cur = lock(&self.shared.groups);
            for source in touched {
                let g = self.build(&source);
                let same = match cur.get(&source) {
                    Some(old) => *old == g,
                    None => g.targets.is_empty(),
                };
                if same {
                    continue;
                }
                if g.targets.is_empty() {
                    cur.remove(&source);
                } else {
                    cur.insert(source, g.clone());
                }
                changed.push(g);
            }
        }
        if !changed.is_empty() {
            self.count(|s| s.updates += 1);
            (self.on_update)(changed);
        }
    }
}
