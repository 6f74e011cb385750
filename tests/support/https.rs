//! A tiny in-process HTTP/1.1 server over TLS (rustls, ring provider) or plain TCP,
//! with a throwaway PKI made by rcgen: a CA, a server certificate for 127.0.0.1 and
//! localhost, a client certificate signed by the CA, and one signed by nobody.
//!
//! One thread accepts; each connection gets a thread that reads one request, asks the
//! handler for the answer and closes. Good enough for scrapes; not a web server.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// PEM files of a throwaway PKI, written into a fresh directory.
#[derive(Debug, Clone)]
pub struct Pki {
    pub dir: PathBuf,
    pub ca_pem: PathBuf,
    pub server_cert_der: Vec<u8>,
    pub server_key_der: Vec<u8>,
    pub ca_der: Vec<u8>,
    /// Client certificate and key signed by the CA.
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    /// A self-signed client certificate the server does not trust.
    pub rogue_cert: PathBuf,
    pub rogue_key: PathBuf,
}

static DIRS: AtomicUsize = AtomicUsize::new(0);

/// A fresh empty directory under the system temp dir.
pub fn temp_dir(tag: &str) -> PathBuf {
    let n = DIRS.fetch_add(1, Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("promlite-test-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

impl Pki {
    pub fn generate() -> Pki {
        let dir = temp_dir("pki");
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "promlite test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate().unwrap();
        let mut sp = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        sp.subject_alt_names
            .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
        sp.distinguished_name.push(DnType::CommonName, "127.0.0.1");
        sp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_cert = sp.signed_by(&server_key, &issuer).unwrap();

        let client_key = KeyPair::generate().unwrap();
        let mut cp = CertificateParams::new(Vec::<String>::new()).unwrap();
        cp.distinguished_name
            .push(DnType::CommonName, "system:kube-controller-manager-scraper");
        cp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client_cert = cp.signed_by(&client_key, &issuer).unwrap();

        let rogue_key = KeyPair::generate().unwrap();
        let mut rp = CertificateParams::new(Vec::<String>::new()).unwrap();
        rp.distinguished_name.push(DnType::CommonName, "rogue");
        rp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let rogue_cert = rp.self_signed(&rogue_key).unwrap();

        let write = |name: &str, text: String| {
            let p = dir.join(name);
            std::fs::write(&p, text).unwrap();
            p
        };
        Pki {
            ca_pem: write("ca.pem", ca_cert.pem()),
            ca_der: ca_cert.der().to_vec(),
            server_cert_der: server_cert.der().to_vec(),
            server_key_der: server_key.serialize_der(),
            client_cert: write("client.pem", client_cert.pem()),
            client_key: write("client-key.pem", client_key.serialize_pem()),
            rogue_cert: write("rogue.pem", rogue_cert.pem()),
            rogue_key: write("rogue-key.pem", rogue_key.serialize_pem()),
            dir,
        }
    }

    /// A rustls server config with this PKI's server certificate; with
    /// `require_client_cert`, clients must present a certificate signed by the CA.
    pub fn server_config(&self, require_client_cert: bool) -> Arc<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap();
        let builder = if require_client_cert {
            let mut roots = rustls::RootCertStore::empty();
            roots
                .add(CertificateDer::from(self.ca_der.clone()))
                .unwrap();
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .unwrap();
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let cfg = builder
            .with_single_cert(
                vec![CertificateDer::from(self.server_cert_der.clone())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server_key_der.clone())),
            )
            .unwrap();
        Arc::new(cfg)
    }
}

/// One request as the handler sees it.
#[derive(Debug, Clone)]
pub struct Req {
    pub path: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
}

impl Req {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The handler's answer.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
    /// More response headers (such as `Content-Encoding`).
    pub headers: Vec<(String, String)>,
}

impl Resp {
    pub fn text(body: Vec<u8>) -> Resp {
        Resp {
            status: 200,
            content_type: "text/plain; version=0.0.4; charset=utf-8".to_string(),
            body,
            headers: Vec::new(),
        }
    }

    pub fn status(status: u16, msg: &str) -> Resp {
        Resp {
            status,
            content_type: "text/plain; charset=utf-8".to_string(),
            body: msg.as_bytes().to_vec(),
            headers: Vec::new(),
        }
    }
}

pub type Handler = Arc<dyn Fn(&Req) -> Resp + Send + Sync>;

/// A running server; stops accepting when dropped.
pub struct Server {
    pub port: u16,
    stop: Arc<AtomicBool>,
    /// Requests answered so far.
    pub hits: Arc<AtomicUsize>,
}

impl Server {
    /// Serves `handler` on a fresh loopback port, over TLS when `tls` is given.
    pub fn start(tls: Option<Arc<rustls::ServerConfig>>, handler: Handler) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let hits = Arc::new(AtomicUsize::new(0));
        let (s, h) = (stop.clone(), hits.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (tls, handler, hits) = (tls.clone(), handler.clone(), h.clone());
                std::thread::spawn(move || {
                    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
                    let _ = serve_one(conn, tls, &handler, &hits);
                });
            }
        });
        Server { port, stop, hits }
    }

    /// A server that accepts connections and never answers.
    pub fn hanging() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for conn in listener.incoming() {
                if s.load(Ordering::Relaxed) {
                    break;
                }
                held.push(conn);
            }
        });
        Server {
            port,
            stop,
            hits: Arc::new(AtomicUsize::new(0)),
        }
    }

    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://127.0.0.1:{}/metrics", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve_one(
    conn: TcpStream,
    tls: Option<Arc<rustls::ServerConfig>>,
    handler: &Handler,
    hits: &AtomicUsize,
) -> std::io::Result<()> {
    match tls {
        Some(cfg) => {
            let sc = rustls::ServerConnection::new(cfg).map_err(std::io::Error::other)?;
            let mut s = rustls::StreamOwned::new(sc, conn);
            exchange(&mut s, handler, hits)?;
            s.conn.send_close_notify();
            s.flush()
        }
        None => {
            let mut c = conn;
            exchange(&mut c, handler, hits)
        }
    }
}

fn exchange<S: Read + Write>(
    s: &mut S,
    handler: &Handler,
    hits: &AtomicUsize,
) -> std::io::Result<()> {
    let mut r = BufReader::new(&mut *s);
    let mut line = String::new();
    r.read_line(&mut line)?;
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h)? == 0 {
            break;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((n, v)) = h.split_once(':') {
            headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    drop(r);
    let resp = handler(&Req { path, headers });
    hits.fetch_add(1, Ordering::Relaxed);
    let extra: String = resp
        .headers
        .iter()
        .map(|(n, v)| format!("{n}: {v}\r\n"))
        .collect();
    let head = format!(
        "HTTP/1.1 {} X\r\nContent-Type: {}\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n",
        resp.status,
        resp.content_type,
        resp.body.len()
    );
    s.write_all(head.as_bytes())?;
    s.write_all(&resp.body)?;
    s.flush()
}

/// Writes `text` to `path` (helper for token files).
pub fn write_file(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}
