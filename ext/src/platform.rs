//! Which way orq waits: with what only Linux has, or the portable way.
//!
//! On Linux, queue_wait hears commits through inotify and sees SQLite's WAL
//! write lock with F_OFD_GETLK (commit_watch.rs), orq's writers take turns
//! on a futex (turnstile.rs), and `orq worker` runs each job under a child
//! subreaper. Every other platform gets the fallbacks, which only need what
//! SQLite and POSIX give everywhere: queue_wait polls `PRAGMA data_version`,
//! writers wait for SQLite's write lock with short random sleeps (txn.rs),
//! and a job's process group is what the worker kills.
//!
//! The fallbacks are compiled on Linux too, and `ORQ_PORTABLE=1` (or true,
//! yes, on) in a process's environment makes that process use them, so the
//! tests run them on Linux and they cannot rot. The variable is read once,
//! the first time orq needs to know: set it before the process starts.

use std::sync::OnceLock;

/// The environment variable that selects the portable fallbacks on Linux.
pub const SWITCH: &str = "ORQ_PORTABLE";

/// Whether this process uses Linux's own mechanisms (false elsewhere, and
/// on Linux when ORQ_PORTABLE is set).
pub fn linux() -> bool {
    cfg!(target_os = "linux") && !forced_portable()
}

/// The environment variable that asks for replicated mode (host.rs) on
/// every connection of a process, for hosts orq cannot recognize itself.
pub const REPLICATED_SWITCH: &str = "ORQ_REPLICATED";

/// Whether ORQ_REPLICATED is set to yes (read once, like ORQ_PORTABLE).
pub fn replicated_forced() -> bool {
    static FORCED: OnceLock<bool> = OnceLock::new();
    *FORCED.get_or_init(|| std::env::var(REPLICATED_SWITCH).is_ok_and(|v| is_true(&v)))
}

/// What orq_debug reports: "linux" or "portable".
pub fn name() -> &'static str {
    if linux() {
        "linux"
    } else {
        "portable"
    }
}

fn forced_portable() -> bool {
    static FORCED: OnceLock<bool> = OnceLock::new();
    *FORCED.get_or_init(|| std::env::var(SWITCH).is_ok_and(|v| is_true(&v)))
}

/// The values the CLI's boolean variables (ORQ_DURABLE) take for yes.
fn is_true(value: &str) -> bool {
    ["1", "true", "yes", "on"].iter().any(|t| value.trim().eq_ignore_ascii_case(t))
}

#[cfg(test)]
mod tests {
    use super::is_true;

    #[test]
    fn the_switch_takes_the_usual_words_for_yes() {
        for yes in ["1", "true", "YES", "on", " On "] {
            assert!(is_true(yes), "{yes}");
        }
        for no in ["", "0", "false", "no", "off", "2"] {
            assert!(!is_true(no), "{no}");
        }
    }
}
