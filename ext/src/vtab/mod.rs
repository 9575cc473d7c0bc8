//! orq's virtual tables. All are eponymous: they exist on every connection
//! that loaded orq, before any job does.
//!
//! rusqlite does not catch panics in virtual table callbacks, and unwinding
//! into SQLite is undefined behaviour, so every callback that runs orq code
//! goes through `guarded`.

mod claim;
mod connection;
mod metrics;
mod raw;
mod rows;
mod stream;
mod streams;
mod view;
mod views;

use std::os::raw::c_int;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use rusqlite::vtab::{eponymous_only_module, IndexConstraintOp, IndexInfo};
use rusqlite::Connection;

use crate::session::Session;

pub fn register(conn: &Connection, session: &Arc<Session>) -> rusqlite::Result<()> {
    conn.create_module(
        "orq_connection",
        eponymous_only_module::<connection::ConnectionTab>(),
        Some(session.clone()),
    )?;
    conn.create_module("queue_claim", eponymous_only_module::<claim::ClaimTab>(), Some(session.clone()))?;
    conn.create_module(
        "queue_stats",
        eponymous_only_module::<view::ViewTab<views::Stats>>(),
        Some(session.clone()),
    )?;
    conn.create_module(
        "queue_workers",
        eponymous_only_module::<view::ViewTab<views::Workers>>(),
        Some(session.clone()),
    )?;
    conn.create_module(
        "queue_resources",
        eponymous_only_module::<view::ViewTab<views::Resources>>(),
        Some(session.clone()),
    )?;
    conn.create_module(
        "queue_rates",
        eponymous_only_module::<view::ViewTab<views::Rates>>(),
        Some(session.clone()),
    )?;
    conn.create_module(
        "queue_workflows",
        eponymous_only_module::<view::ViewTab<views::Workflows>>(),
        Some(session.clone()),
    )?;
    conn.create_module(
        "queue_workflow_jobs",
        eponymous_only_module::<view::ViewTab<views::WorkflowJobs>>(),
        Some(session.clone()),
    )?;
    conn.create_module(
        "queue_history",
        eponymous_only_module::<view::ViewTab<views::History>>(),
        Some(session.clone()),
    )?;
    conn.create_module(
        "queue_schedules",
        eponymous_only_module::<view::ViewTab<views::Schedules>>(),
        Some(session.clone()),
    )?;
    conn.create_module(
        "queue_limits",
        eponymous_only_module::<view::ViewTab<views::Limits>>(),
        Some(session.clone()),
    )?;
    conn.create_module(
        "queue_alerts",
        eponymous_only_module::<view::ViewTab<views::Alerts>>(),
        Some(session.clone()),
    )?;
    conn.create_module(
        "queue_metrics",
        eponymous_only_module::<metrics::MetricsTab>(),
        Some(session.clone()),
    )?;
    conn.create_module(
        "queue_jobs",
        eponymous_only_module::<stream::StreamTab<streams::Jobs>>(),
        Some(session.clone()),
    )?;
    conn.create_module(
        "queue_events",
        eponymous_only_module::<stream::StreamTab<streams::Events>>(),
        Some(session.clone()),
    )?;
    conn.create_module(
        "queue_replay",
        eponymous_only_module::<stream::StreamTab<streams::Replay>>(),
        Some(session.clone()),
    )?;
    Ok(())
}

/// Runs a callback body; a panic becomes an error (SQLITE_INTERNAL)
/// instead of unwinding into SQLite.
pub fn guarded<T>(name: &str, f: impl FnOnce() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_INTERNAL),
            Some(format!("{name}: internal error (a panic was caught)")),
        ))
    })
}

/// For a table-valued function whose arguments are the hidden columns
/// `first..first + count`: hands each `=` constraint on them to xFilter in
/// column order. Returns a bit mask of the arguments given (bit i: argument
/// i), which xFilter receives as idx_num. A plan that lacks one of the first
/// `required` arguments is made too costly to choose.
pub fn bind_arguments(info: &mut IndexInfo, first: c_int, count: c_int, required: c_int) -> c_int {
    let mut slot_of = vec![None; count as usize];
    for (i, c) in info.constraints().enumerate() {
        let arg = c.column() - first;
        if (0..count).contains(&arg)
            && c.is_usable()
            && c.operator() == IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_EQ
        {
            slot_of[arg as usize] = Some(i);
        }
    }
    let mut mask = 0;
    let mut next_argv = 1;
    for (arg, slot) in slot_of.iter().enumerate() {
        if let Some(i) = *slot {
            let mut usage = info.constraint_usage(i);
            usage.set_argv_index(next_argv);
            usage.set_omit(true);
            next_argv += 1;
            mask |= 1 << arg;
        }
    }
    let complete = mask & ((1 << required) - 1) == (1 << required) - 1;
    info.set_estimated_cost(if complete { 1.0 } else { 1e30 });
    info.set_estimated_rows(if complete { 10 } else { i64::MAX / 2 });
    mask
}

/// The arguments xFilter received for `bind_arguments`' mask, one per
/// argument position, NULL where absent.
pub fn arguments<'a>(
    mask: c_int,
    count: usize,
    given: &'a rusqlite::vtab::Filters<'a>,
) -> Vec<rusqlite::types::ValueRef<'a>> {
    let mut values = given.iter();
    (0..count)
        .map(|arg| if mask & (1 << arg) != 0 { values.next() } else { None })
        .map(|v| v.unwrap_or(rusqlite::types::ValueRef::Null))
        .collect()
}
