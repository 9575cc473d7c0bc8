//! Read-only tables that show the result of one statement from sql/, run on
//! the caller's connection: queue_stats, queue_workers, queue_resources,
//! queue_rates. They show no rows before the orq schema exists.

use std::marker::PhantomData;
use std::os::raw::c_int;
use std::sync::Arc;

use rusqlite::types::Value;
use rusqlite::vtab::{sqlite3_vtab, Filters, IndexInfo, VTab, VTabConfig, VTabConnection};

use super::rows::{RowSource, RowsCursor};
use super::{arguments, bind_arguments, guarded};
use crate::args::Args;
use crate::error::Result;
use crate::schema;
use crate::session::Session;

/// One such table.
pub trait View: Sized + 'static {
    const NAME: &'static str;
    /// CREATE TABLE x(...) with the visible columns first, then the hidden
    /// argument columns.
    const SCHEMA: &'static str;
    const SQL: &'static str;
    const COLUMNS: usize;
    /// How many hidden argument columns follow the visible ones, and how
    /// many of them are required.
    const ARGUMENTS: c_int = 0;
    const REQUIRED: c_int = 0;
    /// The statement's named parameters besides :now, from the arguments.
    fn params(_args: &Args) -> Result<Vec<(&'static str, Value)>> {
        Ok(Vec::new())
    }
}

#[repr(C)]
pub struct ViewTab<V: View> {
    base: sqlite3_vtab,
    session: Arc<Session>,
    view: PhantomData<V>,
}

unsafe impl<'vtab, V: View> VTab<'vtab> for ViewTab<V> {
    type Aux = Arc<Session>;
    type Cursor = RowsCursor<'vtab, ViewTab<V>>;

    fn connect(
        db: &mut VTabConnection,
        aux: Option<&Arc<Session>>,
        _args: &[&[u8]],
    ) -> rusqlite::Result<(String, Self)> {
        guarded(V::NAME, || {
            db.config(VTabConfig::Innocuous)?;
            let session = aux
                .cloned()
                .ok_or_else(|| rusqlite::Error::ModuleError(format!("{}: no session", V::NAME)))?;
            Ok((V::SCHEMA.to_string(), ViewTab { base: sqlite3_vtab::default(), session, view: PhantomData }))
        })
    }

    fn best_index(&self, info: &mut IndexInfo) -> rusqlite::Result<()> {
        guarded(V::NAME, || {
            let mask = bind_arguments(info, V::COLUMNS as c_int, V::ARGUMENTS, V::REQUIRED);
            info.set_idx_num(mask);
            Ok(())
        })
    }

    fn open(&'vtab mut self) -> rusqlite::Result<Self::Cursor> {
        Ok(RowsCursor::new(self))
    }
}

impl<V: View> RowSource for ViewTab<V> {
    const NAME: &'static str = V::NAME;

    fn rows(&self, idx_num: c_int, args: &Filters<'_>) -> Result<Vec<Vec<Value>>> {
        let required = (1 << V::REQUIRED) - 1;
        if idx_num & required != required {
            return Err(crate::error::invalid(format!(
                "takes {} argument(s): SELECT * FROM {}(...)",
                V::REQUIRED,
                V::NAME
            )));
        }
        let args = Args::new(arguments(idx_num, V::ARGUMENTS as usize, args));
        let mut params = V::params(&args)?;
        params.push((":now", Value::Integer(self.session.clock.now_ms())));
        self.session.with(|res| {
            if !schema::readable(&res.host)? {
                return Ok(Vec::new());
            }
            let mut stmt = res.host.prepare_cached(V::SQL)?;
            // Bind only the parameters this statement has (not every view uses :now).
            let named: Vec<(&str, &dyn rusqlite::ToSql)> = params
                .iter()
                .filter(|(k, _)| matches!(stmt.parameter_index(k), Ok(Some(_))))
                .map(|(k, v)| (*k, v as &dyn rusqlite::ToSql))
                .collect();
            let rows = stmt.query_map(named.as_slice(), |r| {
                (0..V::COLUMNS).map(|i| r.get::<_, Value>(i)).collect::<rusqlite::Result<Vec<_>>>()
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }
}
