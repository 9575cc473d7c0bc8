//! Errors of orq operations, and how they reach SQL callers.
//!
//! An operation reports what went wrong without knowing which SQL function
//! called it; the function boundary prefixes the function's name, so every
//! message a user sees reads `queue_claim: n must be >= 0, got -1`.
//!
//! Every error also has a kind that callers branch on, never its text
//! (docs/errors.md): the SQLite result code the caller gets, and for orq's
//! own kinds that share SQLITE_ERROR with invalid input, a token in
//! brackets right after the function's name (`queue_complete: [not_found]
//! no job with id 42`).

use std::fmt;

use rusqlite::ffi;

#[derive(Debug)]
pub enum Error {
    /// The caller's input is wrong; nothing was changed. SQLITE_ERROR, like
    /// SQLite's own refusals of a statement or of a function's arguments.
    Invalid(String),
    /// The job (or workflow) the caller named does not exist.
    NotFound(String),
    /// The database's orq schema is not one this orq can use: a newer orq
    /// wrote it, or a read needs an upgrade first.
    Schema(String),
    /// The database holds what orq never writes (a schema version that is
    /// not one, say): nothing orq does there can be trusted, so it refuses
    /// reads and writes alike. The SQLite counterpart is SQLITE_CORRUPT.
    Damaged(String),
    /// The write lock could not be had (another connection kept it for
    /// longer than we may wait, or the caller's transaction cannot write):
    /// SQLITE_BUSY, or the extended code SQLite gave.
    Busy { code: i32, message: String },
    /// A unique constraint refused the change (another live job holds the
    /// key): SQLITE_CONSTRAINT_UNIQUE.
    Conflict(String),
    /// SQLite refused a statement: its own result code travels on.
    Sqlite(rusqlite::Error),
}

pub type Result<T> = std::result::Result<T, Error>;

/// Shorthand for an input error.
pub fn invalid(msg: impl Into<String>) -> Error {
    Error::Invalid(msg.into())
}

/// Shorthand for an unknown job id.
pub fn not_found(msg: impl Into<String>) -> Error {
    Error::NotFound(msg.into())
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Sqlite(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Invalid(msg) | Error::NotFound(msg) | Error::Schema(msg) | Error::Conflict(msg) => {
                f.write_str(msg)
            }
            Error::Busy { message, .. } => f.write_str(message),
            Error::Damaged(msg) => write!(f, "the database is damaged: {msg}"),
            // The code travels as the result code, not in the text.
            Error::Sqlite(rusqlite::Error::SqliteFailure(_, Some(msg))) => f.write_str(msg),
            Error::Sqlite(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Error {}

impl Error {
    /// The write lock was held by another connection for `waited_ms`.
    pub fn locked(waited_ms: u64) -> Error {
        Error::Busy {
            code: ffi::SQLITE_BUSY,
            message: format!(
                "database is locked (another connection held the write lock for {waited_ms} ms, \
                 longer than this connection's busy_timeout)"
            ),
        }
    }

    /// The SQLite (extended) result code the caller gets.
    pub fn code(&self) -> i32 {
        match self {
            Error::Invalid(_) | Error::NotFound(_) | Error::Schema(_) => ffi::SQLITE_ERROR,
            Error::Damaged(_) => ffi::SQLITE_CORRUPT,
            Error::Busy { code, .. } => *code,
            Error::Conflict(_) => ffi::SQLITE_CONSTRAINT_UNIQUE,
            Error::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => e.extended_code,
            // orq read a value of a type it never writes there.
            Error::Sqlite(
                rusqlite::Error::FromSqlConversionFailure(..)
                | rusqlite::Error::InvalidColumnType(..)
                | rusqlite::Error::IntegralValueOutOfRange(..),
            ) => ffi::SQLITE_MISMATCH,
            Error::Sqlite(_) => ffi::SQLITE_ERROR,
        }
    }

    /// The token of an orq kind whose code (SQLITE_ERROR) it shares with
    /// invalid input.
    fn token(&self) -> Option<&'static str> {
        match self {
            Error::NotFound(_) => Kind::NotFound.token(),
            Error::Schema(_) => Kind::Schema.token(),
            _ => None,
        }
    }

    /// For a virtual table callback: the message, with the code SQLite
    /// passes on to the caller.
    pub fn into_module_error(self, name: &str) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(ffi::Error::new(self.code()), Some(self.message(name)))
    }

    /// The message as SQL shows it. A NUL byte (from a quoted argument)
    /// would make SQLite drop the whole message, so it is spelled out.
    pub fn message(&self, name: &str) -> String {
        match self.token() {
            Some(token) => format!("{name}: [{token}] {self}"),
            None => format!("{name}: {self}"),
        }
        .replace('\0', "\\0")
    }

    /// True when SQLite said "no such table": the orq schema does not exist
    /// here yet, which read-only views answer with no rows.
    /// SQLITE_LOCKED: a conflict with another statement of the same
    /// connection (such as dropping a b-tree while a query reads).
    pub fn is_locked(&self) -> bool {
        matches!(self, Error::Sqlite(rusqlite::Error::SqliteFailure(f, _))
            if f.code == rusqlite::ErrorCode::DatabaseLocked)
    }

    pub fn is_missing_table(&self) -> bool {
        matches!(self, Error::Sqlite(rusqlite::Error::SqliteFailure(_, Some(msg)))
            if msg.starts_with("no such table"))
    }
}

/// What went wrong, as a caller tells it from the result code and the
/// token (docs/errors.md): the one reading of an error that the orq CLI
/// and `orq serve` branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Bad input: SQLITE_ERROR without a token (SQLite's own refusals of a
    /// statement read the same).
    Invalid,
    /// No job (or workflow) with that id: SQLITE_ERROR, `[not_found]`.
    NotFound,
    /// An orq schema this orq cannot use: SQLITE_ERROR, `[schema]`.
    Schema,
    /// A constraint refused the change: SQLITE_CONSTRAINT.
    Conflict,
    /// Another connection holds a lock: SQLITE_BUSY or SQLITE_LOCKED.
    Busy,
    /// The database cannot be written: SQLITE_READONLY or SQLITE_PERM.
    ReadOnly,
    /// The disk (or max_page_count) is full: SQLITE_FULL.
    Full,
    /// The file is damaged or no database: SQLITE_CORRUPT, SQLITE_NOTADB.
    Corrupt,
    /// The file cannot be opened: SQLITE_CANTOPEN.
    CannotOpen,
    /// The operating system failed a read, write or lock: SQLITE_IOERR,
    /// SQLITE_PROTOCOL, SQLITE_NOLFS.
    Io,
    /// Anything else (SQLITE_NOMEM, SQLITE_INTERNAL, SQLITE_MISMATCH, ...).
    Other,
}

impl Kind {
    /// The kind of an error with (extended or primary) result `code` and
    /// `message`.
    pub fn of(code: i32, message: &str) -> Kind {
        match code & 0xff {
            ffi::SQLITE_ERROR => match token_of(message) {
                Some(t) if Kind::NotFound.token() == Some(t) => Kind::NotFound,
                Some(t) if Kind::Schema.token() == Some(t) => Kind::Schema,
                _ => Kind::Invalid,
            },
            ffi::SQLITE_CONSTRAINT => Kind::Conflict,
            ffi::SQLITE_BUSY | ffi::SQLITE_LOCKED => Kind::Busy,
            ffi::SQLITE_READONLY | ffi::SQLITE_PERM => Kind::ReadOnly,
            ffi::SQLITE_FULL => Kind::Full,
            ffi::SQLITE_CORRUPT | ffi::SQLITE_NOTADB => Kind::Corrupt,
            ffi::SQLITE_CANTOPEN => Kind::CannotOpen,
            ffi::SQLITE_IOERR | ffi::SQLITE_PROTOCOL | ffi::SQLITE_NOLFS => Kind::Io,
            _ => Kind::Other,
        }
    }

    /// The kind of a rusqlite error; Invalid for one SQLite never raised.
    pub fn of_rusqlite(e: &rusqlite::Error) -> Kind {
        match e {
            rusqlite::Error::SqliteFailure(f, msg) => Kind::of(f.extended_code, msg.as_deref().unwrap_or("")),
            _ => Kind::Invalid,
        }
    }

    /// The token a message carries for this kind, if any.
    pub fn token(self) -> Option<&'static str> {
        match self {
            Kind::NotFound => Some("not_found"),
            Kind::Schema => Some("schema"),
            _ => None,
        }
    }
}

/// The token of `function: [token] text`, where `function` is an orq
/// function's name (so no text of the caller's can pose as one).
fn token_of(message: &str) -> Option<&str> {
    let (name, rest) = message.split_once(": [")?;
    let is_name = !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    let (token, _) = rest.split_once(']')?;
    is_name.then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_have_codes_and_tokens() {
        let busy =
            rusqlite::Error::SqliteFailure(ffi::Error::new(ffi::SQLITE_BUSY_SNAPSHOT), Some("x".into()));
        assert_eq!(Error::from(busy).code(), ffi::SQLITE_BUSY_SNAPSHOT);
        assert_eq!(
            not_found("no job with id 4").message("queue_cancel"),
            "queue_cancel: [not_found] no job with id 4"
        );
        assert_eq!(invalid("n must be >= 0").message("queue_claim"), "queue_claim: n must be >= 0");
        assert_eq!(Error::locked(5).code(), ffi::SQLITE_BUSY);
    }

    #[test]
    fn kinds_are_read_from_code_and_token() {
        let e = not_found("no job with id 4");
        assert_eq!(Kind::of(e.code(), &e.message("queue_cancel")), Kind::NotFound);
        let e = Error::Schema("newer".into());
        assert_eq!(Kind::of(e.code(), &e.message("queue_jobs")), Kind::Schema);
        assert_eq!(Kind::of(1, "queue_enqueue: payload is not valid JSON: [not_found] x"), Kind::Invalid);
        assert_eq!(Kind::of(1, "near \"x\": syntax error"), Kind::Invalid);
        assert_eq!(Kind::of(ffi::SQLITE_BUSY_SNAPSHOT, ""), Kind::Busy);
        assert_eq!(Kind::of(ffi::SQLITE_IOERR_WRITE, ""), Kind::Io);
        assert_eq!(Kind::of(ffi::SQLITE_CONSTRAINT_UNIQUE, ""), Kind::Conflict);
        assert_eq!(Kind::of(Error::Damaged("x".into()).code(), ""), Kind::Corrupt);
    }
}
