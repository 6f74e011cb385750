//! The label builders against cases from Prometheus's own discovery tests
//! (`discovery/kubernetes/pod_test.go`, `endpoints_test.go`): the objects written as
//! the API server sends them (JSON), the expected labels as Prometheus's tests state
//! them (empty values left out, as [`Labels`] holds none).

use promlite_model::Labels;

use crate::endpoints::build_endpoints;
use crate::objects::{Endpoints, Pod, Service};
use crate::pod::build_pod;

fn ls(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied())
}

/// `makeMultiPortPods` of pod_test.go.
const MULTI_PORT_POD: &str = r#"{
  "metadata": {"name": "testpod", "namespace": "default",
    "labels": {"test/label": "testvalue"},
    "annotations": {"test/annotation": "testannotationvalue"},
    "uid": "abc123",
    "ownerReferences": [{"kind": "testcontrollerkind", "name": "testcontrollername", "controller": true}]},
  "spec": {"nodeName": "testnode", "containers": [
    {"name": "testcontainer0", "image": "testcontainer0:latest", "ports": [
      {"name": "testport0", "protocol": "TCP", "containerPort": 9000},
      {"name": "testport1", "protocol": "UDP", "containerPort": 9001}]},
    {"name": "testcontainer1", "image": "testcontainer1:latest"}]},
  "status": {"podIP": "1.2.3.4", "hostIP": "2.3.4.5", "phase": "Running",
    "conditions": [{"type": "Ready", "status": "True"}],
    "containerStatuses": [
      {"name": "testcontainer0", "containerID": "docker://a1b2c3d4e5f6"},
      {"name": "testcontainer1", "containerID": "containerd://6f5e4d3c2b1a"}]}
}"#;

#[test]
fn pod_discovery_basic_as_prometheus() {
    let pod: Pod = serde_json::from_str(MULTI_PORT_POD).unwrap();
    let g = build_pod(&pod);
    assert_eq!(g.source, "pod/default/testpod");
    let c0 = [
        ("__meta_kubernetes_pod_container_name", "testcontainer0"),
        (
            "__meta_kubernetes_pod_container_image",
            "testcontainer0:latest",
        ),
        ("__meta_kubernetes_pod_container_init", "false"),
        (
            "__meta_kubernetes_pod_container_id",
            "docker://a1b2c3d4e5f6",
        ),
    ];
    let mut t0 = c0.to_vec();
    t0.extend([
        ("__address__", "1.2.3.4:9000"),
        ("__meta_kubernetes_pod_container_port_name", "testport0"),
        ("__meta_kubernetes_pod_container_port_number", "9000"),
        ("__meta_kubernetes_pod_container_port_protocol", "TCP"),
    ]);
    let mut t1 = c0.to_vec();
    t1.extend([
        ("__address__", "1.2.3.4:9001"),
        ("__meta_kubernetes_pod_container_port_name", "testport1"),
        ("__meta_kubernetes_pod_container_port_number", "9001"),
        ("__meta_kubernetes_pod_container_port_protocol", "UDP"),
    ]);
    let t2 = [
        ("__address__", "1.2.3.4"),
        ("__meta_kubernetes_pod_container_name", "testcontainer1"),
        (
            "__meta_kubernetes_pod_container_image",
            "testcontainer1:latest",
        ),
        ("__meta_kubernetes_pod_container_init", "false"),
        (
            "__meta_kubernetes_pod_container_id",
            "containerd://6f5e4d3c2b1a",
        ),
    ];
    assert_eq!(g.targets, vec![ls(&t0), ls(&t1), ls(&t2)]);
    assert_eq!(
        g.labels,
        ls(&[
            ("__meta_kubernetes_pod_name", "testpod"),
            ("__meta_kubernetes_namespace", "default"),
            ("__meta_kubernetes_pod_label_test_label", "testvalue"),
            ("__meta_kubernetes_pod_labelpresent_test_label", "true"),
            (
                "__meta_kubernetes_pod_annotation_test_annotation",
                "testannotationvalue"
            ),
            (
                "__meta_kubernetes_pod_annotationpresent_test_annotation",
                "true"
            ),
            ("__meta_kubernetes_pod_node_name", "testnode"),
            ("__meta_kubernetes_pod_ip", "1.2.3.4"),
            ("__meta_kubernetes_pod_host_ip", "2.3.4.5"),
            ("__meta_kubernetes_pod_ready", "true"),
            ("__meta_kubernetes_pod_phase", "Running"),
            ("__meta_kubernetes_pod_uid", "abc123"),
            (
                "__meta_kubernetes_pod_controller_kind",
                "testcontrollerkind"
            ),
            (
                "__meta_kubernetes_pod_controller_name",
                "testcontrollername"
            ),
        ])
    );
}

#[test]
fn init_containers_follow_with_init_true() {
    // TestPodDiscoveryInitContainer: an init container's port is a target too.
    let mut pod: Pod = serde_json::from_str(MULTI_PORT_POD).unwrap();
    pod.spec.init_containers = vec![serde_json::from_str(
        r#"{"name": "initcontainer", "image": "initcontainer:latest",
            "ports": [{"name": "initport", "protocol": "TCP", "containerPort": 1111}]}"#,
    )
    .unwrap()];
    pod.status.init_container_statuses = vec![serde_json::from_str(
        r#"{"name": "initcontainer", "containerID": "containerd://6f5e4d3c2b1b"}"#,
    )
    .unwrap()];
    let g = build_pod(&pod);
    assert_eq!(g.targets.len(), 4);
    assert_eq!(
        g.targets[3],
        ls(&[
            ("__address__", "1.2.3.4:1111"),
            ("__meta_kubernetes_pod_container_name", "initcontainer"),
            (
                "__meta_kubernetes_pod_container_image",
                "initcontainer:latest"
            ),
            ("__meta_kubernetes_pod_container_port_name", "initport"),
            ("__meta_kubernetes_pod_container_port_number", "1111"),
            ("__meta_kubernetes_pod_container_port_protocol", "TCP"),
            ("__meta_kubernetes_pod_container_init", "true"),
            (
                "__meta_kubernetes_pod_container_id",
                "containerd://6f5e4d3c2b1b"
            ),
        ])
    );
}

#[test]
fn pod_without_ip_has_an_empty_group() {
    // TestPodDiscoveryUpdateEmptyPodIP.
    let mut pod: Pod = serde_json::from_str(MULTI_PORT_POD).unwrap();
    pod.status.pod_ip.clear();
    let g = build_pod(&pod);
    assert_eq!(g.source, "pod/default/testpod");
    assert!(g.targets.is_empty() && g.labels.is_empty());
}

#[test]
fn ipv6_pod_addresses_are_bracketed() {
    let mut pod: Pod = serde_json::from_str(MULTI_PORT_POD).unwrap();
    pod.status.pod_ip = "fd00:10:244::5".into();
    let g = build_pod(&pod);
    assert_eq!(
        g.targets[0].get("__address__"),
        Some("[fd00:10:244::5]:9000")
    );
    // Without a port, the bare IP, as Prometheus leaves it.
    assert_eq!(g.targets[2].get("__address__"), Some("fd00:10:244::5"));
}

/// `makeEndpoints("default")` of endpoints_test.go.
const ENDPOINTS: &str = r#"{
  "metadata": {"name": "testendpoints", "namespace": "default",
    "annotations": {"test.annotation": "test"}},
  "subsets": [
    {"addresses": [{"ip": "1.2.3.4", "hostname": "testendpoint1", "nodeName": "foobar"}],
     "ports": [{"name": "testport", "port": 9000, "protocol": "TCP"}]},
    {"addresses": [{"ip": "2.3.4.5"}], "notReadyAddresses": [{"ip": "2.3.4.5"}],
     "ports": [{"name": "testport", "port": 9001, "protocol": "TCP"}]},
    {"addresses": [{"ip": "6.7.8.9", "targetRef": {"kind": "Node", "name": "barbaz"}}],
     "ports": [{"name": "testport", "port": 9002, "protocol": "TCP"}]}
  ]
}"#;

#[test]
fn endpoints_discovery_with_service_as_prometheus() {
    let eps: Endpoints = serde_json::from_str(ENDPOINTS).unwrap();
    let svc: Service = serde_json::from_str(
        r#"{"metadata": {"name": "testendpoints", "namespace": "default",
            "labels": {"app/name": "test"}}}"#,
    )
    .unwrap();
    let g = build_endpoints(&eps, Some(&svc), |_| None);
    assert_eq!(g.source, "endpoints/default/testendpoints");
    let port = |addr: &'static str, port: &'static str, ready: &'static str| {
        vec![
            ("__address__", addr),
            ("__meta_kubernetes_endpoint_port_name", port),
            ("__meta_kubernetes_endpoint_port_protocol", "TCP"),
            ("__meta_kubernetes_endpoint_ready", ready),
        ]
    };
    let mut t0 = port("1.2.3.4:9000", "testport", "true");
    t0.extend([
        ("__meta_kubernetes_endpoint_hostname", "testendpoint1"),
        ("__meta_kubernetes_endpoint_node_name", "foobar"),
    ]);
    let t1 = port("2.3.4.5:9001", "testport", "true");
    let t2 = port("2.3.4.5:9001", "testport", "false");
    let mut t3 = port("6.7.8.9:9002", "testport", "true");
    t3.extend([
        ("__meta_kubernetes_endpoint_address_target_kind", "Node"),
        ("__meta_kubernetes_endpoint_address_target_name", "barbaz"),
    ]);
    assert_eq!(g.targets, vec![ls(&t0), ls(&t1), ls(&t2), ls(&t3)]);
    assert_eq!(
        g.labels,
        ls(&[
            ("__meta_kubernetes_namespace", "default"),
            ("__meta_kubernetes_endpoints_name", "testendpoints"),
            ("__meta_kubernetes_service_label_app_name", "test"),
            ("__meta_kubernetes_service_labelpresent_app_name", "true"),
            ("__meta_kubernetes_service_name", "testendpoints"),
            (
                "__meta_kubernetes_endpoints_annotation_test_annotation",
                "test"
            ),
            (
                "__meta_kubernetes_endpoints_annotationpresent_test_annotation",
                "true"
            ),
        ])
    );
}

#[test]
fn endpoints_discovery_add_with_pod_as_prometheus() {
    // TestEndpointsDiscoveryAdd: a pod-backed address, and the pod's second container
    // port that no endpoint port covers.
    let pod: Pod = serde_json::from_str(
        r#"{"metadata": {"name": "testpod", "namespace": "default", "uid": "deadbeef"},
            "spec": {"nodeName": "testnode", "containers": [
              {"name": "c1", "image": "c1:latest",
               "ports": [{"name": "mainport", "containerPort": 9000, "protocol": "TCP"}]},
              {"name": "c2", "image": "c2:latest",
               "ports": [{"name": "sideport", "containerPort": 9001, "protocol": "TCP"}]}]},
            "status": {"hostIP": "2.3.4.5", "podIP": "1.2.3.4"}}"#,
    )
    .unwrap();
    let eps: Endpoints = serde_json::from_str(
        r#"{"metadata": {"name": "testendpoints", "namespace": "default"},
            "subsets": [{"addresses": [{"ip": "4.3.2.1",
                "targetRef": {"kind": "Pod", "name": "testpod", "namespace": "default"}}],
              "ports": [{"name": "testport", "port": 9000, "protocol": "TCP"}]}]}"#,
    )
    .unwrap();
    let g = build_endpoints(&eps, None, |k| (k == "default/testpod").then_some(&pod));
    let pod_common = [
        ("__meta_kubernetes_pod_name", "testpod"),
        ("__meta_kubernetes_pod_ip", "1.2.3.4"),
        ("__meta_kubernetes_pod_ready", "unknown"),
        ("__meta_kubernetes_pod_node_name", "testnode"),
        ("__meta_kubernetes_pod_host_ip", "2.3.4.5"),
        ("__meta_kubernetes_pod_uid", "deadbeef"),
        ("__meta_kubernetes_pod_container_port_protocol", "TCP"),
        ("__meta_kubernetes_pod_container_init", "false"),
    ];
    let mut t0 = pod_common.to_vec();
    t0.extend([
        ("__address__", "4.3.2.1:9000"),
        ("__meta_kubernetes_endpoint_port_name", "testport"),
        ("__meta_kubernetes_endpoint_port_protocol", "TCP"),
        ("__meta_kubernetes_endpoint_ready", "true"),
        ("__meta_kubernetes_endpoint_address_target_kind", "Pod"),
        ("__meta_kubernetes_endpoint_address_target_name", "testpod"),
        ("__meta_kubernetes_pod_container_name", "c1"),
        ("__meta_kubernetes_pod_container_image", "c1:latest"),
        ("__meta_kubernetes_pod_container_port_name", "mainport"),
        ("__meta_kubernetes_pod_container_port_number", "9000"),
    ]);
    let mut t1 = pod_common.to_vec();
    t1.extend([
        ("__address__", "1.2.3.4:9001"),
        ("__meta_kubernetes_pod_container_name", "c2"),
        ("__meta_kubernetes_pod_container_image", "c2:latest"),
        ("__meta_kubernetes_pod_container_port_name", "sideport"),
        ("__meta_kubernetes_pod_container_port_number", "9001"),
    ]);
    assert_eq!(g.targets, vec![ls(&t0), ls(&t1)]);
    assert_eq!(
        g.labels,
        ls(&[
            ("__meta_kubernetes_endpoints_name", "testendpoints"),
            ("__meta_kubernetes_namespace", "default"),
        ])
    );
}

#[test]
fn unknown_fields_are_ignored_and_missing_ones_default() {
    let pod: Pod = serde_json::from_str(
        r#"{"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "p", "namespace": "n",
            "managedFields": [{"x": 1}]}, "spec": {"dnsPolicy": "ClusterFirst"}}"#,
    )
    .unwrap();
    assert_eq!(pod.metadata.name, "p");
    assert!(build_pod(&pod).targets.is_empty());
}

#[test]
fn the_controller_owner_names_the_controller() {
    // apimachinery's GetControllerOf: the owner with `controller: true`, not the first.
    let mut pod: Pod = serde_json::from_str(MULTI_PORT_POD).unwrap();
    pod.metadata.owner_references = serde_json::from_str(
        r#"[{"kind": "ConfigMap", "name": "cm"},
            {"kind": "Secret", "name": "s", "controller": false},
            {"kind": "StatefulSet", "name": "db", "controller": true}]"#,
    )
    .unwrap();
    let g = build_pod(&pod);
    assert_eq!(
        g.labels.get("__meta_kubernetes_pod_controller_kind"),
        Some("StatefulSet")
    );
    assert_eq!(
        g.labels.get("__meta_kubernetes_pod_controller_name"),
        Some("db")
    );
    // No controller at all: no controller labels.
    pod.metadata.owner_references.truncate(2);
    let g = build_pod(&pod);
    assert_eq!(g.labels.get("__meta_kubernetes_pod_controller_kind"), None);
}

/// `makeEndpointSliceV1("default")` of endpointslice_test.go.
const SLICE: &str = r#"{
  "metadata": {"name": "testendpoints", "namespace": "default",
    "labels": {"kubernetes.io/service-name": "testendpoints"},
    "annotations": {"test.annotation": "test"}},
  "addressType": "IPv4",
  "ports": [{"name": "testport", "port": 9000, "protocol": "TCP", "appProtocol": "http"}],
  "endpoints": [
    {"addresses": ["1.2.3.4"], "conditions": {"ready": true, "serving": true, "terminating": false},
     "hostname": "testendpoint1", "targetRef": {}, "nodeName": "foobar",
     "deprecatedTopology": {"topology": "value"}, "zone": "us-east-1a"},
    {"addresses": ["2.3.4.5"], "conditions": {"ready": true, "serving": true, "terminating": false},
     "zone": "us-east-1b"},
    {"addresses": ["3.4.5.6"], "conditions": {"ready": false, "serving": true, "terminating": true},
     "zone": "us-east-1c"},
    {"addresses": ["4.5.6.7"], "conditions": {"ready": true, "serving": true, "terminating": false},
     "targetRef": {"kind": "Node", "name": "barbaz"}, "zone": "us-east-1a"}
  ]
}"#;

#[test]
fn endpointslice_discovery_before_run_as_prometheus() {
    use crate::endpointslice::build_endpointslice;
    use crate::objects::EndpointSlice;
    let eps: EndpointSlice = serde_json::from_str(SLICE).unwrap();
    let g = build_endpointslice(&eps, None, |_| None);
    assert_eq!(g.source, "endpointslice/default/testendpoints");
    let common =
        |addr: &'static str, ready: &'static str, term: &'static str, zone: &'static str| {
            vec![
                ("__address__", addr),
                (
                    "__meta_kubernetes_endpointslice_endpoint_conditions_ready",
                    ready,
                ),
                (
                    "__meta_kubernetes_endpointslice_endpoint_conditions_serving",
                    "true",
                ),
                (
                    "__meta_kubernetes_endpointslice_endpoint_conditions_terminating",
                    term,
                ),
                ("__meta_kubernetes_endpointslice_endpoint_zone", zone),
                ("__meta_kubernetes_endpointslice_port", "9000"),
                ("__meta_kubernetes_endpointslice_port_app_protocol", "http"),
                ("__meta_kubernetes_endpointslice_port_name", "testport"),
                ("__meta_kubernetes_endpointslice_port_protocol", "TCP"),
            ]
        };
    let mut t0 = common("1.2.3.4:9000", "true", "false", "us-east-1a");
    t0.extend([
        (
            "__meta_kubernetes_endpointslice_endpoint_hostname",
            "testendpoint1",
        ),
        (
            "__meta_kubernetes_endpointslice_endpoint_node_name",
            "foobar",
        ),
        (
            "__meta_kubernetes_endpointslice_endpoint_topology_present_topology",
            "true",
        ),
        (
            "__meta_kubernetes_endpointslice_endpoint_topology_topology",
            "value",
        ),
    ]);
    let t1 = common("2.3.4.5:9000", "true", "false", "us-east-1b");
    let t2 = common("3.4.5.6:9000", "false", "true", "us-east-1c");
    let mut t3 = common("4.5.6.7:9000", "true", "false", "us-east-1a");
    t3.extend([
        (
            "__meta_kubernetes_endpointslice_address_target_kind",
            "Node",
        ),
        (
            "__meta_kubernetes_endpointslice_address_target_name",
            "barbaz",
        ),
    ]);
    assert_eq!(g.targets, vec![ls(&t0), ls(&t1), ls(&t2), ls(&t3)]);
    assert_eq!(
        g.labels,
        ls(&[
            ("__meta_kubernetes_endpointslice_address_type", "IPv4"),
            ("__meta_kubernetes_namespace", "default"),
            ("__meta_kubernetes_endpointslice_name", "testendpoints"),
            (
                "__meta_kubernetes_endpointslice_label_kubernetes_io_service_name",
                "testendpoints"
            ),
            (
                "__meta_kubernetes_endpointslice_labelpresent_kubernetes_io_service_name",
                "true"
            ),
            (
                "__meta_kubernetes_endpointslice_annotation_test_annotation",
                "test"
            ),
            (
                "__meta_kubernetes_endpointslice_annotationpresent_test_annotation",
                "true"
            ),
        ])
    );
}

#[test]
fn endpointslice_of_a_dual_stack_service_secondary_family_has_no_targets() {
    use crate::endpointslice::build_endpointslice;
    use crate::objects::EndpointSlice;
    let eps: EndpointSlice = serde_json::from_str(SLICE).unwrap();
    let svc: Service = serde_json::from_str(
        r#"{"metadata": {"name": "testendpoints", "namespace": "default"},
            "spec": {"ipFamilyPolicy": "PreferDualStack", "ipFamilies": ["IPv6", "IPv4"]}}"#,
    )
    .unwrap();
    let g = build_endpointslice(&eps, Some(&svc), |_| None);
    assert!(g.targets.is_empty());
    assert_eq!(
        g.labels.get("__meta_kubernetes_service_name"),
        Some("testendpoints")
    );
    // Single-stack: the slice counts whatever the family.
    let svc: Service = serde_json::from_str(
        r#"{"metadata": {"name": "testendpoints", "namespace": "default"},
            "spec": {"ipFamilyPolicy": "SingleStack", "ipFamilies": ["IPv6"]}}"#,
    )
    .unwrap();
    assert_eq!(
        build_endpointslice(&eps, Some(&svc), |_| None)
            .targets
            .len(),
        4
    );
}

#[test]
fn null_collections_decode_as_empty() {
    // Go writes a nil slice without omitempty as null.
    let eps: crate::objects::EndpointSlice = serde_json::from_str(
        r#"{"metadata": {"name": "s", "namespace": "n", "labels": null},
            "addressType": "IPv4", "endpoints": null, "ports": null}"#,
    )
    .unwrap();
    assert!(eps.endpoints.is_empty() && eps.ports.is_empty());
}
