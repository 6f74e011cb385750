//! The Kubernetes objects the tests serve (JSON as the API server writes it) and the
//! target groups expected from them, written by hand from the meta labels Prometheus
//! documents for each role.
#![allow(dead_code)] // shared by two test binaries; each uses a part

use promlite_discovery::TargetGroup;
use promlite_model::Labels;

/// A label set from pairs.
pub fn ls(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied())
}

// --- The pods -------------------------------------------------------------------

/// kube-controller-manager as kubeadm runs it: a static pod on the host network, no
/// declared ports, with the seed's scrape annotations.
pub const KCM: &str = r#"{"kind":"Pod","apiVersion":"v1",
 "metadata":{"name":"kube-controller-manager-cp1","namespace":"kube-system",
  "uid":"7f3e9a52-0b1c-4d6e-9f21-3c5d7e8a9b10","resourceVersion":"95",
  "labels":{"component":"kube-controller-manager","tier":"control-plane"},
  "annotations":{"prometheus.io/scrape":"true","prometheus.io/port":"10257",
   "prometheus.io/scheme":"https","kubernetes.io/config.source":"file"},
  "ownerReferences":[{"apiVersion":"v1","kind":"Node","name":"cp1","uid":"a1","controller":true}]},
 "spec":{"nodeName":"cp1","hostNetwork":true,"containers":[{"name":"kube-controller-manager",
  "image":"registry.k8s.io/kube-controller-manager:v1.35.0","command":["kube-controller-manager"]}]},
 "status":{"phase":"Running","hostIP":"10.0.0.10","podIP":"10.0.0.10","podIPs":[{"ip":"10.0.0.10"}],
  "conditions":[{"type":"Initialized","status":"True"},{"type":"Ready","status":"True"}],
  "containerStatuses":[{"name":"kube-controller-manager","containerID":"containerd://4b1c0e5f","ready":true}]}}"#;

pub fn kcm_group() -> TargetGroup {
    TargetGroup {
        source: "pod/kube-system/kube-controller-manager-cp1".into(),
        targets: vec![ls(&[
            ("__address__", "10.0.0.10"),
            (
                "__meta_kubernetes_pod_container_name",
                "kube-controller-manager",
            ),
            (
                "__meta_kubernetes_pod_container_image",
                "registry.k8s.io/kube-controller-manager:v1.35.0",
            ),
            (
                "__meta_kubernetes_pod_container_id",
                "containerd://4b1c0e5f",
            ),
            ("__meta_kubernetes_pod_container_init", "false"),
        ])],
        labels: ls(&[
            ("__meta_kubernetes_namespace", "kube-system"),
            ("__meta_kubernetes_pod_name", "kube-controller-manager-cp1"),
            ("__meta_kubernetes_pod_ip", "10.0.0.10"),
            ("__meta_kubernetes_pod_ready", "true"),
            ("__meta_kubernetes_pod_phase", "Running"),
            ("__meta_kubernetes_pod_node_name", "cp1"),
            ("__meta_kubernetes_pod_host_ip", "10.0.0.10"),
            (
                "__meta_kubernetes_pod_uid",
                "7f3e9a52-0b1c-4d6e-9f21-3c5d7e8a9b10",
            ),
            ("__meta_kubernetes_pod_controller_kind", "Node"),
            ("__meta_kubernetes_pod_controller_name", "cp1"),
            (
                "__meta_kubernetes_pod_label_component",
                "kube-controller-manager",
            ),
            ("__meta_kubernetes_pod_labelpresent_component", "true"),
            ("__meta_kubernetes_pod_label_tier", "control-plane"),
            ("__meta_kubernetes_pod_labelpresent_tier", "true"),
            (
                "__meta_kubernetes_pod_annotation_prometheus_io_scrape",
                "true",
            ),
            (
                "__meta_kubernetes_pod_annotationpresent_prometheus_io_scrape",
                "true",
            ),
            (
                "__meta_kubernetes_pod_annotation_prometheus_io_port",
                "10257",
            ),
            (
                "__meta_kubernetes_pod_annotationpresent_prometheus_io_port",
                "true",
            ),
            (
                "__meta_kubernetes_pod_annotation_prometheus_io_scheme",
                "https",
            ),
            (
                "__meta_kubernetes_pod_annotationpresent_prometheus_io_scheme",
                "true",
            ),
            (
                "__meta_kubernetes_pod_annotation_kubernetes_io_config_source",
                "file",
            ),
            (
                "__meta_kubernetes_pod_annotationpresent_kubernetes_io_config_source",
                "true",
            ),
        ]),
    }
}

/// A Deployment's pod still starting: Pending, not ready, no container ID yet.
pub const WEB_PENDING: &str = r#"{"metadata":{"name":"web-6d4cf56db6-x7k2p","namespace":"default",
  "uid":"c0ffee00-1111-2222-3333-444455556666","resourceVersion":"97",
  "labels":{"app":"web","pod-template-hash":"6d4cf56db6"},
  "annotations":{"prometheus.io/scrape":"true","prometheus.io/port":"8080"},
  "ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web-6d4cf56db6",
   "uid":"b2","controller":true,"blockOwnerDeletion":true}]},
 "spec":{"nodeName":"worker1","containers":[{"name":"web","image":"nginx:1.27",
  "ports":[{"name":"http","containerPort":8080,"protocol":"TCP"}]}]},
 "status":{"phase":"Pending","hostIP":"10.0.0.21","podIP":"10.244.1.7",
  "conditions":[{"type":"PodScheduled","status":"True"},{"type":"Ready","status":"False"}],
  "containerStatuses":[{"name":"web","ready":false,"state":{"waiting":{"reason":"ContainerCreating"}}}]}}"#;

/// The same pod once running (what the relist after 410 shows).
pub fn web_running() -> String {
    WEB_PENDING
        .replace(r#""resourceVersion":"97""#, r#""resourceVersion":"108""#)
        .replace(r#""phase":"Pending""#, r#""phase":"Running""#)
        .replace(
            r#"{"type":"Ready","status":"False"}"#,
            r#"{"type":"Ready","status":"True"}"#,
        )
        .replace(
            r#""ready":false,"state":{"waiting":{"reason":"ContainerCreating"}}"#,
            r#""ready":true,"containerID":"containerd://5e6f""#,
        )
}

pub fn web_group(running: bool) -> TargetGroup {
    let mut target = vec![
        ("__address__", "10.244.1.7:8080"),
        ("__meta_kubernetes_pod_container_name", "web"),
        ("__meta_kubernetes_pod_container_image", "nginx:1.27"),
        ("__meta_kubernetes_pod_container_port_name", "http"),
        ("__meta_kubernetes_pod_container_port_number", "8080"),
        ("__meta_kubernetes_pod_container_port_protocol", "TCP"),
        ("__meta_kubernetes_pod_container_init", "false"),
    ];
    if running {
        target.push(("__meta_kubernetes_pod_container_id", "containerd://5e6f"));
    }
    let (phase, ready) = if running {
        ("Running", "true")
    } else {
        ("Pending", "false")
    };
    TargetGroup {
        source: "pod/default/web-6d4cf56db6-x7k2p".into(),
        targets: vec![ls(&target)],
        labels: ls(&[
            ("__meta_kubernetes_namespace", "default"),
            ("__meta_kubernetes_pod_name", "web-6d4cf56db6-x7k2p"),
            ("__meta_kubernetes_pod_ip", "10.244.1.7"),
            ("__meta_kubernetes_pod_ready", ready),
            ("__meta_kubernetes_pod_phase", phase),
            ("__meta_kubernetes_pod_node_name", "worker1"),
            ("__meta_kubernetes_pod_host_ip", "10.0.0.21"),
            (
                "__meta_kubernetes_pod_uid",
                "c0ffee00-1111-2222-3333-444455556666",
            ),
            ("__meta_kubernetes_pod_controller_kind", "ReplicaSet"),
            ("__meta_kubernetes_pod_controller_name", "web-6d4cf56db6"),
            ("__meta_kubernetes_pod_label_app", "web"),
            ("__meta_kubernetes_pod_labelpresent_app", "true"),
            (
                "__meta_kubernetes_pod_label_pod_template_hash",
                "6d4cf56db6",
            ),
            (
                "__meta_kubernetes_pod_labelpresent_pod_template_hash",
                "true",
            ),
            (
                "__meta_kubernetes_pod_annotation_prometheus_io_scrape",
                "true",
            ),
            (
                "__meta_kubernetes_pod_annotationpresent_prometheus_io_scrape",
                "true",
            ),
            (
                "__meta_kubernetes_pod_annotation_prometheus_io_port",
                "8080",
            ),
            (
                "__meta_kubernetes_pod_annotationpresent_prometheus_io_port",
                "true",
            ),
        ]),
    }
}

/// An unannotated pod with three ports (two share the number 53).
pub const COREDNS: &str = r#"{"metadata":{"name":"coredns-5d78c9869d-abcde","namespace":"kube-system",
  "uid":"d00d","resourceVersion":"98","labels":{"k8s-app":"kube-dns"}},
 "spec":{"nodeName":"worker1","containers":[{"name":"coredns",
  "image":"registry.k8s.io/coredns/coredns:v1.11.1","ports":[
   {"name":"dns","containerPort":53,"protocol":"UDP"},
   {"name":"dns-tcp","containerPort":53,"protocol":"TCP"},
   {"name":"metrics","containerPort":9153,"protocol":"TCP"}]}]},
 "status":{"phase":"Running","hostIP":"10.0.0.21","podIP":"10.244.1.3",
  "conditions":[{"type":"Ready","status":"True"}],
  "containerStatuses":[{"name":"coredns","containerID":"containerd://9a8b"}]}}"#;

pub fn coredns_group() -> TargetGroup {
    let port = |addr, name, num, proto| {
        ls(&[
            ("__address__", addr),
            ("__meta_kubernetes_pod_container_name", "coredns"),
            (
                "__meta_kubernetes_pod_container_image",
                "registry.k8s.io/coredns/coredns:v1.11.1",
            ),
            ("__meta_kubernetes_pod_container_id", "containerd://9a8b"),
            ("__meta_kubernetes_pod_container_init", "false"),
            ("__meta_kubernetes_pod_container_port_name", name),
            ("__meta_kubernetes_pod_container_port_number", num),
            ("__meta_kubernetes_pod_container_port_protocol", proto),
        ])
    };
    TargetGroup {
        source: "pod/kube-system/coredns-5d78c9869d-abcde".into(),
        targets: vec![
            port("10.244.1.3:53", "dns", "53", "UDP"),
            port("10.244.1.3:53", "dns-tcp", "53", "TCP"),
            port("10.244.1.3:9153", "metrics", "9153", "TCP"),
        ],
        labels: ls(&[
            ("__meta_kubernetes_namespace", "kube-system"),
            ("__meta_kubernetes_pod_name", "coredns-5d78c9869d-abcde"),
            ("__meta_kubernetes_pod_ip", "10.244.1.3"),
            ("__meta_kubernetes_pod_ready", "true"),
            ("__meta_kubernetes_pod_phase", "Running"),
            ("__meta_kubernetes_pod_node_name", "worker1"),
            ("__meta_kubernetes_pod_host_ip", "10.0.0.21"),
            ("__meta_kubernetes_pod_uid", "d00d"),
            ("__meta_kubernetes_pod_label_k8s_app", "kube-dns"),
            ("__meta_kubernetes_pod_labelpresent_k8s_app", "true"),
        ]),
    }
}

/// Added through the watch: IPv6 pod IP, an init container without ports.
pub const EXPORTER: &str = r#"{"metadata":{"name":"node-exporter-0","namespace":"monitoring",
  "uid":"e1","resourceVersion":"101",
  "annotations":{"prometheus.io/scrape":"true","prometheus.io/path":"/custom/metrics"}},
 "spec":{"nodeName":"worker2","containers":[{"name":"exporter",
  "image":"quay.io/prometheus/node-exporter:v1.8.2",
  "ports":[{"name":"metrics","containerPort":9100,"protocol":"TCP"}]}],
  "initContainers":[{"name":"setup","image":"busybox:1.36"}]},
 "status":{"phase":"Running","hostIP":"fd00::22","podIP":"fd00:10:244::7",
  "conditions":[{"type":"Ready","status":"True"}],
  "containerStatuses":[{"name":"exporter","containerID":"containerd://77"}],
  "initContainerStatuses":[{"name":"setup","containerID":"containerd://66"}]}}"#;

pub fn exporter_group() -> TargetGroup {
    TargetGroup {
        source: "pod/monitoring/node-exporter-0".into(),
        targets: vec![
            ls(&[
                ("__address__", "[fd00:10:244::7]:9100"),
                ("__meta_kubernetes_pod_container_name", "exporter"),
                (
                    "__meta_kubernetes_pod_container_image",
                    "quay.io/prometheus/node-exporter:v1.8.2",
                ),
                ("__meta_kubernetes_pod_container_id", "containerd://77"),
                ("__meta_kubernetes_pod_container_init", "false"),
                ("__meta_kubernetes_pod_container_port_name", "metrics"),
                ("__meta_kubernetes_pod_container_port_number", "9100"),
                ("__meta_kubernetes_pod_container_port_protocol", "TCP"),
            ]),
            ls(&[
                ("__address__", "fd00:10:244::7"),
                ("__meta_kubernetes_pod_container_name", "setup"),
                ("__meta_kubernetes_pod_container_image", "busybox:1.36"),
                ("__meta_kubernetes_pod_container_id", "containerd://66"),
                ("__meta_kubernetes_pod_container_init", "true"),
            ]),
        ],
        labels: ls(&[
            ("__meta_kubernetes_namespace", "monitoring"),
            ("__meta_kubernetes_pod_name", "node-exporter-0"),
            ("__meta_kubernetes_pod_ip", "fd00:10:244::7"),
            ("__meta_kubernetes_pod_ready", "true"),
            ("__meta_kubernetes_pod_phase", "Running"),
            ("__meta_kubernetes_pod_node_name", "worker2"),
            ("__meta_kubernetes_pod_host_ip", "fd00::22"),
            ("__meta_kubernetes_pod_uid", "e1"),
            (
                "__meta_kubernetes_pod_annotation_prometheus_io_scrape",
                "true",
            ),
            (
                "__meta_kubernetes_pod_annotationpresent_prometheus_io_scrape",
                "true",
            ),
            (
                "__meta_kubernetes_pod_annotation_prometheus_io_path",
                "/custom/metrics",
            ),
            (
                "__meta_kubernetes_pod_annotationpresent_prometheus_io_path",
                "true",
            ),
        ]),
    }
}

pub const SVC: &str = r#"{"metadata":{"name":"kcm-metrics","namespace":"kube-system","resourceVersion":"7",
  "labels":{"app.kubernetes.io/name":"kcm"},"annotations":{"prometheus.io/scrape":"true"}},
 "spec":{"clusterIP":"None","ports":[{"name":"https","port":10257}]}}"#;

/// Endpoints of the service: the kcm pod (ready) and an external address.
pub const EPS: &str = r#"{"metadata":{"name":"kcm-metrics","namespace":"kube-system","resourceVersion":"8",
  "labels":{"app.kubernetes.io/name":"kcm","endpointslice.kubernetes.io/skip-mirror":"true"}},
 "subsets":[{"addresses":[
   {"ip":"10.0.0.10","nodeName":"cp1","targetRef":{"kind":"Pod","namespace":"kube-system",
     "name":"kube-controller-manager-cp1","uid":"7f3e9a52-0b1c-4d6e-9f21-3c5d7e8a9b10"}}],
  "notReadyAddresses":[{"ip":"192.168.5.5","hostname":"ext-1"}],
  "ports":[{"name":"https","port":10257,"protocol":"TCP"}]}]}"#;

pub fn endpoints_group(pod_phase: &str) -> TargetGroup {
    TargetGroup {
        source: "endpoints/kube-system/kcm-metrics".into(),
        targets: vec![
            ls(&[
                ("__address__", "10.0.0.10:10257"),
                ("__meta_kubernetes_endpoint_port_name", "https"),
                ("__meta_kubernetes_endpoint_port_protocol", "TCP"),
                ("__meta_kubernetes_endpoint_ready", "true"),
                ("__meta_kubernetes_endpoint_node_name", "cp1"),
                ("__meta_kubernetes_endpoint_address_target_kind", "Pod"),
                (
                    "__meta_kubernetes_endpoint_address_target_name",
                    "kube-controller-manager-cp1",
                ),
                ("__meta_kubernetes_pod_name", "kube-controller-manager-cp1"),
                ("__meta_kubernetes_pod_ip", "10.0.0.10"),
                ("__meta_kubernetes_pod_ready", "true"),
                ("__meta_kubernetes_pod_phase", pod_phase),
                ("__meta_kubernetes_pod_node_name", "cp1"),
                ("__meta_kubernetes_pod_host_ip", "10.0.0.10"),
                (
                    "__meta_kubernetes_pod_uid",
                    "7f3e9a52-0b1c-4d6e-9f21-3c5d7e8a9b10",
                ),
                ("__meta_kubernetes_pod_controller_kind", "Node"),
                ("__meta_kubernetes_pod_controller_name", "cp1"),
                (
                    "__meta_kubernetes_pod_label_component",
                    "kube-controller-manager",
                ),
                ("__meta_kubernetes_pod_labelpresent_component", "true"),
                ("__meta_kubernetes_pod_label_tier", "control-plane"),
                ("__meta_kubernetes_pod_labelpresent_tier", "true"),
                (
                    "__meta_kubernetes_pod_annotation_prometheus_io_scrape",
                    "true",
                ),
                (
                    "__meta_kubernetes_pod_annotationpresent_prometheus_io_scrape",
                    "true",
                ),
                (
                    "__meta_kubernetes_pod_annotation_prometheus_io_port",
                    "10257",
                ),
                (
                    "__meta_kubernetes_pod_annotationpresent_prometheus_io_port",
                    "true",
                ),
                (
                    "__meta_kubernetes_pod_annotation_prometheus_io_scheme",
                    "https",
                ),
                (
                    "__meta_kubernetes_pod_annotationpresent_prometheus_io_scheme",
                    "true",
                ),
                (
                    "__meta_kubernetes_pod_annotation_kubernetes_io_config_source",
                    "file",
                ),
                (
                    "__meta_kubernetes_pod_annotationpresent_kubernetes_io_config_source",
                    "true",
                ),
            ]),
            ls(&[
                ("__address__", "192.168.5.5:10257"),
                ("__meta_kubernetes_endpoint_port_name", "https"),
                ("__meta_kubernetes_endpoint_port_protocol", "TCP"),
                ("__meta_kubernetes_endpoint_ready", "false"),
                ("__meta_kubernetes_endpoint_hostname", "ext-1"),
            ]),
        ],
        labels: ls(&[
            ("__meta_kubernetes_namespace", "kube-system"),
            ("__meta_kubernetes_endpoints_name", "kcm-metrics"),
            (
                "__meta_kubernetes_endpoints_label_app_kubernetes_io_name",
                "kcm",
            ),
            (
                "__meta_kubernetes_endpoints_labelpresent_app_kubernetes_io_name",
                "true",
            ),
            (
                "__meta_kubernetes_endpoints_label_endpointslice_kubernetes_io_skip_mirror",
                "true",
            ),
            (
                "__meta_kubernetes_endpoints_labelpresent_endpointslice_kubernetes_io_skip_mirror",
                "true",
            ),
            ("__meta_kubernetes_service_name", "kcm-metrics"),
            (
                "__meta_kubernetes_service_label_app_kubernetes_io_name",
                "kcm",
            ),
            (
                "__meta_kubernetes_service_labelpresent_app_kubernetes_io_name",
                "true",
            ),
            (
                "__meta_kubernetes_service_annotation_prometheus_io_scrape",
                "true",
            ),
            (
                "__meta_kubernetes_service_annotationpresent_prometheus_io_scrape",
                "true",
            ),
        ]),
    }
}

pub const SLICE: &str = r#"{"metadata":{"name":"kcm-metrics-x8d2k","namespace":"kube-system","resourceVersion":"9",
  "labels":{"kubernetes.io/service-name":"kcm-metrics"}},
 "addressType":"IPv4",
 "endpoints":[{"addresses":["10.0.0.10"],"conditions":{"ready":true,"serving":true,"terminating":false},
   "nodeName":"cp1","zone":"zone-a",
   "targetRef":{"kind":"Pod","namespace":"kube-system","name":"kube-controller-manager-cp1"}}],
 "ports":[{"name":"https","port":10257,"protocol":"TCP"}]}"#;
