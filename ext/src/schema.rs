//! Creating and upgrading the orq schema. There is no setup step: the first
//! write on a database creates the schema, and a write on an older schema
//! upgrades it, inside the caller's write transaction, so an upgrade is all
//! or nothing and two processes never both run it.

use std::cell::Cell;

use rusqlite::types::ValueRef;
use rusqlite::Connection;

use crate::error::{Error, Result};
use crate::host;
use crate::options::excerpt;
use crate::sql::MIGRATIONS;

/// The schema version this build writes.
pub const LATEST: i64 = MIGRATIONS.len() as i64;
/// The oldest version this build's statements run on: the versions after it
/// only drop what an earlier one replaced (DROPS_ONLY), or add what only
/// the functions of durable execution use, and queue_jobs' progress column
/// (queue_jobs reads NULL for it before v17).
pub const USABLE: i64 = 15;
/// Migrations that drop a b-tree and nothing else (by the version they
/// make). SQLite refuses to drop one while another statement of the
/// connection reads the database; such an upgrade stops before them, and a
/// later write finishes it (migration 016).
const DROPS_ONLY: &[i64] = &[16];

/// The orq schema version recorded in the database; 0 when orq never wrote
/// there. Damaged when orq_meta holds anything else than a version orq
/// writes (an integer from 1): then no upgrade or read can be trusted.
pub fn version(conn: &Connection) -> Result<i64> {
    let mut stmt = match conn.prepare_cached("SELECT value FROM orq_meta WHERE key = 'schema_version'") {
        Ok(stmt) => stmt,
        Err(e) => {
            let e = Error::from(e);
            return if e.is_missing_table() { Ok(0) } else { Err(e) };
        }
    };
    let mut rows = stmt.query([])?;
    let Some(row) = rows.next()? else {
        return Err(Error::Damaged(
            "orq_meta has no schema_version, which orq writes with its tables; restore the database from a backup"
                .into(),
        ));
    };
    match row.get_ref(0)? {
        ValueRef::Integer(v) if v >= 1 => Ok(v),
        ValueRef::Integer(v) => Err(damaged(v.to_string())),
        ValueRef::Real(f) => Err(damaged(f.to_string())),
        ValueRef::Null => Err(damaged("NULL".into())),
        ValueRef::Text(t) => Err(damaged(format!("'{}'", excerpt(&String::from_utf8_lossy(t))))),
        ValueRef::Blob(b) => Err(damaged(format!("a blob of {} bytes", b.len()))),
    }
}

fn damaged(found: String) -> Error {
    Error::Damaged(format!(
        "orq_meta holds schema_version {found}, which no orq writes (versions are integers from 1); \
         restore the database from a backup"
    ))
}

/// True when this build's statements run on the schema as it is (from
/// USABLE on: a later version only drops what an earlier one replaced, and
/// the next upgrade outside a query does that); an error when it is newer.
/// (False also for a database without the schema.)
pub fn is_usable(conn: &Connection) -> Result<bool> {
    match version(conn)? {
        v if v > LATEST => Err(newer_than_us(v)),
        v => Ok(v >= USABLE),
    }
}

/// Brings the schema to `LATEST` (or, inside a query that reads the
/// database, to a version from `USABLE` on); the version it reached. Must
/// run inside a write transaction.
pub fn upgrade(conn: &Connection) -> Result<i64> {
    let from = version(conn)?;
    if from > LATEST {
        return Err(newer_than_us(from));
    }
    for (i, migration) in MIGRATIONS.iter().enumerate().skip(from as usize) {
        if let Err(e) = conn.execute_batch(migration).map_err(Error::from) {
            if DROPS_ONLY.contains(&(i as i64 + 1)) && e.is_locked() {
                return Ok(i as i64);
            }
            return Err(e);
        }
        conn.execute(
            "INSERT INTO orq_meta (key, value) VALUES ('schema_version', ?1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [i as i64 + 1],
        )?;
    }
    Ok(LATEST)
}

/// Spares a connection's writes the schema check (a statement, 4k
/// instructions) while nothing can have changed the schema since its last
/// write: SQLite's data version of the main database moves with every
/// commit that changed the file, the connection's own or another's, and is
/// read by a C call, no statement. A write reads it after BEGIN IMMEDIATE,
/// which has seen any other connection's commit; its own commit is recorded
/// after it, so the next write finds it unmoved unless someone else wrote.
/// An upgrade that stopped short of LATEST (see DROPS_ONLY) is tried again
/// only after another connection's commit (or by orq_migrate): a failed
/// drop costs a statement, and the schema it left works.
#[derive(Default)]
pub struct Checked(Cell<Option<u32>>);

impl Checked {
    /// `upgrade`, unless nothing was committed since this connection's last
    /// write recorded it. Must run inside a write transaction.
    pub fn upgrade(&self, conn: &Connection) -> Result<()> {
        if matches!(self.0.get(), Some(seen) if Some(seen) == data_version(conn)) {
            return Ok(());
        }
        upgrade(conn).map(drop)
    }

    /// After a commit of this connection's: the data version it left.
    pub fn committed(&self, conn: &Connection) {
        self.0.set(data_version(conn));
    }
}

/// The data version of `conn`'s main database (None if SQLite will not say).
fn data_version(conn: &Connection) -> Option<u32> {
    // SAFETY (of the handle): the live connection's own.
    host::main_file_control(unsafe { conn.handle() }, host::FCNTL_DATA_VERSION, 0u32)
}

/// For read-only views: Ok(false) when the database has no orq schema yet
/// (the view then shows no rows), an error when it needs an upgrade first.
pub fn readable(conn: &Connection) -> Result<bool> {
    readable_version(conn).map(|v| v.is_some())
}

/// `readable`, with the version the view reads (None: no schema yet).
pub fn readable_version(conn: &Connection) -> Result<Option<i64>> {
    match version(conn)? {
        0 => Ok(None),
        v if v > LATEST => Err(newer_than_us(v)),
        v @ USABLE..=LATEST => Ok(Some(v)),
        v => Err(upgrade_needed(v)),
    }
}

/// The error of a read that needs a newer schema than the database's `v`.
fn upgrade_needed(v: i64) -> Error {
    Error::Schema(format!(
        "this database has orq schema v{v}; any orq write, or SELECT orq_migrate(), upgrades it to v{LATEST}"
    ))
}

fn newer_than_us(v: i64) -> Error {
    Error::Schema(format!(
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
///
/// A replicated host (host::replicated) sets its connections' journal mode
/// itself, after opening them: a read of orq's schema and a switch to WAL
/// made when orq was loaded into a dqlite node killed it at its next write
/// (a segfault in libraft's apply path; tests/cluster).
pub fn prefer_wal(conn: &Connection) {
    // SAFETY (of the handle): the live connection's own.
    if host::replicated(host::Handle(unsafe { conn.handle() })) {
        return;
    }
    let fresh = matches!(version(conn), Ok(0));
    let mode: Option<String> = conn.query_row("PRAGMA main.journal_mode", [], |r| r.get(0)).ok();
    if fresh && matches!(mode.as_deref(), Some("delete" | "truncate" | "persist")) {
        let _ = conn.query_row("PRAGMA main.journal_mode = WAL", [], |_| Ok(()));
    }
}
