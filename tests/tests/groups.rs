//! Groups (issue 17): limits per group, rate limits and fair shares,
//! inside the claim.

use std::thread;
use std::time::{Duration, Instant};

use orq_tests::{assert_error, memory, one, open, rows, Scratch};
use rusqlite::Connection;

fn configure(conn: &Connection, queue: &str, settings: &str) -> i64 {
    one(conn, &format!("SELECT queue_configure('{queue}', '{settings}')"))
}

fn configure_group(conn: &Connection, queue: &str, group: &str, settings: &str) -> i64 {
    one(conn, &format!("SELECT queue_group_configure('{queue}', '{group}', {settings})"))
}

/// `n` jobs of `group` in queue `q`, payloads 0..n, in one statement.
fn enqueue_group(conn: &Connection, group: &str, n: usize) {
    let payloads: Vec<usize> = (0..n).collect();
    let sql = "SELECT queue_enqueue_many('q', ?1, json_object('group', ?2))";
    conn.query_row(sql, rusqlite::params![serde_json::to_string(&payloads).unwrap(), group], |_| Ok(()))
        .unwrap();
}

/// The groups of the jobs a claim of `n` from queue `q` took, in claim order.
fn claim_groups(conn: &Connection, n: usize) -> Vec<String> {
    rows(conn, &format!("SELECT j.grp FROM queue_claim('w', {n}, 'q') AS c JOIN orq_jobs AS j USING (id)"))
}

/// How many jobs of each group run now, as "group|count" by group.
fn running_per_group(conn: &Connection) -> Vec<String> {
    rows(conn, "SELECT grp, count(*) FROM orq_jobs WHERE state = 'running' GROUP BY grp ORDER BY grp")
}

#[test]
fn a_claim_of_many_takes_no_group_past_its_limit() {
    let conn = memory();
    configure(&conn, "q", r#"{"group_max_running": 2}"#);
    for g in ["a", "b", "c"] {
        enqueue_group(&conn, g, 10);
    }
    one::<String>(&conn, "SELECT queue_enqueue_many('q', '[1,2,3]')");
    assert_eq!(claim_groups(&conn, 50).len(), 9, "2 of each group and the 3 without one");
    assert_eq!(running_per_group(&conn), vec!["NULL|3", "a|2", "b|2", "c|2"]);
    assert!(claim_groups(&conn, 50).is_empty(), "every group is full");
    one::<i64>(
        &conn,
        "SELECT queue_complete(id) FROM orq_jobs WHERE grp = 'b' AND state = 'running' LIMIT 1",
    );
    assert_eq!(claim_groups(&conn, 50), vec!["b"], "a slot of b freed");
    assert_eq!(claim_groups(&conn, 1), Vec::<String>::new(), "a claim of one keeps the limit too");
}

#[test]
fn a_claim_across_queues_keeps_each_groups_limit() {
    let conn = memory();
    configure(&conn, "q", r#"{"group_max_running": 1}"#);
    enqueue_group(&conn, "a", 5);
    enqueue_group(&conn, "b", 5);
    one::<String>(&conn, "SELECT queue_enqueue_many('other', '[1,2]', '{\"group\": \"a\"}')");
    assert_eq!(
        rows(
            &conn,
            "SELECT j.queue, j.grp FROM queue_claim('w', 20) JOIN orq_jobs AS j USING (id) ORDER BY 1, 2"
        ),
        vec!["other|a", "other|a", "q|a", "q|b"],
        "a group's limit is its queue's: queue 'other' has none"
    );
    assert!(rows(&conn, "SELECT id FROM queue_claim('w', 20)").is_empty());
}

#[test]
fn a_limit_of_one_runs_a_groups_jobs_one_at_a_time_in_enqueue_order() {
    let conn = memory();
    configure(&conn, "q", r#"{"group_max_running": 1}"#);
    for i in 0..4 {
        one::<i64>(&conn, &format!(r#"SELECT queue_enqueue('q', '{i}', '{{"group": "order:42"}}')"#));
    }
    let mut order = Vec::new();
    for _ in 0..4 {
        let claimed = rows(&conn, "SELECT id, payload FROM queue_claim('w', 10, 'q')");
        assert_eq!(claimed.len(), 1, "{claimed:?}");
        assert!(rows(&conn, "SELECT id FROM queue_claim('w2', 10, 'q')").is_empty(), "one at a time");
        let id: i64 = claimed[0].split('|').next().unwrap().parse().unwrap();
        one::<i64>(&conn, &format!("SELECT queue_complete({id})"));
        order.push(claimed[0].split('|').nth(1).unwrap().to_string());
    }
    assert_eq!(order, ["0", "1", "2", "3"]);
}

#[test]
fn a_groups_own_limit_overrides_its_queues_default_until_removed() {
    let conn = memory();
    configure(&conn, "q", r#"{"group_max_running": 2}"#);
    enqueue_group(&conn, "premium", 20);
    enqueue_group(&conn, "basic", 20);
    assert_eq!(configure_group(&conn, "q", "premium", r#"'{"max_running": 10}'"#), 1);
    assert_eq!(configure_group(&conn, "q", "premium", r#"'{"max_running": 10}'"#), 0, "unchanged");
    claim_groups(&conn, 100);
    assert_eq!(running_per_group(&conn), vec!["basic|2", "premium|10"]);
    assert_eq!(
        rows(&conn, "SELECT grp, max_running, running, scope FROM queue_limits ORDER BY scope, grp"),
        vec!["NULL|2|NULL|each group", "basic|2|2|group", "premium|10|10|group"]
    );
    // Lowered below what runs: no new claims until enough finished.
    assert_eq!(configure_group(&conn, "q", "premium", r#"'{"max_running": 0}'"#), 1);
    assert!(claim_groups(&conn, 100).is_empty());
    assert_eq!(configure_group(&conn, "q", "premium", "NULL"), 1, "back to the default of 2");
    assert_eq!(configure_group(&conn, "q", "premium", "NULL"), 0);
    assert!(claim_groups(&conn, 100).is_empty(), "10 run, over the default");
    assert_eq!(one::<i64>(&conn, "SELECT count(*) FROM orq_groups"), 0);
}

/// Claims of `queue` whose start falls in each window of `per_ms` ending at
/// a claim, from the trail: the most in any window.
fn most_claims_in_a_window(conn: &Connection, grp: Option<&str>, per_ms: i64) -> i64 {
    let filter = grp.map_or(String::new(), |g| format!("AND j.grp = '{g}'"));
    one(
        conn,
        &format!(
            "WITH c AS (SELECT e.at FROM orq_events AS e JOIN orq_jobs AS j ON j.id = e.job
                        WHERE e.type = 'claimed' {filter})
             SELECT coalesce(max((SELECT count(*) FROM c AS o WHERE o.at > c.at - {per_ms} AND o.at <= c.at)), 0)
             FROM c"
        ),
    )
}

#[test]
fn a_rate_never_admits_more_than_its_limit_in_any_window() {
    let conn = memory();
    one::<f64>(&conn, "SELECT orq_clock(1000)");
    configure(&conn, "q", r#"{"rate": {"limit": 3, "per": 10}}"#);
    one::<String>(&conn, &format!("SELECT queue_enqueue_many('q', '[{}]')", vec!["1"; 40].join(",")));
    let mut claimed_at = Vec::new();
    // Every 0.7 s of queue time a worker claims what it may and completes it.
    for step in 0..100 {
        let now = 1000.0 + step as f64 * 0.7;
        one::<f64>(&conn, &format!("SELECT orq_clock({now})"));
        for id in rows(&conn, "SELECT id FROM queue_claim('w', 10, 'q')") {
            one::<i64>(&conn, &format!("SELECT queue_complete({id})"));
            claimed_at.push(now);
        }
    }
    assert_eq!(most_claims_in_a_window(&conn, None, 10_000), 3);
    assert!(claimed_at.len() >= 3 * 6, "the limit is used, not only kept: {claimed_at:?}");
    assert_eq!(
        rows(&conn, "SELECT rate_limit, rate_per, rate_used <= 3, scope FROM queue_limits"),
        vec!["3|10.0|1|queue"]
    );
    assert!(one::<i64>(&conn, "SELECT count(*) FROM orq_claim_log") <= 3, "closed windows are deleted");
}

#[test]
fn a_group_rate_holds_back_that_group_only() {
    let conn = memory();
    one::<f64>(&conn, "SELECT orq_clock(1000)");
    configure(&conn, "q", r#"{"group_rate": {"limit": 1, "per": 60}}"#);
    enqueue_group(&conn, "a", 5);
    enqueue_group(&conn, "b", 5);
    configure_group(&conn, "q", "b", r#"'{"rate": {"limit": 2, "per": 60}}'"#);
    let mut groups = claim_groups(&conn, 10);
    groups.sort();
    assert_eq!(groups, vec!["a", "b", "b"]);
    assert!(claim_groups(&conn, 10).is_empty());
    one::<f64>(&conn, "SELECT orq_clock(1059.999)");
    assert!(claim_groups(&conn, 10).is_empty(), "the window is still open");
    one::<f64>(&conn, "SELECT orq_clock(1060)");
    assert_eq!(claim_groups(&conn, 10).len(), 3, "the window closed");
}

#[test]
fn groups_take_turns_so_a_big_backlog_does_not_starve_small_groups() {
    let conn = memory();
    enqueue_group(&conn, "big", 100_000);
    for g in 0..99 {
        enqueue_group(&conn, &format!("small:{g}"), 100);
    }
    let (mut big, mut small) = (0, 0);
    while small < 99 * 100 {
        let claimed = rows(
            &conn,
            "SELECT c.id, j.grp FROM queue_claim('w', 1, 'q') AS c JOIN orq_jobs AS j USING (id)",
        );
        let (id, group) = claimed[0].split_once('|').unwrap();
        if group == "big" {
            big += 1;
        } else {
            small += 1;
        }
        one::<i64>(&conn, &format!("SELECT queue_complete({id})"));
    }
    eprintln!("fairness: {big} jobs of the big group ran before the last of the 9,900 small ones");
    assert!(big < 20_000, "{big}");
}

#[test]
fn priority_wins_over_turns() {
    let conn = memory();
    enqueue_group(&conn, "a", 3);
    one::<i64>(&conn, r#"SELECT queue_enqueue('q', '"urgent"', '{"group": "b", "priority": 5}')"#);
    assert_eq!(rows(&conn, "SELECT payload FROM queue_claim('w', 1, 'q')"), vec![r#""urgent""#]);
}

#[test]
fn a_retried_job_takes_its_turn_at_its_new_run_at() {
    let conn = memory();
    one::<f64>(&conn, "SELECT orq_clock(1000)");
    enqueue_group(&conn, "a", 3);
    let id: i64 = one(&conn, "SELECT id FROM queue_claim('w', 1, 'q')");
    one::<String>(&conn, &format!("SELECT queue_fail({id}, NULL, 'boom', 5)"));
    assert_eq!(one::<Option<i64>>(&conn, &format!("SELECT lane FROM orq_jobs WHERE id = {id}")), None);
    assert_eq!(rows(&conn, "SELECT id FROM queue_claim('w', 5, 'q') ORDER BY id"), vec!["2", "3"]);
    one::<f64>(&conn, "SELECT orq_clock(1005)");
    assert_eq!(rows(&conn, "SELECT id FROM queue_claim('w', 5, 'q')"), vec![id.to_string()]);
}

#[test]
fn a_waiting_worker_sleeps_while_every_due_job_is_held_back_and_wakes_when_a_slot_frees() {
    let scratch = Scratch::new("groups-wait");
    let db = scratch.path("q.db");
    let conn = open(&db);
    configure(&conn, "q", r#"{"group_max_running": 1}"#);
    enqueue_group(&conn, "a", 3);
    let id: i64 = one(&conn, "SELECT id FROM queue_claim('w', 1, 'q')");
    let started = Instant::now();
    assert_eq!(one::<i64>(&conn, "SELECT queue_wait('q', 0.3, 'w2')"), 0, "held back: no wake-up");
    assert!(started.elapsed() >= Duration::from_millis(290));
    let completer = thread::spawn(move || {
        let other = open(&db);
        thread::sleep(Duration::from_millis(100));
        one::<i64>(&other, &format!("SELECT queue_complete({id})"));
    });
    let started = Instant::now();
    assert_eq!(one::<i64>(&conn, "SELECT queue_wait('q', 5, 'w2')"), 1, "the completion freed a slot");
    assert!(started.elapsed() < Duration::from_secs(4));
    completer.join().unwrap();
    assert_eq!(rows(&conn, "SELECT count(*) FROM queue_claim('w2', 5, 'q')"), vec!["1"]);
}

#[test]
fn a_waiting_worker_wakes_when_a_rate_window_closes() {
    let scratch = Scratch::new("groups-rate-wait");
    let conn = open(&scratch.path("q.db"));
    configure(&conn, "q", r#"{"rate": {"limit": 1, "per": 0.3}}"#);
    one::<String>(&conn, "SELECT queue_enqueue_many('q', '[1,2]')");
    assert_eq!(rows(&conn, "SELECT count(*) FROM queue_claim('w', 5, 'q')"), vec!["1"]);
    let started = Instant::now();
    assert_eq!(one::<i64>(&conn, "SELECT queue_wait('q', 5)"), 1);
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(250) && waited < Duration::from_secs(4), "{waited:?}");
    assert_eq!(rows(&conn, "SELECT count(*) FROM queue_claim('w', 5, 'q')"), vec!["1"]);
}

#[test]
fn a_job_goes_to_the_worker_of_another_until_its_wait_ends_or_that_worker_stops() {
    let conn = memory();
    one::<f64>(&conn, "SELECT orq_clock(1000)");
    one::<i64>(&conn, "SELECT queue_enqueue('q', '1')");
    assert_eq!(rows(&conn, "SELECT id FROM queue_claim('w1', 1)"), vec!["1"]);
    one::<i64>(&conn, r#"SELECT queue_enqueue('q', '2', '{"same_worker_as": 1}')"#);
    one::<i64>(&conn, r#"SELECT queue_enqueue('q', '3', '{"same_worker_as": 1, "same_worker_wait": 5}')"#);
    assert!(rows(&conn, "SELECT id FROM queue_claim('w2', 5)").is_empty(), "both wait for w1");
    one::<f64>(&conn, "SELECT orq_clock(1005)");
    assert_eq!(rows(&conn, "SELECT id FROM queue_claim('w2', 5)"), vec!["3"], "3 waited 5 s");
    assert_eq!(rows(&conn, "SELECT id FROM queue_claim('w1', 5)"), vec!["2"]);
    // Once that worker stopped, any worker takes the job at once.
    one::<i64>(&conn, "SELECT queue_worker_register('w3', '{}')");
    one::<i64>(&conn, "SELECT queue_enqueue('q', '4')");
    assert_eq!(rows(&conn, "SELECT id FROM queue_claim('w3', 1)"), vec!["4"]);
    one::<i64>(&conn, r#"SELECT queue_enqueue('q', '5', '{"same_worker_as": 4}')"#);
    assert!(rows(&conn, "SELECT id FROM queue_claim('w2', 5)").is_empty());
    one::<i64>(&conn, "SELECT queue_worker_stop('w3')");
    assert_eq!(rows(&conn, "SELECT id FROM queue_claim('w2', 5)"), vec!["5"]);
    for (options, problem) in [
        (r#"{"same_worker_as": 99}"#, "same_worker_as: no job with id 99"),
        (r#"{"same_worker_as": "1"}"#, "same_worker_as must be a job id"),
        (r#"{"same_worker_wait": 3}"#, "same_worker_wait needs same_worker_as"),
        (r#"{"same_worker_as": 1, "same_worker_wait": -1}"#, "same_worker_wait must be"),
    ] {
        assert_error(&conn, &format!("SELECT queue_enqueue('q', '6', '{options}')"), problem);
    }
}

#[test]
fn bad_group_settings_are_refused_naming_the_problem_and_change_nothing() {
    let conn = memory();
    configure(&conn, "q", r#"{"group_max_running": 2, "rate": {"limit": 5, "per": 1}}"#);
    let before = rows(&conn, "SELECT * FROM orq_queues");
    for (sql, problem) in [
        (r#"SELECT queue_configure('q', '{"group_max_running": -1}')"#, "group_max_running must be from 0"),
        (
            r#"SELECT queue_configure('q', '{"group_max_running": 2.5}')"#,
            "group_max_running must be an integer",
        ),
        (
            r#"SELECT queue_configure('q', '{"rate": {"limit": 5, "per": 0}}')"#,
            "rate.per must be from 0.001 to 86400",
        ),
        (r#"SELECT queue_configure('q', '{"rate": {"limit": 5, "per": 86401}}')"#, "rate.per must be from"),
        (r#"SELECT queue_configure('q', '{"rate": {"limit": -1, "per": 1}}')"#, "rate.limit must be from 1"),
        (
            r#"SELECT queue_configure('q', '{"rate": {"limit": 1.5, "per": 1}}')"#,
            "rate.limit must be an integer",
        ),
        (r#"SELECT queue_configure('q', '{"group_rate": 5}')"#, "group_rate must be an object like"),
        (r#"SELECT queue_configure('q', '{"rate": {"limit": 5}}')"#, "rate must be an object like"),
        (
            r#"SELECT queue_configure('q', '{"rate": {"limit": 5, "per": 1, "burst": 2}}')"#,
            "rate: unknown key 'burst'",
        ),
        (r#"SELECT queue_group_configure('q', 'g', '{"max_running": -2}')"#, "max_running must be from 0"),
        (
            r#"SELECT queue_group_configure('q', 'g', '{"group_max_running": 2}')"#,
            "unknown setting 'group_max_running' (known: max_running, rate)",
        ),
        (r#"SELECT queue_group_configure('q', 'g', '[]')"#, "settings must be a JSON object"),
        ("SELECT queue_group_configure('q', '', NULL)", "group must be 1 to 1024 bytes"),
        ("SELECT queue_group_configure('q', NULL, NULL)", "queue_group_configure: group"),
        ("SELECT queue_group_configure('bad name', 'g', NULL)", "invalid queue name"),
        (
            "SELECT queue_group_configure('q', 'g')",
            "queue_group_configure: takes (queue, group, settings), got 2 arguments",
        ),
        (
            r#"SELECT queue_enqueue('q', '{}', '{"group": 5}')"#,
            "queue_enqueue: group must be a string, got 5",
        ),
        (r#"SELECT queue_enqueue('q', '{}', '{"group": ""}')"#, "group must be 1 to 1024 bytes"),
    ] {
        assert_error(&conn, sql, problem);
    }
    assert_eq!(rows(&conn, "SELECT * FROM orq_queues"), before);
    assert_eq!(one::<i64>(&conn, "SELECT count(*) FROM orq_groups"), 0);
    assert_eq!(one::<i64>(&conn, "SELECT count(*) FROM orq_jobs"), 0);
}
