//! orq: a durable job queue that lives inside SQLite.
//!
//! Built as `liborq.so`, a SQLite loadable extension (entry point
//! `sqlite3_orq_init`); linked as a Rust library by the `orq` CLI, which
//! calls [`register`] on its own bundled-SQLite connection. Either way the
//! queue is driven through the same SQL functions and virtual tables.
//!
//! Modules depend one way, down these layers (a module uses only those
//! below it; a test checks that no two modules reach each other):
//!
//! 1. `functions`, `vtab`: the SQL surface. They parse arguments and call
//!    the layers below; `lib` hands `functions::register_helpers` down to
//!    `session` as a plain fn, so the side connection gets the helpers
//!    without `session` knowing the surface.
//! 2. Operations that combine steps: `claim` (the chores of `maintenance`,
//!    then lease), `maintenance` (firing due schedules, returning lost
//!    leases, retention), `schedules`, `workflow`, `workers`, `alerts`,
//!    `health`, `metrics`, `wait`.
//! 3. `ops` and `deps`: one statement of sql/ each, the engine itself.
//! 4. Where a write goes: `txn`, over `session` (per-connection state),
//!    `turnstile` and `host` (raw facts about the host connection). The one
//!    call up the layers: after a write, `txn` lets `maintenance` delete a
//!    slice of expired jobs, so every writer shares the upkeep.
//! 5. Leaves: `sql`, `schema`, `options`, `fields`, `args`, `params`, `bounds`,
//!    `backoff`, `cron`, `clock`, `inotify`, `ears`, `platform`, `error`.

mod alerts;
mod args;
mod backoff;
pub mod bounds;
mod claim;
mod clock;
#[cfg(target_os = "linux")]
mod commit_watch;
mod cron;
mod deps;
mod ears;
#[cfg(not(target_os = "linux"))]
mod elsewhere;
mod error;
mod fields;
mod functions;
mod health;
mod host;
#[cfg(target_os = "linux")]
pub mod inotify;
mod maintenance;
mod metrics;
mod ops;
mod options;
mod params;
pub mod platform;
mod schedules;
mod schema;
mod session;
mod sql;
mod step_retry;
mod steps;
#[cfg(target_os = "linux")]
mod turnstile;
mod txn;
mod vtab;
mod wait;
mod workers;
mod workflow;

// Elsewhere the Linux-only modules are stubs that decline (platform.rs).
#[cfg(not(target_os = "linux"))]
use elsewhere::{commit_watch, turnstile};

use std::sync::Arc;

use rusqlite::Connection;

pub use error::{Error, Kind};
/// What a metric counts, in a sentence (`queue_metrics`' `help` column).
pub use metrics::help as metric_help;
/// Whether an event of `queue_events` is a failed attempt: an SQL expression
/// over its `type` and `detail` columns, the one `queue_metrics` counts by.
pub use sql::FAILED_ATTEMPT;
/// How long a stopping worker lets its jobs finish unless told otherwise
/// (queue_worker_beat's `grace`), for the CLI's systemd unit.
pub use workers::DEFAULT_GRACE_MS;

/// The extension's version, as `orq_version()` reports it.
pub const VERSION: &str = concat!("v", env!("CARGO_PKG_VERSION"));

/// The schema version this build creates and upgrades to.
pub const SCHEMA_VERSION: i64 = schema::LATEST;

/// The oldest SQLite orq runs on: RETURNING arrived in 3.35.0.
pub const MIN_SQLITE: i32 = 3_035_000;

/// Registers every orq SQL function and virtual table on `conn`.
pub fn register(conn: &Connection) -> rusqlite::Result<()> {
    if rusqlite::version_number() < MIN_SQLITE {
        return Err(rusqlite::Error::ModuleError(format!(
            "orq needs SQLite 3.35.0 or newer, this is {}",
            rusqlite::version()
        )));
    }
    let session = Arc::new(session::Session::new(unsafe { conn.handle() }, functions::register_helpers));
    functions::register(conn, &session)?;
    vtab::register(conn, &session)?;
    // Now, while no statement of the caller is open, is the one moment the
    // journal mode can surely change; the first orq call may come from a
    // SELECT with a FROM clause, where it cannot.
    schema::prefer_wal(conn);
    Ok(())
}

/// The loadable extension's entry point: `.load ./liborq` finds it by name.
///
/// # Safety
/// Called by SQLite with a live connection and its API table.
#[cfg(feature = "loadable")]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sqlite3_orq_init(
    db: *mut rusqlite::ffi::sqlite3,
    pz_err_msg: *mut *mut std::os::raw::c_char,
    p_api: *mut rusqlite::ffi::sqlite3_api_routines,
) -> std::os::raw::c_int {
    use std::sync::atomic::Ordering;
    // rusqlite reaches SQLite through one global API table per loaded copy
    // of liborq, so a copy serves one SQLite library. A second library
    // (apsw's own SQLite beside the stdlib's, say) would have its calls
    // routed into the first and crash: refuse it instead. A copy of the file
    // under another path is mapped anew, with globals of its own.
    match host::API.compare_exchange(std::ptr::null_mut(), p_api, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => {}
        Err(first) if first == p_api => {}
        // SAFETY: SQLite hands a valid API table and error slot to the init function.
        Err(_) => return unsafe { fail_load(pz_err_msg, p_api, SECOND_LIBRARY) },
    }
    // A panic must never unwind into the host: report it as a failed load.
    std::panic::catch_unwind(|| {
        Connection::extension_init2(db, pz_err_msg, p_api, |conn| {
            register(&conn)?;
            // Stay loaded after the connection closes: other connections may
            // use it, and the library must outlive its function destructors.
            Ok(true)
        })
    })
    .unwrap_or(rusqlite::ffi::SQLITE_ERROR)
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    /// Each module of src/ (a file, or a directory with mod.rs) and the
    /// modules its code names through `crate::`.
    fn module_uses() -> BTreeMap<String, BTreeSet<String>> {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        for entry in std::fs::read_dir(&src).unwrap() {
            let path = entry.unwrap().path();
            let module = path.file_stem().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                for inner in std::fs::read_dir(&path).unwrap() {
                    files.push((module.clone(), inner.unwrap().path()));
                }
            } else if module != "lib" {
                files.push((module, path));
            }
        }
        let names: BTreeSet<String> = files.iter().map(|(m, _)| m.clone()).collect();
        let mut uses: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (module, path) in files {
            let text = std::fs::read_to_string(path).unwrap();
            let code: String =
                text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
            for part in code.split("crate::").skip(1) {
                // `crate::x::...` or `crate::{x, y::z}`
                let head = part.strip_prefix('{').map_or(part, |p| p.split('}').next().unwrap_or(""));
                for item in head.split(',') {
                    let name: String =
                        item.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                    if names.contains(&name) && name != module {
                        uses.entry(module.clone()).or_default().insert(name);
                    }
                    if !part.starts_with('{') {
                        break;
                    }
                }
            }
        }
        uses
    }

    #[test]
    fn modules_depend_one_way() {
        let uses = module_uses();
        let reaches = |from: &str, to: &str| {
            let mut seen = BTreeSet::new();
            let mut todo = vec![from.to_string()];
            while let Some(m) = todo.pop() {
                for next in uses.get(&m).into_iter().flatten() {
                    if next == to {
                        return true;
                    }
                    if seen.insert(next.clone()) {
                        todo.push(next.clone());
                    }
                }
            }
            false
        };
        for (module, used) in &uses {
            for other in used {
                assert!(
                    !reaches(other, module),
                    "{module} uses {other}, and {other} reaches back to {module}"
                );
            }
        }
    }
}

#[cfg(feature = "loadable")]
const SECOND_LIBRARY: &std::ffi::CStr = c"orq: this process already uses orq through another SQLite library \
(for example the stdlib sqlite3 module and apsw, which carries its own SQLite); \
one copy of liborq serves one SQLite library: load a copy of the file, under another path \
but the same name, into the other library (the Python package does), and never open one \
database file through two SQLite libraries in one process";

/// Reports a failed load: the message, allocated with the host's
/// sqlite3_malloc as SQLite requires, and SQLITE_ERROR.
///
/// # Safety
/// `p_api` must be the host's API table and `pz_err_msg` SQLite's error slot.
#[cfg(feature = "loadable")]
unsafe fn fail_load(
    pz_err_msg: *mut *mut std::os::raw::c_char,
    p_api: *mut rusqlite::ffi::sqlite3_api_routines,
    msg: &std::ffi::CStr,
) -> std::os::raw::c_int {
    let bytes = msg.to_bytes_with_nul();
    // SAFETY: per the contract above; the copy fits the allocation.
    unsafe {
        if let (false, Some(malloc)) = (pz_err_msg.is_null(), (*p_api).malloc) {
            let out = malloc(bytes.len() as std::os::raw::c_int) as *mut std::os::raw::c_char;
            if !out.is_null() {
                std::ptr::copy_nonoverlapping(
                    bytes.as_ptr() as *const std::os::raw::c_char,
                    out,
                    bytes.len(),
                );
                *pz_err_msg = out;
            }
        }
    }
    rusqlite::ffi::SQLITE_ERROR
}
