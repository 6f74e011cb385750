//! The HTTP side of `promlite serve`: hyper 1 (HTTP/1.1) on a small tokio runtime
//! that only the CLI uses; the engine and the store stay synchronous and run on a
//! bounded pool of blocking threads.
//!
//! Defences, each with a flag in [`ServeLimits`]:
//! - at most `max_connections` open connections (the accept loop waits for a free
//!   slot, so more wait in the kernel's queue, as Prometheus's limit listener does);
//! - request line plus headers capped (`431` and close), the request's headers and
//!   body must arrive within the read timeout, an idle keep-alive connection is
//!   closed after it, and a write that makes no progress for the write timeout
//!   closes the connection;
//! - the body is read through a length limit (`413` before reading when
//!   `Content-Length` says it is too big; nothing is allocated from that header);
//! - queries run on at most `max_concurrency` blocking threads; up to `max_queue`
//!   more wait (at most the query timeout), any further one is refused at once with
//!   `503`;
//! - when the client goes away, hyper drops the request's future and the query's
//!   cancel flag is set, so the engine stops at its next check;
//! - TCP_NODELAY on every socket (no delayed-ACK stall on keep-alive answers).

use std::convert::Infallible;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::api;
use super::limits::ServeLimits;
use super::stats::{handler_of, ServerStats};
use super::webconfig::WebConfig;

/// Everything a connection needs.
#[derive(Debug)]
pub struct Server {
    /// The API state (store, engine settings, counters).
    pub state: Arc<api::State>,
    /// The limits.
    pub limits: ServeLimits,
    /// TLS and basic auth.
    pub web: WebConfig,
    slots: Arc<Semaphore>,
    waiting: AtomicUsize,
}

impl Server {
    /// A server over `state`.
    pub fn new(state: Arc<api::State>, limits: ServeLimits, web: WebConfig) -> Server {
        Server {
            slots: Arc::new(Semaphore::new(limits.max_concurrency)),
            waiting: AtomicUsize::new(0),
            state,
            limits,
            web,
        }
    }

    fn stats(&self) -> &ServerStats {
        self.state.server_stats()
    }
}

/// Serves `listener` until the process ends.
///
/// # Errors
/// When the runtime cannot be built or the listener cannot be registered with it.
pub fn run(listener: std::net::TcpListener, server: Server) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(server.limits.max_concurrency + 8)
        .thread_name("promlite-http")
        .enable_all()
        .build()
        .map_err(|e| format!("starting the HTTP runtime: {e}"))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("listener: {e}"))?;
    let server = Arc::new(server);
    rt.block_on(async move {
        let listener =
            tokio::net::TcpListener::from_std(listener).map_err(|e| format!("listener: {e}"))?;
        let conns = Arc::new(Semaphore::new(server.limits.max_connections));
        loop {
            let Ok(permit) = Arc::clone(&conns).acquire_owned().await else {
                return Ok(());
            };
            let tcp = match listener.accept().await {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    eprintln!("promlite serve: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            let server = Arc::clone(&server);
            tokio::spawn(async move {
                let stats = server.stats();
                stats.connections_total.fetch_add(1, Ordering::Relaxed);
                stats.connections_open.fetch_add(1, Ordering::Relaxed);
                connection(tcp, &server).await;
                server
                    .stats()
                    .connections_open
                    .fetch_sub(1, Ordering::Relaxed);
                drop(permit);
            });
        }
    })
}

async fn connection(tcp: tokio::net::TcpStream, server: &Arc<Server>) {
    let mut io = tokio_io_timeout::TimeoutStream::new(tcp);
    io.set_write_timeout(Some(server.limits.write_timeout));
    let io = Box::pin(io);
    match &server.web.tls {
        Some(tls) => {
            let acceptor = tokio_rustls::TlsAcceptor::from(Arc::clone(tls));
            // A failed or slow handshake just closes the connection.
            let handshake = tokio::time::timeout(server.limits.read_timeout, acceptor.accept(io));
            if let Ok(Ok(s)) = handshake.await {
                http(s, server).await;
            }
        }
        None => http(io, server).await,
    }
}

async fn http<I>(io: I, server: &Arc<Server>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let svc_server = Arc::clone(server);
    let svc = hyper::service::service_fn(move |req| {
        let server = Arc::clone(&svc_server);
        async move { Ok::<_, Infallible>(respond(req, &server).await) }
    });
    let l = &server.limits;
    let mut b = hyper::server::conn::http1::Builder::new();
    b.timer(TokioTimer::new())
        // hyper starts this timer whenever it waits for a request's head, so it
        // also closes idle keep-alive connections.
        .header_read_timeout(l.read_timeout)
        .max_header_size(l.max_header_bytes)
        .max_buf_size(l.max_header_bytes.max(8192) + 8192);
    let _ = b.serve_connection(TokioIo::new(io), svc).await;
}

type Body = Full<Bytes>;

fn plain(status: u16, text: &str) -> Response<Body> {
    to_hyper(api::Response {
        status,
        content_type: "text/plain; charset=utf-8",
        body: text.as_bytes().to_vec(),
    })
}

fn to_hyper(r: api::Response) -> Response<Body> {
    let mut out = Response::new(Full::new(Bytes::from(r.body)));
    *out.status_mut() =
        hyper::StatusCode::from_u16(r.status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    out.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(r.content_type));
    out
}

async fn respond(req: Request<Incoming>, server: &Arc<Server>) -> Response<Body> {
    let handler = handler_of(req.uri().path());
    let resp = respond_inner(req, server).await;
    server.stats().record(handler, resp.status().as_u16());
    resp
}

/// True for the endpoints that read the store or run the engine.
fn is_heavy(path: &str) -> bool {
    matches!(
        path,
        "/api/v1/query"
            | "/api/v1/query_range"
            | "/api/v1/series"
            | "/api/v1/labels"
            | "/api/v1/write"
    ) || path.starts_with("/api/v1/label/")
}

async fn respond_inner(req: Request<Incoming>, server: &Arc<Server>) -> Response<Body> {
    let l = &server.limits;
    if server.web.auth.is_some() {
        let header = req
            .headers()
            .get(hyper::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let srv = Arc::clone(server);
        // bcrypt takes tens of milliseconds: keep it off the I/O threads.
        let ok = tokio::task::spawn_blocking(move || {
            srv.web
                .auth
                .as_ref()
                .is_some_and(|a| a.check(header.as_deref()))
        })
        .await
        .unwrap_or(false);
        if !ok {
            server.stats().auth_failures.fetch_add(1, Ordering::Relaxed);
            let mut r = plain(401, "Unauthorized\n");
            r.headers_mut().insert(
                hyper::header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic"),
            );
            return r;
        }
    }
    let method = req.method().as_str().to_ascii_uppercase();
    let url = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.uri().path().to_string(), |p| p.as_str().to_string());
    let path = req.uri().path().to_string();
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let content_encoding = req
        .headers()
        .get(hyper::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let mut body = Vec::new();
    if method == "POST" {
        let max = super::remote::body_cap(&server.state, &path, l.max_body_bytes);
        let declared = req
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > max as u64) {
            return to_hyper(api::Response::too_large(max as u64));
        }
        let read = Limited::new(req.into_body(), max).collect();
        match tokio::time::timeout(l.read_timeout, read).await {
            Ok(Ok(b)) => body = b.to_bytes().to_vec(),
            Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => {
                return to_hyper(api::Response::too_large(max as u64))
            }
            Ok(Err(e)) => {
                return to_hyper(api::Response::error(
                    400,
                    "bad_data",
                    &format!("reading the body: {e}"),
                ))
            }
            Err(_) => return plain(408, "request body not received within --web.read-timeout\n"),
        }
    }
    let work = Work {
        method,
        url,
        content_type,
        content_encoding,
        body,
    };
    if !is_heavy(&path) {
        // Cheap answers (ready, buildinfo, metadata, /metrics) do not queue, so
        // that an operator can look at a server whose query slots are all busy.
        return to_hyper(work.run(&server.state));
    }
    let permit = match enter(server).await {
        Ok(p) => p,
        Err(r) => return to_hyper(r),
    };
    let cancel = Arc::new(AtomicBool::new(false));
    let mut guard = CancelOnDrop {
        flag: Arc::clone(&cancel),
        server: Arc::clone(server),
        armed: true,
    };
    let srv = Arc::clone(server);
    let task = tokio::task::spawn_blocking(move || {
        lower_priority();
        let stats = srv.stats();
        stats.queries_running.fetch_add(1, Ordering::Relaxed);
        let r = std::panic::catch_unwind(AssertUnwindSafe(|| {
            crate::eval::engine::with_cancel(cancel, || work.run(&srv.state))
        }));
        stats.queries_running.fetch_sub(1, Ordering::Relaxed);
        drop(permit);
        r
    });
    let r = task.await;
    guard.armed = false;
    match r {
        Ok(Ok(resp)) => {
            if resp.status == 503 && contains(&resp.body, b"\"errorType\":\"timeout\"") {
                server
                    .stats()
                    .query_timeouts
                    .fetch_add(1, Ordering::Relaxed);
            }
            to_hyper(resp)
        }
        _ => to_hyper(api::Response::error(
            500,
            "internal",
            "internal error while answering",
        )),
    }
}

/// Lowers the calling blocking-pool thread's priority to nice 10, once per thread
/// (an unprivileged process cannot raise it again, and need not: these threads only
/// run queries). The HTTP threads keep nice 0, so the kernel runs them first when a
/// request arrives while every query slot burns CPU.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        thread_local!(static LOWERED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) });
        LOWERED.with(|l| {
            if !l.get() {
                l.set(true);
                let tid = rustix::thread::gettid();
                let _ = rustix::process::setpriority_process(Some(tid), 10);
            }
        });
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.len() < 4096 && hay.windows(needle.len()).any(|w| w == needle)
}

/// A request, read, to be answered on a blocking thread.
struct Work {
    method: String,
    url: String,
    content_type: String,
    content_encoding: String,
    body: Vec<u8>,
}

impl Work {
    fn run(&self, state: &api::State) -> api::Response {
        api::handle(
            state,
            &api::Request {
                method: &self.method,
                url: &self.url,
                content_type: &self.content_type,
                content_encoding: &self.content_encoding,
                body: &self.body,
                now_ms: api::now_ms(),
            },
        )
    }
}

/// Sets the query's cancel flag when the request's future is dropped before the
/// answer is ready (hyper drops it when the client closes the connection).
struct CancelOnDrop {
    flag: Arc<AtomicBool>,
    server: Arc<Server>,
    armed: bool,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if self.armed {
            self.flag.store(true, Ordering::Relaxed);
            self.server
                .stats()
                .queries_canceled
                .fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Decrements the waiting count however the wait ends (a dropped future too).
struct Waiting<'a>(&'a Server);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::Relaxed);
        self.0
            .stats()
            .queries_queued
            .fetch_sub(1, Ordering::Relaxed);
    }
}

/// Takes a query slot: at once when one is free, else after waiting in the queue
/// (at most the query timeout); a full queue is refused at once.
async fn enter(server: &Server) -> Result<OwnedSemaphorePermit, api::Response> {
    if let Ok(p) = Arc::clone(&server.slots).try_acquire_owned() {
        return Ok(p);
    }
    if server.waiting.fetch_add(1, Ordering::Relaxed) >= server.limits.max_queue {
        server.waiting.fetch_sub(1, Ordering::Relaxed);
        server
            .stats()
            .queries_rejected
            .fetch_add(1, Ordering::Relaxed);
        return Err(api::Response::error(
            503,
            "unavailable",
            "too many queries waiting (--query.max-concurrency running, --query.max-queue waiting)",
        ));
    }
    server
        .stats()
        .queries_queued
        .fetch_add(1, Ordering::Relaxed);
    let _w = Waiting(server);
    let wait = server.limits.query_timeout;
    match tokio::time::timeout(wait, Arc::clone(&server.slots).acquire_owned()).await {
        Ok(Ok(p)) => Ok(p),
        Ok(Err(_)) => Err(api::Response::error(
            503,
            "unavailable",
            "server is stopping",
        )),
        Err(_) => {
            server
                .stats()
                .query_timeouts
                .fetch_add(1, Ordering::Relaxed);
            Err(api::Response::error(
                503,
                "timeout",
                "query timed out in query queue",
            ))
        }
    }
}
