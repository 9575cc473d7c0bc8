//! The enqueue option debounce (issue 17): with a key, an enqueue while the
//! key's job has not started replaces its payload and pushes its start back.

use orq_tests::{assert_error, memory, one, rows};

fn debounced(conn: &rusqlite::Connection, payload: &str) -> i64 {
    one(conn, &format!(r#"SELECT queue_enqueue('sync', '{payload}', '{{"key":"user-7","debounce":10}}')"#))
}

#[test]
fn a_burst_of_enqueues_makes_one_job_with_the_last_payload_due_after_the_last() {
    let conn = memory();
    one::<f64>(&conn, "SELECT orq_clock(1000)");
    assert_eq!(debounced(&conn, r#"{"n":1}"#), 1);
    one::<f64>(&conn, "SELECT orq_clock(1004)");
    assert_eq!(debounced(&conn, r#"{"n":2}"#), 1, "the same job");
    assert_eq!(
        rows(&conn, "SELECT id, payload, run_at FROM queue_jobs"),
        vec![r#"1|{"n":2}|1014.0"#],
        "the last payload, due 10 s after the last enqueue"
    );
    one::<f64>(&conn, "SELECT orq_clock(1013)");
    assert!(rows(&conn, "SELECT id FROM queue_claim('w', 1, 'sync')").is_empty(), "not due yet");
    assert_eq!(
        rows(&conn, "SELECT type, from_state, to_state FROM queue_history(1)"),
        vec!["enqueued|NULL|ready", "debounced|ready|ready"]
    );
}

#[test]
fn a_job_that_started_keeps_its_key_and_payload() {
    let conn = memory();
    one::<f64>(&conn, "SELECT orq_clock(1000)");
    debounced(&conn, r#"{"n":1}"#);
    one::<f64>(&conn, "SELECT orq_clock(1010)");
    assert_eq!(rows(&conn, "SELECT id FROM queue_claim('w', 1, 'sync')"), vec!["1"]);
    assert_eq!(debounced(&conn, r#"{"n":2}"#), 1, "the running job's id, as a key returns it");
    assert_eq!(rows(&conn, "SELECT payload, state FROM queue_jobs"), vec![r#"{"n":1}|running"#]);
    one::<i64>(&conn, "SELECT queue_complete(1)");
    assert_eq!(debounced(&conn, r#"{"n":3}"#), 2, "after it finished, a new job");
}

#[test]
fn debounce_is_refused_without_a_live_key_or_beside_a_start() {
    let conn = memory();
    for (options, problem) in [
        (r#"{"debounce":5}"#, r#"debounce needs a key (of key_scope "live")"#),
        (r#"{"debounce":5,"key":"k","key_scope":"all"}"#, "debounce needs a key"),
        (r#"{"debounce":5,"key":"k","delay":1}"#, "debounce sets the job's start"),
        (r#"{"debounce":-1,"key":"k"}"#, "debounce must be a number of seconds >= 0"),
        (r#"{"debounce":"soon","key":"k"}"#, "debounce must be a number"),
        (r#"{"debounce":5,"key":"k","depends_on":[1]}"#, "debounce cannot be given with depends_on"),
    ] {
        assert_error(&conn, &format!("SELECT queue_enqueue('q', '{{}}', '{options}')"), problem);
    }
    assert_eq!(one::<i64>(&conn, "SELECT count(*) FROM sqlite_schema WHERE name = 'orq_jobs'"), 0);
}

/// follow_up: an enqueue while the key's job runs keeps exactly one more run
/// waiting for it; enqueues while that one waits return it.
#[test]
fn an_enqueue_while_the_keyed_job_runs_keeps_one_follow_up_waiting() {
    let conn = memory();
    let options = r#"'{"key": "build:main", "follow_up": true}'"#;
    let enqueue =
        |payload: &str| one::<i64>(&conn, &format!("SELECT queue_enqueue('ci', '{payload}', {options})"));
    let first = enqueue("1");
    assert_eq!(enqueue("2"), first, "not started: the key's job is the answer");
    assert_eq!(rows(&conn, "SELECT id FROM queue_claim('w', 5)"), vec![first.to_string()]);
    let follow = enqueue("3");
    assert_ne!(follow, first);
    assert_eq!(enqueue("4"), follow, "exactly one follow-up");
    assert_eq!(one::<String>(&conn, &format!("SELECT state FROM queue_jobs WHERE id = {follow}")), "waiting");
    assert!(rows(&conn, "SELECT id FROM queue_claim('w', 5)").is_empty(), "it waits for the running one");
    one::<i64>(&conn, &format!("SELECT queue_complete({first})"));
    assert_eq!(enqueue("5"), follow, "ready now, still the key's job");
    assert_eq!(rows(&conn, "SELECT id, payload FROM queue_claim('w', 5)"), vec![format!("{follow}|3")]);
    let next = enqueue("6");
    assert!(next > follow, "the follow-up runs: a new follow-up waits for it");
    assert_eq!(
        one::<i64>(&conn, "SELECT count(*) FROM queue_jobs WHERE state = 'waiting' OR state = 'ready'"),
        1
    );
    for (options, problem) in [
        (r#"{"follow_up": true}"#, "follow_up needs a key"),
        (r#"{"key": "k", "key_scope": "all", "follow_up": true}"#, "follow_up needs a key"),
        (r#"{"key": "k", "follow_up": 1}"#, "follow_up must be true or false"),
        (r#"{"key": "k", "follow_up": true, "debounce": 5}"#, "follow_up cannot be given with debounce"),
    ] {
        assert_error(&conn, &format!("SELECT queue_enqueue('ci', '0', '{options}')"), problem);
    }
}
