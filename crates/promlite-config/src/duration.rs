//! Prometheus durations (`1m`, `15s`, `1h30m`, `500ms`) and byte sizes (`10MB`).

use std::fmt;

use serde::{Deserialize, Deserializer};

/// A duration as Prometheus writes it in configuration: a sequence of `<n><unit>` with
/// units `y` (365 days), `w`, `d`, `h`, `m`, `s`, `ms`, each at most once and in that
/// order, or `0`. Kept in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(u64);

const UNITS: [(&str, u64); 7] = [
    ("y", 365 * 24 * 3600 * 1000),
    ("w", 7 * 24 * 3600 * 1000),
    ("d", 24 * 3600 * 1000),
    ("h", 3600 * 1000),
    ("m", 60 * 1000),
    ("s", 1000),
    ("ms", 1),
];

impl Duration {
    /// A duration of `ms` milliseconds.
    pub const fn from_millis(ms: u64) -> Self {
        Duration(ms)
    }

    /// A duration of `s` seconds.
    pub const fn from_secs(s: u64) -> Self {
        Duration(s * 1000)
    }

    /// The duration in milliseconds.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// The duration as a [`std::time::Duration`].
    pub const fn to_std(self) -> std::time::Duration {
        std::time::Duration::from_millis(self.0)
    }

    /// Parses Prometheus's duration syntax.
    ///
    /// # Errors
    /// A message naming the text when it is empty or not a duration.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.is_empty() {
            return Err("empty duration string".to_string());
        }
        if s == "0" {
            return Ok(Duration(0));
        }
        let bad = || format!("not a valid duration string: {s:?}");
        let bytes = s.as_bytes();
        let mut i = 0;
        let mut next_unit = 0; // units must come in descending order, each once
        let mut total: u64 = 0;
        while i < bytes.len() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            if start == i {
                return Err(bad());
            }
            let n: u64 = s[start..i].parse().map_err(|_| bad())?;
            let ustart = i;
            while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                i += 1;
            }
            let unit = &s[ustart..i];
            let pos = UNITS[next_unit..]
                .iter()
                .position(|(u, _)| *u == unit)
                .ok_or_else(bad)?;
            let mult = UNITS[next_unit + pos].1;
            next_unit += pos + 1;
            total = n
                .checked_mul(mult)
                .and_then(|v| total.checked_add(v))
                .filter(|v| *v <= i64::MAX as u64 / 1_000_000)
                .ok_or_else(|| "duration out of range".to_string())?;
        }
        Ok(Duration(total))
    }
}

impl fmt::Display for Duration {
    /// Formats as Prometheus does (`1m`, `1h30m`, `1d`, `0s`): largest units first.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ms = self.0;
        if ms == 0 {
            return f.write_str("0s");
        }
        for (unit, mult) in UNITS {
            // Prometheus only prints weeks and years when they divide evenly.
            if (unit == "y" || unit == "w") && ms % mult != 0 {
                continue;
            }
            if ms >= mult {
                write!(f, "{}{unit}", ms / mult)?;
                ms %= mult;
            }
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Duration::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for Duration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A size in bytes as Prometheus writes it (`body_size_limit: 10MB`): a number with an
/// optional fraction and a base-2 unit (`B`, `KB`/`KiB`, `MB`/`MiB`, ... up to `EB`),
/// or `0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// Parses a size.
    ///
    /// # Errors
    /// A message naming the text when it is not a size.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s == "0" {
            return Ok(ByteSize(0));
        }
        let bad = || {
            format!("invalid size {s:?}: expected a number and a unit (B, KB, MB, GB, TB, PB, EB)")
        };
        let split = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let (num, unit) = s.split_at(split);
        if num.is_empty() || num.starts_with('.') || num.ends_with('.') {
            return Err(bad());
        }
        let pow = match unit {
            "B" => 0,
            "KB" | "KiB" => 1,
            "MB" | "MiB" => 2,
            "GB" | "GiB" => 3,
            "TB" | "TiB" => 4,
            "PB" | "PiB" => 5,
            "EB" | "EiB" => 6,
            _ => return Err(bad()),
        };
        let v: f64 = num.parse().map_err(|_| bad())?;
        let bytes = v * 1024f64.powi(pow);
        if !bytes.is_finite() || bytes >= u64::MAX as f64 {
            return Err(format!("size {s:?} out of range"));
        }
        Ok(ByteSize(bytes as u64))
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ByteSize::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for ByteSize {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_as_prometheus() {
        assert_eq!(Duration::parse("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(Duration::parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(Duration::parse("1d"), Ok(Duration::from_secs(86400)));
        assert_eq!(Duration::parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(Duration::parse("1m500ms"), Ok(Duration::from_millis(60500)));
        assert_eq!(Duration::parse("0"), Ok(Duration::from_millis(0)));
        for bad in [
            "", "1", "1x", "m", "1s1m", "1m1m", "-1s", "1.5s", " 1s", "1s ",
        ] {
            assert!(Duration::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn durations_print_as_prometheus() {
        // model.Duration.String() in Go.
        for (ms, s) in [
            (60_000, "1m"),
            (5_400_000, "1h30m"),
            (10_000, "10s"),
            (0, "0s"),
            (1_500, "1s500ms"),
            (86_400_000, "1d"),
            (7 * 86_400_000, "1w"),
            (8 * 86_400_000, "8d"),
        ] {
            assert_eq!(Duration::from_millis(ms).to_string(), s);
        }
    }

    #[test]
    fn sizes_are_base_2() {
        assert_eq!(ByteSize::parse("10MB"), Ok(ByteSize(10 << 20)));
        assert_eq!(ByteSize::parse("1KiB"), Ok(ByteSize(1024)));
        assert_eq!(ByteSize::parse("1.5KB"), Ok(ByteSize(1536)));
        assert_eq!(ByteSize::parse("0"), Ok(ByteSize(0)));
        for bad in ["10", "10XB", "MB", "", "1..5MB"] {
            assert!(ByteSize::parse(bad).is_err(), "{bad:?}");
        }
    }
}
