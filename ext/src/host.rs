//! What orq needs to know about the host connection's transaction, from the
//! SQLite entry points that give it.

use std::os::raw::c_int;
use std::ptr;

use rusqlite::ffi;

/// A host connection handle. orq only uses it on the thread SQLite calls
/// it from, under SQLite's own connection mutex.
#[derive(Clone, Copy, Debug)]
pub struct Handle(pub *mut ffi::sqlite3);
unsafe impl Send for Handle {}
unsafe impl Sync for Handle {}

/// `sqlite3_txn_state()` of the host's main database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxnState {
    None,
    Read,
    Write,
}

/// `SQLITE_FCNTL_VFS_POINTER` and `SQLITE_FCNTL_DATA_VERSION`, missing from
/// the oldest bindings.
pub const FCNTL_VFS_POINTER: c_int = 27;
pub const FCNTL_DATA_VERSION: c_int = 35;

/// `sqlite3_file_control` on the main database of `db` for an opcode that
/// writes one value of `T` (the two above): the value, or None when SQLite
/// refuses.
pub fn main_file_control<T: Copy>(db: *mut ffi::sqlite3, op: c_int, mut value: T) -> Option<T> {
    // SAFETY: the opcodes orq passes write exactly one T through the
    // pointer; `db` is a live connection.
    let rc = unsafe {
        ffi::sqlite3_file_control(db, c"main".as_ptr(), op, (&mut value as *mut T).cast::<std::ffi::c_void>())
    };
    (rc == ffi::SQLITE_OK).then_some(value)
}

pub fn txn_state(db: Handle) -> TxnState {
    match raw_txn_state(db) {
        0 => TxnState::None,
        1 => TxnState::Read,
        _ => TxnState::Write,
    }
}

#[cfg(not(feature = "loadable"))]
fn raw_txn_state(db: Handle) -> c_int {
    // SAFETY: live handle; "main" is NUL-terminated.
    unsafe { ffi::sqlite3_txn_state(db.0, c"main".as_ptr()) }
}

/// A loadable extension reaches SQLite through the host's API table, and
/// the bindings rusqlite uses for it stop at SQLite 3.14, before
/// `sqlite3_txn_state` (3.34) was appended. SQLite only ever appends to that
/// table, so the entry is read at its fixed position (checked against
/// sqlite3ext.h: the 253rd function pointer).
#[cfg(feature = "loadable")]
fn raw_txn_state(db: Handle) -> c_int {
    use std::sync::atomic::Ordering;
    const TXN_STATE_SLOT: usize = 252;
    type TxnStateFn = unsafe extern "C" fn(*mut ffi::sqlite3, *const std::os::raw::c_char) -> c_int;
    let api = API.load(Ordering::Acquire);
    if api.is_null() || rusqlite::version_number() < 3_034_000 {
        return 2; // unknown: assume the host is writing, the safe answer
    }
    // SAFETY: `api` is the host's sqlite3_api_routines (at least 3.34, so it
    // has this slot); the slot holds sqlite3_txn_state or NULL.
    unsafe {
        let slot = *(api as *const *const ()).add(TXN_STATE_SLOT);
        if slot.is_null() {
            return 2;
        }
        let f: TxnStateFn = std::mem::transmute(slot);
        f(db.0, c"main".as_ptr())
    }
}

/// The host's API table, kept by the entry point.
#[cfg(feature = "loadable")]
pub static API: std::sync::atomic::AtomicPtr<ffi::sqlite3_api_routines> =
    std::sync::atomic::AtomicPtr::new(ptr::null_mut());

/// True when a statement of the host connection is in the middle of
/// writing: the host then holds the write lock, and SQLite refuses to
/// release a savepoint until that statement ends.
pub fn is_writing(db: Handle) -> bool {
    // SAFETY: walking the host's statement list under its mutex.
    unsafe {
        let mut stmt = ffi::sqlite3_next_stmt(db.0, ptr::null_mut());
        while !stmt.is_null() {
            if ffi::sqlite3_stmt_busy(stmt) != 0 && ffi::sqlite3_stmt_readonly(stmt) == 0 {
                return true;
            }
            stmt = ffi::sqlite3_next_stmt(db.0, stmt);
        }
    }
    false
}

/// The name of the VFS the host opened its main database with: the side
/// connection opens the same file the same way (session.rs), and dqlite's
/// VFS marks a replicated database (`replicated`).
pub fn vfs_name(db: Handle) -> Option<String> {
    let vfs = main_file_control(db.0, FCNTL_VFS_POINTER, ptr::null_mut::<ffi::sqlite3_vfs>())
        .filter(|vfs| !vfs.is_null())?;
    // SAFETY: a registered VFS has a NUL-terminated name that outlives us.
    unsafe {
        let name = (*vfs).zName;
        (!name.is_null()).then(|| std::ffi::CStr::from_ptr(name).to_string_lossy().into_owned())
    }
}

/// Whether the host replicates the database it gave orq: a node of a dqlite
/// cluster (its VFS is "dqlite-" and the node's id), or any process started
/// with ORQ_REPLICATED=1. Such a host keeps the database itself, runs every
/// connection on its one thread and ships what its leader commits, so orq
/// must be a guest there (txn.rs, schema.rs, queue_wait): nothing at
/// connection open, no files beside the database, no connections or
/// sleeps of its own, and one commit per statement.
pub fn replicated(db: Handle) -> bool {
    crate::platform::replicated_forced() || vfs_name(db).is_some_and(|name| name.starts_with("dqlite"))
}
