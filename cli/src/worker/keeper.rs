//! The job keeper (Linux): a small process between the worker and each job,
//! so that every process a job starts ends with the job, and with the
//! worker even when the worker is killed with SIGKILL.
//!
//! The worker runs `orq __job-keeper ARGV…` (its own binary again) instead of
//! the job. The keeper is a child subreaper (PR_SET_CHILD_SUBREAPER): a
//! process the job starts stays below the keeper whatever it does (double
//! fork, setsid, a process group of its own): when its parent dies it is
//! re-parented to the keeper, not to init. The keeper starts the job in a
//! process group of its own and waits. It ends everything below it, with
//! SIGKILL, when
//! - the job's process exits (what it left running does not outlive it),
//! - it gets SIGTERM (the worker's timeout, lost lease or shutdown), or
//! - the worker dies, however it dies: PR_SET_PDEATHSIG turns the worker's
//!   death into a SIGTERM for the keeper.
//!
//! Then it exits the way the job's process did (same exit code, or same
//! signal), so the worker reaps it as it would the job; its wait4 usage
//! includes the job's (the keeper waited for it).
//!
//! Why a process per job: a process cannot act after its own SIGKILL, so the
//! worker cannot clean up after itself, and PR_SET_PDEATHSIG on the job's
//! process alone kills that one process, not what it started. Someone that
//! outlives the worker must know the job's processes; below a subreaper they
//! are exactly its descendants.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::process::Command;

/// The first argument that makes `orq` a job keeper.
pub const ARG: &str = "__job-keeper";

/// The command that runs `argv` under a keeper (set up in its own process
/// group by the caller).
pub fn command(argv: &[String]) -> Command {
    let mut cmd = Command::new("/proc/self/exe"); // this binary, even if replaced on disk since
    cmd.arg0("orq").arg(ARG).args(argv);
    dies_with_parent(&mut cmd, libc::SIGTERM);
    cmd
}

/// Runs the keeper with the job's argv (everything after ARG); never returns.
pub fn main(argv: Vec<OsString>) -> ! {
    let signals = blocked(&[libc::SIGTERM, libc::SIGCHLD]);
    // SAFETY: prctl with plain integer arguments.
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    }
    let Some((program, args)) = argv.split_first() else {
        eprintln!("orq {ARG}: no command");
        std::process::exit(2);
    };
    let mut cmd = Command::new(program);
    cmd.args(args).process_group(0);
    // Should the keeper itself be killed outright, the job's process goes too.
    dies_with_parent(&mut cmd, libc::SIGKILL);
    let job = match cmd.spawn() {
        Ok(child) => child.id() as i32,
        Err(e) => {
            // On the job's stderr: the worker records it as the error.
            eprintln!("cannot start {}: {e}", program.to_string_lossy());
            std::process::exit(127);
        }
    };
    wait_for_end(&signals, job);
    let status = end_everything(job);
    exit_like(status)
}

/// Has the child get `signal` when the thread that started it ends (the
/// worker's main thread, or the keeper), and not start at all when that
/// happened already, before the request took effect.
fn dies_with_parent(cmd: &mut Command, signal: libc::c_int) {
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: prctl, getppid and _exit are async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            libc::prctl(libc::PR_SET_PDEATHSIG, signal);
            if libc::getppid() != parent {
                libc::_exit(127);
            }
            Ok(())
        });
    }
}

/// Blocks `signals` (they are taken with sigwaitinfo instead); returns the set.
fn blocked(signals: &[libc::c_int]) -> libc::sigset_t {
    // SAFETY: a local sigset_t, filled and installed by plain libc calls.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &s in signals {
            libc::sigaddset(&mut set, s);
        }
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    }
}

/// Waits until the job's process has exited (left unreaped, so its process
/// group cannot be reused yet) or SIGTERM came; reaps the orphans that ended
/// meanwhile.
fn wait_for_end(signals: &libc::sigset_t, job: libc::pid_t) {
    loop {
        // SAFETY: a siginfo_t written by the kernel; waitid/waitpid on our children.
        unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            while libc::waitid(libc::P_ALL, 0, &mut info, libc::WEXITED | libc::WNOHANG | libc::WNOWAIT) == 0
                && info.si_pid() != 0
            {
                if info.si_pid() == job {
                    return;
                }
                libc::waitpid(info.si_pid(), std::ptr::null_mut(), 0);
            }
            if libc::sigwaitinfo(signals, std::ptr::null_mut()) == libc::SIGTERM {
                return;
            }
        }
    }
}

/// Kills every process below the keeper and reaps them all; returns the job
/// process's wait status.
fn end_everything(job: libc::pid_t) -> libc::c_int {
    let mut status = libc::W_EXITCODE(1, 0);
    let chld = blocked(&[libc::SIGCHLD]);
    // SAFETY: signals and waits on our own process group and children only:
    // the job is not reaped yet, so its group id still names its group.
    unsafe {
        libc::kill(-job, libc::SIGKILL);
    }
    loop {
        // Reap first: the usual job leaves nothing but itself, and no scan
        // of /proc is needed.
        let mut reaped = false;
        loop {
            let mut st = 0;
            // SAFETY: waits for our own children.
            match unsafe { libc::waitpid(-1, &mut st, libc::WNOHANG) } {
                -1 if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) => {}
                -1 => return status, // ECHILD: nothing is left
                0 => break,
                pid => {
                    reaped = true;
                    if pid == job {
                        status = st;
                    }
                }
            }
        }
        if reaped {
            continue;
        }
        // What left the job's group: its parents die in this round, it is
        // re-parented to the keeper and dies in the next.
        for child in children() {
            // SAFETY: our child, not reaped since it was listed.
            unsafe {
                libc::kill(child, libc::SIGKILL);
            }
        }
        // Until a child ends; a bounded wait, so that even a child the scan
        // missed is found and killed in a later round.
        let timeout = libc::timespec { tv_sec: 0, tv_nsec: 50_000_000 };
        // SAFETY: SIGCHLD is blocked; a local timespec.
        unsafe {
            libc::sigtimedwait(&chld, std::ptr::null_mut(), &timeout);
        }
    }
}

/// The keeper's children (by their parent in /proc/PID/stat). Only children
/// are signalled by pid: until the keeper reaps them, their pids cannot be
/// reused.
fn children() -> Vec<libc::pid_t> {
    let me = std::process::id() as libc::pid_t;
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.filter_map(|entry| {
        let pid: libc::pid_t = entry.ok()?.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
        (parent_in_stat(&stat)? == me).then_some(pid)
    })
    .collect()
}

/// The parent pid in a /proc/PID/stat line: `PID (COMM) STATE PPID …`, where
/// COMM may hold anything, even `) ` and bytes that are not UTF-8.
fn parent_in_stat(stat: &[u8]) -> Option<libc::pid_t> {
    let after_comm = &stat[stat.iter().rposition(|&b| b == b')')? + 1..];
    let ppid = after_comm.split(|&b| b == b' ').filter(|f| !f.is_empty()).nth(1)?;
    std::str::from_utf8(ppid).ok()?.parse().ok()
}

/// Ends the keeper the way the job's process ended: its exit code, or its
/// signal (without a core dump of the keeper).
fn exit_like(status: libc::c_int) -> ! {
    if libc::WIFSIGNALED(status) {
        let sig = libc::WTERMSIG(status);
        // SAFETY: plain libc calls on this process.
        unsafe {
            let none = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
            libc::setrlimit(libc::RLIMIT_CORE, &none);
            libc::signal(sig, libc::SIG_DFL);
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, sig);
            libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            libc::kill(libc::getpid(), sig);
        }
        std::process::exit(128 + sig);
    }
    std::process::exit(libc::WEXITSTATUS(status))
}

#[cfg(test)]
mod tests {
    use super::parent_in_stat;

    #[test]
    fn the_parent_is_read_after_the_last_parenthesis() {
        assert_eq!(parent_in_stat(b"42 (sleep) S 7 42 42 0 -1"), Some(7));
        assert_eq!(parent_in_stat(b"42 (a) S 9 (b) R 3 1 1"), Some(3));
        assert_eq!(parent_in_stat(b"42 (\xff\xfe) Z 11 0"), Some(11));
        assert_eq!(parent_in_stat(b"garbage"), None);
    }
}
