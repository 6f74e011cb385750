#![no_main]
//! Feeds arbitrary bytes to the exposition parser in both formats and both modes and
//! walks every lazy accessor: none of it may panic. In strict mode the parser must stop
//! after the first error; in tolerant mode it must make progress (one event per line at
//! most, plus the final EOF error).
//!
//! Seed corpus (from fuzz/; the fixtures cut into 40-line pieces, since whole 3 MB files
//! make each run slow; corpus/ is not committed):
//! `mkdir -p corpus/expfmt_parse && for f in ../../shared/fixtures/real/*.prom; do split -l 40 -a 4 "$f" "corpus/expfmt_parse/$(basename "$f" .prom)-"; done`
//! then `RUSTC_BOOTSTRAP=1 cargo fuzz run expfmt_parse -- -max_total_time=600 -max_len=8192`.
use libfuzzer_sys::fuzz_target;
use promlite::expfmt::{Event, Format, Mode, Parser};

fn walk(data: &[u8], format: Format, mode: Mode) {
    let lines = data.iter().filter(|&&b| b == b'\n').count() + 1;
    let mut events = 0usize;
    let mut errors = 0usize;
    for ev in Parser::new(data, format).mode(mode) {
        events += 1;
        assert!(events <= lines + 1, "more events than lines");
        match ev {
            Ok(Event::Sample(s)) => {
                let _ = s.name();
                assert!(!s.series_bytes().is_empty());
                for (n, v) in s.labels() {
                    std::hint::black_box((n.len(), v.len()));
                }
                if let Some(ex) = &s.exemplar {
                    for (n, v) in ex.labels() {
                        std::hint::black_box((n.len(), v.len()));
                    }
                }
            }
            Ok(other) => {
                std::hint::black_box(other);
            }
            Err(e) => {
                errors += 1;
                assert!(e.line >= 1 && e.column >= 1 && e.offset <= data.len());
                let _ = e.to_string();
            }
        }
    }
    if mode == Mode::Strict {
        assert!(errors <= 1, "strict mode went on after an error");
    }
}

fuzz_target!(|data: &[u8]| {
    for format in [Format::Text, Format::OpenMetrics] {
        for mode in [Mode::Strict, Mode::Tolerant] {
            walk(data, format, mode);
        }
    }
    let _ = Format::sniff(data);
});
