//! [`DiscoveryError`].

use std::path::PathBuf;

/// Why discovery could not start, or why one request to the API server failed.
///
/// After a successful start, request errors do not stop discovery: they are counted
/// and kept in [`crate::DiscoveryStats`], and the request is retried with backoff.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// The options are invalid or incomplete.
    #[error("kubernetes_sd_config: {0}")]
    Config(String),
    /// A credential or certificate file could not be read or parsed.
    #[error("kubernetes_sd_config: {what} {}: {msg}", path.display())]
    File {
        /// Which file (`CA file`, `bearer token file`, ...).
        what: &'static str,
        /// Its path.
        path: PathBuf,
        /// What went wrong.
        msg: String,
    },
    /// The request did not complete (connection refused, TLS handshake, timeout,
    /// connection dropped).
    #[error("{url}: {msg}")]
    Transport {
        /// The request URL.
        url: String,
        /// What went wrong.
        msg: String,
    },
    /// The API server answered with an error status.
    #[error("{url}: HTTP {status}: {msg}")]
    Status {
        /// The request URL.
        url: String,
        /// The HTTP status (or a watch ERROR event's `code`).
        status: u16,
        /// The `Status` message from the server, or the start of its body.
        msg: String,
    },
    /// The resource version is too old to watch from (`410 Gone`): a relist follows.
    #[error("{url}: resource version expired (410 Gone): {msg}")]
    Gone {
        /// The request URL.
        url: String,
        /// The server's message.
        msg: String,
    },
    /// A response or watch event is not the JSON expected.
    #[error("{url}: {what}: invalid JSON at line {line}, column {column}: {msg}")]
    Decode {
        /// The request URL.
        url: String,
        /// What was being decoded (`pod list`, `watch event 3`, ...).
        what: String,
        /// 1-based line within the list body or the watch event.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the decoder said.
        msg: String,
    },
}
