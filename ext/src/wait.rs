//! `queue_wait`: block until a job may be claimable, without holding a
//! transaction while waiting.
//!
//! The waiter hears of other connections' commits through its `Ears`: on
//! Linux an inotify watch of the database's directory, which wakes it at
//! once (commit_watch.rs); elsewhere, and with ORQ_PORTABLE, by polling
//! `PRAGMA data_version` (`Polling` below). Either way it then asks the
//! database whether its queues have a claimable job (sql/wait_check.sql),
//! only when data_version moved. Commits that do not concern its queues
//! wake the thread but not the caller. A due time in the future (a delayed
//! job, a lease about to run out, a schedule) bounds the sleep.

use std::time::{Duration, Instant};

use rusqlite::{named_params, Connection};

use crate::commit_watch::Watcher;
use crate::ears::Ears;
use crate::error::{invalid, Result};
use crate::sql;

/// Polling: the first pause after data_version moved (more commits tend to
/// follow one), doubling while nothing changes, up to the second. An idle
/// waiter reads data_version 20 times a second (a read of the WAL index in
/// shared memory, a few microseconds); a commit is seen 50 ms late at worst.
const POLL_FIRST: Duration = Duration::from_millis(1);
const POLL_MAX: Duration = Duration::from_millis(50);

/// The portable way: nothing tells of a commit, so data_version is read on
/// a backoff (POLL_FIRST to POLL_MAX).
struct Polling {
    pause: Duration,
}

impl Ears for Polling {
    fn before_read(&mut self) {}

    fn sleep(&mut self, nap: Duration, changed: bool) -> bool {
        if changed {
            self.pause = POLL_FIRST;
        }
        let nap = nap.min(self.pause);
        self.pause = (self.pause * 2).min(POLL_MAX);
        interruptible_sleep(nap)
    }
}

/// Sleeps like poll(2) with no descriptors: a signal ends it early (false).
#[cfg(unix)]
fn interruptible_sleep(d: Duration) -> bool {
    // Rounded up: a shorter pause than asked would be a busy loop.
    let ms = d.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as libc::c_int;
    // SAFETY: no descriptors to read, only the timeout.
    let r = unsafe { libc::poll(std::ptr::null_mut(), 0, ms) };
    !(r < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR))
}

#[cfg(not(unix))]
fn interruptible_sleep(d: Duration) -> bool {
    std::thread::sleep(d);
    true
}

/// What a waiter watches for.
pub struct WaitFor<'a> {
    pub queues: Option<&'a str>,
    pub worker: Option<&'a str>,
}

/// When the next job of the queues may be claimable (unix ms), if any, as
/// of `now` (the rate limits' windows).
fn next_due(conn: &Connection, w: &WaitFor, now: i64) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached(&sql::WAIT_CHECK)?
        .query_row(named_params! {":queues": w.queues, ":worker": w.worker, ":now": now}, |r| r.get(0))?)
}

fn data_version(conn: &Connection) -> Result<i64> {
    Ok(conn.prepare_cached("PRAGMA data_version")?.query_row([], |r| r.get(0))?)
}

/// Waits up to `timeout` for a claimable job; true when there is one. `now`
/// gives the queue clock (it may be fixed by orq_clock).
pub fn wait(
    conn: &Connection,
    watcher: Option<&Watcher>,
    w: &WaitFor,
    timeout: Duration,
    now: impl Fn() -> i64,
) -> Result<bool> {
    // A look (no wait) sees what the caller's transaction sees, as any read
    // does; that is also all queue_wait does on a replicated host.
    if !conn.is_autocommit() && !timeout.is_zero() {
        return Err(invalid(
            "call it outside a transaction: a transaction would keep its snapshot while waiting and never see new jobs",
        ));
    }
    let deadline = Instant::now() + timeout;
    let mut ears: Box<dyn Ears + '_> = match watcher {
        Some(w) => w.listen(),
        None => Box::new(Polling { pause: POLL_FIRST }),
    };
    // The due time as of a data_version: unchanged until another commit.
    let mut known: Option<(i64, Option<i64>)> = None;
    loop {
        ears.before_read();
        let version = data_version(conn)?;
        let changed = known.is_none_or(|(v, _)| v != version);
        let due = match known {
            Some((v, due)) if v == version => due,
            _ => {
                // Before the first write there is no schema, and nothing is due.
                let due = if crate::schema::readable(conn)? { next_due(conn, w, now())? } else { None };
                known = Some((version, due));
                due
            }
        };
        let now_ms = now();
        if due.is_some_and(|d| d <= now_ms) {
            return Ok(true);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(false);
        }
        let until_due = due.map_or(left, |d| Duration::from_millis((d - now_ms).max(0) as u64));
        if !ears.sleep(left.min(until_due), changed) {
            return Ok(false); // a signal: let the caller see to it
        }
    }
}
