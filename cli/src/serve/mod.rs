//! `orq serve`: the dashboard, JSON endpoints, Prometheus `/metrics` and
//! `/health` over HTTP (axum on tokio; hyper parses every request).
//!
//! Every number comes from the database through orq's SQL functions and
//! virtual tables, read on a small pool of blocking connections; a watcher
//! thread notices commits (PRAGMA data_version) and pushes snapshots to the
//! pages over Server-Sent Events, and evaluates the alert rules.

mod actions;
mod api;
mod auth;
mod connections;
mod dag;
mod error;
mod history;
mod live;
mod metrics;
mod pages;
mod pool;

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use clap::Args;
use tokio::sync::watch;

use crate::commands::health::HealthOptions;
use crate::duration::{from_secs, parse_seconds};
use crate::exit::{usage, Code, Failure, Result};
use crate::store::Source;

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on (host:port; port 0 picks a free one). Any
    /// address but loopback requires a token
    #[arg(long, default_value = "127.0.0.1:8080")]
    bind: String,
    /// Refuse every action that changes the queue (403)
    #[arg(long)]
    read_only: bool,
    /// Require this token on every request (Authorization: Bearer, or the
    /// cookie that visiting /?token=TOKEN sets)
    #[arg(long, env = "ORQ_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Run this through `sh -c` for each alert that starts firing: the alert
    /// as JSON on stdin, ORQ_ALERT_NAME, ORQ_ALERT_QUEUE, ORQ_ALERT_VALUE set
    #[arg(long, value_name = "CMD")]
    on_alert: Option<String>,
    /// How often alert rules are evaluated and pages refreshed at the latest
    #[arg(long, value_parser = parse_seconds, default_value = "2s")]
    interval: f64,
    /// Connections open at once (each open dashboard page holds one for its
    /// live updates). At the cap a new connection closes the oldest idle
    /// one; when all are busy with requests, it waits until one ends
    #[arg(long, value_name = "N", default_value_t = 256,
          value_parser = clap::value_parser!(u32).range(1..=65_536))]
    max_connections: u32,
    /// Close a connection that has not sent a whole request header this long
    /// after it opened or after its previous response (half-sent requests,
    /// idle keep-alive connections), or that has read nothing of a response
    /// for this long
    #[arg(long, value_name = "DURATION", value_parser = parse_seconds, default_value = "10s")]
    header_timeout: f64,
    /// Defaults for /health (a request's query string may override them)
    #[command(flatten)]
    health: HealthOptions,
}

/// What every handler shares.
pub struct App {
    pub pool: Arc<pool::Pool>,
    pub source: Source,
    pub read_only: bool,
    pub token: Option<String>,
    /// Per-server random secret that pages send back with every action.
    pub csrf: String,
    /// The token cookie's name: per port, since browsers share cookies
    /// between the ports of one host.
    pub cookie: String,
    pub health: HealthOptions,
    pub interval: Duration,
    /// The latest overview snapshot (JSON), pushed by the watcher.
    pub snapshot: watch::Receiver<Arc<String>>,
    /// Becomes true when the server shuts down: ends the event streams.
    pub stopping: watch::Receiver<bool>,
}

pub type Shared = Arc<App>;

/// The largest request body accepted (413 beyond it).
const MAX_BODY: usize = 64 * 1024;

pub fn serve(source: &Source, a: ServeArgs) -> Result<Code> {
    let token =
        match a.token {
            Some(t) if !auth::valid_token(&t) => return Err(usage(
                "--token must be printable ASCII without spaces, quotes, commas, semicolons or backslashes",
            )),
            other => other,
        };
    let addrs: Vec<SocketAddr> =
        a.bind.to_socket_addrs().map_err(|e| usage(format!("--bind {}: {e}", a.bind)))?.collect();
    let Some(&addr) = addrs.first() else {
        return Err(usage(format!("--bind {}: no address", a.bind)));
    };
    if token.is_none() && !addrs.iter().all(|a| a.ip().is_loopback()) {
        return Err(usage(format!(
            "refusing to serve {} without a token: anyone who can reach that address could read \
             and change the queue. Pass --token (or set ORQ_TOKEN), or bind to 127.0.0.1",
            a.bind
        )));
    }
    // Clamped: a day is plenty, and an absurd value must not overflow.
    let interval = from_secs(a.interval.clamp(0.1, 86_400.0));
    let limits = connections::Limits {
        max_connections: a.max_connections as usize,
        header_timeout: from_secs(a.header_timeout.clamp(0.1, 86_400.0)),
    };
    let pool = Arc::new(pool::Pool::new(source.clone()));
    let csrf = auth::random_hex(32).map_err(|e| Failure { code: Code::Database, message: e })?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(16)
        .enable_all()
        .build()
        .map_err(|e| Failure { code: Code::Database, message: format!("cannot start the runtime: {e}") })?;
    runtime.block_on(async move {
        let (stop_tx, stopping) = watch::channel(false);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| Failure { code: Code::Usage, message: format!("cannot listen on {addr}: {e}") })?;
        let bound = listener.local_addr().map_err(|e| usage(e.to_string()))?;
        let alerts =
            if a.read_only { live::Alerts::ShowOnly } else { live::Alerts::Check { on_alert: a.on_alert } };
        let watcher = live::Watcher::start(source, interval, alerts, stopping.clone())?;
        let app = Arc::new(App {
            pool,
            source: source.clone(),
            read_only: a.read_only,
            token,
            csrf,
            cookie: format!("orq_token_{}", bound.port()),
            health: a.health,
            interval,
            snapshot: watcher.snapshots(),
            stopping,
        });
        eprintln!(
            "orq serve: http://{bound}/  (database {}{}{})",
            source.describe(),
            if app.read_only { ", read-only" } else { "" },
            if app.token.is_some() { ", token required" } else { "" }
        );
        connections::serve(listener, router(app), limits, async move {
            shutdown_signal().await;
            let _ = stop_tx.send(true); // ends the event streams
        })
        .await;
        watcher.stop();
        Ok(Code::Ok)
    })
}

fn router(app: Shared) -> Router {
    let pages = ["/", "/jobs", "/jobs/{id}", "/dead", "/workflows", "/workflows/{id}", "/workers"];
    let mut r = Router::new();
    for p in pages {
        r = r.route(p, get(pages::page));
    }
    r.route("/assets/{name}", get(pages::asset))
        .route("/metrics", get(metrics::metrics))
        .route("/health", get(api::health))
        .route("/events/stream", get(live::stream))
        .route("/api/overview", get(api::overview))
        .route("/api/jobs", get(api::jobs))
        .route("/api/jobs/{id}", get(api::job))
        .route("/api/workflows", get(api::workflows))
        .route("/api/workflows/{id}", get(api::workflow))
        .route("/api/workers", get(api::workers))
        .route("/api/alerts", get(api::alerts))
        .route("/api/health", get(api::health_json))
        .route("/api/jobs/{id}/retry", post(actions::retry))
        .route("/api/jobs/{id}/cancel", post(actions::cancel))
        .route("/api/workflows/{id}/cancel", post(actions::cancel_workflow))
        .route("/api/queues/{name}/pause", post(actions::pause))
        .route("/api/queues/{name}/resume", post(actions::resume))
        .route("/api/purge", post(actions::purge))
        .route("/api/signals/{name}", post(actions::signal))
        .fallback(error::not_found)
        // The only body read is /api/purge's small JSON (axum's default
        // would accept 2 MB).
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(app.clone(), auth::guard))
        .with_state(app)
}

/// SIGINT or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt()))
    else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    eprintln!("orq serve: shutting down");
}
