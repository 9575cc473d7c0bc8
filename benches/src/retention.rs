//! Retention (orq-bench --retention [JOBS]): what a finished job costs on
//! disk, and whether a database that runs many jobs through with retention
//! at one hour stays flat in size and in claim speed.
//!
//! Jobs go through in batches, each call in autocommit as a worker makes it
//! (enqueue_many, claim_json, complete_many), so retention runs as it does
//! for users: a slice after a write, in the write's transaction. The queue
//! clock (orq_clock) moves on after each batch so the jobs span many hours.

use std::time::Instant;

use rusqlite::Connection;

use crate::setup::{count, fresh, load_orq, payload};
use crate::Config;

const BATCH: usize = 1000;
/// Queue-clock seconds per batch: 10 million jobs span 30 hours, and an hour
/// of retention keeps about 333,000 done jobs.
const SECONDS_PER_BATCH: f64 = 10.8;

/// Bytes on disk per finished (done) job with its events, and without:
/// `jobs` run through with retention off, the database checkpointed.
pub fn bytes_per_job(config: &Config, jobs: usize) -> (f64, f64) {
    let per_job = |events: bool| {
        let (conn, _path) = fresh(if events { "bytes-events" } else { "bytes-quiet" });
        load_orq(&conn, config);
        let settings = format!(r#"{{"events": {events}, "retention": null}}"#);
        conn.query_row("SELECT queue_configure('q', ?1)", [settings], |_| Ok(())).unwrap();
        let empty = size(&conn);
        let mut clock = 1_000_000.0;
        for _ in 0..jobs / BATCH {
            batch(&conn, &mut clock);
        }
        (size(&conn) - empty) as f64 / jobs as f64
    };
    (per_job(true), per_job(false))
}

/// One row per `every` jobs: (jobs so far, jobs kept, database bytes, free
/// pages, jobs/s of the last stretch, mean µs of one claim of BATCH).
pub struct Point {
    pub jobs: usize,
    pub kept: i64,
    pub bytes: i64,
    pub free_pages: i64,
    pub jobs_per_s: f64,
    pub claim_us: f64,
}

/// Runs `total` jobs through a queue whose done jobs are kept an hour.
pub fn steady(config: &Config, total: usize, every: usize, mut report: impl FnMut(&Point)) {
    let (conn, _path) = fresh("retention");
    load_orq(&conn, config);
    conn.query_row(r#"SELECT queue_configure('q', '{"retention": {"done": 3600}}')"#, [], |_| Ok(()))
        .unwrap();
    let mut clock = 1_000_000.0;
    let (mut started, mut claim_time, mut claims) = (Instant::now(), 0.0, 0);
    for n in 1..=total / BATCH {
        claim_time += batch(&conn, &mut clock);
        claims += 1;
        if (n * BATCH) % every == 0 {
            report(&Point {
                jobs: n * BATCH,
                kept: conn.query_row("SELECT count(*) FROM orq_jobs", [], |r| r.get(0)).unwrap(),
                bytes: size(&conn),
                free_pages: conn.query_row("PRAGMA freelist_count", [], |r| r.get(0)).unwrap(),
                jobs_per_s: every as f64 / started.elapsed().as_secs_f64(),
                claim_us: claim_time / claims as f64 * 1e6,
            });
            (started, claim_time, claims) = (Instant::now(), 0.0, 0);
        }
    }
}

/// Enqueues, claims and completes BATCH jobs at `clock`, then moves it on.
/// Returns the seconds the claim took.
fn batch(conn: &Connection, clock: &mut f64) -> f64 {
    conn.query_row("SELECT orq_clock(?1)", [*clock], |_| Ok(())).unwrap();
    let payloads = serde_json::to_string(&(0..BATCH).map(payload).collect::<Vec<_>>()).unwrap();
    let mut enqueue = conn.prepare_cached("SELECT queue_enqueue_many('q', ?1)").unwrap();
    enqueue.query_row([payloads], |_| Ok(())).unwrap();
    let claim_started = Instant::now();
    let claimed: String = conn
        .prepare_cached("SELECT queue_claim_json('bench', ?1, 'q')")
        .unwrap()
        .query_row([BATCH as i64], |r| r.get(0))
        .unwrap();
    let claim_took = claim_started.elapsed().as_secs_f64();
    let jobs: Vec<serde_json::Value> = serde_json::from_str(&claimed).unwrap();
    assert_eq!(jobs.len(), BATCH, "a claim took fewer jobs than were ready");
    let done: Vec<_> = jobs.iter().map(|j| serde_json::json!([j["id"], j["token"]])).collect();
    let n: i64 = conn
        .prepare_cached("SELECT queue_complete_many(?1)")
        .unwrap()
        .query_row([serde_json::Value::from(done).to_string()], |r| r.get(0))
        .unwrap();
    assert_eq!(n as usize, BATCH);
    *clock += SECONDS_PER_BATCH;
    claim_took
}

/// The database's bytes on disk once its WAL is checkpointed into it.
fn size(conn: &Connection) -> i64 {
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).unwrap();
    conn.query_row("SELECT page_count * page_size FROM pragma_page_count, pragma_page_size", [], |r| r.get(0))
        .unwrap()
}

/// Prints the figures as markdown, for benches/RESULTS.md.
pub fn run(config: &Config, total: usize) {
    let (with_events, quiet) = bytes_per_job(config, 100_000);
    println!("Bytes on disk per done job (100k jobs, ~100-byte payloads, retention off):");
    println!("with its events (enqueued, claimed, completed): {with_events:.0}; events off: {quiet:.0}\n");
    println!(
        "{} jobs through one queue, retention done 1 h, {BATCH} per call, {SECONDS_PER_BATCH} s of queue clock per batch:\n",
        count(total)
    );
    println!("| jobs so far | jobs kept | database MB | free pages | jobs/s (enqueue+claim+complete) | one claim of {BATCH} (ms) |");
    println!("|---:|---:|---:|---:|---:|---:|");
    let started = Instant::now();
    steady(config, total, (total / 10).max(BATCH), |p| {
        println!(
            "| {} | {} | {:.1} | {} | {:.0} | {:.2} |",
            count(p.jobs),
            p.kept,
            p.bytes as f64 / 1e6,
            p.free_pages,
            p.jobs_per_s,
            p.claim_us / 1000.0
        );
    });
    println!("\n({:.0} s in all)", started.elapsed().as_secs_f64());
}
