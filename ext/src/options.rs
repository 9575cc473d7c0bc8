//! The options object of `queue_enqueue`, validated key by key.

use serde::Deserialize;
use serde_json::Value;

use crate::backoff::Backoff;
use crate::bounds::{duration_ms, later, time_ms};
use crate::error::{invalid, Result};
use crate::fields::{self, Given, Problem};

pub const DEFAULT_MAX_ATTEMPTS: i64 = 5;
pub const DEFAULT_LEASE_MS: i64 = 30_000;
/// How long a job with same_worker_as waits for that worker by default
/// before any worker may take it.
pub const DEFAULT_AFFINITY_WAIT_MS: i64 = 60_000;
/// Limits that catch unit mistakes and runaway values.
pub const MAX_ATTEMPTS_LIMIT: i64 = 1_000_000;
pub const MAX_KEY_BYTES: usize = 1024;
pub const MAX_QUEUE_NAME_BYTES: usize = 128;

/// The most parents one job may have.
pub const MAX_PARENTS: usize = 100_000;
pub const MAX_NAME_BYTES: usize = 256;

/// A job's settings, resolved against the clock at enqueue time.
#[derive(Debug, Clone, PartialEq)]
pub struct EnqueueOptions {
    pub priority: i64,
    pub run_at_ms: i64,
    pub max_attempts: i64,
    pub lease_ms: i64,
    /// Canonical JSON, `None` for the default backoff.
    pub backoff: Option<String>,
    pub key: Option<String>,
    /// The key holds while any job with it exists, finished ones included
    /// (key_scope "all"), instead of while one is waiting, ready or running.
    pub key_for_all: bool,
    /// With a key: an enqueue while the key's job has not started replaces
    /// its payload and pushes its start back to run_at_ms (debounce.sql).
    pub debounce: bool,
    /// How long one run may take, for the worker to enforce.
    pub timeout_ms: Option<i64>,
    /// Routing, as JSON arrays / a name (see sql/claim.sql).
    pub requires: Option<String>,
    pub only_worker: Option<String>,
    pub not_workers: Option<String>,
    /// Jobs that must complete first (ids).
    pub depends_on: Vec<i64>,
    /// Run even if a parent ends dead or cancelled (instead of being cancelled).
    pub run_on_parent_failure: bool,
    /// The job's group (a tenant, a customer): its limits and its turn
    /// among the groups of its queue (migration 015).
    pub group: Option<String>,
    /// Affinity: run on the worker that ran (or runs) this job, until
    /// `affinity_until_ms`; then, or once that worker stopped, on any.
    pub same_worker_as: Option<i64>,
    pub affinity_until_ms: Option<i64>,
    /// With a key: an enqueue while the key's job runs keeps one follow-up
    /// run waiting for it (follow_find.sql).
    pub follow_up: bool,
    /// The key a follow-up holds (set by ops.rs, never by an option).
    pub follow_key: Option<String>,
}

impl EnqueueOptions {
    pub fn defaults(now_ms: i64) -> Self {
        EnqueueOptions {
            priority: 0,
            run_at_ms: now_ms,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            lease_ms: DEFAULT_LEASE_MS,
            backoff: None,
            key: None,
            key_for_all: false,
            debounce: false,
            timeout_ms: None,
            requires: None,
            only_worker: None,
            not_workers: None,
            depends_on: Vec::new(),
            run_on_parent_failure: false,
            group: None,
            same_worker_as: None,
            affinity_until_ms: None,
            follow_up: false,
            follow_key: None,
        }
    }

    /// Parses the JSON options text (`None`: all defaults).
    pub fn parse(text: Option<&str>, now_ms: i64) -> Result<Self> {
        match text {
            None => Ok(Self::defaults(now_ms)),
            Some(text) => EnqueueKeys::parse(text)?.resolve(now_ms),
        }
    }
}

/// The keys of queue_enqueue's options, in the order the reference lists
/// them (and checks them).
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct EnqueueKeys {
    priority: Given,
    delay: Given,
    run_at: Given,
    max_attempts: Given,
    lease: Given,
    backoff: Given,
    key: Given,
    key_scope: Given,
    debounce: Given,
    follow_up: Given,
    group: Given,
    same_worker_as: Given,
    same_worker_wait: Given,
    timeout: Given,
    requires: Given,
    worker: Given,
    not_workers: Given,
    pub depends_on: Given,
    on_parent_failure: Given,
}

impl EnqueueKeys {
    pub fn parse(text: &str) -> Result<Self> {
        option_keys(text)
    }

    /// The options these keys give, each value checked by its kind.
    pub fn resolve(&self, now_ms: i64) -> Result<EnqueueOptions> {
        let mut o = EnqueueOptions::defaults(now_ms);
        if self.delay.0.is_some() && self.run_at.0.is_some() {
            return Err(invalid("give either delay or run_at, not both"));
        }
        if let Some(v) = &self.priority.0 {
            o.priority = integer("priority", v, -(1 << 31), (1 << 31) - 1)?;
        }
        if let Some(v) = &self.delay.0 {
            o.run_at_ms = later("delay", now_ms, duration_ms("delay", number("delay", v)?)?)?;
        }
        if let Some(v) = &self.run_at.0 {
            o.run_at_ms = time_ms("run_at", number("run_at", v)?)?;
        }
        if let Some(v) = &self.max_attempts.0 {
            o.max_attempts = integer("max_attempts", v, 1, MAX_ATTEMPTS_LIMIT)?;
        }
        if let Some(v) = &self.lease.0 {
            o.lease_ms = lease_ms("lease", number("lease", v)?)?;
        }
        if let Some(v) = &self.backoff.0 {
            o.backoff = Backoff::from_json(v)?.to_stored();
        }
        if let Some(v) = &self.key.0 {
            o.key = Some(key_text("key", v)?);
        }
        if let Some(v) = &self.key_scope.0 {
            o.key_for_all = key_scope(v)?;
        }
        if let Some(v) = &self.debounce.0 {
            if self.delay.0.is_some() || self.run_at.0.is_some() {
                return Err(invalid("debounce sets the job's start: give it without delay or run_at"));
            }
            o.run_at_ms = later("debounce", now_ms, duration_ms("debounce", number("debounce", v)?)?)?;
            o.debounce = true;
        }
        if let Some(v) = &self.follow_up.0 {
            o.follow_up =
                v.as_bool().ok_or_else(|| invalid(format!("follow_up must be true or false, got {v}")))?;
        }
        if let Some(v) = &self.group.0 {
            o.group = Some(key_text("group", v)?);
        }
        if let Some(v) = &self.same_worker_as.0 {
            o.same_worker_as = Some(job_id("same_worker_as", v)?);
            let wait_ms = match &self.same_worker_wait.0 {
                Some(w) => duration_ms("same_worker_wait", number("same_worker_wait", w)?)?,
                None => DEFAULT_AFFINITY_WAIT_MS,
            };
            o.affinity_until_ms = Some(later("same_worker_wait", now_ms, wait_ms)?);
        } else if self.same_worker_wait.0.is_some() {
            return Err(invalid("same_worker_wait needs same_worker_as"));
        }
        if let Some(v) = &self.timeout.0 {
            o.timeout_ms = Some(lease_ms("timeout", number("timeout", v)?)?);
        }
        if let Some(v) = &self.requires.0 {
            o.requires = name_list("requires", v)?;
        }
        if let Some(v) = &self.worker.0 {
            o.only_worker = Some(name("worker", v)?);
        }
        if let Some(v) = &self.not_workers.0 {
            o.not_workers = name_list("not_workers", v)?;
        }
        if let Some(v) = &self.depends_on.0 {
            o.depends_on = job_ids(v)?;
        }
        if let Some(v) = &self.on_parent_failure.0 {
            o.run_on_parent_failure = match v.as_str() {
                Some("cancel") => false,
                Some("run") => true,
                _ => {
                    return Err(invalid(format!("on_parent_failure must be \"cancel\" or \"run\", got {v}")));
                }
            };
        }
        if o.key_for_all && o.key.is_none() {
            return Err(invalid("key_scope needs a key"));
        }
        if o.debounce && (o.key.is_none() || o.key_for_all) {
            return Err(invalid("debounce needs a key (of key_scope \"live\")"));
        }
        if o.debounce && !o.depends_on.is_empty() {
            return Err(invalid("debounce cannot be given with depends_on"));
        }
        if o.follow_up && (o.key.is_none() || o.key_for_all) {
            return Err(invalid("follow_up needs a key (of key_scope \"live\")"));
        }
        if o.follow_up && (o.debounce || !o.depends_on.is_empty()) {
            return Err(invalid("follow_up cannot be given with debounce or depends_on"));
        }
        Ok(o)
    }
}

/// The "retention" setting of queue_configure: for each final state, how
/// long a queue keeps its jobs after they finished, in ms (`Some(None)`:
/// forever); `None` where the setting does not say, which keeps the
/// queue's current one.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Retention {
    pub done: Option<Option<i64>>,
    pub dead: Option<Option<i64>>,
    pub cancelled: Option<Option<i64>>,
}

/// The most a running-jobs limit may be (a limit, not a count of anything
/// that exists: a billion is no limit in practice, and fits every column).
pub const MAX_RUNNING_LIMIT: i64 = 1_000_000_000;

/// The shortest and longest period of a rate limit.
pub const MIN_RATE_PERIOD_MS: i64 = 1;
pub const MAX_RATE_PERIOD_MS: i64 = 86_400_000;

/// A queue's settings that queue_configure changes; None: leave it.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct QueueSettings {
    pub events: Option<bool>,
    pub retention: Retention,
    /// Some(None) removes the limit.
    pub max_running: Option<Option<i64>>,
    pub group_max_running: Option<Option<i64>>,
    pub rate: Option<Option<Rate>>,
    pub group_rate: Option<Option<Rate>>,
}

/// One group's own limits (queue_group_configure); None: leave it,
/// Some(None): back to its queue's default.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct GroupSettings {
    pub max_running: Option<Option<i64>>,
    pub rate: Option<Option<Rate>>,
}

/// A rate limit: at most `limit` claims in any window of `per_ms`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub limit: i64,
    pub per_ms: i64,
}

/// Reads a rate limit: `{"limit": N, "per": seconds}`, or null for none.
pub fn rate(what: &str, v: &Value) -> Result<Option<Rate>> {
    if v.is_null() {
        return Ok(None);
    }
    let shape = || {
        invalid(format!(
            "{what} must be an object like {{\"limit\": 10, \"per\": 1}} (claims per seconds), or null \
             (no limit), got {}",
            excerpt(&v.to_string())
        ))
    };
    let keys: RateKeys = fields::read(v).map_err(|p| match p {
        Problem::Unknown { key, known } => {
            invalid(format!("{what}: unknown key '{}' (known: {known})", excerpt(&key)))
        }
        _ => shape(),
    })?;
    let (Some(limit), Some(per)) = (&keys.limit.0, &keys.per.0) else { return Err(shape()) };
    let limit = integer(&format!("{what}.limit"), limit, 1, MAX_RUNNING_LIMIT)?;
    let per_secs = number(&format!("{what}.per"), per)?;
    let per_ms = (per_secs * 1000.0).round();
    if !(MIN_RATE_PERIOD_MS as f64..=MAX_RATE_PERIOD_MS as f64).contains(&per_ms) {
        return Err(invalid(format!(
            "{what}.per must be from 0.001 to 86400 seconds (a day), got {per_secs}"
        )));
    }
    Ok(Some(Rate { limit, per_ms: per_ms as i64 }))
}

/// The keys of a rate limit.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct RateKeys {
    limit: Given,
    per: Given,
}

/// Reads a limit on running jobs: a whole number from 0, or null for none.
pub fn running_limit(what: &str, v: &Value) -> Result<Option<i64>> {
    match v {
        Value::Null => Ok(None),
        Value::Number(_) => integer(what, v, 0, MAX_RUNNING_LIMIT).map(Some),
        other => {
            Err(invalid(format!("{what} must be a whole number from 0, or null (no limit), got {other}")))
        }
    }
}

/// Reads `{"done": seconds or null, "dead": ..., "cancelled": ...}`, any of
/// them; `null` for the whole setting keeps every finished job forever.
pub fn retention(v: &Value) -> Result<Retention> {
    if v.is_null() {
        let forever = Some(None);
        return Ok(Retention { done: forever, dead: forever, cancelled: forever });
    }
    let states: RetentionKeys = fields::read(v).map_err(|p| match p {
        Problem::Unknown { key, known } => {
            invalid(format!("retention: unknown state '{}' (known: {known})", excerpt(&key)))
        }
        _ => invalid(format!(
            "retention must be an object like {{\"done\": 3600}} (seconds, or null: forever), got {}",
            excerpt(&v.to_string())
        )),
    })?;
    let keep = |state: &str, given: &Given| -> Result<Option<Option<i64>>> {
        let what = format!("retention.{state}");
        given
            .0
            .as_ref()
            .map(|v| match v {
                Value::Null => Ok(None),
                v => Ok(Some(duration_ms(&what, number(&what, v)?)?)),
            })
            .transpose()
    };
    Ok(Retention {
        done: keep("done", &states.done)?,
        dead: keep("dead", &states.dead)?,
        cancelled: keep("cancelled", &states.cancelled)?,
    })
}

/// The final states a retention setting may name.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct RetentionKeys {
    done: Given,
    dead: Given,
    cancelled: Given,
}

/// A lease length in seconds as milliseconds: more than zero.
pub fn lease_ms(what: &str, secs: f64) -> Result<i64> {
    let ms = duration_ms(what, secs)?;
    if ms < 1 {
        return Err(invalid(format!("{what} must be at least 0.001 seconds, got {secs}")));
    }
    Ok(ms)
}

/// Queue names: 1 to 128 bytes of letters, digits and `_ - . : /`. The
/// narrow alphabet keeps names safe in URLs, logs and shells, and lets a
/// JSON array of names never be mistaken for one name.
pub fn check_queue_name(name: &str) -> Result<()> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "_-.:/".contains(c);
    if name.is_empty() || name.len() > MAX_QUEUE_NAME_BYTES || !name.chars().all(ok_char) {
        return Err(invalid(format!(
            "invalid queue name {}: use 1 to {MAX_QUEUE_NAME_BYTES} letters, digits or _ - . : /",
            excerpt(&format!("'{name}'"))
        )));
    }
    Ok(())
}

/// Reads an options object into its keys (`T`, a struct of `Given`s that
/// denies unknown fields); an error names what is wrong with it.
pub fn option_keys<'a, T: Deserialize<'a>>(text: &'a str) -> Result<T> {
    fields::parse(text).map_err(|p| match p {
        Problem::NotJson(e) => invalid(format!("options are not valid JSON ({e}): {}", excerpt(text))),
        Problem::NotObject => invalid(format!("options must be a JSON object, got {}", excerpt(text))),
        Problem::Unknown { key, known } => invalid(format!("unknown option '{key}' (known: {known})")),
        Problem::Twice(key) => invalid(format!("option '{key}' is given twice")),
    })
}

pub fn number(what: &str, v: &Value) -> Result<f64> {
    v.as_f64().ok_or_else(|| invalid(format!("{what} must be a number, got {v}")))
}

pub fn integer(what: &str, v: &Value, min: i64, max: i64) -> Result<i64> {
    let n = match v {
        Value::Number(n) => {
            n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9e15).map(|f| f as i64))
        }
        _ => None,
    };
    match n {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        Some(n) => Err(invalid(format!("{what} must be from {min} to {max}, got {n}"))),
        None => Err(invalid(format!("{what} must be an integer, got {v}"))),
    }
}

/// A job key or a group key: 1 to MAX_KEY_BYTES bytes of text.
pub fn key_text(what: &str, v: &Value) -> Result<String> {
    match v {
        Value::String(s) if !s.is_empty() && s.len() <= MAX_KEY_BYTES => Ok(s.clone()),
        Value::String(_) => Err(invalid(format!("{what} must be 1 to {MAX_KEY_BYTES} bytes"))),
        other => Err(invalid(format!("{what} must be a string, got {other}"))),
    }
}

/// One job id: a whole number from 1.
fn job_id(what: &str, v: &Value) -> Result<i64> {
    v.as_i64().filter(|id| *id > 0).ok_or_else(|| invalid(format!("{what} must be a job id, got {v}")))
}

/// depends_on: an array of job ids, each once.
fn job_ids(v: &Value) -> Result<Vec<i64>> {
    let items =
        v.as_array().ok_or_else(|| invalid(format!("depends_on must be an array of job ids, got {v}")))?;
    if items.len() > MAX_PARENTS {
        return Err(invalid(format!("depends_on has more than {MAX_PARENTS} jobs")));
    }
    let mut ids = items
        .iter()
        .map(|i| {
            job_id("depends_on", i).map_err(|_| invalid(format!("depends_on must hold job ids, got {i}")))
        })
        .collect::<Result<Vec<_>>>()?;
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

fn key_scope(v: &Value) -> Result<bool> {
    match v.as_str() {
        Some("live") => Ok(false),
        Some("all") => Ok(true),
        _ => Err(invalid(format!("key_scope must be \"live\" or \"all\", got {v}"))),
    }
}

/// A worker or capability name: 1 to 256 bytes of printable text.
pub fn name(what: &str, v: &Value) -> Result<String> {
    match v.as_str() {
        Some(s) if !s.is_empty() && s.len() <= MAX_NAME_BYTES && !s.chars().any(char::is_control) => {
            Ok(s.to_string())
        }
        _ => Err(invalid(format!("{what} must be a name of 1 to {MAX_NAME_BYTES} printable bytes, got {v}"))),
    }
}

/// A JSON array of names, canonical; `None` when empty.
pub fn name_list(what: &str, v: &Value) -> Result<Option<String>> {
    let items = v.as_array().ok_or_else(|| invalid(format!("{what} must be an array of names, got {v}")))?;
    let names = items.iter().map(|item| name(what, item)).collect::<Result<Vec<_>>>()?;
    Ok((!names.is_empty()).then(|| Value::from(names).to_string()))
}

/// At most 80 characters of `text`, for error messages.
pub fn excerpt(text: &str) -> String {
    if text.chars().count() <= 80 {
        text.to_string()
    } else {
        format!("{}...", text.chars().take(77).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<EnqueueOptions> {
        EnqueueOptions::parse(Some(s), 1_000_000)
    }

    #[test]
    fn defaults_without_options() {
        assert_eq!(EnqueueOptions::parse(None, 5).unwrap(), EnqueueOptions::defaults(5));
        assert_eq!(parse("{}").unwrap(), EnqueueOptions::defaults(1_000_000));
    }

    #[test]
    fn reads_every_key() {
        let o = parse(
            r#"{"priority":-3,"delay":1.5,"max_attempts":2,"lease":0.25,"key":"k","backoff":{"base":2}}"#,
        )
        .unwrap();
        assert_eq!(o.priority, -3);
        assert_eq!(o.run_at_ms, 1_001_500);
        assert_eq!(o.max_attempts, 2);
        assert_eq!(o.lease_ms, 250);
        assert_eq!(o.key.as_deref(), Some("k"));
        assert!(o.backoff.unwrap().contains("\"base\":2"));
        let r = parse(r#"{"requires":["gpu","ffmpeg"],"worker":"w1","not_workers":["w2"],"timeout":90,"key":"k","key_scope":"all"}"#).unwrap();
        assert_eq!(r.requires.as_deref(), Some(r#"["gpu","ffmpeg"]"#));
        assert_eq!(r.only_worker.as_deref(), Some("w1"));
        assert_eq!(r.not_workers.as_deref(), Some(r#"["w2"]"#));
        assert_eq!(r.timeout_ms, Some(90_000));
        assert!(r.key_for_all);
        assert_eq!(parse(r#"{"requires":[]}"#).unwrap().requires, None);
        assert_eq!(parse(r#"{"run_at":2000}"#).unwrap().run_at_ms, 2_000_000);
    }

    #[test]
    fn rejects_bad_values_naming_them() {
        for (bad, needle) in [
            ("{", "not valid JSON"),
            ("[1]", "must be a JSON object"),
            (r#"{"prio":1}"#, "unknown option 'prio'"),
            (r#"{"priority":1.5}"#, "priority must be an integer"),
            (r#"{"priority":"1"}"#, "priority must be an integer"),
            (r#"{"delay":-1}"#, "delay must be"),
            (r#"{"delay":1e12}"#, "more than ten years"),
            (r#"{"run_at":-5}"#, "run_at must be"),
            (r#"{"delay":1,"run_at":5}"#, "either delay or run_at"),
            (r#"{"max_attempts":0}"#, "max_attempts must be from 1"),
            (r#"{"lease":0}"#, "lease must be at least"),
            (r#"{"key":""}"#, "key must be 1 to"),
            (r#"{"key":5}"#, "key must be a string"),
            (r#"{"key_scope":"all"}"#, "key_scope needs a key"),
            (r#"{"key":"k","key_scope":"forever"}"#, "key_scope must be"),
            (r#"{"timeout":0}"#, "timeout must be at least"),
            (r#"{"requires":"gpu"}"#, "requires must be an array of names"),
            (r#"{"requires":[""]}"#, "requires must be a name"),
            (r#"{"worker":7}"#, "worker must be a name"),
            (r#"{"not_workers":[1]}"#, "not_workers must be a name"),
        ] {
            let e = parse(bad).unwrap_err().to_string();
            assert!(e.contains(needle), "{bad}: {e}");
        }
    }

    #[test]
    fn retention_reads_each_state_and_null() {
        let r = retention(&serde_json::json!({"done": 3600, "dead": null, "cancelled": 0.5})).unwrap();
        assert_eq!(
            r,
            Retention { done: Some(Some(3_600_000)), dead: Some(None), cancelled: Some(Some(500)) }
        );
        assert_eq!(retention(&serde_json::json!({})).unwrap(), Retention::default());
        let forever = retention(&Value::Null).unwrap();
        assert_eq!((forever.done, forever.dead, forever.cancelled), (Some(None), Some(None), Some(None)));
        for (bad, needle) in [
            (serde_json::json!(3600), "retention must be an object"),
            (serde_json::json!({"done": -1}), "retention.done must be a number of seconds >= 0"),
            (serde_json::json!({"dead": "1h"}), "retention.dead must be a number"),
            (serde_json::json!({"cancelled": 1e12}), "more than ten years"),
            (serde_json::json!({"running": 5}), "unknown state 'running'"),
        ] {
            let e = retention(&bad).unwrap_err().to_string();
            assert!(e.contains(needle), "{bad}: {e}");
        }
    }

    #[test]
    fn queue_names() {
        for ok in ["email", "a.b-c_d:e/f", "Q1"] {
            check_queue_name(ok).unwrap();
        }
        for bad in ["", "has space", "[\"a\"]", "ü", &"x".repeat(129)] {
            assert!(check_queue_name(bad).is_err(), "{bad}");
        }
    }
}
