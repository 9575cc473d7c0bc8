//! Binding named parameters without looking each name up.
//!
//! rusqlite binds `named_params!` by name: every name is hashed into a
//! per-statement cache on every call, which was a tenth of an enqueue (20
//! parameters). The hot statements list their parameters in the order they
//! first appear in the SQL, which is the order SQLite numbers them, so here
//! each is bound by its number after checking that the number carries that
//! name. A parameter out of order is still found by name: the order only
//! makes it faster, never changes what is bound.

use rusqlite::{CachedStatement, Rows, ToSql};

pub type Named<'a> = [(&'a str, &'a dyn ToSql)];

/// Binds `params` to `stmt`.
pub fn bind(stmt: &mut CachedStatement<'_>, params: &Named) -> rusqlite::Result<()> {
    for (i, (name, value)) in params.iter().enumerate() {
        let index = match stmt.parameter_name(i + 1) {
            Some(n) if n == *name => i + 1,
            _ => stmt
                .parameter_index(name)?
                .ok_or_else(|| rusqlite::Error::InvalidParameterName((*name).to_string()))?,
        };
        stmt.raw_bind_parameter(index, value)?;
    }
    Ok(())
}

/// `Statement::execute` with `params` bound as above.
pub fn execute(mut stmt: CachedStatement<'_>, params: &Named) -> rusqlite::Result<usize> {
    bind(&mut stmt, params)?;
    stmt.raw_execute()
}

/// `Statement::query` with `params` bound as above.
pub fn query<'s>(stmt: &'s mut CachedStatement<'_>, params: &Named) -> rusqlite::Result<Rows<'s>> {
    bind(stmt, params)?;
    Ok(stmt.raw_query())
}
