//! Dependencies and workflows: release in the parent's transaction,
//! cancellation down the graph, fail-fast, results handed to children.

use orq_tests::{assert_error, memory, one, rows};
use rusqlite::Connection;
use serde_json::json;

fn db() -> Connection {
    let conn = memory();
    conn.query_row("SELECT orq_clock(1000)", [], |_| Ok(())).unwrap();
    conn
}

fn workflow(conn: &Connection, spec: &serde_json::Value) -> i64 {
    conn.query_row("SELECT queue_workflow(?1)", [spec.to_string()], |r| r.get(0)).unwrap()
}

/// Claims everything claimable and completes it with its key as result;
/// returns the keys done, in order.
fn drain_step(conn: &Connection) -> Vec<String> {
    let claimed: Vec<(i64, i64, Option<String>)> = conn
        .prepare("SELECT c.id, c.token, j.workflow_key FROM queue_claim('w', 100000) AS c JOIN queue_jobs AS j ON j.id = c.id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    claimed
        .into_iter()
        .map(|(id, token, key)| {
            let key = key.unwrap_or_else(|| id.to_string());
            conn.query_row(
                "SELECT queue_complete(?1, ?2, json_quote(?3))",
                rusqlite::params![id, token, key],
                |_| Ok(()),
            )
            .unwrap();
            key
        })
        .collect()
}

#[test]
fn a_diamond_releases_its_join_only_after_both_sides() {
    let conn = db();
    let w = workflow(
        &conn,
        &json!({"name": "diamond", "jobs": [
            {"key": "a", "queue": "q", "payload": {"n": 1}},
            {"key": "b", "queue": "q", "depends_on": ["a"]},
            {"key": "c", "queue": "q", "depends_on": ["a"]},
            {"key": "d", "queue": "q", "depends_on": ["b", "c"]},
        ]}),
    );
    assert_eq!(
        rows(&conn, &format!("SELECT key, state, waiting_on FROM queue_workflow_jobs({w})")),
        vec!["a|ready|0", "b|waiting|1", "c|waiting|1", "d|waiting|2"]
    );
    assert_eq!(drain_step(&conn), vec!["a"]);
    assert_eq!(drain_step(&conn), vec!["b", "c"]);
    assert_eq!(one::<String>(&conn, "SELECT queue_parent_results(4)"), r#"{"b":"b","c":"c"}"#);
    assert_eq!(drain_step(&conn), vec!["d"]);
    assert!(drain_step(&conn).is_empty());
    assert_eq!(rows(&conn, "SELECT name, state, jobs, done FROM queue_workflows"), vec!["diamond|done|4|4"]);
    // d became ready in the same statement that completed its last parent.
    let seqs: Vec<i64> = conn
        .prepare("SELECT seq FROM queue_events WHERE (job = 3 AND type = 'completed') OR (job = 4 AND type = 'unblocked') ORDER BY seq")
        .unwrap().query_map([], |r| r.get(0)).unwrap().map(|r| r.unwrap()).collect();
    assert_eq!(seqs.len(), 2);
    assert_eq!(seqs[1], seqs[0] + 1, "the release is the next event after the completion");
}

#[test]
fn a_fan_out_of_ten_thousand_children_is_released_at_once() {
    let conn = db();
    let mut jobs = vec![json!({"key": "root", "queue": "q"})];
    jobs.extend((0..10_000).map(|i| json!({"key": format!("c{i}"), "queue": "q", "depends_on": ["root"]})));
    let w = workflow(&conn, &json!({"name": "fan", "jobs": jobs}));
    assert_eq!(one::<i64>(&conn, "SELECT ready + scheduled FROM queue_stats"), 1);
    assert_eq!(drain_step(&conn), vec!["root"]);
    assert_eq!(one::<i64>(&conn, "SELECT ready FROM queue_stats"), 10_000);
    assert_eq!(drain_step(&conn).len(), 10_000);
    assert_eq!(
        rows(&conn, &format!("SELECT state, done FROM queue_workflows WHERE id = {w}")),
        vec!["done|10001"]
    );
}

#[test]
fn a_chain_a_thousand_deep_runs_in_order_and_cancels_all_the_way_down() {
    let conn = db();
    let chain = |name: &str| {
        let jobs: Vec<_> = (0..1000)
            .map(|i| {
                if i == 0 {
                    json!({"key": "k0", "queue": name})
                } else {
                    json!({"key": format!("k{i}"), "queue": name, "depends_on": [format!("k{}", i - 1)]})
                }
            })
            .collect();
        json!({"name": name, "jobs": jobs})
    };
    workflow(&conn, &chain("deep"));
    let mut order = Vec::new();
    loop {
        let step = drain_step(&conn);
        if step.is_empty() {
            break;
        }
        assert_eq!(step.len(), 1, "one link at a time");
        order.extend(step);
    }
    assert_eq!(order.len(), 1000);
    assert!(order.iter().enumerate().all(|(i, k)| *k == format!("k{i}")));

    let w = workflow(&conn, &chain("doomed"));
    let root: i64 =
        conn.query_row("SELECT id FROM queue_workflow_jobs(?1) WHERE key = 'k0'", [w], |r| r.get(0)).unwrap();
    assert_eq!(one::<i64>(&conn, &format!("SELECT queue_cancel({root})")), 1);
    assert_eq!(
        rows(&conn, &format!("SELECT state, cancelled FROM queue_workflows WHERE id = {w}")),
        vec!["cancelled|1000"]
    );
    assert_eq!(
        one::<String>(&conn, &format!("SELECT error FROM queue_workflow_jobs({w}) WHERE key = 'k999'")),
        format!("parent {} ended cancelled", root + 998)
    );
}

#[test]
fn fail_fast_cancels_exactly_the_unfinished_jobs() {
    let conn = db();
    let w = workflow(
        &conn,
        &json!({"name": "ff", "fail_fast": true, "jobs": [
            {"key": "ok", "queue": "q"},
            {"key": "bad", "queue": "q", "options": {"max_attempts": 1}},
            {"key": "busy", "queue": "q"},
            {"key": "later", "queue": "q", "options": {"delay": 60}},
            {"key": "after_ok", "queue": "q", "depends_on": ["ok"]},
        ]}),
    );
    let claimed: Vec<(i64, i64, String)> = conn
        .prepare("SELECT c.id, c.token, j.workflow_key FROM queue_claim('w', 3) AS c JOIN queue_jobs AS j ON j.id = c.id")
        .unwrap().query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(|r| r.unwrap()).collect();
    let token = |key: &str| claimed.iter().find(|c| c.2 == key).map(|c| (c.0, c.1)).unwrap();
    let (ok, ok_t) = token("ok");
    one::<i64>(&conn, &format!("SELECT queue_complete({ok}, {ok_t})"));
    let (bad, bad_t) = token("bad");
    assert_eq!(one::<String>(&conn, &format!("SELECT queue_fail({bad}, {bad_t}, 'boom')")), "dead");
    assert_eq!(
        rows(&conn, &format!("SELECT key, state FROM queue_workflow_jobs({w}) ORDER BY key")),
        vec!["after_ok|cancelled", "bad|dead", "busy|cancelled", "later|cancelled", "ok|done"]
    );
    let (busy, busy_t) = token("busy");
    assert_eq!(
        one::<i64>(&conn, &format!("SELECT queue_complete({busy}, {busy_t})")),
        0,
        "its worker lost the job"
    );
    assert_eq!(rows(&conn, &format!("SELECT state FROM queue_workflows WHERE id = {w}")), vec!["failed"]);
    assert!(
        one::<String>(&conn, &format!("SELECT error FROM queue_jobs WHERE id = {busy}")).contains("is dead")
    );
}

#[test]
fn bad_specs_are_rejected_before_anything_is_written() {
    let conn = db();
    one::<i64>(&conn, "SELECT orq_migrate()");
    for (spec, needle) in [
        (
            json!({"name": "c", "jobs": [{"key": "a", "queue": "q", "depends_on": ["c"]}, {"key": "b", "queue": "q", "depends_on": ["a"]}, {"key": "c", "queue": "q", "depends_on": ["b"]}]}),
            "the dependencies form a cycle among: a, b, c",
        ),
        (
            json!({"name": "u", "jobs": [{"key": "a", "queue": "q", "depends_on": ["nope"]}]}),
            "job 'a' depends on unknown key 'nope'",
        ),
        (
            json!({"name": "d", "jobs": [{"key": "a", "queue": "q"}, {"key": "a", "queue": "q"}]}),
            "duplicate job key 'a'",
        ),
        (
            json!({"name": "o", "jobs": [{"key": "a", "queue": "q"}, {"key": "b", "queue": "q", "options": {"prio": 1}}]}),
            "jobs[1].options: unknown option 'prio'",
        ),
        (json!({"name": "q", "jobs": [{"key": "a", "queue": "bad name"}]}), "invalid queue name"),
        (json!({"jobs": [{"key": "a", "queue": "q"}]}), "spec needs a name"),
        (json!({"name": "x", "jobs": []}), "a workflow has 1 to 100000 jobs"),
        (json!({"name": "x", "jobs": [{"key": "a", "queue": "q", "extra": 1}]}), "unknown key jobs[0].extra"),
    ] {
        assert_error(
            &conn,
            &format!("SELECT queue_workflow('{}')", spec.to_string().replace('\'', "''")),
            needle,
        );
    }
    assert_error(&conn, "SELECT queue_workflow('{')", "queue_workflow: spec is not valid JSON");
    assert_eq!(
        one::<i64>(&conn, "SELECT count(*) FROM orq_jobs")
            + one::<i64>(&conn, "SELECT count(*) FROM orq_workflows"),
        0
    );
}

#[test]
fn depends_on_by_id_with_either_failure_policy() {
    let conn = db();
    let enqueue = |opts: serde_json::Value| -> i64 {
        conn.query_row("SELECT queue_enqueue('q', '{}', ?1)", [opts.to_string()], |r| r.get(0)).unwrap()
    };
    let done = enqueue(json!({}));
    let (_, t) = (done, one::<i64>(&conn, "SELECT token FROM queue_claim('w', 1)"));
    one::<i64>(&conn, &format!("SELECT queue_complete({done}, {t})"));
    let parent = enqueue(json!({"max_attempts": 1}));
    let child_ready = enqueue(json!({"depends_on": [done]}));
    let cancel_child = enqueue(json!({"depends_on": [done, parent]}));
    let run_child = enqueue(json!({"depends_on": [parent], "on_parent_failure": "run"}));
    let grandchild = enqueue(json!({"depends_on": [cancel_child]}));
    assert_eq!(
        rows(
            &conn,
            &format!("SELECT id, state, waiting_on FROM queue_jobs WHERE id >= {child_ready} ORDER BY id")
        ),
        vec![
            format!("{child_ready}|ready|0"),
            format!("{cancel_child}|waiting|1"),
            format!("{run_child}|waiting|1"),
            format!("{grandchild}|waiting|1")
        ]
    );
    let token: i64 = conn
        .query_row("SELECT token FROM queue_claim('w', 1) WHERE id = ?1", [parent], |r| r.get(0))
        .unwrap();
    assert_eq!(one::<String>(&conn, &format!("SELECT queue_fail({parent}, {token}, 'x')")), "dead");
    assert_eq!(
        rows(&conn, &format!("SELECT id, state, error FROM queue_jobs WHERE id > {child_ready} ORDER BY id")),
        vec![
            format!("{cancel_child}|cancelled|parent {parent} ended dead"),
            format!("{run_child}|ready|NULL"),
            format!("{grandchild}|cancelled|parent {cancel_child} ended cancelled"),
        ]
    );
    // Depending on a job that already failed: cancelled at once, or ready with "run".
    assert_eq!(
        one::<String>(
            &conn,
            &format!("SELECT state FROM queue_jobs WHERE id = {}", enqueue(json!({"depends_on": [parent]})))
        ),
        "cancelled"
    );
    assert_eq!(
        one::<String>(
            &conn,
            &format!(
                "SELECT state FROM queue_jobs WHERE id = {}",
                enqueue(json!({"depends_on": [parent], "on_parent_failure": "run"}))
            )
        ),
        "ready"
    );
    // Retrying the dead parent: a "run" child still waiting waits for it again.
    let other = enqueue(json!({}));
    let waits_for_two = enqueue(json!({"depends_on": [parent, other], "on_parent_failure": "run"}));
    assert_eq!(
        one::<i64>(&conn, &format!("SELECT waiting_on FROM queue_jobs WHERE id = {waits_for_two}")),
        1
    );
    one::<i64>(&conn, &format!("SELECT queue_retry({parent})"));
    assert_eq!(
        one::<i64>(&conn, &format!("SELECT waiting_on FROM queue_jobs WHERE id = {waits_for_two}")),
        2
    );
    assert_error(
        &conn,
        "SELECT queue_enqueue('q', '{}', '{\"depends_on\":[424242]}')",
        "queue_enqueue: [not_found] depends_on: no job with id 424242",
    );
    assert_error(
        &conn,
        "SELECT queue_enqueue('q', '{}', '{\"depends_on\":[\"a\"]}')",
        "depends_on must hold job ids",
    );
    assert_error(
        &conn,
        "SELECT queue_enqueue('q', '{}', '{\"on_parent_failure\":\"ignore\"}')",
        "on_parent_failure must be",
    );
}

#[test]
fn cancelling_a_workflow_cancels_what_is_unfinished() {
    let conn = db();
    let w = workflow(
        &conn,
        &json!({"name": "w", "jobs": [{"key": "a", "queue": "q"}, {"key": "b", "queue": "q", "depends_on": ["a"]}]}),
    );
    drain_step(&conn);
    let outside: i64 = conn
        .query_row("SELECT queue_enqueue('q', '{}', json_object('depends_on', json_array(2)))", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(one::<i64>(&conn, &format!("SELECT queue_workflow_cancel({w})")), 1);
    assert_eq!(
        rows(&conn, &format!("SELECT key, state FROM queue_workflow_jobs({w})")),
        vec!["a|done", "b|cancelled"]
    );
    assert_eq!(
        one::<String>(&conn, &format!("SELECT state FROM queue_jobs WHERE id = {outside}")),
        "cancelled",
        "dependents outside the workflow too"
    );
    assert_eq!(one::<i64>(&conn, &format!("SELECT queue_workflow_cancel({w})")), 0);
    assert_error(&conn, "SELECT * FROM queue_workflow_jobs()", "queue_workflow_jobs: takes 1 argument(s)");
    assert_error(
        &conn,
        "SELECT queue_parent_results(999)",
        "queue_parent_results: [not_found] no job with id 999",
    );
}
