//! Binding named parameters without looking each name up.
//!
//! rusqlite binds `named_params!` by name: every name is hashed into a
//! per-statement cache on every call, which was a tenth of an enqueue (20
//! parameters); asking SQLite for the name at a number instead walks a list
//! each time. So the names of each statement are read once per thread and
//! kept by its SQL text (SQLite numbers parameters by their first appearance
//! in the text, so the same text always has the same numbers). The hot
//! statements list their parameters in that order, and each is bound by its
//! number after comparing names; a parameter out of order is still found by
//! name: the order only makes it faster, never changes what is bound.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use rusqlite::{CachedStatement, Connection, Rows, ToSql};

pub type Named<'a> = [(&'a str, &'a dyn ToSql)];

/// A statement's parameter names, in number order.
type Names = Rc<[Box<str>]>;

thread_local! {
    /// Parameter names (in number order) by SQL text: (address, length) of
    /// a `&'static str`, which no other text can share.
    static NAMES: RefCell<HashMap<(usize, usize), Names>> = RefCell::new(HashMap::new());
}

/// Binds `params` to `stmt`, which was prepared from `sql`.
pub fn bind(stmt: &mut CachedStatement<'_>, sql: &'static str, params: &Named) -> rusqlite::Result<()> {
    let names = names(stmt, sql);
    for (i, (name, value)) in params.iter().enumerate() {
        let index = match names.get(i) {
            Some(n) if **n == **name => i + 1,
            _ => stmt
                .parameter_index(name)?
                .ok_or_else(|| rusqlite::Error::InvalidParameterName((*name).to_string()))?,
        };
        stmt.raw_bind_parameter(index, value)?;
    }
    Ok(())
}

fn names(stmt: &CachedStatement<'_>, sql: &'static str) -> Names {
    NAMES.with(|cache| {
        cache
            .borrow_mut()
            .entry((sql.as_ptr() as usize, sql.len()))
            .or_insert_with(|| {
                (1..=stmt.parameter_count())
                    .map(|i| stmt.parameter_name(i).unwrap_or_default().into())
                    .collect()
            })
            .clone()
    })
}

/// `Connection::execute` of `sql` with `params` bound as above.
pub fn execute(conn: &Connection, sql: &'static str, params: &Named) -> rusqlite::Result<usize> {
    let mut stmt = conn.prepare_cached(sql)?;
    bind(&mut stmt, sql, params)?;
    stmt.raw_execute()
}

/// `Statement::query` of `stmt`, prepared from `sql`, with `params` bound as above.
pub fn query<'s>(
    stmt: &'s mut CachedStatement<'_>,
    sql: &'static str,
    params: &Named,
) -> rusqlite::Result<Rows<'s>> {
    bind(stmt, sql, params)?;
    Ok(stmt.raw_query())
}
