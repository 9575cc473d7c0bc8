//! Where a command's SQL runs: the database file, with orq registered in
//! this process, or a dqlite cluster whose nodes run orq (`--cluster`).
//! Either way the command sends the same statements; only what happens
//! when the cluster loses a request differs (`Resend`).

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use orq_cluster::{Cluster, Error as ClusterError, Value as Wire};
use rusqlite::types::{FromSql, Value};
use rusqlite::Connection;

use crate::db::BUSY_TIMEOUT;
use crate::exit::{Code, Failure, Result};
use crate::output::Rows;

/// How long a request waits for a cluster to elect a leader after losing
/// one: dqlite elects within seconds (0.4 s at orq-node --latency-ms 10,
/// about 5 s at its default).
pub const FAILOVER_WAIT: Duration = Duration::from_secs(30);
/// How long a command waits for a cluster it has not reached yet: a wrong
/// address should not look like an election.
const FIRST_WAIT: Duration = Duration::from_secs(5);

/// Whether this process has reached a leader of its cluster yet.
static REACHED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub enum Store {
    File(Connection),
    Cluster(RefCell<Cluster>),
}

/// Where the queue lives, as the command line named it: what opens a
/// Store, and more of them for commands that hold several (`orq serve`).
#[derive(Clone)]
pub enum Source {
    File {
        path: PathBuf,
        durable: bool,
    },
    /// `--cluster ADDRESSES`, and the database's name inside the cluster.
    Cluster {
        addresses: String,
        name: String,
    },
}

impl Source {
    /// The database's path, or its name inside the cluster (`--db`).
    pub fn db(&self) -> &Path {
        match self {
            Source::File { path, .. } => path,
            Source::Cluster { name, .. } => Path::new(name),
        }
    }

    /// The queue for people: the file's path, or the database on its cluster.
    pub fn describe(&self) -> String {
        match self {
            Source::File { path, .. } => path.display().to_string(),
            Source::Cluster { addresses, name } => format!("{name} on the cluster {addresses}"),
        }
    }

    /// A new Store: a connection to the file, or a client of the cluster
    /// (which connects at its first statement).
    pub fn open(&self) -> Result<Store> {
        match self {
            Source::File { path, durable } => crate::db::open(path, *durable).map(Store::File),
            Source::Cluster { addresses, name } => Ok(Store::cluster(addresses, name)),
        }
    }
}

/// Whether a statement may be sent again when the cluster lost it with its
/// outcome unknown (the leader died or stepped down before answering).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Resend {
    /// Reads, and writes a second run cannot apply twice: those fenced by
    /// a lease's token (a completion whose lease is gone changes nothing)
    /// or by an idempotency key.
    Safe,
    /// Anything else (a claim, an enqueue without a key): the caller learns
    /// that the outcome is unknown (Code::Unknown) and decides.
    Never,
}

impl Store {
    /// A cluster store for `addresses` ("host:port,host:port") and the
    /// database `name` inside it.
    fn cluster(addresses: &str, name: &str) -> Store {
        let list = addresses.split(',').map(str::trim).filter(|a| !a.is_empty()).map(String::from).collect();
        Store::Cluster(RefCell::new(Cluster::new(list, name)))
    }

    /// The database file's connection; None on a cluster.
    pub fn file(&self) -> Option<&Connection> {
        match self {
            Store::File(conn) => Some(conn),
            Store::Cluster(_) => None,
        }
    }

    /// The file's connection, or a usage error naming what needs it.
    pub fn file_for(&self, what: &str) -> Result<&Connection> {
        self.file().ok_or_else(|| Failure {
            code: Code::Usage,
            message: format!("{what} runs on a database file, not through --cluster (see docs/scale-out.md)"),
        })
    }

    /// Every row of a statement that may write (sent again after a
    /// failover: see Resend). On a cluster it runs inside BEGIN IMMEDIATE
    /// ... COMMIT: orq writes on a replicated database only inside the
    /// caller's transaction, whose COMMIT dqlite replicates (ext/src/txn.rs).
    pub fn rows_with(&self, sql: &str, params: &[Value], resend: Resend) -> Result<Rows> {
        self.run(sql, params, resend, Access::Write)
    }

    /// Every row of a statement that only reads: on a cluster, one request.
    pub fn read(&self, sql: &str, params: &[Value]) -> Result<Rows> {
        self.run(sql, params, Resend::Safe, Access::Read)
    }

    fn run(&self, sql: &str, params: &[Value], resend: Resend, access: Access) -> Result<Rows> {
        match self {
            Store::File(conn) => crate::output::query(conn, sql, rusqlite::params_from_iter(params)),
            Store::Cluster(cluster) => remote(&mut cluster.borrow_mut(), sql, params, resend, access),
        }
    }

    /// A statement that may write, run for what it does (its answer unread).
    pub fn call(&self, sql: &str, params: &[Value]) -> Result<()> {
        self.rows_with(sql, params, Resend::Safe).map(drop)
    }

    /// The first column of the first row of a statement that may write.
    pub fn one<T: FromSql>(&self, sql: &str, params: &[Value]) -> Result<T> {
        first(sql, self.rows_with(sql, params, Resend::Safe)?)
    }

    pub fn one_with<T: FromSql>(&self, sql: &str, params: &[Value], resend: Resend) -> Result<T> {
        first(sql, self.rows_with(sql, params, resend)?)
    }

    /// The first column of the first row of a statement that only reads.
    pub fn read_one<T: FromSql>(&self, sql: &str, params: &[Value]) -> Result<T> {
        first(sql, self.read(sql, params)?)
    }

    /// Runs `f` as one transaction on a file (BEGIN IMMEDIATE ... COMMIT,
    /// rolled back on error). On a cluster each statement of `f` commits by
    /// itself: a transaction held across round trips would keep every
    /// other client of the leader waiting, and a failover in the middle of
    /// it would lose its whole outcome. Callers use it only where each
    /// statement is atomic and safe on its own.
    pub fn transaction<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let Store::File(conn) = self else { return f() };
        conn.execute_batch("BEGIN IMMEDIATE")?;
        match f() {
            Ok(v) => {
                conn.execute_batch("COMMIT")?;
                Ok(v)
            }
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    Read,
    Write,
}

fn first<T: FromSql>(sql: &str, rows: Rows) -> Result<T> {
    let first = rows
        .rows
        .first()
        .and_then(|r| r.first())
        .ok_or_else(|| Failure { code: Code::Database, message: format!("no row from: {sql}") })?;
    crate::output::cell(first).map_err(|e| Failure { message: format!("{} from {sql}", e.message), ..e })
}

/// A statement that may write, in a transaction of its own on the leader:
/// three requests, since dqlite replicates only what a write request
/// (EXEC: BEGIN, COMMIT) commits and returns rows only to a query.
fn transaction(
    cluster: &mut Cluster,
    sql: &str,
    params: &[Wire],
) -> std::result::Result<orq_cluster::Rows, ClusterError> {
    cluster.exec("BEGIN IMMEDIATE", &[])?;
    match cluster.query(sql, params).and_then(|rows| cluster.exec("COMMIT", &[]).map(|_| rows)) {
        Ok(rows) => Ok(rows),
        Err(e) => {
            // Gone with the connection when it was lost.
            let _ = cluster.exec("ROLLBACK", &[]);
            Err(e)
        }
    }
}

/// One statement through the cluster. SQLITE_BUSY (another client holds
/// the leader's write lock; nothing was written) is sent again after a
/// short random pause, up to BUSY_TIMEOUT; a lost request is sent again on
/// the new leader when `resend` allows.
fn remote(
    cluster: &mut Cluster,
    sql: &str,
    params: &[Value],
    resend: Resend,
    access: Access,
) -> Result<Rows> {
    let params: Vec<Wire> = params.iter().map(to_wire).collect();
    let started = Instant::now();
    let mut pause = Duration::from_micros(200);
    loop {
        reach_leader(cluster)?;
        let answer = match access {
            Access::Read => cluster.query(sql, &params),
            Access::Write => transaction(cluster, sql, &params),
        };
        match answer {
            Ok(answer) => return Ok(rows_of(answer)),
            Err(ClusterError::Sql { code, .. }) if code & 0xff == 5 && started.elapsed() < BUSY_TIMEOUT => {
                std::thread::sleep(jitter(pause));
                pause = (pause * 2).min(Duration::from_millis(20));
            }
            Err(ClusterError::Unavailable(_)) if resend == Resend::Safe => {}
            Err(e) => return Err(cluster_failure(e)),
        }
    }
}

/// Connects `cluster` to its leader unless it is connected. Nothing is
/// sent before there is a leader to send it to, so a cluster in the middle
/// of an election only delays a request.
pub fn reach_leader(cluster: &mut Cluster) -> Result<()> {
    if cluster.leader_address().is_some() {
        return Ok(());
    }
    use std::sync::atomic::Ordering::Relaxed;
    let wait = if REACHED.load(Relaxed) { FAILOVER_WAIT } else { FIRST_WAIT };
    cluster
        .connect_leader(Instant::now() + wait)
        .map_err(|e| Failure { code: Code::Database, message: format!("no cluster leader: {e}") })?;
    REACHED.store(true, Relaxed);
    Ok(())
}

/// A cluster's error for a caller that sends nothing again: a refusal, or
/// a request lost with its outcome unknown (Code::Unknown).
pub fn cluster_failure(e: ClusterError) -> Failure {
    match e {
        ClusterError::Sql { code, message } => sql_failure(code, message),
        ClusterError::Unavailable(why) => {
            Failure { code: Code::Unknown, message: format!("the cluster lost this request: {why}") }
        }
    }
}

/// A refusal of the cluster's SQLite, as the file's SQLite would have
/// given it: its kind comes from the code and the message's token
/// (docs/errors.md), exactly as for a file.
fn sql_failure(code: u64, message: String) -> Failure {
    let code = i32::try_from(code).unwrap_or(rusqlite::ffi::SQLITE_ERROR);
    Failure::from(rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), Some(message)))
}

/// A pause drawn from [d/2, d], so that clients retrying do not do it in step.
fn jitter(d: Duration) -> Duration {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().subsec_nanos();
    d / 2 + d.mul_f64(f64::from(nanos % 1000) / 2000.0)
}

/// A cluster's answer as the file's would be.
pub fn rows_of(answer: orq_cluster::Rows) -> Rows {
    let rows = answer.rows.into_iter().map(|r| r.into_iter().map(from_wire).collect()).collect();
    Rows { columns: answer.columns, rows }
}

pub fn to_wire(v: &Value) -> Wire {
    match v {
        Value::Null => Wire::Null,
        Value::Integer(n) => Wire::Integer(*n),
        Value::Real(x) => Wire::Real(*x),
        Value::Text(t) => Wire::Text(t.clone()),
        Value::Blob(b) => Wire::Blob(b.clone()),
    }
}

fn from_wire(v: Wire) -> Value {
    match v {
        Wire::Null => Value::Null,
        Wire::Integer(n) => Value::Integer(n),
        Wire::Real(x) => Value::Real(x),
        Wire::Text(t) => Value::Text(t),
        Wire::Blob(b) => Value::Blob(b),
    }
}
