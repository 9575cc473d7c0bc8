//! queue_* functions that act on jobs and queues.

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::args::{check_json_depth, Args};
use crate::bounds::duration_ms;
use crate::claim::{self, claim_request, claimed_json};
use crate::clock::ms_to_secs;
use crate::error::{invalid, not_found, Result};
use crate::fields::{self, Given, Problem};
use crate::ops;
use crate::options::excerpt;
use crate::options::{check_queue_name, lease_ms, EnqueueOptions};
use crate::schema;
use crate::session::Session;
use crate::txn::{self, Writes};

pub fn queue_enqueue(s: &Session, a: &Args) -> Result<i64> {
    a.arity(2, 3, "(queue, payload [, options])")?;
    let queue = a.text(0, "queue")?;
    check_queue_name(queue)?;
    let payload = a.json(1, "payload")?;
    let now = s.clock.now_ms();
    let opts = EnqueueOptions::parse(a.opt_text(2, "options")?, now)?;
    // With dependencies it writes the job and its edges: more than once.
    let writes = if opts.depends_on.is_empty() { Writes::Once } else { Writes::Many };
    txn::write_into_queue(s, queue, writes, &mut |c, queue_registered| {
        let place = ops::Placement { queue_registered, ..Default::default() };
        ops::enqueue_placed(c, now, queue, &payload, &opts, &place)
    })
}

/// `payloads`: a JSON array, one element per job. All the jobs or none.
pub fn queue_enqueue_many(s: &Session, a: &Args) -> Result<String> {
    a.arity(2, 3, "(queue, payloads [, options])")?;
    let queue = a.text(0, "queue")?;
    check_queue_name(queue)?;
    let text = a.text(1, "payloads")?;
    // Each element's own text, as queue_enqueue would store it.
    let payloads: Vec<&RawValue> = serde_json::from_str(text).map_err(|e| {
        invalid(format!("payloads must be a JSON array of payloads ({e}): {}", excerpt(text)))
    })?;
    for (i, payload) in payloads.iter().enumerate() {
        check_json_depth(&format!("payloads[{i}]"), payload.get())?;
    }
    let now = s.clock.now_ms();
    let opts = EnqueueOptions::parse(a.opt_text(2, "options")?, now)?;
    if opts.key.is_some() {
        return Err(invalid("option 'key' names one job; enqueue keyed jobs with queue_enqueue"));
    }
    // Re-encoded as an array of strings, which json_each hands to
    // enqueue_many.sql unchanged: the element of [1.10] would be the real 1.1.
    let texts = serde_json::to_string(&payloads.iter().map(|p| p.get()).collect::<Vec<&str>>())
        .map_err(|e| invalid(format!("payloads: {e}")))?;
    // Many: the edges to parents follow the insert, and a check after it may
    // refuse the batch; in the caller's transaction a savepoint undoes it all.
    let ids = txn::write_into_queue(s, queue, Writes::Many, &mut |c, queue_registered| {
        let place = ops::Placement { queue_registered, ..Default::default() };
        ops::enqueue_many(c, now, queue, &texts, payloads.len(), &opts, &place)
    })?;
    Ok(Value::from(ids).to_string())
}

pub fn queue_claim_json(s: &Session, a: &Args) -> Result<String> {
    a.arity(2, 4, "(worker, n [, queue [, lease]])")?;
    let req = claim_request(a)?;
    let now = s.clock.now_ms();
    let jobs = txn::write(s, Writes::AsNeeded, &mut |c| claim::claim(c, now, &req))?;
    Ok(claimed_json(&jobs))
}

pub fn queue_complete(s: &Session, a: &Args) -> Result<i64> {
    a.arity(1, 3, "(id [, token [, result]])")?;
    let (id, token) = (a.int(0, "id")?, a.opt_int(1, "token")?);
    let result = a.opt_json(2, "result")?;
    let now = s.clock.now_ms();
    let done = txn::write(s, Writes::Once, &mut |c| ops::complete(c, now, id, token, result.as_deref()))?;
    Ok(done as i64)
}

/// `[[id, token], [id, token, result], {"id":…, "token":…, "result":…}, …]`
pub fn queue_complete_many(s: &Session, a: &Args) -> Result<i64> {
    a.arity(1, 1, "(jobs)")?;
    let text = a.text(0, "jobs")?;
    let list: Vec<Value> = serde_json::from_str(text).map_err(|_| {
        invalid(format!(
            "jobs must be a JSON array of [id, token] or {{\"id\", \"token\"}}, got {}",
            excerpt(text)
        ))
    })?;
    let mut canonical = Vec::with_capacity(list.len());
    for (i, job) in list.iter().enumerate() {
        canonical.push(match job {
            Value::Array(a) if (2..=3).contains(&a.len()) => completion(i, &a[0], &a[1], a.get(2))?,
            Value::Object(_) => {
                let keys: CompletionKeys = fields::read(job).map_err(|p| match p {
                    Problem::Unknown { key, known } => {
                        invalid(format!("jobs[{i}]: unknown key '{key}' (known: {known})"))
                    }
                    _ => invalid(format!("jobs[{i}] must be [id, token(, result)] or an object")),
                })?;
                let given = |g: &Given| g.0.clone().unwrap_or(Value::Null);
                completion(i, &given(&keys.id), &given(&keys.token), keys.result.0.as_ref())?
            }
            _ => return Err(invalid(format!("jobs[{i}] must be [id, token(, result)] or an object"))),
        });
    }
    let now = s.clock.now_ms();
    txn::write(s, Writes::AsNeeded, &mut |c| txn::atomic(c, || ops::complete_many(c, now, &canonical)))
}

/// The keys of one job of queue_complete_many as an object.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct CompletionKeys {
    id: Given,
    token: Given,
    result: Given,
}

/// Job `i` of queue_complete_many as (id, token, result's JSON text).
fn completion(
    i: usize,
    id: &Value,
    token: &Value,
    result: Option<&Value>,
) -> Result<(i64, i64, Option<String>)> {
    let (Some(id), Some(token)) = (id.as_i64(), token.as_i64()) else {
        return Err(invalid(format!("jobs[{i}] needs an integer id and token")));
    };
    Ok((id, token, result.filter(|r| !r.is_null()).map(|r| r.to_string())))
}

pub fn queue_fail(s: &Session, a: &Args) -> Result<Option<String>> {
    a.arity(1, 4, "(id [, token [, error [, retry_in]]])")?;
    let (id, token) = (a.int(0, "id")?, a.opt_int(1, "token")?);
    let error = a.opt_text(2, "error")?;
    let retry_in = a.opt_number(3, "retry_in")?.map(|r| duration_ms("retry_in", r)).transpose()?;
    let now = s.clock.now_ms();
    // A job that dies may cancel its dependents: more than one write.
    txn::write(s, Writes::Many, &mut |c| ops::fail(c, now, id, token, error, retry_in))
}

pub fn queue_extend(s: &Session, a: &Args) -> Result<Option<f64>> {
    a.arity(3, 3, "(id, token, seconds)")?;
    let (id, token) = (a.int(0, "id")?, a.opt_int(1, "token")?);
    let lease = lease_ms("seconds", a.number(2, "seconds")?)?;
    let now = s.clock.now_ms();
    let until = txn::write(s, Writes::Once, &mut |c| ops::extend(c, now, id, token, lease))?;
    Ok(until.map(ms_to_secs))
}

pub fn queue_release(s: &Session, a: &Args) -> Result<i64> {
    a.arity(1, 3, "(id [, token [, delay]])")?;
    let (id, token) = (a.int(0, "id")?, a.opt_int(1, "token")?);
    let delay = duration_ms("delay", a.opt_number(2, "delay")?.unwrap_or(0.0))?;
    let now = s.clock.now_ms();
    Ok(txn::write(s, Writes::Once, &mut |c| ops::release(c, now, id, token, delay))? as i64)
}

/// Why a completion with `token` would not count (or that it would): reads only.
pub fn queue_lease_status(s: &Session, a: &Args) -> Result<String> {
    a.arity(2, 2, "(id, token)")?;
    let (id, token) = (a.int(0, "id")?, a.int(1, "token")?);
    for (name, value) in [("id", id), ("token", token)] {
        if value < 0 {
            return Err(invalid(format!("{name} must be >= 0, got {value}")));
        }
    }
    let now = s.clock.now_ms();
    s.with(|res| {
        if !schema::readable(&res.host)? {
            return Err(not_found("this database has no orq schema: no job was ever enqueued here"));
        }
        ops::lease_status(&res.host, now, id, token)
    })
}

pub fn queue_cancel(s: &Session, a: &Args) -> Result<i64> {
    a.arity(1, 1, "(id)")?;
    let id = a.int(0, "id")?;
    let now = s.clock.now_ms();
    Ok(txn::write(s, Writes::Many, &mut |c| ops::cancel(c, now, id))? as i64)
}

pub fn queue_retry(s: &Session, a: &Args) -> Result<i64> {
    a.arity(1, 1, "(id)")?;
    let id = a.int(0, "id")?;
    let now = s.clock.now_ms();
    Ok(txn::write(s, Writes::Once, &mut |c| ops::retry(c, now, id))? as i64)
}

pub fn queue_pause(s: &Session, a: &Args) -> Result<i64> {
    a.arity(1, 1, "(queue)")?;
    let queue = a.text(0, "queue")?;
    check_queue_name(queue)?;
    let now = s.clock.now_ms();
    Ok(txn::write(s, Writes::Once, &mut |c| ops::pause(c, now, queue))? as i64)
}

pub fn queue_resume(s: &Session, a: &Args) -> Result<i64> {
    a.arity(1, 1, "(queue)")?;
    let queue = a.text(0, "queue")?;
    check_queue_name(queue)?;
    Ok(txn::write(s, Writes::Once, &mut |c| ops::resume(c, queue))? as i64)
}

pub fn queue_purge(s: &Session, a: &Args) -> Result<i64> {
    a.arity(2, 2, "(queue or NULL, older_than_seconds)")?;
    let queue = a.opt_text(0, "queue")?;
    if let Some(q) = queue {
        check_queue_name(q)?;
    }
    let age = duration_ms("older_than_seconds", a.number(1, "older_than_seconds")?)?;
    let now = s.clock.now_ms();
    let cutoff = now - age;
    let mut purged = ops::Purged::default();
    txn::in_slices(s, &mut |c, limit| {
        let before = purged.jobs;
        purged = ops::purge(c, now, queue, cutoff, limit, purged)?;
        Ok(purged.jobs - before)
    })?;
    Ok(purged.jobs)
}
