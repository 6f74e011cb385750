//! Role `endpointslice`: one group per EndpointSlice, one target per endpoint
//! address × slice port, with the owning service's labels (found through the
//! `kubernetes.io/service-name` label) and, for pod-backed endpoints, the pod's.

use crate::endpoints::service_labels;
use crate::group::{labels, TargetGroup};
use crate::meta::{join_host_port, merge, object_meta_labels, sanitize, set, set_meta, Pairs};
use crate::objects::{EndpointSlice, Pod, Service, SliceEndpoint, SlicePort};
use crate::pod::{all_containers, pod_labels};

/// The label naming a slice's service.
pub(crate) const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// The group source of an EndpointSlice.
pub(crate) fn endpointslice_source(namespace: &str, name: &str) -> String {
    format!("endpointslice/{namespace}/{name}")
}

/// A slice of a dual-stack service whose address family is not the service's
/// primary one: Prometheus gives it no targets (the other slice has them).
fn non_primary_family(svc: Option<&Service>, eps: &EndpointSlice) -> bool {
    let Some(svc) = svc else { return false };
    let dual = matches!(
        svc.spec.ip_family_policy.as_deref(),
        Some("PreferDualStack" | "RequireDualStack")
    );
    match svc.spec.ip_families.first() {
        Some(primary) if dual => *primary != eps.address_type,
        _ => false,
    }
}

struct SeenPod<'a> {
    pod: &'a Pod,
    ports: Vec<i32>,
}

/// The target group of one EndpointSlice. `service` is the service it names;
/// `pod` resolves a `namespace/name` key.
pub(crate) fn build_endpointslice<'a>(
    eps: &EndpointSlice,
    service: Option<&Service>,
    pod: impl Fn(&str) -> Option<&'a Pod>,
) -> TargetGroup {
    let meta = &eps.metadata;
    let source = endpointslice_source(&meta.namespace, &meta.name);
    let mut group = Pairs::new();
    set_meta(&mut group, "namespace", meta.namespace.as_str());
    set_meta(
        &mut group,
        "endpointslice_address_type",
        eps.address_type.as_str(),
    );
    object_meta_labels(&mut group, meta, "endpointslice");
    if let Some(svc) = service {
        merge(&mut group, service_labels(svc));
    }
    if non_primary_family(service, eps) {
        return TargetGroup {
            source,
            targets: Vec::new(),
            labels: labels(group),
        };
    }

    let mut targets: Vec<Pairs> = Vec::new();
    let mut seen: Vec<SeenPod<'a>> = Vec::new();
    let mut add = |addr: &str, ep: &SliceEndpoint, port: &SlicePort| {
        let mut t = Pairs::new();
        let address = match port.port {
            Some(p) => join_host_port(addr, p),
            None => addr.to_string(),
        };
        set(&mut t, "__address__", address);
        if let Some(n) = &port.name {
            set_meta(&mut t, "endpointslice_port_name", n.as_str());
        }
        if let Some(p) = &port.protocol {
            set_meta(&mut t, "endpointslice_port_protocol", p.as_str());
        }
        if let Some(p) = port.port {
            set_meta(&mut t, "endpointslice_port", p.to_string());
        }
        if let Some(a) = &port.app_protocol {
            set_meta(&mut t, "endpointslice_port_app_protocol", a.as_str());
        }
        let c = &ep.conditions;
        for (name, v) in [
            ("ready", c.ready),
            ("serving", c.serving),
            ("terminating", c.terminating),
        ] {
            if let Some(v) = v {
                set_meta(
                    &mut t,
                    &format!("endpointslice_endpoint_conditions_{name}"),
                    v.to_string(),
                );
            }
        }
        if let Some(h) = &ep.hostname {
            set_meta(&mut t, "endpointslice_endpoint_hostname", h.as_str());
        }
        if let Some(r) = &ep.target_ref {
            set_meta(&mut t, "endpointslice_address_target_kind", r.kind.as_str());
            set_meta(&mut t, "endpointslice_address_target_name", r.name.as_str());
        }
        if let Some(n) = &ep.node_name {
            set_meta(&mut t, "endpointslice_endpoint_node_name", n.as_str());
        }
        if let Some(z) = &ep.zone {
            set_meta(&mut t, "endpointslice_endpoint_zone", z.as_str());
        }
        for (k, v) in &ep.deprecated_topology {
            let k = sanitize(k);
            set_meta(
                &mut t,
                &format!("endpointslice_endpoint_topology_{k}"),
                v.as_str(),
            );
            set_meta(
                &mut t,
                &format!("endpointslice_endpoint_topology_present_{k}"),
                "true",
            );
        }
        let backing = ep
            .target_ref
            .as_ref()
            .filter(|r| r.kind == "Pod")
            .and_then(|r| pod(&format!("{}/{}", r.namespace, r.name)));
        let Some(p) = backing else {
            targets.push(t);
            return;
        };
        let idx = match seen.iter().position(|s| std::ptr::eq(s.pod, p)) {
            Some(i) => i,
            None => {
                seen.push(SeenPod {
                    pod: p,
                    ports: Vec::new(),
                });
                seen.len() - 1
            }
        };
        if let Some(n) = port.port {
            seen[idx].ports.push(n);
        }
        merge(&mut t, pod_labels(p));
        if let Some(n) = port.port {
            let hit = all_containers(p).find_map(|(c, init)| {
                c.ports
                    .iter()
                    .find(|cp| cp.container_port == n)
                    .map(|cp| (c, cp, init))
            });
            if let Some((c, cp, init)) = hit {
                set_meta(&mut t, "pod_container_name", c.name.as_str());
                set_meta(&mut t, "pod_container_image", c.image.as_str());
                set_meta(&mut t, "pod_container_port_name", cp.name.as_str());
                set_meta(&mut t, "pod_container_port_number", n.to_string());
                // The container's protocol here (role endpoints takes the endpoint's).
                set_meta(&mut t, "pod_container_port_protocol", cp.protocol.as_str());
                set_meta(&mut t, "pod_container_init", init.to_string());
            }
        }
        targets.push(t);
    };

    for ep in &eps.endpoints {
        for port in &eps.ports {
            for addr in &ep.addresses {
                add(addr, ep, port);
            }
        }
    }

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
        source,
        targets: targets.into_iter().map(labels).collect(),
        labels: labels(group),
    }
}
