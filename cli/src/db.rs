//! Opening a queue database the way orq recommends for every front door.

use std::cell::Cell;
use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

use crate::exit::{Code, Failure, Result};

/// How long a command waits for another process's write lock.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

thread_local! {
    /// Time slept in the current wait for a lock, and a PRNG state.
    static WAITED: Cell<Duration> = const { Cell::new(Duration::ZERO) };
    static RNG: Cell<u64> = Cell::new(seed());
}

/// SQLite's busy handler: called with the number of tries so far while
/// another connection holds a lock. SQLite's own timeout handler sleeps in
/// coarse steps (up to 100 ms), which lets one busy process starve others;
/// this one sleeps 20 µs to 1 ms at random, up to BUSY_TIMEOUT in all.
fn wait_briefly(tries: i32) -> bool {
    if tries == 0 {
        WAITED.set(Duration::ZERO);
    }
    let waited = WAITED.get();
    if waited >= BUSY_TIMEOUT {
        return false;
    }
    let cap = 20u64 << tries.clamp(0, 6); // 20 µs doubling to 1.28 ms
    let sleep = Duration::from_micros(cap / 2 + next_random() % (cap / 2 + 1));
    std::thread::sleep(sleep);
    WAITED.set(waited + sleep);
    true
}

fn next_random() -> u64 {
    RNG.with(|r| {
        // xorshift64*
        let mut x = r.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        r.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    })
}

fn seed() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1);
    (t ^ (u64::from(std::process::id()) << 32)) | 1
}

/// Opens (creating if needed) `path` in WAL mode with orq registered, and a
/// busy handler that waits in short random sleeps (see `wait_briefly`), and
/// the PRAGMAs orq recommends for a queue database (README: "PRAGMAs").
/// synchronous=NORMAL is durable across application crashes; only a power
/// loss can drop the last commits (SQLite's documented WAL trade-off);
/// `durable` (FULL) makes every commit wait for the disk instead.
pub fn open(path: &Path, durable: bool) -> Result<Connection> {
    let fail = |e: rusqlite::Error| Failure {
        code: Code::Database,
        message: format!("cannot open {}: {e}", path.display()),
    };
    let conn = Connection::open(path).map_err(fail)?;
    conn.busy_handler(Some(wait_briefly)).map_err(fail)?;
    conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(())).map_err(fail)?;
    let synchronous = if durable { "FULL" } else { "NORMAL" };
    conn.execute_batch(&format!(
        // Statement journals, sorts and RETURNING buffers in memory.
        "PRAGMA synchronous = {synchronous}; PRAGMA temp_store = MEMORY;"
    ))
    .map_err(fail)?;
    orq::register(&conn).map_err(fail)?;
    Ok(conn)
}
