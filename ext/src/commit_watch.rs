//! How queue_wait hears commits on Linux: inotify on the database's
//! directory, and a look at SQLite's WAL write lock (see wait.rs for why it
//! needs both). Elsewhere, and with ORQ_PORTABLE, it polls instead
//! (platform.rs).
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
//! on a short backoff (a writer is busy, so this is not idle polling).

use std::os::raw::c_int;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use crate::ears::Ears;
use crate::inotify;

/// After a file event, while a commit may be in flight: the first pause
/// before looking again; each next one doubles, up to RECHECK_SHORT_MAX
/// for RECHECK_SHORT_FOR after the event, then up to RECHECK_MAX. A commit
/// holds the write lock a few milliseconds after its first write at most
/// (a WAL that starts over is synced twice first, and with synchronous =
/// FULL the commit once more): pauses that doubled on through that time
/// saw it up to as long again after it showed, 3 ms of a signal's 4 ms
/// wake-up (benches/durable.py). Only a writer that holds the lock longer
/// is looked at less and less often.
const RECHECK_FIRST: Duration = Duration::from_micros(50);
const RECHECK_SHORT_MAX: Duration = Duration::from_micros(200);
const RECHECK_SHORT_FOR: Duration = Duration::from_millis(20);
const RECHECK_MAX: Duration = Duration::from_millis(50);
/// Where the write lock cannot be seen (no -shm file: not in WAL mode): how
/// long after its last file event a commit is looked for.
const UNPROBED_SETTLE: Duration = Duration::from_secs(1);
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
    /// None for databases without a file, and where the portable way is
    /// asked for.
    pub fn new(db_path: &str) -> Option<Watcher> {
        if !crate::platform::linux() {
            return None;
        }
        let path = Path::new(db_path);
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let name = path.file_name()?.to_string_lossy().as_bytes().to_vec();
        let watch = inotify::Watch::new(dir, libc::IN_MODIFY | libc::IN_CREATE | libc::IN_MOVED_TO).ok()?;
        Some(Watcher { watch, name, writer: WriterProbe::new(db_path) })
    }

    /// What one wait listens with. What was written before the watch began
    /// is unknown: it settles first.
    pub fn listen(&self) -> Box<dyn Ears + '_> {
        Box::new(Listening { watcher: self, in_flight: Some(InFlight::new()) })
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

    /// Whether a commit reported by a file event at `since` may not be
    /// visible yet.
    fn commit_may_be_in_flight(&self, since: Instant) -> bool {
        match self.writer.writing() {
            Some(writing) => writing,
            None => since.elapsed() < UNPROBED_SETTLE,
        }
    }
}

/// One wait's state: whether a commit it was told of may not show yet.
struct Listening<'w> {
    watcher: &'w Watcher,
    in_flight: Option<InFlight>,
}

impl Ears for Listening<'_> {
    fn before_read(&mut self) {
        if self.watcher.drain() {
            self.in_flight = Some(InFlight::new());
        }
        // Once no commit is in flight, every commit whose writes were
        // reported is visible to the read that follows.
        if self.in_flight.as_ref().is_some_and(|f| !self.watcher.commit_may_be_in_flight(f.since)) {
            self.in_flight = None;
        }
    }

    fn sleep(&mut self, nap: Duration, _changed: bool) -> bool {
        let nap = match self.in_flight.as_mut() {
            Some(f) => nap.min(f.next_pause()),
            None => nap,
        };
        self.watcher.sleep(nap)
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
        let cap = if self.since.elapsed() < RECHECK_SHORT_FOR { RECHECK_SHORT_MAX } else { RECHECK_MAX };
        self.pause = (pause * 2).min(cap);
        pause
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
