//! Prometheus durations (`1h30m`, `5m`, `0`) as rule files and test files write them.

/// Parses a Prometheus duration (`model.ParseDuration`) into milliseconds.
///
/// # Errors
/// Prometheus 2.42's texts: `not a valid duration string: "1x"`,
/// `empty duration string`, `duration out of range`.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    const UNITS: [(&str, u64); 7] = [
        ("y", 365 * 86_400_000),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ];
    match s {
        "0" => return Ok(0),
        "" => return Err("empty duration string".into()),
        _ => {}
    }
    let bad = || format!("not a valid duration string: {s:?}");
    let mut rest = s.as_bytes();
    let mut total: u64 = 0;
    let mut last = None;
    while !rest.is_empty() {
        let n = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if n == 0 {
            return Err(bad());
        }
        let v: u64 = std::str::from_utf8(&rest[..n])
            .ok()
            .and_then(|d| d.parse().ok())
            .ok_or_else(bad)?;
        rest = &rest[n..];
        let u = rest.iter().take_while(|b| !b.is_ascii_digit()).count();
        if u == 0 {
            return Err(bad());
        }
        let unit = std::str::from_utf8(&rest[..u]).map_err(|_| bad())?;
        rest = &rest[u..];
        let Some(idx) = UNITS.iter().position(|(n, _)| *n == unit) else {
            // promtool 2.42's text (3.x says `unknown unit`).
            return Err(bad());
        };
        if last.is_some_and(|l| idx <= l) {
            return Err(bad());
        }
        last = Some(idx);
        // Prometheus keeps nanoseconds in an int64: ~292 years at most.
        let ms = v
            .checked_mul(UNITS[idx].1)
            .and_then(|m| total.checked_add(m))
            .filter(|t| *t <= (i64::MAX as u64) / 1_000_000)
            .ok_or_else(|| "duration out of range".to_string())?;
        total = ms;
    }
    Ok(total as i64)
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
