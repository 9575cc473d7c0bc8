//! `orq demo`: a small realistic mix of shell jobs — a few quick ones, a
//! high-priority report, a delayed cleanup, and a flaky job that retries and
//! ends in the dead-letter list — worked through by three workers with the
//! progress display, then the report.

use std::time::Instant;

use serde_json::json;

use super::run::{work_through, Batch};
use crate::exit::{Code, Result};
use crate::output::Output;
use crate::store::Store;

const QUEUE: &str = "demo";

/// (what it is, shell command, enqueue options)
const JOBS: &[(&str, &str, &str)] = &[
    ("welcome email to ada", "sleep 0.3; echo 'sent to ada@example.com'", "{}"),
    ("welcome email to bob", "sleep 0.3; echo 'sent to bob@example.com'", "{}"),
    ("welcome email to cy", "sleep 0.3; echo 'sent to cy@example.com'", "{}"),
    ("daily sales report", "sleep 0.5; echo '{\"rows\":1274,\"total\":\"48,112.50\"}'", r#"{"priority":10}"#),
    ("resize 4 images", "for i in 1 2 3 4; do sleep 0.1; done; echo '{\"resized\":4}'", "{}"),
    (
        "thumbnail of cat.heic",
        "echo 'thumbnailer: unsupported format heic' >&2; exit 1",
        r#"{"max_attempts":3,"backoff":{"base":0.3}}"#,
    ),
    ("nightly cleanup (in 1.5s)", "echo 'removed 12 temp files'", r#"{"delay":1.5}"#),
    ("count words", "echo 'the quick brown fox' | wc -w", "{}"),
];

pub fn run(store: &Store, db: &std::path::Path, out: &Output) -> Result<Code> {
    let started = Instant::now();
    let run_id = format!("{}-{}", std::process::id(), started.elapsed().as_nanos());
    let ids = store.transaction(|| {
        let mut ids = Vec::new();
        for (i, (what, cmd, options)) in JOBS.iter().enumerate() {
            let mut opts: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(options).unwrap_or_default();
            opts.insert("key".into(), json!(format!("demo-{run_id}-{i}")));
            let payload = json!({"what": what, "cmd": cmd});
            // Keyed: a cluster may send it again after a failover.
            let id: i64 = store.one(
                "SELECT queue_enqueue(?1, ?2, ?3)",
                &[
                    QUEUE.to_string().into(),
                    payload.to_string().into(),
                    serde_json::Value::Object(opts).to_string().into(),
                ],
            )?;
            if !out.json {
                println!("enqueued job {id:>3}: {what}");
            }
            ids.push(id);
        }
        Ok(ids)
    })?;
    let batch = Batch { queue: QUEUE.into(), ids, workers: 3, command: Vec::new(), timeout: Some(30.0) };
    let code = work_through(store, db, &batch, started)?;
    if !out.json {
        println!("\n{}", hint(store, &batch.ids)?);
    }
    // The failing job is part of the demo, not a failure of it.
    Ok(if code == Code::JobsFailed { Code::Ok } else { code })
}

/// Where to look next: commands that work as printed, from this directory,
/// naming the job that ended dead.
fn hint(store: &Store, ids: &[i64]) -> Result<String> {
    let mut dead = None;
    for &id in ids {
        let state: String = store.read_one("SELECT state FROM queue_jobs WHERE id = ?1", &[id.into()])?;
        if state == "dead" {
            dead = Some(id);
        }
    }
    let look = "See it all with `orq stats`, `orq jobs`";
    Ok(match dead {
        Some(id) => format!(
            "{look}, `orq show {id}`; retry the dead one with `orq retry {id}`,\n\
             then run it with `orq worker --until-empty` (it fails again: heic stays unsupported)."
        ),
        None => format!("{look}, `orq show {}`.", ids.first().copied().unwrap_or(1)),
    })
}
