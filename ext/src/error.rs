//! Errors of orq operations, and how they reach SQL callers.
//!
//! An operation reports what went wrong without knowing which SQL function
//! called it; the function boundary prefixes the function's name, so every
//! message a user sees reads `queue_claim: n must be >= 0, got -1`.

use std::fmt;

#[derive(Debug)]
pub enum Error {
    /// The caller's input is wrong; nothing was changed.
    Invalid(String),
    /// The database holds what orq never writes (a schema version that is
    /// not one, say): nothing orq does there can be trusted, so it refuses
    /// reads and writes alike. The SQLite counterpart is SQLITE_CORRUPT.
    Damaged(String),
    /// Another connection kept the write lock for longer than we may wait.
    Locked { waited_ms: u64 },
    /// SQLite refused a statement.
    Sqlite(rusqlite::Error),
}

pub type Result<T> = std::result::Result<T, Error>;

/// Shorthand for an input error.
pub fn invalid(msg: impl Into<String>) -> Error {
    Error::Invalid(msg.into())
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Sqlite(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Invalid(msg) => f.write_str(msg),
            Error::Damaged(msg) => write!(f, "the database is damaged: {msg}"),
            Error::Locked { waited_ms } => write!(
                f,
                "database is locked (another connection held the write lock for {waited_ms} ms, \
                 longer than this connection's busy_timeout)"
            ),
            Error::Sqlite(rusqlite::Error::SqliteFailure(e, Some(msg))) => {
                write!(f, "{msg} ({})", e.extended_code)
            }
            Error::Sqlite(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Error {}

/// The message of `e` as the SQL function `fname` reports it.
#[derive(Debug)]
pub struct FunctionError(pub String);

impl fmt::Display for FunctionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FunctionError {}

impl Error {
    /// For a scalar function's result.
    pub fn into_function_error(self, fname: &str) -> rusqlite::Error {
        rusqlite::Error::UserFunctionError(Box::new(FunctionError(self.message(fname))))
    }

    /// For a virtual table callback's error message.
    pub fn into_module_error(self, name: &str) -> rusqlite::Error {
        rusqlite::Error::ModuleError(self.message(name))
    }

    /// The message as SQL shows it. A NUL byte (from a quoted argument)
    /// would make SQLite drop the whole message, so it is spelled out.
    fn message(&self, name: &str) -> String {
        format!("{name}: {self}").replace('\0', "\\0")
    }

    /// True when SQLite said "no such table": the orq schema does not exist
    /// here yet, which read-only views answer with no rows.
    pub fn is_missing_table(&self) -> bool {
        matches!(self, Error::Sqlite(rusqlite::Error::SqliteFailure(_, Some(msg)))
            if msg.starts_with("no such table"))
    }
}
