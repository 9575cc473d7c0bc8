//! Every error reaches the caller with its kind (docs/errors.md): SQLite's
//! result code, and for orq's own kinds that share SQLITE_ERROR a token
//! right after the function's name. Scalar functions and table-valued
//! functions alike; each case also checks that nothing changed.

use std::time::Duration;

use orq_tests::corrupt::corrupt;
use orq_tests::{memory, one, open, Scratch};
use rusqlite::{Connection, OpenFlags};

/// The extended result code and the message of a statement that must fail.
fn failure(conn: &Connection, sql: &str) -> (i32, String) {
    let result = conn.prepare(sql).and_then(|mut stmt| {
        let mut rows = stmt.query([])?;
        while rows.next()?.is_some() {}
        Ok(())
    });
    match result {
        Ok(()) => panic!("expected an error from {sql}"),
        Err(rusqlite::Error::SqliteFailure(e, msg)) => (e.extended_code, msg.unwrap_or_default()),
        Err(e) => panic!("{sql}: not a SQLite error: {e:?}"),
    }
}

const ERROR: i32 = 1;
const BUSY: i32 = 5;
const READONLY: i32 = 8;
const CORRUPT: i32 = 11;
const FULL: i32 = 13;
const CONSTRAINT_UNIQUE: i32 = 2067;

#[test]
fn invalid_input_is_sqlite_error_without_a_token() {
    let conn = memory();
    for (sql, message) in [
        ("SELECT queue_claim_json('', 1)", "queue_claim_json: worker must be 1 to 256 bytes"),
        ("SELECT * FROM queue_claim('w', -1)", "queue_claim: n must be from 0 to 100000, got -1"),
        ("SELECT queue_complete('1')", "queue_complete: id must be an integer, got text '1'"),
    ] {
        assert_eq!(failure(&conn, sql), (ERROR, message.to_string()), "{sql}");
    }
}

#[test]
fn an_unknown_job_is_not_found() {
    let conn = memory();
    one::<i64>(&conn, "SELECT queue_enqueue('q', '{}')");
    for function in ["queue_complete", "queue_fail", "queue_release", "queue_cancel", "queue_retry"] {
        assert_eq!(
            failure(&conn, &format!("SELECT {function}(42)")),
            (ERROR, format!("{function}: [not_found] no job with id 42")),
        );
    }
    assert_eq!(
        failure(&conn, "SELECT queue_enqueue('q', '{}', '{\"depends_on\": [9]}')"),
        (ERROR, "queue_enqueue: [not_found] depends_on: no job with id 9".to_string()),
    );
    assert_eq!(
        failure(&conn, "SELECT queue_parent_results(7)"),
        (ERROR, "queue_parent_results: [not_found] no job with id 7".to_string()),
    );
    assert_eq!(one::<i64>(&conn, "SELECT count(*) FROM orq_jobs"), 1);
}

#[test]
fn a_schema_from_a_newer_orq_is_a_schema_error() {
    let conn = memory();
    one::<i64>(&conn, "SELECT orq_migrate()");
    conn.execute("UPDATE orq_meta SET value = 99 WHERE key = 'schema_version'", []).unwrap();
    for (sql, function) in [
        ("SELECT queue_enqueue('q', '{}')", "queue_enqueue"),
        ("SELECT count(*) FROM queue_jobs", "queue_jobs"),
    ] {
        let (code, msg) = failure(&conn, sql);
        assert_eq!(code, ERROR, "{msg}");
        assert!(msg.starts_with(&format!("{function}: [schema] this database has orq schema v99")), "{msg}");
    }
}

#[test]
fn a_damaged_schema_version_is_corrupt() {
    let conn = memory();
    one::<i64>(&conn, "SELECT queue_enqueue('q', '{}')");
    conn.execute("UPDATE orq_meta SET value = -1 WHERE key = 'schema_version'", []).unwrap();
    for sql in ["SELECT queue_enqueue('q', '{}')", "SELECT id FROM queue_claim('w', 1)"] {
        let (code, msg) = failure(&conn, sql);
        assert_eq!(code, CORRUPT, "{sql}: {msg}");
        assert!(msg.contains(": the database is damaged: "), "{msg}");
    }
}

#[test]
fn a_held_write_lock_is_busy() {
    let dir = Scratch::new("errors-busy");
    let db = dir.path("q.db");
    let conn = open(&db);
    one::<i64>(&conn, "SELECT queue_enqueue('q', '{}')");
    conn.busy_timeout(Duration::from_millis(50)).unwrap();
    let other = open(&db);
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    for (sql, function) in [
        ("SELECT queue_enqueue('q', '{}')", "queue_enqueue"),
        ("SELECT id FROM queue_claim('w', 1)", "queue_claim"),
    ] {
        let (code, msg) = failure(&conn, sql);
        assert_eq!(code, BUSY, "{sql}: {msg}");
        assert!(msg.starts_with(&format!("{function}: database is locked")), "{msg}");
    }
    other.execute_batch("ROLLBACK").unwrap();
    assert_eq!(one::<i64>(&conn, "SELECT count(*) FROM orq_jobs WHERE state = 'ready'"), 1);
}

#[test]
fn a_deferred_transaction_that_cannot_write_is_busy() {
    let dir = Scratch::new("errors-snapshot");
    let db = dir.path("q.db");
    let conn = open(&db);
    one::<i64>(&conn, "SELECT queue_enqueue('q', '{}')");
    conn.execute_batch("BEGIN").unwrap();
    one::<i64>(&conn, "SELECT count(*) FROM orq_jobs");
    one::<i64>(&open(&db), "SELECT queue_enqueue('q', '{}')");
    let (code, msg) = failure(&conn, "SELECT queue_enqueue('q', '{}')");
    assert_eq!(code & 0xff, BUSY, "{msg}");
    assert!(msg.contains("start transactions that call orq with BEGIN IMMEDIATE"), "{msg}");
    conn.execute_batch("ROLLBACK").unwrap();
}

#[test]
fn a_key_held_by_another_live_job_is_a_constraint() {
    let conn = memory();
    one::<i64>(&conn, "SELECT queue_enqueue('q', '{}', '{\"key\": \"k\"}')");
    one::<i64>(&conn, "SELECT queue_cancel(1)");
    one::<i64>(&conn, "SELECT queue_enqueue('q', '{}', '{\"key\": \"k\"}')");
    let (code, msg) = failure(&conn, "SELECT queue_retry(1)");
    assert_eq!(code, CONSTRAINT_UNIQUE, "{msg}");
    assert_eq!(msg, "queue_retry: job 1 cannot be retried: another live job of its queue holds its key");
    assert_eq!(one::<String>(&conn, "SELECT state FROM orq_jobs WHERE id = 1"), "cancelled");
}

#[test]
fn a_full_disk_is_full() {
    let dir = Scratch::new("errors-full");
    let db = dir.path("q.db");
    let conn = open(&db);
    one::<i64>(&conn, "SELECT queue_enqueue('q', '{}')");
    let pages: i64 = one(&conn, "PRAGMA page_count");
    one::<i64>(&conn, &format!("PRAGMA max_page_count = {pages}"));
    let big = format!("SELECT queue_enqueue('q', json_array(printf('%.*c', 100000, 'x')))");
    let (code, msg) = failure(&conn, &big);
    assert_eq!(code, FULL, "{msg}");
    assert!(msg.starts_with("queue_enqueue: database or disk is full"), "{msg}");
    assert_eq!(one::<i64>(&conn, "SELECT count(*) FROM orq_jobs"), 1);
}

#[test]
fn a_read_only_database_is_readonly() {
    let dir = Scratch::new("errors-readonly");
    let db = dir.path("q.db");
    one::<i64>(&open(&db), "SELECT queue_enqueue('q', '{}')");
    let conn = Connection::open_with_flags(&db, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    orq_tests::load(&conn);
    for sql in ["SELECT queue_enqueue('q', '{}')", "SELECT id FROM queue_claim('w', 1)"] {
        let (code, msg) = failure(&conn, sql);
        assert_eq!(code & 0xff, READONLY, "{sql}: {msg}");
    }
    assert_eq!(one::<i64>(&conn, "SELECT count(*) FROM orq_jobs WHERE state = 'ready'"), 1);
}

#[test]
fn a_corrupt_database_is_corrupt() {
    let dir = Scratch::new("errors-corrupt");
    let db = dir.path("q.db");
    one::<i64>(&open(&db), "SELECT queue_enqueue('q', '{}')");
    corrupt(&db);
    let conn = open(&db);
    for sql in
        ["SELECT queue_enqueue('q', '{}')", "SELECT id FROM queue_claim('w', 1)", "SELECT * FROM queue_jobs"]
    {
        let (code, msg) = failure(&conn, sql);
        assert_eq!(code & 0xff, CORRUPT, "{sql}: {msg}");
    }
}
