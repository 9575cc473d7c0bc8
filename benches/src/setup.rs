//! Databases for the benchmarks, and a line about the machine.

use std::path::{Path, PathBuf};

use rusqlite::Connection;

use crate::Config;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// A fresh file database in WAL mode with synchronous=NORMAL, the settings
/// orq recommends (and the ceiling gets the same).
pub fn fresh(name: &str) -> (Connection, PathBuf) {
    let dir = std::env::temp_dir().join(format!("orq-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.db"));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let conn = Connection::open(&path).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
    conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(())).unwrap();
    conn.execute_batch(
        "PRAGMA synchronous = NORMAL; PRAGMA temp_store = MEMORY; PRAGMA cache_size = -16000;",
    )
    .unwrap();
    (conn, path)
}

pub fn load_orq(conn: &Connection, config: &Config) {
    unsafe {
        let _guard = rusqlite::LoadExtensionGuard::new(conn).unwrap();
        conn.load_extension(&config.ext, None::<&str>).unwrap();
    }
}

/// A ~100-byte JSON payload, like a real job's.
pub fn payload(i: usize) -> String {
    format!(
        r#"{{"user_id":{i},"template":"welcome-email","locale":"en-GB","attempt_hint":"none","x":"pad"}}"#
    )
}

pub fn count(n: usize) -> String {
    match n {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n >= 1_000 && n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

pub fn machine_line(config: &Config) -> String {
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    let conn = Connection::open_in_memory().unwrap();
    load_orq(&conn, config);
    let orq: String = conn.query_row("SELECT orq_version()", [], |r| r.get(0)).unwrap();
    format!(
        "machine: {cpus} cores ({model}); SQLite {} (bundled, in this process); orq {orq}; WAL, synchronous=NORMAL",
        rusqlite::version()
    )
}
