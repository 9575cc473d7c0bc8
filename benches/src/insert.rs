//! Figures A and B: enqueueing, one transaction per job and 100,000 in one.

use std::time::Instant;

use crate::setup::{fresh, load_orq, payload};
use crate::Config;

/// A: `n` jobs, each `SELECT queue_enqueue(...)` in autocommit (its own
/// transaction). Jobs per second.
pub fn orq_single(config: &Config, n: usize) -> f64 {
    let (conn, _path) = fresh("orq-a");
    load_orq(&conn, config);
    conn.query_row("SELECT orq_migrate()", [], |_| Ok(())).unwrap();
    let mut stmt = conn.prepare_cached("SELECT queue_enqueue('q', ?1)").unwrap();
    let started = Instant::now();
    for i in 0..n {
        stmt.query_row([payload(i)], |_| Ok(())).unwrap();
    }
    n as f64 / started.elapsed().as_secs_f64()
}

/// How figure B hands its batch to orq.
#[derive(Clone, Copy)]
pub enum Batch {
    /// One `queue_enqueue_many` statement.
    Many,
    /// A `queue_enqueue` call per job, from `json_each`.
    Calls,
}

/// B: `n` jobs in one transaction, from one JSON array. Jobs per second.
pub fn orq_batch(config: &Config, n: usize, how: Batch) -> f64 {
    let (conn, _path) = fresh("orq-b");
    load_orq(&conn, config);
    conn.query_row("SELECT orq_migrate()", [], |_| Ok(())).unwrap();
    let items: Vec<serde_json::Value> = (0..n).map(|i| serde_json::from_str(&payload(i)).unwrap()).collect();
    let array = serde_json::to_string(&items).unwrap();
    let sql = match how {
        Batch::Many => "SELECT queue_enqueue_many('q', ?1)",
        Batch::Calls => "SELECT count(queue_enqueue('q', value)) FROM json_each(?1)",
    };
    let started = Instant::now();
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    conn.query_row(sql, [&array], |_| Ok(())).unwrap();
    conn.execute_batch("COMMIT").unwrap();
    n as f64 / started.elapsed().as_secs_f64()
}
