//! Profiling harness: `REPS=N cargo run --release -p promlite-store --example ingest_profile -- FIRST NEXT...` (N defaults to 4).
//! Ingests FIRST, then NEXT files in turn (N rounds), printing per-scrape wall time
//! and ns/sample; then the stats. `NO_PARSE=1` skips the two parse-only rounds
//! that come first; `RING=n` and `BLOCK=n` set the ring capacity and block size;
//! `FIRSTS=n` runs n first scrapes into fresh stores before.
use std::time::Instant;

use promlite_store::{Format, IngestReport, Store, StoreConfig, Target};

#[path = "support/cpu.rs"]
mod cpu;
use cpu::user_sys;

/// CPU time of this thread in seconds (the machine is shared: wall time lies).
fn cpu() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .next()
                .and_then(|x| x.parse::<f64>().ok())
        })
        .map_or(0.0, |ns| ns / 1e9)
}

/// A timed first scrape.
struct First {
    report: IngestReport,
    wall: f64,
    cpu: f64,
    user: f64,
    system: f64,
}

fn first_scrape(store: &Store, t: &Target, body: &[u8]) -> First {
    let start = Instant::now();
    let c0 = cpu();
    let us0 = user_sys();
    let report = store
        .ingest_scrape(t, body, Format::Text, 0)
        .expect("first");
    let us1 = user_sys();
    First {
        report,
        wall: start.elapsed().as_secs_f64(),
        cpu: cpu() - c0,
        user: us1.0 - us0.0,
        system: us1.1 - us0.1,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let reps: usize = std::env::var("REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
    let bodies: Vec<Vec<u8>> = args
        .iter()
        .map(|p| std::fs::read(p).expect("read"))
        .collect();
    let parse_rounds = if std::env::var_os("NO_PARSE").is_some() {
        0
    } else {
        2
    };
    for _ in 0..parse_rounds {
        let c0 = cpu();
        let mut p = promlite_expfmt::Parser::new(&bodies[0], Format::Text);
        let mut n = 0usize;
        while let Some(ev) = p.next_event() {
            if let Ok(promlite_expfmt::Event::Sample(s)) = ev {
                n += s.series_bytes().len() & 1;
                n += 1;
            }
        }
        let c = cpu() - c0;
        println!(
            "parse-only: cpu {:.3} s, {:.0} cpu ns/line ({n})",
            c,
            c * 1e9 / n as f64 * 1.5
        );
    }
    let mut cfg = StoreConfig::default();
    if let Some(n) = std::env::var("RING").ok().and_then(|v| v.parse().ok()) {
        cfg.ring_samples = Some(n);
    }
    if let Some(n) = std::env::var("BLOCK").ok().and_then(|v| v.parse().ok()) {
        cfg.block_samples = n;
    }
    let t = Target::from_pairs([("job", "p")]);
    // FIRSTS=n: n first scrapes into fresh stores before the measured run
    // (as criterion's `first` repeats them: memory freed by one is reused).
    let firsts: usize = std::env::var("FIRSTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    for _ in 0..firsts {
        let store = Store::new(cfg.clone());
        let f = first_scrape(&store, &t, &bodies[0]);
        println!(
            "first (fresh store): cpu {:.3} s, user {:.2} s, system {:.2} s, {} series",
            f.cpu, f.user, f.system, f.report.series_created
        );
    }
    let store = Store::new(cfg);
    let f = first_scrape(&store, &t, &bodies[0]);
    println!("first: user {:.2} s, system {:.2} s", f.user, f.system);
    println!(
        "first: wall {:.3} s, cpu {:.3} s, {:.0} cpu ns/sample, {} series",
        f.wall,
        f.cpu,
        f.cpu * 1e9 / f.report.samples_in_body as f64,
        f.report.series_created
    );
    let mut k = 0;
    for _ in 0..reps {
        for b in &bodies[1..] {
            k += 1;
            let start = Instant::now();
            let c0 = cpu();
            let r = store
                .ingest_scrape(&t, b, Format::Text, k * 30_000)
                .expect("next");
            let s = start.elapsed().as_secs_f64();
            let c = cpu() - c0;
            println!(
                "steady: wall {:.3} s, cpu {:.3} s, {:.0} cpu ns/sample",
                s,
                c,
                c * 1e9 / r.samples_in_body as f64
            );
        }
    }
    println!("{:?}", store.stats());
}
