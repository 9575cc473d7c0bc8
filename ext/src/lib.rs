//! orq: a durable job queue that lives inside SQLite.
//!
//! Built as `liborq.so`, a SQLite loadable extension (entry point
//! `sqlite3_orq_init`); linked as a Rust library by the `orq` CLI, which
//! calls [`register`] on its own bundled-SQLite connection. Either way the
//! queue is driven through the same SQL functions and virtual tables.

mod alerts;
mod args;
mod backoff;
pub mod bounds;
mod claim;
mod clock;
mod cron;
mod deps;
mod error;
mod functions;
mod health;
mod host;
pub mod inotify;
mod metrics;
mod ops;
mod options;
mod params;
mod schedules;
mod schema;
mod session;
mod sql;
mod turnstile;
mod txn;
mod vtab;
mod wait;
mod workers;
mod workflow;

use std::sync::Arc;

use rusqlite::Connection;

pub use error::{Error, Kind};

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
    let session = Arc::new(session::Session::new(unsafe { conn.handle() }));
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
    // rusqlite reaches SQLite through one global API table per process, so
    // orq can serve one SQLite library per process. A second one (apsw's
    // own SQLite beside the stdlib's, say) would have its calls routed into
    // the first library and crash: refuse it instead.
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

#[cfg(feature = "loadable")]
const SECOND_LIBRARY: &std::ffi::CStr = c"orq: this process already uses orq through another SQLite library \
(for example the stdlib sqlite3 module and apsw, which carries its own SQLite); \
one process can load orq into connections of one SQLite library only";

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
