//! The audit trail is complete: replaying the events alone rebuilds every
//! job's state, at the end and at any moment before, over a long random
//! history of every kind of operation.

use std::collections::BTreeMap;

use orq_tests::{memory, one, rows};
use rusqlite::Connection;

/// A small deterministic PRNG (splitmix64), so the history is reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Runs `sql`; an error (a stale id, a purged job) is part of the history.
fn try_sql(conn: &Connection, sql: &str) {
    let _ = conn.prepare(sql).and_then(|mut s| {
        let mut r = s.query([])?;
        while r.next()?.is_some() {}
        Ok(())
    });
}

fn states(conn: &Connection, sql: &str) -> BTreeMap<i64, String> {
    conn.prepare(sql)
        .unwrap()
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                format!("{}|{}|{}", r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, i64>(3)?),
            ))
        })
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
}

const OPERATIONS: usize = 100_000;

#[test]
fn replaying_events_rebuilds_every_state_after_a_random_history() {
    let conn = memory();
    let mut rng = Rng(20_261_126);
    let mut now: i64 = 1_800_000_000_000;
    let mut held: Vec<(i64, i64)> = Vec::new();
    let mut snapshot = None;
    let queues = ["a", "b", "c"];
    for op in 0..OPERATIONS {
        now += rng.below(3000) as i64 + if rng.chance(1) { 60_000 } else { 0 };
        conn.query_row("SELECT orq_clock(?1 / 1000.0)", [now], |_| Ok(())).unwrap();
        let max_id: i64 = conn
            .query_row("SELECT coalesce((SELECT id FROM queue_jobs ORDER BY id DESC LIMIT 1), 0)", [], |r| {
                r.get(0)
            })
            .unwrap();
        let any_id = rng.below(max_id as u64 + 1) as i64;
        let queue = queues[rng.below(3) as usize];
        match rng.below(100) {
            0..=27 => {
                let mut opts = serde_json::Map::new();
                if rng.chance(30) {
                    opts.insert("delay".into(), (rng.below(20) as f64).into());
                }
                if rng.chance(50) {
                    opts.insert("max_attempts".into(), (rng.below(3) + 1).into());
                }
                if rng.chance(30) {
                    opts.insert("priority".into(), (rng.below(5) as i64 - 2).into());
                }
                if rng.chance(15) {
                    opts.insert("key".into(), format!("k{}", rng.below(40)).into());
                }
                if rng.chance(10) {
                    opts.insert("lease".into(), (rng.below(20) + 1).into());
                }
                if rng.chance(10) && any_id > 0 {
                    opts.insert("depends_on".into(), vec![any_id].into());
                    if rng.chance(50) {
                        opts.insert("on_parent_failure".into(), "run".into());
                    }
                }
                try_sql(
                    &conn,
                    &format!(
                        "SELECT queue_enqueue('{queue}', '{{}}', '{}')",
                        serde_json::Value::Object(opts)
                    ),
                );
            }
            28..=47 => {
                let n = rng.below(5) + 1;
                let from = if rng.chance(30) { "NULL".to_string() } else { format!("'{queue}'") };
                let lease = if rng.chance(50) { "NULL".to_string() } else { (rng.below(30) + 1).to_string() };
                let claimed: Vec<(i64, i64)> = conn
                    .prepare(&format!(
                        "SELECT id, token FROM queue_claim('w{}', {n}, {from}, {lease})",
                        rng.below(3)
                    ))
                    .unwrap()
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                    .unwrap()
                    .map(|r| r.unwrap())
                    .collect();
                held.extend(claimed);
            }
            48..=81 if !held.is_empty() => {
                let (id, token) = held.swap_remove(rng.below(held.len() as u64) as usize);
                let token = if rng.chance(5) { token + 1 } else { token };
                match rng.below(10) {
                    0..=4 => try_sql(&conn, &format!("SELECT queue_complete({id}, {token}, '{{\"ok\":1}}')")),
                    5..=7 => try_sql(
                        &conn,
                        &format!(
                            "SELECT queue_fail({id}, {token}, 'e', {})",
                            if rng.chance(50) { "NULL" } else { "0.5" }
                        ),
                    ),
                    8 => {
                        try_sql(&conn, &format!("SELECT queue_extend({id}, {token}, {})", rng.below(30) + 1));
                        held.push((id, token));
                    }
                    _ => try_sql(&conn, &format!("SELECT queue_release({id}, {token})")),
                }
            }
            82..=87 => try_sql(&conn, &format!("SELECT queue_cancel({any_id})")),
            88..=92 => try_sql(&conn, &format!("SELECT queue_retry({any_id})")),
            93..=94 => try_sql(
                &conn,
                &format!("SELECT queue_pause('{queue}'), queue_resume('{}')", queues[rng.below(3) as usize]),
            ),
            95 => try_sql(
                &conn,
                &format!(
                    "SELECT queue_purge({}, 120)",
                    if rng.chance(50) { "NULL".to_string() } else { format!("'{queue}'") }
                ),
            ),
            96..=97 => try_sql(
                &conn,
                &format!(
                    r#"SELECT queue_workflow('{{"name":"w{op}","fail_fast":{},"jobs":[{{"key":"x","queue":"{queue}","options":{{"max_attempts":1}}}},{{"key":"y","queue":"{queue}","depends_on":["x"]}},{{"key":"z","queue":"{queue}","depends_on":["x","y"]}}]}}')"#,
                    rng.chance(50)
                ),
            ),
            98 => try_sql(&conn, "SELECT queue_worker_heartbeat('w0')"),
            _ => try_sql(
                &conn,
                &format!("SELECT queue_worker_register('w{}', '{{\"heartbeat\":5}}')", rng.below(3)),
            ),
        }
        if op == OPERATIONS / 2 {
            snapshot = Some((now, states(&conn, "SELECT id, queue, state, attempts FROM queue_jobs")));
            now += 1; // nothing later shares the snapshot's millisecond
        }
    }
    let jobs = states(&conn, "SELECT id, queue, state, attempts FROM queue_jobs");
    let replayed = states(&conn, "SELECT id, queue, state, attempts FROM queue_replay");
    assert!(jobs.len() > 5_000, "a long history: {} jobs", jobs.len());
    let by_state = rows(&conn, "SELECT state, count(*) FROM queue_jobs GROUP BY state");
    assert!(by_state.len() >= 5, "every kind of state occurred: {by_state:?}");
    assert_eq!(replayed, jobs, "replaying the events gives exactly the current states");

    // And at the middle of the history, for the jobs not purged since.
    let (t, then) = snapshot.unwrap();
    let replayed_then =
        states(&conn, &format!("SELECT id, queue, state, attempts FROM queue_replay({})", t as f64 / 1000.0));
    let survivors: BTreeMap<i64, String> = then.into_iter().filter(|(id, _)| jobs.contains_key(id)).collect();
    assert_eq!(replayed_then, survivors);
    assert!(
        one::<i64>(&conn, "SELECT count(*) FROM queue_events WHERE type = 'purged'") > 0,
        "purges happened"
    );
}

#[test]
fn events_can_be_filtered_followed_and_turned_off() {
    let conn = memory();
    conn.query_row("SELECT orq_clock(1000)", [], |_| Ok(())).unwrap();
    for q in ["hot", "cold", "hot"] {
        one::<i64>(&conn, &format!("SELECT queue_enqueue('{q}', '{{}}')"));
    }
    assert_eq!(
        rows(&conn, "SELECT seq, job, type, to_state FROM queue_events WHERE queue = 'hot'"),
        vec!["1|1|enqueued|ready", "3|3|enqueued|ready"]
    );
    assert_eq!(rows(&conn, "SELECT seq FROM queue_events WHERE seq > 1 ORDER BY seq DESC"), vec!["3", "2"]);
    assert_eq!(rows(&conn, "SELECT type FROM queue_history(2)"), vec!["enqueued"]);
    assert_eq!(one::<i64>(&conn, r#"SELECT queue_configure('hot', '{"events":false}')"#), 1);
    assert_eq!(one::<i64>(&conn, r#"SELECT queue_configure('hot', '{"events":false}')"#), 0);
    rows(&conn, "SELECT * FROM queue_claim('w', 10)");
    assert_eq!(
        rows(&conn, "SELECT job, type FROM queue_events WHERE seq > 3"),
        vec!["2|claimed"],
        "nothing recorded for the hot queue"
    );
    one::<i64>(&conn, r#"SELECT queue_configure('hot', '{"events":true}')"#);
    // Purge takes a job's events and leaves a marker newer than them all.
    one::<i64>(&conn, "SELECT queue_complete(2)");
    one::<i64>(&conn, "SELECT queue_purge('cold', 0)");
    assert_eq!(
        rows(
            &conn,
            "SELECT seq, job, type, detail FROM queue_events WHERE queue = 'cold' OR type = 'purged'"
        ),
        vec![r#"6|0|purged|{"jobs":1,"finished_before":1000.0}"#]
    );
    one::<i64>(&conn, "SELECT queue_enqueue('cold', '{}')");
    assert_eq!(one::<i64>(&conn, "SELECT max(seq) FROM queue_events"), 7, "no seq handed out twice");
    orq_tests::assert_error(
        &conn,
        r#"SELECT queue_configure('hot', '{"evnts":true}')"#,
        "queue_configure: unknown setting 'evnts'",
    );
    orq_tests::assert_error(&conn, "SELECT * FROM queue_history()", "queue_history: takes 1 argument(s)");
}

/// Every kind of transition records exactly one event, with the detail the
/// README documents. (Since schema v7 most details are built without
/// json_object, and the error-carrying ones by a trigger of their own.)
#[test]
fn every_transition_records_one_event_with_its_detail() {
    let conn = memory();
    conn.query_row("SELECT orq_clock(1000)", [], |_| Ok(())).unwrap();
    let history = |id: i64| {
        rows(&conn, &format!("SELECT type, from_state, to_state, attempt, detail FROM queue_history({id})"))
    };
    let claim = || -> (i64, i64) {
        conn.query_row("SELECT id, token FROM queue_claim('w', 1, 'q', 30)", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap()
    };
    let a = one::<i64>(&conn, r#"SELECT queue_enqueue('q', '{}', '{"priority":2,"max_attempts":2}')"#);
    let (_, t1) = claim();
    one::<f64>(&conn, &format!("SELECT queue_extend({a}, {t1}, 60)"));
    one::<i64>(&conn, &format!("SELECT queue_release({a}, {t1}, 0.5)"));
    conn.query_row("SELECT orq_clock(1001)", [], |_| Ok(())).unwrap();
    let (_, t2) = claim();
    one::<String>(&conn, &format!(r#"SELECT queue_fail({a}, {t2}, 'said "no"', 2)"#));
    conn.query_row("SELECT orq_clock(1003)", [], |_| Ok(())).unwrap();
    let (_, t3) = claim();
    one::<String>(&conn, &format!("SELECT queue_fail({a}, {t3}, 'again')"));
    one::<i64>(&conn, &format!("SELECT queue_retry({a})"));
    one::<i64>(&conn, &format!("SELECT queue_cancel({a})"));
    let (t_claimed_1, t_claimed_2, t_claimed_3) = (t1, t2, t3);
    assert_eq!(
        history(a),
        vec![
            r#"enqueued|NULL|ready|0|{"run_at":1000.0,"priority":2}"#.to_string(),
            format!(r#"claimed|ready|running|1|{{"token":{t_claimed_1},"lease_until":1030.0}}"#),
            format!(r#"extended|running|running|1|{{"token":{t_claimed_1},"lease_until":1060.0}}"#),
            r#"released|running|ready|0|{"run_at":1000.5}"#.to_string(),
            format!(r#"claimed|ready|running|1|{{"token":{t_claimed_2},"lease_until":1031.0}}"#),
            r#"failed|running|ready|1|{"error":"said \"no\"","retry_at":1003.0,"cause":"failed"}"#
                .to_string(),
            format!(r#"claimed|ready|running|2|{{"token":{t_claimed_3},"lease_until":1033.0}}"#),
            r#"dead|running|dead|2|{"error":"again","cause":"failed"}"#.to_string(),
            r#"retried|dead|ready|0|{"run_at":1003.0}"#.to_string(),
            r#"cancelled|ready|cancelled|0|{"reason":"again","cause":"cancelled"}"#.to_string(),
        ]
    );

    // A lost lease, a child waiting on two parents and released by them.
    let p = one::<i64>(&conn, r#"SELECT queue_enqueue('q', '{}', '{"lease":1,"max_attempts":3}')"#);
    let q = one::<i64>(&conn, "SELECT queue_enqueue('q', '{}')");
    let child =
        one::<i64>(&conn, &format!(r#"SELECT queue_enqueue('c', '{{}}', '{{"depends_on":[{p},{q}]}}')"#));
    one::<i64>(&conn, "SELECT id FROM queue_claim('w', 1, 'q')"); // p, with its own 1 s lease
    conn.query_row("SELECT orq_clock(1010)", [], |_| Ok(())).unwrap();
    for _ in 0..2 {
        let (id, t) = claim();
        one::<i64>(&conn, &format!("SELECT queue_complete({id}, {t})"));
    }
    assert_eq!(
        rows(&conn, &format!("SELECT type, detail FROM queue_history({p})"))[2],
        r#"expired|{"error":"lease expired","retry_at":1004.0,"cause":"lease_expired"}"#
    );
    assert_eq!(
        rows(&conn, &format!("SELECT type, from_state, to_state, detail FROM queue_history({child})")),
        vec![
            r#"enqueued|NULL|waiting|{"run_at":1003.0,"priority":0,"waiting_on":2}"#,
            "unblocked|waiting|ready|NULL",
        ]
    );
}

/// The trail is stored in two places since schema v12 (enqueues on the job
/// rows, every other transition as a row of its own) and read as one: a
/// follower that resumes after the last seq it saw, a few rows at a time,
/// sees every transition once and in order, newest-first reads are the same
/// in reverse, and every job has exactly one 'enqueued' event.
#[test]
fn a_follower_sees_every_transition_once_in_seq_order() {
    let conn = memory();
    let mut rng = Rng(20_261_202);
    let (mut seen, mut last) = (Vec::<(i64, i64, String)>::new(), 0i64);
    let mut follow = |conn: &Connection, limit: u64| {
        let mut stmt = conn
            .prepare("SELECT seq, job, type FROM queue_events WHERE seq > ?1 ORDER BY seq LIMIT ?2")
            .unwrap();
        let got: Vec<(i64, i64, String)> = stmt
            .query_map([last, limit as i64], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        if let Some(l) = got.last() {
            last = l.0;
        }
        seen.extend(got);
    };
    for op in 0..3_000 {
        let queue = ["a", "b"][rng.below(2) as usize];
        match rng.below(10) {
            0..=2 => try_sql(&conn, &format!("SELECT queue_enqueue('{queue}', '{{}}')")),
            3 => try_sql(&conn, &format!("SELECT queue_enqueue_many('{queue}', '[1,2,3]')")),
            4..=5 => try_sql(
                &conn,
                "SELECT queue_complete(id, token) FROM (SELECT id, token FROM queue_claim('w', 2))",
            ),
            6 => try_sql(
                &conn,
                "SELECT queue_fail(id, token, 'x') FROM (SELECT id, token FROM queue_claim('w', 1))",
            ),
            7 => try_sql(&conn, &format!("SELECT queue_cancel({})", rng.below(op + 1))),
            8 if rng.chance(5) => try_sql(&conn, &format!("SELECT queue_purge('{queue}', 0)")),
            _ => follow(&conn, rng.below(7) + 1),
        }
    }
    follow(&conn, 1_000_000);
    let all: Vec<(i64, i64, String)> = conn
        .prepare("SELECT seq, job, type FROM queue_events ORDER BY seq")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert!(seen.windows(2).all(|w| w[0].0 < w[1].0), "the follower saw each seq once, in order");
    let seen_seqs: std::collections::BTreeSet<i64> = seen.iter().map(|e| e.0).collect();
    assert!(all.iter().all(|e| seen_seqs.contains(&e.0)), "every transition kept was seen");
    assert!(all.iter().filter(|e| e.2 == "enqueued").count() > 100, "enqueues came from the rows");
    assert!(all.iter().filter(|e| e.2 != "enqueued").count() > 100, "other transitions were stored");
    let mut newest_first = rows(&conn, "SELECT seq FROM queue_events ORDER BY seq DESC");
    newest_first.reverse();
    assert_eq!(newest_first, all.iter().map(|e| e.0.to_string()).collect::<Vec<_>>());
    assert_eq!(
        one::<i64>(&conn, "SELECT count(*) FROM orq_jobs WHERE (SELECT count(*) FROM orq_events WHERE job = id AND type = 'enqueued') <> 1"),
        0,
        "each job has one enqueue in its history"
    );
}
