//! queue_health: each check turns warning or critical on what it watches,
//! the status is the worst of them, and bad options are refused.

use orq_tests::{assert_error, memory, one, open, Scratch};
use rusqlite::Connection;
use serde_json::Value;

fn at(conn: &Connection, t: f64) {
    conn.query_row("SELECT orq_clock(?1)", [t], |_| Ok(())).unwrap();
}

fn run(conn: &Connection, sql: &str) {
    conn.query_row(sql, [], |_| Ok(())).unwrap_or_else(|e| panic!("{sql}: {e}"));
}

fn health(conn: &Connection, options: &str) -> Value {
    let sql = if options.is_empty() {
        "SELECT queue_health()".to_string()
    } else {
        format!("SELECT queue_health('{options}')")
    };
    serde_json::from_str(&one::<String>(conn, &sql)).unwrap()
}

/// One check of a report: (status, detail, value).
fn check<'a>(report: &'a Value, name: &str) -> (&'a str, &'a str, &'a Value) {
    let c = report["checks"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap();
    (c["status"].as_str().unwrap(), c["detail"].as_str().unwrap(), &c["value"])
}

#[test]
fn a_fresh_database_is_ok_and_every_check_is_reported_in_order() {
    let conn = memory();
    let report = health(&conn, "");
    assert_eq!(report["status"], "ok");
    let names: Vec<&str> =
        report["checks"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["quick_check", "disk_free", "wal_size", "expired_leases", "dead_workers", "dead_jobs", "alerts"]
    );
    assert_eq!(check(&report, "quick_check"), ("ok", "ok", &Value::from(0)));
    assert_eq!(check(&report, "disk_free"), ("ok", "in-memory", &Value::Null));
    assert_eq!(check(&report, "wal_size"), ("ok", "in-memory", &Value::Null));
    assert_eq!(check(&report, "alerts"), ("ok", "none", &Value::from(0)));
    assert_eq!(
        check(&health(&conn, r#"{"quick_check":false}"#), "quick_check"),
        ("ok", "skipped", &Value::Null)
    );
    // Reading health writes nothing: still no schema.
    assert_eq!(one::<i64>(&conn, "SELECT count(*) FROM sqlite_schema WHERE name GLOB 'orq_*'"), 0);
}

#[test]
fn stuck_and_failed_work_turns_the_status_to_warning() {
    let conn = memory();
    at(&conn, 1000.0);
    run(&conn, r#"SELECT queue_enqueue('q', '{}', '{"max_attempts":1}')"#);
    run(&conn, r#"SELECT queue_enqueue('q', '{}', '{"lease":1}')"#);
    let (id, token): (i64, i64) = conn
        .query_row("SELECT id, token FROM queue_claim('w', 1, 'q')", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert_eq!(id, 1);
    assert_eq!(one::<String>(&conn, &format!("SELECT queue_fail({id}, {token}, 'boom')")), "dead");
    assert_eq!(health(&conn, "")["status"], "warning");
    assert_eq!(check(&health(&conn, ""), "dead_jobs"), ("warning", "1 dead job(s)", &Value::from(1)));
    // dead_warn: how many dead jobs are still fine.
    let tolerant = health(&conn, r#"{"dead_warn":1}"#);
    assert_eq!(tolerant["status"], "ok");
    // A lease that ran out and was not taken back yet.
    run(&conn, "SELECT count(*) FROM queue_claim('w', 1, 'q')");
    at(&conn, 1002.0);
    let report = health(&conn, r#"{"dead_warn":1}"#);
    assert_eq!(report["status"], "warning");
    assert_eq!(check(&report, "expired_leases").0, "warning");
    assert_eq!(check(&report, "expired_leases").2, &Value::from(1));
    // A worker that stopped heartbeating.
    run(&conn, r#"SELECT queue_worker_register('w-9', '{"heartbeat":1}')"#);
    at(&conn, 1010.0);
    let report = health(&conn, r#"{"dead_warn":1}"#);
    assert_eq!(check(&report, "dead_workers"), ("warning", "missed three heartbeats: w-9", &Value::from(1)));
}

#[test]
fn alerts_make_it_warning_while_pending_and_critical_while_firing() {
    let conn = memory();
    at(&conn, 1000.0);
    run(&conn, "SELECT queue_enqueue('q', '{}')");
    run(&conn, "SELECT queue_alert('slow', 'q', 'ready', '>', 0, 60)");
    run(&conn, "SELECT queue_alert('now', 'q', 'ready', '>', 5)");
    // Health reads the stored states: nothing was checked yet.
    assert_eq!(health(&conn, "")["status"], "ok");
    run(&conn, "SELECT queue_alerts_check()");
    let report = health(&conn, "");
    assert_eq!(report["status"], "warning");
    assert_eq!(check(&report, "alerts"), ("warning", "pending: slow", &Value::from(0)));
    at(&conn, 1060.0);
    run(&conn, "SELECT queue_alerts_check()");
    let report = health(&conn, "");
    assert_eq!(report["status"], "critical");
    assert_eq!(check(&report, "alerts"), ("critical", "firing: slow", &Value::from(1)));
}

#[test]
fn disk_and_wal_thresholds_come_from_the_options() {
    let scratch = Scratch::new("health");
    let conn = open(&scratch.path("q.db"));
    at(&conn, 1000.0);
    run(&conn, "SELECT queue_enqueue('q', '{}')");
    let relaxed = health(&conn, r#"{"disk_warn_mb":0,"disk_crit_mb":0}"#);
    let (status, detail, free) = check(&relaxed, "disk_free");
    assert_eq!(status, "ok");
    assert!(detail.contains("MB free in"), "{detail}");
    assert!(free.as_u64().unwrap() > 0);
    let tight = health(&conn, r#"{"disk_warn_mb":1e12,"disk_crit_mb":0}"#);
    assert_eq!(check(&tight, "disk_free").0, "warning");
    assert_eq!(tight["status"], "warning");
    let full = health(&conn, r#"{"disk_warn_mb":1e12,"disk_crit_mb":1e12}"#);
    assert_eq!(check(&full, "disk_free").0, "critical");
    assert_eq!(full["status"], "critical");
    // The WAL has the enqueue in it.
    let wal = health(&conn, r#"{"wal_warn_mb":0,"disk_warn_mb":0,"disk_crit_mb":0}"#);
    let (status, _, bytes) = check(&wal, "wal_size");
    assert_eq!(status, "warning");
    assert_eq!(bytes.as_u64().unwrap(), std::fs::metadata(scratch.path("q.db-wal")).unwrap().len());
    assert_eq!(check(&health(&conn, r#"{"disk_warn_mb":0,"disk_crit_mb":0}"#), "wal_size").0, "ok");
}

#[test]
fn bad_options_are_refused_with_the_function_named() {
    let conn = memory();
    for (sql, needle) in [
        (r#"SELECT queue_health('{"disk":1}')"#, "queue_health: unknown option 'disk' (known: disk_warn_mb,"),
        ("SELECT queue_health('[1]')", "queue_health: options must be a JSON object"),
        ("SELECT queue_health('{')", "queue_health: options must be a JSON object"),
        (r#"SELECT queue_health('{"dead_warn":-1}')"#, "queue_health: dead_warn must be an integer >= 0"),
        (r#"SELECT queue_health('{"dead_warn":1.5}')"#, "queue_health: dead_warn must be an integer >= 0"),
        (
            r#"SELECT queue_health('{"disk_warn_mb":"1"}')"#,
            "queue_health: disk_warn_mb must be a number of megabytes",
        ),
        (
            r#"SELECT queue_health('{"wal_warn_mb":-1}')"#,
            "queue_health: wal_warn_mb must be a number of megabytes",
        ),
        (r#"SELECT queue_health('{"quick_check":1}')"#, "queue_health: quick_check must be true or false"),
        ("SELECT queue_health(5)", "queue_health: options must be text"),
        ("SELECT queue_health('{}', 1)", "queue_health: takes ([options]), got 2 arguments"),
    ] {
        assert_error(&conn, sql, needle);
    }
}
