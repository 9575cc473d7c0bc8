//! What a job's end means for the jobs that depend on it. A parent that
//! completes releases its children inside its own statement (trigger
//! orq_jobs_children). A parent that ends dead or cancelled cancels
//! its waiting children — unless they run anyway — and theirs, all the way
//! down, here, in the same transaction; and a dead job of a fail_fast
//! workflow cancels the rest of its workflow.

use std::collections::HashSet;

use rusqlite::{named_params, Connection, OptionalExtension};

use crate::error::Result;
use crate::{params, sql};

/// Settles the descendants of jobs that just ended dead or cancelled:
/// `ended` holds (job id, its new state).
pub fn after_failure(conn: &Connection, now: i64, ended: &[(i64, String)]) -> Result<()> {
    let mut todo: Vec<(i64, String)> = ended.to_vec();
    let mut failed_workflows = HashSet::new();
    while let Some((id, state)) = todo.pop() {
        if state == "dead" {
            if let Some(workflow) = workflow_of(conn, id)? {
                if failed_workflows.insert(workflow) {
                    let cancelled = ids(
                        conn,
                        sql::WORKFLOW_FAIL_FAST,
                        named_params! {":workflow": workflow, ":job": id, ":now": now},
                    )?;
                    todo.extend(cancelled.into_iter().map(|c| (c, "cancelled".to_string())));
                }
            }
        }
        let children = ids(
            conn,
            sql::DEPS_CANCEL_CHILDREN,
            named_params! {":parent": id, ":parent_state": state, ":now": now},
        )?;
        todo.extend(children.into_iter().map(|c| (c, "cancelled".to_string())));
    }
    Ok(())
}

fn workflow_of(conn: &Connection, id: i64) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached(sql::JOB_WORKFLOW)?
        .query_row(named_params! {":id": id}, |r| r.get(0))
        .optional()?
        .flatten())
}

/// The ids a statement with `RETURNING id` changed.
pub fn ids(
    conn: &Connection,
    sql: &'static str,
    params: &[(&str, &dyn rusqlite::ToSql)],
) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = params::query(&mut stmt, sql, params)?.mapped(|r| r.get(0));
    Ok(rows.collect::<rusqlite::Result<Vec<i64>>>()?)
}
