//! `orq health` and `orq alert`: thin front ends to `queue_health()` and
//! the alert functions. `orq serve` shares the health options.

use clap::{Args, Subcommand};
use rusqlite::types::Value as SqlValue;
use serde_json::{json, Map, Value};

use crate::duration::parse_seconds;
use crate::exit::{usage, Code, Result};
use crate::output::{cut, print_table, Output};
use crate::store::{Source, Store};

/// The thresholds `queue_health` takes; unset ones keep its defaults.
#[derive(Args, Clone, Debug, Default)]
pub struct HealthOptions {
    /// Warn when the database's filesystem has less free space (MB)
    #[arg(long, value_name = "MB", value_parser = megabytes)]
    pub disk_warn_mb: Option<f64>,
    /// Critical when the database's filesystem has less free space (MB)
    #[arg(long, value_name = "MB", value_parser = megabytes)]
    pub disk_crit_mb: Option<f64>,
    /// Warn when the WAL file is larger (MB)
    #[arg(long, value_name = "MB", value_parser = megabytes)]
    pub wal_warn_mb: Option<f64>,
    /// Warn when more than this many jobs are dead [default: 0]
    #[arg(long, value_name = "N")]
    pub dead_warn: Option<i64>,
    /// Skip PRAGMA quick_check (it reads every page: seconds for gigabytes)
    #[arg(long)]
    pub no_quick_check: bool,
}

/// A threshold in MB: a finite number >= 0 (clap would take "nan" and "inf").
fn megabytes(text: &str) -> std::result::Result<f64, String> {
    match text.parse::<f64>() {
        Ok(n) if n.is_finite() && n >= 0.0 => Ok(n),
        _ => Err(format!("expected a number of megabytes >= 0, got '{text}'")),
    }
}

/// Any finite number (rusqlite would bind NaN as NULL).
fn finite(text: &str) -> std::result::Result<f64, String> {
    match text.parse::<f64>() {
        Ok(n) if n.is_finite() => Ok(n),
        _ => Err(format!("expected a finite number, got '{text}'")),
    }
}

impl HealthOptions {
    /// The options object for `queue_health`, with `extra` (already
    /// checked keys) taking precedence; None when there is nothing to pass.
    pub fn to_json(&self, extra: &Map<String, Value>) -> Option<String> {
        let mut m = super::given([
            ("disk_warn_mb", self.disk_warn_mb.map(Into::into)),
            ("disk_crit_mb", self.disk_crit_mb.map(Into::into)),
            ("wal_warn_mb", self.wal_warn_mb.map(Into::into)),
            ("dead_warn", self.dead_warn.map(Into::into)),
            ("quick_check", self.no_quick_check.then_some(Value::Bool(false))),
        ]);
        m.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
        (!m.is_empty()).then(|| Value::Object(m).to_string())
    }
}

#[derive(Args)]
pub struct HealthArgs {
    #[command(flatten)]
    options: HealthOptions,
}

/// The report of `queue_health(options)`, parsed. On a cluster the leader
/// makes it: its disk figure is for the leader's working directory, and
/// the WAL of a dqlite database lives in the node's memory (its size
/// reads 0).
pub fn report(store: &Store, options: Option<&str>) -> Result<Value> {
    parse_report(&store.one::<String>("SELECT queue_health(?1)", &[options.map(str::to_string).into()])?)
}

fn parse_report(text: &str) -> Result<Value> {
    serde_json::from_str(text).map_err(|e| usage(format!("queue_health returned invalid JSON: {e}")))
}

/// The exit status for a report's overall status.
pub fn code_of(report: &Value) -> Code {
    match report["status"].as_str() {
        Some("ok") => Code::Ok,
        Some("warning") => Code::HealthWarning,
        _ => Code::HealthCritical,
    }
}

/// `orq health`: the report, and its status as the exit code. A database
/// that is missing (opening would create an empty one, which is healthy),
/// does not open, or fails while being checked (corrupt, locked, I/O), and
/// a cluster that does not answer, are themselves the critical finding.
pub fn check(source: &Source, a: &HealthArgs, out: &Output) -> Code {
    let report = match source {
        Source::File { path, .. } if !path.exists() => {
            database_failed(&format!("{} does not exist", path.display()))
        }
        _ => source
            .open()
            .and_then(|store| report(&store, a.options.to_json(&Map::new()).as_deref()))
            .unwrap_or_else(|e| database_failed(&e.message)),
    };
    print_report(&report, out);
    code_of(&report)
}

/// The report of a database that could not be checked at all.
pub fn database_failed(message: &str) -> Value {
    json!({
        "status": "critical",
        "checks": [{ "name": "database", "status": "critical", "detail": message, "value": null }],
    })
}

fn print_report(report: &Value, out: &Output) {
    if out.json {
        println!("{report}");
        return;
    }
    let headers: Vec<String> = ["check", "status", "value", "detail"].map(String::from).into();
    let rows: Vec<Vec<String>> = report["checks"]
        .as_array()
        .map(|checks| {
            checks
                .iter()
                .map(|c| {
                    let text = |v: &Value| match v {
                        Value::Null => "-".to_string(),
                        Value::String(s) => cut(s, 72),
                        other => cut(&other.to_string(), 72),
                    };
                    vec![text(&c["name"]), text(&c["status"]), text(&c["value"]), text(&c["detail"])]
                })
                .collect()
        })
        .unwrap_or_default();
    print_table(&headers, &rows);
    println!("\nhealth: {}", report["status"].as_str().unwrap_or("unknown"));
}

#[derive(Subcommand)]
pub enum AlertCommand {
    /// Create or replace a rule: fires when METRIC OP THRESHOLD holds (for --for)
    Add {
        name: String,
        /// A metric of queue_metrics (ready, oldest_ready_age_seconds, failed_per_second_5m, dead_total, …)
        metric: String,
        /// One of > >= < <= = !=
        op: String,
        #[arg(allow_hyphen_values = true, value_parser = finite)]
        threshold: f64,
        /// Only this queue [default: every queue]
        #[arg(long, short)]
        queue: Option<String>,
        /// Fire only after the condition held this long (30s, 5m)
        #[arg(long = "for", value_parser = parse_seconds, value_name = "DURATION")]
        for_seconds: Option<f64>,
    },
    /// Remove a rule
    Rm { name: String },
    /// Every rule with its state (ok, pending, firing)
    List,
}

/// `orq alert`: each a single call (a rule replaced by its name, so a
/// cluster may send one again after a failover).
pub fn alert(store: &Store, cmd: AlertCommand, out: &Output) -> Result<Code> {
    match cmd {
        AlertCommand::Add { name, metric, op, threshold, queue, for_seconds } => {
            let mut args: Vec<SqlValue> = vec![
                name.clone().into(),
                queue.clone().into(),
                metric.clone().into(),
                op.clone().into(),
                threshold.into(),
            ];
            args.extend(for_seconds.map(SqlValue::from));
            let marks = if for_seconds.is_some() { "?1, ?2, ?3, ?4, ?5, ?6" } else { "?1, ?2, ?3, ?4, ?5" };
            store.call(&format!("SELECT queue_alert({marks})"), &args)?;
            if out.json {
                println!("{}", json!({ "name": name, "changed": true }));
            } else {
                let scope = queue.map(|q| format!(" of {q}")).unwrap_or_default();
                let held =
                    for_seconds.map(|f| format!(" for {}", crate::output::seconds(f))).unwrap_or_default();
                println!("alert {name}: {metric}{scope} {op} {threshold}{held}");
            }
            Ok(Code::Ok)
        }
        AlertCommand::Rm { name } => {
            let n: i64 = store.one("SELECT queue_alert_remove(?1)", &[name.clone().into()])?;
            if out.json {
                println!("{}", json!({ "name": name, "changed": n == 1 }));
            } else if n == 1 {
                println!("alert {name} removed");
            } else {
                println!("no alert {name}");
            }
            Ok(if n == 1 { Code::Ok } else { Code::NoChange })
        }
        AlertCommand::List => {
            store.read("SELECT * FROM queue_alerts", &[])?.print(out);
            Ok(Code::Ok)
        }
    }
}
