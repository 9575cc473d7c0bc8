//! orq's claim + complete loop, as a user writes it: plain SQL through the
//! extension, one claim statement and one complete per job.

use std::time::Instant;

use crate::setup::{fresh, load_orq, payload};
use crate::Config;

/// Enqueues `pending` jobs, then claims and completes `drained` of them in
/// claims of `batch`, each batch in one transaction when `batch` > 1.
/// Returns jobs per second of the claim + complete phase.
pub fn orq(config: &Config, pending: usize, batch: usize, drained: usize) -> f64 {
    let (conn, _path) = fresh("orq");
    load_orq(&conn, config);
    fill(&conn, pending);
    if !config.events {
        conn.execute("UPDATE orq_queues SET events = 0", []).unwrap();
    }
    let mut claim = conn.prepare_cached("SELECT id, token FROM queue_claim('bench', ?1, 'q')").unwrap();
    let mut complete = conn.prepare_cached("SELECT queue_complete(?1, ?2)").unwrap();
    let mut complete_many = conn.prepare_cached("SELECT queue_complete_many(?1)").unwrap();
    let started = Instant::now();
    let mut done = 0;
    while done < drained {
        let in_transaction = batch > 1;
        if in_transaction {
            conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        }
        let jobs: Vec<(i64, i64)> = claim
            .query_map([batch as i64], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert!(!jobs.is_empty(), "ran out of jobs");
        if batch == 1 {
            for (id, token) in jobs {
                let ok: i64 = complete.query_row([id, token], |r| r.get(0)).unwrap();
                assert_eq!(ok, 1);
                done += 1;
            }
        } else {
            // A batch is completed with one call.
            let list =
                serde_json::to_string(&jobs.iter().map(|(i, t)| [*i, *t]).collect::<Vec<_>>()).unwrap();
            let n: i64 = complete_many.query_row([list], |r| r.get(0)).unwrap();
            assert_eq!(n as usize, jobs.len());
            done += jobs.len();
        }
        if in_transaction {
            conn.execute_batch("COMMIT").unwrap();
        }
    }
    done as f64 / started.elapsed().as_secs_f64()
}

fn fill(conn: &rusqlite::Connection, pending: usize) {
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    let mut enqueue = conn.prepare("SELECT queue_enqueue('q', ?1)").unwrap();
    for i in 0..pending {
        enqueue.query_row([payload(i)], |_| Ok(())).unwrap();
    }
    conn.execute_batch("COMMIT").unwrap();
}
