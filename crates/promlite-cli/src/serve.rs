//! `promlite serve`: the Prometheus HTTP API read endpoints over data files or live
//! scrapes, so that promtool, curl or Grafana (as a Prometheus data source) can query
//! promlite.
//!
//! ```text
//! promlite serve [--listen 127.0.0.1:9090] (--data FILE... | --scrape URL...) [--lookback-delta D]
//! ```
//!
//! The data files load exactly as for `promlite eval --data`; `--scrape` URLs are
//! scraped every `--interval` by a background thread into the same store. Endpoints: `/api/v1/query`,
//! `/api/v1/query_range`, `/api/v1/series`, `/api/v1/labels` (GET, or POST with an
//! `application/x-www-form-urlencoded` body), `/api/v1/label/<name>/values`,
//! `/api/v1/metadata`, `/api/v1/status/buildinfo` (GET) and promlite's own `/metrics`.
//! It listens on loopback by default; any other address given with `--listen` is used
//! as given, without authentication, so only do that on a trusted network.

pub mod api;

use std::io::Read;
use std::process::ExitCode;
use std::sync::Arc;

use crate::eval::engine::Settings;

const HELP: &str = "\
usage: promlite serve [--listen ADDR] (--data FILE... | --scrape URL...) [--lookback-delta D]
         [scrape flags]

Serves the Prometheus HTTP API read endpoints over sample files (loaded as by
`promlite eval --data`) and/or live scrapes: /api/v1/query, /api/v1/query_range, /api/v1/series,
/api/v1/labels, /api/v1/label/<name>/values, /api/v1/metadata,
/api/v1/status/buildinfo, and promlite's own counters at /metrics.
  --listen ADDR           address to listen on (default 127.0.0.1:9090; there is no
                          authentication, so keep it on loopback unless the network is trusted)
  --data FILE...          data files (OpenMetrics or text format 0.0.4, with timestamps)
  --scrape URL...         scrape these endpoints every --interval in the background
                          (job \"promlite\" unless --job; records up, scrape_*)
  --lookback-delta D      lookback delta (default 5m)
  --threads N             worker threads (default 4)
scrape flags (with --scrape):";

/// Requests bodies larger than this are refused with 413.
const MAX_BODY: u64 = 1 << 20;

/// Runs the subcommand with the arguments after its name.
pub fn run(args: &[String]) -> ExitCode {
    match run_inner(args) {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("promlite serve: {msg}");
            ExitCode::from(2)
        }
    }
}

fn run_inner(args: &[String]) -> Result<ExitCode, String> {
    use lexopt::Arg::{Long, Short};
    let mut p = lexopt::Parser::from_args(args.iter().cloned());
    let mut listen = "127.0.0.1:9090".to_string();
    let mut data: Vec<String> = Vec::new();
    let mut scrape_urls: Vec<String> = Vec::new();
    let mut sa = crate::scrape_args::ScrapeArgs::default();
    let mut storage = crate::storage_args::StorageArgs::default();
    let mut settings = Settings::default();
    let mut threads = 4usize;
    let s = |v: std::ffi::OsString| {
        v.into_string()
            .map_err(|_| "argument is not UTF-8".to_string())
    };
    while let Some(arg) = p.next().map_err(|e| e.to_string())? {
        match arg {
            Long(flag) if crate::scrape_args::ScrapeArgs::is_flag(flag) => {
                let flag = flag.to_string();
                sa.take(&flag, &mut p)?;
            }
            Long(flag) if crate::storage_args::StorageArgs::is_flag(flag) => {
                let flag = flag.to_string();
                storage.take(&flag, &mut p)?;
            }
            Long("scrape") => {
                for v in p.values().map_err(|e| e.to_string())? {
                    scrape_urls.push(s(v)?);
                }
            }
            Long("listen") | Long("web.listen-address") => {
                listen = s(p.value().map_err(|e| e.to_string())?)?
            }
            Long("data") => {
                for v in p.values().map_err(|e| e.to_string())? {
                    data.push(s(v)?);
                }
            }
            Long("lookback-delta") => {
                let v = s(p.value().map_err(|e| e.to_string())?)?;
                settings.lookback_ms = api::parse_duration_ms(&v)
                    .filter(|ms| *ms > 0)
                    .ok_or_else(|| format!("bad --lookback-delta {v:?}"))?;
            }
            Long("threads") => {
                let v = s(p.value().map_err(|e| e.to_string())?)?;
                threads = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=64).contains(n))
                    .ok_or_else(|| format!("bad --threads {v:?} (1..=64)"))?;
            }
            Short('h') | Long("help") => {
                println!(
                    "{HELP}\n{}\n{}",
                    crate::scrape_args::FLAGS_HELP,
                    crate::storage_args::FLAGS_HELP
                );
                return Ok(ExitCode::SUCCESS);
            }
            other => return Err(format!("{}\n{HELP}", other.unexpected())),
        }
    }
    if data.is_empty() && scrape_urls.is_empty() {
        return Err(format!(
            "no data files and no scrape targets given (--data FILE... or --scrape URL...)\n{HELP}"
        ));
    }
    let scrapers = sa.scrapers(&scrape_urls, "promlite", &[])?;
    // Data files keep all their samples; scrapes alone keep the default recent window.
    let (store, persistence) = if data.is_empty() {
        storage.open(promlite::store::StoreConfig::default())?
    } else if storage.path.is_some() {
        return Err("--storage.path is for scraped data, not with --data".into());
    } else {
        (
            crate::eval::data::load_files(&data).map_err(|e| e.to_string())?,
            None,
        )
    };
    let state = Arc::new(api::State::new(store, settings));
    if let Some(p) = persistence {
        crate::storage_args::spawn_snapshots(
            p,
            Arc::clone(&state),
            api::State::store,
            storage.interval,
        )?;
    }
    if !scrapers.is_empty() {
        let state = Arc::clone(&state);
        let interval = sa.interval;
        std::thread::spawn(move || scrape_loop(&scrapers, &state, interval));
    }
    let server = tiny_http::Server::http(&listen).map_err(|e| format!("listen {listen}: {e}"))?;
    let server = Arc::new(server);
    let addr = server
        .server_addr()
        .to_ip()
        .map_or_else(|| listen.clone(), |a| a.to_string());
    eprintln!("promlite serve: listening on http://{addr}/");
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let server = Arc::clone(&server);
            let state = Arc::clone(&state);
            std::thread::spawn(move || worker(&server, &state))
        })
        .collect();
    for w in workers {
        let _ = w.join();
    }
    Ok(ExitCode::SUCCESS)
}

/// Scrapes every target each interval into the served store, forever; reports
/// a target's errors on stderr when it goes down or its error changes, and when it
/// recovers.
fn scrape_loop(
    scrapers: &[promlite::scrape::Scraper],
    state: &api::State,
    interval: std::time::Duration,
) {
    use crate::scrape_args::{scrape_round, sleep_until_next, TargetStatus};
    let mut status = vec![TargetStatus::default(); scrapers.len()];
    let mut last: Vec<Option<String>> = vec![None; scrapers.len()];
    let start = std::time::Instant::now();
    loop {
        let results = scrape_round(scrapers, state.store(), &mut status);
        for (i, r) in results.into_iter().enumerate() {
            state.record_scrape(r.is_ok());
            let url = &scrapers[i].config().url;
            match r {
                Err(e) if last[i].as_ref() != Some(&e) => {
                    eprintln!("promlite serve: scrape failed: {e}");
                    last[i] = Some(e);
                }
                Ok(()) if last[i].take().is_some() => {
                    eprintln!("promlite serve: {url} is up again");
                }
                _ => {}
            }
        }
        sleep_until_next(start, interval);
    }
}

fn worker(server: &tiny_http::Server, state: &api::State) {
    loop {
        let mut req = match server.recv() {
            Ok(r) => r,
            Err(e) => {
                eprintln!("promlite serve: accept: {e}");
                continue;
            }
        };
        // The handler should never panic; if it does, answer 500 and keep serving.
        let resp =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| respond(state, &mut req)))
                .unwrap_or_else(|_| {
                    api::Response::error(500, "internal", "internal error while answering")
                });
        let mut out = tiny_http::Response::from_data(resp.body).with_status_code(resp.status);
        if let Ok(h) = tiny_http::Header::from_bytes("Content-Type", resp.content_type) {
            out.add_header(h);
        }
        if let Err(e) = req.respond(out) {
            eprintln!("promlite serve: write response: {e}");
        }
    }
}

fn respond(state: &api::State, req: &mut tiny_http::Request) -> api::Response {
    let method = req.method().as_str().to_ascii_uppercase();
    let url = req.url().to_string();
    let content_type = req
        .headers()
        .iter()
        .find(|h| h.field.equiv("Content-Type"))
        .map(|h| h.value.as_str().to_string())
        .unwrap_or_default();
    let mut body = Vec::new();
    if method == "POST" {
        if req.body_length().is_some_and(|n| n as u64 > MAX_BODY) {
            return api::Response::too_large(MAX_BODY);
        }
        let mut r = req.as_reader().take(MAX_BODY + 1);
        if let Err(e) = r.read_to_end(&mut body) {
            return api::Response::error(400, "bad_data", &format!("reading the body: {e}"));
        }
        if body.len() as u64 > MAX_BODY {
            return api::Response::too_large(MAX_BODY);
        }
    }
    api::handle(
        state,
        &api::Request {
            method: &method,
            url: &url,
            content_type: &content_type,
            body: &body,
            now_ms: api::now_ms(),
        },
    )
}
