//! The upkeep that writers do on the side, so no process of the user's has
//! to run it (River's maintenance services, Oban's pruner and lifeline):
//!
//! * before a claim, firing the schedules that are due and expiring the
//!   leases of its queues that ran out (`Chores`), inside the claim's own
//!   transaction, so each due time makes one job and each lost lease is
//!   counted once however many workers claim at once;
//! * retention: after a write, now and then, deleting one slice of the
//!   finished jobs that have outlived their queue's retention (`Pace`,
//!   `apply_retention`), in the write's own transaction.

use rusqlite::{named_params, Connection};

use crate::error::Result;
use crate::schedules::{self, Due};
use crate::{deps, ops, sql};

/// What a claim must do before it leases: usually nothing.
pub struct Chores {
    due: Vec<Due>,
    expired: Vec<i64>,
}

impl Chores {
    /// The schedules due at `now`, and the running jobs of `queues` (a JSON
    /// array of names; None: every queue) whose leases ran out: a probe of
    /// one index each when there are none.
    pub fn find(conn: &Connection, now: i64, queues: Option<&str>) -> Result<Chores> {
        let due = schedules::due(conn, now)?;
        let expired = deps::ids(conn, sql::EXPIRE_FIND, named_params! {":queues": queues, ":now": now})?;
        Ok(Chores { due, expired })
    }

    pub fn is_empty(&self) -> bool {
        self.due.is_empty() && self.expired.is_empty()
    }

    /// Fires the due schedules, then turns the expired leases into lost
    /// attempts (a job out of attempts ends dead, and its dependents learn it).
    pub fn run(self, conn: &Connection, now: i64) -> Result<()> {
        schedules::fire(conn, now, self.due)?;
        if self.expired.is_empty() {
            return Ok(());
        }
        let ids = serde_json::Value::from(self.expired).to_string();
        let changed: Vec<(i64, String)> = conn
            .prepare_cached(sql::EXPIRE)?
            .query_map(named_params! {":ids": ids, ":now": now}, |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let dead: Vec<(i64, String)> = changed.into_iter().filter(|(_, s)| s == "dead").collect();
        deps::after_failure(conn, now, &dead)
    }
}

/// The most jobs one retention slice deletes: the slice of a purge
/// (bounds::SLICE_ROWS, about 6 ms of write lock when all are due). While
/// retention is behind, every write deletes one slice, so it catches up with
/// any flow whose writes finish fewer jobs each than this.
pub const RETENTION_SLICE: i64 = crate::bounds::SLICE_ROWS;
/// How often a connection that is not behind looks for expired jobs, by its
/// queue clock. Looking costs three index probes per queue (microseconds).
pub const RETENTION_EVERY_MS: i64 = 1000;

/// When a connection next applies retention. Each connection paces itself
/// (nothing is shared between processes): its first write looks, then one
/// write a second, or every write while the last slice was full.
#[derive(Default)]
pub struct Pace {
    /// The queue clock at the last slice.
    last_at: Option<i64>,
    /// The last slice deleted all it could: more are waiting.
    behind: bool,
    /// Why the last slice failed, for orq_debug (the write went on without it).
    pub last_error: Option<String>,
}

impl Pace {
    pub fn due(&self, now: i64) -> bool {
        match self.last_at {
            None => true,
            // A clock set back (orq_clock) restarts the pace.
            Some(last) => self.behind || now - last >= RETENTION_EVERY_MS || now < last,
        }
    }

    /// Records a slice at `now` that deleted `deleted` jobs, or failed.
    pub fn ran(&mut self, now: i64, outcome: std::result::Result<i64, String>) {
        self.last_at = Some(now);
        self.behind = matches!(outcome, Ok(n) if n >= RETENTION_SLICE);
        self.last_error = outcome.err();
    }
}

/// Deletes one slice of the finished jobs that outlived their queue's
/// retention at `now`, inside the transaction the caller's write holds, in
/// a savepoint of its own: a slice that fails is undone and the write goes
/// on (upkeep must never block the work); its error is the inner one. The
/// outer error is for a failure that ended the whole transaction (SQLite
/// rolls back on a full disk or an I/O error): the write is lost, and says so.
pub fn apply_retention(conn: &Connection, now: i64) -> Result<std::result::Result<i64, String>> {
    conn.execute_batch("SAVEPOINT orq_retention")?;
    match ops::delete_finished(conn, now, None, None, RETENTION_SLICE) {
        Ok(n) => {
            conn.execute_batch("RELEASE orq_retention")?;
            Ok(Ok(n))
        }
        Err(e) if conn.is_autocommit() => Err(e),
        Err(e) => {
            conn.execute_batch("ROLLBACK TO orq_retention; RELEASE orq_retention")?;
            Ok(Err(e.to_string()))
        }
    }
}
