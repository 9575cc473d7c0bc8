-- queue_worker_heartbeat: a worker is alive; its job counters so far.
UPDATE orq_workers
SET heartbeat_at = :now,
    jobs_done    = coalesce(:done, jobs_done),
    jobs_failed  = coalesce(:failed, jobs_failed)
WHERE name = :name AND stopped_at IS NULL
