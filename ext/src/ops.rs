//! The queue operations: each binds its parameters to a statement from sql/
//! and reads the result. They run inside a transaction that txn.rs opened;
//! `now` is the caller's queue clock in unix ms.

use rusqlite::types::ValueRef;
use rusqlite::{named_params, Connection, OptionalExtension};

use crate::error::{invalid, not_found, Error, Result};
use crate::options::{EnqueueOptions, GroupSettings, QueueSettings, Rate};
use crate::{deps, params, sql};

/// A job leased by a claim.
#[derive(Debug, Clone, PartialEq)]
pub struct Claimed {
    pub id: i64,
    pub queue: String,
    pub payload: String,
    pub attempt: i64,
    pub token: i64,
    pub lease_until_ms: i64,
    pub priority: i64,
    pub max_attempts: i64,
    pub timeout_ms: Option<i64>,
    /// The lease length this claim used, for planning heartbeats.
    pub lease_ms: i64,
}

/// What a claim asks for.
#[derive(Debug, Clone)]
pub struct ClaimRequest {
    pub worker: String,
    pub n: i64,
    /// A JSON array of queue names, or `None` for every queue.
    pub queues: Option<String>,
    /// The one queue, when there is exactly one.
    pub queue: Option<String>,
    /// Overrides each job's own lease length.
    pub lease_ms: Option<i64>,
}

/// Where a job belongs besides its queue.
#[derive(Default)]
pub struct Placement<'a> {
    pub workflow: Option<i64>,
    pub workflow_key: Option<&'a str>,
    /// The caller knows that the queue has its row in orq_queues (see
    /// session::RegisteredQueues); otherwise the enqueue registers it.
    pub queue_registered: bool,
}

pub fn enqueue(conn: &Connection, now: i64, queue: &str, payload: &str, o: &EnqueueOptions) -> Result<i64> {
    enqueue_placed(conn, now, queue, payload, o, &Placement::default())
}

/// How a new job starts, given its parents: (state, parents it waits for, why it is cancelled).
fn initial_state(conn: &Connection, o: &EnqueueOptions) -> Result<(&'static str, i64, Option<String>)> {
    if o.depends_on.is_empty() {
        return Ok(("ready", 0, None));
    }
    let ids = serde_json::Value::from(o.depends_on.clone()).to_string();
    let parents: Vec<(i64, String)> = conn
        .prepare_cached(sql::DEPS_PARENTS)?
        .query_map(named_params! {":ids": ids}, |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    if let Some(missing) = o.depends_on.iter().find(|id| !parents.iter().any(|(p, _)| p == *id)) {
        return Err(not_found(format!("depends_on: no job with id {missing}")));
    }
    let failed = parents.iter().find(|(_, s)| s == "dead" || s == "cancelled");
    if let (Some((id, state)), false) = (failed, o.run_on_parent_failure) {
        return Ok(("cancelled", 0, Some(format!("parent {id} ended {state}"))));
    }
    let unfinished =
        parents.iter().filter(|(_, s)| matches!(s.as_str(), "waiting" | "ready" | "running")).count() as i64;
    Ok(if unfinished > 0 { ("waiting", unfinished, None) } else { ("ready", 0, None) })
}

/// Enqueues a job that may belong to a workflow and depend on others.
pub fn enqueue_placed(
    conn: &Connection,
    now: i64,
    queue: &str,
    payload: &str,
    o: &EnqueueOptions,
    place: &Placement,
) -> Result<i64> {
    if o.key_for_all {
        let existing = conn
            .prepare_cached(sql::ENQUEUE_EXISTING_ANY)?
            .query_row(named_params! {":queue": queue, ":key": o.key}, |r| r.get(0))
            .optional()?;
        if let Some(id) = existing {
            return Ok(id);
        }
    }
    if o.follow_up {
        if let Some(id) = follow_up(conn, now, queue, payload, o, place)? {
            return Ok(id);
        }
    }
    if o.debounce {
        let pushed = conn
            .prepare_cached(sql::DEBOUNCE)?
            .query_row(
                named_params! {":payload": payload, ":run_at": o.run_at_ms, ":now": now, ":queue": queue, ":key": o.key},
                |r| r.get(0),
            )
            .optional()?;
        if let Some(id) = pushed {
            return Ok(id);
        }
    }
    if let Some(id) = insert_one(conn, now, queue, payload, o, place)? {
        return Ok(id);
    }
    // Only the live-key index can refuse an insert: that job is the answer.
    conn.prepare_cached(sql::ENQUEUE_EXISTING)?
        .query_row(named_params! {":queue": queue, ":key": o.key}, |r| r.get(0))
        .optional()?
        .ok_or_else(|| invalid("the job was refused, but no live job holds its key"))
}

/// With follow_up: the key's job that has not started (its id), or a new
/// follow-up run that waits for the key's running job and holds the key in
/// follow_key (its id); None when no job holds the key (the caller inserts
/// one as usual).
fn follow_up(
    conn: &Connection,
    now: i64,
    queue: &str,
    payload: &str,
    o: &EnqueueOptions,
    place: &Placement,
) -> Result<Option<i64>> {
    let found: Option<(i64, String)> = conn
        .prepare_cached(sql::FOLLOW_FIND)?
        .query_row(named_params! {":queue": queue, ":key": o.key}, |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let running = match found {
        None => return Ok(None),
        Some((id, state)) if state != "running" => return Ok(Some(id)),
        Some((id, _)) => id,
    };
    let follow = EnqueueOptions {
        key: None,
        follow_up: false,
        follow_key: o.key.clone(),
        depends_on: vec![running],
        run_on_parent_failure: true,
        ..o.clone()
    };
    insert_one(conn, now, queue, payload, &follow, place)
}

/// One job, with the edges from its parents: its id, or None when the
/// live-key index refused it.
fn insert_one(
    conn: &Connection,
    now: i64,
    queue: &str,
    payload: &str,
    o: &EnqueueOptions,
    place: &Placement,
) -> Result<Option<i64>> {
    if insert(conn, &sql::ENQUEUE, now, queue, payload, o, place, None)? == 0 {
        return Ok(None);
    }
    let id = conn.last_insert_rowid();
    add_parents(conn, o, id)?;
    Ok(Some(id))
}

/// Enqueues `n` jobs without a key in one statement: `payloads` is a JSON
/// array of `n` strings, each one job's payload text. Their ids, in order.
pub fn enqueue_many(
    conn: &Connection,
    now: i64,
    queue: &str,
    payloads: &str,
    n: usize,
    o: &EnqueueOptions,
    place: &Placement,
) -> Result<Vec<i64>> {
    debug_assert!(o.key.is_none(), "a key would let the insert refuse jobs");
    if n == 0 {
        return Ok(Vec::new());
    }
    let highest: i64 = conn.prepare_cached(sql::HIGHEST_JOB_ID)?.query_row([], |r| r.get(0))?;
    if highest > i64::MAX - n as i64 {
        return Err(invalid(format!("job ids run out: the highest is {highest}, and {n} more do not fit")));
    }
    let seq: i64 = conn.prepare_cached(sql::NEXT_SEQ)?.query_row([], |r| r.get(0))?;
    let inserted = insert(conn, &sql::ENQUEUE_MANY, now, queue, payloads, o, place, Some(seq))?;
    if inserted != n {
        return Err(invalid(format!("{n} jobs were given but {inserted} stored")));
    }
    let last = conn.last_insert_rowid();
    let ids: Vec<i64> = (last - n as i64 + 1..=last).collect();
    for &id in &ids {
        add_parents(conn, o, id)?;
    }
    Ok(ids)
}

/// Runs enqueue.sql or enqueue_many.sql, which take the same parameters
/// (enqueue_many.sql also the seq its first enqueue takes): the jobs start
/// as their parents say. How many rows it stored.
#[allow(clippy::too_many_arguments)]
fn insert(
    conn: &Connection,
    sql: &'static str,
    now: i64,
    queue: &str,
    payload: &str,
    o: &EnqueueOptions,
    place: &Placement,
    seq: Option<i64>,
) -> Result<usize> {
    if !place.queue_registered {
        register_queue(conn, now, queue)?;
    }
    let (state, waiting_on, error) = initial_state(conn, o)?;
    if let Some(id) = o.same_worker_as {
        job_state(conn, id).map_err(|e| match e {
            Error::NotFound(_) => not_found(format!("same_worker_as: no job with id {id}")),
            e => e,
        })?;
    }
    let lane = turn(conn, queue, o)?;
    let on_parent_failure = o.run_on_parent_failure.then_some("run");
    let finished_at = (state == "cancelled").then_some(now);
    let mut params = named_params! {
        ":queue": queue, ":state": state, ":priority": o.priority, ":run_at": o.run_at_ms, ":payload": payload,
        ":max_attempts": o.max_attempts, ":lease_ms": o.lease_ms, ":backoff": o.backoff,
        ":key": o.key, ":requires": o.requires, ":only_worker": o.only_worker,
        ":not_workers": o.not_workers, ":timeout_ms": o.timeout_ms, ":waiting_on": waiting_on,
        ":on_parent_failure": on_parent_failure, ":workflow": place.workflow,
        ":workflow_key": place.workflow_key, ":error": error,
        ":finished_at": finished_at, ":now": now, ":grp": o.group, ":lane": lane,
        ":affinity_job": o.same_worker_as, ":affinity_until": o.affinity_until_ms, ":follow_key": o.follow_key,
    }
    .to_vec();
    if let Some(seq) = &seq {
        params.push((":seq", seq));
    }
    Ok(params::execute(conn, sql, &params)?)
}

/// A grouped job's turn among the groups of its queue (lane.sql); None
/// for a job without a group, which takes its turn at its run_at.
fn turn(conn: &Connection, queue: &str, o: &EnqueueOptions) -> Result<Option<i64>> {
    let Some(group) = &o.group else { return Ok(None) };
    Ok(Some(conn.prepare_cached(sql::LANE)?.query_row(
        named_params! {":run_at": o.run_at_ms, ":queue": queue, ":priority": o.priority, ":grp": group},
        |r| r.get(0),
    )?))
}

/// Gives `queue` its row in orq_queues if it has none yet: once per call
/// that enqueues, not per job (migration 013). True when it made the row.
fn register_queue(conn: &Connection, now: i64, queue: &str) -> Result<bool> {
    Ok(conn.prepare_cached(sql::QUEUE_ROW)?.execute(named_params! {":queue": queue, ":now": now})? > 0)
}

/// The edges from the job's parents (depends_on) to `child`.
fn add_parents(conn: &Connection, o: &EnqueueOptions, child: i64) -> Result<()> {
    for parent in &o.depends_on {
        conn.prepare_cached(sql::DEPS_ADD)?.execute(named_params! {":parent": parent, ":child": child})?;
    }
    Ok(())
}

/// The claim itself, in the cheapest statement that keeps the limits in
/// force (flow_limits.sql; across queues, the limits of any queue): from a
/// single queue claim_queue.sql, or claim_grouped.sql for a claim of many
/// when the queue's groups are limited; across queues claim.sql, or
/// claim_limited.sql while some queue or group has a limit (their rankings
/// cost a sort, which the others need not pay). A claim under a rate limit
/// then logs itself (rate_log.sql).
pub fn lease(conn: &Connection, now: i64, req: &ClaimRequest) -> Result<Vec<Claimed>> {
    let read = |r: &rusqlite::Row| Ok(FlowLimits { queues: r.get(0)?, groups: r.get(1)?, rates: r.get(2)? });
    let limits = match &req.queue {
        Some(q) => {
            conn.prepare_cached(&sql::FLOW_LIMITS_QUEUE)?.query_row([q], read).optional()?.unwrap_or_default()
        }
        None => conn.prepare_cached(&sql::FLOW_LIMITS_ANY)?.query_row([], read)?,
    };
    let sql: &str = match &req.queue {
        Some(_) if limits.groups && req.n > 1 => &sql::CLAIM_GROUPED,
        Some(_) => &sql::CLAIM_QUEUE,
        None if limits.queues || limits.groups => &sql::CLAIM_LIMITED,
        None => &sql::CLAIM,
    };
    let mut stmt = conn.prepare_cached(sql)?;
    // In the order the parameters first appear in the claims.
    let mut named = named_params! {":worker": req.worker, ":now": now, ":lease_ms": req.lease_ms}.to_vec();
    match &req.queue {
        Some(q) => named.extend([(":queue", q as &dyn rusqlite::ToSql), (":n", &req.n)]),
        None => named.extend([(":n", &req.n as &dyn rusqlite::ToSql), (":queues", &req.queues)]),
    }
    let rows = params::query(&mut stmt, sql, &named)?.mapped(|r| {
        let job = Claimed {
            id: r.get(0)?,
            queue: r.get(1)?,
            payload: String::new(),
            attempt: r.get(3)?,
            token: r.get(4)?,
            lease_until_ms: r.get(5)?,
            priority: r.get(6)?,
            max_attempts: r.get(7)?,
            timeout_ms: r.get(8)?,
            lease_ms: r.get(9)?,
        };
        let payload = match r.get_ref(2)? {
            ValueRef::Text(t) => String::from_utf8(t.to_vec()).ok(),
            _ => None,
        };
        Ok((job, payload, (r.get::<_, i64>(10)?, r.get::<_, i64>(11)?)))
    });
    let mut claimed = Vec::new();
    let mut unreadable = Vec::new();
    for row in rows {
        match row? {
            (mut job, Some(payload), order) => {
                job.payload = payload;
                claimed.push((job, order));
            }
            (job, None, _) => unreadable.push(job),
        }
    }
    if limits.rates && !claimed.is_empty() {
        let ids = serde_json::Value::from(claimed.iter().map(|(c, _)| c.id).collect::<Vec<_>>()).to_string();
        conn.prepare_cached(sql::RATE_LOG)?.execute(named_params! {":ids": ids, ":now": now})?;
    }
    set_aside(conn, now, &unreadable)?;
    // RETURNING has no order of its own: back into claim order.
    claimed.sort_by_key(|(c, (turn, run_at))| (-c.priority, *turn, *run_at, c.id));
    Ok(claimed.into_iter().map(|(c, _)| c).collect())
}

/// Which limits are in force for a claim (flow_limits.sql).
#[derive(Default)]
struct FlowLimits {
    /// Some queue has a limit of its own (max_running, rate).
    queues: bool,
    /// Some group has a limit (its queue's default, or its own).
    groups: bool,
    /// Some of these limits is a rate.
    rates: bool,
}

/// Claimed jobs whose payload is not UTF-8 text become dead, instead of
/// failing every claim of their queue.
fn set_aside(conn: &Connection, now: i64, jobs: &[Claimed]) -> Result<()> {
    for job in jobs {
        let error = format!(
            "job {} was set aside: its payload is not valid UTF-8 text (the database was damaged or \
             written by hand), so no worker can be given it",
            job.id
        );
        params::execute(
            conn,
            sql::SET_ASIDE,
            named_params! {":error": error, ":now": now, ":id": job.id, ":token": job.token},
        )?;
        deps::after_failure(conn, now, &[(job.id, "dead".into())])?;
    }
    Ok(())
}

pub fn complete(
    conn: &Connection,
    now: i64,
    id: i64,
    token: Option<i64>,
    result: Option<&str>,
) -> Result<bool> {
    let params = named_params! {":result": result, ":now": now, ":id": id, ":token": token};
    // A parent (rare) is completed by the second form, which runs the
    // children's trigger (sql/complete.sql).
    let mut changed = params::execute(conn, &sql::COMPLETE, params)?;
    if changed == 0 {
        changed = params::execute(conn, &sql::COMPLETE_PARENTS, params)?;
    }
    changed_or_known(conn, id, changed)
}

/// Completes many jobs: `jobs` holds (id, token, result as JSON text).
/// Returns how many were completed. One statement for the jobs without
/// children, and a second for parents when the first did not take every
/// job (sql/complete.sql); the caller makes the two one atomic step.
pub fn complete_many(conn: &Connection, now: i64, jobs: &[(i64, i64, Option<String>)]) -> Result<i64> {
    let (plain, parents, input): (&str, &str, serde_json::Value) = match tokens_only(jobs) {
        Some(tokens) => (&sql::COMPLETE_MANY_TOKENS, &sql::COMPLETE_MANY_TOKENS_PARENTS, tokens.into()),
        None => (
            &sql::COMPLETE_MANY,
            &sql::COMPLETE_MANY_PARENTS,
            jobs.iter().map(|(id, token, result)| serde_json::json!([id, token, result])).collect(),
        ),
    };
    let input = input.to_string();
    let run = |sql| -> Result<i64> {
        Ok(params::execute(conn, sql, named_params! {":now": now, ":jobs": input})? as i64)
    };
    let mut completed = run(plain)?;
    if completed < jobs.len() as i64 {
        completed += run(parents)?;
    }
    Ok(completed)
}

/// The completions as {id: token} when none has a result and no id repeats
/// (the shorter statement, complete_many_tokens.sql), else None.
fn tokens_only(jobs: &[(i64, i64, Option<String>)]) -> Option<serde_json::Map<String, serde_json::Value>> {
    if jobs.iter().any(|j| j.2.is_some()) {
        return None;
    }
    let tokens: serde_json::Map<_, _> =
        jobs.iter().map(|(id, token, _)| (id.to_string(), (*token).into())).collect();
    // A repeated id (the map kept one of its tokens) needs the array form.
    (tokens.len() == jobs.len()).then_some(tokens)
}

/// The job's new state (`ready` or `dead`), or `None` when the token is stale
/// or the job is not running.
pub fn fail(
    conn: &Connection,
    now: i64,
    id: i64,
    token: Option<i64>,
    error: Option<&str>,
    retry_in_ms: Option<i64>,
) -> Result<Option<String>> {
    let state: Option<String> = conn
        .prepare_cached(sql::FAIL)?
        .query_row(
            named_params! {":id": id, ":token": token, ":error": error, ":retry_in_ms": retry_in_ms, ":now": now},
            |r| r.get(0),
        )
        .optional()?;
    match state.as_deref() {
        None => {
            job_state(conn, id)?;
        }
        Some("dead") => deps::after_failure(conn, now, &[(id, "dead".into())])?,
        _ => {}
    }
    Ok(state)
}

/// The new lease_until (unix ms), or `None` when the token is stale.
pub fn extend(
    conn: &Connection,
    now: i64,
    id: i64,
    token: Option<i64>,
    lease_ms: i64,
) -> Result<Option<i64>> {
    let changed = params::execute(
        conn,
        sql::EXTEND,
        named_params! {":now": now, ":lease_ms": lease_ms, ":id": id, ":token": token},
    )?;
    Ok(changed_or_known(conn, id, changed)?.then_some(now + lease_ms))
}

pub fn release(conn: &Connection, now: i64, id: i64, token: Option<i64>, delay_ms: i64) -> Result<bool> {
    let changed = conn
        .prepare_cached(&sql::RELEASE)?
        .execute(named_params! {":id": id, ":token": token, ":delay_ms": delay_ms, ":now": now})?;
    changed_or_known(conn, id, changed)
}

pub fn cancel(conn: &Connection, now: i64, id: i64) -> Result<bool> {
    let changed = conn.prepare_cached(sql::CANCEL)?.execute(named_params! {":id": id, ":now": now})?;
    let cancelled = changed_or_known(conn, id, changed)?;
    if cancelled {
        deps::after_failure(conn, now, &[(id, "cancelled".into())])?;
    }
    Ok(cancelled)
}

pub fn retry(conn: &Connection, now: i64, id: i64) -> Result<bool> {
    let changed = conn.prepare_cached(sql::RETRY)?.execute(named_params! {":id": id, ":now": now}).map_err(
        |e| match e {
            rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
                Error::Conflict(format!(
                    "job {id} cannot be retried: another live job of its queue holds its key"
                ))
            }
            e => Error::from(e),
        },
    )?;
    changed_or_known(conn, id, changed)
}

pub fn pause(conn: &Connection, now: i64, queue: &str) -> Result<bool> {
    Ok(conn.prepare_cached(sql::PAUSE)?.execute(named_params! {":queue": queue, ":now": now})? > 0)
}

pub fn resume(conn: &Connection, queue: &str) -> Result<bool> {
    Ok(conn.prepare_cached(sql::RESUME)?.execute(named_params! {":queue": queue})? > 0)
}

/// What a purge has done so far: the jobs it deleted, and the marker event
/// that stands for them.
#[derive(Default, Clone, Copy)]
pub struct Purged {
    pub jobs: i64,
    marker: Option<i64>,
}

/// Deletes up to `limit` (negative: all) of the finished jobs of `queue`
/// (all queues: `None`) that finished at or before `cutoff` (unix ms), as
/// one more slice of the purge that has done `before`; returns the purge's
/// progress. Its one marker event, newer than every event deleted, counts
/// all its slices (each slice's marker replaces the one before).
pub fn purge(
    conn: &Connection,
    now: i64,
    queue: Option<&str>,
    cutoff: i64,
    limit: i64,
    before: Purged,
) -> Result<Purged> {
    conn.prepare_cached(sql::PURGE_MARKER)?.execute(named_params! {":queue": queue, ":now": now})?;
    let marker = conn.last_insert_rowid();
    let n = delete_finished(conn, now, queue, Some(cutoff), limit)?;
    let jobs = before.jobs + n;
    conn.prepare_cached(sql::PURGE_MARKER_COUNT)?
        .execute(named_params! {":seq": marker, ":count": jobs, ":cutoff": cutoff})?;
    let mut drop = conn.prepare_cached(sql::PURGE_MARKER_DROP)?;
    drop.execute(named_params! {":seq": marker, ":count": jobs})?;
    if let Some(earlier) = before.marker {
        drop.execute(named_params! {":seq": earlier, ":count": 0})?;
    }
    Ok(Purged { jobs, marker: (jobs > 0).then_some(marker) })
}

/// Deletes up to `limit` (negative: all) finished jobs with their history
/// (purge.sql): those of `queue` (None: every queue) that finished at or
/// before `cutoff`, or with no cutoff, those that outlived their queue's
/// retention at `now`. How many it deleted.
pub fn delete_finished(
    conn: &Connection,
    now: i64,
    queue: Option<&str>,
    cutoff: Option<i64>,
    limit: i64,
) -> Result<i64> {
    Ok(conn
        .prepare_cached(sql::PURGE)?
        .execute(named_params! {":cutoff": cutoff, ":now": now, ":queue": queue, ":limit": limit})?
        as i64)
}

/// Changes the settings given of `queue` (None: leave it), creating its
/// row first if it has none; true when that changed anything.
pub fn configure(conn: &Connection, now: i64, queue: &str, settings: &QueueSettings) -> Result<bool> {
    let created = register_queue(conn, now, queue)?;
    let retention = &settings.retention;
    let changed = conn.prepare_cached(sql::QUEUE_CONFIGURE)?.execute(named_params! {
        ":events": settings.events, ":queue": queue,
        ":done_given": retention.done.is_some(), ":done_ms": retention.done.flatten(),
        ":dead_given": retention.dead.is_some(), ":dead_ms": retention.dead.flatten(),
        ":cancelled_given": retention.cancelled.is_some(), ":cancelled_ms": retention.cancelled.flatten(),
        ":max_running_given": settings.max_running.is_some(), ":max_running": settings.max_running.flatten(),
        ":group_max_running_given": settings.group_max_running.is_some(),
        ":group_max_running": settings.group_max_running.flatten(),
        ":rate_given": settings.rate.is_some(), ":rate_limit": rate_limit(settings.rate),
        ":rate_ms": rate_ms(settings.rate),
        ":group_rate_given": settings.group_rate.is_some(), ":group_rate_limit": rate_limit(settings.group_rate),
        ":group_rate_ms": rate_ms(settings.group_rate),
    })?;
    Ok(created || changed > 0)
}

/// Changes the limits given of one group of `queue` (`None`: the group
/// goes back to its queue's defaults); true when that changed anything.
pub fn configure_group(
    conn: &Connection,
    now: i64,
    queue: &str,
    group: &str,
    settings: Option<&GroupSettings>,
) -> Result<bool> {
    let created = register_queue(conn, now, queue)?;
    let mut changed = 0;
    if let Some(g) = settings {
        changed += conn.prepare_cached(sql::GROUP_CONFIGURE)?.execute(named_params! {
            ":queue": queue, ":grp": group, ":max_running": g.max_running.flatten(),
            ":rate_limit": rate_limit(g.rate), ":rate_ms": rate_ms(g.rate),
            ":max_running_given": g.max_running.is_some(), ":rate_given": g.rate.is_some(),
        })?;
    }
    changed += conn
        .prepare_cached(sql::GROUP_FORGET)?
        .execute(named_params! {":queue": queue, ":grp": group, ":all": settings.is_none()})?;
    if changed > 0 {
        conn.prepare_cached(sql::GROUP_COUNT)?.execute(named_params! {":queue": queue})?;
    }
    Ok(created || changed > 0)
}

/// A rate setting's limit and period, for the statements (NULL: none).
fn rate_limit(rate: Option<Option<Rate>>) -> Option<i64> {
    rate.flatten().map(|r| r.limit)
}

fn rate_ms(rate: Option<Option<Rate>>) -> Option<i64> {
    rate.flatten().map(|r| r.per_ms)
}

/// Cancels every unfinished job of a workflow (and what depends on them).
pub fn cancel_workflow(conn: &Connection, now: i64, workflow: i64) -> Result<i64> {
    let cancelled =
        deps::ids(conn, sql::WORKFLOW_CANCEL, named_params! {":workflow": workflow, ":now": now})?;
    let ended: Vec<(i64, String)> = cancelled.iter().map(|&id| (id, "cancelled".to_string())).collect();
    deps::after_failure(conn, now, &ended)?;
    Ok(cancelled.len() as i64)
}

/// Each parent's result, as a JSON object keyed by workflow key (or id).
pub fn parent_results(conn: &Connection, id: i64) -> Result<String> {
    job_state(conn, id)?;
    Ok(conn.prepare_cached(sql::PARENT_RESULTS)?.query_row(named_params! {":id": id}, |r| r.get(0))?)
}

/// Whether `token` holds job `id`'s lease at `now`, and if not why: the
/// JSON object of lease_status.sql. Reads only.
pub fn lease_status(conn: &Connection, now: i64, id: i64, token: i64) -> Result<String> {
    Ok(conn
        .prepare_cached(sql::LEASE_STATUS)?
        .query_row(named_params! {":id": id, ":token": token, ":now": now}, |r| r.get(0))?)
}

/// A job's state; an error naming the id when there is no such job.
pub fn job_state(conn: &Connection, id: i64) -> Result<String> {
    conn.prepare_cached(sql::JOB_STATE)?
        .query_row(named_params! {":id": id}, |r| r.get(0))
        .optional()?
        .ok_or_else(|| not_found(format!("no job with id {id}")))
}

/// After an update that matched `changed` rows of job `id`: true when it
/// changed the job, false when the job exists but was not in a state the
/// operation applies to, an error when there is no such job.
pub fn changed_or_known(conn: &Connection, id: i64, changed: usize) -> Result<bool> {
    if changed > 0 {
        return Ok(true);
    }
    job_state(conn, id)?;
    Ok(false)
}
