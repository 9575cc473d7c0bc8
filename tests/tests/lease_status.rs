//! queue_lease_status(id, token): one test per reason it gives for a token
//! that does not (or does) hold its job's lease, each checked against what
//! queue_complete / queue_fail actually do with that token; then bad input.
//! The queue clock crosses lease deadlines with orq_clock, never by sleeping.

use orq_tests::{assert_error, memory, one};
use rusqlite::Connection;
use serde_json::{json, Value};

/// 2027-01-15T08:00:00Z, the time the documentation's examples start at.
const T0: f64 = 1_800_000_000.0;

/// A connection whose queue clock is fixed at T0.
fn db() -> Connection {
    let conn = memory();
    at(&conn, 0.0);
    conn
}

/// Moves the queue clock to T0 + `secs`.
fn at(conn: &Connection, secs: f64) {
    conn.query_row("SELECT orq_clock(?1)", [T0 + secs], |_| Ok(())).unwrap();
}

/// Enqueues one job on `queue` with a 30 s lease and `options` merged in.
fn enqueue(conn: &Connection, queue: &str, options: Value) -> i64 {
    let mut o = json!({"lease": 30});
    o.as_object_mut().unwrap().extend(options.as_object().unwrap().clone());
    conn.query_row("SELECT queue_enqueue(?1, '{}', ?2)", [queue, &o.to_string()], |r| r.get(0)).unwrap()
}

/// Claims one job of `queue` as `worker`: its token.
fn claim(conn: &Connection, worker: &str, queue: &str) -> Option<i64> {
    conn.query_row("SELECT token FROM queue_claim(?1, 1, ?2)", [worker, queue], |r| r.get(0)).ok()
}

fn status(conn: &Connection, id: i64, token: i64) -> Value {
    let text: String =
        conn.query_row("SELECT queue_lease_status(?1, ?2)", [id, token], |r| r.get(0)).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn complete(conn: &Connection, id: i64, token: i64) -> i64 {
    conn.query_row("SELECT queue_complete(?1, ?2)", [id, token], |r| r.get(0)).unwrap()
}

/// Asserts the reason, that `held` agrees with it, and the exact message.
fn assert_verdict(v: &Value, reason: &str, message: &str) {
    assert_eq!(v["reason"], reason, "{v}");
    assert_eq!(v["held"], json!(reason == "held" || reason == "overdue"), "{v}");
    assert_eq!(v["message"], message, "{v}");
}

#[test]
fn held_while_the_lease_runs_and_until_when() {
    let conn = db();
    let id = enqueue(&conn, "email", json!({}));
    let token = claim(&conn, "w1", "email").unwrap();
    at(&conn, 10.0);
    let v = status(&conn, id, token);
    assert_verdict(&v, "held", "job 1: this token holds lease 1 (worker w1) until 2027-01-15T08:00:30.000Z");
    assert_eq!((v["lease"].clone(), v["worker"].clone()), (json!(1), json!("w1")));
    assert_eq!(v["lease_until"], json!(T0 + 30.0));
    // A heartbeat moves the deadline it reports.
    one::<f64>(&conn, &format!("SELECT queue_extend({id}, {token}, 60)"));
    assert_eq!(status(&conn, id, token)["lease_until"], json!(T0 + 70.0));
    assert_eq!(complete(&conn, id, token), 1, "held means a completion counts");
}

#[test]
fn overdue_when_the_lease_ran_out_but_no_claim_took_the_job() {
    let conn = db();
    let id = enqueue(&conn, "email", json!({}));
    let token = claim(&conn, "w1", "email").unwrap();
    at(&conn, 31.0);
    assert_verdict(
        &status(&conn, id, token),
        "overdue",
        "job 1: lease 1 (worker w1) ran out at 2027-01-15T08:00:30.000Z, \
         but no claim has taken the job since: this token still completes it",
    );
    assert_eq!(complete(&conn, id, token), 1, "an overdue lease still completes");
}

#[test]
fn reclaimed_names_the_worker_that_took_the_job_and_when() {
    let conn = db();
    let id = enqueue(&conn, "email", json!({}));
    let stale = claim(&conn, "w1", "email").unwrap();
    at(&conn, 31.0);
    let fresh = claim(&conn, "w2", "email").unwrap();
    assert_eq!(complete(&conn, id, stale), 0);
    let v = status(&conn, id, stale);
    assert_verdict(
        &v,
        "reclaimed",
        "lease lost (lease expired): job 1 was claimed again by worker w2 at 2027-01-15T08:00:31.000Z (attempt 2)",
    );
    assert_eq!(v["next"], json!({"worker": "w2", "at": T0 + 31.0, "attempt": 2, "token": fresh}));
    assert_eq!((v["ended_by"].clone(), v["ended_at"].clone()), (json!("expired"), json!(T0 + 31.0)));
    assert_eq!(v["lease_until"], json!(T0 + 30.0));
    // The new holder is not disturbed by the old lease's story.
    assert_eq!(status(&conn, id, fresh)["reason"], "held");
}

#[test]
fn expired_when_the_lease_was_taken_and_no_claim_followed() {
    let conn = db();
    one::<i64>(&conn, "SELECT queue_worker_register('w1', '{}')");
    let id = enqueue(&conn, "email", json!({}));
    let token = claim(&conn, "w1", "email").unwrap();
    at(&conn, 5.0);
    one::<i64>(&conn, "SELECT queue_worker_dead('w1')");
    assert_eq!(complete(&conn, id, token), 0);
    let v = status(&conn, id, token);
    assert_verdict(
        &v,
        "expired",
        "lease lost (worker w1 died): lease 1 (worker w1) ended at 2027-01-15T08:00:05.000Z \
         and no claim has taken job 1 since; it is ready",
    );
    assert_eq!(v["next"], Value::Null);
}

#[test]
fn failed_when_this_lease_already_failed_the_job() {
    let conn = db();
    let id = enqueue(&conn, "email", json!({}));
    let token = claim(&conn, "w1", "email").unwrap();
    at(&conn, 3.0);
    let first: Option<String> =
        conn.query_row("SELECT queue_fail(?1, ?2, 'SMTP timeout')", [id, token], |r| r.get(0)).unwrap();
    assert_eq!(first.as_deref(), Some("ready"));
    let again: Option<String> =
        conn.query_row("SELECT queue_fail(?1, ?2, 'again')", [id, token], |r| r.get(0)).unwrap();
    assert_eq!(again, None, "a stale queue_fail returns NULL");
    assert_verdict(
        &status(&conn, id, token),
        "failed",
        "this lease already ended: queue_fail at 2027-01-15T08:00:03.000Z (SMTP timeout); job 1 is ready now",
    );
    // Once claimed again, the answer still says how this lease ended, and who has the job.
    at(&conn, 60.0);
    claim(&conn, "w2", "email").unwrap();
    assert_verdict(
        &status(&conn, id, token),
        "failed",
        "this lease already ended: queue_fail at 2027-01-15T08:00:03.000Z (SMTP timeout); \
         job 1 was claimed again by worker w2 at 2027-01-15T08:01:00.000Z (attempt 2)",
    );
}

#[test]
fn released_when_this_lease_gave_the_job_back() {
    let conn = db();
    let id = enqueue(&conn, "email", json!({}));
    let token = claim(&conn, "w1", "email").unwrap();
    one::<i64>(&conn, &format!("SELECT queue_release({id}, {token}, 60)"));
    assert_eq!(complete(&conn, id, token), 0);
    assert_verdict(
        &status(&conn, id, token),
        "released",
        "this lease already ended: queue_release at 2027-01-15T08:00:00.000Z; job 1 is ready now",
    );
}

#[test]
fn parked_when_the_job_left_its_worker_under_this_lease_and_steps_do_not_end_it() {
    let conn = db();
    let id = enqueue(&conn, "email", json!({}));
    let token = claim(&conn, "w1", "email").unwrap();
    one::<i64>(&conn, &format!("SELECT queue_step_done({id}, {token}, 'draft', '1')"));
    one::<i64>(&conn, &format!("SELECT queue_sleep({id}, {token}, 0)"));
    assert_eq!(complete(&conn, id, token), 0);
    let v = status(&conn, id, token);
    assert_verdict(
        &v,
        "parked",
        "job 1 left its worker under this lease at 2027-01-15T08:00:00.000Z (worker w1) to sleep; it is ready now",
    );
    assert_eq!(v["ended_by"], "slept", "the step before is what the lease holder did, not how it ended");
    at(&conn, 1.0);
    let next = claim(&conn, "w2", "email").unwrap();
    assert_verdict(
        &status(&conn, id, token),
        "parked",
        "job 1 left its worker under this lease at 2027-01-15T08:00:00.000Z (worker w1) to sleep; \
         job 1 was claimed again by worker w2 at 2027-01-15T08:00:01.000Z (attempt 1)",
    );
    one::<i64>(&conn, &format!("SELECT queue_await({id}, {next}, 'approved', 60)"));
    assert_eq!(status(&conn, id, next)["message"], "job 1 left its worker under this lease at 2027-01-15T08:00:01.000Z (worker w2) to await a signal; it is ready now");
}

#[test]
fn finished_after_a_completion_with_this_token() {
    let conn = db();
    let id = enqueue(&conn, "email", json!({}));
    let token = claim(&conn, "w1", "email").unwrap();
    at(&conn, 2.5);
    assert_eq!(complete(&conn, id, token), 1);
    at(&conn, 9.0);
    assert_eq!(complete(&conn, id, token), 0, "a second completion does not count");
    let v = status(&conn, id, token);
    assert_verdict(
        &v,
        "finished",
        "job 1 was already completed at 2027-01-15T08:00:02.500Z under this lease (worker w1)",
    );
    assert_eq!((v["state"].clone(), v["ended_by"].clone()), (json!("done"), json!("completed")));
}

#[test]
fn finished_when_the_last_attempt_expired_or_the_job_was_cancelled() {
    let conn = db();
    let id = enqueue(&conn, "email", json!({"max_attempts": 1}));
    let token = claim(&conn, "w1", "email").unwrap();
    at(&conn, 40.0);
    assert_eq!(claim(&conn, "w2", "email"), None, "the expired job is dead, not claimed");
    assert_verdict(
        &status(&conn, id, token),
        "finished",
        "job 1 died at 2027-01-15T08:00:40.000Z under this lease (worker w1): lease expired",
    );
    // Cancelled while running, then retried: the lease ended with the cancel.
    let id = enqueue(&conn, "email", json!({}));
    let token = claim(&conn, "w1", "email").unwrap();
    one::<i64>(&conn, &format!("SELECT queue_cancel({id})"));
    one::<i64>(&conn, &format!("SELECT queue_retry({id})"));
    assert_verdict(
        &status(&conn, id, token),
        "finished",
        "job 2 was cancelled at 2027-01-15T08:00:40.000Z under this lease (worker w1); it is ready now",
    );
}

#[test]
fn future_for_a_lease_the_job_has_not_had() {
    let conn = db();
    let id = enqueue(&conn, "email", json!({}));
    let token = claim(&conn, "w1", "email").unwrap();
    let v = status(&conn, id, token + 1);
    assert_verdict(&v, "future", "job 1 has had 1 lease so far; token 1048578 is for lease 2");
    assert_eq!(v["worker"], Value::Null);
    assert_eq!(v["next"], Value::Null);
}

#[test]
fn wrong_job_for_a_token_of_another_job_or_no_lease_at_all() {
    let conn = db();
    let a = enqueue(&conn, "email", json!({}));
    let b = enqueue(&conn, "email", json!({}));
    let token_a = claim(&conn, "w1", "email").unwrap();
    assert_verdict(&status(&conn, b, token_a), "wrong_job", "token 1048577 belongs to job 1, not to job 2");
    assert_verdict(
        &status(&conn, a, a << 20),
        "wrong_job",
        "token 1048576 is no lease token (lease numbers start at 1)",
    );
    assert_verdict(&status(&conn, a, 7), "wrong_job", "token 7 belongs to job 0, not to job 1");
}

#[test]
fn unknown_job_for_an_id_never_enqueued_or_purged() {
    let conn = db();
    let id = enqueue(&conn, "email", json!({}));
    let token = claim(&conn, "w1", "email").unwrap();
    complete(&conn, id, token);
    enqueue(&conn, "email", json!({})); // purge keeps the highest id
    at(&conn, 100.0);
    one::<i64>(&conn, "SELECT queue_purge('email', 0)");
    assert_verdict(&status(&conn, id, token), "unknown_job", "no job with id 1 (never enqueued, or purged)");
    let v = status(&conn, 99, 99 << 20 | 1);
    assert_eq!((v["reason"].clone(), v["state"].clone()), (json!("unknown_job"), Value::Null));
}

#[test]
fn without_an_audit_trail_the_jobs_row_answers() {
    let conn = db();
    one::<i64>(&conn, r#"SELECT queue_configure('quiet', '{"events": false}')"#);
    let id = enqueue(&conn, "quiet", json!({}));
    let first = claim(&conn, "w1", "quiet").unwrap();
    assert_eq!(status(&conn, id, first)["reason"], "held");
    at(&conn, 31.0);
    claim(&conn, "w2", "quiet").unwrap();
    // No trail: the older lease was replaced, by whom the job's row says.
    assert_verdict(
        &status(&conn, id, first),
        "reclaimed",
        "lease lost: job 1 was claimed again by worker w2 at 2027-01-15T08:00:31.000Z (attempt 2)",
    );
    let second = first + 1;
    one::<String>(&conn, &format!("SELECT queue_fail({id}, {second}, 'nope')"));
    assert_verdict(
        &status(&conn, id, second),
        "failed",
        "this lease already ended: queue_fail at 2027-01-15T08:00:31.000Z (nope); job 1 is ready now",
    );
}

#[test]
fn it_only_reads() {
    let conn = db();
    let id = enqueue(&conn, "email", json!({}));
    let token = claim(&conn, "w1", "email").unwrap();
    at(&conn, 31.0);
    let before: i64 = one(&conn, "SELECT total_changes()");
    let events: i64 = one(&conn, "SELECT count(*) FROM queue_events");
    assert_eq!(status(&conn, id, token)["reason"], "overdue");
    assert_eq!(one::<i64>(&conn, "SELECT total_changes()"), before);
    assert_eq!(one::<i64>(&conn, "SELECT count(*) FROM queue_events"), events, "no lease was expired");
    assert_eq!(one::<String>(&conn, &format!("SELECT state FROM queue_jobs WHERE id = {id}")), "running");
    // Read-only SQL may call it (it is not DIRECTONLY): a view can show every lease's standing.
    conn.execute_batch(
        "CREATE TEMP VIEW standing AS SELECT id, queue_lease_status(id, token) ->> 'reason' AS reason FROM queue_jobs",
    )
    .unwrap();
    assert_eq!(one::<String>(&conn, "SELECT reason FROM standing"), "overdue");
}

#[test]
fn bad_arguments_are_refused_with_the_functions_name() {
    let conn = db();
    let id = enqueue(&conn, "email", json!({}));
    let token = claim(&conn, "w1", "email").unwrap();
    for (sql, error) in [
        ("SELECT queue_lease_status(1)", "queue_lease_status: takes (id, token), got 1 argument"),
        ("SELECT queue_lease_status(1, 2, 3)", "queue_lease_status: takes (id, token), got 3 arguments"),
        ("SELECT queue_lease_status(NULL, 1048577)", "queue_lease_status: id must not be NULL"),
        ("SELECT queue_lease_status(1, NULL)", "queue_lease_status: token must not be NULL"),
        (
            "SELECT queue_lease_status('one', 1048577)",
            "queue_lease_status: id must be an integer, got text 'one'",
        ),
        ("SELECT queue_lease_status(1, 1.5)", "queue_lease_status: token must be an integer, got real 1.5"),
        (
            "SELECT queue_lease_status(1, x'00')",
            "queue_lease_status: token must be an integer, got a blob of 1 bytes",
        ),
        ("SELECT queue_lease_status(-1, 1048577)", "queue_lease_status: id must be >= 0, got -1"),
        ("SELECT queue_lease_status(1, -1048577)", "queue_lease_status: token must be >= 0, got -1048577"),
    ] {
        assert_error(&conn, sql, error);
    }
    // Extremes are answers, not errors.
    assert_eq!(status(&conn, i64::MAX, i64::MAX)["reason"], "unknown_job");
    assert_eq!(status(&conn, id, i64::MAX)["reason"], "wrong_job");
    assert_eq!(status(&conn, 0, 0)["reason"], "unknown_job");
    assert_eq!(status(&conn, id, token)["reason"], "held", "the job is untouched");
    // A database orq never wrote to has no jobs to ask about: it says so.
    assert_error(
        &memory(),
        "SELECT queue_lease_status(1, 1048577)",
        "queue_lease_status: [not_found] this database has no orq schema: no job was ever enqueued here",
    );
}
