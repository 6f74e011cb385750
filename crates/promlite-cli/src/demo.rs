//! `promlite demo`: the kube-controller-manager dashboard over simulated scrapes.
//!
//! Simulates a few kube-controller-manager processes (one restarts mid-way), ingests
//! every scrape into a store exactly as a scraper would, then evaluates the dashboard
//! queries at the last scrape and prints them as tables, with Prometheus's annotations.

use std::process::ExitCode;
use std::time::Instant;

use promlite::dashboard::{render_panel, KCM_PANELS};
use promlite::expfmt::Format;
use promlite::promql::{Engine, EngineOptions};
use promlite::sim::{KcmSim, SimConfig};
use promlite::store::{Store, StoreConfig, Target};

const HELP: &str = "\
usage: promlite demo [--instances N] [--minutes M] [--rows R] [--seed S]

Simulates N kube-controller-manager instances (default 3) scraped every 15 s for M
minutes (default 10; one instance restarts half-way), ingests the scrapes into an
in-memory store and prints the dashboard queries as tables (R rows each, default 8).";

/// Runs the subcommand with the arguments after its name.
pub fn run(args: &[String]) -> ExitCode {
    let mut instances = 3usize;
    let mut minutes = 10usize;
    let mut rows = 8usize;
    let mut seed = 42u64;
    let mut parser = lexopt::Parser::from_args(args);
    loop {
        let arg = match parser.next() {
            Ok(Some(a)) => a,
            Ok(None) => break,
            Err(e) => return usage_error(&e.to_string()),
        };
        use lexopt::Arg::Long;
        let parsed = match arg {
            Long("instances") => num(&mut parser).map(|v| instances = v as usize),
            Long("minutes") => num(&mut parser).map(|v| minutes = v as usize),
            Long("rows") => num(&mut parser).map(|v| rows = v as usize),
            Long("seed") => num(&mut parser).map(|v| seed = v),
            Long("help") => {
                println!("{HELP}");
                return ExitCode::SUCCESS;
            }
            other => Err(other.unexpected().to_string()),
        };
        if let Err(e) = parsed {
            return usage_error(&e);
        }
    }
    if instances == 0 || minutes < 2 {
        return usage_error("need at least 1 instance and 2 minutes of scrapes for rate()");
    }

    let scrapes = minutes * 4 + 1;
    let cfg = SimConfig {
        instances,
        seed,
        restart: Some((instances.min(2) - 1, scrapes / 2)),
        ..SimConfig::default()
    };
    let restart = cfg.restart;
    let mut sim = KcmSim::new(cfg);
    let store = Store::new(StoreConfig::default());
    let started = Instant::now();
    let mut samples = 0usize;
    let mut bytes = 0usize;
    let mut last_ts = 0i64;
    for _ in 0..scrapes {
        for s in sim.next_scrape() {
            let target = Target::new(s.target.clone());
            match store.ingest_scrape(&target, &s.body, Format::Text, s.ts_ms) {
                Ok(r) => samples += r.samples_appended,
                Err(e) => {
                    eprintln!("promlite demo: scrape of {} rejected: {e}", s.target);
                    return ExitCode::FAILURE;
                }
            }
            bytes += s.body.len();
            last_ts = last_ts.max(s.ts_ms);
        }
    }
    let ingest = started.elapsed();
    let stats = store.stats();
    println!(
        "promlite demo: {instances} simulated kube-controller-manager instances, {scrapes} scrapes \
         every 15 s ({minutes} min){}",
        restart.map_or(String::new(), |(i, n)| format!(", instance 10.0.0.{} restarted before scrape {}", 11 + i, n + 1)),
    );
    println!(
        "ingested {samples} samples ({:.1} MB of text) in {:.1} ms; store: {} series, {:.2} bytes/sample, {:.0} bytes/series\n",
        bytes as f64 / 1e6,
        ingest.as_secs_f64() * 1e3,
        stats.series,
        stats.bytes_per_sample,
        stats.bytes_per_series,
    );

    let engine = Engine::new(EngineOptions::default());
    let at = last_ts + 1_000;
    let started = Instant::now();
    for panel in KCM_PANELS {
        print!("{}", render_panel(&engine, &store, panel, at, rows));
    }
    println!(
        "{} queries evaluated at the last scrape (+1 s) in {:.1} ms.",
        KCM_PANELS.len(),
        started.elapsed().as_secs_f64() * 1e3
    );
    ExitCode::SUCCESS
}

fn num(p: &mut lexopt::Parser) -> Result<u64, String> {
    let v = p.value().map_err(|e| e.to_string())?;
    let s = v.to_string_lossy();
    s.parse::<u64>()
        .map_err(|_| format!("expected a whole number, got {s:?}"))
}

fn usage_error(msg: &str) -> ExitCode {
    eprintln!("promlite demo: {msg}\n\n{HELP}");
    ExitCode::from(2)
}
