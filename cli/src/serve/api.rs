//! The JSON endpoints the pages read, and `/health`. Each is one or a few
//! SELECTs from orq's virtual tables and functions.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rusqlite::types::Value as Sql;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::error::{ApiError, ApiResult};
use super::{dag, Shared};
use crate::commands::health;
use crate::exit::usage;

/// The overview the watcher keeps current (the same JSON the event stream
/// sends).
pub async fn overview(State(app): State<Shared>) -> Response {
    let body = app.snapshot.borrow().clone();
    ([(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

#[derive(Deserialize)]
pub struct JobsQuery {
    queue: Option<String>,
    state: Option<String>,
    /// Keyset paging: jobs with smaller ids (older), newest first.
    before: Option<i64>,
    /// Jobs with larger ids (newer): the page before.
    after: Option<i64>,
    limit: Option<i64>,
}

const JOB_COLUMNS: &str = "id, queue, state, priority, attempts, max_attempts, run_at, created_at, \
     started_at, finished_at, updated_at, worker, error, workflow, workflow_key, progress";

/// `GET /api/jobs?queue=&state=&before=|after=&limit=`: a page of jobs,
/// newest first, by keyset on id (index-ordered, no OFFSET), with the ids
/// to ask for the next older and newer pages (null at either end).
pub async fn jobs(State(app): State<Shared>, Query(q): Query<JobsQuery>) -> ApiResult<Json<Value>> {
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    app.pool
        .run(move |store| {
            let mut filters = Vec::new();
            let mut values: Vec<Sql> = Vec::new();
            for (column, v) in [("queue", &q.queue), ("state", &q.state)] {
                if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
                    filters.push(format!("{column} = ?"));
                    values.push(Sql::Text(v.clone()));
                }
            }
            let page = |cond: Option<String>, desc: bool, n: i64| {
                let mut all = filters.clone();
                all.extend(cond);
                let filter =
                    if all.is_empty() { String::new() } else { format!(" WHERE {}", all.join(" AND ")) };
                let order = if desc { "DESC" } else { "ASC" };
                let sql =
                    format!("SELECT {JOB_COLUMNS} FROM queue_jobs{filter} ORDER BY id {order} LIMIT {n}");
                store.read(&sql, &values)
            };
            let (mut rows, more) = match (q.after, q.before) {
                (Some(after), _) => {
                    let r = page(Some(format!("id > {after}")), false, limit + 1)?;
                    let more = r.rows.len() as i64 > limit;
                    let mut list = r.to_json().as_array().cloned().unwrap_or_default();
                    list.truncate(limit as usize);
                    list.reverse();
                    (list, more)
                }
                (None, before) => {
                    let r = page(before.map(|b| format!("id < {b}")), true, limit + 1)?;
                    let more = r.rows.len() as i64 > limit;
                    let mut list = r.to_json().as_array().cloned().unwrap_or_default();
                    list.truncate(limit as usize);
                    (list, more)
                }
            };
            let first = rows.first().and_then(|j| j["id"].as_i64());
            let last = rows.last().and_then(|j| j["id"].as_i64());
            let exists = |cond: String| -> crate::exit::Result<bool> {
                Ok(!page(Some(cond), true, 1)?.rows.is_empty())
            };
            let (newer, older) = if q.after.is_some() {
                (
                    more.then_some(first).flatten(),
                    match last {
                        Some(l) if exists(format!("id < {l}"))? => Some(l),
                        _ => None,
                    },
                )
            } else {
                (
                    match first {
                        Some(f) if exists(format!("id > {f}"))? => Some(f),
                        _ => None,
                    },
                    more.then_some(last).flatten(),
                )
            };
            Ok(Json(json!({ "jobs": std::mem::take(&mut rows), "newer": newer, "older": older })))
        })
        .await
}

/// `GET /api/jobs/{id}`: every field, the job's steps (queue_steps) and its
/// whole history.
pub async fn job(State(app): State<Shared>, Path(id): Path<i64>) -> ApiResult<Json<Value>> {
    let found = app
        .pool
        .run(move |store| {
            let job = store.read("SELECT * FROM queue_jobs WHERE id = ?1", &[id.into()])?;
            let Some(row) = job.rows.first() else { return Ok(None) };
            let steps: String = store.read_one("SELECT queue_steps(?1)", &[id.into()])?;
            let steps: Value = serde_json::from_str(&steps).map_err(|e| usage(e.to_string()))?;
            let history = store.read("SELECT * FROM queue_history(?1)", &[id.into()])?;
            Ok(Some(json!({ "job": job.object(row), "steps": steps, "history": history.to_json() })))
        })
        .await?;
    found.map(Json).ok_or_else(|| ApiError::not_found(format!("no job with id {id}")))
}

/// `GET /api/workflows`: the newest 500 (SQLite keeps only those while it
/// sorts, instead of every workflow being read into memory first).
pub async fn workflows(State(app): State<Shared>) -> ApiResult<Json<Value>> {
    app.pool
        .run(|store| {
            let list = store.read("SELECT * FROM queue_workflows ORDER BY id DESC LIMIT 500", &[])?.to_json();
            Ok(Json(json!({ "workflows": list })))
        })
        .await
}

/// `GET /api/workflows/{id}`: the summary, its jobs, and the DAG laid out.
pub async fn workflow(State(app): State<Shared>, Path(id): Path<i64>) -> ApiResult<Json<Value>> {
    let found = app
        .pool
        .run(move |store| {
            let summary = store.read("SELECT * FROM queue_workflows WHERE id = ?1", &[id.into()])?;
            let Some(row) = summary.rows.first() else { return Ok(None) };
            let jobs = store.read("SELECT * FROM queue_workflow_jobs(?1)", &[id.into()])?.to_json();
            let graph = dag::layout(jobs.as_array().map_or(&[], Vec::as_slice));
            Ok(Some(json!({ "workflow": summary.object(row), "jobs": jobs, "graph": graph })))
        })
        .await?;
    found.map(Json).ok_or_else(|| ApiError::not_found(format!("no workflow with id {id}")))
}

/// `GET /api/workers`: workers alive or seen in the last day, and the
/// resources each queue's runs used.
pub async fn workers(State(app): State<Shared>) -> ApiResult<Json<Value>> {
    app.pool
        .run(|store| {
            let workers = store.read(
                "SELECT * FROM queue_workers WHERE state = 'alive' OR heartbeat_at > orq_now() - 86400
                 ORDER BY state = 'alive' DESC, heartbeat_at DESC",
                &[],
            )?;
            let resources = store.read("SELECT * FROM queue_resources", &[])?;
            let now: f64 = store.read_one("SELECT orq_now()", &[])?;
            Ok(Json(json!({ "workers": workers.to_json(), "resources": resources.to_json(), "now": now })))
        })
        .await
}

/// `GET /api/alerts`: the rules and their states.
pub async fn alerts(State(app): State<Shared>) -> ApiResult<Json<Value>> {
    app.pool
        .run(|store| Ok(Json(json!({ "alerts": store.read("SELECT * FROM queue_alerts", &[])?.to_json() }))))
        .await
}

const HEALTH_KEYS: [&str; 5] = ["disk_warn_mb", "disk_crit_mb", "wal_warn_mb", "dead_warn", "quick_check"];

/// `GET /health[?disk_warn_mb=…]`: `queue_health()` with the server's
/// thresholds (query parameters override them); 503 when critical, so
/// that load balancers and probes need not read the body.
pub async fn health(
    State(app): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let report = health_report(&app, q).await?;
    let status = match health::code_of(&report) {
        crate::exit::Code::HealthCritical => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::OK,
    };
    Ok((status, Json(report)).into_response())
}

/// `GET /api/health`: the same report, always 200 (the dashboard's copy:
/// a browser logs every 503 as an error).
pub async fn health_json(
    State(app): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    health_report(&app, q).await.map(Json)
}

async fn health_report(app: &Shared, q: HashMap<String, String>) -> ApiResult<Value> {
    let mut extra = Map::new();
    for (k, v) in q {
        if !HEALTH_KEYS.contains(&k.as_str()) {
            return Err(ApiError::bad_request(format!(
                "unknown parameter {k} (use {})",
                HEALTH_KEYS.join(", ")
            )));
        }
        let n = match (v.parse::<i64>(), v.parse::<f64>()) {
            _ if k == "quick_check" => match v.as_str() {
                "true" | "1" => json!(true),
                "false" | "0" => json!(false),
                _ => return Err(ApiError::bad_request("quick_check must be true or false")),
            },
            (Ok(i), _) => json!(i),
            (_, Ok(f)) if f.is_finite() => json!(f),
            _ => return Err(ApiError::bad_request(format!("{k} must be a number"))),
        };
        extra.insert(k, n);
    }
    let options = app.health.to_json(&extra);
    match app.pool.run(move |store| health::report(store, options.as_deref())).await {
        Ok(r) => Ok(r),
        // The database not answering is the first thing health reports.
        Err(ApiError(StatusCode::SERVICE_UNAVAILABLE, message)) => Ok(health::database_failed(&message)),
        Err(e) => Err(e),
    }
}
