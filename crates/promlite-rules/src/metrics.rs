//! Rule metrics in the Prometheus text format, with Prometheus's names and
//! `rule_group="FILE;GROUP"` labels, for promlite's own `/metrics`.

use std::fmt::Write;

use promlite_model::format_go_g;

use crate::Manager;

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The rule manager's metrics: group durations, intervals, iterations (run and
/// missed), rule evaluations and their failures, last evaluation times, rule counts.
pub fn metrics_text(m: &Manager) -> String {
    type Get = fn(&crate::Group) -> f64;
    let families: [(&str, &str, &str, Get); 8] = [
        (
            "prometheus_rule_group_last_duration_seconds",
            "gauge",
            "The duration of the last rule group evaluation.",
            |g| g.last_duration.as_secs_f64(),
        ),
        (
            "prometheus_rule_group_interval_seconds",
            "gauge",
            "The interval of a rule group.",
            |g| g.interval_ms as f64 / 1000.0,
        ),
        (
            "prometheus_rule_group_iterations_total",
            "counter",
            "The total number of scheduled rule group evaluations, whether executed or missed.",
            |g| (g.evaluations_total + g.missed_iterations_total) as f64,
        ),
        (
            "prometheus_rule_group_iterations_missed_total",
            "counter",
            "The total number of rule group evaluations missed due to slow rule group evaluation.",
            |g| g.missed_iterations_total as f64,
        ),
        (
            "prometheus_rule_evaluations_total",
            "counter",
            "The total number of rule evaluations.",
            |g| g.rule_evaluations_total as f64,
        ),
        (
            "prometheus_rule_evaluation_failures_total",
            "counter",
            "The total number of rule evaluation failures.",
            |g| g.evaluation_failures_total as f64,
        ),
        (
            "prometheus_rule_group_last_evaluation_timestamp_seconds",
            "gauge",
            "The timestamp of the last rule group evaluation in seconds.",
            |g| g.last_eval_ms.map_or(0.0, |t| t as f64 / 1000.0),
        ),
        (
            "prometheus_rule_group_rules",
            "gauge",
            "The number of rules.",
            |g| g.rules.len() as f64,
        ),
    ];
    let mut out = String::new();
    for (name, typ, help, get) in families {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {typ}");
        for g in m.groups() {
            let key = escape(&format!("{};{}", g.file, g.name));
            let _ = writeln!(
                out,
                "{name}{{rule_group=\"{key}\"}} {}",
                format_go_g(get(g))
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ManagerOptions;
    use promlite_store::{Store, StoreConfig};

    #[test]
    fn metrics_parse_and_count() {
        let store = Store::new(StoreConfig::unbounded());
        let mut m = Manager::new(ManagerOptions::default());
        m.load_str("r.yml", "groups:\n- name: g\n  interval: 30s\n  rules:\n  - record: a\n    expr: vector(1)\n  - record: b\n    expr: sum(\n      x) + on() group_left() y\n").unwrap();
        m.eval_group(0, &store, 60_000);
        let text = metrics_text(&m);
        assert!(
            text.contains("prometheus_rule_group_interval_seconds{rule_group=\"r.yml;g\"} 30\n"),
            "{text}"
        );
        assert!(
            text.contains("prometheus_rule_evaluations_total{rule_group=\"r.yml;g\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("prometheus_rule_group_last_evaluation_timestamp_seconds{rule_group=\"r.yml;g\"} 60\n"), "{text}");
        assert!(
            text.contains("prometheus_rule_group_rules{rule_group=\"r.yml;g\"} 2\n"),
            "{text}"
        );
        // The whole text parses as the exposition format, 8 families of one sample.
        let mut p = promlite_expfmt::Parser::new(text.as_bytes(), promlite_expfmt::Format::Text);
        let mut samples = 0;
        while let Some(ev) = p.next_event() {
            if let promlite_expfmt::Event::Sample(_) = ev.unwrap() {
                samples += 1;
            }
        }
        assert_eq!(samples, 8);
    }
}
