//! The actions (POST only; `auth::guard` has checked the token, the CSRF
//! token and `--read-only` before these run). Each calls one orq function.

use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{ApiError, ApiResult};
use super::Shared;
use crate::duration::parse_seconds;

/// `function(id)` on a job; 404 for a job that does not exist (the
/// function's `not_found`: Code::NotFound, see error.rs).
async fn on_job(app: &Shared, function: &'static str, id: i64) -> ApiResult<Json<Value>> {
    app.pool
        .run(move |store| {
            let changed: i64 = store.one(&format!("SELECT {function}(?1)"), &[id.into()])?;
            let state: Option<String> =
                store.read_one("SELECT state FROM queue_jobs WHERE id = ?1", &[id.into()]).ok();
            Ok(Json(json!({ "id": id, "changed": changed == 1, "state": state })))
        })
        .await
}

/// `POST /api/jobs/{id}/retry`: a dead or cancelled job is ready again.
pub async fn retry(State(app): State<Shared>, Path(id): Path<i64>) -> ApiResult<Json<Value>> {
    on_job(&app, "queue_retry", id).await
}

/// `POST /api/jobs/{id}/cancel`: an unfinished job is cancelled.
pub async fn cancel(State(app): State<Shared>, Path(id): Path<i64>) -> ApiResult<Json<Value>> {
    on_job(&app, "queue_cancel", id).await
}

/// `POST /api/workflows/{id}/cancel`: every unfinished job of it.
pub async fn cancel_workflow(State(app): State<Shared>, Path(id): Path<i64>) -> ApiResult<Json<Value>> {
    app.pool
        .run(move |store| {
            let n: i64 = store.one("SELECT queue_workflow_cancel(?1)", &[id.into()])?;
            Ok(Json(json!({ "workflow": id, "cancelled": n })))
        })
        .await
}

async fn toggle(app: &Shared, function: &'static str, queue: String) -> ApiResult<Json<Value>> {
    app.pool
        .run(move |store| {
            let changed: i64 = store.one(&format!("SELECT {function}(?1)"), &[queue.clone().into()])?;
            Ok(Json(json!({ "queue": queue, "changed": changed == 1 })))
        })
        .await
}

/// `POST /api/queues/{name}/pause`.
pub async fn pause(State(app): State<Shared>, Path(name): Path<String>) -> ApiResult<Json<Value>> {
    toggle(&app, "queue_pause", name).await
}

/// `POST /api/queues/{name}/resume`.
pub async fn resume(State(app): State<Shared>, Path(name): Path<String>) -> ApiResult<Json<Value>> {
    toggle(&app, "queue_resume", name).await
}

#[derive(Deserialize)]
pub struct Purge {
    /// A queue, or null/absent for every queue.
    queue: Option<String>,
    /// Seconds, or a duration such as "7d".
    older_than: Value,
}

/// `POST /api/purge {"queue": …, "older_than": "7d"}`: deletes finished
/// jobs (done, dead, cancelled) and their history.
pub async fn purge(State(app): State<Shared>, Json(p): Json<Purge>) -> ApiResult<Json<Value>> {
    let older_than = match &p.older_than {
        Value::Number(n) => n.as_f64().filter(|s| *s >= 0.0).ok_or("must not be negative".to_string()),
        Value::String(s) => parse_seconds(s),
        _ => Err("must be seconds or a duration such as 7d".to_string()),
    }
    .map_err(|e| ApiError::bad_request(format!("older_than: {e}")))?;
    let queue = p.queue.filter(|q| !q.is_empty());
    app.pool
        .run(move |store| {
            let n: i64 = store.one("SELECT queue_purge(?1, ?2)", &[queue.into(), older_than.into()])?;
            Ok(Json(json!({ "purged": n })))
        })
        .await
}

/// `POST /api/signals/{name}` with the payload as the JSON body (none:
/// null): `queue_signal`; how many jobs it woke. For webhooks: with
/// `--token`, send it as `Authorization: Bearer` (no CSRF token needed).
pub async fn signal(
    State(app): State<Shared>,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    let payload = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        let text =
            std::str::from_utf8(&body).map_err(|_| ApiError::bad_request("the payload is not UTF-8"))?;
        Some(text.to_string())
    };
    app.pool
        .run(move |store| {
            let woken: i64 = store.one_with(
                "SELECT queue_signal(?1, ?2)",
                &[name.clone().into(), payload.into()],
                crate::store::Resend::Never,
            )?;
            Ok(Json(json!({ "signal": name, "woken": woken })))
        })
        .await
}
