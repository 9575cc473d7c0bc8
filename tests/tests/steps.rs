//! Durable steps, sleeps, signals and children (issue 19): queue_step,
//! queue_step_done, queue_step_fail, queue_steps, queue_sleep, queue_await, queue_signal, queue_spawn,
//! queue_gather and queue_children, fenced by the lease's token. The queue clock crosses lease deadlines and wake-up
//! times with orq_clock, never by sleeping.

use orq_tests::{assert_error, memory, one, open, rows, Scratch};
use rusqlite::{params, Connection};

/// A connection whose queue clock is fixed at 1000 s.
fn db() -> Connection {
    let conn = memory();
    at(&conn, 1000.0);
    conn
}

fn at(conn: &Connection, secs: f64) {
    conn.query_row("SELECT orq_clock(?1)", [secs], |_| Ok(())).unwrap();
}

/// Enqueues a job on `q` with a 30 s lease and claims it: (id, token).
fn claimed(conn: &Connection) -> (i64, i64) {
    one::<i64>(conn, r#"SELECT queue_enqueue('q', '{}', '{"lease": 30}')"#);
    claim(conn).expect("a job to claim")
}

fn claim(conn: &Connection) -> Option<(i64, i64)> {
    conn.query_row("SELECT id, token FROM queue_claim('w', 1, 'q')", [], |r| Ok((r.get(0)?, r.get(1)?))).ok()
}

fn step(conn: &Connection, (id, token): (i64, i64), name: &str) -> Option<String> {
    conn.query_row("SELECT queue_step(?1, ?2, ?3)", params![id, token, name], |r| r.get(0)).unwrap()
}

fn done(conn: &Connection, (id, token): (i64, i64), name: &str, result: &str) -> i64 {
    conn.query_row("SELECT queue_step_done(?1, ?2, ?3, ?4)", params![id, token, name, result], |r| r.get(0))
        .unwrap()
}

#[test]
fn a_step_is_recorded_once_and_read_back_by_the_next_lease() {
    let conn = db();
    let first = claimed(&conn);
    assert_eq!(step(&conn, first, "charge"), None);
    assert_eq!(done(&conn, first, "charge", r#"{"paid": 5}"#), 1);
    assert_eq!(done(&conn, first, "charge", r#"{"paid": 6}"#), 1, "the lease holds; the first result counts");
    assert_eq!(step(&conn, first, "charge").as_deref(), Some(r#"{"paid": 5}"#));
    // The worker dies; its lease runs out and the job runs again.
    at(&conn, 1031.0);
    let second = claim(&conn).expect("the job again");
    assert_ne!(second.1, first.1);
    assert_eq!(step(&conn, second, "charge").as_deref(), Some(r#"{"paid": 5}"#));
    assert_eq!(step(&conn, second, "ship"), None);
    // A NULL result is JSON null: recorded, so the step does not run again.
    assert_eq!(
        conn.query_row("SELECT queue_step_done(?1, ?2, 'ship', NULL)", [second.0, second.1], |r| r
            .get::<_, i64>(0))
            .unwrap(),
        1
    );
    assert_eq!(step(&conn, second, "ship").as_deref(), Some("null"));
}

#[test]
fn a_stale_worker_reads_no_step_and_records_nothing() {
    let conn = db();
    let stale = claimed(&conn);
    done(&conn, stale, "a", "1");
    at(&conn, 1031.0);
    let current = claim(&conn).unwrap();
    assert_eq!(step(&conn, stale, "a"), None);
    assert_eq!(done(&conn, stale, "b", "2"), 0);
    assert_eq!(one::<i64>(&conn, "SELECT queue_sleep(1, 1048577, 60)"), 0);
    assert_eq!(step(&conn, current, "b"), None, "nothing was recorded");
    assert_eq!(one::<String>(&conn, "SELECT state FROM queue_jobs WHERE id = 1"), "running");
    // Finished jobs hold no lease either.
    one::<i64>(&conn, &format!("SELECT queue_complete(1, {})", current.1));
    assert_eq!(done(&conn, current, "c", "3"), 0);
}

#[test]
fn steps_are_in_the_history_in_order_and_go_with_their_job() {
    let conn = db();
    let job = claimed(&conn);
    for name in ["one", "two", "three"] {
        done(&conn, job, name, "true");
    }
    assert_eq!(
        rows(
            &conn,
            "SELECT type || ' ' || coalesce(json_extract(detail, '$.name'), '') FROM queue_history(1)"
        ),
        ["enqueued ", "claimed ", "step one", "step two", "step three"]
    );
    one::<i64>(&conn, &format!("SELECT queue_complete(1, {})", job.1));
    // (A purge keeps the job with the highest id, so that no id is reused.)
    one::<i64>(&conn, "SELECT queue_enqueue('q', '{}')");
    one::<i64>(&conn, "SELECT queue_purge('q', 0)");
    assert_eq!(rows(&conn, "SELECT id FROM queue_jobs"), ["2"]);
    assert_eq!(one::<i64>(&conn, "SELECT count(*) FROM orq_steps"), 0);
}

#[test]
fn a_queue_without_events_records_steps_but_no_history() {
    let conn = db();
    one::<i64>(&conn, r#"SELECT queue_configure('q', '{"events": false}')"#);
    let job = claimed(&conn);
    assert_eq!(done(&conn, job, "quiet", "1"), 1);
    assert_eq!(step(&conn, job, "quiet").as_deref(), Some("1"));
    assert_eq!(one::<i64>(&conn, "SELECT count(*) FROM queue_history(1) WHERE type = 'step'"), 0);
}

#[test]
fn a_sleeping_job_holds_no_worker_uses_no_attempt_and_keeps_its_steps() {
    let conn = db();
    one::<i64>(&conn, r#"SELECT queue_enqueue('q', '{}', '{"lease": 30, "max_attempts": 1}')"#);
    let job = claim(&conn).unwrap();
    done(&conn, job, "before", "1");
    assert_eq!(one::<i64>(&conn, &format!("SELECT queue_sleep(1, {}, 3600)", job.1)), 1);
    assert_eq!(
        rows(&conn, "SELECT state || ' ' || attempts || ' ' || run_at || ' ' || (lease_until IS NULL) FROM queue_jobs"),
        ["ready 0 4600.0 1"]
    );
    assert_eq!(claim(&conn), None, "not due for an hour");
    assert_eq!(
        one::<String>(&conn, "SELECT detail FROM queue_history(1) WHERE type = 'slept'"),
        r#"{"run_at":4600.0}"#
    );
    at(&conn, 4600.0);
    let again = claim(&conn).expect("due after its sleep");
    assert_eq!(
        one::<i64>(&conn, "SELECT attempts FROM queue_jobs"),
        1,
        "max_attempts 1 still allows this run"
    );
    assert_eq!(step(&conn, again, "before").as_deref(), Some("1"));
}

#[test]
fn bad_input_is_an_error_that_changes_nothing() {
    let conn = db();
    let (id, token) = claimed(&conn);
    for (sql, message) in [
        ("SELECT queue_step_done(9, 1, 'x', '1')", "queue_step_done: [not_found] no job with id 9"),
        ("SELECT queue_step(9, 1, 'x')", "queue_step: [not_found] no job with id 9"),
        ("SELECT queue_sleep(9, 1, 5)", "queue_sleep: [not_found] no job with id 9"),
        (
            "SELECT queue_step_done(1, 1048577, '', '1')",
            "queue_step_done: name must be 1 to 256 bytes, got 0",
        ),
        ("SELECT queue_step_done(1, 1048577, 7, '1')", "queue_step_done: name must be text"),
        ("SELECT queue_step_done(1, 1048577, 'x', '{bad')", "queue_step_done: result is not valid JSON"),
        ("SELECT queue_step_done(1, NULL, 'x', '1')", "queue_step_done: token must not be NULL"),
        ("SELECT queue_step(1, 1048577)", "queue_step: takes (id, token, name)"),
        (
            "SELECT queue_sleep(1, 1048577, -1)",
            "queue_sleep: seconds must be a number of seconds >= 0, got -1",
        ),
        (
            "SELECT queue_sleep(1, 1048577, 1e12)",
            "queue_sleep: seconds of 1000000000000 seconds is more than ten years",
        ),
    ] {
        assert_error(&conn, sql, message);
    }
    assert_eq!(one::<i64>(&conn, "SELECT count(*) FROM orq_steps"), 0);
    assert_eq!(rows(&conn, "SELECT state FROM queue_jobs"), ["running"]);
    let _ = (id, token);
}

#[test]
fn a_database_from_before_steps_gets_them_inside_the_callers_transaction() {
    let dir = Scratch::new("steps-upgrade");
    let path = dir.path("q.db");
    let conn = open(&path);
    at(&conn, 1000.0);
    let job = claimed(&conn);
    // As an orq of schema v16 left it.
    conn.execute_batch(
        "DROP TRIGGER orq_steps_event; DROP TRIGGER orq_jobs_steps_purge; DROP TRIGGER orq_jobs_event_update;
         DROP TABLE orq_step_failures; DROP TABLE orq_steps; DROP TABLE orq_awaits; DROP TABLE orq_signals; DROP TABLE orq_spawned;
         ALTER TABLE orq_jobs DROP COLUMN progress;
         CREATE TRIGGER orq_jobs_event_update AFTER UPDATE OF event ON orq_jobs BEGIN SELECT 1; END;
         UPDATE orq_meta SET value = 16 WHERE key = 'schema_version'",
    )
    .unwrap();
    assert_eq!(step(&conn, job, "a"), None, "no table: no step");
    assert_eq!(one::<String>(&conn, "SELECT queue_steps(1)"), "[]", "read before any upgrade");
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    assert_eq!(done(&conn, job, "a", "1"), 1);
    conn.execute_batch("COMMIT").unwrap();
    assert_eq!(step(&conn, job, "a").as_deref(), Some("1"));
    let latest: i64 = one(&conn, "SELECT json_extract(orq_debug(), '$.schema_latest')");
    assert_eq!(one::<i64>(&conn, "SELECT value FROM orq_meta WHERE key = 'schema_version'"), latest);
}

fn await_signal(conn: &Connection, (id, token): (i64, i64), name: &str, timeout: f64) -> i64 {
    conn.query_row("SELECT queue_await(?1, ?2, ?3, ?4)", params![id, token, name, timeout], |r| r.get(0))
        .unwrap()
}

fn signal(conn: &Connection, name: &str, payload: &str) -> i64 {
    conn.query_row("SELECT queue_signal(?1, ?2)", [name, payload], |r| r.get(0)).unwrap()
}

#[test]
fn an_awaiting_job_holds_no_worker_until_its_signal_comes_with_a_payload() {
    let conn = db();
    let first = claimed(&conn);
    assert_eq!(await_signal(&conn, first, "approved", 3600.0), 1);
    assert_eq!(
        rows(&conn, "SELECT state || ' ' || attempts || ' ' || run_at FROM queue_jobs"),
        ["ready 0 4600.0"]
    );
    assert_eq!(claim(&conn), None, "parked");
    assert_eq!(signal(&conn, "approved", r#"{"by": "ann"}"#), 1);
    let again = claim(&conn).expect("claimable at once");
    assert_eq!(step(&conn, again, "signal:approved").as_deref(), Some(r#"{"by": "ann"}"#));
    assert_eq!(
        rows(&conn, "SELECT type || ' ' || coalesce(detail, '') FROM queue_history(1) WHERE seq > 2"),
        [
            r#"awaiting {"signal":"approved","until":4600.0}"#,
            r#"step {"name":"signal:approved"}"#,
            "signalled ",
            r#"claimed {"token":1048578,"lease_until":1030.0}"#,
        ]
    );
    assert_eq!(one::<i64>(&conn, "SELECT count(*) FROM orq_awaits"), 0);
}

#[test]
fn a_signal_sent_before_any_job_awaits_it_is_kept_for_the_first_one() {
    let conn = db();
    assert_eq!(signal(&conn, "paid", "7"), 0);
    assert_eq!(signal(&conn, "paid", "8"), 0);
    let job = claimed(&conn);
    assert_eq!(await_signal(&conn, job, "paid", 3600.0), 1);
    let again = claim(&conn).expect("answered at once");
    assert_eq!(step(&conn, again, "signal:paid").as_deref(), Some("7"), "the oldest first");
    assert_eq!(rows(&conn, "SELECT payload FROM orq_signals"), ["8"]);
    // A kept signal lasts a week.
    at(&conn, 1000.0 + 7.0 * 86_400.0);
    assert_eq!(await_signal(&conn, again, "paid", 60.0), 1);
    assert_eq!(claim(&conn), None, "the other one expired");
}

#[test]
fn a_timeout_makes_the_job_claimable_without_the_signal_and_a_late_one_is_kept() {
    let conn = db();
    let job = claimed(&conn);
    assert_eq!(await_signal(&conn, job, "late", 60.0), 1);
    at(&conn, 1060.0);
    let again = claim(&conn).expect("claimable when the timeout ran out");
    assert_eq!(step(&conn, again, "signal:late"), None, "it timed out");
    assert_eq!(signal(&conn, "late", "1"), 0, "no job awaits it now");
    assert_eq!(rows(&conn, "SELECT name FROM orq_signals"), ["late"]);
}

#[test]
fn one_signal_wakes_every_job_awaiting_it() {
    let conn = db();
    for _ in 0..3 {
        let job = claimed(&conn);
        await_signal(&conn, job, "go", 3600.0);
    }
    let other = claimed(&conn);
    await_signal(&conn, other, "other", 3600.0);
    assert_eq!(signal(&conn, "go", "null"), 3);
    assert_eq!(rows(&conn, "SELECT id FROM queue_jobs WHERE run_at = 1000.0 ORDER BY id"), ["1", "2", "3"]);
    assert_eq!(one::<i64>(&conn, "SELECT count(*) FROM orq_steps WHERE name = 'signal:go'"), 3);
}

#[test]
fn a_stale_worker_cannot_await_and_bad_signals_change_nothing() {
    let conn = db();
    let stale = claimed(&conn);
    at(&conn, 1031.0);
    let current = claim(&conn).unwrap();
    assert_eq!(await_signal(&conn, stale, "x", 5.0), 0);
    assert_eq!(rows(&conn, "SELECT state FROM queue_jobs"), ["running"]);
    for (sql, message) in [
        ("SELECT queue_signal('', '1')", "queue_signal: name must be 1 to 256 bytes, got 0"),
        ("SELECT queue_signal('x', '{bad')", "queue_signal: payload is not valid JSON"),
        ("SELECT queue_signal(NULL, '1')", "queue_signal: name must not be NULL"),
        ("SELECT queue_await(1, 1048578, 'x', -1)", "queue_await: timeout must be a number of seconds >= 0"),
        ("SELECT queue_await(9, 1, 'x', 1)", "queue_await: [not_found] no job with id 9"),
        ("SELECT queue_await(1, 1048578, 'x')", "queue_await: takes (id, token, name, timeout)"),
    ] {
        assert_error(&conn, sql, message);
    }
    assert_eq!(
        one::<i64>(&conn, "SELECT count(*) FROM orq_signals")
            + one::<i64>(&conn, "SELECT count(*) FROM orq_awaits"),
        0
    );
    let _ = current;
}

#[test]
fn a_signal_wakes_a_waiter_in_another_process() {
    let dir = Scratch::new("steps-signal-wait");
    let path = dir.path("q.db");
    let conn = open(&path);
    let job = claimed(&conn);
    await_signal(&conn, job, "ready", 3600.0);
    let waiter = std::thread::spawn({
        let path = path.clone();
        move || one::<i64>(&open(&path), "SELECT queue_wait('q', 30)")
    });
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert_eq!(signal(&open(&path), "ready", "{}"), 1);
    assert_eq!(waiter.join().unwrap(), 1, "the waiter saw the job become due");
}

fn spawn(conn: &Connection, (id, token): (i64, i64), payload: &str, options: Option<&str>) -> Option<i64> {
    conn.query_row("SELECT queue_spawn(?1, ?2, 'kids', ?3, ?4)", params![id, token, payload, options], |r| {
        r.get(0)
    })
    .unwrap()
}

fn gather(conn: &Connection, (id, token): (i64, i64)) -> i64 {
    conn.query_row("SELECT queue_gather(?1, ?2)", [id, token], |r| r.get(0)).unwrap()
}

fn kid(conn: &Connection) -> (i64, i64) {
    conn.query_row("SELECT id, token FROM queue_claim('w', 1, 'kids')", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
}

#[test]
fn a_job_fans_out_at_run_time_and_waits_for_its_children_without_a_worker() {
    let conn = db();
    let parent = claimed(&conn);
    let a = spawn(&conn, parent, r#"{"n": 1}"#, None).unwrap();
    let b = spawn(&conn, parent, r#"{"n": 2}"#, Some(r#"{"max_attempts": 1}"#)).unwrap();
    assert_eq!(gather(&conn, parent), 1);
    assert_eq!(
        rows(&conn, "SELECT state || ' ' || waiting_on || ' ' || attempts FROM queue_jobs WHERE id = 1"),
        ["waiting 2 0"]
    );
    assert_eq!(claim(&conn), None, "the parent waits");
    let first = kid(&conn);
    assert_eq!(first.0, a);
    one::<i64>(&conn, &format!(r#"SELECT queue_complete({a}, {}, '{{"r": 1}}')"#, first.1));
    assert_eq!(claim(&conn), None, "one child is left");
    let second = kid(&conn);
    // A child that dies counts as finished too: the parent reads its state.
    one::<String>(&conn, &format!("SELECT queue_fail({b}, {}, 'boom')", second.1));
    let again = claim(&conn).expect("the parent, when its last child finished");
    assert_eq!(again.0, parent.0);
    let children: serde_json::Value =
        serde_json::from_str(&one::<String>(&conn, "SELECT queue_children(1)")).unwrap();
    assert_eq!(
        children,
        serde_json::json!([
            {"id": a, "queue": "kids", "state": "done", "result": {"r": 1}, "error": null},
            {"id": b, "queue": "kids", "state": "dead", "result": null, "error": "boom"},
        ])
    );
    assert_eq!(
        rows(&conn, "SELECT type || ' ' || coalesce(detail, '') FROM queue_history(1) WHERE type IN ('gathering', 'unblocked')"),
        [r#"gathering {"waiting_on":2}"#, "unblocked "]
    );
}

#[test]
fn gathering_finished_children_or_none_goes_on_at_once_and_keyed_spawns_are_idempotent() {
    let conn = db();
    let parent = claimed(&conn);
    let once = spawn(&conn, parent, "{}", Some(r#"{"key": "job-1:charge"}"#));
    assert_eq!(spawn(&conn, parent, "{}", Some(r#"{"key": "job-1:charge"}"#)), once, "the same child");
    let child = kid(&conn);
    one::<i64>(&conn, &format!("SELECT queue_complete({}, {})", child.0, child.1));
    assert_eq!(gather(&conn, parent), 1);
    assert_eq!(rows(&conn, "SELECT state FROM queue_jobs WHERE id = 1"), ["ready"]);
    assert_eq!(one::<String>(&conn, "SELECT queue_children(1)").matches("\"id\"").count(), 1);
}

#[test]
fn a_stale_or_finished_job_spawns_and_gathers_nothing() {
    let conn = db();
    let stale = claimed(&conn);
    at(&conn, 1031.0);
    let current = claim(&conn).unwrap();
    assert_eq!(spawn(&conn, stale, "{}", None), None);
    assert_eq!(gather(&conn, stale), 0);
    assert_eq!(rows(&conn, "SELECT state FROM queue_jobs"), ["running"]);
    one::<i64>(&conn, &format!("SELECT queue_complete(1, {})", current.1));
    for (sql, message) in [
        (
            "SELECT queue_spawn(1, 1048578, 'kids', '{}')",
            "queue_spawn: job 1 is done: a finished job spawns nothing",
        ),
        ("SELECT queue_spawn(9, 1, 'kids', '{}')", "queue_spawn: [not_found] no job with id 9"),
        ("SELECT queue_spawn(1, 1048578, 'bad name', '{}')", "queue_spawn: invalid queue name"),
        ("SELECT queue_spawn(1, 1048578, 'kids', '{bad')", "queue_spawn: payload is not valid JSON"),
        (
            "SELECT queue_spawn(1, 1048578, 'kids', '{}', '{\"priorty\": 1}')",
            "queue_spawn: unknown option 'priorty'",
        ),
        ("SELECT queue_gather(9, 1)", "queue_gather: [not_found] no job with id 9"),
        ("SELECT queue_children(9)", "queue_children: [not_found] no job with id 9"),
    ] {
        assert_error(&conn, sql, message);
    }
    assert_eq!(rows(&conn, "SELECT count(*) FROM queue_jobs"), ["1"]);
}

#[test]
fn progress_is_the_last_report_of_the_lease_holder_on_the_jobs_row() {
    let conn = db();
    let job = claimed(&conn);
    for progress in ["0.25", r#"{"done": 3, "total": 10, "message": "resizing"}"#] {
        assert_eq!(
            conn.query_row("SELECT queue_progress(?1, ?2, ?3)", params![job.0, job.1, progress], |r| r
                .get::<_, i64>(0))
                .unwrap(),
            1
        );
    }
    assert_eq!(
        one::<String>(&conn, "SELECT progress FROM queue_jobs WHERE id = 1"),
        r#"{"done": 3, "total": 10, "message": "resizing"}"#
    );
    assert_eq!(
        one::<i64>(&conn, "SELECT count(*) FROM queue_history(1) WHERE type NOT IN ('enqueued', 'claimed')"),
        0,
        "no event"
    );
    assert_eq!(one::<i64>(&conn, "SELECT queue_progress(1, 12345, 0.5)"), 0, "a stale token");
    assert_error(
        &conn,
        "SELECT queue_progress(1, 1048577, 'resizing')",
        "queue_progress: progress is not valid JSON",
    );
    assert_error(&conn, "SELECT queue_progress(9, 1, 1)", "queue_progress: [not_found] no job with id 9");
    assert_eq!(one::<f64>(&conn, "SELECT progress ->> '$.done' FROM queue_jobs WHERE id = 1"), 3.0);
}

fn step_fail(
    conn: &Connection,
    (id, token): (i64, i64),
    name: &str,
    error: &str,
    options: &str,
) -> Option<String> {
    conn.query_row(
        "SELECT queue_step_fail(?1, ?2, ?3, ?4, ?5)",
        params![id, token, name, error, options],
        |r| r.get(0),
    )
    .unwrap()
}

#[test]
fn a_failed_step_with_tries_left_sleeps_its_job_without_using_an_attempt() {
    let conn = db();
    let first = claimed(&conn);
    let three = r#"{"attempts": 3, "backoff": {"base": 10, "jitter": false}}"#;
    assert_eq!(step_fail(&conn, first, "charge", "declined", three).as_deref(), Some("retry"));
    assert_eq!(rows(&conn, "SELECT state, attempts, run_at FROM queue_jobs"), ["ready|0|1010.0"]);
    assert_eq!(claim(&conn), None, "asleep until the step's next try");
    at(&conn, 1010.0);
    let second = claim(&conn).expect("the job, for the step's second try");
    assert_eq!(step_fail(&conn, second, "charge", "declined again", three).as_deref(), Some("retry"));
    assert_eq!(one::<f64>(&conn, "SELECT run_at FROM queue_jobs"), 1030.0, "the backoff doubles");
    at(&conn, 1030.0);
    let third = claim(&conn).unwrap();
    assert_eq!(step_fail(&conn, third, "charge", "declined at last", three).as_deref(), Some("exhausted"));
    assert_eq!(rows(&conn, "SELECT state, attempts FROM queue_jobs"), ["running|1"], "the caller decides");
    assert_eq!(
        rows(&conn, "SELECT type, detail FROM queue_history(1) WHERE type IN ('step_failed', 'slept')"),
        [
            r#"step_failed|{"name":"charge","try":1,"error":"declined"}"#,
            r#"slept|{"run_at":1010.0}"#,
            r#"step_failed|{"name":"charge","try":2,"error":"declined again"}"#,
            r#"slept|{"run_at":1030.0}"#,
            r#"step_failed|{"name":"charge","try":3,"error":"declined at last"}"#,
        ]
    );
    assert_eq!(
        one::<String>(&conn, "SELECT queue_steps(1)"),
        r#"[{"name":"charge","result":null,"recorded_at":null,"failures":3,"error":"declined at last"}]"#
    );
}

#[test]
fn a_new_attempt_of_the_job_gives_a_step_its_tries_afresh() {
    let conn = db();
    let first = claimed(&conn);
    let two = r#"{"attempts": 2, "retry_in": 0}"#;
    assert_eq!(step_fail(&conn, first, "a", "e1", two).as_deref(), Some("retry"));
    let second = claim(&conn).unwrap();
    assert_eq!(step_fail(&conn, second, "a", "e2", two).as_deref(), Some("exhausted"));
    assert_eq!(
        conn.query_row("SELECT queue_fail(?1, ?2, 'a failed', 0)", [second.0, second.1], |r| r
            .get::<_, String>(0))
            .unwrap(),
        "ready"
    );
    let third = claim(&conn).unwrap();
    assert_eq!(one::<i64>(&conn, "SELECT attempts FROM queue_jobs"), 2);
    assert_eq!(step_fail(&conn, third, "a", "e3", two).as_deref(), Some("retry"), "try 1 of attempt 2");
}

#[test]
fn without_options_a_step_has_one_try_and_its_failure_is_history() {
    let conn = db();
    let job = claimed(&conn);
    let failed: Option<String> =
        conn.query_row("SELECT queue_step_fail(?1, ?2, 'a', 'boom')", [job.0, job.1], |r| r.get(0)).unwrap();
    assert_eq!(failed.as_deref(), Some("exhausted"));
    assert_eq!(rows(&conn, "SELECT state FROM queue_jobs"), ["running"]);
    assert_eq!(one::<i64>(&conn, "SELECT count(*) FROM queue_history(1) WHERE type = 'step_failed'"), 1);
}

#[test]
fn a_stale_worker_cannot_fail_a_step_and_bad_input_changes_nothing() {
    let conn = db();
    let stale = claimed(&conn);
    at(&conn, 1031.0);
    let _fresh = claim(&conn).unwrap();
    assert_eq!(step_fail(&conn, stale, "a", "e", "{}"), None, "lease lost");
    for (sql, message) in [
        ("SELECT queue_step_fail(9, 1, 'a', 'e')", "queue_step_fail: [not_found] no job with id 9"),
        ("SELECT queue_step_fail(1, 1048578, 'a', NULL)", "queue_step_fail: error must not be NULL"),
        (
            "SELECT queue_step_fail(1, 1048578, '', 'e')",
            "queue_step_fail: name must be 1 to 256 bytes, got 0",
        ),
        (
            "SELECT queue_step_fail(1, 1048578, 'a', 'e', '{\"tries\": 2}')",
            "queue_step_fail: unknown option 'tries' (known: attempts, backoff, retry_in)",
        ),
        (
            "SELECT queue_step_fail(1, 1048578, 'a', 'e', '{\"attempts\": 0}')",
            "queue_step_fail: attempts must be from 1 to",
        ),
        (
            "SELECT queue_step_fail(1, 1048578, 'a', 'e', '{\"retry_in\": -1}')",
            "queue_step_fail: retry_in must be",
        ),
        (
            "SELECT queue_step_fail(1, 1048578, 'a', 'e', '[1]')",
            "queue_step_fail: options must be a JSON object",
        ),
        (
            "SELECT queue_step_fail(1, 1048578, 'a')",
            "queue_step_fail: takes (id, token, name, error [, options])",
        ),
        ("SELECT queue_steps(9)", "queue_steps: [not_found] no job with id 9"),
        ("SELECT queue_steps(NULL)", "queue_steps: id must not be NULL"),
    ] {
        assert_error(&conn, sql, message);
    }
    assert_eq!(one::<i64>(&conn, "SELECT count(*) FROM queue_history(1) WHERE type = 'step_failed'"), 0);
    assert_eq!(rows(&conn, "SELECT state, token FROM queue_jobs"), ["running|1048578"]);
}

#[test]
fn queue_steps_lists_results_in_order_and_steps_go_with_their_job() {
    let conn = db();
    let job = claimed(&conn);
    assert_eq!(one::<String>(&conn, "SELECT queue_steps(1)"), "[]");
    assert_eq!(
        step_fail(&conn, job, "b", "flaky", r#"{"attempts": 2, "retry_in": 0}"#).as_deref(),
        Some("retry")
    );
    let job = claim(&conn).unwrap();
    assert_eq!(done(&conn, job, "a", "1"), 1);
    at(&conn, 1001.0);
    assert_eq!(done(&conn, job, "b", r#""ok""#), 1);
    assert_eq!(
        one::<String>(&conn, "SELECT queue_steps(1)"),
        r#"[{"name":"a","result":1,"recorded_at":1000.0,"failures":0,"error":null},"#.to_owned()
            + r#"{"name":"b","result":"ok","recorded_at":1001.0,"failures":1,"error":"flaky"}]"#
    );
    conn.query_row("SELECT queue_complete(?1, ?2)", [job.0, job.1], |_| Ok(())).unwrap();
    one::<i64>(&conn, "SELECT queue_enqueue('q', '{}')"); // the newest job is always kept
    assert_eq!(one::<i64>(&conn, "SELECT queue_purge('q', 0)"), 1);
    assert_eq!(one::<i64>(&conn, "SELECT count(*) FROM orq_step_failures"), 0);
    assert_eq!(one::<i64>(&conn, "SELECT count(*) FROM orq_steps"), 0);
}
