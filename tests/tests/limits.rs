//! Flow control inside the claim (issue 17): a queue's max_running, its
//! jobs running at once across every worker and process.

use std::thread;
use std::time::{Duration, Instant};

use orq_tests::{assert_error, memory, one, open, rows, Scratch};

fn limit(conn: &rusqlite::Connection, queue: &str, max_running: &str) -> i64 {
    one(conn, &format!(r#"SELECT queue_configure('{queue}', '{{"max_running": {max_running}}}')"#))
}

#[test]
fn a_claim_takes_no_more_than_the_queue_has_room_for() {
    let conn = memory();
    one::<String>(&conn, "SELECT queue_enqueue_many('q', '[1,2,3,4,5]')");
    assert_eq!(limit(&conn, "q", "2"), 1);
    assert_eq!(rows(&conn, "SELECT id FROM queue_claim('w', 10, 'q') ORDER BY id"), vec!["1", "2"]);
    assert!(rows(&conn, "SELECT id FROM queue_claim('w', 10, 'q')").is_empty(), "full");
    one::<i64>(&conn, "SELECT queue_complete(1)");
    assert_eq!(rows(&conn, "SELECT id FROM queue_claim('w', 10, 'q')"), vec!["3"], "a slot freed");
    one::<String>(&conn, "SELECT queue_fail(2, NULL, 'boom', 0)");
    assert_eq!(
        rows(&conn, "SELECT id FROM queue_claim('w', 10, 'q') ORDER BY id"),
        vec!["4"],
        "a failure frees one (job 2 waits for its retry behind 4 and 5)"
    );
    assert_eq!(limit(&conn, "q", "null"), 1, "null removes the limit");
    assert_eq!(limit(&conn, "q", "null"), 0, "unchanged");
    assert_eq!(rows(&conn, "SELECT id FROM queue_claim('w', 10, 'q') ORDER BY id"), vec!["2", "5"]);
}

#[test]
fn queue_limits_shows_each_limit_with_its_running_jobs() {
    let conn = memory();
    one::<String>(&conn, "SELECT queue_enqueue_many('a', '[1,2,3]')");
    one::<i64>(&conn, "SELECT queue_enqueue('b', '{}')");
    assert!(rows(&conn, "SELECT * FROM queue_limits").is_empty(), "no limit, no row");
    limit(&conn, "a", "2");
    limit(&conn, "c", "0");
    rows(&conn, "SELECT id FROM queue_claim('w', 5)");
    assert_eq!(
        rows(&conn, "SELECT queue, grp IS NULL, max_running, running FROM queue_limits"),
        vec!["a|1|2|2", "c|1|0|0"]
    );
}

#[test]
fn a_claim_across_queues_keeps_each_queues_limit() {
    let conn = memory();
    one::<String>(&conn, "SELECT queue_enqueue_many('a', '[1,2,3]')");
    one::<String>(&conn, "SELECT queue_enqueue_many('b', '[1,2,3]')");
    one::<String>(&conn, "SELECT queue_enqueue_many('c', '[1,2,3]')");
    limit(&conn, "a", "1");
    limit(&conn, "b", "0");
    assert_eq!(
        rows(&conn, "SELECT queue, count(*) FROM queue_claim('w', 10) GROUP BY queue ORDER BY queue"),
        vec!["a|1", "c|3"]
    );
    assert!(rows(&conn, r#"SELECT id FROM queue_claim('w', 10, '["a","b"]')"#).is_empty());
    limit(&conn, "b", "2");
    assert_eq!(rows(&conn, r#"SELECT queue FROM queue_claim('w', 10, '["a","b"]')"#), vec!["b", "b"]);
}

#[test]
fn a_bad_limit_is_refused_and_changes_nothing() {
    let conn = memory();
    limit(&conn, "q", "3");
    for (settings, problem) in [
        (r#"{"max_running": -1}"#, "max_running must be from 0 to 1000000000, got -1"),
        (r#"{"max_running": 1.5}"#, "max_running must be an integer, got 1.5"),
        (
            r#"{"max_running": "2"}"#,
            r#"max_running must be a whole number from 0, or null (no limit), got "2""#,
        ),
        (r#"{"max_running": 1e10}"#, "max_running must be from 0 to 1000000000"),
        (r#"{"max_running": 2, "events": 1}"#, "events must be true or false"),
        (r#"{"max_runing": 2}"#, "unknown setting 'max_runing'"),
    ] {
        assert_error(&conn, &format!("SELECT queue_configure('q', '{settings}')"), problem);
    }
    assert_eq!(one::<i64>(&conn, "SELECT max_running FROM orq_queues WHERE name = 'q'"), 3);
}

/// A waiter does not wake for jobs the limit holds back, and wakes when a
/// completion frees a slot.
#[test]
fn queue_wait_sleeps_while_the_queue_is_full_and_wakes_when_a_slot_frees() {
    let scratch = Scratch::new("limits-wait");
    let path = scratch.path("q.db");
    let conn = open(&path);
    one::<String>(&conn, "SELECT queue_enqueue_many('q', '[1,2]')");
    limit(&conn, "q", "1");
    assert_eq!(rows(&conn, "SELECT id FROM queue_claim('w', 5, 'q')"), vec!["1"]);
    let waiter = thread::spawn(move || {
        let conn = open(&path);
        let started = Instant::now();
        let woke: i64 = one(&conn, "SELECT queue_wait('q', 5)");
        (woke, started.elapsed())
    });
    thread::sleep(Duration::from_millis(300));
    one::<i64>(&conn, "SELECT queue_complete(1)");
    let (woke, took) = waiter.join().unwrap();
    assert_eq!(woke, 1);
    assert!(took >= Duration::from_millis(250), "woke before the slot freed: {took:?}");
    assert!(took < Duration::from_millis(2000), "{took:?}");
}

/// Connections in several threads claim and complete as fast as they can;
/// replaying the trail in order, no more than the limit ever ran at once.
#[test]
fn many_connections_never_run_more_than_the_limit() {
    let scratch = Scratch::new("limits-stress");
    let path = scratch.path("q.db");
    let conn = open(&path);
    let payloads: Vec<String> = (1..=400).map(|i| i.to_string()).collect();
    one::<String>(&conn, &format!("SELECT queue_enqueue_many('q', '[{}]')", payloads.join(",")));
    limit(&conn, "q", "2");
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let path = path.clone();
            thread::spawn(move || {
                let conn = open(&path);
                let mut done = 0;
                let deadline = Instant::now() + Duration::from_secs(30);
                while Instant::now() < deadline {
                    let claimed =
                        rows(&conn, &format!("SELECT id || ',' || token FROM queue_claim('w{w}', 3, 'q')"));
                    if claimed.is_empty() {
                        if one::<i64>(&conn, "SELECT count(*) FROM queue_jobs WHERE state <> 'done'") == 0 {
                            break;
                        }
                        continue;
                    }
                    for job in claimed {
                        one::<i64>(&conn, &format!("SELECT queue_complete({job})"));
                        done += 1;
                    }
                }
                done
            })
        })
        .collect();
    let done: i64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    assert_eq!(done, 400);
    let (mut running, mut most) = (0, 0);
    for kind in
        rows(&conn, "SELECT type FROM queue_events WHERE type IN ('claimed', 'completed') ORDER BY seq")
    {
        running += if kind == "claimed" { 1 } else { -1 };
        most = most.max(running);
    }
    assert_eq!(most, 2, "at most 2 ran at once, and 2 did");
}
