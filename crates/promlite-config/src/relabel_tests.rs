//! Prometheus's relabeling cases (testdata/relabel_upstream.yml) and validation.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::*;

#[derive(Deserialize)]
struct Case {
    input: BTreeMap<String, String>,
    rules: serde_json::Value,
    #[serde(default)]
    output: BTreeMap<String, String>,
    #[serde(default)]
    drop: bool,
}

#[test]
fn upstream_relabel_cases() {
    let text = include_str!("../testdata/relabel_upstream.yml");
    let cases: Vec<Case> = serde_saphyr::from_str(text).expect("test data parses");
    assert_eq!(cases.len(), 34);
    for (i, c) in cases.into_iter().enumerate() {
        // The rules go back through our YAML reader so defaults apply as in a file.
        let yaml = serde_json::to_string(&c.rules).unwrap();
        let rules = parse_rules(&yaml, "case").unwrap_or_else(|e| panic!("case {i}: {e}"));
        let mut labels = c.input.clone();
        let keep = process(&rules, &mut labels);
        assert_eq!(keep, !c.drop, "case {i}: keep");
        if keep {
            assert_eq!(labels, c.output, "case {i}");
        }
    }
}

fn err(yaml: &str) -> String {
    match parse_rules(yaml, "r.yml") {
        Ok(r) => panic!("accepted {yaml}: {r:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn upstream_validation_cases() {
    // TestRelabelValidate, UTF-8 validation.
    assert!(err("- {action: replace}").contains("requires 'target_label' value"));
    assert!(err("- {action: lowercase}").contains("requires 'target_label' value"));
    for ok in [
        "- {action: lowercase, target_label: '${3}'}",
        "- {source_labels: [a], regex: 'some-([^-]+)-([^,]+)', action: replace, replacement: '${1}', target_label: '${3}'}",
        "- {source_labels: [a], regex: 'some-([^-]+)-([^,]+)', action: replace, replacement: '${1}', target_label: '0${3}'}",
        "- {source_labels: [a], regex: 'some-([^-]+)-([^,]+)', action: replace, replacement: '${1}', target_label: '-${3}'}",
        "- {regex: '__meta_kubernetes_pod_label_(strimzi_io_.+)', action: labelmap, replacement: '$1'}",
        "- {regex: '__meta_(.+)', action: labelmap, replacement: '${1}'}",
    ] {
        parse_rules(ok, "r.yml").unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
}

#[test]
fn validation_errors_name_field_and_position() {
    // Positions counted by hand: line 1, column of the field's value.
    assert_eq!(
        err("- {action: hashmod, target_label: x, source_labels: [a]}"),
        "r.yml:1:12: [0].modulus: relabel configuration for hashmod requires non-zero modulus"
    );
    assert_eq!(
        err("- {action: keepequal, target_label: x, regex: a}"),
        "r.yml:1:47: [0].regex: keepequal action requires only 'source_labels' and `target_label`, and no other fields"
    );
    assert_eq!(
        err("- {action: labeldrop, source_labels: [a]}"),
        "r.yml:1:38: [0].source_labels: labeldrop action requires only 'regex', and no other fields"
    );
    assert_eq!(
        err("- {action: lowercase, target_label: x, replacement: y}"),
        "r.yml:1:53: [0].replacement: 'replacement' can not be set for lowercase action"
    );
    assert_eq!(
        err("- {action: labelmap, replacement: ''}"),
        "r.yml:1:35: [0].replacement: \"\" is invalid 'replacement' for labelmap action"
    );
    assert_eq!(
        err("- {action: fold}"),
        "r.yml:1:12: [0].action: unknown relabel action \"fold\""
    );
    assert!(err("- {regex: 'a('}").starts_with("r.yml:1:11: [0].regex: invalid regular expression"));
    assert_eq!(
        err("- {actions: drop}"),
        "r.yml:1:4: [0].actions: unknown field `actions`, expected one of source_labels, separator, regex, modulus, target_label, replacement, action"
    );
}

#[test]
fn defaults_are_prometheus_defaults() {
    let r = parse_rules("- {target_label: t}", "r").unwrap();
    assert_eq!(r[0].action, Action::Replace);
    assert_eq!(r[0].separator, ";");
    assert_eq!(r[0].regex.as_str(), "(.*)");
    assert_eq!(r[0].replacement, "$1");
    // An empty joined value with the default regex writes the replacement verbatim
    // ("$1" expands to "" and deletes).
    let mut l = BTreeMap::from([("t".to_string(), "x".to_string())]);
    assert!(process(&r, &mut l));
    assert!(l.is_empty());
    // Action names are case-insensitive; a YAML boolean regex is its text.
    let r = parse_rules("- {action: Keep, source_labels: [a], regex: true}", "r").unwrap();
    let mut l = BTreeMap::from([("a".to_string(), "true".to_string())]);
    assert!(process(&r, &mut l));
}
