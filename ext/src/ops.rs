//! The queue operations: each binds its parameters to a statement from sql/
//! and reads the result. They run inside a transaction that txn.rs opened;
//! `now` is the caller's queue clock in unix ms.

use rusqlite::{named_params, Connection, OptionalExtension};

use crate::error::{invalid, Error, Result};
use crate::options::EnqueueOptions;
use crate::sql;

/// A job leased by a claim.
#[derive(Debug, Clone, PartialEq)]
pub struct Claimed {
    pub id: i64,
    pub queue: String,
    pub payload: String,
    pub attempt: i64,
    pub token: i64,
    pub lease_until_ms: i64,
    pub priority: i64,
    pub max_attempts: i64,
    pub timeout_ms: Option<i64>,
    /// The lease length this claim used, for planning heartbeats.
    pub lease_ms: i64,
}

/// What a claim asks for.
#[derive(Debug, Clone)]
pub struct ClaimRequest {
    pub worker: String,
    pub n: i64,
    /// A JSON array of queue names, or `None` for every queue.
    pub queues: Option<String>,
    /// Overrides each job's own lease length.
    pub lease_ms: Option<i64>,
}

pub fn enqueue(conn: &Connection, now: i64, queue: &str, payload: &str, o: &EnqueueOptions) -> Result<i64> {
    if o.key_for_all {
        let existing = conn
            .prepare_cached(sql::ENQUEUE_EXISTING_ANY)?
            .query_row(named_params! {":queue": queue, ":key": o.key}, |r| r.get(0))
            .optional()?;
        if let Some(id) = existing {
            return Ok(id);
        }
    }
    let inserted = conn.prepare_cached(sql::ENQUEUE)?.execute(named_params! {
        ":queue": queue, ":priority": o.priority, ":run_at": o.run_at_ms, ":payload": payload,
        ":max_attempts": o.max_attempts, ":lease_ms": o.lease_ms, ":backoff": o.backoff,
        ":key": o.key, ":requires": o.requires, ":only_worker": o.only_worker,
        ":not_workers": o.not_workers, ":timeout_ms": o.timeout_ms, ":now": now,
    })?;
    if inserted == 1 {
        return Ok(conn.last_insert_rowid());
    }
    // Only the live-key index can refuse an insert: that job is the answer.
    conn.prepare_cached(sql::ENQUEUE_EXISTING)?
        .query_row(named_params! {":queue": queue, ":key": o.key}, |r| r.get(0))
        .optional()?
        .ok_or_else(|| invalid("the job was refused, but no live job holds its key"))
}

pub fn claim(conn: &Connection, now: i64, req: &ClaimRequest) -> Result<Vec<Claimed>> {
    if req.n == 0 {
        return Ok(Vec::new());
    }
    conn.prepare_cached(sql::EXPIRE)?.execute(named_params! {":now": now, ":queues": req.queues})?;
    let mut stmt = conn.prepare_cached(sql::CLAIM)?;
    let rows = stmt.query_map(
        named_params! {":now": now, ":queues": req.queues, ":n": req.n, ":worker": req.worker, ":lease_ms": req.lease_ms},
        |r| {
            let job = Claimed {
                id: r.get(0)?,
                queue: r.get(1)?,
                payload: r.get(2)?,
                attempt: r.get(3)?,
                token: r.get(4)?,
                lease_until_ms: r.get(5)?,
                priority: r.get(6)?,
                max_attempts: r.get(7)?,
                timeout_ms: r.get(8)?,
                lease_ms: r.get(9)?,
            };
            Ok((job, r.get::<_, i64>(10)?))
        },
    )?;
    let mut claimed = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    // RETURNING has no order of its own: back into claim order.
    claimed.sort_by_key(|(c, run_at)| (-c.priority, *run_at, c.id));
    Ok(claimed.into_iter().map(|(c, _)| c).collect())
}

pub fn complete(
    conn: &Connection,
    now: i64,
    id: i64,
    token: Option<i64>,
    result: Option<&str>,
) -> Result<bool> {
    let changed = conn
        .prepare_cached(sql::COMPLETE)?
        .execute(named_params! {":id": id, ":token": token, ":result": result, ":now": now})?;
    changed_or_known(conn, id, changed)
}

/// The job's new state (`ready` or `dead`), or `None` when the token is stale
/// or the job is not running.
pub fn fail(
    conn: &Connection,
    now: i64,
    id: i64,
    token: Option<i64>,
    error: Option<&str>,
    retry_in_ms: Option<i64>,
) -> Result<Option<String>> {
    let state: Option<String> = conn
        .prepare_cached(sql::FAIL)?
        .query_row(
            named_params! {":id": id, ":token": token, ":error": error, ":retry_in_ms": retry_in_ms, ":now": now},
            |r| r.get(0),
        )
        .optional()?;
    if state.is_none() {
        job_state(conn, id)?;
    }
    Ok(state)
}

/// The new lease_until (unix ms), or `None` when the token is stale.
pub fn extend(
    conn: &Connection,
    now: i64,
    id: i64,
    token: Option<i64>,
    lease_ms: i64,
) -> Result<Option<i64>> {
    let changed = conn
        .prepare_cached(sql::EXTEND)?
        .execute(named_params! {":id": id, ":token": token, ":lease_ms": lease_ms, ":now": now})?;
    Ok(changed_or_known(conn, id, changed)?.then_some(now + lease_ms))
}

pub fn release(conn: &Connection, now: i64, id: i64, token: Option<i64>, delay_ms: i64) -> Result<bool> {
    let changed = conn
        .prepare_cached(sql::RELEASE)?
        .execute(named_params! {":id": id, ":token": token, ":delay_ms": delay_ms, ":now": now})?;
    changed_or_known(conn, id, changed)
}

pub fn cancel(conn: &Connection, now: i64, id: i64) -> Result<bool> {
    let changed = conn.prepare_cached(sql::CANCEL)?.execute(named_params! {":id": id, ":now": now})?;
    changed_or_known(conn, id, changed)
}

pub fn retry(conn: &Connection, now: i64, id: i64) -> Result<bool> {
    let changed = conn.prepare_cached(sql::RETRY)?.execute(named_params! {":id": id, ":now": now}).map_err(
        |e| match e {
            rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
                invalid(format!("job {id} cannot be retried: another live job of its queue holds its key"))
            }
            e => Error::from(e),
        },
    )?;
    changed_or_known(conn, id, changed)
}

pub fn pause(conn: &Connection, now: i64, queue: &str) -> Result<bool> {
    Ok(conn.prepare_cached(sql::PAUSE)?.execute(named_params! {":queue": queue, ":now": now})? > 0)
}

pub fn resume(conn: &Connection, queue: &str) -> Result<bool> {
    Ok(conn.prepare_cached(sql::RESUME)?.execute(named_params! {":queue": queue})? > 0)
}

/// Deletes the finished jobs of `queue` (all queues: `None`) that finished at
/// or before `cutoff` (unix ms); returns how many.
pub fn purge(conn: &Connection, queue: Option<&str>, cutoff: i64) -> Result<i64> {
    Ok(conn.prepare_cached(sql::PURGE)?.execute(named_params! {":queue": queue, ":cutoff": cutoff})? as i64)
}

/// A job's state; an error naming the id when there is no such job.
pub fn job_state(conn: &Connection, id: i64) -> Result<String> {
    conn.prepare_cached(sql::JOB_STATE)?
        .query_row(named_params! {":id": id}, |r| r.get(0))
        .optional()?
        .ok_or_else(|| invalid(format!("no job with id {id}")))
}

/// After an update that matched `changed` rows of job `id`: true when it
/// changed the job, false when the job exists but was not in a state the
/// operation applies to, an error when there is no such job.
fn changed_or_known(conn: &Connection, id: i64, changed: usize) -> Result<bool> {
    if changed > 0 {
        return Ok(true);
    }
    job_state(conn, id)?;
    Ok(false)
}
