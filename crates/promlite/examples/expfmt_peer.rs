//! promlite's exposition parser as a peer of `../shared/bench/run-peers` (its "Parser peer
//! protocol"): `expfmt_peer [--reps N] [--expect N] [--series-only] FILE` reads FILE once,
//! parses it N times and prints one JSON line with the median time.
//!
//! The timed region parses the whole buffer strictly and, for every sample, decodes the
//! metric name and every label pair (unless `--series-only`, which takes only the raw
//! series bytes, as the store's cache-hit path does) and sums the values; the sample
//! count must equal `--expect` or the program exits 3.
//!
//! ```sh
//! cargo build --release -p promlite --example expfmt_peer
//! ../shared/bench/run-peers --preset single --skip-stores \
//!     --extra promlite="$PWD/target/release/examples/expfmt_peer"
//! ```

use std::hint::black_box;
use std::time::Instant;

use promlite::expfmt::{Event, Format, Parser};

fn parse(data: &[u8], series_only: bool) -> Result<usize, String> {
    let mut n = 0usize;
    let mut acc = 0usize;
    let mut sum = 0f64;
    for ev in Parser::new(data, Format::sniff(data)) {
        if let Event::Sample(s) = ev.map_err(|e| e.to_string())? {
            n += 1;
            sum += s.value;
            if series_only {
                acc += s.series_bytes().len();
            } else {
                acc += s.name().len();
                for (k, v) in s.labels() {
                    acc += k.len() + v.len();
                }
            }
        }
    }
    black_box((acc, sum));
    Ok(n)
}

fn main() {
    let mut reps = 5usize;
    let mut expect = None;
    let mut series_only = false;
    let mut file = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--reps" | "-reps" => reps = args.next().and_then(|v| v.parse().ok()).unwrap_or(0),
            "--expect" | "-expect" => expect = args.next().and_then(|v| v.parse::<usize>().ok()),
            "--series-only" => series_only = true,
            _ => file = Some(a),
        }
    }
    let (Some(path), true) = (file, reps > 0) else {
        eprintln!("usage: expfmt_peer [--reps N] [--expect N] [--series-only] FILE");
        std::process::exit(2);
    };
    let data = std::fs::read(&path).unwrap_or_else(|e| {
        eprintln!("{path}: {e}");
        std::process::exit(1)
    });
    let mut times = Vec::with_capacity(reps);
    let mut samples = 0;
    for _ in 0..reps {
        let t0 = Instant::now();
        match parse(black_box(&data), series_only) {
            Ok(n) => samples = n,
            Err(e) => {
                eprintln!("promlite: parse error: {e}");
                std::process::exit(1);
            }
        }
        times.push(t0.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let med = if reps % 2 == 1 {
        times[reps / 2]
    } else {
        (times[reps / 2 - 1] + times[reps / 2]) / 2.0
    };
    let variant = if series_only {
        "series bytes only"
    } else {
        "every label decoded"
    };
    let esc = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    println!(
        "{{\"peer\":\"promlite\",\"impl\":\"promlite-expfmt {} Parser ({variant})\",\"file\":\"{}\",\"bytes\":{},\"samples\":{},\"reps\":{},\"median_s\":{},\"min_s\":{},\"mb_per_s\":{},\"samples_per_s\":{},\"ns_per_sample\":{}}}",
        env!("CARGO_PKG_VERSION"),
        esc(&path),
        data.len(),
        samples,
        reps,
        med,
        times[0],
        data.len() as f64 / med / 1e6,
        samples as f64 / med,
        med * 1e9 / samples.max(1) as f64
    );
    if expect.is_some_and(|e| e != samples) {
        eprintln!(
            "promlite: sample count {samples} != expected {}",
            expect.unwrap_or(0)
        );
        std::process::exit(3);
    }
}
