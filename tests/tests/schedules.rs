//! Schedules turned into jobs by claims: one job per due time, with no
//! scheduler process, whatever the clock does and however many claim.

use std::path::Path;
use std::time::{Duration, Instant};

use orq_tests::{assert_error, memory, one, open, rows, Scratch};
use rusqlite::Connection;

fn at(conn: &Connection, t: f64) {
    conn.query_row("SELECT orq_clock(?1)", [t], |_| Ok(())).unwrap();
}

/// Claims and completes every claimable job; returns how many.
fn claim_all(conn: &Connection) -> usize {
    let claimed: Vec<(i64, i64)> = conn
        .prepare("SELECT id, token FROM queue_claim('w', 1000)")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    for (id, token) in &claimed {
        conn.query_row("SELECT queue_complete(?1, ?2)", [id, token], |_| Ok(())).unwrap();
    }
    claimed.len()
}

const T0: f64 = 1_800_000_000.0; // a multiple of 300 s

#[test]
fn stepping_the_clock_makes_one_job_per_due_time() {
    let conn = memory();
    at(&conn, T0);
    assert_eq!(
        one::<f64>(&conn, "SELECT queue_schedule('five', '*/5 * * * *', 'cron', '{\"n\":1}')"),
        T0 + 300.0
    );
    let mut t = T0;
    let mut steps = 0;
    while t < T0 + 3600.0 {
        t += 7.0 + (steps % 13) as f64 * 9.0;
        at(&conn, t);
        claim_all(&conn);
        steps += 1;
    }
    let due: Vec<String> = rows(&conn, "SELECT run_at FROM queue_jobs ORDER BY run_at");
    let expected: Vec<String> = (1..=12).map(|k| format!("{:?}", T0 + 300.0 * k as f64)).collect();
    assert_eq!(due, expected, "one job per due time, due when it was scheduled");
    assert_eq!(
        rows(&conn, "SELECT next_run_at, last_run_at FROM queue_schedules"),
        vec![format!("{:?}|{:?}", T0 + 3900.0, T0 + 3600.0)]
    );
}

#[test]
fn after_downtime_a_schedule_runs_once_not_once_per_missed_run() {
    let conn = memory();
    at(&conn, T0);
    one::<f64>(&conn, "SELECT queue_schedule('tick', '@every 30s', 'cron', '{}')");
    at(&conn, T0 + 3600.0 + 5.0);
    claim_all(&conn);
    assert_eq!(one::<i64>(&conn, "SELECT count(*) FROM queue_jobs"), 1);
    assert_eq!(one::<f64>(&conn, "SELECT run_at FROM queue_jobs"), T0 + 30.0, "the first missed due time");
    assert_eq!(
        one::<f64>(&conn, "SELECT next_run_at FROM queue_schedules"),
        T0 + 3630.0,
        "back on its 30 s grid"
    );
}

#[test]
fn schedules_are_replaced_removed_and_checked() {
    let conn = memory();
    at(&conn, T0);
    one::<f64>(&conn, "SELECT queue_schedule('s', '0 9 * * *', 'reports', '{\"r\":1}', '{\"tz\":\"Europe/Berlin\",\"priority\":5}')");
    assert_eq!(
        rows(&conn, "SELECT name, tz, queue, options, next_run_at FROM queue_schedules"),
        // T0 is 09:00 in Berlin: the next 09:00 there is a day later.
        vec![format!("s|Europe/Berlin|reports|{{\"priority\":5}}|{:?}", T0 + 86_400.0)]
    );
    one::<f64>(&conn, "SELECT queue_schedule('s', '@hourly', 'reports', '{}')");
    assert_eq!(rows(&conn, "SELECT cron, tz FROM queue_schedules"), vec!["@hourly|NULL"]);
    at(&conn, T0 + 3600.0);
    claim_all(&conn);
    assert_eq!(one::<i64>(&conn, "SELECT priority FROM queue_jobs"), 0, "the replaced schedule's options");
    assert_eq!(one::<i64>(&conn, "SELECT queue_unschedule('s')"), 1);
    assert_eq!(one::<i64>(&conn, "SELECT queue_unschedule('s')"), 0);
    assert_eq!(one::<f64>(&conn, "SELECT orq_cron_next('30 2 * * *', 1800000000, 'UTC')"), 1_800_066_600.0);
    for (sql, needle) in [
        ("SELECT queue_schedule('x', '61 * * * *', 'q', '{}')", "queue_schedule: bad minute field '61'"),
        ("SELECT queue_schedule('x', '* * *', 'q', '{}')", "cron '* * *' must have 5 fields"),
        ("SELECT queue_schedule('x', '@every 1x', 'q', '{}')", "@every needs a duration"),
        (
            "SELECT queue_schedule('x', '@daily', 'q', '{}', '{\"tz\":\"Moon/Base\"}')",
            "unknown time zone 'Moon/Base'",
        ),
        ("SELECT queue_schedule('x', '@daily', 'q', '{}', '{\"key\":\"k\"}')", "cannot have a key"),
        ("SELECT queue_schedule('x', '@daily', 'bad q', '{}')", "invalid queue name"),
        ("SELECT queue_schedule('x', '@daily', 'q', '{nope')", "payload is not valid JSON"),
        ("SELECT orq_cron_next('@weekly', -5)", "orq_cron_next: after must be unix seconds"),
    ] {
        assert_error(&conn, sql, needle);
    }
    assert_eq!(rows(&conn, "SELECT * FROM queue_schedules").len(), 0);
}

fn claim_loop(db: &Path, until: Instant) -> usize {
    let conn = open(db);
    let mut n = 0;
    while Instant::now() < until {
        n += claim_all(&conn);
        std::thread::sleep(Duration::from_millis(3));
    }
    n
}

#[test]
fn eight_claimers_at_once_still_make_one_job_per_due_time() {
    let scratch = Scratch::new("cron8");
    let db = scratch.path("q.db");
    let conn = open(&db);
    conn.query_row("SELECT queue_schedule('second', '@every 1s', 'cron', '{}')", [], |_| Ok(())).unwrap();
    let until = Instant::now() + Duration::from_millis(3500);
    let claimers: Vec<_> = (0..8)
        .map(|_| {
            let db = db.clone();
            std::thread::spawn(move || claim_loop(&db, until))
        })
        .collect();
    let claimed: usize = claimers.into_iter().map(|c| c.join().unwrap()).sum();
    let due: Vec<f64> = conn
        .prepare("SELECT run_at FROM queue_jobs ORDER BY run_at")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert!((3..=4).contains(&due.len()), "{due:?}");
    assert_eq!(claimed, due.len(), "every job claimed once");
    assert!(due.windows(2).all(|w| (w[1] - w[0] - 1.0).abs() < 1e-6), "one per second, none twice: {due:?}");
}

/// 9999-12-31T23:59:59Z, the latest time orq accepts, in unix seconds.
const LATEST: f64 = 253_402_300_799.0;

#[test]
fn every_refuses_durations_beyond_the_bound() {
    let conn = memory();
    at(&conn, T0);
    for (spec, needle) in [
        // 2^63 ms and more: the next run used to wrap to -292 million years.
        ("@every 106751991167d", "queue_schedule: @every needs a duration from 1s to 10 years"),
        ("@every 3653d", "from 1s to 10 years"),
        ("@every 99999999999999999999999s", "from 1s to 10 years"),
    ] {
        assert_error(&conn, &format!("SELECT queue_schedule('x', '{spec}', 'q', '{{}}')"), needle);
    }
    assert_eq!(one::<i64>(&conn, "SELECT count(*) FROM queue_schedules"), 0, "nothing changed");
    // Ten years is allowed.
    assert_eq!(
        one::<f64>(&conn, "SELECT queue_schedule('x', '@every 3652d', 'q', '{}')"),
        T0 + 3652.0 * 86_400.0
    );
}

#[test]
fn a_schedule_whose_next_run_cannot_be_represented_is_set_aside() {
    let conn = memory();
    at(&conn, LATEST - 3.0 * 86_400.0);
    one::<f64>(&conn, "SELECT queue_schedule('daily', '@daily', 'cron', '{}')");
    one::<f64>(&conn, "SELECT queue_schedule('often', '@every 2d', 'cron', '{}')");
    one::<i64>(&conn, "SELECT queue_enqueue('other', '{\"n\":1}')");
    // A row written by an older orq (or by hand) that cannot fire at all.
    conn.execute_batch(
        "INSERT INTO orq_schedules (name, cron, queue, payload, next_run_at, created_at)
         VALUES ('wrapped', '@every 106751991167d', 'cron', '{}', -9223372036854775000, 0)",
    )
    .unwrap();
    // One day before the end of time: every due schedule's next run lies
    // beyond it. Claims on every queue go on.
    at(&conn, LATEST - 86_400.0 + 1.0);
    assert_eq!(rows(&conn, "SELECT queue FROM queue_claim('w', 10, 'other')"), vec!["other"]);
    assert_eq!(
        rows(&conn, "SELECT name, next_run_at, error IS NOT NULL FROM queue_schedules"),
        vec!["daily|NULL|1", "often|NULL|1", "wrapped|NULL|1"]
    );
    let errors = rows(&conn, "SELECT error FROM queue_schedules");
    assert!(errors[0].contains("9999-12-31T23:59:59Z"), "{errors:?}");
    assert!(errors[2].contains("@every needs a duration"), "{errors:?}");
    // The schedules that could fire made their last job; the broken one none.
    assert_eq!(one::<i64>(&conn, "SELECT count(*) FROM queue_jobs WHERE queue = 'cron'"), 2);
    assert_eq!(one::<i64>(&conn, "SELECT count(*) FROM queue_jobs WHERE run_at < 0"), 0);
    // Later claims do not fire them again; replacing one clears its error.
    at(&conn, LATEST);
    claim_all(&conn);
    assert_eq!(one::<i64>(&conn, "SELECT count(*) FROM queue_jobs WHERE queue = 'cron'"), 2);
    at(&conn, T0);
    one::<f64>(&conn, "SELECT queue_schedule('often', '@every 2d', 'cron', '{}')");
    assert_eq!(
        rows(&conn, "SELECT next_run_at, error FROM queue_schedules WHERE name = 'often'"),
        vec![format!("{:?}|NULL", T0 + 2.0 * 86_400.0)]
    );
}

#[test]
fn times_beyond_the_bound_are_refused_everywhere() {
    let conn = memory();
    at(&conn, LATEST - 60.0);
    for (sql, needle) in [
        (
            "SELECT queue_enqueue('q', '{}', '{\"delay\":3600}')",
            "queue_enqueue: delay ends after 9999-12-31T23:59:59Z",
        ),
        (
            "SELECT orq_clock(253402300800)",
            "orq_clock: t must be unix seconds between 0 and 253402300799 (9999-12-31T23:59:59Z)",
        ),
        ("SELECT orq_cron_next('@daily', 253402300000)", "orq_cron_next: no run before 9999-12-31T23:59:59Z"),
        (
            "SELECT orq_cron_next('@every 1d', 253402300000)",
            "orq_cron_next: no run before 9999-12-31T23:59:59Z",
        ),
    ] {
        assert_error(&conn, sql, needle);
    }
    assert_eq!(one::<i64>(&conn, "SELECT count(*) FROM queue_jobs"), 0);
}
