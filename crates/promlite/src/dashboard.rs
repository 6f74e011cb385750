//! The kube-controller-manager dashboard: the queries that motivate promlite, and
//! plain-text tables for their answers.
//!
//! [`KCM_PANELS`] lists the panels; [`render_panel`] evaluates one against any
//! [`Queryable`] and formats the answer as a table, with Prometheus's annotations
//! (such as "metric might not be a counter") printed under it.

use std::fmt::Write as _;

use promlite_model::{Labels, Queryable};
use promlite_promql::{Engine, Value};

/// How a panel's values read best.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Seconds, printed as ns/µs/ms/s.
    Seconds,
    /// Events per second.
    PerSecond,
    /// CPU seconds per second, printed as cores.
    Cores,
    /// Bytes per second.
    BytesPerSecond,
    /// A plain number, as the Prometheus API prints it (for ad-hoc queries).
    Number,
}

/// One dashboard panel: a title, a PromQL query and the unit of its values.
#[derive(Debug, Clone, Copy)]
pub struct Panel {
    /// What the panel shows.
    pub title: &'static str,
    /// The PromQL expression.
    pub query: &'static str,
    /// How to print values.
    pub unit: Unit,
}

/// The kube-controller-manager dashboard (issue #4's ten queries).
pub const KCM_PANELS: &[Panel] = &[
    Panel {
        title: "Workqueue p99 queue latency by controller",
        query: r#"histogram_quantile(0.99,sum(rate(workqueue_queue_duration_seconds_bucket{container="kube-controller-manager"}[5m])) by (instance, name, le))"#,
        unit: Unit::Seconds,
    },
    Panel {
        title: "Workqueue adds per second",
        query: r#"sum(rate(workqueue_adds_total{container="kube-controller-manager"}[5m])) by (instance, name)"#,
        unit: Unit::PerSecond,
    },
    Panel {
        title: "Workqueue depth (rate, as the upstream dashboard asks)",
        query: r#"sum(rate(workqueue_depth{container="kube-controller-manager"}[5m])) by (instance, name)"#,
        unit: Unit::PerSecond,
    },
    Panel {
        // client-go labels this histogram by `url` and `verb` before Kubernetes
        // 1.24 and by `host` and `verb` since: grouping by all three gives one
        // row per endpoint for either (a missing label groups as empty).
        title: "API request p99 latency by host (or URL) and verb",
        query: r#"histogram_quantile(0.99, sum(rate(rest_client_request_duration_seconds_bucket{container="kube-controller-manager"}[5m])) by (host, url, verb, le))"#,
        unit: Unit::Seconds,
    },
    Panel {
        title: "API requests 2xx per second",
        query: r#"sum(rate(rest_client_requests_total{container="kube-controller-manager",code=~"2.."}[5m]))"#,
        unit: Unit::PerSecond,
    },
    Panel {
        title: "API requests 3xx per second",
        query: r#"sum(rate(rest_client_requests_total{container="kube-controller-manager",code=~"3.."}[5m]))"#,
        unit: Unit::PerSecond,
    },
    Panel {
        title: "API requests 4xx per second",
        query: r#"sum(rate(rest_client_requests_total{container="kube-controller-manager",code=~"4.."}[5m]))"#,
        unit: Unit::PerSecond,
    },
    Panel {
        title: "API requests 5xx per second",
        query: r#"sum(rate(rest_client_requests_total{container="kube-controller-manager",code=~"5.."}[5m]))"#,
        unit: Unit::PerSecond,
    },
    Panel {
        title: "CPU usage",
        query: r#"rate(process_cpu_seconds_total{container="kube-controller-manager"}[5m])"#,
        unit: Unit::Cores,
    },
    Panel {
        title: "Resident memory growth",
        query: r#"rate(process_resident_memory_bytes{container="kube-controller-manager"}[5m])"#,
        unit: Unit::BytesPerSecond,
    },
];

/// Formats a value in a panel's unit.
pub fn format_unit(v: f64, unit: Unit) -> String {
    if v.is_nan() {
        return "NaN".to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    match unit {
        Unit::Seconds => {
            let a = v.abs();
            if a == 0.0 {
                "0 s".to_string()
            } else if a < 1e-6 {
                format!("{:.1} ns", v * 1e9)
            } else if a < 1e-3 {
                format!("{:.1} µs", v * 1e6)
            } else if a < 1.0 {
                format!("{:.2} ms", v * 1e3)
            } else {
                format!("{v:.3} s")
            }
        }
        Unit::PerSecond => format!("{v:.3}/s"),
        Unit::Cores => format!("{v:.4} cores"),
        Unit::BytesPerSecond => format!("{:.1} KiB/s", v / 1024.0),
        Unit::Number => promlite_model::format_value(v),
    }
}

/// Evaluates `panel` at `time_ms` and renders it as a text table of at most
/// `max_rows` rows (largest values first), followed by the query's annotations.
pub fn render_panel(
    engine: &Engine,
    storage: &dyn Queryable,
    panel: &Panel,
    time_ms: i64,
    max_rows: usize,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "── {} ──", panel.title);
    let _ = writeln!(out, "   {}", panel.query);
    let res = match engine.instant_query(storage, panel.query, time_ms) {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(out, "   error: {e}\n");
            return out;
        }
    };
    let mut rows: Vec<(Labels, f64)> = match res.value {
        Value::Vector(v) => v.into_iter().map(|s| (s.labels, s.v)).collect(),
        Value::Scalar { v, .. } => vec![(Labels::empty(), v)],
        Value::Matrix(m) => m
            .into_iter()
            .filter_map(|s| s.samples.last().map(|x| (s.labels, x.v)))
            .collect(),
        Value::String { s, .. } => {
            let _ = writeln!(out, "   {s}\n");
            return out;
        }
    };
    // Largest first; NaN (no observations in the window) last.
    rows.sort_by(|a, b| match (a.1.is_nan(), b.1.is_nan()) {
        (false, false) => b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)),
        (x, y) => x.cmp(&y).then_with(|| a.0.cmp(&b.0)),
    });
    out.push_str(&table(&rows, panel.unit, max_rows));
    for w in &res.warnings {
        let _ = writeln!(out, "   warning: {w}");
    }
    for i in &res.infos {
        let _ = writeln!(out, "   info: {i}");
    }
    out.push('\n');
    out
}

/// Lays out rows as columns: one per label name (in name order), then the value.
fn table(rows: &[(Labels, f64)], unit: Unit, max_rows: usize) -> String {
    let mut cols: Vec<String> = Vec::new();
    for (ls, _) in rows {
        for l in ls {
            if !cols.iter().any(|c| **c == *l.name) {
                cols.push(l.name.to_string());
            }
        }
    }
    cols.sort();
    let shown = &rows[..rows.len().min(max_rows)];
    let mut cells: Vec<Vec<String>> =
        vec![cols.iter().cloned().chain(["value".to_string()]).collect()];
    for (ls, v) in shown {
        let mut r: Vec<String> = cols
            .iter()
            .map(|c| ls.get(c).unwrap_or("").to_string())
            .collect();
        r.push(format_unit(*v, unit));
        cells.push(r);
    }
    let widths: Vec<usize> = (0..cells[0].len())
        .map(|i| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    if rows.is_empty() {
        out.push_str("   (no data)\n");
        return out;
    }
    for (n, r) in cells.iter().enumerate() {
        out.push_str("   ");
        for (i, c) in r.iter().enumerate() {
            let pad = widths[i] - c.chars().count();
            if i + 1 == r.len() {
                // Values right-aligned.
                out.push_str(&" ".repeat(pad));
                out.push_str(c);
            } else {
                out.push_str(c);
                out.push_str(&" ".repeat(pad + 2));
            }
        }
        out.push('\n');
        if n == 0 {
            out.push_str("   ");
            out.push_str(&"-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len() - 1)));
            out.push('\n');
        }
    }
    if rows.len() > shown.len() {
        let _ = writeln!(out, "   … and {} more rows", rows.len() - shown.len());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_pick_a_readable_scale() {
        assert_eq!(format_unit(0.0042, Unit::Seconds), "4.20 ms");
        assert_eq!(format_unit(4.2e-5, Unit::Seconds), "42.0 µs");
        assert_eq!(format_unit(2.5, Unit::Seconds), "2.500 s");
        assert_eq!(format_unit(f64::NAN, Unit::Seconds), "NaN");
        assert_eq!(format_unit(2048.0, Unit::BytesPerSecond), "2.0 KiB/s");
    }

    #[test]
    fn table_lists_label_columns_and_truncates() {
        let rows = vec![
            (Labels::from_pairs([("name", "a")]), 2.0),
            (Labels::from_pairs([("name", "bb")]), 1.0),
        ];
        let t = table(&rows, Unit::PerSecond, 1);
        let lines: Vec<&str> = t.lines().collect();
        // Only the shown row sizes the columns: "name" is 4 wide, "2.000/s" 7, with
        // two spaces between columns and values right-aligned.
        assert_eq!(lines[0], "   name    value");
        assert_eq!(lines[1], "   -------------");
        assert_eq!(lines[2], "   a     2.000/s");
        assert_eq!(lines[3], "   … and 1 more rows");
    }
}
