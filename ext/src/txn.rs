//! How an orq write reaches the database: atomically, without "database is
//! locked" while other processes work the same queue, and fairly.
//!
//! Three cases, by what the host connection is doing when orq is called:
//!
//! * A statement of the host is writing (`INSERT ... SELECT queue_enqueue(..)`):
//!   the host holds the write lock and SQLite refuses savepoints until that
//!   statement ends; orq's statements simply join it, and the host's
//!   statement rolls them back with its own if anything fails.
//! * The host is inside an explicit transaction: orq joins it inside a
//!   savepoint. Start such transactions with BEGIN IMMEDIATE: a deferred
//!   transaction that has read cannot take the write lock once another
//!   connection has written (SQLite then answers SQLITE_BUSY_SNAPSHOT).
//! * The host is in autocommit: orq runs `BEGIN IMMEDIATE ... COMMIT` itself,
//!   waiting for the write lock with short random sleeps (50-500 µs) instead
//!   of SQLite's busy handler, whose coarse steps let one process starve the
//!   others. It waits as long as the connection's busy_timeout (or
//!   DEFAULT_WAIT_MS when none is set). When the host cannot write because a
//!   read it has open (a table-valued function's own statement, an unfinished
//!   cursor) holds an outdated WAL snapshot, the write goes through a side
//!   connection to the same file instead, which commits on its own.

use std::time::{Duration, Instant};

use rand::Rng;
use rusqlite::{ffi, Connection, ErrorCode};

use crate::error::{invalid, Error, Result};
use crate::schema;
use crate::session::{host_is_writing, Resources, Session};

/// How long orq waits for the write lock when the connection sets no busy_timeout.
pub const DEFAULT_WAIT_MS: u64 = 5000;
/// Bounds of the random sleep between tries for the write lock.
const SLEEP_MICROS: std::ops::RangeInclusive<u64> = 50..=500;

/// Runs `body` as one atomic write on the right connection (see the module
/// comment), upgrading the schema first when needed.
pub fn write<T>(session: &Session, body: &mut dyn FnMut(&Connection) -> Result<T>) -> Result<T> {
    session.with(|res| {
        if host_is_writing(res.db) {
            return joined(&res.host, body);
        }
        if !res.host.is_autocommit() {
            return in_savepoint(&res.host, body);
        }
        if !res.wal_checked {
            schema::prefer_wal(&res.host);
            res.wal_checked = true;
        }
        let deadline = Deadline::for_host(&res.host)?;
        let begun = {
            let _quiet = HandlerOff::new(&res.host, deadline.host_timeout_ms)?;
            begin_immediate(&res.host, &deadline, &mut res.rng)
        };
        match begun {
            Ok(()) => in_begun_transaction(&res.host, &deadline, &mut res.rng, body),
            Err(Begin::Stale) => on_side_connection(res, &deadline, body),
            Err(Begin::Failed(e)) => Err(e),
        }
    })
}

fn on_side_connection<T>(
    res: &mut Resources,
    deadline: &Deadline,
    body: &mut dyn FnMut(&Connection) -> Result<T>,
) -> Result<T> {
    let side = res.side.get(&res.host, res.db)?.ok_or_else(|| {
        invalid(
            "database is locked: this connection has a read open (a FROM clause or an unfinished \
             cursor) that began before another connection wrote, and the database is not a WAL \
             file orq could write to beside it; finish the read first, or use BEGIN IMMEDIATE",
        )
    })?;
    match begin_immediate(side, deadline, &mut res.rng) {
        Ok(()) => in_begun_transaction(side, deadline, &mut res.rng, body),
        Err(Begin::Stale) => Err(Error::Locked { waited_ms: deadline.waited_ms() }),
        Err(Begin::Failed(e)) => Err(e),
    }
}

fn joined<T>(conn: &Connection, body: &mut dyn FnMut(&Connection) -> Result<T>) -> Result<T> {
    schema::upgrade(conn)?;
    body(conn)
}

fn in_savepoint<T>(conn: &Connection, body: &mut dyn FnMut(&Connection) -> Result<T>) -> Result<T> {
    run(conn, "SAVEPOINT orq")?;
    let mut open = Open { conn, rollback: "ROLLBACK TO orq; RELEASE orq", done: false };
    schema::upgrade(conn).map_err(busy_in_transaction)?;
    let out = body(conn).map_err(busy_in_transaction)?;
    run(conn, "RELEASE orq")?;
    open.done = true;
    Ok(out)
}

fn in_begun_transaction<T>(
    conn: &Connection,
    deadline: &Deadline,
    rng: &mut impl Rng,
    body: &mut dyn FnMut(&Connection) -> Result<T>,
) -> Result<T> {
    let mut open = Open { conn, rollback: "ROLLBACK", done: false };
    schema::upgrade(conn)?;
    let out = body(conn)?;
    commit(conn, deadline, rng)?;
    open.done = true;
    Ok(out)
}

/// A transaction or savepoint orq opened: rolled back unless finished, also
/// when a panic unwinds through it.
struct Open<'c> {
    conn: &'c Connection,
    rollback: &'static str,
    done: bool,
}

impl Drop for Open<'_> {
    fn drop(&mut self) {
        if !self.done && !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch(self.rollback);
        }
    }
}

enum Begin {
    /// The connection's open read holds an outdated snapshot: it can never
    /// write until that read ends.
    Stale,
    Failed(Error),
}

fn begin_immediate(
    conn: &Connection,
    deadline: &Deadline,
    rng: &mut impl Rng,
) -> std::result::Result<(), Begin> {
    let mut stale_tries = 0;
    loop {
        match run(conn, "BEGIN IMMEDIATE") {
            Ok(()) => return Ok(()),
            Err(Error::Sqlite(e)) if busy_code(&e).is_some() => {
                // One stale answer can be a race with a commit (the next try
                // reads a fresh snapshot); two in a row mean a read of ours
                // pins the old one.
                if busy_code(&e) == Some(ffi::SQLITE_BUSY_SNAPSHOT) {
                    stale_tries += 1;
                    if stale_tries >= 2 {
                        return Err(Begin::Stale);
                    }
                } else {
                    stale_tries = 0;
                }
                if deadline.passed() {
                    return Err(Begin::Failed(Error::Locked { waited_ms: deadline.waited_ms() }));
                }
                pause(rng);
            }
            Err(e) => return Err(Begin::Failed(e)),
        }
    }
}

/// COMMIT, retried while readers keep a rollback-journal database busy (in
/// WAL mode a commit never waits).
fn commit(conn: &Connection, deadline: &Deadline, rng: &mut impl Rng) -> Result<()> {
    loop {
        match run(conn, "COMMIT") {
            Err(Error::Sqlite(e)) if busy_code(&e).is_some() && !deadline.passed() => pause(rng),
            Err(Error::Sqlite(e)) if busy_code(&e).is_some() => {
                return Err(Error::Locked { waited_ms: deadline.waited_ms() })
            }
            other => return other,
        }
    }
}

fn run(conn: &Connection, sql: &str) -> Result<()> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}

fn pause(rng: &mut impl Rng) {
    std::thread::sleep(Duration::from_micros(rng.random_range(SLEEP_MICROS)));
}

/// The extended result code of a SQLITE_BUSY error.
fn busy_code(e: &rusqlite::Error) -> Option<i32> {
    match e {
        rusqlite::Error::SqliteFailure(f, _) if f.code == ErrorCode::DatabaseBusy => Some(f.extended_code),
        _ => None,
    }
}

/// Inside the caller's transaction, a busy error means the transaction was
/// started the wrong way; say how to start it.
fn busy_in_transaction(e: Error) -> Error {
    match &e {
        Error::Sqlite(inner) if busy_code(inner).is_some() => invalid(format!(
            "{e}; inside an explicit transaction orq writes with the caller's locks: \
             start transactions that call orq with BEGIN IMMEDIATE"
        )),
        _ => e,
    }
}

struct Deadline {
    started: Instant,
    at: Instant,
    /// The host's busy_timeout in ms (0: none set).
    host_timeout_ms: i32,
}

impl Deadline {
    fn for_host(conn: &Connection) -> Result<Deadline> {
        let ms: i32 = conn.prepare_cached("PRAGMA busy_timeout")?.query_row([], |r| r.get(0))?;
        let wait = if ms > 0 { ms as u64 } else { DEFAULT_WAIT_MS };
        let started = Instant::now();
        Ok(Deadline { started, at: started + Duration::from_millis(wait), host_timeout_ms: ms })
    }

    fn passed(&self) -> bool {
        Instant::now() >= self.at
    }

    fn waited_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }
}

/// Switches the host's busy handler off while orq waits for the lock in its
/// own way, and puts the caller's busy_timeout back afterwards. (A custom
/// busy handler reads as timeout 0; orq leaves that one alone.)
struct HandlerOff<'c> {
    conn: &'c Connection,
    restore_ms: i32,
}

impl<'c> HandlerOff<'c> {
    fn new(conn: &'c Connection, timeout_ms: i32) -> Result<HandlerOff<'c>> {
        if timeout_ms > 0 {
            conn.busy_timeout(Duration::ZERO)?;
        }
        Ok(HandlerOff { conn, restore_ms: timeout_ms })
    }
}

impl Drop for HandlerOff<'_> {
    fn drop(&mut self) {
        if self.restore_ms > 0 {
            let _ = self.conn.busy_timeout(Duration::from_millis(self.restore_ms as u64));
        }
    }
}
