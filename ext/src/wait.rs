//! `queue_wait`: block until a job may be claimable, without polling SQLite
//! and without holding a transaction while waiting.
//!
//! A commit by any process writes the database's WAL (or, in other journal
//! modes, the database file); inotify reports that write at once. The write
//! comes a moment before the commit is visible (the WAL index in shared
//! memory is updated last, and that makes no inotify event), so after an
//! event the waiter watches `PRAGMA data_version` for a few milliseconds
//! until the commit shows, then asks the database whether its queues have a
//! claimable job (sql/wait_check.sql). Commits that do not concern its
//! queues wake the thread but not the caller. A due time in the future (a
//! delayed job, a lease about to run out, a schedule) bounds the sleep.

use std::ffi::CString;
use std::os::raw::c_int;
use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::{named_params, Connection};

use crate::error::{invalid, Result};
use crate::sql;

/// How long to watch data_version for the commit that a WAL write announced.
const SETTLE: Duration = Duration::from_millis(5);
/// Where inotify is unavailable (no file: `:memory:`): poll this often.
const FALLBACK_POLL: Duration = Duration::from_millis(10);

/// An inotify watch on the directory of the database file.
pub struct Watcher {
    fd: c_int,
    /// The database file's name: events for it, its -wal and -journal count.
    name: Vec<u8>,
}

impl Watcher {
    /// None for databases without a file.
    pub fn new(db_path: &str) -> Option<Watcher> {
        let path = Path::new(db_path);
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let name = path.file_name()?.to_string_lossy().as_bytes().to_vec();
        let c_dir = CString::new(dir.to_string_lossy().as_bytes()).ok()?;
        // SAFETY: plain inotify calls; the fd is closed on drop.
        unsafe {
            let fd = libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC);
            if fd < 0 {
                return None;
            }
            if libc::inotify_add_watch(
                fd,
                c_dir.as_ptr(),
                libc::IN_MODIFY | libc::IN_CREATE | libc::IN_MOVED_TO,
            ) < 0
            {
                libc::close(fd);
                return None;
            }
            Some(Watcher { fd, name })
        }
    }

    /// Reads pending events; true if any concerned the database.
    fn drain(&self) -> bool {
        let mut buf = [0u8; 4096];
        let mut relevant = false;
        loop {
            // SAFETY: reads into a local buffer from our own fd.
            let n = unsafe { libc::read(self.fd, buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                return relevant;
            }
            let mut off = 0usize;
            let header = std::mem::size_of::<libc::inotify_event>();
            while off + header <= n as usize {
                // SAFETY: the kernel wrote whole events; read the header unaligned.
                let ev: libc::inotify_event =
                    unsafe { std::ptr::read_unaligned(buf.as_ptr().add(off).cast()) };
                let name_bytes = &buf[off + header..(off + header + ev.len as usize).min(n as usize)];
                let name = name_bytes.split(|b| *b == 0).next().unwrap_or(&[]);
                relevant |= name.starts_with(&self.name);
                off += header + ev.len as usize;
            }
        }
    }

    /// Sleeps until the directory changes or `timeout` passes. False when a
    /// signal interrupted the sleep (the caller may have work to do).
    fn sleep(&self, timeout: Duration) -> bool {
        let mut pfd = libc::pollfd { fd: self.fd, events: libc::POLLIN, revents: 0 };
        let ms = timeout.as_millis().clamp(0, i32::MAX as u128) as c_int;
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut pfd, 1, ms) };
        !(r < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR))
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        // SAFETY: closes our own fd once.
        unsafe {
            libc::close(self.fd);
        }
    }
}

/// What a waiter watches for.
pub struct WaitFor<'a> {
    pub queues: Option<&'a str>,
    pub worker: Option<&'a str>,
}

/// When the next job of the queues may be claimable (unix ms), if any.
fn next_due(conn: &Connection, w: &WaitFor) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached(sql::WAIT_CHECK)?
        .query_row(named_params! {":queues": w.queues, ":worker": w.worker}, |r| r.get(0))?)
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
    if !conn.is_autocommit() {
        return Err(invalid(
            "call it outside a transaction: a transaction would keep its snapshot while waiting and never see new jobs",
        ));
    }
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(w) = watcher {
            w.drain();
        }
        let version = data_version(conn)?;
        // Before the first write there is no schema, and nothing is due.
        let due = if crate::schema::readable(conn)? { next_due(conn, w)? } else { None };
        let now_ms = now();
        if due.is_some_and(|d| d <= now_ms) {
            return Ok(true);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(false);
        }
        let until_due = due.map_or(left, |d| Duration::from_millis((d - now_ms).max(0) as u64));
        let nap = left.min(until_due);
        match watcher {
            Some(w) => {
                if !w.sleep(nap) {
                    return Ok(false); // a signal: let the caller see to it
                }
                if w.drain() {
                    settle(conn, version)?;
                }
            }
            None => std::thread::sleep(nap.min(FALLBACK_POLL)),
        }
    }
}

/// After a write to the database files: waits briefly until the commit it
/// belongs to is visible (data_version moves).
fn settle(conn: &Connection, version: i64) -> Result<()> {
    let until = Instant::now() + SETTLE;
    while data_version(conn)? == version && Instant::now() < until {
        std::thread::sleep(Duration::from_micros(20));
    }
    Ok(())
}
