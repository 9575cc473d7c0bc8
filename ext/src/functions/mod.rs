//! The scalar SQL functions: argument checks, then one operation inside
//! txn::write. Functions that change anything are DIRECTONLY (never from a
//! trigger or view, where SQLite may run them unseen) and never DETERMINISTIC.

use std::sync::Arc;

use rusqlite::functions::FunctionFlags;
use rusqlite::types::ToSql;
use rusqlite::Connection;

use crate::args::Args;
use crate::error::Result;
use crate::session::Session;

mod flows;
mod jobs;
mod meta;
mod observe;
mod scalar;
mod steps;
mod workers;

use flows::*;
use jobs::*;
use meta::*;
use observe::*;
use steps::*;
use workers::*;

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
    def(conn, s, "queue_enqueue_many", WRITES, queue_enqueue_many)?;
    def(conn, s, "queue_claim_json", WRITES, queue_claim_json)?;
    def(conn, s, "queue_complete", WRITES, queue_complete)?;
    def(conn, s, "queue_complete_many", WRITES, queue_complete_many)?;
    def(conn, s, "queue_fail", WRITES, queue_fail)?;
    def(conn, s, "queue_extend", WRITES, queue_extend)?;
    def(conn, s, "queue_release", WRITES, queue_release)?;
    def(conn, s, "queue_lease_status", READS, queue_lease_status)?;
    def(conn, s, "queue_step", READS, queue_step)?;
    def(conn, s, "queue_step_done", WRITES, queue_step_done)?;
    def(conn, s, "queue_step_fail", WRITES, queue_step_fail)?;
    def(conn, s, "queue_steps", READS, queue_steps)?;
    def(conn, s, "queue_sleep", WRITES, queue_sleep)?;
    def(conn, s, "queue_await", WRITES, queue_await)?;
    def(conn, s, "queue_signal", WRITES, queue_signal)?;
    def(conn, s, "queue_spawn", WRITES, queue_spawn)?;
    def(conn, s, "queue_gather", WRITES, queue_gather)?;
    def(conn, s, "queue_children", READS, queue_children)?;
    def(conn, s, "queue_progress", WRITES, queue_progress)?;
    def(conn, s, "queue_cancel", WRITES, queue_cancel)?;
    def(conn, s, "queue_retry", WRITES, queue_retry)?;
    def(conn, s, "queue_pause", WRITES, queue_pause)?;
    def(conn, s, "queue_resume", WRITES, queue_resume)?;
    def(conn, s, "queue_purge", WRITES, queue_purge)?;
    def(conn, s, "queue_worker_register", WRITES, queue_worker_register)?;
    def(conn, s, "queue_worker_heartbeat", WRITES, queue_worker_heartbeat)?;
    def(conn, s, "queue_worker_beat", WRITES, queue_worker_beat)?;
    def(conn, s, "queue_worker_stop", WRITES, queue_worker_stop)?;
    def(conn, s, "queue_worker_dead", WRITES, queue_worker_dead)?;
    def(conn, s, "queue_record_run", WRITES, queue_record_run)?;
    def(conn, s, "queue_workflow", WRITES, queue_workflow)?;
    def(conn, s, "queue_workflow_cancel", WRITES, queue_workflow_cancel)?;
    def(conn, s, "queue_parent_results", READS, queue_parent_results)?;
    def(conn, s, "queue_configure", WRITES, queue_configure)?;
    def(conn, s, "queue_group_configure", WRITES, queue_group_configure)?;
    def(conn, s, "queue_schedule", WRITES, queue_schedule)?;
    def(conn, s, "queue_unschedule", WRITES, queue_unschedule)?;
    def(conn, s, "orq_cron_next", PURE, orq_cron_next)?;
    def(conn, s, "queue_wait", WRITES, queue_wait)?;
    def(conn, s, "queue_alert", WRITES, queue_alert)?;
    def(conn, s, "queue_alert_remove", WRITES, queue_alert_remove)?;
    def(conn, s, "queue_alerts_check", WRITES, queue_alerts_check)?;
    // DIRECTONLY although it writes nothing: it reads the file system and runs
    // a whole-database quick_check, not for views or triggers of a schema.
    def(conn, s, "queue_health", WRITES, queue_health)?;
    register_helpers(conn)
}

/// Pure functions orq's own statements call; also registered on the side
/// connection, which has none of the others.
pub fn register_helpers(conn: &Connection) -> rusqlite::Result<()> {
    scalar::create(conn, "orq_backoff_ms", PURE, orq_backoff_ms)
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
    scalar::create(conn, name, flags, move |args| handler(&session, args))
}
