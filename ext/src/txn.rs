//! How an orq write reaches the database: atomically, without "database is
//! locked" while other processes work the same queue, and fairly.
//!
//! By what the host connection is doing when orq is called:
//!
//! * A statement of the host is writing (`INSERT ... SELECT queue_enqueue(..)`):
//!   the host holds the write lock and SQLite refuses savepoints until that
//!   statement ends; orq's statements simply join it, and the host's
//!   statement rolls them back with its own if anything fails.
//! * The host is inside an explicit transaction: orq joins it inside a
//!   savepoint. Start such transactions with BEGIN IMMEDIATE: a deferred
//!   transaction that has read cannot take the write lock once another
//!   connection has written (SQLite then answers SQLITE_BUSY_SNAPSHOT).
//! * Autocommit, no transaction open (`SELECT queue_complete(?, ?)`): orq runs
//!   `BEGIN IMMEDIATE ... COMMIT` itself. It first waits its turn among orq's
//!   writers in the kernel (turnstile.rs), then for the write lock with short
//!   random sleeps (20 µs growing to 1 ms) instead of SQLite's busy handler,
//!   whose coarse steps let one process starve the others. It waits as long
//!   as the connection's busy_timeout (or DEFAULT_WAIT_MS when none is set).
//!   A writer that gets its turn without waiting takes the lock under the
//!   host's own busy handler: only a writer outside orq's turns can hold it
//!   then, and that case needs no fairness among orq's processes.
//! * Autocommit, but a read is open (a table-valued function's own SELECT,
//!   an unfinished cursor): SQLite cannot turn that read into a write once
//!   another connection has committed since it began, and never waits for it.
//!   orq tries the host once; if that fails, a WAL database is written
//!   through a side connection to the same file, which waits its turn and
//!   commits on its own. Other journal modes cannot have a second writer
//!   beside a reader, and get an error that says what to do.
//!
//! A replicated host (host::replicated: a dqlite node) ships what a client's
//! request commits, but dqlite 1.11 ships only the commits of requests it
//! runs as writes (EXEC), never of a query (QUERY), whose frames it leaves
//! behind to fail an assertion at the node's next write. orq cannot tell
//! the two apart from inside a statement, so there it never commits: it
//! writes only inside the caller's transaction or writing statement (BEGIN
//! IMMEDIATE, the call, COMMIT, as `orq --cluster` sends them), whose
//! COMMIT is a write request, and refuses otherwise, before writing. It
//! never opens a side connection or a turn file either.

use std::cell::OnceCell;
use std::time::{Duration, Instant};

use rand::Rng;
use rusqlite::{ffi, Connection, ErrorCode};

use crate::bounds::SLICE_ROWS;
use crate::error::{invalid, Error, Result};
use crate::host::{self, TxnState};
use crate::session::{Resources, Session};
use crate::turnstile::{Turn, Turnstile};
use crate::{maintenance, schema};

/// How long orq waits for the write lock when the connection sets no busy_timeout.
pub const DEFAULT_WAIT_MS: u64 = 5000;
/// The sleep between tries for the write lock starts near FIRST_SLEEP_MICROS
/// and doubles up to MAX_SLEEP_MICROS, each drawn from [half, full] so that
/// waiting processes do not retry in step.
const FIRST_SLEEP_MICROS: u64 = 20;
const MAX_SLEEP_MICROS: u64 = 1000;

type Body<'a, T> = &'a mut dyn FnMut(&Connection) -> Result<T>;

/// How many statements of an operation write. One statement is atomic by
/// itself; more need a savepoint inside the caller's transaction. An
/// operation that knows only after reading (a claim usually writes once)
/// says AsNeeded and wraps its multi-write part in `atomic`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Writes {
    Once,
    AsNeeded,
    Many,
}

thread_local! {
    /// Set while an operation runs inside the caller's own transaction.
    static IN_CALLERS_TRANSACTION: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f`, which writes more than once, atomically: in a savepoint when
/// the operation runs in the caller's transaction (elsewhere orq's own
/// transaction, or the caller's writing statement, already is atomic).
pub fn atomic<T>(conn: &Connection, f: impl FnOnce() -> Result<T>) -> Result<T> {
    if !IN_CALLERS_TRANSACTION.get() {
        return f();
    }
    run(conn, "SAVEPOINT orq_part")?;
    let mut open = Open { conn, rollback: "ROLLBACK TO orq_part; RELEASE orq_part", done: false };
    let out = f()?;
    run(conn, "RELEASE orq_part")?;
    open.done = true;
    Ok(out)
}

/// Where a write goes, by what the host connection is doing (see the
/// module comment).
enum Route {
    /// Inside the host's own writing statement or write transaction.
    Joined,
    /// Inside the caller's transaction (not autocommit).
    CallersTransaction,
    /// In autocommit with a read open: orq commits on its own beside it.
    BesideARead,
    /// In autocommit with nothing open: orq's own transaction.
    Own,
}

fn route(res: &Resources) -> Route {
    if host::is_writing(res.db) {
        return Route::Joined;
    }
    if !res.host.is_autocommit() {
        return Route::CallersTransaction;
    }
    match host::txn_state(res.db) {
        TxnState::Write => Route::Joined,
        TxnState::Read => Route::BesideARead,
        TxnState::None => Route::Own,
    }
}

/// Runs `body` as one atomic write on the right connection (see the module
/// comment), creating or upgrading the schema first when needed. When this
/// connection's retention is due, a slice of it follows the body in the
/// same transaction (maintenance.rs); not inside the host's own writing
/// statement, where orq cannot open the savepoint a slice runs in.
pub fn write<T>(session: &Session, writes: Writes, body: Body<T>) -> Result<T> {
    session.with(|res| {
        let now = session.clock.now_ms();
        let route = route(res);
        if matches!(route, Route::Joined) || !res.retention.due(now) {
            return write_on(res, route, writes, body);
        }
        let mut slice = None;
        let out = write_on(res, route, writes, &mut |c| {
            let out = body(c)?;
            slice = Some(maintenance::apply_retention(c, now)?);
            Ok(out)
        })?;
        if let Some(outcome) = slice {
            res.retention.ran(now, outcome);
        }
        Ok(out)
    })
}

/// `write` for a body that enqueues into `queue`. The body is told whether
/// this connection saw the queue's row committed already (then it need not
/// register the queue: queues are never deleted); once orq's own
/// transaction has committed what the body wrote, the queue is remembered.
pub fn write_into_queue<T>(
    session: &Session,
    queue: &str,
    writes: Writes,
    body: &mut dyn FnMut(&Connection, bool) -> Result<T>,
) -> Result<T> {
    let (registered, commits) =
        session.with(|res| Ok((res.registered_queues.contains(queue), commits_on_its_own(res))))?;
    let out = write(session, writes, &mut |c| body(c, registered))?;
    if commits && !registered {
        session.with(|res| {
            res.registered_queues.insert(queue);
            Ok(())
        })?;
    }
    Ok(out)
}

/// Whether orq commits its writes itself (no caller's transaction or
/// writing statement around them that could still roll them back).
fn commits_on_its_own(res: &Resources) -> bool {
    matches!(route(res), Route::BesideARead | Route::Own)
}

fn write_on<T>(res: &mut Resources, route: Route, writes: Writes, body: Body<T>) -> Result<T> {
    match route {
        Route::Joined => joined(&res.host, body),
        Route::CallersTransaction => in_callers_transaction(&res.host, writes, body),
        Route::BesideARead | Route::Own if res.replicated => Err(invalid(
            "on a replicated database (a dqlite node) orq writes only inside the caller's transaction: \
             send BEGIN IMMEDIATE, this statement and COMMIT (orq --cluster does); dqlite ships only \
             what a client's COMMIT writes",
        )),
        Route::BesideARead => beside_a_read(res, body),
        Route::Own => {
            let deadline = Deadline::new(&res.host);
            let turn = take_turn(&mut res.turnstile, &res.host, &deadline);
            if !res.wal_checked {
                schema::prefer_wal(&res.host);
                res.wal_checked = true;
            }
            begin_own(&res.host, turn.is_some(), &deadline, &mut res.rng)?;
            in_begun_transaction(&res.host, &res.schema_checked, &deadline, &mut res.rng, body)
        }
    }
}

/// BEGIN IMMEDIATE for orq's own transaction. A writer that got its turn at
/// once (its deadline never read) rarely finds the lock taken: only a writer
/// outside orq's turns (another program, a caller's own transaction) can
/// hold it, and for that one the host's busy handler waits, as it would for
/// any statement of the host's. Every other writer waits in orq's way, with
/// the host's handler switched off (see the module comment).
fn begin_own(host: &Connection, has_turn: bool, deadline: &Deadline, rng: &mut impl Rng) -> Result<()> {
    if has_turn && !deadline.is_read() {
        match run(host, "BEGIN IMMEDIATE") {
            Err(Error::Sqlite(e)) if busy_code(&e).is_some() && deadline.host_timeout_ms() > 0 => {
                return Err(Error::locked(deadline.waited_ms()));
            }
            Err(Error::Sqlite(e)) if busy_code(&e).is_some() => {}
            other => return other,
        }
    }
    let _quiet = HandlerOff::new(host, deadline.host_timeout_ms())?;
    begin_immediate(host, deadline, rng, Tries::UntilDeadline)
}

/// Runs an operation that touches many rows without holding the write lock
/// for long: in autocommit, `slice(conn, SLICE_ROWS)` runs again and again,
/// each run its own transaction, so other writers (workers claiming) get the
/// lock in between, until a run touches fewer than SLICE_ROWS rows. Inside
/// the caller's transaction or writing statement, which orq cannot commit,
/// it runs once, with no limit (-1), as one atomic step. `slice` returns how
/// many rows it touched. An error stops it; the slices committed before stay.
pub fn in_slices(session: &Session, slice: &mut dyn FnMut(&Connection, i64) -> Result<i64>) -> Result<()> {
    if !session.with(|res| Ok(commits_on_its_own(res)))? {
        return write(session, Writes::Many, &mut |c| slice(c, -1).map(drop));
    }
    while write(session, Writes::Many, &mut |c| slice(c, SLICE_ROWS))? >= SLICE_ROWS {}
    Ok(())
}

/// The host has a read open in autocommit (see the module comment).
fn beside_a_read<T>(res: &mut Resources, body: Body<T>) -> Result<T> {
    let deadline = &Deadline::new(&res.host);
    let _turn = take_turn(&mut res.turnstile, &res.host, deadline);
    // With a read open SQLite never calls the busy handler for the write
    // lock (it could not help: the snapshot is what is stale), so this one
    // try needs no HandlerOff.
    let on_host = begin_immediate(&res.host, deadline, &mut res.rng, Tries::Once);
    if on_host.is_ok() {
        return in_begun_transaction(&res.host, &res.schema_checked, deadline, &mut res.rng, body);
    }
    let side = res.side.get(&res.host, res.db)?.ok_or_else(|| Error::Busy {
        code: ffi::SQLITE_BUSY,
        message: "database is locked: this connection has a read open (the SELECT that called orq, or \
                  an unfinished cursor), another connection is writing, and this database is not in \
                  WAL mode, where orq could write beside the read; use PRAGMA journal_mode=WAL, or \
                  call orq inside BEGIN IMMEDIATE ... COMMIT"
            .into(),
    })?;
    begin_immediate(side, deadline, &mut res.rng, Tries::UntilDeadline)?;
    // The side connection checks every time (a fresh Checked).
    in_begun_transaction(side, &schema::Checked::default(), deadline, &mut res.rng, body)
}

/// This connection's turn among orq's writers (see turnstile.rs); None
/// where there is no turn file, or the deadline passed while waiting.
fn take_turn<'t>(
    slot: &'t mut Option<Option<Turnstile>>,
    host: &Connection,
    deadline: &Deadline,
) -> Option<Turn<'t>> {
    slot.get_or_insert_with(|| host.path().and_then(Turnstile::open)).as_ref()?.enter(|| deadline.at())
}

fn joined<T>(conn: &Connection, body: Body<T>) -> Result<T> {
    schema::upgrade(conn)?;
    body(conn)
}

/// Inside the caller's transaction: a savepoint around anything that writes
/// more than once (a single statement needs none, and each savepoint costs).
fn in_callers_transaction<T>(conn: &Connection, writes: Writes, body: Body<T>) -> Result<T> {
    if writes != Writes::Many && schema::is_usable(conn)? {
        IN_CALLERS_TRANSACTION.set(true);
        let out = body(conn);
        IN_CALLERS_TRANSACTION.set(false);
        return out.map_err(busy_in_transaction);
    }
    run(conn, "SAVEPOINT orq")?;
    let mut open = Open { conn, rollback: "ROLLBACK TO orq; RELEASE orq", done: false };
    schema::upgrade(conn).map_err(busy_in_transaction)?;
    let out = body(conn).map_err(busy_in_transaction)?;
    run(conn, "RELEASE orq")?;
    open.done = true;
    Ok(out)
}

/// The body in orq's own transaction, begun on `conn`. The schema check is
/// skipped where `checked` (the host's, kept across writes) says nothing
/// could have changed it.
fn in_begun_transaction<T>(
    conn: &Connection,
    checked: &schema::Checked,
    deadline: &Deadline,
    rng: &mut impl Rng,
    body: Body<T>,
) -> Result<T> {
    let mut open = Open { conn, rollback: "ROLLBACK", done: false };
    checked.upgrade(conn)?;
    let out = body(conn)?;
    commit(conn, deadline, rng)?;
    open.done = true;
    checked.committed(conn);
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

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tries {
    Once,
    UntilDeadline,
}

fn begin_immediate(conn: &Connection, deadline: &Deadline, rng: &mut impl Rng, tries: Tries) -> Result<()> {
    let mut sleep = FIRST_SLEEP_MICROS;
    loop {
        match run(conn, "BEGIN IMMEDIATE") {
            Err(Error::Sqlite(e)) if busy_code(&e).is_some() => {
                if tries == Tries::Once || deadline.passed() {
                    return Err(Error::locked(deadline.waited_ms()));
                }
                pause(rng, &mut sleep);
            }
            other => return other,
        }
    }
}

/// COMMIT, retried while readers keep a rollback-journal database busy (in
/// WAL mode a commit never waits).
fn commit(conn: &Connection, deadline: &Deadline, rng: &mut impl Rng) -> Result<()> {
    let mut sleep = FIRST_SLEEP_MICROS;
    loop {
        match run(conn, "COMMIT") {
            Err(Error::Sqlite(e)) if busy_code(&e).is_some() && !deadline.passed() => pause(rng, &mut sleep),
            Err(Error::Sqlite(e)) if busy_code(&e).is_some() => {
                return Err(Error::locked(deadline.waited_ms()))
            }
            other => return other,
        }
    }
}

fn run(conn: &Connection, sql: &str) -> Result<()> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}

fn pause(rng: &mut impl Rng, sleep: &mut u64) {
    std::thread::sleep(Duration::from_micros(rng.random_range(*sleep / 2..=*sleep)));
    *sleep = (*sleep * 2).min(MAX_SLEEP_MICROS);
}

/// The extended result code of a SQLITE_BUSY error.
fn busy_code(e: &rusqlite::Error) -> Option<i32> {
    match e {
        rusqlite::Error::SqliteFailure(f, _) if f.code == ErrorCode::DatabaseBusy => Some(f.extended_code),
        _ => None,
    }
}

/// Inside the caller's transaction, a busy error means the transaction was
/// started the wrong way; say how to start it (the code stays SQLite's).
fn busy_in_transaction(e: Error) -> Error {
    match &e {
        Error::Sqlite(inner) if busy_code(inner).is_some() => Error::Busy {
            code: e.code(),
            message: format!(
                "{e}; inside an explicit transaction orq writes with the caller's locks: \
                 start transactions that call orq with BEGIN IMMEDIATE"
            ),
        },
        _ => e,
    }
}

/// How long orq may wait for the write lock: the host's busy_timeout (or
/// DEFAULT_WAIT_MS when none is set) from when the write began. Reading
/// busy_timeout takes a PRAGMA, which costs as much as the rest of a small
/// write's bookkeeping, so it is read only when something has to wait.
struct Deadline<'c> {
    host: &'c Connection,
    started: Instant,
    host_timeout_ms: OnceCell<i32>,
}

impl<'c> Deadline<'c> {
    fn new(host: &'c Connection) -> Deadline<'c> {
        Deadline { host, started: Instant::now(), host_timeout_ms: OnceCell::new() }
    }

    /// The host's busy_timeout in ms (0: none set, or a handler of its own).
    fn host_timeout_ms(&self) -> i32 {
        *self.host_timeout_ms.get_or_init(|| {
            self.host
                .prepare_cached("PRAGMA busy_timeout")
                .and_then(|mut s| s.query_row([], |r| r.get(0)))
                .unwrap_or(0)
        })
    }

    /// Whether anything has waited yet (the busy_timeout was read).
    fn is_read(&self) -> bool {
        self.host_timeout_ms.get().is_some()
    }

    fn at(&self) -> Instant {
        let ms = self.host_timeout_ms();
        self.started + Duration::from_millis(if ms > 0 { ms as u64 } else { DEFAULT_WAIT_MS })
    }

    fn passed(&self) -> bool {
        Instant::now() >= self.at()
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
