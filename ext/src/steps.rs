//! Durable execution inside a job (sql/step_*.sql, sleep.sql): each named
//! step's result recorded once, fenced by the lease's token, and read back
//! when the job runs again; and sleeps that leave the worker.

use rusqlite::{named_params, Connection, OptionalExtension};

use crate::error::Result;
use crate::ops::{changed_or_known, job_state};
use crate::sql;

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

/// Puts job `id` to sleep until `run_at` (unix ms) while `token` holds its
/// lease; false when the lease is lost.
pub fn sleep(conn: &Connection, now: i64, id: i64, token: i64, run_at: i64) -> Result<bool> {
    let changed = conn
        .prepare_cached(sql::SLEEP)?
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
