//! A claim, shared by the `queue_claim` table and the `queue_claim_json`
//! scalar: its arguments, the steps it takes, and its JSON form.

use rusqlite::Connection;
use serde_json::Value;

use crate::args::Args;
use crate::clock::ms_to_secs;
use crate::error::{invalid, Result};
use crate::maintenance::Chores;
use crate::ops::{self, ClaimRequest, Claimed};
use crate::options::{check_queue_name, excerpt, lease_ms};
use crate::txn;

/// The most jobs one claim may lease.
pub const MAX_CLAIM: i64 = 100_000;
const MAX_WORKER_BYTES: usize = 256;

/// Does the chores due before a claim (maintenance::Chores: firing due
/// schedules, returning the leases that ran out in the claimed queues),
/// then leases jobs (ops::lease).
pub fn claim(conn: &Connection, now: i64, req: &ClaimRequest) -> Result<Vec<Claimed>> {
    if req.n == 0 {
        return Ok(Vec::new());
    }
    // Usually nothing is due and no lease ran out: the claim is then one
    // statement, and needs no savepoint.
    let chores = Chores::find(conn, now, req.queues.as_deref())?;
    if chores.is_empty() {
        return ops::lease(conn, now, req);
    }
    txn::atomic(conn, || {
        chores.run(conn, now)?;
        ops::lease(conn, now, req)
    })
}

/// Reads `(worker, n [, queue [, lease]])`.
pub fn claim_request(a: &Args) -> Result<ClaimRequest> {
    let worker = a.text(0, "worker")?;
    if worker.is_empty() || worker.len() > MAX_WORKER_BYTES {
        return Err(invalid(format!("worker must be 1 to {MAX_WORKER_BYTES} bytes")));
    }
    let n = a.int(1, "n")?;
    if !(0..=MAX_CLAIM).contains(&n) {
        return Err(invalid(format!("n must be from 0 to {MAX_CLAIM}, got {n}")));
    }
    let queues = a.opt_text(2, "queue")?.map(queue_list).transpose()?;
    let queue = queues.as_deref().and_then(|q| match serde_json::from_str::<Vec<String>>(q) {
        Ok(mut one) if one.len() == 1 => one.pop(),
        _ => None,
    });
    let lease_ms = a.opt_number(3, "lease")?.map(|s| lease_ms("lease", s)).transpose()?;
    Ok(ClaimRequest { worker: worker.to_string(), n, queues, queue, lease_ms })
}

/// One queue name, or a JSON array of names, as a JSON array.
pub fn queue_list(text: &str) -> Result<String> {
    if !text.trim_start().starts_with('[') {
        check_queue_name(text)?;
        return Ok(Value::from(vec![text]).to_string());
    }
    let names: Vec<String> = serde_json::from_str(text).map_err(|_| {
        invalid(format!("queue must be a name or a JSON array of names, got {}", excerpt(text)))
    })?;
    if names.is_empty() {
        return Err(invalid("queue list is empty (pass NULL to claim from every queue)"));
    }
    for name in &names {
        check_queue_name(name)?;
    }
    Ok(Value::from(names).to_string())
}

/// Claimed jobs as a JSON array of objects; payloads are embedded as JSON.
pub fn claimed_json(jobs: &[Claimed]) -> String {
    let mut out = String::from("[");
    for (i, j) in jobs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let timeout = j.timeout_ms.map_or("null".to_string(), |t| ms_to_secs(t).to_string());
        out.push_str(&format!(
            r#"{{"id":{},"queue":{},"payload":{},"attempt":{},"token":{},"lease_until":{},"priority":{},"max_attempts":{},"timeout":{},"lease":{}}}"#,
            j.id,
            Value::from(j.queue.as_str()),
            j.payload,
            j.attempt,
            j.token,
            ms_to_secs(j.lease_until_ms),
            j.priority,
            j.max_attempts,
            timeout,
            ms_to_secs(j.lease_ms)
        ));
    }
    out.push(']');
    out
}
