//! In-cluster configuration end to end: the API server from `KUBERNETES_SERVICE_HOST`
//! and `_PORT`, the token, CA and own namespace from the service account directory.
//!
//! Its own test binary with a single test, because it sets process environment
//! variables (no other test thread may read the environment meanwhile).

mod fake_api;
mod k8s_objects;

use std::time::Duration;

use fake_api::{list, stream, FakeApi, Reply};
use k8s_objects::*;
use promlite_discovery::{KubernetesDiscovery, KubernetesOptions, Role};

#[test]
fn in_cluster_uses_service_account_files_and_env() {
    // The fake server's directory holds `token` and `ca.crt`, the in-cluster names.
    let api = FakeApi::start("in-cluster-token");
    std::fs::write(api.dir.join("namespace"), "kube-system\n").unwrap();
    std::env::set_var("KUBERNETES_SERVICE_HOST", "127.0.0.1");
    std::env::set_var("KUBERNETES_SERVICE_PORT", api.port.to_string());

    let path = "/api/v1/namespaces/kube-system/pods";
    api.push(
        path,
        false,
        Reply::Full(200, list("PodList", "7", "", &[KCM])),
    );
    let (w, _feed) = stream();
    api.push(path, true, w);
    let mut o = KubernetesOptions::new(Role::Pod);
    o.service_account_dir = api.dir.clone();
    o.own_namespace = true;
    let (sd, rx) = KubernetesDiscovery::start_channel(o).unwrap();
    let groups = rx
        .recv_timeout(Duration::from_secs(10))
        .unwrap_or_else(|_| panic!("no snapshot: {:?} {:?}", sd.stats(), api.requests()));
    assert_eq!(groups, vec![kcm_group()]);
    assert_eq!(api.requests()[0], format!("{path}?limit=500"));
    sd.stop();
}
