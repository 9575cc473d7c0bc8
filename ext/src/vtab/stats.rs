//! `queue_stats`: one row per queue with its jobs counted by state.

use std::os::raw::c_int;
use std::sync::Arc;

use rusqlite::named_params;
use rusqlite::types::Value;
use rusqlite::vtab::{sqlite3_vtab, Filters, IndexInfo, VTab, VTabConfig, VTabConnection};

use super::guarded;
use super::rows::{RowSource, RowsCursor};
use crate::error::Result;
use crate::session::Session;
use crate::{schema, sql};

const SCHEMA: &str = "CREATE TABLE x(queue TEXT, ready INTEGER, scheduled INTEGER, running INTEGER, \
     done INTEGER, dead INTEGER, cancelled INTEGER, paused INTEGER, oldest_ready_age REAL)";
const COLUMNS: usize = 9;

#[repr(C)]
pub struct StatsTab {
    base: sqlite3_vtab,
    session: Arc<Session>,
}

unsafe impl<'vtab> VTab<'vtab> for StatsTab {
    type Aux = Arc<Session>;
    type Cursor = RowsCursor<'vtab, StatsTab>;

    fn connect(
        db: &mut VTabConnection,
        aux: Option<&Arc<Session>>,
        _args: &[&[u8]],
    ) -> rusqlite::Result<(String, Self)> {
        guarded("queue_stats", || {
            db.config(VTabConfig::Innocuous)?;
            let session =
                aux.cloned().ok_or_else(|| rusqlite::Error::ModuleError("queue_stats: no session".into()))?;
            Ok((SCHEMA.to_string(), StatsTab { base: sqlite3_vtab::default(), session }))
        })
    }

    fn best_index(&self, info: &mut IndexInfo) -> rusqlite::Result<()> {
        info.set_estimated_cost(100.0);
        Ok(())
    }

    fn open(&'vtab mut self) -> rusqlite::Result<Self::Cursor> {
        Ok(RowsCursor::new(self))
    }
}

impl RowSource for StatsTab {
    const NAME: &'static str = "queue_stats";

    fn rows(&self, _idx_num: c_int, _args: &Filters<'_>) -> Result<Vec<Vec<Value>>> {
        let now = self.session.clock.now_ms();
        self.session.with(|res| {
            if !schema::readable(&res.host)? {
                return Ok(Vec::new());
            }
            let mut stmt = res.host.prepare_cached(sql::STATS)?;
            let rows = stmt.query_map(named_params! {":now": now}, |r| {
                (0..COLUMNS).map(|i| r.get::<_, Value>(i)).collect::<rusqlite::Result<Vec<_>>>()
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }
}
