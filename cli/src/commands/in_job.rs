//! Durable execution from a job's own command (docs/sql/durable.md, "From
//! a shell script"): `orq step`, `orq sleep`, `orq await`, `orq spawn`,
//! `orq gather` and `orq progress` act on the job that `orq worker` runs,
//! named by ORQ_JOB_ID and ORQ_TOKEN in the command's environment. The
//! command runs from the start each time its job runs; each of these
//! remembers what it did (a step's output, a wake-up time, a signal's
//! payload, a child's id) as a step of the job, so a second run goes past
//! it. When the job leaves its worker (a sleep, a wait, a step to try
//! again, children to wait for) or its lease is lost, they exit with status
//! 5: the script must end there (`set -e`, or `|| exit`).

use std::io::{Read, Write};
use std::process::{Command, Stdio};

use clap::Args;
use rusqlite::types::Value;
use serde_json::json;

use crate::duration::parse_seconds;
use crate::exit::{usage, Code, Failure, Result};
use crate::store::{Resend, Store};
use crate::worker::{child::MAX_RESULT_BYTES, result_json};

/// The job a command runs for, from its environment (or flags).
#[derive(Args)]
pub struct JobArgs {
    /// The job [default: $ORQ_JOB_ID, set by orq worker]
    #[arg(long = "job", env = "ORQ_JOB_ID", hide_env = true)]
    id: Option<i64>,
    /// Its lease's token [default: $ORQ_TOKEN, set by orq worker]
    #[arg(long = "token", env = "ORQ_TOKEN", hide_env = true)]
    token: Option<i64>,
}

/// The job and its lease's token.
#[derive(Clone, Copy)]
struct Lease {
    id: i64,
    token: i64,
}

impl Lease {
    /// The SQL parameters ?1 and ?2, and `more` after them.
    fn params(self, more: impl IntoIterator<Item = Value>) -> Vec<Value> {
        [self.id.into(), self.token.into()].into_iter().chain(more).collect()
    }

    /// The status that ends a run whose lease is lost.
    fn lost(self) -> Failure {
        run_over(format!("job {}: lease lost; this run records nothing more", self.id))
    }
}

impl JobArgs {
    fn lease(&self, command: &str) -> Result<Lease> {
        match (self.id, self.token) {
            (Some(id), Some(token)) => Ok(Lease { id, token }),
            _ => Err(usage(format!(
                "orq {command} acts on a running job: run it from a job's command under orq worker \
                 (which sets ORQ_JOB_ID and ORQ_TOKEN), or give --job and --token"
            ))),
        }
    }
}

#[derive(Args)]
pub struct StepArgs {
    /// The step's name, unique within the job
    name: String,
    /// Tries of the step per attempt of the job (between them the job sleeps without a worker) [default: 1]
    #[arg(long)]
    attempts: Option<i64>,
    /// A fixed delay between tries, instead of the backoff (90, 30s, 5m)
    #[arg(long, value_parser = parse_seconds)]
    retry_in: Option<f64>,
    /// The backoff between tries, as a job's: '{"base": 5, "factor": 2, "max": 600}'
    #[arg(long)]
    backoff: Option<String>,
    #[command(flatten)]
    job: JobArgs,
    /// The command that does the step; its stdout is the step's result
    #[arg(last = true, required = true)]
    command: Vec<String>,
}

#[derive(Args)]
pub struct SleepArgs {
    /// A name for this sleep, unique within the job: a second run knows it slept
    name: String,
    /// How long (90, 30s, 15m, 2h, 7d)
    #[arg(value_parser = parse_seconds)]
    duration: f64,
    #[command(flatten)]
    job: JobArgs,
}

#[derive(Args)]
pub struct AwaitArgs {
    /// The signal (what `orq signal NAME` or queue_signal sends)
    signal: String,
    /// Give up after this long (exit 1) [default: ten years]
    #[arg(long, value_parser = parse_seconds)]
    timeout: Option<f64>,
    #[command(flatten)]
    job: JobArgs,
}

#[derive(Args)]
pub struct SpawnArgs {
    /// A name for this child, unique within the job: a second run does not start it again
    name: String,
    /// The child's queue
    queue: String,
    /// Its JSON payload [default: {}]
    payload: Option<String>,
    /// queue_enqueue's options, as JSON ('{"priority": 5}')
    #[arg(long)]
    options: Option<String>,
    #[command(flatten)]
    job: JobArgs,
}

#[derive(Args)]
pub struct GatherArgs {
    #[command(flatten)]
    job: JobArgs,
}

#[derive(Args)]
pub struct ProgressArgs {
    /// A number, or any JSON ('{"done": 3, "total": 10}')
    value: String,
    /// A message to go with it
    message: Option<String>,
    #[command(flatten)]
    job: JobArgs,
}

/// The status that tells a job's script its run is over.
fn run_over(message: String) -> Failure {
    Failure { code: Code::RunOver, message }
}

/// Step NAME's recorded result (JSON text), if it has one.
fn recorded(store: &Store, lease: Lease, name: &str) -> Result<Option<String>> {
    store.one("SELECT queue_step(?1, ?2, ?3)", &lease.params([name.to_string().into()]))
}

/// Records step NAME's result (JSON text); lease lost when it did not.
fn record(store: &Store, lease: Lease, name: &str, result: Option<String>) -> Result<()> {
    // Safe to send again: the first result counts.
    let params = lease.params([name.to_string().into(), result.into()]);
    let done: i64 = store.one("SELECT queue_step_done(?1, ?2, ?3, ?4)", &params)?;
    if done == 0 {
        return Err(lease.lost());
    }
    Ok(())
}

/// Parks the job with `sql` (queue_sleep, queue_await, queue_gather) and
/// `more` parameters after the lease's: the run is over.
fn park(store: &Store, lease: Lease, sql: &str, more: Vec<Value>, why: String) -> Result<Code> {
    let parked: i64 = store.one_with(sql, &lease.params(more), Resend::Never)?;
    if parked == 0 {
        return Err(lease.lost());
    }
    Err(run_over(why))
}

/// Prints a step's result as its command printed it: a JSON string as its
/// text, anything else as JSON.
fn print_result(result: &str) {
    match serde_json::from_str::<serde_json::Value>(result) {
        Ok(serde_json::Value::String(text)) => println!("{text}"),
        Ok(serde_json::Value::Null) => {}
        _ => println!("{result}"),
    }
}

/// `orq step NAME -- CMD`: the step's recorded result, or CMD's output
/// recorded as it. A failed CMD is a failed try (queue_step_fail).
pub fn step(store: &Store, a: StepArgs) -> Result<Code> {
    let lease = a.job.lease("step")?;
    if let Some(result) = recorded(store, lease, &a.name)? {
        print_result(&result);
        return Ok(Code::Ok);
    }
    let (status, stdout, cut) = run_command(&a.command)?;
    if status.success() {
        std::io::stdout().write_all(&stdout).map_err(|e| usage(e.to_string()))?;
        record(store, lease, &a.name, result_json(&stdout, cut))?;
        return Ok(Code::Ok);
    }
    let error = match status.code() {
        Some(code) => format!("exit status {code}"),
        None => "killed by a signal".to_string(),
    };
    let mut retry = serde_json::Map::new();
    if let Some(n) = a.attempts {
        retry.insert("attempts".into(), n.into());
    }
    if let Some(s) = a.retry_in {
        retry.insert("retry_in".into(), s.into());
    }
    if let Some(text) = &a.backoff {
        let backoff = serde_json::from_str(text).map_err(|e| usage(format!("--backoff is not JSON: {e}")))?;
        retry.insert("backoff".into(), backoff);
    }
    let params = lease.params([
        a.name.clone().into(),
        error.clone().into(),
        serde_json::Value::from(retry).to_string().into(),
    ]);
    let failed: Option<String> =
        store.one_with("SELECT queue_step_fail(?1, ?2, ?3, ?4, ?5)", &params, Resend::Never)?;
    match failed.as_deref() {
        None => Err(lease.lost()),
        Some("retry") => {
            Err(run_over(format!("step {}: {error}; the job sleeps until its next try", a.name)))
        }
        // Out of tries: status 1 fails the script, and so the job.
        _ => Err(Failure { code: Code::Failed, message: format!("step {}: {error}; no tries left", a.name) }),
    }
}

/// Runs CMD with the script's stdin and stderr; its status and stdout (the
/// start of it, and whether it was cut).
fn run_command(argv: &[String]) -> Result<(std::process::ExitStatus, Vec<u8>, bool)> {
    let spawned = Command::new(&argv[0]).args(&argv[1..]).stdout(Stdio::piped()).spawn();
    let mut child = spawned.map_err(|e| usage(format!("cannot run {}: {e}", argv[0])))?;
    let mut stdout = Vec::new();
    let mut pipe = child.stdout.take().expect("stdout is piped");
    let read = pipe.by_ref().take(MAX_RESULT_BYTES as u64).read_to_end(&mut stdout);
    // The rest is read and dropped, so the command never blocks on a full pipe.
    let rest = std::io::copy(&mut pipe, &mut std::io::sink()).unwrap_or(0);
    let status = child.wait().map_err(|e| usage(format!("waiting for {}: {e}", argv[0])))?;
    read.map_err(|e| usage(format!("reading the output of {}: {e}", argv[0])))?;
    Ok((status, stdout, rest > 0))
}

/// `orq sleep NAME DURATION`: the job sleeps without a worker; a run after
/// the wake-up time goes past it. Its wake-up time is step `sleep:NAME`.
pub fn sleep(store: &Store, a: SleepArgs) -> Result<Code> {
    let lease = a.job.lease("sleep")?;
    let left = time_left(store, lease, &format!("sleep:{}", a.name), Some(a.duration))?.unwrap_or(0.0);
    if left < CLOCK_TICK {
        return Ok(Code::Ok);
    }
    park(store, lease, "SELECT queue_sleep(?1, ?2, ?3)", vec![left.into()], format!("sleeps {left:.3}s"))
}

/// Less than the queue clock's millisecond: over (a wake-up time is kept in
/// whole milliseconds), as in the Python and Node packages.
const CLOCK_TICK: f64 = 0.001;

/// Seconds left until the time that step `name` records (None: no end).
/// The first run records now + `after` (None: no end) as that step, so
/// every later run counts down to the same time.
fn time_left(store: &Store, lease: Lease, name: &str, after: Option<f64>) -> Result<Option<f64>> {
    let now: f64 = store.read_one("SELECT orq_now()", &[])?;
    let until: Option<f64> = match recorded(store, lease, name)? {
        Some(text) => {
            serde_json::from_str(&text).map_err(|_| usage(format!("step {name} is not a time: {text}")))?
        }
        None => {
            let until = after.map(|seconds| now + seconds);
            record(store, lease, name, Some(json!(until).to_string()))?;
            until
        }
    };
    Ok(until.map(|u| u - now))
}

/// `orq await SIGNAL`: prints the signal's payload once it came; until
/// then the job waits for it without a worker. Exit 1 when the time ran out.
pub fn await_signal(store: &Store, a: AwaitArgs) -> Result<Code> {
    let lease = a.job.lease("await")?;
    if let Some(payload) = recorded(store, lease, &format!("signal:{}", a.signal))? {
        println!("{payload}");
        return Ok(Code::Ok);
    }
    let left = time_left(store, lease, &format!("await:{}", a.signal), a.timeout)?;
    if left.is_some_and(|l| l < CLOCK_TICK) {
        return Err(Failure {
            code: Code::Failed,
            message: format!("no signal {} within the timeout", a.signal),
        });
    }
    let params = vec![a.signal.clone().into(), left.into()];
    park(store, lease, "SELECT queue_await(?1, ?2, ?3, ?4)", params, format!("awaits signal {}", a.signal))
}

/// `orq spawn NAME QUEUE [PAYLOAD]`: starts a child job once, and prints
/// its id. Its step `spawn:NAME` and a key of its own remember it, as the
/// packages' `spawn` does.
pub fn spawn(store: &Store, a: SpawnArgs) -> Result<Code> {
    let lease = a.job.lease("spawn")?;
    let name = format!("spawn:{}", a.name);
    if let Some(child) = recorded(store, lease, &name)? {
        println!("{child}");
        return Ok(Code::Ok);
    }
    let mut options = match a.options.as_deref().map(serde_json::from_str) {
        None => serde_json::Map::new(),
        Some(Ok(serde_json::Value::Object(m))) => m,
        Some(_) => return Err(usage("--options must be a JSON object")),
    };
    options.entry("key").or_insert_with(|| json!(format!("orq:{}:{name}", lease.id)));
    options.entry("key_scope").or_insert_with(|| json!("all"));
    let params = lease.params([
        a.queue.into(),
        a.payload.unwrap_or_else(|| "{}".into()).into(),
        serde_json::Value::from(options).to_string().into(),
    ]);
    // Safe to send again: the key finds the child a first send started.
    let child: Option<i64> = store.one("SELECT queue_spawn(?1, ?2, ?3, ?4, ?5)", &params)?;
    let child = child.ok_or_else(|| lease.lost())?;
    record(store, lease, &name, Some(child.to_string()))?;
    println!("{child}");
    Ok(Code::Ok)
}

/// `orq gather`: prints the children (queue_children's JSON) once every
/// one finished; until then the job waits for them without a worker.
pub fn gather(store: &Store, a: GatherArgs) -> Result<Code> {
    let lease = a.job.lease("gather")?;
    let children: String = store.read_one("SELECT queue_children(?1)", &[lease.id.into()])?;
    let unfinished = serde_json::from_str::<Vec<serde_json::Value>>(&children)
        .unwrap_or_default()
        .iter()
        .filter(|c| matches!(c["state"].as_str(), Some("waiting" | "ready" | "running")))
        .count();
    if unfinished == 0 {
        println!("{children}");
        return Ok(Code::Ok);
    }
    park(store, lease, "SELECT queue_gather(?1, ?2)", vec![], format!("waits for {unfinished} children"))
}

/// `orq progress VALUE [MESSAGE]`: as the packages report it, a value and
/// an optional message.
pub fn progress(store: &Store, a: ProgressArgs) -> Result<Code> {
    let lease = a.job.lease("progress")?;
    let value: serde_json::Value =
        serde_json::from_str(&a.value).map_err(|e| usage(format!("progress is not JSON: {e}")))?;
    let report = match a.message {
        Some(message) => json!({ "value": value, "message": message }),
        None => value,
    };
    let recorded: i64 =
        store.one("SELECT queue_progress(?1, ?2, ?3)", &lease.params([report.to_string().into()]))?;
    if recorded == 0 {
        return Err(lease.lost());
    }
    Ok(Code::Ok)
}
