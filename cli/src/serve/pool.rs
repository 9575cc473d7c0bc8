//! A few Stores (connections to the file, or clients of the cluster) for
//! the request handlers. Both are synchronous: each use runs on tokio's
//! blocking threads and hands the store back before the handler awaits
//! anything else, so none is ever held across an await.

use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;

use super::error::{ApiError, ApiResult};
use crate::exit::Result;
use crate::store::{Source, Store};

/// At most this many requests use the database at once (2 cores: more
/// would only queue inside SQLite's lock instead of here).
const SIZE: usize = 4;

pub struct Pool {
    source: Source,
    idle: Mutex<Vec<Store>>,
    permits: Semaphore,
}

impl Pool {
    pub fn new(source: Source) -> Pool {
        Pool { source, idle: Mutex::new(Vec::new()), permits: Semaphore::new(SIZE) }
    }

    /// Runs `f` with a store on a blocking thread.
    pub async fn run<T, F>(self: &Arc<Self>, f: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T> + Send + 'static,
    {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| ApiError(axum::http::StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
        let pool = self.clone();
        tokio::task::spawn_blocking(move || {
            let store = pool.take()?;
            let result = f(&store);
            pool.give(store);
            result
        })
        .await
        .map_err(|e| ApiError(axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(ApiError::from)
    }

    fn take(&self) -> Result<Store> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        match idle {
            Some(s) => Ok(s),
            None => self.source.open(),
        }
    }

    fn give(&self, store: Store) {
        // A statement left in a transaction (it should not happen) must not
        // hold a read snapshot forever: such a connection is dropped. (A
        // cluster client's transactions end within the statement's call.)
        if store.file().is_none_or(|conn| conn.is_autocommit()) {
            self.idle.lock().unwrap_or_else(|e| e.into_inner()).push(store);
        }
    }
}
