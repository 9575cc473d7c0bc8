//! `orq watch`: a live view of every queue and worker and of the running
//! jobs' progress, redrawn in place (no flicker: the cursor goes home and
//! each line is overwritten), until `q`. `--once` prints one frame, for
//! scripts and tests.

use std::io::{IsTerminal, Read, Write};
use std::time::Duration;

use clap::Args;
use rusqlite::types::Value;

use crate::duration::{from_secs, parse_seconds};
use crate::exit::{Code, Result};
use crate::output::{cut, table_lines};
use crate::store::Store;
use crate::time::{iso, now_secs};

#[derive(Args)]
pub struct WatchArgs {
    /// Print one frame and exit
    #[arg(long)]
    once: bool,
    /// Seconds between redraws
    #[arg(long, value_parser = parse_seconds, default_value = "1")]
    interval: f64,
}

pub fn watch(store: &Store, title: &str, a: &WatchArgs) -> Result<Code> {
    if a.once {
        for line in frame(store, title)? {
            println!("{line}");
        }
        return Ok(Code::Ok);
    }
    let _screen = Screen::enter();
    let interval = from_secs(a.interval.max(0.05));
    loop {
        let mut out = std::io::stdout().lock();
        let _ = write!(out, "\x1b[H");
        for line in frame(store, title)? {
            let _ = write!(out, "{line}\x1b[K\r\n");
        }
        let _ = write!(out, "\x1b[J");
        let _ = out.flush();
        drop(out);
        if key_pressed(interval).is_some_and(|k| k == b'q' || k == b'Q' || k == 3) {
            return Ok(Code::Ok);
        }
    }
}

/// One screenful: the queues, the running jobs' progress, then the
/// workers. `title` names the queue (its file, or its cluster).
pub fn frame(store: &Store, title: &str) -> Result<Vec<String>> {
    let mut lines = vec![format!("orq watch  {title}  {}   (q quits)", iso(now_secs())), String::new()];
    let queues = store.read(
        "SELECT s.queue, s.ready, s.scheduled, s.running, s.done, s.dead, s.cancelled,
                r.done AS done_last_min, s.oldest_ready_age,
                iif(s.paused, 'paused', '') AS paused
         FROM queue_stats AS s LEFT JOIN queue_rates(60) AS r ON r.queue = s.queue",
        &[],
    )?;
    if queues.rows.is_empty() {
        lines.push("no queues yet".to_string());
    } else {
        lines.extend(table_lines(&queues.columns, &queues.cells()));
    }
    lines.extend(progress_lines(store)?);
    lines.push(String::new());
    let workers = store.read(
        "SELECT name, state, running, jobs_done AS done, jobs_failed AS failed, heartbeat_at, host, pid
         FROM queue_workers WHERE state = 'alive' OR heartbeat_at > orq_now() - 3600",
        &[],
    )?;
    let alive = workers.rows.iter().filter(|r| matches!(&r[1], Value::Text(s) if s == "alive")).count();
    lines.push(format!("workers: {alive} alive"));
    if !workers.rows.is_empty() {
        lines.extend(table_lines(&workers.columns, &workers.cells()));
    }
    Ok(lines)
}

/// At most this many running jobs' progress on a screen.
const PROGRESS_ROWS: i64 = 10;

/// The progress the oldest running jobs reported (queue_progress), as a
/// table after a blank line; none when no running job reported any.
fn progress_lines(store: &Store) -> Result<Vec<String>> {
    let jobs = store.read(
        "SELECT id AS job, queue, worker, progress FROM queue_jobs
         WHERE state = 'running' AND progress IS NOT NULL ORDER BY id LIMIT ?1",
        &[(PROGRESS_ROWS + 1).into()],
    )?;
    if jobs.rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut cells = jobs.cells();
    for (row, values) in cells.iter_mut().zip(&jobs.rows) {
        if let Value::Text(report) = &values[3] {
            row[3] = progress_text(report);
        }
    }
    let more = cells.len() as i64 > PROGRESS_ROWS;
    cells.truncate(PROGRESS_ROWS as usize);
    let mut lines = vec![String::new()];
    lines.extend(table_lines(&jobs.columns, &cells));
    if more {
        lines.push(format!("… (the oldest {PROGRESS_ROWS} shown)"));
    }
    Ok(lines)
}

/// A progress report for people: a number from 0 to 1 as a percentage,
/// {"done", "total"} as done/total, then the message (or the string) if
/// any. The packages send a number with a message as {"value", "message"}.
/// Other JSON is shown as it is.
fn progress_text(report: &str) -> String {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(report) else { return cut(report, 48) };
    let amount = |v: &serde_json::Value| match v.as_f64() {
        Some(f) if (0.0..=1.0).contains(&f) => Some(format!("{:.0}%", f * 100.0)),
        _ => v.is_number().then(|| v.to_string()),
    };
    let counted = match (v.get("done"), v.get("total")) {
        (Some(done), Some(total)) if done.is_number() && total.is_number() => Some(format!("{done}/{total}")),
        _ => None,
    };
    let shown = counted.or_else(|| amount(v.get("value").unwrap_or(&v)));
    let message = v.get("message").unwrap_or(&v).as_str();
    let text = match (shown, message) {
        (Some(s), Some(m)) => format!("{s} {m}"),
        (Some(s), None) => s,
        (None, Some(m)) => m.to_string(),
        (None, None) => report.to_string(),
    };
    cut(&text, 48)
}

/// Waits up to `timeout` for a key on a terminal stdin.
fn key_pressed(timeout: Duration) -> Option<u8> {
    let mut pfd = libc::pollfd { fd: 0, events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd on stdin.
    let ready = unsafe { libc::poll(&mut pfd, 1, timeout.as_millis() as i32) };
    if ready <= 0 || !std::io::stdin().is_terminal() {
        if ready > 0 {
            std::thread::sleep(timeout); // stdin closed or not a terminal: just wait
        }
        return None;
    }
    let mut byte = [0u8; 1];
    std::io::stdin().read(&mut byte).ok().filter(|n| *n == 1).map(|_| byte[0])
}

/// The alternate screen with the cursor hidden and keys unbuffered; the
/// terminal is restored when this is dropped.
struct Screen {
    saved: Option<libc::termios>,
}

impl Screen {
    fn enter() -> Screen {
        let mut saved = None;
        if std::io::stdin().is_terminal() {
            // SAFETY: tcgetattr/tcsetattr on stdin with a valid termios.
            unsafe {
                let mut t: libc::termios = std::mem::zeroed();
                if libc::tcgetattr(0, &mut t) == 0 {
                    saved = Some(t);
                    t.c_lflag &= !(libc::ICANON | libc::ECHO | libc::ISIG);
                    t.c_cc[libc::VMIN] = 1;
                    t.c_cc[libc::VTIME] = 0;
                    libc::tcsetattr(0, libc::TCSANOW, &t);
                }
            }
        }
        print!("\x1b[?1049h\x1b[?25l");
        let _ = std::io::stdout().flush();
        Screen { saved }
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        print!("\x1b[?25h\x1b[?1049l");
        let _ = std::io::stdout().flush();
        if let Some(t) = self.saved {
            // SAFETY: restores the settings read in enter().
            unsafe {
                libc::tcsetattr(0, libc::TCSANOW, &t);
            }
        }
    }
}
