//! The queue clock: unix milliseconds, from the wall clock or, for exact
//! tests, fixed per connection with `orq_clock(t)`.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Marks "no override" in `Clock::fixed_ms`.
const WALL: i64 = i64::MIN;

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
