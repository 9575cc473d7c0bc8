//! Live updates and alerts.
//!
//! One thread watches the database: every 500 ms it reads `PRAGMA
//! data_version` on its own connection (which changes when any other
//! connection, in any process, commits), and when it changed, or
//! `--interval` passed (ages and rates move without commits), it rebuilds
//! the overview snapshot. The snapshot goes to every open `/events/stream`
//! through a watch channel (one database read however many pages are open)
//! after each commit, and when it differs from the last one. Every
//! `--interval` the thread also calls `queue_alerts_check()` and runs
//! `--on-alert` for each alert that started firing.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde_json::{json, Map, Value};
use tokio::sync::watch;

use super::history::History;
use super::Shared;
use crate::exit::Result;
use crate::store::{Source, Store};
use crate::time::now_secs;

const POLL: Duration = Duration::from_millis(500);

pub struct Watcher {
    snapshots: watch::Receiver<Arc<String>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Whether this server evaluates alert rules (a write to their states), and
/// what it runs when one fires. A --read-only server only shows them.
pub enum Alerts {
    Check { on_alert: Option<String> },
    ShowOnly,
}

impl Watcher {
    pub fn start(
        source: &Source,
        interval: Duration,
        alerts: Alerts,
        stopping: watch::Receiver<bool>,
    ) -> Result<Watcher> {
        let reader = source.open()?;
        // Alert checks write (rule states); on a connection of their own,
        // so that their commits, too, show in the reader's data_version.
        let writer = source.open()?;
        let mut history = History::default();
        let mut last = overview(&reader, &mut history)?;
        let (tx, snapshots) = watch::channel(Arc::new(stamped(&last, 1)));
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let source = source.clone();
        let thread = std::thread::Builder::new()
            .name("orq-serve-watch".into())
            .spawn(move || {
                let mut version = data_version(&reader);
                let mut seq = 1u64;
                let (mut refreshed, mut checked) = (Instant::now(), None::<Instant>);
                let mut last_error = String::new();
                let mut report = |what: &str, e: crate::exit::Failure| {
                    let message = format!("orq serve: {what}: {}", e.message);
                    if message != last_error {
                        eprintln!("{message}");
                        last_error = message;
                    }
                };
                while !flag.load(Ordering::Relaxed) && !*stopping.borrow() {
                    let due = checked.is_none_or(|t| t.elapsed() >= interval);
                    if let (true, Alerts::Check { on_alert }) = (due, &alerts) {
                        checked = Some(Instant::now());
                        if let Err(e) = check_alerts(&writer, on_alert.as_deref(), &source) {
                            report("checking alerts", e);
                        }
                    }
                    let now_version = data_version(&reader);
                    let committed = now_version != version;
                    if committed || refreshed.elapsed() >= interval {
                        version = now_version;
                        refreshed = Instant::now();
                        match overview(&reader, &mut history) {
                            // A commit is news even when the overview is the
                            // same: an open job page shows its job's progress,
                            // which changes no count.
                            Ok(next) if committed || next != last => {
                                seq += 1;
                                let _ = tx.send(Arc::new(stamped(&next, seq)));
                                last = next;
                            }
                            Ok(_) => {}
                            Err(e) => report("reading the overview", e),
                        }
                    }
                    std::thread::sleep(POLL);
                }
            })
            .map_err(|e| crate::exit::usage(format!("cannot start the watcher: {e}")))?;
        Ok(Watcher { snapshots, stop, thread: Some(thread) })
    }

    pub fn snapshots(&self) -> watch::Receiver<Arc<String>> {
        self.snapshots.clone()
    }

    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Changes when another connection commits. On a cluster it is the
/// leader's count: a new leader's differs, which only refreshes once more.
fn data_version(store: &Store) -> i64 {
    store.read_one("PRAGMA data_version", &[]).unwrap_or(-1)
}

/// The snapshot as sent: its sequence number and time added.
fn stamped(content: &Value, seq: u64) -> String {
    let mut v = content.clone();
    if let Some(m) = v.as_object_mut() {
        m.insert("seq".into(), seq.into());
        m.insert("at".into(), now_secs().into());
    }
    v.to_string()
}

/// Every queue's counts and rates, totals, workers by state, alert rules
/// and the last hour's charts.
pub fn overview(store: &Store, history: &mut History) -> Result<Value> {
    let now = now_secs();
    let stats = store.read(
        "SELECT queue, ready, scheduled, running, waiting, done, dead, cancelled, paused, oldest_ready_age,
                retention
         FROM queue_stats",
        &[],
    )?;
    // Two statements instead of a join: a table-valued function on the
    // right of a join may be re-run for every row on the left.
    let rates = store.read("SELECT queue, done, dead FROM queue_rates(60)", &[])?;
    let mut last_minute: BTreeMap<String, (Value, Value)> = BTreeMap::new();
    for r in rates.to_json().as_array().into_iter().flatten() {
        let q = r["queue"].as_str().unwrap_or_default().to_string();
        last_minute.insert(q, (r["done"].clone(), r["dead"].clone()));
    }
    let mut totals = Map::new();
    let mut pending = BTreeMap::new();
    let mut queues = Vec::new();
    for mut q in stats.to_json().as_array().cloned().unwrap_or_default() {
        let name = q["queue"].as_str().unwrap_or_default().to_string();
        for key in ["ready", "scheduled", "running", "waiting", "done", "dead", "cancelled"] {
            let n = q[key].as_i64().unwrap_or(0);
            let t = totals.entry(key).or_insert(json!(0));
            *t = json!(t.as_i64().unwrap_or(0) + n);
        }
        pending.insert(
            name.clone(),
            ["ready", "scheduled", "waiting"].iter().map(|k| q[*k].as_i64().unwrap_or(0)).sum::<i64>(),
        );
        let (done, dead) = last_minute.remove(&name).unwrap_or((json!(0), json!(0)));
        if let Some(m) = q.as_object_mut() {
            m.insert("done_last_minute".into(), done);
            m.insert("dead_last_minute".into(), dead);
        }
        queues.push(q);
    }
    let mut workers = json!({ "alive": 0, "dead": 0, "stopped": 0 });
    for w in store
        .read("SELECT state, count(*) AS n FROM queue_workers GROUP BY state", &[])?
        .to_json()
        .as_array()
        .into_iter()
        .flatten()
    {
        if let Some(state) = w["state"].as_str() {
            workers[state] = w["n"].clone();
        }
    }
    let alerts = store.read("SELECT * FROM queue_alerts", &[])?.to_json();
    let limits = limits(store)?;
    history.update(store, now)?;
    Ok(json!({
        "queues": queues,
        "totals": totals,
        "workers": workers,
        "alerts": alerts,
        "limits": limits,
        "chart": history.series(now, &pending),
    }))
}

/// The limits in force (queue_limits): each queue's and its groups'
/// defaults, with the due jobs they hold back (queue_metrics' held_back),
/// and per queue the five groups that run the most jobs.
fn limits(store: &Store) -> Result<Value> {
    Ok(store
        .read(
            "WITH held AS (SELECT queue, value AS held_back FROM queue_metrics WHERE metric = 'held_back')
         SELECT l.*, held.held_back FROM (
           SELECT *, row_number() OVER (PARTITION BY queue, scope ORDER BY running DESC, grp) AS rank
           FROM queue_limits) AS l
         LEFT JOIN held ON held.queue = l.queue AND l.scope = 'queue'
         WHERE l.scope <> 'group' OR l.rank <= 5
         ORDER BY l.queue, l.scope = 'group', l.scope, l.rank",
            &[],
        )?
        .to_json())
}

/// Evaluates the alert rules; runs the hook for each that started firing.
fn check_alerts(store: &Store, on_alert: Option<&str>, source: &Source) -> Result<()> {
    let text: String = store.one("SELECT queue_alerts_check()", &[])?;
    let fired: Vec<Value> = serde_json::from_str(&text).unwrap_or_default();
    for alert in fired {
        eprintln!(
            "orq serve: alert {} firing: {}{} {} {} (value {})",
            alert["name"].as_str().unwrap_or("?"),
            alert["metric"].as_str().unwrap_or("?"),
            alert["queue"].as_str().map(|q| format!(" of {q}")).unwrap_or_default(),
            alert["op"].as_str().unwrap_or("?"),
            alert["threshold"],
            alert["value"],
        );
        if let Some(cmd) = on_alert {
            run_hook(cmd, alert, source);
        }
    }
    Ok(())
}

/// Starts `sh -c CMD` with the alert on stdin; a thread of its own feeds it
/// and waits for it, so a slow hook never delays the server or the next
/// check. ORQ_DB (and on a cluster ORQ_CLUSTER) point an `orq` the hook
/// runs at the same queue.
fn run_hook(cmd: &str, alert: Value, source: &Source) {
    let text = |v: &Value| match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut sh = Command::new("sh");
    if let Source::Cluster { addresses, .. } = source {
        sh.env("ORQ_CLUSTER", addresses);
    }
    let spawned = sh
        .arg("-c")
        .arg(cmd)
        .env("ORQ_ALERT_NAME", text(&alert["name"]))
        .env("ORQ_ALERT_QUEUE", text(&alert["queue"]))
        .env("ORQ_ALERT_VALUE", text(&alert["value"]))
        .env("ORQ_DB", source.db())
        .stdin(Stdio::piped())
        .spawn();
    let name = text(&alert["name"]);
    match spawned {
        Err(e) => eprintln!("orq serve: --on-alert for {name}: cannot start sh: {e}"),
        Ok(mut child) => {
            let input = format!("{alert}\n");
            let _ = std::thread::Builder::new().name("orq-serve-hook".into()).spawn(move || {
                if let Some(mut stdin) = child.stdin.take() {
                    let _ = stdin.write_all(input.as_bytes()); // a hook may not read it
                }
                match child.wait() {
                    Ok(s) if s.success() => {}
                    Ok(s) => eprintln!("orq serve: --on-alert for {name}: {s}"),
                    Err(e) => eprintln!("orq serve: --on-alert for {name}: {e}"),
                }
            });
        }
    }
}

/// `GET /events/stream`: the current snapshot at once, then each new one,
/// as `event: snapshot`; comments keep idle connections open. The stream
/// ends when the server shuts down.
pub async fn stream(
    State(app): State<Shared>,
) -> Sse<impl Stream<Item = std::result::Result<Event, Infallible>>> {
    let state = (app.snapshot.clone(), app.stopping.clone(), true);
    let events = futures_util::stream::unfold(state, |(mut rx, mut stopping, first)| async move {
        if !first {
            tokio::select! {
                changed = rx.changed() => changed.ok()?,
                _ = stopping.changed() => return None,
            }
        }
        if *stopping.borrow() {
            return None;
        }
        let data = rx.borrow_and_update().clone();
        let event = Event::default().event("snapshot").retry(Duration::from_secs(2)).data(data.as_str());
        Some((Ok(event), (rx, stopping, false)))
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
