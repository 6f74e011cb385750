//! `promlite ingest FILE... [--target-label k=v]... [--at T] [--interval S]`: ingests
//! scrape files into a store and prints what happened and the store's stats as JSON.

use std::process::ExitCode;
use std::time::Instant;

use promlite::expfmt::Format;
use promlite::model::Labels;
use promlite::store::{Store, StoreConfig, Target};

const HELP: &str = "\
usage: promlite ingest FILE... [--target-label k=v]... [--at T] [--interval S]
                       [--format text|openmetrics] [--ring N] [--unbounded]

Ingests exposition files into one in-memory store and prints a JSON object:
  {\"files\": [{\"file\", \"bytes\", \"seconds\", \"ns_per_sample\", \"report\"}], \"stats\": {...}}

With --at, each file is one scrape of a single target (the --target-label pairs) taken
at T (unix seconds, decimals allowed, or RFC 3339) for the first file and T + i*S for the i-th
(--interval, default 15): cache, staleness and out-of-order rules apply. Without --at,
every sample must carry its own timestamp (a data file): files are merged series by
series, and the target labels are added to every series.

options:
  --target-label k=v  label of the target (repeatable)
  --at T              scrape time of the first file, unix seconds or RFC 3339
  --interval S        seconds between the files' scrapes (default 15)
  --format F          text or openmetrics (default: OpenMetrics if the file ends with '# EOF')
  --ring N            ring capacity in samples per series (default 120)
  --unbounded         keep every sample (no ring limit, no retention, no body limit)
Exit code 1 when a file is rejected (the error goes to stderr), 2 on bad usage.";

struct Args {
    files: Vec<std::path::PathBuf>,
    labels: Vec<(String, String)>,
    at_ms: Option<i64>,
    interval_ms: i64,
    format: Option<Format>,
    ring: Option<usize>,
    unbounded: bool,
}

fn seconds_to_ms(s: &str) -> Result<i64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("not a number of seconds: {s:?}"))?;
    if !v.is_finite() || v.abs() > 9e15 / 1000.0 {
        return Err(format!("time out of range: {s:?}"));
    }
    Ok((v * 1000.0).round() as i64)
}

fn parse_args(args: &[String]) -> Result<Option<Args>, String> {
    use lexopt::prelude::*;
    let mut p = lexopt::Parser::from_args(args.iter().cloned());
    let mut a = Args {
        files: Vec::new(),
        labels: Vec::new(),
        at_ms: None,
        interval_ms: 15_000,
        format: None,
        ring: None,
        unbounded: false,
    };
    let val = |p: &mut lexopt::Parser| -> Result<String, String> {
        p.value()
            .map_err(|e| e.to_string())?
            .into_string()
            .map_err(|v| format!("not UTF-8: {v:?}"))
    };
    while let Some(arg) = p.next().map_err(|e| e.to_string())? {
        match arg {
            Long("target-label") => {
                let v = val(&mut p)?;
                let (k, v) = v
                    .split_once('=')
                    .ok_or_else(|| format!("--target-label wants k=v, got {v:?}"))?;
                a.labels.push((k.to_string(), v.to_string()));
            }
            Long("at") => {
                let v = val(&mut p)?;
                a.at_ms = Some(
                    promlite::params::parse_time_ms(&v).map_err(|e| format!("bad --at: {e}"))?,
                );
            }
            Long("interval") => a.interval_ms = seconds_to_ms(&val(&mut p)?)?,
            Long("format") => {
                a.format = Some(match val(&mut p)?.as_str() {
                    "text" => Format::Text,
                    "openmetrics" => Format::OpenMetrics,
                    v => return Err(format!("--format must be text or openmetrics, not {v:?}")),
                })
            }
            Long("ring") => {
                let v = val(&mut p)?;
                a.ring = Some(
                    v.parse()
                        .map_err(|_| format!("--ring wants a count, got {v:?}"))?,
                );
            }
            Long("unbounded") => a.unbounded = true,
            Short('h') | Long("help") => return Ok(None),
            Value(v) => a.files.push(v.into()),
            other => return Err(other.unexpected().to_string()),
        }
    }
    if a.files.is_empty() {
        return Err("missing FILE".into());
    }
    Ok(Some(a))
}

/// Runs the subcommand with the arguments after its name.
pub fn run(args: &[String]) -> ExitCode {
    let args = match parse_args(args) {
        Ok(Some(a)) => a,
        Ok(None) => {
            println!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("promlite ingest: {e}\n\n{HELP}");
            return ExitCode::from(2);
        }
    };
    let mut cfg = if args.unbounded || args.at_ms.is_none() {
        StoreConfig::unbounded()
    } else {
        StoreConfig::default()
    };
    if let Some(n) = args.ring {
        cfg.ring_samples = Some(n.max(1));
    }
    let store = Store::new(cfg);
    let labels = Labels::from_pairs(args.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let target = Target::new(labels.clone());
    let mut files = Vec::new();
    let mut failed = false;
    for (i, file) in args.files.iter().enumerate() {
        let body = match std::fs::read(file) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("promlite ingest: {}: {e}", file.display());
                return ExitCode::from(1);
            }
        };
        let format = args.format.unwrap_or_else(|| Format::sniff(&body));
        let start = Instant::now();
        let res = match args.at_ms {
            Some(at) => {
                let ts = at.saturating_add(args.interval_ms.saturating_mul(i as i64));
                store.ingest_scrape(&target, &body, format, ts)
            }
            None => store.ingest_timestamped(&body, format, &labels),
        };
        let secs = start.elapsed().as_secs_f64();
        match res {
            Ok(r) => {
                let ns = if r.samples_in_body == 0 {
                    0.0
                } else {
                    secs * 1e9 / r.samples_in_body as f64
                };
                files.push(serde_json::json!({
                    "file": file.display().to_string(),
                    "bytes": body.len(),
                    "seconds": secs,
                    "ns_per_sample": ns,
                    "report": r,
                }));
            }
            Err(e) => {
                eprintln!("promlite ingest: {}: {e}", file.display());
                failed = true;
                files.push(serde_json::json!({
                    "file": file.display().to_string(),
                    "error": e.to_string(),
                }));
            }
        }
    }
    let out = serde_json::json!({ "files": files, "stats": store.stats() });
    println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
