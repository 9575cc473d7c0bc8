//! The one range of times and durations orq accepts, checked where a time
//! or a duration enters: an argument, an option, a schedule, a setting, a
//! command-line flag, or a time orq computes from them.
//!
//! - A time is unix seconds from 0 (1970-01-01T00:00:00Z) to 253402300799
//!   (9999-12-31T23:59:59Z): what a four-digit year can write.
//! - A duration is from 0 to ten years (of 365.25 days).
//!
//! Why these: a bounded time plus a bounded duration is at most year 10009,
//! 2.6e14 ms, far inside an i64 (9.2e18) and exact in an f64 (2^53 = 9.0e15),
//! so no sum or conversion of bounded values overflows or loses a
//! millisecond, in Rust or in SQL. Ten years is the longest delay, lease or
//! retry with a plausible use; a longer one is a unit mistake (ms for s).

use crate::error::{invalid, Result};

/// The latest time, in unix ms: 9999-12-31T23:59:59Z.
pub const MAX_TIME_MS: i64 = 253_402_300_799_000;
pub const MAX_TIME_TEXT: &str = "9999-12-31T23:59:59Z";

/// The longest duration, in ms: ten years of 365.25 days.
pub const MAX_DURATION_MS: i64 = 315_576_000_000;
pub const MAX_DURATION_TEXT: &str = "10 years";

/// A duration argument named `what`, in seconds, as milliseconds.
pub fn duration_ms(what: &str, secs: f64) -> Result<i64> {
    if !secs.is_finite() || secs < 0.0 {
        return Err(invalid(format!("{what} must be a number of seconds >= 0, got {secs}")));
    }
    if secs * 1000.0 > MAX_DURATION_MS as f64 {
        return Err(invalid(format!(
            "{what} of {secs} seconds is more than ten years; durations are in seconds"
        )));
    }
    Ok((secs * 1000.0).round() as i64)
}

/// A point in time argument named `what`, in unix seconds, as milliseconds.
pub fn time_ms(what: &str, secs: f64) -> Result<i64> {
    if !secs.is_finite() || !(0.0..=(MAX_TIME_MS / 1000) as f64).contains(&secs) {
        return Err(invalid(format!(
            "{what} must be unix seconds between 0 and {} ({MAX_TIME_TEXT}), got {secs}",
            MAX_TIME_MS / 1000
        )));
    }
    Ok((secs * 1000.0).round() as i64)
}

/// A time orq stored or computed, named `what`, in unix ms.
pub fn check_time_ms(what: &str, ms: i64) -> Result<i64> {
    if !(0..=MAX_TIME_MS).contains(&ms) {
        return Err(invalid(format!(
            "{what} must be from 0 to {MAX_TIME_MS} ms after 1970 ({MAX_TIME_TEXT}), got {ms}"
        )));
    }
    Ok(ms)
}

/// The time `after_ms` after `at_ms`, both bounded, for `what`: refused
/// when it falls after the latest time.
pub fn later(what: &str, at_ms: i64, after_ms: i64) -> Result<i64> {
    match at_ms.checked_add(after_ms) {
        Some(t) if t <= MAX_TIME_MS => Ok(t),
        _ => Err(invalid(format!("{what} ends after {MAX_TIME_TEXT}, the latest time orq accepts"))),
    }
}

/// A duration as text, in milliseconds: plain seconds (`90`, `0.5`), or
/// numbers with units (`500ms`, `30s`, `15m`, `2h`, `7d`, `1h30m`).
pub fn parse_duration_ms(text: &str) -> Result<i64> {
    let t = text.trim();
    if let Ok(secs) = t.parse::<f64>() {
        return duration_ms(&format!("'{t}'"), secs);
    }
    let not_a_duration = || invalid(format!("'{t}' is not a duration (try 30s, 15m, 2h, 7d or 1h30m)"));
    let mut total = 0.0;
    let mut rest = t;
    if rest.is_empty() {
        return Err(not_a_duration());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(rest.len());
        let n: f64 = rest[..digits].parse().map_err(|_| not_a_duration())?;
        rest = &rest[digits..];
        let unit = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale = match &rest[..unit] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86_400.0,
            _ => return Err(invalid(format!("unknown unit in '{t}' (use ms, s, m, h or d)"))),
        };
        rest = &rest[unit..];
        total += n * scale;
    }
    duration_ms(&format!("'{t}'"), total)
}

/// How many rows one slice of a long operation touches (see `txn::in_slices`).
/// Measured: a purge deletes a job and its events in 9 µs in one
/// transaction and 13 µs in slices of 500 (each slice commits), so a slice
/// holds the write lock for about 6 ms.
pub const SLICE_ROWS: i64 = 500;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_text() {
        for (text, ms) in
            [("90", 90_000), ("0.5", 500), ("500ms", 500), ("1h30m", 5_400_000), ("7d", 604_800_000)]
        {
            assert_eq!(parse_duration_ms(text).unwrap(), ms, "{text}");
        }
        assert_eq!(parse_duration_ms("3652d").unwrap(), 3652 * 86_400_000);
        for (bad, needle) in [
            ("3653d", "more than ten years"),
            ("106751991167d", "more than ten years"),
            ("99999999999999999999d", "more than ten years"),
            ("-1", "must be a number of seconds >= 0"),
            ("nan", "must be a number of seconds >= 0"),
            ("3 weeks", "unknown unit"),
            ("x", "is not a duration"),
            ("", "is not a duration"),
        ] {
            let e = parse_duration_ms(bad).unwrap_err().to_string();
            assert!(e.contains(needle), "{bad}: {e}");
        }
    }

    #[test]
    fn times_and_sums() {
        assert_eq!(time_ms("t", 253_402_300_799.0).unwrap(), MAX_TIME_MS);
        assert!(time_ms("t", 253_402_300_800.0).is_err());
        assert!(time_ms("t", -1.0).is_err());
        assert_eq!(later("x", MAX_TIME_MS - 5, 5).unwrap(), MAX_TIME_MS);
        assert!(later("x", MAX_TIME_MS, 1).is_err());
        assert!(later("x", i64::MAX, 1).is_err());
    }
}
