//! `queue_workflow`: a whole DAG of jobs from one JSON spec, checked
//! completely (duplicate keys, unknown dependencies, cycles, every job's
//! options) before anything is written, then enqueued parents first.

use std::collections::{BTreeMap, HashMap};

use rusqlite::{named_params, Connection};
use serde::de::IgnoredAny;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::args::check_json;
use crate::error::{invalid, Result};
use crate::ops;
use crate::options::{check_queue_name, excerpt, EnqueueOptions};
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
        serde_json::from_str::<IgnoredAny>(text)
            .map_err(|e| invalid(format!("spec is not valid JSON ({e}): {}", excerpt(text))))?;
        let obj: Fields = serde_json::from_str(text).map_err(|_| invalid("spec must be a JSON object"))?;
        let (mut name, mut fail_fast, mut jobs) = (String::new(), false, None);
        for (key, raw) in &obj {
            let v = || value(key, raw);
            match key.as_str() {
                "name" => {
                    name = v()?
                        .as_str()
                        .filter(|s| !s.is_empty())
                        .ok_or_else(|| invalid("name must be a non-empty string"))?
                        .to_string()
                }
                "fail_fast" => {
                    fail_fast = v()?.as_bool().ok_or_else(|| invalid("fail_fast must be true or false"))?
                }
                "jobs" => {
                    jobs = Some(
                        serde_json::from_str::<Vec<Box<RawValue>>>(raw.get())
                            .map_err(|_| invalid("jobs must be an array"))?,
                    )
                }
                other => {
                    return Err(invalid(format!("unknown spec key '{other}' (known: name, fail_fast, jobs)")))
                }
            }
        }
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
            let job: Fields = serde_json::from_str(job.get())
                .map_err(|_| invalid(format!("jobs[{i}] must be an object")))?;
            let parsed = RawJob::parse(i, &job, now)?;
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
            let place = ops::Placement { workflow: Some(workflow), workflow_key: Some(&job.key) };
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

impl RawJob {
    fn parse(i: usize, job: &Fields, now: i64) -> Result<RawJob> {
        let (mut key, mut queue, mut payload, mut depends_on, mut options) =
            (None, None, None, Vec::new(), None);
        for (k, raw) in job {
            if k == "payload" {
                // Checked by the one nesting limit of every payload.
                check_json(&format!("jobs[{i}].payload"), raw.get())?;
            }
            let v = &value(&format!("jobs[{i}].{k}"), raw)?;
            match k.as_str() {
                "key" => {
                    key = Some(
                        v.as_str()
                            .filter(|s| !s.is_empty())
                            .ok_or_else(|| invalid(format!("jobs[{i}].key must be a non-empty string")))?
                            .to_string(),
                    )
                }
                "queue" => {
                    queue = Some(
                        v.as_str()
                            .ok_or_else(|| invalid(format!("jobs[{i}].queue must be a string")))?
                            .to_string(),
                    )
                }
                "payload" => payload = Some(v.to_string()),
                "depends_on" => {
                    depends_on = v
                        .as_array()
                        .and_then(|a| {
                            a.iter().map(|d| d.as_str().map(str::to_string)).collect::<Option<Vec<_>>>()
                        })
                        .ok_or_else(|| invalid(format!("jobs[{i}].depends_on must be an array of keys")))?
                }
                "options" => {
                    if v.get("depends_on").is_some() {
                        return Err(invalid(format!(
                            "jobs[{i}].options: dependencies go in depends_on, by key"
                        )));
                    }
                    options = Some(
                        EnqueueOptions::parse(Some(&v.to_string()), now)
                            .map_err(|e| invalid(format!("jobs[{i}].options: {e}")))?,
                    )
                }
                other => {
                    return Err(invalid(format!(
                        "unknown key jobs[{i}].{other} (known: key, queue, payload, depends_on, options)"
                    )))
                }
            }
        }
        let key = key.ok_or_else(|| invalid(format!("jobs[{i}] needs a key")))?;
        let queue = queue.ok_or_else(|| invalid(format!("job '{key}' needs a queue")))?;
        check_queue_name(&queue)?;
        Ok(RawJob {
            key,
            queue,
            payload: payload.unwrap_or_else(|| "{}".into()),
            depends_on,
            options: options.unwrap_or_else(|| EnqueueOptions::defaults(now)),
        })
    }
}

/// A JSON object's members as their own text: a payload's nesting is then
/// checked by check_json, not refused by the parser's recursion limit.
type Fields = BTreeMap<String, Box<RawValue>>;

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
