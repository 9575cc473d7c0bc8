//! `queue_workflow`: a whole DAG of jobs from one JSON spec, checked
//! completely (duplicate keys, unknown dependencies, cycles, every job's
//! options) before anything is written, then enqueued parents first.

use std::collections::HashMap;

use rusqlite::{named_params, Connection};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::args::check_json;
use crate::error::{invalid, Result};
use crate::fields::{self, Given, Problem};
use crate::ops;
use crate::options::{check_queue_name, excerpt, EnqueueKeys, EnqueueOptions};
use crate::sql;

/// The most jobs one workflow may have.
pub const MAX_JOBS: usize = 100_000;

pub struct Spec {
    name: String,
    fail_fast: bool,
    jobs: Vec<JobSpec>,
    /// Job indexes, parents before children.
    order: Vec<usize>,
}

struct JobSpec {
    key: String,
    queue: String,
    payload: String,
    depends_on: Vec<usize>,
    options: EnqueueOptions,
}

impl Spec {
    pub fn parse(text: &str, now: i64) -> Result<Spec> {
        let spec: SpecKeys = fields::parse(text).map_err(|p| match p {
            Problem::NotJson(e) => invalid(format!("spec is not valid JSON ({e}): {}", excerpt(text))),
            Problem::NotObject => invalid("spec must be a JSON object"),
            Problem::Unknown { key, known } => invalid(format!("unknown spec key '{key}' (known: {known})")),
            Problem::Twice(key) => invalid(format!("spec key '{key}' is given twice")),
        })?;
        let mut name = String::new();
        if let Some(raw) = &spec.name.0 {
            name = value("name", raw)?
                .as_str()
                .filter(|s| !s.is_empty())
                .ok_or_else(|| invalid("name must be a non-empty string"))?
                .to_string();
        }
        let fail_fast = match &spec.fail_fast.0 {
            Some(raw) => value("fail_fast", raw)?
                .as_bool()
                .ok_or_else(|| invalid("fail_fast must be true or false"))?,
            None => false,
        };
        let jobs = spec
            .jobs
            .0
            .map(|raw| {
                serde_json::from_str::<Vec<Box<RawValue>>>(raw.get())
                    .map_err(|_| invalid("jobs must be an array"))
            })
            .transpose()?;
        if name.is_empty() {
            return Err(invalid("spec needs a name"));
        }
        let jobs = jobs.ok_or_else(|| invalid("spec needs jobs"))?;
        if jobs.is_empty() || jobs.len() > MAX_JOBS {
            return Err(invalid(format!("a workflow has 1 to {MAX_JOBS} jobs, got {}", jobs.len())));
        }
        let mut index = HashMap::new();
        let mut raw = Vec::with_capacity(jobs.len());
        for (i, job) in jobs.iter().enumerate() {
            let job: JobKeys = fields::parse(job.get()).map_err(|p| match p {
                Problem::Unknown { key, known } => {
                    invalid(format!("unknown key jobs[{i}].{key} (known: {known})"))
                }
                Problem::Twice(key) => invalid(format!("key jobs[{i}].{key} is given twice")),
                _ => invalid(format!("jobs[{i}] must be an object")),
            })?;
            let parsed = RawJob::parse(i, job, now)?;
            if index.insert(parsed.key.clone(), i).is_some() {
                return Err(invalid(format!("duplicate job key '{}'", parsed.key)));
            }
            raw.push(parsed);
        }
        let mut parsed = Vec::with_capacity(raw.len());
        for job in raw {
            let mut depends_on = job
                .depends_on
                .iter()
                .map(|k| {
                    index
                        .get(k)
                        .copied()
                        .ok_or_else(|| invalid(format!("job '{}' depends on unknown key '{k}'", job.key)))
                })
                .collect::<Result<Vec<_>>>()?;
            depends_on.sort_unstable();
            depends_on.dedup();
            parsed.push(JobSpec {
                key: job.key,
                queue: job.queue,
                payload: job.payload,
                depends_on,
                options: job.options,
            });
        }
        let order = topological_order(&parsed)?;
        Ok(Spec { name, fail_fast, jobs: parsed, order })
    }

    /// Writes the workflow and its jobs; returns the workflow's id.
    pub fn submit(&self, conn: &Connection, now: i64) -> Result<i64> {
        conn.prepare_cached(sql::WORKFLOW_INSERT)?
            .execute(named_params! {":name": self.name, ":fail_fast": self.fail_fast, ":now": now})?;
        let workflow = conn.last_insert_rowid();
        let mut ids = vec![0i64; self.jobs.len()];
        for &i in &self.order {
            let job = &self.jobs[i];
            let mut options = job.options.clone();
            options.depends_on = job.depends_on.iter().map(|&p| ids[p]).collect();
            let place = ops::Placement {
                workflow: Some(workflow),
                workflow_key: Some(&job.key),
                ..Default::default()
            };
            ids[i] = ops::enqueue_placed(conn, now, &job.queue, &job.payload, &options, &place)?;
        }
        Ok(workflow)
    }
}

struct RawJob {
    key: String,
    queue: String,
    payload: String,
    depends_on: Vec<String>,
    options: EnqueueOptions,
}

/// The keys of one job of a spec. Each value is kept as its own text: a
/// payload's nesting is then checked by check_json, not refused by the
/// parser's recursion limit.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct JobKeys {
    key: Given<Box<RawValue>>,
    queue: Given<Box<RawValue>>,
    payload: Given<Box<RawValue>>,
    depends_on: Given<Box<RawValue>>,
    options: Given<Box<RawValue>>,
}

impl RawJob {
    fn parse(i: usize, job: JobKeys, now: i64) -> Result<RawJob> {
        let v = |k: &str, raw: &RawValue| value(&format!("jobs[{i}].{k}"), raw);
        let key = match &job.key.0 {
            Some(raw) => v("key", raw)?
                .as_str()
                .filter(|s| !s.is_empty())
                .ok_or_else(|| invalid(format!("jobs[{i}].key must be a non-empty string")))?
                .to_string(),
            None => return Err(invalid(format!("jobs[{i}] needs a key"))),
        };
        let queue = match &job.queue.0 {
            Some(raw) => v("queue", raw)?
                .as_str()
                .ok_or_else(|| invalid(format!("jobs[{i}].queue must be a string")))?
                .to_string(),
            None => return Err(invalid(format!("job '{key}' needs a queue"))),
        };
        let payload = match &job.payload.0 {
            Some(raw) => {
                // Checked by the one nesting limit of every payload.
                check_json(&format!("jobs[{i}].payload"), raw.get())?;
                v("payload", raw)?.to_string()
            }
            None => "{}".into(),
        };
        let mut depends_on = Vec::new();
        if let Some(raw) = &job.depends_on.0 {
            depends_on = v("depends_on", raw)?
                .as_array()
                .and_then(|a| a.iter().map(|d| d.as_str().map(str::to_string)).collect::<Option<Vec<_>>>())
                .ok_or_else(|| invalid(format!("jobs[{i}].depends_on must be an array of keys")))?;
        }
        let options = match &job.options.0 {
            Some(raw) => {
                let in_job = |e| invalid(format!("jobs[{i}].options: {e}"));
                let keys = EnqueueKeys::parse(raw.get()).map_err(in_job)?;
                if keys.depends_on.0.is_some() {
                    return Err(invalid(format!("jobs[{i}].options: dependencies go in depends_on, by key")));
                }
                keys.resolve(now).map_err(in_job)?
            }
            None => EnqueueOptions::defaults(now),
        };
        check_queue_name(&queue)?;
        Ok(RawJob { key, queue, payload, depends_on, options })
    }
}

/// The keys of a workflow spec, each value kept as its text (see JobKeys).
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct SpecKeys {
    name: Given<Box<RawValue>>,
    fail_fast: Given<Box<RawValue>>,
    jobs: Given<Box<RawValue>>,
}

/// A member's value, parsed (after the checks its text needed).
fn value(what: &str, raw: &RawValue) -> Result<Value> {
    serde_json::from_str(raw.get()).map_err(|e| invalid(format!("{what}: {e}")))
}

/// Kahn's algorithm: parents before children (otherwise in spec order, so
/// ids follow the spec), or the keys of a cycle.
fn topological_order(jobs: &[JobSpec]) -> Result<Vec<usize>> {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    let mut waiting: Vec<usize> = jobs.iter().map(|j| j.depends_on.len()).collect();
    let mut children = vec![Vec::new(); jobs.len()];
    for (i, job) in jobs.iter().enumerate() {
        for &p in &job.depends_on {
            children[p].push(i);
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> =
        (0..jobs.len()).filter(|&i| waiting[i] == 0).map(Reverse).collect();
    let mut order = Vec::with_capacity(jobs.len());
    while let Some(Reverse(i)) = ready.pop() {
        order.push(i);
        for &c in &children[i] {
            waiting[c] -= 1;
            if waiting[c] == 0 {
                ready.push(Reverse(c));
            }
        }
    }
    if order.len() < jobs.len() {
        let stuck: Vec<&str> =
            (0..jobs.len()).filter(|&i| waiting[i] > 0).map(|i| jobs[i].key.as_str()).take(10).collect();
        return Err(invalid(format!("the dependencies form a cycle among: {}", stuck.join(", "))));
    }
    Ok(order)
}
