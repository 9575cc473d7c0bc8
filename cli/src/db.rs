//! Opening a queue database the way orq recommends for every front door.

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

use crate::exit::{Code, Failure, Result};

/// How long a command waits for another process's write lock.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens (creating if needed) `path` in WAL mode with orq registered.
/// synchronous=NORMAL is durable across application crashes; only a power
/// loss can drop the last commits (SQLite's documented WAL trade-off).
pub fn open(path: &Path) -> Result<Connection> {
    let fail = |e: rusqlite::Error| Failure {
        code: Code::Database,
        message: format!("cannot open {}: {e}", path.display()),
    };
    let conn = Connection::open(path).map_err(fail)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(fail)?;
    conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(())).map_err(fail)?;
    conn.execute_batch("PRAGMA synchronous = NORMAL;").map_err(fail)?;
    orq::register(&conn).map_err(fail)?;
    Ok(conn)
}
