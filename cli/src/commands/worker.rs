//! `orq worker` and `orq systemd-unit`.

use crate::store::Store;
use clap::Args;
use serde_json::Value;

use crate::duration::{from_secs, parse_seconds};
use crate::exit::{usage, Code, Result};
use crate::worker::log::LogFormat;
use crate::worker::{hostname, Config, Engine};

#[derive(Args, Clone)]
pub struct WorkerArgs {
    /// Claim from this queue (repeatable) [default: every queue]
    #[arg(long = "queue", short)]
    queues: Vec<String>,
    /// Jobs run at once
    #[arg(long, short = 'c', default_value_t = 1)]
    concurrency: usize,
    /// Most jobs claimed at a time [default: --concurrency]
    #[arg(long)]
    batch: Option<usize>,
    /// Kill a job (its whole process group) after this long; a job's own
    /// `timeout` option applies too, the shorter wins
    #[arg(long, value_parser = parse_seconds)]
    timeout: Option<f64>,
    /// On SIGTERM or SIGINT, how long running jobs may take to finish before
    /// they are killed and released (a second signal: at once)
    /// [default: 30, orq's default]
    #[arg(long, value_parser = parse_seconds)]
    grace: Option<f64>,
    /// A capability of this worker, for jobs that require it (repeatable)
    #[arg(long = "cap")]
    caps: Vec<String>,
    /// This worker's name in the registry [default: HOST-PID]
    #[arg(long)]
    name: Option<String>,
    /// Log lines on stderr: human, json (one object a line) or quiet; the
    /// Python and Node workers read the same $ORQ_LOG_FORMAT
    #[arg(long, value_enum, env = "ORQ_LOG_FORMAT", default_value = "human")]
    log_format: LogFormat,
    /// The longest one wait for new jobs lasts before the worker looks
    /// again (new jobs wake it at once: this matters only where the
    /// database's directory cannot be watched, as on network file systems)
    #[arg(long, value_parser = parse_seconds, default_value = "1")]
    poll_max: f64,
    /// Instead of a command, a built-in handler: `noop` completes every job
    /// at once (to measure the queue itself)
    #[arg(long, value_parser = ["noop"])]
    builtin: Option<String>,
    /// Exit once no job of the worker's queues is due or running
    ///
    /// Exits with status 0 when none of the worker's queues has a job that
    /// is due now (ready, in a queue that is not paused) or running, on this
    /// worker or any other: a running job may still fail, be released or
    /// lose its lease, and come back. Jobs due later are left for a later
    /// worker: --delay and run_at, a failed job waiting out its backoff
    /// before the next attempt, workflow jobs whose parents are not
    /// running, recurring schedules. Due jobs routed to other workers
    /// (requires, worker) count as due.
    #[arg(long)]
    until_empty: bool,
    /// Run this for each job, with the payload on stdin and ORQ_JOB_ID,
    /// ORQ_QUEUE, ORQ_ATTEMPT in its environment [default: the payload's
    /// "cmd" through sh -c, the strings of its "args" array as $1, $2, ...]
    #[arg(last = true)]
    command: Vec<String>,
}

impl WorkerArgs {
    pub fn config(&self, db: &std::path::Path) -> Result<Config> {
        let queues = match self.queues.as_slice() {
            [] => None,
            names => Some(Value::from(names.to_vec()).to_string()),
        };
        if self.builtin.is_some() && !self.command.is_empty() {
            return Err(usage("give a command or --builtin, not both"));
        }
        Ok(Config {
            name: self.name.clone().unwrap_or_else(|| format!("{}-{}", hostname(), std::process::id())),
            queues,
            concurrency: self.concurrency,
            batch: self.batch.unwrap_or(self.concurrency),
            timeout: self.timeout.map(from_secs),
            grace: self.grace.map(from_secs),
            capabilities: self.caps.clone(),
            command: self.command.clone(),
            noop: self.builtin.is_some(),
            max_idle_poll: from_secs(self.poll_max.max(0.001)),
            log: self.log_format,
            db_path: std::fs::canonicalize(db).unwrap_or_else(|_| db.to_path_buf()).display().to_string(),
        })
    }
}

pub fn worker(store: &Store, db: &std::path::Path, args: &WorkerArgs) -> Result<Code> {
    let cfg = args.config(db)?;
    let queues = cfg.queues.clone();
    let mut engine = Engine::start(store, cfg)?;
    engine.run(|c| Ok(args.until_empty && due_or_running(c, queues.as_deref())? == 0), |_| {})?;
    Ok(Code::Ok)
}

/// Jobs of `queues` (a JSON array; None: every queue) that are due (ready
/// and not paused) or running, from queue_stats. `--until-empty` asks this
/// only when the worker holds no job and its last claim found none, so the
/// worker's own finished jobs are committed; a job it failed is counted
/// again only if its retry is due at once.
fn due_or_running(store: &Store, queues: Option<&str>) -> Result<i64> {
    store.read_one(
        "SELECT coalesce(sum(iif(paused, 0, ready) + running), 0) FROM queue_stats
         WHERE ?1 IS NULL OR queue IN (SELECT value FROM json_each(?1))",
        &[queues.map(str::to_string).into()],
    )
}

#[derive(Args)]
pub struct UnitArgs {
    /// The unit's name (orq-NAME.service)
    name: String,
    /// The `orq worker` options, after `--`
    #[arg(last = true)]
    worker_args: Vec<String>,
}

/// Prints a systemd unit that runs `orq worker` with these arguments.
pub fn systemd_unit(db: &std::path::Path, args: &UnitArgs) -> Result<Code> {
    // Parse the worker's options the way `orq worker` will, to catch mistakes
    // now and to read --grace.
    #[derive(clap::Parser)]
    struct Check {
        #[command(flatten)]
        worker: WorkerArgs,
    }
    let check = <Check as clap::Parser>::try_parse_from(
        std::iter::once("orq worker".to_string()).chain(args.worker_args.iter().cloned()),
    )
    .map_err(|e| usage(format!("invalid worker arguments: {e}")))?;
    let exe = std::env::current_exe().map_err(|e| usage(format!("cannot find the orq binary: {e}")))?;
    let db = std::fs::canonicalize(db).unwrap_or_else(|_| db.to_path_buf());
    let quoted: Vec<String> = args.worker_args.iter().map(|a| shell_quote(a)).collect();
    print!(
        "\
[Unit]
Description=orq worker {name}
After=network-online.target

[Service]
Type=notify
NotifyAccess=main
ExecStart={exe} --db {db} worker --name {name} {args}
Restart=on-failure
RestartSec=2
# SIGTERM goes to the worker only; it lets running jobs finish, then kills
# and releases what is left. systemd kills everything after TimeoutStopSec.
KillSignal=SIGTERM
KillMode=mixed
TimeoutStopSec={stop}
WatchdogSec=30

[Install]
WantedBy=multi-user.target
",
        name = args.name,
        exe = exe.display(),
        db = shell_quote(&db.display().to_string()),
        args = quoted.join(" "),
        stop = check.worker.grace.unwrap_or(orq::DEFAULT_GRACE_MS as f64 / 1000.0).ceil() as u64 + 10,
    );
    Ok(Code::Ok)
}

/// Quotes a word for a systemd ExecStart line (or a shell).
fn shell_quote(word: &str) -> String {
    if !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+".contains(c)) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}
