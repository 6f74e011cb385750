//! `promlite watch`: scrape live endpoints on an interval and redraw the
//! kube-controller-manager dashboard (or given queries) in the terminal.
//!
//! Each interval every URL is scraped (concurrently, at one timestamp) into an
//! in-memory store; then the panels are evaluated at that moment and printed with
//! their warnings, under a status line per target (up or down, last error). On a
//! terminal each frame clears the screen first; otherwise frames follow each other.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Instant;

use promlite::dashboard::{render_panel, Panel, Unit, KCM_PANELS};
use promlite::promql::{Engine, EngineOptions};
use promlite::scrape::Scraper;
use promlite::store::{Store, StoreConfig};

use crate::scrape_args::{scrape_round, sleep_until_next, ScrapeArgs, TargetStatus, FLAGS_HELP};

const USAGE: &str = "\
usage: promlite watch URL... [--interval 15s] [--job NAME] [--label NAME=VALUE]...
         [--bearer-token-file F | --bearer-token T] [--cert F --key F]
         [--ca-file F | --insecure-skip-tls-verify] [--query EXPR]... [--rows N] [--once]

Scrapes every URL each interval and redraws the kube-controller-manager dashboard
(or the --query expressions) with Prometheus's warnings and each target's state.
The targets get job=\"kube-controller-manager\" and
container=\"kube-controller-manager\" (the labels the dashboard selects on, as
Kubernetes service discovery would attach them), with or without --query;
--job/--label override them.

  --query EXPR                 show this PromQL expression instead of the dashboard
                               (repeatable)
  --rows N                     rows per table (default 10)
  --once                       scrape until rate() has two scrapes of every up target,
                               print one frame and exit (1 if no target answered)";

/// After this many rounds `--once` prints whatever it has.
const ONCE_MAX_ROUNDS: usize = 5;

/// Runs the subcommand with the arguments after its name.
pub fn run(args: &[String]) -> ExitCode {
    match run_inner(args) {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("promlite watch: {msg}");
            ExitCode::from(2)
        }
    }
}

fn run_inner(args: &[String]) -> Result<ExitCode, String> {
    use lexopt::Arg::{Long, Short, Value};
    let mut p = lexopt::Parser::from_args(args.iter().cloned());
    let mut sa = ScrapeArgs::default();
    let mut urls: Vec<String> = Vec::new();
    let mut queries: Vec<String> = Vec::new();
    let mut rows = 10usize;
    let mut once = false;
    let mut storage = crate::storage_args::StorageArgs::default();
    while let Some(arg) = p.next().map_err(|e| e.to_string())? {
        let s = |v: std::ffi::OsString| {
            v.into_string()
                .map_err(|_| "argument is not UTF-8".to_string())
        };
        match arg {
            Long(flag) if ScrapeArgs::is_flag(flag) => {
                let flag = flag.to_string();
                sa.take(&flag, &mut p)?;
            }
            Long(flag) if crate::storage_args::StorageArgs::is_flag(flag) => {
                let flag = flag.to_string();
                storage.take(&flag, &mut p)?;
            }
            Value(v) => urls.push(s(v)?),
            Long("query") => queries.push(s(p.value().map_err(|e| e.to_string())?)?),
            Long("rows") => {
                let v = s(p.value().map_err(|e| e.to_string())?)?;
                rows = v
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("bad --rows {v:?}"))?;
            }
            Long("once") => once = true,
            Short('h') | Long("help") => {
                println!("{USAGE}\n{FLAGS_HELP}\n{}", crate::storage_args::FLAGS_HELP);
                return Ok(ExitCode::SUCCESS);
            }
            other => return Err(format!("{}\n\n{USAGE}\n{FLAGS_HELP}", other.unexpected())),
        }
    }
    if urls.is_empty() {
        return Err(format!("no URL given\n\n{USAGE}\n{FLAGS_HELP}"));
    }
    // The same target labels with or without --query, so that adding a query
    // never changes what the series are called.
    const KCM: &str = "kube-controller-manager";
    let scrapers = sa.scrapers(&urls, KCM, &[("container", KCM)])?;
    let panels: Vec<Panel> = if queries.is_empty() {
        KCM_PANELS.to_vec()
    } else {
        // The panel type wants 'static text; these few strings live until exit anyway.
        queries
            .into_iter()
            .map(|q| {
                let q: &'static str = Box::leak(q.into_boxed_str());
                Panel {
                    title: q,
                    query: q,
                    unit: Unit::Number,
                }
            })
            .collect()
    };
    let engine = Engine::new(EngineOptions::default());
    // Expression errors show up in the first frame, but a typo should not wait
    // for a scrape to be noticed.
    for panel in &panels {
        if let Err(e) = promlite::promql::parse(panel.query) {
            return Err(format!("bad --query {:?}: {e}", panel.query));
        }
    }
    let (store, persistence) = storage.open(StoreConfig::default())?;
    let store = std::sync::Arc::new(store);
    if let Some(p) = &persistence {
        fn same(s: &Store) -> &Store {
            s
        }
        crate::storage_args::spawn_snapshots(
            std::sync::Arc::clone(p),
            std::sync::Arc::clone(&store),
            same,
            storage.interval,
        )?;
    }
    let mut status = vec![TargetStatus::default(); scrapers.len()];
    let tty = std::io::stdout().is_terminal();
    let start = Instant::now();
    let mut round = 0usize;
    loop {
        round += 1;
        scrape_round(&scrapers, &store, &mut status);
        if once {
            if status.iter().all(|s| s.ok == 0) {
                eprintln!("promlite watch: no target could be scraped:");
                for (sc, st) in scrapers.iter().zip(&status) {
                    // The error names the URL.
                    match &st.last_error {
                        Some(e) => eprintln!("  {e}"),
                        None => eprintln!("  {}: no answer", sc.config().url),
                    }
                }
                return Ok(ExitCode::FAILURE);
            }
            let ready = status.iter().all(|s| s.up != Some(true) || s.ok >= 2);
            if ready || round >= ONCE_MAX_ROUNDS {
                print_frame(
                    &engine, &store, &scrapers, &status, &panels, rows, &sa, round, false,
                );
                if let Some(p) = &persistence {
                    p.snapshot(&store).map_err(|e| e.to_string())?;
                }
                return Ok(ExitCode::SUCCESS);
            }
        } else {
            print_frame(
                &engine, &store, &scrapers, &status, &panels, rows, &sa, round, tty,
            );
        }
        sleep_until_next(start, sa.interval);
    }
}

#[allow(clippy::too_many_arguments)]
fn print_frame(
    engine: &Engine,
    store: &Store,
    scrapers: &[Scraper],
    status: &[TargetStatus],
    panels: &[Panel],
    rows: usize,
    sa: &ScrapeArgs,
    round: usize,
    clear: bool,
) {
    let now = promlite::scrape::now_ms();
    let mut out = String::new();
    if clear {
        out.push_str("\x1b[H\x1b[2J");
    }
    out.push_str(&format!(
        "promlite watch · {} · every {:?} · scrape round {round}\n",
        utc(now),
        sa.interval
    ));
    out.push_str("targets:\n");
    for (sc, st) in scrapers.iter().zip(status) {
        let state = match st.up {
            Some(true) => "up  ",
            Some(false) => "DOWN",
            None => "?   ",
        };
        out.push_str(&format!(
            "  {state} {}  {} samples, last scrape {:.0} ms ({} ok, {} failed)\n",
            sc.config().url,
            st.samples,
            st.duration.as_secs_f64() * 1e3,
            st.ok,
            st.failed
        ));
        if let Some(e) = &st.last_error {
            out.push_str(&format!("       last error: {e}\n"));
        }
    }
    out.push('\n');
    for panel in panels {
        out.push_str(&render_panel(engine, store, panel, now, rows));
    }
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(out.as_bytes());
    let _ = stdout.flush();
}

/// `YYYY-MM-DD HH:MM:SS UTC` for ms since the epoch.
fn utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (proleptic Gregorian calendar).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

#[cfg(test)]
mod tests {
    use super::utc;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        // 1_700_000_000 s is 2023-11-14 22:13:20 UTC (`date -u -d @1700000000`).
        assert_eq!(utc(1_700_000_000_000), "2023-11-14 22:13:20 UTC");
        // A leap day: 2024-02-29 00:00:00 UTC is 1_709_164_800 s.
        assert_eq!(utc(1_709_164_800_000), "2024-02-29 00:00:00 UTC");
    }
}
