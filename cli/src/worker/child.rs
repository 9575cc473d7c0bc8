//! One job's process: started in a process group of its own, on Linux under
//! a keeper (see keeper.rs; not with ORQ_PORTABLE, see orq::platform) that ends everything the job started when the
//! job ends, is killed, or its worker dies; fed the payload on stdin, its
//! output collected by threads so a chatty job never blocks on a full pipe,
//! and reaped with wait4 for its resource usage.

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The most of a job's stdout kept as its result.
pub const MAX_RESULT_BYTES: usize = 64 * 1024;
/// The most of a job's stderr kept for its error message (the end of it).
pub const MAX_ERROR_BYTES: usize = 4 * 1024;

pub struct Child {
    pub pid: i32,
    pub started: Instant,
    stdout: Option<JoinHandle<(Vec<u8>, bool)>>,
    stderr: Option<JoinHandle<Vec<u8>>>,
}

/// How a job's process ended.
pub struct Exit {
    /// The exit code, or None when a signal ended it.
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub wall: Duration,
    pub user: Duration,
    pub sys: Duration,
    pub max_rss_kb: i64,
    /// The start of stdout, and whether it was cut at MAX_RESULT_BYTES.
    pub stdout: Vec<u8>,
    pub stdout_cut: bool,
    /// The end of stderr.
    pub stderr_tail: Vec<u8>,
}

impl Child {
    /// Starts `argv` with `env` added and `input` on its stdin.
    pub fn spawn(argv: &[String], env: &[(&str, String)], input: Vec<u8>) -> std::io::Result<Child> {
        let mut cmd = job_command(argv);
        cmd.envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = cmd.spawn()?;
        let pid = child.id() as i32;
        if let Some(mut stdin) = child.stdin.take() {
            // A job that never reads stdin must not block the worker.
            std::thread::spawn(move || {
                let _ = stdin.write_all(&input);
            });
        }
        let stdout = child.stdout.take().map(|mut out| {
            std::thread::spawn(move || {
                let mut kept = Vec::new();
                let mut buf = [0u8; 8192];
                let mut cut = false;
                while let Ok(n) = out.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    let room = MAX_RESULT_BYTES.saturating_sub(kept.len());
                    kept.extend_from_slice(&buf[..n.min(room)]);
                    cut |= n > room;
                }
                (kept, cut)
            })
        });
        let stderr = child.stderr.take().map(|mut err| {
            std::thread::spawn(move || {
                let mut tail = Vec::new();
                let mut buf = [0u8; 8192];
                while let Ok(n) = err.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    tail.extend_from_slice(&buf[..n]);
                    if tail.len() > 2 * MAX_ERROR_BYTES {
                        tail.drain(..tail.len() - MAX_ERROR_BYTES);
                    }
                }
                let skip = tail.len().saturating_sub(MAX_ERROR_BYTES);
                tail.split_off(skip)
            })
        });
        // std's Child is not needed any more: we reap the pid ourselves.
        drop(child);
        Ok(Child { pid, started: Instant::now(), stdout, stderr })
    }

    /// The exit, if the process has ended (never blocks).
    pub fn try_reap(&mut self) -> Option<Exit> {
        let mut status = 0;
        // SAFETY: plain wait4 on our own child; rusage is written by the kernel.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let r = unsafe { libc::wait4(self.pid, &mut status, libc::WNOHANG, &mut usage) };
        if r != self.pid {
            return None;
        }
        let wall = self.started.elapsed();
        let (stdout, stdout_cut) = self.stdout.take().and_then(|h| h.join().ok()).unwrap_or_default();
        let stderr_tail = self.stderr.take().and_then(|h| h.join().ok()).unwrap_or_default();
        let exited = libc::WIFEXITED(status);
        Some(Exit {
            code: exited.then(|| libc::WEXITSTATUS(status)),
            signal: libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status)),
            wall,
            user: timeval(usage.ru_utime),
            sys: timeval(usage.ru_stime),
            max_rss_kb: usage.ru_maxrss,
            stdout,
            stdout_cut,
            stderr_tail,
        })
    }

    /// Kills the job and everything it started: its keeper does that on
    /// SIGTERM; without one, its process group is killed.
    pub fn kill(&self) {
        // SAFETY: signals our own, not yet reaped, child (or its group).
        unsafe {
            if under_keeper() {
                libc::kill(self.pid, libc::SIGTERM);
            } else {
                libc::kill(-self.pid, libc::SIGKILL);
            }
        }
    }
}

/// Whether jobs run under a keeper: on Linux, unless ORQ_PORTABLE asks for
/// the portable way (orq::platform), which every other platform takes.
fn under_keeper() -> bool {
    orq::platform::linux()
}

/// Without a keeper, what a job starts outside its process group, or after
/// its worker died, is not killed.
fn job_command(argv: &[String]) -> Command {
    #[cfg(target_os = "linux")]
    if under_keeper() {
        return super::keeper::command(argv);
    }
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]);
    cmd
}

fn timeval(t: libc::timeval) -> Duration {
    Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
}
