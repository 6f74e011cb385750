//! Parsing input without escapes allocates nothing per sample.
//!
//! This is its own test binary because `allocation-counter` replaces the global allocator
//! of whatever binary links it (with a per-thread counting wrapper around the system
//! allocator); the shared tests/ binary should not pay for that.

use std::path::PathBuf;

use promlite_expfmt::{Event, Format, Parser};

fn fixture(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/real")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Parses `body` and decodes every name and label; returns (samples, allocations).
fn count(body: &[u8], format: Format) -> (usize, u64) {
    let mut samples = 0usize;
    let mut label_bytes = 0usize;
    let info = allocation_counter::measure(|| {
        for ev in Parser::new(body, format) {
            if let Ok(Event::Sample(s)) = ev {
                samples += 1;
                label_bytes += s.name().len();
                for (n, v) in s.labels() {
                    label_bytes += n.len() + v.len();
                }
            }
        }
    });
    assert!(label_bytes > 0);
    (samples, info.count_total)
}

#[test]
fn the_counter_sees_allocations() {
    // Guards against a vacuous pass if the counting allocator were not installed.
    let info = allocation_counter::measure(|| {
        std::hint::black_box(vec![1u8; 100]);
    });
    assert_eq!(info.count_total, 1);
}

#[test]
fn real_fixtures_parse_without_allocating_per_sample() {
    for name in [
        "kube-apiserver-1.35.0.prom",
        "kube-controller-manager-1.20.15.prom",
        "kube-controller-manager-1.24.17.prom",
        "kube-controller-manager-1.35.0.prom",
        "kube-scheduler-1.35.0.prom",
        "kubelet-cadvisor-1.35.0.prom",
    ] {
        let body = fixture(name);
        let (samples, allocs) = count(&body, Format::Text);
        assert!(samples > 2000, "{name}: {samples} samples");
        // Allowed: the parser's one reusable scratch Vec for the duplicate-label check
        // (growing a few times to the widest label set) and HELP lines with escapes
        // (kcm-1.35 has a few `\n` in HELP). Nothing per sample.
        let helps_with_escapes = String::from_utf8_lossy(&body)
            .lines()
            .filter(|l| l.starts_with("# HELP") && l.contains('\\'))
            .count() as u64;
        eprintln!("{name}: {samples} samples, {allocs} allocations");
        assert!(
            allocs <= 8 + helps_with_escapes,
            "{name}: {allocs} allocations for {samples} samples"
        );
    }
}

#[test]
fn allocations_do_not_grow_with_sample_count() {
    let body = fixture("kube-controller-manager-1.35.0.prom");
    // The same scrape ten times over is ten times the samples, the same allocations
    // apart from the escaped HELP texts, which repeat with it.
    let helps = String::from_utf8_lossy(&body)
        .lines()
        .filter(|l| l.starts_with("# HELP") && l.contains('\\'))
        .count() as u64;
    let ten: Vec<u8> = body.repeat(10);
    let (n1, a1) = count(&body, Format::Text);
    let (n10, a10) = count(&ten, Format::Text);
    assert_eq!(n10, 10 * n1);
    assert!(
        a10 - 10 * helps <= a1 - helps,
        "1x: {a1} allocations, 10x: {a10}"
    );
}

#[test]
fn escaped_label_values_allocate_only_when_decoded() {
    let body = b"m{a=\"x\\\"y\"} 1\nm{a=\"x\\\"z\"} 2\n";
    let info = allocation_counter::measure(|| {
        for ev in Parser::new(body, Format::Text) {
            let Ok(Event::Sample(s)) = ev else { panic!() };
            std::hint::black_box(s.series_bytes());
        }
    });
    assert_eq!(info.count_total, 0, "series bytes alone never allocate");
}
