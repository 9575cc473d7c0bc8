//! Tables that stream the rows of one statement from sql/ on the caller's
//! connection (queue_jobs, queue_events, queue_replay): nothing is held in
//! memory but the current row. Constraints SQLite hands over on chosen
//! columns become a WHERE clause around the statement, and ORDER BY on the
//! chosen column is done by it, so filters and "newest first" are index
//! seeks.

use std::marker::PhantomData;
use std::os::raw::c_int;
use std::sync::Arc;

use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use rusqlite::vtab::{
    sqlite3_vtab, sqlite3_vtab_cursor, Context, Filters, IndexConstraintOp, IndexInfo, VTab, VTabConfig,
    VTabConnection, VTabCursor,
};

use super::raw::RawStatement;
use super::{arguments, guarded};
use crate::args::Args;
use crate::error::Result;
use crate::schema;
use crate::session::Session;

/// What a pushed-down constraint's value becomes in the SQL.
pub enum Operand {
    /// Bound as a parameter (the usual case).
    Bind,
    /// Written into the SQL as this literal (so a partial index can match).
    Literal(String),
    /// No row can match.
    Nothing,
}

/// One such table.
pub trait Stream: Sized + 'static {
    const NAME: &'static str;
    /// CREATE TABLE x(...): the statement's columns, then hidden arguments.
    const SCHEMA: &'static str;
    const SQL: &'static str;
    const COLUMNS: usize;
    /// Constraints evaluated by the table: (column, operator, SQL column name).
    const PUSHED: &'static [(c_int, IndexConstraintOp, &'static str)];
    /// The column whose ORDER BY the table can do: (column, SQL name).
    const ORDER: Option<(c_int, &'static str)>;
    /// Hidden argument columns, and how many of them are required.
    const ARGUMENTS: c_int = 0;
    const REQUIRED: c_int = 0;

    /// How the value of pushed constraint `pick` goes into the SQL.
    fn operand(_pick: usize, _value: ValueRef<'_>) -> Operand {
        Operand::Bind
    }

    /// The statement's own named parameters, from the arguments.
    fn params(_args: &Args) -> Result<Vec<(&'static str, Value)>> {
        Ok(Vec::new())
    }
}

/// idx_num bits: the arguments given (low bits), then the order.
const ORDER_ASC: c_int = 1 << 16;
const ORDER_DESC: c_int = 1 << 17;

fn operator_sql(op: &IndexConstraintOp) -> &'static str {
    match op {
        IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_GT => ">",
        IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_GE => ">=",
        IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_LT => "<",
        IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_LE => "<=",
        _ => "=",
    }
}

#[repr(C)]
pub struct StreamTab<S: Stream> {
    base: sqlite3_vtab,
    session: Arc<Session>,
    stream: PhantomData<S>,
}

unsafe impl<'vtab, S: Stream> VTab<'vtab> for StreamTab<S> {
    type Aux = Arc<Session>;
    type Cursor = StreamCursor<'vtab, S>;

    fn connect(
        db: &mut VTabConnection,
        aux: Option<&Arc<Session>>,
        _args: &[&[u8]],
    ) -> rusqlite::Result<(String, Self)> {
        guarded(S::NAME, || {
            db.config(VTabConfig::Innocuous)?;
            let session = aux
                .cloned()
                .ok_or_else(|| rusqlite::Error::ModuleError(format!("{}: no session", S::NAME)))?;
            Ok((
                S::SCHEMA.to_string(),
                StreamTab { base: sqlite3_vtab::default(), session, stream: PhantomData },
            ))
        })
    }

    fn best_index(&self, info: &mut IndexInfo) -> rusqlite::Result<()> {
        guarded(S::NAME, || {
            // argv: the hidden arguments first (in column order), then the
            // pushed constraints, listed in idx_str as indexes into PUSHED.
            let first_arg = S::COLUMNS as c_int;
            let mut args = vec![None; S::ARGUMENTS as usize];
            let mut picks = Vec::new();
            for (i, c) in info.constraints().enumerate() {
                if !c.is_usable() {
                    continue;
                }
                let arg = c.column() - first_arg;
                if (0..S::ARGUMENTS).contains(&arg)
                    && c.operator() == IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_EQ
                {
                    args[arg as usize] = Some(i);
                } else if let Some(p) =
                    S::PUSHED.iter().position(|(col, op, _)| *col == c.column() && *op == c.operator())
                {
                    picks.push((i, p));
                }
            }
            let mut next = 1;
            let mut mask = 0;
            for (a, slot) in args.iter().enumerate() {
                if let Some(i) = *slot {
                    let mut u = info.constraint_usage(i);
                    u.set_argv_index(next);
                    u.set_omit(true);
                    next += 1;
                    mask |= 1 << a;
                }
            }
            for (i, _) in &picks {
                let mut u = info.constraint_usage(*i);
                u.set_argv_index(next);
                u.set_omit(true);
                next += 1;
            }
            let required = (1 << S::REQUIRED) - 1;
            let cost = if mask & required != required {
                1e30
            } else if picks
                .iter()
                .any(|(_, p)| S::PUSHED[*p].1 == IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_EQ)
            {
                10.0
            } else if picks.is_empty() {
                1e6
            } else {
                1e4
            };
            let order: Vec<_> = info.order_bys().map(|o| (o.column(), o.is_order_by_desc())).collect();
            if let (Some((col, _)), [(c, desc)]) = (S::ORDER, order.as_slice()) {
                if *c == col {
                    mask |= if *desc { ORDER_DESC } else { ORDER_ASC };
                    info.set_order_by_consumed(true);
                }
            }
            info.set_idx_num(mask);
            info.set_idx_str(&picks.iter().map(|(_, p)| p.to_string()).collect::<Vec<_>>().join(","));
            info.set_estimated_cost(cost);
            Ok(())
        })
    }

    fn open(&'vtab mut self) -> rusqlite::Result<StreamCursor<'vtab, S>> {
        Ok(StreamCursor { base: sqlite3_vtab_cursor::default(), table: self, stmt: None, row: false })
    }
}

#[repr(C)]
pub struct StreamCursor<'vtab, S: Stream> {
    base: sqlite3_vtab_cursor,
    table: &'vtab StreamTab<S>,
    stmt: Option<RawStatement>,
    row: bool,
}

impl<S: Stream> StreamCursor<'_, S> {
    fn start(&mut self, idx_num: c_int, idx_str: Option<&str>, filters: &Filters<'_>) -> Result<()> {
        self.stmt = None;
        self.row = false;
        let session = &self.table.session;
        let given = (0..S::ARGUMENTS).filter(|a| idx_num & (1 << a) != 0).count();
        let args = Args::new(arguments(idx_num & 0xffff, S::ARGUMENTS as usize, filters));
        if idx_num & ((1 << S::REQUIRED) - 1) != (1 << S::REQUIRED) - 1 {
            return Err(crate::error::invalid(format!("needs {} argument(s)", S::REQUIRED)));
        }
        let params = S::params(&args)?;
        if !session.with(|res| schema::readable(&res.host))? {
            return Ok(());
        }
        let mut clauses = Vec::new();
        // The constraints' values, bound as they are (rusqlite's Value would
        // insist on UTF-8 text, and panic on other bytes).
        let mut pushed: Vec<(&'static str, ValueRef)> = Vec::new();
        let picks = idx_str.unwrap_or("").split(',').filter(|s| !s.is_empty());
        for (n, (pick, value)) in picks.zip(filters.iter().skip(given)).enumerate() {
            let Some(p) = pick.parse::<usize>().ok().filter(|p| *p < S::PUSHED.len()) else { continue };
            let (_, op, column) = &S::PUSHED[p];
            let operand = match S::operand(p, value) {
                Operand::Nothing => return Ok(()),
                Operand::Literal(sql) => sql,
                Operand::Bind => {
                    let name: &'static str = PARAM_NAMES.get(n).copied().unwrap_or(":p_");
                    pushed.push((name, value));
                    name.to_string()
                }
            };
            clauses.push(format!("{column} {} {operand}", operator_sql(op)));
        }
        let mut query = format!("SELECT * FROM ({})", S::SQL.trim_end());
        if !clauses.is_empty() {
            query.push_str(" WHERE ");
            query.push_str(&clauses.join(" AND "));
        }
        if let Some((_, column)) = S::ORDER {
            if idx_num & ORDER_ASC != 0 {
                query.push_str(&format!(" ORDER BY {column}"));
            } else if idx_num & ORDER_DESC != 0 {
                query.push_str(&format!(" ORDER BY {column} DESC"));
            }
        }
        let mut stmt = RawStatement::prepare(session.handle(), &query)?;
        for (name, value) in &params {
            stmt.bind_named(name, value.into())?;
        }
        for (name, value) in pushed {
            stmt.bind_named(name, value)?;
        }
        self.row = stmt.step()?;
        self.stmt = Some(stmt);
        Ok(())
    }
}

/// Parameter names for pushed constraints (more than enough for any WHERE).
const PARAM_NAMES: [&str; 16] = [
    ":p0", ":p1", ":p2", ":p3", ":p4", ":p5", ":p6", ":p7", ":p8", ":p9", ":p10", ":p11", ":p12", ":p13",
    ":p14", ":p15",
];

unsafe impl<S: Stream> VTabCursor for StreamCursor<'_, S> {
    fn filter(&mut self, idx_num: c_int, idx_str: Option<&str>, args: &Filters<'_>) -> rusqlite::Result<()> {
        guarded(S::NAME, || self.start(idx_num, idx_str, args).map_err(|e| e.into_module_error(S::NAME)))
    }

    fn next(&mut self) -> rusqlite::Result<()> {
        guarded(S::NAME, || {
            if let Some(stmt) = self.stmt.as_mut() {
                self.row = stmt.step().map_err(|e| e.into_module_error(S::NAME))?;
            }
            Ok(())
        })
    }

    fn eof(&self) -> bool {
        !self.row
    }

    fn column(&self, ctx: &mut Context, i: c_int) -> rusqlite::Result<()> {
        match &self.stmt {
            Some(stmt) if (i as usize) < S::COLUMNS => ctx.set_result(&ToSqlOutput::Borrowed(stmt.column(i))),
            _ => ctx.set_result(&Value::Null),
        }
    }

    fn rowid(&self) -> rusqlite::Result<i64> {
        match self.stmt.as_ref().map(|s| s.column(0)) {
            Some(ValueRef::Integer(id)) => Ok(id),
            _ => Ok(0),
        }
    }
}
