//! Prometheus remote_write 1.0 for promlite: a sender with a durable on-disk
//! outbox, and a receiver.
//!
//! * **Sender.** [`RemoteWriter`] is a [`CommitObserver`](promlite_store::CommitObserver):
//!   installed on a store, it sees every committed sample (scrapes, their
//!   staleness markers as Prometheus's stale NaN, batches), writes it to the
//!   outbox before the commit returns, and a background thread sends the
//!   outbox in order as snappy-compressed protobuf `WriteRequest`s, sharded
//!   by series (order kept per series), retrying 5xx, 429 and network errors
//!   with exponential backoff and jitter (honouring `Retry-After`), dropping
//!   and counting what other 4xx answers refuse. Configured by
//!   [`RemoteWriteConfig`], the `remote_write:` entry of prometheus.yml.
//! * **Outbox.** See [`outbox`](OutboxConfig) for the segment format, the
//!   fsync policy ([`FsyncPolicy`]) and the disk cap.
//! * **Receiver.** [`handle_write`] turns a `POST /api/v1/write` body into
//!   store appends and the status code to answer.
//!
//! ```
//! use promlite_remote::{handle_write, OutboxConfig, RemoteWriteConfig, RemoteWriter};
//! use promlite_store::{Format, Store, StoreConfig, Target};
//!
//! // A sender whose receiver is down (nothing listens on port 9): samples
//! // wait in the outbox.
//! let dir = std::env::temp_dir().join(format!("promlite-remote-doc-{}", std::process::id()));
//! let _ = std::fs::remove_dir_all(&dir);
//! let cfg = RemoteWriteConfig::new("http://127.0.0.1:9/api/v1/write");
//! let writer = RemoteWriter::start(cfg, OutboxConfig::new(&dir), None)?;
//! let store = Store::new(StoreConfig::default());
//! store.set_commit_observer(writer.observer()).ok();
//! let target = Target::from_pairs([("job", "demo")]);
//! store.ingest_scrape(&target, b"up 1\n", Format::Text, 1_000)?;
//! assert_eq!(writer.metrics().samples_in, 1);
//! drop(writer);
//! std::fs::remove_dir_all(&dir)?;
//!
//! // The receiver side: a bad body is a 400 with the reason.
//! let r = handle_write(&store, b"junk", Some("snappy"), Some("application/x-protobuf"));
//! assert_eq!(r.status, 400);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(missing_debug_implementations)]

mod client;
mod config;
mod metrics;
mod outbox;
pub mod proto;
mod receiver;
mod sender;

pub use config::{
    parse_duration, Authorization, BasicAuth, QueueConfig, RemoteWriteConfig, TlsConfig,
};
pub use metrics::Metrics;
pub use outbox::{FsyncPolicy, OpenReport, OutboxConfig};
pub use proto::{decode_write_request, encode_write_request, DecodeError, MAX_DECODED_BYTES};
pub use receiver::{handle_write, WriteResponse};
pub use sender::{Fanout, RemoteWriter, WriteRelabel};

/// Why a [`RemoteWriter`] could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The configuration cannot work.
    #[error("remote_write: {0}")]
    Config(String),
    /// The outbox directory cannot be used.
    #[error("remote_write outbox {0}: {1}")]
    Outbox(String, #[source] std::io::Error),
}
