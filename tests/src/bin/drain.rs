//! A worker process for the multi-process tests: claims from one database
//! through liborq in autocommit (the way a user's script would), completes
//! each job, and appends every completed id to its log as it goes, so a
//! test that kills it still knows exactly what it finished.
//!
//! usage: orq-test-drain DB WORKER BATCH LOG [HOLD_MS]
//! Exits when no job is ready, scheduled or running. The log's last line is
//! `errors N` (statements that failed) unless the process was killed.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::thread::sleep;
use std::time::Duration;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (db, worker, batch, log) = (&args[1], &args[2], args[3].parse::<i64>().unwrap(), &args[4]);
    let hold = Duration::from_millis(args.get(5).map_or(0, |h| h.parse().unwrap()));
    let conn = orq_tests::open(Path::new(db));
    // What orq recommends for queue databases: durable against crashes of
    // the application, one fsync per checkpoint instead of per commit.
    conn.execute_batch("PRAGMA synchronous = NORMAL").unwrap();
    let mut out = OpenOptions::new().create(true).append(true).open(log).unwrap();
    let mut errors = 0;
    loop {
        let claimed = conn.prepare_cached("SELECT id, token FROM queue_claim(?1, ?2)").and_then(|mut s| {
            s.query_map(rusqlite::params![worker, batch], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()
        });
        let claimed = match claimed {
            Ok(c) => c,
            Err(e) => {
                errors += 1;
                eprintln!("{worker}: claim: {e}");
                continue;
            }
        };
        if claimed.is_empty() {
            let left: i64 = conn
                .query_row(
                    "SELECT coalesce(sum(ready + scheduled + running + waiting), 0) FROM queue_stats",
                    [],
                    |r| r.get(0),
                )
                .unwrap_or(1);
            if left == 0 {
                break;
            }
            sleep(Duration::from_millis(2));
            continue;
        }
        sleep(hold);
        for (id, token) in claimed {
            match conn.query_row("SELECT queue_complete(?1, ?2)", [id, token], |r| r.get::<_, i64>(0)) {
                Ok(1) => writeln!(out, "{id}").unwrap(),
                Ok(_) => writeln!(out, "stale {id}").unwrap(),
                Err(e) => {
                    errors += 1;
                    eprintln!("{worker}: complete {id}: {e}");
                }
            }
        }
    }
    writeln!(out, "errors {errors}").unwrap();
}
