//! The streamed tables built on `stream::Stream`.

use std::os::raw::c_int;

use rusqlite::types::{Value, ValueRef};
use rusqlite::vtab::IndexConstraintOp::{self, *};

use super::stream::{Operand, Pushed, Stream};
use crate::args::Args;
use crate::bounds::time_ms;
use crate::error::Result;
use crate::sql;

/// Range and equality on one column.
macro_rules! range {
    ($col:expr, $name:expr) => {
        [
            ($col, SQLITE_INDEX_CONSTRAINT_EQ, $name),
            ($col, SQLITE_INDEX_CONSTRAINT_GT, $name),
            ($col, SQLITE_INDEX_CONSTRAINT_GE, $name),
            ($col, SQLITE_INDEX_CONSTRAINT_LT, $name),
            ($col, SQLITE_INDEX_CONSTRAINT_LE, $name),
        ]
    };
}

const JOB_STATES: [&str; 6] = ["waiting", "ready", "running", "done", "dead", "cancelled"];

/// `queue_jobs`: one row per job.
pub struct Jobs;

const JOBS_PUSHED: [(c_int, IndexConstraintOp, &str); 8] = {
    let [a, b, c, d, e] = range!(0, "id");
    [
        a,
        b,
        c,
        d,
        e,
        (1, SQLITE_INDEX_CONSTRAINT_EQ, "queue"),
        (2, SQLITE_INDEX_CONSTRAINT_EQ, "state"),
        (26, SQLITE_INDEX_CONSTRAINT_EQ, "workflow"),
    ]
};

impl Stream for Jobs {
    const NAME: &'static str = "queue_jobs";
    const SCHEMA: &'static str = "CREATE TABLE x(id INTEGER, queue TEXT, state TEXT, priority INTEGER, attempts INTEGER, \
         max_attempts INTEGER, payload TEXT, result TEXT, error TEXT, run_at REAL, created_at REAL, worker TEXT, \
         lease_until REAL, key TEXT, token INTEGER, started_at REAL, finished_at REAL, updated_at REAL, \
         lease REAL, backoff TEXT, timeout REAL, requires TEXT, only_worker TEXT, not_workers TEXT, \
         waiting_on INTEGER, on_parent_failure TEXT, workflow INTEGER, workflow_key TEXT, progress TEXT)";
    const ARMS: &'static [&'static str] = &[sql::JOBS];
    const COLUMNS: usize = 29;
    const PUSHED: &'static [(c_int, IndexConstraintOp, &'static str)] = &JOBS_PUSHED;
    const ORDER: Option<(c_int, &'static str)> = Some((0, "id"));

    /// Before schema v17 (an upgrade stopped at v15 or v16, schema.rs)
    /// there is no progress column: NULL stands for it.
    fn arm_sql(_arm: usize, version: i64) -> std::borrow::Cow<'static, str> {
        if version >= 17 {
            return sql::JOBS.into();
        }
        sql::JOBS.replace("workflow_key, progress", "workflow_key, NULL AS progress").into()
    }

    /// A state becomes a literal (so its partial index is used); a state
    /// that does not exist matches nothing.
    fn operand(pick: usize, value: ValueRef<'_>) -> Operand {
        if JOBS_PUSHED[pick].2 != "state" {
            return Operand::Bind;
        }
        match value.as_str().ok().and_then(|s| JOB_STATES.iter().find(|st| **st == s)) {
            Some(st) => Operand::Literal(format!("'{st}'")),
            None => Operand::Nothing,
        }
    }
}

/// `queue_events`: the audit trail, merged from its two arms in seq order:
/// the stored events (by seq, their rowid) and the enqueues, which the job
/// rows hold (migration 012; by id, which orders them by seq too).
pub struct Events;

const EVENTS_PUSHED: [(c_int, IndexConstraintOp, &str); 9] = {
    let [a, b, c, d, e] = range!(0, "seq");
    [
        a,
        b,
        c,
        d,
        e,
        (2, SQLITE_INDEX_CONSTRAINT_EQ, "job"),
        (3, SQLITE_INDEX_CONSTRAINT_EQ, "queue"),
        (4, SQLITE_INDEX_CONSTRAINT_EQ, "workflow"),
        (5, SQLITE_INDEX_CONSTRAINT_EQ, "type"),
    ]
};

impl Stream for Events {
    const NAME: &'static str = "queue_events";
    const SCHEMA: &'static str =
        "CREATE TABLE x(seq INTEGER, at REAL, job INTEGER, queue TEXT, workflow INTEGER, \
         type TEXT, from_state TEXT, to_state TEXT, worker TEXT, attempt INTEGER, detail TEXT)";
    const ARMS: &'static [&'static str] = &[sql::EVENTS, sql::EVENTS_ENQUEUED];
    const COLUMNS: usize = 11;
    const PUSHED: &'static [(c_int, IndexConstraintOp, &'static str)] = &EVENTS_PUSHED;
    const ORDER: Option<(c_int, &'static str)> = Some((0, "seq"));

    fn order_by(arm: usize) -> &'static str {
        if arm == 0 {
            "seq"
        } else {
            "job"
        }
    }

    /// The enqueues' arm reads only the ids whose enqueues the seq
    /// constraints allow (:first_job to :last_job), found by a binary search:
    /// a follower after seq N reads the newest jobs, not all of them.
    fn bounds(conn: &rusqlite::Connection, pushed: &[Pushed<'_>]) -> Result<Vec<(&'static str, Value)>> {
        let (mut after, mut upto) = (i64::MIN, i64::MAX);
        for (column, op, value) in pushed {
            let ValueRef::Integer(v) = value else { continue };
            if *column != "seq" {
                continue;
            }
            match op {
                SQLITE_INDEX_CONSTRAINT_GT => after = after.max(*v),
                SQLITE_INDEX_CONSTRAINT_GE => after = after.max(v.saturating_sub(1)),
                SQLITE_INDEX_CONSTRAINT_LT => upto = upto.min(v.saturating_sub(1)),
                SQLITE_INDEX_CONSTRAINT_LE => upto = upto.min(*v),
                SQLITE_INDEX_CONSTRAINT_EQ => {
                    after = after.max(v.saturating_sub(1));
                    upto = upto.min(*v);
                }
                _ => {}
            }
        }
        let first = if after == i64::MIN { 0 } else { first_enqueued_after(conn, after)? };
        let last = if upto == i64::MAX { i64::MAX } else { first_enqueued_after(conn, upto)? - 1 };
        Ok(vec![(":first_job", Value::Integer(first)), (":last_job", Value::Integer(last))])
    }
}

/// The lowest id whose enqueue's seq is above `seq` (one more than the
/// highest id if none): a binary search over ids, since enqueues take their
/// seqs in id order (ENQUEUE_SEQ_AT is the first job at or above an id).
fn first_enqueued_after(conn: &rusqlite::Connection, seq: i64) -> Result<i64> {
    let mut at = conn.prepare_cached(sql::ENQUEUE_SEQ_AT)?;
    let mut first_at = |id: i64| -> Result<Option<(i64, i64)>> {
        let mut rows = at.query([id])?;
        Ok(match rows.next()? {
            Some(r) => Some((r.get(0)?, r.get(1)?)),
            None => None,
        })
    };
    // Invariant: no job below lo has an enqueue above seq; every job from
    // hi on has (hi starts past the highest id).
    let highest: i64 = conn.prepare_cached(sql::HIGHEST_JOB_ID)?.query_row([], |r| r.get(0))?;
    let (mut lo, mut hi) = (0i64, highest.saturating_add(1));
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match first_at(mid)? {
            None => hi = mid,
            Some((_, enq_seq)) if enq_seq > seq => hi = mid,
            Some((id, _)) => lo = id.saturating_add(1),
        }
    }
    Ok(lo)
}

/// `queue_replay([t])`: every job's state at unix time `t` (default: now),
/// from the events alone.
pub struct Replay;

const REPLAY_PUSHED: [(c_int, IndexConstraintOp, &str); 2] =
    [(0, SQLITE_INDEX_CONSTRAINT_EQ, "job"), (1, SQLITE_INDEX_CONSTRAINT_EQ, "queue")];

impl Stream for Replay {
    const NAME: &'static str = "queue_replay";
    const SCHEMA: &'static str =
        "CREATE TABLE x(id INTEGER, queue TEXT, workflow INTEGER, state TEXT, attempts INTEGER, \
         worker TEXT, at REAL, arg_t HIDDEN)";
    const ARMS: &'static [&'static str] = &[sql::REPLAY];
    const COLUMNS: usize = 7;
    const PUSHED: &'static [(c_int, IndexConstraintOp, &'static str)] = &REPLAY_PUSHED;
    const ORDER: Option<(c_int, &'static str)> = Some((0, "job"));
    const ARGUMENTS: c_int = 1;

    fn params(args: &Args) -> Result<Vec<(&'static str, Value)>> {
        let at = match args.opt_number(0, "t")? {
            Some(t) => time_ms("t", t)?,
            None => i64::MAX,
        };
        Ok(vec![(":at", Value::Integer(at))])
    }
}
