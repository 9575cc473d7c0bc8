//! A few SQLite connections for the request handlers. rusqlite is
//! synchronous: each use runs on tokio's blocking threads and hands the
//! connection back before the handler awaits anything else, so no
//! connection is ever held across an await.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use tokio::sync::Semaphore;

use super::error::{ApiError, ApiResult};
use crate::exit::Result;

/// At most this many requests use the database at once (2 cores: more
/// would only queue inside SQLite's lock instead of here).
const SIZE: usize = 4;

pub struct Pool {
    path: PathBuf,
    durable: bool,
    idle: Mutex<Vec<Connection>>,
    permits: Semaphore,
}

impl Pool {
    pub fn new(path: &Path, durable: bool) -> Pool {
        Pool {
            path: path.to_path_buf(),
            durable,
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(SIZE),
        }
    }

    /// Runs `f` with a connection on a blocking thread.
    pub async fn run<T, F>(self: &Arc<Self>, f: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| ApiError(axum::http::StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
        let pool = self.clone();
        tokio::task::spawn_blocking(move || {
            let conn = pool.take()?;
            let result = f(&conn);
            pool.give(conn);
            result
        })
        .await
        .map_err(|e| ApiError(axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(ApiError::from)
    }

    fn take(&self) -> Result<Connection> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        match idle {
            Some(c) => Ok(c),
            None => crate::db::open(&self.path, self.durable),
        }
    }

    fn give(&self, conn: Connection) {
        // A statement left in a transaction (it should not happen) must not
        // hold a read snapshot forever: such a connection is dropped.
        if conn.is_autocommit() {
            self.idle.lock().unwrap_or_else(|e| e.into_inner()).push(conn);
        }
    }
}
