//! The ceiling: the same row operations as the minimal hand-made SQL queue
//! (one table, one partial index, UPDATE ... RETURNING) with prepared
//! statements, on the same kind of database. No events, no fencing beyond a
//! token, no retries: what any SQLite queue must at least do.

use std::time::Instant;

use crate::setup::{fresh, payload};

const SCHEMA: &str = "
CREATE TABLE jobs (
  id INTEGER PRIMARY KEY, queue TEXT NOT NULL, state TEXT NOT NULL, priority INTEGER NOT NULL DEFAULT 0,
  run_at INTEGER NOT NULL, payload TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
  token INTEGER, lease_until INTEGER);
CREATE INDEX jobs_ready ON jobs (queue, priority DESC, run_at) WHERE state = 'ready';";

const CLAIM: &str = "
UPDATE jobs SET state = 'running', attempts = attempts + 1, token = id * 1048576 + attempts + 1,
                lease_until = ?2 + 30000
WHERE id IN (SELECT id FROM jobs WHERE queue = 'q' AND state = 'ready' AND run_at <= ?2
             ORDER BY priority DESC, run_at, id LIMIT ?1)
RETURNING id, token";

const INSERT: &str = "INSERT INTO jobs (queue, state, run_at, payload) VALUES ('q', 'ready', 0, ?1)";

const COMPLETE: &str = "UPDATE jobs SET state = 'done' WHERE id = ?1 AND state = 'running' AND token = ?2";

/// The ceiling of A: one INSERT per transaction.
pub fn insert_single(n: usize) -> f64 {
    let (conn, _path) = fresh("ceiling-a");
    conn.execute_batch(SCHEMA).unwrap();
    let mut insert = conn.prepare_cached(INSERT).unwrap();
    let started = Instant::now();
    for i in 0..n {
        insert.execute([payload(i)]).unwrap();
    }
    n as f64 / started.elapsed().as_secs_f64()
}

/// The ceiling of B: `n` INSERTs in one transaction.
pub fn insert_batch(n: usize) -> f64 {
    let (conn, _path) = fresh("ceiling-b");
    conn.execute_batch(SCHEMA).unwrap();
    let mut insert = conn.prepare_cached(INSERT).unwrap();
    let started = Instant::now();
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    for i in 0..n {
        insert.execute([payload(i)]).unwrap();
    }
    conn.execute_batch("COMMIT").unwrap();
    n as f64 / started.elapsed().as_secs_f64()
}

pub fn ceiling(pending: usize, batch: usize, drained: usize) -> f64 {
    let (conn, _path) = fresh("ceiling");
    conn.execute_batch(SCHEMA).unwrap();
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    {
        let mut insert = conn
            .prepare("INSERT INTO jobs (queue, state, run_at, payload) VALUES ('q', 'ready', 0, ?1)")
            .unwrap();
        for i in 0..pending {
            insert.execute([payload(i)]).unwrap();
        }
    }
    conn.execute_batch("COMMIT").unwrap();
    let mut claim = conn.prepare_cached(CLAIM).unwrap();
    let mut complete = conn.prepare_cached(COMPLETE).unwrap();
    let started = Instant::now();
    let mut done = 0;
    while done < drained {
        let now = 1_i64;
        // Each claim and each complete is its own transaction at batch 1,
        // one transaction per batch otherwise: as for orq.
        if batch > 1 {
            conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        }
        let jobs: Vec<(i64, i64)> = claim
            .query_map([batch as i64, now], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert!(!jobs.is_empty());
        for (id, token) in jobs {
            assert_eq!(complete.execute([id, token]).unwrap(), 1);
            done += 1;
        }
        if batch > 1 {
            conn.execute_batch("COMMIT").unwrap();
        }
    }
    done as f64 / started.elapsed().as_secs_f64()
}
