//! A fake Kubernetes API server for the discovery tests: HTTPS on loopback with a
//! throwaway CA (rcgen, rustls on ring), a bearer token check, and a script of
//! replies per (path, list-or-watch). A watch reply is a chunked body fed line by
//! line by the test through a channel, so the test decides when each event arrives.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// What one watch connection is told to do next.
#[derive(Debug)]
pub enum Chunk {
    /// One line of the stream (a newline is appended).
    Line(String),
    /// Cut the TCP connection without ending the body.
    Drop,
}

/// One scripted reply.
#[derive(Debug)]
pub enum Reply {
    /// A complete response.
    Full(u16, String),
    /// A watch stream: lines as they come from the channel; the body ends when the
    /// sender is dropped.
    Stream(Receiver<Chunk>),
}

/// The test's handle on an open watch stream.
#[derive(Debug)]
pub struct Feed(Sender<Chunk>);

impl Feed {
    /// Sends one watch event line.
    pub fn send(&self, line: impl Into<String>) {
        let _ = self.0.send(Chunk::Line(line.into()));
    }
    /// Cuts the connection.
    pub fn cut(self) {
        let _ = self.0.send(Chunk::Drop);
    }
}

/// A watch reply and the feed that drives it.
pub fn stream() -> (Reply, Feed) {
    let (tx, rx) = mpsc::channel();
    (Reply::Stream(rx), Feed(tx))
}

/// A watch event line (the object's line breaks removed: one event, one line, as
/// the API server writes them).
pub fn event(kind: &str, object: &str) -> String {
    let object = object.replace('\n', "");
    format!(r#"{{"type":"{kind}","object":{object}}}"#)
}

/// A `List` body.
pub fn list(kind: &str, rv: &str, cont: &str, items: &[&str]) -> String {
    format!(
        r#"{{"kind":"{kind}","apiVersion":"v1","metadata":{{"resourceVersion":"{rv}","continue":"{cont}"}},"items":[{}]}}"#,
        items.join(",")
    )
}

/// A `Status` body.
pub fn status(code: u16, reason: &str, msg: &str) -> String {
    format!(
        r#"{{"kind":"Status","apiVersion":"v1","status":"Failure","message":"{msg}","reason":"{reason}","code":{code}}}"#
    )
}

#[derive(Default)]
struct Script {
    replies: HashMap<(String, bool), VecDeque<Reply>>,
}

/// The running fake API server; stops when dropped.
pub struct FakeApi {
    pub port: u16,
    /// The CA certificate (PEM) that signed the server certificate.
    pub ca_file: PathBuf,
    /// A file holding the expected bearer token.
    pub token_file: PathBuf,
    pub dir: PathBuf,
    script: Arc<Mutex<Script>>,
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

static DIRS: AtomicUsize = AtomicUsize::new(0);

impl FakeApi {
    /// Starts a server accepting `Authorization: Bearer <token>` only.
    pub fn start(token: &str) -> FakeApi {
        let n = DIRS.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("promlite-k8s-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();

        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.distinguished_name
            .push(DnType::CommonName, "fake kubernetes CA");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca, ca_key);
        let key = KeyPair::generate().unwrap();
        let mut sp = CertificateParams::new(vec!["kubernetes.default.svc".to_string()]).unwrap();
        sp.subject_alt_names
            .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
        let cert = sp.signed_by(&key, &issuer).unwrap();
        let ca_file = dir.join("ca.crt");
        std::fs::write(&ca_file, ca_cert.pem()).unwrap();
        let token_file = dir.join("token");
        std::fs::write(&token_file, format!("{token}\n")).unwrap();

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = Arc::new(
            rustls::ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(
                    vec![CertificateDer::from(cert.der().to_vec())],
                    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
                )
                .unwrap(),
        );

        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let script = Arc::new(Mutex::new(Script::default()));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, r, st) = (script.clone(), requests.clone(), stop.clone());
        let want = format!("Bearer {token}");
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (tls, s, r, st, want) =
                    (tls.clone(), s.clone(), r.clone(), st.clone(), want.clone());
                std::thread::spawn(move || {
                    let _ = serve(conn, tls, &s, &r, &st, &want);
                });
            }
        });
        FakeApi {
            port,
            ca_file,
            token_file,
            dir,
            script,
            requests,
            stop,
        }
    }

    /// `https://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// Queues the next reply to a list (`watch = false`) or watch of `path`
    /// (`/api/v1/pods`, `/api/v1/namespaces/default/endpoints`, ...).
    pub fn push(&self, path: &str, watch: bool, reply: Reply) {
        self.script
            .lock()
            .unwrap()
            .replies
            .entry((path.to_string(), watch))
            .or_default()
            .push_back(reply);
    }

    /// Every request path (with query) so far, in order.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    /// Waits until `n` requests were made; panics after 10 s.
    pub fn wait_requests(&self, n: usize) {
        for _ in 0..1000 {
            if self.requests.lock().unwrap().len() >= n {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("expected {n} requests, got {:?}", self.requests());
    }
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn serve(
    conn: TcpStream,
    tls: Arc<rustls::ServerConfig>,
    script: &Mutex<Script>,
    requests: &Mutex<Vec<String>>,
    stop: &AtomicBool,
    want: &str,
) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let tcp = conn.try_clone()?;
    let sc = rustls::ServerConnection::new(tls).map_err(std::io::Error::other)?;
    let mut s = rustls::StreamOwned::new(sc, conn);
    let mut r = BufReader::new(&mut s);
    let mut line = String::new();
    r.read_line(&mut line)?;
    let target = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut auth = String::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((n, v)) = h.split_once(':') {
            if n.eq_ignore_ascii_case("authorization") {
                auth = v.trim().to_string();
            }
        }
    }
    drop(r);
    requests.lock().unwrap().push(target.clone());
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let watch = query.split('&').any(|kv| kv == "watch=1");
    let reply = if auth != want {
        Reply::Full(401, status(401, "Unauthorized", "Unauthorized"))
    } else {
        let next = script
            .lock()
            .unwrap()
            .replies
            .get_mut(&(path.to_string(), watch))
            .and_then(VecDeque::pop_front);
        next.unwrap_or_else(|| {
            Reply::Full(503, status(503, "ServiceUnavailable", "no scripted reply"))
        })
    };
    match reply {
        Reply::Full(code, body) => {
            write!(
                s,
                "HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )?;
            s.conn.send_close_notify();
            s.flush()
        }
        Reply::Stream(rx) => {
            write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            )?;
            s.flush()?;
            loop {
                match rx.recv_timeout(Duration::from_millis(50)) {
                    Ok(Chunk::Line(l)) => {
                        let data = format!("{l}\n");
                        write!(s, "{:x}\r\n{data}\r\n", data.len())?;
                        s.flush()?;
                    }
                    Ok(Chunk::Drop) => {
                        // A connection lost mid-body: no last chunk, no close_notify.
                        return tcp.shutdown(Shutdown::Both);
                    }
                    Err(RecvTimeoutError::Timeout) if !stop.load(Ordering::Relaxed) => {}
                    Err(_) => break,
                }
            }
            write!(s, "0\r\n\r\n")?;
            s.conn.send_close_notify();
            s.flush()
        }
    }
}
