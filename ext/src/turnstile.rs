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
//! be made (a read-only directory, an in-memory database, not Linux or
//! ORQ_PORTABLE set: platform.rs) orq waits the old way.
//!
//! One waiter at a time spins instead of sleeping: waking a sleeper costs
//! tens of microseconds on a virtual machine (the idle CPU has to be woken
//! first), and with every job needing the turn twice that gap, paid at each
//! hand-over, was a third of the time of several processes draining a queue
//! together. The spinner takes the turn the moment it is free, and the sleeper
//! woken then has the whole next turn to wake up in and become the spinner.
//! A spin lasts at most SPIN, so a crashed spinner holds the slot no longer,
//! and nobody spins while turns last longer than that (claims of many jobs),
//! where spinning only took the CPU from processes with work to do. (Figure
//! D of benches/RESULTS.md, one job per claim: 4 processes went from 0.54 to
//! 0.62 of one process's rate, 8 from 0.41 to 0.49, and the jobs now split
//! evenly among them.)

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The longest one sleep lasts before the sleeper tries again by itself.
const NAP: Duration = Duration::from_millis(2);
/// Bytes mapped: one page. The first 4 are the wake-up counter; the 8 at
/// offset 8 say until when (CLOCK_MONOTONIC ns, shared by all processes) the
/// slot of the spinning waiter is taken.
const MAPPED: usize = 4096;
const SPINNER_OFFSET: usize = 8;
/// And the 8 at offset 16 how long the last turn lasted (ns).
const LAST_TURN_OFFSET: usize = 16;
/// And the 4 at offset 24 how many waiters sleep on the counter: a turn that
/// ends with nobody asleep makes no futex call (uncontended writes are the
/// common case, and each system call there costs about a microsecond).
const SLEEPERS_OFFSET: usize = 24;
/// And the 8 at offset 32 until when (CLOCK_MONOTONIC ns) a turn that ended
/// with sleepers is theirs: a writer that was not waiting does not take it
/// meanwhile. Without that, a process writing in a loop (a purge in slices)
/// took the turn back before the sleeper it had just woken was scheduled,
/// again and again. A sleeper that does not come in time (killed, or not
/// counting itself: an older orq) loses the turn to whoever asks next.
const HANDOFF_OFFSET: usize = 32;
/// How long a turn waits for the sleeper it woke: a wake-up on a busy
/// virtual machine takes tens of microseconds.
const HANDOFF: Duration = Duration::from_micros(300);
/// How long a waiter waits for its turn before it reads its deadline: most
/// waits last a few turns, and the deadline (the host's busy_timeout) costs
/// a statement to read, as much as a small write's own bookkeeping. No
/// longer than the shortest busy_timeout (SQLite counts it in ms).
const PATIENCE: Duration = Duration::from_millis(1);
/// The longest one waiter spins for the turn before it sleeps instead:
/// about two turns of a one-job claim or completion. (Measured with 4 and 8
/// processes draining one queue: 100 µs caught too few hand-overs, 500 µs
/// took the CPU from processes with work to do; yielding in the loop instead
/// of spinning lost the gain.)
const SPIN: Duration = Duration::from_micros(200);

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
pub struct Turn<'t> {
    turnstile: &'t Turnstile,
    began_ns: u64,
}

impl Turnstile {
    /// The turn file of the database at `db_path`; None where there can be none.
    pub fn open(db_path: &str) -> Option<Turnstile> {
        if db_path.is_empty() || !crate::platform::linux() {
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
    /// reports the failure). The deadline is asked for only after PATIENCE
    /// (reading it costs the caller a statement).
    pub fn enter(&self, deadline: impl FnOnce() -> Instant) -> Option<Turn<'_>> {
        let mut deadline = Some(deadline);
        let mut limit = Instant::now() + PATIENCE;
        self.let_the_woken_come();
        loop {
            let seen = self.ends().load(Ordering::Acquire);
            if self.try_lock() {
                return Some(self.turn());
            }
            let now = Instant::now();
            if now >= limit {
                limit = deadline.take()?();
                if now >= limit {
                    return None;
                }
            }
            if self.spin(seen, limit) {
                return Some(self.turn());
            }
            self.sleep_while(seen, NAP.min(limit.saturating_duration_since(Instant::now())));
        }
    }

    fn turn(&self) -> Turn<'_> {
        self.word(HANDOFF_OFFSET).store(0, Ordering::Relaxed);
        Turn { turnstile: self, began_ns: monotonic_ns() }
    }

    /// Waits while the last turn is handed to a sleeper that has not come
    /// yet (HANDOFF_OFFSET): until it has taken the turn and left it, or the
    /// hand-over expired.
    fn let_the_woken_come(&self) {
        let until = self.word(HANDOFF_OFFSET).load(Ordering::Relaxed);
        let now = monotonic_ns();
        if until > now {
            self.sleep_while(self.ends().load(Ordering::Acquire), Duration::from_nanos(until - now));
        }
    }

    /// Spins for the turn if no other waiter is spinning and the last turn
    /// was shorter than SPIN: true when it got the turn. Tries the lock each
    /// time the counter moves (a turn ended).
    fn spin(&self, mut seen: u32, deadline: Instant) -> bool {
        if self.word(LAST_TURN_OFFSET).load(Ordering::Relaxed) > SPIN.as_nanos() as u64 {
            return false;
        }
        let start = monotonic_ns();
        let until = start + SPIN.as_nanos() as u64;
        let slot = self.word(SPINNER_OFFSET);
        let taken = slot.load(Ordering::Relaxed);
        if taken > start || slot.compare_exchange(taken, until, Ordering::AcqRel, Ordering::Relaxed).is_err()
        {
            return false;
        }
        let spin_deadline = deadline.min(Instant::now() + SPIN);
        let mut got = false;
        while Instant::now() < spin_deadline {
            let now_seen = self.ends().load(Ordering::Acquire);
            if now_seen != seen {
                seen = now_seen;
                if self.try_lock() {
                    got = true;
                    break;
                }
            }
            std::hint::spin_loop();
        }
        // Free the slot (unless a later spinner took an expired one meanwhile).
        let _ = slot.compare_exchange(until, 0, Ordering::AcqRel, Ordering::Relaxed);
        got
    }

    fn ends(&self) -> &AtomicU32 {
        // SAFETY: points into our live mapping (see open).
        unsafe { &*self.ends }
    }

    fn sleepers(&self) -> &AtomicU32 {
        // SAFETY: a 4-aligned word inside our live mapping (see open).
        unsafe { &*(self.ends as *const u8).add(SLEEPERS_OFFSET).cast::<AtomicU32>() }
    }

    /// The 8-byte word at `offset` (SPINNER_OFFSET or LAST_TURN_OFFSET).
    fn word(&self, offset: usize) -> &AtomicU64 {
        // SAFETY: an 8-aligned word inside our live mapping (see open).
        unsafe { &*(self.ends as *const u8).add(offset).cast::<AtomicU64>() }
    }

    fn try_lock(&self) -> bool {
        // SAFETY: flock on our own open file.
        unsafe { libc::flock(self.file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
    }

    /// Sleeps until the counter moves from `seen`, a wake-up, or `nap`.
    ///
    /// The sleeper counts itself before it sleeps, and `leave` moves the
    /// counter before it reads the count (both SeqCst): so either `leave`
    /// sees the sleeper and wakes it, or the futex sees the counter moved
    /// and does not sleep. (A sleeper of an older orq, which does not count
    /// itself, wakes after `nap` at the latest; one killed in its sleep
    /// leaves the count high, and turns then wake as they always did.)
    fn sleep_while(&self, seen: u32, nap: Duration) {
        let timeout = libc::timespec { tv_sec: 0, tv_nsec: nap.as_nanos().min(999_999_999) as libc::c_long };
        self.sleepers().fetch_add(1, Ordering::SeqCst);
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
        self.sleepers().fetch_sub(1, Ordering::SeqCst);
    }

    fn leave(&self, began_ns: u64) {
        self.word(LAST_TURN_OFFSET).store(monotonic_ns().saturating_sub(began_ns), Ordering::Relaxed);
        // SAFETY: unlock our own flock, then wake one sleeper on the shared
        // word if there is one (see sleep_while for why none is missed).
        unsafe {
            if self.sleepers().load(Ordering::SeqCst) > 0 {
                let until = monotonic_ns() + HANDOFF.as_nanos() as u64;
                self.word(HANDOFF_OFFSET).store(until, Ordering::Relaxed);
            }
            libc::flock(self.file.as_raw_fd(), libc::LOCK_UN);
            self.ends().fetch_add(1, Ordering::SeqCst);
            if self.sleepers().load(Ordering::SeqCst) > 0 {
                libc::syscall(libc::SYS_futex, self.ends, libc::FUTEX_WAKE, 1);
            }
        }
    }
}

/// CLOCK_MONOTONIC in ns: the same clock in every process, unlike Instant's
/// opaque values.
fn monotonic_ns() -> u64 {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes the timespec we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t) };
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.turnstile.leave(self.began_ns);
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
