//! Regexes in queries have Go RE2 meaning (issue 13, 1d): `\w`, `\d`, `\s`, `\b` are
//! ASCII in selectors' matchers and in `label_replace`, as in Prometheus. The full
//! table (checked against Go's regexp) is `promlite-model`'s `tests/re2_classes.rs`;
//! this checks that the engine's own regexes go through it.

use promlite_model::{Labels, Sample, VecStorage};
use promlite_promql::{Engine, EngineOptions, Value};

fn storage() -> VecStorage {
    let mut s = VecStorage::default();
    for src in ["héllo", "hello", "x\u{0663}", "x3"] {
        s.push(
            &Labels::from_pairs([("__name__", "m"), ("src", src)]),
            Sample { t: 0, v: 1.0 },
        );
    }
    s
}

/// Sorted label texts of an instant vector answer.
fn answer(query: &str) -> Vec<String> {
    let r = Engine::new(EngineOptions::default())
        .instant_query(&storage(), query, 0)
        .unwrap_or_else(|e| panic!("{query}: {e}"));
    let Value::Vector(v) = &r.value else {
        panic!("{query}: not a vector")
    };
    let mut out: Vec<String> = v.iter().map(|s| s.labels.to_string()).collect();
    out.sort();
    out
}

#[test]
fn selector_matchers_use_ascii_classes() {
    assert_eq!(answer(r#"m{src=~"h\\w+"}"#), [r#"m{src="hello"}"#]);
    assert_eq!(answer(r#"m{src=~"x\\d"}"#), [r#"m{src="x3"}"#]);
    assert_eq!(
        answer(r#"m{src!~"\\w+"}"#),
        [r#"m{src="héllo"}"#, r#"m{src="x٣"}"#]
    );
}

#[test]
fn label_replace_uses_ascii_classes() {
    // RE2: `\w*` cannot cover "éllo", so héllo keeps no `dst`; hello's does.
    assert_eq!(
        answer(r#"label_replace(m{src=~"h.*"}, "dst", "$1", "src", "h(\\w*)")"#),
        [r#"m{dst="ello", src="hello"}"#, r#"m{src="héllo"}"#]
    );
    // `\b` between x and ٣: x is a word character and ٣ is not (ASCII), a boundary.
    assert_eq!(
        answer(r#"label_replace(m{src=~"x.*"}, "dst", "b", "src", "x\\b.")"#),
        [r#"m{dst="b", src="x٣"}"#, r#"m{src="x3"}"#]
    );
}
