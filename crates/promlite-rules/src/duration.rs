//! Prometheus durations (`1h30m`, `5m`, `0`) as rule files and test files write them.

/// Parses a Prometheus duration (`model.ParseDuration`) into milliseconds.
///
/// # Errors
/// Prometheus 2.42's texts: `not a valid duration string: "1x"`,
/// `empty duration string`, `duration out of range`.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    // One reader of Prometheus's duration syntax: prometheus.yml's. Its bound
    // (int64 nanoseconds, ~292 years) keeps the milliseconds within i64.
    promlite_config::Duration::parse(s).map(|d| d.as_millis() as i64)
}

/// Formats milliseconds as Prometheus's `model.Duration.String` does (`1h30m`, `0s`).
pub fn format_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    let mut ms = ms;
    if ms < 0 {
        out.push('-');
        ms = -ms;
    }
    for (unit, mult) in [
        ("y", 365 * 86_400_000i64),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ] {
        if ms >= mult {
            out.push_str(&format!("{}{unit}", ms / mult));
            ms %= mult;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_prometheus() {
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000));
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(parse_duration("1w2d"), Ok(9 * 86_400_000));
        assert_eq!(parse_duration("90ms"), Ok(90));
        assert_eq!(
            parse_duration("1x"),
            Err("not a valid duration string: \"1x\"".into())
        );
        assert_eq!(
            parse_duration("5m1h"),
            Err("not a valid duration string: \"5m1h\"".into())
        );
        assert_eq!(format_duration(5_400_000), "1h30m");
        assert_eq!(format_duration(604_800_000 + 1), "1w1ms");
    }
}
