//! The read-only tables built on `view::View`.

use rusqlite::types::Value;

use super::view::View;
use crate::args::Args;
use crate::bounds::duration_ms;
use crate::error::{invalid, Result};
use crate::sql;

/// `queue_stats`: one row per queue with its jobs counted by state.
pub struct Stats;

impl View for Stats {
    const NAME: &'static str = "queue_stats";
    const SCHEMA: &'static str =
        "CREATE TABLE x(queue TEXT, ready INTEGER, scheduled INTEGER, running INTEGER, \
         done INTEGER, dead INTEGER, cancelled INTEGER, paused INTEGER, oldest_ready_age REAL, waiting INTEGER, \
         retention TEXT)";
    const SQL: &'static str = sql::STATS;
    const COLUMNS: usize = 11;
}

/// `queue_workers`: the registry, with each worker's state.
pub struct Workers;

impl View for Workers {
    const NAME: &'static str = "queue_workers";
    const SCHEMA: &'static str = "CREATE TABLE x(name TEXT, host TEXT, pid INTEGER, queues TEXT, capabilities TEXT, \
         concurrency INTEGER, state TEXT, started_at REAL, heartbeat_at REAL, stopped_at REAL, jobs_done INTEGER, \
         jobs_failed INTEGER, running INTEGER, info TEXT)";
    const SQL: &'static str = sql::WORKERS;
    const COLUMNS: usize = 14;
}

/// `queue_resources`: per queue, what its runs used.
pub struct Resources;

impl View for Resources {
    const NAME: &'static str = "queue_resources";
    const SCHEMA: &'static str = "CREATE TABLE x(queue TEXT, runs INTEGER, done INTEGER, wall_avg REAL, \
         wall_max REAL, wall_total REAL, cpu_avg REAL, cpu_total REAL, max_rss_kb INTEGER)";
    const SQL: &'static str = sql::RESOURCES;
    const COLUMNS: usize = 9;
}

/// `queue_rates([seconds])`: jobs finished per queue in the last `seconds`
/// (default 60).
pub struct Rates;

impl View for Rates {
    const NAME: &'static str = "queue_rates";
    const SCHEMA: &'static str =
        "CREATE TABLE x(queue TEXT, done INTEGER, dead INTEGER, done_per_second REAL, arg_seconds HIDDEN)";
    const SQL: &'static str = sql::RATES;
    const COLUMNS: usize = 4;
    const ARGUMENTS: std::os::raw::c_int = 1;

    fn params(args: &Args) -> Result<Vec<(&'static str, Value)>> {
        let seconds = args.opt_number(0, "seconds")?.unwrap_or(60.0);
        let window = duration_ms("seconds", seconds)?;
        if window < 1 {
            return Err(invalid("seconds must be more than 0"));
        }
        Ok(vec![(":window_ms", Value::Integer(window))])
    }
}

/// `queue_workflows`: one row per workflow with its state and job counts.
pub struct Workflows;

impl View for Workflows {
    const NAME: &'static str = "queue_workflows";
    const SCHEMA: &'static str =
        "CREATE TABLE x(id INTEGER, name TEXT, state TEXT, jobs INTEGER, waiting INTEGER, \
         ready INTEGER, running INTEGER, done INTEGER, dead INTEGER, cancelled INTEGER, started_at REAL, \
         finished_at REAL, fail_fast INTEGER)";
    const SQL: &'static str = sql::WORKFLOWS;
    const COLUMNS: usize = 13;
}

/// `queue_workflow_jobs(id)`: a workflow's jobs and what each depends on.
pub struct WorkflowJobs;

impl View for WorkflowJobs {
    const NAME: &'static str = "queue_workflow_jobs";
    const SCHEMA: &'static str = "CREATE TABLE x(key TEXT, id INTEGER, queue TEXT, state TEXT, attempts INTEGER, \
         max_attempts INTEGER, waiting_on INTEGER, depends_on TEXT, error TEXT, result TEXT, started_at REAL, \
         finished_at REAL, arg_workflow HIDDEN)";
    const SQL: &'static str = sql::WORKFLOW_JOBS;
    const COLUMNS: usize = 12;
    const ARGUMENTS: std::os::raw::c_int = 1;
    const REQUIRED: std::os::raw::c_int = 1;

    fn params(args: &Args) -> Result<Vec<(&'static str, Value)>> {
        Ok(vec![(":workflow", Value::Integer(args.int(0, "workflow_id")?))])
    }
}

/// `queue_history(id)`: one job's events in order.
pub struct History;

impl View for History {
    const NAME: &'static str = "queue_history";
    const SCHEMA: &'static str =
        "CREATE TABLE x(seq INTEGER, at REAL, type TEXT, from_state TEXT, to_state TEXT, \
         worker TEXT, attempt INTEGER, detail TEXT, arg_id HIDDEN)";
    const SQL: &'static str = sql::HISTORY;
    const COLUMNS: usize = 8;
    const ARGUMENTS: std::os::raw::c_int = 1;
    const REQUIRED: std::os::raw::c_int = 1;

    fn params(args: &Args) -> Result<Vec<(&'static str, Value)>> {
        Ok(vec![(":id", Value::Integer(args.int(0, "id")?))])
    }
}

/// `queue_schedules`: every schedule with its next run, or why it has none.
pub struct Schedules;

impl View for Schedules {
    const NAME: &'static str = "queue_schedules";
    const SCHEMA: &'static str =
        "CREATE TABLE x(name TEXT, cron TEXT, tz TEXT, queue TEXT, payload TEXT, options TEXT, \
         next_run_at REAL, last_run_at REAL, last_job INTEGER, created_at REAL, error TEXT)";
    const SQL: &'static str = sql::SCHEDULES;
    const COLUMNS: usize = 11;
}

/// `queue_limits`: every limit in force, with how many of its jobs run now.
pub struct Limits;

impl View for Limits {
    const NAME: &'static str = "queue_limits";
    const SCHEMA: &'static str =
        "CREATE TABLE x(queue TEXT, grp TEXT, max_running INTEGER, running INTEGER, \
         rate_limit INTEGER, rate_per REAL, rate_used INTEGER, scope TEXT)";
    const SQL: &'static str = sql::LIMITS;
    const COLUMNS: usize = 8;
}

/// `queue_alerts`: every alert rule with its state at the last check.
pub struct Alerts;

impl View for Alerts {
    const NAME: &'static str = "queue_alerts";
    const SCHEMA: &'static str =
        "CREATE TABLE x(name TEXT, queue TEXT, metric TEXT, op TEXT, threshold REAL, \
         for_seconds REAL, state TEXT, since REAL, value REAL, fired_at REAL)";
    const SQL: &'static str = sql::ALERTS;
    const COLUMNS: usize = 10;
}
