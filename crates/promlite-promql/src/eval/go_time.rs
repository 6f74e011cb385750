//! The calendar fields Prometheus's date functions (`minute`, `hour`, `year`, ...)
//! give for any float, including NaN, infinities and values far outside `i64`.
//!
//! Prometheus computes `time.Unix(int64(v), 0).UTC()` in Go. On amd64, Go's
//! float-to-int64 conversion gives `i64::MIN` for NaN and for anything out of range
//! (the CPU's "integer indefinite"), and `time` then works modulo 2^64 on seconds
//! counted from its absolute zero (Jan 1 of year -292277022399, 400-year aligned),
//! so `year(vector(-1e300))` is 292277026596, not a negative year, and
//! `minute(vector(NaN))` is 30. Inside the ordinary range this is just the
//! proleptic Gregorian calendar.

use super::functions::{civil_from_unix, Civil};

/// Seconds from Go's absolute zero to the Unix epoch (`unixToInternal +
/// internalToAbsolute` in Go's `time` package: 62135596800 + 292277022400 years of
/// 365.2425 days).
const UNIX_TO_ABSOLUTE: u64 = 62_135_596_800 + 292_277_022_400 * 31_556_952;

/// Seconds in 400 Gregorian years (the calendar's period, weekdays included).
const CYCLE_SECS: i128 = 146_097 * 86_400;

/// Go's `int64(v)` on amd64: truncation toward zero, `i64::MIN` when NaN or out of
/// range.
pub(crate) fn go_int64(v: f64) -> i64 {
    // 2^63 is exact as an f64; [-2^63, 2^63) converts.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if v.is_nan() || !(-LIMIT..LIMIT).contains(&v) {
        i64::MIN
    } else {
        v as i64
    }
}

/// The UTC calendar fields Go gives for `time.Unix(int64(v), 0)`.
pub(crate) fn civil_of_go_float(v: f64) -> Civil {
    let secs = go_int64(v);
    // Go's absolute seconds, wrapping as Go's unsigned arithmetic does.
    let abs = (secs as u64).wrapping_add(UNIX_TO_ABSOLUTE);
    // Back to Unix seconds without the wrap, then into i64 range by whole cycles.
    let mut unix = i128::from(abs) - i128::from(UNIX_TO_ABSOLUTE);
    let mut cycles = 0i64;
    while unix > i128::from(i64::MAX / 2) {
        unix -= CYCLE_SECS * 1_000_000;
        cycles += 1_000_000;
    }
    let secs = i64::try_from(unix).unwrap_or(0);
    let mut c = civil_from_unix(secs);
    c.year += 400 * cycles;
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values: the real Prometheus 2.42 (Go 1.19, amd64) through the oracle,
    // e.g. `minute(vector(NaN))` = 30, `year(vector(-1e300))` = 292277026596,
    // `day_of_month(vector(1e300))` = 4, `hour(vector(Inf))` = 15.
    #[test]
    fn out_of_range_inputs_follow_go() {
        assert_eq!(civil_of_go_float(f64::NAN).minute, 30);
        assert_eq!(civil_of_go_float(-1e300).year, 292_277_026_596);
        assert_eq!(civil_of_go_float(1e300).day, 4);
        assert_eq!(civil_of_go_float(f64::INFINITY).hour, 15);
    }

    #[test]
    fn ordinary_times_are_gregorian() {
        // 2024-02-29T13:45:00Z = 1709214300.
        let c = civil_of_go_float(1_709_214_300.9);
        assert_eq!(
            (c.year, c.month, c.day, c.hour, c.minute),
            (2024, 2, 29, 13, 45)
        );
        // -1.5 truncates toward zero: 1969-12-31T23:59:59Z.
        let c = civil_of_go_float(-1.5);
        assert_eq!((c.year, c.hour, c.minute), (1969, 23, 59));
    }
}
