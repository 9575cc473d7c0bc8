//! `queue_metrics`: every queue's counters, gauges and histograms in long
//! format (queue, metric, kind, le, value, help), computed by metrics.rs when the
//! table is read. `WHERE queue = ?` is handed to the computation, so the
//! other queues' jobs are not counted.

use std::os::raw::c_int;
use std::sync::Arc;

use rusqlite::types::{Value, ValueRef};
use rusqlite::vtab::{sqlite3_vtab, Filters, IndexConstraintOp, IndexInfo, VTab, VTabConfig, VTabConnection};

use super::guarded;
use super::rows::{RowSource, RowsCursor};
use crate::error::Result;
use crate::metrics;
use crate::schema;
use crate::session::Session;

const NAME: &str = "queue_metrics";
const SCHEMA: &str = "CREATE TABLE x(queue TEXT, metric TEXT, kind TEXT, le REAL, value REAL, help TEXT)";
/// idx_num bit: argv[1] holds the queue of a `queue = ?` constraint.
const ONE_QUEUE: c_int = 1;

#[repr(C)]
pub struct MetricsTab {
    base: sqlite3_vtab,
    session: Arc<Session>,
}

unsafe impl<'vtab> VTab<'vtab> for MetricsTab {
    type Aux = Arc<Session>;
    type Cursor = RowsCursor<'vtab, MetricsTab>;

    fn connect(
        db: &mut VTabConnection,
        aux: Option<&Arc<Session>>,
        _args: &[&[u8]],
    ) -> rusqlite::Result<(String, Self)> {
        guarded(NAME, || {
            db.config(VTabConfig::Innocuous)?;
            let session =
                aux.cloned().ok_or_else(|| rusqlite::Error::ModuleError(format!("{NAME}: no session")))?;
            Ok((SCHEMA.to_string(), MetricsTab { base: sqlite3_vtab::default(), session }))
        })
    }

    fn best_index(&self, info: &mut IndexInfo) -> rusqlite::Result<()> {
        guarded(NAME, || {
            let queue = info.constraints().position(|c| {
                c.column() == 0
                    && c.is_usable()
                    && c.operator() == IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_EQ
            });
            match queue {
                Some(i) => {
                    // Not omitted: SQLite checks the rows again, which keeps
                    // its comparison rules for values that are not text.
                    info.constraint_usage(i).set_argv_index(1);
                    info.set_idx_num(ONE_QUEUE);
                    info.set_estimated_cost(100.0);
                    info.set_estimated_rows(60);
                }
                None => {
                    info.set_idx_num(0);
                    info.set_estimated_cost(10_000.0);
                }
            }
            Ok(())
        })
    }

    fn open(&'vtab mut self) -> rusqlite::Result<Self::Cursor> {
        Ok(RowsCursor::new(self))
    }
}

impl RowSource for MetricsTab {
    const NAME: &'static str = NAME;

    fn rows(&self, idx_num: c_int, args: &Filters<'_>) -> Result<Vec<Vec<Value>>> {
        let queue = if idx_num & ONE_QUEUE != 0 {
            match args.iter().next() {
                // `queue = NULL` matches nothing.
                Some(ValueRef::Null) | None => return Ok(Vec::new()),
                Some(ValueRef::Text(t)) => Some(String::from_utf8_lossy(t).into_owned()),
                // Another type: compute every queue and let SQLite compare.
                Some(_) => None,
            }
        } else {
            None
        };
        let now = self.session.clock.now_ms();
        let metrics = self.session.with(|res| {
            if !schema::readable(&res.host)? {
                return Ok(Vec::new());
            }
            metrics::collect(&res.host, now, queue.as_deref(), metrics::EVERYTHING)
        })?;
        let mut rows = Vec::new();
        for m in &metrics {
            m.rows(&mut rows);
        }
        Ok(rows)
    }
}
