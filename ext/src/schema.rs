//! Creating and upgrading the orq schema. There is no setup step: the first
//! write on a database creates the schema, and a write on an older schema
//! upgrades it, inside the caller's write transaction, so an upgrade is all
//! or nothing and two processes never both run it.

use rusqlite::Connection;

use crate::error::{invalid, Error, Result};
use crate::sql::MIGRATIONS;

/// The schema version this build writes.
pub const LATEST: i64 = MIGRATIONS.len() as i64;

/// The orq schema version recorded in the database; 0 when orq never wrote there.
pub fn version(conn: &Connection) -> Result<i64> {
    let stmt = conn.prepare_cached("SELECT value FROM orq_meta WHERE key = 'schema_version'");
    match stmt {
        Ok(mut stmt) => {
            let v: Option<i64> = stmt.query_row([], |r| r.get(0)).map(Some).or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })?;
            Ok(v.unwrap_or(0))
        }
        Err(e) => {
            let e = Error::from(e);
            if e.is_missing_table() {
                Ok(0)
            } else {
                Err(e)
            }
        }
    }
}

/// True when the schema is the one this build writes; an error when it is
/// newer. (False also for a database without the schema.)
pub fn is_current(conn: &Connection) -> Result<bool> {
    match version(conn)? {
        LATEST => Ok(true),
        v if v > LATEST => Err(newer_than_us(v)),
        _ => Ok(false),
    }
}

/// Brings the schema to `LATEST`. Must run inside a write transaction.
pub fn upgrade(conn: &Connection) -> Result<i64> {
    let from = version(conn)?;
    if from > LATEST {
        return Err(newer_than_us(from));
    }
    for (i, migration) in MIGRATIONS.iter().enumerate().skip(from as usize) {
        conn.execute_batch(migration)?;
        conn.execute(
            "INSERT INTO orq_meta (key, value) VALUES ('schema_version', ?1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [i as i64 + 1],
        )?;
    }
    Ok(LATEST)
}

/// For read-only views: Ok(false) when the database has no orq schema yet
/// (the view then shows no rows), an error when it needs an upgrade first.
pub fn readable(conn: &Connection) -> Result<bool> {
    match version(conn)? {
        0 => Ok(false),
        LATEST => Ok(true),
        v if v > LATEST => Err(newer_than_us(v)),
        v => Err(invalid(format!(
            "this database has orq schema v{v}; any orq write, or SELECT orq_migrate(), upgrades it to v{LATEST}"
        ))),
    }
}

fn newer_than_us(v: i64) -> Error {
    invalid(format!(
        "this database has orq schema v{v}, newer than this orq {} understands (v{LATEST}); upgrade orq",
        crate::VERSION
    ))
}

/// A database without the orq schema becomes WAL when orq is loaded into it
/// (and again before orq's first write, if that did not work): WAL lets
/// workers claim while others read, and every orq concurrency guarantee
/// assumes it. A database that already holds the schema keeps the journal
/// mode its owner chose. Best effort: SQLite refuses the switch inside a
/// transaction or while a statement reads, and then nothing changes.
pub fn prefer_wal(conn: &Connection) {
    let fresh = matches!(version(conn), Ok(0));
    let mode: Option<String> = conn.query_row("PRAGMA main.journal_mode", [], |r| r.get(0)).ok();
    if fresh && matches!(mode.as_deref(), Some("delete" | "truncate" | "persist")) {
        let _ = conn.query_row("PRAGMA main.journal_mode = WAL", [], |_| Ok(()));
    }
}
