//! A reflector keeps one (resource, namespace) in sync: list, then watch from the
//! list's resource version; on `410 Gone` list again; on any other error wait
//! (doubling from `retry_initial` up to `retry_max`) and resume the watch from the
//! last resource version seen. What it learns goes to the dispatcher as [`Msg`]s.
//!
//! A reflector thread blocks in reads of the watch body; it notices a stop between
//! events, and the server ends every watch after `watch_timeout` at the latest.

use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;

use crate::client::{Client, HasMeta, Resource, WatchEvent};
use crate::error::DiscoveryError;
use crate::objects::{EndpointSlice, Endpoints, ObjectMeta, Pod, Service};

/// A decoded object of any watched kind.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Object {
    Pod(Pod),
    Service(Service),
    Endpoints(Endpoints),
    EndpointSlice(EndpointSlice),
}

impl Object {
    pub fn meta(&self) -> &ObjectMeta {
        match self {
            Object::Pod(o) => &o.metadata,
            Object::Service(o) => &o.metadata,
            Object::Endpoints(o) => &o.metadata,
            Object::EndpointSlice(o) => &o.metadata,
        }
    }
}

macro_rules! kind {
    ($t:ident) => {
        impl HasMeta for $t {
            fn meta(&self) -> &ObjectMeta {
                &self.metadata
            }
        }
        impl From<$t> for Object {
            fn from(o: $t) -> Object {
                Object::$t(o)
            }
        }
    };
}
kind!(Pod);
kind!(Service);
kind!(Endpoints);
kind!(EndpointSlice);

/// What a reflector tells the dispatcher. `id` names the reflector.
#[derive(Debug)]
pub(crate) enum Msg {
    /// A complete list: these are all the objects now.
    Reset { id: usize, objects: Vec<Object> },
    /// An object was added or changed.
    Upsert { id: usize, object: Object },
    /// An object was deleted.
    Delete { id: usize, object: Object },
    /// A request failed (it will be retried); `gone` for a 410 that forces a relist.
    Error { error: DiscoveryError, gone: bool },
    /// A list or watch request succeeded (for the statistics).
    Request { watch: bool },
    /// Stop the dispatcher.
    Stop,
}

/// A stop flag that sleeping threads wake up for.
#[derive(Debug, Default)]
pub(crate) struct StopSignal {
    stopped: Mutex<bool>,
    cv: Condvar,
}

impl StopSignal {
    pub fn stop(&self) {
        *self.stopped.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.cv.notify_all();
    }

    pub fn is_stopped(&self) -> bool {
        *self.stopped.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sleeps for `d` or until stopped; true when stopped.
    pub fn wait(&self, d: Duration) -> bool {
        let deadline = Instant::now() + d;
        let mut g = self.stopped.lock().unwrap_or_else(|e| e.into_inner());
        while !*g {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            g = match self.cv.wait_timeout(g, deadline - now) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        }
        true
    }
}

/// One reflector's fixed settings.
#[derive(Debug)]
pub(crate) struct Reflector {
    pub id: usize,
    pub resource: Resource,
    pub namespace: Option<String>,
    pub client: Arc<Client>,
    pub tx: SyncSender<Msg>,
    pub stop: Arc<StopSignal>,
    pub retry_initial: Duration,
    pub retry_max: Duration,
}

impl Reflector {
    /// Runs until stopped (or the dispatcher is gone).
    pub fn run(self) {
        match self.resource {
            Resource::Pods => self.run_typed::<Pod>(),
            Resource::Services => self.run_typed::<Service>(),
            Resource::Endpoints => self.run_typed::<Endpoints>(),
            Resource::EndpointSlices => self.run_typed::<EndpointSlice>(),
        }
    }

    fn send(&self, m: Msg) -> bool {
        self.tx.send(m).is_ok()
    }

    fn run_typed<T>(&self)
    where
        T: DeserializeOwned + HasMeta + Into<Object>,
    {
        let ns = self.namespace.as_deref();
        let mut rv: Option<String> = None;
        let mut backoff = self.retry_initial;
        // Reports an error and sleeps; false when it is time to stop.
        let fail = |error: DiscoveryError, backoff: &mut Duration| -> bool {
            if !self.send(Msg::Error { error, gone: false }) {
                return false;
            }
            let d = *backoff;
            *backoff = (*backoff * 2).min(self.retry_max);
            !self.stop.wait(d)
        };
        while !self.stop.is_stopped() {
            let from = match &rv {
                Some(v) => v.clone(),
                None => match self.client.list::<T>(self.resource, ns) {
                    Ok((items, v)) => {
                        let objects = items.into_iter().map(Into::into).collect();
                        if !self.send(Msg::Request { watch: false })
                            || !self.send(Msg::Reset {
                                id: self.id,
                                objects,
                            })
                        {
                            return;
                        }
                        backoff = self.retry_initial;
                        rv = Some(v.clone());
                        v
                    }
                    Err(e) => {
                        if !fail(e, &mut backoff) {
                            return;
                        }
                        continue;
                    }
                },
            };
            let started = Instant::now();
            let mut stream = match self.client.watch(self.resource, ns, &from) {
                Ok(s) => s,
                Err(e @ DiscoveryError::Gone { .. }) => {
                    rv = None;
                    if !self.send(Msg::Error {
                        error: e,
                        gone: true,
                    }) {
                        return;
                    }
                    continue;
                }
                Err(e) => {
                    if !fail(e, &mut backoff) {
                        return;
                    }
                    continue;
                }
            };
            if !self.send(Msg::Request { watch: true }) {
                return;
            }
            let mut events = 0usize;
            loop {
                if self.stop.is_stopped() {
                    return;
                }
                let ev = match stream.next_event::<T>() {
                    None => break,
                    Some(ev) => ev,
                };
                if self.stop.is_stopped() {
                    return;
                }
                events += 1;
                let sent = match ev {
                    Ok(WatchEvent::Upsert(o)) => {
                        rv = Some(o.meta().resource_version.clone());
                        self.send(Msg::Upsert {
                            id: self.id,
                            object: o.into(),
                        })
                    }
                    Ok(WatchEvent::Deleted(o)) => {
                        rv = Some(o.meta().resource_version.clone());
                        self.send(Msg::Delete {
                            id: self.id,
                            object: o.into(),
                        })
                    }
                    Ok(WatchEvent::Bookmark(v)) => {
                        rv = Some(v);
                        true
                    }
                    Err(e @ DiscoveryError::Gone { .. }) => {
                        rv = None;
                        if !self.send(Msg::Error {
                            error: e,
                            gone: true,
                        }) {
                            return;
                        }
                        break;
                    }
                    Err(e) => {
                        // A broken or garbled stream: drop it, and resume from the last
                        // good resource version after a pause.
                        if !fail(e, &mut backoff) {
                            return;
                        }
                        break;
                    }
                };
                if !sent {
                    return;
                }
                backoff = self.retry_initial;
            }
            // A server that ends watches at once would make this loop spin: pace it.
            if events == 0 && started.elapsed() < Duration::from_secs(1) && self.stop.wait(backoff)
            {
                return;
            }
        }
    }
}
