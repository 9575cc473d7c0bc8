//! The SQL that is the engine. Every statement lives as a file in sql/ and
//! is compiled in here; Rust only binds parameters and reads results.
//!
//! `UPDATE OR FAIL` / `INSERT OR FAIL` on the worker's path (enqueue, claim,
//! complete, fail, extend, release, expire): a statement that writes more
//! than one row or fires triggers otherwise opens a statement journal, so
//! that a constraint failure can undo just that statement. These statements
//! cannot fail a constraint (states move within or out of the live set the
//! unique key index covers; values are checked before binding), and an I/O,
//! disk-full or interrupt error rolls back the whole transaction whether or
//! not there is a statement journal. Without it, 4 processes sharing a queue
//! ran 1.7-2x faster (the journal of a side connection went to a temporary
//! file). `OR FAIL` overrides the conflict clauses of trigger statements, so
//! the triggers these statements fire carry none (see migration 005).
//! A function call compiled into a statement or into a trigger it fires
//! also counts as "may abort" and brings the journal back, so those triggers
//! call none (migration 007); nor do they use `x IN (constants)`, which a
//! trigger program rebuilds as a temporary b-tree each time it fires.

use std::sync::LazyLock;

macro_rules! sql_file {
    ($name:ident, $file:literal) => {
        pub const $name: &str = include_str!(concat!("../../sql/", $file));
    };
    // A statement that reads worker states: the one rule of whether a
    // worker is alive (worker_states.sql, a CTE) goes in front of it.
    ($name:ident, worker_states + $file:literal) => {
        pub const $name: &str =
            concat!(include_str!("../../sql/worker_states.sql"), include_str!(concat!("../../sql/", $file)));
    };
}

/// The routing rule (who may take a job), written once in sql/routable.sql.
const ROUTABLE: &str = include_str!("../../sql/routable.sql");

/// How many more jobs a queue may start (paused, max_running, rate), and
/// one of its groups (group_room.sql), each written once.
const ROOM: &str = include_str!("../../sql/room.sql");
const GROUP_ROOM: &str = include_str!("../../sql/group_room.sql");

/// What a claim writes on each job it leases, and what it returns of them
/// (lease.sql, leased.sql): the same for the three forms of the claim.
const LEASE: &str = include_str!("../../sql/lease.sql");
const LEASED: &str = include_str!("../../sql/leased.sql");

/// A claim's candidates from one queue, and the queues a claim or a wait
/// names (claim_candidates.sql, queue_list.sql), each written once.
const CANDIDATES: &str = include_str!("../../sql/claim_candidates.sql");
const QUEUE_LIST: &str = include_str!("../../sql/queue_list.sql");

/// Whether an event of the audit trail is a failed attempt, written once in
/// sql/failed_attempt.sql: an SQL expression over the event's `type` and
/// `detail`, for queue_metrics and for the CLI's charts of the trail.
pub const FAILED_ATTEMPT: &str = include_str!("../../sql/failed_attempt.sql");

/// A statement that uses rules written once elsewhere: its file says
/// `{marker}` where each rule goes. Spliced once per process, on first use.
macro_rules! sql_file_spliced {
    ($name:ident, $file:literal, $($marker:literal => $rule:expr),+) => {
        pub static $name: LazyLock<String> =
            LazyLock::new(|| include_str!(concat!("../../sql/", $file))$(.replace($marker, $rule))+);
    };
    // The same, behind the worker states CTE (see sql_file!).
    ($name:ident, worker_states + $file:literal, $($marker:literal => $rule:expr),+) => {
        pub static $name: LazyLock<String> = LazyLock::new(|| {
            include_str!("../../sql/worker_states.sql").to_string()
                + &include_str!(concat!("../../sql/", $file))$(.replace($marker, $rule))+
        });
    };
}

/// A completion made into two statements (see complete.sql): `$plain`
/// for jobs without children, which leaves the children's trigger out, and
/// `$parents` for jobs with children, which runs it.
macro_rules! sql_file_per_children {
    ($plain:ident, $parents:ident, $file:literal) => {
        pub static $plain: LazyLock<String> = LazyLock::new(|| {
            include_str!(concat!("../../sql/", $file))
                .replace("{watch}", "")
                .replace("{children}", "children = 0")
        });
        pub static $parents: LazyLock<String> = LazyLock::new(|| {
            include_str!(concat!("../../sql/", $file))
                .replace("{watch}", ",\n    children    = children")
                .replace("{children}", "children > 0")
        });
    };
}

/// A job's 'enqueued' event on its own row, written once in sql/enqueued.sql.
const ENQUEUED: &str = include_str!("../../sql/enqueued.sql");

sql_file_spliced!(ENQUEUE, "enqueue.sql", "{enqueued}" => ENQUEUED);
sql_file_spliced!(ENQUEUE_MANY, "enqueue_many.sql", "{enqueued}" => ENQUEUED);
sql_file!(NEXT_SEQ, "next_seq.sql");
sql_file!(ENQUEUE_SEQ_AT, "enqueue_seq_at.sql");
sql_file!(HIGHEST_JOB_ID, "highest_job_id.sql");
sql_file!(ENQUEUE_EXISTING, "enqueue_existing.sql");
sql_file!(ENQUEUE_EXISTING_ANY, "enqueue_existing_any.sql");
sql_file!(EXPIRE_FIND, "expire_find.sql");
sql_file!(EXPIRE, "expire.sql");
sql_file_spliced!(CLAIM, "claim.sql", "{lease}" => LEASE, "{leased}" => LEASED, "{claim_candidates}" => CANDIDATES, "{queue_list}" => QUEUE_LIST, "{routable}" => ROUTABLE, "{group_room}" => GROUP_ROOM, "{room}" => ROOM);
sql_file_spliced!(CLAIM_LIMITED, "claim_limited.sql", "{lease}" => LEASE, "{leased}" => LEASED, "{claim_candidates}" => CANDIDATES, "{queue_list}" => QUEUE_LIST, "{routable}" => ROUTABLE, "{group_room}" => GROUP_ROOM, "{room}" => ROOM);
sql_file_spliced!(CLAIM_QUEUE, "claim_queue.sql", "{lease}" => LEASE, "{leased}" => LEASED, "{routable}" => ROUTABLE, "{group_room}" => GROUP_ROOM, "{room}" => ROOM);
sql_file_spliced!(CLAIM_GROUPED, "claim_grouped.sql", "{lease}" => LEASE, "{leased}" => LEASED, "{routable}" => ROUTABLE, "{group_room}" => GROUP_ROOM, "{room}" => ROOM);
/// Which limits a claim must keep (flow_limits.sql), of one queue or of any.
const FLOW_LIMITS: &str = include_str!("../../sql/flow_limits.sql");
sql_file_spliced!(FLOW_LIMITS_QUEUE, "flow_limits_queue.sql", "{flow_limits}" => FLOW_LIMITS);
sql_file_spliced!(FLOW_LIMITS_ANY, "flow_limits_any.sql", "{flow_limits}" => FLOW_LIMITS);
sql_file!(RATE_LOG, "rate_log.sql");
sql_file!(LANE, "lane.sql");
sql_file_per_children!(COMPLETE, COMPLETE_PARENTS, "complete.sql");
sql_file_per_children!(COMPLETE_MANY, COMPLETE_MANY_PARENTS, "complete_many.sql");
sql_file_per_children!(COMPLETE_MANY_TOKENS, COMPLETE_MANY_TOKENS_PARENTS, "complete_many_tokens.sql");
sql_file!(FAIL, "fail.sql");
sql_file!(SET_ASIDE, "set_aside.sql");
sql_file!(EXTEND, "extend.sql");
/// What a job leaving its worker unfinished resets, spliced into each such statement.
const UNLEASED: &str = include_str!("../../sql/unleased.sql");
sql_file_spliced!(RELEASE, "release.sql", "{unleased}" => UNLEASED);
sql_file!(STEP_GET, "step_get.sql");
sql_file!(STEP_RECORD, "step_record.sql");
sql_file!(STEP_FAIL, "step_fail.sql");
sql_file!(STEPS, "steps.sql");
sql_file_spliced!(SLEEP, "sleep.sql", "{unleased}" => UNLEASED);
sql_file!(LEASE_HELD, "lease_held.sql");
sql_file!(AWAIT_NOTE, "await_note.sql");
sql_file_spliced!(AWAIT_PARK, "await_park.sql", "{unleased}" => UNLEASED);
sql_file!(AWAIT_ANSWERED, "await_answered.sql");
sql_file!(SIGNAL_TAKE, "signal_take.sql");
sql_file!(SIGNAL_DELIVER, "signal_deliver.sql");
sql_file!(SIGNAL_WAKE, "signal_wake.sql");
sql_file!(SIGNAL_FORGET, "signal_forget.sql");
sql_file!(SIGNAL_EXPIRE, "signal_expire.sql");
sql_file!(SIGNAL_KEEP, "signal_keep.sql");
sql_file!(PROGRESS, "progress.sql");
sql_file!(SPAWN_NOTE, "spawn_note.sql");
sql_file!(JOB_FINISHED, "job_finished.sql");
sql_file!(GATHER_COUNT, "gather_count.sql");
sql_file!(GATHER_EDGES, "gather_edges.sql");
sql_file_spliced!(GATHER_PARK, "gather_park.sql", "{unleased}" => UNLEASED);
sql_file!(SPAWNED, "spawned.sql");
sql_file!(CANCEL, "cancel.sql");
sql_file!(RETRY, "retry.sql");
sql_file!(JOB_STATE, "job_state.sql");
sql_file!(LEASE_STATUS, "lease_status.sql");
sql_file!(PAUSE, "pause.sql");
sql_file!(RESUME, "resume.sql");
sql_file!(PURGE, "purge.sql");
sql_file!(STATS, "stats.sql");
sql_file!(JOBS, "jobs.sql");
sql_file_spliced!(WAIT_CHECK, "wait_check.sql", "{queue_list}" => QUEUE_LIST, "{routable}" => ROUTABLE, "{group_room}" => GROUP_ROOM, "{room}" => ROOM);
sql_file!(RATES, "rates.sql");
sql_file!(RESOURCES, "resources.sql");
sql_file!(WORKER_REGISTER, "worker_register.sql");
sql_file!(WORKER_HEARTBEAT, "worker_heartbeat.sql");
sql_file!(WORKER_STOP, "worker_stop.sql");
sql_file!(WORKER_JOBS_EXPIRE, "worker_jobs_expire.sql");
sql_file!(WORKERS_DEAD, worker_states + "workers_dead.sql");
sql_file!(WORKERS, worker_states + "workers.sql");
sql_file!(WORKER_STATE, worker_states + "worker_state.sql");
sql_file!(WORKER_LEASES_EXTEND, "worker_leases_extend.sql");
sql_file!(WORKER_LEASES, "worker_leases.sql");
sql_file!(RUN_RECORD, "run_record.sql");
sql_file!(DEPS_ADD, "deps_add.sql");
sql_file!(DEPS_PARENTS, "deps_parents.sql");
sql_file!(DEPS_CANCEL_CHILDREN, "deps_cancel_children.sql");
sql_file!(WORKFLOW_INSERT, "workflow_insert.sql");
sql_file!(WORKFLOW_FAIL_FAST, "workflow_fail_fast.sql");
sql_file!(WORKFLOW_CANCEL, "workflow_cancel.sql");
sql_file!(JOB_WORKFLOW, "job_workflow.sql");
sql_file!(PARENT_RESULTS, "parent_results.sql");
sql_file!(WORKFLOWS, "workflows.sql");
sql_file!(WORKFLOW_JOBS, "workflow_jobs.sql");
sql_file!(HISTORY, "history.sql");
sql_file!(EVENTS, "events.sql");
sql_file!(EVENTS_ENQUEUED, "events_enqueued.sql");
sql_file!(REPLAY, "replay.sql");
sql_file!(PURGE_MARKER, "purge_marker.sql");
sql_file!(PURGE_MARKER_COUNT, "purge_marker_count.sql");
sql_file!(PURGE_MARKER_DROP, "purge_marker_drop.sql");
sql_file!(QUEUE_CONFIGURE, "queue_configure.sql");
sql_file!(QUEUE_ROW, "queue_row.sql");
sql_file!(GROUP_CONFIGURE, "group_configure.sql");
sql_file!(GROUP_FORGET, "group_forget.sql");
sql_file!(GROUP_COUNT, "group_count.sql");
sql_file!(SCHEDULES, "schedules.sql");
sql_file!(DEBOUNCE, "debounce.sql");
sql_file!(FOLLOW_FIND, "follow_find.sql");
sql_file!(LIMITS, "limits.sql");
sql_file!(SCHEDULE_UPSERT, "schedule_upsert.sql");
sql_file!(SCHEDULE_DELETE, "schedule_delete.sql");
sql_file!(SCHEDULES_DUE, "schedules_due.sql");
sql_file!(SCHEDULE_FIRED, "schedule_fired.sql");
sql_file!(SCHEDULE_SET_ASIDE, "schedule_set_aside.sql");
sql_file_spliced!(METRICS_QUEUES, worker_states + "metrics_queues.sql", "{group_room}" => GROUP_ROOM, "{room}" => ROOM);
sql_file_spliced!(METRICS_EVENTS, "metrics_events.sql", "{failed_attempt}" => FAILED_ATTEMPT);
sql_file!(ALERTS, "alerts.sql");
sql_file!(ALERT_UPSERT, "alert_upsert.sql");
sql_file!(ALERT_DELETE, "alert_delete.sql");
sql_file!(ALERT_RULES, "alert_rules.sql");
sql_file!(ALERT_UPDATE, "alert_update.sql");
sql_file!(HEALTH_EXPIRED_LEASES, "health_expired_leases.sql");
sql_file!(HEALTH_DEAD_JOBS, "health_dead_jobs.sql");
sql_file!(HEALTH_ALERTS, "health_alerts.sql");

/// Schema migrations in order: entry i takes a database from version i to i + 1.
pub const MIGRATIONS: &[&str] = &[
    include_str!("../../sql/migrations/001_jobs.sql"),
    include_str!("../../sql/migrations/002_events.sql"),
    include_str!("../../sql/migrations/003_workers.sql"),
    include_str!("../../sql/migrations/004_workflows.sql"),
    include_str!("../../sql/migrations/005_triggers_without_conflict_clauses.sql"),
    include_str!("../../sql/migrations/006_alerts.sql"),
    include_str!("../../sql/migrations/007_triggers_without_functions.sql"),
    include_str!("../../sql/migrations/008_schedule_errors.sql"),
    include_str!("../../sql/migrations/009_retention.sql"),
    include_str!("../../sql/migrations/010_causes.sql"),
    include_str!("../../sql/migrations/011_children_on_finish.sql"),
    include_str!("../../sql/migrations/012_enqueues_from_rows.sql"),
    include_str!("../../sql/migrations/013_queues_registered_per_call.sql"),
    include_str!("../../sql/migrations/014_queue_max_running.sql"),
    include_str!("../../sql/migrations/015_groups_and_rates.sql"),
    include_str!("../../sql/migrations/016_ready_index_retired.sql"),
    include_str!("../../sql/migrations/017_steps.sql"),
    include_str!("../../sql/migrations/018_step_failures.sql"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_routed_statement_has_the_rule_spliced_in() {
        for sql in [&*CLAIM, &*CLAIM_LIMITED, &*CLAIM_QUEUE, &*CLAIM_GROUPED, &*WAIT_CHECK] {
            assert!(
                !["{routable}", "{room}", "{group_room}", "{claim_candidates}", "{queue_list}"]
                    .iter()
                    .any(|m| sql.contains(m)),
                "{sql}"
            );
            assert_eq!(sql.matches("only_worker = :worker").count(), 1, "{sql}");
        }
        for sql in [&*CLAIM, &*CLAIM_LIMITED, &*CLAIM_QUEUE, &*CLAIM_GROUPED, &*WAIT_CHECK] {
            assert_eq!(sql.matches("q.max_running - count(*)").count(), 1, "{sql}");
        }
        // The group's room: claim_limited.sql filters its candidates on it
        // (so that a held-back group takes no candidate's place) and ranks
        // them by it.
        for sql in [&*CLAIM, &*CLAIM_QUEUE, &*CLAIM_GROUPED, &*WAIT_CHECK] {
            assert_eq!(sql.matches("s.max_running - count(*)").count(), 1, "{sql}");
        }
        assert_eq!(CLAIM_LIMITED.matches("s.max_running - count(*)").count(), 2);
        assert!(!METRICS_EVENTS.contains("{failed_attempt}"));
        assert!(METRICS_EVENTS.contains(FAILED_ATTEMPT));
    }

    /// The children's trigger watches `children` (migration 011): a
    /// statement that finishes a job, or brings a finished one back, and
    /// does not name it (in its SET list, or as `children = 0` in its WHERE
    /// for the completions that leave parents to their second form) would
    /// leave its children waiting forever.
    #[test]
    fn every_statement_that_finishes_a_job_or_reopens_one_names_children() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../sql");
        let mut checked = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let Ok(sql) = std::fs::read_to_string(&path) else { continue };
            let code: String =
                sql.lines().filter(|l| !l.trim_start().starts_with("--")).collect::<Vec<_>>().join("\n");
            if !code.contains("UPDATE") || !code.contains("orq_jobs") {
                continue;
            }
            let finishes = ["'done'", "'dead'", "'cancelled'"].iter().any(|s| code.contains(s));
            if finishes {
                checked += 1;
                assert!(
                    code.contains("children"),
                    "{} changes a finished state without naming children",
                    path.display()
                );
            }
        }
        assert!(checked >= 10, "only {checked} statements found: has sql/ moved?");
        for (plain, parents) in [(&*COMPLETE, &*COMPLETE_PARENTS), (&*COMPLETE_MANY, &*COMPLETE_MANY_PARENTS)]
        {
            assert!(plain.contains("children = 0") && !plain.contains("children    = children"), "{plain}");
            assert!(
                parents.contains("children > 0") && parents.contains("children    = children"),
                "{parents}"
            );
        }
    }

    #[test]
    fn the_routing_rule_is_written_in_one_file() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../sql");
        let writing_it: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| {
                std::fs::read_to_string(path).is_ok_and(|sql| sql.contains("only_worker = :worker"))
            })
            .collect();
        assert_eq!(writing_it.len(), 1, "{writing_it:?}");
        assert!(writing_it[0].ends_with("routable.sql"), "{writing_it:?}");
    }
}
