//! The parser reads the common text-format lines (plain samples, plain HELP and TYPE)
//! straight off the input and hands every other line to the general path. These tests
//! write each line in a spelling that takes the fast path and in one that cannot (CRLF,
//! blanks, escapes, exponents), and check both against the same hand-written event, plus
//! the lines where the fast path must stop at a newline.

mod support;

use promlite_expfmt::{ErrorKind, Event, Format, Parser};
use promlite_model::MetricType;

/// (name, labels, value, timestamp, line) of every sample, or the first error.
type Row = (String, Vec<(String, String)>, f64, Option<i64>, usize);

fn samples(body: &str) -> Result<Vec<Row>, (usize, usize, ErrorKind)> {
    let mut out = Vec::new();
    for ev in Parser::new(body.as_bytes(), Format::Text) {
        match ev {
            Ok(Event::Sample(s)) => out.push((
                s.name().into_owned(),
                s.labels()
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect(),
                s.value,
                s.timestamp,
                s.line,
            )),
            Ok(_) => {}
            Err(e) => return Err((e.line, e.column, e.kind)),
        }
    }
    Ok(out)
}

fn row(name: &str, labels: &[(&str, &str)], v: f64, ts: Option<i64>, line: usize) -> Row {
    (
        name.to_owned(),
        labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        v,
        ts,
        line,
    )
}

#[test]
fn a_sample_reads_the_same_on_both_paths() {
    let want = vec![row("m", &[("a", "1"), ("b", "x\"y")], 2.5, Some(1000), 1)];
    for body in [
        "m{a=\"1\",b=\"x\\\"y\"} 2.5 1000\n",    // fast
        "m{a=\"1\",b=\"x\\\"y\"} 2.5 1000",      // fast, no final newline
        "m{a=\"1\",b=\"x\\\"y\"} 2.5 1000\r\n",  // CRLF: general
        "m{a=\"1\", b=\"x\\\"y\"} 2.5 1000\n",   // blank in the braces: general
        "m{a=\"1\",b=\"x\\\"y\"} 25e-1 1000\n",  // exponent: general
        "m{a=\"1\",b=\"x\\\"y\"}  2.5\t1000 \n", // extra blanks: general
    ] {
        assert_eq!(samples(body), Ok(want.clone()), "{body:?}");
    }
}

#[test]
fn line_numbers_and_next_lines_after_fast_lines() {
    let body = "# HELP m Help.\n# TYPE m gauge\nm 1\nm{a=\"x\"} 2\n\n  m 3\nm 4 -5";
    assert_eq!(
        samples(body),
        Ok(vec![
            row("m", &[], 1.0, None, 3),
            row("m", &[("a", "x")], 2.0, None, 4),
            row("m", &[], 3.0, None, 6),
            row("m", &[], 4.0, Some(-5), 7),
        ])
    );
}

#[test]
fn a_quoted_value_never_runs_into_the_next_line() {
    // The first line ends inside a quoted value (raw, or right after a backslash): an
    // unterminated string at its opening quote, column 5, not a value spanning lines.
    for body in ["m{a=\"x\n\"} 1\n", "m{a=\"x\\\n\"} 1\n"] {
        let err = samples(body).unwrap_err();
        assert_eq!(
            (err.0, err.1, err.2),
            (1, 5, ErrorKind::UnterminatedString),
            "{body:?}"
        );
    }
    // A value at the end of a line is not continued by digits on the next one.
    assert_eq!(
        samples("m 1\n2 3\n").unwrap_err().0,
        2,
        "the second line has no metric name"
    );
}

#[test]
fn bad_timestamps_and_trailing_data_still_fail() {
    for (body, col) in [("m 1 12x\n", 5), ("m 1 2 3\n", 7), ("m 1 #c\n", 5)] {
        let err = samples(body).unwrap_err();
        assert_eq!((err.0, err.1), (1, col), "{body:?}: {:?}", err.2);
    }
}

fn metadata(body: &str) -> Vec<Result<Event<'_>, usize>> {
    Parser::new(body.as_bytes(), Format::Text)
        .map(|ev| ev.map_err(|e| e.column))
        .collect()
}

#[test]
fn help_and_type_read_the_same_on_both_paths() {
    let help = |h: &'static str| Event::Help {
        metric: "m_total".into(),
        help: h.into(),
    };
    for body in [
        "# HELP m_total Some text.\n",
        "# HELP m_total Some text.",
        "# HELP m_total Some text.\r\n",
        "# HELP m_total   Some text.\n",
        "#\tHELP m_total Some text.\n",
    ] {
        assert_eq!(metadata(body), vec![Ok(help("Some text."))], "{body:?}");
    }
    // Escapes: `\\` is a backslash, `\n` a newline; `\"` stays as written in text format.
    assert_eq!(
        metadata("# HELP m_total a\\\\b\\nc\\\"d\n"),
        vec![Ok(help("a\\b\nc\\\"d"))]
    );
    assert_eq!(metadata("# HELP m_total \n"), vec![Ok(help(""))]);

    let typ = Event::Type {
        metric: "m_total".into(),
        typ: MetricType::Counter,
    };
    for body in [
        "# TYPE m_total counter\n",
        "# TYPE m_total counter",
        "# TYPE m_total counter \n",
        "# TYPE m_total counter\r\n",
        "# TYPE  m_total  counter\n",
    ] {
        assert_eq!(metadata(body), vec![Ok(typ.clone())], "{body:?}");
    }
    assert_eq!(
        metadata("# TYPE m untyped\n"),
        vec![Ok(Event::Type {
            metric: "m".into(),
            typ: MetricType::Unknown
        })]
    );
    // `counterx` is no type; the error points at the word (column 10).
    assert_eq!(metadata("# TYPE m counterx\n"), vec![Err(10)]);
    assert_eq!(metadata("# TYPE m Counter\n"), vec![Err(10)]);
}

/// Everything a text-format parse says, with error columns moved `shift` to the left.
fn transcript(body: &[u8], shift: usize) -> Vec<String> {
    Parser::new(body, Format::Text)
        .mode(promlite_expfmt::Mode::Tolerant)
        .map(|ev| match ev {
            Ok(Event::Sample(s)) => format!(
                "{} {:?} {:?} {:?} {}",
                s.name(),
                s.labels().collect::<Vec<_>>(),
                s.value.to_bits(),
                s.timestamp,
                s.line
            ),
            Ok(other) => format!("{other:?}"),
            Err(e) => format!("{} {} {:?}", e.line, e.column - shift, e.kind),
        })
        .collect()
}

#[test]
fn real_fixtures_read_the_same_on_both_paths() {
    // A line indented by one blank always takes the general path (which the other
    // integration tests check against prometheus_client); unindented, most lines take a
    // fast path. The fuzz target expfmt_parse does the same on arbitrary bytes.
    let mut files = 0;
    for (path, body) in support::real_fixtures() {
        let mut indented = vec![b' '];
        for &b in &body {
            indented.push(b);
            if b == b'\n' {
                indented.push(b' ');
            }
        }
        let fast = transcript(&body, 0);
        assert!(fast.len() > 1000, "{}", path.display());
        assert_eq!(fast, transcript(&indented, 1), "{}", path.display());
        files += 1;
    }
    assert!(files >= 6, "fixtures missing in ../shared/fixtures/real");
}

#[test]
fn pairs_shared_with_the_line_before_are_read_as_written() {
    // The fast path validates only the pairs a line does not share with the
    // label block before it; shared pairs keep their meaning (escapes too) at
    // offsets moved by the difference of the metric names' lengths.
    let body = "h_bucket{a=\"1\",b=\"x\\\"y\",le=\"0.5\"} 1\n\
                h_bucket{a=\"1\",b=\"x\\\"y\",le=\"1\"} 2\n\
                h_sum{a=\"1\",b=\"x\\\"y\"} 3\n\
                h_count{a=\"1\",b=\"x\\\"y\"} 4\n\
                m{a=\"12\",b=\"1\"} 5\n\
                m{a=\"1\",b=\"1\"} 6\n\
                m{a=\"1\",b=\"1\",} 7\n";
    let ab = [("a", "1"), ("b", "x\"y")];
    let want = vec![
        row("h_bucket", &[ab[0], ab[1], ("le", "0.5")], 1.0, None, 1),
        row("h_bucket", &[ab[0], ab[1], ("le", "1")], 2.0, None, 2),
        row("h_sum", &ab, 3.0, None, 3),
        row("h_count", &ab, 4.0, None, 4),
        row("m", &[("a", "12"), ("b", "1")], 5.0, None, 5),
        row("m", &[("a", "1"), ("b", "1")], 6.0, None, 6),
        row("m", &[("a", "1"), ("b", "1")], 7.0, None, 7),
    ];
    assert_eq!(samples(body), Ok(want));
    // A name repeated after the shared pairs is still a duplicate, reported
    // where the general path reports it.
    for bad in [
        "m{a=\"1\",b=\"2\"} 1\nm{a=\"1\",a=\"2\"} 2\n",
        "m{a=\"1\",b=\"2\"} 1\nm{a=\"1\",b=\"2\",a=\"3\"} 2\n",
        "m{a=\"1\",b=\"2\"} 1\nm{a=\"1\",b=\"2\n",
        // The whole block shared, `}` included: nothing may follow it.
        "m{a=\"1\"} 1\nm{a=\"1\"}} 2\n",
    ] {
        let err = samples(bad).unwrap_err();
        assert_eq!(err.0, 2, "{bad:?}");
        let indented = bad.replace('\n', "\n ");
        assert_eq!(
            transcript(bad.as_bytes(), 0),
            transcript(format!(" {indented}").as_bytes(), 1),
            "{bad:?}"
        );
    }
}

#[test]
fn previous_shared_counts_the_bytes_of_both_label_blocks() {
    let body = b"x_bucket{a=\"1\",le=\"5\"} 1\nx_sum{a=\"1\"} 2\ny{b=\"2\"} 3\n";
    let mut p = Parser::new(body, Format::Text);
    let mut next = || match p.next_event() {
        Some(Ok(Event::Sample(s))) => s,
        other => panic!("{other:?}"),
    };
    let first = next();
    assert_eq!(first.previous_shared(), None);
    let sum = next();
    // `a="1"`, then `}` against `,`: five bytes.
    assert_eq!(
        sum.previous_shared(),
        Some((first.series_bytes(), "a=\"1\"".len()))
    );
    let y = next();
    assert_eq!(y.previous_shared(), Some((sum.series_bytes(), 0)));
}

#[test]
fn equal_lines_are_equal_events_whatever_came_before() {
    let second = |body: &'static [u8]| {
        let mut p = Parser::new(body, Format::Text);
        p.next_event();
        match p.next_event() {
            Some(Ok(Event::Sample(s))) => s,
            other => panic!("{other:?}"),
        }
    };
    let a = second(b"x 0\nm{a=\"1\",b=\"2\"} 1\n");
    let b = second(b"m{a=\"1\",c=\"3\"} 0\nm{a=\"1\",b=\"2\"} 1\n");
    assert_ne!(a.previous_shared(), b.previous_shared());
    assert_eq!(a, b);
    let c = second(b"x 0\nm{a=\"1\",b=\"3\"} 1\n");
    assert_ne!(a, c);
}
