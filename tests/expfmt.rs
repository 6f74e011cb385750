//! Integration tests: the exposition-format parser (`promlite-expfmt`) and `promlite parse`.
//!
//! - every real fixture parses strictly and equals Python's prometheus_client's parse;
//! - the edge cases real endpoints emit, each as a named test with hand-written expectations;
//! - one named test per error kind, asserting line and column;
//! - a proptest round trip: random families → rendered text → parsed → equal;
//! - the CLI's JSON output, totals and errors.
//!
//! The allocation test lives in crates/promlite-expfmt/tests/no_alloc.rs: it installs a
//! counting global allocator, which should not slow down this shared test binary.

use std::process::Command;

use promlite::expfmt::{ErrorKind, Event, Format, Found, Mode, ParseError, Parser};
use promlite::model::MetricType;
use proptest::prelude::*;

use crate::common::{promlite_bin, repo_root, shared_dir};

/// One parsed sample, fully decoded.
#[derive(Debug, Clone)]
struct S {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
    ts: Option<i64>,
}

impl PartialEq for S {
    fn eq(&self, o: &S) -> bool {
        self.name == o.name
            && self.labels == o.labels
            && self.ts == o.ts
            && (self.value.to_bits() == o.value.to_bits()
                || (self.value.is_nan() && o.value.is_nan()))
    }
}

fn s(name: &str, labels: &[(&str, &str)], value: f64, ts: Option<i64>) -> S {
    S {
        name: name.into(),
        labels: labels
            .iter()
            .map(|(a, b)| ((*a).into(), (*b).into()))
            .collect(),
        value,
        ts,
    }
}

/// All samples of a strictly parsed input; panics with the error otherwise.
fn parse_all(input: &[u8], format: Format) -> Vec<S> {
    try_parse(input, format).unwrap_or_else(|e| panic!("{e}"))
}

fn try_parse(input: &[u8], format: Format) -> Result<Vec<S>, ParseError> {
    let mut out = Vec::new();
    for ev in Parser::new(input, format) {
        if let Event::Sample(x) = ev? {
            out.push(S {
                name: x.name().into_owned(),
                labels: x
                    .labels()
                    .map(|(a, b)| (a.into_owned(), b.into_owned()))
                    .collect(),
                value: x.value,
                ts: x.timestamp,
            });
        }
    }
    Ok(out)
}

/// The first error of a strict parse.
fn first_error(input: &str, format: Format) -> ParseError {
    Parser::new(input.as_bytes(), format)
        .find_map(Result::err)
        .unwrap_or_else(|| panic!("no error in {input:?}"))
}

fn fixtures() -> Vec<std::path::PathBuf> {
    let dir = shared_dir().join("fixtures/real");
    let mut v: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "prom"))
        .collect();
    v.sort();
    assert!(
        v.len() >= 6,
        "expected the six real fixtures in {}",
        dir.display()
    );
    v
}

// ---------------------------------------------------------------------------------------
// Real fixtures against prometheus_client

fn prometheus_client_available() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import prometheus_client"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        let why = "python3 with prometheus_client is needed (pip install prometheus-client)";
        if std::env::var_os("PROMLITE_REQUIRE_ORACLE").is_some() || std::env::var_os("CI").is_some()
        {
            panic!("{why}");
        }
        eprintln!("SKIPPED fixtures_match_prometheus_client: {why}");
    }
    ok
}

#[test]
fn fixtures_match_prometheus_client() {
    if !prometheus_client_available() {
        return;
    }
    let script = repo_root().join("tests/support/prom_client_samples.py");
    for path in fixtures() {
        let body = std::fs::read(&path).unwrap();
        assert_eq!(Format::sniff(&body), Format::Text);
        let ours = parse_all(&body, Format::Text);
        let out = Command::new("python3")
            .arg(&script)
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let theirs: Vec<S> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| {
                let j: serde_json::Value = serde_json::from_str(l).unwrap();
                S {
                    name: j["name"].as_str().unwrap().into(),
                    labels: j["labels"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|p| (p[0].as_str().unwrap().into(), p[1].as_str().unwrap().into()))
                        .collect(),
                    // Python's repr: "nan", "inf", "-inf", "1e-05", "0.0": Rust reads all.
                    value: j["value"].as_str().unwrap().parse().unwrap(),
                    ts: None,
                }
            })
            .collect();
        let ours: Vec<S> = ours.into_iter().map(|x| S { ts: None, ..x }).collect();
        assert_eq!(ours.len(), theirs.len(), "{}: sample count", path.display());
        for (k, (a, b)) in ours.iter().zip(&theirs).enumerate() {
            // prometheus_client renames the samples of a counter family whose name lacks
            // `_total` to `<name>_total` (parser.py build_metric); the wire has no suffix.
            let a = if b.name == format!("{}_total", a.name) {
                S {
                    name: b.name.clone(),
                    ..a.clone()
                }
            } else {
                a.clone()
            };
            assert_eq!(&a, b, "{}: sample #{k}", path.display());
        }
        assert!(!ours.is_empty());
    }
}

#[test]
fn fixtures_keep_every_label_of_the_kcm_histograms() {
    // prometheus-parse dropped the `url` label on most histograms of this dump; every
    // rest_client_request_duration_seconds_bucket line there has the labels written.
    let body =
        std::fs::read(shared_dir().join("fixtures/real/kube-controller-manager-1.20.15.prom"))
            .unwrap();
    let text = String::from_utf8_lossy(&body);
    let written = text
        .lines()
        .filter(|l| {
            l.starts_with("rest_client_request_duration_seconds_bucket{") && l.contains("url=\"")
        })
        .count();
    let parsed = parse_all(&body, Format::Text)
        .into_iter()
        .filter(|x| {
            x.name == "rest_client_request_duration_seconds_bucket"
                && x.labels.iter().any(|(n, _)| n == "url")
        })
        .count();
    assert!(written > 0);
    assert_eq!(parsed, written);
}

// ---------------------------------------------------------------------------------------
// Edge cases real endpoints emit

#[test]
fn label_value_escapes_are_decoded() {
    let got = parse_all(br#"m{a="x\\y\"z\nw",b="plain"} 1"#, Format::Text);
    assert_eq!(
        got,
        [s("m", &[("a", "x\\y\"z\nw"), ("b", "plain")], 1.0, None)]
    );
}

#[test]
fn unknown_escapes_are_kept_as_written() {
    // Prometheus replaces only \\, \" and \n, leaving other pairs alone.
    let got = parse_all(br#"m{a="C:\temp"} 1"#, Format::Text);
    assert_eq!(got[0].labels, [("a".to_string(), "C:\\temp".to_string())]);
}

#[test]
fn label_values_borrow_unless_escaped() {
    let input = br#"m{a="plain",b="esc\"aped"} 1"#;
    let Some(Ok(Event::Sample(x))) = Parser::new(input, Format::Text).next_event() else {
        panic!()
    };
    let labels: Vec<_> = x.labels().collect();
    assert!(matches!(labels[0].1, std::borrow::Cow::Borrowed("plain")));
    assert!(matches!(labels[1].1, std::borrow::Cow::Owned(_)));
    assert_eq!(x.series_bytes(), &br#"m{a="plain",b="esc\"aped"}"#[..]);
}

#[test]
fn help_escapes_are_decoded_per_format() {
    let ev: Vec<_> = Parser::new(b"# HELP m a\\\\b\\nc \\\"q\\\"\n", Format::Text)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        ev,
        [Event::Help {
            metric: "m".into(),
            help: "a\\b\nc \\\"q\\\"".into()
        }]
    );
    let ev: Vec<_> = Parser::new(b"# HELP m say \\\"q\\\"\n# EOF\n", Format::OpenMetrics)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        ev[0],
        Event::Help {
            metric: "m".into(),
            help: "say \"q\"".into()
        }
    );
}

#[test]
fn special_floats_parse() {
    let got = parse_all(b"a NaN\nb +Inf\nc -Inf\nd Inf\ne -0\nf 0\n", Format::Text);
    assert!(got[0].value.is_nan());
    assert_eq!(got[1].value, f64::INFINITY);
    assert_eq!(got[2].value, f64::NEG_INFINITY);
    assert_eq!(got[3].value, f64::INFINITY);
    assert!(
        got[4].value == 0.0 && got[4].value.is_sign_negative(),
        "-0 keeps its sign"
    );
    assert!(got[5].value.is_sign_positive());
}

#[test]
fn every_exponent_form_parses() {
    let got = parse_all(
        b"a 9.999999999999999e-06\nb 1E+03\nc 1e3\nd -1.5e-3\ne 2.5E-1\nf 1e+308\ng 0x1p-2\nh .5\n",
        Format::Text,
    );
    let want = [
        9.999999999999999e-06,
        1000.0,
        1000.0,
        -0.0015,
        0.25,
        1e308,
        0.25,
        0.5,
    ];
    let vals: Vec<f64> = got.iter().map(|x| x.value).collect();
    assert_eq!(vals, want);
}

#[test]
fn go_runtime_negative_denormal_bucket_with_nan_sum() {
    let input = b"# TYPE go_gc_pauses_seconds histogram\n\
go_gc_pauses_seconds_bucket{le=\"-5e-324\"} 0\n\
go_gc_pauses_seconds_bucket{le=\"+Inf\"} 3\n\
go_gc_pauses_seconds_sum NaN\n\
go_gc_pauses_seconds_count 3\n";
    let got = parse_all(input, Format::Text);
    assert_eq!(got[0].labels[0].1, "-5e-324");
    assert!(got[2].value.is_nan());
    assert_eq!(got.len(), 4);
}

#[test]
fn trailing_comma_and_empty_label_sets() {
    let got = parse_all(
        b"a{x=\"1\",} 1\nb{} 2\nc{ x = \"1\" , y=\"\" } 3\n",
        Format::Text,
    );
    assert_eq!(
        got,
        [
            s("a", &[("x", "1")], 1.0, None),
            s("b", &[], 2.0, None),
            s("c", &[("x", "1"), ("y", "")], 3.0, None),
        ]
    );
}

#[test]
fn empty_label_values_are_kept() {
    let got = parse_all(br#"m{container="",id="/"} 1"#, Format::Text);
    assert_eq!(
        got[0].labels,
        [("container".into(), "".into()), ("id".into(), "/".into())]
    );
}

#[test]
fn blank_lines_comments_and_crlf() {
    let input = b"\r\n# just a comment\r\n\r\n   \t\r\n# HELP m h\r\nm{a=\"b\"} 1 5\r\n  n 2\n#no space comment\n";
    let ev: Vec<_> = Parser::new(input, Format::Text)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(ev[0], Event::Comment("just a comment".into()));
    assert_eq!(
        ev[1],
        Event::Help {
            metric: "m".into(),
            help: "h".into()
        }
    );
    let Event::Sample(x) = &ev[2] else { panic!() };
    assert_eq!(
        (x.series(), x.value, x.timestamp, x.line),
        ("m{a=\"b\"}", 1.0, Some(5), 6)
    );
    let Event::Sample(y) = &ev[3] else { panic!() };
    assert_eq!((y.series(), y.line), ("n", 7));
    assert_eq!(ev[4], Event::Comment("no space comment".into()));
    assert_eq!(ev.len(), 5);
}

#[test]
fn very_long_lines() {
    let big = "x".repeat(3 << 20);
    let input = format!("m{{a=\"{big}\",b=\"c\"}} 1\nn 2\n");
    let got = parse_all(input.as_bytes(), Format::Text);
    assert_eq!(got[0].labels[0].1.len(), 3 << 20);
    assert_eq!(got[0].labels[1], ("b".into(), "c".into()));
    assert_eq!(got[1], s("n", &[], 2.0, None));
}

#[test]
fn quoted_utf8_metric_and_label_names() {
    let input = "{\"http.requests.total\", \"code\"=\"200\"} 1\n\
{\"température\",\"ü.x\"=\"é\",le=\"1\"} 2 7\n\
# TYPE \"my.metric\" counter\n\
{\"my.metric\"} 3\n\
{\"esc\\\"aped\"} 4\n";
    let got = parse_all(input.as_bytes(), Format::Text);
    assert_eq!(
        got,
        [
            s("http.requests.total", &[("code", "200")], 1.0, None),
            s("température", &[("ü.x", "é"), ("le", "1")], 2.0, Some(7)),
            s("my.metric", &[], 3.0, None),
            s("esc\"aped", &[], 4.0, None),
        ]
    );
    let ev: Vec<_> = Parser::new(input.as_bytes(), Format::Text)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        ev[2],
        Event::Type {
            metric: "my.metric".into(),
            typ: MetricType::Counter
        }
    );
}

#[test]
fn text_timestamps_are_integer_milliseconds() {
    let got = parse_all(b"a 1 1782468875486\nb 1 -5\n", Format::Text);
    assert_eq!((got[0].ts, got[1].ts), (Some(1_782_468_875_486), Some(-5)));
    let e = first_error("a 1 1.5\n", Format::Text);
    assert!(matches!(e.kind, ErrorKind::InvalidTimestamp { .. }));
}

#[test]
fn text_types_and_untyped() {
    let ev: Vec<_> = Parser::new(
        b"# TYPE a counter\n# TYPE b gauge\n# TYPE c histogram\n# TYPE d summary\n# TYPE e untyped\n",
        Format::Text,
    )
    .collect::<Result<_, _>>()
    .unwrap();
    let types: Vec<_> = ev
        .iter()
        .map(|e| match e {
            Event::Type { typ, .. } => *typ,
            _ => panic!(),
        })
        .collect();
    use MetricType::*;
    assert_eq!(types, [Counter, Gauge, Histogram, Summary, Unknown]);
}

// ---------------------------------------------------------------------------------------
// OpenMetrics

const OM_BODY: &str = "# TYPE acme_http_router_request_seconds summary\n\
# UNIT acme_http_router_request_seconds seconds\n\
# HELP acme_http_router_request_seconds Latency though all of ACME's HTTP request router.\n\
acme_http_router_request_seconds_sum{path=\"/api/v1\",method=\"GET\"} 9036.32\n\
acme_http_router_request_seconds_count{path=\"/api/v1\",method=\"GET\"} 807283.0\n\
acme_http_router_request_seconds_created{path=\"/api/v1\",method=\"GET\"} 1605281325.0\n\
# TYPE go_goroutines gauge\n\
go_goroutines 69 1520879607.789\n\
# TYPE foo histogram\n\
foo_bucket{le=\"0.1\"} 8 # {trace_id=\"KOO5S4vxi0o\"} 0.67\n\
foo_bucket{le=\"+Inf\"} 17 # {trace_id=\"oHg5SJYRHA0\"} 9.8 1520879607.789\n\
foo_count 17\n\
foo_sum 324789.3\n\
foo_created 1520430000.123\n\
# TYPE g gaugehistogram\n\
g_bucket{le=\"+Inf\"} 3\n\
g_gcount 3\n\
g_gsum 2\n\
# TYPE i info\n\
i_info{version=\"1.2\"} 1\n\
# TYPE st stateset\n\
st{st=\"a\"} 1\n\
st{st=\"b\"} 0\n\
# TYPE u unknown\n\
u 1\n\
# EOF\n";

#[test]
fn openmetrics_example_parses() {
    let body = OM_BODY.as_bytes();
    assert_eq!(Format::sniff(body), Format::OpenMetrics);
    let ev: Vec<_> = Parser::new(body, Format::OpenMetrics)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(ev.last(), Some(&Event::Eof));
    assert_eq!(
        ev[1],
        Event::Unit {
            metric: "acme_http_router_request_seconds".into(),
            unit: "seconds"
        }
    );
    let types: Vec<_> = ev
        .iter()
        .filter_map(|e| match e {
            Event::Type { typ, .. } => Some(*typ),
            _ => None,
        })
        .collect();
    use MetricType::*;
    assert_eq!(
        types,
        [
            Summary,
            Gauge,
            Histogram,
            GaugeHistogram,
            Info,
            StateSet,
            Unknown
        ]
    );
    let samples: Vec<_> = ev
        .iter()
        .filter_map(|e| match e {
            Event::Sample(x) => Some(x),
            _ => None,
        })
        .collect();
    assert_eq!(samples.len(), 16);
    assert_eq!(
        samples[2].name(),
        "acme_http_router_request_seconds_created"
    );
    assert_eq!(samples[2].value, 1605281325.0);
    // 1520879607.789 s, by hand: 1520879607789 ms.
    assert_eq!(samples[3].timestamp, Some(1_520_879_607_789));
    let ex = samples[4].exemplar.as_ref().unwrap();
    assert_eq!((ex.value, ex.timestamp), (0.67, None));
    assert_eq!(
        ex.labels().collect::<Vec<_>>(),
        [("trace_id".into(), "KOO5S4vxi0o".into())]
    );
    assert_eq!(ex.labels_bytes(), &br#"{trace_id="KOO5S4vxi0o"}"#[..]);
    let ex = samples[5].exemplar.as_ref().unwrap();
    assert_eq!((ex.value, ex.timestamp), (9.8, Some(1_520_879_607_789)));
    assert_eq!(samples[5].timestamp, None);
    assert_eq!(samples[8].name(), "foo_created");
    assert_eq!(samples[10].name(), "g_gcount");
    assert_eq!(samples[11].name(), "g_gsum");
}

#[test]
fn openmetrics_timestamps_convert_exactly() {
    // By hand: 0.001 s = 1 ms; 1.0005 s = 1000.5 ms, truncated to 1000; 1e3 s = 10^6 ms.
    let got = parse_all(
        b"a 1 0.001\nb 1 1.0005\nc 1 1e3\nd 1 -0.5\n# EOF\n",
        Format::OpenMetrics,
    );
    let ts: Vec<_> = got.iter().map(|x| x.ts).collect();
    assert_eq!(ts, [Some(1), Some(1000), Some(1_000_000), Some(-500)]);
}

#[test]
fn openmetrics_requires_eof() {
    let e = first_error("a 1\n", Format::OpenMetrics);
    assert_eq!(
        (e.kind.clone(), e.line, e.column, e.offset),
        (ErrorKind::MissingEof, 2, 1, 4)
    );
    // Without a trailing newline after `# EOF` is fine.
    assert_eq!(parse_all(b"a 1\n# EOF", Format::OpenMetrics).len(), 1);
}

#[test]
fn text_format_treats_eof_as_a_comment() {
    let ev: Vec<_> = Parser::new(b"a 1\n# EOF\nb 2\n", Format::Text)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(ev[1], Event::Comment("EOF".into()));
    assert_eq!(ev.len(), 3);
}

#[test]
fn content_type_and_sniffing() {
    assert_eq!(
        Format::from_content_type("text/plain; version=0.0.4; charset=utf-8"),
        Some(Format::Text)
    );
    assert_eq!(Format::from_content_type("text/plain"), Some(Format::Text));
    assert_eq!(
        Format::from_content_type("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        Some(Format::OpenMetrics)
    );
    assert_eq!(
        Format::from_content_type(
            "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily"
        ),
        None
    );
    assert_eq!(Format::sniff(b"a 1\n# EOF\r\n"), Format::OpenMetrics);
    assert_eq!(Format::sniff(b"# EOF"), Format::OpenMetrics);
    assert_eq!(Format::sniff(b"a 1\n# EOF\nb 1\n"), Format::Text);
    assert_eq!(Format::sniff(b"a 1\n#  EOF\n"), Format::Text);
    assert_eq!(Format::sniff(b""), Format::Text);
}

// ---------------------------------------------------------------------------------------
// Modes

#[test]
fn strict_mode_stops_at_the_first_error() {
    let evs: Vec<_> = Parser::new(b"a 1\nb x\nc 3\nd y\n", Format::Text).collect();
    assert_eq!(evs.len(), 2);
    assert!(evs[0].is_ok());
    assert_eq!(evs[1].as_ref().unwrap_err().line, 2);
}

#[test]
fn tolerant_mode_reports_every_bad_line_and_keeps_the_good() {
    let evs: Vec<_> = Parser::new(b"a 1\nb x\nc 3\nd{ 4\ne 5\n", Format::Text)
        .mode(Mode::Tolerant)
        .collect();
    let good: Vec<_> = evs
        .iter()
        .filter_map(|e| match e {
            Ok(Event::Sample(x)) => Some(x.name().into_owned()),
            _ => None,
        })
        .collect();
    let bad: Vec<_> = evs
        .iter()
        .filter_map(|e| e.as_ref().err())
        .map(|e| (e.line, e.column))
        .collect();
    assert_eq!(good, ["a", "c", "e"]);
    assert_eq!(bad, [(2, 3), (4, 4)]);
}

#[test]
fn tolerant_openmetrics_still_reports_missing_eof() {
    let evs: Vec<_> = Parser::new(b"a 1\n\nb 2\n", Format::OpenMetrics)
        .mode(Mode::Tolerant)
        .collect();
    let kinds: Vec<_> = evs
        .iter()
        .filter_map(|e| e.as_ref().err())
        .map(|e| e.kind.clone())
        .collect();
    assert_eq!(kinds, [ErrorKind::BlankLine, ErrorKind::MissingEof]);
    assert_eq!(evs.iter().filter(|e| e.is_ok()).count(), 2);
}

// ---------------------------------------------------------------------------------------
// One test per error kind, with its position (columns are 1-based bytes).

fn assert_err(input: &str, format: Format, line: usize, column: usize, kind: ErrorKind) {
    let e = first_error(input, format);
    assert_eq!(
        (e.line, e.column, &e.kind),
        (line, column, &kind),
        "{input:?}: {e}"
    );
    // The offset is the column's byte in the input.
    let line_start: usize = input
        .split_inclusive('\n')
        .take(line - 1)
        .map(str::len)
        .sum();
    assert_eq!(e.offset, line_start + column - 1);
}

#[test]
fn error_display_names_line_column_and_what_was_found() {
    let e = first_error("a 1\n# TYPE b counter\nb{x=\"1\",code} 1\n", Format::Text);
    assert_eq!(
        e.to_string(),
        "line 3, col 13: expected '=' after label name, found '}'"
    );
}

#[test]
fn err_expected_metric_name() {
    assert_err(
        "a 1\n  9abc 1\n",
        Format::Text,
        2,
        3,
        ErrorKind::ExpectedMetricName {
            found: Found::Char('9'),
        },
    );
}

#[test]
fn err_missing_metric_name() {
    assert_err(
        "{a=\"b\"} 1\n",
        Format::Text,
        1,
        1,
        ErrorKind::MissingMetricName,
    );
}

#[test]
fn err_invalid_metric_name() {
    assert_err(
        "# TYPE 1abc counter\n",
        Format::Text,
        1,
        8,
        ErrorKind::InvalidMetricName,
    );
    assert_err(
        "{\"\"} 1\n",
        Format::Text,
        1,
        2,
        ErrorKind::InvalidMetricName,
    );
}

#[test]
fn err_expected_label_name() {
    assert_err(
        "m{a=\"b\",1=\"c\"} 1\n",
        Format::Text,
        1,
        9,
        ErrorKind::ExpectedLabelName {
            found: Found::Char('1'),
        },
    );
    assert_err(
        "m{a=\"b\"",
        Format::Text,
        1,
        8,
        ErrorKind::ExpectedCommaOrBrace {
            found: Found::EndOfLine,
        },
    );
    assert_err(
        "m{",
        Format::Text,
        1,
        3,
        ErrorKind::ExpectedLabelName {
            found: Found::EndOfLine,
        },
    );
    assert_err(
        "m{,} 1",
        Format::Text,
        1,
        3,
        ErrorKind::ExpectedLabelName {
            found: Found::Char(','),
        },
    );
}

#[test]
fn err_empty_label_name() {
    assert_err(
        "m{\"\"=\"x\"} 1\n",
        Format::Text,
        1,
        3,
        ErrorKind::EmptyLabelName,
    );
}

#[test]
fn err_expected_equals() {
    assert_err(
        "m{a=\"b\",c} 1\n",
        Format::Text,
        1,
        10,
        ErrorKind::ExpectedEquals {
            found: Found::Char('}'),
        },
    );
    // A quoted metric name is allowed only first, and only once.
    assert_err(
        "m{\"x\"} 1\n",
        Format::Text,
        1,
        6,
        ErrorKind::ExpectedEquals {
            found: Found::Char('}'),
        },
    );
}

#[test]
fn err_expected_label_value() {
    assert_err(
        "m{a=b} 1\n",
        Format::Text,
        1,
        5,
        ErrorKind::ExpectedLabelValue {
            found: Found::Char('b'),
        },
    );
}

#[test]
fn err_unterminated_string() {
    assert_err(
        "m{a=\"b\\\"} 1\n",
        Format::Text,
        1,
        5,
        ErrorKind::UnterminatedString,
    );
}

#[test]
fn err_expected_comma_or_brace() {
    assert_err(
        "m{a=\"b\" c=\"d\"} 1\n",
        Format::Text,
        1,
        9,
        ErrorKind::ExpectedCommaOrBrace {
            found: Found::Char('c'),
        },
    );
}

#[test]
fn err_duplicate_label_name() {
    assert_err(
        "m{a=\"1\",b=\"2\",a=\"3\"} 1\n",
        Format::Text,
        1,
        15,
        ErrorKind::DuplicateLabelName { name: "a".into() },
    );
    assert_err(
        "m{__name__=\"x\"} 1\n",
        Format::Text,
        1,
        3,
        ErrorKind::DuplicateLabelName {
            name: "__name__".into(),
        },
    );
    // Quoted and unquoted spellings of one name are the same name.
    assert_err(
        "m{a=\"1\",\"a\"=\"2\"} 1\n",
        Format::Text,
        1,
        9,
        ErrorKind::DuplicateLabelName { name: "a".into() },
    );
}

#[test]
fn distinct_names_that_share_a_bloom_bit_are_not_duplicates() {
    // `axa` and `bxt` hash alike in the parser's 64-bit filter (len + 7*first + 3*last,
    // mod 64: 3+679+291 = 973 and 3+686+348 = 1037, both 13 mod 64), forcing the exact check.
    let got = parse_all(b"m{axa=\"1\",bxt=\"2\"} 1\n", Format::Text);
    assert_eq!(got, [s("m", &[("axa", "1"), ("bxt", "2")], 1.0, None)]);
    let e = first_error("m{axa=\"1\",bxt=\"2\",axa=\"3\"} 1\n", Format::Text);
    assert_eq!(
        (e.column, e.kind),
        (19, ErrorKind::DuplicateLabelName { name: "axa".into() })
    );
}

#[test]
fn err_duplicate_label_name_in_a_long_label_set() {
    let mut line = String::from("m{");
    for k in 0..40 {
        line.push_str(&format!("l{k}=\"v\","));
    }
    let col = line.len() + 1;
    line.push_str("l7=\"again\"} 1\n");
    assert_err(
        &line,
        Format::Text,
        1,
        col,
        ErrorKind::DuplicateLabelName { name: "l7".into() },
    );
}

#[test]
fn err_invalid_utf8() {
    let e = Parser::new(b"a 1\nm{a=\"\xff\"} 1\n", Format::Text)
        .find_map(Result::err)
        .unwrap();
    assert_eq!(
        (e.line, e.column, e.offset, e.kind),
        (2, 6, 9, ErrorKind::InvalidUtf8)
    );
}

#[test]
fn err_expected_blank() {
    assert_err(
        "m{a=\"b\"}1\n",
        Format::Text,
        1,
        9,
        ErrorKind::ExpectedBlank {
            found: Found::Char('1'),
        },
    );
}

#[test]
fn err_missing_value() {
    assert_err("m{a=\"b\"}\n", Format::Text, 1, 9, ErrorKind::MissingValue);
    assert_err("m \n", Format::Text, 1, 3, ErrorKind::MissingValue);
}

#[test]
fn err_invalid_value() {
    assert_err(
        "a 1\nm 1,5\n",
        Format::Text,
        2,
        3,
        ErrorKind::InvalidValue {
            value: "1,5".into(),
        },
    );
    assert_err(
        "m +NaN\n",
        Format::Text,
        1,
        3,
        ErrorKind::InvalidValue {
            value: "+NaN".into(),
        },
    );
}

#[test]
fn err_invalid_timestamp() {
    assert_err(
        "m 1 12a\n",
        Format::Text,
        1,
        5,
        ErrorKind::InvalidTimestamp {
            value: "12a".into(),
        },
    );
    assert_err(
        "m 1 NaN\n# EOF\n",
        Format::OpenMetrics,
        1,
        5,
        ErrorKind::InvalidTimestamp {
            value: "NaN".into(),
        },
    );
    assert_err(
        "m 1 99999999999999999999\n",
        Format::Text,
        1,
        5,
        ErrorKind::InvalidTimestamp {
            value: "99999999999999999999".into(),
        },
    );
}

#[test]
fn err_trailing_data() {
    assert_err(
        "m 1 2 3\n",
        Format::Text,
        1,
        7,
        ErrorKind::TrailingData {
            found: Found::Char('3'),
        },
    );
    // Exemplars exist only in OpenMetrics.
    assert_err(
        "m 1 # {a=\"b\"} 1\n",
        Format::Text,
        1,
        5,
        ErrorKind::TrailingData {
            found: Found::Char('#'),
        },
    );
}

#[test]
fn err_invalid_exemplar() {
    assert_err(
        "m 1 # x\n# EOF\n",
        Format::OpenMetrics,
        1,
        7,
        ErrorKind::InvalidExemplar {
            reason: "expected '{' to start the exemplar's labels",
        },
    );
    assert_err(
        "m 1 # {a=\"b\"}\n# EOF\n",
        Format::OpenMetrics,
        1,
        14,
        ErrorKind::InvalidExemplar {
            reason: "expected ' ' and a value after the labels",
        },
    );
    assert_err(
        "m 1 # {a=\"b\"} zz\n# EOF\n",
        Format::OpenMetrics,
        1,
        15,
        ErrorKind::InvalidExemplar {
            reason: "invalid value",
        },
    );
}

#[test]
fn err_missing_type() {
    assert_err("# TYPE m\n", Format::Text, 1, 9, ErrorKind::MissingType);
}

#[test]
fn err_invalid_type() {
    assert_err(
        "# TYPE m countr\n",
        Format::Text,
        1,
        10,
        ErrorKind::InvalidType {
            typ: "countr".into(),
        },
    );
    // OpenMetrics types are not text-format types, and the reverse.
    assert_err(
        "# TYPE m info\n",
        Format::Text,
        1,
        10,
        ErrorKind::InvalidType { typ: "info".into() },
    );
    assert_err(
        "# TYPE m untyped\n# EOF\n",
        Format::OpenMetrics,
        1,
        10,
        ErrorKind::InvalidType {
            typ: "untyped".into(),
        },
    );
}

#[test]
fn err_trailing_metadata() {
    assert_err(
        "# TYPE m counter extra\n",
        Format::Text,
        1,
        18,
        ErrorKind::TrailingMetadata {
            found: Found::Char('e'),
        },
    );
}

#[test]
fn err_unexpected_comment() {
    assert_err(
        "a 1\n# hello\n# EOF\n",
        Format::OpenMetrics,
        2,
        1,
        ErrorKind::UnexpectedComment,
    );
}

#[test]
fn err_blank_line() {
    assert_err(
        "a 1\n\n# EOF\n",
        Format::OpenMetrics,
        2,
        1,
        ErrorKind::BlankLine,
    );
}

#[test]
fn err_missing_eof() {
    assert_err("a 1\nb 2", Format::OpenMetrics, 2, 4, ErrorKind::MissingEof);
    assert_err("a 1\n", Format::OpenMetrics, 2, 1, ErrorKind::MissingEof);
    assert_err("", Format::OpenMetrics, 1, 1, ErrorKind::MissingEof);
}

#[test]
fn err_data_after_eof() {
    assert_err(
        "a 1\n# EOF\nb 2\n",
        Format::OpenMetrics,
        3,
        1,
        ErrorKind::DataAfterEof,
    );
    assert_err(
        "# EOF\n\n",
        Format::OpenMetrics,
        2,
        1,
        ErrorKind::DataAfterEof,
    );
}

// ---------------------------------------------------------------------------------------
// Round trip: random families → text → parse → equal

/// Labels, value and timestamp of one generated sample.
type RawSample = (Vec<(String, String)>, f64, Option<i64>);

#[derive(Debug, Clone)]
struct Family {
    name: String,
    quoted_name: bool,
    samples: Vec<RawSample>,
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn value_strategy() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(-0.0),
        Just(0.0),
        Just(-5e-324),
        Just(f64::MAX),
        Just(f64::MIN_POSITIVE),
        any::<f64>(),
        (-1_000_000i64..1_000_000).prop_map(|i| i as f64),
        (-1_000_000i64..1_000_000, 0u32..6).prop_map(|(i, d)| i as f64 / 10f64.powi(d as i32)),
    ]
}

fn label_value_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[a-z0-9/._-]{0,12}",
        // Hostile: quotes, backslashes, newlines, separators, braces, non-ASCII.
        proptest::collection::vec(
            prop_oneof![
                Just('\\'),
                Just('"'),
                Just('\n'),
                Just(','),
                Just('='),
                Just('{'),
                Just('}'),
                Just(' '),
                Just('#'),
                Just('é'),
                Just('☃'),
                Just('\t'),
                Just('n'),
                any::<char>(),
            ],
            0..12
        )
        .prop_map(|v| v.into_iter().collect()),
    ]
}

fn family_strategy() -> impl Strategy<Value = Family> {
    let name = prop_oneof!["[a-zA-Z_:][a-zA-Z0-9_:]{0,20}", "[a-z]{1,5}\\.[a-z.]{1,8}"];
    let labels = proptest::collection::btree_map(
        prop_oneof!["[a-zA-Z_][a-zA-Z0-9_]{0,10}", "[a-z]{1,4}[.-][a-z]{1,4}"],
        label_value_strategy(),
        0..6,
    )
    .prop_map(|m| {
        m.into_iter()
            .filter(|(k, _)| k != "__name__")
            .collect::<Vec<_>>()
    });
    let sample = (
        labels,
        value_strategy(),
        proptest::option::of(-(1i64 << 50)..(1i64 << 50)),
    );
    (name, any::<bool>(), proptest::collection::vec(sample, 1..5)).prop_map(|(name, q, samples)| {
        let quoted_name = q || name.contains('.');
        Family {
            name,
            quoted_name,
            samples,
        }
    })
}

fn is_legacy_label(n: &str) -> bool {
    let b = n.as_bytes();
    !b.is_empty()
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// Renders families; OpenMetrics timestamps as exact decimal seconds.
fn render(families: &[Family], om: bool, trailing_comma: bool) -> String {
    let mut out = String::new();
    for f in families {
        let fname = if f.quoted_name {
            format!("\"{}\"", escape(&f.name))
        } else {
            f.name.clone()
        };
        out.push_str(&format!(
            "# TYPE {fname} {}\n",
            if om { "unknown" } else { "untyped" }
        ));
        for (labels, v, ts) in &f.samples {
            let mut items = Vec::new();
            if f.quoted_name {
                items.push(fname.clone());
            }
            for (n, val) in labels {
                let n = if is_legacy_label(n) {
                    n.clone()
                } else {
                    format!("\"{}\"", escape(n))
                };
                items.push(format!("{n}=\"{}\"", escape(val)));
            }
            let mut line = if f.quoted_name {
                String::new()
            } else {
                f.name.clone()
            };
            if !items.is_empty() || f.quoted_name {
                line.push('{');
                line.push_str(&items.join(","));
                if trailing_comma && !items.is_empty() {
                    line.push(',');
                }
                line.push('}');
            }
            line.push(' ');
            line.push_str(&promlite::model::format_go_g(*v));
            if let Some(t) = ts {
                line.push(' ');
                if om {
                    let sign = if *t < 0 { "-" } else { "" };
                    let a = t.unsigned_abs();
                    line.push_str(&format!("{sign}{}.{:03}", a / 1000, a % 1000));
                } else {
                    line.push_str(&t.to_string());
                }
            }
            out.push_str(&line);
            out.push('\n');
        }
    }
    if om {
        out.push_str("# EOF\n");
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn rendered_families_parse_back_equal(
        families in proptest::collection::vec(family_strategy(), 1..5),
        om in any::<bool>(),
        trailing_comma in any::<bool>(),
    ) {
        let text = render(&families, om, trailing_comma);
        let format = if om { Format::OpenMetrics } else { Format::Text };
        prop_assert_eq!(Format::sniff(text.as_bytes()), format);
        let got = try_parse(text.as_bytes(), format).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let want: Vec<S> = families
            .iter()
            .flat_map(|f| f.samples.iter().map(move |(l, v, t)| S {
                name: f.name.clone(),
                labels: l.clone(),
                value: *v,
                ts: *t,
            }))
            .collect();
        prop_assert_eq!(got, want, "{}", text);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        for format in [Format::Text, Format::OpenMetrics] {
            for ev in Parser::new(&bytes, format).mode(Mode::Tolerant) {
                if let Ok(Event::Sample(x)) = ev {
                    let _ = x.name();
                    let _ = x.labels().count();
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// CLI

fn write_tmp(name: &str, body: &[u8]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("promlite-expfmt-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p
}

#[test]
fn cli_prints_one_json_object_per_sample() {
    let p = write_tmp(
        "ok.prom",
        b"# TYPE up gauge\nup{job=\"kcm\",empty=\"\"} 1\nx{le=\"+Inf\"} NaN 1700000000000\ny -Inf\nz 1e-07\n",
    );
    let out = Command::new(promlite_bin())
        .arg("parse")
        .arg(&p)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            r#"{"name": "up", "labels": {"job": "kcm", "empty": ""}, "value": "1", "timestamp": null}"#,
            r#"{"name": "x", "labels": {"le": "+Inf"}, "value": "NaN", "timestamp": 1700000000000}"#,
            r#"{"name": "y", "labels": {}, "value": "-Inf", "timestamp": null}"#,
            r#"{"name": "z", "labels": {}, "value": "0.0000001", "timestamp": null}"#,
        ]
    );
    for l in lines {
        serde_json::from_str::<serde_json::Value>(l).expect("valid JSON");
    }
}

#[test]
fn cli_reports_errors_with_positions_and_exit_code_1() {
    let p = write_tmp("bad.prom", b"a 1\nb{x} 2\nc 3\nd{ 4\n");
    let out = Command::new(promlite_bin())
        .arg("parse")
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("line 2, col 4: expected '=' after label name, found '}'"),
        "{stderr}"
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().lines().count(),
        1,
        "strict stops at line 2"
    );

    let out = Command::new(promlite_bin())
        .arg("parse")
        .arg(&p)
        .arg("--tolerant")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 2);
    assert_eq!(String::from_utf8(out.stderr).unwrap().lines().count(), 2);
}

#[test]
fn cli_count_and_format_flags() {
    let p = write_tmp("om.txt", OM_BODY.as_bytes());
    let out = Command::new(promlite_bin())
        .args(["parse", "--format", "openmetrics", "--count"])
        .arg(&p)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["samples"], 16);
    assert_eq!(j["type"], 7);
    assert_eq!(j["unit"], 1);
    assert_eq!(j["errors"], 0);
    // The same body read as text fails: exemplars and float timestamps are OpenMetrics.
    let out = Command::new(promlite_bin())
        .args(["parse", "--format", "text", "--count"])
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let out = Command::new(promlite_bin())
        .args(["parse", "--format", "yaml"])
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn cli_counts_a_real_fixture() {
    let p = shared_dir().join("fixtures/real/kube-controller-manager-1.35.0.prom");
    let out = Command::new(promlite_bin())
        .args(["parse", "--count"])
        .arg(&p)
        .output()
        .unwrap();
    assert!(out.status.success());
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // Sample lines = lines that are neither comments nor blank, counted independently.
    let body = std::fs::read_to_string(&p).unwrap();
    let want = body
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .count();
    assert_eq!(j["samples"], want as u64);
}
