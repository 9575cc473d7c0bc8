//! The read-only tables built on `view::View`.

use rusqlite::types::Value;

use super::view::View;
use crate::args::Args;
use crate::clock::duration_ms;
use crate::error::{invalid, Result};
use crate::sql;

/// `queue_stats`: one row per queue with its jobs counted by state.
pub struct Stats;

impl View for Stats {
    const NAME: &'static str = "queue_stats";
    const SCHEMA: &'static str =
        "CREATE TABLE x(queue TEXT, ready INTEGER, scheduled INTEGER, running INTEGER, \
         done INTEGER, dead INTEGER, cancelled INTEGER, paused INTEGER, oldest_ready_age REAL)";
    const SQL: &'static str = sql::STATS;
    const COLUMNS: usize = 9;
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
