//! How a failed step is tried again: the options of `queue_step_fail`.

use serde::Deserialize;

use crate::backoff::Backoff;
use crate::bounds::duration_ms;
use crate::error::Result;
use crate::fields::Given;
use crate::options::{integer, number, option_keys, MAX_ATTEMPTS_LIMIT};

/// A step's retry policy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepRetry {
    /// Tries of the step in one attempt of its job; 1: no retry.
    pub attempts: i64,
    /// The delay before each further try.
    pub backoff: Backoff,
    /// A fixed delay instead of the backoff's, in ms.
    pub retry_in_ms: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct StepRetryKeys {
    attempts: Given,
    backoff: Given,
    retry_in: Given,
}

impl StepRetry {
    /// Reads the options (None: one try, the default backoff).
    pub fn parse(text: Option<&str>) -> Result<StepRetry> {
        let mut r = StepRetry { attempts: 1, backoff: Backoff::default(), retry_in_ms: None };
        let Some(text) = text else { return Ok(r) };
        let keys: StepRetryKeys = option_keys(text)?;
        if let Some(v) = &keys.attempts.0 {
            r.attempts = integer("attempts", v, 1, MAX_ATTEMPTS_LIMIT)?;
        }
        if let Some(v) = &keys.backoff.0 {
            r.backoff = Backoff::from_json(v)?;
        }
        if let Some(v) = &keys.retry_in.0 {
            r.retry_in_ms = Some(duration_ms("retry_in", number("retry_in", v)?)?);
        }
        Ok(r)
    }

    /// The delay before the try after `failures` failed ones of job `id`.
    pub fn delay_ms(&self, id: i64, failures: i64) -> i64 {
        self.retry_in_ms.unwrap_or_else(|| self.backoff.delay_ms(id, failures))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_to_one_try() {
        let r = StepRetry::parse(None).unwrap();
        assert_eq!((r.attempts, r.retry_in_ms), (1, None));
    }

    #[test]
    fn reads_every_key_and_refuses_others() {
        let r = StepRetry::parse(Some(
            r#"{"attempts": 3, "backoff": {"base": 2, "jitter": false}, "retry_in": 0.5}"#,
        ))
        .unwrap();
        assert_eq!((r.attempts, r.backoff.base, r.retry_in_ms), (3, 2.0, Some(500)));
        assert_eq!(r.delay_ms(1, 2), 500);
        let e = StepRetry::parse(Some(r#"{"tries": 3}"#)).unwrap_err().to_string();
        assert!(e.contains("unknown option 'tries' (known: attempts, backoff, retry_in)"), "{e}");
        assert!(StepRetry::parse(Some(r#"{"attempts": 0}"#)).is_err());
        assert!(StepRetry::parse(Some(r#"{"retry_in": -1}"#)).is_err());
    }

    #[test]
    fn backs_off_per_failure() {
        let r =
            StepRetry::parse(Some(r#"{"attempts": 5, "backoff": {"base": 1, "jitter": false}}"#)).unwrap();
        assert_eq!((r.delay_ms(7, 1), r.delay_ms(7, 2), r.delay_ms(7, 3)), (1000, 2000, 4000));
    }
}
