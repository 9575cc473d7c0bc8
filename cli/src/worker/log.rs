//! One line per job event on stderr: readable by default, JSON for log
//! pipelines (`--log-format json`).

use serde_json::{json, Value};

use crate::time::{iso, now_secs};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
    /// Nothing (orq run draws progress instead).
    Quiet,
}

/// What a log line is about.
pub struct JobLine<'a> {
    pub id: i64,
    pub queue: &'a str,
    pub attempt: i64,
    pub max_attempts: i64,
}

pub struct Log {
    pub format: LogFormat,
}

impl Log {
    /// `outcome`: started, done, failed, timeout, lost, released; `detail`:
    /// the error, if any.
    pub fn job(&self, job: &JobLine, outcome: &str, duration: Option<f64>, detail: Option<&str>) {
        match self.format {
            LogFormat::Quiet => {}
            LogFormat::Json => {
                let mut line = json!({
                    "time": iso(now_secs()), "event": format!("job.{outcome}"), "job": job.id,
                    "queue": job.queue, "attempt": job.attempt, "max_attempts": job.max_attempts,
                    "outcome": outcome,
                });
                if let Some(d) = duration {
                    line["duration"] = json!((d * 1000.0).round() / 1000.0);
                }
                if let Some(e) = detail {
                    line["error"] = Value::from(e);
                }
                eprintln!("{line}");
            }
            LogFormat::Human => {
                let mut line = format!(
                    "{} job {} [{}] attempt {}/{} {outcome}",
                    iso(now_secs()),
                    job.id,
                    job.queue,
                    job.attempt,
                    job.max_attempts
                );
                if let Some(d) = duration {
                    line.push_str(&format!(" in {d:.3}s"));
                }
                if let Some(e) = detail {
                    line.push_str(&format!(": {}", crate::output::cut(e, 200)));
                }
                eprintln!("{line}");
            }
        }
    }

    /// A line about the worker itself (started, stopping, ...).
    pub fn worker(&self, event: &str, message: &str) {
        match self.format {
            LogFormat::Quiet => {}
            LogFormat::Json => eprintln!(
                "{}",
                json!({"time": iso(now_secs()), "event": format!("worker.{event}"), "message": message})
            ),
            LogFormat::Human => eprintln!("{} worker {event}: {message}", iso(now_secs())),
        }
    }
}
