//! Never crash the host: every orq function and table, called with every
//! kind of odd argument, either works or raises an error that names it, and
//! leaves the connection usable.

use orq_tests::{memory, one};

/// Arguments of every SQL type and the edges of each.
const ODD: &[&str] = &[
    "NULL",
    "0",
    "-1",
    "1",
    "9223372036854775807",
    "-9223372036854775808",
    "1e308",
    "-1e308",
    "0.5",
    "'nan'",
    "''",
    "'q'",
    "'[\"q\"]'",
    "'{}'",
    "'[]'",
    "'{\"delay\":1}'",
    "x''",
    "x'00ff'",
    "zeroblob(3)",
    "'\u{1F600}'",
    "'a''b'",
    "char(0)",
];

const FUNCTIONS: &[&str] = &[
    "orq_version",
    "orq_debug",
    "orq_now",
    "orq_clock",
    "orq_migrate",
    "orq_backoff_ms",
    "orq_cron_next",
    "queue_enqueue",
    "queue_enqueue_many",
    "queue_claim_json",
    "queue_complete",
    "queue_complete_many",
    "queue_fail",
    "queue_extend",
    "queue_release",
    "queue_lease_status",
    "queue_cancel",
    "queue_retry",
    "queue_pause",
    "queue_resume",
    "queue_purge",
    "queue_worker_register",
    "queue_worker_heartbeat",
    "queue_worker_beat",
    "queue_worker_stop",
    "queue_worker_dead",
    "queue_record_run",
    "queue_workflow",
    "queue_workflow_cancel",
    "queue_parent_results",
    "queue_configure",
    "queue_schedule",
    "queue_unschedule",
];

/// Deterministic choice of arguments: `n` of them, picked by `seed`.
fn args(n: usize, seed: usize) -> String {
    (0..n).map(|i| ODD[(seed / ODD.len().pow(i as u32)) % ODD.len()]).collect::<Vec<_>>().join(", ")
}

fn check(conn: &rusqlite::Connection, sql: &str, name: &str) {
    let result = conn.prepare(sql).and_then(|mut s| {
        let mut rows = s.query([])?;
        while rows.next()?.is_some() {}
        Ok(())
    });
    if let Err(e) = result {
        let msg = e.to_string();
        // orq's own errors start with the name; SQLite's (too many
        // arguments for a table-valued function) contain it.
        let named = msg.starts_with(&format!("{name}: ")) || msg.contains(&format!("{name}()"));
        assert!(named, "{sql}\n  error does not name {name}: {msg}");
    }
}

#[test]
fn every_function_survives_odd_arguments() {
    let conn = memory();
    one::<i64>(&conn, "SELECT queue_enqueue('q', '{}')");
    for name in FUNCTIONS {
        for n in 0..=5 {
            for seed in 0..60 {
                check(&conn, &format!("SELECT {name}({})", args(n, seed * 7919 + n)), name);
            }
        }
        conn.query_row("SELECT orq_clock(NULL)", [], |_| Ok(())).unwrap();
    }
    // Still a working queue afterwards.
    assert!(conn.is_autocommit());
    let id: i64 = one(&conn, "SELECT queue_enqueue('after', '{}')");
    assert!(id > 0);
}

#[test]
fn every_table_survives_odd_arguments_and_constraints() {
    let conn = memory();
    one::<i64>(&conn, "SELECT queue_enqueue('q', '{}')");
    for n in 0..=5 {
        for seed in 0..80 {
            check(
                &conn,
                &format!("SELECT * FROM queue_claim({})", args(n, seed * 104_729 + n)),
                "queue_claim",
            );
        }
        for seed in 0..20 {
            for table in ["queue_rates", "queue_history", "queue_workflow_jobs", "queue_replay"] {
                check(&conn, &format!("SELECT * FROM {table}({})", args(n.min(2), seed * 31 + n)), table);
            }
        }
    }
    for (table, columns) in [
        ("queue_jobs", &["id", "queue", "state", "payload", "rowid"][..]),
        ("queue_stats", &["queue", "ready", "rowid"][..]),
        ("orq_connection", &["clock", "rowid"][..]),
        ("queue_workers", &["name", "state", "rowid"][..]),
        ("queue_resources", &["queue", "runs", "rowid"][..]),
        ("queue_rates", &["queue", "done", "rowid"][..]),
        ("queue_events", &["seq", "job", "queue", "type", "workflow", "rowid"][..]),
        ("queue_replay", &["id", "queue", "state", "rowid"][..]),
        ("queue_workflows", &["id", "state", "rowid"][..]),
        ("queue_schedules", &["name", "rowid"][..]),
    ] {
        for filter in ODD {
            for column in columns {
                for op in ["=", "<", ">=", "IS", "!=", "IN (1, 'q')", "LIKE"] {
                    let sql = if op.starts_with("IN") {
                        format!("SELECT * FROM {table} WHERE {column} {op}")
                    } else {
                        format!("SELECT * FROM {table} WHERE {column} {op} {filter} ORDER BY 1 DESC")
                    };
                    check(&conn, &sql, table);
                }
            }
        }
    }
    assert!(one::<i64>(&conn, "SELECT count(*) FROM queue_jobs") >= 1);
}

#[test]
fn a_job_whose_payload_is_not_utf8_is_set_aside_and_its_queue_goes_on() {
    let conn = memory();
    for n in 1..=3 {
        one::<i64>(
            &conn,
            &format!("SELECT queue_enqueue('q', '{{\"n\":{n}}}', '{{\"priority\":{}}}')", 10 - n),
        );
    }
    // Corruption, or a hand-written row: bytes that are not UTF-8.
    conn.execute_batch("UPDATE orq_jobs SET payload = CAST(x'7b226e223a2280ff227d' AS TEXT) WHERE id = 1")
        .unwrap();
    let claimed: Vec<i64> = conn
        .prepare("SELECT id FROM queue_claim('w', 10, 'q')")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(claimed, vec![2, 3], "the other jobs are claimed");
    assert_eq!(one::<String>(&conn, "SELECT state FROM orq_jobs WHERE id = 1"), "dead");
    let error: String = one(&conn, "SELECT error FROM orq_jobs WHERE id = 1");
    assert!(error.contains("job 1") && error.contains("not valid UTF-8"), "{error}");
    // And through the other front door; the dead job is not claimed again.
    one::<i64>(&conn, "SELECT queue_enqueue('q', '{}')");
    conn.execute_batch("UPDATE orq_jobs SET payload = CAST(x'ff' AS TEXT) WHERE id = 4").unwrap();
    assert_eq!(one::<String>(&conn, "SELECT queue_claim_json('w', 10, 'q')"), "[]");
    assert_eq!(one::<String>(&conn, "SELECT state FROM orq_jobs WHERE id = 4"), "dead");
    assert_eq!(one::<i64>(&conn, "SELECT count(*) FROM orq_jobs WHERE state = 'dead'"), 2);
}

#[test]
fn a_constraint_that_is_not_utf8_is_compared_as_given_without_a_panic() {
    // Through the sqlite3 shell: a caught panic would print on its stderr.
    let script = "SELECT queue_enqueue('q', '{}');
        UPDATE orq_jobs SET queue = CAST(x'71ff' AS TEXT);
        SELECT count(*) FROM queue_jobs WHERE queue = CAST(x'ff' AS TEXT);
        SELECT count(*) FROM queue_jobs WHERE id < CAST(x'ff' AS TEXT);
        SELECT count(*) FROM queue_events WHERE type = CAST(x'ff' AS TEXT);
        SELECT count(*) FROM queue_events WHERE queue = CAST(x'71ff' AS TEXT);";
    let out = std::process::Command::new("sqlite3")
        .args(["-batch", "-init", "/dev/null", "-cmd"])
        .arg(format!(".load {}", orq_tests::ext_path().display()))
        .arg(":memory:")
        .arg(script)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1\n0\n1\n0\n1\n");
}
