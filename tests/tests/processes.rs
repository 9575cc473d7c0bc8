//! Many OS processes on one database file, through liborq from plain SQL:
//! every job finished exactly once, no lock error reaching a caller, every
//! process given a share, and jobs of killed workers recovered by the rules.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use orq_tests::{one, open, rows, Scratch};
use rusqlite::Connection;

fn enqueue_many(db: &Path, n: usize, options: &str) {
    let conn = open(db);
    conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(())).unwrap();
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    let ids: Vec<usize> = (0..n).collect();
    conn.query_row(
        "SELECT count(queue_enqueue('work', json_object('n', value), ?2)) FROM json_each(?1)",
        rusqlite::params![serde_json::to_string(&ids).unwrap(), options],
        |_| Ok(()),
    )
    .unwrap();
    conn.execute_batch("COMMIT").unwrap();
}

/// Starts the `sqlite3` shell on `db`, with orq loaded and a 5 s busy
/// timeout, running `sql` (written to `script`); its output is piped.
fn spawn_shell(db: &Path, script: &Path, sql: &str) -> Child {
    std::fs::write(script, format!(".load {}\n.timeout 5000\n{sql}", orq_tests::ext_path().display()))
        .unwrap();
    Command::new("sqlite3")
        .args(["-batch", "-init", "/dev/null", db.to_str().unwrap()])
        .stdin(std::fs::File::open(script).unwrap())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run sqlite3")
}

fn spawn_drain(db: &Path, worker: &str, batch: usize, log: &Path, hold_ms: u64) -> Child {
    spawn_drain_with(&[], db, worker, batch, log, hold_ms)
}

/// spawn_drain with `env` added to the process's environment.
fn spawn_drain_with(
    env: &[(&str, &str)],
    db: &Path,
    worker: &str,
    batch: usize,
    log: &Path,
    hold_ms: u64,
) -> Child {
    Command::new(env!("CARGO_BIN_EXE_orq-test-drain"))
        .args([db.to_str().unwrap(), worker, &batch.to_string(), log.to_str().unwrap(), &hold_ms.to_string()])
        .env("ORQ_EXT", orq_tests::ext_path())
        .envs(env.iter().copied())
        .spawn()
        .expect("start orq-test-drain")
}

/// What one worker's log says: the ids it completed, and its error count
/// (None if it was killed before writing it).
fn read_log(log: &Path) -> (Vec<i64>, Option<usize>) {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut done = Vec::new();
    let mut errors = None;
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("errors ") {
            errors = Some(n.parse().unwrap());
        } else if let Ok(id) = line.parse() {
            done.push(id);
        }
    }
    (done, errors)
}

/// With the turn file, writers take turns: no process is starved.
fn drain_together(processes: usize, jobs: usize, batch: usize) {
    let (_scratch, _db, shares) = drain_together_with(&[], processes, jobs, batch);
    let fair = jobs / processes / 4;
    assert!(shares.iter().all(|&s| s >= fair), "a process was starved: {shares:?} (each needs >= {fair})");
}

/// `processes` processes drain `jobs` jobs with `env` in their environment:
/// each job completed once, no lock error reaches a caller. Returns the
/// scratch directory and the database, for a closer look, and how many
/// jobs each process completed.
fn drain_together_with(
    env: &[(&str, &str)],
    processes: usize,
    jobs: usize,
    batch: usize,
) -> (Scratch, std::path::PathBuf, Vec<usize>) {
    let scratch = Scratch::new("drain");
    let db = scratch.path("q.db");
    enqueue_many(&db, jobs, "{}");
    let started = Instant::now();
    let children: Vec<(Child, std::path::PathBuf)> = (0..processes)
        .map(|i| {
            let log = scratch.path(&format!("w{i}.log"));
            (spawn_drain_with(env, &db, &format!("w{i}"), batch, &log, 0), log)
        })
        .collect();
    let mut all = Vec::new();
    let mut shares = Vec::new();
    for (mut child, log) in children {
        assert!(child.wait().unwrap().success());
        let (done, errors) = read_log(&log);
        assert_eq!(errors, Some(0), "{}: a lock error reached the caller", log.display());
        shares.push(done.len());
        all.extend(done);
    }
    let elapsed = started.elapsed();
    eprintln!("{processes} processes, batch {batch}: {jobs} jobs in {elapsed:?}, shares {shares:?}");
    let unique: HashSet<i64> = all.iter().copied().collect();
    assert_eq!(all.len(), jobs, "every job completed exactly once");
    assert_eq!(unique.len(), jobs);
    let conn = open(&db);
    assert_eq!(rows(&conn, "SELECT done, ready, running FROM queue_stats"), vec![format!("{jobs}|0|0")]);
    assert_eq!(one::<i64>(&conn, "SELECT count(*) FROM queue_jobs WHERE state = 'done'"), jobs as i64);
    assert_eq!(one::<i64>(&conn, "SELECT count(*) FROM orq_events WHERE type = 'completed'"), jobs as i64);
    drop(conn);
    (scratch, db, shares)
}

#[test]
fn eight_processes_drain_20000_jobs_one_at_a_time() {
    drain_together(8, 20_000, 1);
}

#[test]
fn four_processes_drain_10000_jobs_the_portable_way() {
    // No turn file (and no futex): the writers wait for SQLite's lock with
    // orq's short random sleeps, as on every platform but Linux.
    // Even shares are the turn file's doing; random sleeps promise only
    // that every process gets the lock at times (one got 481 of 10,000 once).
    let (_scratch, db, shares) = drain_together_with(&[("ORQ_PORTABLE", "1")], 4, 10_000, 1);
    assert!(shares.iter().all(|&s| s > 0), "a process never got the lock: {shares:?}");
    let turn_file = format!("{}-orqlock", db.display());
    assert!(!Path::new(&turn_file).exists(), "{turn_file} was made: the turnstile was used");
}

#[test]
fn four_processes_drain_20000_jobs_in_batches() {
    drain_together(4, 20_000, 16);
}

#[test]
fn jobs_of_killed_workers_are_finished_once_or_dead_by_the_rules() {
    let scratch = Scratch::new("crash");
    let db = scratch.path("q.db");
    let jobs = 400;
    // Leases of 1 s: a killed worker's jobs come back a second later.
    enqueue_many(&db, jobs, r#"{"lease":1,"max_attempts":3}"#);
    let log = |name: &str| scratch.path(&format!("{name}.log"));
    // Victims hold their claims for 300 ms before completing: killed mid-job.
    let victims: Vec<Child> = (0..3)
        .map(|i| spawn_drain(&db, &format!("victim{i}"), 20, &log(&format!("victim{i}")), 300))
        .collect();
    std::thread::sleep(Duration::from_millis(150));
    for mut v in victims {
        v.kill().unwrap(); // SIGKILL
        v.wait().unwrap();
    }
    let conn = open(&db);
    let held: i64 = one(&conn, "SELECT count(*) FROM queue_jobs WHERE state = 'running'");
    assert!(held > 0, "the victims died holding leases");
    let survivors: Vec<(Child, String)> = (0..2)
        .map(|i| {
            (
                spawn_drain(&db, &format!("survivor{i}"), 10, &log(&format!("survivor{i}")), 0),
                format!("survivor{i}"),
            )
        })
        .collect();
    for (mut child, name) in survivors {
        assert!(child.wait().unwrap().success());
        assert_eq!(read_log(&log(&name)).1, Some(0));
    }
    // Every job ended done (once) or dead; none is left waiting or lost.
    let states: HashMap<String, i64> = rows(&conn, "SELECT state, count(*) FROM queue_jobs GROUP BY state")
        .into_iter()
        .map(|r| {
            let (s, n) = r.split_once('|').unwrap();
            (s.to_string(), n.parse().unwrap())
        })
        .collect();
    let done = states.get("done").copied().unwrap_or(0);
    let dead = states.get("dead").copied().unwrap_or(0);
    assert_eq!(done + dead, jobs as i64, "{states:?}");
    assert_eq!(dead, 0, "no job lost more than one attempt to the kills: {states:?}");
    assert_eq!(one::<i64>(&conn, "SELECT count(*) FROM orq_events WHERE type = 'completed'"), done);
    assert_eq!(
        one::<i64>(&conn, "SELECT count(*) FROM (SELECT job FROM orq_events WHERE type = 'completed' GROUP BY job HAVING count(*) > 1)"),
        0,
        "no job completed twice"
    );
    assert_eq!(
        one::<i64>(&conn, "SELECT count(DISTINCT job) FROM orq_events WHERE type = 'expired'"),
        held,
        "exactly the killed workers' jobs expired"
    );
    // What the killed workers completed before dying stays completed.
    let mut completed_by_logs = HashSet::new();
    for name in ["victim0", "victim1", "victim2", "survivor0", "survivor1"] {
        for id in read_log(&log(name)).0 {
            assert!(completed_by_logs.insert(id), "job {id} reported completed twice");
        }
    }
    assert_eq!(completed_by_logs.len() as i64, done);
}

/// The shell front door: several `sqlite3` processes, each a plain SQL
/// script, claim and complete the same queue at once. Each step claims with
/// the scalar queue_claim_json and completes what it got in one statement.
#[test]
fn sqlite3_shell_processes_drain_a_queue_together() {
    let scratch = Scratch::new("shell");
    let db = scratch.path("q.db");
    let jobs = 1200;
    enqueue_many(&db, jobs, "{}");
    let step = "SELECT count(queue_complete(json_extract(value, '$.id'), json_extract(value, '$.token'))) \
                FROM json_each(queue_claim_json('NAME', 4));\n";
    let shells: Vec<(Child, String)> = (0..4)
        .map(|i| {
            let name = format!("sh{i}");
            let script = scratch.path(&format!("{name}.sql"));
            (spawn_shell(&db, &script, &step.replace("NAME", &name).repeat(jobs / 4)), name)
        })
        .collect();
    let mut total = 0;
    for (child, name) in shells {
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.is_empty(), "{name}: {stderr}");
        let done: usize =
            String::from_utf8_lossy(&out.stdout).lines().map(|l| l.trim().parse::<usize>().unwrap()).sum();
        assert!(done > 0, "{name} got no work");
        total += done;
    }
    let conn = open(&db);
    // The steps of all shells together ask for 4 x 1200 jobs: every job was
    // completed once, by exactly one shell.
    assert_eq!(total, jobs);
    assert_eq!(rows(&conn, "SELECT done, ready, running FROM queue_stats"), vec![format!("{jobs}|0|0")]);
}

/// Four `sqlite3` processes enqueue batches at once with queue_enqueue_many
/// while two others drain the queue: every batch gets consecutive ids in
/// its own order (what the function returns is what it stored), no id is
/// given twice, and nothing is lost.
#[test]
fn sqlite3_shell_processes_enqueue_batches_together() {
    let scratch = Scratch::new("batches");
    let db = scratch.path("q.db");
    enqueue_many(&db, 200, "{}");
    let (batches, size) = (25, 40);
    // Shell p's batch b: the payloads, in order.
    let batch = |p: usize, b: usize| -> Vec<String> {
        (0..size).map(|i| format!(r#"{{"p":{p},"b":{b},"i":{i}}}"#)).collect()
    };
    let drains: Vec<(Child, std::path::PathBuf)> = (0..2)
        .map(|i| {
            let log = scratch.path(&format!("d{i}.log"));
            (spawn_drain(&db, &format!("d{i}"), 4, &log, 0), log)
        })
        .collect();
    let shells: Vec<(Child, usize)> = (0..4)
        .map(|p| {
            let steps: String = (0..batches)
                .map(|b| format!("SELECT queue_enqueue_many('work', '[{}]');\n", batch(p, b).join(",")))
                .collect();
            (spawn_shell(&db, &scratch.path(&format!("e{p}.sql")), &steps), p)
        })
        .collect();
    let conn = open(&db);
    let mut seen = HashSet::new();
    for (child, p) in shells {
        let out = child.wait_with_output().unwrap();
        assert!(out.stderr.is_empty(), "shell {p}: {}", String::from_utf8_lossy(&out.stderr));
        let returned: Vec<Vec<i64>> =
            String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(returned.len(), batches, "shell {p}");
        for (b, ids) in returned.iter().enumerate() {
            assert_eq!(ids.len(), size);
            assert!(ids.windows(2).all(|w| w[1] == w[0] + 1), "shell {p} batch {b}: {ids:?}");
            let stored: Vec<String> = ids
                .iter()
                .map(|id| {
                    conn.query_row("SELECT payload FROM orq_jobs WHERE id = ?1", [id], |r| r.get(0)).unwrap()
                })
                .collect();
            assert_eq!(stored, batch(p, b), "shell {p} batch {b}");
            seen.extend(ids.iter().copied());
        }
    }
    assert_eq!(seen.len(), 4 * batches * size, "no id given twice");
    for (mut child, log) in drains {
        assert!(child.wait().unwrap().success());
        assert_eq!(read_log(&log).1, Some(0), "lock errors in a drain");
    }
    assert_eq!(one::<i64>(&conn, "SELECT count(*) FROM orq_jobs"), 200 + 4 * (batches * size) as i64);
    let events: i64 = one(&conn, "SELECT count(*) FROM orq_events WHERE type = 'enqueued'");
    assert_eq!(events, 200 + 4 * (batches * size) as i64, "each job recorded its event");
}

/// Eight processes drain a random DAG of 20,000 jobs: no child is claimed
/// before all its parents completed (read back from the events), and every
/// job is completed exactly once.
#[test]
fn eight_processes_drain_a_random_dag_in_dependency_order() {
    let scratch = Scratch::new("dag");
    let db = scratch.path("q.db");
    let jobs = 20_000;
    let mut seed: u64 = 7;
    let mut next = || {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) as usize
    };
    let spec_jobs: Vec<serde_json::Value> = (0..jobs)
        .map(|i| {
            let parents: Vec<String> = if i == 0 {
                vec![]
            } else {
                (0..next() % 4).map(|_| format!("j{}", i - 1 - next() % i.min(300))).collect()
            };
            serde_json::json!({"key": format!("j{i}"), "queue": "dag", "depends_on": parents})
        })
        .collect();
    {
        let conn = open(&db);
        conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(())).unwrap();
        conn.query_row(
            "SELECT queue_workflow(?1)",
            [serde_json::json!({"name": "random", "jobs": spec_jobs}).to_string()],
            |_| Ok(()),
        )
        .unwrap();
    }
    let children: Vec<(Child, std::path::PathBuf)> = (0..8)
        .map(|i| {
            let log = scratch.path(&format!("w{i}.log"));
            (spawn_drain(&db, &format!("w{i}"), 4, &log, 0), log)
        })
        .collect();
    let mut completed = Vec::new();
    for (mut child, log) in children {
        assert!(child.wait().unwrap().success());
        let (done, errors) = read_log(&log);
        assert_eq!(errors, Some(0));
        completed.extend(done);
    }
    let unique: HashSet<i64> = completed.iter().copied().collect();
    assert_eq!((completed.len(), unique.len()), (jobs, jobs), "every job completed exactly once");
    let conn = open(&db);
    assert!(one::<i64>(&conn, "SELECT count(*) FROM orq_deps") > jobs as i64, "a real DAG");
    assert_eq!(
        one::<i64>(
            &conn,
            "SELECT count(*) FROM orq_deps AS d
             WHERE (SELECT min(seq) FROM orq_events WHERE job = d.child AND type = 'claimed')
                 < (SELECT max(seq) FROM orq_events WHERE job = d.parent AND type = 'completed')"
        ),
        0,
        "no child was claimed before its parents completed"
    );
    assert_eq!(rows(&conn, "SELECT state, done FROM queue_workflows"), vec![format!("done|{jobs}")]);
}

/// Eight processes (orq-test-drain, 3 jobs per claim, 10 ms per job) drain
/// the queue 'work' while a loop SIGKILLs one of them at a time (one that
/// holds a lease, when one does) and starts it again. Returns how many
/// leases expired (the kills' leases).
fn drain_under_kills(scratch: &Scratch, db: &Path, conn: &Connection, jobs: i64) -> usize {
    let spawn = |i: usize, round: usize| {
        let log = scratch.path(&format!("w{i}-{round}.log"));
        spawn_drain(db, &format!("w{i}"), 3, &log, 10)
    };
    let mut workers: Vec<Child> = (0..8).map(|i| spawn(i, 0)).collect();
    for round in 1..=10 {
        std::thread::sleep(Duration::from_millis(150));
        let holder = rows(conn, "SELECT substr(worker, 2) FROM queue_jobs WHERE state = 'running' LIMIT 1");
        let i = holder.first().map_or(round % workers.len(), |w| w.parse().unwrap());
        workers[i].kill().unwrap(); // SIGKILL
        workers[i].wait().unwrap();
        workers[i] = spawn(i, round);
    }
    for mut w in workers {
        assert!(w.wait().unwrap().success());
    }
    assert_eq!(one::<i64>(conn, "SELECT count(*) FROM queue_jobs WHERE state = 'done'"), jobs);
    one::<i64>(conn, "SELECT count(*) FROM queue_events WHERE type = 'expired'") as usize
}

/// Replaying the trail in order, with a lease counted as running from its
/// claim until the event that ends it (a killed worker's lease ends when it
/// expires and orq takes the job back): the most jobs that ran at once in
/// the whole queue, and in any one group.
fn most_running_at_once(conn: &Connection) -> (i64, i64) {
    let ends = ["completed", "failed", "expired", "dead", "cancelled", "released"];
    let mut running: HashMap<String, i64> = HashMap::new();
    let (mut total, mut most, mut most_in_group) = (0i64, 0i64, 0i64);
    let trail =
        "SELECT e.type, coalesce(j.grp, '') FROM queue_events AS e JOIN orq_jobs AS j ON j.id = e.job \
                 WHERE e.type <> 'enqueued' ORDER BY e.seq";
    for row in rows(conn, trail) {
        let (kind, group) = row.split_once('|').unwrap();
        let step = if kind == "claimed" {
            1
        } else if ends.contains(&kind) {
            -1
        } else {
            0
        };
        total += step;
        let n = running.entry(group.to_string()).or_default();
        *n += step;
        most = most.max(total);
        if !group.is_empty() {
            most_in_group = most_in_group.max(*n);
        }
    }
    (most, most_in_group)
}

/// The limits are exact under crashes: max_running 2 on the queue.
#[test]
fn eight_processes_under_kills_never_run_more_than_a_queues_limit() {
    let scratch = Scratch::new("limit-chaos");
    let db = scratch.path("q.db");
    enqueue_many(&db, 240, r#"{"lease":0.5,"max_attempts":20}"#);
    let conn = open(&db);
    one::<i64>(&conn, r#"SELECT queue_configure('work', '{"max_running": 2}')"#);
    let expired = drain_under_kills(&scratch, &db, &conn, 240);
    let (most, _) = most_running_at_once(&conn);
    eprintln!("max_running 2 under kills: at most {most} ran at once; {expired} leases expired");
    assert_eq!(most, 2, "never more than the limit, and the limit was used");
    assert!(expired > 0, "the kills left leases to expire");
}

/// 50 groups limited to 2 each: no group ever ran more than 2 at once.
#[test]
fn eight_processes_under_kills_never_run_more_than_a_groups_limit() {
    let scratch = Scratch::new("group-chaos");
    let db = scratch.path("q.db");
    let conn = open(&db);
    one::<i64>(&conn, r#"SELECT queue_configure('work', '{"group_max_running": 2}')"#);
    let jobs = 400;
    one::<i64>(
        &conn,
        &format!(
            "WITH RECURSIVE n(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM n WHERE value < {jobs}) \
             SELECT count(queue_enqueue('work', json_object('n', value), \
             json_object('group', 'tenant:' || (value % 50), 'lease', 0.5, 'max_attempts', 20))) FROM n"
        ),
    );
    let expired = drain_under_kills(&scratch, &db, &conn, jobs);
    let (most, most_in_group) = most_running_at_once(&conn);
    eprintln!("group_max_running 2 under kills: at most {most_in_group} of a group ran at once ({most} in all); {expired} leases expired");
    assert_eq!(most_in_group, 2, "never more than the limit, and the limit was used");
    assert!(most > 2, "groups ran side by side");
    assert!(expired > 0, "the kills left leases to expire");
}

/// A rate of 5 claims per 0.2 s: no window of 0.2 s holds more than 5.
#[test]
fn eight_processes_under_kills_never_claim_more_than_a_rate() {
    let scratch = Scratch::new("rate-chaos");
    let db = scratch.path("q.db");
    enqueue_many(&db, 150, r#"{"lease":0.5,"max_attempts":20}"#);
    let conn = open(&db);
    one::<i64>(&conn, r#"SELECT queue_configure('work', '{"rate": {"limit": 5, "per": 0.2}}')"#);
    let expired = drain_under_kills(&scratch, &db, &conn, 150);
    let claims: Vec<i64> = rows(&conn, "SELECT at FROM orq_events WHERE type = 'claimed' ORDER BY at")
        .iter()
        .map(|a| a.parse().unwrap())
        .collect();
    let most = (0..claims.len())
        .map(|i| claims[i..].iter().take_while(|&&t| t < claims[i] + 200).count())
        .max()
        .unwrap();
    eprintln!("rate 5 per 0.2 s under kills: at most {most} claims in a window; {expired} leases expired");
    assert_eq!(most, 5, "never more than the limit, and the limit was used");
}
