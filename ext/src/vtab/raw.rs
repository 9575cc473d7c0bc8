//! A prepared statement on the host connection that a cursor can hold
//! across xNext calls (a rusqlite Statement would borrow a Connection the
//! cursor cannot own). Finalized on drop.

use std::ffi::{CStr, CString};
use std::os::raw::c_int;
use std::ptr;

use rusqlite::ffi;
use rusqlite::types::ValueRef;

use crate::error::{invalid, Error, Result};

pub struct RawStatement {
    db: *mut ffi::sqlite3,
    stmt: *mut ffi::sqlite3_stmt,
}

impl RawStatement {
    pub fn prepare(db: *mut ffi::sqlite3, sql: &str) -> Result<RawStatement> {
        let c_sql = CString::new(sql).map_err(|_| invalid("SQL contains a NUL byte"))?;
        let mut stmt = ptr::null_mut();
        // SAFETY: db is the live host connection; SQLite writes stmt.
        let rc = unsafe { ffi::sqlite3_prepare_v2(db, c_sql.as_ptr(), -1, &mut stmt, ptr::null_mut()) };
        if rc != ffi::SQLITE_OK {
            return Err(error(db, rc));
        }
        Ok(RawStatement { db, stmt })
    }

    /// Binds `value` to parameter `i` (1-based). Text is bound as the bytes
    /// it holds, UTF-8 or not (a constraint's value may be any bytes).
    pub fn bind(&mut self, i: c_int, value: ValueRef<'_>) -> Result<()> {
        // SAFETY: stmt is live; text and blobs are copied (SQLITE_TRANSIENT).
        let rc = unsafe {
            match value {
                ValueRef::Null => ffi::sqlite3_bind_null(self.stmt, i),
                ValueRef::Integer(n) => ffi::sqlite3_bind_int64(self.stmt, i, n),
                ValueRef::Real(f) => ffi::sqlite3_bind_double(self.stmt, i, f),
                ValueRef::Text(t) => ffi::sqlite3_bind_text(
                    self.stmt,
                    i,
                    t.as_ptr().cast(),
                    t.len() as c_int,
                    ffi::SQLITE_TRANSIENT(),
                ),
                ValueRef::Blob(b) => ffi::sqlite3_bind_blob(
                    self.stmt,
                    i,
                    b.as_ptr().cast(),
                    b.len() as c_int,
                    ffi::SQLITE_TRANSIENT(),
                ),
            }
        };
        if rc != ffi::SQLITE_OK {
            return Err(error(self.db, rc));
        }
        Ok(())
    }

    /// Binds `value` to the named parameter `name` (ignored if the
    /// statement has no such parameter).
    pub fn bind_named(&mut self, name: &str, value: ValueRef<'_>) -> Result<()> {
        let c_name = CString::new(name).map_err(|_| invalid("parameter name contains a NUL byte"))?;
        // SAFETY: stmt is live; c_name is NUL-terminated.
        let i = unsafe { ffi::sqlite3_bind_parameter_index(self.stmt, c_name.as_ptr()) };
        if i == 0 {
            return Ok(());
        }
        self.bind(i, value)
    }

    /// Advances to the next row: true when there is one.
    pub fn step(&mut self) -> Result<bool> {
        // SAFETY: stmt is live.
        match unsafe { ffi::sqlite3_step(self.stmt) } {
            ffi::SQLITE_ROW => Ok(true),
            ffi::SQLITE_DONE => Ok(false),
            rc => Err(error(self.db, rc)),
        }
    }

    /// Column `i` of the current row.
    pub fn column(&self, i: c_int) -> ValueRef<'_> {
        // SAFETY: stmt is live and on a row; the returned slices live until
        // the next step, which needs &mut self.
        unsafe {
            if i < 0 || i >= ffi::sqlite3_column_count(self.stmt) {
                return ValueRef::Null;
            }
            match ffi::sqlite3_column_type(self.stmt, i) {
                ffi::SQLITE_INTEGER => ValueRef::Integer(ffi::sqlite3_column_int64(self.stmt, i)),
                ffi::SQLITE_FLOAT => ValueRef::Real(ffi::sqlite3_column_double(self.stmt, i)),
                ffi::SQLITE_TEXT => {
                    ValueRef::Text(bytes(ffi::sqlite3_column_text(self.stmt, i), self.len(i)))
                }
                ffi::SQLITE_BLOB => {
                    ValueRef::Blob(bytes(ffi::sqlite3_column_blob(self.stmt, i).cast(), self.len(i)))
                }
                _ => ValueRef::Null,
            }
        }
    }

    unsafe fn len(&self, i: c_int) -> usize {
        ffi::sqlite3_column_bytes(self.stmt, i).max(0) as usize
    }
}

unsafe fn bytes<'a>(p: *const u8, len: usize) -> &'a [u8] {
    if p.is_null() || len == 0 {
        &[]
    } else {
        std::slice::from_raw_parts(p, len)
    }
}

impl Drop for RawStatement {
    fn drop(&mut self) {
        // SAFETY: finalized exactly once.
        unsafe { ffi::sqlite3_finalize(self.stmt) };
    }
}

fn error(db: *mut ffi::sqlite3, rc: c_int) -> Error {
    // SAFETY: sqlite3_errmsg returns a NUL-terminated string owned by db.
    let msg = unsafe {
        let p = ffi::sqlite3_errmsg(db);
        (!p.is_null()).then(|| CStr::from_ptr(p).to_string_lossy().into_owned())
    };
    Error::Sqlite(rusqlite::Error::SqliteFailure(ffi::Error::new(rc), msg))
}
