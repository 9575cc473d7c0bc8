//! queue_wait: sleeps without holding a transaction, wakes for commits that
//! make a job of its queues claimable, and only for those.

use std::time::{Duration, Instant};

use orq_tests::{assert_error, memory, one, open, Scratch};

fn wait(conn: &rusqlite::Connection, sql: &str) -> (i64, Duration) {
    let started = Instant::now();
    let r: i64 = conn.query_row(sql, [], |r| r.get(0)).unwrap();
    (r, started.elapsed())
}

#[test]
fn it_returns_at_once_when_a_job_is_claimable_and_times_out_otherwise() {
    let scratch = Scratch::new("wait1");
    let conn = open(&scratch.path("q.db"));
    let (r, took) = wait(&conn, "SELECT queue_wait('q', 0.2)");
    assert_eq!(r, 0, "no schema, no job");
    assert!(took >= Duration::from_millis(190), "{took:?}");
    one::<i64>(&conn, "SELECT queue_enqueue('q', '{}')");
    let (r, took) = wait(&conn, "SELECT queue_wait('q', 5)");
    assert_eq!(r, 1);
    assert!(took < Duration::from_millis(100), "{took:?}");
    assert_eq!(wait(&conn, "SELECT queue_wait('other', 0.1)").0, 0, "a job of another queue does not count");
    assert_eq!(wait(&conn, r#"SELECT queue_wait('["other","q"]', 0.1)"#).0, 1);
    assert_eq!(wait(&conn, "SELECT queue_wait(NULL, 0.1)").0, 1);
}

#[test]
fn a_commit_from_another_process_wakes_it_at_once() {
    let scratch = Scratch::new("wait2");
    let path = scratch.path("q.db");
    let conn = open(&path);
    one::<i64>(&conn, "SELECT orq_migrate()");
    let writer = std::thread::spawn(move || {
        let other = open(&path);
        std::thread::sleep(Duration::from_millis(150));
        one::<i64>(&other, "SELECT queue_enqueue('noise', '{}')"); // not our queue
        std::thread::sleep(Duration::from_millis(150));
        one::<i64>(&other, "SELECT queue_enqueue('q', '{}')");
        Instant::now()
    });
    let (r, _) = wait(&conn, "SELECT queue_wait('q', 10)");
    let woke = Instant::now();
    let committed = writer.join().unwrap();
    assert_eq!(r, 1);
    let late = woke.saturating_duration_since(committed);
    assert!(late < Duration::from_millis(500), "woke {late:?} after the commit");
}

#[test]
fn a_delayed_job_wakes_it_when_due_and_routing_is_respected() {
    let scratch = Scratch::new("wait3");
    let conn = open(&scratch.path("q.db"));
    one::<i64>(&conn, "SELECT queue_enqueue('q', '{}', '{\"delay\":0.3}')");
    let (r, took) = wait(&conn, "SELECT queue_wait('q', 5)");
    assert_eq!(r, 1);
    assert!(took >= Duration::from_millis(250) && took < Duration::from_secs(2), "{took:?}");
    let conn2 = open(&scratch.path("r.db"));
    one::<i64>(&conn2, "SELECT queue_enqueue('gpu', '{}', '{\"requires\":[\"gpu\"]}')");
    assert_eq!(wait(&conn2, "SELECT queue_wait('gpu', 0.1, 'cpu-only')").0, 0, "it could not claim that job");
    one::<i64>(&conn2, "SELECT queue_worker_register('gpu-box', '{\"capabilities\":[\"gpu\"]}')");
    assert_eq!(wait(&conn2, "SELECT queue_wait('gpu', 0.1, 'gpu-box')").0, 1);
    // Without a worker, any job counts, routed ones included.
    assert_eq!(wait(&conn2, "SELECT queue_wait('gpu', 0)").0, 1);
    one::<i64>(&conn2, "SELECT queue_enqueue('not-me', '{}', '{\"not_workers\":[\"x\"]}')");
    assert_eq!(wait(&conn2, "SELECT queue_wait('not-me', 0)").0, 1);
}

#[test]
fn it_refuses_to_wait_inside_a_transaction() {
    let conn = memory();
    conn.execute_batch("BEGIN").unwrap();
    assert_error(&conn, "SELECT queue_wait('q', 1)", "queue_wait: call it outside a transaction");
    conn.execute_batch("ROLLBACK").unwrap();
    assert_error(
        &conn,
        "SELECT queue_wait('q', -1)",
        "queue_wait: timeout_seconds must be a number of seconds >= 0",
    );
    assert_error(&conn, "SELECT queue_wait('bad name', 1)", "queue_wait: invalid queue name");
    assert_eq!(wait(&conn, "SELECT queue_wait('q', 0.05)").0, 0, ":memory: polls, and works");
}
