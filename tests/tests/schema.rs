//! The schema and the statements: what loading registers, upgrades from an
//! older schema, and query plans that seek instead of scanning.

use std::path::Path;

use orq_tests::{assert_error, error_of, memory, one, open, root, rows, Scratch};
use rusqlite::Connection;

#[test]
fn loading_registers_exactly_these_functions_and_tables() {
    let conn = memory();
    // flags: 0x800 deterministic, 0x80000 direct-only, 0x200000 innocuous.
    let functions = rows(
        &conn,
        "SELECT name, narg, printf('%s%s%s', iif(flags & 0x800, 'deterministic ', ''), iif(flags & 0x80000, 'directonly ', ''),
                iif(flags & 0x200000, 'innocuous', ''))
         FROM pragma_function_list WHERE name GLOB 'orq_*' OR name GLOB 'queue_*' ORDER BY name",
    );
    assert_eq!(
        functions,
        vec![
            "orq_backoff_ms|-1|deterministic innocuous",
            "orq_clock|-1|directonly ",
            "orq_cron_next|-1|deterministic innocuous",
            "orq_debug|-1|innocuous",
            "orq_migrate|-1|directonly ",
            "orq_now|-1|innocuous",
            "orq_version|-1|deterministic innocuous",
            "queue_alert|-1|directonly ",
            "queue_alert_remove|-1|directonly ",
            "queue_alerts_check|-1|directonly ",
            "queue_await|-1|directonly ",
            "queue_cancel|-1|directonly ",
            "queue_children|-1|innocuous",
            "queue_claim_json|-1|directonly ",
            "queue_complete|-1|directonly ",
            "queue_complete_many|-1|directonly ",
            "queue_configure|-1|directonly ",
            "queue_enqueue|-1|directonly ",
            "queue_enqueue_many|-1|directonly ",
            "queue_extend|-1|directonly ",
            "queue_fail|-1|directonly ",
            "queue_gather|-1|directonly ",
            "queue_group_configure|-1|directonly ",
            "queue_health|-1|directonly ",
            "queue_lease_status|-1|innocuous",
            "queue_parent_results|-1|innocuous",
            "queue_pause|-1|directonly ",
            "queue_progress|-1|directonly ",
            "queue_purge|-1|directonly ",
            "queue_record_run|-1|directonly ",
            "queue_release|-1|directonly ",
            "queue_resume|-1|directonly ",
            "queue_retry|-1|directonly ",
            "queue_schedule|-1|directonly ",
            "queue_signal|-1|directonly ",
            "queue_sleep|-1|directonly ",
            "queue_spawn|-1|directonly ",
            "queue_step|-1|innocuous",
            "queue_step_done|-1|directonly ",
            "queue_step_fail|-1|directonly ",
            "queue_steps|-1|innocuous",
            "queue_unschedule|-1|directonly ",
            "queue_wait|-1|directonly ",
            "queue_worker_beat|-1|directonly ",
            "queue_worker_dead|-1|directonly ",
            "queue_worker_heartbeat|-1|directonly ",
            "queue_worker_register|-1|directonly ",
            "queue_worker_stop|-1|directonly ",
            "queue_workflow|-1|directonly ",
            "queue_workflow_cancel|-1|directonly ",
        ]
    );
    let modules = rows(
        &conn,
        "SELECT name FROM pragma_module_list WHERE name GLOB 'orq_*' OR name GLOB 'queue_*' ORDER BY name",
    );
    assert_eq!(
        modules,
        vec![
            "orq_connection",
            "queue_alerts",
            "queue_claim",
            "queue_events",
            "queue_history",
            "queue_jobs",
            "queue_limits",
            "queue_metrics",
            "queue_rates",
            "queue_replay",
            "queue_resources",
            "queue_schedules",
            "queue_stats",
            "queue_workers",
            "queue_workflow_jobs",
            "queue_workflows",
        ]
    );
}

#[test]
fn a_schema_v1_database_is_upgraded_by_the_first_write() {
    let scratch = Scratch::new("upgrade");
    let db = scratch.path("old.db");
    std::fs::copy(root().join("tests/fixtures/schema-v1.db"), &db).unwrap();
    let conn = open(&db);
    assert_error(
        &conn,
        "SELECT * FROM queue_stats",
        "this database has orq schema v1; any orq write, or SELECT orq_migrate(), upgrades it",
    );
    conn.query_row("SELECT orq_clock(1000)", [], |_| Ok(())).unwrap();
    // The first write upgrades, then does its work, in one transaction.
    // Inside a query (queue_claim is one) SQLite will not drop an index, so
    // the upgrade stops at v15, whose schema this version runs on; a write
    // outside a query after another connection's commit, or orq_migrate(),
    // finishes it (migration 016).
    assert_eq!(rows(&conn, "SELECT id, attempt FROM queue_claim('w2', 5, 'mail')"), vec!["1|1"]);
    let version = "SELECT value FROM orq_meta WHERE key = 'schema_version'";
    assert_eq!(one::<i64>(&conn, version), 15);
    assert_eq!(one::<i64>(&conn, "SELECT count(*) FROM sqlite_schema WHERE name = 'orq_jobs_ready'"), 1);
    assert_eq!(
        rows(&conn, "SELECT id, queue, state, attempts, result, error FROM queue_jobs ORDER BY id"),
        vec![
            "1|mail|running|1|NULL|NULL",
            "2|mail|running|1|NULL|NULL",
            "3|mail|done|1|{\"ok\":1}|NULL",
            "4|sms|dead|3|NULL|boom"
        ]
    );
    // The old lease still fences: its token completes the job, once.
    assert_eq!(one::<i64>(&conn, "SELECT queue_complete(2, 2097153)"), 1);
    let latest: i64 = one(&conn, "SELECT json_extract(orq_debug(), '$.schema_latest')");
    assert_eq!(one::<i64>(&conn, "SELECT orq_migrate()"), latest);
    assert_eq!(one::<i64>(&conn, version), latest);
    assert_eq!(one::<i64>(&conn, "SELECT count(*) FROM sqlite_schema WHERE name = 'orq_jobs_ready'"), 0);
    assert_eq!(
        rows(&conn, "SELECT job, type FROM orq_events ORDER BY seq"),
        vec!["1|claimed", "2|completed"]
    );
    assert_eq!(one::<i64>(&conn, "SELECT queue_retry(4)"), 1);
    assert_eq!(
        rows(&conn, "SELECT * FROM queue_stats"),
        vec![
            format!("mail|0|0|1|2|0|0|0|NULL|0|{DEFAULT_RETENTION}"),
            format!("sms|1|0|0|0|0|0|0|0.0|0|{DEFAULT_RETENTION}")
        ]
    );
    // v5 replaced the queue-registering trigger of v1: enqueueing into a
    // queue that exists and into a new one both work.
    assert_eq!(one::<i64>(&conn, "SELECT queue_enqueue('mail', '{}')"), 5);
    assert_eq!(one::<i64>(&conn, "SELECT queue_enqueue('new', '{}')"), 6);
    assert_eq!(one::<i64>(&conn, "SELECT count(*) FROM orq_queues"), 3);
}

#[test]
fn a_database_from_a_newer_orq_is_refused_unchanged() {
    let conn = memory();
    one::<i64>(&conn, "SELECT orq_migrate()");
    conn.execute("UPDATE orq_meta SET value = 99 WHERE key = 'schema_version'", []).unwrap();
    let msg = error_of(&conn, "SELECT queue_enqueue('q', '{}')");
    assert!(msg.contains("this database has orq schema v99, newer than this orq"), "{msg}");
    assert_error(&conn, "SELECT * FROM queue_jobs", "newer than this orq");
    assert_eq!(one::<i64>(&conn, "SELECT count(*) FROM orq_jobs"), 0);
}

/// A connection that has written skips the schema check while nothing was
/// committed since (schema.rs, Checked): an upgrade by another connection,
/// or a change of its own, must still be seen by its next write.
#[test]
fn a_write_sees_a_newer_schema_that_another_connection_or_its_own_sql_wrote() {
    let scratch = Scratch::new("checked");
    let path = scratch.path("q.db");
    let (a, b) = (open(&path), open(&path));
    let latest: i64 = one(&a, "SELECT orq_migrate()");
    for _ in 0..2 {
        one::<i64>(&a, "SELECT queue_enqueue('q', '{}')");
    }
    b.execute("UPDATE orq_meta SET value = 99 WHERE key = 'schema_version'", []).unwrap();
    let msg = error_of(&a, "SELECT queue_enqueue('q', '{}')");
    assert!(msg.contains("orq schema v99, newer than this orq"), "{msg}");
    b.execute("UPDATE orq_meta SET value = ?1 WHERE key = 'schema_version'", [latest]).unwrap();
    one::<i64>(&a, "SELECT queue_enqueue('q', '{}')");
    a.execute("UPDATE orq_meta SET value = 98 WHERE key = 'schema_version'", []).unwrap();
    let msg = error_of(&a, "SELECT queue_enqueue('q', '{}')");
    assert!(msg.contains("orq schema v98, newer than this orq"), "{msg}");
    assert_eq!(one::<i64>(&b, "SELECT count(*) FROM orq_jobs"), 3);
}

#[test]
fn a_schema_version_no_orq_writes_is_reported_as_damage() {
    for bad in ["-1", "0", "'seven'", "NULL", "2.5", "x'07'"] {
        let conn = memory();
        one::<i64>(&conn, "SELECT queue_enqueue('q', '{}')");
        conn.execute(&format!("UPDATE orq_meta SET value = {bad} WHERE key = 'schema_version'"), []).unwrap();
        for (sql, function) in [
            ("SELECT queue_enqueue('q', '{}')", "queue_enqueue"),
            ("SELECT orq_migrate()", "orq_migrate"),
            ("SELECT count(*) FROM queue_jobs", "queue_jobs"),
            ("SELECT id FROM queue_claim('w', 1)", "queue_claim"),
        ] {
            let msg = error_of(&conn, sql);
            assert!(
                msg.starts_with(&format!(
                    "{function}: the database is damaged: orq_meta holds schema_version "
                )),
                "{bad}: {sql}: {msg}"
            );
        }
        // Nothing changed.
        assert_eq!(one::<i64>(&conn, "SELECT count(*) FROM orq_jobs"), 1, "{bad}");
        assert_eq!(one::<i64>(&conn, "SELECT count(*) FROM orq_jobs WHERE state = 'ready'"), 1, "{bad}");
    }
}

/// Fills a database with jobs in every state, so plans are chosen the way
/// they would be on a real queue (with and without ANALYZE statistics).
fn busy_database(db: &Path) -> Connection {
    let conn = open(db);
    conn.query_row("SELECT orq_clock(1000)", [], |_| Ok(())).unwrap();
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    conn.query_row(
        "WITH RECURSIVE n(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM n WHERE value < 3000)
         SELECT count(queue_enqueue(iif(value % 3, 'a', 'b'), value,
                json_object('priority', value % 4, 'delay', value % 7, 'key', 'k' || value))) FROM n",
        [],
        |_| Ok(()),
    )
    .unwrap();
    conn.execute_batch("COMMIT").unwrap();
    conn.query_row("SELECT orq_clock(1010)", [], |_| Ok(())).unwrap();
    for _ in 0..10 {
        let claimed: Vec<(i64, i64)> = conn
            .prepare("SELECT id, token FROM queue_claim('w', 100)")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        for (i, (id, token)) in claimed.iter().enumerate() {
            match i % 4 {
                0 => conn.query_row("SELECT queue_complete(?1, ?2)", [id, token], |_| Ok(())).unwrap(),
                1 => conn.query_row("SELECT queue_fail(?1, ?2, 'x')", [id, token], |_| Ok(())).unwrap(),
                2 => conn.query_row("SELECT queue_cancel(?1)", [id], |_| Ok(())).unwrap(),
                _ => {}
            }
        }
    }
    conn
}

/// queue_stats.retention of a queue never configured (migration 009).
const DEFAULT_RETENTION: &str = r#"{"done":604800.0,"dead":2592000.0,"cancelled":604800.0}"#;

/// A representative value for each named parameter of orq's statements.
fn sample(name: &str, all_queues: bool) -> rusqlite::types::Value {
    use rusqlite::types::Value;
    match name {
        ":queues" if all_queues => Value::Null,
        ":queues" => Value::Text(r#"["a","b"]"#.into()),
        ":queue" | ":worker" | ":key" | ":payload" | ":error" | ":result" | ":backoff" => {
            Value::Text("a".into())
        }
        ":now" | ":cutoff" | ":run_at" => Value::Integer(1_010_000),
        _ => Value::Integer(5),
    }
}

/// Statements that read every queue's row or every job on purpose.
/// (Listings and summaries of everything: queue_jobs, queue_events without a
/// filter, replay, the per-workflow and per-queue summaries, and the
/// counters of queue_metrics, which fold the whole event trail.) And
/// lease_status.sql, a diagnostic: it seeks one job and its events, then
/// reads each of its one-row steps (CTEs) whole, which the plan shows as scans.
const NOT_HOT: &[&str] = &[
    "lease_status.sql",
    "jobs.sql",
    "events.sql",
    "replay.sql",
    "resources.sql",
    "workflows.sql",
    "schedules.sql",
    "metrics_events.sql",
];

#[test]
fn every_hot_statement_seeks_an_index() {
    let scratch = Scratch::new("plans");
    let conn = busy_database(&scratch.path("q.db"));
    for analyzed in [false, true] {
        if analyzed {
            conn.execute_batch("ANALYZE").unwrap();
        }
        let mut checked = 0;
        let next_seq = next_seq_plan(&conn);
        let statements = sql_files();
        let fragments = fragments(&statements);
        for (name, sql) in &statements {
            if NOT_HOT.contains(&name.as_str()) || fragments.contains_key(name) {
                continue;
            }
            for (sql, all_queues) in children_forms(&splice(sql, &fragments))
                .into_iter()
                .flat_map(|form| [(form.clone(), false), (form, true)])
            {
                let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
                for i in 1..=stmt.parameter_count() {
                    let p = stmt.parameter_name(i).unwrap().to_string();
                    stmt.raw_bind_parameter(i, sample(&p, all_queues)).unwrap();
                }
                let mut plan = Vec::new();
                let mut q = stmt.raw_query();
                while let Some(row) = q.next().unwrap() {
                    plan.push(row.get::<_, String>(3).unwrap());
                }
                without_next_seq(&mut plan, &next_seq);
                for line in &plan {
                    let scan = line.starts_with("SCAN ");
                    // The queue, worker and alert registries are small and scanned on purpose.
                    let allowed = [
                        "SCAN q",
                        "SCAN orq_queues",
                        "SCAN w",
                        "SCAN orq_workers",
                        "SCAN orq_alerts",
                        "SCAN json_each",
                        "SCAN pick",
                        "SCAN CONSTANT ROW",
                        // The view of the trail: the rows its arms found
                        // (each arm's own plan is checked above).
                        "SCAN orq_events",
                        // A subquery's own rows: claim_limited.sql's ranked
                        // candidates, at most :n per queue (their seeks are above).
                        "SCAN (subquery-",
                    ]
                    .iter()
                    .any(|a| {
                        line == a
                            || line.starts_with(&format!("{a} "))
                            || a.ends_with('-') && line.starts_with(a)
                    });
                    assert!(
                        !scan || allowed,
                        "{name} (analyzed: {analyzed}) scans: {line}\n{}",
                        plan.join("\n")
                    );
                }
                checked += 1;
            }
        }
        assert!(checked >= 30, "checked only {checked} statements");
    }
}

/// Every `name.sql` of sql/ with its text.
fn sql_files() -> Vec<(String, String)> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(root().join("sql")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "sql") {
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            files.push((name, std::fs::read_to_string(&path).unwrap()));
        }
    }
    files
}

/// The files that are parts of statements, as the extension's sql.rs uses
/// them: those spliced in where another file says `{stem}`, and the
/// worker_states CTE, put in front of the statements that read it.
fn fragments(files: &[(String, String)]) -> std::collections::HashMap<String, String> {
    files
        .iter()
        .filter(|(name, _)| {
            let mark = format!("{{{}}}", name.trim_end_matches(".sql"));
            name == "worker_states.sql" || files.iter().any(|(_, text)| text.contains(&mark))
        })
        .cloned()
        .collect()
}

/// The plan of the view orq_next_seq (migration 012), which statements that
/// number the trail include: its scans read one row each, from the end of
/// their b-trees (`ORDER BY ... DESC LIMIT 1`), which the plan cannot tell
/// from a full scan; this checks that once, and the statements' plans are
/// checked without these lines.
fn next_seq_plan(conn: &Connection) -> Vec<String> {
    let view: String = conn
        .query_row("SELECT sql FROM sqlite_schema WHERE name = 'orq_next_seq'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(view.matches("DESC LIMIT 1)").count(), 2, "{view}");
    let mut stmt = conn.prepare("EXPLAIN QUERY PLAN SELECT seq FROM orq_next_seq").unwrap();
    let plan: Vec<String> = stmt.query_map([], |r| r.get(3)).unwrap().map(|r| r.unwrap()).collect();
    let scans: Vec<&String> = plan.iter().filter(|l| l.starts_with("SCAN ")).collect();
    assert_eq!(
        scans,
        ["SCAN CONSTANT ROW", "SCAN orq_events_stored", "SCAN orq_jobs", "SCAN tails"],
        "{plan:?}"
    );
    plan
}

/// `plan` without one occurrence of each line of the orq_next_seq view's plan.
fn without_next_seq(plan: &mut Vec<String>, next_seq: &[String]) {
    if !plan.iter().any(|l| l == "SCAN tails") {
        return;
    }
    for line in next_seq {
        if let Some(i) = plan.iter().position(|l| l == line) {
            plan.remove(i);
        }
    }
}

/// The statements sql.rs makes of a completion (sql/complete.sql): one for
/// jobs without children, one for parents; other statements as they are.
fn children_forms(sql: &str) -> Vec<String> {
    if !sql.contains("{watch}") {
        return vec![sql.to_string()];
    }
    vec![
        sql.replace("{watch}", "").replace("{children}", "children = 0"),
        sql.replace("{watch}", ", children = children").replace("{children}", "children > 0"),
    ]
}

/// `sql` whole, as sql.rs builds it from its fragments.
fn splice(sql: &str, fragments: &std::collections::HashMap<String, String>) -> String {
    // Twice: a fragment may name another (claim_candidates.sql, routable.sql).
    let splice_once = |sql: String| {
        fragments.iter().fold(sql, |sql, (name, text)| {
            sql.replace(&format!("{{{}}}", name.trim_end_matches(".sql")), text)
        })
    };
    let spliced = splice_once(splice_once(sql.to_string()));
    if spliced.contains("FROM worker_states") {
        return fragments["worker_states.sql"].clone() + &spliced;
    }
    spliced
}

/// Released migrations never change: two databases "at v7" must hold the same
/// schema. sql/migrations/RELEASED.sha256 lists each migration's checksum;
/// editing a listed file fails here, and a new migration is appended to the
/// list in the commit that adds it.
#[test]
fn released_migrations_never_change() {
    let dir = root().join("sql/migrations");
    let listed =
        std::fs::read_to_string(dir.join("RELEASED.sha256")).expect("sql/migrations/RELEASED.sha256");
    let check = std::process::Command::new("sha256sum")
        .args(["--check", "--strict", "--quiet", "RELEASED.sha256"])
        .current_dir(&dir)
        .output()
        .expect("run sha256sum");
    assert!(
        check.status.success(),
        "a released migration was edited (append a new migration instead):\n{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".sql"))
        .collect();
    files.sort();
    let names: Vec<&str> = listed.lines().filter_map(|l| l.split_whitespace().nth(1)).collect();
    assert_eq!(
        names, files,
        "every migration is listed in RELEASED.sha256, in order (cd sql/migrations && sha256sum NEW.sql >> RELEASED.sha256)"
    );
}

/// A database at `version`, made by running the released migrations up to it
/// on a connection without orq, as that orq did.
fn database_at(version: usize) -> Connection {
    let conn = Connection::open_in_memory().unwrap();
    let mut files: Vec<_> = std::fs::read_dir(root().join("sql/migrations"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    for file in &files[..version] {
        conn.execute_batch(&std::fs::read_to_string(file).unwrap()).unwrap();
    }
    conn.execute("INSERT INTO orq_meta (key, value) VALUES ('schema_version', ?1)", [version as i64])
        .unwrap();
    conn
}

/// Migration 012 reads enqueues from the job rows: the jobs of a v11
/// database keep their stored 'enqueued' events, later ones have theirs on
/// their rows, and the trail stays one sequence with one enqueue per job.
#[test]
fn v12_keeps_earlier_enqueues_and_numbers_later_ones_after_them() {
    let conn = database_at(11);
    conn.execute_batch(
        "INSERT INTO orq_jobs (queue, payload, state, max_attempts, lease_ms, created_at, updated_at, run_at)
         SELECT 'q', '{}', 'ready', 1, 1000, 1000, 1000, 1000 FROM json_each('[1,2]');
         UPDATE orq_jobs SET state = 'running', event = 'claimed', token = 1048577, worker = 'w' WHERE id = 1;",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    orq_tests::load(&conn);
    one::<i64>(&conn, "SELECT orq_migrate()");
    one::<i64>(&conn, "SELECT queue_enqueue('q', '{}')");
    one::<i64>(&conn, "SELECT queue_complete(1, 1048577)");
    assert_eq!(
        rows(&conn, "SELECT seq, job, type FROM queue_events ORDER BY seq"),
        vec!["1|1|enqueued", "2|2|enqueued", "3|1|claimed", "4|3|enqueued", "5|1|completed"]
    );
    assert_eq!(one::<i64>(&conn, "SELECT count(*) FROM orq_events_stored WHERE type = 'enqueued'"), 2);
    assert_eq!(rows(&conn, "SELECT type FROM queue_history(3)"), vec!["enqueued"]);
}

/// Migration 010 gives the events and jobs recorded before it their causes,
/// read once from the texts orq wrote then; failed_total counts by them.
#[test]
fn v10_backfills_the_causes_of_earlier_events_and_jobs() {
    let conn = database_at(9);
    // Each job's last transition, written as the v9 statements wrote it (the
    // v9 triggers record the events).
    conn.execute_batch(
        "INSERT INTO orq_jobs (id, queue, payload, state, attempts, max_attempts, lease_ms, created_at, updated_at, run_at)
         SELECT value, 'q', '{}', 'running', 1, 1, 1000, 1000, 1000, 1000 FROM json_each('[1,2,3,4,5,6,7]');
         UPDATE orq_jobs SET state = 'dead', event = 'dead', error = 'lease expired' WHERE id = 1;
         UPDATE orq_jobs SET state = 'ready', event = 'expired', error = 'worker w died' WHERE id = 2;
         UPDATE orq_jobs SET state = 'ready', event = 'failed', error = 'boom' WHERE id = 3;
         UPDATE orq_jobs SET state = 'dead', event = 'dead', error = 'boom' WHERE id = 4;
         UPDATE orq_jobs SET state = 'cancelled', event = 'cancelled', error = 'parent 4 ended dead' WHERE id = 5;
         UPDATE orq_jobs SET state = 'cancelled', event = 'cancelled', error = error WHERE id = 6;
         UPDATE orq_jobs SET state = 'dead', event = 'dead', error = 'worker w died' WHERE id = 7;
         UPDATE orq_jobs SET state = 'ready', event = 'retried' WHERE id = 7;",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    orq_tests::load(&conn);
    one::<i64>(&conn, "SELECT orq_migrate()");
    assert_eq!(
        rows(&conn, "SELECT job, type, detail FROM orq_events WHERE type <> 'enqueued' AND type <> 'retried' ORDER BY seq"),
        vec![
            r#"1|dead|{"error":"lease expired","cause":"lease_expired"}"#,
            r#"2|expired|{"error":"worker w died","retry_at":1.0,"cause":"worker_died"}"#,
            r#"3|failed|{"error":"boom","retry_at":1.0,"cause":"failed"}"#,
            r#"4|dead|{"error":"boom","cause":"failed"}"#,
            r#"5|cancelled|{"reason":"parent 4 ended dead","cause":"parent_ended"}"#,
            r#"6|cancelled|{"reason":null,"cause":"cancelled"}"#,
            r#"7|dead|{"error":"worker w died","cause":"worker_died"}"#,
        ]
    );
    assert_eq!(
        rows(&conn, "SELECT id, cause FROM orq_jobs ORDER BY id"),
        vec![
            "1|lease_expired",
            "2|worker_died",
            "3|failed",
            "4|failed",
            "5|parent_ended",
            "6|cancelled",
            "7|worker_died"
        ]
    );
    assert_eq!(
        rows(&conn, "SELECT metric || '=' || value FROM queue_metrics WHERE metric IN ('failed_total', 'expired_total')"),
        vec!["failed_total=2.0", "expired_total=3.0"]
    );
    // Only the four event types that carry an error were touched.
    assert_eq!(
        one::<i64>(&conn, "SELECT count(*) FROM orq_events WHERE detail ->> '$.cause' IS NOT NULL"),
        7
    );
}
