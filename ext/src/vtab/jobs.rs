//! `queue_jobs`: one row per job, streamed from orq_jobs. Constraints on id,
//! queue and state become a WHERE clause (the state as a literal, so SQLite
//! picks the partial index for it), and ORDER BY id is done by the table.

use std::os::raw::c_int;
use std::sync::Arc;

use rusqlite::types::{ToSqlOutput, Value};
use rusqlite::vtab::{
    sqlite3_vtab, sqlite3_vtab_cursor, Context, Filters, IndexConstraintOp, IndexInfo, VTab, VTabConfig,
    VTabConnection, VTabCursor,
};

use super::guarded;
use super::raw::RawStatement;
use crate::error::Result;
use crate::session::Session;
use crate::{schema, sql};

const NAME: &str = "queue_jobs";
const SCHEMA: &str =
    "CREATE TABLE x(id INTEGER, queue TEXT, state TEXT, priority INTEGER, attempts INTEGER, \
     max_attempts INTEGER, payload TEXT, result TEXT, error TEXT, run_at REAL, created_at REAL, worker TEXT, \
     lease_until REAL, key TEXT, token INTEGER, started_at REAL, finished_at REAL, updated_at REAL, \
     lease REAL, backoff TEXT, timeout REAL, requires TEXT, only_worker TEXT, not_workers TEXT)";
const STATES: [&str; 6] = ["waiting", "ready", "running", "done", "dead", "cancelled"];

/// The constraints the table evaluates itself: (column, operator, SQL).
const PUSHED: [(c_int, IndexConstraintOp, &str); 7] = [
    (0, IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_EQ, "id = ?"),
    (0, IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_GT, "id > ?"),
    (0, IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_GE, "id >= ?"),
    (0, IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_LT, "id < ?"),
    (0, IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_LE, "id <= ?"),
    (1, IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_EQ, "queue = ?"),
    (2, IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_EQ, "state = ?"),
];
/// idx_num bits above the constraint list: how the table orders rows.
const ORDER_ASC: c_int = 1 << 16;
const ORDER_DESC: c_int = 1 << 17;

#[repr(C)]
pub struct JobsTab {
    base: sqlite3_vtab,
    session: Arc<Session>,
}

unsafe impl<'vtab> VTab<'vtab> for JobsTab {
    type Aux = Arc<Session>;
    type Cursor = JobsCursor<'vtab>;

    fn connect(
        db: &mut VTabConnection,
        aux: Option<&Arc<Session>>,
        _args: &[&[u8]],
    ) -> rusqlite::Result<(String, Self)> {
        guarded(NAME, || {
            db.config(VTabConfig::Innocuous)?;
            let session =
                aux.cloned().ok_or_else(|| rusqlite::Error::ModuleError("queue_jobs: no session".into()))?;
            Ok((SCHEMA.to_string(), JobsTab { base: sqlite3_vtab::default(), session }))
        })
    }

    fn best_index(&self, info: &mut IndexInfo) -> rusqlite::Result<()> {
        guarded(NAME, || {
            // idx_str lists the pushed constraints in argv order, as indexes into PUSHED.
            let mut used = Vec::new();
            let mut cost = 1e6;
            let mut picks = Vec::new();
            for (i, c) in info.constraints().enumerate() {
                if !c.is_usable() {
                    continue;
                }
                if let Some(p) =
                    PUSHED.iter().position(|(col, op, _)| *col == c.column() && *op == c.operator())
                {
                    picks.push((i, p));
                }
            }
            for (n, (i, p)) in picks.iter().enumerate() {
                let mut usage = info.constraint_usage(*i);
                usage.set_argv_index(n as c_int + 1);
                usage.set_omit(true);
                used.push(p.to_string());
                cost = match p {
                    0 => 1.0_f64.min(cost),
                    1..=4 => (cost / 4.0).max(10.0),
                    _ => (cost / 100.0).max(10.0),
                };
            }
            let mut idx_num = 0;
            let order: Vec<_> = info.order_bys().map(|o| (o.column(), o.is_order_by_desc())).collect();
            if let [(0, desc)] = order[..] {
                idx_num = if desc { ORDER_DESC } else { ORDER_ASC };
                info.set_order_by_consumed(true);
            }
            info.set_idx_num(idx_num);
            info.set_idx_str(&used.join(","));
            info.set_estimated_cost(cost);
            Ok(())
        })
    }

    fn open(&'vtab mut self) -> rusqlite::Result<JobsCursor<'vtab>> {
        Ok(JobsCursor { base: sqlite3_vtab_cursor::default(), table: self, stmt: None, row: false })
    }
}

#[repr(C)]
pub struct JobsCursor<'vtab> {
    base: sqlite3_vtab_cursor,
    table: &'vtab JobsTab,
    stmt: Option<RawStatement>,
    row: bool,
}

impl JobsCursor<'_> {
    fn start(&mut self, idx_num: c_int, idx_str: Option<&str>, args: &Filters<'_>) -> Result<()> {
        self.stmt = None;
        self.row = false;
        let session = &self.table.session;
        if !session.with(|res| schema::readable(&res.host))? {
            return Ok(());
        }
        let mut clauses = Vec::new();
        let mut binds = Vec::new();
        let picks = idx_str.unwrap_or("").split(',').filter(|s| !s.is_empty());
        for (pick, value) in picks.zip(args.iter()) {
            let p: usize = pick.parse().unwrap_or(usize::MAX);
            let Some((col, _, clause)) = PUSHED.get(p) else { continue };
            if *col == 2 {
                // A state constraint: a known state becomes a literal; any
                // other value matches no job.
                let state = value.as_str().ok().and_then(|s| STATES.iter().find(|st| **st == s));
                match state {
                    Some(st) => clauses.push(format!("state = '{st}'")),
                    None => return Ok(()),
                }
            } else {
                clauses.push(clause.to_string());
                binds.push(Value::from(value));
            }
        }
        let mut query = sql::JOBS.trim_end().to_string();
        if !clauses.is_empty() {
            query.push_str(" WHERE ");
            query.push_str(&clauses.join(" AND "));
        }
        if idx_num & ORDER_ASC != 0 {
            query.push_str(" ORDER BY id");
        } else if idx_num & ORDER_DESC != 0 {
            query.push_str(" ORDER BY id DESC");
        }
        let mut stmt = RawStatement::prepare(session.handle(), &query)?;
        for (i, v) in binds.iter().enumerate() {
            stmt.bind(i as c_int + 1, v)?;
        }
        self.row = stmt.step()?;
        self.stmt = Some(stmt);
        Ok(())
    }
}

unsafe impl VTabCursor for JobsCursor<'_> {
    fn filter(&mut self, idx_num: c_int, idx_str: Option<&str>, args: &Filters<'_>) -> rusqlite::Result<()> {
        guarded(NAME, || self.start(idx_num, idx_str, args).map_err(|e| e.into_module_error(NAME)))
    }

    fn next(&mut self) -> rusqlite::Result<()> {
        guarded(NAME, || {
            if let Some(stmt) = self.stmt.as_mut() {
                self.row = stmt.step().map_err(|e| e.into_module_error(NAME))?;
            }
            Ok(())
        })
    }

    fn eof(&self) -> bool {
        !self.row
    }

    fn column(&self, ctx: &mut Context, i: c_int) -> rusqlite::Result<()> {
        match &self.stmt {
            Some(stmt) => ctx.set_result(&ToSqlOutput::Borrowed(stmt.column(i))),
            None => ctx.set_result(&Value::Null),
        }
    }

    fn rowid(&self) -> rusqlite::Result<i64> {
        match &self.stmt {
            Some(stmt) => match stmt.column(0) {
                rusqlite::types::ValueRef::Integer(id) => Ok(id),
                _ => Ok(0),
            },
            None => Ok(0),
        }
    }
}
