//! The subcommands. Each calls orq's SQL functions and tables; none holds
//! queue logic of its own.

use std::io::Read;

use clap::{Args, Subcommand};
use rusqlite::types::Value;
use serde_json::{json, Map};

use crate::duration::parse_seconds;
use crate::exit::{usage, Code, Result};
use crate::output::Output;
use crate::store::{Resend, Source, Store};

mod cluster;
mod copy;
mod demo;
mod flows;
pub mod health;
mod in_job;
mod litestream;
mod run;
mod watch;
mod watch_dir;
mod worker;

#[derive(Subcommand)]
pub enum Command {
    /// Add a job to a queue and print its id; with --watch DIR, one per file that appears in DIR
    Enqueue(EnqueueArgs),
    /// Jobs of every queue, counted by state
    Stats,
    /// List jobs, newest first
    Jobs(JobsArgs),
    /// Everything about one job
    Show {
        /// Job id
        id: i64,
        /// Also say whether this fencing token holds the job's lease, and if not why
        #[arg(long)]
        token: Option<i64>,
    },
    /// Cancel jobs that have not finished (a running job's worker loses its lease)
    Cancel {
        /// Job ids
        #[arg(required = true)]
        ids: Vec<i64>,
    },
    /// Make dead or cancelled jobs ready again, with fresh attempts
    Retry {
        /// Job ids
        #[arg(required = true)]
        ids: Vec<i64>,
    },
    /// Stop claims from a queue (jobs keep arriving)
    Pause { queue: String },
    /// Let claims take a paused queue's jobs again
    Resume { queue: String },
    /// Send a signal: every job awaiting NAME (queue_await) wakes with the
    /// payload; when none awaits it, it is kept a week for the first that does
    Signal {
        /// The signal's name (what queue_await waits for)
        name: String,
        /// JSON payload [default: null]
        payload: Option<String>,
    },
    /// In a job's command: run CMD as step NAME of the job once; a second
    /// run prints the recorded output instead (docs/sql/durable.md)
    Step(in_job::StepArgs),
    /// In a job's command: the job sleeps without a worker, and the command must end (exit 5)
    Sleep(in_job::SleepArgs),
    /// In a job's command: print signal SIGNAL's payload; until it comes the
    /// job waits without a worker, and the command must end (exit 5)
    Await(in_job::AwaitArgs),
    /// In a job's command: start a child job once, and print its id
    Spawn(in_job::SpawnArgs),
    /// In a job's command: print the children once all finished; until then
    /// the job waits without a worker, and the command must end (exit 5)
    Gather(in_job::GatherArgs),
    /// In a job's command: report how far the job got
    Progress(in_job::ProgressArgs),
    /// Limits on running jobs and claim rates, per queue and per group: show, set or remove them
    Limits {
        #[command(subcommand)]
        action: Option<LimitsAction>,
    },
    /// Delete finished jobs (done, dead, cancelled) and their history
    Purge(PurgeArgs),
    /// Versions, schema and connection settings
    Debug,
    /// Enqueue a small mix of jobs and work through them
    Demo,
    /// Run jobs: claim, run a command per job, complete or fail it
    Worker(worker::WorkerArgs),
    /// Print a systemd unit that runs `orq worker` with the given options
    SystemdUnit(worker::UnitArgs),
    /// Print a Litestream configuration that backs the database up continuously
    LitestreamConfig(litestream::LitestreamArgs),
    /// Run a command for every item of a JSON-lines file, N at a time, with progress
    Run(run::RunArgs),
    /// A live view of every queue and worker
    Watch(watch::WatchArgs),
    /// Submit, show, list and cancel workflows (DAGs of jobs)
    #[command(subcommand)]
    Workflow(flows::WorkflowCommand),
    /// The audit trail: recent events, and with --follow new ones as they happen
    Events(flows::EventsArgs),
    /// Recurring jobs (cron)
    #[command(subcommand)]
    Schedule(flows::ScheduleCommand),
    /// Check the database, disk, WAL, workers, dead jobs and alerts; exit 0 ok, 1 warning, 2 critical
    Health(health::HealthArgs),
    /// Alert rules stored in the database (see `orq serve --on-alert`)
    #[command(subcommand)]
    Alert(health::AlertCommand),
    /// A web dashboard, Prometheus /metrics and /health over HTTP
    Serve(crate::serve::ServeArgs),
    /// Run one SQL statement (orq's functions included) and print its rows
    Sql {
        /// The statement
        statement: String,
    },
    /// The nodes of a cluster (--cluster): status, remove, transfer the leadership
    #[command(subcommand)]
    Cluster(cluster::ClusterCommand),
}

#[derive(Args)]
pub struct EnqueueArgs {
    /// Queue name (letters, digits, _ - . : /)
    queue: String,
    /// JSON payload; `-` reads it from stdin [default: {}]
    payload: Option<String>,
    /// A shell command to run as the job: the payload becomes {"cmd": CMD}
    /// (with --watch: the file's fields, and "args": [PATH], so CMD finds
    /// the file as "$1")
    #[arg(long, conflicts_with = "payload")]
    cmd: Option<String>,
    /// Keep running: enqueue a job for each file that appears in DIR
    ///
    /// Enqueues a job for each regular file in DIR: those there at start,
    /// then each one closed after writing in DIR or moved into it (write
    /// elsewhere and `mv` it in: no job sees half a file). Dotfiles and
    /// subdirectories are ignored. The payload is {"path": ABSOLUTE PATH,
    /// "name": NAME, "size": BYTES}. A file is enqueued once: its key is made
    /// of its path, inode and modification time, and a restart skips the
    /// files whose jobs still exist (finished or not; a purged job's file
    /// comes again). A file written again is a new file: jobs must write
    /// their output elsewhere. Prints "ID PATH" per job; runs until SIGINT
    /// or SIGTERM
    #[arg(long, value_name = "DIR", conflicts_with_all = ["payload", "lines", "key"])]
    watch: Option<std::path::PathBuf>,
    /// Each line of the payload (`-`: of stdin) is the JSON payload of one
    /// job; all are enqueued in one statement and their ids printed in order
    #[arg(long, requires = "payload", conflicts_with = "key")]
    lines: bool,
    /// Higher runs first
    #[arg(long, allow_hyphen_values = true)]
    priority: Option<i64>,
    /// Wait before the job is due (30s, 15m, 2h, 7d)
    #[arg(long, value_parser = parse_seconds, conflicts_with = "run_at")]
    delay: Option<f64>,
    /// Due at this unix time (seconds)
    #[arg(long)]
    run_at: Option<f64>,
    /// Claims allowed before the job is dead
    #[arg(long)]
    max_attempts: Option<i64>,
    /// How long a claim holds the job
    #[arg(long, value_parser = parse_seconds)]
    lease: Option<f64>,
    /// Idempotency key: while a live job of the queue has it, that job's id is returned
    #[arg(long)]
    key: Option<String>,
    /// The job's group (a tenant, a customer): its limits and its fair share of the queue
    #[arg(long)]
    group: Option<String>,
    /// More options as a JSON object (see queue_enqueue)
    #[arg(long)]
    options: Option<String>,
}

#[derive(Args)]
pub struct JobsArgs {
    /// Only this queue
    #[arg(long, short)]
    queue: Option<String>,
    /// Only this state (waiting, ready, running, done, dead, cancelled)
    #[arg(long, short)]
    state: Option<String>,
    /// At most this many
    #[arg(long, short = 'n', default_value_t = 20)]
    limit: i64,
}

#[derive(Subcommand)]
pub enum LimitsAction {
    /// Every limit in force, with how many of its jobs run now (the default)
    Show,
    /// Set limits of a queue, of each of its groups, or (with --group) of one group
    Set(LimitsSetArgs),
    /// Remove every limit of a queue, or (with --group) one group's own limits
    Remove {
        queue: String,
        /// Only this group's own limits: it goes back to the queue's defaults
        #[arg(long)]
        group: Option<String>,
    },
}

#[derive(Args)]
pub struct LimitsSetArgs {
    queue: String,
    /// Set the limits of this one group (--max-running, --rate) over the queue's defaults
    #[arg(long, conflicts_with_all = ["group_max_running", "group_rate"])]
    group: Option<String>,
    /// How many jobs may run at once, all workers and processes together
    #[arg(long)]
    max_running: Option<u32>,
    /// How many jobs of each group may run at once (1: one at a time per group)
    #[arg(long)]
    group_max_running: Option<u32>,
    /// At most N claims in any window of a period: N/PERIOD (10/1s, 100/1m, 5/30s)
    #[arg(long, value_parser = parse_rate)]
    rate: Option<serde_json::Value>,
    /// The same for each group
    #[arg(long, value_parser = parse_rate)]
    group_rate: Option<serde_json::Value>,
}

/// `N/PERIOD` as queue_configure's rate setting: {"limit": N, "per": seconds}.
fn parse_rate(text: &str) -> std::result::Result<serde_json::Value, String> {
    let (limit, period) =
        text.split_once('/').ok_or_else(|| format!("a rate is N/PERIOD, like 10/1s, got {text:?}"))?;
    let limit: u32 =
        limit.trim().parse().map_err(|_| format!("the rate's N must be a whole number, got {limit:?}"))?;
    let period = if period.starts_with(|c: char| c.is_ascii_digit()) {
        period.to_string()
    } else {
        format!("1{period}")
    };
    Ok(json!({ "limit": limit, "per": parse_seconds(&period)? }))
}

#[derive(Args)]
pub struct PurgeArgs {
    /// Only this queue [default: every queue]
    queue: Option<String>,
    /// Only jobs that finished at least this long ago (30s, 15m, 2h, 7d)
    #[arg(long, value_parser = parse_seconds)]
    older_than: f64,
}

impl Command {
    /// Whether the command starts processes (jobs, `serve --on-alert`
    /// commands) or writes to sockets: those keep SIGPIPE ignored.
    pub fn runs_jobs(&self) -> bool {
        matches!(self, Command::Worker(_) | Command::Run(_) | Command::Demo | Command::Serve(_))
    }
}

pub fn run(store: &Store, source: &Source, command: Command, out: &Output) -> Result<Code> {
    let db = source.db();
    match command {
        Command::Enqueue(a) => enqueue(store, a, out),
        Command::Stats => {
            store.read("SELECT * FROM queue_stats", &[])?.print(out);
            Ok(Code::Ok)
        }
        Command::Jobs(a) => jobs(store, a, out),
        Command::Show { id, token } => show(store, id, token, out),
        Command::Cancel { ids } => each_job(store, "queue_cancel", &ids, "cancelled", out),
        Command::Retry { ids } => each_job(store, "queue_retry", &ids, "retried", out),
        Command::Pause { queue } => toggle(store, "queue_pause", &queue, "paused", out),
        Command::Resume { queue } => toggle(store, "queue_resume", &queue, "resumed", out),
        Command::Signal { name, payload } => signal(store, name, payload, out),
        Command::Step(a) => in_job::step(store, a),
        Command::Sleep(a) => in_job::sleep(store, a),
        Command::Await(a) => in_job::await_signal(store, a),
        Command::Spawn(a) => in_job::spawn(store, a),
        Command::Gather(a) => in_job::gather(store, a),
        Command::Progress(a) => in_job::progress(store, a),
        Command::Limits { action } => limits(store, action.unwrap_or(LimitsAction::Show), out),
        Command::Purge(a) => purge(store, a, out),
        Command::Worker(a) => worker::worker(store, db, &a),
        Command::Cluster(c) => cluster::cluster(store, c, out),
        Command::Sql { statement } => {
            store.rows_with(&statement, &[], Resend::Never)?.print(out);
            Ok(Code::Ok)
        }
        Command::Debug => {
            let text: String = store.read_one("SELECT orq_debug()", &[])?;
            let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| usage(e.to_string()))?;
            if out.json {
                println!("{v}");
            } else if let Some(m) = v.as_object() {
                for (k, v) in m {
                    println!("{k:>16}  {}", v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()));
                }
            }
            Ok(Code::Ok)
        }
        Command::SystemdUnit(a) => worker::systemd_unit(db, &a),
        Command::LitestreamConfig(a) => litestream::config(db, &a),
        // main.rs runs health before opening anything (on a file or a cluster).
        Command::Health(a) => Ok(health::check(source, &a, out)),
        Command::Serve(a) => crate::serve::serve(source, a),
        Command::Demo => demo::run(store, db, out),
        Command::Run(a) => run::run(store, db, &a),
        Command::Workflow(c) => flows::workflow(store, c, out),
        Command::Events(a) => flows::events(store, &a, out),
        Command::Schedule(c) => flows::schedule(store, c, out),
        Command::Alert(c) => health::alert(store, c, out),
        Command::Watch(a) => watch::watch(store, &source.describe(), &a),
    }
}

/// `orq signal`: sent once (a signal sent again would wake or be kept twice).
fn signal(store: &Store, name: String, payload: Option<String>, out: &Output) -> Result<Code> {
    let woken: i64 = store.one_with(
        "SELECT queue_signal(?1, ?2)",
        &[name.clone().into(), payload.into()],
        Resend::Never,
    )?;
    if out.json {
        println!("{}", json!({ "signal": name, "woken": woken }));
    } else if woken > 0 {
        println!("signal {name}: woke {woken} job{}", if woken == 1 { "" } else { "s" });
    } else {
        println!("signal {name}: no job awaits it; kept a week for the first that does");
    }
    Ok(Code::Ok)
}

fn enqueue(store: &Store, a: EnqueueArgs, out: &Output) -> Result<Code> {
    let mut opts = match a.options.as_deref() {
        Some(text) => match serde_json::from_str(text) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => return Err(usage("--options must be a JSON object")),
        },
        None => Map::new(),
    };
    opts.extend(given([
        ("priority", a.priority.map(Into::into)),
        ("delay", a.delay.map(Into::into)),
        ("run_at", a.run_at.map(Into::into)),
        ("max_attempts", a.max_attempts.map(Into::into)),
        ("lease", a.lease.map(Into::into)),
        ("key", a.key.clone().map(Into::into)),
        ("group", a.group.map(Into::into)),
    ]));
    if let Some(dir) = &a.watch {
        let conn = store.file_for("orq enqueue --watch")?;
        let producer = watch_dir::Producer { conn, queue: &a.queue, cmd: a.cmd.as_deref(), options: opts };
        return watch_dir::watch(&producer, dir, out);
    }
    let payload = match (a.cmd, a.payload.as_deref()) {
        (Some(cmd), _) => json!({ "cmd": cmd }).to_string(),
        (None, Some("-")) => {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s).map_err(|e| usage(format!("reading stdin: {e}")))?;
            s
        }
        (None, Some(p)) => p.to_string(),
        (None, None) => "{}".to_string(),
    };
    let options = (!opts.is_empty()).then(|| serde_json::Value::Object(opts).to_string());
    if a.lines {
        return enqueue_lines(store, &a.queue, &payload, options, out);
    }
    // A key makes sending it again after a failover safe: the second
    // enqueue finds the first one's job.
    let resend = if a.key.is_some() { Resend::Safe } else { Resend::Never };
    let id: i64 = store.one_with(
        "SELECT queue_enqueue(?1, ?2, ?3)",
        &[a.queue.into(), payload.into(), options.into()],
        resend,
    )?;
    if out.json {
        println!("{}", json!({ "id": id }));
    } else {
        println!("{id}");
    }
    Ok(Code::Ok)
}

/// The options that flags gave (the `Some` ones), as an options object for orq's functions.
fn given<const N: usize>(flags: [(&str, Option<serde_json::Value>); N]) -> Map<String, serde_json::Value> {
    flags.into_iter().filter_map(|(k, v)| Some((k.to_string(), v?))).collect()
}

/// The non-blank lines of `lines`, each checked to be JSON, in order; an
/// error names `source` and the line (`orq enqueue --lines`, `orq run`).
fn json_lines(lines: impl Iterator<Item = std::io::Result<String>>, source: &str) -> Result<Vec<String>> {
    let mut items = Vec::new();
    for (n, line) in lines.enumerate() {
        let line = line.map_err(|e| usage(format!("reading {source}: {e}")))?;
        if line.trim().is_empty() {
            continue;
        }
        serde_json::from_str::<serde::de::IgnoredAny>(&line)
            .map_err(|e| usage(format!("{source} line {}: not valid JSON ({e})", n + 1)))?;
        items.push(line);
    }
    Ok(items)
}

/// `orq enqueue --lines`: a job per non-empty line, through queue_enqueue_many.
fn enqueue_lines(
    store: &Store,
    queue: &str,
    text: &str,
    options: Option<String>,
    out: &Output,
) -> Result<Code> {
    // Checked here so that an error names the line.
    let payloads = json_lines(text.lines().map(|l| Ok(l.to_string())), "payload")?;
    let array = format!("[{}]", payloads.join(","));
    let args = [queue.to_string().into(), array.into(), options.into()];
    let ids: String = store.one_with("SELECT queue_enqueue_many(?1, ?2, ?3)", &args, Resend::Never)?;
    let ids: Vec<i64> = serde_json::from_str(&ids)
        .map_err(|e| usage(format!("unexpected answer from queue_enqueue_many ({e})")))?;
    if out.json {
        println!("{}", json!({ "ids": ids }));
    } else {
        for id in ids {
            println!("{id}");
        }
    }
    Ok(Code::Ok)
}

fn jobs(store: &Store, a: JobsArgs, out: &Output) -> Result<Code> {
    let mut filters = Vec::new();
    let mut values: Vec<Value> = Vec::new();
    if let Some(q) = a.queue {
        filters.push("queue = ?");
        values.push(Value::Text(q));
    }
    if let Some(s) = a.state {
        filters.push("state = ?");
        values.push(Value::Text(s));
    }
    values.push(Value::Integer(a.limit));
    let columns = if out.json {
        "*"
    } else {
        "id, queue, state, priority, attempts, max_attempts, run_at, worker, error, payload"
    };
    let filter = if filters.is_empty() { String::new() } else { format!(" WHERE {}", filters.join(" AND ")) };
    let sql = format!("SELECT {columns} FROM queue_jobs{filter} ORDER BY id DESC LIMIT ?");
    store.read(&sql, &values)?.print(out);
    Ok(Code::Ok)
}

fn show(store: &Store, id: i64, token: Option<i64>, out: &Output) -> Result<Code> {
    let rows = store.read("SELECT * FROM queue_jobs WHERE id = ?", &[id.into()])?;
    if rows.rows.is_empty() {
        return Err(usage(format!("no job with id {id}")));
    }
    let history = store.read("SELECT * FROM queue_history(?1)", &[id.into()])?;
    // queue_steps' objects as rows: a table for people, the same objects in JSON.
    let steps = store.read(
        "SELECT value->>'name' AS name, value->'result' AS result, value->>'recorded_at' AS recorded_at,
                value->>'failures' AS failures, value->>'error' AS error
         FROM json_each(queue_steps(?1))",
        &[id.into()],
    )?;
    // queue_lease_status's verdict on the token, as JSON.
    let lease = token
        .map(|t| store.read_one::<String>("SELECT queue_lease_status(?1, ?2)", &[id.into(), t.into()]))
        .transpose()?
        .map(|text| serde_json::from_str::<serde_json::Value>(&text).map_err(|e| usage(e.to_string())))
        .transpose()?;
    if out.json {
        let mut shown = json!({ "job": rows.object(&rows.rows[0]), "steps": steps.to_json(), "history": history.to_json() });
        if let Some(lease) = lease {
            shown["lease"] = lease;
        }
        println!("{shown}");
        return Ok(Code::Ok);
    }
    rows.print_record(out);
    if !steps.rows.is_empty() {
        println!();
        steps.print(out);
    }
    println!();
    history.print(out);
    if let Some(lease) = lease {
        println!();
        println!(
            "token {}: {}: {}",
            lease["token"],
            lease["reason"].as_str().unwrap_or("?"),
            lease["message"].as_str().unwrap_or("")
        );
    }
    Ok(Code::Ok)
}

/// Runs `function(id)` for each id; exit status 1 when any changed nothing.
fn each_job(store: &Store, function: &str, ids: &[i64], verb: &str, out: &Output) -> Result<Code> {
    let mut code = Code::Ok;
    let mut results = Vec::new();
    for &id in ids {
        let changed: i64 = store.one(&format!("SELECT {function}(?)"), &[id.into()])?;
        if changed == 0 {
            code = Code::NoChange;
        }
        results.push(json!({ "id": id, "changed": changed == 1 }));
        if !out.json {
            let state: String = store.read_one("SELECT state FROM queue_jobs WHERE id = ?", &[id.into()])?;
            match changed {
                1 => println!("job {id} {verb}"),
                _ => println!("job {id} unchanged (it is {state})"),
            }
        }
    }
    if out.json {
        println!("{}", serde_json::Value::Array(results));
    }
    Ok(code)
}

fn toggle(store: &Store, function: &str, queue: &str, verb: &str, out: &Output) -> Result<Code> {
    let changed: i64 = store.one(&format!("SELECT {function}(?)"), &[queue.to_string().into()])?;
    if out.json {
        println!("{}", json!({ "queue": queue, "changed": changed == 1 }));
    } else if changed == 1 {
        println!("queue {queue} {verb}");
    } else {
        println!("queue {queue} unchanged (already {verb})");
    }
    Ok(if changed == 1 { Code::Ok } else { Code::NoChange })
}

/// Shows the limits (queue_limits), or sets or removes a queue's or a
/// group's through queue_configure or queue_group_configure; exit 1 when
/// that changed nothing.
fn limits(store: &Store, action: LimitsAction, out: &Output) -> Result<Code> {
    let removing = matches!(action, LimitsAction::Remove { .. });
    let (queue, group, settings) = match action {
        LimitsAction::Show => {
            store.read("SELECT * FROM queue_limits", &[])?.print(out);
            return Ok(Code::Ok);
        }
        LimitsAction::Set(a) => {
            let settings = given([
                ("max_running", a.max_running.map(Into::into)),
                ("group_max_running", a.group_max_running.map(Into::into)),
                ("rate", a.rate),
                ("group_rate", a.group_rate),
            ]);
            if settings.is_empty() {
                return Err(usage(
                    "give a limit to set: --max-running, --group-max-running, --rate or --group-rate",
                ));
            }
            (a.queue, a.group, Some(serde_json::Value::Object(settings)))
        }
        LimitsAction::Remove { queue, group: Some(group) } => (queue, Some(group), None),
        LimitsAction::Remove { queue, group: None } => {
            let none = serde_json::Value::Null;
            let all =
                ["max_running", "group_max_running", "rate", "group_rate"].map(|k| (k, Some(none.clone())));
            (queue, None, Some(serde_json::Value::Object(given(all))))
        }
    };
    let text = settings.as_ref().map(|s| s.to_string());
    let changed: i64 = match &group {
        Some(g) => store.one(
            "SELECT queue_group_configure(?, ?, ?)",
            &[queue.clone().into(), g.clone().into(), text.into()],
        )?,
        None => store.one("SELECT queue_configure(?, ?)", &[queue.clone().into(), text.into()])?,
    };
    let whom = match &group {
        Some(g) => format!("queue {queue} group {g}"),
        None => format!("queue {queue}"),
    };
    let what = match (&settings, &group) {
        (None, _) => "its queue's defaults".to_string(),
        (Some(_), None) if removing => "no limits".to_string(),
        (Some(s), _) => s.to_string(),
    };
    if out.json {
        println!(
            "{}",
            json!({ "queue": queue, "group": group, "settings": settings, "changed": changed == 1 })
        );
    } else if changed == 1 {
        println!("{whom}: {what}");
    } else {
        println!("{whom} unchanged (already {what})");
    }
    Ok(if changed == 1 { Code::Ok } else { Code::NoChange })
}

fn purge(store: &Store, a: PurgeArgs, out: &Output) -> Result<Code> {
    let n: i64 = store.one("SELECT queue_purge(?, ?)", &[a.queue.into(), a.older_than.into()])?;
    if out.json {
        println!("{}", json!({ "purged": n }));
    } else {
        println!("purged {n} job{}", if n == 1 { "" } else { "s" });
    }
    Ok(if n > 0 { Code::Ok } else { Code::NoChange })
}
