//! Durations on the command line: plain seconds (`90`, `0.5`) or with units
//! (`500ms`, `30s`, `15m`, `2h`, `7d`, `1h30m`), within the one bound orq
//! puts on every duration (orq::bounds: at most ten years).

use std::time::Duration;

use orq::bounds::{parse_duration_ms, MAX_DURATION_MS};

/// A duration flag, in seconds; the error is a usage error (exit 2).
pub fn parse_seconds(text: &str) -> Result<f64, String> {
    parse_duration_ms(text).map(|ms| ms as f64 / 1000.0).map_err(|e| e.to_string())
}

/// Seconds as a Duration, never panicking (Duration::from_secs_f64 does on
/// NaN, negative or huge values): clamped to the bound, NaN as zero. For
/// seconds that come from a checked flag or from the database.
pub fn from_secs(secs: f64) -> Duration {
    let max = MAX_DURATION_MS as f64 / 1000.0;
    Duration::try_from_secs_f64(secs.clamp(0.0, max)).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(parse_seconds("90").unwrap(), 90.0);
        assert_eq!(parse_seconds("500ms").unwrap(), 0.5);
        assert_eq!(parse_seconds("2h").unwrap(), 7200.0);
        assert_eq!(parse_seconds("7d").unwrap(), 604800.0);
        assert_eq!(parse_seconds("1h30m").unwrap(), 5400.0);
        assert!(parse_seconds("-1").is_err());
        assert!(parse_seconds("3 weeks").is_err());
        assert!(parse_seconds("x").is_err());
        assert!(parse_seconds("99999999999999999999d").unwrap_err().contains("more than ten years"));
    }

    #[test]
    fn from_secs_never_panics() {
        assert_eq!(from_secs(1.5), Duration::from_millis(1500));
        assert_eq!(from_secs(f64::NAN), Duration::ZERO);
        assert_eq!(from_secs(-3.0), Duration::ZERO);
        assert_eq!(from_secs(f64::INFINITY), Duration::from_millis(MAX_DURATION_MS as u64));
        assert_eq!(from_secs(1e300), Duration::from_millis(MAX_DURATION_MS as u64));
    }
}
