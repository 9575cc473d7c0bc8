//! Registering a scalar SQL function through SQLite's C API, so that its
//! errors reach the caller with their own result code.
//!
//! rusqlite's `create_scalar_function` sets an error's code before its
//! message, and `sqlite3_result_error` resets the code to SQLITE_ERROR: a
//! full disk, a busy lock or a corrupt page all reached callers as code 1.
//! Here the message is set first, then the code (error.rs says which).
//! Nothing may unwind into SQLite: a panic becomes SQLITE_INTERNAL.

use std::ffi::{c_int, c_void, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use rusqlite::ffi;
use rusqlite::functions::FunctionFlags;
use rusqlite::types::{ToSql, ToSqlOutput, ValueRef};
use rusqlite::Connection;

use crate::args::Args;
use crate::error::{Error, Result};

/// What SQLite keeps for one registered function.
struct Function<F> {
    name: &'static str,
    body: F,
}

/// Registers `name`, taking any number of arguments, as `body`.
pub fn create<F, T>(
    conn: &Connection,
    name: &'static str,
    flags: FunctionFlags,
    body: F,
) -> rusqlite::Result<()>
where
    F: Fn(&Args) -> Result<T> + Send + 'static,
    T: ToSql,
{
    let c_name = CString::new(name).map_err(rusqlite::Error::NulError)?;
    let function = Box::into_raw(Box::new(Function { name, body }));
    // SQLite owns `function` from here: it calls `destroy` when the function
    // is replaced, the connection closes, or this registration fails.
    let rc = unsafe {
        ffi::sqlite3_create_function_v2(
            conn.handle(),
            c_name.as_ptr(),
            -1,
            flags.bits(),
            function.cast::<c_void>(),
            Some(call::<F, T>),
            None,
            None,
            Some(destroy::<F>),
        )
    };
    match rc {
        ffi::SQLITE_OK => Ok(()),
        rc => Err(rusqlite::Error::SqliteFailure(ffi::Error::new(rc), None)),
    }
}

unsafe extern "C" fn destroy<F>(function: *mut c_void) {
    drop(Box::from_raw(function.cast::<Function<F>>()));
}

unsafe extern "C" fn call<F, T>(
    ctx: *mut ffi::sqlite3_context,
    argc: c_int,
    argv: *mut *mut ffi::sqlite3_value,
) where
    F: Fn(&Args) -> Result<T>,
    T: ToSql,
{
    let function = &*(ffi::sqlite3_user_data(ctx) as *const Function<F>);
    let values: &[*mut ffi::sqlite3_value] = match argc {
        n if n > 0 && !argv.is_null() => std::slice::from_raw_parts(argv, n as usize),
        _ => &[],
    };
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let args = Args::new(values.iter().map(|&v| value_ref(v)).collect());
        match (function.body)(&args) {
            Ok(value) => match value.to_sql() {
                Ok(out) => set_result(ctx, function.name, &out),
                Err(e) => set_error(ctx, &Error::from(e).message(function.name), ffi::SQLITE_ERROR),
            },
            Err(e) => set_error(ctx, &e.message(function.name), e.code()),
        }
    }));
    if outcome.is_err() {
        set_error(
            ctx,
            &format!("{}: internal error (a panic was caught)", function.name),
            ffi::SQLITE_INTERNAL,
        );
    }
}

/// An argument as rusqlite reads it, valid for the call.
unsafe fn value_ref<'a>(value: *mut ffi::sqlite3_value) -> ValueRef<'a> {
    match ffi::sqlite3_value_type(value) {
        ffi::SQLITE_INTEGER => ValueRef::Integer(ffi::sqlite3_value_int64(value)),
        ffi::SQLITE_FLOAT => ValueRef::Real(ffi::sqlite3_value_double(value)),
        // The pointer first, then the length: asking for the text may convert it.
        ffi::SQLITE_TEXT => {
            ValueRef::Text(bytes(ffi::sqlite3_value_text(value), ffi::sqlite3_value_bytes(value)))
        }
        ffi::SQLITE_BLOB => {
            ValueRef::Blob(bytes(ffi::sqlite3_value_blob(value).cast(), ffi::sqlite3_value_bytes(value)))
        }
        _ => ValueRef::Null,
    }
}

unsafe fn bytes<'a>(p: *const u8, n: c_int) -> &'a [u8] {
    if p.is_null() || n <= 0 {
        &[]
    } else {
        std::slice::from_raw_parts(p, n as usize)
    }
}

unsafe fn set_result(ctx: *mut ffi::sqlite3_context, name: &str, out: &ToSqlOutput<'_>) {
    let value = match out {
        ToSqlOutput::Borrowed(v) => *v,
        ToSqlOutput::Owned(v) => ValueRef::from(v),
        _ => {
            return set_error(
                ctx,
                &format!("{name}: internal error (a result of no SQL type)"),
                ffi::SQLITE_INTERNAL,
            )
        }
    };
    match value {
        ValueRef::Null => ffi::sqlite3_result_null(ctx),
        ValueRef::Integer(i) => ffi::sqlite3_result_int64(ctx, i),
        ValueRef::Real(r) => ffi::sqlite3_result_double(ctx, r),
        ValueRef::Text(s) => match c_int::try_from(s.len()) {
            Ok(n) => ffi::sqlite3_result_text(ctx, s.as_ptr().cast(), n, ffi::SQLITE_TRANSIENT()),
            Err(_) => ffi::sqlite3_result_error_toobig(ctx),
        },
        ValueRef::Blob(b) => match c_int::try_from(b.len()) {
            Ok(n) => ffi::sqlite3_result_blob(ctx, b.as_ptr().cast(), n, ffi::SQLITE_TRANSIENT()),
            Err(_) => ffi::sqlite3_result_error_toobig(ctx),
        },
    }
}

/// The message first: `sqlite3_result_error` sets the code to SQLITE_ERROR,
/// and `sqlite3_result_error_code` after it keeps the message.
unsafe fn set_error(ctx: *mut ffi::sqlite3_context, message: &str, code: c_int) {
    let text = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    ffi::sqlite3_result_error(ctx, text.as_ptr(), -1);
    if code != ffi::SQLITE_ERROR {
        ffi::sqlite3_result_error_code(ctx, code);
    }
}
