//! What queue_wait listens with (wait.rs): the trait its ways of hearing
//! commits share, inotify on Linux (commit_watch.rs) and polling elsewhere.
//! A leaf, so the listeners and the waiter need not reach each other.

use std::time::Duration;

/// How a waiter hears of other connections' commits.
pub trait Ears {
    /// Called before each read of the database.
    fn before_read(&mut self);
    /// Sleeps `nap` at most, less when it hears a commit; `changed` says
    /// the last read saw data_version move. False when a signal interrupted
    /// the sleep (the caller may have work to do).
    fn sleep(&mut self, nap: Duration, changed: bool) -> bool;
}
