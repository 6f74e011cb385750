//! Kubernetes discovery against a fake API server over HTTPS (loopback only): list
//! with pages, watch events, bookmarks, a dropped stream, `410 Gone` as an ERROR
//! event and as an HTTP status, bad credentials, malformed JSON, and stopping.
//!
//! Expected labels are written by hand from the meta labels Prometheus documents for
//! each role (and its discovery code's rules: one target per container port, the pod
//! IP alone for a container without ports, IPv6 in brackets).

mod fake_api;
mod k8s_objects;

use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use fake_api::{event, list, status, stream, FakeApi, Reply};
use k8s_objects::*;
use promlite_discovery::{
    Auth, KubernetesDiscovery, KubernetesOptions, Role, Selector, TargetGroup,
};
use promlite_model::Labels;

const TOKEN: &str = "sekret-token-1";

fn opts(api: &FakeApi, role: Role) -> KubernetesOptions {
    let mut o = KubernetesOptions::new(role).with_api_server(api.url());
    o.auth = Auth::BearerFile(api.token_file.clone());
    o.tls.ca_file = Some(api.ca_file.clone());
    o.retry_initial = Duration::from_millis(50);
    o.retry_max = Duration::from_millis(200);
    o
}

fn next(rx: &Receiver<Vec<TargetGroup>>) -> Vec<TargetGroup> {
    rx.recv_timeout(Duration::from_secs(10))
        .expect("no target group update within 10 s")
}

fn sorted(mut v: Vec<TargetGroup>) -> Vec<TargetGroup> {
    v.sort_by(|a, b| a.source.cmp(&b.source));
    v
}

// --- Role pod: the whole protocol -----------------------------------------------

#[test]
fn pod_role_lists_watches_and_relists_on_410() {
    let api = FakeApi::start(TOKEN);
    const PODS: &str = "/api/v1/pods";
    // The first list comes in two pages.
    api.push(
        PODS,
        false,
        Reply::Full(200, list("PodList", "", "tok-1", &[KCM, WEB_PENDING])),
    );
    api.push(
        PODS,
        false,
        Reply::Full(200, list("PodList", "100", "", &[COREDNS])),
    );
    let (watch1, feed1) = stream();
    api.push(PODS, true, watch1);

    let (sd, rx) = KubernetesDiscovery::start_channel(opts(&api, Role::Pod)).unwrap();

    // 1. The first update is the full snapshot.
    let snapshot = sorted(next(&rx));
    assert_eq!(
        snapshot,
        vec![web_group(false), coredns_group(), kcm_group()]
    );
    assert!(sd.stats().synced);

    // 2. A pod added through the watch.
    feed1.send(event("ADDED", EXPORTER));
    assert_eq!(next(&rx), vec![exporter_group()]);

    // 3. A pod deleted through the watch: its group comes back empty.
    let deleted = COREDNS.replace(r#""resourceVersion":"98""#, r#""resourceVersion":"102""#);
    feed1.send(event("DELETED", &deleted));
    assert_eq!(
        next(&rx),
        vec![TargetGroup::empty(
            "pod/kube-system/coredns-5d78c9869d-abcde"
        )]
    );

    // 4. A bookmark moves the resource version on; then the connection drops. The
    // watch resumes from the bookmark's version, without a relist.
    let (watch2, feed2) = stream();
    api.push(PODS, true, watch2);
    feed1.send(event(
        "BOOKMARK",
        r#"{"kind":"Pod","apiVersion":"v1","metadata":{"resourceVersion":"103"}}"#,
    ));
    feed1.cut();
    api.wait_requests(4);

    // 5. An ERROR event with code 410 forces a relist, which shows the Pending pod
    // now running: only that group changes. The next watch is refused with HTTP 410:
    // another relist (nothing changed, so no update), then a watch that stays open.
    let web = web_running();
    api.push(
        PODS,
        false,
        Reply::Full(200, list("PodList", "110", "", &[KCM, &web, EXPORTER])),
    );
    api.push(
        PODS,
        true,
        Reply::Full(
            410,
            status(410, "Expired", "too old resource version: 103 (110)"),
        ),
    );
    api.push(
        PODS,
        false,
        Reply::Full(200, list("PodList", "120", "", &[KCM, &web, EXPORTER])),
    );
    let (watch3, feed3) = stream();
    api.push(PODS, true, watch3);
    feed2.send(event(
        "ERROR",
        &status(410, "Expired", "too old resource version: 103 (105)"),
    ));
    assert_eq!(next(&rx), vec![web_group(true)]);
    api.wait_requests(8);

    let reqs = api.requests();
    let w = "&allowWatchBookmarks=true&timeoutSeconds=300";
    assert_eq!(
        reqs,
        vec![
            "/api/v1/pods?limit=500".to_string(),
            "/api/v1/pods?limit=500&continue=tok-1".to_string(),
            format!("/api/v1/pods?watch=1&resourceVersion=100{w}"),
            format!("/api/v1/pods?watch=1&resourceVersion=103{w}"),
            "/api/v1/pods?limit=500".to_string(),
            format!("/api/v1/pods?watch=1&resourceVersion=110{w}"),
            "/api/v1/pods?limit=500".to_string(),
            format!("/api/v1/pods?watch=1&resourceVersion=120{w}"),
        ]
    );
    // The relist that changed nothing sent nothing.
    std::thread::sleep(Duration::from_millis(200));
    assert!(rx.try_recv().is_err(), "an update without a change");
    assert_eq!(
        sorted(sd.snapshot()),
        vec![web_group(true), kcm_group(), exporter_group()]
    );
    let stats = sd.stats();
    assert_eq!(
        (
            stats.lists,
            stats.watches,
            stats.events,
            stats.relists_gone,
            stats.errors,
            stats.updates
        ),
        (3, 3, 2, 2, 1, 4),
        "{stats:?}"
    );

    // 6. Stop returns promptly even with a watch blocked in a read; no update after.
    let t = Instant::now();
    sd.stop_within(Duration::from_millis(300));
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "stop took {:?}",
        t.elapsed()
    );
    feed3.send(event("ADDED", COREDNS));
    std::thread::sleep(Duration::from_millis(100));
    assert!(rx.try_recv().is_err(), "an update after stop");
}

// --- Errors never panic, and are retried ----------------------------------------

#[test]
fn wrong_token_is_an_error_and_is_retried() {
    let api = FakeApi::start(TOKEN);
    let mut o = opts(&api, Role::Pod);
    o.auth = Auth::Bearer("not-the-token".into());
    let (sd, rx) = KubernetesDiscovery::start_channel(o).unwrap();
    api.wait_requests(3);
    let stats = sd.stats();
    assert!(!stats.synced && stats.errors >= 2, "{stats:?}");
    let e = stats.last_error.unwrap();
    assert!(e.contains("HTTP 401") && e.contains("Unauthorized"), "{e}");
    assert!(rx.try_recv().is_err());
    sd.stop();
}

#[test]
fn untrusted_server_certificate_fails_the_handshake() {
    let api = FakeApi::start(TOKEN);
    let mut o = opts(&api, Role::Pod);
    o.tls.ca_file = None; // the system roots do not know the throwaway CA
    let sd = KubernetesDiscovery::start(o, |_| {}).unwrap();
    let t = Instant::now();
    while sd.stats().errors == 0 && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let e = sd.stats().last_error.unwrap_or_default();
    assert!(e.to_lowercase().contains("certificate"), "{e}");
    assert!(
        api.requests().is_empty(),
        "a request went through: {:?}",
        api.requests()
    );
    sd.stop();
}

#[test]
fn malformed_json_and_dropped_streams_are_errors_then_retries() {
    let api = FakeApi::start(TOKEN);
    let path = "/api/v1/namespaces/kube-system/pods";
    // A list body cut short: an error with its position, then the list is retried.
    api.push(
        path,
        false,
        Reply::Full(
            200,
            r#"{"metadata":{"resourceVersion":"5"},"items":[{"metadata":"#.into(),
        ),
    );
    api.push(
        path,
        false,
        Reply::Full(200, list("PodList", "5", "", &[KCM])),
    );
    let (w1, f1) = stream();
    api.push(path, true, w1);
    let mut o = opts(&api, Role::Pod);
    o.namespaces = vec!["kube-system".into()];
    let (sd, rx) = KubernetesDiscovery::start_channel(o).unwrap();
    assert_eq!(next(&rx), vec![kcm_group()]);
    let s = sd.stats();
    assert_eq!(s.errors, 1, "{s:?}");
    let e = s.last_error.unwrap();
    assert!(
        e.contains("pods list: invalid JSON at line 1, column"),
        "{e}"
    );

    // A garbage watch line: an error naming the event, the stream is dropped and the
    // watch resumes from the last good version.
    let (w2, f2) = stream();
    api.push(path, true, w2);
    f1.send(r#"{"type":"ADDED","object":{"metadata":{"name":"x","namespace":"kube-system"},"spec":{"containers":7}}}"#);
    api.wait_requests(4);
    let e = sd.stats().last_error.unwrap();
    assert!(
        e.contains("watch event 1: invalid JSON at line 1, column"),
        "{e}"
    );
    assert!(
        api.requests()[3].contains("resourceVersion=5&"),
        "{:?}",
        api.requests()
    );

    // An unknown event type and a truncated line are errors too; then a good event.
    let (w3, f3) = stream();
    api.push(path, true, w3);
    f2.send(r#"{"type":"EXPLODED","object":{}}"#);
    api.wait_requests(5);
    let (w4, f4) = stream();
    api.push(path, true, w4);
    f3.send(r#"{"type":"ADDED","obj"#);
    f3.cut();
    api.wait_requests(6);
    f4.send(event("ADDED", COREDNS));
    assert_eq!(next(&rx), vec![coredns_group()]);
    let s = sd.stats();
    assert_eq!(s.errors, 4, "{s:?}");

    // An ERROR event saying Expired without a code still forces a relist.
    api.push(
        path,
        false,
        Reply::Full(200, list("PodList", "9", "", &[KCM])),
    );
    let (w5, _f5) = stream();
    api.push(path, true, w5);
    f4.send(event(
        "ERROR",
        r#"{"kind":"Status","reason":"Expired","message":"too old"}"#,
    ));
    assert_eq!(
        next(&rx),
        vec![TargetGroup::empty(
            "pod/kube-system/coredns-5d78c9869d-abcde"
        )]
    );
    let s = sd.stats();
    assert_eq!((s.errors, s.relists_gone), (4, 1), "{s:?}");
    drop((f1, f4));
    sd.stop();
}

#[test]
fn server_name_is_what_the_certificate_is_checked_against() {
    // The server certificate names kubernetes.default.svc and 127.0.0.1.
    let api = FakeApi::start(TOKEN);
    let path = "/api/v1/pods";
    api.push(
        path,
        false,
        Reply::Full(200, list("PodList", "5", "", &[KCM])),
    );
    let (w, _feed) = stream();
    api.push(path, true, w);
    let mut o = opts(&api, Role::Pod);
    o.tls.server_name = Some("kubernetes.default.svc".into());
    let (sd, rx) = KubernetesDiscovery::start_channel(o).unwrap();
    assert_eq!(next(&rx), vec![kcm_group()]);
    sd.stop();

    let mut o = opts(&api, Role::Pod);
    o.tls.server_name = Some("etcd.example".into());
    let sd = KubernetesDiscovery::start(o, |_| {}).unwrap();
    let t = Instant::now();
    while sd.stats().errors == 0 && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let e = sd.stats().last_error.unwrap_or_default();
    assert!(e.to_lowercase().contains("certificate"), "{e}");
    sd.stop();
}

#[test]
fn invalid_options_fail_at_start() {
    let mut o = KubernetesOptions::new(Role::Pod).with_api_server("https://127.0.0.1:1");
    o.tls.ca_file = Some("/nonexistent/ca.crt".into());
    let e = KubernetesDiscovery::start(o, |_| {})
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("CA file") && e.contains("/nonexistent/ca.crt"),
        "{e}"
    );
}

// --- Role endpoints --------------------------------------------------------------

#[test]
fn endpoints_role_joins_services_and_pods() {
    let api = FakeApi::start(TOKEN);
    let ns = "/api/v1/namespaces/kube-system";
    api.push(
        &format!("{ns}/endpoints"),
        false,
        Reply::Full(200, list("EndpointsList", "10", "", &[EPS])),
    );
    api.push(
        &format!("{ns}/services"),
        false,
        Reply::Full(200, list("ServiceList", "10", "", &[SVC])),
    );
    api.push(
        &format!("{ns}/pods"),
        false,
        Reply::Full(200, list("PodList", "10", "", &[KCM])),
    );
    let (we, fe) = stream();
    let (ws, fs) = stream();
    let (wp, fp) = stream();
    api.push(&format!("{ns}/endpoints"), true, we);
    api.push(&format!("{ns}/services"), true, ws);
    api.push(&format!("{ns}/pods"), true, wp);
    let mut o = opts(&api, Role::Endpoints);
    o.namespaces = vec!["kube-system".into()];
    o.selectors = vec![Selector {
        role: "pod".into(),
        label: Some("tier in (control-plane)".into()),
        field: Some("spec.nodeName=cp1".into()),
    }];
    let (sd, rx) = KubernetesDiscovery::start_channel(o).unwrap();
    assert_eq!(next(&rx), vec![endpoints_group("Running")]);
    // Only the pod list and watch carry the pod selector, escaped.
    api.wait_requests(6);
    let reqs = api.requests();
    let sel = "labelSelector=tier%20in%20%28control-plane%29&fieldSelector=spec.nodeName%3Dcp1";
    assert!(
        reqs.iter()
            .any(|r| r == &format!("{ns}/pods?limit=500&{sel}")),
        "{reqs:?}"
    );
    assert!(
        reqs.iter()
            .any(|r| r.starts_with(&format!("{ns}/pods?watch=1")) && r.ends_with(sel)),
        "{reqs:?}"
    );
    assert_eq!(
        reqs.iter().filter(|r| r.contains("Selector")).count(),
        2,
        "{reqs:?}"
    );

    // The backing pod changes: the endpoints group follows.
    let failed = KCM.replace(r#""phase":"Running""#, r#""phase":"Failed""#);
    fp.send(event("MODIFIED", &failed));
    assert_eq!(next(&rx), vec![endpoints_group("Failed")]);

    // The service goes away: its labels leave the group.
    fs.send(event("DELETED", SVC));
    let mut g = endpoints_group("Failed");
    g.labels = g
        .labels
        .filter(|l| !l.name.starts_with("__meta_kubernetes_service_"));
    assert_eq!(next(&rx), vec![g]);

    // The endpoints go away: an empty group.
    fe.send(event("DELETED", EPS));
    assert_eq!(
        next(&rx),
        vec![TargetGroup::empty("endpoints/kube-system/kcm-metrics")]
    );
    assert!(sd.snapshot().is_empty());
    sd.stop();
}

// --- Role endpointslice ------------------------------------------------------------
#[test]
fn endpointslice_role_joins_services_and_pods() {
    let api = FakeApi::start(TOKEN);
    api.push(
        "/apis/discovery.k8s.io/v1/endpointslices",
        false,
        Reply::Full(200, list("EndpointSliceList", "10", "", &[SLICE])),
    );
    api.push(
        "/api/v1/services",
        false,
        Reply::Full(200, list("ServiceList", "10", "", &[SVC])),
    );
    api.push(
        "/api/v1/pods",
        false,
        Reply::Full(200, list("PodList", "10", "", &[KCM])),
    );
    let (we, _fe) = stream();
    let (ws, fs) = stream();
    let (wp, _fp) = stream();
    api.push("/apis/discovery.k8s.io/v1/endpointslices", true, we);
    api.push("/api/v1/services", true, ws);
    api.push("/api/v1/pods", true, wp);
    let (sd, rx) = KubernetesDiscovery::start_channel(opts(&api, Role::EndpointSlice)).unwrap();

    // The pod-backed target: the slice's labels, the pod's, the matching container
    // port (kube-controller-manager declares none, so no container labels).
    let kcm = kcm_group();
    let mut target: Vec<(String, String)> = kcm
        .labels
        .iter()
        .filter(|l| l.name.as_ref() != "__meta_kubernetes_namespace")
        .map(|l| (l.name.to_string(), l.value.to_string()))
        .collect();
    for (n, v) in [
        ("__address__", "10.0.0.10:10257"),
        ("__meta_kubernetes_endpointslice_port", "10257"),
        ("__meta_kubernetes_endpointslice_port_name", "https"),
        ("__meta_kubernetes_endpointslice_port_protocol", "TCP"),
        (
            "__meta_kubernetes_endpointslice_endpoint_conditions_ready",
            "true",
        ),
        (
            "__meta_kubernetes_endpointslice_endpoint_conditions_serving",
            "true",
        ),
        (
            "__meta_kubernetes_endpointslice_endpoint_conditions_terminating",
            "false",
        ),
        ("__meta_kubernetes_endpointslice_endpoint_node_name", "cp1"),
        ("__meta_kubernetes_endpointslice_endpoint_zone", "zone-a"),
        ("__meta_kubernetes_endpointslice_address_target_kind", "Pod"),
        (
            "__meta_kubernetes_endpointslice_address_target_name",
            "kube-controller-manager-cp1",
        ),
    ] {
        target.push((n.into(), v.into()));
    }
    let service = [
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
    ];
    let mut group = vec![
        ("__meta_kubernetes_namespace", "kube-system"),
        ("__meta_kubernetes_endpointslice_name", "kcm-metrics-x8d2k"),
        ("__meta_kubernetes_endpointslice_address_type", "IPv4"),
        (
            "__meta_kubernetes_endpointslice_label_kubernetes_io_service_name",
            "kcm-metrics",
        ),
        (
            "__meta_kubernetes_endpointslice_labelpresent_kubernetes_io_service_name",
            "true",
        ),
    ];
    group.extend(service);
    let expected = TargetGroup {
        source: "endpointslice/kube-system/kcm-metrics-x8d2k".into(),
        targets: vec![Labels::from_pairs(target)],
        labels: ls(&group),
    };
    assert_eq!(next(&rx), vec![expected.clone()]);

    // A relabelled service reaches the slice through its service-name label.
    let svc2 = SVC.replace(
        r#""app.kubernetes.io/name":"kcm""#,
        r#""app.kubernetes.io/name":"kcm2""#,
    );
    fs.send(event("MODIFIED", &svc2));
    let mut want = expected;
    want.labels = {
        let mut b = want.labels.builder();
        b.set(
            "__meta_kubernetes_service_label_app_kubernetes_io_name",
            "kcm2",
        );
        b.build()
    };
    assert_eq!(next(&rx), vec![want]);
    sd.stop();
}
