//! The two ways a request can fail, split by what the caller may conclude
//! about its outcome.

use std::fmt;

/// SQLITE_IOERR, the primary code of every I/O error.
const SQLITE_IOERR: u64 = 10;
/// dqlite's SQLITE_IOERR_NOT_LEADER: the node is not the leader.
pub(crate) const SQLITE_IOERR_NOT_LEADER: u64 = SQLITE_IOERR | (40 << 8);
/// dqlite's SQLITE_IOERR_LEADERSHIP_LOST: the node lost leadership while the
/// request was being replicated.
pub(crate) const SQLITE_IOERR_LEADERSHIP_LOST: u64 = SQLITE_IOERR | (41 << 8);

#[derive(Debug)]
pub enum Error {
    /// The server ran the request and SQLite/dqlite refused it: its result code
    /// (extended, as sent) and message. The request's outcome is known: nothing
    /// was applied. (With several statements in one EXEC_SQL string, the ones
    /// before the failing statement did run; see `Conn::exec`.)
    Sql { code: u64, message: String },
    /// No leader reachable, connection lost, timeout, or the node is not (or no
    /// longer) the leader: the outcome of the request in flight is UNKNOWN.
    /// Callers may reconnect and retry only idempotent work.
    Unavailable(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Sql { code, message } => write!(f, "{message} (SQLite code {code})"),
            Error::Unavailable(why) => write!(f, "dqlite unavailable: {why}"),
        }
    }
}

impl std::error::Error for Error {}

/// Whether a failure code says the outcome is unknown rather than "refused".
///
/// Besides the two leadership codes, any I/O error counts: a dqlite node keeps
/// its database in memory, so the only I/O behind a statement is raft's, and
/// an I/O error means replicating the commit failed (raft apply), after which
/// a new leader may or may not have the entry.
pub(crate) fn outcome_unknown(code: u64) -> bool {
    code == SQLITE_IOERR_NOT_LEADER || code == SQLITE_IOERR_LEADERSHIP_LOST || code & 0xff == SQLITE_IOERR
}
