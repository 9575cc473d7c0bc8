//! Retention: each queue keeps its finished jobs for a time per final state
//! (queue_configure's "retention"), and writers delete what outlived it, in
//! slices, with its history. Time moves with orq_clock; a write is what
//! applies retention (each connection looks at most once a second of its
//! clock, or at every write while it is behind).

use orq_tests::{assert_error, memory, one, open, rows, Scratch};
use rusqlite::Connection;

const HOUR: f64 = 3600.0;
const DAY: f64 = 86_400.0;

fn at(conn: &Connection, t: f64) {
    conn.query_row("SELECT orq_clock(?1)", [t], |_| Ok(())).unwrap();
}

fn run(conn: &Connection, sql: &str) {
    conn.query_row(sql, [], |_| Ok(())).unwrap_or_else(|e| panic!("{sql}: {e}"));
}

fn enqueue(conn: &Connection, queue: &str) -> i64 {
    one(conn, &format!("SELECT queue_enqueue('{queue}', '{{}}')"))
}

fn configure(conn: &Connection, queue: &str, settings: &str) -> i64 {
    one(conn, &format!("SELECT queue_configure('{queue}', '{settings}')"))
}

/// A job of `queue` taken to `state`: done, dead (one attempt, failed) or cancelled.
fn finished(conn: &Connection, queue: &str, state: &str) -> i64 {
    let id: i64 = one(conn, &format!("SELECT queue_enqueue('{queue}', '{{}}', '{{\"max_attempts\":1}}')"));
    match state {
        "cancelled" => run(conn, &format!("SELECT queue_cancel({id})")),
        _ => {
            let token: i64 = one(conn, &format!("SELECT token FROM queue_claim('w', 1, '{queue}')"));
            let usage = r#"{"outcome":"done","wall":0.5}"#;
            run(conn, &format!("SELECT queue_record_run({id}, {token}, '{usage}')"));
            match state {
                "done" => run(conn, &format!("SELECT queue_complete({id}, {token})")),
                _ => run(conn, &format!("SELECT queue_fail({id}, {token}, 'boom')")),
            }
        }
    }
    id
}

fn ids(conn: &Connection) -> Vec<i64> {
    rows(conn, "SELECT id FROM queue_jobs ORDER BY id").iter().map(|r| r.parse().unwrap()).collect()
}

/// What is left of job `id`: its row, events and runs.
fn traces(conn: &Connection, id: i64) -> (i64, i64, i64) {
    (
        one(conn, &format!("SELECT count(*) FROM orq_jobs WHERE id = {id}")),
        one(conn, &format!("SELECT count(*) FROM orq_events WHERE job = {id}")),
        one(conn, &format!("SELECT count(*) FROM orq_runs WHERE job = {id}")),
    )
}

#[test]
fn finished_jobs_go_with_their_history_once_they_outlive_their_state_s_retention() {
    let conn = memory();
    at(&conn, 1000.0);
    assert_eq!(configure(&conn, "q", r#"{"retention": {"done": 3600, "dead": 7200, "cancelled": 60}}"#), 1);
    let done = finished(&conn, "q", "done");
    let dead = finished(&conn, "q", "dead");
    let cancelled = finished(&conn, "q", "cancelled");
    assert_eq!(traces(&conn, done), (1, 3, 1));
    // Unfinished jobs: ready, running, and waiting for the running one.
    let ready = enqueue(&conn, "q");
    let running = enqueue(&conn, "q");
    run(&conn, &format!("SELECT queue_claim_json('w', 1, 'q')"));
    let waiting: i64 =
        one(&conn, &format!("SELECT queue_enqueue('q', '{{}}', '{{\"depends_on\":[{running}]}}')"));
    let unfinished = [ready, running, waiting];

    at(&conn, 1059.0);
    let other = finished(&conn, "other", "done");
    assert!(ids(&conn).contains(&cancelled), "59 s after it finished, not yet");
    at(&conn, 1061.0);
    enqueue(&conn, "other");
    assert!(!ids(&conn).contains(&cancelled), "61 s after: gone");
    assert_eq!(traces(&conn, cancelled), (0, 0, 0));

    at(&conn, 1000.0 + HOUR + 1.0);
    enqueue(&conn, "other");
    assert_eq!(traces(&conn, done), (0, 0, 0), "the job, its events and its runs");
    assert_eq!(traces(&conn, dead).0, 1);
    at(&conn, 1000.0 + 2.0 * HOUR + 1.0);
    enqueue(&conn, "other");
    assert_eq!(traces(&conn, dead), (0, 0, 0));

    // Unfinished jobs are never touched, however old.
    at(&conn, 1000.0 + 3000.0 * DAY);
    enqueue(&conn, "other");
    let left = ids(&conn);
    for id in unfinished {
        assert!(left.contains(&id), "job {id} has not finished: {left:?}");
    }
    assert!(!left.contains(&other), "the other queue has the default retention (done 7 days)");
}

#[test]
fn the_default_keeps_done_and_cancelled_jobs_7_days_and_dead_ones_30() {
    let conn = memory();
    at(&conn, 1000.0);
    let done = finished(&conn, "q", "done");
    let dead = finished(&conn, "q", "dead");
    let cancelled = finished(&conn, "q", "cancelled");
    assert_eq!(
        one::<String>(&conn, "SELECT retention FROM queue_stats WHERE queue = 'q'"),
        r#"{"done":604800.0,"dead":2592000.0,"cancelled":604800.0}"#
    );
    at(&conn, 1000.0 + 7.0 * DAY - 1.0);
    enqueue(&conn, "q");
    assert_eq!(&ids(&conn)[..3], [done, dead, cancelled]);
    at(&conn, 1000.0 + 7.0 * DAY);
    enqueue(&conn, "q");
    assert_eq!(ids(&conn)[0], dead, "done and cancelled: gone at 7 days");
    at(&conn, 1000.0 + 30.0 * DAY - 1.0);
    enqueue(&conn, "q");
    assert_eq!(ids(&conn)[0], dead);
    at(&conn, 1000.0 + 30.0 * DAY);
    enqueue(&conn, "q");
    assert_ne!(ids(&conn)[0], dead, "dead: gone at 30 days");
}

#[test]
fn null_keeps_forever_per_state_or_for_all() {
    let conn = memory();
    at(&conn, 1000.0);
    configure(&conn, "some", r#"{"retention": {"done": null, "cancelled": 0}}"#);
    configure(&conn, "none", r#"{"retention": null}"#);
    assert_eq!(
        rows(&conn, "SELECT queue, retention FROM queue_stats"),
        vec![
            r#"none|{"done":null,"dead":null,"cancelled":null}"#,
            r#"some|{"done":null,"dead":2592000.0,"cancelled":0.0}"#,
        ]
    );
    let kept: Vec<i64> = ["done", "dead", "cancelled"]
        .iter()
        .flat_map(|s| [finished(&conn, "none", s), finished(&conn, "some", s)])
        .filter(|&id| id != 4 && id != 6) // the dead and cancelled jobs of "some" go
        .collect();
    at(&conn, 1000.0 + 3650.0 * DAY);
    enqueue(&conn, "none");
    assert_eq!(&ids(&conn)[..4], kept, "ten years later, what null keeps is there");
}

#[test]
fn each_queue_keeps_its_own_setting_and_a_setting_not_given_stays() {
    let conn = memory();
    at(&conn, 1000.0);
    configure(&conn, "fast", r#"{"retention": {"done": 10}}"#);
    configure(&conn, "slow", r#"{"retention": {"done": 100}}"#);
    assert_eq!(configure(&conn, "slow", r#"{"retention": {"done": 100}}"#), 0, "no change");
    assert_eq!(configure(&conn, "slow", r#"{"events": false}"#), 1);
    assert_eq!(
        one::<String>(&conn, "SELECT retention FROM queue_stats WHERE queue = 'slow'"),
        r#"{"done":100.0,"dead":2592000.0,"cancelled":604800.0}"#,
        "events: false left the retention as it was"
    );
    let fast = finished(&conn, "fast", "done");
    let slow = finished(&conn, "slow", "done");
    at(&conn, 1050.0);
    enqueue(&conn, "fast");
    assert_eq!(&ids(&conn)[..1], [slow]);
    assert!(!ids(&conn).contains(&fast));
    at(&conn, 1101.0);
    enqueue(&conn, "fast");
    assert!(!ids(&conn).contains(&slow));
}

#[test]
fn a_parent_stays_while_a_child_has_not_finished_for_purge_too() {
    let conn = memory();
    at(&conn, 1000.0);
    configure(&conn, "q", r#"{"retention": {"done": 0, "dead": 0, "cancelled": 0}}"#);
    let parent = enqueue(&conn, "q");
    let other = enqueue(&conn, "q");
    let child: i64 =
        one(&conn, &format!("SELECT queue_enqueue('q', '{{}}', '{{\"depends_on\":[{parent},{other}]}}')"));
    let (p_token, o_token): (i64, i64) = conn
        .query_row("SELECT min(token), max(token) FROM queue_claim('w', 2, 'q')", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    run(&conn, &format!("SELECT queue_complete({parent}, {p_token}, '{{\"n\":42}}')"));
    at(&conn, 2000.0);
    enqueue(&conn, "later");
    assert_eq!(one::<i64>(&conn, "SELECT queue_purge(NULL, 0)"), 0, "the child waits for its result");
    assert!(ids(&conn).contains(&parent));
    run(&conn, &format!("SELECT queue_complete({other}, {o_token})"));
    assert_eq!(
        one::<String>(&conn, &format!("SELECT queue_parent_results({child})")),
        format!(r#"{{"{parent}":{{"n":42}},"{other}":null}}"#)
    );
    at(&conn, 3000.0);
    enqueue(&conn, "later");
    assert!(ids(&conn).contains(&parent), "the child is ready, and reads the result when it runs");
    let token: i64 = one(&conn, "SELECT token FROM queue_claim('w', 1, 'q')");
    assert_eq!(
        one::<String>(&conn, &format!("SELECT queue_parent_results({child})")),
        format!(r#"{{"{parent}":{{"n":42}},"{other}":null}}"#)
    );
    run(&conn, &format!("SELECT queue_complete({child}, {token})"));
    at(&conn, 4000.0);
    enqueue(&conn, "later");
    assert!(!ids(&conn).contains(&parent), "its child finished: it goes");
    assert!(!ids(&conn).contains(&child));
}

#[test]
fn the_newest_job_and_the_owner_of_the_newest_event_stay() {
    let conn = memory();
    at(&conn, 1000.0);
    configure(&conn, "q", r#"{"retention": {"cancelled": 0}}"#);
    let first = finished(&conn, "q", "cancelled");
    assert_eq!(ids(&conn), [first], "the highest id stays: ids are never handed out twice");
    at(&conn, 1010.0);
    let older = enqueue(&conn, "q");
    assert_eq!(ids(&conn), [older], "a newer job and a newer enqueue: the first goes");
    let newest = enqueue(&conn, "q");
    run(&conn, &format!("SELECT queue_cancel({older})"));
    let seq: i64 = one(&conn, "SELECT max(seq) FROM orq_events");
    assert_eq!(one::<i64>(&conn, &format!("SELECT job FROM orq_events WHERE seq = {seq}")), older);
    at(&conn, 1020.0);
    run(&conn, "SELECT queue_pause('other')");
    assert_eq!(ids(&conn), [older, newest], "the cancelled job owns the newest seq of the trail");
    at(&conn, 1030.0);
    let next = enqueue(&conn, "q");
    assert_eq!(ids(&conn), [newest, next], "a newer enqueue: the cancelled job goes");
    assert_eq!(
        one::<i64>(&conn, &format!("SELECT seq FROM orq_events WHERE job = {next}")),
        seq + 1,
        "no seq handed out twice"
    );
}

#[test]
fn a_slice_deletes_at_most_500_jobs_and_the_next_writes_catch_up() {
    let conn = memory();
    at(&conn, 1000.0);
    configure(&conn, "q", r#"{"retention": {"done": 60}}"#);
    run(&conn, "SELECT queue_enqueue_many('q', (WITH n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1200) SELECT json_group_array('{}') FROM n))");
    let claimed: String = one(&conn, "SELECT queue_claim_json('w', 1200, 'q')");
    let jobs: Vec<serde_json::Value> = serde_json::from_str(&claimed).unwrap();
    let done: Vec<_> = jobs.iter().map(|j| serde_json::json!([j["id"], j["token"]])).collect();
    run(&conn, &format!("SELECT queue_complete_many('{}')", serde_json::Value::from(done)));
    let count = |conn: &Connection| one::<i64>(conn, "SELECT count(*) FROM orq_jobs WHERE queue = 'q'");
    at(&conn, 2000.0);
    for left in [700, 200, 0] {
        enqueue(&conn, "other"); // same clock: retention is behind, so every write takes a slice
        assert_eq!(count(&conn), left);
    }
    assert_eq!(one::<i64>(&conn, "SELECT count(*) FROM orq_events WHERE queue = 'q'"), 0);
}

#[test]
fn in_an_explicit_transaction_retention_commits_or_rolls_back_with_it() {
    let conn = memory();
    at(&conn, 1000.0);
    configure(&conn, "q", r#"{"retention": {"done": 60}}"#);
    let done = finished(&conn, "q", "done");
    at(&conn, 1100.0);
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    enqueue(&conn, "q");
    assert!(!ids(&conn).contains(&done), "applied inside the transaction");
    conn.execute_batch("ROLLBACK").unwrap();
    assert!(ids(&conn).contains(&done), "and rolled back with it");
    at(&conn, 1200.0);
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    enqueue(&conn, "q");
    conn.execute_batch("COMMIT").unwrap();
    assert!(!ids(&conn).contains(&done));
}

#[test]
fn a_claim_in_autocommit_on_a_file_applies_retention() {
    let scratch = Scratch::new("retention-file");
    let path = scratch.path("q.db");
    let conn = open(&path);
    at(&conn, 1000.0);
    configure(&conn, "q", r#"{"retention": {"done": 60}}"#);
    let done = finished(&conn, "q", "done");
    enqueue(&conn, "q");
    at(&conn, 1100.0);
    // The claim's own SELECT holds a read: orq writes beside it.
    assert_eq!(rows(&conn, "SELECT count(*) FROM queue_claim('w', 1, 'q')"), vec!["1"]);
    let other = open(&path);
    assert!(!ids(&other).contains(&done), "committed, seen by another connection");
}

#[test]
fn a_slice_that_fails_is_undone_and_the_write_goes_on() {
    let conn = memory();
    at(&conn, 1000.0);
    configure(&conn, "q", r#"{"retention": {"done": 60}}"#);
    let done = finished(&conn, "q", "done");
    conn.execute_batch(
        "CREATE TRIGGER keep BEFORE DELETE ON orq_jobs BEGIN SELECT RAISE(ABORT, 'kept by hand'); END",
    )
    .unwrap();
    at(&conn, 1100.0);
    let id = enqueue(&conn, "q");
    assert_eq!(ids(&conn), [done, id], "the write went on, the slice was undone");
    let debug: serde_json::Value = serde_json::from_str(&one::<String>(&conn, "SELECT orq_debug()")).unwrap();
    assert!(debug["retention_error"].as_str().unwrap().contains("kept by hand"), "{debug}");
    conn.execute_batch("DROP TRIGGER keep").unwrap();
    at(&conn, 1200.0);
    enqueue(&conn, "q");
    assert!(!ids(&conn).contains(&done));
    let debug: serde_json::Value = serde_json::from_str(&one::<String>(&conn, "SELECT orq_debug()")).unwrap();
    assert!(debug["retention_error"].is_null());
}

#[test]
fn bad_settings_are_refused_naming_the_function_and_change_nothing() {
    let conn = memory();
    at(&conn, 1000.0);
    configure(&conn, "q", r#"{"retention": {"done": 60}}"#);
    let before = rows(&conn, "SELECT * FROM orq_queues");
    for (settings, needle) in [
        (r#"{"retention": 3600}"#, "queue_configure: retention must be an object"),
        (
            r#"{"retention": {"done": -1}}"#,
            "queue_configure: retention.done must be a number of seconds >= 0",
        ),
        (r#"{"retention": {"dead": "7d"}}"#, "queue_configure: retention.dead must be a number"),
        (r#"{"retention": {"cancelled": 1e10}}"#, "more than ten years"),
        (r#"{"retention": {"ready": 5}}"#, "queue_configure: retention: unknown state 'ready'"),
        (r#"{"events": false, "retention": {"done": -5}}"#, "retention.done must be"),
        (
            r#"{"retain": {}}"#,
            "queue_configure: unknown setting 'retain' (known: events, retention, max_running, group_max_running, rate, group_rate)",
        ),
    ] {
        assert_error(&conn, &format!("SELECT queue_configure('q', '{settings}')"), needle);
        assert_error(&conn, &format!("SELECT queue_configure('new', '{settings}')"), needle);
    }
    assert_eq!(rows(&conn, "SELECT * FROM orq_queues"), before, "nothing changed, no queue made");
    assert_error(&conn, "UPDATE orq_queues SET retention_done_ms = 'a week'", "CHECK constraint failed");
}

#[test]
fn queue_purge_keeps_a_parent_whose_child_has_not_finished() {
    let conn = memory();
    at(&conn, 1000.0);
    let parent = finished(&conn, "q", "done");
    let child: i64 =
        one(&conn, &format!("SELECT queue_enqueue('q', '{{}}', '{{\"depends_on\":[{parent}]}}')"));
    at(&conn, 2000.0);
    assert_eq!(one::<i64>(&conn, "SELECT queue_purge('q', 0)"), 0);
    let token: i64 = one(&conn, "SELECT token FROM queue_claim('w', 1, 'q')");
    assert_eq!(
        one::<String>(&conn, &format!("SELECT queue_parent_results({child})")),
        format!(r#"{{"{parent}":null}}"#)
    );
    run(&conn, &format!("SELECT queue_complete({child}, {token})"));
    enqueue(&conn, "q");
    assert_eq!(one::<i64>(&conn, "SELECT queue_purge('q', 0)"), 2, "the child finished: both go");
}
