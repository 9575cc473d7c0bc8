//! `orq run`: the parallel batch pattern. Every item of a JSON-lines file
//! becomes a job (idempotently: an interrupted run resumes, it does not
//! redo), N workers process them while a progress line is drawn, and a
//! report closes it.

use std::collections::HashSet;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::{json, Value};

use crate::duration::{from_secs, parse_seconds};
use crate::exit::{usage, Code, Result};
use crate::output::{cut, seconds};
use crate::store::Store;
use crate::worker::log::LogFormat;
use crate::worker::{hostname, Config, Engine};

#[derive(Args)]
pub struct RunArgs {
    /// A JSON-lines file, one item (job payload) per line; `-` for stdin.
    /// An item's "id" field, or else a hash of its line, is its key
    #[arg(long)]
    items: PathBuf,
    /// Jobs run at once
    #[arg(long, short = 'w', default_value_t = 4)]
    workers: usize,
    /// Claims allowed per item before it is dead
    #[arg(long)]
    max_attempts: Option<i64>,
    /// Kill an item's process after this long
    #[arg(long, value_parser = parse_seconds)]
    timeout: Option<f64>,
    /// The queue for this run [default: run.FILE-NAME]
    #[arg(long)]
    queue: Option<String>,
    /// Run this for each item, with the item on stdin [default: the item's
    /// "cmd" through sh -c]
    #[arg(last = true)]
    command: Vec<String>,
}

/// Exit status when any item ended dead.
const SOME_DEAD: Code = Code::JobsFailed;

pub fn run(store: &Store, db: &std::path::Path, a: &RunArgs) -> Result<Code> {
    let items = read_items(&a.items)?;
    let queue = a.queue.clone().unwrap_or_else(|| default_queue(&a.items));
    let started = Instant::now();
    let (ids, resumed) = enqueue(store, &queue, &items, a)?;
    if resumed > 0 {
        eprintln!("resuming: {resumed} of {} items were enqueued by an earlier run", ids.len());
    }
    let batch = Batch { queue, ids, workers: a.workers, command: a.command.clone(), timeout: a.timeout };
    work_through(store, db, &batch, started)
}

/// Jobs already enqueued on their own queue, and how to run them.
pub struct Batch {
    pub queue: String,
    pub ids: Vec<i64>,
    pub workers: usize,
    pub command: Vec<String>,
    pub timeout: Option<f64>,
}

/// Runs the batch's queue dry with a progress display, then reports on the
/// batch's jobs. Exit status 4 when any ended dead.
pub fn work_through(store: &Store, db: &std::path::Path, b: &Batch, started: Instant) -> Result<Code> {
    let cfg = Config {
        name: format!("run-{}-{}", hostname(), std::process::id()),
        queues: Some(Value::from(vec![b.queue.clone()]).to_string()),
        concurrency: b.workers,
        batch: b.workers,
        timeout: b.timeout.map(from_secs),
        grace: Some(Duration::from_secs(10)),
        capabilities: Vec::new(),
        command: b.command.clone(),
        noop: false,
        max_idle_poll: Duration::from_millis(100),
        log: LogFormat::Quiet,
        db_path: std::fs::canonicalize(db).unwrap_or_else(|_| db.to_path_buf()).display().to_string(),
    };
    let mut progress = Progress::new(b.ids.len());
    let mut engine = Engine::start(store, cfg)?;
    engine.run(|s| Ok(live(s, &b.queue)? == 0), |_| progress.tick(store, &b.queue))?;
    progress.finish(store, &b.queue)?;
    report(store, &b.queue, &b.ids, started.elapsed())
}

/// Each line's JSON, in order (blank lines skipped).
fn read_items(path: &PathBuf) -> Result<Vec<String>> {
    let reader: Box<dyn BufRead> = if path.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let file =
            std::fs::File::open(path).map_err(|e| usage(format!("cannot read {}: {e}", path.display())))?;
        Box::new(std::io::BufReader::new(file))
    };
    let items = super::json_lines(reader.lines(), &path.display().to_string())?;
    if items.is_empty() {
        return Err(usage(format!("{} has no items", path.display())));
    }
    Ok(items)
}

fn default_queue(path: &std::path::Path) -> String {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let clean: String =
        stem.chars().map(|c| if c.is_ascii_alphanumeric() || "_-.".contains(c) { c } else { '_' }).collect();
    format!("run.{}", if clean.is_empty() || clean == "_" { "stdin" } else { &clean })
}

/// An item's key: its "id" field, or a hash of its line.
fn item_key(line: &str) -> String {
    let v: Value = serde_json::from_str(line).unwrap_or(Value::Null);
    match v.get("id") {
        Some(Value::String(s)) => s.clone(),
        Some(id @ Value::Number(_)) => id.to_string(),
        _ => format!("line-{:016x}", fnv1a(line.as_bytes())),
    }
}

/// FNV-1a, 64 bits: a stable hash (std's may change between releases).
pub(super) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3))
}

/// Enqueues every item in one transaction (on a cluster, each item by
/// itself: its key makes sending it again after a failover safe); returns
/// the job ids and how many of them existed already (a resumed run).
fn enqueue(store: &Store, queue: &str, items: &[String], a: &RunArgs) -> Result<(Vec<i64>, usize)> {
    let newest: i64 =
        store.read_one("SELECT coalesce((SELECT id FROM queue_jobs ORDER BY id DESC LIMIT 1), 0)", &[])?;
    let ids = store.transaction(|| {
        let mut ids = Vec::with_capacity(items.len());
        for line in items {
            let mut options = json!({"key": item_key(line), "key_scope": "all"});
            if let Some(k) = a.max_attempts {
                options["max_attempts"] = k.into();
            }
            let args = [queue.to_string().into(), line.clone().into(), options.to_string().into()];
            ids.push(store.one("SELECT queue_enqueue(?1, ?2, ?3)", &args)?);
        }
        Ok(ids)
    })?;
    let resumed = ids.iter().filter(|&&id| id <= newest).count();
    Ok((ids, resumed))
}

/// Jobs of the queue not finished yet.
fn live(store: &Store, queue: &str) -> Result<i64> {
    store.read_one(
        "SELECT coalesce(sum(ready + scheduled + running + waiting), 0) FROM queue_stats WHERE queue = ?1",
        &[queue.to_string().into()],
    )
}

/// The progress display: a redrawn bar when stderr is a terminal, a plain
/// line every few seconds otherwise.
struct Progress {
    total: usize,
    terminal: bool,
    started: Instant,
    first_done: Option<i64>,
    next_draw: Instant,
}

/// Counts of the run's queue, from queue_stats.
struct Counts {
    done: i64,
    dead: i64,
    running: i64,
    left: i64,
}

impl Progress {
    fn new(total: usize) -> Progress {
        let terminal = std::io::stderr().is_terminal();
        Progress { total, terminal, started: Instant::now(), first_done: None, next_draw: Instant::now() }
    }

    fn counts(store: &Store, queue: &str) -> Result<Counts> {
        let rows = store.read(
            "SELECT done, dead + cancelled, running, ready + scheduled FROM queue_stats WHERE queue = ?1",
            &[queue.to_string().into()],
        )?;
        let n = |i: usize| match rows.rows.first().map(|r| &r[i]) {
            Some(rusqlite::types::Value::Integer(n)) => *n,
            _ => 0,
        };
        Ok(Counts { done: n(0), dead: n(1), running: n(2), left: n(3) })
    }

    fn tick(&mut self, store: &Store, queue: &str) {
        let now = Instant::now();
        if now < self.next_draw {
            return;
        }
        self.next_draw =
            now + if self.terminal { Duration::from_millis(100) } else { Duration::from_secs(2) };
        if let Ok(c) = Self::counts(store, queue) {
            self.draw(&c, false);
        }
    }

    fn finish(&mut self, store: &Store, queue: &str) -> Result<()> {
        let c = Self::counts(store, queue)?;
        self.draw(&c, true);
        Ok(())
    }

    fn draw(&mut self, c: &Counts, last: bool) {
        let first = *self.first_done.get_or_insert(c.done);
        let elapsed = self.started.elapsed().as_secs_f64().max(0.001);
        let rate = (c.done - first) as f64 / elapsed;
        let eta = if rate > 0.0 { seconds((c.left + c.running) as f64 / rate) } else { "-".into() };
        let finished = (c.done + c.dead) as usize;
        let text = format!(
            "{finished}/{}  done {}  running {}  failed {}  left {}  {rate:.1}/s  ETA {eta}",
            self.total, c.done, c.running, c.dead, c.left
        );
        let mut err = std::io::stderr().lock();
        if self.terminal {
            let width = 30;
            let filled = (finished * width / self.total.max(1)).min(width);
            let bar = format!("{}{}", "█".repeat(filled), "░".repeat(width - filled));
            let _ = write!(err, "\r\x1b[2K[{bar}] {text}");
            if last {
                let _ = writeln!(err);
            }
        } else {
            let _ = writeln!(err, "progress: {text}");
        }
        let _ = err.flush();
    }
}

/// The closing report: counts by state, the slowest items, the failed ones.
fn report(store: &Store, queue: &str, ids: &[i64], elapsed: Duration) -> Result<Code> {
    let ours: HashSet<i64> = ids.iter().copied().collect();
    let jobs = store.read(
        "SELECT id, state, error, payload, finished_at - started_at AS took FROM queue_jobs WHERE queue = ?1",
        &[queue.to_string().into()],
    )?;
    let mut by_state: std::collections::BTreeMap<String, usize> = Default::default();
    let mut slow = Vec::new();
    let mut dead = Vec::new();
    for row in &jobs.rows {
        let job = jobs.object(row);
        let id = job["id"].as_i64().unwrap_or(0);
        if !ours.contains(&id) {
            continue;
        }
        let state = job["state"].as_str().unwrap_or("").to_string();
        *by_state.entry(state.clone()).or_default() += 1;
        if let Some(took) = job["took"].as_f64().filter(|_| state == "done") {
            slow.push((took, id, job["payload"].to_string()));
        }
        if state == "dead" || state == "cancelled" {
            dead.push((id, job["payload"].to_string(), job["error"].as_str().unwrap_or("").to_string()));
        }
    }
    let counts: Vec<String> = by_state.iter().map(|(s, n)| format!("{s} {n}")).collect();
    println!(
        "{} jobs on queue {queue} finished in {}: {}",
        ids.len(),
        seconds(elapsed.as_secs_f64()),
        counts.join(", ")
    );
    slow.sort_by(|a, b| b.0.total_cmp(&a.0));
    if !slow.is_empty() {
        println!("slowest:");
        for (took, id, payload) in slow.iter().take(5) {
            println!("  job {id:>6}  {:>7}  {}", seconds(*took), cut(payload, 60));
        }
    }
    if !dead.is_empty() {
        println!("failed:");
        for (id, payload, error) in &dead {
            println!("  job {id:>6}  {}\n              {}", cut(payload, 60), cut(error, 200));
        }
        return Ok(SOME_DEAD);
    }
    Ok(Code::Ok)
}
