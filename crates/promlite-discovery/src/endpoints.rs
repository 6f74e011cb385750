//! Role `endpoints`: one group per Endpoints object, one target per address × port,
//! with the service's labels on the group, and the backing pod's labels on targets
//! whose address points at a pod — plus a target for every container port of such a
//! pod that no endpoint port covers.

use crate::group::{labels, TargetGroup};
use crate::meta::{join_host_port, merge, object_meta_labels, set, set_meta, Pairs};
use crate::objects::{EndpointAddress, EndpointPort, Endpoints, Pod, Service};
use crate::pod::{all_containers, pod_labels};

/// The group source of an Endpoints object.
pub(crate) fn endpoints_source(namespace: &str, name: &str) -> String {
    format!("endpoints/{namespace}/{name}")
}

/// The labels Prometheus takes from a service: namespace, name, labels, annotations.
pub(crate) fn service_labels(svc: &Service) -> Pairs {
    let mut p = Pairs::new();
    set_meta(&mut p, "namespace", svc.metadata.namespace.as_str());
    object_meta_labels(&mut p, &svc.metadata, "service");
    p
}

/// A pod reached through endpoint addresses, and the endpoint ports seen for it.
struct SeenPod<'a> {
    pod: &'a Pod,
    ports: Vec<i32>,
}

/// The target group of one Endpoints object. `service` is the service of the same
/// namespace and name, if known; `pod` resolves a `namespace/name` key.
pub(crate) fn build_endpoints<'a>(
    eps: &Endpoints,
    service: Option<&Service>,
    pod: impl Fn(&str) -> Option<&'a Pod>,
) -> TargetGroup {
    let meta = &eps.metadata;
    let mut group = Pairs::new();
    set_meta(&mut group, "namespace", meta.namespace.as_str());
    if let Some(svc) = service {
        merge(&mut group, service_labels(svc));
    }
    object_meta_labels(&mut group, meta, "endpoints");

    let mut targets: Vec<Pairs> = Vec::new();
    let mut seen: Vec<SeenPod<'a>> = Vec::new();
    let mut add = |addr: &EndpointAddress, port: &EndpointPort, ready: &str| {
        let mut t = Pairs::new();
        set(&mut t, "__address__", join_host_port(&addr.ip, port.port));
        set_meta(&mut t, "endpoint_port_name", port.name.as_str());
        set_meta(&mut t, "endpoint_port_protocol", port.protocol.as_str());
        set_meta(&mut t, "endpoint_ready", ready);
        if let Some(r) = &addr.target_ref {
            set_meta(&mut t, "endpoint_address_target_kind", r.kind.as_str());
            set_meta(&mut t, "endpoint_address_target_name", r.name.as_str());
        }
        if let Some(n) = &addr.node_name {
            set_meta(&mut t, "endpoint_node_name", n.as_str());
        }
        if !addr.hostname.is_empty() {
            set_meta(&mut t, "endpoint_hostname", addr.hostname.as_str());
        }
        let backing = addr
            .target_ref
            .as_ref()
            .filter(|r| r.kind == "Pod")
            .and_then(|r| pod(&format!("{}/{}", r.namespace, r.name)));
        let Some(p) = backing else {
            targets.push(t);
            return;
        };
        match seen.iter_mut().find(|s| std::ptr::eq(s.pod, p)) {
            Some(s) => s.ports.push(port.port),
            None => seen.push(SeenPod {
                pod: p,
                ports: vec![port.port],
            }),
        }
        merge(&mut t, pod_labels(p));
        // The first container port equal to the endpoint port names the container.
        let hit = all_containers(p).find_map(|(c, init)| {
            c.ports
                .iter()
                .find(|cp| cp.container_port == port.port)
                .map(|cp| (c, cp, init))
        });
        if let Some((c, cp, init)) = hit {
            set_meta(&mut t, "pod_container_name", c.name.as_str());
            set_meta(&mut t, "pod_container_image", c.image.as_str());
            set_meta(&mut t, "pod_container_port_name", cp.name.as_str());
            set_meta(&mut t, "pod_container_port_number", port.port.to_string());
            // The endpoint's protocol, as Prometheus takes it.
            set_meta(
                &mut t,
                "pod_container_port_protocol",
                port.protocol.as_str(),
            );
            set_meta(&mut t, "pod_container_init", init.to_string());
        }
        targets.push(t);
    };

    for subset in &eps.subsets {
        for port in &subset.ports {
            for addr in &subset.addresses {
                add(addr, port, "true");
            }
            for addr in &subset.not_ready_addresses {
                add(addr, port, "false");
            }
        }
    }

    // Container ports of the seen pods that no endpoint port covered.
    for s in &seen {
        let ip = s.pod.status.pod_ip.as_str();
        if ip.is_empty() {
            continue;
        }
        for (c, init) in all_containers(s.pod) {
            for cp in &c.ports {
                if s.ports.contains(&cp.container_port) {
                    continue;
                }
                let mut t = Pairs::new();
                set(&mut t, "__address__", join_host_port(ip, cp.container_port));
                set_meta(&mut t, "pod_container_name", c.name.as_str());
                set_meta(&mut t, "pod_container_image", c.image.as_str());
                set_meta(&mut t, "pod_container_port_name", cp.name.as_str());
                set_meta(
                    &mut t,
                    "pod_container_port_number",
                    cp.container_port.to_string(),
                );
                set_meta(&mut t, "pod_container_port_protocol", cp.protocol.as_str());
                set_meta(&mut t, "pod_container_init", init.to_string());
                merge(&mut t, pod_labels(s.pod));
                targets.push(t);
            }
        }
    }

    TargetGroup {
        source: endpoints_source(&meta.namespace, &meta.name),
        targets: targets.into_iter().map(labels).collect(),
        labels: labels(group),
    }
}
