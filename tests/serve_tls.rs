//! `promlite serve --web.config.file` (issue 16): TLS, client certificates and
//! bcrypt basic auth in Prometheus's web configuration format, checked with clients
//! nobody here wrote: curl, and Debian's promtool 2.42 (`promtool check web-config`
//! reads our file as Prometheus would; `promtool query instant` talks to the server
//! over TLS with basic auth — promtool 2.42 has no `--http.config.file`, so its CA
//! comes from `SSL_CERT_FILE`, which Go honours, and its credentials from the URL).

use std::path::Path;
use std::process::{Command, Output};

use base64::Engine as _;

use crate::common::which;
use crate::serve_limits::{spawn, Srv};
use crate::support::https::{temp_dir, Pki};

fn pem(label: &str, der: &[u8]) -> String {
    let b = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// curl and promtool, or a clear failure (CI) / skip (elsewhere).
fn tools(test: &str) -> bool {
    let have = which("curl") && which("promtool");
    if !have {
        let why = "needs `curl` and Debian's `prometheus` package (promtool)";
        if std::env::var_os("PROMLITE_REQUIRE_ORACLE").is_some() {
            panic!("{test}: {why}, and PROMLITE_REQUIRE_ORACLE is set");
        }
        eprintln!("SKIPPED {test}: {why}");
    }
    have
}

/// A server over one series with `web.yml` holding `tls` (the body of
/// `tls_server_config`) and user alice (password "secret") when `auth`.
fn start(tag: &str, pki: &Pki, tls: &str, auth: bool) -> Srv {
    let dir = temp_dir(tag);
    std::fs::write(
        dir.join("server.crt"),
        pem("CERTIFICATE", &pki.server_cert_der),
    )
    .unwrap();
    std::fs::write(
        dir.join("server.key"),
        pem("PRIVATE KEY", &pki.server_key_der),
    )
    .unwrap();
    std::fs::copy(&pki.ca_pem, dir.join("ca.pem")).unwrap();
    std::fs::write(
        dir.join("data.prom"),
        "up{job=\"x\"} 1 0\nup{job=\"x\"} 1 10000\n",
    )
    .unwrap();
    let mut yml = format!("tls_server_config:\n{tls}");
    if auth {
        // Cost 4 keeps the test fast; Prometheus's docs suggest 10 or more.
        let hash = bcrypt::hash("secret", 4).unwrap();
        yml.push_str(&format!("basic_auth_users:\n  alice: '{hash}'\n"));
    }
    std::fs::write(dir.join("web.yml"), yml).unwrap();
    let check = Command::new("promtool")
        .args(["check", "web-config"])
        .arg(dir.join("web.yml"))
        .output()
        .expect("run promtool");
    assert!(
        check.status.success(),
        "promtool check web-config rejects our file: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    spawn(
        dir,
        &["--data", "data.prom", "--web.config.file", "web.yml"],
    )
}

/// curl's exit status, HTTP code and body for `path` with extra arguments.
fn curl(srv: &Srv, path: &str, args: &[&str]) -> (bool, String, String) {
    let out: Output = Command::new("curl")
        .args(["-sS", "--max-time", "10", "-w", "\n%{http_code}"])
        .args(args)
        .arg(format!("https://127.0.0.1:{}{path}", srv.port))
        .current_dir(&srv.dir)
        .output()
        .expect("run curl");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    (out.status.success(), code.to_string(), body.to_string())
}

const Q: &str = "/api/v1/query?query=up&time=10";

fn client(cert: &Path, key: &Path) -> Vec<String> {
    vec![
        "--cert".into(),
        cert.display().to_string(),
        "--key".into(),
        key.display().to_string(),
    ]
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn tls_with_basic_auth_for_curl_and_promtool() {
    if !tools("tls_with_basic_auth_for_curl_and_promtool") {
        return;
    }
    let pki = Pki::generate();
    let srv = start(
        "serve-tls-auth",
        &pki,
        "  cert_file: server.crt\n  key_file: server.key\n",
        true,
    );
    let (ok, code, body) = curl(&srv, Q, &["--cacert", "ca.pem", "-u", "alice:secret"]);
    assert!(ok && code == "200", "{code} {body}");
    assert!(body.contains("\"value\":[10,\"1\"]"), "{body}");
    let (_, code, _) = curl(&srv, Q, &["--cacert", "ca.pem"]);
    assert_eq!(code, "401", "no credentials");
    let (_, code, _) = curl(&srv, Q, &["--cacert", "ca.pem", "-u", "alice:Secret"]);
    assert_eq!(code, "401", "wrong password");
    let (_, code, _) = curl(&srv, Q, &["--cacert", "ca.pem", "-u", "bob:secret"]);
    assert_eq!(code, "401", "unknown user");
    // Without the CA, curl must refuse the server's certificate.
    let (ok, _, _) = curl(&srv, Q, &["-u", "alice:secret"]);
    assert!(!ok, "curl accepted a certificate it cannot verify");
    // Plain HTTP on the TLS port gets no answer.
    let plain = Command::new("curl")
        .args(["-sS", "--max-time", "5"])
        .arg(format!("http://127.0.0.1:{}{Q}", srv.port))
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&plain.stdout).contains("success"),
        "plain HTTP answered"
    );

    let promtool = |user: &str| {
        Command::new("promtool")
            .args(["query", "instant", "--time", "10"])
            .arg(format!("https://{user}@127.0.0.1:{}", srv.port))
            .arg("up")
            .env("SSL_CERT_FILE", srv.dir.join("ca.pem"))
            .output()
            .expect("run promtool")
    };
    let out = promtool("alice:secret");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "promtool: {text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(text.trim(), "up{job=\"x\"} => 1 @[10]");
    let out = promtool("alice:wrong");
    assert!(!out.status.success(), "promtool with a wrong password");
}

#[test]
fn client_certificates_required_or_optional() {
    if !tools("client_certificates_required_or_optional") {
        return;
    }
    let pki = Pki::generate();
    let good = client(&pki.client_cert, &pki.client_key);
    let rogue = client(&pki.rogue_cert, &pki.rogue_key);
    let srv = start(
        "serve-tls-mtls",
        &pki,
        "  cert_file: server.crt\n  key_file: server.key\n  client_ca_file: ca.pem\n  client_auth_type: RequireAndVerifyClientCert\n",
        false,
    );
    let mut args = vec!["--cacert", "ca.pem"];
    args.extend(strs(&good));
    let (ok, code, body) = curl(&srv, Q, &args);
    assert!(ok && code == "200", "{code} {body}");
    let (ok, _, _) = curl(&srv, Q, &["--cacert", "ca.pem"]);
    assert!(!ok, "no client certificate was accepted");
    let mut args = vec!["--cacert", "ca.pem"];
    args.extend(strs(&rogue));
    let (ok, _, _) = curl(&srv, Q, &args);
    assert!(!ok, "a certificate from another CA was accepted");
    drop(srv);

    let srv = start(
        "serve-tls-optional",
        &pki,
        "  cert_file: server.crt\n  key_file: server.key\n  client_ca_file: ca.pem\n  client_auth_type: VerifyClientCertIfGiven\n",
        false,
    );
    let (ok, code, _) = curl(&srv, Q, &["--cacert", "ca.pem"]);
    assert!(ok && code == "200", "no certificate is fine here: {code}");
    let mut args = vec!["--cacert", "ca.pem"];
    args.extend(strs(&good));
    let (ok, code, _) = curl(&srv, Q, &args);
    assert!(ok && code == "200", "{code}");
    let mut args = vec!["--cacert", "ca.pem"];
    args.extend(strs(&rogue));
    let (ok, _, _) = curl(&srv, Q, &args);
    assert!(!ok, "a certificate that is given must verify");
}

#[test]
fn bad_web_config_fails_at_start_with_a_clear_message() {
    let dir = temp_dir("serve-webcfg-bad");
    std::fs::write(dir.join("data.prom"), "up 1 0\n").unwrap();
    std::fs::write(
        dir.join("web.yml"),
        "tls_server_config:\n  cert_file: missing.crt\n  key_file: missing.key\n",
    )
    .unwrap();
    let out = Command::new(crate::serve_limits::bin())
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data",
            "data.prom",
            "--web.config.file",
            "web.yml",
        ])
        .current_dir(&dir)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("missing.crt"), "{err}");
}
