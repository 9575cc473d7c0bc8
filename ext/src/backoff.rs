//! Retry delays: exponential backoff with jitter drawn from a PRNG seeded by
//! (job id, attempt), so the same history always gives the same schedule.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::bounds::duration_ms;
use crate::error::{invalid, Result};
use crate::fields::{self, Given, Problem};

/// The keys of a `backoff` option.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct BackoffKeys {
    base: Given,
    factor: Given,
    max: Given,
    jitter: Given,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// Delay after the first failed attempt, in seconds.
    pub base: f64,
    /// Each further attempt multiplies the delay by this.
    pub factor: f64,
    /// No delay is longer than this, in seconds.
    pub max: f64,
    /// Draw each delay from [delay/2, delay] instead of using it as is.
    pub jitter: bool,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { base: 1.0, factor: 2.0, max: 3600.0, jitter: true }
    }
}

impl Backoff {
    /// Reads a `backoff` option: an object whose keys override the defaults.
    pub fn from_json(value: &Value) -> Result<Backoff> {
        let keys: BackoffKeys = fields::read(value).map_err(|p| match p {
            Problem::Unknown { key, known } => {
                invalid(format!("unknown backoff key '{key}' (known: {known})"))
            }
            _ => invalid(format!("backoff must be an object like {{\"base\":1,\"factor\":2}}, got {value}")),
        })?;
        let mut b = Backoff::default();
        if let Some(v) = &keys.base.0 {
            b.base = seconds("backoff.base", v)?;
        }
        if let Some(v) = &keys.factor.0 {
            b.factor = v
                .as_f64()
                .filter(|f| (1.0..=100.0).contains(f))
                .ok_or_else(|| invalid(format!("backoff.factor must be a number from 1 to 100, got {v}")))?;
        }
        if let Some(v) = &keys.max.0 {
            b.max = seconds("backoff.max", v)?;
        }
        if let Some(v) = &keys.jitter.0 {
            b.jitter = v
                .as_bool()
                .ok_or_else(|| invalid(format!("backoff.jitter must be true or false, got {v}")))?;
        }
        if b.base <= 0.0 {
            return Err(invalid("backoff.base must be more than 0 seconds: a retry delay is never zero"));
        }
        if b.max < b.base {
            return Err(invalid(format!("backoff.max ({}) must be >= backoff.base ({})", b.max, b.base)));
        }
        Ok(b)
    }

    /// Parses the form stored in orq_jobs.backoff (NULL means the defaults).
    pub fn from_stored(text: Option<&str>) -> Result<Backoff> {
        match text {
            None => Ok(Backoff::default()),
            Some(t) => {
                let v: Value = serde_json::from_str(t)
                    .map_err(|e| invalid(format!("stored backoff is not JSON: {e}")))?;
                Backoff::from_json(&v)
            }
        }
    }

    /// The canonical JSON stored with a job; `None` for the defaults.
    pub fn to_stored(self) -> Option<String> {
        if self == Backoff::default() {
            return None;
        }
        let mut m = Map::new();
        m.insert("base".into(), self.base.into());
        m.insert("factor".into(), self.factor.into());
        m.insert("max".into(), self.max.into());
        m.insert("jitter".into(), self.jitter.into());
        Some(Value::Object(m).to_string())
    }

    /// The delay after failed attempt number `attempt` (1-based) of job `id`,
    /// in milliseconds; never zero.
    pub fn delay_ms(&self, id: i64, attempt: i64) -> i64 {
        let exponent = attempt.clamp(1, 1024) - 1;
        let full = (self.base * self.factor.powi(exponent as i32)).min(self.max) * 1000.0;
        let delay = if self.jitter { full * (0.5 + 0.5 * unit_interval(id, attempt)) } else { full };
        (delay.round() as i64).max(1)
    }
}

fn seconds(what: &str, v: &Value) -> Result<f64> {
    let s = v.as_f64().ok_or_else(|| invalid(format!("{what} must be a number of seconds, got {v}")))?;
    duration_ms(what, s)?;
    Ok(s)
}

/// A uniform number in [0, 1) determined by (id, attempt): SplitMix64's
/// finalizer over both, which is stable across builds and platforms.
fn unit_interval(id: i64, attempt: i64) -> f64 {
    let mut z = (id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (attempt as u64).rotate_left(32);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_cap_without_jitter() {
        let b = Backoff { base: 1.0, factor: 2.0, max: 5.0, jitter: false };
        let d: Vec<i64> = (1..=5).map(|a| b.delay_ms(7, a)).collect();
        assert_eq!(d, vec![1000, 2000, 4000, 5000, 5000]);
    }

    #[test]
    fn jitter_is_deterministic_and_within_half_to_full() {
        let b = Backoff::default();
        for id in 1..200 {
            for attempt in 1..6 {
                let full = b.base * b.factor.powi(attempt as i32 - 1) * 1000.0;
                let d = b.delay_ms(id, attempt);
                assert_eq!(d, b.delay_ms(id, attempt));
                assert!(d as f64 >= full * 0.5 - 1.0 && d as f64 <= full + 1.0, "{d} vs {full}");
            }
        }
        assert_ne!(b.delay_ms(1, 1), b.delay_ms(2, 1));
    }

    #[test]
    fn rejects_bad_specs() {
        for bad in [
            r#"{"base":0}"#,
            r#"{"factor":0.5}"#,
            r#"{"base":10,"max":1}"#,
            r#"{"jitter":"yes"}"#,
            r#"{"wat":1}"#,
            r#"[1]"#,
        ] {
            let v: Value = serde_json::from_str(bad).unwrap();
            assert!(Backoff::from_json(&v).is_err(), "{bad}");
        }
    }

    #[test]
    fn stored_form_round_trips() {
        let b = Backoff { base: 0.5, factor: 3.0, max: 60.0, jitter: false };
        assert_eq!(Backoff::from_stored(b.to_stored().as_deref()).unwrap(), b);
        assert_eq!(Backoff::default().to_stored(), None);
    }
}
