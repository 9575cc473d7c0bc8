//! `orq cluster import FILE` and `orq cluster export FILE`: a queue moved
//! whole between a database file and a cluster, the way `sqlite3 .dump`
//! moves a database: each table created and filled with every row (rowids
//! kept), then the indexes, triggers and views, so that no trigger fires
//! on a copied row. The schema, jobs, leases, tokens and the trail arrive
//! as they were; orq's code is not involved, so the copy is of whatever
//! schema version the source has.
//!
//! The source is read in one read transaction and the destination written
//! in one transaction: a move that fails part way (a failover, a full disk)
//! leaves the destination as it was.

use std::path::Path;

use orq_cluster::Cluster;
use rusqlite::types::Value;
use rusqlite::Connection;

use crate::exit::{usage, Code, Failure, Result};
use crate::output::{cell, Rows};
use crate::store::{cluster_failure, rows_of, to_wire};

/// One end of a move: a database file or the cluster's database.
trait End {
    fn rows(&mut self, sql: &str, params: &[Value]) -> Result<Rows>;
    fn run(&mut self, sql: &str, params: &[Value]) -> Result<()>;
}

impl End for Connection {
    fn rows(&mut self, sql: &str, params: &[Value]) -> Result<Rows> {
        crate::output::query(self, sql, rusqlite::params_from_iter(params))
    }

    fn run(&mut self, sql: &str, params: &[Value]) -> Result<()> {
        Ok(self.execute(sql, rusqlite::params_from_iter(params)).map(drop)?)
    }
}

impl End for Cluster {
    fn rows(&mut self, sql: &str, params: &[Value]) -> Result<Rows> {
        let params: Vec<_> = params.iter().map(to_wire).collect();
        self.query(sql, &params).map(rows_of).map_err(cluster_failure)
    }

    fn run(&mut self, sql: &str, params: &[Value]) -> Result<()> {
        let params: Vec<_> = params.iter().map(to_wire).collect();
        self.exec(sql, &params).map(drop).map_err(cluster_failure)
    }
}

/// What a move copied.
pub struct Moved {
    pub tables: usize,
    pub rows: u64,
    pub jobs: i64,
}

/// Copies the database file `path` into the cluster's database, which must
/// be empty (no table yet).
pub fn import(cluster: &mut Cluster, path: &Path) -> Result<Moved> {
    if !path.exists() {
        return Err(usage(format!("{} does not exist", path.display())));
    }
    let mut file = Connection::open(path)?;
    copy(&mut file, cluster)
}

/// Copies the cluster's database into a new database file at `path`.
pub fn export(cluster: &mut Cluster, path: &Path) -> Result<Moved> {
    if path.exists() {
        return Err(usage(format!("{} exists: the export writes a new file", path.display())));
    }
    let mut file = Connection::open(path)?;
    file.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
    copy(cluster, &mut file)
}

fn copy(from: &mut dyn End, to: &mut dyn End) -> Result<Moved> {
    from.run("BEGIN", &[])?;
    let moved = match to.run("BEGIN IMMEDIATE", &[]) {
        Ok(()) => match copy_all(from, to) {
            Ok(moved) => to.run("COMMIT", &[]).map(|()| moved),
            Err(e) => {
                let _ = to.run("ROLLBACK", &[]);
                Err(e)
            }
        },
        Err(e) => Err(e),
    };
    let _ = from.run("ROLLBACK", &[]); // it only read
    moved
}

/// The schema's entries in the order `.dump` writes them: tables, then
/// everything that refers to tables.
const SCHEMA: &str = "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL
                      ORDER BY type <> 'table', rowid";

fn copy_all(from: &mut dyn End, to: &mut dyn End) -> Result<Moved> {
    if !to.rows("SELECT 1 FROM sqlite_master LIMIT 1", &[])?.rows.is_empty() {
        return Err(Failure {
            code: Code::Usage,
            message: "the destination database is not empty: a queue moves only into an empty one".into(),
        });
    }
    let mut moved = Moved { tables: 0, rows: 0, jobs: 0 };
    for entry in from.rows(SCHEMA, &[])?.rows {
        let (kind, name, sql): (String, String, String) =
            (cell(&entry[0])?, cell(&entry[1])?, cell(&entry[2])?);
        if kind == "table" && sql.to_ascii_uppercase().starts_with("CREATE VIRTUAL") {
            return Err(usage(format!("{name} is a virtual table: a move copies ordinary tables only")));
        }
        // SQLite makes these itself: sqlite_sequence with the first
        // AUTOINCREMENT table, sqlite_stat1 on ANALYZE.
        match name.as_str() {
            "sqlite_sequence" => {}
            "sqlite_stat1" => to.run("ANALYZE sqlite_master", &[])?,
            _ => to.run(&sql, &[])?,
        }
        if kind == "table" {
            if name.starts_with("sqlite_") {
                to.run(&format!("DELETE FROM {}", quoted(&name)), &[])?;
            }
            moved.rows += copy_rows(from, to, &name, &sql)?;
            moved.tables += 1;
        }
    }
    moved.jobs = match to.rows("SELECT count(*) FROM orq_jobs", &[]) {
        Ok(rows) => rows.rows.first().map(|r| cell(&r[0])).transpose()?.unwrap_or(0),
        Err(_) => 0, // not an orq database (yet): nothing to count
    };
    Ok(moved)
}

/// Rows read and written per statement: within dqlite's 255 parameters.
const PARAMS_PER_STATEMENT: usize = 255;
/// Rows read per statement from a table with rowids (memory stays small).
const PAGE: i64 = 5_000;

/// Every row of `table`, with its rowid where it has one.
fn copy_rows(from: &mut dyn End, to: &mut dyn End, table: &str, sql: &str) -> Result<u64> {
    let columns: Vec<String> = from
        .rows("SELECT name FROM pragma_table_xinfo(?1) WHERE hidden = 0", &[Value::Text(table.into())])?
        .rows
        .iter()
        .map(|r| cell::<String>(&r[0]).map(|c| quoted(&c)))
        .collect::<Result<_>>()?;
    let with_rowid = !sql.to_ascii_uppercase().contains("WITHOUT ROWID");
    let list = if with_rowid { format!("rowid, {}", columns.join(", ")) } else { columns.join(", ") };
    let width = columns.len() + usize::from(with_rowid);
    let per_insert = (PARAMS_PER_STATEMENT / width).max(1);
    // One row's placeholders: "(?, ?, ...)".
    let row = format!("({})", vec!["?"; width].join(", "));
    let (mut copied, mut after) = (0u64, i64::MIN);
    loop {
        let page = if with_rowid {
            from.rows(
                &format!("SELECT {list} FROM {} WHERE rowid > ?1 ORDER BY rowid LIMIT {PAGE}", quoted(table)),
                &[Value::Integer(after)],
            )?
        } else {
            from.rows(&format!("SELECT {list} FROM {}", quoted(table)), &[])?
        };
        for chunk in page.rows.chunks(per_insert) {
            let values = vec![row.as_str(); chunk.len()].join(", ");
            let params: Vec<Value> = chunk.iter().flatten().cloned().collect();
            to.run(&format!("INSERT INTO {} ({list}) VALUES {values}", quoted(table)), &params)?;
        }
        copied += page.rows.len() as u64;
        match page.rows.last() {
            Some(last) if with_rowid && page.rows.len() as i64 == PAGE => after = cell(&last[0])?,
            _ => return Ok(copied),
        }
    }
}

/// An identifier as SQL text.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
