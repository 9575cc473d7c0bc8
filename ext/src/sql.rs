//! The SQL that is the engine. Every statement lives as a file in sql/ and
//! is compiled in here; Rust only binds parameters and reads results.

macro_rules! sql_file {
    ($name:ident, $file:literal) => {
        pub const $name: &str = include_str!(concat!("../../sql/", $file));
    };
}

sql_file!(ENQUEUE, "enqueue.sql");
sql_file!(ENQUEUE_EXISTING, "enqueue_existing.sql");
sql_file!(ENQUEUE_EXISTING_ANY, "enqueue_existing_any.sql");
sql_file!(EXPIRE, "expire.sql");
sql_file!(CLAIM, "claim.sql");
sql_file!(COMPLETE, "complete.sql");
sql_file!(FAIL, "fail.sql");
sql_file!(EXTEND, "extend.sql");
sql_file!(RELEASE, "release.sql");
sql_file!(CANCEL, "cancel.sql");
sql_file!(RETRY, "retry.sql");
sql_file!(JOB_STATE, "job_state.sql");
sql_file!(PAUSE, "pause.sql");
sql_file!(RESUME, "resume.sql");
sql_file!(PURGE, "purge.sql");
sql_file!(STATS, "stats.sql");
sql_file!(JOBS, "jobs.sql");
sql_file!(RATES, "rates.sql");
sql_file!(RESOURCES, "resources.sql");
sql_file!(WORKER_REGISTER, "worker_register.sql");
sql_file!(WORKER_HEARTBEAT, "worker_heartbeat.sql");
sql_file!(WORKER_STOP, "worker_stop.sql");
sql_file!(WORKER_JOBS_EXPIRE, "worker_jobs_expire.sql");
sql_file!(WORKERS_DEAD, "workers_dead.sql");
sql_file!(WORKERS, "workers.sql");
sql_file!(RUN_RECORD, "run_record.sql");

/// Schema migrations in order: entry i takes a database from version i to i + 1.
pub const MIGRATIONS: &[&str] = &[
    include_str!("../../sql/migrations/001_jobs.sql"),
    include_str!("../../sql/migrations/002_events.sql"),
    include_str!("../../sql/migrations/003_workers.sql"),
];
