//! `queue_claim(worker, n [, queue [, lease]])`: leases jobs and returns them.
//!
//! The claim happens in xFilter and is committed before the first row is
//! returned (txn.rs decides how). SQLite runs xFilter again each time it
//! re-enters the table, so call it alone in its SELECT: in a join or a
//! correlated subquery it can claim more than once. Nothing is lost then:
//! jobs claimed but never seen come back when their leases run out.

use std::os::raw::c_int;
use std::sync::Arc;

use rusqlite::types::Value;
use rusqlite::vtab::{sqlite3_vtab, Filters, IndexInfo, VTab, VTabConfig, VTabConnection};

use super::rows::{RowSource, RowsCursor};
use super::{arguments, bind_arguments, guarded};
use crate::args::Args;
use crate::claim::{self, claim_request};
use crate::clock::ms_to_secs;
use crate::error::{invalid, Result};
use crate::session::Session;
use crate::txn;

const SCHEMA: &str = "CREATE TABLE x(id INTEGER, queue TEXT, payload TEXT, attempt INTEGER, token INTEGER, \
     lease_until REAL, priority INTEGER, max_attempts INTEGER, timeout REAL, lease REAL, \
     arg_worker HIDDEN, arg_n HIDDEN, arg_queue HIDDEN, arg_lease HIDDEN)";
const FIRST_ARGUMENT: c_int = 10;
const ARGUMENTS: c_int = 4;

#[repr(C)]
pub struct ClaimTab {
    base: sqlite3_vtab,
    session: Arc<Session>,
}

unsafe impl<'vtab> VTab<'vtab> for ClaimTab {
    type Aux = Arc<Session>;
    type Cursor = RowsCursor<'vtab, ClaimTab>;

    fn connect(
        db: &mut VTabConnection,
        aux: Option<&Arc<Session>>,
        _args: &[&[u8]],
    ) -> rusqlite::Result<(String, Self)> {
        guarded("queue_claim", || {
            db.config(VTabConfig::DirectOnly)?;
            let session =
                aux.cloned().ok_or_else(|| rusqlite::Error::ModuleError("queue_claim: no session".into()))?;
            Ok((SCHEMA.to_string(), ClaimTab { base: sqlite3_vtab::default(), session }))
        })
    }

    fn best_index(&self, info: &mut IndexInfo) -> rusqlite::Result<()> {
        guarded("queue_claim", || {
            let mask = bind_arguments(info, FIRST_ARGUMENT, ARGUMENTS, 2);
            info.set_idx_num(mask);
            Ok(())
        })
    }

    fn open(&'vtab mut self) -> rusqlite::Result<Self::Cursor> {
        Ok(RowsCursor::new(self))
    }
}

impl RowSource for ClaimTab {
    const NAME: &'static str = "queue_claim";

    fn rows(&self, idx_num: c_int, args: &Filters<'_>) -> Result<Vec<Vec<Value>>> {
        if idx_num & 0b11 != 0b11 {
            return Err(invalid(
                "takes (worker, n [, queue [, lease]]): SELECT * FROM queue_claim('worker-1', 10)",
            ));
        }
        let args = Args::new(arguments(idx_num, ARGUMENTS as usize, args));
        let req = claim_request(&args)?;
        // The time is read once the write lock is held: claims then commit
        // in the order of their times, which a rate's sliding window needs
        // (a claim that waited for the lock with an earlier time could
        // slip into a window already full).
        let jobs = txn::write(&self.session, txn::Writes::AsNeeded, &mut |c| {
            claim::claim(c, self.session.clock.now_ms(), &req)
        })?;
        Ok(jobs
            .into_iter()
            .map(|j| {
                vec![
                    Value::Integer(j.id),
                    Value::Text(j.queue),
                    Value::Text(j.payload),
                    Value::Integer(j.attempt),
                    Value::Integer(j.token),
                    Value::Real(ms_to_secs(j.lease_until_ms)),
                    Value::Integer(j.priority),
                    Value::Integer(j.max_attempts),
                    j.timeout_ms.map_or(Value::Null, |t| Value::Real(ms_to_secs(t))),
                    Value::Real(ms_to_secs(j.lease_ms)),
                ]
            })
            .collect())
    }
}
