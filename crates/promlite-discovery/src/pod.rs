//! Role `pod`: one group per pod, one target per declared container port (and one
//! per container without ports), with Prometheus's `__meta_kubernetes_pod_*` labels.

use crate::group::{labels, TargetGroup};
use crate::meta::{join_host_port, object_meta_labels, set, set_meta, Pairs};
use crate::objects::{Container, ContainerStatus, Pod};

/// The group source of a pod.
pub(crate) fn pod_source(namespace: &str, name: &str) -> String {
    format!("pod/{namespace}/{name}")
}

/// The pod-wide labels, shared by role `pod` (as group labels) and role `endpoints`
/// (on every pod-backed target): name, IP, ready, phase, node, host IP, UID,
/// controller, pod labels and annotations. Not the namespace.
pub(crate) fn pod_labels(pod: &Pod) -> Pairs {
    let mut p = Pairs::new();
    set_meta(&mut p, "pod_ip", pod.status.pod_ip.as_str());
    set_meta(&mut p, "pod_ready", ready(pod));
    set_meta(&mut p, "pod_phase", pod.status.phase.as_str());
    set_meta(&mut p, "pod_node_name", pod.spec.node_name.as_str());
    set_meta(&mut p, "pod_host_ip", pod.status.host_ip.as_str());
    set_meta(&mut p, "pod_uid", pod.metadata.uid.as_str());
    object_meta_labels(&mut p, &pod.metadata, "pod");
    // The first owner reference marked as the controller, as apimachinery's
    // GetControllerOf picks it.
    let controller = pod
        .metadata
        .owner_references
        .iter()
        .find(|r| r.controller == Some(true));
    if let Some(c) = controller {
        if !c.kind.is_empty() {
            set_meta(&mut p, "pod_controller_kind", c.kind.as_str());
        }
        if !c.name.is_empty() {
            set_meta(&mut p, "pod_controller_name", c.name.as_str());
        }
    }
    p
}

/// The `Ready` condition's status lower-cased; `unknown` without one.
fn ready(pod: &Pod) -> String {
    pod.status
        .conditions
        .iter()
        .find(|c| c.kind == "Ready")
        .map(|c| c.status.to_lowercase())
        .unwrap_or_else(|| "unknown".to_string())
}

/// Containers then init containers, each with whether it is an init container.
pub(crate) fn all_containers(pod: &Pod) -> impl Iterator<Item = (&Container, bool)> {
    pod.spec
        .containers
        .iter()
        .map(|c| (c, false))
        .chain(pod.spec.init_containers.iter().map(|c| (c, true)))
}

fn container_id<'a>(statuses: &'a [ContainerStatus], name: &str) -> &'a str {
    statuses
        .iter()
        .find(|s| s.name == name)
        .map_or("", |s| s.container_id.as_str())
}

/// The target group of one pod. A pod without an IP (starting, or evicted) has an
/// empty group.
pub(crate) fn build_pod(pod: &Pod) -> TargetGroup {
    let source = pod_source(&pod.metadata.namespace, &pod.metadata.name);
    let ip = pod.status.pod_ip.as_str();
    if ip.is_empty() {
        return TargetGroup::empty(source);
    }
    let mut group = pod_labels(pod);
    set_meta(&mut group, "namespace", pod.metadata.namespace.as_str());

    let mut targets = Vec::new();
    for (c, init) in all_containers(pod) {
        let statuses = if init {
            &pod.status.init_container_statuses
        } else {
            &pod.status.container_statuses
        };
        let mut common = Pairs::new();
        set_meta(&mut common, "pod_container_name", c.name.as_str());
        set_meta(
            &mut common,
            "pod_container_id",
            container_id(statuses, &c.name),
        );
        set_meta(&mut common, "pod_container_image", c.image.as_str());
        set_meta(&mut common, "pod_container_init", init.to_string());
        if c.ports.is_empty() {
            // No declared port: the pod IP alone; relabeling must add a port.
            let mut t = common;
            set(&mut t, "__address__", ip);
            targets.push(labels(t));
            continue;
        }
        for port in &c.ports {
            let mut t = common.clone();
            set(
                &mut t,
                "__address__",
                join_host_port(ip, port.container_port),
            );
            set_meta(
                &mut t,
                "pod_container_port_number",
                port.container_port.to_string(),
            );
            set_meta(&mut t, "pod_container_port_name", port.name.as_str());
            set_meta(
                &mut t,
                "pod_container_port_protocol",
                port.protocol.as_str(),
            );
            targets.push(labels(t));
        }
    }
    TargetGroup {
        source,
        targets,
        labels: labels(group),
    }
}
