//! Shared helpers for the integration tests: where the built extension and
//! binaries are, connections with it loaded, scratch directories.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rusqlite::Connection;

pub mod corrupt;

/// The project root (this crate lives in tests/).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// The built extension: $ORQ_EXT, or target/release/liborq.so.
pub fn ext_path() -> PathBuf {
    let path = std::env::var_os("ORQ_EXT")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/release/liborq.so"));
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --release` at the project root first",
        path.display()
    );
    path
}

/// The `orq` binary: $ORQ_BIN, or target/bundled/release/orq.
pub fn orq_bin() -> PathBuf {
    std::env::var_os("ORQ_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/bundled/release/orq"))
}

/// Loads liborq into `conn`.
pub fn load(conn: &Connection) {
    unsafe {
        let _guard = rusqlite::LoadExtensionGuard::new(conn).expect("enable extension loading");
        conn.load_extension(ext_path(), None::<&str>).expect("load liborq");
    }
}

/// An in-memory database with orq loaded.
pub fn memory() -> Connection {
    let conn = Connection::open_in_memory().expect("open :memory:");
    load(&conn);
    conn
}

/// A file database with orq loaded and a 5 s busy timeout.
pub fn open(path: &Path) -> Connection {
    let conn = Connection::open(path).expect("open database");
    conn.busy_timeout(Duration::from_secs(5)).expect("busy timeout");
    load(&conn);
    conn
}

/// A fresh directory for one test, removed when dropped.
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "orq-test-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        Scratch(dir)
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The value of a one-row, one-column query.
pub fn one<T: rusqlite::types::FromSql>(conn: &Connection, sql: &str) -> T {
    conn.query_row(sql, [], |r| r.get(0)).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// The error message of a statement that must fail.
pub fn error_of(conn: &Connection, sql: &str) -> String {
    match conn.query_row(sql, [], |_| Ok(())) {
        Ok(()) => panic!("expected an error from {sql}"),
        Err(rusqlite::Error::SqliteFailure(_, Some(msg))) => msg,
        Err(e) => e.to_string(),
    }
}

/// Runs `sql`, which must fail with a message containing `needle`.
pub fn assert_error(conn: &Connection, sql: &str, needle: &str) {
    let msg = error_of(conn, sql);
    assert!(msg.contains(needle), "{sql}\n  error: {msg}\n  expected it to contain: {needle}");
}

/// Rows of a query as strings joined by `|`, for compact assertions.
pub fn rows(conn: &Connection, sql: &str) -> Vec<String> {
    let mut stmt = conn.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let n = stmt.column_count();
    stmt.query_map([], |r| {
        Ok((0..n)
            .map(|i| match r.get_ref(i).unwrap() {
                rusqlite::types::ValueRef::Null => "NULL".to_string(),
                rusqlite::types::ValueRef::Integer(v) => v.to_string(),
                rusqlite::types::ValueRef::Real(v) => format!("{v:?}"),
                rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                rusqlite::types::ValueRef::Blob(b) => format!("<{} bytes>", b.len()),
            })
            .collect::<Vec<_>>()
            .join("|"))
    })
    .unwrap()
    .map(|r| r.unwrap())
    .collect()
}
