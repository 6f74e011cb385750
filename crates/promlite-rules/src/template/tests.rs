//! Hostile templates and Prometheus's documented function outputs. Go's own
//! outputs for the language are compared in `tests/rules.rs`; the function
//! outputs here are the examples of Prometheus's template reference and
//! promtool runs (`tests/rules/templates_*_test.yml` cover them end to end).

use super::*;

fn render(src: &str, value: f64) -> Result<String, TemplateError> {
    Template::parse_with_defs("__alert_T", src)?
        .render_alert(&AlertData::new([("job", "api")], [], value), &NoQuery)
}

#[test]
fn oversized_source_is_refused() {
    let src = "x".repeat(Limits::default().max_source_bytes + 1);
    let e = Template::parse("big", &src).unwrap_err();
    assert!(e.to_string().contains("more than the limit"), "{e}");
}

#[test]
fn deep_nesting_is_refused() {
    let src = format!(
        "{}x{}",
        "{{ if true }}".repeat(200),
        "{{ end }}".repeat(200)
    );
    let e = Template::parse("deep", &src).unwrap_err();
    assert!(e.to_string().contains("nested too deeply"), "{e}");
    let src = format!("{{{{ {}1{} }}}}", "(".repeat(500), ")".repeat(500));
    let e = Template::parse("parens", &src).unwrap_err();
    assert!(e.to_string().contains("too deeply"), "{e}");
}

#[test]
fn long_loops_stop_at_the_step_limit() {
    let t = Template::parse(
        "loop",
        "{{ range 1000000000 }}{{ range 1000000000 }}{{ end }}{{ end }}",
    )
    .unwrap();
    let start = std::time::Instant::now();
    let e = t.render(&Value::Nil, &NoQuery).unwrap_err();
    assert!(e.to_string().contains("evaluation steps"), "{e}");
    assert!(start.elapsed() < std::time::Duration::from_secs(10));
}

#[test]
fn huge_output_stops_at_the_output_limit() {
    let t = Template::parse(
        "out",
        "{{ range 100000 }}{{ printf \"%60000d\" 1 }}{{ end }}",
    )
    .unwrap();
    let e = t.render(&Value::Nil, &NoQuery).unwrap_err();
    assert!(e.to_string().contains("output exceeds"), "{e}");
}

#[test]
fn expand_alert_reports_errors_as_prometheus() {
    let data = AlertData::new([], [], 1.0);
    assert_eq!(
        expand_alert("__alert_X", "{{ humanize \"x\" }}", &data, &NoQuery),
        "<error expanding template: error executing template __alert_X: template: __alert_X:1:115: executing \"__alert_X\" at <humanize \"x\">: error calling humanize: strconv.ParseFloat: parsing \"x\": invalid syntax>"
    );
    assert_eq!(
        expand_alert("__alert_X", "{{ if }}", &data, &NoQuery),
        "<error expanding template: error parsing template __alert_X: template: __alert_X:1: missing value for if>"
    );
}

// Examples from Prometheus's template reference and promtool 2.42 runs.
#[test]
fn humanize_functions() {
    assert_eq!(
        render("{{ humanize $value }}", 1234567.0).unwrap(),
        "1.235M"
    );
    assert_eq!(
        render("{{ humanize1024 $value }}", 1048576.0).unwrap(),
        "1Mi"
    );
    assert_eq!(
        render("{{ humanizeDuration $value }}", 899.99).unwrap(),
        "14m 59s"
    );
    assert_eq!(
        render("{{ humanizePercentage $value }}", 0.1234567).unwrap(),
        "12.35%"
    );
    assert_eq!(
        render("{{ humanizeTimestamp $value }}", 1435065584.128).unwrap(),
        "2015-06-23 13:19:44.128 +0000 UTC"
    );
    assert_eq!(render("{{ humanize \"2048\" }}", 0.0).unwrap(), "2.048k");
    assert_eq!(
        render("{{ humanizeDuration 0.0015 }}", 0.0).unwrap(),
        "1.5ms"
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1000))]
    /// Any text, mostly made of the template language's characters, parses or
    /// fails cleanly, and renders or fails cleanly: never a panic or a hang.
    #[test]
    fn arbitrary_templates_never_panic(src in "(\\{\\{|\\}\\}|[ .$|()\"'`a-z0-9:=,\\-\\n%é]|if |end|range |else|with |printf |humanize |index |len |eq |and |not ){0,40}") {
        if let Ok(t) = Template::parse_with_defs("__alert_P", &src) {
            let _ = t.render_alert(&AlertData::new([("a", "b")], [], 1.5), &NoQuery);
        }
    }
}
