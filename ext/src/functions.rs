//! The scalar SQL functions: argument checks, then one operation inside
//! txn::write. Functions that change anything are DIRECTONLY (never from a
//! trigger or view, where SQLite may run them unseen) and never DETERMINISTIC.

use std::sync::Arc;

use rusqlite::functions::FunctionFlags;
use rusqlite::types::ToSql;
use rusqlite::Connection;
use serde_json::json;

use crate::args::Args;
use crate::backoff::Backoff;
use crate::claim::{claim_request, claimed_json};
use crate::clock::{duration_ms, ms_to_secs, time_ms};
use crate::error::Result;
use crate::options::{check_queue_name, lease_ms, EnqueueOptions};
use crate::session::Session;
use crate::txn::Writes;
use crate::{ops, schema, txn, VERSION};

type Handler<T> = fn(&Session, &Args) -> Result<T>;

const WRITES: FunctionFlags = FunctionFlags::SQLITE_UTF8.union(FunctionFlags::SQLITE_DIRECTONLY);
const READS: FunctionFlags = FunctionFlags::SQLITE_UTF8.union(FunctionFlags::SQLITE_INNOCUOUS);
const PURE: FunctionFlags = READS.union(FunctionFlags::SQLITE_DETERMINISTIC);

pub fn register(conn: &Connection, s: &Arc<Session>) -> rusqlite::Result<()> {
    def(conn, s, "orq_version", PURE, orq_version)?;
    def(conn, s, "orq_debug", READS, orq_debug)?;
    def(conn, s, "orq_now", READS, orq_now)?;
    def(conn, s, "orq_clock", WRITES, orq_clock)?;
    def(conn, s, "orq_migrate", WRITES, orq_migrate)?;
    def(conn, s, "queue_enqueue", WRITES, queue_enqueue)?;
    def(conn, s, "queue_claim_json", WRITES, queue_claim_json)?;
    def(conn, s, "queue_complete", WRITES, queue_complete)?;
    def(conn, s, "queue_fail", WRITES, queue_fail)?;
    def(conn, s, "queue_extend", WRITES, queue_extend)?;
    def(conn, s, "queue_release", WRITES, queue_release)?;
    def(conn, s, "queue_cancel", WRITES, queue_cancel)?;
    def(conn, s, "queue_retry", WRITES, queue_retry)?;
    def(conn, s, "queue_pause", WRITES, queue_pause)?;
    def(conn, s, "queue_resume", WRITES, queue_resume)?;
    def(conn, s, "queue_purge", WRITES, queue_purge)?;
    register_helpers(conn)
}

/// Pure functions orq's own statements call; also registered on the side
/// connection, which has none of the others.
pub fn register_helpers(conn: &Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function("orq_backoff_ms", -1, PURE, |ctx| {
        orq_backoff_ms(&Args::from_context(ctx)).map_err(|e| e.into_function_error("orq_backoff_ms"))
    })
}

/// Registers `name` with any number of arguments: each handler checks its
/// own arity, so a wrong count gets the signature in the error.
fn def<T: ToSql + 'static>(
    conn: &Connection,
    session: &Arc<Session>,
    name: &'static str,
    flags: FunctionFlags,
    handler: Handler<T>,
) -> rusqlite::Result<()> {
    let session = Arc::clone(session);
    conn.create_scalar_function(name, -1, flags, move |ctx| {
        handler(&session, &Args::from_context(ctx)).map_err(|e| e.into_function_error(name))
    })
}

fn orq_version(_: &Session, a: &Args) -> Result<&'static str> {
    a.arity(0, 0, "no arguments")?;
    Ok(VERSION)
}

fn orq_debug(s: &Session, a: &Args) -> Result<String> {
    a.arity(0, 0, "no arguments")?;
    s.with(|res| {
        let pragma = |name: &str| -> Result<rusqlite::types::Value> {
            Ok(res.host.prepare_cached(&format!("PRAGMA main.{name}"))?.query_row([], |r| r.get(0))?)
        };
        let value = |v: rusqlite::types::Value| match v {
            rusqlite::types::Value::Integer(n) => json!(n),
            rusqlite::types::Value::Text(t) => json!(t),
            _ => json!(null),
        };
        Ok(json!({
            "version": VERSION,
            "git_commit": env!("ORQ_GIT_COMMIT"),
            "sqlite_version": rusqlite::version(),
            "schema_version": schema::version(&res.host)?,
            "schema_latest": schema::LATEST,
            "journal_mode": value(pragma("journal_mode")?),
            "synchronous": value(pragma("synchronous")?),
            "busy_timeout_ms": value(pragma("busy_timeout")?),
            "clock_fixed": s.clock.fixed_ms().map(ms_to_secs),
            "side_connection": res.side.is_open(),
        })
        .to_string())
    })
}

fn orq_now(s: &Session, a: &Args) -> Result<f64> {
    a.arity(0, 0, "no arguments")?;
    Ok(ms_to_secs(s.clock.now_ms()))
}

fn orq_clock(s: &Session, a: &Args) -> Result<f64> {
    a.arity(1, 1, "(unix_seconds or NULL)")?;
    let fixed = a.opt_number(0, "t")?.map(|t| time_ms("t", t)).transpose()?;
    s.clock.set(fixed);
    Ok(ms_to_secs(s.clock.now_ms()))
}

fn orq_migrate(s: &Session, a: &Args) -> Result<i64> {
    a.arity(0, 0, "no arguments")?;
    txn::write(s, Writes::Many, &mut |c| schema::upgrade(c))
}

fn orq_backoff_ms(a: &Args) -> Result<i64> {
    a.arity(2, 3, "(job_id, attempt [, backoff])")?;
    let id = a.int(0, "job_id")?;
    let attempt = a.int(1, "attempt")?;
    let backoff = Backoff::from_stored(a.opt_text(2, "backoff")?)?;
    Ok(backoff.delay_ms(id, attempt))
}

fn queue_enqueue(s: &Session, a: &Args) -> Result<i64> {
    a.arity(2, 3, "(queue, payload [, options])")?;
    let queue = a.text(0, "queue")?;
    check_queue_name(queue)?;
    let payload = a.json(1, "payload")?;
    let now = s.clock.now_ms();
    let opts = EnqueueOptions::parse(a.opt_text(2, "options")?, now)?;
    txn::write(s, Writes::Once, &mut |c| ops::enqueue(c, now, queue, &payload, &opts))
}

fn queue_claim_json(s: &Session, a: &Args) -> Result<String> {
    a.arity(2, 4, "(worker, n [, queue [, lease]])")?;
    let req = claim_request(a)?;
    let now = s.clock.now_ms();
    let jobs = txn::write(s, Writes::Many, &mut |c| ops::claim(c, now, &req))?;
    Ok(claimed_json(&jobs))
}

fn queue_complete(s: &Session, a: &Args) -> Result<i64> {
    a.arity(1, 3, "(id [, token [, result]])")?;
    let (id, token) = (a.int(0, "id")?, a.opt_int(1, "token")?);
    let result = a.opt_json(2, "result")?;
    let now = s.clock.now_ms();
    let done = txn::write(s, Writes::Once, &mut |c| ops::complete(c, now, id, token, result.as_deref()))?;
    Ok(done as i64)
}

fn queue_fail(s: &Session, a: &Args) -> Result<Option<String>> {
    a.arity(1, 4, "(id [, token [, error [, retry_in]]])")?;
    let (id, token) = (a.int(0, "id")?, a.opt_int(1, "token")?);
    let error = a.opt_text(2, "error")?;
    let retry_in = a.opt_number(3, "retry_in")?.map(|r| duration_ms("retry_in", r)).transpose()?;
    let now = s.clock.now_ms();
    txn::write(s, Writes::Once, &mut |c| ops::fail(c, now, id, token, error, retry_in))
}

fn queue_extend(s: &Session, a: &Args) -> Result<Option<f64>> {
    a.arity(3, 3, "(id, token, seconds)")?;
    let (id, token) = (a.int(0, "id")?, a.opt_int(1, "token")?);
    let lease = lease_ms("seconds", a.number(2, "seconds")?)?;
    let now = s.clock.now_ms();
    let until = txn::write(s, Writes::Once, &mut |c| ops::extend(c, now, id, token, lease))?;
    Ok(until.map(ms_to_secs))
}

fn queue_release(s: &Session, a: &Args) -> Result<i64> {
    a.arity(1, 3, "(id [, token [, delay]])")?;
    let (id, token) = (a.int(0, "id")?, a.opt_int(1, "token")?);
    let delay = duration_ms("delay", a.opt_number(2, "delay")?.unwrap_or(0.0))?;
    let now = s.clock.now_ms();
    Ok(txn::write(s, Writes::Once, &mut |c| ops::release(c, now, id, token, delay))? as i64)
}

fn queue_cancel(s: &Session, a: &Args) -> Result<i64> {
    a.arity(1, 1, "(id)")?;
    let id = a.int(0, "id")?;
    let now = s.clock.now_ms();
    Ok(txn::write(s, Writes::Once, &mut |c| ops::cancel(c, now, id))? as i64)
}

fn queue_retry(s: &Session, a: &Args) -> Result<i64> {
    a.arity(1, 1, "(id)")?;
    let id = a.int(0, "id")?;
    let now = s.clock.now_ms();
    Ok(txn::write(s, Writes::Once, &mut |c| ops::retry(c, now, id))? as i64)
}

fn queue_pause(s: &Session, a: &Args) -> Result<i64> {
    a.arity(1, 1, "(queue)")?;
    let queue = a.text(0, "queue")?;
    check_queue_name(queue)?;
    let now = s.clock.now_ms();
    Ok(txn::write(s, Writes::Once, &mut |c| ops::pause(c, now, queue))? as i64)
}

fn queue_resume(s: &Session, a: &Args) -> Result<i64> {
    a.arity(1, 1, "(queue)")?;
    let queue = a.text(0, "queue")?;
    check_queue_name(queue)?;
    Ok(txn::write(s, Writes::Once, &mut |c| ops::resume(c, queue))? as i64)
}

fn queue_purge(s: &Session, a: &Args) -> Result<i64> {
    a.arity(2, 2, "(queue or NULL, older_than_seconds)")?;
    let queue = a.opt_text(0, "queue")?;
    if let Some(q) = queue {
        check_queue_name(q)?;
    }
    let age = duration_ms("older_than_seconds", a.number(1, "older_than_seconds")?)?;
    let cutoff = s.clock.now_ms() - age;
    txn::write(s, Writes::Once, &mut |c| ops::purge(c, queue, cutoff))
}
