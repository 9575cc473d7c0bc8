//! Alert rules: their lifecycle (ok -> pending -> firing -> ok) with the
//! clock fixed, what queue_alerts_check reports, and bad rules refused.

use orq_tests::{assert_error, memory, one, open, rows, Scratch};
use rusqlite::Connection;

fn at(conn: &Connection, t: f64) {
    conn.query_row("SELECT orq_clock(?1)", [t], |_| Ok(())).unwrap();
}

fn run(conn: &Connection, sql: &str) {
    conn.query_row(sql, [], |_| Ok(())).unwrap_or_else(|e| panic!("{sql}: {e}"));
}

fn check(conn: &Connection) -> serde_json::Value {
    serde_json::from_str(&one::<String>(conn, "SELECT queue_alerts_check()")).unwrap()
}

/// The names in a queue_alerts_check result.
fn fired(conn: &Connection) -> Vec<String> {
    check(conn).as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap().to_string()).collect()
}

fn state(conn: &Connection, name: &str) -> String {
    rows(conn, &format!("SELECT state, since, value, fired_at FROM queue_alerts WHERE name = '{name}'"))
        .join("")
}

#[test]
fn a_rule_goes_pending_then_firing_after_its_for_seconds_then_ok() {
    let conn = memory();
    at(&conn, 1000.0);
    assert_eq!(one::<i64>(&conn, "SELECT queue_alert('backlog', 'a', 'ready', '>', 2, 10)"), 1);
    assert_eq!(state(&conn, "backlog"), "ok|NULL|NULL|NULL");
    assert_eq!(fired(&conn), Vec::<String>::new());
    for _ in 0..3 {
        run(&conn, "SELECT queue_enqueue('a', '{}')");
    }
    assert_eq!(fired(&conn), Vec::<String>::new());
    assert_eq!(state(&conn, "backlog"), "pending|1000.0|3.0|NULL");
    at(&conn, 1009.999);
    assert_eq!(fired(&conn), Vec::<String>::new());
    assert_eq!(state(&conn, "backlog"), "pending|1000.0|3.0|NULL");
    at(&conn, 1010.0);
    let report = check(&conn);
    assert_eq!(
        report,
        serde_json::json!([{"name": "backlog", "queue": "a", "metric": "ready", "op": ">", "threshold": 2.0,
                            "value": 3.0, "since": 1000.0}])
    );
    assert_eq!(state(&conn, "backlog"), "firing|1000.0|3.0|1010.0");
    // Still firing: not reported again.
    at(&conn, 1020.0);
    assert_eq!(fired(&conn), Vec::<String>::new());
    assert_eq!(state(&conn, "backlog"), "firing|1000.0|3.0|1010.0");
    // The backlog drains: ok, and fired_at stays as the last time it fired.
    run(&conn, "SELECT count(*) FROM queue_claim('w', 2, 'a')");
    assert_eq!(fired(&conn), Vec::<String>::new());
    assert_eq!(state(&conn, "backlog"), "ok|NULL|1.0|1010.0");
    // Pending that stops holding goes back to ok and starts over.
    run(&conn, "SELECT queue_enqueue('a', '{}'), queue_enqueue('a', '{}')");
    assert_eq!(fired(&conn), Vec::<String>::new());
    assert_eq!(state(&conn, "backlog"), "pending|1020.0|3.0|1010.0");
    run(&conn, "SELECT count(*) FROM queue_claim('w', 1, 'a')");
    at(&conn, 1040.0);
    assert_eq!(fired(&conn), Vec::<String>::new());
    assert_eq!(state(&conn, "backlog"), "ok|NULL|2.0|1010.0");
}

#[test]
fn a_rule_without_for_seconds_fires_at_once_and_check_reports_only_new_ones() {
    let conn = memory();
    at(&conn, 1000.0);
    run(&conn, "SELECT queue_alert('any-ready', NULL, 'ready', '>=', 1)");
    run(&conn, "SELECT queue_alert('b-failing', 'b', 'failed_total', '>', 0)");
    run(&conn, "SELECT queue_alert('no-such-queue', 'zzz', 'ready', '<', 1)");
    run(&conn, "SELECT queue_enqueue('a', '{}')");
    assert_eq!(fired(&conn), vec!["any-ready"]);
    run(&conn, r#"SELECT queue_enqueue('b', '{}', '{"priority":1}')"#);
    let (id, token): (i64, i64) = conn
        .query_row("SELECT id, token FROM queue_claim('w', 1, 'b')", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    run(&conn, &format!("SELECT queue_fail({id}, {token}, 'x')"));
    // any-ready is still firing (a has a job): only the new one is reported.
    assert_eq!(fired(&conn), vec!["b-failing"]);
    assert_eq!(fired(&conn), Vec::<String>::new());
    // Over every queue the value shown is the largest (for >=).
    assert_eq!(state(&conn, "any-ready"), "firing|1000.0|1.0|1000.0");
    // A queue that does not exist has no value, and its rule does not hold.
    assert_eq!(state(&conn, "no-such-queue"), "ok|NULL|NULL|NULL");
    assert_eq!(
        rows(&conn, "SELECT name, queue, metric, op, threshold, for_seconds, state FROM queue_alerts"),
        vec![
            "any-ready|NULL|ready|>=|1.0|0.0|firing",
            "b-failing|b|failed_total|>|0.0|0.0|firing",
            "no-such-queue|zzz|ready|<|1.0|0.0|ok"
        ]
    );
}

#[test]
fn declaring_a_rule_again_keeps_its_state_and_changing_it_starts_over() {
    let conn = memory();
    at(&conn, 1000.0);
    run(&conn, "SELECT queue_enqueue('a', '{}')");
    run(&conn, "SELECT queue_alert('r', 'a', 'ready', '>', 0)");
    assert_eq!(fired(&conn), vec!["r"]);
    run(&conn, "SELECT queue_alert('r', 'a', 'ready', '>', 0)");
    assert_eq!(state(&conn, "r"), "firing|1000.0|1.0|1000.0");
    assert_eq!(fired(&conn), Vec::<String>::new());
    run(&conn, "SELECT queue_alert('r', 'a', 'ready', '>', 0, 5)");
    assert_eq!(state(&conn, "r"), "ok|NULL|NULL|NULL");
    assert_eq!(one::<i64>(&conn, "SELECT queue_alert_remove('r')"), 1);
    assert_eq!(one::<i64>(&conn, "SELECT queue_alert_remove('r')"), 0);
    assert_eq!(one::<String>(&conn, "SELECT queue_alerts_check()"), "[]");
}

#[test]
fn a_check_writes_only_the_rules_and_records_no_events() {
    let conn = memory();
    at(&conn, 1000.0);
    run(&conn, "SELECT queue_enqueue('a', '{}')");
    run(&conn, "SELECT queue_alert('r', 'a', 'enqueued_total', '=', 1)");
    let events: i64 = one(&conn, "SELECT count(*) FROM orq_events");
    assert_eq!(fired(&conn), vec!["r"]);
    assert_eq!(one::<i64>(&conn, "SELECT count(*) FROM orq_events"), events);
    // Inside the caller's transaction it is part of it.
    run(&conn, "SELECT queue_alert('s', 'a', 'ready', '>', 0)");
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    assert_eq!(fired(&conn), vec!["s"]);
    conn.execute_batch("ROLLBACK").unwrap();
    assert_eq!(state(&conn, "s"), "ok|NULL|NULL|NULL");
}

#[test]
fn another_process_that_checks_does_not_report_a_firing_alert_again() {
    let scratch = Scratch::new("alerts-shared");
    let db = scratch.path("q.db");
    let (a, b) = (open(&db), open(&db));
    at(&a, 1000.0);
    at(&b, 1000.0);
    run(&a, "SELECT queue_alert('r', NULL, 'ready', '>', 0)");
    run(&a, "SELECT queue_enqueue('q', '{}')");
    assert_eq!(fired(&b), vec!["r"]);
    assert_eq!(fired(&a), Vec::<String>::new());
    assert_eq!(state(&a, "r"), "firing|1000.0|1.0|1000.0");
}

#[test]
fn bad_rules_are_refused_with_the_function_named_and_nothing_changed() {
    let conn = memory();
    one::<i64>(&conn, "SELECT orq_migrate()");
    let long = "x".repeat(129);
    for (sql, needle) in [
        ("SELECT queue_alert('', 'a', 'ready', '>', 1)", "queue_alert: name must be 1 to 128 characters"),
        (
            &format!("SELECT queue_alert('{long}', 'a', 'ready', '>', 1)"),
            "queue_alert: name must be 1 to 128",
        ),
        ("SELECT queue_alert(NULL, 'a', 'ready', '>', 1)", "queue_alert: name must not be NULL"),
        ("SELECT queue_alert('r', 'a b', 'ready', '>', 1)", "queue_alert: invalid queue name 'a b'"),
        ("SELECT queue_alert('r', 'a', 'nope', '>', 1)", "queue_alert: unknown metric 'nope'"),
        ("SELECT queue_alert('r', 'a', 'run_seconds', '>', 1)", "queue_alert: unknown metric 'run_seconds'"),
        (
            "SELECT queue_alert('r', 'a', 'ready', '=>', 1)",
            "queue_alert: op must be one of > >= < <= = !=, got '=>'",
        ),
        ("SELECT queue_alert('r', 'a', 'ready', '>', NULL)", "queue_alert: threshold must not be NULL"),
        ("SELECT queue_alert('r', 'a', 'ready', '>', 'ten')", "queue_alert: threshold must be a number"),
        (
            "SELECT queue_alert('r', 'a', 'ready', '>', 9e999)",
            "queue_alert: threshold must be a finite number",
        ),
        (
            "SELECT queue_alert('r', 'a', 'ready', '>', 1, -1)",
            "queue_alert: for_seconds must be a number of seconds >= 0",
        ),
        (
            "SELECT queue_alert('r', 'a', 'ready')",
            "queue_alert: takes (name, queue, metric, op, threshold [, for_seconds]), got 3",
        ),
        ("SELECT queue_alert_remove()", "queue_alert_remove: takes (name), got 0"),
        ("SELECT queue_alerts_check(1)", "queue_alerts_check: takes no arguments, got 1"),
    ] {
        assert_error(&conn, sql, needle);
    }
    assert_eq!(one::<i64>(&conn, "SELECT count(*) FROM orq_alerts"), 0);
    // Writers are refused inside views and triggers.
    conn.execute_batch("CREATE VIEW v AS SELECT queue_alerts_check() AS x").unwrap();
    assert_error(&conn, "SELECT * FROM v", "unsafe use of queue_alerts_check()");
}

#[test]
fn before_any_schema_there_are_no_alerts() {
    let conn = memory();
    assert_eq!(one::<String>(&conn, "SELECT queue_alerts_check()"), "[]");
    assert!(rows(&conn, "SELECT * FROM queue_alerts").is_empty());
    assert_eq!(one::<i64>(&conn, "SELECT count(*) FROM sqlite_schema WHERE name = 'orq_alerts'"), 0);
}

#[test]
fn a_check_that_changes_nothing_writes_nothing() {
    // A dashboard checks every few seconds: on an idle queue that must not
    // commit (the WAL would grow, and every watcher would wake).
    let conn = memory();
    at(&conn, 1000.0);
    run(&conn, "SELECT queue_alert('backlog', 'a', 'ready', '>', 0)");
    run(&conn, "SELECT queue_enqueue('a', '{}')");
    assert_eq!(fired(&conn), vec!["backlog"]);
    let before = one::<i64>(&conn, "SELECT total_changes()");
    at(&conn, 1010.0);
    assert_eq!(fired(&conn), Vec::<String>::new());
    assert_eq!(one::<i64>(&conn, "SELECT total_changes()"), before, "an unchanged rule was written");
    run(&conn, "SELECT queue_enqueue('a', '{}')");
    let before = one::<i64>(&conn, "SELECT total_changes()");
    check(&conn);
    assert_eq!(one::<i64>(&conn, "SELECT total_changes()"), before + 1, "its value changed: one row written");
}
