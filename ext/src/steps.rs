//! Durable execution inside a job (sql/step_*.sql, sleep.sql, await_*.sql,
//! signal_*.sql): each named step's result recorded once, fenced by the
//! lease's token, and read back when the job runs again; sleeps and waits
//! for a signal that leave the worker; children spawned at run time, and
//! waiting for them (spawn_note.sql, gather_*.sql, spawned.sql).

use rusqlite::{named_params, Connection, OptionalExtension};

use crate::error::{invalid, Result};
use crate::ops::{changed_or_known, job_state};
use crate::options::EnqueueOptions;
use crate::sql;
use crate::step_retry::StepRetry;

/// The recorded result of step `name` (JSON text), while `token` holds job
/// `id`'s lease; None when the step has none yet, or the token is stale.
pub fn get(conn: &Connection, id: i64, token: i64, name: &str) -> Result<Option<String>> {
    let found = conn
        .prepare_cached(sql::STEP_GET)
        .and_then(|mut s| {
            s.query_row(named_params! {":id": id, ":token": token, ":name": name}, |r| r.get(0))
        })
        .optional();
    match found.map_err(crate::error::Error::from) {
        Ok(Some(result)) => Ok(Some(result)),
        // A schema from before steps (v17) has none.
        Err(e) if !e.is_missing_table() => Err(e),
        _ => {
            job_state(conn, id)?;
            Ok(None)
        }
    }
}

/// Records step `name`'s result while `token` holds job `id`'s lease. True
/// when the lease holds (the step recorded now, or its first result kept);
/// false when the lease is lost.
pub fn record(conn: &Connection, now: i64, id: i64, token: i64, name: &str, result: &str) -> Result<bool> {
    let inserted = conn
        .prepare_cached(sql::STEP_RECORD)?
        .execute(named_params! {":id": id, ":token": token, ":name": name, ":result": result, ":now": now})?;
    Ok(inserted > 0 || holds(conn, id, token)?)
}

/// What became of a step that failed (`fail`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StepFailed {
    /// It has tries left: the job sleeps until the next one.
    Retry,
    /// Its tries are used up: the job still holds its lease, for its
    /// caller to fail it, or to go on without the step.
    Exhausted,
}

impl StepFailed {
    pub fn as_str(self) -> &'static str {
        match self {
            StepFailed::Retry => "retry",
            StepFailed::Exhausted => "exhausted",
        }
    }
}

/// Counts a failed try of step `name` while `token` holds job `id`'s lease
/// (None when the lease is lost). With tries left the job sleeps until the
/// next one, its attempt not used up. Two statements (Writes::Many).
pub fn fail(
    conn: &Connection,
    now: i64,
    id: i64,
    token: i64,
    name: &str,
    error: &str,
    retry: &StepRetry,
) -> Result<Option<StepFailed>> {
    let failures: Option<i64> = conn
        .prepare_cached(sql::STEP_FAIL)?
        .query_row(
            named_params! {":id": id, ":token": token, ":name": name, ":error": error, ":now": now},
            |r| r.get(0),
        )
        .optional()?;
    let Some(failures) = failures else {
        job_state(conn, id)?;
        return Ok(None);
    };
    if failures >= retry.attempts {
        return Ok(Some(StepFailed::Exhausted));
    }
    sleep(conn, now, id, token, now + retry.delay_ms(id, failures))?;
    Ok(Some(StepFailed::Retry))
}

/// Job `id`'s steps, as a JSON array of {name, result, recorded_at,
/// failures, error} (steps.sql).
pub fn list(conn: &Connection, id: i64) -> Result<String> {
    job_state(conn, id)?;
    Ok(conn.prepare_cached(sql::STEPS)?.query_row(named_params! {":id": id}, |r| r.get(0))?)
}

/// Puts job `id` to sleep until `run_at` (unix ms) while `token` holds its
/// lease; false when the lease is lost.
pub fn sleep(conn: &Connection, now: i64, id: i64, token: i64, run_at: i64) -> Result<bool> {
    let changed = conn
        .prepare_cached(&sql::SLEEP)?
        .execute(named_params! {":id": id, ":token": token, ":run_at": run_at, ":now": now})?;
    changed_or_known(conn, id, changed)
}

/// Whether `token` holds job `id`'s lease; an error naming the id when
/// there is no such job.
fn holds(conn: &Connection, id: i64, token: i64) -> Result<bool> {
    let held = conn
        .prepare_cached(sql::LEASE_HELD)?
        .query_row(named_params! {":id": id, ":token": token}, |_| Ok(()))
        .optional()?;
    if held.is_none() {
        job_state(conn, id)?;
    }
    Ok(held.is_some())
}

/// How long a signal that no job awaits is kept for the first that does.
pub const SIGNAL_KEPT_MS: i64 = 7 * 24 * 3600 * 1000;

/// Parks job `id` until signal `name` or `until` (unix ms) while `token`
/// holds its lease; false when the lease is lost. A kept signal answers at
/// once: its payload becomes step `signal:NAME` and the job is claimable
/// now. Several statements: run inside a savepoint (Writes::Many).
pub fn await_signal(
    conn: &Connection,
    now: i64,
    id: i64,
    token: i64,
    name: &str,
    until: i64,
) -> Result<bool> {
    if !holds(conn, id, token)? {
        return Ok(false);
    }
    let kept: Option<String> = conn
        .prepare_cached(sql::SIGNAL_TAKE)?
        .query_row(named_params! {":name": name, ":now": now}, |r| r.get(0))
        .optional()?;
    // Recorded while the lease still holds, before the job parks.
    if let Some(payload) = &kept {
        record(conn, now, id, token, &format!("signal:{name}"), payload)?;
    }
    let until = if kept.is_some() { now } else { until };
    conn.prepare_cached(&sql::AWAIT_PARK)?
        .execute(named_params! {":id": id, ":token": token, ":until": until, ":now": now})?;
    // After the park: the note's event (orq_awaits_event) shows it parked.
    conn.prepare_cached(sql::AWAIT_NOTE)?
        .execute(named_params! {":id": id, ":signal": name, ":until": until})?;
    if kept.is_some() {
        conn.prepare_cached(sql::AWAIT_ANSWERED)?.execute(named_params! {":id": id})?;
    }
    Ok(true)
}

/// Sends signal `name`: its payload becomes step `signal:NAME` of every job
/// awaiting it, which are claimable now; how many. When none awaits it, it
/// is kept for SIGNAL_KEPT_MS. Several statements (Writes::Many).
pub fn signal(conn: &Connection, now: i64, name: &str, payload: &str) -> Result<i64> {
    let p = named_params! {":signal": name, ":payload": payload, ":now": now};
    conn.prepare_cached(sql::SIGNAL_DELIVER)?.execute(p)?;
    let woken =
        conn.prepare_cached(sql::SIGNAL_WAKE)?.execute(named_params! {":signal": name, ":now": now})?;
    conn.prepare_cached(sql::SIGNAL_FORGET)?.execute(named_params! {":signal": name})?;
    conn.prepare_cached(sql::SIGNAL_EXPIRE)?.execute(named_params! {":now": now})?;
    if woken == 0 {
        conn.prepare_cached(sql::SIGNAL_KEEP)?.execute(named_params! {
            ":name": name, ":payload": payload, ":now": now, ":expires_at": now + SIGNAL_KEPT_MS
        })?;
    }
    Ok(woken as i64)
}

/// Enqueues a child of job `id` while `token` holds its lease: the child's
/// id (with a `key`, the live job that holds it); None when the lease is
/// lost. A finished job spawns nothing: an error. Several statements.
pub fn spawn(
    conn: &Connection,
    now: i64,
    id: i64,
    token: i64,
    queue: &str,
    payload: &str,
    options: &EnqueueOptions,
) -> Result<Option<i64>> {
    if !holds(conn, id, token)? {
        let finished: Option<String> = conn
            .prepare_cached(sql::JOB_FINISHED)?
            .query_row(named_params! {":id": id}, |r| r.get(0))
            .optional()?;
        return match finished {
            Some(state) => Err(invalid(format!("job {id} is {state}: a finished job spawns nothing"))),
            None => Ok(None),
        };
    }
    let child = crate::ops::enqueue(conn, now, queue, payload, options)?;
    conn.prepare_cached(sql::SPAWN_NOTE)?.execute(named_params! {":parent": id, ":child": child})?;
    Ok(Some(child))
}

/// Job `id` waits without a worker for every job it spawned to finish,
/// while `token` holds its lease (false when it is lost). Several statements.
pub fn gather(conn: &Connection, now: i64, id: i64, token: i64) -> Result<bool> {
    if !holds(conn, id, token)? {
        return Ok(false);
    }
    let waiting_on: i64 =
        conn.prepare_cached(sql::GATHER_COUNT)?.query_row(named_params! {":id": id}, |r| r.get(0))?;
    conn.prepare_cached(sql::GATHER_EDGES)?.execute(named_params! {":id": id})?;
    conn.prepare_cached(&sql::GATHER_PARK)?
        .execute(named_params! {":id": id, ":token": token, ":waiting_on": waiting_on, ":now": now})?;
    Ok(true)
}

/// The jobs `id` spawned, as a JSON array of {id, queue, state, result, error}.
pub fn children(conn: &Connection, id: i64) -> Result<String> {
    job_state(conn, id)?;
    Ok(conn.prepare_cached(sql::SPAWNED)?.query_row(named_params! {":id": id}, |r| r.get(0))?)
}

/// Records job `id`'s progress (JSON) while `token` holds its lease; false
/// when the lease is lost.
pub fn progress(conn: &Connection, id: i64, token: i64, progress: &str) -> Result<bool> {
    let changed = conn
        .prepare_cached(sql::PROGRESS)?
        .execute(named_params! {":id": id, ":token": token, ":progress": progress})?;
    changed_or_known(conn, id, changed)
}
