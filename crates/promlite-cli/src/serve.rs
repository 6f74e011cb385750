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
//! It listens on loopback by default; TLS and basic auth come from `--web.config.file`
//! (Prometheus's format). The HTTP server and its limits are in [`http`] and
//! [`limits`].

pub mod api;
pub mod from_config;
pub mod http;
pub mod limits;
pub mod remote;
pub mod rules;
pub mod stats;
pub mod targets;
pub mod webconfig;

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
  --listen ADDR           address to listen on (default 127.0.0.1:9090; give
                          --web.config.file for TLS and basic auth before listening
                          on a network others can reach)
  --data FILE...          data files (OpenMetrics or text format 0.0.4, with timestamps)
  --data-at T             read data samples without a timestamp (a saved /metrics page)
                          as one scrape at T (unix seconds or RFC 3339)
  --config FILE           run a prometheus.yml's scrape_configs (static, file and
                          Kubernetes discovery, relabeling); adds /api/v1/targets,
                          /api/v1/status/config and POST /-/reload (SIGHUP reloads too)
                          its rule_files, alerting and remote_write join the flags
  --scrape URL...         scrape these endpoints every --interval in the background
                          (job \"promlite\" unless --job; records up, scrape_*)
  --lookback-delta D      lookback delta (default 5m)
  --threads N             the same as --query.max-concurrency (kept for old scripts)
scrape flags (with --scrape):";

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
    let mut data_at: Option<i64> = None;
    let mut scrape_urls: Vec<String> = Vec::new();
    let mut config: Option<String> = None;
    let mut sa = crate::scrape_args::ScrapeArgs::default();
    let mut storage = crate::storage_args::StorageArgs::default();
    let mut settings = Settings::default();
    let mut limits = limits::ServeLimits::default();
    let mut rule_args = rules::RuleArgs::default();
    let mut remote_args = remote::RemoteArgs::default();
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
            Long("config") | Long("config.file") => {
                config = Some(s(p.value().map_err(|e| e.to_string())?)?)
            }
            Long("listen") | Long("web.listen-address") => {
                listen = s(p.value().map_err(|e| e.to_string())?)?
            }
            Long("data") => {
                for v in p.values().map_err(|e| e.to_string())? {
                    data.push(s(v)?);
                }
            }
            Long("data-at") => {
                let v = s(p.value().map_err(|e| e.to_string())?)?;
                data_at = Some(
                    promlite::params::parse_time_ms(&v)
                        .map_err(|e| format!("bad --data-at: {e}"))?,
                );
            }
            Long("lookback-delta") => {
                let v = s(p.value().map_err(|e| e.to_string())?)?;
                settings.lookback_ms = api::parse_duration_ms(&v)
                    .filter(|ms| *ms > 0)
                    .ok_or_else(|| format!("bad --lookback-delta {v:?}"))?;
            }
            Long("threads") => {
                let v = s(p.value().map_err(|e| e.to_string())?)?;
                limits.set("query.max-concurrency", &v)?;
            }
            Long(flag) if rules::RuleArgs::is_flag(flag) => {
                let flag = flag.to_string();
                rule_args.take(&flag, &mut p)?;
            }
            Long(flag) if remote::RemoteArgs::is_flag(flag) => {
                let flag = flag.to_string();
                remote_args.take(&flag, &mut p)?;
            }
            Long(flag) if limits::ServeLimits::is_flag(flag) => {
                let flag = flag.to_string();
                limits.take(&flag, &mut p)?;
            }
            Short('h') | Long("help") => {
                println!(
                    "{HELP}\n{}\n{}\n{}\n{}\n{}",
                    crate::scrape_args::FLAGS_HELP,
                    limits::FLAGS_HELP,
                    crate::storage_args::FLAGS_HELP,
                    rules::FLAGS_HELP,
                    remote::FLAGS_HELP
                );
                return Ok(ExitCode::SUCCESS);
            }
            other => return Err(format!("{}\n{HELP}", other.unexpected())),
        }
    }
    if data.is_empty() && scrape_urls.is_empty() && config.is_none() && !remote_args.receiver {
        return Err(format!(
            "no data files, scrape targets or receiver given (--data FILE..., --scrape URL..., \
             --config FILE or --web.enable-remote-write-receiver)\n{HELP}"
        ));
    }
    if limits.store_flags_given
        && scrape_urls.is_empty()
        && config.is_none()
        && !remote_args.receiver
    {
        return Err(
            "--storage.* limits apply to the --scrape/receiver store; data files load without limits".into(),
        );
    }
    let web = match &limits.web_config {
        Some(f) => webconfig::load(f)?,
        None => webconfig::WebConfig::default(),
    };
    let scrapers = sa.scrapers(&scrape_urls, "promlite", &[])?;
    settings.max_samples = limits.max_samples;
    settings.timeout = Some(limits.query_timeout);
    // Data files keep all their samples; scrapes alone keep the default recent window.
    let (store, persistence) = if data.is_empty() {
        storage.open(promlite::store::StoreConfig::default().with_limits(limits.store_limits()))?
    } else if storage.path.is_some() {
        return Err("--storage.path is for scraped data, not with --data".into());
    } else {
        (
            crate::eval::data::load_files_at(&data, data_at).map_err(|e| e.to_string())?,
            None,
        )
    };
    if let Some(path) = &config {
        from_config::apply(std::path::Path::new(path), &mut rule_args, &mut remote_args)?;
    }
    let rules = rule_args.load()?;
    let mut state = api::State::new(store, settings);
    state.wired.writers = remote_args.start(state.store())?;
    state.wired.receiver = remote_args.receiver;
    state.wired.max_write_body = remote_args.max_body;
    state.wired.rules = rules;
    let state = Arc::new(state);
    if let Some(p) = persistence {
        crate::storage_args::spawn_snapshots(
            p,
            Arc::clone(&state),
            api::State::store,
            storage.interval,
        )?;
    }
    if let Some(r) = &state.wired.rules {
        r.spawn(Arc::clone(&state))?;
    }
    if !scrapers.is_empty() {
        let state = Arc::clone(&state);
        let interval = sa.interval;
        std::thread::spawn(move || scrape_loop(&scrapers, &state, interval));
    }
    if let Some(path) = &config {
        let rt = targets::install(std::path::Path::new(path), state.shared_store())?;
        targets::reload_on_sighup(rt)?;
    }
    let listener =
        std::net::TcpListener::bind(&listen).map_err(|e| format!("listen {listen}: {e}"))?;
    let addr = listener
        .local_addr()
        .map_or_else(|_| listen.clone(), |a| a.to_string());
    let scheme = if web.tls.is_some() { "https" } else { "http" };
    eprintln!("promlite serve: listening on {scheme}://{addr}/");
    http::run(listener, http::Server::new(state, limits, web))?;
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
