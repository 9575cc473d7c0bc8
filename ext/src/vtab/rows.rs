//! A cursor over rows a table computes all at once in xFilter (a claim's
//! jobs, one row per queue), for tables whose results are small.

use std::marker::PhantomData;
use std::os::raw::c_int;

use rusqlite::types::Value;
use rusqlite::vtab::{sqlite3_vtab_cursor, Context, Filters, VTabCursor};

use super::guarded;

/// What a table of computed rows provides.
pub trait RowSource {
    const NAME: &'static str;
    fn rows(&self, idx_num: c_int, args: &Filters<'_>) -> crate::error::Result<Vec<Vec<Value>>>;
}

#[repr(C)]
pub struct RowsCursor<'vtab, T: RowSource> {
    base: sqlite3_vtab_cursor,
    table: &'vtab T,
    rows: Vec<Vec<Value>>,
    pos: usize,
    phantom: PhantomData<&'vtab T>,
}

impl<'vtab, T: RowSource> RowsCursor<'vtab, T> {
    pub fn new(table: &'vtab T) -> Self {
        RowsCursor {
            base: sqlite3_vtab_cursor::default(),
            table,
            rows: Vec::new(),
            pos: 0,
            phantom: PhantomData,
        }
    }
}

unsafe impl<T: RowSource> VTabCursor for RowsCursor<'_, T> {
    fn filter(&mut self, idx_num: c_int, _idx_str: Option<&str>, args: &Filters<'_>) -> rusqlite::Result<()> {
        self.rows = Vec::new();
        self.pos = 0;
        let table = self.table;
        self.rows = guarded(T::NAME, || table.rows(idx_num, args).map_err(|e| e.into_module_error(T::NAME)))?;
        Ok(())
    }

    fn next(&mut self) -> rusqlite::Result<()> {
        self.pos += 1;
        Ok(())
    }

    fn eof(&self) -> bool {
        self.pos >= self.rows.len()
    }

    fn column(&self, ctx: &mut Context, i: c_int) -> rusqlite::Result<()> {
        let cell = self.rows.get(self.pos).and_then(|row| row.get(i as usize));
        ctx.set_result(cell.unwrap_or(&Value::Null))
    }

    fn rowid(&self) -> rusqlite::Result<i64> {
        Ok(self.pos as i64 + 1)
    }
}
