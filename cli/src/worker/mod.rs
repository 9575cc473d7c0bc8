//! The worker engine behind `orq worker` and `orq run`: claims jobs, runs
//! each as a process (or the built-in no-op), keeps their leases alive,
//! enforces time limits, records what each run used, and shuts down without
//! losing a job. Every queue operation is a call to orq's SQL functions.

pub mod child;
#[cfg(target_os = "linux")]
pub mod keeper;
pub mod log;
mod notify;
pub mod signals;

use std::time::{Duration, Instant};

use rusqlite::types::Value as Sql;
use serde_json::{json, Value};

use crate::duration::from_secs;
use crate::exit::{usage, Code, Result};
use crate::store::{Resend, Store};
use child::{Child, Exit};
use log::{JobLine, Log, LogFormat};
use notify::Notifier;
use signals::Wakeups;

/// While jobs run, wait for new ones at most this long at a time: a job
/// that ends just before the wait starts is then noticed this late at most.
const WAIT_WHILE_RUNNING: Duration = Duration::from_millis(50);
/// On a cluster, how often an idle worker asks whether a job is due.
const CLUSTER_POLL: Duration = Duration::from_millis(20);

/// How a worker runs.
pub struct Config {
    pub name: String,
    /// A JSON array of queue names, or None for every queue.
    pub queues: Option<String>,
    pub concurrency: usize,
    pub batch: usize,
    pub timeout: Option<Duration>,
    /// How long running jobs may finish after a stop signal; None: what
    /// queue_worker_beat says.
    pub grace: Option<Duration>,
    pub capabilities: Vec<String>,
    /// The command to run per job; empty: the payload's "cmd" through `sh -c`.
    pub command: Vec<String>,
    /// Complete every job at once without a process (measures orq itself).
    pub noop: bool,
    pub max_idle_poll: Duration,
    pub log: LogFormat,
    /// Given to jobs as $ORQ_DB, so they can enqueue more work.
    pub db_path: String,
}

/// Why a running job is being ended by the worker rather than by itself.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ending {
    Timeout,
    LeaseLost,
    Released,
}

struct Job {
    id: i64,
    queue: String,
    attempt: i64,
    max_attempts: i64,
    token: i64,
    lease: Duration,
    deadline: Option<Instant>,
    child: Child,
    ending: Option<Ending>,
}

impl Job {
    fn line(&self) -> JobLine<'_> {
        JobLine { id: self.id, queue: &self.queue, attempt: self.attempt, max_attempts: self.max_attempts }
    }
}

/// A job claimed from the queue, before it runs.
struct Claimed {
    id: i64,
    queue: String,
    payload: String,
    attempt: i64,
    token: i64,
    max_attempts: i64,
    timeout: Option<f64>,
    lease: f64,
}

impl Claimed {
    /// A row of `SELECT id, queue, payload, attempt, token, max_attempts,
    /// timeout, lease FROM queue_claim(...)`.
    fn from_row(row: &[Sql]) -> Result<Claimed> {
        use rusqlite::types::{FromSql, ValueRef};
        fn get<T: FromSql>(row: &[Sql], i: usize) -> Result<T> {
            let v = row.get(i).map_or(ValueRef::Null, ValueRef::from);
            T::column_result(v).map_err(|e| usage(format!("queue_claim's column {i}: {e}")))
        }
        Ok(Claimed {
            id: get(row, 0)?,
            queue: get(row, 1)?,
            payload: get(row, 2)?,
            attempt: get(row, 3)?,
            token: get(row, 4)?,
            max_attempts: get(row, 5)?,
            timeout: get(row, 6)?,
            lease: get(row, 7)?,
        })
    }
}

/// The policy queue_worker_beat gives every runtime: how often to beat,
/// when a lease is due to be extended, and the shutdown grace period.
#[derive(serde::Deserialize)]
struct Protocol {
    heartbeat: f64,
    extend_at: f64,
    grace: f64,
}

/// queue_worker_beat's answer.
#[derive(serde::Deserialize)]
struct Beat {
    registered: bool,
    next: f64,
    /// [id, token] of each lease this worker lost.
    lost: Vec<(i64, i64)>,
    #[serde(flatten)]
    protocol: Protocol,
}

/// Counters of a worker's life, for heartbeats, status lines and reports.
#[derive(Default, Clone, Copy)]
pub struct Counts {
    pub done: u64,
    pub failed: u64,
}

pub struct Engine<'c> {
    store: &'c Store,
    cfg: Config,
    wake: Wakeups,
    notify: Notifier,
    log: Log,
    jobs: Vec<Job>,
    pub counts: Counts,
    /// Whether a claim may find a job (queue_wait said so, or we have not
    /// looked yet); an idle worker claims nothing until then.
    maybe_work: bool,
    /// What the last queue_worker_beat answered; the next beat is due then.
    protocol: Protocol,
    next_beat: Instant,
    next_watchdog: Instant,
    /// Set once a stop signal arrived: when running jobs must be done by.
    drain_until: Option<Instant>,
}

impl<'c> Engine<'c> {
    /// Registers the worker, frees jobs of dead workers of this host, and
    /// tells systemd it is ready.
    pub fn start(store: &'c Store, cfg: Config) -> Result<Engine<'c>> {
        if cfg.concurrency == 0 || cfg.batch == 0 {
            return Err(usage("--concurrency and --batch must be at least 1"));
        }
        let wake = Wakeups::install().map_err(|e| usage(format!("cannot install signal handlers: {e}")))?;
        let log = Log { format: cfg.log };
        reap_local_dead_workers(store, &log)?;
        register(store, &cfg)?;
        let notify = Notifier::from_env();
        notify.send("READY=1\nSTATUS=waiting for jobs");
        log.worker(
            "started",
            &format!(
                "{} (concurrency {}, queues {})",
                cfg.name,
                cfg.concurrency,
                cfg.queues.as_deref().unwrap_or("all")
            ),
        );
        let now = Instant::now();
        let mut engine = Engine {
            store,
            cfg,
            wake,
            notify,
            log,
            jobs: Vec::new(),
            counts: Counts::default(),
            maybe_work: true,
            protocol: Protocol { heartbeat: 5.0, extend_at: 0.5, grace: 30.0 },
            next_beat: now,
            next_watchdog: now,
            drain_until: None,
        };
        engine.beat()?; // learns the protocol before the first claim
        Ok(engine)
    }

    /// Runs until a stop signal has drained every job, or until `finished`
    /// says the work is done (checked when the worker holds no job).
    /// `tick` runs after every turn (progress displays).
    pub fn run(
        &mut self,
        mut finished: impl FnMut(&Store) -> Result<bool>,
        mut tick: impl FnMut(&Engine),
    ) -> Result<()> {
        loop {
            self.on_signals();
            // A database error (a lock held too long, a full disk) must not
            // end the worker: it is logged, and the jobs involved come back
            // when their leases run out.
            let turn = self.reap().and_then(|_| {
                self.enforce_limits();
                self.heartbeat()?;
                self.claim()
            });
            let claimed = match turn {
                Ok(n) => n,
                Err(e) => {
                    self.log.worker("error", &e.message);
                    self.wake.wait(Duration::from_millis(200));
                    0
                }
            };
            tick(self);
            if self.jobs.is_empty() && (self.drain_until.is_some() || (claimed == 0 && finished(self.store)?))
            {
                break;
            }
            self.wait(claimed)?;
        }
        self.stop()
    }

    /// A first stop signal starts draining; a second one ends everything now.
    fn on_signals(&mut self) {
        let stops = self.wake.stops();
        if stops >= 1 && self.drain_until.is_none() {
            let grace = self.cfg.grace.unwrap_or_else(|| from_secs(self.protocol.grace));
            self.drain_until = Some(Instant::now() + grace);
            self.notify.send("STOPPING=1");
            self.log.worker(
                "stopping",
                &format!("letting {} running job(s) finish within {grace:?}", self.jobs.len()),
            );
        }
        if stops >= 2 {
            self.drain_until = Some(Instant::now());
        }
    }

    /// Sleeps until there is something to do: with free slots, until a job
    /// may be claimable (queue_wait: woken by the commit that makes it so),
    /// otherwise until a job ends, a signal comes or a deadline is due.
    fn wait(&mut self, claimed: usize) -> Result<()> {
        let free = self.jobs.len() < self.cfg.concurrency && self.drain_until.is_none();
        if free && claimed > 0 {
            return Ok(()); // there may be more right away
        }
        let mut timeout = self.sleep_for();
        if free {
            if !self.jobs.is_empty() {
                timeout = timeout.min(WAIT_WHILE_RUNNING);
            }
            self.maybe_work = self.wait_for_work(timeout)?;
        } else {
            self.wake.wait(timeout);
        }
        Ok(())
    }

    /// How long the loop may sleep before something is due.
    fn sleep_for(&self) -> Duration {
        let now = Instant::now();
        let mut due = vec![self.next_beat, self.next_watchdog];
        for job in &self.jobs {
            due.extend(job.deadline);
        }
        due.extend(self.drain_until);
        due.into_iter()
            .min()
            .map_or(self.cfg.max_idle_poll, |t| t.saturating_duration_since(now))
            .min(self.cfg.max_idle_poll)
    }

    fn claim(&mut self) -> Result<usize> {
        let free = self.cfg.concurrency - self.jobs.len().min(self.cfg.concurrency);
        if free == 0 || self.drain_until.is_some() || !self.maybe_work {
            return Ok(0);
        }
        let n = free.min(self.cfg.batch);
        let claimed = self.claim_from_queue(n)?;
        if claimed.is_empty() {
            self.maybe_work = false;
            return Ok(0);
        }
        let count = claimed.len();
        if self.cfg.noop {
            self.complete_noop(&claimed)?;
        } else {
            for job in claimed {
                self.start_job(job)?;
            }
        }
        Ok(count)
    }

    /// Whether a job may be claimable, waiting up to `timeout` for one. A
    /// cluster's queue_wait only looks (the node's one thread serves every
    /// client), so the worker waits between looks: a new job is seen up to
    /// CLUSTER_POLL late.
    fn wait_for_work(&self, timeout: Duration) -> Result<bool> {
        let ask = |t: Duration| -> Result<bool> {
            let args = [self.cfg.queues.clone().into(), t.as_secs_f64().into(), self.cfg.name.clone().into()];
            Ok(self.store.read_one::<i64>("SELECT queue_wait(?1, ?2, ?3)", &args)? == 1)
        };
        if self.store.file().is_some() {
            return ask(timeout);
        }
        let until = Instant::now() + timeout;
        loop {
            if ask(Duration::ZERO)? {
                return Ok(true);
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() || self.wake.stops() > 0 {
                return Ok(false);
            }
            self.wake.wait(left.min(CLUSTER_POLL));
        }
    }

    fn claim_from_queue(&self, n: usize) -> Result<Vec<Claimed>> {
        let args = [self.cfg.name.clone().into(), (n as i64).into(), self.cfg.queues.clone().into()];
        let sql = "SELECT id, queue, payload, attempt, token, max_attempts, timeout, lease FROM queue_claim(?1, ?2, ?3)";
        let rows = match self.store.rows_with(sql, &args, Resend::Never) {
            Err(e) if e.code == Code::Unknown => {
                self.release_unknown_claims()?;
                return Err(e);
            }
            other => other?,
        };
        rows.rows.iter().map(|r| Claimed::from_row(r)).collect()
    }

    /// After a claim whose outcome the cluster lost: the leases it may have
    /// taken are this worker's running jobs that it does not run. Their
    /// tokens release them (a token no claim took releases nothing), so
    /// they run again now rather than when their leases end.
    fn release_unknown_claims(&self) -> Result<()> {
        let held = self.store.read(
            "SELECT id, token FROM queue_jobs WHERE state = 'running' AND worker = ?1",
            &[self.cfg.name.clone().into()],
        )?;
        for row in &held.rows {
            let (Sql::Integer(id), Sql::Integer(token)) = (&row[0], &row[1]) else { continue };
            if !self.jobs.iter().any(|j| j.id == *id && j.token == *token) {
                self.store
                    .call("SELECT queue_release(?1, ?2)", &[Sql::Integer(*id), Sql::Integer(*token)])?;
                self.log.worker("released", &format!("job {id}: claimed when the cluster lost the claim"));
            }
        }
        Ok(())
    }

    /// The built-in no-op handler: every claimed job completes at once, in
    /// one statement.
    fn complete_noop(&mut self, claimed: &[Claimed]) -> Result<()> {
        complete_many(self.store, claimed.iter().map(|job| completion(job.id, job.token, None)).collect())?;
        self.counts.done += claimed.len() as u64;
        for job in claimed {
            let line = JobLine {
                id: job.id,
                queue: &job.queue,
                attempt: job.attempt,
                max_attempts: job.max_attempts,
            };
            self.log.job(&line, "done", Some(0.0), None);
        }
        Ok(())
    }

    fn start_job(&mut self, c: Claimed) -> Result<()> {
        let line = JobLine { id: c.id, queue: &c.queue, attempt: c.attempt, max_attempts: c.max_attempts };
        let argv = match self.argv_for(&c.payload) {
            Ok(argv) => argv,
            Err(reason) => {
                self.log.job(&line, "failed", None, Some(&reason));
                self.fail(c.id, c.token, Some(reason))?;
                self.counts.failed += 1;
                return Ok(());
            }
        };
        let env = [
            ("ORQ_JOB_ID", c.id.to_string()),
            // The lease's fencing token: the command's own orq calls (its
            // steps, its progress) go through it.
            ("ORQ_TOKEN", c.token.to_string()),
            ("ORQ_QUEUE", c.queue.clone()),
            ("ORQ_ATTEMPT", c.attempt.to_string()),
            ("ORQ_MAX_ATTEMPTS", c.max_attempts.to_string()),
            ("ORQ_WORKER", self.cfg.name.clone()),
            ("ORQ_DB", self.cfg.db_path.clone()),
        ];
        match Child::spawn(&argv, &env, c.payload.into_bytes()) {
            Ok(child) => {
                self.log.job(&line, "started", None, None);
                let lease = from_secs(c.lease.max(0.001));
                // The beat that extends this lease must come by then.
                self.next_beat = self.next_beat.min(child.started + lease.mul_f64(self.protocol.extend_at));
                let limit = match (self.cfg.timeout, c.timeout.map(from_secs)) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                self.jobs.push(Job {
                    id: c.id,
                    queue: c.queue,
                    attempt: c.attempt,
                    max_attempts: c.max_attempts,
                    token: c.token,
                    lease,
                    deadline: limit.map(|l| child.started + l),
                    child,
                    ending: None,
                });
            }
            Err(e) => {
                let reason = format!("cannot start {}: {e}", argv[0]);
                self.log.job(&line, "failed", None, Some(&reason));
                self.fail(c.id, c.token, Some(reason))?;
                self.counts.failed += 1;
            }
        }
        Ok(())
    }

    /// The command line for a job: the worker's command, or the payload's
    /// "cmd" through `sh -c`, with the strings of its "args" array as $1, $2,
    /// ... (file names reach the command unquoted and uninterpreted).
    fn argv_for(&self, payload: &str) -> std::result::Result<Vec<String>, String> {
        if !self.cfg.command.is_empty() {
            return Ok(self.cfg.command.clone());
        }
        // Only "cmd" and "args" are read: the other members are skipped
        // without the parser's recursion limit, so any payload orq accepted
        // is read.
        #[derive(serde::Deserialize)]
        struct Command {
            cmd: Option<Value>,
            args: Option<Value>,
        }
        let fields = serde_json::from_str::<Command>(payload).ok();
        let (cmd, args) = fields.map(|f| (f.cmd, f.args)).unwrap_or((None, None));
        let cmd = cmd
            .as_ref()
            .and_then(Value::as_str)
            .ok_or("the worker has no command and the payload has no \"cmd\" string")?;
        let args = match args {
            None => Vec::new(),
            Some(Value::Array(args)) => args
                .iter()
                .map(|a| a.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or("the payload's \"args\" must be an array of strings")?,
            Some(_) => return Err("the payload's \"args\" must be an array of strings".into()),
        };
        // `sh -c CMD NAME ARGS...`: NAME becomes $0, ARGS $1 onwards.
        Ok(["sh", "-c", cmd, "sh"].into_iter().map(str::to_string).chain(args).collect())
    }

    /// Kills jobs past their time limit, or past the shutdown grace period.
    fn enforce_limits(&mut self) {
        let now = Instant::now();
        let drain_over = self.drain_until.is_some_and(|t| now >= t);
        for job in &mut self.jobs {
            if job.ending.is_some() {
                continue;
            }
            if job.deadline.is_some_and(|d| now >= d) {
                job.ending = Some(Ending::Timeout);
                job.child.kill();
            } else if drain_over {
                job.ending = Some(Ending::Released);
                job.child.kill();
            }
        }
    }

    /// Finishes every job whose process ended, all in one transaction; the
    /// jobs that succeeded complete in one statement (queue_complete_many).
    fn reap(&mut self) -> Result<()> {
        let mut ended = Vec::new();
        let mut i = 0;
        while i < self.jobs.len() {
            match self.jobs[i].child.try_reap() {
                Some(exit) => ended.push((self.jobs.swap_remove(i), exit)),
                None => i += 1,
            }
        }
        if ended.is_empty() {
            return Ok(());
        }
        let mut lines = Vec::new();
        self.store.transaction(|| {
            let (mut completions, mut completed) = (Vec::new(), Vec::new());
            for (i, (job, exit)) in ended.iter().enumerate() {
                let line = self.finish(job, exit)?;
                if line.0 == "done" {
                    completions.push(completion(job.id, job.token, job_result(exit)));
                    completed.push(i);
                }
                lines.push(line);
            }
            let wanted = completions.len() as i64;
            if complete_many(self.store, completions)? < wanted {
                for i in completed {
                    lines[i] = self.not_applied(&ended[i].0)?;
                }
            }
            Ok(())
        })?;
        for ((job, exit), (outcome, detail)) in ended.iter().zip(lines) {
            match outcome {
                "done" => self.counts.done += 1,
                "failed" | "timeout" => self.counts.failed += 1,
                _ => {}
            }
            self.log.job(&job.line(), outcome, Some(exit.wall.as_secs_f64()), detail.as_deref());
        }
        Ok(())
    }

    /// A job whose completion (or failure) did not apply, as
    /// queue_lease_status tells it: completed all the same under this
    /// lease (a batch that did not complete every job); parked by its own
    /// command through ORQ_TOKEN (a sleep, a wait, a step's next try),
    /// though another claim may have taken it since; else its lease was
    /// lost.
    fn not_applied(&self, job: &Job) -> Result<(&'static str, Option<String>)> {
        let text: String =
            self.store.read_one("SELECT queue_lease_status(?1, ?2)", &[job.id.into(), job.token.into()])?;
        let status: Value = serde_json::from_str(&text).unwrap_or_default();
        Ok(match (status["reason"].as_str(), status["ended_by"].as_str()) {
            (Some("finished"), Some("completed")) => ("done", None),
            (Some("parked"), _) => ("suspended", None),
            _ => ("lost", Some("lease lost; not finished".into())),
        })
    }

    /// Records one ended run and fails or releases its job (the caller
    /// completes the jobs that are done, together). Returns the outcome and
    /// the error to log.
    fn finish(&self, job: &Job, exit: &Exit) -> Result<(&'static str, Option<String>)> {
        let (outcome, error) = match (job.ending, exit.code) {
            (Some(Ending::LeaseLost), _) => {
                return Ok(("lost", Some("lease lost; killed, not finished".into())))
            }
            (Some(Ending::Released), _) => ("released", None),
            (Some(Ending::Timeout), _) => {
                ("timeout", Some(format!("timeout after {:.3}s", exit.wall.as_secs_f64())))
            }
            (None, Some(0)) => ("done", None),
            (None, _) => ("failed", Some(failure_message(exit))),
        };
        let usage = json!({
            "outcome": outcome,
            "exit_code": exit.code,
            "wall": exit.wall.as_secs_f64(),
            "user": exit.user.as_secs_f64(),
            "sys": exit.sys.as_secs_f64(),
            "max_rss_kb": exit.max_rss_kb,
        });
        let fenced = [job.id.into(), job.token.into()];
        self.store.call(
            "SELECT queue_record_run(?1, ?2, ?3)",
            &[&fenced[..], &[usage.to_string().into()]].concat(),
        )?;
        match outcome {
            "done" => {}
            "released" => self.store.call("SELECT queue_release(?1, ?2)", &fenced)?,
            _ => {
                // A command that parked its own job and then failed (`orq
                // step` exits 5 after a failed try) is suspended, not failed.
                if !self.fail(job.id, job.token, error.clone())? {
                    return self.not_applied(job);
                }
            }
        }
        Ok((outcome, error))
    }

    /// Beats when the last beat said to (or a new lease needs it), and
    /// tells systemd's watchdog the worker is alive.
    fn heartbeat(&mut self) -> Result<()> {
        let now = Instant::now();
        if now >= self.next_beat {
            self.beat()?;
            self.notify.send(&format!(
                "STATUS=running {} job(s); {} done, {} failed",
                self.jobs.len(),
                self.counts.done,
                self.counts.failed
            ));
        }
        if now >= self.next_watchdog {
            self.notify.send("WATCHDOG=1");
            let heartbeat = from_secs(self.protocol.heartbeat);
            let every = self.notify.watchdog.map_or(heartbeat, |w| (w / 2).min(heartbeat));
            self.next_watchdog = now + every;
        }
        Ok(())
    }

    /// queue_worker_beat, and what its answer says: register again when the
    /// registry does not know this worker, kill the jobs whose leases are
    /// lost (they are never completed by this worker), beat again by `next`.
    /// The leases of running jobs are extended by the beat itself.
    fn beat(&mut self) -> Result<()> {
        let leases: Vec<Value> = self
            .jobs
            .iter()
            .filter(|j| j.ending.is_none())
            .map(|j| json!([j.id, j.token, j.lease.as_secs_f64()]))
            .collect();
        let report = json!({"done": self.counts.done, "failed": self.counts.failed, "leases": leases});
        let answer: String = self.store.one(
            "SELECT queue_worker_beat(?1, ?2)",
            &[self.cfg.name.clone().into(), report.to_string().into()],
        )?;
        let beat: Beat = serde_json::from_str(&answer)
            .map_err(|e| usage(format!("queue_worker_beat answered {answer}: {e}")))?;
        if !beat.registered {
            register(self.store, &self.cfg)?;
        }
        for job in &mut self.jobs {
            if job.ending.is_none() && beat.lost.contains(&(job.id, job.token)) {
                job.ending = Some(Ending::LeaseLost);
                job.child.kill();
            }
        }
        self.next_beat = Instant::now() + from_secs(beat.next);
        self.protocol = beat.protocol;
        Ok(())
    }

    /// Fails a job's run (fenced by its token: safe to send again); false
    /// when its token no longer holds the job.
    fn fail(&self, id: i64, token: i64, error: Option<String>) -> Result<bool> {
        let state: Option<String> =
            self.store.one("SELECT queue_fail(?1, ?2, ?3)", &[id.into(), token.into(), error.into()])?;
        Ok(state.is_some())
    }

    fn stop(&mut self) -> Result<()> {
        self.beat()?; // the last counts
        self.store.call("SELECT queue_worker_stop(?1)", &[self.cfg.name.clone().into()])?;
        self.log.worker("stopped", &format!("{} done, {} failed", self.counts.done, self.counts.failed));
        Ok(())
    }
}

/// The result stored for a job that exited 0: its stdout if that is JSON,
/// else stdout as a JSON string; NULL when it printed nothing.
fn job_result(exit: &Exit) -> Option<String> {
    result_json(&exit.stdout, exit.stdout_cut)
}

/// A command's output as a result: JSON if it is JSON, else a JSON string
/// (saying where it was cut, when `cut`); None when it printed nothing.
/// Also a step's result (`orq step`).
pub fn result_json(stdout: &[u8], cut: bool) -> Option<String> {
    let text = String::from_utf8_lossy(stdout);
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return None;
    }
    if !cut && serde_json::from_str::<serde::de::IgnoredAny>(trimmed).is_ok() {
        return Some(trimmed.to_string());
    }
    let shown =
        if cut { format!("{text}… (cut at {} bytes)", child::MAX_RESULT_BYTES) } else { text.into_owned() };
    Some(Value::from(shown).to_string())
}

/// The error of a failed run: how it ended, and the end of its stderr.
fn failure_message(exit: &Exit) -> String {
    let how = match (exit.code, exit.signal) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        _ => "ended".to_string(),
    };
    let tail = String::from_utf8_lossy(&exit.stderr_tail).trim().to_string();
    if tail.is_empty() {
        how
    } else {
        format!("{how}: {tail}")
    }
}

/// Announces the worker in the registry.
fn register(store: &Store, cfg: &Config) -> Result<()> {
    let info = json!({
        "host": hostname(),
        "pid": std::process::id(),
        "queues": cfg.queues.as_deref().map(|q| serde_json::from_str::<Value>(q).unwrap_or(Value::Null)),
        "capabilities": cfg.capabilities,
        "concurrency": cfg.concurrency,
        "info": {"version": env!("CARGO_PKG_VERSION"), "command": cfg.command},
    });
    store
        .call("SELECT queue_worker_register(?1, ?2)", &[cfg.name.clone().into(), info.to_string().into()])?;
    Ok(())
}

/// One item of queue_complete_many: [id, token, result]. The result is
/// JSON text already, put in as it is (parsing it again could reorder it).
fn completion(id: i64, token: i64, result: Option<String>) -> String {
    format!("[{id},{token},{}]", result.as_deref().unwrap_or("null"))
}

/// Completes jobs (`completion` items) in one statement; how many it completed.
fn complete_many(store: &Store, jobs: Vec<String>) -> Result<i64> {
    if jobs.is_empty() {
        return Ok(0);
    }
    store.one("SELECT queue_complete_many(?1)", &[format!("[{}]", jobs.join(",")).into()])
}

/// Workers registered from this host whose process is gone died without
/// stopping: their jobs are lost attempts now, not when their leases end.
fn reap_local_dead_workers(store: &Store, log: &Log) -> Result<()> {
    let local = store.read(
        "SELECT name, pid FROM queue_workers WHERE host = ?1 AND state = 'alive'",
        &[hostname().into()],
    )?;
    for row in local.rows {
        let (Sql::Text(name), pid) = (&row[0], &row[1]) else { continue };
        let pid = match pid {
            Sql::Integer(p) => Some(*p),
            _ => None,
        };
        let gone = pid.is_some_and(|p| {
            // SAFETY: signal 0 only checks that the process exists.
            let failed = unsafe { libc::kill(p as libc::pid_t, 0) } != 0;
            failed && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
        });
        if gone {
            store.call("SELECT queue_worker_dead(?1)", &[name.clone().into()])?;
            log.worker(
                "reaped",
                &format!("{name} (pid {} is gone): its jobs are free again", pid.unwrap_or(0)),
            );
        }
    }
    Ok(())
}

pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    if ok {
        String::from_utf8_lossy(&buf[..end]).into_owned()
    } else {
        "localhost".to_string()
    }
}
