//! Query parameters as Prometheus's HTTP API reads them: times, durations and
//! steps, in milliseconds. `promlite eval` and `promlite serve` use these, and
//! they never panic, whatever the input (a fuzz target calls them).
//!
//! ```
//! use promlite::params::{parse_duration_ms, parse_step_ms, parse_time_ms};
//!
//! // Unix seconds, with a fraction, or RFC 3339 with any offset.
//! assert_eq!(parse_time_ms("1704067200.25"), Ok(1_704_067_200_250));
//! assert_eq!(parse_time_ms("2024-01-01T01:00:00+01:00"), Ok(1_704_067_200_000));
//! assert!(parse_time_ms("2024-01-01T00:00:00+1é00").is_err());
//! // Prometheus durations, and steps in either form.
//! assert_eq!(parse_duration_ms("1h30m"), Ok(5_400_000));
//! assert_eq!(parse_step_ms("0.5"), Ok(500));
//! assert_eq!(parse_step_ms("1m"), Ok(60_000));
//! ```

use std::fmt;

/// A parameter that does not parse; the message says what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamError {
    msg: String,
}

impl ParamError {
    fn new(msg: String) -> Self {
        ParamError { msg }
    }
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for ParamError {}

/// The wall clock in milliseconds since the Unix epoch (0 before 1970, which
/// a working clock never reports).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Decimal seconds (`1704066900.25`, `-1`, `1e3`) to milliseconds, exactly
/// (no trip through `f64`), rounding half up at the millisecond. `None` for
/// anything else or a value outside `i64` milliseconds.
pub fn decimal_seconds_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (mant, exp) = match body.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i32>().ok()?),
        None => (body, 0),
    };
    let (ip, fp) = mant.split_once('.').unwrap_or((mant, ""));
    if (ip.is_empty() && fp.is_empty())
        || !ip.bytes().all(|c| c.is_ascii_digit())
        || !fp.bytes().all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let digits = format!("{ip}{fp}");
    let digits = digits.trim_start_matches('0');
    let shift = exp
        .checked_sub(i32::try_from(fp.len()).ok()?)?
        .checked_add(3)?;
    let ms: i64 = if digits.is_empty() {
        0
    } else if shift >= 0 {
        let base: i64 = digits.parse().ok()?;
        base.checked_mul(10i64.checked_pow(u32::try_from(shift).ok()?)?)?
    } else {
        let cut = usize::try_from(shift.unsigned_abs()).ok()?;
        if cut > digits.len() {
            0
        } else {
            let (keep, dropped) = digits.split_at(digits.len() - cut);
            let base: i64 = if keep.is_empty() {
                0
            } else {
                keep.parse().ok()?
            };
            // Round half up on the first dropped digit.
            base.checked_add(i64::from(
                dropped.as_bytes().first().is_some_and(|d| *d >= b'5'),
            ))?
        }
    };
    Some(if neg { -ms } else { ms })
}

/// An RFC 3339 time (`2024-01-01T00:00:00.250Z`, `…+01:00`) in milliseconds
/// since the epoch; a fraction finer than a millisecond is dropped (rounded
/// down, as Prometheus's `timestamp.FromTime`).
///
/// Read by the `time` crate's strict RFC 3339 parser, as Go's
/// `time.Parse(time.RFC3339Nano, …)` reads it for Prometheus.
///
/// # Errors
/// Anything that is not an RFC 3339 date-time.
pub fn parse_rfc3339_ms(s: &str) -> Result<i64, ParamError> {
    use time::format_description::well_known::Rfc3339;
    let t = time::OffsetDateTime::parse(s, &Rfc3339)
        .map_err(|e| ParamError::new(format!("cannot parse {s:?} as RFC 3339: {e}")))?;
    let ms = t.unix_timestamp_nanos().div_euclid(1_000_000);
    i64::try_from(ms).map_err(|_| ParamError::new(format!("time {s:?} out of range")))
}

/// A query time: Unix seconds (`1704067200`, `1704067200.25`) or RFC 3339,
/// as Prometheus's API `parseTime` accepts them.
///
/// # Errors
/// `cannot parse "…" to a valid timestamp`, Prometheus's wording.
pub fn parse_time_ms(s: &str) -> Result<i64, ParamError> {
    decimal_seconds_ms(s)
        .or_else(|| parse_rfc3339_ms(s).ok())
        .ok_or_else(|| ParamError::new(format!("cannot parse {s:?} to a valid timestamp")))
}

/// A Prometheus duration (`1h30m`, `250ms`, `0`) in milliseconds. Units
/// (`y w d h m s ms`) appear in decreasing order, each at most once, as
/// `model.ParseDuration` requires.
///
/// # Errors
/// A malformed duration, or one beyond `i64` milliseconds.
pub fn parse_duration_ms(s: &str) -> Result<i64, ParamError> {
    const UNITS: [(&str, i64); 7] = [
        ("y", 365 * 86_400_000),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ];
    let bad = || ParamError::new(format!("not a valid duration string: {s:?}"));
    if s.is_empty() {
        return Err(ParamError::new("empty duration string".to_string()));
    }
    if s == "0" {
        return Ok(0);
    }
    let mut rest = s;
    let mut total: i64 = 0;
    let mut last_unit: Option<usize> = None;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (num, tail) = rest.split_at(digits);
        let letters = tail.bytes().take_while(u8::is_ascii_alphabetic).count();
        let (unit, tail) = tail.split_at(letters);
        if num.is_empty() {
            return Err(bad());
        }
        let n: i64 = num.parse().map_err(|_| bad())?;
        let idx = UNITS.iter().position(|(u, _)| *u == unit).ok_or_else(bad)?;
        if last_unit.is_some_and(|l| idx <= l) {
            return Err(bad());
        }
        last_unit = Some(idx);
        total = n
            .checked_mul(UNITS[idx].1)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| ParamError::new(format!("duration out of range: {s:?}")))?;
        rest = tail;
    }
    Ok(total)
}

/// A step or timeout: seconds (`15`, `0.5`) or a Prometheus duration (`1m`),
/// as Prometheus's API `parseDuration` accepts them.
///
/// # Errors
/// `cannot parse "…" to a valid duration`, Prometheus's wording.
pub fn parse_step_ms(s: &str) -> Result<i64, ParamError> {
    decimal_seconds_ms(s)
        .or_else(|| parse_duration_ms(s).ok())
        .ok_or_else(|| ParamError::new(format!("cannot parse {s:?} to a valid duration")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(parse_time_ms("1704066900.25"), Ok(1_704_066_900_250));
        assert_eq!(parse_time_ms("-1"), Ok(-1000));
        // 2023-12-31T23:55:00.250Z is 1704066900.25 (`date -u -d @1704066900`).
        assert_eq!(
            parse_time_ms("2023-12-31T23:55:00.250Z"),
            Ok(1_704_066_900_250)
        );
        assert_eq!(
            parse_time_ms("2024-01-01T01:00:00+01:00"),
            Ok(1_704_067_200_000)
        );
        // Before the epoch, sub-millisecond fractions round down:
        // 1969-12-31T23:59:59.9995Z is -0.5 ms → -1 ms.
        assert_eq!(parse_time_ms("1969-12-31T23:59:59.9995Z"), Ok(-1));
        assert!(parse_time_ms("yesterday").is_err());
        // Non-ASCII where the offset's colon goes (once a panic).
        let e = parse_time_ms("2024-01-01T00:00:00+1é00").unwrap_err();
        assert!(e.to_string().contains("valid timestamp"), "{e}");
        for s in [
            "2024-01-01T00:00:00",
            "2024-13-01T00:00:00Z",
            "é",
            "",
            "+",
            "1e",
        ] {
            assert!(parse_time_ms(s).is_err(), "{s}");
        }
    }

    #[test]
    fn durations_and_steps() {
        assert_eq!(parse_duration_ms("1h30m"), Ok(5_400_000));
        assert_eq!(parse_duration_ms("250ms"), Ok(250));
        assert_eq!(parse_duration_ms("1y"), Ok(31_536_000_000));
        for s in ["", "m", "1m1h", "1s1s", "1é", "1", "99999999999999999999s"] {
            assert!(parse_duration_ms(s).is_err(), "{s}");
        }
        assert_eq!(parse_step_ms("10"), Ok(10_000));
        assert_eq!(parse_step_ms("0.5"), Ok(500));
        assert_eq!(parse_step_ms("1m"), Ok(60_000));
        assert!(parse_step_ms("soon").is_err());
    }
}
