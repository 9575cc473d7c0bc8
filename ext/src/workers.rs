//! The worker registry and run accounting: what a worker process tells the
//! database about itself and about each run of a job.

use rusqlite::{named_params, Connection};
use serde::Deserialize;
use serde_json::Value;

use crate::bounds::duration_ms;
use crate::error::{invalid, Result};
use crate::fields::{self, Given, Problem};
use crate::options::{check_queue_name, excerpt, name, name_list};
use crate::sql;

/// How often a worker heartbeats unless it says otherwise.
pub const DEFAULT_HEARTBEAT_MS: i64 = 5_000;
/// A beat extends a lease once this fraction of it has passed: half, so a
/// beat that comes late by up to half a lease still keeps the job.
pub const EXTEND_AT: f64 = 0.5;
/// How long a stopping worker lets its running jobs finish before it stops
/// them and releases their leases, unless its owner chose otherwise.
pub const DEFAULT_GRACE_MS: i64 = 30_000;

/// What `queue_worker_register` is told.
#[derive(Debug, Default)]
pub struct WorkerInfo {
    pub host: Option<String>,
    pub pid: Option<i64>,
    pub queues: Option<String>,
    pub capabilities: String,
    pub concurrency: Option<i64>,
    pub heartbeat_ms: i64,
    pub info: Option<String>,
}

/// The keys of queue_worker_register's info.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct WorkerKeys {
    host: Given,
    pid: Given,
    queues: Given,
    capabilities: Given,
    concurrency: Given,
    heartbeat: Given,
    info: Given,
}

impl WorkerInfo {
    pub fn parse(text: Option<&str>) -> Result<WorkerInfo> {
        let keys: WorkerKeys = object("info", text)?;
        let mut w = WorkerInfo {
            capabilities: "[]".into(),
            heartbeat_ms: DEFAULT_HEARTBEAT_MS,
            ..Default::default()
        };
        if let Some(v) = &keys.host.0 {
            w.host = Some(name("host", v)?);
        }
        if let Some(v) = &keys.pid.0 {
            w.pid = Some(
                v.as_i64()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| invalid(format!("pid must be a positive integer, got {v}")))?,
            );
        }
        if let Some(v) = &keys.queues.0 {
            w.queues = queue_list(v)?;
        }
        if let Some(v) = &keys.capabilities.0 {
            w.capabilities = name_list("capabilities", v)?.unwrap_or_else(|| "[]".into());
        }
        if let Some(v) = &keys.concurrency.0 {
            w.concurrency = Some(v.as_i64().filter(|c| (1..=100_000).contains(c)).ok_or_else(|| {
                invalid(format!("concurrency must be an integer from 1 to 100000, got {v}"))
            })?);
        }
        if let Some(v) = &keys.heartbeat.0 {
            let secs = v.as_f64().ok_or_else(|| invalid(format!("heartbeat must be seconds, got {v}")))?;
            w.heartbeat_ms = duration_ms("heartbeat", secs)?.max(1);
        }
        match &keys.info.0 {
            Some(v) if v.is_object() => w.info = Some(v.to_string()),
            Some(v) => return Err(invalid(format!("info must be an object, got {v}"))),
            None => {}
        }
        Ok(w)
    }
}

fn queue_list(v: &Value) -> Result<Option<String>> {
    if v.is_null() {
        return Ok(None);
    }
    let list = name_list("queues", v)?;
    if let Some(text) = &list {
        for q in serde_json::from_str::<Vec<String>>(text).unwrap_or_default() {
            check_queue_name(&q)?;
        }
    }
    Ok(list)
}

/// A JSON object argument named `what` (NULL: no keys), as the keys of `T`.
fn object<'a, T: Deserialize<'a> + Default>(what: &str, text: Option<&'a str>) -> Result<T> {
    let Some(text) = text else { return Ok(T::default()) };
    fields::parse(text).map_err(|p| match p {
        Problem::Unknown { key, known } => invalid(format!("unknown key '{key}' (known: {known})")),
        Problem::Twice(key) => invalid(format!("key '{key}' is given twice")),
        _ => invalid(format!("{what} must be a JSON object, got {}", excerpt(text))),
    })
}

pub fn register(conn: &Connection, now: i64, worker: &str, w: &WorkerInfo) -> Result<()> {
    conn.prepare_cached(sql::WORKER_REGISTER)?.execute(named_params! {
        ":name": worker, ":host": w.host, ":pid": w.pid, ":queues": w.queues,
        ":capabilities": w.capabilities, ":concurrency": w.concurrency, ":info": w.info,
        ":heartbeat_ms": w.heartbeat_ms, ":now": now,
    })?;
    Ok(())
}

/// Records that `worker` is alive (again, if it was declared dead), then
/// finds the workers that stopped heartbeating and frees their jobs. False
/// when `worker` is not registered (or has stopped cleanly).
pub fn heartbeat(
    conn: &Connection,
    now: i64,
    worker: &str,
    done: Option<i64>,
    failed: Option<i64>,
) -> Result<bool> {
    let alive = conn
        .prepare_cached(sql::WORKER_HEARTBEAT)?
        .execute(named_params! {":name": worker, ":done": done, ":failed": failed, ":now": now})?
        > 0;
    let dead: Vec<String> = conn
        .prepare_cached(sql::WORKERS_DEAD)?
        .query_map(named_params! {":now": now}, |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for name in dead {
        stop(conn, now, &name, true)?;
    }
    Ok(alive)
}

/// The keys of a heartbeat's stats.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct StatsKeys {
    done: Given,
    failed: Given,
}

/// The `stats` of a heartbeat: (done, failed) counts.
pub fn heartbeat_stats(stats: Option<&str>) -> Result<(Option<i64>, Option<i64>)> {
    let keys: StatsKeys = object("stats", stats)?;
    Ok((count("done", &keys.done)?, count("failed", &keys.failed)?))
}

/// What a worker tells `queue_worker_beat`: its counters, and the leases it
/// holds as (id, token, the claim's lease length in ms when it knows it).
#[derive(Debug, Default)]
pub struct BeatReport {
    pub done: Option<i64>,
    pub failed: Option<i64>,
    pub leases: Vec<(i64, i64, Option<i64>)>,
}

/// The keys of a beat's report.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct ReportKeys {
    done: Given,
    failed: Given,
    leases: Given,
}

impl BeatReport {
    pub fn parse(text: Option<&str>) -> Result<BeatReport> {
        let keys: ReportKeys = object("report", text)?;
        Ok(BeatReport {
            done: count("done", &keys.done)?,
            failed: count("failed", &keys.failed)?,
            leases: keys.leases.0.as_ref().map(leases).transpose()?.unwrap_or_default(),
        })
    }
}

/// A counter, when given.
fn count(key: &str, given: &Given) -> Result<Option<i64>> {
    let Some(v) = &given.0 else { return Ok(None) };
    let n =
        v.as_i64().filter(|n| *n >= 0).ok_or_else(|| invalid(format!("{key} must be a count, got {v}")))?;
    Ok(Some(n))
}

/// `leases`: an array of [id, token] or [id, token, lease seconds].
fn leases(v: &Value) -> Result<Vec<(i64, i64, Option<i64>)>> {
    let shape = || {
        invalid(format!(
            "leases must be an array of [id, token] or [id, token, lease], got {}",
            excerpt(&v.to_string())
        ))
    };
    let Value::Array(items) = v else { return Err(shape()) };
    items
        .iter()
        .map(|item| match item.as_array().map(Vec::as_slice) {
            Some([id, token, rest @ ..]) if rest.len() <= 1 => {
                let (id, token) = (id.as_i64().ok_or_else(shape)?, token.as_i64().ok_or_else(shape)?);
                let lease = match rest.first() {
                    None | Some(Value::Null) => None,
                    Some(l) => Some(duration_ms("lease", l.as_f64().ok_or_else(shape)?)?.max(1)),
                };
                Ok((id, token, lease))
            }
            _ => Err(shape()),
        })
        .collect()
}

/// A worker's beat: it is alive (revived if it was declared dead), the
/// leases it holds that are due are extended, and the answer says what it
/// must do, as JSON text: when to beat next, which of its leases are lost
/// (stop those jobs, record nothing of them), whether it must register.
/// The worker protocol's policy lives here, so every runtime obeys the same.
pub fn beat(conn: &Connection, now: i64, worker: &str, report: &BeatReport) -> Result<String> {
    let before: Option<(bool, i64)> = conn
        .prepare_cached(sql::WORKER_STATE)?
        .query_map(named_params! {":name": worker, ":now": now}, |r| Ok((r.get::<_, bool>(1)?, r.get(2)?)))?
        .next()
        .transpose()?;
    let registered = heartbeat(conn, now, worker, report.done, report.failed)?;
    let leases = Value::from(
        report
            .leases
            .iter()
            .map(|(id, token, lease)| {
                Value::from(vec![Value::from(*id), Value::from(*token), Value::from(*lease)])
            })
            .collect::<Vec<_>>(),
    )
    .to_string();
    let lease_params = named_params! {":leases": leases, ":extend_at": EXTEND_AT, ":now": now};
    conn.prepare_cached(sql::WORKER_LEASES_EXTEND)?.execute(lease_params)?;
    let heartbeat_ms = before.map_or(DEFAULT_HEARTBEAT_MS, |(_, ms)| ms);
    let (mut next_ms, mut lost) = (heartbeat_ms, Vec::new());
    let mut stmt = conn.prepare_cached(sql::WORKER_LEASES)?;
    let mut rows = stmt.query(lease_params)?;
    while let Some(row) = rows.next()? {
        if row.get::<_, bool>(2)? {
            next_ms = next_ms.min(row.get::<_, i64>(3)?);
        } else {
            lost.push(Value::from(vec![row.get::<_, i64>(0)?, row.get::<_, i64>(1)?]));
        }
    }
    Ok(serde_json::json!({
        "registered": registered,
        "revived": registered && before.is_some_and(|(dead, _)| dead),
        "heartbeat": heartbeat_ms as f64 / 1000.0,
        "next": next_ms.max(1) as f64 / 1000.0,
        "extend_at": EXTEND_AT,
        "grace": DEFAULT_GRACE_MS as f64 / 1000.0,
        "lost": lost,
    })
    .to_string())
}

/// Marks `worker` stopped; when `dead`, the jobs it held are lost attempts
/// now instead of when their leases run out. False if it already stopped.
pub fn stop(conn: &Connection, now: i64, worker: &str, dead: bool) -> Result<bool> {
    let stopped = conn
        .prepare_cached(sql::WORKER_STOP)?
        .execute(named_params! {":name": worker, ":dead": dead, ":now": now})?
        > 0;
    if dead {
        let changed: Vec<(i64, String)> = conn
            .prepare_cached(sql::WORKER_JOBS_EXPIRE)?
            .query_map(named_params! {":name": worker, ":now": now}, |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let dead_jobs: Vec<(i64, String)> = changed.into_iter().filter(|(_, s)| s == "dead").collect();
        crate::deps::after_failure(conn, now, &dead_jobs)?;
    }
    Ok(stopped)
}

/// What one run used, as `queue_record_run` is told it.
#[derive(Debug, Default)]
pub struct RunUsage {
    pub outcome: String,
    pub exit_code: Option<i64>,
    pub wall_ms: Option<i64>,
    pub user_ms: Option<i64>,
    pub sys_ms: Option<i64>,
    pub max_rss_kb: Option<i64>,
}

/// The keys of queue_record_run's usage.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct UsageKeys {
    outcome: Given,
    exit_code: Given,
    wall: Given,
    user: Given,
    sys: Given,
    max_rss_kb: Given,
}

impl RunUsage {
    pub fn parse(text: Option<&str>) -> Result<RunUsage> {
        let keys: UsageKeys = object("usage", text)?;
        // A null is a value that was not measured.
        let measured = |given: &Given| given.0.clone().filter(|v| !v.is_null());
        let seconds = |key: &str, given: &Given| -> Result<Option<i64>> {
            let Some(v) = measured(given) else { return Ok(None) };
            let s = v.as_f64().ok_or_else(|| invalid(format!("{key} must be seconds, got {v}")))?;
            Ok(Some(duration_ms(key, s)?))
        };
        let mut u = RunUsage::default();
        if let Some(v) = measured(&keys.outcome) {
            u.outcome = name("outcome", &v)?;
        }
        if let Some(v) = measured(&keys.exit_code) {
            u.exit_code =
                Some(v.as_i64().ok_or_else(|| invalid(format!("exit_code must be an integer, got {v}")))?);
        }
        u.wall_ms = seconds("wall", &keys.wall)?;
        u.user_ms = seconds("user", &keys.user)?;
        u.sys_ms = seconds("sys", &keys.sys)?;
        if let Some(v) = measured(&keys.max_rss_kb) {
            u.max_rss_kb = Some(
                v.as_i64()
                    .filter(|k| *k >= 0)
                    .ok_or_else(|| invalid(format!("max_rss_kb must be a count, got {v}")))?,
            );
        }
        if u.outcome.is_empty() {
            return Err(invalid("usage needs an outcome (done, failed, timeout, ...)"));
        }
        Ok(u)
    }
}

/// Records run `token` of job `id`. False when `token` is not the job's
/// current or last lease.
pub fn record_run(conn: &Connection, now: i64, id: i64, token: i64, u: &RunUsage) -> Result<bool> {
    let n = conn.prepare_cached(sql::RUN_RECORD)?.execute(named_params! {
        ":id": id, ":token": token, ":outcome": u.outcome, ":exit_code": u.exit_code,
        ":wall_ms": u.wall_ms, ":user_ms": u.user_ms, ":sys_ms": u.sys_ms, ":max_rss_kb": u.max_rss_kb,
        ":now": now,
    })?;
    if n == 0 {
        crate::ops::job_state(conn, id)?;
    }
    Ok(n > 0)
}
