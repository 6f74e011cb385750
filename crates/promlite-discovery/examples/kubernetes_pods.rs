//! Discovers pods from a Kubernetes API server and prints each target group update.
//!
//! ```text
//! cargo run -p promlite-discovery --example kubernetes_pods -- \
//!     https://127.0.0.1:6443 /path/to/token /path/to/ca.crt [namespace...]
//! ```
//! With no arguments it uses the in-cluster configuration (inside a pod). It runs
//! for 60 seconds, then stops.

use std::time::Duration;

use promlite_discovery::{Auth, KubernetesDiscovery, KubernetesOptions, Role};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut opts = KubernetesOptions::new(Role::Pod);
    if let [url, token, ca, namespaces @ ..] = args.as_slice() {
        opts = opts.with_api_server(url.clone());
        opts.auth = Auth::BearerFile(token.into());
        opts.tls.ca_file = Some(ca.into());
        opts.namespaces = namespaces.to_vec();
    } else if !args.is_empty() {
        return Err("usage: kubernetes_pods [API_SERVER TOKEN_FILE CA_FILE [NAMESPACE...]]".into());
    }

    let sd = KubernetesDiscovery::start(opts, |groups| {
        for g in groups {
            if g.targets.is_empty() {
                println!("- {} (gone)", g.source);
                continue;
            }
            println!("+ {} {}", g.source, g.labels);
            for t in &g.targets {
                println!("    {t}");
            }
        }
    })?;
    if !sd.wait_synced(Duration::from_secs(30)) {
        eprintln!("not synced after 30 s: {:?}", sd.stats().last_error);
    }
    std::thread::sleep(Duration::from_secs(60));
    println!("{:?}", sd.stats());
    sd.stop();
    Ok(())
}
