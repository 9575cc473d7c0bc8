//! A 10,000-job DAG: how long submitting it takes (one queue_workflow call)
//! and how long draining it takes (claims of 100, completed in one
//! transaction per claim), in dependency order.

use std::time::Instant;

use serde_json::json;

use crate::setup::{fresh, load_orq};
use crate::Config;

/// (seconds to submit, seconds to drain) for a random DAG of `jobs` jobs,
/// each depending on up to 3 of the 300 jobs before it.
pub fn submit_and_drain(config: &Config, jobs: usize) -> (f64, f64) {
    let (conn, _path) = fresh("dag");
    load_orq(&conn, config);
    let mut seed: u64 = 11;
    let mut next = || {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) as usize
    };
    let spec: Vec<_> = (0..jobs)
        .map(|i| {
            let parents: Vec<String> = if i == 0 {
                vec![]
            } else {
                (0..next() % 4).map(|_| format!("j{}", i - 1 - next() % i.min(300))).collect()
            };
            json!({"key": format!("j{i}"), "queue": "dag", "payload": {"i": i}, "depends_on": parents})
        })
        .collect();
    let spec = json!({"name": "bench", "jobs": spec}).to_string();
    let started = Instant::now();
    conn.query_row("SELECT queue_workflow(?1)", [spec], |_| Ok(())).unwrap();
    let submitted = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut claim = conn.prepare_cached("SELECT id, token FROM queue_claim('bench', 100, 'dag')").unwrap();
    let mut complete = conn.prepare_cached("SELECT queue_complete(?1, ?2)").unwrap();
    let mut done = 0;
    while done < jobs {
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        let batch: Vec<(i64, i64)> =
            claim.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(|r| r.unwrap()).collect();
        assert!(!batch.is_empty(), "the DAG stalled");
        for (id, token) in &batch {
            complete.query_row([id, token], |_| Ok(())).unwrap();
        }
        conn.execute_batch("COMMIT").unwrap();
        done += batch.len();
    }
    (submitted, started.elapsed().as_secs_f64())
}
