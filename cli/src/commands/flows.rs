//! `orq workflow`, `orq events` and `orq schedule`.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::json;

use crate::exit::{usage, Code, Result};
use crate::output::Output;
use crate::store::{Resend, Store};

#[derive(Subcommand)]
pub enum WorkflowCommand {
    /// Submit a workflow spec (JSON file, `-` for stdin); prints its id
    Submit { file: std::path::PathBuf },
    /// The workflow's DAG as a tree, with each job's state
    Show { id: i64 },
    /// Cancel every unfinished job of the workflow
    Cancel { id: i64 },
    /// Every workflow with its state and counts
    List,
}

pub fn workflow(store: &Store, cmd: WorkflowCommand, out: &Output) -> Result<Code> {
    match cmd {
        WorkflowCommand::Submit { file } => {
            let mut spec = String::new();
            if file.as_os_str() == "-" {
                std::io::stdin()
                    .read_to_string(&mut spec)
                    .map_err(|e| usage(format!("reading stdin: {e}")))?;
            } else {
                spec = std::fs::read_to_string(&file)
                    .map_err(|e| usage(format!("cannot read {}: {e}", file.display())))?;
            }
            // Sent once: a second submission would be a second workflow.
            let id: i64 = store.one_with("SELECT queue_workflow(?1)", &[spec.into()], Resend::Never)?;
            if out.json {
                println!("{}", json!({ "id": id }));
            } else {
                println!("{id}");
            }
            Ok(Code::Ok)
        }
        WorkflowCommand::Show { id } => show(store, id, out),
        WorkflowCommand::Cancel { id } => {
            let n: i64 = store.one("SELECT queue_workflow_cancel(?1)", &[id.into()])?;
            if out.json {
                println!("{}", json!({ "workflow": id, "cancelled": n }));
            } else {
                println!("workflow {id}: cancelled {n} job{}", if n == 1 { "" } else { "s" });
            }
            Ok(if n > 0 { Code::Ok } else { Code::NoChange })
        }
        WorkflowCommand::List => {
            store.read("SELECT * FROM queue_workflows", &[])?.print(out);
            Ok(Code::Ok)
        }
    }
}

struct Node {
    id: i64,
    state: String,
    parents: Vec<String>,
    error: Option<String>,
}

/// Prints the DAG as an indented tree from its roots. A job with several
/// parents is drawn under the first; under the others it is a reference.
fn show(store: &Store, id: i64, out: &Output) -> Result<Code> {
    let summary = store.read("SELECT * FROM queue_workflows WHERE id = ?1", &[id.into()])?;
    if summary.rows.is_empty() {
        return Err(usage(format!("no workflow with id {id}")));
    }
    let jobs =
        store.read("SELECT key, id, state, depends_on, error FROM queue_workflow_jobs(?1)", &[id.into()])?;
    if out.json {
        println!("{}", json!({ "workflow": summary.object(&summary.rows[0]), "jobs": jobs.to_json() }));
        return Ok(Code::Ok);
    }
    let w = summary.object(&summary.rows[0]);
    let mut order = Vec::new();
    let mut nodes = HashMap::new();
    for row in &jobs.rows {
        let j = jobs.object(row);
        let key = j["key"].as_str().unwrap_or("").to_string();
        let parents = j["depends_on"]
            .as_array()
            .map(|a| a.iter().filter_map(|p| p.as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        order.push(key.clone());
        let error = j["error"].as_str().map(str::to_string);
        nodes.insert(
            key,
            Node {
                id: j["id"].as_i64().unwrap_or(0),
                state: j["state"].as_str().unwrap_or("").into(),
                parents,
                error,
            },
        );
    }
    let mut children: HashMap<&str, Vec<&str>> = HashMap::new();
    for key in &order {
        for p in &nodes[key].parents {
            children.entry(p.as_str()).or_default().push(key);
        }
    }
    println!(
        "workflow {id} {}: {} ({} jobs: {} done, {} running, {} ready, {} waiting, {} dead, {} cancelled)",
        w["name"].as_str().unwrap_or(""),
        w["state"].as_str().unwrap_or(""),
        w["jobs"],
        w["done"],
        w["running"],
        w["ready"],
        w["waiting"],
        w["dead"],
        w["cancelled"]
    );
    let mut drawn = HashSet::new();
    for key in order.iter().filter(|k| nodes[k.as_str()].parents.is_empty()) {
        draw(key, "", "", &nodes, &children, &mut drawn);
    }
    Ok(Code::Ok)
}

fn draw<'a>(
    key: &'a str,
    lead: &str,
    branch: &str,
    nodes: &HashMap<String, Node>,
    children: &HashMap<&str, Vec<&'a str>>,
    drawn: &mut HashSet<&'a str>,
) {
    let n = &nodes[key];
    if !drawn.insert(key) {
        println!("{lead}{branch}{key} (above)");
        return;
    }
    let error = n.error.as_deref().map(|e| format!("  {}", crate::output::cut(e, 60))).unwrap_or_default();
    println!("{lead}{branch}{key} [{}] #{}{error}", n.state, n.id);
    let next_lead = format!(
        "{lead}{}",
        match branch {
            "" => "",
            "├── " => "│   ",
            _ => "    ",
        }
    );
    let kids = children.get(key).cloned().unwrap_or_default();
    for (i, child) in kids.iter().enumerate() {
        let b = if i + 1 == kids.len() { "└── " } else { "├── " };
        draw(child, &next_lead, b, nodes, children, drawn);
    }
}

#[derive(Args)]
pub struct EventsArgs {
    /// Keep printing new events as they happen
    #[arg(long, short)]
    follow: bool,
    /// Only this queue
    #[arg(long, short)]
    queue: Option<String>,
    /// Only this job
    #[arg(long)]
    job: Option<i64>,
    /// Only this workflow
    #[arg(long)]
    workflow: Option<i64>,
    /// The last N events first [default: 20; with --follow, 10]
    #[arg(long, short = 'n')]
    last: Option<i64>,
}

/// Prints events, then (with --follow) new ones as they are written.
pub fn events(store: &Store, a: &EventsArgs, out: &Output) -> Result<Code> {
    let mut filters = Vec::new();
    let mut values: Vec<rusqlite::types::Value> = Vec::new();
    if let Some(q) = &a.queue {
        filters.push("queue = ?");
        values.push(q.clone().into());
    }
    if let Some(j) = a.job {
        filters.push("job = ?");
        values.push(j.into());
    }
    if let Some(w) = a.workflow {
        filters.push("workflow = ?");
        values.push(w.into());
    }
    let last = a.last.unwrap_or(if a.follow { 10 } else { 20 });
    let cond = |extra: &str| {
        let mut all = filters.clone();
        all.push(extra);
        format!("WHERE {}", all.join(" AND "))
    };
    let columns = "seq, at, job, queue, workflow, type, from_state, to_state, worker, attempt, detail";
    let recent = format!(
        "SELECT * FROM (SELECT {columns} FROM queue_events {} ORDER BY seq DESC LIMIT {last}) ORDER BY seq",
        if filters.is_empty() { String::new() } else { cond("1") }
    );
    let mut seen = print_events(store, &recent, &values, out, 0)?;
    if !a.follow {
        return Ok(Code::Ok);
    }
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let mut v = values.clone();
        v.push(seen.into());
        let newer = format!("SELECT {columns} FROM queue_events {} ORDER BY seq", cond("seq > ?"));
        seen = print_events(store, &newer, &v, out, seen)?;
    }
}

/// Prints events one per line; returns the highest seq printed.
fn print_events(
    store: &Store,
    sql: &str,
    values: &[rusqlite::types::Value],
    out: &Output,
    mut seen: i64,
) -> Result<i64> {
    let rows = store.read(sql, values)?;
    for row in &rows.rows {
        let e = rows.object(row);
        seen = seen.max(e["seq"].as_i64().unwrap_or(0));
        if out.json {
            println!("{e}");
            continue;
        }
        let mut line = format!(
            "{} #{:<6} job {:<6} {:<10} {:<10} {} -> {}",
            crate::time::iso(e["at"].as_f64().unwrap_or(0.0)),
            e["seq"].to_string(),
            e["job"].to_string(),
            e["queue"].as_str().unwrap_or(""),
            e["type"].as_str().unwrap_or(""),
            e["from_state"].as_str().unwrap_or("-"),
            e["to_state"].as_str().unwrap_or("-"),
        );
        if let Some(w) = e["worker"].as_str() {
            line.push_str(&format!("  worker {w}"));
        }
        if !e["detail"].is_null() {
            line.push_str(&format!("  {}", e["detail"]));
        }
        println!("{line}");
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();
    Ok(seen)
}

#[derive(Subcommand)]
pub enum ScheduleCommand {
    /// Create or replace a schedule: CRON is 5 fields ("*/5 * * * *") or
    /// @hourly, @daily, @weekly, @monthly, @yearly, @every 30s
    Add {
        name: String,
        cron: String,
        queue: String,
        /// JSON payload of each job [default: {}]
        payload: Option<String>,
        /// A shell command to run: the payload becomes {"cmd": CMD}
        #[arg(long, conflicts_with = "payload")]
        cmd: Option<String>,
        /// IANA time zone of the cron fields [default: UTC]
        #[arg(long)]
        tz: Option<String>,
        /// Enqueue options for each job (JSON object)
        #[arg(long)]
        options: Option<String>,
    },
    /// Remove a schedule
    Rm { name: String },
    /// Every schedule with its next run
    List,
}

/// `orq schedule`: each a single call (a schedule replaced by its name, so a
/// cluster may send one again after a failover).
pub fn schedule(store: &Store, cmd: ScheduleCommand, out: &Output) -> Result<Code> {
    match cmd {
        ScheduleCommand::Add { name, cron, queue, payload, cmd, tz, options } => {
            let payload = match cmd {
                Some(c) => json!({ "cmd": c }).to_string(),
                None => payload.unwrap_or_else(|| "{}".into()),
            };
            let mut opts = match options.as_deref() {
                Some(t) => match serde_json::from_str(t) {
                    Ok(serde_json::Value::Object(m)) => m,
                    _ => return Err(usage("--options must be a JSON object")),
                },
                None => serde_json::Map::new(),
            };
            if let Some(tz) = tz {
                opts.insert("tz".into(), tz.into());
            }
            let options = (!opts.is_empty()).then(|| serde_json::Value::Object(opts).to_string());
            let next: f64 = store.one(
                "SELECT queue_schedule(?1, ?2, ?3, ?4, ?5)",
                &[name.clone().into(), cron.into(), queue.into(), payload.into(), options.into()],
            )?;
            if out.json {
                println!("{}", json!({ "name": name, "next_run_at": next }));
            } else {
                println!("schedule {name}: next run {}", crate::time::iso(next));
            }
            Ok(Code::Ok)
        }
        ScheduleCommand::Rm { name } => {
            let n: i64 = store.one("SELECT queue_unschedule(?1)", &[name.clone().into()])?;
            if !out.json {
                println!(
                    "{}",
                    if n == 1 { format!("schedule {name} removed") } else { format!("no schedule {name}") }
                );
            }
            Ok(if n == 1 { Code::Ok } else { Code::NoChange })
        }
        ScheduleCommand::List => {
            store
                .read("SELECT name, cron, tz, queue, next_run_at, last_run_at, last_job, error FROM queue_schedules", &[])?
                .print(out);
            Ok(Code::Ok)
        }
    }
}
