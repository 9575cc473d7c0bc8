//! One test per SQL function of liborq, loaded into rusqlite: what it does,
//! and how it refuses bad input (an error naming the function, no change).

use orq_tests::{assert_error, error_of, memory, one, rows};
use rusqlite::Connection;

/// A connection whose queue clock is fixed at t = 1000 s.
fn db() -> Connection {
    let conn = memory();
    conn.query_row("SELECT orq_clock(1000)", [], |_| Ok(())).unwrap();
    conn
}

/// queue_stats.retention of a queue never configured: done and cancelled
/// jobs are kept 7 days, dead ones 30.
const DEFAULT_RETENTION: &str = r#"{"done":604800.0,"dead":2592000.0,"cancelled":604800.0}"#;

fn enqueue(conn: &Connection, queue: &str, options: &str) -> i64 {
    conn.query_row("SELECT queue_enqueue(?1, '{}', ?2)", [queue, options], |r| r.get(0)).unwrap()
}

/// Claims one job from `queue` as `worker`: (id, token).
fn claim(conn: &Connection, worker: &str, queue: &str) -> Option<(i64, i64)> {
    conn.query_row("SELECT id, token FROM queue_claim(?1, 1, ?2)", [worker, queue], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })
    .ok()
}

fn state(conn: &Connection, id: i64) -> String {
    conn.query_row("SELECT state FROM queue_jobs WHERE id = ?1", [id], |r| r.get(0)).unwrap()
}

fn jobs_count(conn: &Connection) -> i64 {
    one(conn, "SELECT count(*) FROM queue_jobs")
}

#[test]
fn orq_version_names_the_release() {
    let conn = memory();
    let v: String = one(&conn, "SELECT orq_version()");
    assert!(v.starts_with('v') && v.split('.').count() == 3, "{v}");
    assert_error(&conn, "SELECT orq_version(1)", "orq_version: takes no arguments, got 1 argument");
}

#[test]
fn orq_debug_reports_versions_and_settings() {
    let conn = memory();
    let d: serde_json::Value = serde_json::from_str(&one::<String>(&conn, "SELECT orq_debug()")).unwrap();
    for key in [
        "version",
        "git_commit",
        "sqlite_version",
        "schema_version",
        "schema_latest",
        "journal_mode",
        "synchronous",
        "busy_timeout_ms",
        "cache_size",
        "mmap_size",
        "temp_store",
        "wal_autocheckpoint",
        "turn_file",
    ] {
        assert!(d.get(key).is_some(), "orq_debug() lacks {key}: {d}");
    }
    assert_eq!(d["schema_version"], 0, "no schema before the first write");
    one::<i64>(&conn, "SELECT queue_enqueue('q', '{}')");
    let d: serde_json::Value = serde_json::from_str(&one::<String>(&conn, "SELECT orq_debug()")).unwrap();
    assert_eq!(d["schema_version"], d["schema_latest"]);
}

#[test]
fn orq_now_follows_the_wall_clock_unless_fixed() {
    let conn = memory();
    let wall = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    let now: f64 = one(&conn, "SELECT orq_now()");
    assert!((now - wall).abs() < 5.0, "{now} vs {wall}");
    conn.query_row("SELECT orq_clock(1234.5678)", [], |_| Ok(())).unwrap();
    assert_eq!(one::<f64>(&conn, "SELECT orq_now()"), 1234.568, "millisecond resolution");
}

#[test]
fn orq_clock_fixes_and_releases_this_connections_clock() {
    let conn = memory();
    assert_eq!(one::<f64>(&conn, "SELECT orq_clock(50)"), 50.0);
    let id = enqueue(&conn, "q", r#"{"delay":10}"#);
    assert_eq!(one::<f64>(&conn, &format!("SELECT run_at FROM queue_jobs WHERE id = {id}")), 60.0);
    assert!(claim(&conn, "w", "q").is_none(), "not due at t=50");
    conn.query_row("SELECT orq_clock(60)", [], |_| Ok(())).unwrap();
    assert!(claim(&conn, "w", "q").is_some(), "due at t=60");
    let back: f64 = one(&conn, "SELECT orq_clock(NULL)");
    assert!(back > 1.7e9, "NULL returns to the wall clock: {back}");
    assert_error(&conn, "SELECT orq_clock(-1)", "orq_clock: t must be unix seconds between 0 and");
    assert_error(&conn, "SELECT orq_clock('soon')", "orq_clock: t must be a number, got text 'soon'");
    assert_error(&conn, "SELECT orq_clock()", "orq_clock: takes (unix_seconds or NULL), got 0 arguments");
    // Another connection keeps the wall clock.
    let other = memory();
    assert!(one::<f64>(&other, "SELECT orq_now()") > 1.7e9);
}

#[test]
fn orq_migrate_creates_the_schema_once() {
    let conn = memory();
    assert_eq!(one::<i64>(&conn, "SELECT count(*) FROM sqlite_master WHERE name = 'orq_jobs'"), 0);
    let v: i64 = one(&conn, "SELECT orq_migrate()");
    assert_eq!(one::<i64>(&conn, "SELECT count(*) FROM sqlite_master WHERE name = 'orq_jobs'"), 1);
    assert_eq!(one::<i64>(&conn, "SELECT orq_migrate()"), v);
    assert_eq!(one::<i64>(&conn, "SELECT value FROM orq_meta WHERE key = 'schema_version'"), v);
}

#[test]
fn orq_backoff_ms_is_exponential_capped_and_deterministic() {
    let conn = memory();
    let plain = r#"'{"base":1,"factor":2,"max":5,"jitter":false}'"#;
    let d: Vec<i64> =
        (1..=5).map(|a| one(&conn, &format!("SELECT orq_backoff_ms(7, {a}, {plain})"))).collect();
    assert_eq!(d, vec![1000, 2000, 4000, 5000, 5000]);
    for attempt in 1..5 {
        let a: i64 = one(&conn, &format!("SELECT orq_backoff_ms(42, {attempt})"));
        let b: i64 = one(&conn, &format!("SELECT orq_backoff_ms(42, {attempt})"));
        assert_eq!(a, b, "same (id, attempt), same delay");
        let full = 1000 * (1 << (attempt - 1));
        assert!(a >= full / 2 && a <= full, "jitter keeps {a} within [{}, {full}]", full / 2);
    }
    assert_error(
        &conn,
        "SELECT orq_backoff_ms(1, 1, '{\"base\":0}')",
        "orq_backoff_ms: backoff.base must be more than 0",
    );
    assert_error(&conn, "SELECT orq_backoff_ms(1)", "orq_backoff_ms: takes (job_id, attempt [, backoff])");
}

#[test]
fn queue_enqueue_stores_jobs_with_their_options() {
    let conn = db();
    assert_eq!(one::<i64>(&conn, "SELECT queue_enqueue('email', '{\"to\":\"a@b.c\"}')"), 1);
    assert_eq!(enqueue(&conn, "email", r#"{"priority":5,"delay":2.5,"max_attempts":2,"lease":0.5}"#), 2);
    assert_eq!(enqueue(&conn, "email", r#"{"run_at":5000,"backoff":{"base":3,"jitter":false}}"#), 3);
    assert_eq!(
        rows(&conn, "SELECT id, queue, state, priority, attempts, max_attempts, run_at, lease, created_at FROM queue_jobs ORDER BY id"),
        vec![
            "1|email|ready|0|0|5|1000.0|30.0|1000.0",
            "2|email|ready|5|0|2|1002.5|0.5|1000.0",
            "3|email|ready|0|0|5|5000.0|30.0|1000.0",
        ]
    );
    assert_eq!(one::<String>(&conn, "SELECT payload FROM queue_jobs WHERE id = 1"), r#"{"to":"a@b.c"}"#);
    assert!(one::<String>(&conn, "SELECT backoff FROM queue_jobs WHERE id = 3").contains("\"base\":3.0"));
    // Numbers are JSON too.
    let id = one::<i64>(&conn, "SELECT queue_enqueue('n', 42)");
    assert_eq!(one::<String>(&conn, &format!("SELECT payload FROM queue_jobs WHERE id = {id}")), "42");
}

#[test]
fn queue_enqueue_key_returns_the_live_job() {
    let conn = db();
    let a = enqueue(&conn, "q", r#"{"key":"order-7"}"#);
    assert_eq!(enqueue(&conn, "q", r#"{"key":"order-7","priority":9}"#), a, "same key, same job");
    assert_eq!(one::<i64>(&conn, "SELECT priority FROM queue_jobs WHERE id = 1"), 0, "and nothing changed");
    assert_ne!(enqueue(&conn, "other", r#"{"key":"order-7"}"#), a, "keys are per queue");
    let (id, token) = claim(&conn, "w", "q").unwrap();
    assert_eq!(enqueue(&conn, "q", r#"{"key":"order-7"}"#), a, "a running job still holds its key");
    conn.query_row("SELECT queue_complete(?1, ?2)", [id, token], |_| Ok(())).unwrap();
    assert_ne!(enqueue(&conn, "q", r#"{"key":"order-7"}"#), a, "a finished job releases it");
}

#[test]
fn queue_enqueue_batches_with_json_each() {
    let conn = db();
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    let n: i64 = conn
        .query_row(
            "SELECT count(queue_enqueue('bulk', value)) FROM json_each(?1)",
            [r#"[{"n":1},{"n":2},3,[4]]"#],
            |r| r.get(0),
        )
        .unwrap();
    conn.execute_batch("COMMIT").unwrap();
    assert_eq!(n, 4);
    assert_eq!(
        rows(&conn, "SELECT payload FROM queue_jobs ORDER BY id"),
        vec![r#"{"n":1}"#, r#"{"n":2}"#, "3", "[4]"]
    );
    // json_each hands out string elements unquoted: json_quote() makes them JSON again.
    assert_error(
        &conn,
        r#"SELECT queue_enqueue('bulk', value) FROM json_each('["x"]')"#,
        "payload is not valid JSON",
    );
    one::<i64>(&conn, r#"SELECT queue_enqueue('bulk', json_quote(value)) FROM json_each('["x"]')"#);
    assert_eq!(one::<String>(&conn, "SELECT payload FROM queue_jobs WHERE id = 5"), r#""x""#);
}

#[test]
fn queue_enqueue_many_stores_a_batch_in_one_statement() {
    let conn = db();
    enqueue(&conn, "q", "{}");
    // Each payload as written: whitespace, a string, a real's digits, null.
    let payloads = r#"[{"n": 1}, "x", 1.10, null, [2, {"deep": [3.0]}], 12345678901234567890]"#;
    let ids: String = conn
        .query_row("SELECT queue_enqueue_many('bulk', ?1, '{\"priority\":3}')", [payloads], |r| r.get(0))
        .unwrap();
    assert_eq!(ids, "[2,3,4,5,6,7]", "consecutive ids, in array order");
    assert_eq!(
        rows(&conn, "SELECT payload || '|' || priority || '|' || state FROM queue_jobs WHERE queue = 'bulk' ORDER BY id"),
        vec![
            r#"{"n": 1}|3|ready"#,
            r#""x"|3|ready"#,
            "1.10|3|ready",
            "null|3|ready",
            r#"[2, {"deep": [3.0]}]|3|ready"#,
            "12345678901234567890|3|ready",
        ]
    );
    assert_eq!(
        one::<i64>(&conn, "SELECT count(*) FROM queue_events WHERE queue = 'bulk' AND type = 'enqueued'"),
        6,
        "each job records its event"
    );
    assert_eq!(one::<String>(&conn, "SELECT queue_enqueue_many('bulk', '[]')"), "[]");
    // Dependencies: every job of the batch waits for the parent.
    let parent = enqueue(&conn, "p", "{}");
    let ids: String = conn
        .query_row(
            "SELECT queue_enqueue_many('kids', '[1, 2]', ?1)",
            [format!(r#"{{"depends_on":[{parent}]}}"#)],
            |r| r.get(0),
        )
        .unwrap();
    let kids: Vec<i64> = serde_json::from_str(&ids).unwrap();
    assert_eq!(kids, vec![parent + 1, parent + 2]);
    assert_eq!(rows(&conn, "SELECT state FROM queue_jobs WHERE queue = 'kids'"), vec!["waiting", "waiting"]);
    let (id, token) = claim(&conn, "w", "p").unwrap();
    conn.query_row("SELECT queue_complete(?1, ?2)", [id, token], |_| Ok(())).unwrap();
    assert_eq!(rows(&conn, "SELECT state FROM queue_jobs WHERE queue = 'kids'"), vec!["ready", "ready"]);
}

#[test]
fn queue_enqueue_many_rejects_bad_input_and_stores_nothing() {
    let conn = db();
    enqueue(&conn, "q", "{}");
    for (sql, needle) in [
        (r#"SELECT queue_enqueue_many('q', '{"n":1}')"#, "queue_enqueue_many: payloads must be a JSON array of payloads (invalid type: map, expected a sequence"),
        ("SELECT queue_enqueue_many('q', '[{}, {bad]')", "queue_enqueue_many: payloads must be a JSON array"),
        ("SELECT queue_enqueue_many('q', NULL)", "queue_enqueue_many: payloads must not be NULL"),
        ("SELECT queue_enqueue_many('q', 5)", "queue_enqueue_many: payloads must be text, got integer 5"),
        ("SELECT queue_enqueue_many('bad name', '[]')", "queue_enqueue_many: invalid queue name 'bad name'"),
        (r#"SELECT queue_enqueue_many('q', '[1]', '{"key":"k"}')"#, "queue_enqueue_many: option 'key' names one job"),
        (r#"SELECT queue_enqueue_many('q', '[1]', '{"prio":1}')"#, "queue_enqueue_many: unknown option 'prio'"),
        (r#"SELECT queue_enqueue_many('q', '[1, 2]', '{"depends_on":[99]}')"#, "queue_enqueue_many: [not_found] depends_on: no job with id 99"),
        ("SELECT queue_enqueue_many('q')", "queue_enqueue_many: takes (queue, payloads [, options]), got 1 argument"),
    ] {
        assert_error(&conn, sql, needle);
    }
    assert_eq!(jobs_count(&conn), 1, "nothing stored");
    assert_eq!(one::<i64>(&conn, "SELECT count(*) FROM queue_events"), 1);
    // Past the largest id SQLite numbers rows at random: the ids returned would be wrong.
    conn.execute("UPDATE orq_jobs SET id = 9223372036854775806", []).unwrap();
    assert_error(&conn, "SELECT queue_enqueue_many('q', '[1, 2]')", "queue_enqueue_many: job ids run out");
    assert_eq!(one::<String>(&conn, "SELECT queue_enqueue_many('q', '[1]')"), "[9223372036854775807]");
}

/// Which error an options object with several problems gets: an unknown key
/// first, wherever it stands (the likelier typo, and its message lists the
/// known keys), then the values in the documented order of the keys.
#[test]
fn option_objects_report_an_unknown_key_first() {
    let conn = db();
    enqueue(&conn, "q", "{}");
    for (sql, message) in [
        (
            r#"SELECT queue_enqueue('q', '{}', '{"priority":1e12,"urgency":1}')"#,
            "queue_enqueue: unknown option 'urgency' (known: priority, delay, run_at, max_attempts, lease, \
             backoff, key, key_scope, debounce, follow_up, group, same_worker_as, same_worker_wait, timeout, requires, worker, not_workers, depends_on, on_parent_failure)",
        ),
        (
            r#"SELECT queue_enqueue('q', '{}', '{"delay":-1,"priority":1.5}')"#,
            "queue_enqueue: priority must be an integer, got 1.5",
        ),
        (
            r#"SELECT queue_enqueue('q', '{}', '{"priority":1,"priority":2}')"#,
            "queue_enqueue: option 'priority' is given twice",
        ),
        (
            r#"SELECT queue_enqueue('q', '{}', '{"backoff":{"base":0,"wat":1}}')"#,
            "queue_enqueue: unknown backoff key 'wat' (known: base, factor, max, jitter)",
        ),
        (
            r#"SELECT queue_enqueue('q', '{}', '{"backoff":[1, 2]}')"#,
            r#"queue_enqueue: backoff must be an object like {"base":1,"factor":2}, got [1,2]"#,
        ),
        (r#"SELECT queue_enqueue('q', '{}', '[5]')"#, "queue_enqueue: options must be a JSON object, got [5]"),
        (
            r#"SELECT queue_health('{"dead_warn":-1,"disk":1}')"#,
            "queue_health: unknown option 'disk' (known: disk_warn_mb, disk_crit_mb, wal_warn_mb, dead_warn, \
             quick_check)",
        ),
        (
            r#"SELECT queue_configure('q', '{"events":"yes","evnts":true}')"#,
            "queue_configure: unknown setting 'evnts' (known: events, retention, max_running, group_max_running, rate, group_rate)",
        ),
        (
            r#"SELECT queue_configure('q', '{"retention":{"done":-1,"running":5}}')"#,
            "queue_configure: retention: unknown state 'running' (known: done, dead, cancelled)",
        ),
        (
            r#"SELECT queue_worker_register('w', '{"pid":-1,"heartbeet":1}')"#,
            "queue_worker_register: unknown key 'heartbeet' (known: host, pid, queues, capabilities, \
             concurrency, heartbeat, info)",
        ),
        (
            r#"SELECT queue_record_run(1, 1, '{"outcome":"done","cpu":null}')"#,
            "queue_record_run: unknown key 'cpu' (known: outcome, exit_code, wall, user, sys, max_rss_kb)",
        ),
        (
            r#"SELECT queue_complete_many('[{"id":"x","tok":2}]')"#,
            "queue_complete_many: jobs[0]: unknown key 'tok' (known: id, token, result)",
        ),
    ] {
        assert_eq!(error_of(&conn, sql), message, "{sql}");
    }
    assert_eq!(jobs_count(&conn), 1, "nothing stored");
}

#[test]
fn queue_enqueue_rejects_bad_input_and_changes_nothing() {
    let conn = db();
    enqueue(&conn, "q", "{}");
    for (sql, needle) in [
        ("SELECT queue_enqueue('q', '{bad')", "queue_enqueue: payload is not valid JSON"),
        (
            "SELECT queue_enqueue('q', NULL)",
            "queue_enqueue: payload must not be NULL (for a JSON null pass 'null')",
        ),
        (
            "SELECT queue_enqueue('q', x'00')",
            "queue_enqueue: payload must be JSON text, got a blob of 1 bytes",
        ),
        ("SELECT queue_enqueue(NULL, '{}')", "queue_enqueue: queue must not be NULL"),
        ("SELECT queue_enqueue(7, '{}')", "queue_enqueue: queue must be text, got integer 7"),
        ("SELECT queue_enqueue('has space', '{}')", "queue_enqueue: invalid queue name 'has space'"),
        (
            "SELECT queue_enqueue('q', '{}', '{\"prio\":1}')",
            "queue_enqueue: unknown option 'prio' (known: priority",
        ),
        ("SELECT queue_enqueue('q', '{}', '[1]')", "queue_enqueue: options must be a JSON object"),
        (
            "SELECT queue_enqueue('q', '{}', '{\"delay\":-1}')",
            "queue_enqueue: delay must be a number of seconds >= 0",
        ),
        (
            "SELECT queue_enqueue('q', '{}', '{\"delay\":1e10}')",
            "queue_enqueue: delay of 10000000000 seconds is more than ten years",
        ),
        (
            "SELECT queue_enqueue('q', '{}', '{\"delay\":1,\"run_at\":2}')",
            "queue_enqueue: give either delay or run_at",
        ),
        (
            "SELECT queue_enqueue('q', '{}', '{\"max_attempts\":0}')",
            "queue_enqueue: max_attempts must be from 1 to 1000000, got 0",
        ),
        (
            "SELECT queue_enqueue('q', '{}', '{\"priority\":\"high\"}')",
            "queue_enqueue: priority must be an integer, got \"high\"",
        ),
        (
            "SELECT queue_enqueue('q', '{}', '{\"lease\":0}')",
            "queue_enqueue: lease must be at least 0.001 seconds",
        ),
        (
            "SELECT queue_enqueue('q', '{}', '{\"backoff\":{\"factor\":0}}')",
            "queue_enqueue: backoff.factor must be a number from 1 to 100",
        ),
        ("SELECT queue_enqueue('q', '{}', '{\"key\":7}')", "queue_enqueue: key must be a string, got 7"),
        ("SELECT queue_enqueue('q')", "queue_enqueue: takes (queue, payload [, options]), got 1 argument"),
    ] {
        assert_error(&conn, sql, needle);
    }
    assert_eq!(jobs_count(&conn), 1, "no failed call stored a job");
}

#[test]
fn queue_claim_leases_due_jobs_in_priority_then_time_order() {
    let conn = db();
    enqueue(&conn, "q", "{}"); // 1
    enqueue(&conn, "q", r#"{"priority":5}"#); // 2
    enqueue(&conn, "q", r#"{"run_at":999}"#); // 3: due earlier than 1
    enqueue(&conn, "q", r#"{"delay":60}"#); // 4: not due
    enqueue(&conn, "other", r#"{"priority":9}"#); // 5: another queue
    let got = rows(&conn, "SELECT id, queue, attempt, lease_until FROM queue_claim('w1', 10, 'q')");
    assert_eq!(got, vec!["2|q|1|1030.0", "3|q|1|1030.0", "1|q|1|1030.0"]);
    assert_eq!(state(&conn, 4), "ready");
    assert_eq!(one::<String>(&conn, "SELECT worker FROM queue_jobs WHERE id = 2"), "w1");
    // Without a queue, every queue; tokens are unique to each lease.
    let got = rows(&conn, "SELECT id, token FROM queue_claim('w2', 10)");
    assert_eq!(got.len(), 1);
    assert!(got[0].starts_with("5|"));
    let tokens: Vec<i64> = conn
        .prepare("SELECT token FROM queue_jobs WHERE token IS NOT NULL")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|t| t.unwrap())
        .collect();
    let mut unique = tokens.clone();
    unique.dedup();
    assert_eq!(tokens.len(), 4);
    assert_eq!(unique.len(), 4);
}

#[test]
fn queue_claim_takes_lists_of_queues_lease_overrides_and_zero() {
    let conn = db();
    for q in ["a", "b", "c"] {
        enqueue(&conn, q, "{}");
    }
    assert!(rows(&conn, "SELECT id FROM queue_claim('w', 0)").is_empty(), "n = 0 claims nothing");
    assert_eq!(jobs_count(&conn), 3);
    let got = rows(&conn, r#"SELECT queue, lease_until FROM queue_claim('w', 10, '["a","c"]', 2.5)"#);
    assert_eq!(got, vec!["a|1002.5", "c|1002.5"]);
    assert_eq!(state(&conn, 2), "ready");
}

#[test]
fn queue_claim_skips_paused_queues() {
    let conn = db();
    enqueue(&conn, "a", "{}");
    enqueue(&conn, "b", "{}");
    one::<i64>(&conn, "SELECT queue_pause('a')");
    assert_eq!(rows(&conn, "SELECT queue FROM queue_claim('w', 10)"), vec!["b"]);
    assert!(claim(&conn, "w", "a").is_none());
    one::<i64>(&conn, "SELECT queue_resume('a')");
    assert!(claim(&conn, "w", "a").is_some());
}

#[test]
fn queue_claim_reclaims_expired_leases_counting_the_lost_attempt() {
    let conn = db();
    let id = enqueue(&conn, "q", r#"{"max_attempts":2,"lease":10}"#);
    let (_, t1) = claim(&conn, "w1", "q").unwrap();
    assert!(claim(&conn, "w2", "q").is_none(), "leased until 1010");
    conn.query_row("SELECT orq_clock(1010)", [], |_| Ok(())).unwrap();
    let (_, t2) = claim(&conn, "w2", "q").unwrap();
    assert!(t2 > t1, "a new lease, a larger token");
    assert_eq!(one::<i64>(&conn, "SELECT attempts FROM queue_jobs WHERE id = 1"), 2);
    conn.query_row("SELECT orq_clock(1020)", [], |_| Ok(())).unwrap();
    assert!(claim(&conn, "w3", "q").is_none(), "the last attempt expired: dead, not claimable");
    assert_eq!(
        rows(&conn, &format!("SELECT state, error, finished_at FROM queue_jobs WHERE id = {id}")),
        vec!["dead|lease expired|1020.0"]
    );
}

#[test]
fn queue_claim_rejects_bad_arguments() {
    let conn = db();
    enqueue(&conn, "q", "{}");
    for (sql, needle) in [
        ("SELECT * FROM queue_claim('w', -1)", "queue_claim: n must be from 0 to 100000, got -1"),
        ("SELECT * FROM queue_claim('w', NULL)", "queue_claim: n must not be NULL"),
        ("SELECT * FROM queue_claim('w', 'ten')", "queue_claim: n must be an integer, got text 'ten'"),
        ("SELECT * FROM queue_claim('w', 1e9)", "queue_claim: n must be from 0 to 100000"),
        ("SELECT * FROM queue_claim('', 1)", "queue_claim: worker must be 1 to 256 bytes"),
        ("SELECT * FROM queue_claim('w')", "queue_claim: takes (worker, n [, queue [, lease]])"),
        ("SELECT * FROM queue_claim('w', 1, 'bad name')", "queue_claim: invalid queue name 'bad name'"),
        ("SELECT * FROM queue_claim('w', 1, '[]')", "queue_claim: queue list is empty"),
        (
            "SELECT * FROM queue_claim('w', 1, '[1')",
            "queue_claim: queue must be a name or a JSON array of names",
        ),
        ("SELECT * FROM queue_claim('w', 1, NULL, 0)", "queue_claim: lease must be at least 0.001 seconds"),
    ] {
        assert_error(&conn, sql, needle);
    }
    assert_eq!(state(&conn, 1), "ready", "no failed claim leased anything");
}

#[test]
fn queue_claim_json_returns_the_same_jobs_as_json() {
    let conn = db();
    conn.query_row("SELECT queue_enqueue('q', '{\"n\":1}', '{\"priority\":3}')", [], |_| Ok(())).unwrap();
    let text: String = one(&conn, "SELECT queue_claim_json('w', 5, 'q')");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v[0]["id"], 1);
    assert_eq!(v[0]["payload"]["n"], 1, "the payload is embedded as JSON");
    assert_eq!(v[0]["attempt"], 1);
    assert_eq!(v[0]["priority"], 3);
    assert_eq!(v[0]["lease_until"], 1030.0);
    assert_eq!(one::<String>(&conn, "SELECT queue_claim_json('w', 5)"), "[]");
    assert_error(&conn, "SELECT queue_claim_json('w', -5)", "queue_claim_json: n must be from 0");
}

#[test]
fn queue_complete_needs_the_current_token() {
    let conn = db();
    let id = enqueue(&conn, "q", "{}");
    assert_eq!(one::<i64>(&conn, &format!("SELECT queue_complete({id})")), 0, "a ready job is not completed");
    let (_, token) = claim(&conn, "w", "q").unwrap();
    assert_eq!(one::<i64>(&conn, &format!("SELECT queue_complete({id}, {})", token + 1)), 0, "wrong token");
    assert_eq!(one::<i64>(&conn, &format!("SELECT queue_complete({id}, {token}, '{{\"ok\":true}}')")), 1);
    assert_eq!(
        rows(
            &conn,
            &format!("SELECT state, result, finished_at, lease_until FROM queue_jobs WHERE id = {id}")
        ),
        vec![r#"done|{"ok":true}|1000.0|NULL"#]
    );
    assert_eq!(one::<i64>(&conn, &format!("SELECT queue_complete({id}, {token})")), 0, "only once");
    // Without a token, any running job.
    let id2 = enqueue(&conn, "q", "{}");
    claim(&conn, "w", "q").unwrap();
    assert_eq!(one::<i64>(&conn, &format!("SELECT queue_complete({id2})")), 1);
    assert_error(&conn, "SELECT queue_complete(99)", "queue_complete: [not_found] no job with id 99");
    assert_error(&conn, "SELECT queue_complete('1')", "queue_complete: id must be an integer, got text '1'");
    assert_error(&conn, "SELECT queue_complete(NULL)", "queue_complete: id must not be NULL");
    assert_error(
        &conn,
        &format!("SELECT queue_complete({id2}, NULL, '{{no')"),
        "queue_complete: result is not valid JSON",
    );
}

#[test]
fn queue_fail_retries_with_backoff_then_dead_letters() {
    let conn = db();
    let id = enqueue(&conn, "q", r#"{"max_attempts":3}"#);
    let (_, t) = claim(&conn, "w", "q").unwrap();
    assert_eq!(one::<String>(&conn, &format!("SELECT queue_fail({id}, {t}, 'boom')")), "ready");
    let delay: i64 = one(&conn, &format!("SELECT orq_backoff_ms({id}, 1)"));
    assert_eq!(
        rows(&conn, &format!("SELECT state, error, run_at FROM queue_jobs WHERE id = {id}")),
        vec![format!("ready|boom|{}", 1000.0 + delay as f64 / 1000.0)]
    );
    assert!(claim(&conn, "w", "q").is_none(), "not before the backoff");
    conn.query_row("SELECT orq_clock(2000)", [], |_| Ok(())).unwrap();
    let (_, t) = claim(&conn, "w", "q").unwrap();
    assert_eq!(one::<String>(&conn, &format!("SELECT queue_fail({id}, {t}, 'again', 0.25)")), "ready");
    assert_eq!(
        one::<f64>(&conn, &format!("SELECT run_at FROM queue_jobs WHERE id = {id}")),
        2000.25,
        "retry_in wins"
    );
    conn.query_row("SELECT orq_clock(2001)", [], |_| Ok(())).unwrap();
    let (_, t) = claim(&conn, "w", "q").unwrap();
    assert_eq!(one::<String>(&conn, &format!("SELECT queue_fail({id}, {t}, 'last')")), "dead");
    assert_eq!(
        rows(&conn, &format!("SELECT state, attempts, error FROM queue_jobs WHERE id = {id}")),
        vec!["dead|3|last"]
    );
    assert_eq!(
        one::<Option<String>>(&conn, &format!("SELECT queue_fail({id}, {t})")),
        None,
        "not running: NULL"
    );
    assert_error(&conn, "SELECT queue_fail(99)", "queue_fail: [not_found] no job with id 99");
    assert_error(
        &conn,
        &format!("SELECT queue_fail({id}, {t}, 'x', -1)"),
        "queue_fail: retry_in must be a number of seconds >= 0",
    );
    assert_error(
        &conn,
        &format!("SELECT queue_fail({id}, {t}, 5)"),
        "queue_fail: error must be text, got integer 5",
    );
}

#[test]
fn queue_extend_moves_the_lease_for_its_holder_only() {
    let conn = db();
    let id = enqueue(&conn, "q", r#"{"lease":10}"#);
    let (_, t) = claim(&conn, "w", "q").unwrap();
    conn.query_row("SELECT orq_clock(1008)", [], |_| Ok(())).unwrap();
    assert_eq!(one::<f64>(&conn, &format!("SELECT queue_extend({id}, {t}, 20)")), 1028.0);
    conn.query_row("SELECT orq_clock(1020)", [], |_| Ok(())).unwrap();
    assert!(claim(&conn, "w2", "q").is_none(), "the extended lease holds");
    assert_eq!(one::<Option<f64>>(&conn, &format!("SELECT queue_extend({id}, {}, 20)", t + 1)), None);
    for (args, needle) in [
        ("0", "queue_extend: seconds must be at least 0.001 seconds"),
        ("-5", "queue_extend: seconds must be a number of seconds >= 0"),
        ("1e12", "queue_extend: seconds of 1000000000000 seconds is more than ten years"),
        ("NULL", "queue_extend: seconds must not be NULL"),
    ] {
        assert_error(&conn, &format!("SELECT queue_extend({id}, {t}, {args})"), needle);
    }
    assert_error(&conn, "SELECT queue_extend(99, 1, 5)", "queue_extend: [not_found] no job with id 99");
    assert_error(
        &conn,
        "SELECT queue_extend(1, 1)",
        "queue_extend: takes (id, token, seconds), got 2 arguments",
    );
}

#[test]
fn queue_release_gives_a_job_back_without_counting_the_attempt() {
    let conn = db();
    let id = enqueue(&conn, "q", "{}");
    let (_, t) = claim(&conn, "w", "q").unwrap();
    assert_eq!(one::<i64>(&conn, &format!("SELECT queue_release({id}, {})", t + 1)), 0, "stale token");
    assert_eq!(one::<i64>(&conn, &format!("SELECT queue_release({id}, {t})")), 1);
    assert_eq!(
        rows(&conn, &format!("SELECT state, attempts, run_at FROM queue_jobs WHERE id = {id}")),
        vec!["ready|0|1000.0"]
    );
    let (_, t2) = claim(&conn, "w2", "q").unwrap();
    assert_eq!(one::<i64>(&conn, &format!("SELECT queue_release({id}, {t2}, 30)")), 1);
    assert_eq!(one::<f64>(&conn, &format!("SELECT run_at FROM queue_jobs WHERE id = {id}")), 1030.0);
    assert_error(&conn, "SELECT queue_release(99)", "queue_release: [not_found] no job with id 99");
    assert_error(
        &conn,
        &format!("SELECT queue_release({id}, NULL, -1)"),
        "queue_release: delay must be a number of seconds >= 0",
    );
}

#[test]
fn queue_cancel_stops_unfinished_jobs_and_fences_their_worker() {
    let conn = db();
    let ready = enqueue(&conn, "q", "{}");
    let running = enqueue(&conn, "r", "{}");
    let (_, t) = claim(&conn, "w", "r").unwrap();
    assert_eq!(one::<i64>(&conn, &format!("SELECT queue_cancel({ready})")), 1);
    assert_eq!(one::<i64>(&conn, &format!("SELECT queue_cancel({running})")), 1);
    assert_eq!(one::<i64>(&conn, &format!("SELECT queue_cancel({running})")), 0, "already cancelled");
    assert_eq!(state(&conn, running), "cancelled");
    assert_eq!(
        one::<i64>(&conn, &format!("SELECT queue_complete({running}, {t})")),
        0,
        "the worker's token is stale"
    );
    assert_eq!(state(&conn, running), "cancelled");
    assert_error(&conn, "SELECT queue_cancel(99)", "queue_cancel: [not_found] no job with id 99");
    assert_error(&conn, "SELECT queue_cancel()", "queue_cancel: takes (id), got 0 arguments");
}

#[test]
fn queue_retry_revives_dead_and_cancelled_jobs() {
    let conn = db();
    let id = enqueue(&conn, "q", r#"{"max_attempts":1,"key":"k"}"#);
    let (_, t) = claim(&conn, "w", "q").unwrap();
    one::<String>(&conn, &format!("SELECT queue_fail({id}, {t}, 'bad')"));
    assert_eq!(state(&conn, id), "dead");
    assert_eq!(one::<i64>(&conn, &format!("SELECT queue_retry({id})")), 1);
    assert_eq!(
        rows(&conn, &format!("SELECT state, attempts, run_at FROM queue_jobs WHERE id = {id}")),
        vec!["ready|0|1000.0"]
    );
    assert_eq!(one::<i64>(&conn, &format!("SELECT queue_retry({id})")), 0, "a ready job is not retried");
    one::<i64>(&conn, &format!("SELECT queue_cancel({id})"));
    let twin = enqueue(&conn, "q", r#"{"key":"k"}"#);
    assert_ne!(twin, id);
    assert_error(&conn, &format!("SELECT queue_retry({id})"), "another live job of its queue holds its key");
    assert_eq!(state(&conn, id), "cancelled");
    assert_error(&conn, "SELECT queue_retry(99)", "queue_retry: [not_found] no job with id 99");
}

#[test]
fn queue_pause_and_queue_resume_report_changes() {
    let conn = db();
    assert_eq!(
        one::<i64>(&conn, "SELECT queue_pause('later')"),
        1,
        "a queue can be paused before its first job"
    );
    assert_eq!(one::<i64>(&conn, "SELECT queue_pause('later')"), 0);
    enqueue(&conn, "later", "{}");
    assert!(claim(&conn, "w", "later").is_none());
    assert_eq!(rows(&conn, "SELECT queue, paused FROM queue_stats"), vec!["later|1"]);
    assert_eq!(one::<i64>(&conn, "SELECT queue_resume('later')"), 1);
    assert_eq!(one::<i64>(&conn, "SELECT queue_resume('later')"), 0);
    assert_eq!(one::<i64>(&conn, "SELECT queue_resume('never-seen')"), 0);
    assert!(claim(&conn, "w", "later").is_some());
    assert_error(&conn, "SELECT queue_pause('bad name')", "queue_pause: invalid queue name");
    assert_error(&conn, "SELECT queue_resume(NULL)", "queue_resume: queue must not be NULL");
}

#[test]
fn queue_purge_deletes_old_finished_jobs_and_their_events() {
    let conn = db();
    let done = enqueue(&conn, "q", "{}");
    let (_, t) = claim(&conn, "w", "q").unwrap();
    one::<i64>(&conn, &format!("SELECT queue_complete({done}, {t})"));
    let cancelled = enqueue(&conn, "q", "{}");
    one::<i64>(&conn, &format!("SELECT queue_cancel({cancelled})"));
    let ready = enqueue(&conn, "q", "{}");
    let elsewhere = enqueue(&conn, "other", "{}");
    one::<i64>(&conn, &format!("SELECT queue_cancel({elsewhere})"));
    conn.query_row("SELECT orq_clock(1100)", [], |_| Ok(())).unwrap();
    assert_eq!(one::<i64>(&conn, "SELECT queue_purge('q', 200)"), 0, "not old enough");
    assert_eq!(one::<i64>(&conn, "SELECT queue_purge('q', 100)"), 2);
    assert_eq!(
        rows(&conn, "SELECT id FROM queue_jobs ORDER BY id"),
        vec![ready.to_string(), elsewhere.to_string()]
    );
    assert_eq!(
        one::<i64>(&conn, &format!("SELECT count(*) FROM orq_events WHERE job IN ({done}, {cancelled})")),
        0
    );
    // The newest job stays until a newer one exists, so no id is handed out
    // twice: a stale token of a purged job can never match a new job's.
    assert_eq!(one::<i64>(&conn, "SELECT queue_purge(NULL, 0)"), 0, "the newest job is kept");
    let newer = enqueue(&conn, "q", "{}");
    assert_eq!(newer, elsewhere + 1);
    assert_eq!(one::<i64>(&conn, "SELECT queue_purge(NULL, 0)"), 1, "NULL: every queue");
    assert_eq!(
        rows(&conn, "SELECT id FROM queue_jobs ORDER BY id"),
        vec![ready.to_string(), newer.to_string()]
    );
    one::<i64>(&conn, &format!("SELECT queue_cancel({newer})"));
    one::<i64>(&conn, &format!("SELECT queue_cancel({ready})"));
    assert_eq!(one::<i64>(&conn, "SELECT queue_purge(NULL, 0)"), 1, "all but the newest");
    assert_eq!(enqueue(&conn, "q", "{}"), newer + 1, "after a purge of all it could, ids go on");
    assert_error(
        &conn,
        "SELECT queue_purge('q', -1)",
        "queue_purge: older_than_seconds must be a number of seconds >= 0",
    );
    assert_error(&conn, "SELECT queue_purge('q')", "queue_purge: takes (queue or NULL, older_than_seconds)");
}

#[test]
fn queue_stats_counts_each_state_and_agrees_with_the_jobs() {
    let conn = db();
    assert!(rows(&conn, "SELECT * FROM queue_stats").is_empty(), "no rows before the first job");
    for options in ["{}", "{}", "{}", r#"{"delay":5}"#, r#"{"run_at":990}"#] {
        enqueue(&conn, "a", options);
    }
    enqueue(&conn, "b", "{}");
    let (id, t) = claim(&conn, "w", "a").unwrap(); // the oldest: run_at 990
    one::<i64>(&conn, &format!("SELECT queue_complete({id}, {t})"));
    claim(&conn, "w", "a").unwrap();
    one::<i64>(&conn, "SELECT queue_cancel(3)");
    conn.query_row("SELECT orq_clock(1004)", [], |_| Ok(())).unwrap();
    assert_eq!(
        rows(&conn, "SELECT * FROM queue_stats"),
        vec![
            format!("a|1|1|1|1|0|1|0|4.0|0|{DEFAULT_RETENTION}"),
            format!("b|1|0|0|0|0|0|0|4.0|0|{DEFAULT_RETENTION}")
        ]
    );
    let by_state = rows(&conn, "SELECT queue, state, count(*) FROM queue_jobs GROUP BY 1, 2 ORDER BY 1, 2");
    assert_eq!(by_state, vec!["a|cancelled|1", "a|done|1", "a|ready|2", "a|running|1", "b|ready|1"]);
}

#[test]
fn queue_jobs_filters_orders_and_joins() {
    let conn = db();
    assert!(rows(&conn, "SELECT * FROM queue_jobs").is_empty(), "no rows before the first job");
    for q in ["a", "b", "a", "b", "a"] {
        enqueue(&conn, q, "{}");
    }
    claim(&conn, "w", "b").unwrap();
    assert_eq!(rows(&conn, "SELECT id FROM queue_jobs WHERE queue = 'a'"), vec!["1", "3", "5"]);
    assert_eq!(rows(&conn, "SELECT id FROM queue_jobs WHERE state = 'running'"), vec!["2"]);
    assert_eq!(rows(&conn, "SELECT id FROM queue_jobs WHERE queue = 'b' AND state = 'ready'"), vec!["4"]);
    assert!(rows(&conn, "SELECT id FROM queue_jobs WHERE state = 'nonsense'").is_empty());
    assert_eq!(rows(&conn, "SELECT id FROM queue_jobs WHERE id = 3"), vec!["3"]);
    assert_eq!(rows(&conn, "SELECT id FROM queue_jobs WHERE id > 2 AND id <= 4"), vec!["3", "4"]);
    assert_eq!(rows(&conn, "SELECT id FROM queue_jobs ORDER BY id DESC LIMIT 2"), vec!["5", "4"]);
    conn.execute_batch("CREATE TABLE orders(id INTEGER PRIMARY KEY, job INTEGER); INSERT INTO orders VALUES (10, 2), (11, 5);")
        .unwrap();
    assert_eq!(
        rows(
            &conn,
            "SELECT o.id, j.state FROM orders AS o JOIN queue_jobs AS j ON j.id = o.job ORDER BY o.id"
        ),
        vec!["10|running", "11|ready"]
    );
}

#[test]
fn orq_connection_shows_this_connections_clock() {
    let conn = memory();
    assert_eq!(rows(&conn, "SELECT clock, side_connection FROM orq_connection"), vec!["NULL|0"]);
    conn.query_row("SELECT orq_clock(77)", [], |_| Ok(())).unwrap();
    assert_eq!(rows(&conn, "SELECT clock FROM orq_connection"), vec!["77.0"]);
}

#[test]
fn a_stale_token_can_neither_complete_fail_extend_nor_release() {
    let conn = db();
    let id = enqueue(&conn, "q", r#"{"lease":10}"#);
    let (_, old) = claim(&conn, "w1", "q").unwrap();
    conn.query_row("SELECT orq_clock(1010)", [], |_| Ok(())).unwrap();
    let (_, new) = claim(&conn, "w2", "q").unwrap();
    assert_ne!(old, new);
    assert_eq!(one::<i64>(&conn, &format!("SELECT queue_complete({id}, {old})")), 0);
    assert_eq!(one::<Option<String>>(&conn, &format!("SELECT queue_fail({id}, {old}, 'late')")), None);
    assert_eq!(one::<Option<f64>>(&conn, &format!("SELECT queue_extend({id}, {old}, 60)")), None);
    assert_eq!(one::<i64>(&conn, &format!("SELECT queue_release({id}, {old})")), 0);
    assert_eq!(
        rows(&conn, &format!("SELECT state, worker, token, error FROM queue_jobs WHERE id = {id}")),
        vec![format!("running|w2|{new}|lease expired")],
        "the new holder's lease is untouched"
    );
    assert_eq!(one::<i64>(&conn, &format!("SELECT queue_complete({id}, {new})")), 1);
}

fn register(conn: &Connection, name: &str, info: &str) {
    one::<i64>(conn, &format!("SELECT queue_worker_register('{name}', '{info}')"));
}

#[test]
fn routing_sends_jobs_only_to_workers_that_meet_them() {
    let conn = db();
    register(&conn, "gpu-box", r#"{"capabilities":["gpu","ffmpeg"]}"#);
    register(&conn, "cpu-box", r#"{"capabilities":["ffmpeg"]}"#);
    let gpu = enqueue(&conn, "render", r#"{"requires":["gpu","ffmpeg"],"priority":9}"#);
    let pinned = enqueue(&conn, "render", r#"{"worker":"cpu-box","priority":8}"#);
    let not_cpu = enqueue(&conn, "render", r#"{"not_workers":["cpu-box"],"priority":7}"#);
    let any = enqueue(&conn, "render", "{}");
    let claimed = |w: &str| rows(&conn, &format!("SELECT id FROM queue_claim('{w}', 10, 'render')"));
    assert_eq!(
        claimed("cpu-box"),
        vec![pinned.to_string(), any.to_string()],
        "not the gpu job, not the one excluding it"
    );
    assert_eq!(claimed("stranger"), vec![not_cpu.to_string()], "an unregistered worker has no capabilities");
    assert_eq!(claimed("gpu-box"), vec![gpu.to_string()]);
    assert_eq!(
        rows(&conn, &format!("SELECT requires, only_worker, not_workers FROM queue_jobs WHERE id IN ({gpu}, {pinned}, {not_cpu}) ORDER BY id")),
        vec![r#"["gpu","ffmpeg"]|NULL|NULL"#, "NULL|cpu-box|NULL", r#"NULL|NULL|["cpu-box"]"#]
    );
}

#[test]
fn key_scope_all_returns_finished_jobs_too() {
    let conn = db();
    let id = enqueue(&conn, "run", r#"{"key":"item-1","key_scope":"all"}"#);
    let (_, t) = claim(&conn, "w", "run").unwrap();
    one::<i64>(&conn, &format!("SELECT queue_complete({id}, {t})"));
    assert_eq!(enqueue(&conn, "run", r#"{"key":"item-1","key_scope":"all"}"#), id, "done, still the answer");
    assert_ne!(enqueue(&conn, "run", r#"{"key":"item-1"}"#), id, "the default scope ends with the job");
}

#[test]
fn a_claim_reports_each_jobs_timeout_and_lease() {
    let conn = db();
    enqueue(&conn, "q", r#"{"timeout":90,"lease":20}"#);
    enqueue(&conn, "q", "{}");
    assert_eq!(
        rows(&conn, "SELECT id, timeout, lease FROM queue_claim('w', 5, 'q')"),
        vec!["1|90.0|20.0", "2|NULL|30.0"]
    );
    assert_eq!(one::<f64>(&conn, "SELECT timeout FROM queue_jobs WHERE id = 1"), 90.0);
}

#[test]
fn queue_worker_register_and_heartbeat_keep_the_registry() {
    let conn = db();
    register(
        &conn,
        "w1",
        r#"{"host":"h","pid":42,"queues":["a","b"],"capabilities":["gpu"],"concurrency":4,"heartbeat":2,"info":{"version":"v0"}}"#,
    );
    assert_eq!(
        rows(&conn, "SELECT name, host, pid, queues, capabilities, concurrency, state, started_at, heartbeat_at, jobs_done, running, info FROM queue_workers"),
        vec![r#"w1|h|42|["a","b"]|["gpu"]|4|alive|1000.0|1000.0|0|0|{"version":"v0"}"#]
    );
    conn.query_row("SELECT orq_clock(1003)", [], |_| Ok(())).unwrap();
    assert_eq!(one::<i64>(&conn, r#"SELECT queue_worker_heartbeat('w1', '{"done":5,"failed":1}')"#), 1);
    assert_eq!(
        rows(&conn, "SELECT heartbeat_at, jobs_done, jobs_failed FROM queue_workers"),
        vec!["1003.0|5|1"]
    );
    assert_eq!(one::<i64>(&conn, "SELECT queue_worker_heartbeat('nobody')"), 0);
    assert_eq!(one::<i64>(&conn, "SELECT queue_worker_stop('w1')"), 1);
    assert_eq!(one::<i64>(&conn, "SELECT queue_worker_stop('w1')"), 0);
    assert_eq!(rows(&conn, "SELECT state, stopped_at FROM queue_workers"), vec!["stopped|1003.0"]);
    for (sql, needle) in [
        (
            "SELECT queue_worker_register('w', '{\"heartbeet\":1}')",
            "queue_worker_register: unknown key 'heartbeet'",
        ),
        (
            "SELECT queue_worker_register('w', '{\"concurrency\":0}')",
            "queue_worker_register: concurrency must be an integer from 1",
        ),
        (
            "SELECT queue_worker_register('w', '{\"queues\":[\"bad name\"]}')",
            "queue_worker_register: invalid queue name",
        ),
        ("SELECT queue_worker_register('', NULL)", "queue_worker_register: name must be 1 to 256"),
        (
            "SELECT queue_worker_heartbeat('w1', '{\"done\":-1}')",
            "queue_worker_heartbeat: done must be a count",
        ),
        ("SELECT queue_worker_stop(NULL)", "queue_worker_stop: name must not be NULL"),
    ] {
        assert_error(&conn, sql, needle);
    }
}

/// queue_worker_beat's answer, parsed.
fn beat(conn: &Connection, worker: &str, report: &str) -> serde_json::Value {
    let text: String =
        conn.query_row("SELECT queue_worker_beat(?1, ?2)", [worker, report], |r| r.get(0)).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn queue_worker_beat_extends_leases_past_half_and_says_when_to_beat_next() {
    let conn = db();
    register(&conn, "w", r#"{"heartbeat":5}"#);
    let id = enqueue(&conn, "q", r#"{"lease":10}"#);
    let (_, t) = claim(&conn, "w", "q").unwrap();
    let leases = format!(r#"{{"leases":[[{id},{t}]]}}"#);
    let answer = beat(&conn, "w", &leases);
    assert_eq!(answer["registered"], true);
    assert_eq!(answer["heartbeat"], 5.0);
    assert_eq!(answer["extend_at"], 0.5);
    assert_eq!(answer["grace"], 30.0);
    assert_eq!(answer["lost"], serde_json::json!([]));
    assert_eq!(answer["next"], 5.0, "the lease is due at 1005, the heartbeat too");
    let until = || one::<f64>(&conn, &format!("SELECT lease_until FROM queue_jobs WHERE id = {id}"));
    assert_eq!(until(), 1010.0, "not extended before half of it passed");
    conn.query_row("SELECT orq_clock(1005)", [], |_| Ok(())).unwrap();
    beat(&conn, "w", &leases);
    assert_eq!(until(), 1015.0, "extended by a lease length at half of it");
    // A claim's own lease length, when the worker reports it, is the one used.
    let id2 = enqueue(&conn, "q", "{}");
    let t2: i64 = one(&conn, "SELECT token FROM queue_claim('w', 1, 'q', 2)");
    let both = format!(r#"{{"leases":[[{id},{t}],[{id2},{t2},2]]}}"#);
    assert_eq!(beat(&conn, "w", &both)["next"], 1.0, "the 2 s lease is due in 1 s");
    conn.query_row("SELECT orq_clock(1006)", [], |_| Ok(())).unwrap();
    assert_eq!(beat(&conn, "w", &both)["next"], 1.0);
    assert_eq!(one::<f64>(&conn, &format!("SELECT lease_until FROM queue_jobs WHERE id = {id2}")), 1008.0);
}

#[test]
fn queue_worker_beat_names_the_leases_a_worker_lost() {
    let conn = db();
    register(&conn, "w", "{}");
    let (a, b, c) =
        (enqueue(&conn, "q", r#"{"lease":2}"#), enqueue(&conn, "q", "{}"), enqueue(&conn, "q", "{}"));
    let ta: i64 = one(&conn, &format!("SELECT token FROM queue_claim('w', 1, 'q') WHERE id = {a}"));
    let (_, tb) = claim(&conn, "w", "q").unwrap();
    let (_, tc) = claim(&conn, "w", "q").unwrap();
    one::<i64>(&conn, &format!("SELECT queue_cancel({b})"));
    one::<i64>(&conn, &format!("SELECT queue_complete({c}, {tc})"));
    // a's lease ran out and another worker took it.
    conn.query_row("SELECT orq_clock(1003)", [], |_| Ok(())).unwrap();
    assert_eq!(claim(&conn, "other", "q").map(|(i, _)| i), Some(a));
    let answer = beat(&conn, "w", &format!(r#"{{"leases":[[{a},{ta}],[{b},{tb}],[{c},{tc}]]}}"#));
    assert_eq!(answer["lost"], serde_json::json!([[a, ta], [b, tb], [c, tc]]));
    assert_eq!(answer["next"], 5.0, "no lease held: the heartbeat interval");
    assert_eq!(state(&conn, a), "running", "the other worker's lease is untouched");
    for (report, needle) in [
        ("{\"leases\":[[1]]}", "queue_worker_beat: leases must be an array of [id, token]"),
        ("{\"leases\":[[1,2,-1]]}", "queue_worker_beat: lease must be a number of seconds >= 0"),
        ("{\"done\":-1}", "queue_worker_beat: done must be a count"),
        ("{\"lease\":[]}", "queue_worker_beat: unknown key 'lease'"),
        ("[]", "queue_worker_beat: report must be a JSON object"),
    ] {
        assert_error(&conn, &format!("SELECT queue_worker_beat('w', '{report}')"), needle);
    }
    assert_error(&conn, "SELECT queue_worker_beat(NULL)", "queue_worker_beat: name must not be NULL");
}

#[test]
fn a_worker_declared_dead_is_alive_again_when_it_beats_and_learns_its_leases_are_lost() {
    let conn = db();
    register(&conn, "slow", r#"{"heartbeat":1}"#);
    register(&conn, "other", r#"{"heartbeat":100}"#);
    let id = enqueue(&conn, "q", r#"{"lease":3600}"#);
    let (_, t) = claim(&conn, "slow", "q").unwrap();
    conn.query_row("SELECT orq_clock(1004)", [], |_| Ok(())).unwrap();
    one::<i64>(&conn, "SELECT queue_worker_heartbeat('other')");
    assert_eq!(rows(&conn, "SELECT state FROM queue_workers WHERE name = 'slow'"), vec!["dead"]);
    assert_eq!(state(&conn, id), "ready", "declared dead: its job is free");
    let answer = beat(&conn, "slow", &format!(r#"{{"leases":[[{id},{t}]]}}"#));
    assert_eq!((answer["registered"].clone(), answer["revived"].clone()), (true.into(), true.into()));
    assert_eq!(answer["lost"], serde_json::json!([[id, t]]));
    assert_eq!(rows(&conn, "SELECT state FROM queue_workers WHERE name = 'slow'"), vec!["alive"]);
    assert_eq!(beat(&conn, "slow", "{}")["revived"], false, "revived once");
    // queue_worker_heartbeat follows the same rule.
    conn.query_row("SELECT orq_clock(1010)", [], |_| Ok(())).unwrap();
    one::<i64>(&conn, "SELECT queue_worker_heartbeat('other')");
    assert_eq!(one::<i64>(&conn, "SELECT queue_worker_heartbeat('slow')"), 1);
    assert_eq!(rows(&conn, "SELECT state FROM queue_workers WHERE name = 'slow'"), vec!["alive"]);
    // A worker that stopped cleanly, or never registered, must register.
    one::<i64>(&conn, "SELECT queue_worker_stop('slow')");
    assert_eq!(beat(&conn, "slow", "{}")["registered"], false);
    assert_eq!(beat(&conn, "nobody", "{}")["registered"], false);
    assert_eq!(rows(&conn, "SELECT state FROM queue_workers WHERE name = 'slow'"), vec!["stopped"]);
}

#[test]
fn a_worker_that_stops_heartbeating_is_dead_and_loses_its_jobs() {
    let conn = db();
    register(&conn, "crashy", r#"{"heartbeat":5}"#);
    register(&conn, "steady", r#"{"heartbeat":5}"#);
    let id = enqueue(&conn, "q", r#"{"lease":3600}"#);
    let (_, t) = claim(&conn, "crashy", "q").unwrap();
    conn.query_row("SELECT orq_clock(1014)", [], |_| Ok(())).unwrap();
    one::<i64>(&conn, "SELECT queue_worker_heartbeat('steady')");
    assert_eq!(rows(&conn, "SELECT name, state FROM queue_workers"), vec!["crashy|alive", "steady|alive"]);
    conn.query_row("SELECT orq_clock(1016)", [], |_| Ok(())).unwrap();
    assert_eq!(
        rows(&conn, "SELECT name, state FROM queue_workers"),
        vec!["crashy|dead", "steady|alive"],
        "3 heartbeats missed"
    );
    // Another worker's heartbeat finds it and frees its job at once, not in an hour.
    one::<i64>(&conn, "SELECT queue_worker_heartbeat('steady')");
    assert_eq!(
        rows(&conn, &format!("SELECT state, error FROM queue_jobs WHERE id = {id}")),
        vec!["ready|worker crashy died"]
    );
    assert_eq!(one::<i64>(&conn, &format!("SELECT queue_complete({id}, {t})")), 0, "its token is stale");
    assert_eq!(claim(&conn, "steady", "q").map(|(i, _)| i), Some(id));
    // queue_worker_dead does the same on demand, e.g. for a local pid that is gone.
    register(&conn, "gone", "{}");
    let id2 = enqueue(&conn, "q", "{}");
    claim(&conn, "gone", "q").unwrap();
    assert_eq!(one::<i64>(&conn, "SELECT queue_worker_dead('gone')"), 1);
    assert_eq!(state(&conn, id2), "ready");
    assert_eq!(rows(&conn, "SELECT state FROM queue_workers WHERE name = 'gone'"), vec!["dead"]);
}

#[test]
fn queue_record_run_keeps_what_each_run_used() {
    let conn = db();
    let id = enqueue(&conn, "media", "{}");
    let (_, t1) = claim(&conn, "w", "media").unwrap();
    assert_eq!(
        one::<i64>(
            &conn,
            &format!(
                r#"SELECT queue_record_run({id}, {t1}, '{{"outcome":"failed","exit_code":1,"wall":2.5,"user":1.25,"sys":0.25,"max_rss_kb":2048}}')"#
            )
        ),
        1
    );
    one::<String>(&conn, &format!("SELECT queue_fail({id}, {t1}, 'x', 0)"));
    let (_, t2) = claim(&conn, "w", "media").unwrap();
    one::<i64>(
        &conn,
        &format!(
            r#"SELECT queue_record_run({id}, {t2}, '{{"outcome":"done","exit_code":0,"wall":1.5,"user":1,"sys":0,"max_rss_kb":4096}}')"#
        ),
    );
    assert_eq!(
        rows(&conn, "SELECT job, queue, attempt, worker, outcome, exit_code, wall_ms, user_ms, sys_ms, max_rss_kb FROM orq_runs ORDER BY token"),
        vec!["1|media|1|w|failed|1|2500|1250|250|2048", "1|media|2|w|done|0|1500|1000|0|4096"]
    );
    assert_eq!(rows(&conn, "SELECT * FROM queue_resources"), vec!["media|2|1|2.0|2.5|4.0|1.25|2.5|4096"]);
    assert_eq!(
        one::<i64>(&conn, &format!(r#"SELECT queue_record_run({id}, 12345, '{{"outcome":"done"}}')"#)),
        0,
        "not a lease of this job"
    );
    assert_error(
        &conn,
        &format!(r#"SELECT queue_record_run({id}, {t2}, '{{"wall":1}}')"#),
        "queue_record_run: usage needs an outcome",
    );
    assert_error(
        &conn,
        &format!(r#"SELECT queue_record_run({id}, {t2}, '{{"outcome":"done","cpu":1}}')"#),
        "queue_record_run: unknown key 'cpu'",
    );
    assert_error(
        &conn,
        "SELECT queue_record_run(99, 1, '{\"outcome\":\"done\"}')",
        "queue_record_run: [not_found] no job with id 99",
    );
}

#[test]
fn queue_rates_counts_what_finished_in_a_window() {
    let conn = db();
    for _ in 0..3 {
        enqueue(&conn, "q", r#"{"max_attempts":1}"#);
    }
    let (a, ta) = claim(&conn, "w", "q").unwrap();
    one::<i64>(&conn, &format!("SELECT queue_complete({a}, {ta})"));
    conn.query_row("SELECT orq_clock(1030)", [], |_| Ok(())).unwrap();
    let (b, tb) = claim(&conn, "w", "q").unwrap();
    one::<i64>(&conn, &format!("SELECT queue_complete({b}, {tb})"));
    let (c, tc) = claim(&conn, "w", "q").unwrap();
    one::<String>(&conn, &format!("SELECT queue_fail({c}, {tc}, 'x')"));
    assert_eq!(rows(&conn, "SELECT * FROM queue_rates"), vec!["q|2|1|0.03333333333333333"]);
    assert_eq!(rows(&conn, "SELECT queue, done, dead FROM queue_rates(10)"), vec!["q|1|1"]);
    assert_error(
        &conn,
        "SELECT * FROM queue_rates(-1)",
        "queue_rates: seconds must be a number of seconds >= 0",
    );
    assert_error(&conn, "SELECT * FROM queue_rates(0)", "queue_rates: seconds must be more than 0");
}

#[test]
fn queue_complete_many_completes_a_batch_in_one_statement() {
    let conn = db();
    for _ in 0..4 {
        enqueue(&conn, "q", "{}");
    }
    let claimed: Vec<(i64, i64)> = conn
        .prepare("SELECT id, token FROM queue_claim('w', 4)")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    let (a, b, c, d) = (claimed[0], claimed[1], claimed[2], claimed[3]);
    let jobs = format!(
        r#"[[{}, {}], [{}, {}, {{"n":2}}], {{"id": {}, "token": {}, "result": "three"}}, [{}, {}]]"#,
        a.0,
        a.1,
        b.0,
        b.1,
        c.0,
        c.1,
        d.0,
        d.1 + 1
    );
    assert_eq!(
        one::<i64>(&conn, &format!("SELECT queue_complete_many('{jobs}')")),
        3,
        "the stale token is skipped"
    );
    assert_eq!(
        rows(&conn, "SELECT id, state, result FROM queue_jobs ORDER BY id"),
        vec!["1|done|NULL", r#"2|done|{"n":2}"#, r#"3|done|"three""#, "4|running|NULL"]
    );
    assert_eq!(rows(&conn, "SELECT count(*) FROM queue_events WHERE type = 'completed'"), vec!["3"]);
    // Without results (complete_many_tokens.sql): a stale token is skipped
    // there too, and an id given twice is tried with each of its tokens.
    let stale = format!("[[{}, {}]]", d.0, d.1 + 1);
    assert_eq!(one::<i64>(&conn, &format!("SELECT queue_complete_many('{stale}')")), 0);
    let twice = format!("[[{}, {}], [{}, {}]]", d.0, d.1 + 1, d.0, d.1);
    assert_eq!(one::<i64>(&conn, &format!("SELECT queue_complete_many('{twice}')")), 1);
    assert_eq!(one::<String>(&conn, &format!("SELECT state FROM queue_jobs WHERE id = {}", d.0)), "done");
    enqueue(&conn, "q", "{}");
    let (e, t) = claim(&conn, "w", "q").unwrap();
    assert_eq!(one::<i64>(&conn, &format!("SELECT queue_complete_many('[[{e}, {t}]]')")), 1);
    assert_eq!(
        rows(&conn, &format!("SELECT type FROM queue_history({e})")),
        vec!["enqueued", "claimed", "completed"]
    );
    for (arg, needle) in [
        ("'{}'", "jobs must be a JSON array"),
        ("'[[1]]'", "jobs[0] must be [id, token(, result)]"),
        (r#"'[{"id":1,"tok":2}]'"#, "jobs[0]: unknown key 'tok'"),
        (r#"'[["a",1]]'"#, "jobs[0] needs an integer id and token"),
    ] {
        assert_error(
            &conn,
            &format!("SELECT queue_complete_many({arg})"),
            &format!("queue_complete_many: {needle}"),
        );
    }
    assert_eq!(one::<i64>(&conn, "SELECT queue_complete_many('[]')"), 0);
}

/// `levels` nested arrays.
fn nested(levels: usize) -> String {
    format!("{}{}", "[".repeat(levels), "]".repeat(levels))
}

#[test]
fn one_nesting_limit_for_payloads_on_every_path() {
    let conn = db();
    let ok = nested(100);
    let deep = nested(101);
    let huge = nested(1_000_000);
    let enqueue =
        |payload: &str| conn.query_row("SELECT queue_enqueue('q', ?1)", [payload], |r| r.get::<_, i64>(0));
    enqueue(&ok).unwrap();
    let many = |payloads: String| {
        conn.query_row("SELECT queue_enqueue_many('q', ?1)", [payloads], |r| r.get::<_, String>(0))
    };
    many(format!("[{ok}]")).unwrap();
    let flow = |payload: &str| {
        let spec = format!(r#"{{"name":"f","jobs":[{{"key":"a","queue":"q","payload":{payload}}}]}}"#);
        conn.query_row("SELECT queue_workflow(?1)", [spec], |r| r.get::<_, i64>(0))
    };
    flow(&ok).unwrap();
    let schedule = |payload: &str| {
        conn.query_row("SELECT queue_schedule('s', '@daily', 'q', ?1)", [payload], |r| r.get::<_, f64>(0))
    };
    schedule(&ok).unwrap();
    let before = jobs_count(&conn);
    let message = |r: rusqlite::Result<String>| match r {
        Err(rusqlite::Error::SqliteFailure(_, Some(m))) => m,
        other => panic!("expected an error, got {other:?}"),
    };
    for (function, err) in [
        ("queue_enqueue: payload", message(enqueue(&deep).map(|v| v.to_string()))),
        ("queue_enqueue: payload", message(enqueue(&huge).map(|v| v.to_string()))),
        ("queue_enqueue_many: payloads[1]", message(many(format!("[1, {deep}]")))),
        ("queue_enqueue_many: payloads[0]", message(many(format!("[{huge}]")))),
        ("queue_workflow: jobs[0].payload", message(flow(&deep).map(|v| v.to_string()))),
        ("queue_workflow: jobs[0].payload", message(flow(&huge).map(|v| v.to_string()))),
        ("queue_schedule: payload", message(schedule(&deep).map(|v| v.to_string()))),
    ] {
        assert_eq!(
            err,
            format!("{function} nests deeper than 100 levels, the most orq accepts in a JSON value"),
        );
    }
    assert_eq!(jobs_count(&conn), before, "nothing changed");
}
