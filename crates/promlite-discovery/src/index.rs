//! Which groups refer to a pod or a service, so that an event on a pod or service
//! finds the Endpoints objects and EndpointSlices it feeds without scanning them all.

use std::collections::{BTreeSet, HashMap};

use crate::endpoints::endpoints_source;
use crate::endpointslice::{endpointslice_source, SERVICE_NAME_LABEL};
use crate::reflector::Object;

/// Reference key of a pod.
pub(crate) fn pod_ref(namespace: &str, name: &str) -> String {
    format!("pod/{namespace}/{name}")
}

/// Reference key of a service.
pub(crate) fn service_ref(namespace: &str, name: &str) -> String {
    format!("service/{namespace}/{name}")
}

/// Reference key → group sources that refer to it.
#[derive(Debug, Default)]
pub(crate) struct RefIndex {
    refs: HashMap<String, BTreeSet<String>>,
}

/// The group source of an indexed object and the keys it refers to.
fn refs_of(o: &Object) -> Option<(String, Vec<String>)> {
    match o {
        Object::Endpoints(e) => {
            let m = &e.metadata;
            let keys = e
                .subsets
                .iter()
                .flat_map(|s| s.addresses.iter().chain(&s.not_ready_addresses))
                .filter_map(|a| a.target_ref.as_ref())
                .filter(|r| r.kind == "Pod")
                .map(|r| pod_ref(&r.namespace, &r.name))
                .collect();
            Some((endpoints_source(&m.namespace, &m.name), keys))
        }
        Object::EndpointSlice(e) => {
            let m = &e.metadata;
            let mut keys: Vec<String> = e
                .endpoints
                .iter()
                .filter_map(|ep| ep.target_ref.as_ref())
                .filter(|r| r.kind == "Pod")
                .map(|r| pod_ref(&r.namespace, &r.name))
                .collect();
            if let Some(svc) = m.labels.get(SERVICE_NAME_LABEL) {
                keys.push(service_ref(&m.namespace, svc));
            }
            Some((endpointslice_source(&m.namespace, &m.name), keys))
        }
        _ => None,
    }
}

impl RefIndex {
    /// Records what `o` refers to (nothing for pods and services).
    pub fn add(&mut self, o: &Object) {
        if let Some((source, keys)) = refs_of(o) {
            for k in keys {
                self.refs.entry(k).or_default().insert(source.clone());
            }
        }
    }

    /// Forgets what `o` referred to.
    pub fn remove(&mut self, o: &Object) {
        if let Some((source, keys)) = refs_of(o) {
            for k in keys {
                if let Some(set) = self.refs.get_mut(&k) {
                    set.remove(&source);
                    if set.is_empty() {
                        self.refs.remove(&k);
                    }
                }
            }
        }
    }

    /// The group sources referring to `key`.
    pub fn sources(&self, key: &str) -> impl Iterator<Item = &String> {
        self.refs.get(key).into_iter().flatten()
    }
}
