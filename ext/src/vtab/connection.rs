//! `orq_connection`: one row about orq's state on this connection. It is
//! also the guard that frees orq's resources when the connection closes
//! (see session.rs): SQLite disconnects it before checking for unfinalized
//! statements, and dropping it drops them.

use std::os::raw::c_int;
use std::sync::Arc;

use rusqlite::types::Value;
use rusqlite::vtab::{sqlite3_vtab, Filters, IndexInfo, VTab, VTabConfig, VTabConnection};

use super::guarded;
use super::rows::{RowSource, RowsCursor};
use crate::clock::ms_to_secs;
use crate::error::Result;
use crate::session::Session;

const SCHEMA: &str = "CREATE TABLE x(clock REAL, side_connection INTEGER)";

#[repr(C)]
pub struct ConnectionTab {
    base: sqlite3_vtab,
    session: Arc<Session>,
}

impl Drop for ConnectionTab {
    fn drop(&mut self) {
        self.session.release();
    }
}

unsafe impl<'vtab> VTab<'vtab> for ConnectionTab {
    type Aux = Arc<Session>;
    type Cursor = RowsCursor<'vtab, ConnectionTab>;

    fn connect(
        db: &mut VTabConnection,
        aux: Option<&Arc<Session>>,
        _args: &[&[u8]],
    ) -> rusqlite::Result<(String, Self)> {
        guarded("orq_connection", || {
            db.config(VTabConfig::Innocuous)?;
            let session = aux
                .cloned()
                .ok_or_else(|| rusqlite::Error::ModuleError("orq_connection: no session".into()))?;
            Ok((SCHEMA.to_string(), ConnectionTab { base: sqlite3_vtab::default(), session }))
        })
    }

    fn best_index(&self, info: &mut IndexInfo) -> rusqlite::Result<()> {
        info.set_estimated_cost(1.0);
        Ok(())
    }

    fn open(&'vtab mut self) -> rusqlite::Result<Self::Cursor> {
        Ok(RowsCursor::new(self))
    }
}

impl RowSource for ConnectionTab {
    const NAME: &'static str = "orq_connection";

    fn rows(&self, _idx_num: c_int, _args: &Filters<'_>) -> Result<Vec<Vec<Value>>> {
        let clock = self.session.clock.fixed_ms().map_or(Value::Null, |ms| Value::Real(ms_to_secs(ms)));
        Ok(vec![vec![clock, Value::Integer(self.session.has_side_connection() as i64)]])
    }
}
