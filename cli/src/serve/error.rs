//! Errors of the JSON endpoints: a status and `{"error": message}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::exit::{Code, Failure};

#[derive(Debug)]
pub struct ApiError(pub StatusCode, pub String);

impl ApiError {
    pub fn not_found(what: impl Into<String>) -> ApiError {
        ApiError(StatusCode::NOT_FOUND, what.into())
    }

    pub fn bad_request(what: impl Into<String>) -> ApiError {
        ApiError(StatusCode::BAD_REQUEST, what.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(serde_json::json!({ "error": self.1 }))).into_response()
    }
}

/// By the error's kind: orq's argument errors are the client's fault
/// (400), an unknown job id is 404; SQLite's trouble (locked, I/O, cannot
/// open) is the server's (503: worth retrying).
impl From<Failure> for ApiError {
    fn from(f: Failure) -> Self {
        let status = match f.code {
            Code::Database => StatusCode::SERVICE_UNAVAILABLE,
            Code::NotFound => StatusCode::NOT_FOUND,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError(status, f.message)
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> Self {
        Failure::from(e).into()
    }
}

pub type ApiResult<T> = std::result::Result<T, ApiError>;

pub async fn not_found() -> ApiError {
    ApiError::not_found("no such page")
}
