//! `queue_wait`: block until a job may be claimable, without polling SQLite
//! and without holding a transaction while waiting.
//!
//! A commit by any process writes the database's WAL (or, in other journal
//! modes, the database file); inotify reports that write at once. The write
//! comes before the commit is visible: the writer may still sync the WAL
//! (for as long as the disk takes) and updates the WAL index in shared
//! memory last, which makes no inotify event. So the last event of a commit
//! may come any time before it shows, and after an event the waiter cannot
//! just look once. It looks until no commit can be in flight: a writer holds
//! SQLite's WAL write lock from before its first WAL write until its commit
//! is visible, so once the lock is seen free, every commit whose writes the
//! waiter was told of is visible to the next read. Until then it looks again
//! on a short backoff (a writer is busy, so this is not idle polling). Then
//! it asks the database whether its queues have a claimable job
//! (sql/wait_check.sql). Commits that do not concern its queues wake the
//! thread but not the caller. A due time in the future (a delayed job, a
//! lease about to run out, a schedule) bounds the sleep.

use std::os::raw::c_int;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use rusqlite::{named_params, Connection};

use crate::error::{invalid, Result};
use crate::inotify;
use crate::sql;

/// After a file event, while a commit may be in flight: the first pause
/// before looking again; each next one doubles, up to the second.
const RECHECK_FIRST: Duration = Duration::from_micros(50);
const RECHECK_MAX: Duration = Duration::from_millis(50);
/// Where the write lock cannot be seen (no -shm file: not in WAL mode): how
/// long after its last file event a commit is looked for.
const UNPROBED_SETTLE: Duration = Duration::from_secs(1);
/// Where inotify is unavailable (no file: `:memory:`): poll this often.
const FALLBACK_POLL: Duration = Duration::from_millis(10);
/// The byte of the -shm file that SQLite's unix VFS locks as the WAL write
/// lock (os_unix.c: UNIX_SHM_BASE = (22 + SQLITE_SHM_NLOCK) * 4, and
/// WAL_WRITE_LOCK is lock 0).
const WAL_WRITE_LOCK_BYTE: libc::off_t = 120;

/// An inotify watch on the directory of the database file.
pub struct Watcher {
    watch: inotify::Watch,
    /// The database file's name: events for it, its -wal and -journal count.
    name: Vec<u8>,
    writer: WriterProbe,
}

impl Watcher {
    /// None for databases without a file.
    pub fn new(db_path: &str) -> Option<Watcher> {
        let path = Path::new(db_path);
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let name = path.file_name()?.to_string_lossy().as_bytes().to_vec();
        let watch = inotify::Watch::new(dir, libc::IN_MODIFY | libc::IN_CREATE | libc::IN_MOVED_TO).ok()?;
        Some(Watcher { watch, name, writer: WriterProbe::new(db_path) })
    }

    /// Reads pending events; true if any concerned the database.
    fn drain(&self) -> bool {
        let mut relevant = false;
        // An overflow lost events: any of them may have been ours.
        let _ = self.watch.read(|mask, name| {
            relevant |= name.starts_with(&self.name) || mask & libc::IN_Q_OVERFLOW != 0;
        });
        relevant
    }

    /// Sleeps until the directory changes or `timeout` passes. False when a
    /// signal interrupted the sleep (the caller may have work to do).
    fn sleep(&self, timeout: Duration) -> bool {
        let mut pfd = libc::pollfd { fd: self.watch.fd(), events: libc::POLLIN, revents: 0 };
        // ppoll: the pauses after a file event are shorter than poll's millisecond.
        let ts = libc::timespec {
            tv_sec: timeout.as_secs().min(i32::MAX as u64) as libc::time_t,
            tv_nsec: timeout.subsec_nanos() as libc::c_long,
        };
        // SAFETY: one valid pollfd, a valid timespec, no signal mask.
        let r = unsafe { libc::ppoll(&mut pfd, 1, &ts, std::ptr::null()) };
        !(r < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR))
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
        .prepare_cached(&sql::WAIT_CHECK)?
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
    // What was written before the watch began is unknown: settle first.
    let mut in_flight = Some(InFlight::new());
    // The due time as of a data_version: unchanged until another commit.
    let mut known: Option<(i64, Option<i64>)> = None;
    loop {
        if let Some(w) = watcher {
            if w.drain() {
                in_flight = Some(InFlight::new());
            }
            // Before reading: once no commit is in flight, every commit
            // whose writes were reported is visible to the read below.
            if in_flight.as_ref().is_some_and(|f| !w.commit_may_be_in_flight(f.since)) {
                in_flight = None;
            }
        }
        let version = data_version(conn)?;
        let due = match known {
            Some((v, due)) if v == version => due,
            _ => {
                // Before the first write there is no schema, and nothing is due.
                let due = if crate::schema::readable(conn)? { next_due(conn, w)? } else { None };
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
        let mut nap = left.min(until_due);
        if let Some(f) = in_flight.as_mut() {
            nap = nap.min(f.next_pause());
        }
        match watcher {
            Some(w) => {
                if !w.sleep(nap) {
                    return Ok(false); // a signal: let the caller see to it
                }
            }
            None => std::thread::sleep(nap.min(FALLBACK_POLL)),
        }
    }
}

/// A commit that may be between its file writes and its visibility.
struct InFlight {
    /// The last file event.
    since: Instant,
    pause: Duration,
}

impl InFlight {
    fn new() -> InFlight {
        InFlight { since: Instant::now(), pause: RECHECK_FIRST }
    }

    /// How long to sleep before looking again.
    fn next_pause(&mut self) -> Duration {
        let pause = self.pause;
        self.pause = (pause * 2).min(RECHECK_MAX);
        pause
    }
}

impl Watcher {
    /// Whether a commit reported by a file event at `since` may not be
    /// visible yet.
    fn commit_may_be_in_flight(&self, since: Instant) -> bool {
        match self.writer.writing() {
            Some(writing) => writing,
            None => since.elapsed() < UNPROBED_SETTLE,
        }
    }
}

/// Sees whether any connection, of any process, holds the WAL write lock,
/// without taking it: F_OFD_GETLK on the -shm file reports the POSIX locks
/// of other processes and of this one alike.
struct WriterProbe {
    shm: PathBuf,
    /// The descriptor last found, or -1.
    fd: AtomicI32,
}

impl WriterProbe {
    fn new(db_path: &str) -> WriterProbe {
        WriterProbe { shm: PathBuf::from(format!("{db_path}-shm")), fd: AtomicI32::new(-1) }
    }

    /// Some(true) while a writer holds the lock, Some(false) when none
    /// does, None when it cannot be seen.
    fn writing(&self) -> Option<bool> {
        let fd = self.shm_fd()?;
        // SAFETY: an all-zero flock is valid; F_OFD_GETLK only reads the lock table.
        let mut lock: libc::flock = unsafe { std::mem::zeroed() };
        lock.l_type = libc::F_WRLCK as libc::c_short;
        lock.l_whence = libc::SEEK_SET as libc::c_short;
        lock.l_start = WAL_WRITE_LOCK_BYTE;
        lock.l_len = 1;
        // SAFETY: a valid flock for a descriptor of this process.
        if unsafe { libc::fcntl(fd, libc::F_OFD_GETLK, &mut lock) } < 0 {
            return None;
        }
        Some(lock.l_type != libc::F_UNLCK as libc::c_short)
    }

    /// SQLite's own descriptor of the -shm file, found among this process's
    /// (the waiting connection has it open). Borrowed, never closed: closing
    /// any descriptor of a file drops every POSIX lock the process holds on
    /// it, SQLite's included, so opening one of our own is not safe.
    fn shm_fd(&self) -> Option<c_int> {
        let want = std::fs::metadata(&self.shm).ok()?;
        let is_shm = |fd: c_int| {
            // SAFETY: fstat into a local; a closed or reused fd only fails or differs.
            let mut st: libc::stat = unsafe { std::mem::zeroed() };
            let ok = unsafe { libc::fstat(fd, &mut st) } == 0;
            ok && st.st_dev == want.dev() && st.st_ino == want.ino()
        };
        let cached = self.fd.load(Ordering::Relaxed);
        if cached >= 0 && is_shm(cached) {
            return Some(cached);
        }
        let found = std::fs::read_dir("/proc/self/fd")
            .ok()?
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<c_int>().ok())
            .find(|fd| is_shm(*fd))?;
        self.fd.store(found, Ordering::Relaxed);
        Some(found)
    }
}
