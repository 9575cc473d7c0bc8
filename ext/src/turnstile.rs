//! Processes take turns at the write lock instead of polling for it.
//!
//! SQLite has no way to wait for its write lock: a connection that finds it
//! taken can only sleep and try again. With several processes on a busy
//! queue, the sleepers either wake too late (the lock sat free) or too often
//! (each failed try costs system calls, and on a small machine steals the CPU
//! from the process that holds the lock): eight processes together drained
//! jobs at half the rate of one.
//!
//! So before orq begins a write transaction of its own it takes a turn: an
//! exclusive `flock` on a small file beside the database (`<db>-orqlock`).
//! Who does not get it sleeps in the kernel on a futex in that file's
//! shared mapping, and the process whose turn ends wakes exactly one
//! sleeper. The turn is only a courtesy among orq's own transactions: SQLite's
//! lock still guards the data, a sleep never outlasts a few milliseconds
//! before it looks again (a wake-up that was missed, or a process that died
//! with the turn, costs that much and no more: the kernel drops a dead
//! process's flock), and the caller's deadline is kept. Where the file cannot
//! be made (a read-only directory, an in-memory database, not Linux) orq
//! waits the old way.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The longest one sleep lasts before the sleeper tries again by itself.
const NAP: Duration = Duration::from_millis(2);
/// Bytes mapped: one page, of which the first 4 are the wake-up counter.
const MAPPED: usize = 4096;

/// The turn file of one connection (each connection opens its own, so that
/// connections of one process also take turns: flock locks belong to the
/// open file, not to the process).
pub struct Turnstile {
    file: File,
    /// Counts ends of turns; sleepers sleep while it stays what they read.
    ends: *const AtomicU32,
}

// The mapping is only touched through atomics.
unsafe impl Send for Turnstile {}

/// Held while it is this connection's turn; the turn ends when it drops.
pub struct Turn<'t>(&'t Turnstile);

impl Turnstile {
    /// The turn file of the database at `db_path`; None where there can be none.
    pub fn open(db_path: &str) -> Option<Turnstile> {
        if db_path.is_empty() || !cfg!(target_os = "linux") {
            return None;
        }
        let file =
            OpenOptions::new().read(true).write(true).create(true).open(format!("{db_path}-orqlock")).ok()?;
        if file.metadata().ok()?.len() < MAPPED as u64 {
            // Every process may do this at once: extending to the same length is harmless.
            file.set_len(MAPPED as u64).ok()?;
        }
        // SAFETY: a shared mapping of a file we keep open and at least MAPPED
        // long; unmapped in Drop. The word is aligned (page start).
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                MAPPED,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return None;
        }
        Some(Turnstile { file, ends: ptr as *const AtomicU32 })
    }

    /// Waits for this connection's turn until `deadline`; None if it passed
    /// (the caller then waits for SQLite's lock as before, and its deadline
    /// reports the failure).
    pub fn enter(&self, deadline: Instant) -> Option<Turn<'_>> {
        loop {
            let seen = self.ends().load(Ordering::Acquire);
            if self.try_lock() {
                return Some(Turn(self));
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            self.sleep_while(seen, NAP.min(deadline - now));
        }
    }

    fn ends(&self) -> &AtomicU32 {
        // SAFETY: points into our live mapping (see open).
        unsafe { &*self.ends }
    }

    fn try_lock(&self) -> bool {
        // SAFETY: flock on our own open file.
        unsafe { libc::flock(self.file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
    }

    /// Sleeps until the counter moves from `seen`, a wake-up, or `nap`.
    fn sleep_while(&self, seen: u32, nap: Duration) {
        let timeout = libc::timespec { tv_sec: 0, tv_nsec: nap.as_nanos().min(999_999_999) as libc::c_long };
        // SAFETY: FUTEX_WAIT on a word of a shared mapping (not PRIVATE: the
        // sleepers are other processes); it returns at once if the word changed.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                self.ends,
                libc::FUTEX_WAIT,
                seen,
                &timeout as *const libc::timespec,
            );
        }
    }

    fn leave(&self) {
        // SAFETY: unlock our own flock, then wake one sleeper on the shared word.
        unsafe {
            libc::flock(self.file.as_raw_fd(), libc::LOCK_UN);
            self.ends().fetch_add(1, Ordering::Release);
            libc::syscall(libc::SYS_futex, self.ends, libc::FUTEX_WAKE, 1);
        }
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.0.leave();
    }
}

impl Drop for Turnstile {
    fn drop(&mut self) {
        // SAFETY: the mapping made in open, unmapped once.
        unsafe {
            libc::munmap(self.ends as *mut libc::c_void, MAPPED);
        }
    }
}
