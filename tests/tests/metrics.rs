//! queue_metrics: counters from the audit trail, gauges from the job and
//! worker tables, rates over 1/5/15 minutes and run/wait histograms, all
//! with the clock fixed, so every value is exact.

use orq_tests::{memory, one, open, rows, Scratch};
use rusqlite::Connection;

fn at(conn: &Connection, t: f64) {
    conn.query_row("SELECT orq_clock(?1)", [t], |_| Ok(())).unwrap();
}

fn run(conn: &Connection, sql: &str) {
    conn.query_row(sql, [], |_| Ok(())).unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Claims `n` jobs of `queue`: (id, token) in claim order.
fn claim(conn: &Connection, n: i64, queue: &str) -> Vec<(i64, i64)> {
    conn.prepare("SELECT id, token FROM queue_claim('w', ?1, ?2)")
        .unwrap()
        .query_map(rusqlite::params![n, queue], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
}

fn claim_one(conn: &Connection, queue: &str) -> (i64, i64) {
    let got = claim(conn, 1, queue);
    assert_eq!(got.len(), 1, "nothing to claim in {queue}");
    got[0]
}

fn complete(conn: &Connection, (id, token): (i64, i64)) {
    assert_eq!(one::<i64>(conn, &format!("SELECT queue_complete({id}, {token})")), 1);
}

fn fail(conn: &Connection, (id, token): (i64, i64), retry_in: f64) {
    run(conn, &format!("SELECT queue_fail({id}, {token}, 'boom', {retry_in})"));
}

/// A counter or gauge of one queue.
fn metric(conn: &Connection, queue: &str, name: &str) -> f64 {
    conn.query_row(
        "SELECT value FROM queue_metrics WHERE queue = ?1 AND metric = ?2 AND (kind = 'counter' OR kind = 'gauge')",
        [queue, name],
        |r| r.get(0),
    )
    .unwrap_or_else(|e| panic!("{queue} {name}: {e}"))
}

/// `metric=value` for every row of `kind` of one queue, in table order.
fn of_kind(conn: &Connection, queue: &str, kind: &str) -> Vec<String> {
    rows(
        conn,
        &format!(
            "SELECT metric || '=' || value FROM queue_metrics WHERE queue = '{queue}' AND kind = '{kind}'"
        ),
    )
}

#[test]
fn counters_count_every_kind_of_event_per_queue() {
    let conn = memory();
    at(&conn, 1000.0);
    // ok: two jobs done.
    run(&conn, "SELECT queue_enqueue('ok', '{}'), queue_enqueue('ok', '{}')");
    for job in claim(&conn, 2, "ok") {
        complete(&conn, job);
    }
    // bad: a failure that is retried, then one that kills the job; a child
    // enqueued after its parent died is born cancelled; a manual retry.
    let bad: i64 = one(&conn, r#"SELECT queue_enqueue('bad', '{}', '{"max_attempts":2}')"#);
    fail(&conn, claim_one(&conn, "bad"), 1.0);
    at(&conn, 1010.0);
    fail(&conn, claim_one(&conn, "bad"), 1.0);
    assert_eq!(one::<String>(&conn, &format!("SELECT state FROM queue_jobs WHERE id = {bad}")), "dead");
    run(&conn, &format!(r#"SELECT queue_enqueue('bad', '{{}}', '{{"depends_on":[{bad}]}}')"#));
    assert_eq!(one::<i64>(&conn, &format!("SELECT queue_retry({bad})")), 1);
    // lost: a lease that runs out, then the last one, which kills the job.
    run(&conn, r#"SELECT queue_enqueue('lost', '{}', '{"max_attempts":2,"lease":1}')"#);
    claim_one(&conn, "lost");
    at(&conn, 1012.0);
    claim_one(&conn, "lost"); // returns the lost lease first, then leases it again
    at(&conn, 1014.0);
    assert!(claim(&conn, 1, "lost").is_empty());
    // gone: one cancelled while ready, one while running.
    let gone: i64 = one(&conn, "SELECT queue_enqueue('gone', '{}')");
    run(&conn, "SELECT queue_enqueue('gone', '{}')");
    run(&conn, &format!("SELECT queue_cancel({gone})"));
    let (running, _) = claim_one(&conn, "gone");
    run(&conn, &format!("SELECT queue_cancel({running})"));

    let expect = |queue: &str, values: [i64; 7]| {
        let names = [
            "enqueued_total",
            "completed_total",
            "failed_total",
            "retried_total",
            "dead_total",
            "cancelled_total",
            "expired_total",
        ];
        let want: Vec<String> = names.iter().zip(values).map(|(n, v)| format!("{n}={v}.0")).collect();
        assert_eq!(of_kind(&conn, queue, "counter"), want, "queue {queue}");
    };
    expect("ok", [2, 2, 0, 0, 0, 0, 0]);
    expect("bad", [2, 0, 2, 1, 1, 1, 0]);
    expect("lost", [1, 0, 0, 0, 1, 0, 2]);
    expect("gone", [2, 0, 0, 0, 0, 2, 0]);
}

#[test]
fn gauges_count_jobs_by_state_and_the_workers_of_each_queue() {
    let conn = memory();
    at(&conn, 1000.0);
    run(&conn, r#"SELECT queue_worker_register('old', '{"heartbeat":1}')"#);
    for _ in 0..3 {
        run(&conn, "SELECT queue_enqueue('g', '{}')");
    }
    run(&conn, r#"SELECT queue_enqueue('g', '{}', '{"delay":60}')"#);
    run(&conn, r#"SELECT queue_enqueue('e', '{}', '{"delay":100}')"#);
    at(&conn, 1010.0);
    run(&conn, "SELECT queue_enqueue('g', '{}')");
    assert_eq!(claim_one(&conn, "g").0, 1);
    run(&conn, r#"SELECT queue_enqueue('g', '{}', '{"depends_on":[2]}')"#);
    run(&conn, "SELECT queue_pause('g')");
    run(&conn, r#"SELECT queue_worker_register('only-g', '{"queues":["g"]}')"#);
    run(&conn, "SELECT queue_worker_register('every')");
    run(&conn, r#"SELECT queue_worker_register('other', '{"queues":["x"]}')"#);
    run(&conn, "SELECT queue_worker_register('stopped')");
    run(&conn, "SELECT queue_worker_stop('stopped')");

    assert_eq!(
        of_kind(&conn, "g", "gauge")[..7],
        [
            "ready=3.0",
            "scheduled=1.0",
            "running=1.0",
            "waiting=1.0",
            "paused=1.0",
            "oldest_ready_age_seconds=10.0",
            "workers_alive=2.0"
        ]
    );
    assert_eq!(
        of_kind(&conn, "e", "gauge")[..7],
        [
            "ready=0.0",
            "scheduled=1.0",
            "running=0.0",
            "waiting=0.0",
            "paused=0.0",
            "oldest_ready_age_seconds=0.0",
            "workers_alive=1.0"
        ]
    );
    // The same counts as queue_stats.
    assert_eq!(
        rows(&conn, "SELECT ready, scheduled, running, waiting, paused, oldest_ready_age FROM queue_stats WHERE queue = 'g'"),
        vec!["3|1|1|1|1|10.0"]
    );
    // A job becomes due, a worker misses its heartbeats.
    at(&conn, 1070.0);
    assert_eq!(metric(&conn, "g", "ready"), 4.0);
    assert_eq!(metric(&conn, "g", "scheduled"), 0.0);
    assert_eq!(metric(&conn, "g", "oldest_ready_age_seconds"), 70.0);
    assert_eq!(metric(&conn, "g", "workers_alive"), 0.0);
}

#[test]
fn histograms_measure_runs_and_first_waits_in_cumulative_buckets() {
    let conn = memory();
    at(&conn, 1000.0);
    for p in [4, 3, 2, 1] {
        run(&conn, &format!(r#"SELECT queue_enqueue('h', '{{}}', '{{"priority":{p}}}')"#));
    }
    run(&conn, r#"SELECT queue_enqueue('h', '{}', '{"delay":10}')"#); // due at 1010
    at(&conn, 1000.002);
    let j1 = claim_one(&conn, "h"); // waited 0.002
    at(&conn, 1000.005);
    complete(&conn, j1); // ran 0.003
    at(&conn, 1000.3);
    let j2 = claim_one(&conn, "h"); // waited 0.3
    at(&conn, 1001.0);
    fail(&conn, j2, 100.0); // ran 0.7: a failed attempt is a run
    at(&conn, 1003.0);
    let j3 = claim_one(&conn, "h"); // waited 3
    at(&conn, 1048.0);
    complete(&conn, j3); // ran 45
    let j4 = claim_one(&conn, "h"); // waited 48
    at(&conn, 1049.0);
    run(&conn, &format!("SELECT queue_release({}, {})", j4.0, j4.1)); // not a finished run
    at(&conn, 1050.0);
    let j4 = claim_one(&conn, "h"); // a second claim: no wait measured
    at(&conn, 1052.0);
    complete(&conn, j4); // ran 2
    at(&conn, 1060.0);
    assert_eq!(claim_one(&conn, "h").0, 5); // waited 50 since it was due (not 60 since enqueued)

    let le = [
        "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "5.0", "10.0", "30.0", "60.0",
        "300.0", "900.0", "3600.0", "inf",
    ];
    let buckets = |metric: &str| -> Vec<String> {
        let got = rows(
            &conn,
            &format!("SELECT le, value FROM queue_metrics WHERE queue = 'h' AND metric = '{metric}' AND kind = 'histogram'"),
        );
        // rows() prints REAL with {:?}: the infinite bound as "inf".
        got.iter().map(|r| r.replace('|', "=")).collect()
    };
    let want = |counts: [i64; 17]| -> Vec<String> {
        le.iter().zip(counts).map(|(l, n)| format!("{l}={n}.0")).collect()
    };
    assert_eq!(buckets("run_seconds"), want([1, 1, 1, 1, 1, 1, 1, 2, 3, 3, 3, 3, 4, 4, 4, 4, 4]));
    assert_eq!(buckets("wait_seconds"), want([1, 1, 1, 1, 1, 1, 2, 2, 2, 3, 3, 3, 5, 5, 5, 5, 5]));
    let totals = rows(
        &conn,
        "SELECT metric, kind, value FROM queue_metrics WHERE queue = 'h' AND kind GLOB 'histogram_*'",
    );
    assert_eq!(
        totals,
        vec![
            "run_seconds|histogram_sum|47.703",
            "run_seconds|histogram_count|4.0",
            "wait_seconds|histogram_sum|101.302",
            "wait_seconds|histogram_count|5.0"
        ]
    );
    // The +Inf bucket is a REAL infinity: it sorts after every bound.
    assert_eq!(one::<f64>(&conn, "SELECT max(le) FROM queue_metrics WHERE queue = 'h'"), f64::INFINITY);
}

#[test]
fn a_waiting_job_waits_from_when_its_parent_completes() {
    let conn = memory();
    at(&conn, 1000.0);
    let parent: i64 = one(&conn, "SELECT queue_enqueue('dep', '{}')");
    run(&conn, &format!(r#"SELECT queue_enqueue('dep', '{{}}', '{{"depends_on":[{parent}]}}')"#));
    let p = claim_one(&conn, "dep");
    at(&conn, 1020.0);
    complete(&conn, p);
    at(&conn, 1025.0);
    claim_one(&conn, "dep");
    assert_eq!(
        rows(&conn, "SELECT kind, value FROM queue_metrics WHERE queue = 'dep' AND metric = 'wait_seconds' AND kind <> 'histogram'"),
        vec!["histogram_sum|5.0", "histogram_count|2.0"]
    );
}

#[test]
fn rates_count_the_last_1_5_and_15_minutes() {
    let conn = memory();
    let now = 10_000.0;
    at(&conn, 8000.0);
    for _ in 0..6 {
        run(&conn, "SELECT queue_enqueue('r', '{}')");
    }
    for (ago, done) in
        [(1000.0, true), (600.0, true), (400.0, false), (200.0, true), (30.0, true), (10.0, false)]
    {
        at(&conn, now - ago);
        let job = claim_one(&conn, "r");
        if done {
            complete(&conn, job);
        } else {
            fail(&conn, job, 1.0);
        }
    }
    at(&conn, now);
    let rate = |m: &str| metric(&conn, "r", m);
    assert_eq!(rate("completed_per_second_1m"), 1.0 / 60.0);
    assert_eq!(rate("completed_per_second_5m"), 2.0 / 300.0);
    assert_eq!(rate("completed_per_second_15m"), 3.0 / 900.0);
    assert_eq!(rate("failed_per_second_1m"), 1.0 / 60.0);
    assert_eq!(rate("failed_per_second_5m"), 1.0 / 300.0);
    assert_eq!(rate("failed_per_second_15m"), 2.0 / 900.0);
    assert_eq!(rate("completed_total"), 4.0);
    // 20 minutes later nothing is recent.
    at(&conn, now + 1200.0);
    assert_eq!(rate("completed_per_second_15m"), 0.0);
    assert_eq!(rate("failed_per_second_15m"), 0.0);
    // queue_rates is unchanged beside it.
    at(&conn, now);
    assert_eq!(rows(&conn, "SELECT done, dead FROM queue_rates(60)"), vec!["1|0"]);
}

#[test]
fn the_table_has_one_row_per_sample_in_a_fixed_order() {
    let conn = memory();
    assert!(rows(&conn, "SELECT * FROM queue_metrics").is_empty(), "no rows before the schema exists");
    at(&conn, 1000.0);
    run(&conn, "SELECT queue_enqueue('b', '{}'), queue_enqueue('a', '{}')");
    let names = rows(&conn, "SELECT queue, metric, kind, le IS NULL FROM queue_metrics WHERE queue = 'a'");
    assert_eq!(names.len(), 7 + 10 + 6 + 2 * (17 + 2));
    assert_eq!(names[0], "a|enqueued_total|counter|1");
    assert_eq!(names[7], "a|ready|gauge|1");
    assert_eq!(names[16], "a|held_back|gauge|1");
    assert_eq!(names[17], "a|completed_per_second_1m|gauge|1");
    assert_eq!(names[22], "a|failed_per_second_15m|gauge|1");
    assert_eq!(names[23], "a|run_seconds|histogram|0");
    assert_eq!(names[40], "a|run_seconds|histogram_sum|1");
    assert_eq!(names[41], "a|run_seconds|histogram_count|1");
    assert_eq!(names[42], "a|wait_seconds|histogram|0");
    assert_eq!(
        rows(&conn, "SELECT DISTINCT kind FROM queue_metrics ORDER BY 1"),
        vec!["counter", "gauge", "histogram", "histogram_count", "histogram_sum"]
    );
    // Every queue, in name order; a filter on queue gives that queue's rows.
    assert_eq!(rows(&conn, "SELECT DISTINCT queue FROM queue_metrics"), vec!["a", "b"]);
    let all = rows(&conn, "SELECT * FROM queue_metrics");
    let b: Vec<String> = all.into_iter().filter(|r| r.starts_with("b|")).collect();
    assert_eq!(rows(&conn, "SELECT * FROM queue_metrics WHERE queue = 'b'"), b);
    assert!(rows(&conn, "SELECT * FROM queue_metrics WHERE queue = 'nope'").is_empty());
    assert!(rows(&conn, "SELECT * FROM queue_metrics WHERE queue = NULL").is_empty());
    assert!(rows(&conn, "SELECT * FROM queue_metrics WHERE queue = 5").is_empty());
    // The queue constraint is handed to the table (idx_num 1), not filtered after.
    let plan = rows(&conn, "EXPLAIN QUERY PLAN SELECT * FROM queue_metrics WHERE queue = 'b'");
    assert!(plan.iter().any(|l| l.contains("VIRTUAL TABLE INDEX 1")), "{plan:?}");
    // Joinable like any table.
    assert_eq!(
        rows(&conn, "SELECT s.queue, m.value FROM queue_stats AS s JOIN queue_metrics AS m ON m.queue = s.queue AND m.metric = 'ready' ORDER BY s.queue"),
        vec!["a|1.0", "b|1.0"]
    );
}

#[test]
fn every_connection_sees_the_same_numbers() {
    let scratch = Scratch::new("metrics-shared");
    let db = scratch.path("q.db");
    let (a, b) = (open(&db), open(&db));
    for conn in [&a, &b] {
        at(conn, 1000.0);
    }
    for _ in 0..3 {
        run(&a, "SELECT queue_enqueue('q', '{}')");
    }
    at(&a, 1001.0);
    complete(&a, claim_one(&a, "q"));
    at(&b, 1002.0);
    fail(&b, claim_one(&b, "q"), 5.0);
    at(&a, 1003.0);
    at(&b, 1003.0);
    let all = "SELECT * FROM queue_metrics";
    assert_eq!(rows(&a, all), rows(&b, all));
    assert_eq!(metric(&a, "q", "completed_total"), 1.0);
    assert_eq!(metric(&b, "q", "failed_total"), 1.0);
}

#[test]
fn a_queue_that_records_no_events_still_has_its_gauges() {
    let conn = memory();
    at(&conn, 1000.0);
    run(&conn, r#"SELECT queue_configure('hot', '{"events": false}')"#);
    run(&conn, "SELECT queue_enqueue('hot', '{}'), queue_enqueue('hot', '{}')");
    complete(&conn, claim_one(&conn, "hot"));
    assert_eq!(metric(&conn, "hot", "ready"), 1.0);
    assert_eq!(metric(&conn, "hot", "enqueued_total"), 0.0);
    assert_eq!(metric(&conn, "hot", "completed_total"), 0.0);
}

/// A lost lease is told from a failure by the cause the transition recorded
/// (the detail's "cause"), never by the error text: a worker may fail a job
/// with any text, even one that reads like orq's own 'lease expired' or
/// 'worker NAME died'.
#[test]
fn a_failure_whose_text_reads_like_a_lost_lease_is_a_failure() {
    let conn = memory();
    at(&conn, 1000.0);
    let once = r#"{"max_attempts":1,"lease":1}"#;
    // Failed by their workers, with texts that mimic orq's.
    for text in ["lease expired", "worker w died"] {
        run(&conn, &format!("SELECT queue_enqueue('mimic', '{{}}', '{once}')"));
        let (id, token) = claim_one(&conn, "mimic");
        run(&conn, &format!("SELECT queue_fail({id}, {token}, '{text}')"));
    }
    // Lost for real: a lease that runs out, and a worker declared dead.
    run(&conn, &format!("SELECT queue_enqueue('mimic', '{{}}', '{once}')"));
    claim_one(&conn, "mimic");
    at(&conn, 1002.0);
    assert!(claim(&conn, 1, "mimic").is_empty(), "the lost lease's job is dead");
    run(&conn, "SELECT queue_worker_register('gone', '{}')");
    run(&conn, &format!("SELECT queue_enqueue('mimic', '{{}}', '{once}')"));
    conn.query_row("SELECT id FROM queue_claim('gone', 1, 'mimic')", [], |_| Ok(())).unwrap();
    assert_eq!(one::<i64>(&conn, "SELECT queue_worker_dead('gone')"), 1);

    assert_eq!(
        rows(&conn, "SELECT type, detail ->> '$.cause', detail ->> '$.error' FROM queue_events WHERE type = 'dead' ORDER BY seq"),
        vec![
            "dead|failed|lease expired",
            "dead|failed|worker w died",
            "dead|lease_expired|lease expired",
            "dead|worker_died|worker gone died"
        ]
    );
    assert_eq!(metric(&conn, "mimic", "dead_total"), 4.0);
    assert_eq!(metric(&conn, "mimic", "failed_total"), 2.0, "the two the workers failed");
    assert_eq!(metric(&conn, "mimic", "expired_total"), 2.0, "the two lost leases");
}
