//! Float text in PromQL output follows Go's `strconv.FormatFloat(v, 'f', -1, 64)`,
//! including exact ties (issue 13, 1b). 1698289672762573.25 lies exactly halfway
//! between the 17-digit candidates ...573.2 and ...573.3; Go (and so Prometheus: the
//! 2.42 oracle answers `count_values("val", vector(1698289672762573.2))` with
//! `val="1698289672762573.2"`) keeps the even last digit. The property test over many
//! doubles against Go itself is `promlite-model`'s `tests/go_float_format.rs`.

use promlite_model::VecStorage;
use promlite_promql::{parse, Engine, EngineOptions, Value};

// Written with all the digits of the exact value on purpose.
#[allow(clippy::excessive_precision)]
const TIE: f64 = 1698289672762573.25;
const GO_TEXT: &str = "1698289672762573.2";

#[test]
fn count_values_label_of_a_tie_is_gos_text() {
    let storage = VecStorage::default();
    let engine = Engine::new(EngineOptions::default());
    let r = engine
        .instant_query(
            &storage,
            "count_values(\"val\", vector(1698289672762573.25))",
            0,
        )
        .expect("query");
    let Value::Vector(v) = &r.value else {
        panic!("not a vector: {:?}", r.value)
    };
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].labels.get("val"), Some(GO_TEXT));
}

#[test]
fn printed_number_literal_of_a_tie_is_gos_text() {
    assert_eq!(TIE.to_bits(), GO_TEXT.parse::<f64>().unwrap().to_bits());
    let e = parse("1698289672762573.25 + 1").expect("parse");
    assert_eq!(e.to_string(), format!("{GO_TEXT} + 1"));
}
