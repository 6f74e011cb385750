//! Label pairs as `SampleEvent::labels` hands them out, across the shapes the parser
//! treats differently: plain blocks (offsets recorded while parsing, for the first eight
//! pairs; later pairs walked), blocks with blanks or quoted names (the general path),
//! escapes, trailing commas and very long lines. Expected pairs are written out by hand
//! from the input text.

mod support;

use promlite_expfmt::{Event, Format, Parser};

fn pairs(line: &str) -> Vec<(String, String)> {
    let mut p = Parser::new(line.as_bytes(), Format::Text);
    match p.next_event() {
        Some(Ok(Event::Sample(s))) => s
            .labels()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
        other => panic!("{line:?}: {other:?}"),
    }
}

fn owned(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn plain_blocks_of_every_length_up_to_twelve() {
    for n in 0..=12 {
        let want: Vec<(String, String)> = (0..n)
            .map(|k| (format!("l{k}"), format!("v{}", "x".repeat(k))))
            .collect();
        let body: Vec<String> = want.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
        for trailing in ["", ","] {
            let line = format!("m{{{}{}}} 1\n", body.join(","), trailing);
            let line = if n == 0 { "m{} 1\n".to_owned() } else { line };
            assert_eq!(pairs(&line), want, "{line:?}");
        }
    }
}

#[test]
fn escapes_in_recorded_and_walked_pairs() {
    // Pairs 0, 2 and 9 carry escapes: \" is a quote, \\ a backslash, \n a newline.
    let line = r#"m{a="x\"y",b="",c="p\\q",d="4",e="5",f="6",g="7",h="8",i="9",j="n\nl"} 1"#;
    assert_eq!(
        pairs(line),
        owned(&[
            ("a", "x\"y"),
            ("b", ""),
            ("c", "p\\q"),
            ("d", "4"),
            ("e", "5"),
            ("f", "6"),
            ("g", "7"),
            ("h", "8"),
            ("i", "9"),
            ("j", "n\nl"),
        ])
    );
}

#[test]
fn general_path_blocks() {
    assert_eq!(
        pairs(r#"m{ a = "1" , b="2" ,} 1"#),
        owned(&[("a", "1"), ("b", "2")])
    );
    assert_eq!(
        pairs(r#"{"m.x", "a.b"="1", c="2"} 1"#),
        owned(&[("a.b", "1"), ("c", "2")])
    );
    // Names that may be duplicates go the general way too: `ab` and `bu` share a Bloom
    // bit, (2 + 7*97 + 3*98) mod 64 = (2 + 7*98 + 3*117) mod 64 = 15.
    assert_eq!(
        pairs(r#"m{ab="1",bu="2"} 1"#),
        owned(&[("ab", "1"), ("bu", "2")])
    );
}

#[test]
fn duplicates_past_the_eighth_pair() {
    // Pairs 0..=9 are l0..l9; a repeat of l2 or of l9 as the eleventh pair (column of its
    // name: the block starts at byte 2, each `lK="v",` is 7 bytes, so pair 10 starts at
    // byte 2 + 70 = 72, column 73).
    let head: String = (0..10).map(|k| format!("l{k}=\"v\",")).collect();
    for again in ["l2", "l9"] {
        let line = format!("m{{{head}{again}=\"w\"}} 1\n");
        let err = Parser::new(line.as_bytes(), Format::Text)
            .next_event()
            .unwrap()
            .unwrap_err();
        assert_eq!(err.column, 73, "{line}");
        assert!(err.to_string().contains("duplicate"), "{err}");
    }
    // Without the repeat, all eleven pairs read back.
    let line = format!("m{{{head}l10=\"w\"}} 1\n");
    assert_eq!(pairs(&line).len(), 11);
    assert_eq!(pairs(&line)[10], ("l10".to_owned(), "w".to_owned()));
}

#[test]
fn offsets_past_u16_are_walked() {
    // The second value ends past byte 65535 of the series: only the first pair's offsets
    // fit in the recorded u16s.
    let long = "z".repeat(70_000);
    let line = format!("m{{a=\"1\",b=\"{long}\",c=\"3\"}} 1\n");
    assert_eq!(pairs(&line), owned(&[("a", "1"), ("b", &long), ("c", "3")]));
}

#[test]
fn duplicates_are_still_caught_in_plain_blocks() {
    let err = Parser::new(b"m{a=\"1\",b=\"2\",a=\"3\"} 1\n", Format::Text)
        .next_event()
        .unwrap()
        .unwrap_err();
    // The third pair's name starts at byte 14 (0-based), column 15.
    assert_eq!(err.column, 15);
    assert!(err.to_string().contains("duplicate"), "{err}");
}

/// Length of the common prefix of two byte strings, byte by byte.
fn common(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Checks `labels_skipping` for `cur` against `prev` at every prefix length up
/// to their common prefix: the skipped pairs are `prev`'s first pairs, and the
/// rest are `cur`'s remaining pairs.
fn check_skipping(prev: &promlite_expfmt::SampleEvent<'_>, cur: &promlite_expfmt::SampleEvent<'_>) {
    let prev_pairs: Vec<_> = prev.labels().collect();
    let cur_pairs: Vec<_> = cur.labels().collect();
    let d = common(prev.series_bytes(), cur.series_bytes());
    for prefix in [0, d / 2, d.saturating_sub(1), d] {
        let (skipped, rest) = cur.labels_skipping(prefix);
        assert_eq!(
            &cur_pairs[..skipped],
            &prev_pairs[..skipped],
            "{} / {} at {prefix}",
            prev.series(),
            cur.series()
        );
        assert_eq!(
            rest.collect::<Vec<_>>(),
            &cur_pairs[skipped..],
            "{}",
            cur.series()
        );
    }
}

#[test]
fn skipping_shared_pairs_by_hand() {
    let body = "m{a=\"1\",b=\"2\",le=\"5\"} 1\n\
                m{a=\"1\",b=\"2\",le=\"10\"} 1\n\
                m{a=\"1\",b=\"20\"} 1\n\
                m{a=\"1\",b=\"2\\\"\"} 1\n\
                m{a=\"1\",b=\"2\\\"\",c=\"3\"} 1\n\
                m { a=\"1\",b=\"2\\\"\",c=\"3\"} 1\n";
    let mut p = Parser::new(body.as_bytes(), Format::Text);
    let mut events = Vec::new();
    while let Some(ev) = p.next_event() {
        if let Ok(Event::Sample(s)) = ev {
            events.push(s);
        }
    }
    // Counted by hand: pairs of each line wholly (through the closing quote)
    // inside the bytes it shares with the line before.
    let want = [2, 1, 1, 2, 0];
    for (k, w) in events.windows(2).zip(want) {
        let d = common(k[0].series_bytes(), k[1].series_bytes());
        assert_eq!(k[1].labels_skipping(d).0, w, "{}", k[1].series());
        check_skipping(&k[0], &k[1]);
    }
}

#[test]
fn skipping_shared_pairs_of_real_fixtures() {
    let mut checked = 0;
    for (_, body) in support::real_fixtures() {
        let mut p = Parser::new(&body, Format::Text);
        let mut prev = None;
        while let Some(ev) = p.next_event() {
            if let Ok(Event::Sample(s)) = ev {
                if let Some(prev) = &prev {
                    check_skipping(prev, &s);
                    checked += 1;
                }
                prev = Some(s);
            }
        }
    }
    assert!(checked > 10_000, "{checked} pairs of lines checked");
}
