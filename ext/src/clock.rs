//! The queue clock: unix milliseconds, from the wall clock or, for exact
//! tests, fixed per connection with `orq_clock(t)`.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{invalid, Result};

/// Marks "no override" in `Clock::fixed_ms`.
const WALL: i64 = i64::MIN;

/// The largest duration the API accepts anywhere: ten years, in seconds.
/// Longer delays, leases or retries are taken for unit mistakes.
pub const MAX_DURATION_S: f64 = 10.0 * 365.25 * 86_400.0;

/// The latest time the API accepts: 9999-12-31T23:59:59Z.
pub const MAX_TIME_S: f64 = 253_402_300_799.0;

#[derive(Debug)]
pub struct Clock {
    fixed_ms: AtomicI64,
}

impl Default for Clock {
    fn default() -> Self {
        Clock { fixed_ms: AtomicI64::new(WALL) }
    }
}

impl Clock {
    pub fn now_ms(&self) -> i64 {
        match self.fixed_ms.load(Ordering::Relaxed) {
            WALL => wall_ms(),
            fixed => fixed,
        }
    }

    /// Fixes the clock at `ms`, or returns it to the wall clock with `None`.
    pub fn set(&self, ms: Option<i64>) {
        self.fixed_ms.store(ms.unwrap_or(WALL), Ordering::Relaxed);
    }

    /// The fixed time, if the clock is fixed.
    pub fn fixed_ms(&self) -> Option<i64> {
        match self.fixed_ms.load(Ordering::Relaxed) {
            WALL => None,
            fixed => Some(fixed),
        }
    }
}

pub fn wall_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Unix milliseconds as the API shows times: seconds with millisecond resolution.
pub fn ms_to_secs(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// A duration argument named `what`, in seconds, as milliseconds.
pub fn duration_ms(what: &str, secs: f64) -> Result<i64> {
    if !secs.is_finite() || secs < 0.0 {
        return Err(invalid(format!("{what} must be a number of seconds >= 0, got {secs}")));
    }
    if secs > MAX_DURATION_S {
        return Err(invalid(format!(
            "{what} of {secs} seconds is more than ten years; durations are in seconds"
        )));
    }
    Ok((secs * 1000.0).round() as i64)
}

/// A point in time argument named `what`, in unix seconds, as milliseconds.
pub fn time_ms(what: &str, secs: f64) -> Result<i64> {
    if !secs.is_finite() || !(0.0..=MAX_TIME_S).contains(&secs) {
        return Err(invalid(format!("{what} must be unix seconds between 0 and {MAX_TIME_S}, got {secs}")));
    }
    Ok((secs * 1000.0).round() as i64)
}
