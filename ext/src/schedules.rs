//! Recurring jobs without a scheduler process: every claim first turns due
//! schedules into jobs, inside its own write transaction, so each due time
//! makes exactly one job however many workers claim at once. After downtime
//! a schedule runs once (for its latest due time), not once per missed run.

use rusqlite::{named_params, Connection};

use crate::bounds::check_time_ms;
use crate::cron::{time_zone, Cron};
use crate::error::{invalid, Error, Result};
use crate::options::{check_queue_name, EnqueueOptions};
use crate::{ops, sql};

/// A schedule as `queue_schedule` is given it, checked.
pub struct Schedule {
    pub name: String,
    pub cron: String,
    pub tz: Option<String>,
    pub queue: String,
    pub payload: String,
    pub options: Option<String>,
}

impl Schedule {
    /// Checks everything, and computes the first run after `now`.
    pub fn first_run(&self, now: i64) -> Result<i64> {
        if self.name.is_empty() || self.name.len() > 256 {
            return Err(invalid("name must be 1 to 256 bytes"));
        }
        check_queue_name(&self.queue)?;
        let options = EnqueueOptions::parse(self.options.as_deref(), now)?;
        if options.key.is_some() || !options.depends_on.is_empty() {
            return Err(invalid(
                "a schedule's options cannot have a key or depends_on (each run is its own job)",
            ));
        }
        let tz = time_zone(self.tz.as_deref())?;
        Cron::parse(&self.cron)?.next_after(now, None, &tz)
    }

    pub fn save(&self, conn: &Connection, now: i64, next_run_at: i64) -> Result<()> {
        conn.prepare_cached(sql::SCHEDULE_UPSERT)?.execute(named_params! {
            ":name": self.name, ":cron": self.cron, ":tz": self.tz, ":queue": self.queue,
            ":payload": self.payload, ":options": self.options, ":next_run_at": next_run_at, ":now": now,
        })?;
        Ok(())
    }
}

pub fn delete(conn: &Connection, name: &str) -> Result<bool> {
    Ok(conn.prepare_cached(sql::SCHEDULE_DELETE)?.execute(named_params! {":name": name})? > 0)
}

/// A schedule that is due: (name, cron, tz, queue, payload, options, due at).
pub type Due = (String, String, Option<String>, String, String, Option<String>, i64);

/// The schedules due at `now`: a probe of one index when none is.
pub fn due(conn: &Connection, now: i64) -> Result<Vec<Due>> {
    let mut stmt = conn.prepare_cached(sql::SCHEDULES_DUE)?;
    let rows = stmt.query_map(named_params! {":now": now}, |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Enqueues one job for each due schedule and moves it to its next run.
/// A schedule that cannot fire is set aside with its reason (see migration
/// 008) instead of failing the claim that found it due, on whatever queue.
pub fn fire(conn: &Connection, now: i64, due: Vec<Due>) -> Result<()> {
    for (name, cron, tz, queue, payload, options, due_at) in due {
        // Everything that can refuse the row is read before the one write.
        let ready = (|| -> Result<_> {
            let (cron, tz) = (Cron::parse(&cron)?, time_zone(tz.as_deref())?);
            check_time_ms("next_run_at", due_at)?;
            check_queue_name(&queue)?;
            // Each job is due when its run was: run_at = the due time.
            let mut opts = EnqueueOptions::parse(options.as_deref(), due_at)?;
            opts.run_at_ms = due_at;
            Ok((cron, tz, opts))
        })();
        let (cron, tz, opts) = match ready {
            Ok(ready) => ready,
            Err(Error::Invalid(why)) => {
                set_aside(conn, &name, &why, None, due_at)?;
                continue;
            }
            Err(e) => return Err(e),
        };
        let job = ops::enqueue(conn, now, &queue, &payload, &opts)?;
        match cron.next_after(now, Some(due_at), &tz) {
            Ok(next) => {
                conn.prepare_cached(sql::SCHEDULE_FIRED)?.execute(
                    named_params! {":name": name, ":next_run_at": next, ":due_at": due_at, ":job": job},
                )?;
            }
            // Its last run made its job; it has no next one.
            Err(Error::Invalid(why)) => set_aside(conn, &name, &why, Some(job), due_at)?,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn set_aside(conn: &Connection, name: &str, why: &str, job: Option<i64>, due_at: i64) -> Result<()> {
    conn.prepare_cached(sql::SCHEDULE_SET_ASIDE)?
        .execute(named_params! {":name": name, ":error": why, ":job": job, ":due_at": due_at})?;
    Ok(())
}

/// The next run of `cron` after `after` (unix ms), for orq_cron_next.
pub fn next_run(cron: &str, after: i64, tz: Option<&str>) -> Result<i64> {
    Cron::parse(cron)?.next_after(after, None, &time_zone(tz)?)
}
