//! orq_* functions: version, debug, the queue clock, the schema, backoff.

use rusqlite::OptionalExtension;
use serde_json::json;

use crate::args::Args;
use crate::backoff::Backoff;
use crate::bounds::time_ms;
use crate::clock::ms_to_secs;
use crate::error::Result;
use crate::session::Session;
use crate::txn::{self, Writes};
use crate::{schema, VERSION};

pub fn orq_version(_: &Session, a: &Args) -> Result<&'static str> {
    a.arity(0, 0, "no arguments")?;
    Ok(VERSION)
}

pub fn orq_debug(s: &Session, a: &Args) -> Result<String> {
    a.arity(0, 0, "no arguments")?;
    s.with(|res| {
        // Some PRAGMAs answer no row where they do not apply (mmap_size in memory).
        let pragma = |name: &str| -> Result<rusqlite::types::Value> {
            let mut stmt = res.host.prepare_cached(&format!("PRAGMA main.{name}"))?;
            Ok(stmt.query_row([], |r| r.get(0)).optional()?.unwrap_or(rusqlite::types::Value::Null))
        };
        let value = |v: rusqlite::types::Value| match v {
            rusqlite::types::Value::Integer(n) => json!(n),
            rusqlite::types::Value::Text(t) => json!(t),
            _ => json!(null),
        };
        Ok(json!({
            "version": VERSION,
            "git_commit": env!("ORQ_GIT_COMMIT"),
            "sqlite_version": rusqlite::version(),
            "schema_version": schema::version(&res.host)?,
            "schema_latest": schema::LATEST,
            "journal_mode": value(pragma("journal_mode")?),
            "synchronous": value(pragma("synchronous")?),
            "busy_timeout_ms": value(pragma("busy_timeout")?),
            "cache_size": value(pragma("cache_size")?),
            "mmap_size": value(pragma("mmap_size")?),
            "temp_store": value(pragma("temp_store")?),
            "wal_autocheckpoint": value(pragma("wal_autocheckpoint")?),
            "clock_fixed": s.clock.fixed_ms().map(ms_to_secs),
            "side_connection": res.side.is_open(),
            "turn_file": res.turnstile.as_ref().map(Option::is_some),
            // Why this connection's last retention slice failed (the write went on).
            "retention_error": res.retention.last_error,
            "platform": crate::platform::name(),
            "replicated": res.replicated,
        })
        .to_string())
    })
}

pub fn orq_now(s: &Session, a: &Args) -> Result<f64> {
    a.arity(0, 0, "no arguments")?;
    Ok(ms_to_secs(s.clock.now_ms()))
}

pub fn orq_clock(s: &Session, a: &Args) -> Result<f64> {
    a.arity(1, 1, "(unix_seconds or NULL)")?;
    let fixed = a.opt_number(0, "t")?.map(|t| time_ms("t", t)).transpose()?;
    s.clock.set(fixed);
    Ok(ms_to_secs(s.clock.now_ms()))
}

pub fn orq_migrate(s: &Session, a: &Args) -> Result<i64> {
    a.arity(0, 0, "no arguments")?;
    txn::write(s, Writes::Many, &mut |c| schema::upgrade(c))
}

pub fn orq_backoff_ms(a: &Args) -> Result<i64> {
    a.arity(2, 3, "(job_id, attempt [, backoff])")?;
    let id = a.int(0, "job_id")?;
    let attempt = a.int(1, "attempt")?;
    let backoff = Backoff::from_stored(a.opt_text(2, "backoff")?)?;
    Ok(backoff.delay_ms(id, attempt))
}
