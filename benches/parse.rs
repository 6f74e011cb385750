//! Parse throughput: promlite-expfmt against the Rust peer parsers, on the same bytes.
//!
//! Ids are `parse/<dataset>/<variant>`, `Throughput::Bytes` (criterion reports MiB/s):
//! - datasets: every `../shared/fixtures/real/*.prom`, and one gen-kcm text scrape
//!   (`gen-kcm-<preset>`), generated once into `target/bench-data/`;
//! - variants: `promlite-labels` (strict parse, name and every label pair decoded),
//!   `promlite-series` (strict parse, raw series bytes only: the store's cache-hit path),
//!   and the peers `prom_text_format_parser` 0.1, `nom-openmetrics` 0.3 and
//!   `prometheus-parse` 0.2 called as `../shared/bench/rust-peers` calls them.
//!   Every variant's sample count is asserted against the count of sample lines; a peer
//!   that fails on a dataset is left out of it with a note on stderr.
//!
//! Run: `cargo bench -p promlite --bench parse` (add a filter such as `-- kube-controller`).
//! `PROMLITE_BENCH_KCM=single|high-cardinality|off` picks the gen-kcm preset (default
//! `single`; `high-cardinality` is one 372 MB scrape: minutes per peer), and
//! `PROMLITE_BENCH_KCM_INSTANCES=N` overrides its instance count (e.g. 10 for a 19 MB
//! high-cardinality slice).
// criterion_group!/criterion_main! generate undocumented functions.
#![allow(missing_docs)]

use std::hint::black_box;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use promlite::expfmt::{Event, Format, Parser};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn shared() -> PathBuf {
    repo_root().join("../shared")
}

/// (dataset name, body).
fn datasets() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let dir = shared().join("fixtures/real");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "prom"))
        .collect();
    files.sort();
    for p in files {
        let name = p.file_stem().unwrap().to_string_lossy().into_owned();
        out.push((name, std::fs::read(&p).unwrap()));
    }
    if let Some(kcm) = gen_kcm() {
        out.push(kcm);
    }
    out
}

/// One gen-kcm text scrape, generated once into target/bench-data/.
fn gen_kcm() -> Option<(String, Vec<u8>)> {
    let preset = std::env::var("PROMLITE_BENCH_KCM").unwrap_or_else(|_| "single".into());
    if preset == "off" {
        return None;
    }
    let instances = std::env::var("PROMLITE_BENCH_KCM_INSTANCES").ok();
    let tag = match &instances {
        Some(n) => format!("gen-kcm-{preset}-{n}i"),
        None => format!("gen-kcm-{preset}"),
    };
    let dir = repo_root().join("target/bench-data").join(&tag);
    let first_scrape = |dir: &std::path::Path| -> Option<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "prom"))
            .collect();
        v.sort();
        v.into_iter().next()
    };
    if first_scrape(&dir).is_none() {
        let mut cmd = Command::new("python3");
        cmd.arg(shared().join("tools/gen-kcm"))
            .args(["--preset", &preset, "--scrapes", "1", "-q", "--out"])
            .arg(&dir);
        if let Some(n) = &instances {
            cmd.args(["--instances", n]);
        }
        if !cmd.status().is_ok_and(|s| s.success()) {
            eprintln!(
                "skipping gen-kcm dataset: generating {} failed",
                dir.display()
            );
            return None;
        }
    }
    let file = first_scrape(&dir)?;
    Some((tag, std::fs::read(&file).ok()?))
}

/// Sample lines: neither blank nor comments (each peer counts one sample per such line).
fn sample_lines(body: &[u8]) -> usize {
    body.split(|&b| b == b'\n')
        .filter(|l| {
            let l = l.trim_ascii();
            !l.is_empty() && l[0] != b'#'
        })
        .count()
}

fn promlite_labels(body: &[u8]) -> usize {
    let mut n = 0;
    let mut acc = 0usize;
    let mut sum = 0f64;
    for ev in Parser::new(body, Format::Text) {
        if let Event::Sample(s) = ev.expect("fixtures parse strictly") {
            n += 1;
            sum += s.value;
            acc += s.name().len();
            for (k, v) in s.labels() {
                acc += k.len() + v.len();
            }
        }
    }
    black_box((acc, sum));
    n
}

fn promlite_series(body: &[u8]) -> usize {
    let mut n = 0;
    let mut acc = 0usize;
    let mut sum = 0f64;
    for ev in Parser::new(body, Format::Text) {
        if let Event::Sample(s) = ev.expect("fixtures parse strictly") {
            n += 1;
            sum += s.value;
            acc += s.series_bytes().len();
        }
    }
    black_box((acc, sum));
    n
}

fn peer_prom_text_format_parser(text: &str) -> Result<usize, String> {
    let scrape = prom_text_format_parser::Scrape::parse(text).map_err(|e| format!("{e:?}"))?;
    Ok(scrape.metrics.iter().map(|m| m.samples.len()).sum())
}

fn peer_nom_openmetrics(text: &str) -> Result<usize, String> {
    let (rest, fams) = nom_openmetrics::parser::prometheus(text)
        .map_err(|e| format!("{e:?}").chars().take(200).collect::<String>())?;
    if !rest.is_empty() {
        return Err(format!("{} bytes left unparsed", rest.len()));
    }
    Ok(fams.iter().map(|f| f.samples.len()).sum())
}

fn peer_prometheus_parse(text: &str) -> Result<usize, String> {
    // Its entry point takes an iterator of owned lines (as in shared/bench/rust-peers).
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    let scrape = prometheus_parse::Scrape::parse(lines).map_err(|e| e.to_string())?;
    Ok(scrape
        .samples
        .iter()
        .map(|s| match &s.value {
            prometheus_parse::Value::Histogram(b) => b.len(),
            prometheus_parse::Value::Summary(q) => q.len(),
            _ => 1,
        })
        .sum())
}

type PeerFn = fn(&str) -> Result<usize, String>;

const PEERS: &[(&str, PeerFn)] = &[
    ("prom_text_format_parser", peer_prom_text_format_parser),
    ("nom-openmetrics", peer_nom_openmetrics),
    ("prometheus-parse", peer_prometheus_parse),
];

fn bench_parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    for (name, body) in datasets() {
        let want = sample_lines(&body);
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_with_input(
            BenchmarkId::new(&name, "promlite-labels"),
            &body[..],
            |b, body| b.iter(|| assert_eq!(promlite_labels(black_box(body)), want)),
        );
        group.bench_with_input(
            BenchmarkId::new(&name, "promlite-series"),
            &body[..],
            |b, body| b.iter(|| assert_eq!(promlite_series(black_box(body)), want)),
        );
        let Ok(text) = std::str::from_utf8(&body) else {
            continue;
        };
        for (peer, f) in PEERS {
            match f(text) {
                Ok(n) if n == want => {}
                Ok(n) => {
                    eprintln!("note: {peer} counts {n} samples on {name}, not {want}: left out");
                    continue;
                }
                Err(e) => {
                    eprintln!("note: {peer} fails on {name}: {e}: left out");
                    continue;
                }
            }
            group.bench_with_input(BenchmarkId::new(&name, *peer), text, |b, text| {
                b.iter(|| assert_eq!(f(black_box(text)), Ok(want)))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_parse);
criterion_main!(benches);
