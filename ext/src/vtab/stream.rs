//! Tables that stream the rows of statements from sql/ on the caller's
//! connection (queue_jobs, queue_events, queue_replay): nothing is held in
//! memory but the current rows. Constraints SQLite hands over on chosen
//! columns become a WHERE clause around each statement, and ORDER BY on the
//! chosen column is done by them, so filters and "newest first" are index
//! seeks. A table of more than one statement (an arm each: queue_events
//! reads stored events and enqueues from the job rows) merges their rows,
//! each arm in its own index's order.

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
    /// The statements whose rows the table streams (one, or the arms of a
    /// merge: the same columns, each arm ordered by `order_by(arm)`).
    const ARMS: &'static [&'static str];
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

    /// Named parameters derived from the pushed constraints (column, operator,
    /// value), read from the database: bounds that let an arm seek.
    fn bounds(_conn: &rusqlite::Connection, _pushed: &[Pushed<'_>]) -> Result<Vec<(&'static str, Value)>> {
        Ok(Vec::new())
    }

    /// The column an arm sorts by for ORDER's order: ORDER's own by default.
    fn order_by(_arm: usize) -> &'static str {
        Self::ORDER.map_or("", |(_, column)| column)
    }

    /// Arm `arm`'s statement on a database of orq schema `version` (from
    /// schema::USABLE on): ARMS' own, unless the arm reads a column that a
    /// newer migration added, which an upgrade stopped short of (DROPS_ONLY)
    /// has not added yet.
    fn arm_sql(arm: usize, _version: i64) -> std::borrow::Cow<'static, str> {
        Self::ARMS[arm].into()
    }
}

/// A constraint pushed into the statements: (SQL column, operator, value).
pub type Pushed<'a> = (&'static str, &'static IndexConstraintOp, ValueRef<'a>);

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
        Ok(StreamCursor {
            base: sqlite3_vtab_cursor::default(),
            table: self,
            arms: Vec::new(),
            current: None,
            desc: false,
        })
    }
}

#[repr(C)]
pub struct StreamCursor<'vtab, S: Stream> {
    base: sqlite3_vtab_cursor,
    table: &'vtab StreamTab<S>,
    /// Each arm's statement, and whether it is on a row.
    arms: Vec<(RawStatement, bool)>,
    /// The arm whose row is the cursor's row; None at the end.
    current: Option<usize>,
    desc: bool,
}

impl<S: Stream> StreamCursor<'_, S> {
    fn start(&mut self, idx_num: c_int, idx_str: Option<&str>, filters: &Filters<'_>) -> Result<()> {
        self.arms.clear();
        self.current = None;
        let session = &self.table.session;
        let given = (0..S::ARGUMENTS).filter(|a| idx_num & (1 << a) != 0).count();
        let args = Args::new(arguments(idx_num & 0xffff, S::ARGUMENTS as usize, filters));
        if idx_num & ((1 << S::REQUIRED) - 1) != (1 << S::REQUIRED) - 1 {
            return Err(crate::error::invalid(format!("needs {} argument(s)", S::REQUIRED)));
        }
        let mut params = S::params(&args)?;
        let Some(version) = session.with(|res| schema::readable_version(&res.host))? else {
            return Ok(());
        };
        let mut clauses = Vec::new();
        // The constraints' values, bound as they are (rusqlite's Value would
        // insist on UTF-8 text, and panic on other bytes).
        let mut pushed: Vec<(&'static str, ValueRef)> = Vec::new();
        let mut constraints: Vec<Pushed> = Vec::new();
        let picks = idx_str.unwrap_or("").split(',').filter(|s| !s.is_empty());
        for (n, (pick, value)) in picks.zip(filters.iter().skip(given)).enumerate() {
            let Some(p) = pick.parse::<usize>().ok().filter(|p| *p < S::PUSHED.len()) else { continue };
            let (_, op, column) = &S::PUSHED[p];
            constraints.push((column, op, value));
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
        params.extend(session.with(|res| S::bounds(&res.host, &constraints))?);
        self.desc = idx_num & ORDER_DESC != 0;
        for arm in 0..S::ARMS.len() {
            let mut query = format!("SELECT * FROM ({})", S::arm_sql(arm, version).trim_end());
            if !clauses.is_empty() {
                query.push_str(" WHERE ");
                query.push_str(&clauses.join(" AND "));
            }
            if idx_num & (ORDER_ASC | ORDER_DESC) != 0 {
                query.push_str(&format!(
                    " ORDER BY {}{}",
                    S::order_by(arm),
                    if self.desc { " DESC" } else { "" }
                ));
            }
            let mut stmt = RawStatement::prepare(session.handle(), &query)?;
            for (name, value) in &params {
                stmt.bind_named(name, value.into())?;
            }
            for (name, value) in &pushed {
                stmt.bind_named(name, *value)?;
            }
            let row = stmt.step()?;
            self.arms.push((stmt, row));
        }
        self.pick();
        Ok(())
    }

    /// Makes the cursor's row the next of the arms' rows: the lowest (or,
    /// newest first, highest) ORDER column among them; without ORDER, the
    /// arms one after another.
    fn pick(&mut self) {
        let on_row = self.arms.iter().enumerate().filter(|(_, (_, row))| *row);
        let Some((column, _)) = S::ORDER else {
            self.current = on_row.map(|(i, _)| i).next();
            return;
        };
        let key = |(i, (stmt, _)): (usize, &(RawStatement, bool))| (order_key(stmt.column(column)), i);
        self.current = if self.desc { on_row.map(key).max() } else { on_row.map(key).min() }.map(|(_, i)| i);
    }
}

/// An ORDER column's value as a sort key (every ORDER column is an integer).
fn order_key(v: ValueRef<'_>) -> i64 {
    match v {
        ValueRef::Integer(i) => i,
        _ => i64::MIN,
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
            if let Some((stmt, row)) = self.current.and_then(|i| self.arms.get_mut(i)) {
                *row = stmt.step().map_err(|e| e.into_module_error(S::NAME))?;
            }
            self.pick();
            Ok(())
        })
    }

    fn eof(&self) -> bool {
        self.current.is_none()
    }

    fn column(&self, ctx: &mut Context, i: c_int) -> rusqlite::Result<()> {
        match self.current.and_then(|a| self.arms.get(a)) {
            Some((stmt, _)) if (i as usize) < S::COLUMNS => {
                ctx.set_result(&ToSqlOutput::Borrowed(stmt.column(i)))
            }
            _ => ctx.set_result(&Value::Null),
        }
    }

    fn rowid(&self) -> rusqlite::Result<i64> {
        match self.current.and_then(|a| self.arms.get(a)).map(|(s, _)| s.column(0)) {
            Some(ValueRef::Integer(id)) => Ok(id),
            _ => Ok(0),
        }
    }
}
