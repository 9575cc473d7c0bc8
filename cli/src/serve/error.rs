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

/// orq's argument errors are the client's fault (400); SQLite's trouble
/// (locked, I/O, cannot open) is the server's (503: worth retrying).
impl From<Failure> for ApiError {
    fn from(f: Failure) -> Self {
        let status = match f.code {
            Code::Database => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError(status, f.message)
    }
}

/// An orq function's `not_found` (an unknown job id) is a 404, by its kind.
impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> Self {
        let not_found = orq::Kind::of_rusqlite(&e) == orq::Kind::NotFound;
        let ApiError(status, message) = Failure::from(e).into();
        ApiError(if not_found { StatusCode::NOT_FOUND } else { status }, message)
    }
}

pub type ApiResult<T> = std::result::Result<T, ApiError>;

pub async fn not_found() -> ApiError {
    ApiError::not_found("no such page")
}
