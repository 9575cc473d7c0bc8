//! How orq's writes meet the caller's transactions and connections: atomic in
//! every mode, no "database is locked" from an open read, a clean close.

use orq_tests::{assert_error, error_of, memory, one, open, rows, Scratch};
use rusqlite::Connection;

fn fixed(conn: &Connection, t: f64) {
    conn.query_row("SELECT orq_clock(?1)", [t], |_| Ok(())).unwrap();
}

#[test]
fn a_connection_that_used_every_table_closes_cleanly() {
    let scratch = Scratch::new("close");
    let conn = open(&scratch.path("q.db"));
    one::<i64>(&conn, "SELECT queue_enqueue('q', '{}')");
    rows(&conn, "SELECT * FROM queue_claim('w', 5)");
    rows(&conn, "SELECT * FROM queue_stats");
    rows(&conn, "SELECT * FROM queue_jobs");
    one::<i64>(&conn, "SELECT queue_complete(1)");
    // sqlite3_close refuses a connection with unfinalized statements; orq's
    // cached statements must be gone by then.
    conn.close().map_err(|(_, e)| e).expect("close without unfinalized statements");
}

#[test]
fn the_callers_busy_timeout_survives_every_call() {
    let conn = memory();
    conn.busy_timeout(std::time::Duration::from_millis(4321)).unwrap();
    one::<i64>(&conn, "SELECT queue_enqueue('q', '{}')");
    rows(&conn, "SELECT * FROM queue_claim('w', 5)");
    assert_eq!(one::<i64>(&conn, "PRAGMA busy_timeout"), 4321);
}

#[test]
fn a_claim_inside_a_transaction_rolls_back_with_it() {
    let conn = memory();
    one::<i64>(&conn, "SELECT queue_enqueue('q', '{}')");
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    assert_eq!(rows(&conn, "SELECT id FROM queue_claim('w', 5)"), vec!["1"]);
    conn.execute_batch("ROLLBACK").unwrap();
    assert_eq!(rows(&conn, "SELECT state, attempts FROM queue_jobs"), vec!["ready|0"]);
}

#[test]
fn calls_inside_a_writing_statement_join_it() {
    let conn = memory();
    conn.execute_batch("CREATE TABLE made(job INTEGER)").unwrap();
    conn.execute("INSERT INTO made SELECT queue_enqueue('q', value) FROM json_each('[1,2,3]')", []).unwrap();
    assert_eq!(rows(&conn, "SELECT job FROM made"), vec!["1", "2", "3"]);
    conn.execute_batch("BEGIN").unwrap();
    conn.execute("INSERT INTO made SELECT queue_enqueue('q', value) FROM json_each('[4]')", []).unwrap();
    conn.execute_batch("ROLLBACK").unwrap();
    assert_eq!(one::<i64>(&conn, "SELECT count(*) FROM queue_jobs"), 3, "the rollback took the job with it");
}

/// An enqueue registers its queue (migration 013), and a connection skips
/// that for the queues it saw registered: only once the registration is
/// committed. A queue whose row was rolled back away must be registered
/// again, or a claim from every queue would never see its jobs.
#[test]
fn a_queue_registered_in_a_rolled_back_write_is_registered_again() {
    let conn = memory();
    one::<i64>(&conn, "SELECT orq_migrate()");
    conn.execute_batch("CREATE TABLE made(job INTEGER CHECK (job < 0))").unwrap();
    conn.execute_batch("BEGIN").unwrap();
    one::<i64>(&conn, "SELECT queue_enqueue('in_txn', '{}')");
    one::<String>(&conn, "SELECT queue_enqueue_many('in_txn', '[{}]')");
    conn.execute_batch("ROLLBACK").unwrap();
    assert!(conn.execute("INSERT INTO made SELECT queue_enqueue('in_stmt', '{}')", []).is_err());
    assert_eq!(one::<i64>(&conn, "SELECT count(*) FROM orq_queues"), 0, "the rollbacks took the rows");
    one::<i64>(&conn, "SELECT queue_enqueue('in_txn', '{}')");
    one::<i64>(&conn, "SELECT queue_enqueue('in_stmt', '{}')");
    one::<String>(&conn, "SELECT queue_enqueue_many('many', '[{}]')");
    one::<String>(&conn, "SELECT queue_enqueue_many('many', '[{}]')");
    assert_eq!(
        rows(&conn, "SELECT queue FROM queue_claim('w', 10) ORDER BY id"),
        vec!["in_txn", "in_stmt", "many", "many"],
        "a claim from every queue finds each queue's jobs"
    );
}

/// A claim first moves expired leases back, then leases jobs: two writes.
/// If the second fails, the first must be undone too.
fn claim_that_fails_halfway(conn: &Connection) {
    fixed(conn, 1000.0);
    one::<i64>(conn, "SELECT queue_enqueue('q', '{}', '{\"lease\":10}')");
    rows(conn, "SELECT * FROM queue_claim('w', 1)");
    fixed(conn, 2000.0); // job 1's lease has expired
    conn.execute_batch(
        "CREATE TEMP TRIGGER boom BEFORE UPDATE OF event ON orq_jobs WHEN NEW.event = 'claimed'
         BEGIN SELECT RAISE(ABORT, 'boom'); END;",
    )
    .unwrap();
    assert!(error_of(conn, "SELECT * FROM queue_claim('w', 1)").contains("boom"));
}

#[test]
fn a_failed_claim_leaves_no_half_done_state_in_autocommit() {
    let conn = memory();
    claim_that_fails_halfway(&conn);
    assert_eq!(
        rows(&conn, "SELECT state, attempts FROM queue_jobs"),
        vec!["running|1"],
        "the expiry was undone"
    );
    assert!(conn.is_autocommit(), "orq's own transaction is closed");
}

#[test]
fn a_failed_claim_leaves_no_half_done_state_inside_a_transaction() {
    let conn = memory();
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    claim_that_fails_halfway(&conn);
    assert_eq!(
        rows(&conn, "SELECT state, attempts FROM queue_jobs"),
        vec!["running|1"],
        "the expiry was undone"
    );
    assert!(!conn.is_autocommit(), "the caller's transaction is still open");
    conn.execute_batch("COMMIT").unwrap();
}

#[test]
fn writes_from_a_stale_read_go_through_the_side_connection() {
    let scratch = Scratch::new("side");
    let path = scratch.path("q.db");
    let a = open(&path);
    let b = open(&path);
    for _ in 0..3 {
        one::<i64>(&a, "SELECT queue_enqueue('q', '{}')");
    }
    // A holds a read open (a cursor half way through), then B commits.
    let mut cursor = a.prepare("SELECT id FROM queue_jobs").unwrap();
    let mut reading = cursor.query([]).unwrap();
    reading.next().unwrap();
    one::<i64>(&b, "SELECT queue_enqueue('q', '{}')");
    // A's read snapshot is now stale: the host cannot write, orq must.
    assert_eq!(rows(&a, "SELECT id FROM queue_claim('w', 1)"), vec!["1"]);
    assert_eq!(one::<i64>(&a, "SELECT queue_complete(1)"), 1);
    assert_eq!(one::<i64>(&a, "SELECT side_connection FROM orq_connection"), 1);
    drop(reading);
    drop(cursor);
    assert_eq!(rows(&b, "SELECT id, state FROM queue_jobs WHERE id = 1"), vec!["1|done"]);
    a.close().map_err(|(_, e)| e).expect("close with a side connection open");
}

#[test]
fn a_stale_read_in_rollback_journal_mode_fails_fast_with_advice() {
    let scratch = Scratch::new("rollback");
    let path = scratch.path("q.db");
    let a = open(&path);
    assert_eq!(one::<String>(&a, "PRAGMA journal_mode"), "wal", "loading orq made it WAL");
    // Its owner chose otherwise: with the schema in place, orq leaves the mode alone.
    a.query_row("PRAGMA journal_mode = DELETE", [], |_| Ok(())).unwrap();
    a.execute_batch("BEGIN").unwrap();
    one::<i64>(&a, "SELECT orq_migrate()");
    a.execute_batch("COMMIT").unwrap();
    assert_eq!(one::<String>(&a, "PRAGMA journal_mode"), "delete");
    let b = open(&path);
    one::<i64>(&b, "SELECT queue_enqueue('q', '{}')");
    let mut cursor = a.prepare("SELECT id FROM queue_jobs").unwrap();
    let mut reading = cursor.query([]).unwrap();
    reading.next().unwrap();
    // B wants to write while A reads: in rollback mode B waits for A; A,
    // writing beside its own read, must not wait for B forever.
    b.execute_batch("BEGIN IMMEDIATE").unwrap();
    let started = std::time::Instant::now();
    let msg = error_of(&a, "SELECT queue_enqueue('q', '{}')");
    assert!(msg.contains("queue_enqueue: database is locked") && msg.contains("WAL"), "{msg}");
    assert!(started.elapsed() < std::time::Duration::from_secs(2), "failed fast");
    b.execute_batch("ROLLBACK").unwrap();
}

#[test]
fn a_fresh_file_database_becomes_wal_and_an_existing_one_keeps_its_mode() {
    let scratch = Scratch::new("wal");
    let fresh = open(&scratch.path("fresh.db"));
    assert_eq!(one::<String>(&fresh, "PRAGMA journal_mode"), "wal", "on load");
    // Missed at load (the caller switched back), caught at the first write.
    fresh.query_row("PRAGMA journal_mode = DELETE", [], |_| Ok(())).unwrap();
    one::<i64>(&fresh, "SELECT queue_enqueue('q', '{}')");
    assert_eq!(one::<String>(&fresh, "PRAGMA journal_mode"), "wal");

    let chosen = scratch.path("chosen.db");
    let conn = open(&chosen);
    conn.query_row("PRAGMA journal_mode = DELETE", [], |_| Ok(())).unwrap();
    conn.execute_batch("BEGIN").unwrap();
    one::<i64>(&conn, "SELECT orq_migrate()");
    conn.execute_batch("COMMIT").unwrap();
    drop(conn);
    let again = open(&chosen);
    one::<i64>(&again, "SELECT queue_enqueue('q', '{}')");
    assert_eq!(one::<String>(&again, "PRAGMA journal_mode"), "delete");
}

#[test]
fn functions_with_side_effects_are_refused_in_views_and_triggers() {
    let conn = memory();
    conn.execute_batch("CREATE VIEW sneaky AS SELECT queue_enqueue('q', '{}') AS id").unwrap();
    assert_error(&conn, "SELECT * FROM sneaky", "unsafe use of queue_enqueue()");
    conn.execute_batch("CREATE VIEW sneaky_claim AS SELECT * FROM queue_claim('w', 1)").unwrap();
    assert_error(&conn, "SELECT * FROM sneaky_claim", "unsafe use of virtual table \"queue_claim\"");
}

#[test]
fn a_claim_filtered_by_its_caller_still_loses_no_job() {
    let conn = memory();
    fixed(&conn, 1000.0);
    one::<i64>(&conn, "SELECT queue_enqueue('q', '{}', '{\"lease\":5}')");
    // SQLite applies WHERE after the claim: the job is leased but not shown.
    assert!(rows(&conn, "SELECT id FROM queue_claim('w', 1) WHERE id > 100").is_empty());
    assert_eq!(one::<String>(&conn, "SELECT state FROM queue_jobs"), "running");
    fixed(&conn, 1005.0);
    assert_eq!(
        rows(&conn, "SELECT id, attempt FROM queue_claim('w', 1)"),
        vec!["1|2"],
        "back after its lease"
    );
}

/// The turn file (ext/src/turnstile.rs) orders orq's writers; a process
/// that holds a turn too long (stopped, or stuck) delays others only until
/// their own deadline, and a dead one's turn is free at once.
#[test]
fn a_held_turn_delays_a_write_only_until_its_deadline() {
    use std::process::Command;
    use std::time::{Duration, Instant};
    let dir = Scratch::new("turn");
    let db = dir.path("q.db");
    let conn = open(&db);
    conn.busy_timeout(Duration::from_millis(300)).unwrap();
    one::<i64>(&conn, "SELECT queue_enqueue('q', '{}')");
    let turn_file = format!("{}-orqlock", db.display());
    assert!(std::path::Path::new(&turn_file).exists(), "the first write makes {turn_file}");
    let free = || Command::new("flock").args(["-n", &turn_file, "true"]).status().unwrap().success();
    // One process that takes the turn and sleeps (the flock tool would hand
    // its lock to a child that outlives it).
    let hold =
        "import fcntl, sys, time; f = open(sys.argv[1], 'a'); fcntl.flock(f, fcntl.LOCK_EX); time.sleep(30)";
    let mut holder = Command::new("/usr/bin/python3").args(["-c", hold, &turn_file]).spawn().unwrap();
    while free() {
        std::thread::sleep(Duration::from_millis(5));
    }
    // The waiting write counts itself among the turn's sleepers (bytes 24..28
    // of the file) while it sleeps, and no longer once it is done: a count
    // left high would make every turn's end a system call again.
    let sleepers = || {
        let bytes = std::fs::read(&turn_file).unwrap();
        u32::from_ne_bytes(bytes[24..28].try_into().unwrap())
    };
    let started = Instant::now();
    let most_asleep = std::thread::scope(|s| {
        let watcher = s.spawn(|| {
            let mut most = 0;
            while started.elapsed() < Duration::from_millis(200) {
                most = most.max(sleepers());
            }
            most
        });
        one::<i64>(&conn, "SELECT queue_enqueue('q', '{}')");
        watcher.join().unwrap()
    });
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(250) && waited < Duration::from_secs(3), "waited {waited:?}");
    assert_eq!((most_asleep, sleepers()), (1, 0), "sleepers while waiting, and after");
    holder.kill().unwrap();
    holder.wait().unwrap();
    let started = Instant::now();
    one::<i64>(&conn, "SELECT queue_enqueue('q', '{}')");
    assert!(started.elapsed() < Duration::from_millis(200), "a dead holder's turn is free");
    assert_eq!(one::<i64>(&conn, "SELECT count(*) FROM orq_jobs"), 3);
}

/// `n` jobs of `queue`, claimed and completed: finished jobs to purge.
fn finished_jobs(conn: &Connection, queue: &str, n: usize) {
    const BATCH: usize = 10_000;
    for start in (0..n).step_by(BATCH) {
        let count = BATCH.min(n - start);
        let payloads = format!("[{}]", vec!["{}"; count].join(","));
        conn.query_row("SELECT queue_enqueue_many(?1, ?2)", (queue, &payloads), |_| Ok(())).unwrap();
        let claimed: Vec<String> = {
            let mut stmt =
                conn.prepare("SELECT json_array(id, token) FROM queue_claim('setup', ?1, ?2)").unwrap();
            stmt.query_map((count as i64, queue), |r| r.get(0)).unwrap().map(|r| r.unwrap()).collect()
        };
        assert_eq!(claimed.len(), count);
        let done: i64 = conn
            .query_row("SELECT queue_complete_many(?1)", [format!("[{}]", claimed.join(","))], |r| r.get(0))
            .unwrap();
        assert_eq!(done as usize, count);
    }
}

#[test]
fn a_large_purge_in_autocommit_lets_claims_through() {
    const OLD: usize = 100_000;
    // In memory (tmpfs) where there is one: this measures the lock, not
    // the disk, which on a shared machine stalls every writer at times.
    let scratch = Scratch::new("purge-slices");
    let shm = std::path::Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        shm.join(format!("orq-test-purge-{}", std::process::id()))
    } else {
        scratch.path("")
    };
    std::fs::create_dir_all(&dir).unwrap();
    struct Remove(std::path::PathBuf);
    impl Drop for Remove {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _remove = Remove(dir.clone());
    let path = dir.join("q.db");
    // As orq's docs recommend: with synchronous = FULL every commit, each
    // slice's too, waits for the disk, which measures the disk.
    let open = |path: &std::path::Path| {
        let conn = open(path);
        conn.execute_batch("PRAGMA synchronous = NORMAL").unwrap();
        conn
    };
    let conn = open(&path);
    finished_jobs(&conn, "old", OLD);
    // Kept: a job of the purged queue that has not finished, and the live
    // queue's jobs (the newest of all, so the purge may take every old one).
    let waiting = one::<i64>(&conn, "SELECT queue_enqueue('old', '{}')");
    let live = 50_000;
    conn.query_row(
        "SELECT queue_enqueue_many('live', ?1)",
        [format!("[{}]", vec!["{}"; live].join(","))],
        |_| Ok(()),
    )
    .unwrap();
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).unwrap();
    let kept_events = one::<i64>(&conn, "SELECT count(*) FROM orq_events WHERE job > 0 AND job NOT IN (SELECT id FROM orq_jobs WHERE queue = 'old' AND state = 'done')");

    let purger = std::thread::spawn(move || {
        let other = open(&path);
        let started = std::time::Instant::now();
        let purged = one::<i64>(&other, "SELECT queue_purge('old', 0)");
        (purged, started.elapsed())
    });
    // Claim and complete one live job at a time while the purge runs.
    let mut longest = std::time::Duration::ZERO;
    let mut steps = 0;
    // Steps that saw the purge partly done: some old jobs gone, some left.
    let mut between_slices = 0;
    while !purger.is_finished() {
        let started = std::time::Instant::now();
        let (id, token): (i64, i64) = conn
            .query_row("SELECT id, token FROM queue_claim('w', 1, 'live')", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        one::<i64>(&conn, &format!("SELECT queue_complete({id}, {token})"));
        longest = longest.max(started.elapsed());
        steps += 1;
        let old_left = one::<i64>(&conn, "SELECT count(*) FROM orq_jobs WHERE queue = 'old'");
        between_slices += i64::from(old_left > 1 && old_left < OLD as i64 + 1);
    }
    let (purged, took) = purger.join().unwrap();
    assert_eq!(purged, OLD as i64);
    // In one transaction the purge held the write lock throughout: no claim
    // could go through while it was partly done (the claimer saw all old
    // jobs or none). In slices, claims go through between them. (How long a
    // claim waited is a benchmark's figure, not a test's: on this shared
    // machine it ranged from 75 to 330 ms.)
    assert!(
        between_slices >= 1,
        "{between_slices} of {steps} claims went through while the purge was partly done \
         (longest wait {longest:?}, purge {took:?})"
    );
    assert_eq!(rows(&conn, "SELECT id FROM queue_jobs WHERE queue = 'old'"), vec![waiting.to_string()]);
    // The kept jobs' events are all there (those of the claims since added),
    // and one marker stands for the whole purge.
    assert_eq!(
        one::<i64>(&conn, "SELECT count(*) FROM orq_events WHERE job > 0"),
        kept_events + 2 * steps as i64
    );
    assert_eq!(
        rows(&conn, "SELECT json_extract(detail, '$.jobs') FROM queue_events WHERE type = 'purged'"),
        vec![OLD.to_string()]
    );
}

#[test]
fn a_purge_inside_the_callers_transaction_is_one_atomic_step() {
    let scratch = Scratch::new("purge-atomic");
    let conn = open(&scratch.path("q.db"));
    finished_jobs(&conn, "old", 1_200); // more than one slice of autocommit
    one::<i64>(&conn, "SELECT queue_enqueue('live', '{}')"); // the newest, kept
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    assert_eq!(one::<i64>(&conn, "SELECT queue_purge('old', 0)"), 1_200);
    assert_eq!(one::<i64>(&conn, "SELECT count(*) FROM queue_jobs WHERE queue = 'old'"), 0);
    conn.execute_batch("ROLLBACK").unwrap();
    assert_eq!(
        one::<i64>(&conn, "SELECT count(*) FROM queue_jobs WHERE queue = 'old'"),
        1_200,
        "all rolled back"
    );
    assert_eq!(one::<i64>(&conn, "SELECT count(*) FROM queue_events WHERE type = 'purged'"), 0);
    assert_eq!(one::<i64>(&conn, "SELECT queue_purge('old', 0)"), 1_200, "in autocommit, in slices");
    assert_eq!(
        rows(&conn, "SELECT json_extract(detail, '$.jobs') FROM queue_events WHERE type = 'purged'"),
        vec!["1200"],
        "one marker for all the slices"
    );
}
