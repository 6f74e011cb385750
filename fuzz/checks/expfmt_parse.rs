//! Feeds arbitrary bytes to the exposition parser in both formats and both modes and
//! walks every lazy accessor: none of it may panic. It also checks that the text
//! format's fast paths read every line as the general path does (see `fast_paths_agree`). In strict mode the parser must stop
//! after the first error; in tolerant mode it must make progress (one event per line at
//! most, plus the final EOF error).
//!
//! Seed corpus (from fuzz/; the fixtures cut into 40-line pieces, since whole 3 MB files
//! make each run slow; corpus/ is not committed):
//! `mkdir -p corpus/expfmt_parse && for f in ../../shared/fixtures/real/*.prom; do split -l 40 -a 4 "$f" "corpus/expfmt_parse/$(basename "$f" .prom)-"; done`
//! then `RUSTC_BOOTSTRAP=1 cargo fuzz run expfmt_parse -- -max_total_time=600 -max_len=8192`.
//!
//! Shared by the fuzz target `fuzz/fuzz_targets/expfmt_parse.rs` and by the replay of kept
//! inputs in `tests/fuzz_regressions.rs` (`fuzz/regressions/expfmt_parse/`).
use promlite::expfmt::{ErrorKind, Event, Format, Mode, Parser};

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

/// What a text-format event says, for comparing two parses: samples as (name, labels,
/// value bits, timestamp, line); errors as (line, column, kind).
#[derive(Debug, PartialEq)]
enum Seen {
    Sample(String, Vec<(String, String)>, u64, Option<i64>, usize),
    Other(String),
    Error(usize, usize, ErrorKind),
}

fn seen(data: &[u8], mode: Mode, column_shift: usize) -> Vec<Seen> {
    Parser::new(data, Format::Text)
        .mode(mode)
        .map(|ev| match ev {
            Ok(Event::Sample(s)) => Seen::Sample(
                s.name().into_owned(),
                s.labels()
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect(),
                s.value.to_bits(),
                s.timestamp,
                s.line,
            ),
            Ok(other) => Seen::Other(format!("{other:?}")),
            Err(e) => Seen::Error(e.line, e.column.saturating_sub(column_shift), e.kind),
        })
        .collect()
}

/// The text parser reads common lines on fast paths that only start at a line's first
/// byte; a line indented by one blank always takes the general path and must read the
/// same (its error columns one further right).
fn fast_paths_agree(data: &[u8]) {
    let mut indented = Vec::with_capacity(data.len() * 2 + 1);
    indented.push(b' ');
    for &b in data {
        indented.push(b);
        if b == b'\n' {
            indented.push(b' ');
        }
    }
    for mode in [Mode::Strict, Mode::Tolerant] {
        assert_eq!(
            seen(data, mode, 0),
            seen(&indented, mode, 1),
            "fast and general paths differ"
        );
    }
}

/// Runs one input through the target's checks; panics on a finding.
pub fn check(data: &[u8]) {
    for format in [Format::Text, Format::OpenMetrics] {
        for mode in [Mode::Strict, Mode::Tolerant] {
            walk(data, format, mode);
        }
    }
    fast_paths_agree(data);
    let _ = Format::sniff(data);
}
