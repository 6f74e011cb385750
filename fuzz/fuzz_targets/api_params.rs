#![no_main]
//! The parameter readers of `promlite eval` and the HTTP API (`promlite serve`): query
//! times, durations, steps and `match[]` series selectors and regex matchers. None may
//! panic, and what they accept must read back the same:
//! - a time or step given as decimal seconds reads back from its millisecond value;
//! - a duration prints (PromQL's printer) and reads back to the same milliseconds;
//! - a regex compiles with its RE2 rewrite exactly when it compiles as written.
//!
//! Input: byte 0 picks the reader, the rest is the parameter text.
//! Run from fuzz/: `RUSTC_BOOTSTRAP=1 cargo fuzz run api_params -- -max_total_time=600`.
//! (Uses `promlite::params`, the readers the CLI's time parsing moved into.)
use libfuzzer_sys::fuzz_target;
use promlite::model::{re2_pattern, MatchOp, Matcher};
use promlite::params::{decimal_seconds_ms, parse_duration_ms, parse_step_ms, parse_time_ms};
use promlite::promql::{parse, parser::printer::format_duration, ExprKind};

fn seconds_text(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let a = ms.unsigned_abs();
    format!("{sign}{}.{:03}", a / 1000, a % 1000)
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let Ok(s) = std::str::from_utf8(rest) else {
        return;
    };
    match which % 5 {
        0 => {
            let r = parse_time_ms(s);
            if let Some(ms) = decimal_seconds_ms(s) {
                assert_eq!(r.as_ref().ok(), Some(&ms), "{s:?}");
                assert_eq!(decimal_seconds_ms(&seconds_text(ms)), Some(ms), "{s:?}");
            }
            if let Err(e) = r {
                assert!(!e.to_string().is_empty());
            }
        }
        1 => {
            if let Ok(d) = parse_duration_ms(s) {
                assert!(d >= 0, "{s:?} gave {d}");
                let printed = format_duration(d);
                assert_eq!(parse_duration_ms(&printed), Ok(d), "{s:?} printed {printed:?}");
            }
        }
        2 => {
            if let Ok(step) = parse_step_ms(s) {
                if decimal_seconds_ms(s).is_none() {
                    assert_eq!(parse_duration_ms(s), Ok(step), "{s:?}");
                }
            }
        }
        3 => {
            // A `match[]` value: one series selector.
            if let Ok(e) = parse(s) {
                if let ExprKind::VectorSelector(v) = e.kind {
                    for m in &v.matchers {
                        let _ = m.matches("");
                        let _ = m.matches(s);
                    }
                }
            }
        }
        _ => {
            let translated = re2_pattern(s);
            let as_written = regex::Regex::new(s).is_ok();
            let rewritten = regex::Regex::new(&translated).is_ok();
            assert_eq!(as_written, rewritten, "{s:?} rewritten as {translated:?}");
            for op in [MatchOp::RegexMatch, MatchOp::RegexNoMatch] {
                if let Ok(m) = Matcher::new(op, "l", s) {
                    let _ = m.matches(s);
                    let _ = m.matches("é");
                }
            }
        }
    }
});
