//! Damage for the tests of error kinds, shared by this crate's
//! tests/errors.rs and the CLI's cli/tests/errors.rs (which includes this
//! file by path: the two test crates are separate cargo workspaces).

use std::path::Path;

/// Overwrites the pages of orq_jobs and its indexes with garbage; the
/// schema and orq_meta stay readable, so only orq's own reads meet it.
pub fn corrupt(db: &Path) {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row("PRAGMA journal_mode = DELETE", [], |_| Ok(())).unwrap();
    let page_size: usize = conn.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap();
    let mut stmt = conn
        .prepare("SELECT rootpage FROM sqlite_schema WHERE tbl_name = 'orq_jobs' AND rootpage > 0")
        .unwrap();
    let roots: Vec<usize> = stmt.query_map([], |r| r.get(0)).unwrap().map(|r| r.unwrap()).collect();
    drop(stmt);
    drop(conn);
    let mut bytes = std::fs::read(db).unwrap();
    for root in roots {
        bytes[(root - 1) * page_size..root * page_size].fill(0xA5);
    }
    std::fs::write(db, bytes).unwrap();
}
