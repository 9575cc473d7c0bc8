//! Helpers for driving the `orq` binary in tests: a scratch database, the
//! command, and a connection (orq registered) to inspect the queue.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use rusqlite::Connection;

pub struct Db(PathBuf);

impl Db {
    pub fn new(name: &str) -> Db {
        let dir = std::env::temp_dir().join(format!("orq-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Db(dir)
    }

    pub fn dir(&self) -> &PathBuf {
        &self.0
    }

    pub fn path(&self) -> PathBuf {
        self.0.join("q.db")
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_orq"));
        c.arg("--db").arg(self.path()).args(args);
        c
    }

    pub fn orq(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// Runs and returns stdout, asserting the exit status.
    pub fn ok(&self, args: &[&str], status: i32) -> String {
        let out = self.orq(args);
        assert_eq!(
            out.status.code(),
            Some(status),
            "orq {args:?}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        serde_json::from_str(&self.ok(&all, 0)).unwrap()
    }

    /// Starts `orq ARGS` in the background, its stderr kept.
    pub fn spawn(&self, args: &[&str]) -> Child {
        self.cmd(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
    }

    /// A connection with orq's functions, to look at the queue.
    pub fn conn(&self) -> Connection {
        let conn = Connection::open(self.path()).unwrap();
        conn.busy_timeout(Duration::from_secs(5)).unwrap();
        orq::register(&conn).unwrap();
        conn
    }

    pub fn one<T: rusqlite::types::FromSql>(&self, sql: &str) -> T {
        self.conn().query_row(sql, [], |r| r.get(0)).unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Waits (up to 20 s) until `sql` returns true.
    pub fn wait_for(&self, sql: &str) {
        let conn = self.conn();
        let started = Instant::now();
        while !conn.query_row(sql, [], |r| r.get::<_, bool>(0)).unwrap_or(false) {
            assert!(started.elapsed() < Duration::from_secs(20), "timed out waiting for: {sql}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `orq worker ARGS` (polling quickly) until `until` holds, then stopped
/// with SIGTERM; asserts it exits 0 and returns its log.
pub fn work(db: &Db, args: &[&str], until: &str) -> String {
    let mut all = vec!["worker", "--poll-max", "0.05"];
    all.extend_from_slice(args);
    let child = db.spawn(&all);
    db.wait_for(until);
    signal(&child, libc::SIGTERM);
    let (code, stderr) = finish(child, Duration::from_secs(20));
    assert_eq!(code, Some(0), "{stderr}");
    stderr
}

/// Sends `signal` to a child process.
pub fn signal(child: &Child, signal: i32) {
    unsafe {
        libc::kill(child.id() as i32, signal);
    }
}

/// Waits for a child, asserting it ends within `limit`; returns its stderr.
pub fn finish(child: Child, limit: Duration) -> (Option<i32>, String) {
    let started = Instant::now();
    let pid = child.id();
    let out = std::thread::spawn(move || child.wait_with_output().unwrap());
    while !out.is_finished() {
        if started.elapsed() > limit {
            unsafe {
                libc::kill(pid as i32, libc::SIGKILL);
            }
            panic!("orq (pid {pid}) did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = out.join().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// How many processes have `marker` in their command line.
pub fn processes_with(marker: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
        .filter(|cmd| String::from_utf8_lossy(cmd).contains(marker))
        .count()
}
