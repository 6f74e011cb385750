//! remote_write in `promlite serve`: `--remote-write.url URL...` start
//! [`RemoteWriter`]s (one outbox directory each under `--remote-write.outbox`)
//! fed by the served store's commit observer, several through a [`Fanout`];
//! their `prometheus_remote_storage_*` metrics join `/metrics`. With
//! `--web.enable-remote-write-receiver` (Prometheus's flag), `POST
//! /api/v1/write` appends pushed samples to the store.

use std::sync::Arc;

use promlite_remote::{handle_write, Fanout, OutboxConfig, RemoteWriteConfig, RemoteWriter};

use super::api::{Request, Response};

/// Default cap of a remote-write request body (snappy-compressed), 32 MiB;
/// the decoder separately caps the decompressed size.
pub const DEFAULT_MAX_WRITE_BODY: usize = 32 << 20;

/// The flags' help text.
pub const FLAGS_HELP: &str = "\
remote_write flags:
  --remote-write.url URL...   send every committed sample to these remote_write 1.0
                              receivers (Prometheus, VictoriaMetrics, Mimir, promlite)
  --remote-write.outbox DIR   on-disk outbox of the senders (default
                              ./promlite-outbox; one subdirectory per URL)
  --web.enable-remote-write-receiver
                              accept pushes on POST /api/v1/write
  --web.max-remote-write-body-bytes N
                              cap of a remote-write body (default 32MiB; the form
                              body cap --web.max-body-bytes does not apply to it)";

/// What the remote_write flags asked for.
#[derive(Debug)]
pub struct RemoteArgs {
    urls: Vec<String>,
    /// `remote_write:` entries of `--config`, sent to besides the URLs.
    pub(super) configs: Vec<RemoteWriteConfig>,
    outbox: String,
    /// Whether `POST /api/v1/write` is served.
    pub receiver: bool,
    /// Cap of a remote-write body in bytes.
    pub max_body: usize,
}

impl Default for RemoteArgs {
    fn default() -> Self {
        RemoteArgs {
            urls: Vec::new(),
            configs: Vec::new(),
            outbox: "promlite-outbox".into(),
            receiver: false,
            max_body: DEFAULT_MAX_WRITE_BODY,
        }
    }
}

impl RemoteArgs {
    /// Whether `flag` (without `--`) is one of these.
    pub fn is_flag(flag: &str) -> bool {
        matches!(
            flag,
            "remote-write.url"
                | "remote-write.outbox"
                | "web.enable-remote-write-receiver"
                | "web.max-remote-write-body-bytes"
        )
    }

    /// Reads the value(s) of `flag`.
    ///
    /// # Errors
    /// A missing or bad value.
    pub fn take(&mut self, flag: &str, p: &mut lexopt::Parser) -> Result<(), String> {
        let utf8 = |v: std::ffi::OsString| {
            v.into_string()
                .map_err(|_| format!("--{flag}: value is not UTF-8"))
        };
        match flag {
            "remote-write.url" => {
                for v in p.values().map_err(|e| e.to_string())? {
                    self.urls.push(utf8(v)?);
                }
            }
            "remote-write.outbox" => self.outbox = utf8(p.value().map_err(|e| e.to_string())?)?,
            "web.enable-remote-write-receiver" => self.receiver = true,
            _ => {
                let v = utf8(p.value().map_err(|e| e.to_string())?)?;
                self.max_body = super::limits::parse_bytes(&v)
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("bad --{flag} {v:?}"))?;
            }
        }
        Ok(())
    }

    /// Starts one writer per URL and installs them on `store`.
    ///
    /// # Errors
    /// A bad URL or an outbox directory that cannot be used.
    pub fn start(&self, store: &promlite::store::Store) -> Result<Vec<Arc<RemoteWriter>>, String> {
        let mut writers = Vec::new();
        let configs = self.urls.iter().map(|u| RemoteWriteConfig::new(u.clone()));
        for (i, cfg) in configs.chain(self.configs.iter().cloned()).enumerate() {
            let dir = std::path::Path::new(&self.outbox).join(format!("{i}"));
            let url = cfg.url.clone();
            let w = RemoteWriter::start(cfg, OutboxConfig::new(dir), None)
                .map_err(|e| format!("remote write to {url}: {e}"))?;
            let report = w.open_report();
            if report.resent_samples > 0 {
                eprintln!(
                    "promlite serve: {url}: {} samples from the outbox are sent again",
                    report.resent_samples
                );
            }
            writers.push(Arc::new(w));
        }
        let obs: Option<Arc<dyn promlite::store::CommitObserver>> = match writers.len() {
            0 => None,
            1 => Some(writers[0].observer()),
            _ => Some(Arc::new(Fanout(
                writers.iter().map(|w| w.observer()).collect(),
            ))),
        };
        if let Some(o) = obs {
            store
                .set_commit_observer(o)
                .map_err(|_| "the store already has a commit observer".to_string())?;
        }
        Ok(writers)
    }
}

/// Answers `POST /api/v1/write` when the receiver is on; `None` for other
/// paths. Off, the route is a 404 as in Prometheus without the flag.
pub fn route(
    store: &promlite::store::Store,
    receiver: bool,
    req: &Request<'_>,
    path: &str,
) -> Option<Response> {
    if path != "/api/v1/write" {
        return None;
    }
    if !receiver {
        return Some(Response::plain(
            404,
            "remote write receiver needs to be enabled with --web.enable-remote-write-receiver\n",
        ));
    }
    if req.method != "POST" {
        return Some(Response::plain(405, "Method Not Allowed\n"));
    }
    fn opt(s: &str) -> Option<&str> {
        (!s.is_empty()).then_some(s)
    }
    let w = handle_write(
        store,
        req.body,
        opt(req.content_encoding),
        opt(req.content_type),
    );
    let mut body = w.body;
    if !body.is_empty() && !body.ends_with('\n') {
        body.push('\n');
    }
    Some(Response::plain(w.status, &body))
}

/// The body cap of a POST to `path`: the remote-write cap for an enabled
/// `/api/v1/write`, else `form_cap` (`--web.max-body-bytes`).
pub fn body_cap(state: &super::api::State, path: &str, form_cap: usize) -> usize {
    if path == "/api/v1/write" && state.wired.receiver {
        match state.wired.max_write_body {
            0 => DEFAULT_MAX_WRITE_BODY,
            n => n,
        }
    } else {
        form_cap
    }
}

/// The metrics of all writers as one exposition: each family's `# HELP` and
/// `# TYPE` once, then every writer's samples of it (the text format wants a
/// family's lines together; each writer's text repeats the headers).
pub fn writers_metrics(writers: &[Arc<RemoteWriter>]) -> String {
    merge_families(writers.iter().map(|w| w.metrics_text()))
}

fn merge_families(texts: impl Iterator<Item = String>) -> String {
    // (family, header lines, sample lines), in first-seen order.
    let mut fams: Vec<(String, Vec<String>, Vec<String>)> = Vec::new();
    for text in texts {
        let mut cur: Option<usize> = None;
        for line in text.lines() {
            let header = line
                .strip_prefix("# HELP ")
                .or_else(|| line.strip_prefix("# TYPE "));
            if let Some(rest) = header {
                let name = rest.split(' ').next().unwrap_or("").to_string();
                let i = match fams.iter().position(|f| f.0 == name) {
                    Some(i) => i,
                    None => {
                        fams.push((name, Vec::new(), Vec::new()));
                        fams.len() - 1
                    }
                };
                if !fams[i].1.iter().any(|l| l == line) {
                    fams[i].1.push(line.to_string());
                }
                cur = Some(i);
            } else if let Some(i) = cur {
                fams[i].2.push(line.to_string());
            }
        }
    }
    let mut out = String::new();
    for (_, head, samples) in fams {
        for l in head.iter().chain(&samples) {
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn families_of_several_writers_stay_together() {
        let a = "# HELP x X.\n# TYPE x counter\nx{q=\"a\"} 1\n# HELP y Y.\n# TYPE y gauge\ny{q=\"a\"} 2\n";
        let b = a.replace("\"a\"", "\"b\"");
        let got = super::merge_families([a.to_string(), b].into_iter());
        assert_eq!(
            got,
            "# HELP x X.\n# TYPE x counter\nx{q=\"a\"} 1\nx{q=\"b\"} 1\n# HELP y Y.\n# TYPE y gauge\ny{q=\"a\"} 2\ny{q=\"b\"} 2\n"
        );
    }
}
