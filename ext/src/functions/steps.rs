//! Durable execution inside a running job: steps recorded once and read
//! back (`queue_step`, `queue_step_done`), sleeps (`queue_sleep`) and
//! signals (`queue_await`, `queue_signal`), children (`queue_spawn`,
//! `queue_gather`, `queue_children`). Those of a running job take its
//! lease's token: a stale worker reads no step and changes nothing.

use crate::args::Args;
use crate::bounds::{duration_ms, MAX_DURATION_MS};
use crate::error::{invalid, not_found, Result};
use crate::ops::job_state;
use crate::options::{check_queue_name, EnqueueOptions};
use crate::schema;
use crate::session::Session;
use crate::step_retry::StepRetry;
use crate::steps;
use crate::txn::{self, Writes};

/// The longest step name, in bytes.
const MAX_NAME: usize = 256;

/// A step's or a signal's name: 1 to MAX_NAME bytes.
fn step_name<'a>(a: &Args<'a>, i: usize) -> Result<&'a str> {
    let name = a.text(i, "name")?;
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(invalid(format!("name must be 1 to {MAX_NAME} bytes, got {}", name.len())));
    }
    Ok(name)
}

/// `queue_step(id, token, name)`: the step's recorded result (JSON), or
/// NULL when it has none or `token` no longer holds the job.
pub fn queue_step(s: &Session, a: &Args) -> Result<Option<String>> {
    a.arity(3, 3, "(id, token, name)")?;
    let (id, token, name) = (a.int(0, "id")?, a.int(1, "token")?, step_name(a, 2)?);
    s.with(|res| {
        if !schema::readable(&res.host)? {
            return Err(not_found(format!("no job with id {id}")));
        }
        steps::get(&res.host, id, token, name)
    })
}

/// `queue_step_done(id, token, name, result)`: 1 when the step's result is
/// recorded (or was: the first result counts), 0 when the lease is lost.
pub fn queue_step_done(s: &Session, a: &Args) -> Result<i64> {
    a.arity(4, 4, "(id, token, name, result)")?;
    let (id, token, name) = (a.int(0, "id")?, a.int(1, "token")?, step_name(a, 2)?);
    let result = a.opt_json(3, "result")?.unwrap_or_else(|| "null".into());
    let now = s.clock.now_ms();
    // Many: the savepoint's schema check creates orq_steps on an older
    // database even inside the caller's transaction.
    let recorded = txn::write(s, Writes::Many, &mut |c| steps::record(c, now, id, token, name, &result))?;
    Ok(recorded as i64)
}

/// `queue_step_fail(id, token, name, error [, options])`: counts a failed
/// try of the step; 'retry' when it has tries left (the job sleeps until
/// the next one: the run ends), 'exhausted' when not (the job keeps its
/// lease), NULL when the lease is lost.
pub fn queue_step_fail(s: &Session, a: &Args) -> Result<Option<&'static str>> {
    a.arity(4, 5, "(id, token, name, error [, options])")?;
    let (id, token, name) = (a.int(0, "id")?, a.int(1, "token")?, step_name(a, 2)?);
    let error = a.text(3, "error")?;
    let retry = StepRetry::parse(a.opt_text(4, "options")?)?;
    let now = s.clock.now_ms();
    let failed = txn::write(s, Writes::Many, &mut |c| steps::fail(c, now, id, token, name, error, &retry))?;
    Ok(failed.map(|f| f.as_str()))
}

/// `queue_steps(id)`: the job's steps (results, failed tries), as a JSON
/// array in the order they were recorded.
pub fn queue_steps(s: &Session, a: &Args) -> Result<String> {
    a.arity(1, 1, "(id)")?;
    let id = a.int(0, "id")?;
    s.with(|res| match schema::readable_version(&res.host)? {
        None => Err(not_found(format!("no job with id {id}"))),
        // A database from before v18, not upgraded yet (no orq write since,
        // a read-only dashboard): as if its job had no steps, as queue_jobs
        // shows no progress below v17, rather than an error on every page.
        Some(v) if v < STEP_FAILURES_VERSION => {
            job_state(&res.host, id)?;
            Ok("[]".into())
        }
        Some(_) => steps::list(&res.host, id),
    })
}

/// The schema version that counts failed tries of steps (migration 018).
const STEP_FAILURES_VERSION: i64 = 18;

/// `queue_sleep(id, token, seconds)`: 1 when the job left its worker to be
/// claimable again in `seconds` (its attempt not used up), 0 when the lease
/// is lost.
pub fn queue_sleep(s: &Session, a: &Args) -> Result<i64> {
    a.arity(3, 3, "(id, token, seconds)")?;
    let (id, token) = (a.int(0, "id")?, a.int(1, "token")?);
    let ms = duration_ms("seconds", a.number(2, "seconds")?)?;
    let now = s.clock.now_ms();
    Ok(txn::write(s, Writes::Once, &mut |c| steps::sleep(c, now, id, token, now + ms))? as i64)
}

/// `queue_await(id, token, name, timeout)`: 1 when the job left its worker
/// to await signal `name` (claimable again when it comes, or after
/// `timeout` seconds; NULL: ten years), 0 when the lease is lost. The
/// signal's payload is then step `signal:NAME`.
pub fn queue_await(s: &Session, a: &Args) -> Result<i64> {
    a.arity(4, 4, "(id, token, name, timeout)")?;
    let (id, token, name) = (a.int(0, "id")?, a.int(1, "token")?, step_name(a, 2)?);
    let timeout = match a.opt_number(3, "timeout")? {
        Some(t) => duration_ms("timeout", t)?,
        None => MAX_DURATION_MS,
    };
    let now = s.clock.now_ms();
    let parked =
        txn::write(s, Writes::Many, &mut |c| steps::await_signal(c, now, id, token, name, now + timeout))?;
    Ok(parked as i64)
}

/// `queue_signal(name, payload)`: wakes every job awaiting signal `name`
/// (its payload becomes their step `signal:NAME`); how many. A signal no
/// job awaits is kept a week for the first that does.
pub fn queue_signal(s: &Session, a: &Args) -> Result<i64> {
    a.arity(2, 2, "(name, payload)")?;
    let name = step_name(a, 0)?;
    let payload = a.opt_json(1, "payload")?.unwrap_or_else(|| "null".into());
    let now = s.clock.now_ms();
    txn::write(s, Writes::Many, &mut |c| steps::signal(c, now, name, &payload))
}

/// `queue_spawn(id, token, queue, payload [, options])`: the new child's id
/// (options as queue_enqueue's), NULL when the lease is lost.
pub fn queue_spawn(s: &Session, a: &Args) -> Result<Option<i64>> {
    a.arity(4, 5, "(id, token, queue, payload [, options])")?;
    let (id, token) = (a.int(0, "id")?, a.int(1, "token")?);
    let queue = a.text(2, "queue")?;
    check_queue_name(queue)?;
    let payload = a.json(3, "payload")?;
    let now = s.clock.now_ms();
    let options = EnqueueOptions::parse(a.opt_text(4, "options")?, now)?;
    txn::write(s, Writes::Many, &mut |c| steps::spawn(c, now, id, token, queue, &payload, &options))
}

/// `queue_gather(id, token)`: 1 when the job left its worker to wait for
/// every job it spawned (claimable again when the last one finishes), 0
/// when the lease is lost.
pub fn queue_gather(s: &Session, a: &Args) -> Result<i64> {
    a.arity(2, 2, "(id, token)")?;
    let (id, token) = (a.int(0, "id")?, a.int(1, "token")?);
    let now = s.clock.now_ms();
    Ok(txn::write(s, Writes::Many, &mut |c| steps::gather(c, now, id, token))? as i64)
}

/// `queue_children(id)`: the jobs `id` spawned, as a JSON array.
pub fn queue_children(s: &Session, a: &Args) -> Result<String> {
    a.arity(1, 1, "(id)")?;
    let id = a.int(0, "id")?;
    s.with(|res| {
        if !schema::readable(&res.host)? {
            return Err(not_found(format!("no job with id {id}")));
        }
        steps::children(&res.host, id)
    })
}

/// `queue_progress(id, token, progress)`: 1 when the job's progress (a
/// number, or JSON such as `{"done": 3, "total": 10, "message": "…"}`) is
/// recorded, 0 when the lease is lost. queue_jobs shows the last one.
pub fn queue_progress(s: &Session, a: &Args) -> Result<i64> {
    a.arity(3, 3, "(id, token, progress)")?;
    let (id, token) = (a.int(0, "id")?, a.int(1, "token")?);
    let progress = a.json(2, "progress")?;
    // Many: the savepoint's schema check adds the progress column to an
    // older database even inside the caller's transaction.
    Ok(txn::write(s, Writes::Many, &mut |c| steps::progress(c, id, token, &progress))? as i64)
}
